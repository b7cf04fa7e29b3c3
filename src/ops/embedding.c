/* embedding.c - embedding_bag (a gather of table rows by ids read from the
 * model input, combined per row with weights: mean, sum or sqrtn, as TF's
 * embedding_lookup_sparse) and slice_cols (a column range of a [B, D]
 * input). Used by the DenseFeatures layer. */
#include "../features/features.h"

#include <math.h>

typedef struct { int ids_at, w_at, slots, comb; } emb_attr;

static int emb_shape(cr_node *n)
{
    const emb_attr *a = n->attr;
    const cr_dims *t = &n->in[0]->shape, *x = &n->in[1]->shape;
    if (t->ndim != 2 || x->ndim != 2 || a->slots < 1 || a->ids_at < 0 ||
        a->ids_at + a->slots > x->d[1] || (a->w_at >= 0 && a->w_at + a->slots > x->d[1])) {
        char st[96], sx[96];
        return cr_fail(CREST_E_SHAPE, "embedding_bag: table %s, input %s, ids at %d (+%d)",
                       cr_dims_str(t, st, sizeof st), cr_dims_str(x, sx, sizeof sx), a->ids_at,
                       a->slots);
    }
    n->shape = (cr_dims){ .ndim = 2, .d = { x->d[0], t->d[1] } };
    return CREST_OK;
}

/* Weight of slot s in row r after the combiner's normalization (0: skip). */
static float slot_scale(const emb_attr *a, const float *xr, int64_t V, int s, double norm)
{
    float id = xr[a->ids_at + s];
    if (!(id >= 0 && id < (float)V))
        return 0;
    float w = a->w_at >= 0 ? xr[a->w_at + s] : 1.0f;
    return norm > 0 ? (float)(w / norm) : 0.0f;
}

static double row_norm(const emb_attr *a, const float *xr, int64_t V)
{
    double sw = 0, sw2 = 0;
    for (int s = 0; s < a->slots; s++) {
        float id = xr[a->ids_at + s];
        if (!(id >= 0 && id < (float)V))
            continue;
        double w = a->w_at >= 0 ? xr[a->w_at + s] : 1.0;
        sw += w;
        sw2 += w * w;
    }
    if (a->comb == CR_COMB_SUM)
        return 1;
    return a->comb == CR_COMB_MEAN ? sw : sqrt(sw2);
}

static void emb_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const emb_attr *a = n->attr;
    const float *T = n->in[0]->val, *x = n->in[1]->val;
    int64_t V = n->in[0]->shape.d[0], d = n->shape.d[1], D = n->in[1]->shape.d[1];
    for (int64_t b = 0; b < n->shape.d[0]; b++) {
        const float *xr = x + b * D;
        float *y = n->val + b * d;
        memset(y, 0, (size_t)d * sizeof *y);
        double norm = row_norm(a, xr, V);
        for (int s = 0; s < a->slots; s++) {
            float k = slot_scale(a, xr, V, s, norm);
            if (k == 0)
                continue;
            const float *row = T + (int64_t)xr[a->ids_at + s] * d;
            for (int64_t j = 0; j < d; j++)
                y[j] += k * row[j];
        }
    }
}

static void emb_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const emb_attr *a = n->attr;
    float *dT = n->in[0]->grad;
    if (!dT)
        return;   /* ids are data: no gradient to the input */
    const float *x = n->in[1]->val;
    int64_t V = n->in[0]->shape.d[0], d = n->shape.d[1], D = n->in[1]->shape.d[1];
    for (int64_t b = 0; b < n->shape.d[0]; b++) {
        const float *xr = x + b * D, *dy = n->grad + b * d;
        double norm = row_norm(a, xr, V);
        for (int s = 0; s < a->slots; s++) {
            float k = slot_scale(a, xr, V, s, norm);
            if (k == 0)
                continue;
            float *g = dT + (int64_t)xr[a->ids_at + s] * d;
            for (int64_t j = 0; j < d; j++)
                g[j] += k * dy[j];
        }
    }
}

/* A constant input of ids (one repeated, one out of range) and weights. */
static cr_node *emb_ex(cr_graph *g, cr_rng *r)
{
    cr_node *t = cr_example_var(g, r, crest_shape(2, 5, 3), -1, 1, 0);
    cr_node *x = cr_example_var(g, r, crest_shape(2, 4, 6), 0, 1, 0);
    if (!x)
        return NULL;
    static const float ids[4][3] = { { 0, 2, 2 }, { 4, -1, 1 }, { 3, 7, -1 }, { -1, -1, -1 } };
    for (int b = 0; b < 4; b++)
        for (int s = 0; s < 3; s++) {
            x->w->val[b * 6 + s] = ids[b][s];
            x->w->val[b * 6 + 3 + s] = 0.5f + (float)cr_rng_uniform(r);
        }
    x->w->trainable = false;
    x->needs_grad = false;
    cr_node *m = cr_op_embedding_bag(g, t, x, 0, 3, 3, CR_COMB_MEAN);
    cr_node *s = cr_op_embedding_bag(g, t, x, 0, -1, 3, CR_COMB_SUM);
    cr_node *q = cr_op_embedding_bag(g, t, x, 0, 3, 3, CR_COMB_SQRTN);
    return crest_op_concat(g, (cr_node *[]){ m, s, q }, 3, -1);
}

const cr_op_def cr_op_embedding_bag_def = { .name = "embedding_bag", .arity = 2,
    .shape = emb_shape, .forward = emb_fwd, .backward = emb_bwd, .example = emb_ex,
    .gc_tol = 2e-3 };

cr_node *cr_op_embedding_bag(cr_graph *g, cr_node *table, cr_node *x, int ids_at, int w_at,
                             int slots, cr_combiner comb)
{
    emb_attr a = { ids_at, w_at, slots, (int)comb };
    return cr_op(g, &cr_op_embedding_bag_def, (cr_node *[]){ table, x }, 2, &a, sizeof a);
}

/* ---- slice_cols -------------------------------------------------------- */

typedef struct { int lo, hi; } slice_attr;

static int slice_shape(cr_node *n)
{
    const slice_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    if (x->ndim != 2 || a->lo < 0 || a->hi <= a->lo || a->hi > x->d[1])
        return cr_fail(CREST_E_SHAPE, "slice_cols: [%d, %d) of %lld columns", a->lo, a->hi,
                       x->ndim == 2 ? (long long)x->d[1] : -1LL);
    n->shape = (cr_dims){ .ndim = 2, .d = { x->d[0], a->hi - a->lo } };
    return CREST_OK;
}

static void slice_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const slice_attr *a = n->attr;
    int64_t D = n->in[0]->shape.d[1], w = a->hi - a->lo;
    for (int64_t b = 0; b < n->shape.d[0]; b++)
        memcpy(n->val + b * w, n->in[0]->val + b * D + a->lo, (size_t)w * sizeof(float));
}

static void slice_bwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    const slice_attr *a = n->attr;
    float *dx = n->in[0]->grad;
    if (!dx)
        return;
    int64_t D = n->in[0]->shape.d[1], w = a->hi - a->lo;
    for (int64_t b = 0; b < n->shape.d[0]; b++)
        for (int64_t j = 0; j < w; j++)
            dx[b * D + a->lo + j] += n->grad[b * w + j];
}

static cr_node *slice_ex(cr_graph *g, cr_rng *r)
{
    return cr_op_slice_cols(g, cr_example_var(g, r, crest_shape(2, 3, 7), -1, 1, 0), 2, 5);
}

const cr_op_def cr_op_slice_cols_def = { .name = "slice_cols", .arity = 1, .shape = slice_shape,
    .forward = slice_fwd, .backward = slice_bwd, .example = slice_ex, .gc_tol = 2e-3 };

cr_node *cr_op_slice_cols(cr_graph *g, cr_node *x, int lo, int hi)
{
    return cr_op(g, &cr_op_slice_cols_def, &x, 1, &(slice_attr){ lo, hi }, sizeof(slice_attr));
}
