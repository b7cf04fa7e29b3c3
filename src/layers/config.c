/* config.c - Keras config values that layers share (declared in src/json.h):
 * activations, initializers, L2 regularizers, int lists, a first layer's
 * input shape. Below every layer: it knows no layer class. */
#include "../internal.h"
#include "../json.h"

#include <math.h>
#include <string.h>

/* Input shape from a layer config: batch_input_shape (Keras 2, TF.js) or
 * batch_shape (Keras 3), both with a leading null batch; null elsewhere is
 * an unknown dimension (CREST_DIM_NONE). */
int cr_input_shape_json(const cJSON *cfg, cr_dims *out, bool *found)
{
    *found = false;
    const char *keys[] = { "batch_input_shape", "batch_shape" };
    for (int i = 0; i < 2; i++)
        if (cJSON_GetObjectItemCaseSensitive(cfg, keys[i])) {
            *found = true;
            return cr_json_shape(cfg, keys[i], out);
        }
    return CREST_OK;
}

int cr_json_act(const cJSON *o, const char *key, crest_act *out)
{
    const char *name = NULL;
    int rc = cr_json_str(o, key, "linear", &name);
    if (rc)
        return rc;
    return crest_act_parse(name, out);
}

/* A key naming an activation: "activation", "recurrent_activation", ... */
static bool act_key(const cJSON *v)
{
    size_t n = v->string ? strlen(v->string) : 0;
    return cJSON_IsString(v) && n >= 10 && !strcmp(v->string + n - 10, "activation");
}

#define K3_NAME "hard_sigmoid_keras3"

static int from_k3(cJSON *o, int depth)
{
    for (cJSON *v = o && depth < 256 ? o->child : NULL; v; v = v->next) {
        if (act_key(v) && !strcmp(v->valuestring, "hard_sigmoid")) {
            if (!cJSON_SetValuestring(v, K3_NAME))
                return cr_fail(CREST_E_NOMEM, "out of memory");
        } else if ((cJSON_IsObject(v) || cJSON_IsArray(v)) && from_k3(v, depth + 1)) {
            return CREST_E_NOMEM;
        }
    }
    return CREST_OK;
}

int cr_acts_from_keras3(cJSON *topo) { return from_k3(topo, 0); }

/* layer: the name of the innermost config around o */
static int for_format(cJSON *o, bool keras3, const char *layer, int depth)
{
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (cJSON_IsObject(o) && cJSON_IsString(nm))
        layer = nm->valuestring;
    for (cJSON *v = o && depth < 256 ? o->child : NULL; v; v = v->next) {
        int rc = CREST_OK;
        if (!act_key(v) && (cJSON_IsObject(v) || cJSON_IsArray(v)))
            rc = for_format(v, keras3, layer, depth + 1);
        else if (act_key(v) && keras3 && !strcmp(v->valuestring, "hard_sigmoid"))
            rc = cr_fail(CREST_E_UNSUPPORTED, "layer '%s': activation hard_sigmoid as Keras 2 "
                         "and TF.js define it (clip(0.2 x + 0.5, 0, 1)) has no Keras 3 "
                         "equivalent (Keras 3's hard_sigmoid is relu6(x + 3) / 6): save it as "
                         "a TF.js folder or an .h5 file", layer);
        else if (act_key(v) && !keras3 && !strcmp(v->valuestring, K3_NAME))
            rc = cr_fail(CREST_E_UNSUPPORTED, "layer '%s': activation hard_sigmoid of a Keras "
                         "3 file (relu6(x + 3) / 6) has no equivalent in TF.js and Keras 2 "
                         "files (whose hard_sigmoid is clip(0.2 x + 0.5, 0, 1)): save it as "
                         "a .keras file", layer);
        else if (act_key(v) && keras3 && !strcmp(v->valuestring, K3_NAME) &&
                 !cJSON_SetValuestring(v, "hard_sigmoid"))
            rc = cr_fail(CREST_E_NOMEM, "out of memory");
        if (rc)
            return rc;
    }
    return CREST_OK;
}

int cr_acts_for_format(cJSON *topo, bool keras3) { return for_format(topo, keras3, "?", 0); }

int cr_json_l2(const cJSON *o, const char *key, float *out)
{
    *out = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v))
        return CREST_OK;
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(v, "class_name");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(v, "config");
    if (!cJSON_IsString(cls) || !cJSON_IsObject(cfg))
        return cr_fail(CREST_E_FORMAT, "'%s' is not a regularizer object", key);
    const char *c = cls->valuestring;
    if (strcmp(c, "L1L2") && strcmp(c, "L2") && strcmp(c, "l2") && strcmp(c, "l1_l2"))
        return cr_fail(CREST_E_UNSUPPORTED, "'%s': regularizer %s is not supported", key, c);
    double l1 = 0, l2 = 0;
    int rc = cr_json_num(cfg, "l1", 0, 1e6, 0, &l1);
    if (!rc)
        rc = cr_json_num(cfg, "l2", 0, 1e6, 0, &l2);
    if (!rc && l1 != 0)
        rc = cr_fail(CREST_E_UNSUPPORTED, "'%s': L1 regularization is not supported", key);
    *out = (float)l2;
    return rc;
}

int cr_json_init(const cJSON *o, const char *key, crest_init def, crest_init *out)
{
    *out = def;
    return cr_init_parse(cJSON_GetObjectItemCaseSensitive(o, key), out);
}

void cr_json_add_init(cJSON *o, const char *key, crest_init i)
{
    cJSON *init = cJSON_AddObjectToObject(o, key);
    if (!init)
        return;
    cJSON_AddStringToObject(init, "class_name", cr_init_keras_name(i));
    cJSON *cfg = cJSON_AddObjectToObject(init, "config");
    if (cfg && i != CREST_ZEROS && i != CREST_ONES)
        cJSON_AddNullToObject(cfg, "seed");
}

void cr_json_add_l2(cJSON *o, const char *key, float l2)
{
    if (l2 <= 0) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    cJSON *r = cJSON_AddObjectToObject(o, key);
    if (!r)
        return;
    cJSON_AddStringToObject(r, "class_name", "L1L2");
    cJSON *cfg = cJSON_AddObjectToObject(r, "config");
    if (cfg) {
        cJSON_AddNumberToObject(cfg, "l1", 0);
        cJSON_AddNumberToObject(cfg, "l2", l2);
    }
}

int cr_json_ints(const cJSON *o, const char *key, int lo, int hi, int *out, int max, int *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *n = -1;
    if (!v || cJSON_IsNull(v))
        return CREST_OK;
    int k = 0;
    if (cJSON_IsNumber(v)) {
        k = 1;
    } else if (!cJSON_IsArray(v) || (k = cJSON_GetArraySize(v)) > max) {
        return cr_fail(CREST_E_FORMAT, "'%s' is not an int or a list of at most %d ints", key,
                       max);
    }
    for (int i = 0; i < k; i++) {
        const cJSON *e = cJSON_IsNumber(v) ? v : cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) ||
            e->valuedouble < lo || e->valuedouble > hi)
            return cr_fail(CREST_E_FORMAT, "'%s': entry %d is not an integer in [%d, %d]", key,
                           i, lo, hi);
        out[i] = (int)e->valuedouble;
    }
    *n = k;
    return CREST_OK;
}

void cr_json_add_ints(cJSON *o, const char *key, const int *v, int n)
{
    if (n <= 0)
        cJSON_AddNullToObject(o, key);
    else
        cr_json_put(o, key, cJSON_CreateIntArray(v, n));
}
