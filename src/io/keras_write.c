/* keras_write.c - a model as a Keras 3 `.keras` file (crest_model_save_keras).
 *
 * The zip holds, as Keras 3's saver writes them (tools/h5/KERAS_FORMATS.md):
 * metadata.json ({"keras_version", "date_saved"}, plus crest's extras
 * under "crest"), config.json (the model in Keras 3's schema) and
 * model.weights.h5 (a "vars" group per saveable: the model's at the root,
 * each layer's at layers/<class in snake case>[_N]/vars, datasets "0",
 * "1", ... in the layer's variable order), members stored uncompressed.
 *
 * The config comes from the model kinds' Keras JSON (cr_model_to_json,
 * Keras 2's schema: layers write their own configs) rewritten into Keras 3's
 * schema without looking into any layer's own fields: every object gets
 * module / registered_name, dtype strings become DTypePolicy objects, a
 * Sequential's input becomes an InputLayer entry (batch_shape), a
 * functional model's inbound_nodes become {"args": [keras tensors]} with
 * keras_history, and a single input or output is one [name, node, tensor].
 *
 * libhdf5 writes model.weights.h5 in memory (core driver, no backing
 * file), libzip the zip in memory; cr_write_file_atomic then writes it
 * (temp file, fsync, rename, fsync of the folder). libhdf5 is not
 * thread-safe: the writing holds a mutex.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "json.h"
#include "io/h5.h"
#include "io/keras.h"

#include <hdf5.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <zip.h>

#define KERAS_VERSION "3.0.0"          /* the oldest Keras 3 whose loader reads this layout */

static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- config.json ---------------------------------------------------------- */

static cJSON *policy(const char *name)
{
    cJSON *p = cJSON_CreateObject(), *c = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "module", "keras");
    cJSON_AddStringToObject(p, "class_name", "DTypePolicy");
    cJSON_AddStringToObject(c, "name", name);
    cr_json_put(p, "config", c);
    cJSON_AddNullToObject(p, "registered_name");
    return p;
}

/* dtype strings as policies; nested {"class_name", "config"} objects
 * (initializers, regularizers, constraints) with their module. */
static void k3_values(cJSON *cfg, bool dtype_policy)
{
    cJSON *v = cfg ? cfg->child : NULL;
    for (; v; v = v->next) {
        const char *k = v->string ? v->string : "";
        size_t n = strlen(k);
        if (dtype_policy && !strcmp(k, "dtype") && cJSON_IsString(v)) {
            cJSON *p = policy(v->valuestring);
            if (p)
                cJSON_ReplaceItemViaPointer(cfg, v, p);
            v = p ? p : v;
            continue;
        }
        if (!cJSON_IsObject(v) || !cJSON_GetObjectItemCaseSensitive(v, "class_name") ||
            cJSON_GetObjectItemCaseSensitive(v, "module"))
            continue;
        const char *mod = n >= 11 && !strcmp(k + n - 11, "initializer") ? "keras.initializers"
                          : n >= 11 && !strcmp(k + n - 11, "regularizer") ? "keras.regularizers"
                          : n >= 10 && !strcmp(k + n - 10, "constraint") ? "keras.constraints"
                          : "keras";
        cJSON_AddStringToObject(v, "module", mod);
        cJSON_AddNullToObject(v, "registered_name");
    }
}

/* A Keras 2 layer entry (taken) as a Keras 3 one: module, class_name,
 * config, registered_name; name and inbound_nodes are added by the caller. */
static cJSON *k3_layer(cJSON *e)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(e, "class_name");
    cJSON *cfg = cJSON_DetachItemFromObjectCaseSensitive(e, "config");
    bool input = cJSON_IsString(cls) && !strcmp(cls->valuestring, "InputLayer");
    bool own = cJSON_IsString(cls) && !strncmp(cls->valuestring, "Crest", 5);
    if (input && cfg) {                /* batch_input_shape -> batch_shape */
        cJSON *bs = cJSON_DetachItemFromObjectCaseSensitive(cfg, "batch_input_shape");
        if (bs)
            cr_json_put(cfg, "batch_shape", bs);
    }
    if (cfg && !input) {
        k3_values(cfg, true);
        if (!cJSON_GetObjectItemCaseSensitive(cfg, "dtype"))   /* Keras 3 writes it always */
            cr_json_put(cfg, "dtype", policy("float32"));
    }
    cJSON_AddStringToObject(o, "module", own ? "crest" : "keras.layers");
    cJSON_AddStringToObject(o, "class_name", cJSON_IsString(cls) ? cls->valuestring : "");
    cr_json_put(o, "config", cfg ? cfg : cJSON_CreateObject());
    if (own) {
        char reg[160];
        snprintf(reg, sizeof reg, "crest>%s", cls->valuestring);
        cJSON_AddStringToObject(o, "registered_name", reg);
    } else {
        cJSON_AddNullToObject(o, "registered_name");
    }
    cJSON_Delete(e);
    return o;
}

/* The output shape ([null, ...]) of what a functional model's layers list
 * names: an InputLayer's batch_input_shape or a layer's last output. */
static cJSON *shape_of(crest_model *m, const cJSON *layers2, const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, layers2)
    {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "config");
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
        const cJSON *bs = cJSON_GetObjectItemCaseSensitive(c, "batch_input_shape");
        if (cJSON_IsString(nm) && !strcmp(nm->valuestring, name) && bs)
            return cJSON_Duplicate(bs, true);
    }
    cJSON *o = cJSON_CreateObject(), *a = NULL;
    for (int i = 0; o && i < m->n_layers; i++)
        if (!strcmp(m->layers[i]->name, name))
            cr_json_add_dims(o, "s", &m->layers[i]->out_shape, true);
    a = o ? cJSON_DetachItemFromObjectCaseSensitive(o, "s") : NULL;
    cJSON_Delete(o);
    return a ? a : cJSON_CreateNull();
}

/* [name, node, tensor] of a Keras 2 reference [name, node, tensor, kwargs]. */
static cJSON *history(const cJSON *ref)
{
    cJSON *h = cJSON_CreateArray();
    for (int i = 0; i < 3; i++) {
        const cJSON *x = cJSON_GetArrayItem(ref, i);
        cr_json_push(h, x ? cJSON_Duplicate(x, false) : cJSON_CreateNumber(0));
    }
    return h;
}

/* Keras 2 inbound_nodes ([[ref, ...], ...]) as Keras 3's ([{"args", "kwargs"}]). */
static cJSON *k3_nodes(crest_model *m, const cJSON *layers2, const cJSON *nodes)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *call;
    cJSON_ArrayForEach(call, nodes)
    {
        cJSON *args = cJSON_CreateArray(), *ts = cJSON_CreateArray();
        const cJSON *ref;
        cJSON_ArrayForEach(ref, call)
        {
            const cJSON *nm = cJSON_GetArrayItem(ref, 0);
            cJSON *kt = cJSON_CreateObject(), *c = cJSON_CreateObject();
            cJSON_AddStringToObject(kt, "class_name", "__keras_tensor__");
            cr_json_put(c, "shape", shape_of(m, layers2, cJSON_IsString(nm) ? nm->valuestring
                                                                             : ""));
            cJSON_AddStringToObject(c, "dtype", "float32");
            cr_json_put(c, "keras_history", history(ref));
            cr_json_put(kt, "config", c);
            cr_json_push(ts, kt);
        }
        if (cJSON_GetArraySize(ts) == 1) {   /* one input: the tensor; several: a list */
            cr_json_push(args, cJSON_DetachItemFromArray(ts, 0));
            cJSON_Delete(ts);
        } else {
            cr_json_push(args, ts);
        }
        cJSON *node = cJSON_CreateObject();
        cr_json_put(node, "args", args);
        cJSON_AddObjectToObject(node, "kwargs");
        cr_json_push(out, node);
    }
    return out;
}

/* input_layers / output_layers: one reference alone, several in a list. */
static cJSON *k3_io(const cJSON *refs)
{
    if (cJSON_GetArraySize(refs) == 1)
        return history(cJSON_GetArrayItem(refs, 0));
    cJSON *a = cJSON_CreateArray();
    const cJSON *r;
    cJSON_ArrayForEach(r, refs)
        cr_json_push(a, history(r));
    return a;
}

/* A model class of crest's own (a registered custom model): its config as
 * it is, its layers in Keras 3's form, registered as "crest>Class". */
static cJSON *k3_custom(cJSON *top2)
{
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(top2, "class_name");
    cJSON *cfg = cJSON_DetachItemFromObjectCaseSensitive(top2, "config");
    cJSON *layers2 = cJSON_DetachItemFromObjectCaseSensitive(cfg, "layers");
    cJSON *top = cJSON_CreateObject(), *layers = cJSON_CreateArray();
    char reg[160];
    while (cJSON_GetArraySize(layers2) > 0)
        cr_json_push(layers, k3_layer(cJSON_DetachItemFromArray(layers2, 0)));
    cJSON_Delete(layers2);
    cr_json_put(cfg, "layers", layers);
    snprintf(reg, sizeof reg, "crest>%s", cls->valuestring);
    cJSON_AddStringToObject(top, "module", "crest");
    cJSON_AddStringToObject(top, "class_name", cls->valuestring);
    cr_json_put(top, "config", cfg);
    cJSON_AddStringToObject(top, "registered_name", reg);
    return top;
}

/* config.json of m: its Keras 2 JSON rewritten in Keras 3's schema. */
static cJSON *k3_config(crest_model *m, cJSON *top2)
{
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(top2, "class_name");
    cJSON *cfg2 = cJSON_GetObjectItemCaseSensitive(top2, "config");
    cJSON *layers2 = cJSON_GetObjectItemCaseSensitive(cfg2, "layers");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(cfg2, "name");
    bool seq = cJSON_IsString(cls) && !strcmp(cls->valuestring, "Sequential");
    bool fn = cJSON_IsString(cls) && (!strcmp(cls->valuestring, "Model") ||
                                      !strcmp(cls->valuestring, "Functional"));
    if (!cJSON_IsArray(layers2) || !cJSON_IsString(cls)) {
        cr_fail(CREST_E_UNSUPPORTED, "model '%s' has no layer list: it cannot be saved as .keras",
                m->name);
        return NULL;
    }
    if (!seq && !fn)
        return k3_custom(top2);
    cJSON *top = cJSON_CreateObject(), *cfg = cJSON_CreateObject();
    cJSON *layers = cJSON_CreateArray(), *shape = NULL;
    cJSON_AddStringToObject(top, "module", seq ? "keras" : "keras.src.models.functional");
    cJSON_AddStringToObject(top, "class_name", seq ? "Sequential" : "Functional");
    cr_json_put(top, "config", cfg);
    if (seq)
        cJSON_AddNullToObject(top, "registered_name");
    else
        cJSON_AddStringToObject(top, "registered_name", "Functional");
    cJSON_AddStringToObject(cfg, "name", cJSON_IsString(name) ? name->valuestring : m->name);
    cJSON_AddBoolToObject(cfg, "trainable", true);
    if (seq) {
        cr_json_put(cfg, "dtype", policy("float32"));
        /* the input: an InputLayer entry (Keras 3) in place of the first
         * layer's batch_input_shape (Keras 2) */
        cJSON *first = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(layers2, 0), "config");
        shape = cJSON_DetachItemFromObjectCaseSensitive(first, "batch_input_shape");
        if (!shape) {
            cJSON *o = cJSON_CreateObject();
            cr_json_add_dims(o, "s", &m->in_shape, true);
            shape = cJSON_DetachItemFromObjectCaseSensitive(o, "s");
            cJSON_Delete(o);
        }
        cJSON *in = cJSON_CreateObject(), *ic = cJSON_CreateObject();
        cJSON_AddStringToObject(in, "module", "keras.layers");
        cJSON_AddStringToObject(in, "class_name", "InputLayer");
        cr_json_put(ic, "batch_shape", cJSON_Duplicate(shape, true));
        cJSON_AddStringToObject(ic, "dtype", "float32");
        cJSON_AddBoolToObject(ic, "sparse", false);
        cJSON_AddStringToObject(ic, "name", "input_layer");
        cr_json_put(in, "config", ic);
        cJSON_AddNullToObject(in, "registered_name");
        cr_json_push(layers, in);
    }
    cJSON *orig = fn ? cJSON_Duplicate(layers2, true) : NULL;   /* Inputs' shapes */
    while (cJSON_GetArraySize(layers2) > 0) {
        cJSON *e = cJSON_DetachItemFromArray(layers2, 0);
        cJSON *nodes = cJSON_DetachItemFromObjectCaseSensitive(e, "inbound_nodes");
        cJSON *o = k3_layer(e);
        if (fn) {
            const cJSON *cn = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(o, "config"), "name");
            cJSON_AddStringToObject(o, "name", cJSON_IsString(cn) ? cn->valuestring : "");
            cr_json_put(o, "inbound_nodes", k3_nodes(m, orig, nodes));
        }
        cJSON_Delete(nodes);
        cr_json_push(layers, o);
    }
    cJSON_Delete(orig);
    cr_json_put(cfg, "layers", layers);
    if (seq) {
        cr_json_put(cfg, "build_input_shape", cJSON_Duplicate(shape, true));
        cJSON *bc = cJSON_CreateObject();
        cr_json_put(bc, "input_shape", shape);
        cr_json_put(top, "build_config", bc);
    } else {
        cr_json_put(cfg, "input_layers",
                    k3_io(cJSON_GetObjectItemCaseSensitive(cfg2, "input_layers")));
        cr_json_put(cfg, "output_layers",
                    k3_io(cJSON_GetObjectItemCaseSensitive(cfg2, "output_layers")));
    }
    return top;
}

/* ---- model.weights.h5 ---------------------------------------------------- */

/* parent/<path>/vars with attribute name; the layer's weights in Keras'
 * order as datasets "0", "1", ... (l NULL: none). */
static int put_vars(hid_t parent, const char *path, const char *name, const crest_layer *l)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), g = -1;
    char full[320];
    int rc = CREST_OK, order[64];
    snprintf(full, sizeof full, "%s%svars", path, *path ? "/" : "");
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0 ||
        (g = H5Gcreate2(parent, full, lcpl, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        rc = cr_fail(CREST_E_IO, "cannot create group '%s'", full);
        goto out;
    }
    if ((rc = cr_h5_put_strings(g, "name", &name, 1, true, true)))
        goto out;
    if (l && l->n_w > 64) {
        rc = cr_fail(CREST_E_UNSUPPORTED, "layer '%s' has %d weights", l->name, l->n_w);
        goto out;
    }
    if (l)
        cr_keras_order(l, order);
    for (int i = 0; l && !rc && i < l->n_w; i++) {
        const cr_weight *w = l->w[order[i]];
        hsize_t dims[CR_MAX_DIMS];
        char ds[16];
        snprintf(ds, sizeof ds, "%d", i);
        for (int d = 0; d < w->shape.ndim; d++)
            dims[d] = (hsize_t)w->shape.d[d];
        hid_t sp = w->shape.ndim ? H5Screate_simple(w->shape.ndim, dims, NULL)
                                 : H5Screate(H5S_SCALAR);
        hid_t d = sp >= 0 ? H5Dcreate2(g, ds, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                                       H5P_DEFAULT) : -1;
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->val) < 0)
            rc = cr_fail(CREST_E_IO, "cannot write weight '%s' of layer '%s'", w->name, l->name);
        if (d >= 0)
            H5Dclose(d);
        if (sp >= 0)
            H5Sclose(sp);
    }
out:
    if (g >= 0)
        H5Gclose(g);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    return rc;
}

/* The bytes of model.weights.h5 (*out, cr_malloc'd) for m with config top. */
static int weights_image(crest_model *m, const cJSON *top, char **out, size_t *len)
{
    cr_keras_path *ps = NULL;
    int n = 0, rc = cr_keras_layer_paths(m, top, &ps, &n);
    *out = NULL;
    if (rc)
        return rc;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1;
    if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 ||
        (file = H5Fcreate("model.weights.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0) {
        rc = cr_fail(CREST_E_IO, "cannot create model.weights.h5 in memory");
        goto out;
    }
    rc = put_vars(file, "", m->name, NULL);   /* the model's own variables: none */
    for (int i = 0; !rc && i < n; i++)
        rc = put_vars(file, ps[i].path, ps[i].name, ps[i].layer);
    if (!rc && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        rc = cr_fail(CREST_E_IO, "cannot write model.weights.h5");
    ssize_t size = rc ? -1 : H5Fget_file_image(file, NULL, 0);
    if (!rc && size <= 0)
        rc = cr_fail(CREST_E_IO, "cannot write model.weights.h5");
    if (!rc && !(*out = cr_malloc((size_t)size)))
        rc = cr_fail(CREST_E_NOMEM, "out of memory for %zd bytes of weights", size);
    if (!rc && H5Fget_file_image(file, *out, (size_t)size) != size)
        rc = cr_fail(CREST_E_IO, "cannot write model.weights.h5");
    if (!rc)
        *len = (size_t)size;
out:
    if (file >= 0)
        H5Fclose(file);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (rc) {
        cr_free(*out);
        *out = NULL;
    }
    cr_free(ps);
    return rc;
}

/* ---- the zip ------------------------------------------------------------- */

typedef struct member {
    const char *name;
    const void *data;
    size_t len;
} member;

/* The zip of members (stored, as Keras writes them) in memory: *out, cr_malloc'd. */
static int zip_image(const member *ms, int n, char **out, size_t *len)
{
    zip_error_t ze;
    zip_error_init(&ze);
    *out = NULL;
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_TRUNCATE, &ze) : NULL;
    int rc = CREST_OK;
    if (!za) {
        rc = cr_fail(CREST_E_NOMEM, "cannot make a zip in memory (libzip: %s)",
                     zip_error_strerror(&ze));
        zip_source_free(src);
        zip_error_fini(&ze);
        return rc;
    }
    zip_source_keep(src);
    for (int i = 0; !rc && i < n; i++) {
        zip_source_t *s = zip_source_buffer(za, ms[i].data, ms[i].len, 0);
        zip_int64_t idx = s ? zip_file_add(za, ms[i].name, s, ZIP_FL_ENC_UTF_8) : -1;
        if (idx < 0) {
            zip_source_free(s);
            rc = cr_fail(CREST_E_NOMEM, "cannot add %s to the zip (libzip: %s)", ms[i].name,
                         zip_strerror(za));
        } else if (zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0) < 0) {
            rc = cr_fail(CREST_E_IO, "libzip: %s", zip_strerror(za));
        }
    }
    if (rc) {
        zip_discard(za);
    } else if (zip_close(za) < 0) {
        rc = cr_fail(CREST_E_IO, "cannot write the zip (libzip: %s)", zip_strerror(za));
        zip_discard(za);
    }
    zip_stat_t st;
    zip_stat_init(&st);
    if (!rc && (zip_source_open(src) < 0 || zip_source_stat(src, &st) < 0 ||
                !(st.valid & ZIP_STAT_SIZE)))
        rc = cr_fail(CREST_E_IO, "cannot read the zip back from memory");
    else if (!rc) {
        if (!(*out = cr_malloc(st.size ? (size_t)st.size : 1)))
            rc = cr_fail(CREST_E_NOMEM, "out of memory for the zip");
        else if (zip_source_read(src, *out, st.size) != (zip_int64_t)st.size)
            rc = cr_fail(CREST_E_IO, "cannot read the zip back from memory");
        zip_source_close(src);
        *len = (size_t)st.size;
    }
    zip_source_free(src);
    zip_error_fini(&ze);
    if (rc) {
        cr_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- the file ------------------------------------------------------------ */

static cJSON *metadata(const crest_model *m, int *rc)
{
    cJSON *md = cJSON_CreateObject(), *extra = NULL;
    char date[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(date, sizeof date, "%Y-%m-%d@%H:%M:%S", &tm);
    cJSON_AddStringToObject(md, "keras_version", KERAS_VERSION);
    cJSON_AddStringToObject(md, "date_saved", date);
    char *mine = NULL;   /* m's metadata with its custom layer classes' definitions */
    if ((*rc = cr_custom_layers_meta(m, &mine)) ||
        (mine && (*rc = cr_json_parse(mine, 0, "metadata", &extra)))) {
        cr_free(mine);
        cJSON_Delete(md);
        return NULL;
    }
    cr_free(mine);
    if (extra) {
        cJSON_AddStringToObject(extra, "generated_by", "crest " CREST_VERSION);
        cr_json_put(md, "crest", extra);
    }
    return md;
}

int crest_model_save_keras(crest_model *m, const char *path)
{
    if (!m || !path || !*path)
        return cr_fail(CREST_E_ARG, "save_keras: model or path is NULL");
    if (m->quant)
        return cr_quant_refuse(m, "saved as Keras .keras (Keras has no int8 layers)");
    unsigned long mark = cr_json_mark();
    cJSON *top2 = NULL, *top = NULL, *md = NULL;
    char *config = NULL, *meta = NULL, *weights = NULL, *zip = NULL;
    size_t wlen = 0, zlen = 0;
    int rc = cr_model_build(m);
    if (!rc)
        rc = cr_check_finite(m);
    if (!rc && !(top2 = cr_model_to_json(m)))
        rc = (rc = cr_json_check(mark, "save")) ? rc : CREST_E_FORMAT;
    if (!rc)
        rc = cr_acts_for_format(top2, true);
    if (!rc && !(top = k3_config(m, top2)))
        rc = (rc = cr_json_check(mark, "save")) ? rc : CREST_E_UNSUPPORTED;
    if (!rc)
        md = metadata(m, &rc);
    if (!rc && !(rc = cr_json_check(mark, "save")) &&
        (!(config = cr_json_print(top, false)) || !(meta = cr_json_print(md, false))))
        rc = cr_fail(CREST_E_NOMEM, "out of memory writing config.json");
    if (!rc) {
        pthread_mutex_lock(&write_mu);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        rc = weights_image(m, top, &weights, &wlen);
        pthread_mutex_unlock(&write_mu);
    }
    if (!rc) {
        member ms[] = { { "metadata.json", meta, strlen(meta) },
                        { "config.json", config, strlen(config) },
                        { "model.weights.h5", weights, wlen } };
        rc = zip_image(ms, 3, &zip, &zlen);
    }
    if (!rc)
        rc = cr_write_file_atomic(path, zip, zlen);
    cJSON_Delete(top2);
    cJSON_Delete(top);
    cJSON_Delete(md);
    cJSON_free(config);
    cJSON_free(meta);
    cr_free(weights);
    cr_free(zip);
    return rc ? cr_wrap(rc, "%s", path) : CREST_OK;
}
