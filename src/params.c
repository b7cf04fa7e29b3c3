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
#define _DEFAULT_SOURCE   /* madvise */
#include "internal.h"

#include <sys/mman.h>
#include <unistd.h>

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
    cr_model_drop_copies(m);   /* traced again when next needed */
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

/* The index in m->weights of the weight whose values are v (NULL: -1). */
static int weight_index(const crest_model *m, const float *v)
{
    int lo = 0, hi = m->n_weights - 1;
    while (v && lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const float *a = m->weights[mid]->val;
        if (v == a)
            return mid;
        if (v < a)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

/* Whole pages of the value block, and how many weights still need each. */
typedef struct page_map {
    uintptr_t first;           /* address of page 0 */
    int64_t n, size;
    int *need;
} page_map;

static void page_range(const page_map *pm, const cr_weight *w, int64_t *lo, int64_t *hi)
{
    uintptr_t a = (uintptr_t)w->val, b = (uintptr_t)(w->val + w->size);
    *lo = a < pm->first ? 0 : (int64_t)((a - pm->first) / (uintptr_t)pm->size);
    *hi = b <= pm->first ? -1 : (int64_t)((b - 1 - pm->first) / (uintptr_t)pm->size);
    if (*hi >= pm->n)
        *hi = pm->n - 1;
}

static bool page_map_init(page_map *pm, const crest_model *m)
{
    long ps = sysconf(_SC_PAGESIZE);
    pm->size = ps > 0 ? ps : 4096;
    uintptr_t a = (uintptr_t)m->params.val, b = (uintptr_t)(m->params.val + m->params.n);
    pm->first = (a + (uintptr_t)pm->size - 1) / (uintptr_t)pm->size * (uintptr_t)pm->size;
    pm->n = b > pm->first ? (int64_t)((b - pm->first) / (uintptr_t)pm->size) : 0;
    if (!(pm->need = cr_calloc((size_t)pm->n + 1, sizeof *pm->need)))
        return false;
    for (int i = 0; i < m->n_weights; i++) {
        int64_t lo, hi;
        page_range(pm, m->weights[i], &lo, &hi);
        for (int64_t k = lo; m->weights[i]->size > 0 && k <= hi; k++)
            pm->need[k]++;
    }
    return true;
}

/* w is no longer read: the pages only it (and weights let go before) used
 * go back to the system. */
static void page_map_drop(page_map *pm, const cr_weight *w)
{
    int64_t lo, hi;
    page_range(pm, w, &lo, &hi);
    for (int64_t k = lo; w->size > 0 && k <= hi; k++)
        if (--pm->need[k] == 0)
            (void)madvise((void *)(pm->first + (uintptr_t)(k * pm->size)),
                          (size_t)pm->size, MADV_DONTNEED);
}

/* Marks in pinned the weights some op of g reads as they are (not prepared). */
static void pin_read_weights(const crest_model *m, const cr_graph *g, bool *pinned)
{
    for (int i = 0; i < g->n; i++) {
        cr_node *n = g->nodes[i];
        if (n->kind != CR_NODE_OP || (n->op->prepare && n->op->prepare(n, false) == 1))
            continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j]->kind == CR_NODE_PARAM && n->in[j]->w) {
                int k = weight_index(m, n->in[j]->w->val);
                if (k >= 0)
                    pinned[k] = true;
            }
    }
}

/* Prepares every op of g that can hold its weights, letting go of each
 * weight as soon as every op reading it holds it prepared. */
static int release_prepared(crest_model *m, cr_graph *g, bool *pinned, page_map *pm)
{
    m->params.released = true;   /* from the first page on, nothing may read them */
    g->holds_released = true;
    pin_read_weights(m, g, pinned);
    for (int i = 0; i < g->n; i++) {
        cr_node *n = g->nodes[i];
        if (n->kind != CR_NODE_OP || !n->op->prepare || n->op->prepare(n, false) != 1)
            continue;
        int rc = n->op->prepare(n, true);
        if (rc < 0)
            return n->layer ? cr_wrap(rc, "layer '%s'", n->layer) : rc;
        for (int j = 0; rc == 1 && j < n->n_in; j++) {
            int k = n->in[j]->kind == CR_NODE_PARAM && n->in[j]->w
                        ? weight_index(m, n->in[j]->w->val) : -1;
            if (k >= 0 && !pinned[k]) {
                pinned[k] = true;   /* dropped once */
                page_map_drop(pm, m->weights[k]);
            }
        }
    }
    return CREST_OK;
}

int crest_model_inference_only(crest_model *m)
{
    if (!m)
        return cr_fail(CREST_E_ARG, "inference_only: model is NULL");
    if (m->params.released)
        return CREST_OK;
    if (m->layers_borrowed)
        return cr_fail(CREST_E_UNSUPPORTED, "model '%s': a custom model's layers belong to "
                       "the caller, who may still read their weights", m->name);
    if (m->dynamic)
        return cr_fail(CREST_E_UNSUPPORTED, "model '%s': its input size is unknown, and "
                       "every new size is traced from the weights again", m->name);
    int rc = cr_model_build(m);
    if (!rc)
        rc = cr_model_ready(m);
    if (!rc)
        rc = cr_params_pack(m);
    cr_model_drop_copies(m);   /* they would prepare their own weights */
    if (!rc)
        rc = cr_graph_plan(m->infer.g, 1);   /* every window's geometry */
    if (rc)
        return rc;
    bool *pinned = cr_calloc((size_t)m->n_weights + 1, sizeof *pinned);
    page_map pm = { 0 };
    if (!pinned || !page_map_init(&pm, m))
        rc = cr_fail(CREST_E_NOMEM, "model '%s': out of memory preparing for inference",
                     m->name);
    if (!rc)
        rc = release_prepared(m, m->infer.g, pinned, &pm);
    cr_free(pinned);
    cr_free(pm.need);
    return rc;
}
