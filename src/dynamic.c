/* dynamic.c - unknown input dimensions (Keras' None): fully convolutional
 * models over images of any size ([None, None, 3]), sequences of any
 * length ([None, C]).
 *
 * A graph has concrete shapes, so a model whose input has unknown
 * dimensions is traced once at a placeholder size (the first of 64, 256,
 * 1024 at which every layer's shape rule accepts it) and then runs at the
 * shape of the data at hand: binding a shape (src/input_shape.c) re-shapes
 * the model input of each traced graph (cr_graph_reshape_input) and re-runs
 * every shape rule, so a shape no layer takes fails at once, naming the
 * layer. The next plan lays the arena out again for that shape (the arena
 * only grows). This file is below model.c (cr_model_build traces through
 * it); binding, which builds the model first, is above it.
 *
 * Re-planning rather than a plan cached per shape: a plan is one pass over
 * the nodes (shape rules and a best-fit buffer assignment), well under a
 * millisecond for a 500-layer model, next to a forward pass over a whole
 * image; a cache would keep one arena per size seen, so a model serving
 * images of many sizes would grow without bound, while one arena sized to
 * the largest image keeps memory flat.
 *
 * Which output dimensions are unknown (the summary's None, Keras'
 * output_shape) is found by tracing a second time at twice the placeholder:
 * a dimension that changes follows the input's.
 */
#include "internal.h"

#include <stdio.h>

bool cr_dims_unknown(const cr_dims *d)
{
    for (int i = 0; i < d->ndim; i++)
        if (d->d[i] == CREST_DIM_NONE)
            return true;
    return false;
}

char *cr_shape_str(const cr_dims *d, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < d->ndim && k < size; i++) {
        if (d->d[i] == CREST_DIM_NONE)
            k += (size_t)snprintf(buf + k, size - k, i ? ",None" : "None");
        else
            k += (size_t)snprintf(buf + k, size - k, i ? ",%lld" : "%lld", (long long)d->d[i]);
    }
    if (k < size)
        snprintf(buf + k, size - k, "]");
    return buf;
}

/* The declared shape with every unknown dimension set to p. */
static cr_dims placeholder(const cr_dims *declared, int64_t p)
{
    cr_dims d = *declared;
    for (int i = 0; i < d.ndim; i++)
        if (d.d[i] == CREST_DIM_NONE)
            d.d[i] = p;
    return d;
}

int cr_model_set_declared(crest_model *m)
{
    m->dynamic = cr_dims_unknown(&m->in_shape);
    m->out_dynamic = false;
    m->out_none = 0;
    if (!m->dynamic) {
        m->feed = m->in_shape;
        m->fed = true;
        return CREST_OK;
    }
    /* a shape fed before (a cut or a head keeps the input) stays if it fits */
    bool fits = m->fed && m->feed.ndim == m->in_shape.ndim;
    for (int i = 0; fits && i < m->feed.ndim; i++)
        fits = m->in_shape.d[i] == CREST_DIM_NONE || m->in_shape.d[i] == m->feed.d[i];
    if (!fits) {
        m->fed = false;
        m->feed = placeholder(&m->in_shape, 64);
    }
    return CREST_OK;
}

cr_dims cr_model_trace_shape(const crest_model *m, const cr_dims *declared)
{
    return m->dynamic && cr_dims_unknown(declared) ? m->feed : *declared;
}

crest_dims crest_model_feed_shape(const crest_model *m)
{
    crest_dims d = { 0 };
    if (!m)
        return d;
    return m->dynamic && !m->fed ? m->in_shape : m->feed;
}

/* One trace of m at the sample shape `at`. */
static int trace_at(crest_model *m, cr_dims at, cr_graph **gout, cr_node **out)
{
    m->feed = at;
    cr_graph *g = cr_graph_new(m, false);
    if (!g)
        return cr_fail(CREST_E_NOMEM, "out of memory building model '%s'", m->name);
    cr_node *o = m->kind->trace(m, g);   /* as cr_model_trace, which builds on this file */
    int rc = cr_graph_status(g);
    if (!rc && !o)
        rc = cr_fail(CREST_E_STATE, "model '%s' traced no output", m->name);
    if (rc) {
        cr_graph_free(g);
        return rc;
    }
    *gout = g;
    *out = o;
    return CREST_OK;
}

int cr_model_build_dynamic(crest_model *m, cr_graph **gout, cr_node **out)
{
    static const int64_t tries[] = { 64, 256, 1024 };
    cr_dims feed = m->feed;
    bool fed = m->fed;
    char in[96], first[512] = "";
    cr_shape_str(&m->in_shape, in, sizeof in);
    cr_graph *g = NULL, *g2 = NULL;
    cr_node *o = NULL, *o2 = NULL;
    cr_dims *saved = NULL;
    int rc = CREST_OK, rc0 = CREST_OK;
    size_t t = 0;
    for (; t < sizeof tries / sizeof *tries; t++) {
        rc = trace_at(m, placeholder(&m->in_shape, tries[t]), &g, &o);
        if (!rc)
            break;
        if (!rc0) {
            rc0 = rc;
            snprintf(first, sizeof first, "%s", crest_last_error());
        }
    }
    if (rc) {
        rc = cr_fail(rc0, "input %s has unknown dimensions, and no size tried (64, 256, 1024) "
                          "fits every layer: %s", in, first);
        goto out;
    }
    /* mark the output dimensions that follow the input's */
    saved = cr_malloc((size_t)(m->n_layers ? m->n_layers : 1) * sizeof *saved);
    if (!saved) {
        rc = cr_fail(CREST_E_NOMEM, "out of memory building model '%s'", m->name);
        goto out;
    }
    for (int i = 0; i < m->n_layers; i++)
        saved[i] = m->layers[i]->out_shape;
    if ((rc = trace_at(m, placeholder(&m->in_shape, 2 * tries[t]), &g2, &o2))) {
        rc = cr_wrap(rc, "input %s has unknown dimensions, but a layer needs them fixed", in);
        goto out;
    }
    for (int i = 0; i < m->n_layers; i++) {
        crest_layer *l = m->layers[i];
        if (l->out_shape.ndim != saved[i].ndim)
            continue;
        for (int k = 0; k < l->out_shape.ndim && k < 32; k++)
            if (l->out_shape.d[k] != saved[i].d[k] || l->out_shape.d[k] == CREST_DIM_NONE) {
                l->none_mask |= 1u << k;
                l->out_shape.d[k] = CREST_DIM_NONE;
            }
    }
    m->out_dynamic = !cr_dims_eq(&o->shape, &o2->shape);
    m->out_none = 0;
    for (int k = 1; k < o->shape.ndim && k < o2->shape.ndim && k < 32; k++)
        if (o->shape.d[k] != o2->shape.d[k])
            m->out_none |= 1u << k;
    /* back to the data's shape, if one was given */
    m->feed = fed ? feed : placeholder(&m->in_shape, tries[t]);
    m->fed = fed;
    if (fed && (rc = cr_graph_reshape_input(g, 0, feed)))
        goto out;
    *gout = g;
    *out = o;
    g = NULL;
out:
    if (rc) {
        m->feed = feed;
        m->fed = fed;
    }
    cr_free(saved);
    cr_graph_free(g);
    cr_graph_free(g2);
    return rc;
}
