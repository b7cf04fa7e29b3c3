/* minmax.c - elementwise maximum and minimum of two tensors, broadcasting
 * as add (Keras' Maximum and Minimum merges; maximum / minimum in
 * expressions). As TensorFlow's gradient: a tie sends the gradient to the
 * first input. */
#include "../internal.h"

#include <math.h>

typedef struct { bool max; } minmax_attr;

/* true where the first input wins */
static bool first_wins(bool max, float a, float b) { return max ? a >= b : a <= b; }

static void minmax_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    bool mx = ((const minmax_attr *)n->attr)->max;
    const float *a = n->in[0]->val, *b = n->in[1]->val;
    int64_t sa[CR_MAX_DIMS], sb[CR_MAX_DIMS];
    cr_bcast_strides(&n->in[0]->shape, &n->shape, sa);
    cr_bcast_strides(&n->in[1]->shape, &n->shape, sb);
    CR_BCAST_LOOP(&n->shape, sa, sb, n->val[io] = first_wins(mx, a[ia], b[ib]) ? a[ia] : b[ib]);
}

static void minmax_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    bool mx = ((const minmax_attr *)n->attr)->max;
    const float *a = n->in[0]->val, *b = n->in[1]->val;
    float *da = n->in[0]->grad, *db = n->in[1]->grad;
    int64_t sa[CR_MAX_DIMS], sb[CR_MAX_DIMS];
    cr_bcast_strides(&n->in[0]->shape, &n->shape, sa);
    cr_bcast_strides(&n->in[1]->shape, &n->shape, sb);
    CR_BCAST_LOOP(&n->shape, sa, sb, {
        bool f = first_wins(mx, a[ia], b[ib]);
        if (f && da)
            da[ia] += n->grad[io];
        if (!f && db)
            db[ib] += n->grad[io];
    });
}

/* pairs closer than 0.05 are pushed 0.1 apart: no near-ties; then the
 * result against a broadcast [5] */
static cr_node *minmax_ex(cr_graph *g, cr_rng *r, bool max)
{
    cr_node *a = cr_example_var(g, r, crest_shape(2, 3, 5), -1, 1, 0);
    cr_node *b = cr_example_var(g, r, crest_shape(2, 3, 5), -1, 1, 0);
    cr_node *v = cr_example_var(g, r, crest_shape(1, 5), -1, 1, 0);
    for (int64_t i = 0; a && b && i < 15; i++)
        if (fabsf(a->w->val[i] - b->w->val[i]) < 0.05f)
            b->w->val[i] = a->w->val[i] + 0.1f;
    cr_node *y = cr_op_minmax(g, a, b, max);
    for (int64_t i = 0; y && v && i < 15; i++) {   /* v off the pairs' winners */
        float ai = a->w->val[i], bi = b->w->val[i], w = max ? fmaxf(ai, bi) : fminf(ai, bi);
        if (fabsf(v->w->val[i % 5] - w) < 0.05f)
            v->w->val[i % 5] = w + 0.1f;
    }
    return cr_op_minmax(g, v, y, max);
}

static cr_node *max_ex(cr_graph *g, cr_rng *r) { return minmax_ex(g, r, true); }
static cr_node *min_ex(cr_graph *g, cr_rng *r) { return minmax_ex(g, r, false); }

const cr_op_def cr_op_maximum_def = { .name = "maximum", .arity = 2, .shape = cr_broadcast_shape,
    .forward = minmax_fwd, .backward = minmax_bwd, .example = max_ex, .gc_tol = 2e-3 };
const cr_op_def cr_op_minimum_def = { .name = "minimum", .arity = 2, .shape = cr_broadcast_shape,
    .forward = minmax_fwd, .backward = minmax_bwd, .example = min_ex, .gc_tol = 2e-3 };

cr_node *cr_op_minmax(cr_graph *g, cr_node *a, cr_node *b, bool max)
{
    return cr_op(g, max ? &cr_op_maximum_def : &cr_op_minimum_def, (cr_node *[]){ a, b }, 2,
                 &(minmax_attr){ max }, sizeof(minmax_attr));
}
