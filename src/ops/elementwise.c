/* elementwise.c - broadcasting binary ops (add, sub, mul), scale and dropout.
 * Activations: activation.c. */
#include "../internal.h"

/* ---- broadcasting ------------------------------------------------------ */

int cr_broadcast_shape(cr_node *n)
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

void cr_bcast_strides(const cr_dims *x, const cr_dims *o, int64_t *st)
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
    cr_bcast_strides(&n->in[0]->shape, &n->shape, sa);
    cr_bcast_strides(&n->in[1]->shape, &n->shape, sb);
    CR_BCAST_LOOP(&n->shape, sa, sb,
               y[io] = k == BIN_ADD ? a[ia] + b[ib] : k == BIN_SUB ? a[ia] - b[ib]
                                                                   : a[ia] * b[ib]);
}

static void binary_backward(cr_node *n, bin_kind k)
{
    const float *a = n->in[0]->val, *b = n->in[1]->val, *dy = n->grad;
    float *da = n->in[0]->grad, *db = n->in[1]->grad;
    float sgn = k == BIN_SUB ? -1.0f : 1.0f;
    int64_t sa[CR_MAX_DIMS], sb[CR_MAX_DIMS];
    cr_bcast_strides(&n->in[0]->shape, &n->shape, sa);
    cr_bcast_strides(&n->in[1]->shape, &n->shape, sb);
    CR_BCAST_LOOP(&n->shape, sa, sb, {
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

const cr_op_def cr_op_add_def = { .name = "add", .arity = 2, .shape = cr_broadcast_shape,
    .forward = add_fwd, .backward = add_bwd, .example = add_ex, .gc_tol = 2e-3 };
const cr_op_def cr_op_sub_def = { .name = "sub", .arity = 2, .shape = cr_broadcast_shape,
    .forward = sub_fwd, .backward = sub_bwd, .example = sub_ex, .gc_tol = 2e-3 };
const cr_op_def cr_op_mul_def = { .name = "mul", .arity = 2, .shape = cr_broadcast_shape,
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

/* ---- dropout (inverted, as Keras: kept units are scaled by 1/(1-rate)) -- */

typedef struct { float rate; bool training; } dropout_attr;

static int dropout_shape(cr_node *n)
{
    const dropout_attr *a = n->attr;
    if (!(a->rate >= 0 && a->rate < 1))
        return cr_fail(CREST_E_ARG, "dropout: rate %g is not in [0, 1)", a->rate);
    n->shape = n->in[0]->shape;
    return CREST_OK;
}

static int64_t dropout_aux(const cr_node *n)
{
    const dropout_attr *a = n->attr;
    return a->training && a->rate > 0 ? cr_dims_count(&n->shape) : 0;
}

static void dropout_fwd(cr_node *n, const cr_ctx *c)
{
    const dropout_attr *a = n->attr;
    int64_t cnt = cr_dims_count(&n->shape);
    if (!n->aux) {
        memcpy(n->val, n->in[0]->val, (size_t)cnt * sizeof(float));
        return;
    }
    float keep = 1.0f / (1.0f - a->rate);
    for (int64_t i = 0; i < cnt; i++) {
        n->aux[i] = cr_rng_uniform(c->rng) < a->rate ? 0.0f : keep;
        n->val[i] = n->in[0]->val[i] * n->aux[i];
    }
}

static void dropout_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    cr_grad_masked(n, n->aux);   /* no aux: inference, the identity */
}

static cr_node *dropout_ex(cr_graph *g, cr_rng *r)
{
    return crest_op_dropout(g, cr_example_var(g, r, crest_shape(2, 4, 8), -1, 1, 0), 0.4f,
                            true);
}

const cr_op_def cr_op_dropout_def = { .name = "dropout", .arity = 1, .shape = dropout_shape,
    .forward = dropout_fwd, .backward = dropout_bwd, .aux_size = dropout_aux,
    .example = dropout_ex, .gc_tol = 2e-3 };

crest_node *crest_op_dropout(crest_graph *g, crest_node *x, float rate, bool training)
{
    if (!training || rate == 0)
        return x;
    return cr_op(g, &cr_op_dropout_def, &x, 1, &(dropout_attr){ rate, training },
                 sizeof(dropout_attr));
}

bool cr_scale_parts(const cr_node *n, float *mul, float *add)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_scale_def)
        return false;
    const scale_attr *a = n->attr;
    *mul = a->mul;
    *add = a->add;
    return true;
}
