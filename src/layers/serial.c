/* serial.c - layers to and from their Keras JSON form ({"class_name",
 * "config"}): the parts every layer shares (class, name, trainable, the
 * input shape of a first layer); each class's own config goes through its
 * cr_layer_def's parse and save. Model kinds and file formats come here for
 * layers and never read a layer's config themselves. */
#include "../internal.h"
#include "../json.h"

#include <stdio.h>

cJSON *cr_layer_json(const crest_layer *l, const cr_dims *batch_input)
{
    cJSON *o = cJSON_CreateObject(), *cfg = cJSON_CreateObject();
    if (!o || !cfg) {
        cJSON_Delete(o);
        cJSON_Delete(cfg);
        return NULL;
    }
    cJSON_AddStringToObject(o, "class_name", l->def->keras_class);
    cJSON_AddStringToObject(cfg, "name", l->name);
    cJSON_AddBoolToObject(cfg, "trainable", l->trainable);
    if (batch_input) {
        cr_json_add_shape(cfg, "batch_input_shape", batch_input);
        cJSON_AddStringToObject(cfg, "dtype", "float32");
    }
    int rc = l->def->save ? l->def->save(l, cfg) : CREST_OK;
    if (rc) {
        if (rc == CREST_E_NOMEM)
            cr_json_note_oom();   /* the writer's cr_json_check reports it */
        cJSON_Delete(o);
        cJSON_Delete(cfg);
        return NULL;
    }
    cr_json_put(o, "config", cfg);   /* last: cfg is gone if this fails */
    return o;
}

int cr_layer_from_json(const cJSON *lj, crest_layer **out)
{
    *out = NULL;
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(lj, "class_name");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(lj, "config");
    if (!cJSON_IsString(cls) || !cJSON_IsObject(cfg))
        return cr_fail(CREST_E_FORMAT, "a layer has no class_name or config");
    const char *name = NULL;
    int rc = cr_json_str(cfg, "name", "", &name);
    if (rc)
        return rc;
    const cr_layer_def *def = cr_layer_def_find(cls->valuestring);
    if (!def)
        def = cr_custom_layer_def(cls->valuestring);
    if (!def)
        return cr_fail(CREST_E_UNSUPPORTED, "layer '%s': class %s is not supported: define it "
                       "with --custom-layers FILE (JSON {\"%s\": \"an expression over x and "
                       "the layer's numeric config fields\"}) or crest_register_layer(\"%s\", "
                       "...) in C", name, cls->valuestring, cls->valuestring, cls->valuestring);
    crest_layer *l = cr_layer_new(def, NULL);
    if (!l)
        return CREST_E_NOMEM;
    if (*name && (rc = crest_layer_set_name(l, name)))
        goto fail;
    bool trainable = true;
    if ((rc = cr_json_bool(cfg, "trainable", true, &trainable)))
        goto fail;
    l->trainable = trainable;
    if (def->parse && (rc = def->parse(l, cfg)))
        goto fail;
    *out = l;
    return CREST_OK;
fail:
    crest_layer_free(l);
    return cr_wrap(rc, "layer '%s' (%s)", name, cls->valuestring);
}

int crest_layer_from_keras(const char *class_name, const char *config_json, crest_layer **out)
{
    if (!out || !class_name)
        return cr_fail(CREST_E_ARG, "layer_from_keras: NULL argument");
    *out = NULL;
    const char *text = config_json ? config_json : "{}";
    cJSON *cfg = NULL, *lj = cJSON_CreateObject();
    int rc = lj ? cr_json_parse(text, strlen(text), class_name, &cfg) : CREST_E_NOMEM;
    if (!rc && !cJSON_IsObject(cfg))
        rc = cr_fail(CREST_E_FORMAT, "%s: the config is not a JSON object", class_name);
    if (!rc && (!cJSON_AddStringToObject(lj, "class_name", class_name) ||
                !cJSON_AddItemToObject(lj, "config", cfg)))
        rc = cr_fail(CREST_E_NOMEM, "out of memory");
    else if (!rc)
        cfg = NULL;                    /* lj owns it */
    if (!rc)
        rc = cr_layer_from_json(lj, out);
    cJSON_Delete(cfg);
    cJSON_Delete(lj);
    return rc;
}

int cr_layer_clone(const crest_layer *l, crest_layer **out)
{
    *out = NULL;
    cJSON *j = cr_layer_json(l, NULL);
    if (!j)
        return cr_fail(CREST_E_NOMEM, "out of memory copying layer '%s'", l->name);
    int rc = cr_layer_from_json(j, out);
    cJSON_Delete(j);
    if (!rc)
        (*out)->trainable = l->trainable;
    return rc;
}
