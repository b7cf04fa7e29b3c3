/* math.c - elementwise math for expressions (custom layer classes and
 * crest_expr), named as Keras' ops and TF.js: abs sign sqrt rsqrt square
 * log reciprocal pow clip. Each is a pointwise y = f(x) with f'(x) from x
 * and y; pow and clip carry numbers (the exponent; the bounds). Values
 * outside a function's domain give what TensorFlow gives: NaN for the root
 * or log of a negative number, -inf for log(0), inf for 1/0; pow of a
 * negative base is exact for a whole exponent (pow(-2, 3) = -8) and NaN for
 * any other (C's powf, TF's pow). Gradients as TensorFlow's: abs' and
 * sign's are 0 at 0 (abs: sign(x)); clip passes the gradient where
 * lo <= x <= hi. The reductions max / min over an axis sit with sum / mean
 * in shape.c; exp is the activation "exponential" (activation.c); the
 * two-tensor maximum / minimum are minmax.c's. */
#include "../internal.h"

#include <math.h>

typedef struct { int kind; float a, b; } math_attr;   /* pow: a = k; clip: [a, b] */

static float f_of(const math_attr *m, float x)
{
    switch (m->kind) {
    case CR_MATH_ABS: return fabsf(x);
    case CR_MATH_SIGN: return (float)((x > 0) - (x < 0));
    case CR_MATH_SQRT: return sqrtf(x);
    case CR_MATH_RSQRT: return 1.0f / sqrtf(x);
    case CR_MATH_SQUARE: return x * x;
    case CR_MATH_LOG: return logf(x);
    case CR_MATH_RECIPROCAL: return 1.0f / x;
    case CR_MATH_POW: return powf(x, m->a);
    default: return x < m->a ? m->a : x > m->b ? m->b : x;   /* CR_MATH_CLIP */
    }
}

/* f'(x), given x and y = f(x) */
static float df_of(const math_attr *m, float x, float y)
{
    switch (m->kind) {
    case CR_MATH_ABS: return (float)((x > 0) - (x < 0));
    case CR_MATH_SIGN: return 0;
    case CR_MATH_SQRT: return 0.5f / y;
    case CR_MATH_RSQRT: return -0.5f * y * y * y;
    case CR_MATH_SQUARE: return 2 * x;
    case CR_MATH_LOG: return 1.0f / x;
    case CR_MATH_RECIPROCAL: return -y * y;
    case CR_MATH_POW: return m->a == 0 ? 0 : m->a * powf(x, m->a - 1);
    default: return x >= m->a && x <= m->b ? 1.0f : 0.0f;   /* CR_MATH_CLIP */
    }
}

static int math_shape(cr_node *n)
{
    const math_attr *m = n->attr;
    if (m->kind == CR_MATH_CLIP && !(m->a <= m->b))
        return cr_fail(CREST_E_ARG, "clip: the lower bound %g is above the upper bound %g",
                       m->a, m->b);
    n->shape = n->in[0]->shape;
    return CREST_OK;
}

static void math_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const math_attr *m = n->attr;
    const float *x = n->in[0]->val;
    int64_t cnt = cr_dims_count(&n->shape);
    for (int64_t i = 0; i < cnt; i++)
        n->val[i] = f_of(m, x[i]);
}

static void math_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const math_attr *m = n->attr;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    const float *x = n->in[0]->val;
    int64_t cnt = cr_dims_count(&n->shape);
    for (int64_t i = 0; i < cnt; i++)
        dx[i] += n->grad[i] * df_of(m, x[i], n->val[i]);
}

/* ---- gradient-check examples: inputs inside the domain, off the kinks -- */

static cr_node *ex_signed(cr_graph *g, cr_rng *r, int kind)
{
    cr_node *x = cr_example_var(g, r, crest_shape(2, 3, 5), -2, 2, 0.1f);
    return cr_op_math(g, x, kind, 0, 0);
}

static cr_node *ex_positive(cr_graph *g, cr_rng *r, int kind)
{
    cr_node *x = cr_example_var(g, r, crest_shape(2, 3, 5), 0.5f, 2, 0);
    return cr_op_math(g, x, kind, 0, 0);
}

static cr_node *abs_ex(cr_graph *g, cr_rng *r) { return ex_signed(g, r, CR_MATH_ABS); }
static cr_node *sign_ex(cr_graph *g, cr_rng *r) { return ex_signed(g, r, CR_MATH_SIGN); }
static cr_node *square_ex(cr_graph *g, cr_rng *r) { return ex_signed(g, r, CR_MATH_SQUARE); }
static cr_node *sqrt_ex(cr_graph *g, cr_rng *r) { return ex_positive(g, r, CR_MATH_SQRT); }
static cr_node *rsqrt_ex(cr_graph *g, cr_rng *r) { return ex_positive(g, r, CR_MATH_RSQRT); }
static cr_node *log_ex(cr_graph *g, cr_rng *r) { return ex_positive(g, r, CR_MATH_LOG); }
static cr_node *reciprocal_ex(cr_graph *g, cr_rng *r) { return ex_signed(g, r, CR_MATH_RECIPROCAL); }

/* a negative base with a whole exponent, and a positive one with a fraction */
static cr_node *pow_ex(cr_graph *g, cr_rng *r)
{
    cr_node *a = cr_op_math(g, cr_example_var(g, r, crest_shape(2, 3, 5), -1.5f, 1.5f, 0.1f),
                            CR_MATH_POW, 3, 0);
    cr_node *b = cr_op_math(g, cr_example_var(g, r, crest_shape(2, 3, 5), 0.5f, 2, 0), CR_MATH_POW,
                            -1.5f, 0);
    return crest_op_add(g, a, b);
}

/* values within 0.05 of a bound are moved 0.1 inside */
static cr_node *clip_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(2, 4, 6), -1, 1, 0);
    for (int64_t i = 0; x && i < 24; i++) {
        float *v = &x->w->val[i];
        if (fabsf(*v - 0.5f) < 0.05f)
            *v = 0.4f;
        if (fabsf(*v + 0.25f) < 0.05f)
            *v = -0.15f;
    }
    return cr_op_math(g, x, CR_MATH_CLIP, -0.25f, 0.5f);
}

#define MATH_OP(nm, tol)                                                               \
    const cr_op_def cr_op_##nm##_def = { .name = #nm, .arity = 1, .shape = math_shape, \
        .forward = math_fwd, .backward = math_bwd, .example = nm##_ex, .gc_tol = tol };

MATH_OP(abs, 2e-3)
MATH_OP(sign, 2e-3)
MATH_OP(sqrt, 2e-3)
MATH_OP(rsqrt, 2e-3)
MATH_OP(square, 2e-3)
MATH_OP(log, 2e-3)
MATH_OP(reciprocal, 5e-3)
MATH_OP(pow, 5e-3)
MATH_OP(clip, 2e-3)

static const cr_op_def *const math_defs[] = {
    [CR_MATH_ABS] = &cr_op_abs_def,       [CR_MATH_SIGN] = &cr_op_sign_def,
    [CR_MATH_SQRT] = &cr_op_sqrt_def,     [CR_MATH_RSQRT] = &cr_op_rsqrt_def,
    [CR_MATH_SQUARE] = &cr_op_square_def, [CR_MATH_LOG] = &cr_op_log_def,
    [CR_MATH_RECIPROCAL] = &cr_op_reciprocal_def, [CR_MATH_POW] = &cr_op_pow_def,
    [CR_MATH_CLIP] = &cr_op_clip_def,
};

int cr_math_kind(const char *name)
{
    for (int i = 0; i < (int)(sizeof math_defs / sizeof math_defs[0]); i++)
        if (strcmp(name, math_defs[i]->name) == 0)
            return i;
    return -1;
}

cr_node *cr_op_math(cr_graph *g, cr_node *x, int kind, float a, float b)
{
    if (kind < 0 || kind >= (int)(sizeof math_defs / sizeof math_defs[0]))
        return cr_graph_fail(g, CREST_E_ARG, "math function %d is unknown", kind);
    return cr_op(g, math_defs[kind], &x, 1, &(math_attr){ kind, a, b }, sizeof(math_attr));
}
