/* sequential.c - Sequential models: functional models whose layers form a
 * chain from one Input (crest_add applies a layer to the last output), so
 * tracing, cutting, freezing and appending a head are the functional ones.
 * Only the Keras JSON form differs: class "Sequential", a "layers" list whose
 * first layer carries batch_input_shape (Keras 2 / TF.js), or an InputLayer
 * entry (Keras 3). A nested model among the layers is flattened into the
 * chain (cr_nest_add, src/functional.c).
 */
#include "internal.h"
#include "json.h"

#include <stdio.h>

int crest_sequential_new(crest_model **out, crest_dims in)
{
    if (!out)
        return cr_fail(CREST_E_ARG, "crest_sequential_new: out is NULL");
    *out = NULL;
    if (in.ndim < 1 || in.ndim >= CREST_MAX_DIMS)
        return cr_fail(CREST_E_SHAPE, "input shape must have 1 to %d dimensions, has %d",
                       CREST_MAX_DIMS - 1, in.ndim);
    for (int i = 0; i < in.ndim; i++)
        if ((in.d[i] < 1 && in.d[i] != CREST_DIM_NONE) || in.d[i] > (1 << 24))
            return cr_fail(CREST_E_SHAPE, "input dimension %d is %lld", i, (long long)in.d[i]);
    crest_model *m;
    int rc = cr_functional_alloc(&cr_sequential_kind, "sequential", true, &m);
    if (rc)
        return rc;
    crest_sym *x = cr_functional_input(m, in, NULL);
    if (!x || (rc = cr_functional_set_outputs(m, &x, 1, &x, 1, false))) {
        rc = x ? rc : m->err;
        crest_model_free(m);
        return rc;
    }
    *out = m;
    return CREST_OK;
}

int crest_add(crest_model *m, crest_layer *l)
{
    int rc = !m ? cr_fail(CREST_E_ARG, "model is NULL")
                : m->err ? cr_fail(m->err, "%s", m->errmsg) : CREST_OK;
    if (rc) {
        crest_layer_free(l);
        return rc;
    }
    if (!l)   /* the constructor failed; its message is current */
        return cr_model_fail(m, cr_wrap(CREST_E_ARG, "crest_add: layer %d", m->n_layers));
    if (m->kind != &cr_sequential_kind) {
        crest_layer_free(l);
        return cr_fail(CREST_E_STATE, "crest_add: model '%s' is not Sequential", m->name);
    }
    crest_sym *in[1], *x = cr_functional_output(m, 0);
    if (cr_functional_inputs(m, in) != 1 || !x || (rc = cr_functional_reopen(m))) {
        crest_layer_free(l);
        return cr_model_fail(m, rc ? rc : cr_fail(CREST_E_STATE, "model '%s' is not a chain",
                                                  m->name));
    }
    x = cr_functional_call(m, l, &x, 1);   /* consumes l; errors stick to m */
    return x ? cr_functional_set_outputs(m, in, 1, &x, 1, false) : m->err;
}

static cr_node *seq_trace(crest_model *m, cr_graph *g)
{
    if (m->n_layers == 0)
        return cr_graph_fail(g, CREST_E_STATE, "model '%s' has no layers", m->name);
    return cr_functional_trace(m, g);
}

/* ---- Keras JSON -------------------------------------------------------- */

static cJSON *seq_to_json(crest_model *m)
{
    cJSON *cfg = cJSON_CreateObject(), *layers = cr_model_layers_json(m, NULL, &m->in_shape);
    if (!layers) {
        cJSON_Delete(cfg);
        return NULL;
    }
    cJSON_AddStringToObject(cfg, "name", m->name);
    cr_json_put(cfg, "layers", layers);
    return cr_model_json_wrap("Sequential", cfg);
}

/* The input shape: the first layer config with batch_input_shape (or
 * batch_shape). */
static int seq_input_shape(const cJSON *layers, cr_dims *in)
{
    in->ndim = -1;
    const cJSON *lj;
    cJSON_ArrayForEach(lj, layers)
    {
        bool found;
        int rc = cr_nest_input_shape(lj, in, &found);   /* a nested model: its input */
        if (rc)
            return cr_wrap(rc, "input shape");
        if (found)
            break;
    }
    if (in->ndim < 1)
        return cr_fail(CREST_E_FORMAT, "Sequential model has no batch_input_shape");
    return CREST_OK;
}

static int seq_from_json(const char *class_name, const cJSON *cfg, crest_model **out)
{
    (void)class_name;
    const cJSON *layers = cJSON_IsArray(cfg) ? cfg : cJSON_GetObjectItemCaseSensitive(cfg, "layers");
    if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) == 0)
        return cr_fail(CREST_E_FORMAT, "Sequential config has no layers");
    cr_dims in;
    int rc = seq_input_shape(layers, &in);
    if (rc || (rc = crest_sequential_new(out, in)))
        return rc;
    const cJSON *name = cJSON_IsObject(cfg) ? cJSON_GetObjectItemCaseSensitive(cfg, "name") : NULL;
    if (cJSON_IsString(name))
        snprintf((*out)->name, sizeof (*out)->name, "%s", name->valuestring);
    const cJSON *lj;
    cJSON_ArrayForEach(lj, layers)
    {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(lj, "class_name");
        if (cJSON_IsString(cls) && strcmp(cls->valuestring, "InputLayer") == 0)
            continue;
        crest_layer *l;
        if (cr_nest_is_model(lj)) {
            if ((rc = cr_nest_add(*out, lj)))
                break;
        } else if ((rc = cr_layer_from_json(lj, &l)) || (rc = crest_add(*out, l)))
            break;
    }
    if (rc) {
        crest_model_free(*out);
        *out = NULL;
    }
    return rc;
}

const cr_model_kind cr_sequential_kind = {
    .class_name = "Sequential", .from_json = seq_from_json, .to_json = seq_to_json,
    .trace = seq_trace, .destroy = cr_functional_destroy,
};
