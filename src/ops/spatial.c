/* spatial.c - NHWC ops over height and width: global average / max
 * pooling, zero padding and cropping. */
#include "../internal.h"

#include <float.h>

static int need_nhwc(const cr_node *n)
{
    const cr_dims *x = &n->in[0]->shape;
    if (x->ndim == 4)
        return CREST_OK;
    char s[96];
    return cr_fail(CREST_E_SHAPE, "%s: input %s is not [batch, height, width, channels]",
                   n->op->name, cr_dims_str(x, s, sizeof s));
}

/* ---- global pooling: [n,h,w,c] -> [n,c] or [n,1,1,c] -------------------- */

typedef struct { bool keepdims; } gpool_attr;

static int gpool_shape(cr_node *n)
{
    int rc = need_nhwc(n);
    if (rc)
        return rc;
    const cr_dims *x = &n->in[0]->shape;
    if (((const gpool_attr *)n->attr)->keepdims)
        n->shape = (cr_dims){ .ndim = 4, .d = { x->d[0], 1, 1, x->d[3] } };
    else
        n->shape = (cr_dims){ .ndim = 2, .d = { x->d[0], x->d[3] } };
    return CREST_OK;
}

typedef struct gp_job { const cr_node *n; bool max; } gp_job;

/* Images [lo, hi): sums in double per channel, as a mean over h*w cells. */
static void gpool_rows(void *ctx, int64_t lo, int64_t hi)
{
    const gp_job *j = ctx;
    const cr_dims *x = &j->n->in[0]->shape;
    int64_t hw = x->d[1] * x->d[2], C = x->d[3];
    for (int64_t b = lo; b < hi; b++) {
        const float *xi = j->n->in[0]->val + b * hw * C;
        float *y = j->n->val + b * C;
        if (j->max) {
            for (int64_t c = 0; c < C; c++)
                y[c] = -FLT_MAX;
            for (int64_t p = 0; p < hw; p++)
                for (int64_t c = 0; c < C; c++)
                    y[c] = xi[p * C + c] > y[c] ? xi[p * C + c] : y[c];
        } else {
            for (int64_t c = 0; c < C; c++)
                y[c] = 0;
            for (int64_t p = 0; p < hw; p++)
                for (int64_t c = 0; c < C; c++)
                    y[c] += xi[p * C + c];
            for (int64_t c = 0; c < C; c++)
                y[c] /= (float)hw;
        }
    }
}

static void gpool_fwd_common(cr_node *n, const cr_ctx *c, bool max)
{
    const cr_dims *x = &n->in[0]->shape;
    gp_job j = { n, max };
    cr_parallel_rows(c, x->d[0], x->d[1] * x->d[2] * x->d[3], gpool_rows, &j);
}

static void gavg_fwd(cr_node *n, const cr_ctx *c) { gpool_fwd_common(n, c, false); }
static void gmax_fwd(cr_node *n, const cr_ctx *c) { gpool_fwd_common(n, c, true); }

static void gavg_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    const cr_dims *x = &n->in[0]->shape;
    int64_t hw = x->d[1] * x->d[2], C = x->d[3];
    for (int64_t b = 0; b < x->d[0]; b++)
        for (int64_t p = 0; p < hw; p++)
            for (int64_t k = 0; k < C; k++)
                dx[(b * hw + p) * C + k] += n->grad[b * C + k] / (float)hw;
}

/* The gradient goes to the first cell equal to the max, as max pooling. */
static void gmax_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    const cr_dims *x = &n->in[0]->shape;
    int64_t hw = x->d[1] * x->d[2], C = x->d[3];
    const float *xv = n->in[0]->val;
    for (int64_t b = 0; b < x->d[0]; b++)
        for (int64_t k = 0; k < C; k++)
            for (int64_t p = 0; p < hw; p++)
                if (xv[(b * hw + p) * C + k] == n->val[b * C + k]) {
                    dx[(b * hw + p) * C + k] += n->grad[b * C + k];
                    break;
                }
}

static cr_node *gavg_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_global_pool(g, cr_example_var(g, r, crest_shape(4, 2, 3, 4, 5), -1, 1, 0),
                             false, true);
}
static cr_node *gmax_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_global_pool(g, cr_example_var(g, r, crest_shape(4, 2, 3, 4, 5), -1, 1, 0),
                             true, false);
}

const cr_op_def cr_op_global_avgpool_def = { .name = "global_avgpool", .arity = 1,
    .shape = gpool_shape, .forward = gavg_fwd, .backward = gavg_bwd, .example = gavg_ex,
    .gc_tol = 2e-3 };
const cr_op_def cr_op_global_maxpool_def = { .name = "global_maxpool", .arity = 1,
    .shape = gpool_shape, .forward = gmax_fwd, .backward = gmax_bwd, .example = gmax_ex,
    .gc_tol = 2e-3 };

cr_node *cr_op_global_pool(cr_graph *g, cr_node *x, bool max, bool keepdims)
{
    return cr_op(g, max ? &cr_op_global_maxpool_def : &cr_op_global_avgpool_def, &x, 1,
                 &(gpool_attr){ keepdims }, sizeof(gpool_attr));
}

/* ---- zero padding / cropping: t, b, l, r rows and columns -------------- */

typedef struct { int t, b, l, r; } tblr_attr;

/* A pad2d or crop2d node (def) of x by the four amounts. */
static cr_node *tblr_op(cr_graph *g, const cr_op_def *def, cr_node *x, int t, int b, int l, int r)
{
    return cr_op(g, def, &x, 1, &(tblr_attr){ t, b, l, r }, sizeof(tblr_attr));
}

/* Copies between a [h,w,c] image and a window of a larger one: for each
 * row of the small image, one run of w*c floats. */
static void window_copy(const cr_node *big, const cr_node *small, const tblr_attr *a,
                        bool to_small, bool accumulate, float *dst)
{
    const cr_dims *B = &big->shape, *S = &small->shape;
    int64_t C = S->d[3], run = S->d[2] * C;
    for (int64_t n = 0; n < S->d[0]; n++)
        for (int64_t y = 0; y < S->d[1]; y++) {
            int64_t so = (n * S->d[1] + y) * run;
            int64_t bo = ((n * B->d[1] + y + a->t) * B->d[2] + a->l) * C;
            const float *src = to_small ? big->val + bo : small->val + so;
            float *d = to_small ? dst + so : dst + bo;
            if (accumulate)
                for (int64_t k = 0; k < run; k++)
                    d[k] += (to_small ? big->grad + bo : small->grad + so)[k];
            else
                memcpy(d, src, (size_t)run * sizeof(float));
        }
}

static int pad_shape(cr_node *n)
{
    int rc = need_nhwc(n);
    if (rc)
        return rc;
    const tblr_attr *a = n->attr;
    if (a->t < 0 || a->b < 0 || a->l < 0 || a->r < 0 || a->t + a->b > (1 << 20) ||
        a->l + a->r > (1 << 20))
        return cr_fail(CREST_E_ARG, "zero_pad2d: padding %d,%d,%d,%d", a->t, a->b, a->l, a->r);
    n->shape = n->in[0]->shape;
    n->shape.d[1] += a->t + a->b;
    n->shape.d[2] += a->l + a->r;
    return CREST_OK;
}

/* Zeros only where the copy of the input does not land. */
static void pad_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const tblr_attr *a = n->attr;
    const cr_dims *B = &n->shape;
    size_t C = (size_t)B->d[3], row = (size_t)B->d[2] * C, H = (size_t)B->d[1];
    for (int64_t i = 0; i < B->d[0]; i++) {
        float *img = n->val + (size_t)i * H * row;
        memset(img, 0, (size_t)a->t * row * sizeof(float));
        memset(img + (H - (size_t)a->b) * row, 0, (size_t)a->b * row * sizeof(float));
        for (size_t y = (size_t)a->t; y < H - (size_t)a->b; y++) {
            memset(img + y * row, 0, (size_t)a->l * C * sizeof(float));
            memset(img + (y + 1) * row - (size_t)a->r * C, 0, (size_t)a->r * C * sizeof(float));
        }
    }
    window_copy(n, n->in[0], n->attr, false, false, n->val);
}

static void pad_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    if (n->in[0]->grad)   /* dx += the window of dy */
        window_copy(n, n->in[0], n->attr, true, true, n->in[0]->grad);
}

static cr_node *pad_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_pad2d(g, cr_example_var(g, r, crest_shape(4, 2, 3, 2, 3), -1, 1, 0), 1, 2, 0, 1);
}

const cr_op_def cr_op_zero_pad2d_def = { .name = "zero_pad2d", .arity = 1, .shape = pad_shape,
    .forward = pad_fwd, .backward = pad_bwd, .example = pad_ex, .gc_tol = 2e-3 };

cr_node *cr_op_pad2d(cr_graph *g, cr_node *x, int t, int b, int l, int r)
{
    return tblr_op(g, &cr_op_zero_pad2d_def, x, t, b, l, r);
}

/* The four amounts of a pad2d or crop2d node n of op def, if it is one. */
static bool tblr_parts(const cr_node *n, const cr_op_def *def, int *top, int *bottom, int *left,
                       int *right)
{
    if (!n || n->kind != CR_NODE_OP || n->op != def)
        return false;
    const tblr_attr *a = n->attr;
    *top = a->t;
    *bottom = a->b;
    *left = a->l;
    *right = a->r;
    return true;
}

bool cr_pad_parts(const cr_node *n, int *top, int *bottom, int *left, int *right)
{
    return tblr_parts(n, &cr_op_zero_pad2d_def, top, bottom, left, right);
}

static int crop_shape(cr_node *n)
{
    int rc = need_nhwc(n);
    if (rc)
        return rc;
    const tblr_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    if (a->t < 0 || a->b < 0 || a->l < 0 || a->r < 0 || (int64_t)a->t + a->b >= x->d[1] ||
        (int64_t)a->l + a->r >= x->d[2])
        return cr_fail(CREST_E_SHAPE, "crop2d: cropping %d,%d,%d,%d leaves nothing of %lldx%lld",
                       a->t, a->b, a->l, a->r, (long long)x->d[1], (long long)x->d[2]);
    n->shape = *x;
    n->shape.d[1] -= a->t + a->b;
    n->shape.d[2] -= a->l + a->r;
    return CREST_OK;
}

static void crop_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    window_copy(n->in[0], n, n->attr, true, false, n->val);
}

static void crop_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    if (n->in[0]->grad)   /* dx's window += dy */
        window_copy(n->in[0], n, n->attr, false, true, n->in[0]->grad);
}

static cr_node *crop_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_crop2d(g, cr_example_var(g, r, crest_shape(4, 2, 5, 6, 3), -1, 1, 0), 1, 2, 0, 3);
}

const cr_op_def cr_op_crop2d_def = { .name = "crop2d", .arity = 1, .shape = crop_shape,
    .forward = crop_fwd, .backward = crop_bwd, .example = crop_ex, .gc_tol = 2e-3 };

cr_node *cr_op_crop2d(cr_graph *g, cr_node *x, int t, int b, int l, int r)
{
    return tblr_op(g, &cr_op_crop2d_def, x, t, b, l, r);
}

bool cr_crop_parts(const cr_node *n, int *top, int *bottom, int *left, int *right)
{
    return tblr_parts(n, &cr_op_crop2d_def, top, bottom, left, right);
}
