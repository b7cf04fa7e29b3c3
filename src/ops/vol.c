/* vol.c - the 3-D ops on NDHWC volumes: conv3d, conv3d_transpose, max and
 * average pooling, global pooling, nearest upsampling, zero padding and
 * cropping. Shape rules, attributes and gradients live here; the
 * convolution and pooling loops in src/kernels/vol.c.
 *
 * A transposed convolution is the data gradient of the convolution that
 * maps its output back onto its input: forward scatters x k^T over the
 * output (col2im), backward runs that convolution on dy. Output sizes are
 * Keras' deconv_output_length; the padding is then the one TensorFlow
 * derives for that convolution, so output_padding works as in Keras.
 */
#include "vol.h"
#include "../kernels/vol.h"

#include <math.h>

static int need_5d(const cr_node *n)
{
    const cr_dims *x = &n->in[0]->shape;
    if (x->ndim == 5 && x->d[1] <= (1 << 16) && x->d[2] <= (1 << 16) && x->d[3] <= (1 << 16) &&
        x->d[4] <= (1 << 20) && x->d[0] <= (1 << 24))
        return CREST_OK;
    char s[96];
    return cr_fail(CREST_E_SHAPE, "%s: input %s is not [batch, depth, height, width, channels]",
                   n->op->name, cr_dims_str(x, s, sizeof s));
}

/* ---- windows: convolution and pooling ------------------------------------ */

typedef struct vol_attr {
    int k[3];                 /* pooling window (convolutions read the kernel) */
    int s[3], dil[3];
    bool same;
    int out_pad[3];           /* conv3d_transpose: -1 none */
} vol_attr;

static vol_attr attr_of(const cr_vol_opts *o)
{
    vol_attr a = { .same = o->same };
    for (int i = 0; i < 3; i++) {
        a.s[i] = o->s[i] ? o->s[i] : 1;
        a.dil[i] = o->dil[i] ? o->dil[i] : 1;
        a.out_pad[i] = o->out_pad[i];
    }
    return a;
}

/* TF: 'valid' out = (in - ek) / s + 1; 'same' out = ceil(in / s), zeros
 * before = floor(total / 2). 0 if the window does not fit. */
static int out_len(int in, int k, int s, int d, bool same, int *before)
{
    int64_t ek = (int64_t)(k - 1) * d + 1;
    if (same) {
        int64_t out = ((int64_t)in + s - 1) / s, total = (out - 1) * s + ek - in;
        *before = total > 0 ? (int)(total / 2 < (1 << 30) ? total / 2 : (1 << 30)) : 0;
        return (int)out;
    }
    *before = 0;
    return in >= ek ? (int)((in - ek) / s + 1) : 0;
}

static int check_window(const cr_node *n, const vol_attr *a, const int k[3])
{
    for (int i = 0; i < 3; i++)
        if (a->s[i] < 1 || a->dil[i] < 1 || k[i] < 1 || a->s[i] > (1 << 16) ||
            a->dil[i] > (1 << 16) || k[i] > (1 << 16))
            return cr_fail(CREST_E_ARG, "%s: window %dx%dx%d, strides %dx%dx%d, dilation "
                           "%dx%dx%d", n->op->name, k[0], k[1], k[2], a->s[0], a->s[1], a->s[2],
                           a->dil[0], a->dil[1], a->dil[2]);
    return CREST_OK;
}

/* Geometry of a convolution or pooling whose input is x (big side). */
static int forward_geom(const cr_node *n, const int k[3], int oc, cr_vol_geom *g)
{
    const vol_attr *a = n->attr;
    int rc = need_5d(n);
    if (!rc)
        rc = check_window(n, a, k);
    if (rc)
        return rc;
    const cr_dims *x = &n->in[0]->shape;
    *g = (cr_vol_geom){ .n = (int)x->d[0], .d = (int)x->d[1], .h = (int)x->d[2],
                        .w = (int)x->d[3], .c = (int)x->d[4], .oc = oc };
    int in[3] = { g->d, g->h, g->w }, out[3];
    for (int i = 0; i < 3; i++) {
        g->k[i] = k[i];
        g->s[i] = a->s[i];
        g->dil[i] = a->dil[i];
        out[i] = out_len(in[i], k[i], a->s[i], a->dil[i], a->same, &g->p[i]);
        if (out[i] < 1)
            return cr_fail(CREST_E_SHAPE, "%s: a %dx%dx%d window (dilation %dx%dx%d) does not "
                           "fit a %dx%dx%d input with 'valid' padding", n->op->name, k[0], k[1],
                           k[2], a->dil[0], a->dil[1], a->dil[2], in[0], in[1], in[2]);
    }
    g->od = out[0];
    g->oh = out[1];
    g->ow = out[2];
    return CREST_OK;
}

typedef int (*geom_fn)(const cr_node *n, cr_vol_geom *g);

/* The node's shape from its geometry: the small side [n,od,oh,ow,oc] for a
 * convolution or pooling, the big side [n,d,h,w,c] for a transposed one. */
static int shape_from(cr_node *n, geom_fn geom, bool big)
{
    cr_vol_geom g;
    int rc = geom(n, &g);
    if (!rc)
        n->shape = big ? (cr_dims){ .ndim = 5, .d = { g.n, g.d, g.h, g.w, g.c } }
                       : (cr_dims){ .ndim = 5, .d = { g.n, g.od, g.oh, g.ow, g.oc } };
    return rc;
}

static int64_t scratch_of(const cr_node *n, geom_fn geom)
{
    cr_vol_geom g;
    return geom(n, &g) ? 0 : (int64_t)cr_conv3d_scratch(&g);
}

/* conv3d and conv3d_transpose take the same inputs and options. */
static cr_node *conv_op(cr_graph *g, const cr_op_def *def, cr_node *x, cr_node *k, cr_node *bias,
                        const cr_vol_opts *o)
{
    vol_attr a = attr_of(o);
    cr_node *in[3] = { x, k, bias };
    return cr_op(g, def, in, bias ? 3 : 2, &a, sizeof a);
}

static void kernel_taps(const cr_node *n, int k[3])
{
    const cr_dims *ks = &n->in[1]->shape;
    for (int i = 0; i < 3; i++)
        k[i] = ks->ndim == 5 && ks->d[i] <= (1 << 16) ? (int)ks->d[i] : 0;
}

/* A patch (kd*kh*kw*channels floats, one row of the im2col matrix) the
 * kernels' int indexing holds. */
static int patch_ok(const cr_node *n, const int k[3], int c)
{
    double len = (double)k[0] * k[1] * k[2] * c;
    if (len <= (double)(1 << 24))
        return CREST_OK;
    return cr_fail(CREST_E_SHAPE, "%s: a %dx%dx%d kernel over %d channels reads %.3g values "
                   "per output cell, more than crest accepts (%d)", n->op->name, k[0], k[1], k[2],
                   c, len, 1 << 24);
}

static const float *grad_of(const cr_node *n, int i) { return i < n->n_in ? n->in[i]->grad : NULL; }

/* ---- conv3d ----------------------------------------------------------------- */

/* The kernel's axis x_axis holds x's channels and its axis f_axis the
 * filters (the bias' length); its patch (kernel_taps, and k->d[3] channels on
 * the side with the patch) fits. layout names the kernel's axes. */
static int kernel_fits(const cr_node *n, int x_axis, int f_axis, const char *layout, int taps[3])
{
    const cr_dims *k = &n->in[1]->shape, *x = &n->in[0]->shape;
    if (k->ndim != 5 || x->ndim != 5 || k->d[x_axis] != x->d[4] || k->d[f_axis] > (1 << 20) ||
        (n->n_in == 3 && (n->in[2]->shape.ndim != 1 || n->in[2]->shape.d[0] != k->d[f_axis]))) {
        char sx[96], sk[96];
        return cr_fail(CREST_E_SHAPE, "%s: input %s and kernel %s do not fit ([n,d,h,w,c] and "
                       "%s)", n->op->name, cr_dims_str(x, sx, sizeof sx),
                       cr_dims_str(k, sk, sizeof sk), layout);
    }
    kernel_taps(n, taps);
    return patch_ok(n, taps, (int)k->d[3]);
}

static int conv_geom(const cr_node *n, cr_vol_geom *g)
{
    int taps[3];
    int rc = kernel_fits(n, 3, 4, "[kd,kh,kw,c,filters]", taps);
    return rc ? rc : forward_geom(n, taps, (int)n->in[1]->shape.d[4], g);
}

static int conv_shape(cr_node *n) { return shape_from(n, conv_geom, false); }
static int64_t conv_aux(const cr_node *n) { return scratch_of(n, conv_geom); }

static void conv_fwd(cr_node *n, const cr_ctx *c)
{
    cr_vol_geom g;
    conv_geom(n, &g);
    cr_conv3d(c->pool, &g, n->in[0]->val, n->in[1]->val, n->n_in == 3 ? n->in[2]->val : NULL,
              false, n->val, n->aux);
}

static void conv_bwd(cr_node *n, const cr_ctx *c)
{
    cr_vol_geom g;
    conv_geom(n, &g);
    int64_t P = cr_dims_count(&n->shape) / g.oc;
    if (grad_of(n, 2))
        cr_vol_colsum(n->grad, P, g.oc, n->in[2]->grad);
    if (n->in[1]->grad)
        cr_conv3d_backward_filter(c->pool, &g, n->in[0]->val, n->grad, n->in[1]->grad, n->aux);
    if (n->in[0]->grad)
        cr_conv3d_backward_data(c->pool, &g, n->grad, n->in[1]->val, n->in[0]->grad, n->aux);
}

static cr_node *conv_ex(cr_graph *g, cr_rng *r)
{
    /* 'same' with a stride on an odd size (uneven padding), then dilation */
    cr_node *x = cr_example_var(g, r, crest_shape(5, 2, 5, 4, 3, 2), -1, 1, 0);
    cr_node *k = cr_example_var(g, r, crest_shape(5, 3, 2, 3, 2, 3), -1, 1, 0);
    cr_node *b = cr_example_var(g, r, crest_shape(1, 3), -1, 1, 0);
    cr_node *y = cr_op_conv3d(g, x, k, b, &(cr_vol_opts){ .s = { 2, 1, 1 }, .same = true });
    cr_node *k2 = cr_example_var(g, r, crest_shape(5, 2, 2, 2, 3, 2), -1, 1, 0);
    return cr_op_conv3d(g, y, k2, NULL, &(cr_vol_opts){ .dil = { 1, 2, 1 }, .s = { 1, 1, 2 } });
}

const cr_op_def cr_op_conv3d_def = { .name = "conv3d", .arity = -1, .shape = conv_shape,
    .forward = conv_fwd, .backward = conv_bwd, .aux_size = conv_aux, .example = conv_ex,
    .gc_tol = 2e-3 };

cr_node *cr_op_conv3d(cr_graph *g, cr_node *x, cr_node *k, cr_node *bias, const cr_vol_opts *o)
{
    return conv_op(g, &cr_op_conv3d_def, x, k, bias, o);
}

/* ---- conv3d_transpose ------------------------------------------------------- */

/* Keras' deconv_output_length (dilation 1). */
static int64_t deconv_len(int in, int k, int s, bool same, int out_pad)
{
    if (out_pad < 0)
        return same ? (int64_t)in * s : (int64_t)in * s + (k - s > 0 ? k - s : 0);
    int pad = same ? k / 2 : 0;
    return (int64_t)(in - 1) * s + k - 2 * pad + out_pad;
}

/* The geometry of the convolution from the output (big side) back to x. */
static int tconv_geom(const cr_node *n, cr_vol_geom *g)
{
    const vol_attr *a = n->attr;
    const cr_dims *k = &n->in[1]->shape, *x = &n->in[0]->shape;
    int rc = need_5d(n);
    if (rc)
        return rc;
    int taps[3];
    if ((rc = kernel_fits(n, 4, 3, "[kd,kh,kw,filters,c]", taps)) ||
        (rc = check_window(n, a, taps)))
        return rc;
    *g = (cr_vol_geom){ .n = (int)x->d[0], .c = (int)k->d[3], .od = (int)x->d[1],
                        .oh = (int)x->d[2], .ow = (int)x->d[3], .oc = (int)x->d[4] };
    int small[3] = { g->od, g->oh, g->ow }, big[3];
    for (int i = 0; i < 3; i++) {
        g->k[i] = taps[i];
        g->s[i] = a->s[i];
        g->dil[i] = 1;
        if (a->out_pad[i] >= a->s[i])
            return cr_fail(CREST_E_ARG, "conv3d_transpose: output_padding %d is not below the "
                           "stride %d", a->out_pad[i], a->s[i]);
        int64_t len = deconv_len(small[i], taps[i], a->s[i], a->same, a->out_pad[i]);
        int before = 0;
        if (len < 1 || len > (1 << 16) ||
            out_len((int)len, taps[i], a->s[i], 1, a->same, &before) != small[i])
            return cr_fail(CREST_E_SHAPE, "conv3d_transpose: output size %lld along axis %d does "
                           "not fit input %d, kernel %d, stride %d", (long long)len, i + 1,
                           small[i], taps[i], a->s[i]);
        big[i] = (int)len;
        if (a->same) {   /* TF's padding for the convolution from big to small */
            int64_t total = (int64_t)(small[i] - 1) * a->s[i] + taps[i] - big[i];
            before = total > 0 ? (int)(total / 2) : 0;
        }
        g->p[i] = before;
    }
    g->d = big[0];
    g->h = big[1];
    g->w = big[2];
    return CREST_OK;
}

static int tconv_shape(cr_node *n) { return shape_from(n, tconv_geom, true); }
static int64_t tconv_aux(const cr_node *n) { return scratch_of(n, tconv_geom); }

static void tconv_fwd(cr_node *n, const cr_ctx *c)
{
    cr_vol_geom g;
    tconv_geom(n, &g);
    int64_t cnt = cr_dims_count(&n->shape);
    memset(n->val, 0, (size_t)cnt * sizeof(float));
    cr_conv3d_backward_data(c->pool, &g, n->in[0]->val, n->in[1]->val, n->val, n->aux);
    if (n->n_in == 3) {
        const float *b = n->in[2]->val;
        for (int64_t i = 0; i < cnt; i += g.c)
            for (int j = 0; j < g.c; j++)
                n->val[i + j] += b[j];
    }
}

static void tconv_bwd(cr_node *n, const cr_ctx *c)
{
    cr_vol_geom g;
    tconv_geom(n, &g);
    if (grad_of(n, 2))
        cr_vol_colsum(n->grad, cr_dims_count(&n->shape) / g.c, g.c, n->in[2]->grad);
    if (n->in[1]->grad)
        cr_conv3d_backward_filter(c->pool, &g, n->grad, n->in[0]->val, n->in[1]->grad, n->aux);
    if (n->in[0]->grad)
        cr_conv3d(c->pool, &g, n->grad, n->in[1]->val, NULL, true, n->in[0]->grad, n->aux);
}

static cr_node *tconv_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(5, 2, 3, 2, 3, 2), -1, 1, 0);
    cr_node *k = cr_example_var(g, r, crest_shape(5, 3, 2, 3, 3, 2), -1, 1, 0);
    cr_node *b = cr_example_var(g, r, crest_shape(1, 3), -1, 1, 0);
    cr_node *y = cr_op_conv3d_transpose(g, x, k, b, &(cr_vol_opts){ .s = { 2, 1, 2 },
                                        .same = true, .out_pad = { -1, -1, -1 } });
    cr_node *k2 = cr_example_var(g, r, crest_shape(5, 2, 1, 3, 2, 3), -1, 1, 0);
    return cr_op_conv3d_transpose(g, y, k2, NULL, &(cr_vol_opts){ .s = { 1, 2, 3 },
                                  .out_pad = { 0, 1, 2 } });
}

const cr_op_def cr_op_conv3d_transpose_def = { .name = "conv3d_transpose", .arity = -1,
    .shape = tconv_shape, .forward = tconv_fwd, .backward = tconv_bwd, .aux_size = tconv_aux,
    .example = tconv_ex, .gc_tol = 2e-3 };

cr_node *cr_op_conv3d_transpose(cr_graph *g, cr_node *x, cr_node *k, cr_node *bias,
                                const cr_vol_opts *o)
{
    return conv_op(g, &cr_op_conv3d_transpose_def, x, k, bias, o);
}

/* ---- max / average pooling ---------------------------------------------------- */

static int pool_geom(const cr_node *n, cr_vol_geom *g)
{
    const vol_attr *a = n->attr;
    int rc = need_5d(n);
    return rc ? rc : forward_geom(n, a->k, (int)n->in[0]->shape.d[4], g);
}

static int pool_shape(cr_node *n) { return shape_from(n, pool_geom, false); }

static void pool_fwd(cr_node *n, const cr_ctx *c, bool max)
{
    cr_vol_geom g;
    pool_geom(n, &g);
    cr_pool3d(c->pool, &g, n->in[0]->val, n->val, max);
}

static void pool_bwd(cr_node *n, const cr_ctx *c, bool max)
{
    if (!n->in[0]->grad)
        return;
    cr_vol_geom g;
    pool_geom(n, &g);
    cr_pool3d_backward(c->pool, &g, n->in[0]->val, n->val, n->grad, n->in[0]->grad, max);
}

static void maxpool_fwd(cr_node *n, const cr_ctx *c) { pool_fwd(n, c, true); }
static void avgpool_fwd(cr_node *n, const cr_ctx *c) { pool_fwd(n, c, false); }
static void maxpool_bwd(cr_node *n, const cr_ctx *c) { pool_bwd(n, c, true); }
static void avgpool_bwd(cr_node *n, const cr_ctx *c) { pool_bwd(n, c, false); }

static cr_node *pool_ex(cr_graph *g, cr_rng *r, bool max)
{
    /* distinct values: max pooling has a kink where two cells tie */
    cr_node *x = cr_example_var(g, r, crest_shape(5, 2, 5, 4, 5, 2), -1, 1, 0);
    cr_node *y = cr_op_pool3d(g, x, max, (int[3]){ 2, 3, 2 },
                              &(cr_vol_opts){ .s = { 2, 1, 2 }, .same = true });
    return cr_op_pool3d(g, y, max, (int[3]){ 2, 2, 2 }, &(cr_vol_opts){ .s = { 1, 2, 1 } });
}
static cr_node *maxpool_ex(cr_graph *g, cr_rng *r) { return pool_ex(g, r, true); }
static cr_node *avgpool_ex(cr_graph *g, cr_rng *r) { return pool_ex(g, r, false); }

const cr_op_def cr_op_maxpool3d_def = { .name = "maxpool3d", .arity = 1, .shape = pool_shape,
    .forward = maxpool_fwd, .backward = maxpool_bwd, .example = maxpool_ex, .gc_tol = 2e-3 };
const cr_op_def cr_op_avgpool3d_def = { .name = "avgpool3d", .arity = 1, .shape = pool_shape,
    .forward = avgpool_fwd, .backward = avgpool_bwd, .example = avgpool_ex, .gc_tol = 2e-3 };

cr_node *cr_op_pool3d(cr_graph *g, cr_node *x, bool max, const int k[3], const cr_vol_opts *o)
{
    vol_attr a = attr_of(o);
    for (int i = 0; i < 3; i++) {
        a.k[i] = k[i];
        a.dil[i] = 1;
    }
    return cr_op(g, max ? &cr_op_maxpool3d_def : &cr_op_avgpool3d_def, &x, 1, &a, sizeof a);
}

/* ---- global pooling: [n,d,h,w,c] -> [n,c] or [n,1,1,1,c] ------------------------ */

typedef struct { bool keepdims; } gpool_attr;

static int gpool_shape(cr_node *n)
{
    int rc = need_5d(n);
    if (rc)
        return rc;
    const cr_dims *x = &n->in[0]->shape;
    if (((const gpool_attr *)n->attr)->keepdims)
        n->shape = (cr_dims){ .ndim = 5, .d = { x->d[0], 1, 1, 1, x->d[4] } };
    else
        n->shape = (cr_dims){ .ndim = 2, .d = { x->d[0], x->d[4] } };
    return CREST_OK;
}

static void gpool_dims(const cr_node *n, int64_t *cells, int64_t *C)
{
    const cr_dims *x = &n->in[0]->shape;
    *cells = x->d[1] * x->d[2] * x->d[3];
    *C = x->d[4];
}

static void gpool_fwd(cr_node *n, bool max)
{
    int64_t cells, C;
    gpool_dims(n, &cells, &C);
    for (int64_t b = 0; b < n->in[0]->shape.d[0]; b++) {
        const float *x = n->in[0]->val + b * cells * C;
        float *y = n->val + b * C;
        for (int64_t c = 0; c < C; c++)
            y[c] = max ? -INFINITY : 0.0f;
        for (int64_t p = 0; p < cells; p++)
            for (int64_t c = 0; c < C; c++) {
                if (max)
                    y[c] = x[p * C + c] > y[c] ? x[p * C + c] : y[c];
                else
                    y[c] += x[p * C + c];
            }
        if (!max)
            for (int64_t c = 0; c < C; c++)
                y[c] /= (float)cells;
    }
}

/* Average: dy / cells to every cell; max: dy to the first cell equal to y. */
static void gpool_bwd(cr_node *n, bool max)
{
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t cells, C;
    gpool_dims(n, &cells, &C);
    for (int64_t b = 0; b < n->in[0]->shape.d[0]; b++) {
        const float *x = n->in[0]->val + b * cells * C, *y = n->val + b * C;
        const float *dy = n->grad + b * C;
        float *d = dx + b * cells * C;
        for (int64_t c = 0; c < C; c++)
            for (int64_t p = 0; p < cells; p++) {
                if (!max) {
                    d[p * C + c] += dy[c] / (float)cells;
                } else if (x[p * C + c] == y[c]) {
                    d[p * C + c] += dy[c];
                    break;
                }
            }
    }
}

static void gavg_fwd(cr_node *n, const cr_ctx *c) { (void)c; gpool_fwd(n, false); }
static void gmax_fwd(cr_node *n, const cr_ctx *c) { (void)c; gpool_fwd(n, true); }
static void gavg_bwd(cr_node *n, const cr_ctx *c) { (void)c; gpool_bwd(n, false); }
static void gmax_bwd(cr_node *n, const cr_ctx *c) { (void)c; gpool_bwd(n, true); }

static cr_node *gavg_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_global_pool3d(g, cr_example_var(g, r, crest_shape(5, 2, 3, 2, 3, 4), -1, 1, 0),
                               false, true);
}
static cr_node *gmax_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_global_pool3d(g, cr_example_var(g, r, crest_shape(5, 2, 2, 3, 2, 3), -1, 1, 0),
                               true, false);
}

const cr_op_def cr_op_global_avgpool3d_def = { .name = "global_avgpool3d", .arity = 1,
    .shape = gpool_shape, .forward = gavg_fwd, .backward = gavg_bwd, .example = gavg_ex,
    .gc_tol = 2e-3 };
const cr_op_def cr_op_global_maxpool3d_def = { .name = "global_maxpool3d", .arity = 1,
    .shape = gpool_shape, .forward = gmax_fwd, .backward = gmax_bwd, .example = gmax_ex,
    .gc_tol = 2e-3 };

cr_node *cr_op_global_pool3d(cr_graph *g, cr_node *x, bool max, bool keepdims)
{
    return cr_op(g, max ? &cr_op_global_maxpool3d_def : &cr_op_global_avgpool3d_def, &x, 1,
                 &(gpool_attr){ keepdims }, sizeof(gpool_attr));
}

/* ---- nearest upsampling ---------------------------------------------------------- */

typedef struct { int size[3]; } up_attr;

static int up_shape(cr_node *n)
{
    int rc = need_5d(n);
    if (rc)
        return rc;
    const up_attr *a = n->attr;
    n->shape = n->in[0]->shape;
    for (int i = 0; i < 3; i++) {
        if (a->size[i] < 1 || a->size[i] > (1 << 10) || n->shape.d[i + 1] * a->size[i] > (1 << 16))
            return cr_fail(CREST_E_ARG, "upsample3d: size %d along axis %d", a->size[i], i + 1);
        n->shape.d[i + 1] *= a->size[i];
    }
    return CREST_OK;
}

/* Output cell o of the flattened output reads input cell src(o): walks
 * the output in order; backward adds each output gradient to its source. */
static void up_walk(cr_node *n, bool backward)
{
    const up_attr *a = n->attr;
    const cr_dims *X = &n->in[0]->shape, *Y = &n->shape;
    size_t C = (size_t)Y->d[4];
    float *dx = n->in[0]->grad;
    if (backward && !dx)
        return;
    size_t o = 0;
    for (int64_t b = 0; b < Y->d[0]; b++)
        for (int64_t z = 0; z < Y->d[1]; z++)
            for (int64_t y = 0; y < Y->d[2]; y++)
                for (int64_t x = 0; x < Y->d[3]; x++, o += C) {
                    size_t i = ((((size_t)b * X->d[1] + (size_t)(z / a->size[0])) * X->d[2] +
                                 (size_t)(y / a->size[1])) * X->d[3] + (size_t)(x / a->size[2])) *
                               C;
                    if (backward)
                        for (size_t c = 0; c < C; c++)
                            dx[i + c] += n->grad[o + c];
                    else
                        memcpy(n->val + o, n->in[0]->val + i, C * sizeof(float));
                }
}

static void up_fwd(cr_node *n, const cr_ctx *c) { (void)c; up_walk(n, false); }
static void up_bwd(cr_node *n, const cr_ctx *c) { (void)c; up_walk(n, true); }

static cr_node *up_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_upsample3d(g, cr_example_var(g, r, crest_shape(5, 2, 2, 3, 2, 2), -1, 1, 0),
                            (int[3]){ 2, 1, 3 });
}

const cr_op_def cr_op_upsample3d_def = { .name = "upsample3d", .arity = 1, .shape = up_shape,
    .forward = up_fwd, .backward = up_bwd, .example = up_ex, .gc_tol = 2e-3 };

cr_node *cr_op_upsample3d(cr_graph *g, cr_node *x, const int size[3])
{
    up_attr a;
    memcpy(a.size, size, sizeof a.size);
    return cr_op(g, &cr_op_upsample3d_def, &x, 1, &a, sizeof a);
}

/* ---- zero padding / cropping --------------------------------------------------- */

typedef struct { int amt[6]; } pad_attr;   /* before, after per axis */

static int pad_crop_shape(cr_node *n, int sign)
{
    int rc = need_5d(n);
    if (rc)
        return rc;
    const pad_attr *a = n->attr;
    n->shape = n->in[0]->shape;
    for (int i = 0; i < 3; i++) {
        int64_t len = n->shape.d[i + 1] + sign * ((int64_t)a->amt[2 * i] + a->amt[2 * i + 1]);
        if (a->amt[2 * i] < 0 || a->amt[2 * i + 1] < 0 || len < 1 || len > (1 << 16))
            return cr_fail(CREST_E_SHAPE, "%s: %d and %d along axis %d of a %lld-long input "
                           "leave %lld", n->op->name, a->amt[2 * i], a->amt[2 * i + 1], i + 1,
                           (long long)n->shape.d[i + 1], (long long)len);
        n->shape.d[i + 1] = len;
    }
    return CREST_OK;
}

static int pad_shape(cr_node *n) { return pad_crop_shape(n, 1); }
static int crop_shape(cr_node *n) { return pad_crop_shape(n, -1); }

/* Runs of C floats between the small volume and its window in the big one
 * (offset off per axis): to_small copies big -> small, else small -> big;
 * grads: accumulates the source's gradient into the destination's. */
static void window_move(const cr_node *big, const cr_node *small, const int off[3],
                        bool to_small, bool grads)
{
    const cr_dims *B = &big->shape, *S = &small->shape;
    size_t run = (size_t)(S->d[3] * S->d[4]);
    float *dst = grads ? (to_small ? small->grad : big->grad) : (to_small ? small->val : big->val);
    const float *src = grads ? (to_small ? big->grad : small->grad)
                             : (to_small ? big->val : small->val);
    if (!dst)
        return;
    for (int64_t b = 0; b < S->d[0]; b++)
        for (int64_t z = 0; z < S->d[1]; z++)
            for (int64_t y = 0; y < S->d[2]; y++) {
                size_t so = (((size_t)b * S->d[1] + z) * S->d[2] + y) * run;
                size_t bo = ((((size_t)b * B->d[1] + z + off[0]) * B->d[2] + y + off[1]) * B->d[3] +
                             off[2]) * B->d[4];
                float *d = dst + (to_small ? so : bo);
                const float *s = src + (to_small ? bo : so);
                if (grads)
                    for (size_t k = 0; k < run; k++)
                        d[k] += s[k];
                else
                    memcpy(d, s, run * sizeof(float));
            }
}

static void offsets(const cr_node *n, int off[3])
{
    const pad_attr *a = n->attr;
    for (int i = 0; i < 3; i++)
        off[i] = a->amt[2 * i];
}

static void pad_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    int off[3];
    offsets(n, off);
    memset(n->val, 0, (size_t)cr_dims_count(&n->shape) * sizeof(float));
    window_move(n, n->in[0], off, false, false);
}

static void pad_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    int off[3];
    offsets(n, off);
    window_move(n, n->in[0], off, true, true);
}

static void crop_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    int off[3];
    offsets(n, off);
    window_move(n->in[0], n, off, true, false);
}

static void crop_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    int off[3];
    offsets(n, off);
    window_move(n->in[0], n, off, false, true);
}

static cr_node *pad_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_pad3d(g, cr_example_var(g, r, crest_shape(5, 2, 2, 2, 3, 2), -1, 1, 0),
                       (int[6]){ 1, 0, 0, 2, 1, 1 });
}
static cr_node *crop_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_crop3d(g, cr_example_var(g, r, crest_shape(5, 2, 4, 5, 3, 2), -1, 1, 0),
                        (int[6]){ 1, 1, 0, 2, 1, 0 });
}

const cr_op_def cr_op_zero_pad3d_def = { .name = "zero_pad3d", .arity = 1, .shape = pad_shape,
    .forward = pad_fwd, .backward = pad_bwd, .example = pad_ex, .gc_tol = 2e-3 };
const cr_op_def cr_op_crop3d_def = { .name = "crop3d", .arity = 1, .shape = crop_shape,
    .forward = crop_fwd, .backward = crop_bwd, .example = crop_ex, .gc_tol = 2e-3 };

/* A zero_pad3d or crop3d node (def) of x by the six amounts. */
static cr_node *pad_op(cr_graph *g, const cr_op_def *def, cr_node *x, const int amounts[6])
{
    pad_attr a;
    memcpy(a.amt, amounts, sizeof a.amt);
    return cr_op(g, def, &x, 1, &a, sizeof a);
}

cr_node *cr_op_pad3d(cr_graph *g, cr_node *x, const int amounts[6])
{
    return pad_op(g, &cr_op_zero_pad3d_def, x, amounts);
}

cr_node *cr_op_crop3d(cr_graph *g, cr_node *x, const int amounts[6])
{
    return pad_op(g, &cr_op_crop3d_def, x, amounts);
}

/* ---- views for exporters -------------------------------------------------- */

bool cr_vol_window_parts(const cr_node *n, int k[3], int s[3], int dil[3], int before[3])
{
    if (!n || n->kind != CR_NODE_OP)
        return false;
    geom_fn f = n->op == &cr_op_conv3d_def ? conv_geom
                : n->op == &cr_op_conv3d_transpose_def ? tconv_geom
                : n->op == &cr_op_maxpool3d_def || n->op == &cr_op_avgpool3d_def ? pool_geom : NULL;
    cr_vol_geom g;
    if (!f || f(n, &g))
        return false;
    for (int i = 0; i < 3; i++) {
        k[i] = g.k[i];
        s[i] = g.s[i];
        dil[i] = g.dil[i];
        before[i] = g.p[i];
    }
    return true;
}

bool cr_vol_amounts(const cr_node *n, int amounts[6])
{
    if (!n || n->kind != CR_NODE_OP || (n->op != &cr_op_zero_pad3d_def && n->op != &cr_op_crop3d_def))
        return false;
    memcpy(amounts, ((const pad_attr *)n->attr)->amt, 6 * sizeof *amounts);
    return true;
}

bool cr_upsample3d_parts(const cr_node *n, int size[3])
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_upsample3d_def)
        return false;
    memcpy(size, ((const up_attr *)n->attr)->size, 3 * sizeof *size);
    return true;
}
