/* depth_space.c - depth_to_space and space_to_depth on NHWC tensors, as
 * tf.nn.depth_to_space / space_to_depth (data_format NHWC, the "DCR" order):
 * with block b, depth_to_space maps [n, h, w, b*b*c] to [n, h*b, w*b, c],
 *   out[n, y*b + i, x*b + j, k] = in[n, y, x, (i*b + j)*c + k],
 * and space_to_depth is its inverse. Both are permutations: forward gathers,
 * backward scatters the gradient back. */
#include "../internal.h"

typedef struct { int block; bool to_space; } ds_attr;

static int ds_shape(cr_node *n)
{
    const ds_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    char s[96];
    if (x->ndim != 4)
        return cr_fail(CREST_E_SHAPE, "%s: input %s is not [batch, height, width, channels]",
                       n->op->name, cr_dims_str(x, s, sizeof s));
    int64_t b = a->block;
    if (b < 2 || b > 4096)
        return cr_fail(CREST_E_SHAPE, "%s: block size %d (needs 2 or more)", n->op->name,
                       a->block);
    n->shape = *x;
    if (a->to_space) {
        if (x->d[3] % (b * b))
            return cr_fail(CREST_E_SHAPE, "depth_to_space: %lld channels are not a multiple of "
                           "%lld (block %d squared)", (long long)x->d[3], (long long)(b * b),
                           a->block);
        n->shape.d[1] *= b;
        n->shape.d[2] *= b;
        n->shape.d[3] /= b * b;
    } else {
        if (x->d[1] % b || x->d[2] % b)
            return cr_fail(CREST_E_SHAPE, "space_to_depth: %lldx%lld is not a multiple of block "
                           "%d", (long long)x->d[1], (long long)x->d[2], a->block);
        n->shape.d[1] /= b;
        n->shape.d[2] /= b;
        n->shape.d[3] *= b * b;
    }
    return CREST_OK;
}

/* Calls f(ctx, space index, depth index) for each element, where "space"
 * is the [n, h*b, w*b, c] side and "depth" the [n, h, w, b*b*c] side. */
static void ds_walk(const cr_node *n, float *sp, float *dp, bool gather_to_space, bool add)
{
    const ds_attr *a = n->attr;
    const cr_dims *s = a->to_space ? &n->shape : &n->in[0]->shape;   /* space side */
    int64_t b = a->block, H = s->d[1], W = s->d[2], C = s->d[3];
    int64_t h = H / b, w = W / b, D = C * b * b;
    for (int64_t i0 = 0; i0 < s->d[0]; i0++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) {
                float *sv = sp + ((i0 * H + y) * W + x) * C;
                float *dv = dp + ((i0 * h + y / b) * w + x / b) * D + ((y % b) * b + x % b) * C;
                for (int64_t k = 0; k < C; k++) {
                    if (gather_to_space)
                        sv[k] = add ? sv[k] + dv[k] : dv[k];
                    else
                        dv[k] = add ? dv[k] + sv[k] : sv[k];
                }
            }
}

static void ds_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const ds_attr *a = n->attr;
    if (a->to_space)
        ds_walk(n, n->val, n->in[0]->val, true, false);
    else
        ds_walk(n, n->in[0]->val, n->val, false, false);
}

static void ds_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const ds_attr *a = n->attr;
    if (!n->in[0]->grad)
        return;
    if (a->to_space)   /* dx (depth side) += dy (space side) */
        ds_walk(n, n->grad, n->in[0]->grad, false, true);
    else
        ds_walk(n, n->in[0]->grad, n->grad, true, true);
}

static cr_node *d2s_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_depth_to_space(g, cr_example_var(g, r, crest_shape(4, 2, 2, 3, 8), -1, 1, 0), 2);
}

static cr_node *s2d_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_space_to_depth(g, cr_example_var(g, r, crest_shape(4, 2, 4, 6, 3), -1, 1, 0), 2);
}

const cr_op_def cr_op_depth_to_space_def = { .name = "depth_to_space", .arity = 1,
    .shape = ds_shape, .forward = ds_fwd, .backward = ds_bwd, .example = d2s_ex, .gc_tol = 1e-3 };
const cr_op_def cr_op_space_to_depth_def = { .name = "space_to_depth", .arity = 1,
    .shape = ds_shape, .forward = ds_fwd, .backward = ds_bwd, .example = s2d_ex, .gc_tol = 1e-3 };

cr_node *cr_op_depth_to_space(cr_graph *g, cr_node *x, int block)
{
    return cr_op(g, &cr_op_depth_to_space_def, &x, 1, &(ds_attr){ block, true }, sizeof(ds_attr));
}

cr_node *cr_op_space_to_depth(cr_graph *g, cr_node *x, int block)
{
    return cr_op(g, &cr_op_space_to_depth_def, &x, 1, &(ds_attr){ block, false }, sizeof(ds_attr));
}
