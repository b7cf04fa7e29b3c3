/* activation.c - every activation, one row each in cr_activations[], and
 * the Keras ReLU layer's op (relu_ex: max_value, negative_slope, threshold).
 *
 * A row holds the op (its name is the Keras / TF.js name), the formula of a
 * pointwise activation (y = f(x), and f'(x) from x and y) or the op's own
 * forward / backward for the ones over the last axis (softmax, log_softmax),
 * a second Keras name it is read under, the kernels' fused epilogue that
 * computes it (CR_ACT_NONE: none can), and a kink besides 0 that the
 * gradient check keeps its inputs away from. Everything else looks an
 * activation up here: crest_act_name / crest_act_parse (Keras configs),
 * crest_op_activate (Dense, Conv2D, Activation, expressions, lambdas), the
 * conv epilogues and the inference fusions (src/ops/window.c, src/fuse.c),
 * the losses that use logits (src/ops/loss.c), and tests/test_gradcheck.c
 * and tests/test_registry.c, which walk every row.
 *
 * Adding an activation: its formula below, its row, and its CREST_ name in
 * the crest_act enum (include/crest.h; the row's index, checked at compile
 * time through the array's size and by the tests).
 */
#include "../internal.h"

#include <math.h>

static int same_shape(cr_node *n)
{
    n->shape = n->in[0]->shape;
    return CREST_OK;
}

/* ---- pointwise formulas: f(x), and f'(x) given x and y = f(x) ---------- */

/* relu: max(x, 0) */
static float relu_f(float x) { return x > 0 ? x : 0; }
static float relu_df(float x, float y) { (void)y; return x > 0 ? 1.0f : 0.0f; }
/* relu6: min(max(x, 0), 6) */
static float relu6_f(float x) { return x > 0 ? (x < 6 ? x : 6) : 0; }
static float relu6_df(float x, float y) { (void)y; return x > 0 && x < 6 ? 1.0f : 0.0f; }
/* sigmoid: 1 / (1 + e^-x) */
static float sigmoid_f(float x)
{
    if (x >= 0)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
static float sigmoid_df(float x, float y) { (void)x; return y * (1.0f - y); }
/* tanh: (e^x - e^-x) / (e^x + e^-x) */
static float tanh_f(float x) { return tanhf(x); }
static float tanh_df(float x, float y) { (void)x; return 1.0f - y * y; }
/* swish (Keras 3 also calls it silu): x * sigmoid(x) */
static float swish_f(float x) { return x * sigmoid_f(x); }
static float swish_df(float x, float y)
{
    (void)y;
    float s = sigmoid_f(x);
    return s + x * s * (1.0f - s);
}
/* hard_sigmoid as Keras 2 and TF.js define it: clip(0.2 x + 0.5, 0, 1)
 * (Keras 3's is hard_sigmoid_keras3 below) */
static float hard_sigmoid_f(float x)
{
    float v = 0.2f * x + 0.5f;
    return v < 0 ? 0 : v > 1 ? 1 : v;
}
static float hard_sigmoid_df(float x, float y)
{
    (void)y;
    return x > -2.5f && x < 2.5f ? 0.2f : 0.0f;
}
/* hard_sigmoid as Keras 3 defines it: relu6(x + 3) / 6 = clip(x / 6 + 0.5,
 * 0, 1); "hard_sigmoid" in a Keras 3 file (src/layers/config.c) */
static float hard_sigmoid3_f(float x)
{
    float v = x / 6.0f + 0.5f;
    return v < 0 ? 0 : v > 1 ? 1 : v;
}
static float hard_sigmoid3_df(float x, float y)
{
    (void)y;
    return x > -3.0f && x < 3.0f ? 1.0f / 6.0f : 0.0f;
}
/* elu (alpha 1, the default of Keras' activation and TF.js):
 * x > 0 ? x : e^x - 1 */
static float elu_f(float x) { return x > 0 ? x : expm1f(x); }
static float elu_df(float x, float y) { return x > 0 ? 1.0f : y + 1.0f; }
/* selu: scale * (x > 0 ? x : alpha * (e^x - 1)), alpha = 1.6732632423543772,
 * scale = 1.0507009873554805 (Keras, TF.js) */
#define SELU_ALPHA 1.6732632423543772f
#define SELU_SCALE 1.0507009873554805f
static float selu_f(float x) { return SELU_SCALE * (x > 0 ? x : SELU_ALPHA * expm1f(x)); }
static float selu_df(float x, float y)
{
    return x > 0 ? SELU_SCALE : y + SELU_SCALE * SELU_ALPHA;
}
/* softplus: log(1 + e^x), computed as max(x, 0) + log(1 + e^-|x|);
 * f' = sigmoid(x) */
static float softplus_f(float x) { return (x > 0 ? x : 0) + log1pf(expf(-fabsf(x))); }
static float softplus_df(float x, float y) { (void)y; return sigmoid_f(x); }
/* softsign: x / (1 + |x|); f' = 1 / (1 + |x|)^2 */
static float softsign_f(float x) { return x / (1.0f + fabsf(x)); }
static float softsign_df(float x, float y)
{
    (void)y;
    float d = 1.0f + fabsf(x);
    return 1.0f / (d * d);
}
/* gelu, exact (Keras' default approximate=False; TF.js 'gelu'):
 * 0.5 x (1 + erf(x / sqrt 2)); f' = 0.5 (1 + erf(x / sqrt 2)) + x phi(x)
 * with phi the standard normal density */
#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f
static float gelu_f(float x) { return 0.5f * x * (1.0f + erff(x * INV_SQRT2)); }
static float gelu_df(float x, float y)
{
    (void)y;
    return 0.5f * (1.0f + erff(x * INV_SQRT2)) + x * INV_SQRT_2PI * expf(-0.5f * x * x);
}
/* exponential: e^x */
static float exponential_f(float x) { return expf(x); }
static float exponential_df(float x, float y) { (void)x; return y; }
/* leaky_relu (Keras 3's activation, negative_slope 0.2; the LeakyReLU layer,
 * alpha 0.3 by default, is relu_ex below): x > 0 ? x : 0.2 x */
static float leaky_relu_f(float x) { return x > 0 ? x : 0.2f * x; }
static float leaky_relu_df(float x, float y) { (void)y; return x > 0 ? 1.0f : 0.2f; }
/* mish (TF.js, Keras 3): x * tanh(softplus(x));
 * f' = tanh(sp) + x * (1 - tanh(sp)^2) * sigmoid(x) */
static float mish_f(float x) { return x * tanhf(softplus_f(x)); }
static float mish_df(float x, float y)
{
    (void)y;
    float t = tanhf(softplus_f(x));
    return t + x * (1.0f - t * t) * sigmoid_f(x);
}

/* hard_silu (Keras 3; "hard_swish"): x * relu6(x + 3) / 6, Keras 3's own
 * hard_sigmoid times x (not Keras 2's 0.2 x + 0.5); f' = (2x + 3) / 6 on
 * (-3, 3), 0 below, 1 above */
static float hard_silu_f(float x) { return x <= -3 ? 0 : x >= 3 ? x : x * (x + 3) / 6.0f; }
static float hard_silu_df(float x, float y)
{
    (void)y;
    return x <= -3 ? 0.0f : x >= 3 ? 1.0f : (2.0f * x + 3.0f) / 6.0f;
}

/* ---- the pointwise op: forward and backward from the node's row -------- */

typedef struct act_job { const cr_act_def *a; const float *x, *y, *dy; float *out; } act_job;

/* relu and relu6, the backbones' activations, inline so the loops
 * vectorize (the same formulas as relu_f / relu6_f and their df, so the
 * same bits); any other row through its function pointers. */
static void act_rows_fwd(void *ctx, int64_t lo, int64_t hi)
{
    act_job *j = ctx;
    const float *x = j->x;
    float *y = j->out;
    switch (j->a->kernel) {
    case CR_ACT_RELU:
        for (int64_t i = lo; i < hi; i++)
            y[i] = x[i] > 0 ? x[i] : 0;
        break;
    case CR_ACT_RELU6:
        for (int64_t i = lo; i < hi; i++)
            y[i] = x[i] > 0 ? (x[i] < 6 ? x[i] : 6) : 0;
        break;
    default:
        for (int64_t i = lo; i < hi; i++)
            y[i] = j->a->f(x[i]);
    }
}

static void act_rows_bwd(void *ctx, int64_t lo, int64_t hi)
{
    act_job *j = ctx;
    const float *x = j->x, *dy = j->dy;
    float *dx = j->out;
    switch (j->a->kernel) {
    case CR_ACT_RELU:
        for (int64_t i = lo; i < hi; i++)
            dx[i] += dy[i] * (float)(x[i] > 0);
        break;
    case CR_ACT_RELU6:
        for (int64_t i = lo; i < hi; i++)
            dx[i] += dy[i] * (float)((x[i] > 0) & (x[i] < 6));
        break;
    default:
        for (int64_t i = lo; i < hi; i++)
            dx[i] += dy[i] * j->a->df(x[i], j->y[i]);
    }
}

/* The op is the first member of its row. */
static const cr_act_def *row_of(const cr_node *n) { return (const cr_act_def *)n->op; }

static void act_fwd(cr_node *n, const cr_ctx *c)
{
    act_job j = { row_of(n), n->in[0]->val, NULL, NULL, n->val };
    cr_parallel_rows(c, cr_dims_count(&n->shape), 8, act_rows_fwd, &j);
}

static void act_bwd(cr_node *n, const cr_ctx *c)
{
    if (!n->in[0]->grad)
        return;
    act_job j = { row_of(n), n->in[0]->val, n->val, n->grad, n->in[0]->grad };
    cr_parallel_rows(c, cr_dims_count(&n->shape), 8, act_rows_bwd, &j);
}

/* ---- softmax and log-softmax over the last axis ------------------------ */

static int last_axis_shape(cr_node *n)
{
    if (n->in[0]->shape.ndim < 1)
        return cr_fail(CREST_E_SHAPE, "%s: needs at least one axis", n->op->name);
    n->shape = n->in[0]->shape;
    return CREST_OK;
}

typedef struct sm_job { const float *x, *y, *dy; float *out; int64_t C; bool log; } sm_job;

static void softmax_rows(void *ctx, int64_t lo, int64_t hi)
{
    sm_job *j = ctx;
    int64_t C = j->C;
    for (int64_t r = lo; r < hi; r++) {
        const float *x = j->x + r * C;
        float *y = j->out + r * C;
        float mx = x[0];
        for (int64_t k = 1; k < C; k++)
            mx = x[k] > mx ? x[k] : mx;
        double s = 0;
        for (int64_t k = 0; k < C; k++)
            s += exp((double)x[k] - mx);
        if (j->log) {
            float lse = (float)log(s) + mx;
            for (int64_t k = 0; k < C; k++)
                y[k] = x[k] - lse;
        } else {
            for (int64_t k = 0; k < C; k++)
                y[k] = (float)(exp((double)x[k] - mx) / s);
        }
    }
}

static void softmax_rows_bwd(void *ctx, int64_t lo, int64_t hi)
{
    sm_job *j = ctx;
    int64_t C = j->C;
    for (int64_t r = lo; r < hi; r++) {
        const float *y = j->y + r * C, *dy = j->dy + r * C;
        float *dx = j->out + r * C;
        double s = 0;
        if (j->log) {              /* dx = dy - softmax * sum(dy) */
            for (int64_t k = 0; k < C; k++)
                s += dy[k];
            for (int64_t k = 0; k < C; k++)
                dx[k] += dy[k] - expf(y[k]) * (float)s;
        } else {                   /* dx = y * (dy - sum(dy * y)) */
            for (int64_t k = 0; k < C; k++)
                s += (double)dy[k] * y[k];
            for (int64_t k = 0; k < C; k++)
                dx[k] += y[k] * (dy[k] - (float)s);
        }
    }
}

static void sm_fwd_common(cr_node *n, const cr_ctx *c, bool log)
{
    int64_t C = n->shape.d[n->shape.ndim - 1];
    sm_job j = { .x = n->in[0]->val, .out = n->val, .C = C, .log = log };
    cr_parallel_rows(c, cr_dims_count(&n->shape) / C, C * 4, softmax_rows, &j);
}

static void sm_bwd_common(cr_node *n, const cr_ctx *c, bool log)
{
    if (!n->in[0]->grad)
        return;
    int64_t C = n->shape.d[n->shape.ndim - 1];
    sm_job j = { .y = n->val, .dy = n->grad, .out = n->in[0]->grad, .C = C, .log = log };
    cr_parallel_rows(c, cr_dims_count(&n->shape) / C, C * 4, softmax_rows_bwd, &j);
}

static void softmax_fwd(cr_node *n, const cr_ctx *c) { sm_fwd_common(n, c, false); }
static void softmax_bwd(cr_node *n, const cr_ctx *c) { sm_bwd_common(n, c, false); }
static void log_softmax_fwd(cr_node *n, const cr_ctx *c) { sm_fwd_common(n, c, true); }
static void log_softmax_bwd(cr_node *n, const cr_ctx *c) { sm_bwd_common(n, c, true); }

/* ---- the table --------------------------------------------------------- */

/* linear: y = x, no op at all. */
#define IDENTITY(ID, NAME) [ID] = { .op = { .name = NAME, .gc_tol = 2e-3 }, .id = ID }
/* Pointwise: FN_f and FN_df above. */
#define POINTWISE(ID, NAME, ALIAS, FN, FUSED, KINK)                                          \
    [ID] = { .op = { .name = NAME, .arity = 1, .shape = same_shape, .forward = act_fwd,       \
                     .backward = act_bwd, .gc_tol = 2e-3 },                                   \
             .id = ID, .alias = ALIAS, .f = FN##_f, .df = FN##_df, .kernel = FUSED,          \
             .kink = KINK }
/* Over the last axis: FN_fwd and FN_bwd above. */
#define LAST_AXIS(ID, NAME, FN)                                                               \
    [ID] = { .op = { .name = NAME, .arity = 1, .shape = last_axis_shape, .forward = FN##_fwd, \
                     .backward = FN##_bwd, .gc_tol = 2e-3 },                                  \
             .id = ID, .last_axis = true }

const cr_act_def cr_activations[] = {
    /*        crest_act            Keras name      alias   formula       fused epilogue  kink */
    IDENTITY(CREST_LINEAR,        "linear"),
    POINTWISE(CREST_RELU,         "relu",         NULL,   relu,         CR_ACT_RELU,    0),
    POINTWISE(CREST_RELU6,        "relu6",        NULL,   relu6,        CR_ACT_RELU6,   6),
    POINTWISE(CREST_SIGMOID,      "sigmoid",      NULL,   sigmoid,      CR_ACT_NONE,    0),
    POINTWISE(CREST_TANH,         "tanh",         NULL,   tanh,         CR_ACT_NONE,    0),
    LAST_AXIS(CREST_SOFTMAX,      "softmax",                    softmax),
    LAST_AXIS(CREST_LOG_SOFTMAX,  "log_softmax",                log_softmax),
    POINTWISE(CREST_SWISH,        "swish",        "silu", swish,        CR_ACT_NONE,    0),
    POINTWISE(CREST_HARD_SIGMOID, "hard_sigmoid", NULL,   hard_sigmoid, CR_ACT_NONE,    2.5f),
    POINTWISE(CREST_ELU,          "elu",          NULL,   elu,          CR_ACT_NONE,    0),
    POINTWISE(CREST_SELU,         "selu",         NULL,   selu,         CR_ACT_NONE,    0),
    POINTWISE(CREST_SOFTPLUS,     "softplus",     NULL,   softplus,     CR_ACT_NONE,    0),
    POINTWISE(CREST_SOFTSIGN,     "softsign",     NULL,   softsign,     CR_ACT_NONE,    0),
    POINTWISE(CREST_GELU,         "gelu",         NULL,   gelu,         CR_ACT_NONE,    0),
    POINTWISE(CREST_EXPONENTIAL,  "exponential",  NULL,   exponential,  CR_ACT_NONE,    0),
    POINTWISE(CREST_LEAKY_RELU,   "leaky_relu",   NULL,   leaky_relu,   CR_ACT_NONE,    0),
    POINTWISE(CREST_MISH,         "mish",         NULL,   mish,         CR_ACT_NONE,    0),
    POINTWISE(CREST_HARD_SILU,    "hard_silu",    "hard_swish", hard_silu, CR_ACT_NONE, 3),
    POINTWISE(CREST_HARD_SIGMOID_KERAS3, "hard_sigmoid_keras3", NULL, hard_sigmoid3, CR_ACT_NONE, 3),
};

const cr_act_def *cr_act_of(const cr_node *n)
{
    if (!n || n->kind != CR_NODE_OP)
        return NULL;
    for (int i = 0; i < CREST_ACT_COUNT; i++)
        if (n->op == &cr_activations[i].op)
            return &cr_activations[i];
    return NULL;
}

crest_node *crest_op_activate(crest_graph *g, crest_node *x, crest_act act)
{
    if (act < 0 || act >= CREST_ACT_COUNT)
        return cr_graph_fail(g, CREST_E_ARG, "activation %d is unknown", (int)act);
    const cr_act_def *a = &cr_activations[act];
    return a->op.forward ? cr_op(g, &a->op, &x, 1, NULL, 0) : x;
}

const char *crest_act_name(crest_act a)
{
    return a >= 0 && a < CREST_ACT_COUNT ? cr_activations[a].op.name : "unknown";
}

int crest_act_parse(const char *name, crest_act *out)
{
    if (!name)
        name = "linear";
    for (int i = 0; i < CREST_ACT_COUNT; i++) {
        const cr_act_def *a = &cr_activations[i];
        if (strcmp(name, a->op.name) == 0 || (a->alias && strcmp(name, a->alias) == 0)) {
            *out = a->id;
            return CREST_OK;
        }
    }
    return cr_fail(CREST_E_UNSUPPORTED, "activation '%s' is not supported", name);
}

cr_node *cr_act_example(cr_graph *g, cr_rng *r, crest_act act)
{
    const cr_act_def *a = &cr_activations[act];
    if (a->last_axis)
        return crest_op_activate(g, cr_example_var(g, r, crest_shape(2, 3, 5), -2, 2, 0), act);
    /* inputs in [-3, 3], kept 0.05 away from the kinks at 0 and +-kink */
    cr_node *x = cr_example_var(g, r, crest_shape(2, 4, 6), -3, 3, 0.05f);
    for (int64_t i = 0; x && a->kink > 0 && i < x->w->size; i++) {
        float *v = &x->w->val[i];
        if (fabsf(fabsf(*v) - a->kink) < 0.05f)
            *v = *v > 0 ? a->kink - 0.1f : 0.1f - a->kink;
    }
    return crest_op_activate(g, x, act);
}

/* ---- ReLU with Keras' options ------------------------------------------ */

/* Keras ReLU layer: f(x) = min(x, max_value) for x > threshold, else
 * negative_slope * (x - threshold); max_value < 0 means none. */
typedef struct relu_attr { float max_value, slope, threshold; } relu_attr;

static void relux_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const relu_attr *a = n->attr;
    int64_t cnt = cr_dims_count(&n->shape);
    const float *x = n->in[0]->val;
    for (int64_t i = 0; i < cnt; i++) {
        float v = x[i];
        if (v > a->threshold)
            n->val[i] = a->max_value >= 0 && v > a->max_value ? a->max_value : v;
        else
            n->val[i] = a->slope * (v - a->threshold);
    }
}

static void relux_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const relu_attr *a = n->attr;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t cnt = cr_dims_count(&n->shape);
    const float *x = n->in[0]->val;
    for (int64_t i = 0; i < cnt; i++) {
        float v = x[i], d;
        if (v > a->threshold)
            d = a->max_value >= 0 && v > a->max_value ? 0.0f : 1.0f;
        else
            d = a->slope;
        dx[i] += n->grad[i] * d;
    }
}

static cr_node *relux_ex(cr_graph *g, cr_rng *r)
{
    /* kinks at 0.5 (threshold) and 2 (max_value): keep inputs off them */
    cr_node *x = cr_example_var(g, r, crest_shape(2, 4, 8), -3, 3, 0);
    for (int64_t i = 0; i < 32; i++) {
        float *v = &x->w->val[i];
        if (fabsf(*v - 0.5f) < 0.05f || fabsf(*v - 2.0f) < 0.05f)
            *v += 0.1f;
    }
    return cr_op_relu_ex(g, x, 2.0f, 0.3f, 0.5f);
}

const cr_op_def cr_op_relu_ex_def = { .name = "relu_ex", .arity = 1, .shape = same_shape,
    .forward = relux_fwd, .backward = relux_bwd, .example = relux_ex, .gc_tol = 2e-3 };

cr_node *cr_op_relu_ex(cr_graph *g, cr_node *x, float max_value, float slope, float threshold)
{
    /* the common cases have faster ops */
    if (slope == 0 && threshold == 0 && max_value < 0)
        return crest_op_activate(g, x, CREST_RELU);
    if (slope == 0 && threshold == 0 && max_value == 6)
        return crest_op_activate(g, x, CREST_RELU6);
    return cr_op(g, &cr_op_relu_ex_def, &x, 1, &(relu_attr){ max_value, slope, threshold },
                 sizeof(relu_attr));
}

/* ---- ELU with Keras' alpha --------------------------------------------- */

/* Keras ELU layer: x > 0 ? x : alpha (e^x - 1); f' = 1, or y + alpha. */
typedef struct elu_attr { float alpha; } elu_attr;

static void elux_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    float a = ((const elu_attr *)n->attr)->alpha;
    int64_t cnt = cr_dims_count(&n->shape);
    const float *x = n->in[0]->val;
    for (int64_t i = 0; i < cnt; i++)
        n->val[i] = x[i] > 0 ? x[i] : a * expm1f(x[i]);
}

static void elux_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    float a = ((const elu_attr *)n->attr)->alpha, *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t cnt = cr_dims_count(&n->shape);
    const float *x = n->in[0]->val;
    for (int64_t i = 0; i < cnt; i++)
        dx[i] += n->grad[i] * (x[i] > 0 ? 1.0f : n->val[i] + a);
}

static cr_node *elux_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_elu_alpha(g, cr_example_var(g, r, crest_shape(2, 4, 6), -3, 3, 0.05f), 0.4f);
}

const cr_op_def cr_op_elu_alpha_def = { .name = "elu_alpha", .arity = 1, .shape = same_shape,
    .forward = elux_fwd, .backward = elux_bwd, .example = elux_ex, .gc_tol = 2e-3 };

bool cr_elu_alpha_parts(const cr_node *n, float *alpha)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_elu_alpha_def)
        return false;
    *alpha = ((const elu_attr *)n->attr)->alpha;
    return true;
}

cr_node *cr_op_elu_alpha(cr_graph *g, cr_node *x, float alpha)
{
    if (alpha == 1)
        return crest_op_activate(g, x, CREST_ELU);
    return cr_op(g, &cr_op_elu_alpha_def, &x, 1, &(elu_attr){ alpha }, sizeof(elu_attr));
}

/* ---- softmax / log-softmax over any one axis --------------------------- */

/* The tensor seen as [outer, C, inner] around the axis; the rows of the last
 * axis case above are inner = 1. */
typedef struct smax_attr { int axis; bool log; } smax_attr;

static int smax_shape(cr_node *n)
{
    const smax_attr *a = n->attr;
    int nd = n->in[0]->shape.ndim, ax = a->axis < 0 ? a->axis + nd : a->axis;
    if (ax < 1 || ax >= nd)
        return cr_fail(CREST_E_SHAPE, "%s: axis %d is not a non-batch axis of a rank-%d "
                       "tensor", n->op->name, a->axis, nd);
    n->shape = n->in[0]->shape;
    return CREST_OK;
}

static void smax_geometry(const cr_node *n, int64_t *outer, int64_t *C, int64_t *inner)
{
    const smax_attr *a = n->attr;
    int nd = n->shape.ndim, ax = a->axis < 0 ? a->axis + nd : a->axis;
    *outer = *inner = 1;
    for (int i = 0; i < ax; i++)
        *outer *= n->shape.d[i];
    for (int i = ax + 1; i < nd; i++)
        *inner *= n->shape.d[i];
    *C = n->shape.d[ax];
}

static void smax_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    bool lg = ((const smax_attr *)n->attr)->log;
    int64_t O, C, I;
    smax_geometry(n, &O, &C, &I);
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < I; i++) {
            const float *x = n->in[0]->val + o * C * I + i;
            float *y = n->val + o * C * I + i;
            float mx = x[0];
            for (int64_t k = 1; k < C; k++)
                mx = x[k * I] > mx ? x[k * I] : mx;
            double s = 0;
            for (int64_t k = 0; k < C; k++)
                s += exp((double)x[k * I] - mx);
            float lse = (float)log(s) + mx;
            for (int64_t k = 0; k < C; k++)
                y[k * I] = lg ? x[k * I] - lse : (float)(exp((double)x[k * I] - mx) / s);
        }
}

static void smax_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    if (!n->in[0]->grad)
        return;
    bool lg = ((const smax_attr *)n->attr)->log;
    int64_t O, C, I;
    smax_geometry(n, &O, &C, &I);
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < I; i++) {
            int64_t base = o * C * I + i;
            const float *y = n->val + base, *dy = n->grad + base;
            float *dx = n->in[0]->grad + base;
            double s = 0;
            for (int64_t k = 0; k < C; k++)
                s += lg ? (double)dy[k * I] : (double)dy[k * I] * y[k * I];
            for (int64_t k = 0; k < C; k++)
                dx[k * I] += lg ? dy[k * I] - expf(y[k * I]) * (float)s
                                : y[k * I] * (dy[k * I] - (float)s);
        }
}

static cr_node *smax_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(4, 2, 3, 4, 2), -2, 2, 0);
    return cr_op_softmax_axis(g, cr_op_softmax_axis(g, x, 1, true), 2, false);
}

const cr_op_def cr_op_softmax_axis_def = { .name = "softmax_axis", .arity = 1,
    .shape = smax_shape, .forward = smax_fwd, .backward = smax_bwd, .example = smax_ex,
    .gc_tol = 2e-3 };

bool cr_softmax_axis_parts(const cr_node *n, int *axis, bool *log)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_softmax_axis_def)
        return false;
    const smax_attr *a = n->attr;
    *axis = a->axis < 0 ? a->axis + n->shape.ndim : a->axis;
    *log = a->log;
    return true;
}

cr_node *cr_op_softmax_axis(cr_graph *g, cr_node *x, int axis, bool log)
{
    if (x && (axis == -1 || axis == x->shape.ndim - 1))
        return crest_op_activate(g, x, log ? CREST_LOG_SOFTMAX : CREST_SOFTMAX);
    return cr_op(g, &cr_op_softmax_axis_def, &x, 1, &(smax_attr){ axis, log },
                 sizeof(smax_attr));
}

bool cr_relu_ex_parts(const cr_node *n, float *max_value, float *slope, float *threshold)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_relu_ex_def)
        return false;
    const relu_attr *a = n->attr;
    *max_value = a->max_value;
    *slope = a->slope;
    *threshold = a->threshold;
    return true;
}
