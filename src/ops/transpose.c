/* transpose.c - swap_last2: x [..., a, b] -> [..., b, a], the last two axes
 * swapped (a batched matrix transpose; rank 3 or more, so the batch axis
 * stays first). 1-D layers with data_format channels_first use it to turn
 * [batch, channels, steps] into [batch, steps, channels] and back. */
#include "../internal.h"

static int swap_shape(cr_node *n)
{
    const cr_dims *x = &n->in[0]->shape;
    if (x->ndim < 3) {
        char s[96];
        return cr_fail(CREST_E_SHAPE, "swap_last2: input %s has no two axes after the batch",
                       cr_dims_str(x, s, sizeof s));
    }
    n->shape = *x;
    n->shape.d[x->ndim - 2] = x->d[x->ndim - 1];
    n->shape.d[x->ndim - 1] = x->d[x->ndim - 2];
    return CREST_OK;
}

/* y[m][j][i] = x[m][i][j] over matrices m of a x b; backward: dx += dy^T. */
static void swap_walk(const cr_node *n, bool backward)
{
    const cr_dims *x = &n->in[0]->shape;
    int64_t a = x->d[x->ndim - 2], b = x->d[x->ndim - 1];
    int64_t mats = a > 0 && b > 0 ? cr_dims_count(x) / (a * b) : 0;
    for (int64_t m = 0; m < mats; m++) {
        const float *src = (backward ? n->grad : n->in[0]->val) + m * a * b;
        float *dst = (backward ? n->in[0]->grad : n->val) + m * a * b;
        for (int64_t i = 0; i < a; i++)
            for (int64_t j = 0; j < b; j++) {
                if (backward)
                    dst[i * b + j] += src[j * a + i];
                else
                    dst[j * a + i] = src[i * b + j];
            }
    }
}

static void swap_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    swap_walk(n, false);
}

static void swap_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    if (n->in[0]->grad)
        swap_walk(n, true);
}

static cr_node *swap_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(4, 2, 2, 3, 4), -1, 1, 0);
    /* twice, through a product, so a wrong index shows in the gradient */
    cr_node *y = cr_op_swap_last2(g, x);
    cr_node *w = cr_example_var(g, r, crest_shape(4, 2, 2, 4, 3), -1, 1, 0);
    return cr_op_swap_last2(g, crest_op_mul(g, y, w));
}

const cr_op_def cr_op_swap_last2_def = { .name = "swap_last2", .arity = 1,
    .shape = swap_shape, .forward = swap_fwd, .backward = swap_bwd, .example = swap_ex,
    .gc_tol = 2e-3 };

cr_node *cr_op_swap_last2(cr_graph *g, cr_node *x)
{
    return cr_op(g, &cr_op_swap_last2_def, &x, 1, NULL, 0);
}
