/* loss.c - cross-entropy losses and the L2 penalty, as scalar ops.
 *
 * Keras semantics: per-sample losses, times per-sample weights (class
 * weights), summed and divided by the batch size. Probabilities (not
 * logits) are renormalized to sum to one and clipped to [eps, 1 - eps]
 * with eps = 1e-7, as tf.keras does; gradients are zero where clipped.
 * Inputs: out [B, K], target ([B] class ids for sparse, else [B, K]),
 * optional sample weights [B].
 */
#include "../internal.h"

#include <math.h>

#define EPS 1e-7

typedef enum { L_SPARSE, L_CCE, L_BCE } loss_kind;

typedef struct { int kind; bool logits; float smoothing; } loss_attr;

static int loss_shape(cr_node *n)
{
    const loss_attr *a = n->attr;
    const cr_dims *o = &n->in[0]->shape, *t = &n->in[1]->shape;
    char so[96], st[96];
    if (o->ndim != 2)
        return cr_fail(CREST_E_SHAPE, "loss: model output %s must be [batch, classes]",
                       cr_dims_str(o, so, sizeof so));
    bool ok = a->kind == L_SPARSE ? t->ndim == 1 && t->d[0] == o->d[0] : cr_dims_eq(o, t);
    if (!ok)
        return cr_fail(CREST_E_SHAPE, "loss: targets %s do not fit model output %s",
                       cr_dims_str(t, st, sizeof st), cr_dims_str(o, so, sizeof so));
    if (n->n_in == 3 && (n->in[2]->shape.ndim != 1 || n->in[2]->shape.d[0] != o->d[0]))
        return cr_fail(CREST_E_SHAPE, "loss: sample weights %s for batch %lld",
                       cr_dims_str(&n->in[2]->shape, st, sizeof st), (long long)o->d[0]);
    n->shape = (cr_dims){ .ndim = 0 };
    return CREST_OK;
}

/* aux keeps, per row, what backward needs: softmax / sigmoid of logits. */
static int64_t loss_aux(const cr_node *n) { return cr_dims_count(&n->in[0]->shape); }

/* Target for class k of row r after label smoothing. */
static float target_of(const cr_node *n, int64_t r, int64_t k, int64_t K)
{
    const loss_attr *a = n->attr;
    float y;
    if (a->kind == L_SPARSE)
        y = (int64_t)n->in[1]->val[r] == k ? 1.0f : 0.0f;
    else
        y = n->in[1]->val[r * K + k];
    if (a->smoothing > 0)
        y = a->kind == L_BCE ? y * (1 - a->smoothing) + 0.5f * a->smoothing
                             : y * (1 - a->smoothing) + a->smoothing / (float)K;
    return y;
}

static double clipd(double p) { return p < EPS ? EPS : p > 1 - EPS ? 1 - EPS : p; }

static void loss_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const loss_attr *a = n->attr;
    int64_t B = n->in[0]->shape.d[0], K = n->in[0]->shape.d[1];
    const float *x = n->in[0]->val, *sw = n->n_in == 3 ? n->in[2]->val : NULL;
    double total = 0;
    for (int64_t r = 0; r < B; r++) {
        const float *xr = x + r * K;
        float *ar = n->aux + r * K;
        double l = 0;
        if (a->kind == L_BCE) {
            for (int64_t k = 0; k < K; k++) {
                double y = target_of(n, r, k, K), z = xr[k];
                if (a->logits) {
                    ar[k] = (float)(1 / (1 + exp(-z)));
                    l += (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
                } else {
                    double p = clipd(z);
                    l -= y * log(p) + (1 - y) * log(1 - p);
                }
            }
            l /= (double)K;
        } else if (a->logits) {
            double mx = xr[0], s = 0, ysum = 0, yz = 0;
            for (int64_t k = 1; k < K; k++)
                mx = xr[k] > mx ? xr[k] : mx;
            for (int64_t k = 0; k < K; k++)
                s += exp(xr[k] - mx);
            for (int64_t k = 0; k < K; k++) {
                double y = target_of(n, r, k, K);
                ar[k] = (float)(exp(xr[k] - mx) / s);
                ysum += y;
                yz += y * xr[k];
            }
            l = ysum * (log(s) + mx) - yz;
        } else {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += xr[k];
            for (int64_t k = 0; k < K; k++) {
                double y = target_of(n, r, k, K);
                if (y != 0)
                    l -= y * log(clipd(s > 0 ? xr[k] / s : 0));
            }
        }
        total += (sw ? sw[r] : 1.0) * l;
    }
    n->val[0] = (float)(total / (double)B);
}

static void loss_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const loss_attr *a = n->attr;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t B = n->in[0]->shape.d[0], K = n->in[0]->shape.d[1];
    const float *x = n->in[0]->val, *sw = n->n_in == 3 ? n->in[2]->val : NULL;
    for (int64_t r = 0; r < B; r++) {
        double scale = n->grad[0] * (sw ? sw[r] : 1.0) / (double)B;
        const float *xr = x + r * K, *ar = n->aux + r * K;
        float *dr = dx + r * K;
        if (a->kind == L_BCE) {
            scale /= (double)K;
            for (int64_t k = 0; k < K; k++) {
                double y = target_of(n, r, k, K);
                if (a->logits) {
                    dr[k] += (float)(scale * (ar[k] - y));
                } else {
                    double p = xr[k];
                    if (p > EPS && p < 1 - EPS)
                        dr[k] += (float)(scale * (p - y) / (p * (1 - p)));
                }
            }
        } else if (a->logits) {
            double ysum = 0;
            for (int64_t k = 0; k < K; k++)
                ysum += target_of(n, r, k, K);
            for (int64_t k = 0; k < K; k++)
                dr[k] += (float)(scale * (ar[k] * ysum - target_of(n, r, k, K)));
        } else {
            double s = 0, ysum = 0;
            for (int64_t k = 0; k < K; k++)
                s += xr[k];
            if (s <= 0)
                continue;
            /* d/dp_j sum_k -y_k log(p_k / s) = -y_j / p_j + sum(y) / s,
             * with the clipped classes contributing no gradient */
            for (int64_t k = 0; k < K; k++) {
                double y = target_of(n, r, k, K), q = xr[k] / s;
                if (y != 0 && q > EPS && q < 1 - EPS)
                    ysum += y;
            }
            for (int64_t k = 0; k < K; k++) {
                double y = target_of(n, r, k, K), q = xr[k] / s, d = ysum / s;
                if (y != 0 && q > EPS && q < 1 - EPS)
                    d -= y / xr[k];
                dr[k] += (float)(scale * d);
            }
        }
    }
}

static cr_node *loss_node(cr_graph *g, cr_node *out, cr_node *t, cr_node *sw, loss_attr a);

/* Examples: random outputs, fixed targets, weights; each loss mode. */
static cr_node *loss_example(cr_graph *g, cr_rng *r, loss_attr a)
{
    int B = 3, K = 4;
    cr_node *out;
    if (a.logits)
        out = cr_example_var(g, r, crest_shape(2, B, K), -2, 2, 0);
    else   /* probabilities-like: positive, away from the clip */
        out = cr_example_var(g, r, crest_shape(2, B, K), 0.05f, 1, 0);
    cr_node *t = a.kind == L_SPARSE ? cr_example_var(g, r, crest_shape(1, B), 0, 0, 0)
                                    : cr_example_var(g, r, crest_shape(2, B, K), 0, 1, 0);
    cr_node *sw = cr_example_var(g, r, crest_shape(1, B), 0.5f, 2, 0);
    if (!t || !sw)
        return NULL;
    t->w->trainable = sw->w->trainable = false;
    t->needs_grad = sw->needs_grad = false;
    if (a.kind == L_SPARSE)
        for (int i = 0; i < B; i++)
            t->w->val[i] = (float)(i % K);
    if (a.kind == L_BCE && !a.logits)   /* sigmoid-like outputs in (0, 1) */
        for (int i = 0; i < B * K; i++)
            out->w->val[i] = 0.1f + 0.8f * out->w->val[i] / 1.05f;
    return loss_node(g, out, t, sw, a);
}

static cr_node *sparse_ex(cr_graph *g, cr_rng *r)   /* with label smoothing */
{
    return loss_example(g, r, (loss_attr){ L_SPARSE, true, 0.1f });
}
static cr_node *sparse_p_ex(cr_graph *g, cr_rng *r)
{
    return loss_example(g, r, (loss_attr){ L_SPARSE, false, 0 });
}
static cr_node *cce_ex(cr_graph *g, cr_rng *r)
{
    return loss_example(g, r, (loss_attr){ L_CCE, true, 0.1f });
}
static cr_node *cce_p_ex(cr_graph *g, cr_rng *r)
{
    return loss_example(g, r, (loss_attr){ L_CCE, false, 0.1f });
}
static cr_node *bce_ex(cr_graph *g, cr_rng *r)
{
    return loss_example(g, r, (loss_attr){ L_BCE, true, 0.1f });
}
static cr_node *bce_p_ex(cr_graph *g, cr_rng *r)
{
    return loss_example(g, r, (loss_attr){ L_BCE, false, 0 });
}

#define LOSS_DEF(NAME, EX)                                                           \
    const cr_op_def cr_op_##NAME##_def = { .name = #NAME, .arity = -1,                \
        .shape = loss_shape, .forward = loss_fwd, .backward = loss_bwd,               \
        .aux_size = loss_aux, .example = EX, .gc_tol = 2e-2 };

/* One implementation, registered once per mode so each is gradient-checked. */
LOSS_DEF(sparse_cce, sparse_ex)
LOSS_DEF(sparse_cce_probs, sparse_p_ex)
LOSS_DEF(cce, cce_ex)
LOSS_DEF(cce_probs, cce_p_ex)
LOSS_DEF(bce, bce_ex)
LOSS_DEF(bce_probs, bce_p_ex)

static cr_node *loss_node(cr_graph *g, cr_node *out, cr_node *t, cr_node *sw, loss_attr a)
{
    const cr_op_def *defs[3][2] = { { &cr_op_sparse_cce_probs_def, &cr_op_sparse_cce_def },
                                    { &cr_op_cce_probs_def, &cr_op_cce_def },
                                    { &cr_op_bce_probs_def, &cr_op_bce_def } };
    if (a.smoothing < 0 || a.smoothing >= 1)
        return cr_graph_fail(g, CREST_E_ARG, "label_smoothing %g is not in [0, 1)",
                             a.smoothing);
    cr_node *in[3] = { out, t, sw };
    return cr_op(g, defs[a.kind][a.logits], in, sw ? 3 : 2, &a, sizeof a);
}

/* With probabilities from a softmax (sigmoid) op, use its logits: the
 * same loss, computed stably, as tf.keras does. */
static cr_node *logits_of(cr_node *out, const cr_op_def *act, bool *from_logits)
{
    if (!*from_logits && out && out->op == act) {
        *from_logits = true;
        return out->in[0];
    }
    return out;
}

cr_node *cr_op_sparse_cce_ls(cr_graph *g, cr_node *out, cr_node *labels, cr_node *sw,
                             bool from_logits, float smoothing)
{
    out = logits_of(out, &cr_activations[CREST_SOFTMAX].op, &from_logits);
    return loss_node(g, out, labels, sw, (loss_attr){ L_SPARSE, from_logits, smoothing });
}

cr_node *cr_op_sparse_cce(cr_graph *g, cr_node *out, cr_node *labels, cr_node *sw,
                          bool from_logits)
{
    return cr_op_sparse_cce_ls(g, out, labels, sw, from_logits, 0);
}

cr_node *cr_op_cce(cr_graph *g, cr_node *out, cr_node *target, cr_node *sw, bool from_logits,
                   float smoothing)
{
    out = logits_of(out, &cr_activations[CREST_SOFTMAX].op, &from_logits);
    return loss_node(g, out, target, sw, (loss_attr){ L_CCE, from_logits, smoothing });
}

cr_node *cr_op_bce(cr_graph *g, cr_node *out, cr_node *target, cr_node *sw, bool from_logits,
                   float smoothing)
{
    out = logits_of(out, &cr_activations[CREST_SIGMOID].op, &from_logits);
    return loss_node(g, out, target, sw, (loss_attr){ L_BCE, from_logits, smoothing });
}

/* ---- L2 penalty: factor * sum(w^2) ------------------------------------- */

typedef struct { float factor; } l2_attr;

static int l2_shape(cr_node *n)
{
    n->shape = (cr_dims){ .ndim = 0 };
    return CREST_OK;
}

static void l2_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const l2_attr *a = n->attr;
    int64_t cnt = cr_dims_count(&n->in[0]->shape);
    double s = 0;
    for (int64_t i = 0; i < cnt; i++)
        s += (double)n->in[0]->val[i] * n->in[0]->val[i];
    n->val[0] = (float)(a->factor * s);
}

static void l2_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const l2_attr *a = n->attr;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t cnt = cr_dims_count(&n->in[0]->shape);
    float k = 2 * a->factor * n->grad[0];
    for (int64_t i = 0; i < cnt; i++)
        dx[i] += k * n->in[0]->val[i];
}

static cr_node *l2_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_l2(g, cr_example_var(g, r, crest_shape(2, 3, 4), -1, 1, 0), 0.01f);
}

const cr_op_def cr_op_l2_def = { .name = "l2", .arity = 1, .shape = l2_shape,
    .forward = l2_fwd, .backward = l2_bwd, .example = l2_ex, .gc_tol = 2e-3 };

cr_node *cr_op_l2(cr_graph *g, cr_node *w, float factor)
{
    return cr_op(g, &cr_op_l2_def, &w, 1, &(l2_attr){ factor }, sizeof(l2_attr));
}
