/* upsample.c - the ops that make images larger, on NHWC tensors:
 * transposed convolution (Keras Conv2DTranspose) and upsampling by an
 * integer factor, nearest or bilinear (Keras UpSampling2D).
 *
 * conv2d_transpose is the gradient of a convolution with respect to its
 * input, as TF.js' conv2dTranspose: x [n,h,w,c], kernel [kh,kw,oc,c]
 * (Keras' layout: output channels before input channels); the output is
 * [n,oh,ow,oc] with oh = h*s + max(kh - s, 0) ('valid') or h*s ('same'),
 * and y[oy,ox,o] sums x[iy,ix,c] * k[ky,kx,o,c] over oy = iy*s - pt + ky,
 * where pt is the top padding the forward convolution from oh back to h
 * would use (TensorFlow's: half of max(kh - s, 0), floor, for 'same'; 0 for
 * 'valid'). Forward gathers per output row, so threads never share a row.
 *
 * upsample2d follows TF.js' resizeNearestNeighbor / resizeBilinear with
 * alignCorners and halfPixelCenters false (what tf.layers.upSampling2d
 * calls): output row r reads source row r * (h / oh), computed in double
 * as JavaScript does; nearest takes its floor, bilinear blends the floor
 * and ceil rows (clamped to the image) by the fraction. (Keras in Python
 * resizes bilinearly with half-pixel centers instead; crest follows TF.js,
 * its oracle.)
 */
#include "../internal.h"

#include <math.h>

/* ---- conv2d_transpose ---------------------------------------------------- */

typedef struct tconv_attr { int sh, sw; bool same; } tconv_attr;

typedef struct tconv_geom {
    int64_t n, h, w, c, oh, ow, oc, kh, kw;
    int sh, sw, pt, pl;
} tconv_geom;

static int64_t tconv_len(int64_t in, int k, int s, bool same)
{
    return same ? in * s : in * s + (k > s ? k - s : 0);
}

static void tconv_geometry(const cr_node *n, tconv_geom *g)
{
    const tconv_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape, *k = &n->in[1]->shape;
    *g = (tconv_geom){ .n = x->d[0], .h = x->d[1], .w = x->d[2], .c = x->d[3], .kh = k->d[0],
                       .kw = k->d[1], .oc = k->d[2], .sh = a->sh, .sw = a->sw };
    g->oh = tconv_len(g->h, (int)g->kh, a->sh, a->same);
    g->ow = tconv_len(g->w, (int)g->kw, a->sw, a->same);
    if (a->same) {
        int64_t th = (g->h - 1) * a->sh + g->kh - g->oh, tw = (g->w - 1) * a->sw + g->kw - g->ow;
        g->pt = th > 0 ? (int)(th / 2) : 0;
        g->pl = tw > 0 ? (int)(tw / 2) : 0;
    }
}

static int tconv_shape(cr_node *n)
{
    const tconv_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape, *k = &n->in[1]->shape;
    char s[96], t[96];
    if (x->ndim != 4 || k->ndim != 4 || k->d[3] != x->d[3])
        return cr_fail(CREST_E_SHAPE, "conv2d_transpose: input %s and kernel %s (kernel must "
                       "be [kh, kw, out channels, %lld])", cr_dims_str(x, s, sizeof s),
                       cr_dims_str(k, t, sizeof t), x->ndim == 4 ? (long long)x->d[3] : 0LL);
    if (a->sh < 1 || a->sw < 1 || a->sh > 1024 || a->sw > 1024)
        return cr_fail(CREST_E_ARG, "conv2d_transpose: strides %dx%d", a->sh, a->sw);
    if (x->d[1] > (1 << 20) || x->d[2] > (1 << 20))
        return cr_fail(CREST_E_SHAPE, "conv2d_transpose: input %s too large",
                       cr_dims_str(x, s, sizeof s));
    tconv_geom g;
    tconv_geometry(n, &g);
    if (g.oh > (1 << 24) || g.ow > (1 << 24))
        return cr_fail(CREST_E_SHAPE, "conv2d_transpose: output %lldx%lld too large",
                       (long long)g.oh, (long long)g.ow);
    n->shape = (cr_dims){ .ndim = 4, .d = { g.n, g.oh, g.ow, g.oc } };
    return CREST_OK;
}

typedef struct tconv_job {
    const cr_node *n;
    tconv_geom g;
} tconv_job;

/* Output rows [lo, hi) of n*oh. */
static void tconv_fwd_rows(void *ctx, int64_t lo, int64_t hi)
{
    const tconv_job *j = ctx;
    const tconv_geom *g = &j->g;
    const float *x = j->n->in[0]->val, *k = j->n->in[1]->val;
    float *y = j->n->val;
    for (int64_t row = lo; row < hi; row++) {
        int64_t b = row / g->oh, oy = row % g->oh;
        float *yr = y + row * g->ow * g->oc;
        memset(yr, 0, (size_t)(g->ow * g->oc) * sizeof(float));
        for (int64_t ky = 0; ky < g->kh; ky++) {
            int64_t t = oy + g->pt - ky;
            if (t < 0 || t % g->sh)
                continue;
            int64_t iy = t / g->sh;
            if (iy >= g->h)
                continue;
            const float *xr = x + ((b * g->h + iy) * g->w) * g->c;
            for (int64_t ox = 0; ox < g->ow; ox++) {
                float *yp = yr + ox * g->oc;
                for (int64_t kx = 0; kx < g->kw; kx++) {
                    int64_t u = ox + g->pl - kx;
                    if (u < 0 || u % g->sw)
                        continue;
                    int64_t ix = u / g->sw;
                    if (ix >= g->w)
                        continue;
                    const float *xp = xr + ix * g->c;
                    const float *kk = k + (ky * g->kw + kx) * g->oc * g->c;
                    for (int64_t o = 0; o < g->oc; o++) {
                        const float *ko = kk + o * g->c;
                        float s = 0;
                        for (int64_t c = 0; c < g->c; c++)
                            s += xp[c] * ko[c];
                        yp[o] += s;
                    }
                }
            }
        }
    }
}

static void tconv_fwd(cr_node *n, const cr_ctx *c)
{
    tconv_job j = { .n = n };
    tconv_geometry(n, &j.g);
    cr_parallel_rows(c, j.g.n * j.g.oh, j.g.ow * j.g.kh * j.g.kw * j.g.oc * j.g.c /
                                            (j.g.sh * j.g.sw) + 1, tconv_fwd_rows, &j);
}

/* dx: input rows [lo, hi) of n*h. */
static void tconv_dx_rows(void *ctx, int64_t lo, int64_t hi)
{
    const tconv_job *j = ctx;
    const tconv_geom *g = &j->g;
    const float *dy = j->n->grad, *k = j->n->in[1]->val;
    float *dx = j->n->in[0]->grad;
    for (int64_t row = lo; row < hi; row++) {
        int64_t b = row / g->h, iy = row % g->h;
        for (int64_t ky = 0; ky < g->kh; ky++) {
            int64_t oy = iy * g->sh - g->pt + ky;
            if (oy < 0 || oy >= g->oh)
                continue;
            const float *dyr = dy + ((b * g->oh + oy) * g->ow) * g->oc;
            for (int64_t ix = 0; ix < g->w; ix++) {
                float *dxp = dx + (row * g->w + ix) * g->c;
                for (int64_t kx = 0; kx < g->kw; kx++) {
                    int64_t ox = ix * g->sw - g->pl + kx;
                    if (ox < 0 || ox >= g->ow)
                        continue;
                    const float *dyp = dyr + ox * g->oc;
                    const float *kk = k + (ky * g->kw + kx) * g->oc * g->c;
                    for (int64_t o = 0; o < g->oc; o++) {
                        float d = dyp[o];
                        const float *ko = kk + o * g->c;
                        for (int64_t c = 0; c < g->c; c++)
                            dxp[c] += d * ko[c];
                    }
                }
            }
        }
    }
}

/* dk: rows [lo, hi) of kh*kw*oc, each [c] summed over every pixel. */
static void tconv_dk_rows(void *ctx, int64_t lo, int64_t hi)
{
    const tconv_job *j = ctx;
    const tconv_geom *g = &j->g;
    const float *dy = j->n->grad, *x = j->n->in[0]->val;
    float *dk = j->n->in[1]->grad;
    for (int64_t row = lo; row < hi; row++) {
        int64_t o = row % g->oc, kx = row / g->oc % g->kw, ky = row / g->oc / g->kw;
        float *dkr = dk + row * g->c;
        for (int64_t b = 0; b < g->n; b++)
            for (int64_t iy = 0; iy < g->h; iy++) {
                int64_t oy = iy * g->sh - g->pt + ky;
                if (oy < 0 || oy >= g->oh)
                    continue;
                for (int64_t ix = 0; ix < g->w; ix++) {
                    int64_t ox = ix * g->sw - g->pl + kx;
                    if (ox < 0 || ox >= g->ow)
                        continue;
                    float d = dy[((b * g->oh + oy) * g->ow + ox) * g->oc + o];
                    const float *xp = x + ((b * g->h + iy) * g->w + ix) * g->c;
                    for (int64_t c = 0; c < g->c; c++)
                        dkr[c] += d * xp[c];
                }
            }
    }
}

static void tconv_bwd(cr_node *n, const cr_ctx *c)
{
    tconv_job j = { .n = n };
    tconv_geometry(n, &j.g);
    int64_t per = j.g.w * j.g.kh * j.g.kw * j.g.oc * j.g.c / (j.g.sh * j.g.sw) + 1;
    if (n->in[0]->grad)
        cr_parallel_rows(c, j.g.n * j.g.h, per, tconv_dx_rows, &j);
    if (n->in[1]->grad)
        cr_parallel_rows(c, j.g.kh * j.g.kw * j.g.oc, j.g.n * j.g.h * j.g.w * j.g.c + 1,
                         tconv_dk_rows, &j);
}

bool cr_tconv_parts(const cr_node *n, int *sh, int *sw, int *pt, int *pl)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_conv2d_transpose_def)
        return false;
    tconv_geom g;
    tconv_geometry(n, &g);
    *sh = g.sh;
    *sw = g.sw;
    *pt = g.pt;
    *pl = g.pl;
    return true;
}

cr_node *cr_op_conv2d_transpose(cr_graph *g, cr_node *x, cr_node *k, int sh, int sw, bool same)
{
    tconv_attr a = { sh, sw, same };
    cr_node *in[2] = { x, k };
    return cr_op(g, &cr_op_conv2d_transpose_def, in, 2, &a, sizeof a);
}

static cr_node *tconv_ex(cr_graph *g, cr_rng *r)
{
    /* 'same' stride 2 with a 3x3 kernel (uneven padding), then 'valid'
     * with strides (1,2) and a kernel smaller than the stride across */
    cr_node *x = cr_example_var(g, r, crest_shape(4, 2, 3, 4, 3), -1, 1, 0);
    cr_node *k = cr_example_var(g, r, crest_shape(4, 3, 3, 2, 3), -1, 1, 0);
    cr_node *y = cr_op_conv2d_transpose(g, x, k, 2, 2, true);
    cr_node *k2 = cr_example_var(g, r, crest_shape(4, 2, 1, 3, 2), -1, 1, 0);
    return cr_op_conv2d_transpose(g, y, k2, 1, 2, false);
}

const cr_op_def cr_op_conv2d_transpose_def = { .name = "conv2d_transpose", .arity = 2,
    .shape = tconv_shape, .forward = tconv_fwd, .backward = tconv_bwd, .example = tconv_ex,
    .gc_tol = 2e-3 };

/* ---- upsample2d ------------------------------------------------------------ */

typedef struct up_attr { int sh, sw; bool bilinear; } up_attr;

static int up_shape(cr_node *n)
{
    const up_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    char s[96];
    if (x->ndim != 4)
        return cr_fail(CREST_E_SHAPE, "upsample2d: input %s is not [batch, height, width, "
                       "channels]", cr_dims_str(x, s, sizeof s));
    if (a->sh < 1 || a->sw < 1 || a->sh > 1024 || a->sw > 1024)
        return cr_fail(CREST_E_ARG, "upsample2d: size %dx%d", a->sh, a->sw);
    if (x->d[1] * a->sh > (1 << 24) || x->d[2] * a->sw > (1 << 24))
        return cr_fail(CREST_E_SHAPE, "upsample2d: output too large for input %s",
                       cr_dims_str(x, s, sizeof s));
    n->shape = (cr_dims){ .ndim = 4, .d = { x->d[0], x->d[1] * a->sh, x->d[2] * a->sw, x->d[3] } };
    return CREST_OK;
}

/* Where output index r reads from in an axis of `in` cells upsampled to
 * `out`: lo, hi and the weight of hi (TF.js' arithmetic, in double). */
typedef struct src_ix { int64_t lo, hi; double f; } src_ix;

static src_ix source(int64_t r, int64_t in, int64_t out, bool bilinear)
{
    double frac = (double)in / (double)out * (double)r;
    int64_t fl = (int64_t)floor(frac);
    if (!bilinear) {
        int64_t v = fl < in - 1 ? fl : in - 1;
        return (src_ix){ v, v, 0 };
    }
    if (fl < 0)
        fl = 0;
    int64_t ce = (int64_t)ceil(frac);
    if (ce > in - 1)
        ce = in - 1;
    return (src_ix){ fl, ce, frac - (double)fl };
}

typedef struct up_job {
    const cr_node *n;
    int64_t h, w, c, oh, ow;
    bool bilinear;
} up_job;

static up_job up_job_of(const cr_node *n)
{
    const cr_dims *x = &n->in[0]->shape;
    return (up_job){ .n = n, .h = x->d[1], .w = x->d[2], .c = x->d[3], .oh = n->shape.d[1],
                     .ow = n->shape.d[2], .bilinear = ((const up_attr *)n->attr)->bilinear };
}

static void up_fwd_rows(void *ctx, int64_t lo, int64_t hi)
{
    const up_job *j = ctx;
    const float *x = j->n->in[0]->val;
    for (int64_t row = lo; row < hi; row++) {
        int64_t b = row / j->oh;
        src_ix sr = source(row % j->oh, j->h, j->oh, j->bilinear);
        const float *top = x + (b * j->h + sr.lo) * j->w * j->c;
        const float *bot = x + (b * j->h + sr.hi) * j->w * j->c;
        float *y = j->n->val + row * j->ow * j->c;
        for (int64_t ox = 0; ox < j->ow; ox++, y += j->c) {
            src_ix sc = source(ox, j->w, j->ow, j->bilinear);
            const float *tl = top + sc.lo * j->c, *tr = top + sc.hi * j->c;
            const float *bl = bot + sc.lo * j->c, *br = bot + sc.hi * j->c;
            if (!j->bilinear) {
                memcpy(y, tl, (size_t)j->c * sizeof(float));
                continue;
            }
            for (int64_t c = 0; c < j->c; c++) {
                /* TF.js: top + (bottom - top) * rowFrac, each a lerp over columns */
                double t = tl[c] + ((double)tr[c] - tl[c]) * sc.f;
                double u = bl[c] + ((double)br[c] - bl[c]) * sc.f;
                y[c] = (float)(t + (u - t) * sr.f);
            }
        }
    }
}

static void up_fwd(cr_node *n, const cr_ctx *c)
{
    up_job j = up_job_of(n);
    cr_parallel_rows(c, n->shape.d[0] * j.oh, j.ow * j.c * (j.bilinear ? 8 : 1), up_fwd_rows, &j);
}

/* dx for whole images [lo, hi): every output cell adds its share back. */
static void up_bwd_images(void *ctx, int64_t lo, int64_t hi)
{
    const up_job *j = ctx;
    float *dx = j->n->in[0]->grad;
    for (int64_t b = lo; b < hi; b++)
        for (int64_t oy = 0; oy < j->oh; oy++) {
            src_ix sr = source(oy, j->h, j->oh, j->bilinear);
            float *top = dx + (b * j->h + sr.lo) * j->w * j->c;
            float *bot = dx + (b * j->h + sr.hi) * j->w * j->c;
            const float *dy = j->n->grad + (b * j->oh + oy) * j->ow * j->c;
            for (int64_t ox = 0; ox < j->ow; ox++, dy += j->c) {
                src_ix sc = source(ox, j->w, j->ow, j->bilinear);
                float *tl = top + sc.lo * j->c, *tr = top + sc.hi * j->c;
                float *bl = bot + sc.lo * j->c, *br = bot + sc.hi * j->c;
                if (!j->bilinear) {
                    for (int64_t c = 0; c < j->c; c++)
                        tl[c] += dy[c];
                    continue;
                }
                float wtl = (float)((1 - sr.f) * (1 - sc.f)), wtr = (float)((1 - sr.f) * sc.f);
                float wbl = (float)(sr.f * (1 - sc.f)), wbr = (float)(sr.f * sc.f);
                for (int64_t c = 0; c < j->c; c++) {
                    tl[c] += wtl * dy[c];
                    tr[c] += wtr * dy[c];
                    bl[c] += wbl * dy[c];
                    br[c] += wbr * dy[c];
                }
            }
        }
}

static void up_bwd(cr_node *n, const cr_ctx *c)
{
    if (!n->in[0]->grad)
        return;
    up_job j = up_job_of(n);
    cr_parallel_rows(c, n->shape.d[0], j.oh * j.ow * j.c * 4, up_bwd_images, &j);
}

bool cr_upsample2d_parts(const cr_node *n, bool *bilinear)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_upsample2d_def)
        return false;
    *bilinear = ((const up_attr *)n->attr)->bilinear;
    return true;
}

cr_node *cr_op_upsample2d(cr_graph *g, cr_node *x, int sh, int sw, bool bilinear)
{
    up_attr a = { sh, sw, bilinear };
    return cr_op(g, &cr_op_upsample2d_def, &x, 1, &a, sizeof a);
}

static cr_node *up_ex(cr_graph *g, cr_rng *r)
{
    /* bilinear (3, 2), then nearest (2, 3) */
    cr_node *x = cr_example_var(g, r, crest_shape(4, 2, 3, 2, 2), -1, 1, 0);
    cr_node *y = cr_op_upsample2d(g, x, 3, 2, true);
    return cr_op_upsample2d(g, y, 2, 3, false);
}

const cr_op_def cr_op_upsample2d_def = { .name = "upsample2d", .arity = 1, .shape = up_shape,
    .forward = up_fwd, .backward = up_bwd, .example = up_ex, .gc_tol = 2e-3 };
