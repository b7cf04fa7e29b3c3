/* affine.c - y = x * scale[k] + offset[k] with constant per-channel values
 * over the last axis (k = the channel), Keras' Rescaling with list-valued
 * scale / offset (EfficientNet's 1 / sqrt(stddev) per RGB channel). */
#include "../internal.h"

typedef struct affine_attr { int n; float v[]; } affine_attr;   /* v: n scales, n offsets */

static int affine_shape(cr_node *n)
{
    const affine_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    if (x->ndim < 2 || x->d[x->ndim - 1] != a->n)
        return cr_fail(CREST_E_SHAPE, "channel_affine: %d values per channel for an input of "
                       "%lld channels", a->n, (long long)(x->ndim ? x->d[x->ndim - 1] : 0));
    n->shape = *x;
    return CREST_OK;
}

static void affine_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const affine_attr *a = n->attr;
    int64_t cnt = cr_dims_count(&n->shape);
    for (int64_t i = 0; i < cnt; i++)
        n->val[i] = n->in[0]->val[i] * a->v[i % a->n] + a->v[a->n + i % a->n];
}

static void affine_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const affine_attr *a = n->attr;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t cnt = cr_dims_count(&n->shape);
    for (int64_t i = 0; i < cnt; i++)
        dx[i] += n->grad[i] * a->v[i % a->n];
}

static cr_node *affine_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(3, 2, 4, 3), -1, 1, 0);
    return cr_op_channel_affine(g, x, (const float[]){ 2, -0.5f, 3 },
                                (const float[]){ 0.1f, 0, -1 }, 3);
}

const cr_op_def cr_op_channel_affine_def = { .name = "channel_affine", .arity = 1,
    .shape = affine_shape, .forward = affine_fwd, .backward = affine_bwd, .example = affine_ex,
    .gc_tol = 2e-3 };

bool cr_channel_affine_parts(const cr_node *n, int *count, const float **scale, const float **offset)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_channel_affine_def)
        return false;
    const affine_attr *a = n->attr;
    *count = a->n;
    *scale = a->v;
    *offset = a->v + a->n;
    return true;
}

cr_node *cr_op_channel_affine(cr_graph *g, cr_node *x, const float *scale, const float *offset,
                              int n)
{
    if (n < 1 || n > 1 << 16)
        return cr_graph_fail(g, CREST_E_ARG, "channel_affine: %d channels", n);
    size_t size = sizeof(affine_attr) + 2 * (size_t)n * sizeof(float);
    affine_attr *a = cr_malloc(size);
    if (!a)
        return cr_graph_fail(g, CREST_E_NOMEM, "channel_affine: out of memory");
    a->n = n;
    memcpy(a->v, scale, (size_t)n * sizeof(float));
    memcpy(a->v + n, offset, (size_t)n * sizeof(float));
    cr_node *y = cr_op(g, &cr_op_channel_affine_def, &x, 1, a, size);
    cr_free(a);
    return y;
}
