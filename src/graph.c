/* graph.c - nodes, shape planning, memory planning, forward and backward.
 *
 * Nodes are appended as they are traced and an op's inputs always exist
 * before it, so creation order is a topological order: forward walks it
 * up, backward walks it down.
 *
 * Planning for a batch size re-runs every shape rule (so a graph traced
 * once serves any batch), then lays all buffers out in one arena:
 *  - training graphs keep every value (backward reads them) and give a
 *    gradient buffer to each node that needs one;
 *  - inference graphs reuse a buffer once its last consumer has run.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

cr_graph *cr_graph_new(crest_model *m, bool training)
{
    cr_graph *g = cr_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->model = m;
    g->training = training;
    cr_rng_seed(&g->init_rng, 0);
    return g;
}

static void node_free(cr_node *n)
{
    if (!n)
        return;
    if (n->op && n->op->release)
        n->op->release(n);
    cr_free(n->in);
    cr_free(n->attr);
    cr_free(n);
}

void cr_graph_free(cr_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n; i++)
        node_free(g->nodes[i]);
    for (int i = 0; i < g->n_own_w; i++)
        cr_weight_free(g->own_w[i]);
    cr_free(g->own_w);
    cr_free(g->nodes);
    cr_free(g->losses);
    cr_free(g->arena_raw);
    cr_free(g);
}

cr_node *cr_graph_fail(cr_graph *g, int code, const char *fmt, ...)
{
    if (!g || g->err)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->errmsg, sizeof g->errmsg, fmt, ap);
    va_end(ap);
    g->err = code;
    cr_fail(code, "%s", g->errmsg);
    return NULL;
}

int cr_graph_status(const cr_graph *g)
{
    if (!g)
        return cr_fail(CREST_E_NOMEM, "out of memory creating a graph");
    if (g->err)
        return cr_fail(g->err, "%s", g->errmsg);
    return CREST_OK;
}

bool crest_graph_training(const crest_graph *g)
{
    return g && g->training && !g->inference_mode;
}

crest_dims crest_node_shape(const crest_node *x)
{
    crest_dims s = { 0 };
    if (x)
        s = x->shape;
    return s;
}

static cr_node *add_node(cr_graph *g, int kind)
{
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        cr_node **nodes = cr_realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes)
            return cr_graph_fail(g, CREST_E_NOMEM, "out of memory growing the graph");
        g->nodes = nodes;
        g->cap = cap;
    }
    cr_node *n = cr_calloc(1, sizeof *n);
    if (!n)
        return cr_graph_fail(g, CREST_E_NOMEM, "out of memory adding a node");
    n->kind = kind;
    n->id = g->n;
    n->layer = g->layer ? g->layer->name : NULL;
    g->nodes[g->n++] = n;
    g->planned = false;
    return n;
}

/* A sample shape an input can take. */
static int check_sample(cr_dims sample, const char *what)
{
    if (sample.ndim < 0 || sample.ndim >= CR_MAX_DIMS)
        return cr_fail(CREST_E_SHAPE, "%s: rank %d is not supported (max %d)", what,
                       sample.ndim, CR_MAX_DIMS - 1);
    for (int i = 0; i < sample.ndim; i++)
        if (sample.d[i] <= 0 || sample.d[i] > (1 << 24))
            return cr_fail(CREST_E_SHAPE, "%s: dimension %d is %lld", what, i,
                           (long long)sample.d[i]);
    return CREST_OK;
}

cr_node *cr_input(cr_graph *g, cr_dims sample)
{
    if (!g || g->err)
        return NULL;
    if (check_sample(sample, "input"))
        return cr_graph_fail(g, CREST_E_SHAPE, "%s", crest_last_error());
    cr_node *n = add_node(g, CR_NODE_INPUT);
    if (!n)
        return NULL;
    n->sample = sample;
    n->needs_grad = g->training && g->input_grads;
    n->shape.ndim = sample.ndim + 1;
    n->shape.d[0] = 1;
    for (int i = 0; i < sample.ndim; i++)
        n->shape.d[i + 1] = sample.d[i];
    return n;
}

void cr_graph_mark_input(cr_graph *g, cr_node *x)
{
    if (!g || g->err || !x)
        return;
    if (x->kind != CR_NODE_INPUT) {
        cr_graph_fail(g, CREST_E_ARG, "a model input must be an input node");
        return;
    }
    if (g->n_inputs == CR_MAX_IO) {
        cr_graph_fail(g, CREST_E_ARG, "more than %d model inputs", CR_MAX_IO);
        return;
    }
    g->inputs[g->n_inputs++] = x;
}

int cr_graph_reshape_input(cr_graph *g, int k, cr_dims sample)
{
    int rc = cr_graph_status(g);
    if (rc)
        return rc;
    if (k < 0 || k >= g->n_inputs)
        return cr_fail(CREST_E_ARG, "input %d of %d", k, g->n_inputs);
    cr_node *in = g->inputs[k];
    if (sample.ndim != in->sample.ndim)
        return cr_fail(CREST_E_SHAPE, "input %d: rank %d, the graph takes rank %d", k,
                       sample.ndim, in->sample.ndim);
    if ((rc = check_sample(sample, "input")))
        return rc;
    in->sample = sample;
    for (int i = 0; i < sample.ndim; i++)
        in->shape.d[i + 1] = sample.d[i];
    g->planned = false;   /* shape rules run again at the next plan */
    return CREST_OK;
}

void cr_graph_feed(cr_graph *g, const float *x, int64_t stride, const size_t *rows,
                   size_t start, int64_t batch)
{
    int64_t off = 0;
    for (int i = 0; i < g->n_inputs; i++) {
        cr_node *in = g->inputs[i];
        int64_t per = cr_dims_count(&in->sample);
        for (int64_t b = 0; b < batch; b++) {
            size_t r = rows ? rows[start + (size_t)b] : start + (size_t)b;
            memcpy(in->val + b * per, x + r * (size_t)stride + off, (size_t)per * sizeof(float));
        }
        off += per;
    }
}

cr_node *cr_param(cr_graph *g, cr_weight *w)
{
    if (!g || g->err)
        return NULL;
    cr_node *n = add_node(g, CR_NODE_PARAM);
    if (!n)
        return NULL;
    n->w = w;
    n->shape = w->shape;
    n->val = w->val;
    n->needs_grad = g->training && w->trainable && (!w->owner || w->owner->trainable);
    return n;
}

cr_node *cr_op(cr_graph *g, const cr_op_def *def, cr_node **in, int n_in,
               const void *attr, size_t attr_size)
{
    if (!g || g->err)
        return NULL;
    for (int i = 0; i < n_in; i++)
        if (!in[i])
            return cr_graph_fail(g, CREST_E_ARG, "%s: input %d is NULL", def->name, i);
    if (def->arity >= 0 && n_in != def->arity)
        return cr_graph_fail(g, CREST_E_ARG, "%s: takes %d inputs, got %d", def->name,
                             def->arity, n_in);
    cr_node *n = add_node(g, CR_NODE_OP);
    if (!n)
        return NULL;
    n->op = def;
    n->n_in = n_in;
    n->in = cr_malloc((size_t)(n_in ? n_in : 1) * sizeof *n->in);
    if (!n->in)
        return cr_graph_fail(g, CREST_E_NOMEM, "%s: out of memory", def->name);
    for (int i = 0; i < n_in; i++) {
        n->in[i] = in[i];
        n->needs_grad |= in[i]->needs_grad;
    }
    if (attr_size) {
        n->attr = cr_malloc(attr_size);
        if (!n->attr)
            return cr_graph_fail(g, CREST_E_NOMEM, "%s: out of memory", def->name);
        memcpy(n->attr, attr, attr_size);
    }
    int rc = def->shape(n);
    if (rc != CREST_OK) {
        if (n->layer)
            cr_wrap(rc, "layer '%s'", n->layer);
        return cr_graph_fail(g, rc, "%s", crest_last_error());
    }
    return n;
}

void cr_graph_add_loss(cr_graph *g, cr_node *scalar)
{
    if (!g || g->err || !scalar)
        return;
    cr_node **l = cr_realloc(g->losses, (size_t)(g->n_losses + 1) * sizeof *l);
    if (!l) {
        cr_graph_fail(g, CREST_E_NOMEM, "out of memory adding a loss");
        return;
    }
    g->losses = l;
    g->losses[g->n_losses++] = scalar;
}

/* ---- planning ---------------------------------------------------------- */

/* Buffers are 16-float aligned offsets into one arena. */
static int64_t round16(int64_t n) { return (n + 15) & ~(int64_t)15; }

/* Floats of arena a node's value takes: uint8 values (int8 graphs) pack
 * four to a float, int16 values two. */
static int64_t value_floats(const cr_node *n)
{
    int64_t cnt = cr_dims_count(&n->shape);
    return round16(n->q8 ? (cnt + 3) / 4 : n->q16 ? (cnt + 1) / 2 : cnt);
}

typedef struct slot { int64_t off, size; bool busy; } slot;

typedef struct planner {
    slot *s;
    int n, cap;
    int64_t top;
} planner;

/* Best fit among free slots, else a new slot at the top. fresh: always a
 * new slot (graph inputs are filled before forward runs, so they must not
 * share a buffer with any op, even one that finished earlier in the plan). */
static int64_t plan_take(planner *p, int64_t size, int *slot_id, bool fresh)
{
    int best = -1;
    for (int i = 0; i < p->n && !fresh; i++)
        if (!p->s[i].busy && p->s[i].size >= size &&
            (best < 0 || p->s[i].size < p->s[best].size))
            best = i;
    if (best < 0 && !fresh) {
        /* No free slot is large enough: one ending at the top grows instead
         * of a new slot. Only ever grows (a fresh input must not take over a
         * free slot at all, and shrinking would move the top below offsets
         * already handed out). */
        for (int i = 0; i < p->n; i++)
            if (!p->s[i].busy && p->s[i].off + p->s[i].size == p->top &&
                p->s[i].size < size) {
                p->top += size - p->s[i].size;
                p->s[i].size = size;
                p->s[i].busy = true;
                *slot_id = i;
                return p->s[i].off;
            }
    }
    if (best < 0) {
        if (p->n == p->cap) {
            int cap = p->cap ? p->cap * 2 : 64;
            slot *s = cr_realloc(p->s, (size_t)cap * sizeof *s);
            if (!s)
                return -1;
            p->s = s;
            p->cap = cap;
        }
        best = p->n++;
        p->s[best] = (slot){ .off = p->top, .size = size };
        p->top += size;
    }
    p->s[best].busy = true;
    *slot_id = best;
    return p->s[best].off;
}

/* ---- plan validation ---------------------------------------------------- */

typedef struct pbuf { int64_t off, size; int birth, death, node; char what; } pbuf;

static int pbuf_cmp(const void *a, const void *b)
{
    const pbuf *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off ? 1 : x->node - y->node;
}

/* Steps during which node i's value is live in an inference plan: from its
 * op until its last consumer has run; graph inputs, kept nodes and nodes
 * nobody consumes (outputs) live to the end. Training plans keep all. */
static int value_death(const cr_graph *g, const cr_node *n, const bool *consumed)
{
    if (g->training || n->kind != CR_NODE_OP || n->keep || !consumed[n->id])
        return g->n;
    return n->last_use;
}

/* Every planned buffer lies inside the arena and no two buffers live at the
 * same step overlap. Run on every plan unless NDEBUG (tests, ASan builds). */
int cr_graph_check_layout(const cr_graph *g, const int64_t *voff, const int64_t *aoff,
                      const int64_t *goff, int64_t top)
{
    int rc = CREST_OK;
    pbuf *b = cr_malloc((size_t)g->n * 3 * sizeof *b + 1);
    bool *consumed = cr_calloc((size_t)g->n + 1, sizeof *consumed);
    if (!b || !consumed) {
        rc = cr_fail(CREST_E_NOMEM, "out of memory checking the plan");
        goto out;
    }
    for (int i = 0; i < g->n; i++)
        for (int j = 0; j < g->nodes[i]->n_in; j++)
            consumed[g->nodes[i]->in[j]->id] = true;
    int nb = 0;
    for (int i = 0; i < g->n; i++) {
        const cr_node *n = g->nodes[i];
        if (n->kind == CR_NODE_PARAM)
            continue;
        int64_t cnt = value_floats(n);
        int all = g->training ? 0 : i;
        if (voff[i] != -1)
            b[nb++] = (pbuf){ voff[i], cnt, all, value_death(g, n, consumed), i, 'v' };
        if (aoff[i] != -1)
            b[nb++] = (pbuf){ aoff[i], round16(n->op->aux_size(n)), all,
                              g->training ? g->n : i, i, 'a' };
        if (goff[i] != -1)
            b[nb++] = (pbuf){ goff[i], cnt, 0, g->n, i, 'g' };
    }
    for (int i = 0; i < nb; i++)
        if (b[i].off < 0 || b[i].size < 0 || b[i].off + b[i].size > top) {
            rc = cr_fail(CREST_E_INTERNAL, "plan: %c buffer of node %d ([%lld, +%lld)) "
                         "is outside the arena (%lld floats)", b[i].what, b[i].node,
                         (long long)b[i].off, (long long)b[i].size, (long long)top);
            goto out;
        }
    qsort(b, (size_t)nb, sizeof *b, pbuf_cmp);
    for (int i = 0; i < nb; i++)
        for (int j = i + 1; j < nb && b[j].off < b[i].off + b[i].size; j++) {
            if (b[j].size == 0 || b[i].size == 0)
                continue;
            if (b[i].birth <= b[j].death && b[j].birth <= b[i].death) {
                rc = cr_fail(CREST_E_INTERNAL, "plan: %c buffer of node %d and %c buffer "
                             "of node %d overlap while both are live (batch %lld)",
                             b[i].what, b[i].node, b[j].what, b[j].node,
                             (long long)g->nodes[0]->shape.d[0]);
                goto out;
            }
        }
out:
    cr_free(b);
    cr_free(consumed);
    return rc;
}

/* Every node's shape for inputs of this batch size. */
static int graph_shapes(cr_graph *g, int64_t batch)
{
    g->planned = false;
    for (int i = 0; i < g->n; i++) {
        cr_node *n = g->nodes[i];
        if (n->kind == CR_NODE_INPUT) {
            n->shape.d[0] = batch;
        } else if (n->kind == CR_NODE_OP) {
            int rc = n->op->shape(n);
            if (rc)
                return n->layer ? cr_wrap(rc, "layer '%s'", n->layer) : rc;
        }
    }
    return CREST_OK;
}

int cr_graph_check_batched(cr_graph *g)
{
    int64_t one[CR_MAX_IO];
    int rc = graph_shapes(g, 1);
    for (int k = 0; !rc && k < g->n_outputs; k++)
        one[k] = cr_dims_count(&g->outputs[k]->shape);
    if (!rc)
        rc = graph_shapes(g, 3);
    for (int k = 0; !rc && k < g->n_outputs; k++) {
        const cr_node *o = g->outputs[k];
        if (o->shape.ndim < 1 || o->shape.d[0] != 3 || cr_dims_count(&o->shape) != 3 * one[k]) {
            char s[96];
            rc = cr_fail(CREST_E_SHAPE, "output %d (shape %s for 3 samples) does not follow "
                         "the batch: its first dimension must be the samples'", k,
                         cr_dims_str(&o->shape, s, sizeof s));
        }
    }
    int back = graph_shapes(g, 1);   /* as traced */
    return rc ? rc : back;
}

/* Each node's last consumer (its own id if none). */
static void mark_last_use(cr_graph *g)
{
    for (int i = 0; i < g->n; i++)
        g->nodes[i]->last_use = g->nodes[i]->id;
    for (int i = 0; i < g->n; i++)
        for (int j = 0; j < g->nodes[i]->n_in; j++)
            g->nodes[i]->in[j]->last_use = i;
}

/* Training layout: offsets in the arena of every node's value, aux and
 * gradient (-1: none) in p, handed out in execution order (every training
 * buffer lives to the end, backward reads them); vslot: the slot holding
 * each value. Returns false when out of memory. */
static bool lay_out(cr_graph *g, planner *p, int64_t *voff, int64_t *aoff, int64_t *goff,
                    int *vslot)
{
    for (int i = 0; i < g->n; i++) {
        cr_node *n = g->nodes[i];
        voff[i] = aoff[i] = goff[i] = -1;
        vslot[i] = -1;
        if (n->kind == CR_NODE_PARAM)
            continue;
        int64_t cnt = value_floats(n);
        int sid;
        if ((voff[i] = plan_take(p, cnt, &vslot[i], n->kind == CR_NODE_INPUT)) < 0)
            return false;
        int64_t a = n->op && n->op->aux_size ? n->op->aux_size(n) : 0;
        /* aux lives as long as the value: a slot of its own */
        if (a > 0 && (aoff[i] = plan_take(p, round16(a), &sid, false)) < 0)
            return false;
        if (n->needs_grad && (goff[i] = plan_take(p, cnt, &sid, false)) < 0)
            return false;
    }
    return true;
}

/* Inference layout. Every buffer's live steps are known before any is
 * placed (a value from its op to its last consumer, graph inputs from the
 * start, outputs and kept values to the end, aux during its op), so the
 * buffers are placed largest first, each at the lowest offset where it
 * overlaps no placed buffer live at a common step ("greedy by size"). Handing
 * buffers out in execution order instead leaves holes that later, larger
 * values cannot use: on MobileNetV2 at batch 1 this plan's arena is the
 * largest step's live set. Ties are broken by node and kind, so the plan
 * depends on the graph alone. */
typedef struct lbuf { int64_t size, off; int birth, death, key; } lbuf;

static int lbuf_by_size(const void *a, const void *b)
{
    const lbuf *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->key - y->key;
}

static int lbuf_by_off(const void *a, const void *b)
{
    const lbuf *x = *(const lbuf *const *)a, *y = *(const lbuf *const *)b;
    return x->off < y->off ? -1 : x->off > y->off ? 1 : x->key - y->key;
}

/* voff/aoff as lay_out's; *top: the arena's size. False when out of memory. */
static bool lay_out_by_size(const cr_graph *g, int64_t *voff, int64_t *aoff, int64_t *top)
{
    lbuf *b = cr_malloc((size_t)g->n * 2 * sizeof *b + 1);
    const lbuf **near = cr_malloc((size_t)g->n * 2 * sizeof *near + 1);
    bool *consumed = cr_calloc((size_t)g->n + 1, sizeof *consumed);
    bool ok = b && near && consumed;
    int nb = 0;
    for (int i = 0; ok && i < g->n; i++)
        for (int j = 0; j < g->nodes[i]->n_in; j++)
            consumed[g->nodes[i]->in[j]->id] = true;
    for (int i = 0; ok && i < g->n; i++) {
        const cr_node *n = g->nodes[i];
        voff[i] = aoff[i] = -1;
        if (n->kind == CR_NODE_PARAM)
            continue;
        int birth = n->kind == CR_NODE_INPUT ? 0 : i;   /* filled before forward */
        b[nb++] = (lbuf){ value_floats(n), 0, birth, value_death(g, n, consumed), 2 * i };
        int64_t a = n->op && n->op->aux_size ? n->op->aux_size(n) : 0;
        if (a > 0)
            b[nb++] = (lbuf){ round16(a), 0, i, i, 2 * i + 1 };
    }
    if (ok)
        qsort(b, (size_t)nb, sizeof *b, lbuf_by_size);
    *top = 0;
    for (int k = 0; ok && k < nb; k++) {
        int nn = 0;
        for (int j = 0; j < k; j++)
            if (b[j].size > 0 && b[j].birth <= b[k].death && b[k].birth <= b[j].death)
                near[nn++] = &b[j];
        qsort(near, (size_t)nn, sizeof *near, lbuf_by_off);
        int64_t off = 0;
        for (int j = 0; j < nn && near[j]->off < off + b[k].size; j++)
            if (near[j]->off + near[j]->size > off)
                off = near[j]->off + near[j]->size;
        b[k].off = off;
        if (off + b[k].size > *top)
            *top = off + b[k].size;
        if (b[k].key % 2)
            aoff[b[k].key / 2] = off;
        else
            voff[b[k].key / 2] = off;
    }
    cr_free(b);
    cr_free(near);
    cr_free(consumed);
    return ok;
}

/* Grows the arena to top floats if needed and points every node at its
 * buffers (parameters at their weights). Returns false when out of memory. */
static bool bind_arena(cr_graph *g, int64_t top, const int64_t *voff, const int64_t *aoff,
                       const int64_t *goff)
{
    if ((size_t)top > g->arena_cap) {
        /* values need not survive a re-plan: a fresh block, 64-byte aligned
         * so every planned buffer (16-float offsets) starts a cache line */
        char *raw = cr_malloc((size_t)top * sizeof(float) + 64);
        if (!raw)
            return false;
        cr_free(g->arena_raw);
        g->arena_raw = raw;
        g->arena = (float *)(void *)(raw + (64 - (uintptr_t)raw % 64) % 64);
        g->arena_cap = (size_t)top;
    }
    g->arena_used = (size_t)top;
    for (int i = 0; i < g->n; i++) {
        cr_node *n = g->nodes[i];
        if (n->kind == CR_NODE_PARAM) {
            n->val = n->w->val;
            n->grad = n->needs_grad ? n->w->grad : NULL;
            continue;
        }
        n->val = g->arena + voff[i];
        n->aux = aoff[i] >= 0 ? g->arena + aoff[i] : NULL;
        n->grad = goff[i] >= 0 ? g->arena + goff[i] : NULL;
    }
    return true;
}

int cr_graph_plan(cr_graph *g, int64_t batch)
{
    int rc = cr_graph_status(g);
    if (rc)
        return rc;
    if (batch < 1)
        return cr_fail(CREST_E_ARG, "batch size %lld", (long long)batch);
    if (g->model && g->model->params.released && !g->holds_released)   /* would prepare zeros */
        return cr_fail(CREST_E_STATE, "model '%s': its weights were released for inference "
                       "only (crest_model_inference_only); only the graph prepared then "
                       "runs", g->model->name);
    if (g->planned && g->batch == batch)
        return CREST_OK;
    if ((rc = graph_shapes(g, batch)))
        return rc;
    mark_last_use(g);
    /* layout: value, aux, grad offsets */
    int64_t *voff = cr_malloc((size_t)g->n * 3 * sizeof *voff);
    int *vslot = cr_malloc((size_t)g->n * sizeof *vslot);
    planner p = { 0 };
    bool ok = voff && vslot;
    if (ok && g->training) {
        ok = lay_out(g, &p, voff, voff + g->n, voff + 2 * g->n, vslot);
    } else if (ok) {
        for (int i = 0; i < g->n; i++)
            voff[2 * g->n + i] = -1;   /* no gradients */
        ok = lay_out_by_size(g, voff, voff + g->n, &p.top);
    }
#ifndef NDEBUG
    if (ok)
        rc = cr_graph_check_layout(g, voff, voff + g->n, voff + 2 * g->n, p.top);
#endif
    if (ok && !rc)
        ok = bind_arena(g, p.top, voff, voff + g->n, voff + 2 * g->n);
    if (!ok)
        rc = cr_fail(CREST_E_NOMEM, "out of memory planning the graph (batch %lld)",
                     (long long)batch);
    if (!rc) {
        g->batch = batch;
        g->planned = true;
    }
    cr_free(p.s);
    cr_free(voff);
    cr_free(vslot);
    return rc;
}

/* Inference plans may hand a released buffer to a later node, so values of
 * intermediate nodes are only valid until reused; outputs that callers read
 * must be the last node or kept alive by being consumed late. Callers that
 * need several outputs plan a training-style graph. */

void cr_graph_forward(cr_graph *g, const cr_ctx *c)
{
    for (int i = 0; i < g->n; i++) {
        cr_node *n = g->nodes[i];
        if (n->kind == CR_NODE_OP)
            n->op->forward(n, c);
    }
}

/* Zeroes n's gradient buffer (values' gradients; parameters' are the
 * optimizer's) unless zeroed[n] says it is done. */
static void zero_grad(cr_node *n, bool *zeroed)
{
    if (n->kind == CR_NODE_PARAM || !n->grad || (zeroed && zeroed[n->id]))
        return;
    memset(n->grad, 0, (size_t)cr_dims_count(&n->shape) * sizeof(float));
    if (zeroed)
        zeroed[n->id] = true;
}

/* Every gradient buffer is zeroed before anything accumulates into it:
 * just before the first backward op that writes it (its last consumer
 * that runs), while that op's data is about to be in cache, rather than
 * all in one pass over memory first; buffers nothing writes are zeroed at
 * the end, so every one ends as before (out of memory for the flags: all
 * zeroed first). */
void cr_graph_backward(cr_graph *g, cr_node *loss, const cr_ctx *c)
{
    bool *zeroed = cr_calloc((size_t)g->n + 1, sizeof *zeroed);
    for (int i = 0; !zeroed && i < g->n; i++)
        zero_grad(g->nodes[i], NULL);
    if (loss->grad) {
        if (zeroed)
            zero_grad(loss, zeroed);
        loss->grad[0] = 1.0f;
    }
    for (int i = loss->grad ? loss->id : -1; i >= 0; i--) {
        cr_node *n = g->nodes[i];
        if (n->kind != CR_NODE_OP || !n->grad || !n->op->backward)
            continue;
        if (zeroed) {
            zero_grad(n, zeroed);   /* nothing wrote it: its gradient is zero */
            for (int k = 0; k < n->n_in; k++)
                zero_grad(n->in[k], zeroed);
        }
        n->op->backward(n, c);
    }
    for (int i = 0; zeroed && i < g->n; i++)
        zero_grad(g->nodes[i], zeroed);
    cr_free(zeroed);
}

cr_node *cr_example_var(cr_graph *g, cr_rng *r, cr_dims shape, float lo, float hi, float gap)
{
    if (!g || g->err)
        return NULL;
    cr_weight *w = cr_weight_new("example", shape, true);
    cr_weight **ws = w ? cr_realloc(g->own_w, (size_t)(g->n_own_w + 1) * sizeof *ws) : NULL;
    if (!ws) {
        cr_weight_free(w);
        return cr_graph_fail(g, CREST_E_NOMEM, "out of memory");
    }
    g->own_w = ws;
    g->own_w[g->n_own_w++] = w;
    for (int64_t i = 0; i < w->size; i++) {
        float v;
        do
            v = lo + (hi - lo) * (float)cr_rng_uniform(r);
        while (gap > 0 && v > -gap && v < gap);
        w->val[i] = v;
    }
    return cr_param(g, w);
}

typedef struct rows_job {
    cr_rows_fn fn;
    void *ctx;
    int64_t rows;
} rows_job;

static void rows_task(void *ctx, int ith, int nth)
{
    rows_job *j = ctx;
    int64_t lo, hi;
    cr_split(j->rows, ith, nth, &lo, &hi);
    if (hi > lo)
        j->fn(j->ctx, lo, hi);
}

void cr_parallel_rows(const cr_ctx *c, int64_t rows, int64_t work_per_row, cr_rows_fn fn,
                      void *ctx)
{
    int nth = c && c->pool ? cr_pool_size(c->pool) : 1;
    /* below ~64k flops a thread hand-off costs more than it saves */
    if (nth > 1 && rows * work_per_row < (1 << 20))
        nth = 1;
    if (nth > rows)
        nth = (int)rows;
    if (nth <= 1) {
        if (rows > 0)
            fn(ctx, 0, rows);
        return;
    }
    rows_job j = { fn, ctx, rows };
    cr_pool_run(c->pool, nth, rows_task, &j);
}
