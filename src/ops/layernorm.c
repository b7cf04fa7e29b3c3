/* layernorm.c - layer normalization (Keras' LayerNormalization) and
 * feature normalization with fixed statistics (Keras' Normalization).
 *
 * layernorm(x, gamma, beta): over the last `axes` axes of each sample, seen
 * as rows of D values: y = (x - mean) / sqrt(var + eps) * gamma + beta, the
 * biased variance, gamma / beta of D values (either may be NULL). aux keeps
 * each row's mean and 1 / sqrt(var + eps) for backward.
 *
 * normalize(x, mean, var): y = (x - mean) / max(sqrt(var), eps), or with
 * invert x * max(sqrt(var), eps) + mean; mean and var hold M values that
 * repeat over x (M = the size of x's last axes they cover, 1 for scalars).
 * They are statistics, not trained: backward reaches x only.
 */
#include "../internal.h"

#include <math.h>

typedef struct ln_attr { int axes; float eps; bool gamma, beta; } ln_attr;

static int64_t ln_D(const cr_node *n)
{
    int64_t D = 1;
    for (int i = n->shape.ndim - ((const ln_attr *)n->attr)->axes; i < n->shape.ndim; i++)
        D *= n->shape.d[i];
    return D;
}

static int ln_shape(cr_node *n)
{
    const ln_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    if (a->axes < 1 || a->axes >= x->ndim)
        return cr_fail(CREST_E_SHAPE, "layernorm: %d trailing axes of a rank-%d tensor",
                       a->axes, x->ndim);
    n->shape = *x;
    int64_t D = ln_D(n);
    for (int i = 1; i < n->n_in; i++)
        if (cr_dims_count(&n->in[i]->shape) != D)
            return cr_fail(CREST_E_SHAPE, "layernorm: gamma / beta of %lld values for rows "
                           "of %lld", (long long)cr_dims_count(&n->in[i]->shape),
                           (long long)D);
    return CREST_OK;
}

static int64_t ln_aux(const cr_node *n) { return 2 * (cr_dims_count(&n->shape) / ln_D(n)); }

/* x, then gamma and beta where present */
static const float *ln_in(const cr_node *n, bool beta, float **grad)
{
    const ln_attr *a = n->attr;
    int k = beta ? (a->gamma ? 2 : 1) : 1;
    if (beta ? !a->beta : !a->gamma) {
        *grad = NULL;
        return NULL;
    }
    *grad = n->in[k]->grad;
    return n->in[k]->val;
}

static void ln_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    float eps = ((const ln_attr *)n->attr)->eps, *dg, *db;
    const float *gm = ln_in(n, false, &dg), *bt = ln_in(n, true, &db);
    int64_t D = ln_D(n), R = cr_dims_count(&n->shape) / D;
    for (int64_t r = 0; r < R; r++) {
        const float *x = n->in[0]->val + r * D;
        float *y = n->val + r * D;
        double s = 0, v = 0;
        for (int64_t k = 0; k < D; k++)
            s += x[k];
        double mean = s / (double)D;
        for (int64_t k = 0; k < D; k++)
            v += (x[k] - mean) * (x[k] - mean);
        float rstd = (float)(1.0 / sqrt(v / (double)D + eps));
        n->aux[2 * r] = (float)mean;
        n->aux[2 * r + 1] = rstd;
        for (int64_t k = 0; k < D; k++) {
            float h = (x[k] - (float)mean) * rstd;
            y[k] = (gm ? h * gm[k] : h) + (bt ? bt[k] : 0.0f);
        }
    }
}

/* dh = dy gamma; dx = rstd (dh - mean(dh) - h mean(dh h)) */
static void ln_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    float *dg, *db, *dx = n->in[0]->grad;
    const float *gm = ln_in(n, false, &dg);
    ln_in(n, true, &db);
    int64_t D = ln_D(n), R = cr_dims_count(&n->shape) / D;
    for (int64_t r = 0; r < R; r++) {
        const float *x = n->in[0]->val + r * D, *dy = n->grad + r * D;
        float mean = n->aux[2 * r], rstd = n->aux[2 * r + 1];
        double sd = 0, sdh = 0;
        for (int64_t k = 0; k < D; k++) {
            float h = (x[k] - mean) * rstd, d = gm ? dy[k] * gm[k] : dy[k];
            if (dg)
                dg[k] += dy[k] * h;
            if (db)
                db[k] += dy[k];
            sd += d;
            sdh += (double)d * h;
        }
        if (!dx)
            continue;
        float md = (float)(sd / (double)D), mdh = (float)(sdh / (double)D);
        for (int64_t k = 0; k < D; k++) {
            float h = (x[k] - mean) * rstd, d = gm ? dy[k] * gm[k] : dy[k];
            dx[r * D + k] += rstd * (d - md - h * mdh);
        }
    }
}

static cr_node *ln_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(3, 2, 3, 4), -2, 2, 0);
    cr_node *gm = cr_example_var(g, r, crest_shape(2, 3, 4), 0.5f, 1.5f, 0);
    cr_node *bt = cr_example_var(g, r, crest_shape(2, 3, 4), -0.5f, 0.5f, 0);
    cr_node *b2 = cr_example_var(g, r, crest_shape(1, 4), -0.5f, 0.5f, 0);
    cr_node *y = cr_op_layernorm(g, x, gm, bt, 2, 1e-3f);
    return cr_op_layernorm(g, y, NULL, b2, 1, 0.1f);       /* no gamma */
}

const cr_op_def cr_op_layernorm_def = { .name = "layernorm", .arity = -1, .shape = ln_shape,
    .forward = ln_fwd, .backward = ln_bwd, .aux_size = ln_aux, .example = ln_ex,
    .gc_tol = 2e-3 };

cr_node *cr_op_layernorm(cr_graph *g, cr_node *x, cr_node *gamma, cr_node *beta, int axes,
                         float eps)
{
    cr_node *in[3] = { x };
    int k = 1;
    if (gamma)
        in[k++] = gamma;
    if (beta)
        in[k++] = beta;
    return cr_op(g, &cr_op_layernorm_def, in, k,
                 &(ln_attr){ axes, eps, gamma != NULL, beta != NULL }, sizeof(ln_attr));
}

bool cr_layernorm_parts(const cr_node *n, int *axes, float *eps, cr_node **gamma, cr_node **beta)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_layernorm_def)
        return false;
    const ln_attr *a = n->attr;
    *axes = a->axes;
    *eps = a->eps;
    *gamma = a->gamma ? n->in[1] : NULL;
    *beta = a->beta ? n->in[a->gamma ? 2 : 1] : NULL;
    return true;
}

/* ---- normalize: fixed mean and variance -------------------------------- */

typedef struct nz_attr { float eps; bool invert; } nz_attr;

static int nz_shape(cr_node *n)
{
    const cr_dims *x = &n->in[0]->shape;
    int64_t M = cr_dims_count(&n->in[1]->shape);
    int64_t tail = 1;
    bool fits = M == 1;
    for (int i = x->ndim - 1; i >= 1 && !fits; i--) {
        tail *= x->d[i];
        fits = tail == M;
    }
    if (!fits || cr_dims_count(&n->in[2]->shape) != M)
        return cr_fail(CREST_E_SHAPE, "normalize: mean / variance of %lld and %lld values do "
                       "not cover trailing axes of the input", (long long)M,
                       (long long)cr_dims_count(&n->in[2]->shape));
    n->shape = *x;
    return CREST_OK;
}

static float nz_den(float var, float eps)
{
    float s = sqrtf(var > 0 ? var : 0);
    return s > eps ? s : eps;
}

static void nz_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const nz_attr *a = n->attr;
    const float *x = n->in[0]->val, *m = n->in[1]->val, *v = n->in[2]->val;
    int64_t cnt = cr_dims_count(&n->shape), M = cr_dims_count(&n->in[1]->shape);
    for (int64_t i = 0; i < cnt; i++) {
        float d = nz_den(v[i % M], a->eps);
        n->val[i] = a->invert ? x[i] * d + m[i % M] : (x[i] - m[i % M]) / d;
    }
}

static void nz_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const nz_attr *a = n->attr;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    const float *v = n->in[2]->val;
    int64_t cnt = cr_dims_count(&n->shape), M = cr_dims_count(&n->in[1]->shape);
    for (int64_t i = 0; i < cnt; i++) {
        float d = nz_den(v[i % M], a->eps);
        dx[i] += a->invert ? n->grad[i] * d : n->grad[i] / d;
    }
}

static cr_node *nz_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(3, 2, 3, 4), -2, 2, 0);
    cr_node *m = cr_example_var(g, r, crest_shape(1, 4), -1, 1, 0);
    cr_node *v = cr_example_var(g, r, crest_shape(1, 4), 0.5f, 2, 0);
    m->w->trainable = v->w->trainable = false;
    m->needs_grad = v->needs_grad = false;
    cr_node *y = cr_op_normalize(g, x, m, v, 1e-7f, false);
    return cr_op_normalize(g, y, m, v, 1e-7f, true);
}

const cr_op_def cr_op_normalize_def = { .name = "normalize", .arity = 3, .shape = nz_shape,
    .forward = nz_fwd, .backward = nz_bwd, .example = nz_ex, .gc_tol = 2e-3 };

bool cr_normalize_parts(const cr_node *n, float *eps, bool *invert)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_normalize_def)
        return false;
    const nz_attr *a = n->attr;
    *eps = a->eps;
    *invert = a->invert;
    return true;
}

cr_node *cr_op_normalize(cr_graph *g, cr_node *x, cr_node *mean, cr_node *var, float eps,
                         bool invert)
{
    return cr_op(g, &cr_op_normalize_def, (cr_node *[]){ x, mean, var }, 3,
                 &(nz_attr){ eps, invert }, sizeof(nz_attr));
}
