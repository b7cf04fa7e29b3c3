/* spec.c - the feature spec as JSON (Keras FeatureSpace in spirit), both
 * ways: parse a user's spec, save the adapted one (with its statistics);
 * building one entry by entry (crest_features_new, crest_features_add).
 * The format is documented in crest.h ("feature columns"). */
#define _POSIX_C_SOURCE 200809L
#include "column.h"
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const type_names[CR_F_COUNT] = {
    "float", "float_normalized", "float_rescaled", "float_discretized",
    "integer_categorical", "string_categorical", "integer_hashed", "string_hashed",
    "identity", "cross",
};
static const char *const mode_names[] = { "one_hot", "multi_hot", "count", "int", "embedding" };
static const char *const comb_names[] = { "mean", "sum", "sqrtn" };

/* An optional string: NULL when absent. */
static int opt_str(const cJSON *o, const char *key, const char **out)
{
    int rc = cr_json_str(o, key, "", out);
    if (!rc && !**out && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, key)))
        *out = NULL;
    return rc;
}

static int name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

static void feature_free(cr_feature *f)
{
    cr_free(f->name);
    cr_free(f->bounds);
    for (int i = 0; i < f->n_vocab; i++)
        cr_free(f->vocab[i]);
    cr_free(f->vocab);
    cr_free(f->vocab_file);
    cr_strmap_free(&f->lookup);
    cr_free(f->weight_name);
    for (int i = 0; i < f->n_cross; i++)
        cr_free(f->cross[i]);
    cr_free(f->cross);
}

void crest_features_free(crest_features *fs)
{
    if (!fs)
        return;
    for (int i = 0; i < fs->n; i++)
        feature_free(&fs->f[i]);
    cr_free(fs->f);
    cr_free(fs->label);
    for (int i = 0; i < fs->n_classes; i++)
        cr_free(fs->classes[i]);
    cr_free(fs->classes);
    cr_free(fs->absent);
    cr_free(fs);
}

static cr_feature *feature_push(crest_features *fs, const char *name)
{
    if (fs->n == fs->cap) {
        int cap = fs->cap ? 2 * fs->cap : 16;
        cr_feature *f = cr_realloc(fs->f, (size_t)cap * sizeof *f);
        if (!f) {
            cr_fail(CREST_E_NOMEM, "out of memory for feature '%s'", name);
            return NULL;
        }
        fs->f = f;
        fs->cap = cap;
    }
    cr_feature *f = &fs->f[fs->n];
    memset(f, 0, sizeof *f);
    f->name = cr_strdup(name);
    if (!f->name) {
        cr_fail(CREST_E_NOMEM, "out of memory for feature '%s'", name);
        return NULL;
    }
    fs->n++;
    f->col = -1;
    f->scale = 1;
    f->num_oov = 1;
    f->default_value = -1;
    f->max_values = 1;
    f->emb_dim = 8;
    return f;
}

static int str_array(const cJSON *a, const char *what, char ***out, int *n)
{
    if (!cJSON_IsArray(a))
        return cr_fail(CREST_E_FORMAT, "%s must be an array of strings", what);
    int k = cJSON_GetArraySize(a);
    char **v = cr_calloc((size_t)(k ? k : 1), sizeof *v);
    if (!v)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    *out = v;
    *n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        char num[64];
        const char *s = cJSON_IsString(e) ? e->valuestring : NULL;
        if (!s && cJSON_IsNumber(e) && e->valuedouble == floor(e->valuedouble) &&
            fabs(e->valuedouble) < 1e15) {
            snprintf(num, sizeof num, "%lld", (long long)e->valuedouble);
            s = num;
        }
        if (!s)
            return cr_fail(CREST_E_FORMAT, "%s: entry %d is not a string or integer", what, *n);
        if (!(v[*n] = cr_strdup(s)))
            return cr_fail(CREST_E_NOMEM, "out of memory");
        (*n)++;
    }
    return CREST_OK;
}

/* Builds the token -> id lookup from vocab (ids after the OOV indices). */
static int build_lookup(cr_feature *f)
{
    cr_strmap_free(&f->lookup);
    for (int i = 0; i < f->n_vocab; i++) {
        bool added;
        int rc = cr_strmap_add(&f->lookup, f->vocab[i], f->num_oov + i, 1, &added);
        if (rc)
            return rc;
        if (!added)
            return cr_fail(CREST_E_FORMAT, "'%s' is twice in the vocabulary", f->vocab[i]);
    }
    return CREST_OK;
}

static int read_vocab_file(cr_feature *f)
{
    char *text = NULL;
    size_t len;
    int rc = cr_read_file(f->vocab_file, (size_t)1 << 30, &text, &len);
    if (rc)
        return cr_wrap(rc, "vocabulary_file");
    int cap = 0;
    for (char *p = text, *nl; p < text + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(text + len - p));
        if (!nl)
            nl = text + len;
        *nl = 0;
        if (nl > p && nl[-1] == '\r')
            nl[-1] = 0;
        if (!*p)
            continue;
        if (f->n_vocab == cap) {
            cap = cap ? 2 * cap : 64;
            char **v = cr_realloc(f->vocab, (size_t)cap * sizeof *v);
            if (!v) {
                rc = cr_fail(CREST_E_NOMEM, "out of memory");
                break;
            }
            f->vocab = v;
        }
        if (!(f->vocab[f->n_vocab] = cr_strdup(p))) {
            rc = cr_fail(CREST_E_NOMEM, "out of memory");
            break;
        }
        f->n_vocab++;
    }
    cr_free(text);
    f->has_vocab = !rc;
    return rc;
}

static int parse_numeric(cr_feature *f, const cJSON *o)
{
    double v;
    int rc = CREST_OK;
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(o, "mean");
    const cJSON *var = cJSON_GetObjectItemCaseSensitive(o, "variance");
    if (mean || var) {
        if (!cJSON_IsNumber(mean) || !cJSON_IsNumber(var) || var->valuedouble < 0 ||
            !isfinite(mean->valuedouble) || !isfinite(var->valuedouble))
            return cr_fail(CREST_E_FORMAT, "give both mean and variance (finite, variance "
                           ">= 0)");
        f->mean = mean->valuedouble;
        f->var = var->valuedouble;
        f->has_stats = true;
    }
    if ((rc = cr_json_num(o, "scale", -1e30, 1e30, 1.0, &v)))
        return rc;
    f->scale = v;
    if ((rc = cr_json_num(o, "offset", -1e30, 1e30, 0.0, &v)))
        return rc;
    f->offset = v;
    const cJSON *ind = cJSON_GetObjectItemCaseSensitive(o, "missing_indicator");
    if (ind) {
        if (!cJSON_IsBool(ind))
            return cr_fail(CREST_E_FORMAT, "missing_indicator must be true or false");
        f->indicator = cJSON_IsTrue(ind);
        f->has_indicator_choice = true;
    }
    if (f->type == CR_F_FLOAT_DISCRETIZED) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "bin_boundaries");
        if (b) {
            int n = cJSON_IsArray(b) ? cJSON_GetArraySize(b) : -1;
            if (n < 1)
                return cr_fail(CREST_E_FORMAT, "bin_boundaries must be a non-empty array");
            f->bounds = cr_malloc((size_t)n * sizeof *f->bounds);
            if (!f->bounds)
                return cr_fail(CREST_E_NOMEM, "out of memory");
            const cJSON *e;
            cJSON_ArrayForEach(e, b)
            {
                if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) ||
                    (f->n_bounds && e->valuedouble <= f->bounds[f->n_bounds - 1]))
                    return cr_fail(CREST_E_FORMAT, "bin_boundaries must be increasing finite "
                                   "numbers");
                f->bounds[f->n_bounds++] = e->valuedouble;
            }
            f->num_bins = f->n_bounds + 1;
        } else if ((rc = cr_json_int(o, "num_bins", 2, 1 << 16, CR_JSON_REQUIRED, &f->num_bins))) {
            return cr_wrap(rc, "float_discretized needs bin_boundaries or num_bins");
        }
    }
    return CREST_OK;
}

static int parse_categorical(cr_feature *f, const cJSON *o)
{
    int rc;
    const cJSON *oov = cJSON_GetObjectItemCaseSensitive(o, "num_oov_indices");
    if (!oov)
        oov = cJSON_GetObjectItemCaseSensitive(o, "num_oov_buckets");
    if (oov) {
        if (!cJSON_IsNumber(oov) || oov->valuedouble < 0 || oov->valuedouble > 1 << 20)
            return cr_fail(CREST_E_FORMAT, "num_oov_indices must be an integer >= 0");
        f->num_oov = (int)oov->valuedouble;
    }
    if ((rc = cr_json_int(o, "default_value", -1, 1 << 30, -1, &f->default_value)) ||
        (rc = cr_json_int(o, "max_tokens", 0, 1 << 30, 0, &f->max_tokens)))
        return rc;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "vocabulary");
    const char *file = NULL;
    if ((rc = opt_str(o, "vocabulary_file", &file)))
        return rc;
    if (v && file)
        return cr_fail(CREST_E_FORMAT, "give vocabulary or vocabulary_file, not both");
    if (v) {
        if ((rc = str_array(v, "vocabulary", &f->vocab, &f->n_vocab)))
            return rc;
        f->has_vocab = true;
    } else if (file) {
        if (!(f->vocab_file = cr_strdup(file)))
            return cr_fail(CREST_E_NOMEM, "out of memory");
        if ((rc = read_vocab_file(f)))
            return rc;
    }
    if (f->has_vocab && (rc = build_lookup(f)))
        return rc;
    return CREST_OK;
}

/* Options every type shares: output_mode, combiner, separator,
 * weight_feature, max_values, embedding_dim. */
static int parse_shared(cr_feature *f, const cJSON *o)
{
    const char *mode = NULL, *comb = NULL, *sep = NULL, *w = NULL;
    int rc;
    if ((rc = opt_str(o, "output_mode", &mode)) ||
        (rc = cr_json_str(o, "combiner", "mean", &comb)) ||
        (rc = opt_str(o, "separator", &sep)) ||
        (rc = opt_str(o, "weight_feature", &w)))
        return rc;
    if (mode && cr_feature_is_numeric(f) && f->type != CR_F_FLOAT_DISCRETIZED)
        return cr_fail(CREST_E_FORMAT, "numeric features take no output_mode");
    if (mode && (f->mode = name_index(mode_names, 5, mode)) < 0)
        return cr_fail(CREST_E_FORMAT, "output_mode '%s' is not one_hot, multi_hot, count, int "
                       "or embedding", mode);
    if ((f->combiner = name_index(comb_names, 3, comb)) < 0)
        return cr_fail(CREST_E_FORMAT, "combiner '%s' is not mean, sum or sqrtn", comb);
    if (sep) {
        if (strlen(sep) != 1 || *sep == '"')
            return cr_fail(CREST_E_FORMAT, "separator must be one character");
        f->sep = *sep;
        f->max_values = 4;
    }
    if (w && !(f->weight_name = cr_strdup(w)))
        return cr_fail(CREST_E_NOMEM, "out of memory");
    if ((rc = cr_json_int(o, "max_values", 1, 1024, f->max_values, &f->max_values)))
        return rc;
    return cr_json_int(o, "embedding_dim", 1, 1 << 16, 8, &f->emb_dim);
}

/* A cross: "features" (two or more) and "crossing_dim" (or "num_bins"). */
static int parse_cross(cr_feature *f, const cJSON *o)
{
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(o, "features");
    int dim, rc = str_array(names, "features", &f->cross, &f->n_cross);
    if (rc)
        return rc;
    if (f->n_cross < 2)
        return cr_fail(CREST_E_FORMAT, "a cross needs at least two features");
    if ((rc = cr_json_int(o, "crossing_dim", 1, 1 << 24, 0, &dim)))
        return rc;
    if (!dim && (rc = cr_json_int(o, "num_bins", 1, 1 << 24, CR_JSON_REQUIRED, &dim)))
        return rc;
    f->num_bins = dim;
    return CREST_OK;
}

/* The options of f's own type. */
static int parse_type_opts(cr_feature *f, const cJSON *o)
{
    int rc;
    switch (f->type) {
    case CR_F_FLOAT: case CR_F_FLOAT_NORMALIZED: case CR_F_FLOAT_RESCALED:
    case CR_F_FLOAT_DISCRETIZED:
        return parse_numeric(f, o);
    case CR_F_INT_CATEGORICAL: case CR_F_STR_CATEGORICAL:
        return parse_categorical(f, o);
    case CR_F_INT_HASHED: case CR_F_STR_HASHED:
        return cr_json_int(o, "num_bins", 1, 1 << 24, CR_JSON_REQUIRED, &f->num_bins);
    case CR_F_IDENTITY:
        rc = cr_json_int(o, "num_buckets", 1, 1 << 24, CR_JSON_REQUIRED, &f->num_buckets);
        return rc ? rc : cr_json_int(o, "default_value", -1, f->num_buckets - 1, -1,
                                     &f->default_value);
    case CR_F_CROSS:
        return parse_cross(f, o);
    }
    return CREST_OK;
}

static int parse_feature(crest_features *fs, const char *name, const cJSON *o, bool cross)
{
    cr_feature *f = feature_push(fs, name);
    if (!f)
        return CREST_E_NOMEM;
    const char *t = NULL;
    int rc = CREST_OK;
    if (cJSON_IsString(o)) {
        t = o->valuestring;
        o = NULL;
    } else if (!cJSON_IsObject(o)) {
        return cr_fail(CREST_E_FORMAT, "must be a type name or an object");
    } else if (!cross && (rc = cr_json_str(o, "type", NULL, &t))) {
        return rc;
    }
    if (cross) {
        f->type = CR_F_CROSS;
    } else if ((f->type = name_index(type_names, CR_F_COUNT, t)) < 0 || f->type == CR_F_CROSS) {
        return cr_fail(CREST_E_FORMAT, "unknown type '%s' (float, float_normalized, "
                       "float_rescaled, float_discretized, integer_categorical, "
                       "string_categorical, integer_hashed, string_hashed, identity)", t);
    }
    f->mode = cr_feature_is_numeric(f) && f->type != CR_F_FLOAT_DISCRETIZED ? CR_M_INT
                                                                           : CR_M_ONE_HOT;
    cJSON *empty = NULL;
    if (!o)
        o = empty = cJSON_CreateObject();
    if (!o)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    rc = parse_shared(f, o);
    if (!rc)
        rc = parse_type_opts(f, o);
    cJSON_Delete(empty);
    return rc;
}

/* Everything adapt would compute is present. */
static bool spec_complete(const crest_features *fs)
{
    if (fs->label && !fs->n_classes)
        return false;
    for (int i = 0; i < fs->n; i++) {
        const cr_feature *f = &fs->f[i];
        if (cr_feature_is_numeric(f) && (!f->has_stats || !f->has_indicator_choice))
            return false;
        if (f->type == CR_F_FLOAT_DISCRETIZED && !f->bounds)
            return false;
        if ((f->type == CR_F_INT_CATEGORICAL || f->type == CR_F_STR_CATEGORICAL) && !f->has_vocab)
            return false;
    }
    return true;
}

int cr_features_from_cjson(const cJSON *root, crest_features **out)
{
    *out = NULL;
    if (!cJSON_IsObject(root))
        return cr_fail(CREST_E_FORMAT, "feature spec: not a JSON object");
    crest_features *fs = cr_calloc(1, sizeof *fs);
    if (!fs)
        return cr_fail(CREST_E_NOMEM, "out of memory for a feature spec");
    const char *label = NULL;
    int rc = opt_str(root, "label", &label);
    if (!rc && label && !(fs->label = cr_strdup(label)))
        rc = cr_fail(CREST_E_NOMEM, "out of memory");
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "classes");
    if (!rc && cls)
        rc = str_array(cls, "classes", &fs->classes, &fs->n_classes);
    const cJSON *feats = cJSON_GetObjectItemCaseSensitive(root, "features");
    if (!rc && !cJSON_IsObject(feats))
        rc = cr_fail(CREST_E_FORMAT, "feature spec: \"features\" must be an object "
                     "{\"name\": \"type\" or {\"type\": ...}}");
    const cJSON *e;
    if (!rc)
        cJSON_ArrayForEach(e, feats)
        {
            if (fs->label && !strcmp(e->string, fs->label)) {
                rc = cr_fail(CREST_E_FORMAT, "feature spec: '%s' is the label and a feature",
                             e->string);
                break;
            }
            if ((rc = parse_feature(fs, e->string, e, false))) {
                cr_wrap(rc, "feature spec: feature '%s'", e->string);
                break;
            }
        }
    const cJSON *crosses = cJSON_GetObjectItemCaseSensitive(root, "crosses");
    if (!rc && crosses && !cJSON_IsArray(crosses))
        rc = cr_fail(CREST_E_FORMAT, "feature spec: \"crosses\" must be an array");
    if (!rc && crosses)
        cJSON_ArrayForEach(e, crosses)
        {
            const char *nm = NULL;
            char buf[256] = "";
            const cJSON *names = cJSON_GetObjectItemCaseSensitive(e, "features");
            if ((rc = opt_str(e, "name", &nm)))
                break;
            if (!nm && cJSON_IsArray(names)) {   /* Keras' default name: a_X_b */
                const cJSON *n;
                cJSON_ArrayForEach(n, names)
                    if (cJSON_IsString(n))
                        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s",
                                 *buf ? "_X_" : "", n->valuestring);
                nm = buf;
            }
            if ((rc = parse_feature(fs, nm ? nm : "cross", e, true))) {
                cr_wrap(rc, "feature spec: cross '%s'", nm ? nm : "");
                break;
            }
        }
    for (int i = 0; !rc && i < fs->n; i++) {
        cr_feature *f = &fs->f[i];
        for (int k = 0; k < f->n_cross && !rc; k++) {
            int j = 0;
            while (j < fs->n && (fs->f[j].type == CR_F_CROSS || strcmp(fs->f[j].name, f->cross[k])))
                j++;
            if (j == fs->n || cr_feature_is_numeric(&fs->f[j]))
                rc = cr_fail(CREST_E_FORMAT, "cross '%s': '%s' is not a categorical feature "
                             "of the spec", f->name, f->cross[k]);
        }
    }
    if (!rc && fs->n == 0)
        rc = cr_fail(CREST_E_FORMAT, "feature spec: no features");
    if (!rc && spec_complete(fs))   /* a saved (adapted) spec is ready to use */
        rc = cr_features_layout(fs);
    if (rc) {
        crest_features_free(fs);
        return rc;
    }
    *out = fs;
    return CREST_OK;
}

int crest_features_new(crest_features **out, const char *label)
{
    if (!out)
        return cr_fail(CREST_E_ARG, "features_new: out is NULL");
    *out = cr_calloc(1, sizeof **out);
    if (!*out || (label && !((*out)->label = cr_strdup(label)))) {
        crest_features_free(*out);
        *out = NULL;
        return cr_fail(CREST_E_NOMEM, "out of memory");
    }
    return CREST_OK;
}

/* Adds by re-parsing the spec with the new entry: one code path for both. */
int crest_features_add(crest_features *f, const char *name, const char *config_json)
{
    if (!f || !config_json)
        return cr_fail(CREST_E_ARG, "features_add: NULL argument");
    unsigned long mark = cr_json_mark();
    cJSON *cfg = NULL;
    int rc = cr_json_parse(config_json, 0, "feature config", &cfg);
    if (rc == CREST_E_FORMAT && config_json[0] != '{')
        cfg = cJSON_CreateString(config_json);    /* a bare type name */
    if (!cfg)
        return rc == CREST_E_NOMEM || cr_json_check(mark, "feature config")
                   ? cr_fail(CREST_E_NOMEM, "feature '%s': out of memory", name ? name : "")
                   : cr_fail(CREST_E_FORMAT, "feature '%s': config is not JSON",
                             name ? name : "");
    cJSON *root = cr_features_to_cjson(f);
    rc = CREST_OK;
    if (!root) {
        cJSON_Delete(cfg);
        return cr_fail(CREST_E_NOMEM, "out of memory");
    }
    if (name) {
        cJSON *feats = cJSON_GetObjectItemCaseSensitive(root, "features");
        if (cJSON_GetObjectItemCaseSensitive(feats, name)) {
            rc = cr_fail(CREST_E_ARG, "feature '%s' is declared twice", name);
            cJSON_Delete(cfg);
        } else {
            cr_json_put(feats, name, cfg);   /* takes cfg, or deletes it */
        }
    } else {
        cJSON *cr = cJSON_GetObjectItemCaseSensitive(root, "crosses");
        if (!cr)
            cr = cJSON_AddArrayToObject(root, "crosses");
        cr_json_push(cr, cfg);
    }
    if (!rc)
        rc = cr_json_check(mark, "feature spec");
    crest_features *nf = NULL;
    if (!rc)
        rc = cr_features_from_cjson(root, &nf);
    cJSON_Delete(root);
    if (rc)
        return rc;
    /* swap contents: f keeps its address */
    crest_features tmp = *f;
    *f = *nf;
    *nf = tmp;
    crest_features_free(nf);
    return CREST_OK;
}

int crest_features_parse(crest_features **out, const char *json)
{
    if (!out || !json)
        return cr_fail(CREST_E_ARG, "features_parse: NULL argument");
    *out = NULL;
    cJSON *root = NULL;
    int rc = cr_json_parse(json, 0, "feature spec", &root);
    if (rc)
        return rc;
    rc = cr_features_from_cjson(root, out);
    cJSON_Delete(root);
    return rc;
}

int crest_features_load(crest_features **out, const char *path)
{
    if (!out || !path)
        return cr_fail(CREST_E_ARG, "features_load: NULL argument");
    char *text = NULL;
    size_t len;
    int rc = cr_read_file(path, (size_t)256 << 20, &text, &len);
    cJSON *root = NULL;
    if (!rc)
        rc = cr_json_parse(text, len, "feature spec", &root);
    if (!rc)
        rc = cr_features_from_cjson(root, out);
    cJSON_Delete(root);
    cr_free(text);
    return rc ? cr_wrap(rc, "%s", path) : rc;
}

/* ---- save -------------------------------------------------------------- */

static cJSON *feature_json(const cr_feature *f)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (f->type == CR_F_CROSS) {
        cJSON_AddStringToObject(o, "name", f->name);
        cJSON *a = cJSON_AddArrayToObject(o, "features");
        for (int i = 0; i < f->n_cross; i++)
            cr_json_push(a, cJSON_CreateString(f->cross[i]));
        cJSON_AddNumberToObject(o, "crossing_dim", f->num_bins);
    } else {
        cJSON_AddStringToObject(o, "type", type_names[f->type]);
    }
    if (!cr_feature_is_numeric(f) || f->type == CR_F_FLOAT_DISCRETIZED)
        cJSON_AddStringToObject(o, "output_mode", mode_names[f->mode]);
    if (f->mode == CR_M_EMBEDDING) {
        cJSON_AddNumberToObject(o, "embedding_dim", f->emb_dim);
        cJSON_AddStringToObject(o, "combiner", comb_names[f->combiner]);
    }
    if (f->sep) {
        char s[2] = { f->sep, 0 };
        cJSON_AddStringToObject(o, "separator", s);
        cJSON_AddNumberToObject(o, "max_values", f->max_values);
    }
    if (f->weight_name)
        cJSON_AddStringToObject(o, "weight_feature", f->weight_name);
    switch (f->type) {
    case CR_F_FLOAT_RESCALED:
        cJSON_AddNumberToObject(o, "scale", f->scale);
        cJSON_AddNumberToObject(o, "offset", f->offset);
        /* fall through */
    case CR_F_FLOAT: case CR_F_FLOAT_NORMALIZED: case CR_F_FLOAT_DISCRETIZED:
        if (f->has_stats) {
            cJSON_AddNumberToObject(o, "mean", f->mean);
            cJSON_AddNumberToObject(o, "variance", f->var);
        }
        if (f->has_indicator_choice)
            cJSON_AddBoolToObject(o, "missing_indicator", f->indicator);
        if (f->type == CR_F_FLOAT_DISCRETIZED) {
            if (f->bounds) {
                cJSON *a = cJSON_AddArrayToObject(o, "bin_boundaries");
                for (int i = 0; i < f->n_bounds; i++)
                    cr_json_push(a, cJSON_CreateNumber(f->bounds[i]));
            } else {
                cJSON_AddNumberToObject(o, "num_bins", f->num_bins);
            }
        }
        break;
    case CR_F_INT_CATEGORICAL: case CR_F_STR_CATEGORICAL:
        cJSON_AddNumberToObject(o, "num_oov_indices", f->num_oov);
        if (f->default_value != -1)
            cJSON_AddNumberToObject(o, "default_value", f->default_value);
        if (f->max_tokens)
            cJSON_AddNumberToObject(o, "max_tokens", f->max_tokens);
        if (f->has_vocab) {
            cJSON *a = cJSON_AddArrayToObject(o, "vocabulary");
            for (int i = 0; i < f->n_vocab; i++)
                cr_json_push(a, cJSON_CreateString(f->vocab[i]));
        }
        break;
    case CR_F_INT_HASHED: case CR_F_STR_HASHED:
        cJSON_AddNumberToObject(o, "num_bins", f->num_bins);
        break;
    case CR_F_IDENTITY:
        cJSON_AddNumberToObject(o, "num_buckets", f->num_buckets);
        if (f->default_value != -1)
            cJSON_AddNumberToObject(o, "default_value", f->default_value);
        break;
    default:
        break;
    }
    return o;
}

cJSON *cr_features_to_cjson(const crest_features *fs)
{
    unsigned long mark = cr_json_mark();
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (fs->label)
        cJSON_AddStringToObject(root, "label", fs->label);
    if (fs->n_classes) {
        cJSON *a = cJSON_AddArrayToObject(root, "classes");
        for (int i = 0; i < fs->n_classes; i++)
            cr_json_push(a, cJSON_CreateString(fs->classes[i]));
    }
    cJSON *feats = cJSON_AddObjectToObject(root, "features"), *crosses = NULL;
    for (int i = 0; i < fs->n; i++) {
        cJSON *o = feature_json(&fs->f[i]);
        if (!o) {
            cJSON_Delete(root);
            return NULL;
        }
        if (fs->f[i].type == CR_F_CROSS) {
            if (!crosses)
                crosses = cJSON_AddArrayToObject(root, "crosses");
            cr_json_push(crosses, o);
        } else {
            cr_json_put(feats, fs->f[i].name, o);
        }
    }
    if (cr_json_check(mark, "feature spec")) {   /* an item is missing: no half spec */
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

char *crest_features_json(const crest_features *fs, bool pretty)
{
    if (!fs) {
        cr_fail(CREST_E_ARG, "features_json: NULL");
        return NULL;
    }
    cJSON *root = cr_features_to_cjson(fs);
    char *s = root ? cr_json_print(root, pretty) : NULL;
    cJSON_Delete(root);
    if (!s)
        cr_fail(CREST_E_NOMEM, "out of memory writing a feature spec");
    return s;
}
