/* model_kinds.c - the table of model kinds, one line each. A file format
 * (src/io/) reads a topology ({"class_name", "config"}) into a model and
 * writes one back through these two functions only; each kind's from_json,
 * to_json, trace and destroy live with the kind (src/sequential.c,
 * src/functional.c, src/custom.c). */
#include "internal.h"
#include "json.h"

static const cr_model_kind *const kinds[] = {
    &cr_sequential_kind,
    &cr_functional_kind,          /* "Model", and Keras 2's "Functional" */
    &cr_custom_kind,              /* any other class: the registered factories */
};

const cr_model_kind *cr_model_kind_find(const char *class_name)
{
    const cr_model_kind *fallback = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        const cr_model_kind *k = kinds[i];
        if (!k->class_name)
            fallback = k;
        else if (!strcmp(k->class_name, class_name) || (k->alias && !strcmp(k->alias, class_name)))
            return k;
    }
    return fallback;
}

/* A model among topo's layers */
static bool nests(const cJSON *topo)
{
    const cJSON *e, *list = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(topo, "config"), "layers");
    if (!cJSON_IsArray(list))
        return false;
    cJSON_ArrayForEach(e, list)
        if (cr_nest_is_model(e))
            return true;
    return false;
}

int cr_model_from_topology(const cJSON *topo, crest_model **out)
{
    *out = NULL;
    const cJSON *mc = cJSON_GetObjectItemCaseSensitive(topo, "model_config");
    if (cJSON_IsObject(mc))   /* Keras 2 converter wraps it */
        topo = mc;
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(topo, "class_name");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(topo, "config");
    if (!cJSON_IsString(cls) || !cfg)
        return cr_fail(CREST_E_FORMAT, "modelTopology has no class_name or config");
    int rc = cr_model_kind_find(cls->valuestring)->from_json(cls->valuestring, cfg, out);
    if (!rc && nests(topo) && !((*out)->nest_topo = cJSON_Duplicate(topo, true))) {
        crest_model_free(*out);
        *out = NULL;
        return cr_fail(CREST_E_NOMEM, "out of memory keeping the topology");
    }
    return rc;
}

cJSON *cr_model_to_json(crest_model *m)
{
    if (!m->kind->to_json) {
        cr_fail(CREST_E_UNSUPPORTED, "model '%s': this kind of model cannot be saved", m->name);
        return NULL;
    }
    return m->kind->to_json(m);
}
