/* noise.c - Keras' training-time noise layers as one op: y = x * m + a per
 * element, m and a drawn from the graph's RNG each forward pass (m kept in
 * aux for backward: dx = dy * m). At inference the layers add no op.
 *   spatial dropout   m = keep / (1 - rate), one draw per (sample, channel)
 *                     (Keras' noise_shape [batch, 1, ..., 1, channels]), a = 0
 *   gaussian noise    m = 1, a = stddev * N(0, 1)
 *   gaussian dropout  m = 1 + sqrt(rate / (1 - rate)) * N(0, 1), a = 0
 *   alpha dropout     keep with probability 1 - rate; dropped units are set
 *                     to alpha' = -selu_alpha * selu_scale, then the affine
 *                     A y + B restores mean and variance: m = A keep,
 *                     a = A alpha' (1 - keep) + B with
 *                     A = ((1 - rate)(1 + rate alpha'^2))^-1/2,
 *                     B = -A alpha' rate (Keras' AlphaDropout)
 */
#include "../internal.h"

#include <math.h>

typedef struct noise_attr { int kind; float p; } noise_attr;

static int noise_shape(cr_node *n)
{
    const noise_attr *a = n->attr;
    bool rate = a->kind != CR_NOISE_GAUSSIAN;
    if (rate ? !(a->p >= 0 && a->p < 1) : !(a->p >= 0 && isfinite(a->p)))
        return cr_fail(CREST_E_ARG, "%s: %s %g is out of range", n->op->name,
                       rate ? "rate" : "stddev", a->p);
    if (a->kind == CR_NOISE_SPATIAL && n->in[0]->shape.ndim < 3)
        return cr_fail(CREST_E_SHAPE, "%s: spatial dropout needs [batch, ..., channels]",
                       n->op->name);
    n->shape = n->in[0]->shape;
    return CREST_OK;
}

static int64_t noise_aux(const cr_node *n) { return cr_dims_count(&n->shape); }

static void noise_fwd(cr_node *n, const cr_ctx *c)
{
    const noise_attr *a = n->attr;
    int64_t cnt = cr_dims_count(&n->shape);
    const float *x = n->in[0]->val;
    float *m = n->aux, p = a->p;
    switch (a->kind) {
    case CR_NOISE_SPATIAL: {
        int64_t C = n->shape.d[n->shape.ndim - 1], B = n->shape.d[0];
        int64_t per = B ? cnt / B : 0;
        float keep = 1.0f / (1.0f - p);
        for (int64_t b = 0; b < B; b++) {
            float *mb = m + b * per;
            for (int64_t k = 0; k < C; k++)      /* the sample's channel masks first */
                mb[k] = cr_rng_uniform(c->rng) < p ? 0.0f : keep;
            for (int64_t i = C; i < per; i++)
                mb[i] = mb[i % C];
        }
        for (int64_t i = 0; i < cnt; i++)
            n->val[i] = x[i] * m[i];
        break;
    }
    case CR_NOISE_GAUSSIAN:
        for (int64_t i = 0; i < cnt; i++) {
            m[i] = 1.0f;
            n->val[i] = x[i] + p * (float)cr_rng_normal(c->rng);
        }
        break;
    case CR_NOISE_GAUSSIAN_DROPOUT: {
        float sd = sqrtf(p / (1.0f - p));
        for (int64_t i = 0; i < cnt; i++) {
            m[i] = 1.0f + sd * (float)cr_rng_normal(c->rng);
            n->val[i] = x[i] * m[i];
        }
        break;
    }
    default: {   /* CR_NOISE_ALPHA */
        const double alpha = 1.6732632423543772, scale = 1.0507009873554805;
        double ap = -alpha * scale;
        float A = (float)pow((1.0 - p) * (1.0 + p * ap * ap), -0.5);
        float B = (float)(-A * ap * p);
        for (int64_t i = 0; i < cnt; i++) {
            bool keep = !(cr_rng_uniform(c->rng) < p);
            m[i] = keep ? A : 0.0f;
            n->val[i] = keep ? A * x[i] + B : A * (float)ap + B;
        }
        break;
    }
    }
}

static void noise_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    cr_grad_masked(n, n->aux);
}

/* every kind in a chain (the gradient check replays the same draws) */
static cr_node *noise_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(4, 2, 3, 2, 4), -1, 1, 0);
    x = cr_op_noise(g, x, CR_NOISE_SPATIAL, 0.4f);
    x = cr_op_noise(g, x, CR_NOISE_GAUSSIAN, 0.5f);
    x = cr_op_noise(g, x, CR_NOISE_GAUSSIAN_DROPOUT, 0.3f);
    return cr_op_noise(g, x, CR_NOISE_ALPHA, 0.3f);
}

const cr_op_def cr_op_noise_def = { .name = "noise", .arity = 1, .shape = noise_shape,
    .forward = noise_fwd, .backward = noise_bwd, .aux_size = noise_aux, .example = noise_ex,
    .gc_tol = 2e-3 };

cr_node *cr_op_noise(cr_graph *g, cr_node *x, int kind, float p)
{
    return cr_op(g, &cr_op_noise_def, &x, 1, &(noise_attr){ kind, p }, sizeof(noise_attr));
}
