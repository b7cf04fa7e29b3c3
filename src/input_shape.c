/* input_shape.c - the data's sample shape bound to a model whose input has
 * unknown dimensions (see dynamic.c): every traced graph re-shaped to it,
 * or an error naming the shape and the layer that cannot take it. */
#include "internal.h"

#include <stdio.h>

int cr_model_ready(crest_model *m)
{
    if (m && m->dynamic && !m->fed) {
        char in[96];
        return cr_fail(CREST_E_SHAPE, "model '%s': its input %s has unknown dimensions; give "
                       "the data's shape first (crest_model_set_input_shape, or crest infer "
                       "--shape)", m->name, cr_shape_str(&m->in_shape, in, sizeof in));
    }
    return CREST_OK;
}

int cr_model_reshape_graph(crest_model *m, cr_graph *g)
{
    if (!m->dynamic || !g || g->n_inputs < 1 || cr_dims_eq(&g->inputs[0]->sample, &m->feed))
        return CREST_OK;
    int rc = cr_graph_reshape_input(g, 0, m->feed);
    if (!rc)
        rc = cr_graph_check_batched(g);
    return rc;
}

/* Re-shapes every traced graph of m to m->feed; the output size follows. */
static int reshape_all(crest_model *m)
{
    cr_graph *gs[3] = { m->infer.g, m->train.g, m->eval.g };
    for (int i = 0; i < 3; i++) {
        int rc = cr_model_reshape_graph(m, gs[i]);
        if (rc)
            return rc;
    }
    if (m->infer.g && m->infer.out) {
        const cr_node *o = m->infer.out;
        m->out_size = o->shape.d[0] ? cr_dims_count(&o->shape) / o->shape.d[0] : 0;
    }
    return CREST_OK;
}

int cr_model_bind(crest_model *m, const cr_dims *sample)
{
    if (!sample)
        return cr_model_ready(m);
    if (!m->dynamic)
        return CREST_OK;   /* the callers' own checks apply */
    char a[96], b[96];
    bool fits = sample->ndim == m->in_shape.ndim;
    for (int i = 0; fits && i < sample->ndim; i++)
        fits = sample->d[i] >= 1 && sample->d[i] <= (1 << 24) &&
               (m->in_shape.d[i] == CREST_DIM_NONE || m->in_shape.d[i] == sample->d[i]);
    if (!fits)
        return cr_fail(CREST_E_SHAPE, "model '%s': samples of shape %s do not fit its input %s",
                       m->name, cr_shape_str(sample, a, sizeof a),
                       cr_shape_str(&m->in_shape, b, sizeof b));
    int rc = cr_model_build(m);
    if (rc || (m->fed && cr_dims_eq(&m->feed, sample)))
        return rc;
    cr_dims before = m->feed;
    bool was = m->fed;
    m->feed = *sample;
    m->fed = true;
    if ((rc = reshape_all(m))) {
        char msg[640];
        snprintf(msg, sizeof msg, "%s", crest_last_error());
        m->feed = before;
        m->fed = was;
        reshape_all(m);   /* the shape that worked before */
        return cr_fail(rc, "model '%s' cannot take samples of shape %s: %s", m->name,
                       cr_shape_str(sample, a, sizeof a), msg);
    }
    return CREST_OK;
}

int crest_model_set_input_shape(crest_model *m, crest_dims sample)
{
    if (!m)
        return cr_fail(CREST_E_ARG, "set_input_shape: model is NULL");
    if (m->err)
        return cr_fail(m->err, "%s", m->errmsg);
    if (!m->dynamic) {
        char a[96], b[96];
        if (!cr_dims_eq(&sample, &m->in_shape))
            return cr_fail(CREST_E_SHAPE, "model '%s' takes samples of shape %s, not %s",
                           m->name, cr_shape_str(&m->in_shape, b, sizeof b),
                           cr_shape_str(&sample, a, sizeof a));
        return CREST_OK;
    }
    return cr_model_bind(m, &sample);
}
