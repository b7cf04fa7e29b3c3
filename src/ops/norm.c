/* norm.c - batch normalization over the last axis (channels of NHWC, or
 * features of [batch, features]).
 *
 * Inputs: x, moving_mean, moving_variance, then gamma if scale, then beta
 * if center. Two ops:
 *  - batchnorm (inference): y = (x - mean) / sqrt(var + eps) * gamma + beta
 *    with the moving statistics; gradients reach x, gamma, beta, and the
 *    statistics too (they are constants for Keras, but the op is exact).
 *  - batchnorm_train: batch statistics over every axis but the last
 *    (biased variance, as TF.js and Keras 3), and the moving statistics
 *    updated in forward as Keras does: m -= (m - batch) * (1 - momentum).
 */
#include "../internal.h"

#include <math.h>

typedef struct bn_attr {
    float eps, momentum;
    bool scale, center;
} bn_attr;

enum { BN_X = 0, BN_MEAN, BN_VAR };

static cr_node *bn_gamma(const cr_node *n)
{
    return ((const bn_attr *)n->attr)->scale ? n->in[3] : NULL;
}
static cr_node *bn_beta(const cr_node *n)
{
    const bn_attr *a = n->attr;
    return a->center ? n->in[3 + a->scale] : NULL;
}

static int bn_shape(cr_node *n)
{
    const bn_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    if (n->n_in != 3 + a->scale + a->center)
        return cr_fail(CREST_E_ARG, "%s: %d inputs for scale=%d center=%d", n->op->name,
                       n->n_in, a->scale, a->center);
    if (x->ndim < 2)
        return cr_fail(CREST_E_SHAPE, "%s: input needs a batch and a channel axis", n->op->name);
    int64_t C = x->d[x->ndim - 1];
    for (int i = 1; i < n->n_in; i++)
        if (n->in[i]->shape.ndim != 1 || n->in[i]->shape.d[0] != C) {
            char s[96];
            return cr_fail(CREST_E_SHAPE, "%s: parameter %d is %s, the input has %lld channels",
                           n->op->name, i, cr_dims_str(&n->in[i]->shape, s, sizeof s),
                           (long long)C);
        }
    if (!(a->eps > 0))
        return cr_fail(CREST_E_ARG, "%s: epsilon %g must be positive", n->op->name, a->eps);
    n->shape = *x;
    return CREST_OK;
}

static int64_t channels(const cr_node *n) { return n->shape.d[n->shape.ndim - 1]; }

/* ---- inference --------------------------------------------------------- */

/* Per channel: mul = gamma / sqrt(var + eps), add = beta - mean * mul. */
static void bn_coeffs(const cr_node *n, float *mul, float *add)
{
    const bn_attr *a = n->attr;
    const cr_node *g = bn_gamma(n), *b = bn_beta(n);
    for (int64_t c = 0; c < channels(n); c++) {
        double inv = 1.0 / sqrt((double)n->in[BN_VAR]->val[c] + a->eps);
        double m = (g ? g->val[c] : 1.0) * inv;
        mul[c] = (float)m;
        add[c] = (float)((b ? b->val[c] : 0.0) - n->in[BN_MEAN]->val[c] * m);
    }
}

static int64_t bn_aux(const cr_node *n) { return 2 * channels(n); }

typedef struct bn_job { const float *x, *mul, *add; float *y; int64_t C; } bn_job;

static void bn_rows(void *ctx, int64_t lo, int64_t hi)
{
    const bn_job *j = ctx;
    int64_t C = j->C;
    for (int64_t r = lo; r < hi; r++)
        for (int64_t c = 0; c < C; c++)
            j->y[r * C + c] = j->x[r * C + c] * j->mul[c] + j->add[c];
}

static void bn_fwd(cr_node *n, const cr_ctx *c)
{
    int64_t C = channels(n);
    bn_coeffs(n, n->aux, n->aux + C);
    bn_job j = { n->in[0]->val, n->aux, n->aux + C, n->val, C };
    cr_parallel_rows(c, cr_dims_count(&n->shape) / C, C, bn_rows, &j);
}

/* Backward, channels in blocks of BN_BLOCK: rows outer (each row's block is
 * contiguous), channels inner, the per-channel sums in double over the rows
 * in order, so every channel's bits are the same for any thread count
 * (threads take whole blocks). */
#define BN_BLOCK 64

typedef struct bnb_job {
    const float *x, *dy, *mean, *var, *gamma;   /* gamma NULL: 1 */
    float *dx;                                  /* NULL: x needs no gradient */
    float *dgamma, *dbeta, *dmean, *dvar;       /* each NULL when not needed */
    double eps;
    int64_t C, rows;
} bnb_job;

static void bnb_blocks(void *ctx, int64_t lo, int64_t hi)
{
    const bnb_job *j = ctx;
    int64_t C = j->C;
    for (int64_t blk = lo; blk < hi; blk++) {
        int64_t k0 = blk * BN_BLOCK, nk = C - k0 < BN_BLOCK ? C - k0 : BN_BLOCK;
        double inv[BN_BLOCK], gam[BN_BLOCK], mu[BN_BLOCK], sdy[BN_BLOCK], sdyx[BN_BLOCK];
        for (int64_t k = 0; k < nk; k++) {
            inv[k] = 1.0 / sqrt((double)j->var[k0 + k] + j->eps);
            gam[k] = j->gamma ? j->gamma[k0 + k] : 1.0;
            mu[k] = j->mean[k0 + k];
            sdy[k] = sdyx[k] = 0;   /* sum dy, sum dy * (x - mean) */
        }
        for (int64_t r = 0; r < j->rows; r++) {
            const float *x = j->x + r * C + k0, *dy = j->dy + r * C + k0;
            for (int64_t k = 0; k < nk; k++) {
                double d = dy[k];
                sdy[k] += d;
                sdyx[k] += d * ((double)x[k] - mu[k]);
            }
            if (j->dx) {
                float *dx = j->dx + r * C + k0;
                for (int64_t k = 0; k < nk; k++)
                    dx[k] += (float)((double)dy[k] * gam[k] * inv[k]);
            }
        }
        for (int64_t k = 0; k < nk; k++) {
            if (j->dbeta)
                j->dbeta[k0 + k] += (float)sdy[k];
            if (j->dgamma)
                j->dgamma[k0 + k] += (float)(sdyx[k] * inv[k]);
            if (j->dmean)
                j->dmean[k0 + k] += (float)(-sdy[k] * gam[k] * inv[k]);
            if (j->dvar)
                j->dvar[k0 + k] += (float)(-0.5 * sdyx[k] * gam[k] * inv[k] * inv[k] * inv[k]);
        }
    }
}

static void bn_bwd(cr_node *n, const cr_ctx *c)
{
    const bn_attr *a = n->attr;
    int64_t C = channels(n), rows = cr_dims_count(&n->shape) / C;
    cr_node *g = bn_gamma(n), *b = bn_beta(n);
    bnb_job j = { .x = n->in[0]->val, .dy = n->grad, .mean = n->in[BN_MEAN]->val,
                  .var = n->in[BN_VAR]->val, .gamma = g ? g->val : NULL,
                  .dx = n->in[0]->grad, .dgamma = g ? g->grad : NULL,
                  .dbeta = b ? b->grad : NULL, .dmean = n->in[BN_MEAN]->grad,
                  .dvar = n->in[BN_VAR]->grad, .eps = a->eps, .C = C, .rows = rows };
    cr_parallel_rows(c, (C + BN_BLOCK - 1) / BN_BLOCK, rows * BN_BLOCK * 4, bnb_blocks, &j);
}

/* ---- training ---------------------------------------------------------- */

/* aux: xhat [rows, C], then inv_std [C]. */
static int64_t bnt_aux(const cr_node *n) { return cr_dims_count(&n->shape) + channels(n); }

static void bnt_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const bn_attr *a = n->attr;
    int64_t C = channels(n), rows = cr_dims_count(&n->shape) / C;
    const cr_node *g = bn_gamma(n), *b = bn_beta(n);
    const float *x = n->in[0]->val;
    float *xhat = n->aux, *inv = n->aux + rows * C;
    float *mm = n->in[BN_MEAN]->val, *mv = n->in[BN_VAR]->val;
    for (int64_t k = 0; k < C; k++) {
        double s = 0, ss = 0;
        for (int64_t r = 0; r < rows; r++)
            s += x[r * C + k];
        double mu = s / (double)rows;
        for (int64_t r = 0; r < rows; r++) {
            double d = x[r * C + k] - mu;
            ss += d * d;
        }
        double var = ss / (double)rows, is = 1.0 / sqrt(var + a->eps);
        inv[k] = (float)is;
        double gam = g ? g->val[k] : 1.0, bet = b ? b->val[k] : 0.0;
        for (int64_t r = 0; r < rows; r++) {
            double xh = (x[r * C + k] - mu) * is;
            xhat[r * C + k] = (float)xh;
            n->val[r * C + k] = (float)(xh * gam + bet);
        }
        double decay = 1.0 - (double)a->momentum;
        mm[k] = (float)(mm[k] - (mm[k] - mu) * decay);
        mv[k] = (float)(mv[k] - (mv[k] - var) * decay);
    }
    for (int i = BN_MEAN; i <= BN_VAR; i++)   /* moving statistics changed */
        if (n->in[i]->w)
            n->in[i]->w->version++;
}

static void bnt_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    int64_t C = channels(n), rows = cr_dims_count(&n->shape) / C;
    cr_node *g = bn_gamma(n), *b = bn_beta(n);
    const float *dy = n->grad, *xhat = n->aux, *inv = n->aux + rows * C;
    float *dx = n->in[0]->grad;
    for (int64_t k = 0; k < C; k++) {
        double sdy = 0, sdyx = 0;
        for (int64_t r = 0; r < rows; r++) {
            sdy += dy[r * C + k];
            sdyx += (double)dy[r * C + k] * xhat[r * C + k];
        }
        if (b && b->grad)
            b->grad[k] += (float)sdy;
        if (g && g->grad)
            g->grad[k] += (float)sdyx;
        if (!dx)
            continue;
        double f = (g ? g->val[k] : 1.0) * inv[k] / (double)rows;
        for (int64_t r = 0; r < rows; r++)
            dx[r * C + k] += (float)(f * ((double)rows * dy[r * C + k] - sdy -
                                          xhat[r * C + k] * sdyx));
    }
}

static cr_node *bn_example(cr_graph *g, cr_rng *r, bool training, bool scale, bool center)
{
    cr_node *in[5];
    int k = 0;
    in[k++] = cr_example_var(g, r, crest_shape(4, 2, 3, 2, 4), -1, 1, 0);
    in[k++] = cr_example_var(g, r, crest_shape(1, 4), -0.5f, 0.5f, 0);
    in[k++] = cr_example_var(g, r, crest_shape(1, 4), 0.5f, 1.5f, 0);
    if (scale)
        in[k++] = cr_example_var(g, r, crest_shape(1, 4), 0.5f, 1.5f, 0);
    if (center)
        in[k++] = cr_example_var(g, r, crest_shape(1, 4), -1, 1, 0);
    cr_node *gm = scale ? in[3] : NULL, *bt = center ? in[3 + scale] : NULL;
    return cr_op_batchnorm(g, in[0], in[1], in[2], gm, bt, 1e-3f, 0.9f, training);
}
static cr_node *bn_ex(cr_graph *g, cr_rng *r) { return bn_example(g, r, false, true, true); }
static cr_node *bnt_ex(cr_graph *g, cr_rng *r) { return bn_example(g, r, true, false, true); }

const cr_op_def cr_op_batchnorm_def = { .name = "batchnorm", .arity = -1, .shape = bn_shape,
    .forward = bn_fwd, .backward = bn_bwd, .aux_size = bn_aux, .example = bn_ex,
    .gc_tol = 2e-3 };
const cr_op_def cr_op_batchnorm_train_def = { .name = "batchnorm_train", .arity = -1,
    .shape = bn_shape, .forward = bnt_fwd, .backward = bnt_bwd, .aux_size = bnt_aux,
    .example = bnt_ex, .gc_tol = 3e-3 };

cr_node *cr_op_batchnorm(cr_graph *g, cr_node *x, cr_node *mean, cr_node *var, cr_node *gamma,
                         cr_node *beta, float eps, float momentum, bool training)
{
    cr_node *in[5] = { x, mean, var };
    int k = 3;
    if (gamma)
        in[k++] = gamma;
    if (beta)
        in[k++] = beta;
    bn_attr a = { eps, momentum, gamma != NULL, beta != NULL };
    return cr_op(g, training ? &cr_op_batchnorm_train_def : &cr_op_batchnorm_def, in, k, &a,
                 sizeof a);
}

bool cr_bn_parts(const cr_node *n, cr_node **mean, cr_node **var, cr_node **gamma,
                 cr_node **beta, float *eps)
{
    if (!n || n->kind != CR_NODE_OP || n->op != &cr_op_batchnorm_def)
        return false;
    *mean = n->in[BN_MEAN];
    *var = n->in[BN_VAR];
    *gamma = bn_gamma(n);
    *beta = bn_beta(n);
    *eps = ((const bn_attr *)n->attr)->eps;
    return true;
}
