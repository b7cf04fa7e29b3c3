/* custom.c - custom models (a user struct and a vtable whose `call` composes
 * layers and ops, the C form of subclassing keras.Model), the registry of
 * custom model classes for loading.
 *
 * Tracing: the model's trace makes the input node, sets the graph's
 * on_apply hook and calls vt->call. Each layer applied while tracing (also
 * one applied inside another, e.g. by a Lambda's function: its weights must
 * be trained and saved too) reaches the hook, which adds it to m->layers the
 * first time (naming it uniquely), so summary, weights, fit and save see it. The layers stay the user's (m->layers_borrowed).
 * Variables `call` creates itself belong to a "root" layer named after the
 * model, which the model owns and lists first once it holds weights.
 *
 * Loading: the custom kind's from_json looks the class name up among the
 * registered factories and hands them the topology's config.
 */
#include "internal.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- the registry of model classes ------------------------------------ */

static cr_registry model_classes = { .mu = PTHREAD_MUTEX_INITIALIZER };

int crest_register_model(const char *class_name, crest_model_factory factory)
{
    return cr_registry_set(&model_classes, class_name, (void (*)(void))factory);
}

/* ---- the root layer: variables created by `call` itself ------------------ */

static cr_node *root_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    (void)in;
    (void)n_in;
    return cr_graph_fail(g, CREST_E_STATE, "layer '%s' holds a model's variables and is "
                                           "not applied", l->name);
}

static const cr_layer_def root_def = { .keras_class = "ModelVariables",
    .default_name = "variables", .build = root_build };

/* ---- custom models ----------------------------------------------------- */

typedef struct custom_impl {
    const crest_model_vtable *vt;
    void *self;
    crest_layer *root;            /* owned */
} custom_impl;

static void custom_destroy(crest_model *m)
{
    custom_impl *c = m->impl;
    if (!c)
        return;
    if (c->vt->destroy)
        c->vt->destroy(c->self);
    crest_layer_free(c->root);
    cr_free(c);
    m->impl = NULL;
}

static bool has_layer(const crest_model *m, const crest_layer *l)
{
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i] == l)
            return true;
    return false;
}

/* on_apply: records a layer `call` applies, the first time. */
static void record_layer(cr_graph *g, crest_layer *l)
{
    crest_model *m = g->model;
    if (!l || has_layer(m, l))
        return;
    if (l->named) {
        for (int i = 0; i < m->n_layers; i++)
            if (strcmp(m->layers[i]->name, l->name) == 0) {
                cr_graph_fail(g, CREST_E_ARG, "model '%s': two layers are named '%s'",
                              m->name, l->name);
                return;
            }
    }
    if (m->n_layers == m->cap_layers) {
        int cap = m->cap_layers ? 2 * m->cap_layers : 16;
        crest_layer **ls = cr_realloc(m->layers, (size_t)cap * sizeof *ls);
        if (!ls) {
            cr_graph_fail(g, CREST_E_NOMEM, "out of memory recording layer '%s'", l->name);
            return;
        }
        m->layers = ls;
        m->cap_layers = cap;
    }
    cr_model_name_layer(m, l);
    m->layers[m->n_layers++] = l;
}

static cr_node *custom_trace(crest_model *m, cr_graph *g)
{
    custom_impl *c = m->impl;
    cr_node *x = cr_input(g, m->in_shape);
    cr_graph_mark_input(g, x);
    if (!x || g->err)
        return NULL;
    /* the root's slot in the list: first, once it holds weights */
    int had_root = m->n_layers > 0 && m->layers[0] == c->root;
    g->on_apply = record_layer;
    g->layer = c->root;
    cr_node *y = c->vt->call(c->self, g, x, crest_graph_training(g));
    g->layer = NULL;
    g->on_apply = NULL;
    if (g->err)
        return NULL;
    if (!y)
        return cr_graph_fail(g, CREST_E_STATE, "model '%s': %s.call returned NULL", m->name,
                             c->vt->name);
    if (!had_root && c->root->n_w > 0) {
        record_layer(g, c->root);
        if (g->err)
            return NULL;
        memmove(m->layers + 1, m->layers, (size_t)(m->n_layers - 1) * sizeof *m->layers);
        m->layers[0] = c->root;
    }
    /* a later trace (training) may apply layers the first did not */
    if (cr_model_collect_weights(m))
        return cr_graph_fail(g, CREST_E_NOMEM, "out of memory listing weights of '%s'",
                             m->name);
    return y;
}

/* The config get_config gives (an empty one without it); NULL with the
 * message set on error. */
static cJSON *custom_config(crest_model *m, const custom_impl *c)
{
    cJSON *cfg = NULL;
    if (!c->vt->get_config) {
        if (!(cfg = cJSON_CreateObject()))
            cr_fail(CREST_E_NOMEM, "out of memory saving model '%s'", m->name);
        return cfg;
    }
    char *text = c->vt->get_config(c->self);
    int rc = text ? cr_json_parse(text, 0, "get_config", &cfg) : CREST_E_FORMAT;
    free(text);
    if (rc == CREST_E_NOMEM)
        return NULL;
    if (!cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        cr_fail(CREST_E_FORMAT, "model '%s': %s.get_config gave no JSON object", m->name,
                c->vt->name);
        return NULL;
    }
    return cfg;
}

static cJSON *custom_to_json(crest_model *m)
{
    custom_impl *c = m->impl;
    cJSON *cfg = custom_config(m, c), *layers = cfg ? cr_model_layers_json(m, c->root, NULL) : NULL;
    if (!layers) {
        cJSON_Delete(cfg);
        return NULL;
    }
    if (!cJSON_GetObjectItemCaseSensitive(cfg, "name"))
        cJSON_AddStringToObject(cfg, "name", m->name);
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "batch_input_shape");
    cr_json_add_shape(cfg, "batch_input_shape", &m->in_shape);
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "layers");
    cr_json_put(cfg, "layers", layers);
    cJSON *top = cr_model_json_wrap(c->vt->name, cfg);
    if (!top)
        cr_fail(CREST_E_NOMEM, "out of memory saving model '%s'", m->name);
    return top;
}

int crest_custom_new(crest_model **out, const crest_model_vtable *vt, void *self,
                     crest_dims in)
{
    int rc = CREST_OK;
    crest_model *m = NULL;
    if (out)
        *out = NULL;
    if (!out || !vt || !vt->call || !vt->name || !*vt->name ||
        strlen(vt->name) >= sizeof m->name) {
        rc = cr_fail(CREST_E_ARG, "custom_new: out, vtable, its call or name is missing");
        goto fail;
    }
    if (in.ndim < 1 || in.ndim >= CREST_MAX_DIMS) {
        rc = cr_fail(CREST_E_SHAPE, "%s: input shape must have 1 to %d dimensions, has %d",
                     vt->name, CREST_MAX_DIMS - 1, in.ndim);
        goto fail;
    }
    for (int i = 0; i < in.ndim; i++)
        if (in.d[i] < 1 || in.d[i] > (1 << 24)) {
            rc = cr_fail(CREST_E_SHAPE, "%s: input dimension %d is %lld", vt->name, i,
                         (long long)in.d[i]);
            goto fail;
        }
    m = cr_model_alloc(&cr_custom_kind, vt->name);
    custom_impl *c = m ? cr_calloc(1, sizeof *c) : NULL;
    crest_layer *root = c ? cr_layer_new(&root_def, NULL) : NULL;
    if (!root) {
        cr_free(c);
        cr_free(m);
        rc = cr_fail(CREST_E_NOMEM, "out of memory creating model %s", vt->name);
        goto fail;
    }
    snprintf(root->name, sizeof root->name, "%s", vt->name);
    root->named = true;
    c->vt = vt;
    c->self = self;
    c->root = root;
    m->impl = c;
    m->in_shape = in;
    cr_model_set_declared(m);
    m->layers_borrowed = true;
    *out = m;
    return CREST_OK;
fail:
    if (vt && vt->destroy)
        vt->destroy(self);
    return rc;
}

static int custom_from_json(const char *class_name, const cJSON *config, crest_model **out)
{
    crest_model_factory f = (crest_model_factory)cr_registry_get(&model_classes, class_name);
    if (!f)
        return cr_fail(CREST_E_UNSUPPORTED,
                       "model class '%s' is not registered: build the model in C and call "
                       "crest_model_load_weights, or crest_register_model(\"%s\", factory) "
                       "before loading", class_name, class_name);
    char *text = cr_json_print(config, false);
    if (!text)
        return cr_fail(CREST_E_NOMEM, "out of memory loading model class '%s'", class_name);
    int rc = f(out, text);
    cJSON_free(text);
    if (rc == CREST_OK && !*out)
        rc = cr_fail(CREST_E_STATE, "the factory of model class '%s' made no model",
                     class_name);
    if (rc) {
        if (out && *out) {
            crest_model_free(*out);
            *out = NULL;
        }
        return cr_wrap(rc, "model class '%s'", class_name);
    }
    return CREST_OK;
}

const cr_model_kind cr_custom_kind = {
    .class_name = NULL, .from_json = custom_from_json, .to_json = custom_to_json,
    .trace = custom_trace, .destroy = custom_destroy,
};
