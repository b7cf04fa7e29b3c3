/* transpose.c - transpose (Keras' Permute) and repeat (RepeatVector). */
#include "../internal.h"

/* ---- transpose: out axis i is input axis perm[i] (batch stays first) --- */

typedef struct perm_attr { int n, perm[CR_MAX_DIMS]; } perm_attr;

static int perm_shape(cr_node *n)
{
    const perm_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    bool seen[CR_MAX_DIMS] = { false };
    if (a->n != x->ndim || a->perm[0] != 0)
        return cr_fail(CREST_E_SHAPE, "transpose: %d axes for a rank-%d tensor", a->n - 1,
                       x->ndim - 1);
    cr_dims o = { .ndim = x->ndim };
    for (int i = 0; i < a->n; i++) {
        int p = a->perm[i];
        if (p < 0 || p >= a->n || seen[p])
            return cr_fail(CREST_E_SHAPE, "transpose: the axes are not a permutation");
        seen[p] = true;
        o.d[i] = x->d[p];
    }
    n->shape = o;
    return CREST_OK;
}

/* Calls body(io, ix) for every output element io and its input element ix. */
#define PERM_LOOP(n, BODY)                                                         \
    do {                                                                           \
        const perm_attr *a_ = (n)->attr;                                           \
        const cr_dims *x_ = &(n)->in[0]->shape, *o_ = &(n)->shape;                 \
        int64_t xs_[CR_MAX_DIMS], st_[CR_MAX_DIMS], idx_[CR_MAX_DIMS] = { 0 };     \
        int64_t s_ = 1, ix = 0;                                                    \
        for (int k_ = x_->ndim - 1; k_ >= 0; k_--) {                               \
            xs_[k_] = s_;                                                          \
            s_ *= x_->d[k_];                                                       \
        }                                                                          \
        for (int k_ = 0; k_ < o_->ndim; k_++)                                      \
            st_[k_] = xs_[a_->perm[k_]];                                           \
        int64_t total_ = cr_dims_count(o_);                                        \
        for (int64_t io = 0; io < total_; io++) {                                  \
            BODY;                                                                  \
            for (int k_ = o_->ndim - 1; k_ >= 0; k_--) {                           \
                idx_[k_]++;                                                        \
                ix += st_[k_];                                                     \
                if (idx_[k_] < o_->d[k_])                                          \
                    break;                                                         \
                ix -= st_[k_] * o_->d[k_];                                         \
                idx_[k_] = 0;                                                      \
            }                                                                      \
        }                                                                          \
    } while (0)

static void perm_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const float *x = n->in[0]->val;
    float *y = n->val;
    PERM_LOOP(n, y[io] = x[ix]);
}

static void perm_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    float *dx = n->in[0]->grad;
    const float *dy = n->grad;
    if (dx)
        PERM_LOOP(n, dx[ix] += dy[io]);
}

static cr_node *perm_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(4, 2, 3, 4, 2), -1, 1, 0);
    return cr_op_transpose(g, x, (int[]){ 0, 3, 1, 2 }, 4);
}

const cr_op_def cr_op_transpose_def = { .name = "transpose", .arity = 1, .shape = perm_shape,
    .forward = perm_fwd, .backward = perm_bwd, .example = perm_ex, .gc_tol = 2e-3 };

bool cr_transpose_parts(const cr_node *n, int perm[CR_MAX_DIMS], int *k)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_transpose_def)
        return false;
    const perm_attr *a = n->attr;
    memcpy(perm, a->perm, (size_t)a->n * sizeof *perm);
    *k = a->n;
    return true;
}

cr_node *cr_op_transpose(cr_graph *g, cr_node *x, const int *perm, int n)
{
    perm_attr a = { .n = n };
    if (n < 1 || n > CR_MAX_DIMS)
        return cr_graph_fail(g, CREST_E_SHAPE, "transpose: %d axes", n);
    memcpy(a.perm, perm, (size_t)n * sizeof *perm);
    return cr_op(g, &cr_op_transpose_def, &x, 1, &a, sizeof a);
}

/* ---- repeat: [batch, F] -> [batch, times, F] -------------------------- */

typedef struct rep_attr { int times; } rep_attr;

static int rep_shape(cr_node *n)
{
    const cr_dims *x = &n->in[0]->shape;
    int t = ((const rep_attr *)n->attr)->times;
    if (x->ndim != 2 || t < 1)
        return cr_fail(CREST_E_SHAPE, "repeat: needs [batch, features] and times >= 1, got "
                       "rank %d and %d", x->ndim, t);
    n->shape = (cr_dims){ .ndim = 3, .d = { x->d[0], t, x->d[1] } };
    return CREST_OK;
}

static void rep_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    int64_t B = n->shape.d[0], T = n->shape.d[1], F = n->shape.d[2];
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            memcpy(n->val + (b * T + t) * F, n->in[0]->val + b * F, (size_t)F * sizeof(float));
}

static void rep_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t B = n->shape.d[0], T = n->shape.d[1], F = n->shape.d[2];
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t f = 0; f < F; f++)
                dx[b * F + f] += n->grad[(b * T + t) * F + f];
}

static cr_node *rep_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_repeat(g, cr_example_var(g, r, crest_shape(2, 2, 5), -1, 1, 0), 3);
}

const cr_op_def cr_op_repeat_def = { .name = "repeat", .arity = 1, .shape = rep_shape,
    .forward = rep_fwd, .backward = rep_bwd, .example = rep_ex, .gc_tol = 2e-3 };

cr_node *cr_op_repeat(cr_graph *g, cr_node *x, int times)
{
    return cr_op(g, &cr_op_repeat_def, &x, 1, &(rep_attr){ times }, sizeof(rep_attr));
}

/* ---- swap_last2: [..., a, b] -> [..., b, a] ----------------------------
 * 1-D layers with data_format channels_first turn [batch, channels, steps]
 * into [batch, steps, channels] and back: a transpose of the last two axes. */

cr_node *cr_op_swap_last2(cr_graph *g, cr_node *x)
{
    int r = x ? x->shape.ndim : 0, perm[CR_MAX_DIMS];
    if (x && r < 3)
        return cr_graph_fail(g, CREST_E_SHAPE, "swap_last2: a rank-%d input has no two axes "
                             "after the batch", r);
    for (int i = 0; i < r; i++)
        perm[i] = i;
    if (r >= 3) {
        perm[r - 2] = r - 1;
        perm[r - 1] = r - 2;
    }
    return cr_op_transpose(g, x, perm, r ? r : 1);
}
