/* minmax.c - elementwise maximum and minimum of two same-shape tensors
 * (Keras' Maximum and Minimum merges). As TensorFlow's gradient: a tie
 * sends the gradient to the first input. */
#include "../internal.h"

#include <math.h>

typedef struct { bool max; } minmax_attr;

static int minmax_shape(cr_node *n)
{
    const cr_dims *a = &n->in[0]->shape, *b = &n->in[1]->shape;
    if (!cr_dims_eq(a, b)) {
        char sa[96], sb[96];
        return cr_fail(CREST_E_SHAPE, "%s: shapes %s and %s differ", n->op->name,
                       cr_dims_str(a, sa, sizeof sa), cr_dims_str(b, sb, sizeof sb));
    }
    n->shape = *a;
    return CREST_OK;
}

/* true where the first input wins */
static bool first_wins(bool max, float a, float b) { return max ? a >= b : a <= b; }

static void minmax_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    bool mx = ((const minmax_attr *)n->attr)->max;
    const float *a = n->in[0]->val, *b = n->in[1]->val;
    int64_t cnt = cr_dims_count(&n->shape);
    for (int64_t i = 0; i < cnt; i++)
        n->val[i] = first_wins(mx, a[i], b[i]) ? a[i] : b[i];
}

static void minmax_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    bool mx = ((const minmax_attr *)n->attr)->max;
    const float *a = n->in[0]->val, *b = n->in[1]->val;
    float *da = n->in[0]->grad, *db = n->in[1]->grad;
    int64_t cnt = cr_dims_count(&n->shape);
    for (int64_t i = 0; i < cnt; i++) {
        bool f = first_wins(mx, a[i], b[i]);
        if (f && da)
            da[i] += n->grad[i];
        if (!f && db)
            db[i] += n->grad[i];
    }
}

/* pairs closer than 0.05 are pushed 0.1 apart: no near-ties */
static cr_node *minmax_ex(cr_graph *g, cr_rng *r, bool max)
{
    cr_node *a = cr_example_var(g, r, crest_shape(2, 3, 5), -1, 1, 0);
    cr_node *b = cr_example_var(g, r, crest_shape(2, 3, 5), -1, 1, 0);
    for (int64_t i = 0; a && b && i < 15; i++)
        if (fabsf(a->w->val[i] - b->w->val[i]) < 0.05f)
            b->w->val[i] = a->w->val[i] + 0.1f;
    return cr_op_minmax(g, a, b, max);
}

static cr_node *max_ex(cr_graph *g, cr_rng *r) { return minmax_ex(g, r, true); }
static cr_node *min_ex(cr_graph *g, cr_rng *r) { return minmax_ex(g, r, false); }

const cr_op_def cr_op_maximum_def = { .name = "maximum", .arity = 2, .shape = minmax_shape,
    .forward = minmax_fwd, .backward = minmax_bwd, .example = max_ex, .gc_tol = 2e-3 };
const cr_op_def cr_op_minimum_def = { .name = "minimum", .arity = 2, .shape = minmax_shape,
    .forward = minmax_fwd, .backward = minmax_bwd, .example = min_ex, .gc_tol = 2e-3 };

cr_node *cr_op_minmax(cr_graph *g, cr_node *a, cr_node *b, bool max)
{
    return cr_op(g, max ? &cr_op_maximum_def : &cr_op_minimum_def, (cr_node *[]){ a, b }, 2,
                 &(minmax_attr){ max }, sizeof(minmax_attr));
}
