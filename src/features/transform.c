/* transform.c - a feature spec at work (it only reads the spec): token ids,
 * bindings of a spec to a table's columns, one row -> floats, a table ->
 * rows of model inputs and a data set. Training and prediction on
 * tables live with the rest of training (src/train_table.c). */
#define _POSIX_C_SOURCE 200809L
#include "column.h"
#include "json.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

/* Guards every spec's absent record (bindings write it, readers list it). */
static pthread_mutex_t absent_lock = PTHREAD_MUTEX_INITIALIZER;

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

/* A row being transformed: values by table column, the binding that says
 * which column each reference reads, and where errors point. */
typedef struct row_ctx {
    const char *const *v;          /* by column index; NULL = absent */
    const cr_binding *b;
    const char *file;
    long line;
} row_ctx;

static const char *cell(const row_ctx *r, int col) { return col >= 0 && r->v[col] ? r->v[col] : ""; }

/* The table columns of f's own value, k-th crossed feature, weight (-1: absent). */
static int col_own(const row_ctx *r, const cr_feature *f)
{
    return f->type == CR_F_CROSS ? -1 : r->b->cols[f->ref];
}

static int col_cross(const row_ctx *r, const cr_feature *f, int k)
{
    return r->b->cols[f->ref + (f->type != CR_F_CROSS) + k];
}

static int col_weight(const row_ctx *r, const cr_feature *f)
{
    return f->weight_name ? r->b->cols[f->ref + cr_feature_refs(f) - 1] : -1;
}

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
static int feature_ids(const cr_feature *f, const row_ctx *r, int *ids, float *w, int max, int *n)
{
    *n = 0;
    double weight = f->weight_name ? 0 : 1;   /* an absent weight column: missing */
    int wcol = col_weight(r, f);
    if (wcol >= 0) {
        bool miss;
        int rc = parse_num(r, f, wcol, cell(r, wcol), &weight, &miss);
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
                                  i ? "_X_" : "", cr_is_missing(cell(r, col_cross(r, f, i)))
                                      ? "" : cell(r, col_cross(r, f, i)));
        if (k >= sizeof buf)
            k = sizeof buf - 1;
        ids[0] = (int)(cr_fingerprint64(buf, k) % (uint64_t)f->num_bins);
        w[0] = 1;
        *n = 1;
        return CREST_OK;
    }
    int col = col_own(r, f);
    const char *s = cell(r, col);
    if (cr_feature_is_numeric(f)) {   /* discretized */
        double x = f->mean;
        bool miss;
        int rc = parse_num(r, f, col, s, &x, &miss);
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
                                     r->file, r->line, col + 1, f->name, tok)
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

static int transform_row(const row_ctx *r, float *out)
{
    const crest_features *fs = r->b->fs;
    memset(out, 0, (size_t)fs->width * sizeof *out);
    int ids[1024];
    float w[1024];
    for (int i = 0; i < fs->n; i++) {
        const cr_feature *f = &fs->f[i];
        if (cr_feature_is_numeric(f) && f->type != CR_F_FLOAT_DISCRETIZED) {
            double x = 0;
            bool miss;
            int rc = parse_num(r, f, col_own(r, f), cell(r, col_own(r, f)), &x, &miss);
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
        int rc = feature_ids(f, r, ids, w, max, &n);
        if (rc)
            return rc;
        if (f->type == CR_F_FLOAT_DISCRETIZED && f->indicator) {
            bool miss = cr_is_missing(cell(r, col_own(r, f)));
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

/* ---- bindings: the spec's column references -> a table's columns ------- */

/* Binds each reference to its column (the last of that name). A column the
 * table lacks stays -1: every row reads it as a missing value (the
 * documented policy; crest_features_absent lists them). */
int cr_features_bind(cr_binding *b, const crest_features *fs, const char *const *names, int n)
{
    *b = (cr_binding){ .fs = fs };
    b->cols = cr_malloc((size_t)(fs->n_refs ? fs->n_refs : 1) * sizeof *b->cols);
    if (!b->cols)
        return cr_fail(CREST_E_NOMEM, "out of memory binding the feature spec to columns");
    for (int i = 0; i < fs->n; i++) {
        const cr_feature *f = &fs->f[i];
        for (int k = 0; k < cr_feature_refs(f); k++) {
            int *col = &b->cols[f->ref + k];
            *col = -1;
            for (int c = 0; c < n; c++)
                if (!strcmp(names[c], cr_feature_ref_name(f, k)))
                    *col = c;
        }
    }
    pthread_mutex_lock(&absent_lock);
    fs->absent->bound = true;
    for (int j = 0; j < fs->n_refs; j++)
        fs->absent->miss[j] = b->cols[j] < 0;
    pthread_mutex_unlock(&absent_lock);
    return CREST_OK;
}

void cr_binding_free(cr_binding *b)
{
    cr_free(b->cols);
    b->cols = NULL;
}

/* Name of column reference j; false past the last one. */
static bool ref_at(const crest_features *fs, int j, const char **name)
{
    for (int i = 0; i < fs->n && j >= 0; i++) {
        if (j < cr_feature_refs(&fs->f[i])) {
            *name = cr_feature_ref_name(&fs->f[i], j);
            return true;
        }
        j -= cr_feature_refs(&fs->f[i]);
    }
    return false;
}

int crest_features_absent(const crest_features *fs, const char **names, int max)
{
    int n = 0;
    const char *name, *other;
    if (!fs || !fs->absent)
        return 0;
    pthread_mutex_lock(&absent_lock);
    for (int j = 0; fs->absent->bound && ref_at(fs, j, &name); j++) {
        bool first = fs->absent->miss[j];
        for (int k = 0; first && k < j && ref_at(fs, k, &other); k++)
            first = strcmp(other, name) != 0;
        if (first && names && n < max)
            names[n] = name;
        n += first;
    }
    pthread_mutex_unlock(&absent_lock);
    return n;
}

int crest_features_transform(const crest_features *fs, const char *const *names,
                             const char *const *values, int n, float *out)
{
    if (!fs || (!names && n) || (!values && n) || !out || n < 0)
        return cr_fail(CREST_E_ARG, "features_transform: NULL argument");
    if (!fs->laid_out)
        return cr_fail(CREST_E_STATE, "features_transform: the spec is not adapted");
    cr_binding b;
    int rc = cr_features_bind(&b, fs, names, n);
    if (!rc)
        rc = transform_row(&(row_ctx){ .v = values, .b = &b }, out);
    cr_binding_free(&b);
    return rc;
}

/* ---- tables: rows of model inputs ------------------------------------------ */

static bool row_selected(const crest_table_opts *o, long row)
{
    int every = o->holdout_every > 0 ? o->holdout_every : 5;
    bool held = row % every == every - 1;
    return o->rows == CREST_ROWS_ALL || (o->rows == CREST_ROWS_HOLDOUT) == held;
}

bool cr_features_row_selected(const crest_table_opts *o, long row) { return row_selected(o, row); }

int crest_table_count_rows(const char *path, const crest_table_opts *o, size_t *n)
{
    if (!path || !n)
        return cr_fail(CREST_E_ARG, "table_count_rows: NULL argument");
    crest_table_opts d = o ? *o : (crest_table_opts){ 0 };
    cr_table t;
    const char **v;
    *n = 0;
    int rc = cr_table_open(&t, path, d.delimiter);
    long row = 0;
    while (!rc && (rc = cr_table_next(&t, &v)) == 1) {
        *n += row_selected(&d, row++);
        rc = CREST_OK;
    }
    cr_table_close(&t);
    return rc < 0 ? rc : CREST_OK;
}

int cr_rows_open(cr_rows *r, const crest_features *fs, const char *path,
                 const crest_table_opts *o, bool need_label)
{
    *r = (cr_rows){ .o = o ? *o : (crest_table_opts){ 0 }, .lcol = -1 };
    int rc = cr_table_open(&r->t, path, r->o.delimiter);
    if (rc)
        return rc;
    r->lcol = need_label ? cr_table_col(&r->t, fs->label) : -1;
    rc = cr_features_bind(&r->b, fs, (const char *const *)r->t.names, r->t.n_cols);
    if (!rc && need_label && r->lcol < 0)
        rc = cr_fail(CREST_E_FORMAT, "%s: no label column '%s'", path,
                     fs->label ? fs->label : "(none given)");
    if (!rc && r->lcol >= 0 && !fs->n_classes)
        rc = cr_fail(CREST_E_STATE, "%s: the spec has no classes (adapt it first)", path);
    return rc;
}

void cr_rows_close(cr_rows *r)
{
    cr_binding_free(&r->b);
    cr_table_close(&r->t);
}

/* The class id of a label value, or an error naming file, line and value. */
static int class_of(const cr_rows *r, const char *v, int *cls)
{
    const crest_features *fs = r->b.fs;
    for (int k = 0; k < fs->n_classes; k++)
        if (!strcmp(fs->classes[k], v)) {
            *cls = k;
            return CREST_OK;
        }
    return cr_fail(CREST_E_FORMAT, "%s line %ld column %d (%s): class '%.40s' is not one of "
                   "the %d the model knows", r->t.path, r->t.row_line, r->lcol + 1, fs->label,
                   v, fs->n_classes);
}

int cr_rows_read(cr_rows *r, float *x, int32_t *y, size_t cap, size_t *n)
{
    const char **v;
    int rc = 0, width = r->b.fs->width;
    *n = 0;
    while (*n < cap && (rc = cr_table_next(&r->t, &v)) == 1) {
        if (!row_selected(&r->o, r->row++))
            continue;
        size_t at = r->selected++;   /* o's range: after skip_rows, max_rows of them */
        if (at < r->o.skip_rows)
            continue;
        if (r->o.max_rows && at - r->o.skip_rows >= r->o.max_rows)
            break;
        int cls = -1;
        if (r->lcol >= 0 && cr_is_missing(v[r->lcol])) {
            r->skipped++;
            continue;
        }
        if (r->lcol >= 0 && (rc = class_of(r, v[r->lcol], &cls)))
            return rc;
        row_ctx ctx = { .v = v, .b = &r->b, .file = r->t.path, .line = r->t.row_line };
        if ((rc = transform_row(&ctx, x + *n * (size_t)width)))
            return rc;
        y[(*n)++] = cls;
    }
    return rc < 0 ? rc : CREST_OK;
}

/* Every row r selects, in arrays grown as they fill. */
static int read_all(cr_rows *r, float **x, int32_t **y, size_t *n)
{
    size_t cap = 0, got = 0, width = (size_t)r->b.fs->width;
    size_t row_bytes = (width ? width : 1) * sizeof(float);
    /* the first block holds up to 256 rows or 16 MB, whichever is less: a
     * spec with million-wide one-hot columns over a short table must not
     * reserve 256 of its rows up front */
    size_t first = ((size_t)16 << 20) / row_bytes;
    first = first < 1 ? 1 : first > 256 ? 256 : first;
    *n = 0;
    do {
        if (*n == cap) {
            if (cap && cap > SIZE_MAX / 2 / row_bytes)
                return cr_fail(CREST_E_NOMEM, "%s: too many rows of %zu values", r->t.path,
                               width);
            cap = cap ? 2 * cap : first;
            float *nx = cr_realloc(*x, cap * width * sizeof *nx);
            int32_t *ny = nx ? cr_realloc(*y, cap * sizeof *ny) : NULL;
            if (nx)
                *x = nx;
            if (!ny)
                return cr_fail(CREST_E_NOMEM, "%s: out of memory at row %ld", r->t.path,
                               r->row + 1);
            *y = ny;
        }
        int rc = cr_rows_read(r, *x + *n * width, *y + *n, cap - *n, &got);
        if (rc)
            return rc;
        *n += got;
    } while (got > 0);
    return CREST_OK;
}

int crest_features_dataset(crest_dataset **out, const crest_features *fs, const char *path,
                           const crest_table_opts *o, bool need_label)
{
    if (!out || !fs || !path)
        return cr_fail(CREST_E_ARG, "features_dataset: NULL argument");
    *out = NULL;
    if (!fs->laid_out)
        return cr_fail(CREST_E_STATE, "features_dataset: the spec is not adapted");
    cr_rows r;
    float *x = NULL;
    int32_t *y = NULL;
    size_t n = 0;
    int rc = cr_rows_open(&r, fs, path, o, need_label);
    if (!rc)
        rc = read_all(&r, &x, &y, &n);
    if (!rc && n == 0)
        rc = cr_fail(CREST_E_FORMAT, "%s: no data rows%s", path, r.skipped ? " with a label" : "");
    if (!rc)
        rc = crest_dataset_new(out, n, crest_shape(1, fs->width), x, r.lcol >= 0 ? y : NULL,
                               r.lcol >= 0 ? fs->n_classes : 0);
    cr_rows_close(&r);
    cr_free(x);
    cr_free(y);
    return rc;
}
