/* inference_only.c - crest_model_inference_only: every convolution's
 * weights prepared (folded, packed) at once, and the pages of the
 * originals returned to the system as each one is (see crest.h). Above
 * params.c, graph.c and model.c: nothing in the library calls it. */
#define _DEFAULT_SOURCE   /* madvise */
#include "internal.h"

#include <sys/mman.h>
#include <unistd.h>

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
