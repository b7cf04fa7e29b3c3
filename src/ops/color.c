/* color.c - Keras' photometric augmentation as one op: each sample of an
 * NHWC batch gets its own random factor from the graph's RNG each forward
 * pass, and the result is clipped to the value range [lo, hi] (Keras'
 * value_range, default [0, 255]):
 *   contrast    f uniform in [1 - lower, 1 + upper]; per channel c, with m
 *               the sample's mean of channel c: y = (x - m) f + m
 *   brightness  d uniform in [lower, upper] * (hi - lo): y = x + d
 * Backward: where y was not clipped, brightness passes dy; contrast gives
 * dx_j = f dy_j + (1 - f) / HW * sum_i dy_i over the channel's unclipped i
 * (the mean depends on every x of the channel). The factors are kept in aux.
 */
#include "../internal.h"

#include <math.h>

#define SUMS 64                        /* channels summed at a time in backward */

static int color_shape(cr_node *n)
{
    const cr_color_attr *a = n->attr;
    if (n->in[0]->shape.ndim != 4)
        return cr_fail(CREST_E_SHAPE, "%s: needs [batch, height, width, channels], got rank %d",
                       n->op->name, n->in[0]->shape.ndim);
    if (!(isfinite(a->lower) && isfinite(a->upper) && isfinite(a->lo) && isfinite(a->hi) &&
          a->lo < a->hi))
        return cr_fail(CREST_E_ARG, "%s: bad factors or value range", n->op->name);
    n->shape = n->in[0]->shape;
    return CREST_OK;
}

/* a factor per sample, then (contrast) a mean per sample and channel */
static int64_t color_aux(const cr_node *n) { return n->shape.d[0] * (1 + n->shape.d[3]); }

/* y before clipping, for element i (pixel-major) of one sample */
static float raw(const cr_color_attr *a, float f, const float *mean, int64_t C, const float *x,
                 int64_t i)
{
    return a->brightness ? x[i] + f : (x[i] - mean[i % C]) * f + mean[i % C];
}

static void color_fwd(cr_node *n, const cr_ctx *c)
{
    const cr_color_attr *a = n->attr;
    int64_t B = n->shape.d[0], C = n->shape.d[3], P = n->shape.d[1] * n->shape.d[2];
    for (int64_t b = 0; b < B; b++) {
        float u = (float)cr_rng_uniform(c->rng);
        float *f = n->aux + b, *mean = n->aux + B + b * C;
        *f = a->brightness ? (a->lower + (a->upper - a->lower) * u) * (a->hi - a->lo)
                           : 1 - a->lower + (a->upper + a->lower) * u;
        const float *x = n->in[0]->val + b * P * C;
        for (int64_t k = 0; k < C; k++) {
            double s = 0;
            for (int64_t p = 0; p < P; p++)
                s += x[p * C + k];
            mean[k] = (float)(s / (double)(P ? P : 1));
        }
        float *y = n->val + b * P * C;
        for (int64_t i = 0; i < P * C; i++) {
            float v = raw(a, *f, mean, C, x, i);
            y[i] = v < a->lo ? a->lo : v > a->hi ? a->hi : v;
        }
    }
}

static void color_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const cr_color_attr *a = n->attr;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t B = n->shape.d[0], C = n->shape.d[3], P = n->shape.d[1] * n->shape.d[2];
    double sums[SUMS];
    for (int64_t b = 0; b < B; b++) {
        float f = n->aux[b];
        const float *mean = n->aux + B + b * C, *x = n->in[0]->val + b * P * C;
        const float *dy = n->grad + b * P * C;
        float *d = dx + b * P * C;
        for (int64_t k0 = 0; k0 < C; k0 += SUMS) {
            int64_t kn = C - k0 < SUMS ? C - k0 : SUMS;
            memset(sums, 0, sizeof sums);
            for (int64_t p = 0; p < P; p++)
                for (int64_t k = 0; k < kn; k++) {
                    int64_t i = p * C + k0 + k;
                    float v = raw(a, f, mean, C, x, i);
                    if (v >= a->lo && v <= a->hi) {
                        d[i] += (a->brightness ? 1.0f : f) * dy[i];
                        sums[k] += dy[i];
                    }
                }
            if (a->brightness)
                continue;
            for (int64_t p = 0; p < P; p++)
                for (int64_t k = 0; k < kn; k++)
                    d[p * C + k0 + k] += (float)((1.0 - f) / (double)P * sums[k]);
        }
    }
}

/* both kinds, value ranges wide enough that little is clipped (the
 * gradient check replays the same draws) */
static cr_node *color_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(4, 2, 3, 4, 3), -1, 1, 0);
    x = cr_op_color(g, x, &(cr_color_attr){ .lower = 0.4f, .upper = 0.6f, .lo = -3, .hi = 3 });
    return cr_op_color(g, x, &(cr_color_attr){ .brightness = true, .lower = -0.1f,
                                                .upper = 0.2f, .lo = -5, .hi = 5 });
}

const cr_op_def cr_op_color_def = { .name = "color", .arity = 1, .shape = color_shape,
    .forward = color_fwd, .backward = color_bwd, .aux_size = color_aux, .example = color_ex,
    .gc_tol = 5e-3 };

cr_node *cr_op_color(cr_graph *g, cr_node *x, const cr_color_attr *a)
{
    return cr_op(g, &cr_op_color_def, &x, 1, a, sizeof *a);
}
