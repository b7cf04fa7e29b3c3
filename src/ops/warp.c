/* warp.c - the image warp behind Keras' geometric augmentation layers
 * (RandomFlip, RandomRotation, RandomZoom, RandomTranslation): each sample
 * of an NHWC batch is resampled through its own projective map, drawn from
 * the graph's RNG each forward pass (or given, for tests and goldens).
 *
 * The map is TF's ImageProjectiveTransformV3 row [a0 a1 a2 b0 b1 b2 c0 c1]:
 * output pixel (x, y) reads the input at ((a0 x + a1 y + a2) / k,
 * (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1 (k = 0: the fill value).
 * A coordinate outside the image is first mapped by the fill mode, as TF
 * and TF.js (tf.image.transform) do:
 *   reflect  (d c b a | a b c d | d c b a), about the edge of the last pixel
 *   wrap     (a b c d | a b c d | a b c d)
 *   nearest  (a a a a | a b c d | d d d d)
 *   constant (k k k k | a b c d | k k k k): the fill value
 * then read with nearest or bilinear interpolation, where a neighbour
 * outside the image reads the fill value. Nearest rounds halves away from
 * zero, as TF does (std::round); TF.js rounds them up (Math.round), which
 * differs at -0.5 in constant mode.
 * The output is linear in the input, so backward scatters dy through the
 * same weights (the maps are kept in aux, 8 floats a sample).
 *
 * The draws, per sample, as Keras makes them (lo/hi are the layers' lower
 * and upper factors; h, w the image size):
 *   flip       horizontal and/or vertical, each with probability 1/2
 *   rotate     angle θ uniform in [lo, hi] * 2π about the image centre
 *   zoom       zy uniform in [1 + lo, 1 + hi] (positive: zoom out), zx the
 *              same draw, or its own in [1 + lo2, 1 + hi2]
 *   translate  dy uniform in [lo, hi] * h, dx in [lo2, hi2] * w
 *   crop       (RandomCrop while training) an out_h x out_w window at a
 *              uniform whole-pixel offset; the output has that size
 */
#include "../internal.h"

#include <math.h>

static int warp_shape(cr_node *n)
{
    const cr_warp_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    if (x->ndim != 4)
        return cr_fail(CREST_E_SHAPE, "%s: needs [batch, height, width, channels], got rank %d",
                       n->op->name, x->ndim);
    if (a->kind < 0 || a->kind > CR_WARP_CROP || a->fill < 0 || a->fill > CR_FILL_NEAREST ||
        !isfinite(a->fill_value))
        return cr_fail(CREST_E_ARG, "%s: bad options", n->op->name);
    for (int i = 0; i < 2; i++)
        if (!(isfinite(a->lo[i]) && isfinite(a->hi[i]) && a->lo[i] <= a->hi[i]))
            return cr_fail(CREST_E_ARG, "%s: factor [%g, %g] is not a range", n->op->name,
                           a->lo[i], a->hi[i]);
    if (a->kind == CR_WARP_ZOOM && (a->lo[0] <= -1 || a->lo[1] <= -1))
        return cr_fail(CREST_E_ARG, "%s: a zoom factor must be above -1", n->op->name);
    n->shape = *x;
    if (a->kind == CR_WARP_CROP && !(a->out_h >= 1 && a->out_w >= 1 && a->out_h <= x->d[1] &&
                                     a->out_w <= x->d[2]))
        return cr_fail(CREST_E_SHAPE, "%s: a %dx%d crop of %lldx%lld", n->op->name, a->out_h,
                       a->out_w, (long long)x->d[1], (long long)x->d[2]);
    if (a->kind == CR_WARP_CROP) {
        n->shape.d[1] = a->out_h;
        n->shape.d[2] = a->out_w;
    }
    return CREST_OK;
}

static int64_t warp_aux(const cr_node *n) { return 8 * n->shape.d[0]; }

static float uniform(cr_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)cr_rng_uniform(r);
}

/* One sample's map t[8] (see the top of the file). */
static void draw(const cr_warp_attr *a, cr_rng *r, float h, float w, float *t)
{
    float m[8] = { 1, 0, 0, 0, 1, 0, 0, 0 };
    switch (a->kind) {
    case CR_WARP_FLIP:
        if ((a->flags & CR_FLIP_HORIZONTAL) && cr_rng_uniform(r) < 0.5)
            m[0] = -1, m[2] = w - 1;
        if ((a->flags & CR_FLIP_VERTICAL) && cr_rng_uniform(r) < 0.5)
            m[4] = -1, m[5] = h - 1;
        break;
    case CR_WARP_ROTATE: {
        double th = 6.283185307179586 * uniform(r, a->lo[0], a->hi[0]), c = cos(th), s = sin(th);
        m[0] = (float)c, m[1] = (float)-s, m[3] = (float)s, m[4] = (float)c;
        m[2] = (float)(((w - 1) - (c * (w - 1) - s * (h - 1))) / 2);
        m[5] = (float)(((h - 1) - (s * (w - 1) + c * (h - 1))) / 2);
        break;
    }
    case CR_WARP_ZOOM: {
        float zy = 1 + uniform(r, a->lo[0], a->hi[0]);
        float zx = (a->flags & CR_ZOOM_KEEP_ASPECT) ? zy : 1 + uniform(r, a->lo[1], a->hi[1]);
        m[0] = zx, m[2] = (w - 1) / 2 * (1 - zx);
        m[4] = zy, m[5] = (h - 1) / 2 * (1 - zy);
        break;
    }
    case CR_WARP_CROP:       /* a whole-pixel window of the output's size */
        m[2] = (float)cr_rng_below(r, (uint64_t)(w - (float)a->out_w) + 1);
        m[5] = (float)cr_rng_below(r, (uint64_t)(h - (float)a->out_h) + 1);
        break;
    case CR_WARP_TRANSLATE:
        m[5] = -uniform(r, a->lo[0], a->hi[0]) * h;
        m[2] = -uniform(r, a->lo[1], a->hi[1]) * w;
        break;
    default:   /* CR_WARP_GIVEN */
        memcpy(m, a->given, sizeof m);
        break;
    }
    memcpy(t, m, sizeof m);
}

/* A coordinate mapped into [0, len - 1] by the fill mode (constant: as it is). */
static float map_coord(float c, int64_t len, int fill)
{
    float n = (float)len;
    switch (fill) {
    case CR_FILL_REFLECT:
        if (c < 0) {
            if (len <= 1)
                return 0;
            float sz2 = 2 * n;
            c += sz2 * truncf(-c / sz2);
            c = c < -n ? c + sz2 : -c - 1;
        } else if (c > n - 1) {
            if (len <= 1)
                return 0;
            float sz2 = 2 * n;
            c -= sz2 * truncf(c / sz2);
            if (c >= n)
                c = sz2 - c - 1;
        }
        break;
    case CR_FILL_WRAP:
        if (c < 0)
            c = len <= 1 ? 0 : c + n * (truncf(-c / (n - 1)) + 1);
        else if (c > n - 1)
            c = len <= 1 ? 0 : c - n * truncf(c / (n - 1));
        break;
    case CR_FILL_NEAREST:
        break;
    default:   /* CR_FILL_CONSTANT */
        return c;
    }
    return c < 0 ? 0 : c > n - 1 ? n - 1 : c;
}

/* Up to four taps (pixel offset within the sample, or -1 = fill) and their
 * weights for output pixel (x, y) of map t; returns how many. */
static int taps(const cr_warp_attr *a, const float *t, int64_t H, int64_t W, int64_t C,
                int64_t y, int64_t x, int64_t *at, float *wt)
{
    float k = t[6] * (float)x + t[7] * (float)y + 1;
    if (k == 0) {
        at[0] = -1, wt[0] = 1;
        return 1;
    }
    float fx = map_coord((t[0] * (float)x + t[1] * (float)y + t[2]) / k, W, a->fill);
    float fy = map_coord((t[3] * (float)x + t[4] * (float)y + t[5]) / k, H, a->fill);
    if (!(fx > -2 && fx < (float)W + 1 && fy > -2 && fy < (float)H + 1)) {
        at[0] = -1, wt[0] = 1;         /* far outside (or not a number): the fill */
        return 1;
    }
    if (!a->bilinear) {
        int64_t ry = (int64_t)roundf(fy), rx = (int64_t)roundf(fx);
        at[0] = ry >= 0 && ry < H && rx >= 0 && rx < W ? (ry * W + rx) * C : -1;
        wt[0] = 1;
        return 1;
    }
    float y0 = floorf(fy), x0 = floorf(fx);
    float wy[2] = { y0 + 1 - fy, fy - y0 }, wx[2] = { x0 + 1 - fx, fx - x0 };
    for (int i = 0; i < 4; i++) {
        int64_t yy = (int64_t)y0 + (i >> 1), xx = (int64_t)x0 + (i & 1);
        at[i] = yy >= 0 && yy < H && xx >= 0 && xx < W ? (yy * W + xx) * C : -1;
        wt[i] = wy[i >> 1] * wx[i & 1];
    }
    return 4;
}

typedef struct warp_job { const cr_node *n; } warp_job;

/* Output rows [lo, hi) of the batch (row r = sample r / H, line r % H). */
static void warp_rows(void *ctx, int64_t lo, int64_t hi)
{
    const cr_node *n = ((const warp_job *)ctx)->n;
    const cr_warp_attr *a = n->attr;
    int64_t H = n->shape.d[1], W = n->shape.d[2], C = n->shape.d[3];
    int64_t Hi = n->in[0]->shape.d[1], Wi = n->in[0]->shape.d[2];
    for (int64_t r = lo; r < hi; r++) {
        int64_t b = r / H, y = r % H;
        const float *t = n->aux + 8 * b, *x = n->in[0]->val + b * Hi * Wi * C;
        float *out = n->val + r * W * C;
        for (int64_t xo = 0; xo < W; xo++, out += C) {
            int64_t at[4];
            float wt[4];
            int k = taps(a, t, Hi, Wi, C, y, xo, at, wt);
            for (int64_t c = 0; c < C; c++) {
                float v = 0;
                for (int i = 0; i < k; i++)
                    v += wt[i] * (at[i] >= 0 ? x[at[i] + c] : a->fill_value);
                out[c] = v;
            }
        }
    }
}

static void warp_fwd(cr_node *n, const cr_ctx *c)
{
    const cr_warp_attr *a = n->attr;
    int64_t B = n->shape.d[0], H = n->shape.d[1], W = n->shape.d[2], C = n->shape.d[3];
    float Hi = (float)n->in[0]->shape.d[1], Wi = (float)n->in[0]->shape.d[2];
    for (int64_t b = 0; b < B; b++)   /* the draws first, in sample order: seeded */
        draw(a, c->rng, Hi, Wi, n->aux + 8 * b);
    warp_job j = { n };
    cr_parallel_rows(c, B * H, W * C * 8, warp_rows, &j);
}

/* Samples [lo, hi): dx of each sample gets dy through the same taps (one
 * sample's scatter touches only that sample's dx). */
static void warp_back_samples(void *ctx, int64_t lo, int64_t hi)
{
    const cr_node *n = ((const warp_job *)ctx)->n;
    const cr_warp_attr *a = n->attr;
    int64_t H = n->shape.d[1], W = n->shape.d[2], C = n->shape.d[3];
    int64_t Hi = n->in[0]->shape.d[1], Wi = n->in[0]->shape.d[2];
    for (int64_t b = lo; b < hi; b++) {
        const float *t = n->aux + 8 * b, *dy = n->grad + b * H * W * C;
        float *dx = n->in[0]->grad + b * Hi * Wi * C;
        for (int64_t y = 0; y < H; y++)
            for (int64_t xo = 0; xo < W; xo++, dy += C) {
                int64_t at[4];
                float wt[4];
                int k = taps(a, t, Hi, Wi, C, y, xo, at, wt);
                for (int i = 0; i < k; i++)
                    if (at[i] >= 0)
                        for (int64_t c = 0; c < C; c++)
                            dx[at[i] + c] += wt[i] * dy[c];
            }
    }
}

static void warp_bwd(cr_node *n, const cr_ctx *c)
{
    if (!n->in[0]->grad)
        return;
    warp_job j = { n };
    cr_parallel_rows(c, n->shape.d[0], cr_dims_count(&n->shape) / n->shape.d[0] * 8,
                     warp_back_samples, &j);
}

/* A rotation, a zoom and a shear-free projective map, bilinear, in
 * several fill modes (the gradient check replays the same draws). */
static cr_node *warp_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(4, 2, 5, 4, 2), -1, 1, 0);
    x = cr_op_warp(g, x, &(cr_warp_attr){ .kind = CR_WARP_ROTATE, .lo = { -0.1f, 0 },
                                           .hi = { 0.1f, 0 }, .fill = CR_FILL_REFLECT,
                                           .bilinear = true });
    x = cr_op_warp(g, x, &(cr_warp_attr){ .kind = CR_WARP_ZOOM, .lo = { -0.3f, -0.2f },
                                           .hi = { 0.3f, 0.1f }, .fill = CR_FILL_CONSTANT,
                                           .fill_value = 0.5f, .bilinear = true });
    x = cr_op_warp(g, x, &(cr_warp_attr){ .kind = CR_WARP_GIVEN, .fill = CR_FILL_WRAP,
                                           .bilinear = true,
                                           .given = { 0.9f, 0.13f, 0.4f, -0.11f, 1.1f, -0.3f,
                                                      0.01f, 0.02f } });
    return cr_op_warp(g, x, &(cr_warp_attr){ .kind = CR_WARP_CROP, .out_h = 3, .out_w = 2 });
}

const cr_op_def cr_op_warp_def = { .name = "warp", .arity = 1, .shape = warp_shape,
    .forward = warp_fwd, .backward = warp_bwd, .aux_size = warp_aux, .example = warp_ex,
    .gc_tol = 5e-3 };

cr_node *cr_op_warp(cr_graph *g, cr_node *x, const cr_warp_attr *a)
{
    return cr_op(g, &cr_op_warp_def, &x, 1, a, sizeof *a);
}
