/* resize.c - image resizing as Keras' Resizing does it (tf.image.resize:
 * half-pixel centers, no antialiasing), NHWC.
 *
 * bilinear: source coordinate s = (o + 0.5) * in / out - 0.5; rows
 *   floor(s) and ceil(s) clamped to the image, weight s - floor(s);
 * nearest: source index min(floor((o + 0.5) * in / out), in - 1).
 * Backward scatters each output's gradient back with the same weights.
 */
#include "../internal.h"

#include <math.h>

typedef struct rs_attr { int oh, ow; bool nearest; } rs_attr;

static int rs_shape(cr_node *n)
{
    const rs_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    if (x->ndim != 4 || a->oh < 1 || a->ow < 1 || x->d[1] < 1 || x->d[2] < 1)
        return cr_fail(CREST_E_SHAPE, "resize: needs [batch, h, w, c] and a positive size, "
                       "got rank %d to %dx%d", x->ndim, a->oh, a->ow);
    n->shape = (cr_dims){ .ndim = 4, .d = { x->d[0], a->oh, a->ow, x->d[3] } };
    return CREST_OK;
}

/* The two source indices and the weight of the second, per output index. */
typedef struct tap { int64_t lo, hi; float w; } tap;

static tap tap_of(int64_t o, int64_t in, int64_t out, bool nearest)
{
    double scale = (double)in / (double)out;
    if (nearest) {
        int64_t i = (int64_t)floor((o + 0.5) * scale);
        i = i < 0 ? 0 : i > in - 1 ? in - 1 : i;
        return (tap){ i, i, 0 };
    }
    double s = (o + 0.5) * scale - 0.5, f = floor(s);
    int64_t lo = (int64_t)f, hi = (int64_t)ceil(s);
    lo = lo < 0 ? 0 : lo;
    hi = hi > in - 1 ? in - 1 : hi;
    return (tap){ lo, hi, (float)(s - f) };
}

/* fwd: y = interpolation of x; bwd: dx += scattered dy */
static void rs_run(cr_node *n, bool backward)
{
    const rs_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    int64_t B = x->d[0], H = x->d[1], W = x->d[2], C = x->d[3], OH = a->oh, OW = a->ow;
    const float *xv = n->in[0]->val;
    float *dx = n->in[0]->grad;
    for (int64_t b = 0; b < B; b++)
        for (int64_t oy = 0; oy < OH; oy++) {
            tap ty = tap_of(oy, H, OH, a->nearest);
            for (int64_t ox = 0; ox < OW; ox++) {
                tap tx = tap_of(ox, W, OW, a->nearest);
                int64_t p00 = ((b * H + ty.lo) * W + tx.lo) * C, p01 = ((b * H + ty.lo) * W + tx.hi) * C;
                int64_t p10 = ((b * H + ty.hi) * W + tx.lo) * C, p11 = ((b * H + ty.hi) * W + tx.hi) * C;
                int64_t po = ((b * OH + oy) * OW + ox) * C;
                float w00 = (1 - ty.w) * (1 - tx.w), w01 = (1 - ty.w) * tx.w;
                float w10 = ty.w * (1 - tx.w), w11 = ty.w * tx.w;
                for (int64_t k = 0; k < C; k++) {
                    if (backward) {
                        float g = n->grad[po + k];
                        dx[p00 + k] += g * w00;
                        dx[p01 + k] += g * w01;
                        dx[p10 + k] += g * w10;
                        dx[p11 + k] += g * w11;
                    } else if (a->nearest) {
                        n->val[po + k] = xv[p00 + k];
                    } else {   /* as TensorFlow: lerp along x, then along y */
                        float top = xv[p00 + k] + (xv[p01 + k] - xv[p00 + k]) * tx.w;
                        float bot = xv[p10 + k] + (xv[p11 + k] - xv[p10 + k]) * tx.w;
                        n->val[po + k] = top + (bot - top) * ty.w;
                    }
                }
            }
        }
}

static void rs_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    rs_run(n, false);
}

static void rs_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    if (n->in[0]->grad)
        rs_run(n, true);
}

static cr_node *rs_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(4, 1, 3, 4, 2), -1, 1, 0);
    cr_node *up = cr_op_resize(g, x, 5, 3, false);       /* up in h, down in w */
    return cr_op_resize(g, up, 4, 7, true);
}

const cr_op_def cr_op_resize_def = { .name = "resize", .arity = 1, .shape = rs_shape,
    .forward = rs_fwd, .backward = rs_bwd, .example = rs_ex, .gc_tol = 2e-3 };

bool cr_resize_parts(const cr_node *n, bool *nearest)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_resize_def)
        return false;
    *nearest = ((const rs_attr *)n->attr)->nearest;
    return true;
}

cr_node *cr_op_resize(cr_graph *g, cr_node *x, int oh, int ow, bool nearest)
{
    return cr_op(g, &cr_op_resize_def, &x, 1, &(rs_attr){ oh, ow, nearest }, sizeof(rs_attr));
}
