/* adapt.c - one streaming pass over a table computes what a spec leaves
 * out (Keras' adapt()): means and population variances (Welford), token
 * counts for learned vocabularies, a bounded sample for quantile bins,
 * label classes; and, for crest_features_infer, the column types. */
#define _POSIX_C_SOURCE 200809L
#include "column.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define SAMPLE_MAX 65536          /* values kept for quantiles (reservoir) */
#define INFER_DISTINCT 1000       /* distinct tokens tracked when inferring */

typedef struct col_stats {
    long n, missing, non_numeric, non_integer;
    double mean, m2;              /* Welford */
    bool count_tokens, sample;
    cr_strmap tokens;
    bool overflow;                /* more distinct tokens than tracked */
    long bad_line;                /* first value that is not a number */
    char bad_text[48];
    double *vals;
    long n_vals;
} col_stats;

static void stats_free(col_stats *s, int n)
{
    for (int i = 0; s && i < n; i++) {
        cr_strmap_free(&s[i].tokens);
        cr_free(s[i].vals);
    }
    cr_free(s);
}

static int stat_value(col_stats *s, const char *v, cr_rng *rng, long limit_tokens, char sep,
                      long line)
{
    if (cr_is_missing(v)) {
        s->missing++;
        return CREST_OK;
    }
    char *end;
    errno = 0;
    double x = cr_strtod(v, &end);
    if (end == v || *end || !isfinite(x)) {
        if (!s->non_numeric++) {
            s->bad_line = line;
            snprintf(s->bad_text, sizeof s->bad_text, "%s", v);
        }
    } else {
        s->n++;
        double d = x - s->mean;
        s->mean += d / (double)s->n;
        s->m2 += d * (x - s->mean);
        if (x != floor(x) || fabs(x) > 9e15)
            s->non_integer++;
        if (s->sample) {
            if (!s->vals && !(s->vals = cr_malloc(SAMPLE_MAX * sizeof *s->vals)))
                return cr_fail(CREST_E_NOMEM, "out of memory for quantiles");
            if (s->n_vals < SAMPLE_MAX)
                s->vals[s->n_vals++] = x;
            else {
                uint64_t j = cr_rng_below(rng, (uint64_t)s->n);
                if (j < SAMPLE_MAX)
                    s->vals[j] = x;
            }
        }
    }
    if (!s->count_tokens || s->overflow)
        return CREST_OK;
    char tok[1024];
    const char *p = v;
    do {   /* integers normalized as the transform does */
        const char *e = sep ? strchr(p, sep) : NULL;
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= sizeof tok)
            len = sizeof tok - 1;
        memcpy(tok, p, len);
        tok[len] = 0;
        double t = cr_strtod(tok, &end);
        if (end != tok && !*end && t == floor(t) && fabs(t) < 9e15)
            snprintf(tok, sizeof tok, "%lld", (long long)t);
        if (*tok) {
            if (limit_tokens && (long)s->tokens.n >= limit_tokens &&
                cr_strmap_get(&s->tokens, tok) < 0) {
                s->overflow = true;
                return CREST_OK;
            }
            int rc = cr_strmap_add(&s->tokens, tok, 0, 1, NULL);
            if (rc)
                return rc;
        }
        p = e ? e + 1 : NULL;
    } while (p);
    return CREST_OK;
}

typedef struct entry { const char *key; long count; } entry;

static int by_count(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->key, ((const entry *)b)->key);
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorted tokens of a map: by count (vocabularies) or by key (classes). */
static int sorted_tokens(const cr_strmap *m, bool count_order, int max, char ***out, int *n)
{
    entry *e = cr_malloc((m->n ? m->n : 1) * sizeof *e);
    if (!e)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            e[k++] = (entry){ m->keys[i], m->counts[i] };
    qsort(e, k, sizeof *e, count_order ? by_count : by_key);
    if (max > 0 && k > (size_t)max)
        k = (size_t)max;
    char **v = cr_calloc(k ? k : 1, sizeof *v);
    int rc = v ? CREST_OK : cr_fail(CREST_E_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < k; i++)
        if (!(v[i] = cr_strdup(e[i].key)))
            rc = cr_fail(CREST_E_NOMEM, "out of memory");
    cr_free(e);
    if (rc) {
        for (size_t i = 0; v && i < k; i++)
            cr_free(v[i]);
        cr_free(v);
        return rc;
    }
    *out = v;
    *n = (int)k;
    return CREST_OK;
}

static bool needs_tokens(const cr_feature *f)
{
    return (f->type == CR_F_INT_CATEGORICAL || f->type == CR_F_STR_CATEGORICAL) && !f->has_vocab;
}

/* The pass. infer: stats for every column (tokens capped). */
static int stats_pass(crest_features *fs, cr_table *t, const crest_table_opts *o, bool infer,
                      col_stats **out, long *rows)
{
    col_stats *s = cr_calloc((size_t)t->n_cols, sizeof *s);
    if (!s)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    int lcol = cr_table_col(t, fs->label);
    char *seps = cr_calloc((size_t)t->n_cols, 1);
    if (!seps) {
        cr_free(s);
        return cr_fail(CREST_E_NOMEM, "out of memory");
    }
    for (int c = 0; c < t->n_cols; c++)
        s[c].count_tokens = infer || (c == lcol && !fs->n_classes);
    for (int i = 0; i < fs->n; i++) {
        cr_feature *f = &fs->f[i];
        if (f->col < 0)
            continue;
        s[f->col].count_tokens |= needs_tokens(f);
        s[f->col].sample |= f->type == CR_F_FLOAT_DISCRETIZED && !f->bounds;
        seps[f->col] = f->sep;
    }
    cr_rng rng;
    cr_rng_seed(&rng, 0x5eed);
    const char **v;
    long row = 0;
    int rc;
    *rows = 0;
    while ((rc = cr_table_next(t, &v)) == 1) {
        if (!cr_features_row_selected(o, row++))
            continue;
        (*rows)++;
        for (int c = 0; c < t->n_cols && rc == 1; c++)
            if ((rc = stat_value(&s[c], v[c], &rng,
                                 infer && c != lcol ? INFER_DISTINCT : 0, seps[c],
                                 t->row_line)) == 0)
                rc = 1;
        if (rc != 1)
            break;
    }
    cr_free(seps);
    if (rc < 0) {
        stats_free(s, t->n_cols);
        return rc;
    }
    *out = s;
    return CREST_OK;
}

static int finish_numeric(cr_feature *f, col_stats *s, const char *path)
{
    if (s->non_numeric)
        return cr_fail(CREST_E_FORMAT, "%s line %ld column %d (%s): '%s' is not a number "
                       "(%ld such values in this numeric column)", path, s->bad_line,
                       f->col + 1, f->name, s->bad_text, s->non_numeric);
    if (!f->has_stats) {
        f->mean = s->n ? s->mean : 0;
        f->var = s->n ? s->m2 / (double)s->n : 0;   /* population variance, as Keras */
        f->has_stats = true;
        if (!isfinite(f->mean) || !isfinite(f->var))   /* JSON has no inf: the spec must load */
            return cr_fail(CREST_E_FORMAT, "%s column %d (%s): values too large to normalize "
                           "(their variance overflows a double)", path, f->col + 1, f->name);
    }
    if (!f->has_indicator_choice) {
        f->indicator = s->missing > 0;
        f->has_indicator_choice = true;
    }
    if (f->type == CR_F_FLOAT_DISCRETIZED && !f->bounds) {
        if (!s->n_vals)
            return cr_fail(CREST_E_FORMAT, "%s: column '%s' has no values to find bins in",
                           path, f->name);
        qsort(s->vals, (size_t)s->n_vals, sizeof *s->vals, by_double);
        f->bounds = cr_malloc((size_t)f->num_bins * sizeof *f->bounds);
        if (!f->bounds)
            return cr_fail(CREST_E_NOMEM, "out of memory");
        f->n_bounds = 0;
        for (int k = 1; k < f->num_bins; k++) {   /* boundaries at quantiles k/num_bins */
            double q = s->vals[(size_t)((double)k / f->num_bins * (double)(s->n_vals - 1) + 0.5)];
            q = q * f->scale + f->offset;
            if (!f->n_bounds || q > f->bounds[f->n_bounds - 1])
                f->bounds[f->n_bounds++] = q;
        }
    }
    return CREST_OK;
}

static int finish(crest_features *fs, col_stats *s, const cr_table *t, const char *path)
{
    int rc = CREST_OK;
    for (int i = 0; !rc && i < fs->n; i++) {
        cr_feature *f = &fs->f[i];
        if (f->type == CR_F_CROSS || f->col < 0)
            continue;
        col_stats *c = &s[f->col];
        if (cr_feature_is_numeric(f)) {
            rc = finish_numeric(f, c, path);
        } else if (needs_tokens(f)) {
            int max = f->max_tokens ? f->max_tokens - f->num_oov : 0;
            if (f->max_tokens && max < 1)
                rc = cr_fail(CREST_E_FORMAT, "feature '%s': max_tokens %d leaves no room past "
                             "%d OOV ids", f->name, f->max_tokens, f->num_oov);
            if (!rc)
                rc = sorted_tokens(&c->tokens, true, max, &f->vocab, &f->n_vocab);
            f->has_vocab = !rc;
            if (!rc) {   /* the lookup */
                cr_strmap_free(&f->lookup);
                for (int k = 0; !rc && k < f->n_vocab; k++)
                    rc = cr_strmap_add(&f->lookup, f->vocab[k], f->num_oov + k, 1, NULL);
            }
        }
        if (!rc && f->type == CR_F_INT_CATEGORICAL && c->non_integer + c->non_numeric)
            rc = cr_fail(CREST_E_FORMAT, "%s: column %d (%s, integer_categorical) holds values "
                         "that are not integers%s%s%s", path, f->col + 1, f->name,
                         c->non_numeric ? " (first: '" : "", c->non_numeric ? c->bad_text : "",
                         c->non_numeric ? "')" : "");
    }
    int lcol = cr_table_col(t, fs->label);
    if (!rc && lcol >= 0 && !fs->n_classes) {
        int ai = lcol;
        if (t->attr[ai] == CR_ATTR_NOMINAL) {   /* ARFF: declared order */
            fs->classes = cr_calloc((size_t)t->n_nominal[ai], sizeof *fs->classes);
            if (!fs->classes)
                return cr_fail(CREST_E_NOMEM, "out of memory");
            for (int k = 0; !rc && k < t->n_nominal[ai]; k++)
                if (!(fs->classes[fs->n_classes++] = cr_strdup(t->nominal[ai][k])))
                    rc = cr_fail(CREST_E_NOMEM, "out of memory");
        } else {
            rc = sorted_tokens(&s[lcol].tokens, false, 0, &fs->classes, &fs->n_classes);
        }
        if (!rc && fs->n_classes < 2)
            rc = cr_fail(CREST_E_FORMAT, "%s: label column '%s' has %d class%s; a classifier "
                         "needs two or more", path, fs->label, fs->n_classes,
                         fs->n_classes == 1 ? "" : "es");
    }
    return rc ? rc : cr_features_layout(fs);
}

static int bind_names(crest_features *fs, const cr_table *t, const char *path)
{
    for (int i = 0; i < fs->n; i++) {
        cr_feature *f = &fs->f[i];
        f->col = f->type == CR_F_CROSS ? -1 : cr_table_col(t, f->name);
        if (f->type != CR_F_CROSS && f->col < 0)
            return cr_fail(CREST_E_FORMAT, "%s: no column '%s' (a feature of the spec)", path,
                           f->name);
        if (f->weight_name && cr_table_col(t, f->weight_name) < 0)
            return cr_fail(CREST_E_FORMAT, "%s: no column '%s' (weights of '%s')", path,
                           f->weight_name, f->name);
    }
    if (fs->label && cr_table_col(t, fs->label) < 0)
        return cr_fail(CREST_E_FORMAT, "%s: no label column '%s' (columns: %s%s)", path,
                       fs->label, t->n_cols ? t->names[0] : "", t->n_cols > 1 ? ", ..." : "");
    return CREST_OK;
}

static int adapt_in_place(crest_features *fs, const char *path, const crest_table_opts *o);

/* Adapts a copy and keeps it only on success: a failed adapt leaves the
 * spec as it was. */
int crest_features_adapt(crest_features *fs, const char *path, const crest_table_opts *o)
{
    if (!fs || !path)
        return cr_fail(CREST_E_ARG, "features_adapt: NULL argument");
    cJSON *j = cr_features_to_cjson(fs);
    crest_features *copy = NULL;
    int rc = j ? cr_features_from_cjson(j, &copy) : cr_fail(CREST_E_NOMEM, "out of memory");
    cJSON_Delete(j);
    if (!rc)
        rc = adapt_in_place(copy, path, o);
    if (!rc) {
        crest_features tmp = *fs;
        *fs = *copy;
        *copy = tmp;
    }
    crest_features_free(copy);
    return rc;
}

static int adapt_in_place(crest_features *fs, const char *path, const crest_table_opts *o)
{
    crest_table_opts dflt = { 0 };
    cr_table t;
    col_stats *s = NULL;
    long rows = 0;
    int rc = cr_table_open(&t, path, o ? o->delimiter : 0);
    if (!rc)
        rc = bind_names(fs, &t, path);
    if (!rc)
        rc = stats_pass(fs, &t, o ? o : &dflt, false, &s, &rows);
    if (!rc && rows == 0)
        rc = cr_fail(CREST_E_FORMAT, "%s: no data rows to adapt on", path);
    if (!rc)
        rc = finish(fs, s, &t, path);
    stats_free(s, t.n_cols);
    cr_table_close(&t);
    return rc;
}

/* Type of column c from its statistics (see crest_features_infer). */
static int infer_column(crest_features *fs, const cr_table *t, const col_stats *s, int c)
{
    char cfg[256];
    const char *nm = t->names[c];
    if (t->attr[c] == CR_ATTR_NOMINAL)
        snprintf(cfg, sizeof cfg, "string_categorical");
    else if (t->attr[c] == CR_ATTR_NUMERIC)   /* declared numeric: kept numeric */
        snprintf(cfg, sizeof cfg, "float_normalized");
    else if (s->n > 0 && s->non_numeric == 0)
        snprintf(cfg, sizeof cfg, "%s",
                 !s->non_integer && !s->overflow && s->tokens.n <= 10 && s->n > 0
                     ? "integer_categorical" : "float_normalized");
    else if (!s->overflow)
        snprintf(cfg, sizeof cfg, "string_categorical");
    else
        snprintf(cfg, sizeof cfg, "{\"type\": \"string_hashed\", \"num_bins\": 64}");
    int rc = crest_features_add(fs, nm, cfg);
    if (!rc && t->attr[c] == CR_ATTR_NOMINAL) {   /* the declared values, in order */
        cr_feature *f = &fs->f[fs->n - 1];
        f->vocab = cr_calloc((size_t)t->n_nominal[c], sizeof *f->vocab);
        if (!f->vocab)
            return cr_fail(CREST_E_NOMEM, "out of memory");
        for (int k = 0; k < t->n_nominal[c]; k++)
            if (!(f->vocab[f->n_vocab++] = cr_strdup(t->nominal[c][k])))
                return cr_fail(CREST_E_NOMEM, "out of memory");
        f->has_vocab = true;
        for (int k = 0; !rc && k < f->n_vocab; k++)
            rc = cr_strmap_add(&f->lookup, f->vocab[k], f->num_oov + k, 1, NULL);
    }
    return rc;
}

int crest_features_infer(crest_features **out, const char *path, const char *label,
                         const crest_table_opts *o)
{
    crest_table_opts dflt = { 0 };
    if (!out || !path)
        return cr_fail(CREST_E_ARG, "features_infer: NULL argument");
    *out = NULL;
    crest_features *fs = NULL;
    cr_table t;
    col_stats *s = NULL;
    long rows = 0;
    int rc = cr_table_open(&t, path, o ? o->delimiter : 0);
    if (!rc)
        rc = crest_features_new(&fs, label);
    if (!rc && label && cr_table_col(&t, label) < 0)
        rc = bind_names(fs, &t, path);   /* reports the missing label */
    if (!rc)
        rc = stats_pass(fs, &t, o ? o : &dflt, true, &s, &rows);
    if (!rc && rows == 0)
        rc = cr_fail(CREST_E_FORMAT, "%s: no data rows", path);
    for (int c = 0; !rc && c < t.n_cols; c++)
        if (!label || strcmp(t.names[c], label))
            rc = infer_column(fs, &t, &s[c], c);
    if (!rc && fs->n == 0)
        rc = cr_fail(CREST_E_FORMAT, "%s: no feature columns besides the label", path);
    if (!rc)
        rc = bind_names(fs, &t, path);
    if (!rc)
        rc = finish(fs, s, &t, path);
    stats_free(s, t.n_cols);
    cr_table_close(&t);
    if (rc) {
        crest_features_free(fs);
        return rc;
    }
    *out = fs;
    return CREST_OK;
}
