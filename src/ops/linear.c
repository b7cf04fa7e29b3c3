/* linear.c - matmul and bias add (softmax: activation.c). */
#include "../internal.h"

/* ---- matmul: a [..., K] x b [K, N] -> [..., N] ------------------------- */

static int matmul_shape(cr_node *n)
{
    const cr_dims *a = &n->in[0]->shape, *b = &n->in[1]->shape;
    if (a->ndim < 1 || b->ndim != 2 || a->d[a->ndim - 1] != b->d[0]) {
        char sa[96], sb[96];
        return cr_fail(CREST_E_SHAPE, "matmul: %s x %s (need [..., K] x [K, N])",
                       cr_dims_str(a, sa, sizeof sa), cr_dims_str(b, sb, sizeof sb));
    }
    n->shape = *a;
    n->shape.d[a->ndim - 1] = b->d[1];
    return CREST_OK;
}

static void matmul_fwd(cr_node *n, const cr_ctx *c)
{
    const cr_dims *b = &n->in[1]->shape;
    int K = (int)b->d[0], N = (int)b->d[1];
    int M = (int)(cr_dims_count(&n->in[0]->shape) / K);
    cr_gemm(c->pool, false, false, M, N, K, n->in[0]->val, K, n->in[1]->val, N, 0.0f,
            n->val, N);
}

static void matmul_bwd(cr_node *n, const cr_ctx *c)
{
    const cr_dims *b = &n->in[1]->shape;
    int K = (int)b->d[0], N = (int)b->d[1];
    int M = (int)(cr_dims_count(&n->in[0]->shape) / K);
    if (n->in[0]->grad)     /* da += dy b^T */
        cr_gemm(c->pool, false, true, M, K, N, n->grad, N, n->in[1]->val, N, 1.0f,
                n->in[0]->grad, K);
    if (n->in[1]->grad)     /* db += a^T dy */
        cr_gemm(c->pool, true, false, K, N, M, n->in[0]->val, K, n->grad, N, 1.0f,
                n->in[1]->grad, N);
}

static cr_node *matmul_ex(cr_graph *g, cr_rng *r)
{
    cr_node *a = cr_example_var(g, r, crest_shape(2, 5, 7), -1, 1, 0);
    cr_node *b = cr_example_var(g, r, crest_shape(2, 7, 3), -1, 1, 0);
    return crest_op_matmul(g, a, b);
}

const cr_op_def cr_op_matmul_def = { .name = "matmul", .arity = 2, .shape = matmul_shape,
    .forward = matmul_fwd, .backward = matmul_bwd, .example = matmul_ex, .gc_tol = 2e-3 };

crest_node *crest_op_matmul(crest_graph *g, crest_node *a, crest_node *b)
{
    return cr_op(g, &cr_op_matmul_def, (cr_node *[]){ a, b }, 2, NULL, 0);
}

/* ---- bias add: x [..., C] + bias [C] ----------------------------------- */

static int bias_shape(cr_node *n)
{
    const cr_dims *x = &n->in[0]->shape, *b = &n->in[1]->shape;
    if (x->ndim < 1 || b->ndim != 1 || b->d[0] != x->d[x->ndim - 1]) {
        char sx[96], sb[96];
        return cr_fail(CREST_E_SHAPE, "bias_add: %s + %s (need [..., C] + [C])",
                       cr_dims_str(x, sx, sizeof sx), cr_dims_str(b, sb, sizeof sb));
    }
    n->shape = *x;
    return CREST_OK;
}

static void bias_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    int64_t C = n->in[1]->shape.d[0], rows = cr_dims_count(&n->shape) / C;
    const float *x = n->in[0]->val, *b = n->in[1]->val;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < C; j++)
            n->val[r * C + j] = x[r * C + j] + b[j];
}

static void bias_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    int64_t C = n->in[1]->shape.d[0], cnt = cr_dims_count(&n->shape), rows = cnt / C;
    if (n->in[0]->grad)
        for (int64_t i = 0; i < cnt; i++)
            n->in[0]->grad[i] += n->grad[i];
    float *db = n->in[1]->grad;
    if (db)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < C; j++)
                db[j] += n->grad[r * C + j];
}

static cr_node *bias_ex(cr_graph *g, cr_rng *r)
{
    return crest_op_bias_add(g, cr_example_var(g, r, crest_shape(3, 2, 3, 4), -1, 1, 0),
                             cr_example_var(g, r, crest_shape(1, 4), -1, 1, 0));
}

const cr_op_def cr_op_bias_add_def = { .name = "bias_add", .arity = 2, .shape = bias_shape,
    .forward = bias_fwd, .backward = bias_bwd, .example = bias_ex, .gc_tol = 2e-3 };

crest_node *crest_op_bias_add(crest_graph *g, crest_node *x, crest_node *bias)
{
    return cr_op(g, &cr_op_bias_add_def, (cr_node *[]){ x, bias }, 2, NULL, 0);
}
