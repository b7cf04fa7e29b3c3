/* shape.c - reshape, flatten, concat, sum / mean / max / min reductions. */
#include "../internal.h"

static void copy_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    memcpy(n->val, n->in[0]->val, (size_t)cr_dims_count(&n->shape) * sizeof(float));
}

void cr_grad_masked(cr_node *n, const float *mask)
{
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t cnt = cr_dims_count(&n->shape);
    for (int64_t i = 0; i < cnt; i++)
        dx[i] += n->grad[i] * (mask ? mask[i] : 1.0f);
}

static void copy_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    cr_grad_masked(n, NULL);
}

/* ---- reshape: keeps the batch dim, per-sample target may hold one -1 ---- */

static int reshape_shape(cr_node *n)
{
    const cr_dims *t = n->attr, *x = &n->in[0]->shape;
    if (x->ndim < 1 || t->ndim + 1 > CR_MAX_DIMS)
        return cr_fail(CREST_E_SHAPE, "reshape: bad rank");
    int64_t have = cr_dims_count(x) / (x->d[0] ? x->d[0] : 1), want = 1;
    int free_axis = -1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->d[i] == -1 && free_axis < 0)
            free_axis = i;
        else if (t->d[i] <= 0)
            return cr_fail(CREST_E_SHAPE, "reshape: target dimension %d is %lld", i,
                           (long long)t->d[i]);
        else
            want *= t->d[i];
    }
    cr_dims o = { .ndim = t->ndim + 1 };
    o.d[0] = x->d[0];
    for (int i = 0; i < t->ndim; i++)
        o.d[i + 1] = t->d[i];
    if (free_axis >= 0) {
        if (want == 0 || have % want)
            goto bad;
        o.d[free_axis + 1] = have / want;
    } else if (want != have) {
        goto bad;
    }
    n->shape = o;
    return CREST_OK;
bad:;
    char sx[96], st[96];
    return cr_fail(CREST_E_SHAPE, "reshape: cannot reshape %s into %s per sample",
                   cr_dims_str(x, sx, sizeof sx), cr_dims_str(t, st, sizeof st));
}

static cr_node *reshape_ex(cr_graph *g, cr_rng *r)
{
    return crest_op_reshape(g, cr_example_var(g, r, crest_shape(3, 2, 3, 4), -1, 1, 0),
                            crest_shape(2, -1, 6));
}

const cr_op_def cr_op_reshape_def = { .name = "reshape", .arity = 1, .shape = reshape_shape,
    .forward = copy_fwd, .backward = copy_bwd, .example = reshape_ex, .gc_tol = 2e-3 };

crest_node *crest_op_reshape(crest_graph *g, crest_node *x, crest_dims per_sample)
{
    return cr_op(g, &cr_op_reshape_def, &x, 1, &per_sample, sizeof per_sample);
}

static int flatten_shape(cr_node *n)
{
    const cr_dims *x = &n->in[0]->shape;
    if (x->ndim < 1)
        return cr_fail(CREST_E_SHAPE, "flatten: needs a batch axis");
    n->shape = (cr_dims){ .ndim = 2, .d = { x->d[0], cr_dims_count(x) / (x->d[0] ? x->d[0] : 1) } };
    if (x->d[0] == 0)
        n->shape.d[1] = 0;
    return CREST_OK;
}

static cr_node *flatten_ex(cr_graph *g, cr_rng *r)
{
    return crest_op_flatten(g, cr_example_var(g, r, crest_shape(3, 2, 3, 4), -1, 1, 0));
}

const cr_op_def cr_op_flatten_def = { .name = "flatten", .arity = 1, .shape = flatten_shape,
    .forward = copy_fwd, .backward = copy_bwd, .example = flatten_ex, .gc_tol = 2e-3 };

crest_node *crest_op_flatten(crest_graph *g, crest_node *x)
{
    return cr_op(g, &cr_op_flatten_def, &x, 1, NULL, 0);
}

/* ---- concat along one axis --------------------------------------------- */

typedef struct { int axis; } axis_attr;

static int norm_axis(int axis, int ndim) { return axis < 0 ? axis + ndim : axis; }

static int concat_shape(cr_node *n)
{
    const axis_attr *a = n->attr;
    const cr_dims *x0 = &n->in[0]->shape;
    int ax = norm_axis(a->axis, x0->ndim);
    if (ax < 0 || ax >= x0->ndim)
        return cr_fail(CREST_E_SHAPE, "concat: axis %d out of range for rank %d", a->axis,
                       x0->ndim);
    cr_dims o = *x0;
    for (int i = 1; i < n->n_in; i++) {
        const cr_dims *xi = &n->in[i]->shape;
        bool ok = xi->ndim == x0->ndim;
        for (int k = 0; ok && k < x0->ndim; k++)
            ok = k == ax || xi->d[k] == x0->d[k];
        if (!ok) {
            char s0[96], s1[96];
            return cr_fail(CREST_E_SHAPE, "concat: %s and %s differ off axis %d",
                           cr_dims_str(x0, s0, sizeof s0), cr_dims_str(xi, s1, sizeof s1),
                           a->axis);
        }
        o.d[ax] += xi->d[ax];
    }
    n->shape = o;
    return CREST_OK;
}

/* Walks the concatenation: outer = product of dims before the axis; per
 * outer index, input i owns a run of d[axis] * inner floats of the output
 * row. Forward copies the runs in; backward adds the output gradient's runs
 * into each input gradient. */
static void concat_walk(cr_node *n, bool backward)
{
    int ax = norm_axis(((const axis_attr *)n->attr)->axis, n->shape.ndim);
    int64_t outer = 1, inner = 1, off = 0;
    for (int k = 0; k < ax; k++)
        outer *= n->shape.d[k];
    for (int k = ax + 1; k < n->shape.ndim; k++)
        inner *= n->shape.d[k];
    int64_t row = outer ? cr_dims_count(&n->shape) / outer : 0;
    for (int i = 0; i < n->n_in; i++) {
        int64_t run = n->in[i]->shape.d[ax] * inner;
        float *dx = n->in[i]->grad;
        for (int64_t o = 0; o < outer; o++) {
            if (!backward)
                memcpy(n->val + o * row + off, n->in[i]->val + o * run,
                       (size_t)run * sizeof(float));
            else if (dx)
                for (int64_t k = 0; k < run; k++)
                    dx[o * run + k] += n->grad[o * row + off + k];
        }
        off += run;
    }
}

static void concat_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    concat_walk(n, false);
}

static void concat_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    concat_walk(n, true);
}

static cr_node *concat_ex(cr_graph *g, cr_rng *r)
{
    cr_node *xs[3] = { cr_example_var(g, r, crest_shape(3, 2, 3, 4), -1, 1, 0),
                       cr_example_var(g, r, crest_shape(3, 2, 1, 4), -1, 1, 0),
                       cr_example_var(g, r, crest_shape(3, 2, 2, 4), -1, 1, 0) };
    return crest_op_concat(g, xs, 3, 1);
}

const cr_op_def cr_op_concat_def = { .name = "concat", .arity = -1, .shape = concat_shape,
    .forward = concat_fwd, .backward = concat_bwd, .example = concat_ex, .gc_tol = 2e-3 };

crest_node *crest_op_concat(crest_graph *g, crest_node **xs, int n, int axis)
{
    if (n < 1)
        return cr_graph_fail(g, CREST_E_ARG, "concat: no inputs");
    return cr_op(g, &cr_op_concat_def, xs, n, &(axis_attr){ axis }, sizeof(axis_attr));
}

/* ---- sum / mean over one axis, or all (axis = CR_AXIS_ALL) ------------- */

typedef struct { int axis; bool keepdims, mean; int ext; } reduce_attr;   /* ext: 1 max, -1 min */

static int reduce_shape(cr_node *n)
{
    const reduce_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    if (a->axis == CR_AXIS_ALL) {
        n->shape = (cr_dims){ .ndim = 0 };
        return CREST_OK;
    }
    int ax = norm_axis(a->axis, x->ndim);
    if (ax < 0 || ax >= x->ndim)
        return cr_fail(CREST_E_SHAPE, "%s: axis %d out of range for rank %d", n->op->name,
                       a->axis, x->ndim);
    cr_dims o = { 0 };
    for (int k = 0; k < x->ndim; k++) {
        if (k == ax && !a->keepdims)
            continue;
        o.d[o.ndim++] = k == ax ? 1 : x->d[k];
    }
    n->shape = o;
    return CREST_OK;
}

static void reduce_geom(const cr_node *n, int64_t *outer, int64_t *len, int64_t *inner)
{
    const reduce_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    *outer = *inner = 1;
    if (a->axis == CR_AXIS_ALL) {
        *len = cr_dims_count(x);
        return;
    }
    int ax = norm_axis(a->axis, x->ndim);
    for (int k = 0; k < ax; k++)
        *outer *= x->d[k];
    *len = x->d[ax];
    for (int k = ax + 1; k < x->ndim; k++)
        *inner *= x->d[k];
}

/* One reduced value from a row whose element k is row[k * inner]: the sum
 * (in double) or mean, or for max / min (ext > 0 / < 0) the extreme. */
static float reduce_row(const reduce_attr *a, const float *row, int64_t len, int64_t inner)
{
    if (a->ext) {
        float m = row[0];
        for (int64_t k = 1; k < len; k++) {
            float v = row[k * inner];
            if (a->ext > 0 ? v > m : v < m)
                m = v;
        }
        return m;
    }
    double s = 0;
    for (int64_t k = 0; k < len; k++)
        s += row[k * inner];
    return (float)(a->mean && len ? s / (double)len : s);
}

/* sum, mean, max and min share the forward pass. */
static void reduce_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const reduce_attr *a = n->attr;
    int64_t outer, len, inner;
    reduce_geom(n, &outer, &len, &inner);
    const float *x = n->in[0]->val;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            n->val[o * inner + i] = reduce_row(a, x + o * len * inner + i, len, inner);
}

static void reduce_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const reduce_attr *a = n->attr;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t outer, len, inner;
    reduce_geom(n, &outer, &len, &inner);
    float scale = a->mean && len ? 1.0f / (float)len : 1.0f;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            float d = n->grad[o * inner + i] * scale;
            for (int64_t k = 0; k < len; k++)
                dx[(o * len + k) * inner + i] += d;
        }
}

static cr_node *sum_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(3, 2, 3, 4), -1, 1, 0);
    return crest_op_sum(g, crest_op_sum(g, x, 1, true), -1, false);
}
static cr_node *mean_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(3, 2, 3, 4), -1, 1, 0);
    return crest_op_mean(g, crest_op_mean(g, x, -2, false), CR_AXIS_ALL, false);
}

const cr_op_def cr_op_sum_def = { .name = "sum", .arity = 1, .shape = reduce_shape,
    .forward = reduce_fwd, .backward = reduce_bwd, .example = sum_ex, .gc_tol = 2e-3 };
const cr_op_def cr_op_mean_def = { .name = "mean", .arity = 1, .shape = reduce_shape,
    .forward = reduce_fwd, .backward = reduce_bwd, .example = mean_ex, .gc_tol = 2e-3 };

crest_node *crest_op_sum(crest_graph *g, crest_node *x, int axis, bool keepdims)
{
    return cr_op(g, &cr_op_sum_def, &x, 1, &(reduce_attr){ axis, keepdims, false, 0 },
                 sizeof(reduce_attr));
}

crest_node *crest_op_mean(crest_graph *g, crest_node *x, int axis, bool keepdims)
{
    return cr_op(g, &cr_op_mean_def, &x, 1, &(reduce_attr){ axis, keepdims, true, 0 },
                 sizeof(reduce_attr));
}

/* max / min (forward: reduce_fwd): the gradient is shared equally by the
 * elements equal to the extreme (TensorFlow's reduce_max gradient). */
static void extreme_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t outer, len, inner;
    reduce_geom(n, &outer, &len, &inner);
    const float *x = n->in[0]->val;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            float m = n->val[o * inner + i];
            int64_t ties = 0;
            for (int64_t k = 0; k < len; k++)
                ties += x[(o * len + k) * inner + i] == m;
            float d = ties ? n->grad[o * inner + i] / (float)ties : 0;
            for (int64_t k = 0; k < len; k++)
                if (x[(o * len + k) * inner + i] == m)
                    dx[(o * len + k) * inner + i] += d;
        }
}

static cr_node *max_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(3, 2, 3, 4), -1, 1, 0);
    return cr_op_reduce_extreme(g, cr_op_reduce_extreme(g, x, 1, true, true), CR_AXIS_ALL,
                                false, true);
}
static cr_node *min_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(3, 2, 3, 4), -1, 1, 0);
    return cr_op_reduce_extreme(g, x, -1, false, false);
}

const cr_op_def cr_op_reduce_max_def = { .name = "reduce_max", .arity = 1,
    .shape = reduce_shape, .forward = reduce_fwd, .backward = extreme_bwd, .example = max_ex,
    .gc_tol = 2e-3 };
const cr_op_def cr_op_reduce_min_def = { .name = "reduce_min", .arity = 1,
    .shape = reduce_shape, .forward = reduce_fwd, .backward = extreme_bwd, .example = min_ex,
    .gc_tol = 2e-3 };

cr_node *cr_op_reduce_extreme(cr_graph *g, cr_node *x, int axis, bool keepdims, bool max)
{
    return cr_op(g, max ? &cr_op_reduce_max_def : &cr_op_reduce_min_def, &x, 1,
                 &(reduce_attr){ axis, keepdims, false, max ? 1 : -1 }, sizeof(reduce_attr));
}

/* ---- views for exporters ------------------------------------------------ */

bool cr_concat_axis(const cr_node *n, int *axis)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_concat_def)
        return false;
    *axis = norm_axis(((const axis_attr *)n->attr)->axis, n->shape.ndim);
    return true;
}

bool cr_reduce_parts(const cr_node *n, int *axis, bool *keepdims)
{
    if (!n || n->kind != CR_NODE_OP || (n->op != &cr_op_sum_def && n->op != &cr_op_mean_def))
        return false;
    const reduce_attr *a = n->attr;
    *axis = a->axis == CR_AXIS_ALL ? CR_AXIS_ALL : norm_axis(a->axis, n->in[0]->shape.ndim);
    *keepdims = a->keepdims;
    return true;
}
