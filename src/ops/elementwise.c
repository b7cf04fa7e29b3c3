/* elementwise.c - broadcasting binary ops, scale, and activations. */
#include "../internal.h"

#include <math.h>

/* ---- broadcasting ------------------------------------------------------ */

/* numpy rules: align trailing dims; each pair equal or one of them 1. */
static int broadcast_shape(cr_node *n)
{
    const cr_dims *a = &n->in[0]->shape, *b = &n->in[1]->shape;
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    cr_dims o = { .ndim = nd };
    for (int i = 0; i < nd; i++) {
        int ia = a->ndim - nd + i, ib = b->ndim - nd + i;
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[96], sb[96];
            return cr_fail(CREST_E_SHAPE, "%s: shapes %s and %s do not broadcast",
                           n->op->name, cr_dims_str(a, sa, sizeof sa),
                           cr_dims_str(b, sb, sizeof sb));
        }
        o.d[i] = da > db ? da : db;
    }
    n->shape = o;
    return CREST_OK;
}

/* Strides of input x seen with the output's rank (0 where broadcast). */
static void bcast_strides(const cr_dims *x, const cr_dims *o, int64_t *st)
{
    int64_t s = 1;
    for (int i = o->ndim - 1; i >= 0; i--) {
        int ix = x->ndim - o->ndim + i;
        int64_t d = ix >= 0 ? x->d[ix] : 1;
        st[i] = d == 1 ? 0 : s;
        s *= d;
    }
}

typedef enum { BIN_ADD, BIN_SUB, BIN_MUL } bin_kind;

/* Calls visit(i_out, i_a, i_b) over the output in order. */
#define BCAST_LOOP(o, sa, sb, BODY)                                               \
    do {                                                                          \
        int64_t idx_[CR_MAX_DIMS] = { 0 }, ia = 0, ib = 0;                        \
        int64_t total_ = cr_dims_count(o);                                        \
        for (int64_t io = 0; io < total_; io++) {                                 \
            BODY;                                                                 \
            for (int k_ = (o)->ndim - 1; k_ >= 0; k_--) {                         \
                idx_[k_]++;                                                       \
                ia += (sa)[k_];                                                   \
                ib += (sb)[k_];                                                   \
                if (idx_[k_] < (o)->d[k_])                                        \
                    break;                                                        \
                ia -= (sa)[k_] * (o)->d[k_];                                      \
                ib -= (sb)[k_] * (o)->d[k_];                                      \
                idx_[k_] = 0;                                                     \
            }                                                                     \
        }                                                                         \
    } while (0)

static void binary_forward(cr_node *n, bin_kind k)
{
    const float *a = n->in[0]->val, *b = n->in[1]->val;
    float *y = n->val;
    int64_t cnt = cr_dims_count(&n->shape);
    int64_t na = cr_dims_count(&n->in[0]->shape), nb = cr_dims_count(&n->in[1]->shape);
    if (na == cnt && nb == cnt) {
        for (int64_t i = 0; i < cnt; i++)
            y[i] = k == BIN_ADD ? a[i] + b[i] : k == BIN_SUB ? a[i] - b[i] : a[i] * b[i];
        return;
    }
    int64_t sa[CR_MAX_DIMS], sb[CR_MAX_DIMS];
    bcast_strides(&n->in[0]->shape, &n->shape, sa);
    bcast_strides(&n->in[1]->shape, &n->shape, sb);
    BCAST_LOOP(&n->shape, sa, sb,
               y[io] = k == BIN_ADD ? a[ia] + b[ib] : k == BIN_SUB ? a[ia] - b[ib]
                                                                   : a[ia] * b[ib]);
}

static void binary_backward(cr_node *n, bin_kind k)
{
    const float *a = n->in[0]->val, *b = n->in[1]->val, *dy = n->grad;
    float *da = n->in[0]->grad, *db = n->in[1]->grad;
    float sgn = k == BIN_SUB ? -1.0f : 1.0f;
    int64_t sa[CR_MAX_DIMS], sb[CR_MAX_DIMS];
    bcast_strides(&n->in[0]->shape, &n->shape, sa);
    bcast_strides(&n->in[1]->shape, &n->shape, sb);
    BCAST_LOOP(&n->shape, sa, sb, {
        if (k == BIN_MUL) {
            if (da)
                da[ia] += dy[io] * b[ib];
            if (db)
                db[ib] += dy[io] * a[ia];
        } else {
            if (da)
                da[ia] += dy[io];
            if (db)
                db[ib] += sgn * dy[io];
        }
    });
}

static void add_fwd(cr_node *n, const cr_ctx *c) { (void)c; binary_forward(n, BIN_ADD); }
static void add_bwd(cr_node *n, const cr_ctx *c) { (void)c; binary_backward(n, BIN_ADD); }
static void sub_fwd(cr_node *n, const cr_ctx *c) { (void)c; binary_forward(n, BIN_SUB); }
static void sub_bwd(cr_node *n, const cr_ctx *c) { (void)c; binary_backward(n, BIN_SUB); }
static void mul_fwd(cr_node *n, const cr_ctx *c) { (void)c; binary_forward(n, BIN_MUL); }
static void mul_bwd(cr_node *n, const cr_ctx *c) { (void)c; binary_backward(n, BIN_MUL); }

static cr_node *binary_example(cr_graph *g, cr_rng *r, const cr_op_def *def)
{
    cr_node *in[2] = { cr_example_var(g, r, crest_shape(3, 2, 3, 4), -1, 1, 0),
                       cr_example_var(g, r, crest_shape(2, 1, 4), -1, 1, 0) };
    cr_node *y = cr_op(g, def, in, 2, NULL, 0);
    cr_node *in2[2] = { y, cr_example_var(g, r, crest_shape(3, 2, 3, 4), -1, 1, 0) };
    return cr_op(g, def, in2, 2, NULL, 0);   /* also the same-shape path */
}

const cr_op_def cr_op_add_def, cr_op_sub_def, cr_op_mul_def;
static cr_node *add_ex(cr_graph *g, cr_rng *r) { return binary_example(g, r, &cr_op_add_def); }
static cr_node *sub_ex(cr_graph *g, cr_rng *r) { return binary_example(g, r, &cr_op_sub_def); }
static cr_node *mul_ex(cr_graph *g, cr_rng *r) { return binary_example(g, r, &cr_op_mul_def); }

const cr_op_def cr_op_add_def = { .name = "add", .arity = 2, .shape = broadcast_shape,
    .forward = add_fwd, .backward = add_bwd, .example = add_ex, .gc_tol = 2e-3 };
const cr_op_def cr_op_sub_def = { .name = "sub", .arity = 2, .shape = broadcast_shape,
    .forward = sub_fwd, .backward = sub_bwd, .example = sub_ex, .gc_tol = 2e-3 };
const cr_op_def cr_op_mul_def = { .name = "mul", .arity = 2, .shape = broadcast_shape,
    .forward = mul_fwd, .backward = mul_bwd, .example = mul_ex, .gc_tol = 2e-3 };

crest_node *crest_op_add(crest_graph *g, crest_node *a, crest_node *b)
{
    return cr_op(g, &cr_op_add_def, (cr_node *[]){ a, b }, 2, NULL, 0);
}
crest_node *crest_op_sub(crest_graph *g, crest_node *a, crest_node *b)
{
    return cr_op(g, &cr_op_sub_def, (cr_node *[]){ a, b }, 2, NULL, 0);
}
crest_node *crest_op_mul(crest_graph *g, crest_node *a, crest_node *b)
{
    return cr_op(g, &cr_op_mul_def, (cr_node *[]){ a, b }, 2, NULL, 0);
}

/* ---- scale: y = x * mul + add ------------------------------------------ */

typedef struct { float mul, add; } scale_attr;

static int same_shape(cr_node *n)
{
    n->shape = n->in[0]->shape;
    return CREST_OK;
}

static void scale_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const scale_attr *a = n->attr;
    int64_t cnt = cr_dims_count(&n->shape);
    for (int64_t i = 0; i < cnt; i++)
        n->val[i] = n->in[0]->val[i] * a->mul + a->add;
}

static void scale_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const scale_attr *a = n->attr;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t cnt = cr_dims_count(&n->shape);
    for (int64_t i = 0; i < cnt; i++)
        dx[i] += n->grad[i] * a->mul;
}

static cr_node *scale_ex(cr_graph *g, cr_rng *r)
{
    return crest_op_scale(g, cr_example_var(g, r, crest_shape(2, 3, 5), -1, 1, 0), -1.5f, 0.25f);
}

const cr_op_def cr_op_scale_def = { .name = "scale", .arity = 1, .shape = same_shape,
    .forward = scale_fwd, .backward = scale_bwd, .example = scale_ex, .gc_tol = 2e-3 };

crest_node *crest_op_scale(crest_graph *g, crest_node *x, float mul, float add)
{
    return cr_op(g, &cr_op_scale_def, &x, 1, &(scale_attr){ mul, add }, sizeof(scale_attr));
}

/* ---- activations ------------------------------------------------------- */

/* Each activation: f(x) and f'(x) given x and y = f(x). The op keeps its
 * input, so backward can use either. */
typedef struct act_fn {
    float (*f)(float x);
    float (*df)(float x, float y);
} act_fn;

static float relu_f(float x) { return x > 0 ? x : 0; }
static float relu_df(float x, float y) { (void)y; return x > 0 ? 1.0f : 0.0f; }
static float relu6_f(float x) { return x > 0 ? (x < 6 ? x : 6) : 0; }
static float relu6_df(float x, float y) { (void)y; return x > 0 && x < 6 ? 1.0f : 0.0f; }
static float sigmoid_f(float x)
{
    if (x >= 0)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
static float sigmoid_df(float x, float y) { (void)x; return y * (1.0f - y); }
static float tanh_f(float x) { return tanhf(x); }
static float tanh_df(float x, float y) { (void)x; return 1.0f - y * y; }
static float swish_f(float x) { return x * sigmoid_f(x); }
static float swish_df(float x, float y)
{
    (void)y;
    float s = sigmoid_f(x);
    return s + x * s * (1.0f - s);
}
/* Keras 2 / TF.js hard_sigmoid: clip(0.2 x + 0.5, 0, 1) */
static float hsig_f(float x)
{
    float v = 0.2f * x + 0.5f;
    return v < 0 ? 0 : v > 1 ? 1 : v;
}
static float hsig_df(float x, float y) { (void)y; return x > -2.5f && x < 2.5f ? 0.2f : 0.0f; }

static const act_fn act_fns[CREST_ACT_COUNT] = {
    [CREST_RELU] = { relu_f, relu_df },       [CREST_RELU6] = { relu6_f, relu6_df },
    [CREST_SIGMOID] = { sigmoid_f, sigmoid_df }, [CREST_TANH] = { tanh_f, tanh_df },
    [CREST_SWISH] = { swish_f, swish_df },    [CREST_HARD_SIGMOID] = { hsig_f, hsig_df },
};

typedef struct { int act; } act_attr;

typedef struct act_job { const act_fn *fn; const float *x, *y, *dy; float *out; } act_job;

static void act_rows_fwd(void *ctx, int64_t lo, int64_t hi)
{
    act_job *j = ctx;
    for (int64_t i = lo; i < hi; i++)
        j->out[i] = j->fn->f(j->x[i]);
}

static void act_rows_bwd(void *ctx, int64_t lo, int64_t hi)
{
    act_job *j = ctx;
    for (int64_t i = lo; i < hi; i++)
        j->out[i] += j->dy[i] * j->fn->df(j->x[i], j->y[i]);
}

static void act_fwd(cr_node *n, const cr_ctx *c)
{
    const act_attr *a = n->attr;
    act_job j = { &act_fns[a->act], n->in[0]->val, NULL, NULL, n->val };
    cr_parallel_rows(c, cr_dims_count(&n->shape), 8, act_rows_fwd, &j);
}

static void act_bwd(cr_node *n, const cr_ctx *c)
{
    const act_attr *a = n->attr;
    if (!n->in[0]->grad)
        return;
    act_job j = { &act_fns[a->act], n->in[0]->val, n->val, n->grad, n->in[0]->grad };
    cr_parallel_rows(c, cr_dims_count(&n->shape), 8, act_rows_bwd, &j);
}

static cr_node *act_example(cr_graph *g, cr_rng *r, crest_act act)
{
    /* inputs kept 0.05 away from the kinks at 0 (relu) and +-2.5 (hard sigmoid);
     * relu6's kink at 6 is outside [-3, 3] */
    cr_node *x = cr_example_var(g, r, crest_shape(2, 4, 6), -3, 3, 0.05f);
    return crest_op_activate(g, x, act);
}

#define ACT_DEF(NAME, ACT)                                                              \
    static cr_node *NAME##_ex(cr_graph *g, cr_rng *r) { return act_example(g, r, ACT); } \
    const cr_op_def cr_op_##NAME##_def = { .name = #NAME, .arity = 1, .shape = same_shape,  \
        .forward = act_fwd, .backward = act_bwd, .example = NAME##_ex, .gc_tol = 2e-3 };

ACT_DEF(relu, CREST_RELU)
ACT_DEF(relu6, CREST_RELU6)
ACT_DEF(sigmoid, CREST_SIGMOID)
ACT_DEF(tanh, CREST_TANH)
ACT_DEF(swish, CREST_SWISH)
ACT_DEF(hard_sigmoid, CREST_HARD_SIGMOID)

extern const cr_op_def cr_op_softmax_def, cr_op_log_softmax_def;

crest_node *crest_op_activate(crest_graph *g, crest_node *x, crest_act act)
{
    const cr_op_def *def = NULL;
    switch (act) {
    case CREST_LINEAR: return x;
    case CREST_RELU: def = &cr_op_relu_def; break;
    case CREST_RELU6: def = &cr_op_relu6_def; break;
    case CREST_SIGMOID: def = &cr_op_sigmoid_def; break;
    case CREST_TANH: def = &cr_op_tanh_def; break;
    case CREST_SWISH: def = &cr_op_swish_def; break;
    case CREST_HARD_SIGMOID: def = &cr_op_hard_sigmoid_def; break;
    case CREST_SOFTMAX: return cr_op(g, &cr_op_softmax_def, &x, 1, NULL, 0);
    case CREST_LOG_SOFTMAX: return cr_op(g, &cr_op_log_softmax_def, &x, 1, NULL, 0);
    default: return cr_graph_fail(g, CREST_E_ARG, "activation %d is unknown", (int)act);
    }
    return cr_op(g, def, &x, 1, &(act_attr){ act }, sizeof(act_attr));
}

static const char *const act_names[CREST_ACT_COUNT] = {
    [CREST_LINEAR] = "linear",   [CREST_RELU] = "relu",       [CREST_RELU6] = "relu6",
    [CREST_SIGMOID] = "sigmoid", [CREST_TANH] = "tanh",       [CREST_SOFTMAX] = "softmax",
    [CREST_LOG_SOFTMAX] = "log_softmax", [CREST_SWISH] = "swish",
    [CREST_HARD_SIGMOID] = "hard_sigmoid",
};

const char *crest_act_name(crest_act a)
{
    return a >= 0 && a < CREST_ACT_COUNT ? act_names[a] : "unknown";
}

int crest_act_parse(const char *name, crest_act *out)
{
    if (!name)
        name = "linear";
    for (int i = 0; i < CREST_ACT_COUNT; i++)
        if (strcmp(name, act_names[i]) == 0) {
            *out = (crest_act)i;
            return CREST_OK;
        }
    if (strcmp(name, "silu") == 0) {      /* Keras 3 alias */
        *out = CREST_SWISH;
        return CREST_OK;
    }
    return cr_fail(CREST_E_UNSUPPORTED, "activation '%s' is not supported", name);
}
