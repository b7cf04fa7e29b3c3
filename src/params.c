/* params.c - the model's parameter block: the values, gradients and
 * optimizer slots of all its weights as three contiguous arrays (two for
 * the slots), each weight a view at its offset, in the order of
 * m->weights (Keras' order, the order files store them in).
 *
 * Weights are created by layers before any model exists, each with its
 * own values; cr_params_pack moves them into the model's block when the
 * model lists its weights, and again whenever the list changed (a layer
 * added or cut away) or a weight is found in another block (a user's
 * layer shared by two custom models: the last model to pack holds it;
 * every use of a block packs first, so no model works on stale copies). */
#include "internal.h"

static float *block_of(const cr_params *p, int k)
{
    return k < 0 ? p->grad : p->slot[k];
}

static float **view_of(cr_weight *w, int k)
{
    return k < 0 ? &w->grad : &w->slot[k];
}

/* Whether m->weights already lie in m->params, back to back. */
static bool packed(const crest_model *m)
{
    const cr_params *p = &m->params;
    int64_t off = 0;
    for (int i = 0; i < m->n_weights; i++) {
        const cr_weight *w = m->weights[i];
        if (w->block != p || w->val != p->val + off)
            return false;
        off += w->size;
    }
    return off == p->n;
}

static void free_block(cr_params *p)
{
    cr_free(p->val);
    cr_free(p->grad);
    cr_free(p->slot[0]);
    cr_free(p->slot[1]);
    *p = (cr_params){ 0 };
}

/* Frees what w owns (not views). */
static void drop_own(cr_weight *w)
{
    if (w->block)
        return;
    cr_free(w->val);
    for (int k = -1; k < 2; k++) {
        cr_free(*view_of(w, k));
        *view_of(w, k) = NULL;
    }
    w->val = NULL;
}

int cr_params_pack(crest_model *m)
{
    if (m->params.released)
        return cr_params_readable(m);
    if (packed(m))
        return CREST_OK;
    cr_params q = { 0 };
    bool any[3] = { false, false, false };   /* grad, slot 0, slot 1 */
    for (int i = 0; i < m->n_weights; i++) {
        q.n += m->weights[i]->size;
        for (int k = -1; k < 2; k++)
            any[k + 1] |= *view_of(m->weights[i], k) != NULL;
    }
    size_t bytes = (size_t)(q.n ? q.n : 1) * sizeof(float);
    bool ok = (q.val = cr_malloc(bytes)) != NULL;
    for (int k = -1; k < 2 && ok; k++)
        if (any[k + 1] || (k < 0 && m->params.grad) || (k >= 0 && m->params.slot[k]))
            ok = (*(k < 0 ? &q.grad : &q.slot[k]) = cr_calloc(1, bytes)) != NULL;
    if (!ok) {
        free_block(&q);
        return cr_fail(CREST_E_NOMEM, "model '%s': out of memory for %lld parameters",
                       m->name, (long long)q.n);
    }
    int64_t off = 0;
    for (int i = 0; i < m->n_weights; i++) {   /* copy, wherever they are now */
        cr_weight *w = m->weights[i];
        size_t wb = (size_t)w->size * sizeof(float);
        memcpy(q.val + off, w->val, wb);
        for (int k = -1; k < 2; k++)
            if (*view_of(w, k) && block_of(&q, k))
                memcpy(block_of(&q, k) + off, *view_of(w, k), wb);
        off += w->size;
        drop_own(w);   /* at once: the weights are never held twice over */
    }
    free_block(&m->params);
    m->params = q;
    off = 0;
    for (int i = 0; i < m->n_weights; i++) {
        cr_weight *w = m->weights[i];
        w->block = &m->params;
        w->val = q.val + off;
        for (int k = -1; k < 2; k++)
            *view_of(w, k) = block_of(&q, k) ? block_of(&q, k) + off : NULL;
        off += w->size;
    }
    cr_traced *t[3] = { &m->infer, &m->train, &m->eval };   /* plans hold the pointers */
    for (int i = 0; i < 3; i++)
        if (t[i]->g)
            t[i]->g->planned = false;
    for (int i = 0; i < m->n_copies; i++)
        m->copy[i].g->planned = false;
    return CREST_OK;
}

int cr_params_need(crest_model *m, int k)
{
    int rc = cr_params_pack(m);
    if (rc || block_of(&m->params, k))
        return rc;
    float *b = cr_calloc((size_t)(m->params.n ? m->params.n : 1), sizeof(float));
    if (!b)
        return cr_fail(CREST_E_NOMEM, "model '%s': out of memory for %s of %lld parameters",
                       m->name, k < 0 ? "gradients" : "optimizer state",
                       (long long)m->params.n);
    *(k < 0 ? &m->params.grad : &m->params.slot[k]) = b;
    int64_t off = 0;
    for (int i = 0; i < m->n_weights; i++) {
        *view_of(m->weights[i], k) = b + off;
        off += m->weights[i]->size;
    }
    if (k < 0) {   /* param nodes take w->grad when planned */
        cr_traced *t[3] = { &m->infer, &m->train, &m->eval };
        for (int i = 0; i < 3; i++)
            if (t[i]->g)
                t[i]->g->planned = false;
    }
    return CREST_OK;
}

void cr_params_release(crest_model *m)
{
    cr_params *p = &m->params;
    for (int i = 0; m->layers_borrowed && i < m->n_weights; i++) {
        cr_weight *w = m->weights[i];
        if (w->block != p)
            continue;
        size_t wb = (size_t)w->size * sizeof(float);
        float *own[4] = { cr_malloc(wb ? wb : 1), NULL, NULL, NULL };
        for (int k = -1; k < 2; k++)
            if (*view_of(w, k))
                own[k + 2] = cr_malloc(wb ? wb : 1);
        bool ok = own[0] != NULL;
        for (int k = -1; k < 2; k++)
            ok &= !*view_of(w, k) || own[k + 2];
        if (!ok) {   /* keep the values at least; a fresh optimizer state is valid */
            for (int j = 1; j < 4; j++)
                cr_free(own[j]);
            own[1] = own[2] = own[3] = NULL;
            if (!own[0])
                own[0] = cr_calloc(1, wb ? wb : 1);
        }
        if (own[0])
            memcpy(own[0], w->val, wb);
        for (int k = -1; k < 2; k++) {
            if (own[k + 2])
                memcpy(own[k + 2], *view_of(w, k), wb);
            *view_of(w, k) = own[k + 2];
        }
        w->val = own[0];
        w->block = NULL;
    }
    free_block(p);
}

bool cr_weight_trainable(const cr_weight *w)
{
    return w->trainable && (!w->owner || w->owner->trainable);
}

/* ---- inference only --------------------------------------------------- */

int cr_params_readable(const crest_model *m)
{
    if (!m->params.released)
        return CREST_OK;
    return cr_fail(CREST_E_STATE, "model '%s': its weights were released for inference "
                   "only (crest_model_inference_only): it runs forward passes, but is no "
                   "longer saved, exported, changed or trained", m->name);
}
