/* infer.c - raw inference-mode forward passes: to the model's output or
 * stopping at a named layer's output (crest infer --layer); and passes run
 * by several threads at once, each on its own copy of the graph. */
#include "internal.h"

#include <stdio.h>

/* A fresh inference graph that records the output of layer l. */
static int probe_graph(crest_model *m, crest_layer *l, cr_graph **gout, cr_node **yout)
{
    cr_graph *g = cr_graph_new(m, false);
    if (!g)
        return cr_fail(CREST_E_NOMEM, "out of memory tracing model '%s'", m->name);
    g->probe = l;
    cr_model_trace(m, g);
    int rc = cr_graph_status(g);
    if (!rc && !g->probe_out)
        rc = cr_fail(CREST_E_ARG, "layer '%s' is not on the way to the model's output",
                     l->name);
    if (rc) {
        cr_graph_free(g);
        return rc;
    }
    g->probe_out->keep = true;
    if ((!m->no_fuse && (rc = cr_graph_fuse_inference(g))) ||
        (m->quant && (rc = cr_graph_quantize(g, m->quant)))) {
        cr_graph_free(g);
        return rc;
    }
    *gout = g;
    *yout = g->probe_out;
    return CREST_OK;
}

/* Images per pass when the caller leaves it to us: activations of a pass
 * should stay in the last-level cache (large batches of big images are
 * memory-bound: MobileNetV2 runs ~15% faster per image in passes of 4 than
 * of 32), so the largest power of two whose arena fits AUTO_ARENA. */
#define AUTO_ARENA ((size_t)64 << 20)
#define AUTO_MAX 32
int64_t cr_auto_batch(cr_graph *g)
{
    if (cr_graph_plan(g, 1))
        return 0;
    size_t one = g->arena_used * sizeof(float);   /* this plan's, not the capacity */
    int64_t b = 1;
    while (b < AUTO_MAX && one * (size_t)b * 2 <= AUTO_ARENA)
        b *= 2;
    return b;
}

/* ---- whole passes on several threads ----------------------------------
 *
 * With T threads and two passes or more to run, up to T copies of the
 * inference graph each run whole passes on one thread (their kernels on
 * that thread alone), instead of every layer being cut over the T threads:
 * no hand-off per layer, and each thread's activations stay in its own
 * core's caches. A copy is traced like the first and prepares its own
 * packed weights (the memory: those and one arena per copy). A sample's
 * outputs are the same bits either way, as kernels compute every output
 * element alike for any split and any batch. Not for custom models (a trace
 * runs the caller's code), models of unknown input size (traced per size)
 * or models whose weights were released (copies could not prepare them). */

typedef struct pass_run {
    cr_traced *t[CR_MAX_COPIES];
    int k;                        /* output k, or (k < 0) t->out, stopping there */
    const float *x;
    int64_t per_in, per_out, bs;
    size_t n;
    float *out;
    int rc[CR_MAX_COPIES];
    char msg[CR_MAX_COPIES][512];
} pass_run;

static void pass_task(void *ctx, int ith, int nth)
{
    pass_run *r = ctx;
    cr_graph *g = r->t[ith]->g;
    cr_ctx c = { .pool = NULL, .training = false };
    for (size_t s = (size_t)ith * (size_t)r->bs; s < r->n; s += (size_t)nth * (size_t)r->bs) {
        int64_t b = (int64_t)(r->n - s < (size_t)r->bs ? r->n - s : (size_t)r->bs);
        int rc = cr_graph_plan(g, b);
        if (rc) {   /* the message is this thread's: the caller re-raises it */
            r->rc[ith] = rc;
            snprintf(r->msg[ith], sizeof r->msg[ith], "%s", crest_last_error());
            return;
        }
        const cr_node *y = r->k < 0 ? r->t[ith]->out : g->outputs[r->k];
        cr_graph_feed(g, r->x, r->per_in, NULL, s, b);
        for (int i = 0; i <= y->id; i++)
            if (g->nodes[i]->kind == CR_NODE_OP)
                g->nodes[i]->op->forward(g->nodes[i], &c);
        memcpy(r->out + s * (size_t)r->per_out, y->val, (size_t)(b * r->per_out) * sizeof(float));
    }
}

int cr_run_passes(crest_model *m, cr_pool *pool, int k, const float *x, size_t n, int64_t bs,
                  float *out, int64_t per_out)
{
    int64_t passes = bs > 0 ? (int64_t)((n + (size_t)bs - 1) / (size_t)bs) : 0;
    int nt = cr_pool_size(pool);
    if (nt > passes)
        nt = (int)passes;
    if (nt > CR_MAX_COPIES)
        nt = CR_MAX_COPIES;
    if (nt < 2 || m->dynamic || m->kind == &cr_custom_kind || m->layers_borrowed ||
        m->params.released || !m->infer.g)
        return 0;
    while (m->n_copies < nt - 1) {
        int rc = cr_model_trace_copy(m, &m->copy[m->n_copies]);
        if (rc)
            return rc;
        m->n_copies++;
    }
    pass_run *r = cr_calloc(1, sizeof *r);
    if (!r)
        return cr_fail(CREST_E_NOMEM, "out of memory running passes");
    *r = (pass_run){ .k = k, .x = x, .per_in = cr_dims_count(&m->feed), .per_out = per_out,
                     .bs = bs, .n = n, .out = out };
    r->t[0] = &m->infer;
    for (int i = 1; i < nt; i++)
        r->t[i] = &m->copy[i - 1];
    cr_pool_run(pool, nt, pass_task, r);
    int rc = 1;
    for (int i = 0; i < nt && rc == 1; i++)
        if (r->rc[i])
            rc = cr_fail(r->rc[i], "%s", r->msg[i]);
    cr_free(r);
    return rc;
}

int crest_infer(crest_model *m, const char *layer, const float *x, size_t n, int batch_size,
                float **out, crest_dims *out_shape)
{
    if (!m || !out || !out_shape || (!x && n))
        return cr_fail(CREST_E_ARG, "infer: NULL argument");
    *out = NULL;
    if (batch_size < 0 || batch_size > (1 << 20))
        return cr_fail(CREST_E_ARG, "infer: batch size %d", batch_size);
    int64_t bs = batch_size;
    cr_pool *pool;
    int rc = cr_model_build(m);
    if (!rc)
        rc = cr_model_ready(m);   /* unknown input dimensions: the data's shape is set */
    if (!rc)
        rc = cr_model_pool(m, &pool);
    if (rc)
        return rc;
    cr_graph *g = m->infer.g, *own = NULL;
    cr_node *y = m->infer.out;
    if (layer) {
        crest_layer *l = crest_model_find_layer(m, layer);   /* or 'outer/inner' */
        if (!l)
            return cr_fail(CREST_E_ARG, "model '%s' has no layer '%s'", m->name, layer);
        if ((rc = probe_graph(m, l, &own, &y)))
            return rc;
        g = own;
    }
    if (!bs && !(bs = cr_auto_batch(g)))
        rc = cr_graph_status(g) ? cr_graph_status(g) : cr_fail(CREST_E_NOMEM, "infer: planning failed");
    if (rc) {
        cr_graph_free(own);
        return rc;
    }
    cr_ctx ctx = { .pool = pool, .training = false };
    int64_t per_in = cr_dims_count(&m->feed), per_out = 0;
    float *res = NULL;
    for (size_t s = 0; s < n || (n == 0 && s == 0); s += (size_t)bs) {
        int64_t b = n ? (int64_t)(n - s < (size_t)bs ? n - s : (size_t)bs) : 1;
        if ((rc = cr_graph_plan(g, b)))
            goto out;
        if (!res) {
            per_out = cr_dims_count(&y->shape) / b;
            res = cr_malloc((n ? n : 1) * (size_t)per_out * sizeof(float));
            if (!res) {
                rc = cr_fail(CREST_E_NOMEM, "infer: out of memory for %zu outputs", n);
                goto out;
            }
        }
        if (!n)
            break;
        if (s == 0 && !own) {   /* all of them on copies of g, if it can */
            int ran = cr_run_passes(m, pool, -1, x, n, bs, res, per_out);
            if (ran < 0) {
                rc = ran;
                goto out;
            }
            if (ran == 1)
                break;
        }
        cr_graph_feed(g, x, per_in, NULL, s, b);
        for (int i = 0; i <= y->id; i++)   /* nothing past the requested output */
            if (g->nodes[i]->kind == CR_NODE_OP)
                g->nodes[i]->op->forward(g->nodes[i], &ctx);
        memcpy(res + s * (size_t)per_out, y->val, (size_t)(b * per_out) * sizeof(float));
    }
    out_shape->ndim = y->shape.ndim - 1;
    for (int i = 1; i < y->shape.ndim; i++)
        out_shape->d[i - 1] = y->shape.d[i];
    *out = res;
    res = NULL;
out:
    cr_free(res);
    cr_graph_free(own);
    return rc;
}
