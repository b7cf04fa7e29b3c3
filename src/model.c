/* model.c - the one model type: construction errors, tracing the model's
 * kind into its three graphs (inference, training, evaluation), weights,
 * threads, metadata; the summary table is src/summary.c. What differs
 * between kinds (Sequential, functional, custom) is in their cr_model_kind
 * (src/model_kinds.c). */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include "json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int cr_model_fail(crest_model *m, int code)
{
    /* keep the first construction error: later calls report it again */
    if (m && !m->err) {
        m->err = code;
        snprintf(m->errmsg, sizeof m->errmsg, "%s", crest_last_error());
    }
    return code;
}

static int model_status(const crest_model *m)
{
    if (!m)
        return cr_fail(CREST_E_ARG, "model is NULL");
    if (m->err)
        return cr_fail(m->err, "%s", m->errmsg);
    return CREST_OK;
}

crest_model *cr_model_alloc(const cr_model_kind *kind, const char *name)
{
    crest_model *m = cr_calloc(1, sizeof *m);
    if (!m) {
        cr_fail(CREST_E_NOMEM, "out of memory creating a model");
        return NULL;
    }
    m->kind = kind;
    snprintf(m->name, sizeof m->name, "%s", name);
    cr_rng_seed(&m->init_rng, 0);
    return m;
}

void cr_model_drop_loss_graphs(crest_model *m)
{
    cr_graph_free(m->train.g);
    cr_graph_free(m->eval.g);
    m->train = m->eval = (cr_traced){ 0 };
}

void cr_model_drop_copies(crest_model *m)
{
    for (int i = 0; i < m->n_copies; i++)
        cr_graph_free(m->copy[i].g);
    m->n_copies = 0;
}

void cr_model_invalidate(crest_model *m)
{
    cr_model_drop_copies(m);
    cr_model_drop_loss_graphs(m);
    cr_graph_free(m->infer.g);
    m->infer = (cr_traced){ 0 };
}

void crest_model_free(crest_model *m)
{
    if (!m)
        return;
    cr_model_invalidate(m);
    cr_params_release(m);
    for (int i = 0; i < m->n_layers && !m->layers_borrowed; i++)
        crest_layer_free(m->layers[i]);
    cr_free(m->layers);
    cr_free(m->weights);
    crest_optimizer_free(m->opt);
    cr_pool_free(m->pool);
    cr_free(m->meta_json);
    cJSON_Delete(m->nest_topo);
    cr_quant_free(m->quant);
    if (m->kind && m->kind->destroy)
        m->kind->destroy(m);
    cr_free(m);
}

static bool name_taken(const crest_model *m, const char *name, const crest_layer *skip)
{
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i] != skip && strcmp(m->layers[i]->name, name) == 0)
            return true;
    return false;
}

void cr_model_name_layer(crest_model *m, crest_layer *l)
{
    if (l->named)
        return;
    const char *base = l->def->default_name;
    snprintf(l->name, sizeof l->name, "%s", base);
    for (int k = 1; name_taken(m, l->name, l); k++)
        snprintf(l->name, sizeof l->name, "%s_%d", base, k);
}

int cr_model_push_layer(crest_model *m, crest_layer *l)
{
    if (m->n_layers == m->cap_layers) {
        int cap = m->cap_layers ? 2 * m->cap_layers : 16;
        crest_layer **ls = cr_realloc(m->layers, (size_t)cap * sizeof *ls);
        if (!ls) {
            crest_layer_free(l);
            return cr_fail(CREST_E_NOMEM, "out of memory adding a layer");
        }
        m->layers = ls;
        m->cap_layers = cap;
    }
    if (l->named && name_taken(m, l->name, l)) {
        int rc = cr_fail(CREST_E_ARG, "layer name '%s' is already used in model '%s'", l->name,
                         m->name);
        crest_layer_free(l);
        return rc;
    }
    cr_model_name_layer(m, l);
    m->layers[m->n_layers++] = l;
    return CREST_OK;
}

/* ---- tracing ----------------------------------------------------------- */

/* The model's forward pass, traced into g. */
cr_node *cr_model_trace(crest_model *m, cr_graph *g)
{
    return m->kind->trace(m, g);
}

int cr_model_collect_weights(crest_model *m)
{
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        n += m->layers[i]->n_w;
    cr_weight **ws = cr_realloc(m->weights, (size_t)(n ? n : 1) * sizeof *ws);
    if (!ws)
        return cr_fail(CREST_E_NOMEM, "out of memory listing weights");
    m->weights = ws;
    m->n_weights = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int j = 0; j < m->layers[i]->n_w; j++)
            m->weights[m->n_weights++] = m->layers[i]->w[j];
    return cr_params_pack(m);
}

/* ---- layer lookup (by index, name or nested path outer/inner) ---------- */

int crest_model_layer_count(const crest_model *m) { return m ? m->n_layers : 0; }

crest_layer *crest_model_layer(crest_model *m, int i)
{
    return m && i >= 0 && i < m->n_layers ? m->layers[i] : NULL;
}

static crest_layer *find_exact(crest_model *m, const char *name)
{
    for (int i = 0; m && name && i < m->n_layers; i++)
        if (!strcmp(m->layers[i]->name, name))
            return m->layers[i];
    return NULL;
}

/* A layer path "outer/inner" as the name crest gave that layer when
 * flattening: "outer_inner", or with last, "inner"; false if path has no '/'. */
static bool path_alt(const char *path, char *buf, size_t size, bool last)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!slash || !slash[1] || strlen(path) >= size)
        return false;
    if (last) {
        snprintf(buf, size, "%s", slash + 1);
        return true;
    }
    snprintf(buf, size, "%s", path);
    for (char *p = strchr(buf, '/'); p; p = strchr(p, '/'))
        *p = '_';
    return true;
}

void *cr_find_by_path(const char *path, void *(*find)(void *ctx, const char *name), void *ctx)
{
    void *hit = find(ctx, path);
    char alt[256];
    for (int last = 0; !hit && last < 2; last++)
        if (path_alt(path, alt, sizeof alt, last))
            hit = find(ctx, alt);
    return hit;
}

static void *layer_named(void *m, const char *name) { return find_exact(m, name); }

crest_layer *crest_model_find_layer(crest_model *m, const char *name)
{
    return cr_find_by_path(name, layer_named, m);
}

cr_weight *cr_model_find_weight(crest_model *m, const char *name)
{
    for (int i = 0; i < m->n_weights; i++) {
        cr_weight *w = m->weights[i];
        if (!w->owner)
            continue;
        size_t ln = strlen(w->owner->name);
        if (strncmp(name, w->owner->name, ln) == 0 && name[ln] == '/' &&
            strcmp(name + ln + 1, w->name) == 0)
            return w;
    }
    return NULL;
}

/* Every weight the graph uses must be one of the model's, or fit would not
 * train it and save would not write it (a layer applied inside a Lambda's
 * function in a Sequential model, say). */
static int check_weights_owned(const crest_model *m, const cr_graph *g)
{
    for (int i = 0; i < g->n; i++) {
        const cr_weight *w = g->nodes[i]->w;
        if (g->nodes[i]->kind != CR_NODE_PARAM || !w)
            continue;
        int k = 0;
        while (k < m->n_weights && m->weights[k] != w)
            k++;
        if (k == m->n_weights)
            return cr_fail(CREST_E_STATE, "weight '%s/%s' is used but belongs to no layer of "
                           "the model (a layer applied inside another layer? create variables "
                           "with crest_variable there)", w->owner ? w->owner->name : "",
                           w->name);
    }
    return CREST_OK;
}

int cr_model_build(crest_model *m)
{
    int rc = model_status(m);
    if (rc)
        return rc;
    if (m->infer.g)
        return CREST_OK;
    cr_graph *g = NULL;
    cr_node *out = NULL;
    if (m->dynamic) {   /* traced at a placeholder size, then at the data's (dynamic.c) */
        if ((rc = cr_model_build_dynamic(m, &g, &out)))
            return cr_wrap(rc, "model '%s'", m->name);
    } else {
        g = cr_graph_new(m, false);
        if (!g)
            return cr_fail(CREST_E_NOMEM, "out of memory building model '%s'", m->name);
        out = cr_model_trace(m, g);
    }
    rc = cr_graph_status(g);
    if (!rc && (!out || out->shape.ndim < 2))
        rc = cr_fail(CREST_E_SHAPE, "model '%s': output must be [batch, units]", m->name);
    if (!rc)
        rc = cr_model_collect_weights(m);
    if (!rc)
        rc = check_weights_owned(m, g);
    if (rc) {
        cr_graph_free(g);
        return cr_wrap(rc, "model '%s'", m->name);
    }
    out->keep = true;
    if (g->n_outputs == 0)
        g->outputs[g->n_outputs++] = out;
    int64_t fed = 0;
    for (int i = 0; i < g->n_inputs; i++)
        fed += cr_dims_count(&g->inputs[i]->sample);
    if (g->n_inputs < 1 || (!m->dynamic && fed != cr_dims_count(&m->in_shape))) {
        cr_graph_free(g);
        return cr_fail(CREST_E_STATE, "model '%s': its inputs take %lld values per sample, "
                                      "not %lld", m->name, (long long)fed,
                       (long long)cr_dims_count(&m->in_shape));
    }
    if ((rc = cr_graph_check_batched(g)) ||
        (!m->no_fuse && (rc = cr_graph_fuse_inference(g))) ||
        (m->quant && (rc = cr_graph_quantize(g, m->quant)))) {
        cr_graph_free(g);
        return cr_wrap(rc, "model '%s'", m->name);
    }
    m->infer = (cr_traced){ .g = g, .out = out };
    m->out_size = cr_dims_count(&out->shape) / out->shape.d[0];
    if (m->out_dynamic && !m->fed)
        m->out_size = 0;   /* known once the data's shape is */
    return CREST_OK;
}

int cr_model_trace_copy(crest_model *m, cr_traced *t)
{
    *t = (cr_traced){ 0 };
    cr_graph *g = cr_graph_new(m, false);
    if (!g)
        return cr_fail(CREST_E_NOMEM, "out of memory copying model '%s''s graph", m->name);
    cr_node *out = cr_model_trace(m, g);
    int rc = cr_graph_status(g);
    if (!rc && !out)
        rc = cr_fail(CREST_E_SHAPE, "model '%s': no output", m->name);
    if (!rc) {
        out->keep = true;
        if (g->n_outputs == 0)
            g->outputs[g->n_outputs++] = out;
        if (!m->no_fuse)
            rc = cr_graph_fuse_inference(g);
        if (!rc && m->quant)
            rc = cr_graph_quantize(g, m->quant);
    }
    if (!rc && (g->n != m->infer.g->n || g->n_outputs != m->infer.g->n_outputs))
        rc = cr_fail(CREST_E_INTERNAL, "model '%s': a second trace gave another graph "
                     "(%d nodes, not %d)", m->name, g->n, m->infer.g->n);
    if (rc) {
        cr_graph_free(g);
        return cr_wrap(rc, "model '%s'", m->name);
    }
    *t = (cr_traced){ .g = g, .out = out };
    return CREST_OK;
}

/* The compiled loss of out against fresh label and sample-weight inputs, plus
 * the graph's extra loss terms (regularizers), into t. */
static void add_loss(crest_model *m, cr_graph *g, cr_traced *t)
{
    const crest_compile_opts *o = &m->copts;
    t->label = o->loss == CREST_SPARSE_CCE ? cr_input(g, crest_shape(0))
                                           : cr_input(g, crest_shape(1, (int)m->out_size));
    t->sw = cr_input(g, crest_shape(0));
    switch (o->loss) {
    case CREST_SPARSE_CCE:
        t->loss = cr_op_sparse_cce_ls(g, t->out, t->label, t->sw, o->from_logits,
                                      o->label_smoothing);
        break;
    case CREST_CCE:
        t->loss = cr_op_cce(g, t->out, t->label, t->sw, o->from_logits, o->label_smoothing);
        break;
    case CREST_BCE:
        t->loss = cr_op_bce(g, t->out, t->label, t->sw, o->from_logits, o->label_smoothing);
        break;
    }
    for (int i = 0; i < g->n_losses && t->loss; i++)
        t->loss = crest_op_add(g, t->loss, g->losses[i]);
}

/* Training (or evaluation) graph: the forward pass, then the loss. */
static int build_with_loss(crest_model *m, bool training, cr_traced *out)
{
    int rc = cr_model_build(m);
    if (rc)
        return rc;
    cr_traced t = { .g = cr_graph_new(m, training) };
    if (!t.g)
        return cr_fail(CREST_E_NOMEM, "out of memory building model '%s'", m->name);
    t.out = cr_model_trace(m, t.g);
    if (t.out && t.out->shape.ndim != 2)
        t.out = crest_op_flatten(t.g, t.out);
    add_loss(m, t.g, &t);
    rc = cr_graph_status(t.g);
    if (!rc && m->n_weights != 0) {   /* tracing again must not create weights */
        int n = 0;
        for (int i = 0; i < m->n_layers; i++)
            n += m->layers[i]->n_w;
        if (n != m->n_weights)
            rc = cr_fail(CREST_E_STATE, "model '%s': the training trace made new weights",
                         m->name);
    }
    if (!rc) {
        t.out->keep = true;
        t.loss->keep = true;
        /* training graphs: only where no gradient flows (frozen layers) */
        if (!(rc = cr_graph_check_batched(t.g)) && !m->no_fuse)
            rc = cr_graph_fuse_inference(t.g);
        if (!rc && m->quant)
            rc = cr_graph_quantize(t.g, m->quant);
    }
    if (rc) {
        cr_graph_free(t.g);
        return cr_wrap(rc, "model '%s'", m->name);
    }
    *out = t;
    return CREST_OK;
}

int cr_model_build_train(crest_model *m)
{
    if (m->train.g)
        return CREST_OK;
    if (!m->compiled)
        return cr_fail(CREST_E_STATE, "model '%s' is not compiled", m->name);
    if (m->quant)
        return cr_quant_refuse(m, "trained (its weights are int8 codes)");
    return build_with_loss(m, true, &m->train);
}

int cr_model_build_eval(crest_model *m)
{
    if (m->eval.g)
        return CREST_OK;
    if (!m->compiled)
        return cr_fail(CREST_E_STATE, "model '%s' is not compiled", m->name);
    return build_with_loss(m, false, &m->eval);
}

int cr_model_pool(crest_model *m, cr_pool **out)
{
    if (!m->pool) {
        int n = m->threads;
        if (n <= 0) {
            long c = sysconf(_SC_NPROCESSORS_ONLN);
            n = c > 0 ? (int)(c > 64 ? 64 : c) : 1;
        }
        m->pool = cr_pool_new(n);
        if (!m->pool)
            return cr_fail(CREST_E_NOMEM, "could not start %d threads", n);
    }
    *out = m->pool;
    return CREST_OK;
}

int crest_model_set_threads(crest_model *m, int n)
{
    if (!m || n < 0 || n > 256)
        return cr_fail(CREST_E_ARG, "threads: %d is not in [0, 256]", n);
    if (n != m->threads) {
        cr_pool_free(m->pool);
        m->pool = NULL;
        m->threads = n;
    }
    return CREST_OK;
}

int crest_model_threads(crest_model *m)
{
    cr_pool *p;
    return m && cr_model_pool(m, &p) == CREST_OK ? cr_pool_size(p) : 1;
}

int crest_model_set_seed(crest_model *m, uint64_t seed)
{
    if (!m)
        return cr_fail(CREST_E_ARG, "model is NULL");
    m->seed = seed;
    cr_rng_seed(&m->init_rng, seed);
    return CREST_OK;
}

int64_t crest_model_output_size(const crest_model *m)
{
    return m ? m->out_size : 0;
}

crest_dims crest_model_output_shape(const crest_model *m)
{
    crest_dims d = { 0 };
    if (!m || !m->infer.out || m->infer.out->shape.ndim < 1)
        return d;
    const cr_dims *s = &m->infer.out->shape;
    d.ndim = s->ndim - 1;
    for (int i = 1; i < s->ndim; i++) {
        bool none = !m->fed && i < 32 && (m->out_none >> i & 1u);
        d.d[i - 1] = none ? CREST_DIM_NONE : s->d[i];
    }
    return d;
}

crest_dims crest_model_input_shape(const crest_model *m)
{
    crest_dims d = { 0 };
    if (m)
        d = m->in_shape;
    return d;
}

size_t crest_model_param_count(const crest_model *m, bool trainable_only)
{
    if (!m)
        return 0;
    size_t n = 0;
    for (int i = 0; i < m->n_weights; i++)
        if (!trainable_only || cr_weight_trainable(m->weights[i]))
            n += (size_t)m->weights[i]->size;
    return n;
}

/* A model with a NaN or infinite weight (training diverged) would save but
 * never load again: every writer refuses it before writing anything. */
int cr_check_finite(const crest_model *m)
{
    int rc = cr_params_readable(m);
    if (rc)
        return rc;
    for (int i = 0; i < m->n_weights; i++) {
        const cr_weight *w = m->weights[i];
        for (int64_t k = 0; k < w->size; k++)
            if (!isfinite(w->val[k]))
                return cr_fail(CREST_E_STATE, "save: weight '%s/%s' (layer '%s'): value %lld "
                               "is %s (did training diverge?); nothing written",
                               w->owner ? w->owner->name : "", w->name,
                               w->owner ? w->owner->name : "?", (long long)k,
                               isnan(w->val[k]) ? "NaN" : "infinite");
    }
    return CREST_OK;
}

/* ---- Keras JSON pieces the kinds share -------------------------------- */

cJSON *cr_model_json_wrap(const char *class_name, cJSON *cfg)
{
    cJSON *top = cfg ? cJSON_CreateObject() : NULL;
    if (!top) {
        cJSON_Delete(cfg);
        return NULL;
    }
    cJSON_AddStringToObject(top, "class_name", class_name);
    cr_json_put(top, "config", cfg);   /* cfg is gone if this fails */
    cJSON_AddStringToObject(top, "keras_version", "tfjs-layers 4.22.0");
    cJSON_AddStringToObject(top, "backend", "tensor_flow.js");
    return top;
}

cJSON *cr_model_layers_json(crest_model *m, const crest_layer *skip, const cr_dims *first_input)
{
    cJSON *layers = cJSON_CreateArray();
    bool first = true;
    for (int i = 0; i < m->n_layers && layers; i++) {
        if (m->layers[i] == skip)
            continue;
        cJSON *l = cr_layer_json(m->layers[i], first ? first_input : NULL);
        first = false;
        if (!l) {
            cJSON_Delete(layers);
            cr_wrap(CREST_E_FORMAT, "saving layer '%s'", m->layers[i]->name);
            return NULL;
        }
        cr_json_push(layers, l);
    }
    return layers;
}

int crest_model_set_metadata(crest_model *m, const char *json)
{
    if (!m || !json)
        return cr_fail(CREST_E_ARG, "set_metadata: NULL argument");
    cJSON *j = NULL;
    int rc = cr_json_parse(json, 0, "metadata", &j);
    if (rc || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return rc ? rc : cr_fail(CREST_E_FORMAT, "metadata is not a JSON object");
    }
    cJSON_Delete(j);
    char *c = cr_strdup(json);
    if (!c)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    cr_free(m->meta_json);
    m->meta_json = c;
    return CREST_OK;
}

const char *crest_model_metadata(const crest_model *m) { return m ? m->meta_json : NULL; }
