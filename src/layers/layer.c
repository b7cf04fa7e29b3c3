/* layer.c - what every layer shares: weights, initializers, names, apply. */
#include "../internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

/* ---- weights ----------------------------------------------------------- */

cr_weight *cr_weight_new(const char *name, cr_dims shape, bool trainable)
{
    int64_t size = cr_dims_count(&shape);
    if (shape.ndim < 0 || size < 0 || size > ((int64_t)1 << 32)) {
        cr_fail(CREST_E_SHAPE, "weight '%s': %lld values is not a sane size", name,
                (long long)size);
        return NULL;
    }
    cr_weight *w = cr_calloc(1, sizeof *w);
    if (!w)
        goto nomem;
    w->name = cr_strdup(name);
    w->val = cr_calloc((size_t)size, sizeof(float));
    if (!w->name || !w->val)
        goto nomem;
    w->shape = shape;
    w->size = size;
    w->trainable = trainable;
    return w;
nomem:
    cr_weight_free(w);
    cr_fail(CREST_E_NOMEM, "out of memory for weight '%s'", name);
    return NULL;
}

void cr_weight_free(cr_weight *w)
{
    if (!w)
        return;
    cr_free(w->name);
    cr_free(w->val);
    cr_free(w->grad);
    cr_free(w->slot[0]);
    cr_free(w->slot[1]);
    cr_free(w);
}

/* Keras' fans: dense [in, out]; conv [kh, kw, in, out] -> in*kh*kw, out*kh*kw. */
static void fans(const cr_dims *s, double *fan_in, double *fan_out)
{
    if (s->ndim < 1) {
        *fan_in = *fan_out = 1;
    } else if (s->ndim == 1) {
        *fan_in = *fan_out = (double)s->d[0];
    } else if (s->ndim == 2) {
        *fan_in = (double)s->d[0];
        *fan_out = (double)s->d[1];
    } else {
        double rf = 1;
        for (int i = 0; i < s->ndim - 2; i++)
            rf *= (double)s->d[i];
        *fan_in = (double)s->d[s->ndim - 2] * rf;
        *fan_out = (double)s->d[s->ndim - 1] * rf;
    }
}

/* Normal truncated at two standard deviations, rescaled so its standard
 * deviation is stddev (Keras' VarianceScaling "truncated_normal"). */
static float trunc_normal(cr_rng *r, double stddev)
{
    double x;
    do
        x = cr_rng_normal(r);
    while (x < -2 || x > 2);
    return (float)(x * stddev / 0.87962566103423978);
}

void cr_weight_init(cr_weight *w, crest_init init, cr_rng *r)
{
    double fi, fo;
    fans(&w->shape, &fi, &fo);
    for (int64_t i = 0; i < w->size; i++) {
        float v = 0;
        switch (init) {
        case CREST_GLOROT_UNIFORM: {
            double lim = sqrt(6.0 / (fi + fo));
            v = (float)((cr_rng_uniform(r) * 2 - 1) * lim);
            break;
        }
        case CREST_GLOROT_NORMAL: v = trunc_normal(r, sqrt(2.0 / (fi + fo))); break;
        case CREST_HE_NORMAL: v = trunc_normal(r, sqrt(2.0 / fi)); break;
        case CREST_HE_UNIFORM: {
            double lim = sqrt(6.0 / fi);
            v = (float)((cr_rng_uniform(r) * 2 - 1) * lim);
            break;
        }
        case CREST_ONES: v = 1; break;
        case CREST_RANDOM_NORMAL: v = (float)(cr_rng_normal(r) * 0.05); break;
        case CREST_RANDOM_UNIFORM: v = (float)((cr_rng_uniform(r) * 2 - 1) * 0.05); break;
        default: v = 0; break;
        }
        w->val[i] = v;
    }
    w->version++;
}

static const char *const init_names[CREST_INIT_COUNT] = {
    [CREST_GLOROT_UNIFORM] = "GlorotUniform", [CREST_GLOROT_NORMAL] = "GlorotNormal",
    [CREST_HE_NORMAL] = "HeNormal",           [CREST_HE_UNIFORM] = "HeUniform",
    [CREST_ZEROS] = "Zeros",                  [CREST_ONES] = "Ones",
    [CREST_RANDOM_NORMAL] = "RandomNormal",   [CREST_RANDOM_UNIFORM] = "RandomUniform",
};

const char *cr_init_keras_name(crest_init i)
{
    return i > 0 && i < CREST_INIT_COUNT ? init_names[i] : "GlorotUniform";
}

int cr_init_parse(const cJSON *obj, crest_init *out)
{
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(obj, "class_name");
    if (!cJSON_IsString(cls))
        return CREST_OK;                    /* keep the layer's default */
    for (int i = 1; i < CREST_INIT_COUNT; i++)
        if (strcmp(cls->valuestring, init_names[i]) == 0) {
            *out = (crest_init)i;
            return CREST_OK;
        }
    /* Unknown initializers only matter for fresh weights; keep the default. */
    return CREST_OK;
}

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
    l->out_shape.ndim = y->shape.ndim - 1;
    for (int i = 1; i < y->shape.ndim; i++)
        l->out_shape.d[i - 1] = y->shape.d[i];
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

const cr_layer_def *cr_layer_def_find(const char *keras_class)
{
    for (int i = 0; i < cr_layer_registry_count; i++)
        if (strcmp(cr_layer_registry[i]->keras_class, keras_class) == 0)
            return cr_layer_registry[i];
    return NULL;
}
