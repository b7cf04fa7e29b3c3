/* keras.c - Keras 3 `.keras` files: the model from config.json, the
 * weights from model.weights.h5 (src/io/keras.h).
 *
 * The child (keras_read.c) sends config.json, metadata.json and every
 * layer group of model.weights.h5 with its datasets. This side builds the
 * model from the config through the model-kind table (Keras 3's schema:
 * module / class_name / config / registered_name, dtype policies,
 * inbound_nodes as {"args": [...keras tensors...]}), names each layer as
 * Keras' saver does (its class in snake case, _1, _2, ... for repeats, in
 * the order of the config's layer list) and assigns the datasets "0",
 * "1", ... of a layer in Keras' variable order: the layer's trainable
 * variables then its non-trainable ones, each in creation order. Every
 * count, shape and value is checked; errors name the file, the layer and
 * the weight.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "json.h"
#include "io/child.h"
#include "io/h5.h"
#include "io/keras.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_PATH_LEN 4096

bool cr_keras_is_zip(const char *path)
{
    unsigned char b[4];
    FILE *f = fopen(path, "rb");
    bool yes = f && fread(b, 1, 4, f) == 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 &&
               b[3] == 4;
    if (f)
        fclose(f);
    return yes;
}

/* ---- names ---------------------------------------------------------------- */

static bool up(char c) { return c >= 'A' && c <= 'Z'; }
static bool low(char c) { return c >= 'a' && c <= 'z'; }
static bool word(char c)
{
    return up(c) || low(c) || (c >= '0' && c <= '9') || c == '_' || (unsigned char)c >= 0x80;
}

/* Keras' to_snake_case: drop non-word characters; "_" before an upper-case
 * letter that starts a run of lower-case ones (not at the start); "_"
 * between a lower-case letter and an upper-case one; lower case. Each
 * substitution scans left to right without overlapping, as re.sub does. */
void cr_keras_snake(const char *cls, char *out, size_t size)
{
    char a[256], b[512], c[768];
    size_t n = 0;
    for (const char *p = cls; *p && n + 1 < sizeof a; p++)
        if (word(*p))
            a[n++] = *p;
    a[n] = 0;
    size_t m = 0;
    for (size_t i = 0; i < n;) {                  /* (.)([A-Z][a-z]+) -> \1_\2 */
        if (i + 2 < n && up(a[i + 1]) && low(a[i + 2])) {
            size_t j = i + 2;
            while (j < n && low(a[j]))
                j++;
            b[m++] = a[i];
            b[m++] = '_';
            for (size_t k = i + 1; k < j; k++)
                b[m++] = a[k];
            i = j;
        } else {
            b[m++] = a[i++];
        }
    }
    b[m] = 0;
    size_t k = 0;
    for (size_t i = 0; i < m;) {                  /* ([a-z])([A-Z]) -> \1_\2 */
        if (i + 1 < m && low(b[i]) && up(b[i + 1])) {
            c[k++] = b[i];
            c[k++] = '_';
            c[k++] = b[i + 1];
            i += 2;
        } else {
            c[k++] = b[i++];
        }
    }
    c[k] = 0;
    for (size_t i = 0; i < k; i++)
        if (up(c[i]))
            c[i] = (char)(c[i] - 'A' + 'a');
    snprintf(out, size, "%s", c);
}

typedef struct name_count {
    char snake[256];
    int n;
} name_count;

/* Sets p's path to prefix + "layers/<class in snake case>[_N]" (counts: the
 * names given so far in this list). */
static void next_path(const char *prefix, const char *cls, name_count *counts, int *n_counts,
                      cr_keras_path *p)
{
    char s[256];
    cr_keras_snake(!strcmp(cls, "Model") ? "Functional" : cls, s, sizeof s);
    int i = 0;
    while (i < *n_counts && strcmp(counts[i].snake, s))
        i++;
    if (i == *n_counts) {
        snprintf(counts[i].snake, sizeof counts[i].snake, "%s", s);
        counts[i].n = 0;
        (*n_counts)++;
        snprintf(p->path, sizeof p->path, "%slayers/%s", prefix, s);
    } else {
        snprintf(p->path, sizeof p->path, "%slayers/%s_%d", prefix, s, ++counts[i].n);
    }
}

static const cJSON *layer_list(const cJSON *top)
{
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(top, "config"), "layers");
    return cJSON_IsArray(l) ? l : NULL;
}

/* Entries of top's layer list, nested lists included. */
static int count_entries(const cJSON *top, int depth)
{
    int n = 0;
    const cJSON *e, *list = depth < CR_KERAS_MAX_DEPTH ? layer_list(top) : NULL;
    cJSON_ArrayForEach(e, list)
        n += 1 + (cr_nest_is_model(e) ? count_entries(e, depth + 1) : 0);
    return n;
}

typedef struct path_walk {
    cr_keras_path *ps;
    int k;
} path_walk;

/* The paths of top's list below prefix ("" or "layers/sequential/"),
 * counting names in counts; outer: the nested model's name, or NULL at the
 * top. */
static int list_paths(path_walk *w, const cJSON *top, const char *prefix, const char *outer,
                      name_count *counts, int *n_counts, int depth);

/* A nested model's list, with counts of its own */
static int nested_paths(path_walk *w, const cJSON *e, const cr_keras_path *p, int depth)
{
    char sub[sizeof p->path + 8];
    snprintf(sub, sizeof sub, "%s/", p->path);
    name_count *counts = cr_calloc((size_t)cJSON_GetArraySize(layer_list(e)) + 1,
                                   sizeof *counts);
    int n_counts = 0;
    int rc = counts ? list_paths(w, e, sub, p->name, counts, &n_counts, depth + 1)
                    : cr_fail(CREST_E_NOMEM, "out of memory naming layers");
    cr_free(counts);
    return rc;
}

static int list_paths(path_walk *w, const cJSON *top, const char *prefix, const char *outer,
                      name_count *counts, int *n_counts, int depth)
{
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(top, "class_name");
    bool seq = cJSON_IsString(cls) && !strcmp(cls->valuestring, "Sequential");
    const cJSON *e, *list = depth < CR_KERAS_MAX_DEPTH ? layer_list(top) : NULL;
    cJSON_ArrayForEach(e, list)
    {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "class_name");
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (!cJSON_IsString(nm))
            nm = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "config"),
                                                  "name");
        if (!cJSON_IsString(c) || !cJSON_IsString(nm) ||
            (seq && !strcmp(c->valuestring, "InputLayer")))
            continue;
        cr_keras_path *p = &w->ps[w->k++];
        p->name = nm->valuestring;
        if (outer)
            snprintf(p->alt, sizeof p->alt, "%s_%s", outer, nm->valuestring);
        next_path(prefix, c->valuestring, counts, n_counts, p);
        int rc = cr_nest_is_model(e) ? nested_paths(w, e, p, depth) : CREST_OK;
        if (rc)
            return rc;
    }
    return CREST_OK;
}

int cr_keras_layer_paths(crest_model *m, const cJSON *top, cr_keras_path **out, int *n)
{
    int cap = count_entries(top, 0) + m->n_layers + 1;
    path_walk w = { .ps = cr_calloc((size_t)cap, sizeof *w.ps) };
    name_count *counts = cr_calloc((size_t)cap, sizeof *counts);
    int n_counts = 0;
    int rc = w.ps && counts ? list_paths(&w, top, "", NULL, counts, &n_counts, 0)
                            : cr_fail(CREST_E_NOMEM, "out of memory naming layers");
    for (int i = 0; !rc && i < m->n_layers; i++) {
        crest_layer *l = m->layers[i];
        int j = 0;
        while (j < w.k && (w.ps[j].layer || strcmp(w.ps[j].name, l->name)))
            j++;
        for (int a = 0; j == w.k && a < w.k; a++)   /* renamed when flattened */
            if (!w.ps[a].layer && !strcmp(w.ps[a].alt, l->name))
                j = a;
        if (j == w.k) {                  /* not in the list: named after the others */
            w.ps[w.k].name = l->name;
            next_path("", l->def->keras_class, counts, &n_counts, &w.ps[w.k]);
            w.k++;
        }
        w.ps[j].layer = l;
    }
    cr_free(counts);
    if (rc) {
        cr_free(w.ps);
        return rc;
    }
    *out = w.ps;
    *n = w.k;
    return CREST_OK;
}

void cr_keras_order(const crest_layer *l, int *order)
{
    int k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j < l->n_w; j++)
            if (l->w[j]->trainable == (pass == 0))
                order[k++] = j;
}

/* ---- weights ------------------------------------------------------------- */

/* The next 'W' record, variable i of the file's layer path, into w. */
static int get_weight(cr_child *c, const char *path, int i, cr_weight *w)
{
    char what[MAX_PATH_LEN + 400];
    snprintf(what, sizeof what, "layer '%s': weight '%s' ('%s/vars/%d')",
             w->owner ? w->owner->name : "?", w->name, path, i);
    return cr_h5_get_dataset(c, what, w);
}

/* The 'L' records up to 'D' into m's layers, found by path. */
static int assign_all(cr_child *c, crest_model *m, const cJSON *top, char tag)
{
    cr_keras_path *ps = NULL;
    int n = 0, rc = cr_keras_layer_paths(m, top, &ps, &n);
    bool *done = rc ? NULL : cr_calloc((size_t)n + 1, sizeof *done);
    if (!rc && !done)
        rc = cr_fail(CREST_E_NOMEM, "out of memory");
    while (!rc && tag != 'D') {
        char *path = NULL;
        uint32_t k = 0;
        if (tag != 'L')
            rc = cr_fail(CREST_E_FORMAT, "%s: unexpected record '%c'", c->path, tag);
        if (!rc)
            rc = cr_child_get_str(c, MAX_PATH_LEN, &path);
        if (!rc)
            rc = cr_child_get_u32(c, &k);
        int j = 0;
        while (!rc && j < n && strcmp(ps[j].path, path))
            j++;
        crest_layer *l = !rc && j < n ? ps[j].layer : NULL;
        if (!rc && k > 0 && !l) {
            char have[512] = "";
            for (int i = 0; i < n && strlen(have) < 400; i++)
                if (ps[i].layer && ps[i].layer->n_w)
                    snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s",
                             *have ? ", " : "", ps[i].path);
            rc = cr_fail(CREST_E_FORMAT, "%s: model.weights.h5 has %u weights in '%s/vars', "
                         "which names no layer of the model (its layers with weights: %s)",
                         c->path, k, path, *have ? have : "none");
        }
        if (!rc && l && (int)k != l->n_w)
            rc = cr_fail(CREST_E_FORMAT, "%s: layer '%s' (%s) has %d weights, model.weights.h5 "
                         "has %u in '%s/vars'", c->path, l->name, l->def->keras_class, l->n_w,
                         k, path);
        if (!rc && l) {
            int order[64];
            if (l->n_w > 64)
                rc = cr_fail(CREST_E_UNSUPPORTED, "layer '%s' has %d weights", l->name, l->n_w);
            else
                cr_keras_order(l, order);
            for (int i = 0; !rc && i < (int)k; i++)
                rc = get_weight(c, path, i, l->w[order[i]]);
            done[j] = true;
        }
        cr_free(path);
        if (!rc)
            rc = cr_child_get_tag(c, &tag);
    }
    for (int j = 0; !rc && j < n; j++)
        if (ps[j].layer && ps[j].layer->n_w > 0 && !done[j])
            rc = cr_fail(CREST_E_FORMAT, "%s: layer '%s' (%s) has %d weights, model.weights.h5 "
                         "has none for it (no group '%s/vars')", c->path, ps[j].layer->name,
                         ps[j].layer->def->keras_class, ps[j].layer->n_w, ps[j].path);
    cr_free(done);
    cr_free(ps);
    return rc;
}

/* ---- models ----------------------------------------------------------------- */

/* The 'M' and 'C' records: metadata.json (*meta, may stay NULL) and the
 * parsed config.json; tag gets the record after them. */
static int get_config(cr_child *c, cJSON **meta, cJSON **cfg, char *tag)
{
    char *text = NULL;
    int rc = cr_child_get_tag(c, tag);
    if (!rc && *tag == 'M' && !(rc = cr_child_get_str(c, CR_KERAS_MAX_JSON, &text))) {
        rc = cr_json_parse(text, strlen(text), "metadata.json", meta);
        cr_free(text);
        text = NULL;
        if (rc)
            return cr_wrap(rc, "%s", c->path);
        rc = cr_child_get_tag(c, tag);
    }
    if (!rc && *tag != 'C')
        return cr_fail(CREST_E_FORMAT, "%s: no config.json", c->path);
    if (!rc && !(rc = cr_child_get_str(c, CR_KERAS_MAX_JSON, &text)) &&
        (rc = cr_json_parse(text, strlen(text), "config.json", cfg)))
        cr_wrap(rc, "%s", c->path);
    cr_free(text);
    return rc ? rc : cr_child_get_tag(c, tag);
}

/* Saved by Keras 3 or later: metadata.json's keras_version "3..." (or no
 * version: Keras 2.13 to 2.15, the other writers of .keras, always wrote one). */
static bool keras3(const cJSON *meta)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, "keras_version");
    if (!cJSON_IsString(v))
        return true;
    return strtol(v->valuestring, NULL, 10) >= 3;
}

int cr_keras_model_load(crest_model **out, const char *path)
{
    cr_child c;
    cr_keras_src src = { .zip = true };
    cJSON *cfg = NULL, *meta = NULL;
    crest_model *m = NULL;
    char tag = 0;
    *out = NULL;
    int rc = cr_child_spawn(&c, path, "libzip/libhdf5", cr_keras_stream, &src);
    if (!rc)
        rc = get_config(&c, &meta, &cfg, &tag);
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(meta, "crest");
    if (!rc && cJSON_IsObject(extra) && (rc = cr_custom_layers_from_meta(extra, path)))
        cr_wrap(rc, "%s: metadata.json", path);
    if (!rc && keras3(meta) && (rc = cr_acts_from_keras3(cfg)))   /* "hard_sigmoid": Keras 3's */
        cr_wrap(rc, "%s: config.json", path);
    if (!rc && ((rc = cr_model_from_topology(cfg, &m)) || (rc = cr_model_build(m))))
        cr_wrap(rc, "%s: config.json", path);
    if (!rc)
        rc = assign_all(&c, m, cfg, tag);
    rc = cr_child_finish(&c, rc);
    if (!rc && cJSON_IsObject(extra) && !(m->meta_json = cr_json_print(extra, false)))
        rc = cr_fail(CREST_E_NOMEM, "%s: out of memory", path);
    if (!rc) {
        *out = m;
        m = NULL;
    }
    crest_model_free(m);
    cJSON_Delete(cfg);
    cJSON_Delete(meta);
    return rc;
}

int cr_keras_load_weights(crest_model *m, const char *path)
{
    cr_child c;
    cr_keras_src src = { .zip = cr_keras_is_zip(path) };
    cJSON *cfg = NULL, *meta = NULL;
    char tag = 0;
    int rc = cr_model_build(m);
    if (!rc)
        rc = cr_child_spawn(&c, path, src.zip ? "libzip/libhdf5" : "libhdf5", cr_keras_stream,
                            &src);
    if (rc)
        return rc;
    if (src.zip)
        rc = get_config(&c, &meta, &cfg, &tag);   /* the weights are named after m's layers */
    else
        rc = cr_child_get_tag(&c, &tag);
    if (!rc)   /* a nested architecture: the paths of its models' lists */
        rc = assign_all(&c, m, m->nest_topo, tag);
    cJSON_Delete(cfg);
    cJSON_Delete(meta);
    return cr_child_finish(&c, rc);
}
