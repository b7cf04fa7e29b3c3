/* transform.c - feature columns at work: layout of the model input, token
 * ids, one row -> floats, a table -> a data set, and prediction on tables. */
#define _POSIX_C_SOURCE 200809L
#include "column.h"
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int cr_features_from_cjson(const cJSON *root, crest_features **out);

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

int cr_feature_cardinality(const cr_feature *f)
{
    switch (f->type) {
    case CR_F_FLOAT_DISCRETIZED: return f->bounds ? f->n_bounds + 1 : f->num_bins;
    case CR_F_INT_CATEGORICAL: case CR_F_STR_CATEGORICAL: return f->num_oov + f->n_vocab;
    case CR_F_INT_HASHED: case CR_F_STR_HASHED: case CR_F_CROSS: return f->num_bins;
    case CR_F_IDENTITY: return f->num_buckets;
    default: return 1;
    }
}

/* Model-input layout: dense blocks in spec order, then embedding slots. */
int cr_features_layout(crest_features *fs)
{
    int at = 0;
    for (int i = 0; i < fs->n; i++) {
        cr_feature *f = &fs->f[i];
        f->ids_at = f->w_at = -1;
        f->slots = 0;
        if (cr_feature_is_numeric(f) && f->type != CR_F_FLOAT_DISCRETIZED)
            f->width = 1 + (f->indicator ? 1 : 0);
        else if (f->mode == CR_M_EMBEDDING)
            f->width = 0;
        else if (f->mode == CR_M_INT)
            f->width = 1;
        else
            f->width = cr_feature_cardinality(f);
        if (f->type == CR_F_FLOAT_DISCRETIZED && f->indicator)
            f->width += 1;
        f->at = at;
        at += f->width;
        if (at > (1 << 24))
            return cr_fail(CREST_E_ARG, "features: the dense part exceeds 2^24 floats");
    }
    fs->n_dense = at;
    for (int i = 0; i < fs->n; i++) {
        cr_feature *f = &fs->f[i];
        if (f->mode != CR_M_EMBEDDING)
            continue;
        f->slots = f->type == CR_F_CROSS ? 1 : f->max_values;
        f->ids_at = at;
        at += f->slots;
        if (f->weight_name) {
            f->w_at = at;
            at += f->slots;
        }
    }
    fs->width = at;
    fs->laid_out = true;
    return CREST_OK;
}

int crest_features_width(const crest_features *f) { return f ? f->width : 0; }
int crest_features_classes(const crest_features *f) { return f ? f->n_classes : 0; }
const char *crest_features_class_name(const crest_features *f, int k)
{
    return f && k >= 0 && k < f->n_classes ? f->classes[k] : NULL;
}

/* Integers are normalized to their decimal text ("2007.0" -> "2007"). */
static int int_token(const char *s, char *buf, size_t n)
{
    char *end;
    errno = 0;
    double v = cr_strtod(s, &end);
    if (end == s || *end || errno || v != floor(v) || fabs(v) > 9e15)
        return -1;
    snprintf(buf, n, "%lld", (long long)v);
    return 0;
}

int cr_feature_token_id(const cr_feature *f, const char *tok)
{
    char buf[64];
    bool missing = cr_is_missing(tok);
    bool is_int = f->type == CR_F_INT_CATEGORICAL || f->type == CR_F_INT_HASHED ||
                  f->type == CR_F_IDENTITY;
    if (!missing && is_int && int_token(tok, buf, sizeof buf) == 0)
        tok = buf;
    else if (!missing && is_int)
        return -2;   /* not an integer: the caller reports it */
    switch (f->type) {
    case CR_F_INT_CATEGORICAL: case CR_F_STR_CATEGORICAL: {
        int id = missing ? -1 : cr_strmap_get(&f->lookup, tok);
        if (id >= 0)
            return id;
        if (f->num_oov == 0)
            return f->default_value;
        return missing || f->num_oov == 1
                   ? 0 : (int)(cr_fingerprint64(tok, strlen(tok)) % (uint64_t)f->num_oov);
    }
    case CR_F_INT_HASHED: case CR_F_STR_HASHED:
        if (missing)
            tok = "";
        return (int)(cr_fingerprint64(tok, strlen(tok)) % (uint64_t)f->num_bins);
    case CR_F_IDENTITY: {
        if (missing)
            return -1;
        long long v = atoll(tok);
        return v >= 0 && v < f->num_buckets ? (int)v : f->default_value;
    }
    default:
        return -1;
    }
}

static int bucket_of(const cr_feature *f, double x)
{
    int lo = 0, hi = f->n_bounds;   /* count of boundaries <= x */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (f->bounds[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A row being transformed: values by table column, and where errors point. */
typedef struct row_ctx {
    const char *const *v;          /* by column index; NULL = absent */
    const char *file;
    long line;
} row_ctx;

static const char *cell(const row_ctx *r, int col) { return col >= 0 && r->v[col] ? r->v[col] : ""; }

static int parse_num(const row_ctx *r, const cr_feature *f, int col, const char *s, double *out,
                     bool *missing)
{
    *missing = cr_is_missing(s);
    if (*missing)
        return CREST_OK;
    char *end;
    errno = 0;
    double v = cr_strtod(s, &end);
    while (*end == ' ')
        end++;
    if (end == s || *end || errno == ERANGE || !isfinite(v)) {
        if (r->file)
            return cr_fail(CREST_E_FORMAT, "%s line %ld column %d (%s): '%.40s' is not a number",
                           r->file, r->line, col + 1, f->name, s);
        return cr_fail(CREST_E_FORMAT, "column %s: '%.40s' is not a number", f->name, s);
    }
    *out = v;
    return CREST_OK;
}

/* Ids of one feature in this row (up to max), with their weights. */
static int feature_ids(const crest_features *fs, const cr_feature *f, const row_ctx *r, int *ids,
                       float *w, int max, int *n)
{
    *n = 0;
    double weight = f->weight_name ? 0 : 1;   /* an absent weight column: missing */
    if (f->weight_col >= 0) {
        bool miss;
        int rc = parse_num(r, f, f->weight_col, cell(r, f->weight_col), &weight, &miss);
        if (rc)
            return rc;
        if (miss)
            weight = 0;
    }
    if (f->type == CR_F_CROSS) {   /* tokens joined by _X_, then hashed */
        char buf[1024];
        size_t k = 0;
        for (int i = 0; i < f->n_cross; i++)
            k += (size_t)snprintf(buf + k, k < sizeof buf ? sizeof buf - k : 0, "%s%s",
                                  i ? "_X_" : "", cr_is_missing(cell(r, f->cross_cols[i]))
                                      ? "" : cell(r, f->cross_cols[i]));
        if (k >= sizeof buf)
            k = sizeof buf - 1;
        ids[0] = (int)(cr_fingerprint64(buf, k) % (uint64_t)f->num_bins);
        w[0] = 1;
        *n = 1;
        return CREST_OK;
    }
    (void)fs;
    const char *s = cell(r, f->col);
    if (cr_feature_is_numeric(f)) {   /* discretized */
        double x = f->mean;
        bool miss;
        int rc = parse_num(r, f, f->col, s, &x, &miss);
        if (rc)
            return rc;
        if (miss)
            x = f->mean;
        ids[0] = bucket_of(f, x * f->scale + f->offset);
        w[0] = (float)weight;
        *n = 1;
        return CREST_OK;
    }
    char tok[1024];
    const char *p = s;
    do {
        const char *e = f->sep ? strchr(p, f->sep) : NULL;
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= sizeof tok)
            len = sizeof tok - 1;
        memcpy(tok, p, len);
        tok[len] = 0;
        int id = cr_feature_token_id(f, tok);
        if (id == -2)
            return r->file ? cr_fail(CREST_E_FORMAT,
                                     "%s line %ld column %d (%s): '%.40s' is not an integer",
                                     r->file, r->line, f->col + 1, f->name, tok)
                           : cr_fail(CREST_E_FORMAT, "column %s: '%.40s' is not an integer",
                                     f->name, tok);
        if (id >= 0 && *n < max) {
            ids[*n] = id;
            w[*n] = (float)weight;
            (*n)++;
        }
        p = e ? e + 1 : NULL;
    } while (p && (*p || f->sep));
    return CREST_OK;
}

static int transform_row(const crest_features *fs, const row_ctx *r, float *out)
{
    memset(out, 0, (size_t)fs->width * sizeof *out);
    int ids[1024];
    float w[1024];
    for (int i = 0; i < fs->n; i++) {
        const cr_feature *f = &fs->f[i];
        if (cr_feature_is_numeric(f) && f->type != CR_F_FLOAT_DISCRETIZED) {
            double x = 0;
            bool miss;
            int rc = parse_num(r, f, f->col, cell(r, f->col), &x, &miss);
            if (rc)
                return rc;
            if (miss)
                x = f->mean;
            if (f->type == CR_F_FLOAT_NORMALIZED) {
                double sd = sqrt(f->var);
                x = (x - f->mean) / (sd > 1e-7 ? sd : 1e-7);
            } else if (f->type == CR_F_FLOAT_RESCALED) {
                x = x * f->scale + f->offset;
            }
            out[f->at] = (float)x;
            if (f->indicator)
                out[f->at + 1] = miss ? 1.0f : 0.0f;
            continue;
        }
        int n, max = f->mode == CR_M_EMBEDDING ? f->slots : 1024;
        int rc = feature_ids(fs, f, r, ids, w, max, &n);
        if (rc)
            return rc;
        if (f->type == CR_F_FLOAT_DISCRETIZED && f->indicator) {
            bool miss = cr_is_missing(cell(r, f->col));
            out[f->at + f->width - 1] = miss ? 1.0f : 0.0f;
        }
        if (f->mode == CR_M_EMBEDDING) {
            for (int s = 0; s < f->slots; s++) {
                out[f->ids_at + s] = s < n ? (float)ids[s] : -1.0f;
                if (f->w_at >= 0)
                    out[f->w_at + s] = s < n ? w[s] : 0.0f;
            }
        } else if (f->mode == CR_M_INT) {
            out[f->at] = n ? (float)ids[0] : -1.0f;
        } else {
            for (int k = 0; k < n; k++) {
                float *c = &out[f->at + ids[k]];
                if (f->mode == CR_M_COUNT || (f->mode == CR_M_ONE_HOT && f->weight_name))
                    *c += w[k];
                else
                    *c = f->weight_name ? w[k] : 1.0f;
            }
        }
    }
    return CREST_OK;
}

/* Binds feature columns to table column indices. A column the table lacks
 * stays -1: every row reads it as a missing value (the documented policy;
 * crest_features_absent lists them). */
static void bind_cols(crest_features *fs, const char *const *names, int n)
{
    fs->bound = true;
    for (int i = 0; i < fs->n; i++) {
        cr_feature *f = &fs->f[i];
        f->col = f->weight_col = -1;
        for (int c = 0; c < n; c++) {
            if (f->type != CR_F_CROSS && !strcmp(names[c], f->name))
                f->col = c;
            if (f->weight_name && !strcmp(names[c], f->weight_name))
                f->weight_col = c;
        }
        for (int k = 0; k < f->n_cross; k++) {
            f->cross_cols[k] = -1;
            for (int c = 0; c < n; c++)
                if (!strcmp(names[c], f->cross[k]))
                    f->cross_cols[k] = c;
        }
    }
}

/* Column reference j of the spec (its feature columns, crossed columns and
 * weight columns, in order): false past the last one. */
static bool col_ref(const crest_features *fs, int j, const char **name, int *col)
{
    for (int i = 0; i < fs->n; i++) {
        const cr_feature *f = &fs->f[i];
        int own = f->type != CR_F_CROSS;
        if (j < own) {
            *name = f->name;
            *col = f->col;
            return true;
        }
        j -= own;
        if (j < f->n_cross) {
            *name = f->cross[j];
            *col = f->cross_cols[j];
            return true;
        }
        j -= f->n_cross;
        if (f->weight_name && j == 0) {
            *name = f->weight_name;
            *col = f->weight_col;
            return true;
        }
        j -= f->weight_name ? 1 : 0;
    }
    return false;
}

int crest_features_absent(const crest_features *fs, const char **names, int max)
{
    int n = 0;
    const char *name, *other;
    int col, c2;
    for (int j = 0; fs && fs->bound && col_ref(fs, j, &name, &col); j++) {
        bool first = col < 0;
        for (int k = 0; first && k < j && col_ref(fs, k, &other, &c2); k++)
            first = strcmp(other, name) != 0;
        if (first && names && n < max)
            names[n] = name;
        n += first;
    }
    return n;
}

int crest_features_transform(const crest_features *cf, const char *const *names,
                             const char *const *values, int n, float *out)
{
    if (!cf || (!names && n) || (!values && n) || !out || n < 0)
        return cr_fail(CREST_E_ARG, "features_transform: NULL argument");
    crest_features *fs = (crest_features *)cf;   /* binding is scratch state */
    if (!fs->laid_out)
        return cr_fail(CREST_E_STATE, "features_transform: the spec is not adapted");
    bind_cols(fs, names, n);
    row_ctx r = { .v = values };
    return transform_row(fs, &r, out);
}

static bool row_selected(const crest_table_opts *o, long row)
{
    int every = o->holdout_every > 0 ? o->holdout_every : 5;
    bool held = row % every == every - 1;
    return o->rows == CREST_ROWS_ALL || (o->rows == CREST_ROWS_HOLDOUT) == held;
}

bool cr_features_row_selected(const crest_table_opts *o, long row) { return row_selected(o, row); }

int crest_features_dataset(crest_dataset **out, const crest_features *cf, const char *path,
                           const crest_table_opts *o, bool need_label)
{
    crest_table_opts dflt = { 0 };
    if (!o)
        o = &dflt;
    if (!out || !cf || !path)
        return cr_fail(CREST_E_ARG, "features_dataset: NULL argument");
    *out = NULL;
    crest_features *fs = (crest_features *)cf;
    if (!fs->laid_out)
        return cr_fail(CREST_E_STATE, "features_dataset: the spec is not adapted");
    cr_table t;
    float *x = NULL;
    int32_t *y = NULL;
    size_t n = 0, cap = 0;
    long row = 0, skipped = 0;
    int rc = cr_table_open(&t, path, o->delimiter);
    int lcol = rc || !need_label ? -1 : cr_table_col(&t, fs->label);
    if (!rc)
        bind_cols(fs, (const char *const *)t.names, t.n_cols);
    if (!rc && need_label && lcol < 0)
        rc = cr_fail(CREST_E_FORMAT, "%s: no label column '%s'", path,
                     fs->label ? fs->label : "(none given)");
    if (!rc && lcol >= 0 && !fs->n_classes)
        rc = cr_fail(CREST_E_STATE, "%s: the spec has no classes (adapt it first)", path);
    const char **v;
    while (!rc && (rc = cr_table_next(&t, &v)) == 1) {
        rc = 0;
        if (!row_selected(o, row++))
            continue;
        int cls = -1;
        if (lcol >= 0) {
            if (cr_is_missing(v[lcol])) {
                skipped++;
                continue;
            }
            for (int k = 0; k < fs->n_classes && cls < 0; k++)
                if (!strcmp(fs->classes[k], v[lcol]))
                    cls = k;
            if (cls < 0) {
                rc = cr_fail(CREST_E_FORMAT, "%s line %ld column %d (%s): class '%.40s' is not "
                             "one of the %d the model knows", path, t.row_line, lcol + 1,
                             fs->label, v[lcol], fs->n_classes);
                break;
            }
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            float *nx = cr_realloc(x, cap * (size_t)fs->width * sizeof *nx);
            int32_t *ny = nx ? cr_realloc(y, cap * sizeof *ny) : NULL;
            if (nx)
                x = nx;
            if (!ny) {
                rc = cr_fail(CREST_E_NOMEM, "%s: out of memory at row %ld", path, row);
                break;
            }
            y = ny;
        }
        row_ctx r = { .v = v, .file = path, .line = t.row_line };
        if ((rc = transform_row(fs, &r, x + n * (size_t)fs->width)))
            break;
        y[n++] = cls;
    }
    if (!rc && n == 0)
        rc = cr_fail(CREST_E_FORMAT, "%s: no data rows%s", path, skipped ? " with a label" : "");
    if (!rc)
        rc = crest_dataset_new(out, n, crest_shape(1, fs->width), x, lcol >= 0 ? y : NULL,
                               lcol >= 0 ? fs->n_classes : 0);
    cr_table_close(&t);
    cr_free(x);
    cr_free(y);
    return rc;
}

/* ---- the model side ---------------------------------------------------- */

extern const cr_layer_def cr_dense_features_def;
const crest_features *cr_dense_features_spec(const crest_layer *l);

const crest_features *crest_model_features(const crest_model *m)
{
    if (!m || m->n_layers < 1 || m->layers[0]->def != &cr_dense_features_def)
        return NULL;
    return cr_dense_features_spec(m->layers[0]);
}

int crest_predict_table(crest_model *m, const char *path, const crest_table_opts *o,
                        float **probs, size_t *n)
{
    if (!m || !path || !probs || !n)
        return cr_fail(CREST_E_ARG, "predict_table: NULL argument");
    *probs = NULL;
    *n = 0;
    const crest_features *fs = crest_model_features(m);
    if (!fs)
        return cr_fail(CREST_E_ARG, "model '%s' has no DenseFeatures layer: it does not read "
                       "tables", m->name);
    crest_dataset *d = NULL;
    int rc = crest_features_dataset(&d, fs, path, o, false);
    if (rc)
        return rc;
    rc = cr_model_build(m);
    size_t K = (size_t)m->out_size;
    float *p = rc ? NULL : cr_malloc((d->n ? d->n : 1) * K * sizeof *p);
    if (!rc && !p)
        rc = cr_fail(CREST_E_NOMEM, "out of memory");
    if (!rc)
        rc = crest_predict(m, d->x, d->n, p);
    if (!rc) {
        *probs = p;
        *n = d->n;
        p = NULL;
    }
    cr_free(p);
    crest_dataset_free(d);
    return rc;
}

/* ---- training straight from a table, in chunks ---------------------------- */

/* Reads up to cap selected, labelled rows of t into x/y; *n rows read. */
static int read_chunk(crest_features *fs, cr_table *t, int lcol, const crest_table_opts *o,
                      long *row, float *x, int32_t *y, size_t cap, size_t *n)
{
    const char **v;
    int rc = 0;
    *n = 0;
    while (*n < cap && (rc = cr_table_next(t, &v)) == 1) {
        if (!row_selected(o, (*row)++) || cr_is_missing(v[lcol]))
            continue;
        int cls = -1;
        for (int k = 0; k < fs->n_classes && cls < 0; k++)
            if (!strcmp(fs->classes[k], v[lcol]))
                cls = k;
        if (cls < 0)
            return cr_fail(CREST_E_FORMAT, "%s line %ld column %d (%s): class '%.40s' is not "
                           "one of the %d the model knows", t->path, t->row_line, lcol + 1,
                           fs->label, v[lcol], fs->n_classes);
        row_ctx r = { .v = v, .file = t->path, .line = t->row_line };
        if ((rc = transform_row(fs, &r, x + *n * (size_t)fs->width)))
            return rc;
        y[(*n)++] = cls;
    }
    return rc < 0 ? rc : CREST_OK;
}

int crest_fit_table(crest_model *m, const crest_features *cf, const char *path,
                    const crest_table_opts *o, const crest_fit_opts *fo, int chunk_rows)
{
    crest_table_opts dflt = { 0 };
    crest_fit_opts fdflt = { 0 };
    if (!o)
        o = &dflt;
    if (!fo)
        fo = &fdflt;
    if (!m || !cf || !path)
        return cr_fail(CREST_E_ARG, "fit_table: NULL argument");
    if (fo->validation_split > 0 || fo->early_stopping_patience > 0 || fo->class_weight ||
        fo->checkpoint_dir || fo->initial_epoch || fo->on_epoch_end)
        return cr_fail(CREST_E_UNSUPPORTED, "fit_table: validation_split, early stopping, "
                       "class weights, checkpoints and epoch callbacks need the data set in "
                       "memory (crest_fit)");
    crest_features *fs = (crest_features *)cf;
    if (!fs->laid_out)
        return cr_fail(CREST_E_STATE, "fit_table: the spec is not adapted");
    size_t cap = chunk_rows > 0 ? (size_t)chunk_rows : 65536;
    int epochs = fo->epochs ? fo->epochs : 1;
    float *x = cr_malloc(cap * (size_t)fs->width * sizeof *x);
    int32_t *y = cr_malloc(cap * sizeof *y);
    if (!x || !y) {
        cr_free(x);
        cr_free(y);
        return cr_fail(CREST_E_NOMEM, "fit_table: out of memory for %zu rows", cap);
    }
    if (fo->history)
        memset(fo->history, 0, sizeof *fo->history);
    int rc = CREST_OK;
    for (int ep = 0; ep < epochs && !rc; ep++) {
        cr_table t;
        long row = 0;
        double loss = 0, acc = 0;
        size_t seen = 0;
        rc = cr_table_open(&t, path, o->delimiter);
        int lcol = rc ? -1 : cr_table_col(&t, fs->label);
        if (!rc)
            bind_cols(fs, (const char *const *)t.names, t.n_cols);
        if (!rc && lcol < 0)
            rc = cr_fail(CREST_E_FORMAT, "%s: no label column '%s'", path,
                         fs->label ? fs->label : "(none given)");
        for (uint64_t chunk = 0; !rc; chunk++) {
            size_t n;
            crest_dataset *d = NULL;
            crest_history h;
            if ((rc = read_chunk(fs, &t, lcol, o, &row, x, y, cap, &n)) || n == 0)
                break;
            rc = crest_dataset_new(&d, n, crest_shape(1, fs->width), x, y, fs->n_classes);
            crest_fit_opts one = *fo;   /* one pass over this chunk, shuffled within it */
            one.epochs = 1;
            one.seed = fo->seed + (uint64_t)ep * 1000003u + chunk;
            one.verbose = 0;
            one.validation_data = NULL;
            one.history = &h;
            if (!rc)
                rc = crest_fit(m, d, &one);
            crest_dataset_free(d);
            if (!rc) {
                loss += h.loss[0] * (double)n;
                acc += h.accuracy[0] * (double)n;
                seen += n;
            }
        }
        cr_table_close(&t);
        if (!rc && !seen)
            rc = cr_fail(CREST_E_FORMAT, "%s: no labelled rows to train on", path);
        if (rc)
            break;
        crest_metrics vm = { 0 };
        if (fo->validation_data && (rc = crest_evaluate(m, fo->validation_data, 256, &vm)))
            break;
        if (fo->history && ep < 1024) {
            fo->history->epochs = ep + 1;
            fo->history->loss[ep] = loss / (double)seen;
            fo->history->accuracy[ep] = acc / (double)seen;
            fo->history->val_loss[ep] = vm.loss;
            fo->history->val_accuracy[ep] = vm.accuracy;
        }
        if (fo->verbose) {
            void *saved = cr_locale_push_c();   /* "0.1234" whatever the host's locale */
            fprintf(stderr, "Epoch %d/%d - %zu rows - loss: %.4f - accuracy: %.4f", ep + 1,
                    epochs, seen, loss / (double)seen, acc / (double)seen);
            if (fo->validation_data)
                fprintf(stderr, " - val_loss: %.4f - val_accuracy: %.4f", vm.loss, vm.accuracy);
            fprintf(stderr, "\n");
            cr_locale_pop(saved);
        }
    }
    cr_free(x);
    cr_free(y);
    return rc;
}
