/* infer.c - raw inference-mode forward passes: to the model's output or
 * stopping at a named layer's output (crest infer --layer). */
#include "internal.h"

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
