/* dot.c - Keras' batch_dot (the Dot merge) and l2_normalize (its normalize
 * option).
 *
 * batch_dot(x, y, ax, ay): per sample, the sum over x's axis ax and y's
 * axis ay (same length K); the output's axes are x's others then y's
 * others, in order, [batch, 1] when neither has any (Keras). Each input is
 * seen as [batch, P, K, Q] around its axis, so any rank works.
 */
#include "../internal.h"

#include <math.h>

typedef struct dot_attr { int ax, ay; } dot_attr;

/* [P, K, Q] of an input (full shape, batch first) around axis ax */
static void around(const cr_dims *s, int ax, int64_t *P, int64_t *K, int64_t *Q)
{
    *P = *Q = 1;
    for (int i = 1; i < ax; i++)
        *P *= s->d[i];
    for (int i = ax + 1; i < s->ndim; i++)
        *Q *= s->d[i];
    *K = s->d[ax];
}

static int dot_shape(cr_node *n)
{
    const dot_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape, *y = &n->in[1]->shape;
    char sx[96], sy[96];
    if (a->ax < 1 || a->ax >= x->ndim || a->ay < 1 || a->ay >= y->ndim || x->d[0] != y->d[0] ||
        x->d[a->ax] != y->d[a->ay])
        return cr_fail(CREST_E_SHAPE, "batch_dot: %s and %s over axes %d and %d",
                       cr_dims_str(x, sx, sizeof sx), cr_dims_str(y, sy, sizeof sy), a->ax,
                       a->ay);
    cr_dims o = { .ndim = 1, .d = { x->d[0] } };
    for (int i = 1; i < x->ndim; i++)
        if (i != a->ax)
            o.d[o.ndim++] = x->d[i];
    for (int i = 1; i < y->ndim; i++)
        if (i != a->ay) {
            if (o.ndim >= CR_MAX_DIMS)
                return cr_fail(CREST_E_SHAPE, "batch_dot: the output has more than %d axes",
                               CR_MAX_DIMS);
            o.d[o.ndim++] = y->d[i];
        }
    if (o.ndim == 1)
        o.d[o.ndim++] = 1;
    n->shape = o;
    return CREST_OK;
}

/* Offsets of element (i, k) of a sample: i runs over the P * Q other cells */
static inline int64_t at(int64_t i, int64_t k, int64_t K, int64_t Q)
{
    return (i / Q) * K * Q + k * Q + i % Q;
}

typedef struct dot_geo { int64_t B, Px, Qx, Py, Qy, K, I, J; } dot_geo;

static dot_geo geometry(const cr_node *n)
{
    const dot_attr *a = n->attr;
    dot_geo d;
    int64_t K;
    around(&n->in[0]->shape, a->ax, &d.Px, &d.K, &d.Qx);
    around(&n->in[1]->shape, a->ay, &d.Py, &K, &d.Qy);
    d.B = n->shape.d[0];
    d.I = d.Px * d.Qx;
    d.J = d.Py * d.Qy;
    return d;
}

static void dot_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    dot_geo d = geometry(n);
    for (int64_t b = 0; b < d.B; b++) {
        const float *x = n->in[0]->val + b * d.I * d.K, *y = n->in[1]->val + b * d.J * d.K;
        float *o = n->val + b * d.I * d.J;
        for (int64_t i = 0; i < d.I; i++)
            for (int64_t j = 0; j < d.J; j++) {
                double s = 0;
                for (int64_t k = 0; k < d.K; k++)
                    s += (double)x[at(i, k, d.K, d.Qx)] * y[at(j, k, d.K, d.Qy)];
                o[i * d.J + j] = (float)s;
            }
    }
}

static void dot_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    dot_geo d = geometry(n);
    float *gx = n->in[0]->grad, *gy = n->in[1]->grad;
    for (int64_t b = 0; b < d.B; b++) {
        const float *x = n->in[0]->val + b * d.I * d.K, *y = n->in[1]->val + b * d.J * d.K;
        const float *dy = n->grad + b * d.I * d.J;
        for (int64_t i = 0; i < d.I; i++)
            for (int64_t j = 0; j < d.J; j++) {
                float g = dy[i * d.J + j];
                for (int64_t k = 0; k < d.K; k++) {
                    int64_t ox = at(i, k, d.K, d.Qx), oy = at(j, k, d.K, d.Qy);
                    if (gx)
                        gx[b * d.I * d.K + ox] += g * y[oy];
                    if (gy)
                        gy[b * d.J * d.K + oy] += g * x[ox];
                }
            }
    }
}

static cr_node *dot_ex(cr_graph *g, cr_rng *r)
{
    /* [1,3,4] . [1,2,3] over (1, 2): [1,4,2]; then . [1,2] over (2, 1): [1,4] */
    cr_node *x = cr_example_var(g, r, crest_shape(3, 1, 3, 4), -1, 1, 0);
    cr_node *y = cr_example_var(g, r, crest_shape(3, 1, 2, 3), -1, 1, 0);
    cr_node *xy = cr_op_batch_dot(g, x, y, 1, 2);          /* [1, 4, 2] */
    cr_node *z = cr_example_var(g, r, crest_shape(2, 1, 2), -1, 1, 0);
    return cr_op_batch_dot(g, xy, z, 2, 1);                /* [1, 4] */
}

const cr_op_def cr_op_batch_dot_def = { .name = "batch_dot", .arity = 2, .shape = dot_shape,
    .forward = dot_fwd, .backward = dot_bwd, .example = dot_ex, .gc_tol = 2e-3 };

bool cr_batch_dot_parts(const cr_node *n, int *ax, int *ay)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_batch_dot_def)
        return false;
    *ax = ((const dot_attr *)n->attr)->ax;
    *ay = ((const dot_attr *)n->attr)->ay;
    return true;
}

cr_node *cr_op_batch_dot(cr_graph *g, cr_node *x, cr_node *y, int ax, int ay)
{
    return cr_op(g, &cr_op_batch_dot_def, (cr_node *[]){ x, y }, 2, &(dot_attr){ ax, ay },
                 sizeof(dot_attr));
}

/* ---- l2_normalize: x / sqrt(max(sum over the axis of x^2, eps)) -------- */

typedef struct l2n_attr { int axis; float eps; } l2n_attr;

static int l2n_shape(cr_node *n)
{
    const l2n_attr *a = n->attr;
    if (a->axis < 1 || a->axis >= n->in[0]->shape.ndim)
        return cr_fail(CREST_E_SHAPE, "l2_normalize: axis %d of a rank-%d tensor", a->axis,
                       n->in[0]->shape.ndim);
    n->shape = n->in[0]->shape;
    return CREST_OK;
}

static void l2n_geometry(const cr_node *n, int64_t *O, int64_t *K, int64_t *Q)
{
    around(&n->shape, ((const l2n_attr *)n->attr)->axis, O, K, Q);
    *O *= n->shape.d[0];
}

static double l2n_norm(const float *x, int64_t K, int64_t Q, float eps)
{
    double s = 0;
    for (int64_t k = 0; k < K; k++)
        s += (double)x[k * Q] * x[k * Q];
    return s > eps ? sqrt(s) : -sqrt((double)eps);   /* negative: eps took over */
}

static void l2n_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    float eps = ((const l2n_attr *)n->attr)->eps;
    int64_t O, K, Q;
    l2n_geometry(n, &O, &K, &Q);
    for (int64_t o = 0; o < O; o++)
        for (int64_t q = 0; q < Q; q++) {
            const float *x = n->in[0]->val + o * K * Q + q;
            float *y = n->val + o * K * Q + q;
            double nm = fabs(l2n_norm(x, K, Q, eps));
            for (int64_t k = 0; k < K; k++)
                y[k * Q] = (float)(x[k * Q] / nm);
        }
}

/* dx = (dy - y sum(dy y)) / |x|, or dy / sqrt(eps) where eps took over */
static void l2n_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    if (!n->in[0]->grad)
        return;
    float eps = ((const l2n_attr *)n->attr)->eps;
    int64_t O, K, Q;
    l2n_geometry(n, &O, &K, &Q);
    for (int64_t o = 0; o < O; o++)
        for (int64_t q = 0; q < Q; q++) {
            int64_t base = o * K * Q + q;
            const float *x = n->in[0]->val + base, *y = n->val + base, *dy = n->grad + base;
            float *dx = n->in[0]->grad + base;
            double nm = l2n_norm(x, K, Q, eps), s = 0;
            if (nm > 0)
                for (int64_t k = 0; k < K; k++)
                    s += (double)dy[k * Q] * y[k * Q];
            for (int64_t k = 0; k < K; k++)
                dx[k * Q] += (float)((dy[k * Q] - y[k * Q] * s) / fabs(nm));
        }
}

static cr_node *l2n_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_l2_normalize(g, cr_example_var(g, r, crest_shape(3, 2, 4, 3), -1, 1, 0), 1,
                              1e-12f);
}

const cr_op_def cr_op_l2_normalize_def = { .name = "l2_normalize", .arity = 1,
    .shape = l2n_shape, .forward = l2n_fwd, .backward = l2n_bwd, .example = l2n_ex,
    .gc_tol = 2e-3 };

bool cr_l2_normalize_parts(const cr_node *n, int *axis, float *eps)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_l2_normalize_def)
        return false;
    *axis = ((const l2n_attr *)n->attr)->axis;
    *eps = ((const l2n_attr *)n->attr)->eps;
    return true;
}

cr_node *cr_op_l2_normalize(cr_graph *g, cr_node *x, int axis, float eps)
{
    return cr_op(g, &cr_op_l2_normalize_def, &x, 1, &(l2n_attr){ axis, eps },
                 sizeof(l2n_attr));
}
