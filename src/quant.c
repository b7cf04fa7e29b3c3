/* quant.c - post-training int8 quantization (crest_quantize).
 *
 * Three steps on a model, then its inference graphs run int8 (the rewrite
 * is src/quant_graph.c):
 *  1. fold: every BatchNormalization fed by a Conv2D, DepthwiseConv2D,
 *     SeparableConv2D or Dense layer (linear, applied once, its output used
 *     by the norm alone) goes into that layer's kernel and bias (the layer's
 *     bias is switched on), and leaves the model;
 *  2. calibrate: the float inference graph (fused as crest runs it) on real
 *     inputs, node by node, recording every tensor's minimum and maximum (and,
 *     for the percentile method, a histogram over that range in a second
 *     pass); the range, widened to hold 0, gives s = (hi - lo) / 255 and
 *     z = round(-lo / s), so real 0 is a code (padding, relu);
 *  3. weights: the kernels the rewrite will run int8 become per-output-
 *     channel symmetric int8, scale[c] = max |w[.., c]| / 127, or the step
 *     of the grid channel c's weights already lie on (quantized before:
 *     then they stay exact); the float
 *     weights are replaced by scale[c] * q, so the float model and the
 *     int8 one compute with the same weights (and the saved codes load back
 *     to exactly these values).
 * Nodes are matched between calibration and the rewrite by cr_graph_qkeys'
 * names ("LAYER#k"), which both compute on the same traced, fused graph.
 * The record (cr_quant) and the rewrite are src/quant_graph.c, the files
 * src/quant_io.c.
 */
#include "internal.h"
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define HIST_BINS 2048
#define DEFAULT_SAMPLES 500
#define DEFAULT_BATCH 32

/* ---- 1. batch norms folded into the layer before them ------------------ */

typedef struct fold_item {
    crest_layer *conv, *bn;
    cr_weight *kernel;            /* the kernel the norm scales (conv: as traced) */
    float *mul, *add;             /* [oc]: y' = y * mul + add */
    int oc;
} fold_item;

typedef struct fold_set {
    fold_item *it;
    int n;
} fold_set;

static bool is_folded_bn(const crest_layer *l, void *ctx)
{
    const fold_set *f = ctx;
    for (int i = 0; i < f->n; i++)
        if (f->it[i].bn == l)
            return true;
    return false;
}

/* Nodes of g that layer name made with op def named op (NULL: any). */
static int count_nodes(const cr_graph *g, const char *layer, const char *op)
{
    int k = 0;
    for (int i = 0; i < g->n; i++) {
        const cr_node *n = g->nodes[i];
        k += n->kind == CR_NODE_OP && n->layer && !strcmp(n->layer, layer) &&
             (!op || !strcmp(n->op->name, op));
    }
    return k;
}

static int consumers_of(const cr_graph *g, const cr_node *n)
{
    int k = 0;
    for (int i = n->id + 1; i < g->n; i++)
        for (int j = 0; j < g->nodes[i]->n_in; j++)
            k += g->nodes[i]->in[j] == n;
    for (int o = 0; o < g->n_outputs; o++)
        k += g->outputs[o] == n;
    return k;
}

/* The node a batch norm can fold into: a conv / depthwise / matmul (or the
 * bias_add after a matmul) of a layer with enable_bias, no activation. */
static cr_node *fold_target(const cr_graph *g, cr_node *bn, cr_weight **kernel)
{
    cr_node *c = bn->in[0];
    if (c->kind != CR_NODE_OP || consumers_of(g, c) != 1 || !c->layer)
        return NULL;
    if (!strcmp(c->op->name, "reshape") && c->in[0]->kind == CR_NODE_OP &&
        c->in[0]->layer && !strcmp(c->in[0]->layer, c->layer) && consumers_of(g, c->in[0]) == 1)
        c = c->in[0];   /* a 1-D layer's [b, t, 1, c] output seen as [b, t, c] */
    cr_node *core = c;
    if (!strcmp(c->op->name, "bias_add") && c->in[0]->kind == CR_NODE_OP &&
        !strcmp(c->in[0]->op->name, "matmul") && consumers_of(g, c->in[0]) == 1)
        core = c->in[0];
    const char *op = core->op->name;
    if (strcmp(op, "conv2d") && strcmp(op, "depthwise2d") && strcmp(op, "matmul"))
        return NULL;
    if (strcmp(op, "matmul") && !cr_conv_can_fold(core))
        return NULL;   /* a fused activation: the norm comes after it */
    cr_weight *w = core->n_in >= 2 ? cr_kernel_weight(core->in[1]) : NULL;
    if (!w || !w->owner || w->owner->def->enable_bias == NULL ||
        strcmp(w->owner->name, core->layer))
        return NULL;
    if (count_nodes(g, core->layer, op) != 1)
        return NULL;   /* a layer applied twice */
    *kernel = w;
    return core;
}

static void fold_set_free(fold_set *f)
{
    for (int i = 0; i < f->n; i++) {
        cr_free(f->it[i].mul);
        cr_free(f->it[i].add);
    }
    cr_free(f->it);
}

/* The pairs to fold, read from m's unfused inference trace. */
static int find_folds(crest_model *m, fold_set *f)
{
    cr_graph *g = cr_graph_new(m, false);
    if (!g)
        return cr_fail(CREST_E_NOMEM, "quantize: out of memory tracing model '%s'", m->name);
    cr_model_trace(m, g);
    int rc = cr_graph_status(g);
    for (int i = 0; !rc && i < g->n; i++) {
        cr_node *n = g->nodes[i], *mean, *var, *gamma, *beta, *core;
        float eps;
        cr_weight *kernel = NULL;
        if (!cr_bn_parts(n, &mean, &var, &gamma, &beta, &eps) || !n->layer ||
            count_nodes(g, n->layer, NULL) != 1 || !(core = fold_target(g, n, &kernel)))
            continue;
        crest_layer *bn = crest_model_find_layer(m, n->layer);
        int oc = (int)n->shape.d[n->shape.ndim - 1];
        if (!bn || cr_kernel_channels(kernel) != oc)
            continue;
        fold_item *it = cr_realloc(f->it, (size_t)(f->n + 1) * sizeof *it);
        if (!it) {
            rc = cr_fail(CREST_E_NOMEM, "quantize: out of memory");
            break;
        }
        f->it = it;
        it = &f->it[f->n];
        *it = (fold_item){ .conv = kernel->owner, .bn = bn, .kernel = kernel, .oc = oc,
                           .mul = cr_malloc((size_t)oc * sizeof(float)),
                           .add = cr_malloc((size_t)oc * sizeof(float)) };
        f->n++;
        if (!it->mul || !it->add) {
            rc = cr_fail(CREST_E_NOMEM, "quantize: out of memory");
            break;
        }
        /* as the inference fold of src/ops/window.c: mul = gamma / sqrt(var
         * + eps), and y' = (y - mean) * mul + beta */
        for (int o = 0; o < oc; o++) {
            double mu = (gamma ? gamma->val[o] : 1.0) / sqrt((double)var->val[o] + eps);
            it->mul[o] = (float)mu;
            it->add[o] = (float)((beta ? beta->val[o] : 0.0) - mean->val[o] * mu);
        }
    }
    cr_graph_free(g);
    return rc;
}

/* Scales each output channel of the pair's kernel by mul, and its bias
 * (made by the trace after enable_bias) to b * mul + add. */
static int apply_fold(const fold_item *it)
{
    cr_weight *b = cr_layer_weight(it->conv, "bias");
    if (!b || b->size != it->oc)
        return cr_fail(CREST_E_INTERNAL, "quantize: layer '%s' has no bias of %d values after "
                       "folding '%s'", it->conv->name, it->oc, it->bn->name);
    cr_weight *k = it->kernel;
    for (int64_t r = 0; r < k->size; r += it->oc)
        for (int o = 0; o < it->oc; o++)
            k->val[r + o] *= it->mul[o];
    for (int o = 0; o < it->oc; o++)
        b->val[o] = (float)((double)b->val[o] * it->mul[o] + it->add[o]);
    k->version++;
    b->version++;
    return CREST_OK;
}

static int fold_batchnorms(crest_model *m, int *n_folded)
{
    fold_set f = { 0 };
    *n_folded = 0;
    if (m->kind != &cr_functional_kind && m->kind != &cr_sequential_kind)
        return CREST_OK;   /* custom models: their norms stay (run in float) */
    int rc = find_folds(m, &f), dropped = 0;
    if (rc || !f.n)
        goto out;
    for (int i = 0; i < f.n; i++)
        f.it[i].conv->def->enable_bias(f.it[i].conv);
    /* the pairs' values are copied already; the norms leave the model */
    if ((rc = cr_functional_bypass(m, is_folded_bn, &f, &dropped)))
        goto out;
    cr_model_invalidate(m);
    if ((rc = cr_model_build(m)) || (rc = cr_params_pack(m)))
        goto out;
    for (int i = 0; i < f.n && !rc; i++)
        rc = apply_fold(&f.it[i]);
    *n_folded = dropped;
out:
    fold_set_free(&f);
    return rc ? cr_wrap(rc, "quantize: folding batch norms of '%s'", m->name) : rc;
}

/* ---- 2. calibration ---------------------------------------------------- */

typedef struct tstat {
    double lo, hi;                /* observed (finite values) */
    bool seen;
    uint32_t *hist;               /* HIST_BINS over [lo, hi] (percentile), or NULL */
    uint64_t count;
    double *csum;                 /* per channel (last axis): sum of the values, or NULL */
    int64_t channels, rows;
    double *fsum;                 /* the same over the first samples (biases fixed on them) */
    int64_t frows;
} tstat;

/* Per-channel sums of a value of shape d (bias correction needs the mean
 * input of every int8 kernel, and the mean output of each over the samples
 * the int8 model is fixed on: first, also into fsum); skipped (csum NULL)
 * when out of memory. */
static void channel_sums(tstat *t, const float *v, const cr_dims *d, bool first)
{
    int64_t c = d->ndim ? d->d[d->ndim - 1] : 1, n = cr_dims_count(d);
    if (!t->csum) {
        if (c > (1 << 20) || !(t->csum = cr_calloc((size_t)c, sizeof *t->csum)) ||
            !(t->fsum = cr_calloc((size_t)c, sizeof *t->fsum))) {
            cr_free(t->csum);
            t->csum = NULL;
            return;
        }
        t->channels = c;
    }
    if (t->channels != c)
        return;
    for (int64_t r = 0; r < n; r += c)
        for (int64_t k = 0; k < c; k++) {
            double x = isfinite(v[r + k]) ? v[r + k] : 0;
            t->csum[k] += x;
            if (first)
                t->fsum[k] += x;
        }
    t->rows += n / c;
    if (first)
        t->frows += n / c;
}

static void observe(tstat *t, const float *v, int64_t n, int pass)
{
    if (pass == 0) {
        for (int64_t i = 0; i < n; i++) {
            double x = v[i];
            if (!isfinite(x))
                continue;
            if (!t->seen || x < t->lo)
                t->lo = x;
            if (!t->seen || x > t->hi)
                t->hi = x;
            t->seen = true;
        }
        return;
    }
    if (!t->hist || !(t->hi > t->lo))
        return;
    double w = (t->hi - t->lo) / HIST_BINS;
    for (int64_t i = 0; i < n; i++) {
        double x = v[i];
        if (!isfinite(x))
            continue;
        long b = (long)((x - t->lo) / w);
        t->hist[b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b]++;
        t->count++;
    }
}

/* The range a percentile keeps: the bins holding the lowest and highest
 * (100 - p)% of the values are cut. */
static void percentile_range(const tstat *t, double p, double *lo, double *hi)
{
    *lo = t->lo;
    *hi = t->hi;
    if (!t->hist || !t->count)
        return;
    double w = (t->hi - t->lo) / HIST_BINS;
    uint64_t cut = (uint64_t)floor((double)t->count * (100.0 - p) / 100.0), acc = 0;
    int b = 0;
    while (b < HIST_BINS - 1 && acc + t->hist[b] <= cut)
        acc += t->hist[b++];
    *lo = t->lo + b * w;
    acc = 0;
    b = HIST_BINS - 1;
    while (b > 0 && acc + t->hist[b] <= cut)
        acc += t->hist[b--];
    *hi = t->lo + (b + 1) * w;
}

/* uint8 parameters of a range: widened to hold 0 (exactly a code); int16
 * (i16): symmetric, s = max(|lo|, |hi|) / 32767, z = 0. */
static void act_params(double lo, double hi, bool i16, cr_qact *a)
{
    lo = lo < 0 ? lo : 0;
    hi = hi > 0 ? hi : 0;
    if (i16) {
        double m = -lo > hi ? -lo : hi;
        m = m < 1e-6 ? 1e-6 : m;
        a->s = (float)(m / 32767.0);
        a->z = 0;
        a->lo = (float)lo;
        a->hi = (float)hi;
        return;
    }
    if (hi - lo < 1e-6)
        hi = lo + 1e-6;
    float s = (float)((hi - lo) / 255.0);
    double z = nearbyint(-lo / s);
    a->z = (int32_t)(z < 0 ? 0 : z > 255 ? 255 : z);
    a->s = s;
    a->lo = (float)lo;
    a->hi = (float)hi;
}

/* Samples the int8 model's biases are fixed on (section 4): the first
 * whole batches of calibration holding at least FIX_SAMPLES, at most n. */
#define FIX_SAMPLES 64

static size_t fix_samples(size_t n, int bs)
{
    size_t k = ((size_t)FIX_SAMPLES + (size_t)bs - 1) / (size_t)bs * (size_t)bs;
    return k < n ? k : n;
}

/* n sample rows of d spread over it (folders are sorted by class), in an
 * order whose every prefix is spread too: step k is (k * p) mod n with p
 * the odd number nearest n / golden ratio that is prime to n. */
static size_t *spread_rows(const crest_dataset *d, size_t n)
{
    size_t *rows = cr_malloc((n ? n : 1) * sizeof *rows), p = (size_t)((double)n * 0.6180339887);
    if (!rows)
        return NULL;
    p |= 1;
    for (size_t a = p, b = n; n > 1;) {   /* gcd(p, n) == 1, else the next odd p */
        while (b) {
            size_t t = a % b;
            a = b;
            b = t;
        }
        if (a == 1)
            break;
        p += 2;
        a = p;
        b = n;
    }
    for (size_t k = 0; k < n; k++)
        rows[k] = (size_t)((double)((k * p) % n) * (double)d->n / (double)n);
    return rows;
}

/* Called after each node of a pass ran (its value is live only then); s:
 * the batch's first sample. */
typedef void (*node_seen)(void *ctx, int i, cr_node *nd, size_t s);

/* One pass over the samples rows[0..n) of d through g (planned per batch),
 * node by node, see called right after each op ran (inference plans reuse
 * buffers). */
static int run_nodes(crest_model *m, cr_graph *g, const crest_dataset *d, const size_t *rows,
                     size_t n, int bs, float *buf, node_seen see, void *sctx)
{
    cr_pool *pool;
    int rc = cr_model_pool(m, &pool);
    cr_ctx ctx = { .pool = pool, .training = false };
    for (size_t s = 0; !rc && s < n; s += (size_t)bs) {
        int64_t b = (int64_t)(n - s < (size_t)bs ? n - s : (size_t)bs);
        if ((rc = cr_graph_plan(g, b)) || (rc = cr_dataset_gather_on(d, rows, s, b, buf, pool)))
            break;
        cr_graph_feed(g, buf, d->stride, NULL, 0, b);
        for (int i = 0; i < g->n; i++) {
            cr_node *nd = g->nodes[i];
            if (nd->kind == CR_NODE_OP)
                nd->op->forward(nd, &ctx);
            if (nd->kind != CR_NODE_PARAM)
                see(sctx, i, nd, s);
        }
    }
    return rc;
}

typedef struct calib_seen {
    tstat *st;
    int pass;
    size_t first;                 /* samples fixing biases (batches wholly below) */
} calib_seen;

static void calib_see(void *ctx, int i, cr_node *nd, size_t s)
{
    calib_seen *c = ctx;
    observe(&c->st[i], nd->val, cr_dims_count(&nd->shape), c->pass);
    if (c->pass == 0)
        channel_sums(&c->st[i], nd->val, &nd->shape, s < c->first);
}

static int calib_pass(crest_model *m, cr_graph *g, const crest_dataset *d, const size_t *rows,
                      size_t n, int bs, tstat *st, int pass, float *buf)
{
    calib_seen c = { .st = st, .pass = pass, .first = fix_samples(n, bs) };
    return run_nodes(m, g, d, rows, n, bs, buf, calib_see, &c);
}

static void tstats_free(tstat *st, int n)
{
    for (int i = 0; st && i < n; i++) {
        cr_free(st[i].hist);
        cr_free(st[i].csum);
        cr_free(st[i].fsum);
    }
    cr_free(st);
}

/* The ranges into q; *stats (one per node of m's inference graph: the
 * channel means bias correction reads) for the caller to free. */
static int calibrate(crest_model *m, const crest_dataset *d, size_t n, int bs, int method,
                     double pct, cr_quant *q, tstat **stats)
{
    cr_graph *g = m->infer.g;
    tstat *st = *stats = cr_calloc((size_t)g->n, sizeof *st);
    char (*keys)[160] = cr_malloc((size_t)g->n * sizeof *keys);
    float *buf = cr_malloc((size_t)bs * (size_t)d->stride * sizeof *buf);
    size_t *rows = spread_rows(d, n);
    int rc = st && keys && buf && rows ? CREST_OK
                                       : cr_fail(CREST_E_NOMEM, "quantize: out of memory");
    if (!rc)
        rc = calib_pass(m, g, d, rows, n, bs, st, 0, buf);
    if (!rc && method == CREST_CALIB_PERCENTILE) {
        for (int i = 0; !rc && i < g->n; i++)
            if (st[i].seen && !(st[i].hist = cr_calloc(HIST_BINS, sizeof *st[i].hist)))
                rc = cr_fail(CREST_E_NOMEM, "quantize: out of memory for histograms");
        if (!rc)
            rc = calib_pass(m, g, d, rows, n, bs, st, 1, buf);
    }
    if (!rc) {
        cr_graph_qkeys(g, keys);
        q->act = cr_calloc((size_t)g->n + 1, sizeof *q->act);
        if (!q->act)
            rc = cr_fail(CREST_E_NOMEM, "quantize: out of memory");
    }
    for (int i = 0; !rc && i < g->n; i++) {
        if (!st[i].seen || !keys[i][0])
            continue;
        double lo = st[i].lo, hi = st[i].hi;
        if (method == CREST_CALIB_PERCENTILE)
            percentile_range(&st[i], pct, &lo, &hi);
        cr_qact *a = &q->act[q->n_act++];
        snprintf(a->key, sizeof a->key, "%s", keys[i]);
        act_params(lo, hi, q->act16, a);
    }
    cr_free(keys);
    cr_free(buf);
    cr_free(rows);
    return rc;
}

/* ---- 3. weights -------------------------------------------------------- */

static bool is_op(const cr_node *n, const char *name)
{
    return n && n->kind == CR_NODE_OP && !strcmp(n->op->name, name);
}

/* The matmul whose result (through a bias add and activations only) is the
 * graph's output 0: the classifier. */
static const cr_node *head_matmul(const cr_graph *g)
{
    const cr_node *n = g->n_outputs ? g->outputs[0] : NULL;
    while (n && n->kind == CR_NODE_OP && !is_op(n, "matmul")) {
        if (!is_op(n, "bias_add") && !(n->n_in == 1 && cr_act_of(n)) && !is_op(n, "flatten"))
            return NULL;
        n = n->in[0];
    }
    return is_op(n, "matmul") ? n : NULL;
}

/* Kernels the int8 rewrite can run: conv2d / depthwise2d (no folded norm
 * left, relu / relu6 at most) and matmul by a [K, N] weight. */
static cr_weight *int8_kernel(const cr_node *n)
{
    if (n->kind != CR_NODE_OP || n->n_in < 2 || !cr_kernel_weight(n->in[1]))
        return NULL;
    if (is_op(n, "matmul"))
        return n->in[1]->kind == CR_NODE_PARAM && n->in[1]->shape.ndim == 2 ? n->in[1]->w
                                                                            : NULL;
    cr_conv_geom geo;
    int act;
    bool folded;
    if ((!is_op(n, "conv2d") && !is_op(n, "depthwise2d")) ||
        !cr_window_parts(n, &geo, &act, &folded) || folded)
        return NULL;
    return act == CREST_LINEAR || act == CREST_RELU || act == CREST_RELU6
               ? cr_kernel_weight(n->in[1])
               : NULL;
}

/* Weights that were quantized before (a TF.js model saved with uint8
 * weights, a QAT-trained Keras model), scaled per channel by a folded norm,
 * lie on a uniform grid through 0 with at most 255 codes per channel: the
 * largest step g with every w = g * k (|k| <= 127) represents them exactly,
 * where max / 127 would round each of them again. The channel's values are
 * v[0], v[stride], ... below v + n; amax is their largest |v|. Returns g,
 * or 0 when no such grid exists (to within GRID_TOL of a step). */
#define GRID_TOL 1e-3

static bool on_grid(const float *v, int64_t stride, int64_t n, double g)
{
    for (int64_t r = 0; r < n; r += stride) {
        double k = v[r] / g;
        if (fabs(k) > 127.0 + GRID_TOL || fabs(k - nearbyint(k)) > GRID_TOL)
            return false;
    }
    return true;
}

static float grid_step(const float *v, int64_t stride, int64_t n, float amax)
{
    float lo = amax;   /* the smallest nonzero |v|: some multiple d of g */
    for (int64_t r = 0; r < n; r += stride)
        lo = v[r] != 0 && fabsf(v[r]) < lo ? fabsf(v[r]) : lo;
    for (int d = 1; (double)amax * d <= 127.0 * lo * (1 + GRID_TOL); d++)
        if (on_grid(v, stride, n, (double)lo / d))
            return (float)((double)lo / d);
    return 0;
}

/* w's per-channel scales into q (NULL: q has them already, a shared weight). */
static cr_qweight *add_scales(cr_quant *q, const cr_weight *w)
{
    int oc = cr_kernel_channels(w);
    cr_qweight *qw = cr_realloc(q->w, (size_t)(q->n_w + 1) * sizeof *qw);
    if (!qw)
        return NULL;
    q->w = qw;
    qw = &q->w[q->n_w];
    *qw = (cr_qweight){ .oc = oc, .scale = cr_malloc((size_t)oc * sizeof(float)) };
    if (!qw->scale)
        return NULL;
    snprintf(qw->name, sizeof qw->name, "%s/%s", w->owner ? w->owner->name : "", w->name);
    q->n_w++;
    for (int o = 0; o < oc; o++) {
        float mx = 0;
        for (int64_t r = o; r < w->size; r += oc)
            mx = fabsf(w->val[r]) > mx ? fabsf(w->val[r]) : mx;
        float g = mx > 0 ? grid_step(w->val + o, oc, w->size - o, mx) : 0;
        qw->scale[o] = g > 0 ? g : mx > 0 ? mx / 127.0f : 1.0f;
    }
    return qw;
}

/* n's one consumer in g, or NULL (none, or several). */
static cr_node *sole_consumer(const cr_graph *g, const cr_node *n)
{
    cr_node *c = NULL;
    for (int i = n->id + 1; i < g->n; i++)
        for (int j = 0; j < g->nodes[i]->n_in; j++)
            if (g->nodes[i]->in[j] == n) {
                if (c)
                    return NULL;
                c = g->nodes[i];
            }
    return c;
}

/* The bias of kernel node n (conv / depthwise: its third input; matmul: the
 * bias_add reading it alone), or NULL. */
static cr_weight *bias_of(const cr_graph *g, const cr_node *n)
{
    if (!is_op(n, "matmul"))
        return n->n_in == 3 && n->in[2]->kind == CR_NODE_PARAM ? n->in[2]->w : NULL;
    const cr_node *c = sole_consumer(g, n);
    return c && is_op(c, "bias_add") && c->in[1]->kind == CR_NODE_PARAM ? c->in[1]->w : NULL;
}

/* Bias correction (Nagel et al., 2019): rounding moves each output's mean
 * by sum (w_q - w) * E[x]; with the calibration's mean input per channel
 * (mean), the bias takes that shift back. Kernel index i reads input
 * channel (i / oc) % cin (conv, dense), or (i % oc) / dm (depthwise). */
static void correct_bias(const cr_node *n, const cr_weight *w, const float *w0, const double *mean,
                         int64_t cin, cr_weight *b)
{
    int oc = cr_kernel_channels(w);
    bool dw = is_op(n, "depthwise2d");
    int64_t dm = dw ? w->shape.d[w->shape.ndim - 1] : 1;   /* [k, (1,) cin, dm] */
    double *shift = cr_calloc((size_t)oc, sizeof *shift);
    if (!shift || b->size != oc)
        goto out;
    for (int64_t i = 0; i < w->size; i++) {
        int64_t o = i % oc, ci = dw ? o / dm : (i / oc) % cin;
        shift[o] += ((double)w->val[i] - w0[i]) * mean[ci];
    }
    for (int o = 0; o < oc; o++)
        b->val[o] = (float)(b->val[o] - shift[o]);
    b->version++;
out:
    cr_free(shift);
}

/* Kernel w of node n rounded to its int8 values (scales into q), its bias
 * corrected for the shift that makes (st: the calibration's statistics). */
static int quantize_weight(cr_quant *q, const cr_graph *g, const cr_node *n, cr_weight *w,
                           const tstat *st)
{
    if (cr_quant_weight(q, w))
        return CREST_OK;   /* shared by two nodes: done once */
    cr_qweight *qw = add_scales(q, w);
    float *w0 = qw ? cr_malloc((size_t)w->size * sizeof *w0) : NULL;
    if (!w0)
        return cr_fail(CREST_E_NOMEM, "quantize: out of memory");
    memcpy(w0, w->val, (size_t)w->size * sizeof *w0);
    for (int64_t i = 0; i < w->size; i++) {
        float s = qw->scale[i % qw->oc], c = nearbyintf(w->val[i] / s);
        w->val[i] = (c > 127 ? 127 : c < -127 ? -127 : c) * s;
    }
    w->version++;
    const tstat *x = &st[n->in[0]->id];
    cr_weight *b = bias_of(g, n);
    int64_t cin = n->in[0]->shape.d[n->in[0]->shape.ndim - 1];
    if (b && x->csum && x->rows && x->channels == cin) {
        double *mean = cr_malloc((size_t)cin * sizeof *mean);
        for (int64_t k = 0; mean && k < cin; k++)
            mean[k] = x->csum[k] / (double)x->rows;
        if (mean)
            correct_bias(n, w, w0, mean, cin, b);
        cr_free(mean);
    }
    cr_free(w0);
    return CREST_OK;
}

/* Whether kernel node n stays float: the classifier under float_head, or a
 * layer the caller named (its kernels then get no int8 scales, so the
 * rewrite runs them float, also after a load). */
static bool stays_float(const cr_quant *q, const cr_graph *g, const cr_node *n)
{
    if (q->float_head && n == head_matmul(g))
        return true;
    for (int i = 0; n->layer && i < q->n_keep; i++)
        if (!strcmp(n->layer, q->keep[i]))
            return true;
    return false;
}

static int quantize_weights(crest_model *m, cr_quant *q, const tstat *st)
{
    const cr_graph *g = m->infer.g;
    for (int i = 0; i < g->n; i++) {
        cr_weight *w = !stays_float(q, g, g->nodes[i]) ? int8_kernel(g->nodes[i]) : NULL;
        int rc = w ? quantize_weight(q, g, g->nodes[i], w, st) : CREST_OK;
        if (rc)
            return rc;
    }
    return CREST_OK;
}

/* ---- 4. biases fixed through the int8 model --------------------------- */

/* Rounding the weights and every activation moves each layer's mean
 * output, and each layer inherits the shifts of those above it (a global
 * pooling keeps exactly that part of the error). So after the rewrite the
 * int8 model runs the first fix_samples() calibration samples in one
 * batch, node by node, and each int8 kernel in turn, as soon as it ran,
 * takes back in its bias the gap between the mean of its int8 output and
 * the float model's on the same samples (per channel, from calibration),
 * divided by the share of its outputs the activation passes (the slope of
 * the mean in the bias, at least FIX_MIN_SLOPE); it is packed again and
 * runs again before the nodes below it read it. (Empirical bias correction
 * after Nagel et al., 2019, one layer after the other through the quantized
 * network, as in their sequential variant.) The float biases change, so a
 * saved model gives the same int32 biases when loaded. */
#define FIX_MIN_SLOPE 0.1

typedef struct bfix {
    char key[160];                /* the value's calibration key */
    cr_weight *bias;
    int act;                      /* CREST_LINEAR, CREST_RELU or CREST_RELU6 */
    int64_t oc;
    double *mean_f;               /* [oc] the float model's mean on the samples */
} bfix;

typedef struct bfix_set {
    bfix *t;
    int n;
    double *sum, *lin;            /* scratch: [the widest oc] */
} bfix_set;

static void bfix_free(bfix_set *b)
{
    for (int i = 0; b->t && i < b->n; i++)
        cr_free(b->t[i].mean_f);
    cr_free(b->t);
    cr_free(b->sum);
    cr_free(b->lin);
}

/* Kernel node n of the float graph: the end of its fused chain (a matmul's
 * bias_add and relu / relu6, as the rewrite folds them) and its activation. */
static const cr_node *chain_end(const cr_graph *g, const cr_node *n, int *act)
{
    *act = CREST_LINEAR;
    if (!is_op(n, "matmul")) {
        cr_conv_geom geo;
        bool folded;
        cr_window_parts(n, &geo, act, &folded);
        return n;
    }
    const cr_node *c = sole_consumer(g, n);
    if (c && is_op(c, "bias_add"))
        n = c;
    const cr_act_def *ad;
    if ((c = sole_consumer(g, n)) && c->n_in == 1 && (ad = cr_act_of(c)) &&
        (ad->id == CREST_RELU || ad->id == CREST_RELU6)) {
        *act = ad->id;
        n = c;
    }
    return n;
}

/* One entry per int8 kernel of the float graph g with a bias and the
 * calibration's channel means of its value. */
static int bfix_table(const cr_graph *g, const tstat *st, const cr_quant *q, bfix_set *b)
{
    char (*keys)[160] = cr_malloc((size_t)g->n * sizeof *keys);
    b->t = cr_calloc((size_t)g->n + 1, sizeof *b->t);
    int rc = keys && b->t ? CREST_OK : cr_fail(CREST_E_NOMEM, "quantize: out of memory");
    int64_t widest = 1;
    if (!rc)
        cr_graph_qkeys(g, keys);
    for (int i = 0; !rc && i < g->n; i++) {
        const cr_node *n = g->nodes[i];
        cr_weight *bias = !stays_float(q, g, n) && int8_kernel(n) ? bias_of(g, n) : NULL;
        int act;
        const cr_node *end = bias ? chain_end(g, n, &act) : NULL;
        const tstat *x = end ? &st[end->id] : NULL;
        if (!x || !x->fsum || !x->frows || x->channels != bias->size || !keys[end->id][0])
            continue;
        bfix *f = &b->t[b->n++];
        *f = (bfix){ .bias = bias, .act = act, .oc = x->channels };
        snprintf(f->key, sizeof f->key, "%s", keys[end->id]);
        if (!(f->mean_f = cr_malloc((size_t)f->oc * sizeof *f->mean_f)))
            rc = cr_fail(CREST_E_NOMEM, "quantize: out of memory");
        for (int64_t c = 0; !rc && c < f->oc; c++)
            f->mean_f[c] = x->fsum[c] / (double)x->frows;
        widest = f->oc > widest ? f->oc : widest;
    }
    if (!rc && (!(b->sum = cr_malloc((size_t)widest * sizeof *b->sum)) ||
                !(b->lin = cr_malloc((size_t)widest * sizeof *b->lin))))
        rc = cr_fail(CREST_E_NOMEM, "quantize: out of memory");
    cr_free(keys);
    return rc;
}

/* The entry of int8 node nd (its key, and its channels), or NULL. */
static bfix *bfix_of(const bfix_set *b, const cr_node *nd, const cr_qact **out)
{
    const char *key = cr_q8_kernel_key(nd, out);
    int64_t last = nd->shape.ndim ? nd->shape.d[nd->shape.ndim - 1] : 0;
    for (int k = 0; key && k < b->n; k++)
        if (!strcmp(b->t[k].key, key) && b->t[k].oc == last)
            return &b->t[k];
    return NULL;
}

/* Entry f's bias moved by its gap on int8 node nd's output (o: its uint8
 * parameters, NULL: float); the node is packed again. */
static int bfix_one(bfix_set *b, bfix *f, cr_node *nd, const cr_qact *o)
{
    int64_t n = cr_dims_count(&nd->shape), oc = f->oc, rows = n / oc;
    const uint8_t *u = (const uint8_t *)nd->val;
    const int16_t *u16 = nd->q16 ? (const int16_t *)nd->val : NULL;
    double top = f->act == CREST_RELU6 ? 6.0 - (o ? o->s : 0) / 2 : INFINITY;
    memset(b->sum, 0, (size_t)oc * sizeof *b->sum);
    memset(b->lin, 0, (size_t)oc * sizeof *b->lin);
    for (int64_t r = 0; r < rows * oc; r += oc)
        for (int64_t c = 0; c < oc; c++) {
            double v = !o ? nd->val[r + c]
                       : u16 ? (double)o->s * u16[r + c]
                             : (double)o->s * (u[r + c] - o->z);
            b->sum[c] += v;
            b->lin[c] += f->act == CREST_LINEAR || (v > 0 && v < top);
        }
    for (int64_t c = 0; rows && c < oc; c++) {
        double gap = b->sum[c] / (double)rows - f->mean_f[c];
        double slope = b->lin[c] / (double)rows;
        f->bias->val[c] -= (float)(gap / (slope > FIX_MIN_SLOPE ? slope : FIX_MIN_SLOPE));
    }
    f->bias->version++;
    return cr_q8_kernel_rebias(nd);
}

/* The pass, on m already quantized; its graphs are built again after. */
static int fix_biases(crest_model *m, const crest_dataset *d, size_t n, int bs, bfix_set *b)
{
    size_t nb = fix_samples(n, bs);
    size_t *rows = spread_rows(d, n);   /* the calibration's order: its first nb */
    float *buf = cr_malloc(nb * (size_t)d->stride * sizeof *buf);
    int rc = rows && buf ? CREST_OK : cr_fail(CREST_E_NOMEM, "quantize: out of memory");
    cr_pool *pool = NULL;
    if (!rc && b->n && !(rc = cr_model_build(m)) && !(rc = cr_model_bind(m, &d->shape)) &&
        !(rc = cr_model_pool(m, &pool)) && !(rc = cr_graph_plan(m->infer.g, (int64_t)nb)) &&
        !(rc = cr_dataset_gather_on(d, rows, 0, (int64_t)nb, buf, pool))) {
        cr_graph *g = m->infer.g;
        cr_ctx ctx = { .pool = pool, .training = false };
        cr_graph_feed(g, buf, d->stride, NULL, 0, (int64_t)nb);
        for (int i = 0; !rc && i < g->n; i++) {
            cr_node *nd = g->nodes[i];
            if (nd->kind != CR_NODE_OP)
                continue;
            nd->op->forward(nd, &ctx);
            const cr_qact *o = NULL;
            bfix *f = bfix_of(b, nd, &o);
            if (f && !(rc = bfix_one(b, f, nd, o)))
                nd->op->forward(nd, &ctx);
        }
    }
    cr_model_invalidate(m);
    cr_free(buf);
    cr_free(rows);
    return rc;
}

/* ---- crest_quantize ---------------------------------------------------- */

static int check_opts(const crest_quant_opts *o)
{
    if (o->method != CREST_CALIB_MINMAX && o->method != CREST_CALIB_PERCENTILE)
        return cr_fail(CREST_E_ARG, "quantize: unknown calibration method %d", (int)o->method);
    if (o->method == CREST_CALIB_PERCENTILE && o->percentile != 0 &&
        !(o->percentile > 50 && o->percentile <= 100))
        return cr_fail(CREST_E_ARG, "quantize: percentile %g is not in (50, 100]", o->percentile);
    if (o->activations != CREST_QACT_UINT8 && o->activations != CREST_QACT_INT16)
        return cr_fail(CREST_E_ARG, "quantize: unknown activation type %d", (int)o->activations);
    if (o->batch_size < 0 || o->batch_size > 4096)
        return cr_fail(CREST_E_ARG, "quantize: batch size %d", o->batch_size);
    if (o->n_keep_float < 0 || (o->n_keep_float && !o->keep_float))
        return cr_fail(CREST_E_ARG, "quantize: %d layers to keep float, none given",
                       o->n_keep_float);
    return CREST_OK;
}

/* The layers o keeps float, checked against m (each a layer with a kernel)
 * and copied into q. */
static int keep_layers(crest_model *m, const crest_quant_opts *o, cr_quant *q)
{
    if (!o->n_keep_float)
        return CREST_OK;
    if (!(q->keep = cr_calloc((size_t)o->n_keep_float, sizeof *q->keep)))
        return cr_fail(CREST_E_NOMEM, "quantize: out of memory");
    for (int i = 0; i < o->n_keep_float; i++) {
        const char *name = o->keep_float[i];
        char k[320], dk[320];
        snprintf(k, sizeof k, "%s/kernel", name ? name : "");
        snprintf(dk, sizeof dk, "%s/depthwise_kernel", name ? name : "");
        if (!name || !crest_model_find_layer(m, name))
            return cr_fail(CREST_E_ARG, "quantize: keep float: model '%s' has no layer '%s'",
                           m->name, name ? name : "(null)");
        if (!cr_model_find_weight(m, k) && !cr_model_find_weight(m, dk))
            return cr_fail(CREST_E_ARG,
                           "quantize: keep float: layer '%s' has no kernel (name a "
                           "convolution or Dense layer)", name);
        if (!(q->keep[q->n_keep] = cr_strdup(name)))
            return cr_fail(CREST_E_NOMEM, "quantize: out of memory");
        q->n_keep++;
    }
    return CREST_OK;
}

int crest_quantize(crest_model *m, const crest_dataset *calib, const crest_quant_opts *opts)
{
    crest_quant_opts o = opts ? *opts : (crest_quant_opts){ 0 };
    if (!m || !calib)
        return cr_fail(CREST_E_ARG, "quantize: model or calibration data is NULL");
    if (m->quant)
        return cr_fail(CREST_E_STATE, "quantize: model '%s' is int8-quantized already", m->name);
    int rc = check_opts(&o);
    if (rc || (rc = cr_model_build(m)))
        return rc;
    if (calib->n == 0)
        return cr_fail(CREST_E_ARG, "quantize: the calibration data has no samples");
    if (m->dynamic)
        rc = cr_model_bind(m, &calib->shape);
    else if (calib->stride != cr_dims_count(&m->in_shape)) {
        char a[96], b[96];
        rc = cr_fail(CREST_E_SHAPE, "quantize: calibration samples are %s, model '%s' takes %s",
                     cr_dims_str(&calib->shape, a, sizeof a), m->name,
                     cr_dims_str(&m->in_shape, b, sizeof b));
    }
    if (rc)
        return rc;
    size_t n = o.samples ? o.samples : DEFAULT_SAMPLES;
    n = n < calib->n ? n : calib->n;
    int bs = o.batch_size ? o.batch_size : DEFAULT_BATCH;
    double pct = o.percentile ? o.percentile : 99.99;
    cr_quant *q = cr_calloc(1, sizeof *q);
    if (!q)
        return cr_fail(CREST_E_NOMEM, "quantize: out of memory");
    *q = (cr_quant){ .method = o.method, .percentile = o.method == CREST_CALIB_PERCENTILE ? pct : 0,
                     .samples = (int64_t)n, .float_head = o.float_head,
                     .act16 = o.activations == CREST_QACT_INT16 };
    if ((rc = keep_layers(m, &o, q))) {
        cr_quant_free(q);
        return rc;
    }
    cr_model_drop_loss_graphs(m);
    tstat *st = NULL;
    bfix_set bf = { 0 };
    if (!(rc = fold_batchnorms(m, &q->folded_bn)) && !(rc = cr_model_build(m)) &&
        !(rc = cr_model_bind(m, &calib->shape)) &&
        !(rc = calibrate(m, calib, n, bs, o.method, pct, q, &st)) &&
        !(rc = quantize_weights(m, q, st)))
        rc = bfix_table(m->infer.g, st, q, &bf);
    if (m->infer.g)
        tstats_free(st, m->infer.g->n);
    if (rc) {
        bfix_free(&bf);
        cr_quant_free(q);
        return rc;
    }
    m->quant = q;
    cr_model_invalidate(m);   /* the next build rewrites the graph to int8 */
    rc = fix_biases(m, calib, n, bs, &bf);
    bfix_free(&bf);
    return rc ? rc : cr_model_build(m);
}

int crest_quant_info_get(crest_model *m, crest_quant_info *out)
{
    if (!m || !out)
        return cr_fail(CREST_E_ARG, "quant_info: NULL argument");
    *out = (crest_quant_info){ 0 };
    if (!m->quant)
        return cr_fail(CREST_E_STATE, "model '%s' is not quantized", m->name);
    int rc = cr_model_build(m);
    if (rc)
        return rc;
    const cr_quant *q = m->quant;
    *out = (crest_quant_info){ .folded_bn = q->folded_bn, .int8_weights = q->n_w,
                               .ranges = q->n_act, .int8_nodes = q->int8_nodes,
                               .float_nodes = q->float_nodes,
                               .activations = q->act16 ? CREST_QACT_INT16 : CREST_QACT_UINT8 };
    return CREST_OK;
}
