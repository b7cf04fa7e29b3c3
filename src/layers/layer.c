/* layer.c - what every layer shares: creation, names, variables, apply;
 * and the name -> function tables that the Lambda and model-class
 * registries use. Weights and initializers are in src/weights.c. */
#include "../internal.h"

#include <stdio.h>

/* ---- layers ------------------------------------------------------------ */

crest_layer *cr_layer_new(const cr_layer_def *def, const void *cfg)
{
    crest_layer *l = cr_calloc(1, sizeof *l);
    if (!l) {
        cr_fail(CREST_E_NOMEM, "out of memory creating a %s layer", def->keras_class);
        return NULL;
    }
    l->def = def;
    l->trainable = true;
    l->cfg = cr_calloc(1, def->cfg_size ? def->cfg_size : 1);
    if (!l->cfg) {
        cr_free(l);
        cr_fail(CREST_E_NOMEM, "out of memory creating a %s layer", def->keras_class);
        return NULL;
    }
    if (cfg)
        memcpy(l->cfg, cfg, def->cfg_size);
    snprintf(l->name, sizeof l->name, "%s", def->default_name);
    return l;
}

void crest_layer_free(crest_layer *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->n_w; i++)
        cr_weight_free(l->w[i]);
    cr_free(l->w);
    if (l->def->free_cfg)
        l->def->free_cfg(l->cfg);
    cr_free(l->cfg);
    cr_free(l);
}

int crest_layer_set_name(crest_layer *l, const char *name)
{
    if (!l || !name || !*name || strlen(name) >= sizeof l->name || strchr(name, '/'))
        return cr_fail(CREST_E_ARG, "layer name '%s' is empty, too long or has '/'",
                       name ? name : "(null)");
    snprintf(l->name, sizeof l->name, "%s", name);
    l->named = true;
    return CREST_OK;
}

const char *crest_layer_name(const crest_layer *l) { return l ? l->name : NULL; }
const char *crest_layer_class(const crest_layer *l) { return l ? l->def->keras_class : NULL; }

void crest_layer_set_trainable(crest_layer *l, bool trainable)
{
    if (!l)
        return;
    l->trainable = trainable;
    if (l->def->set_trainable)
        l->def->set_trainable(l, trainable);
}

cr_weight *cr_layer_weight(crest_layer *l, const char *name)
{
    for (int i = 0; i < l->n_w; i++)
        if (strcmp(l->w[i]->name, name) == 0)
            return l->w[i];
    return NULL;
}

cr_node *cr_layer_var(cr_graph *g, const char *name, cr_dims shape, crest_init init,
                      bool trainable)
{
    if (!g || g->err)
        return NULL;
    crest_layer *l = g->layer;
    if (!l)
        return cr_graph_fail(g, CREST_E_STATE, "variable '%s' created outside a layer", name);
    cr_weight *w = cr_layer_weight(l, name);
    if (w) {
        if (!cr_dims_eq(&w->shape, &shape)) {
            char a[96], b[96];
            return cr_graph_fail(g, CREST_E_SHAPE,
                                 "layer '%s': weight '%s' has shape %s, the graph needs %s",
                                 l->name, name, cr_dims_str(&w->shape, a, sizeof a),
                                 cr_dims_str(&shape, b, sizeof b));
        }
        return cr_param(g, w);
    }
    w = cr_weight_new(name, shape, trainable);
    cr_weight **ws = w ? cr_realloc(l->w, (size_t)(l->n_w + 1) * sizeof *ws) : NULL;
    if (!ws) {
        cr_weight_free(w);
        return cr_graph_fail(g, CREST_E_NOMEM, "layer '%s': out of memory for '%s'", l->name,
                             name);
    }
    l->w = ws;
    l->w[l->n_w++] = w;
    w->owner = l;
    cr_weight_init(w, init, g->model ? &g->model->init_rng : &g->init_rng);
    return cr_param(g, w);
}

crest_node *crest_variable(crest_graph *g, const char *name, crest_dims shape,
                           crest_init init, bool trainable)
{
    return cr_layer_var(g, name, shape, init == CREST_INIT_DEFAULT ? CREST_GLOROT_UNIFORM : init,
                        trainable);
}

bool cr_one_input(cr_graph *g, const crest_layer *l, int n_in)
{
    if (n_in == 1)
        return true;
    cr_graph_fail(g, CREST_E_ARG, "layer '%s': %s takes one input", l->name, l->def->keras_class);
    return false;
}

cr_node *cr_layer_apply(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    if (!g || g->err)
        return NULL;
    if (!l)
        return cr_graph_fail(g, CREST_E_ARG, "applying a NULL layer");
    crest_layer *outer = g->layer;
    if (g->on_apply) {
        g->on_apply(g, l);
        if (g->err)
            return NULL;
    }
    g->layer = l;
    cr_node *y = l->def->build(l, g, in, n_in);
    g->layer = outer;
    if (!y) {
        if (!g->err)
            cr_graph_fail(g, CREST_E_STATE, "layer '%s' built nothing", l->name);
        return NULL;
    }
    if (l->out_shape.ndim != y->shape.ndim - 1)
        l->none_mask = 0;
    l->out_shape.ndim = y->shape.ndim - 1;
    for (int i = 1; i < y->shape.ndim; i++)   /* unknown stays unknown (src/dynamic.c) */
        l->out_shape.d[i - 1] = i - 1 < 32 && (l->none_mask >> (i - 1) & 1u) ? CREST_DIM_NONE
                                                                             : y->shape.d[i];
    l->built = true;
    if (g->probe == l)
        g->probe_out = y;
    return y;
}

crest_node *crest_layer_apply(crest_layer *l, crest_graph *g, crest_node *x, bool training)
{
    if (!g)
        return NULL;
    bool saved = g->inference_mode;
    g->inference_mode = saved || !training;   /* inference inside stays inference */
    crest_node *y = cr_layer_apply(l, g, &x, 1);
    g->inference_mode = saved;
    return y;
}

/* ---- name -> function tables (custom layer and model classes) ---------- */

int cr_registry_set(cr_registry *r, const char *name, void (*fn)(void))
{
    if (!name || !*name || strlen(name) >= sizeof r->name[0])
        return cr_fail(CREST_E_ARG, "register: name '%s' is empty or longer than 127",
                       name ? name : "(null)");
    int rc = CREST_OK;
    pthread_mutex_lock(&r->mu);
    int i = 0;
    while (i < r->n && strcmp(r->name[i], name) != 0)
        i++;
    if (!fn) {                                  /* remove */
        if (i < r->n) {
            r->n--;
            memcpy(r->name[i], r->name[r->n], sizeof r->name[0]);
            r->fn[i] = r->fn[r->n];
        }
    } else if (i < r->n) {
        r->fn[i] = fn;
    } else if (r->n == CR_REGISTRY_MAX) {
        rc = cr_fail(CREST_E_ARG, "register '%s': already %d names", name, CR_REGISTRY_MAX);
    } else {
        snprintf(r->name[r->n], sizeof r->name[0], "%s", name);
        r->fn[r->n++] = fn;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void (*cr_registry_get(cr_registry *r, const char *name))(void)
{
    void (*fn)(void) = NULL;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n && !fn; i++)
        if (strcmp(r->name[i], name) == 0)
            fn = r->fn[i];
    pthread_mutex_unlock(&r->mu);
    return fn;
}
