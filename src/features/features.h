/* features.h - private interfaces of the tabular pipeline: table readers
 * (src/data/table.c), feature columns (src/features/), the embedding op. */
#ifndef CR_FEATURES_H
#define CR_FEATURES_H

#include "internal.h"
#include <cjson/cJSON.h>

uint64_t cr_fingerprint64(const void *data, size_t len);

/* ---- tables: CSV or ARFF, read row by row in fixed-size chunks ---------- */

#define CR_TABLE_MAX_COLS 4096

enum cr_attr_kind { CR_ATTR_UNKNOWN = 0, CR_ATTR_NUMERIC, CR_ATTR_NOMINAL, CR_ATTR_STRING };

typedef struct cr_table {
    FILE *fp;
    char *path;
    bool arff;
    char delim;
    char *buf;                    /* read chunk */
    size_t len, pos;
    bool eof;
    long line;                    /* 1-based line of the next character */
    long row_line;                /* line where the current row starts */
    char *row;                    /* the current row's field bytes, NUL-separated */
    size_t row_len, row_cap;
    size_t *off;                  /* field offsets into row */
    int n, cap;
    const char **ptrs;            /* field pointers handed out */
    /* header */
    int n_cols;
    char **names;
    int *attr;                    /* ARFF attribute kinds (CSV: all unknown) */
    char ***nominal;              /* ARFF nominal values, NULL-terminated */
    int *n_nominal;
    /* scikit-learn's bundled CSVs (iris, wine, breast_cancer): a first line
     * "n_samples,n_features,class names..." instead of a header. Columns are
     * then named f0..f{n-1} and "target", whose integer codes read as the
     * class names. */
    bool sklearn, pending;        /* pending: the current row is not yet handed out */
    char **class_names;
    int n_class_names;
} cr_table;

/* Opens path (ARFF by extension .arff or an @relation first line) and reads
 * the header. delim 0 = ','. */
int cr_table_open(cr_table *t, const char *path, char delim);
/* Next data row: 1 and fields (valid until the next call), 0 at the end,
 * or a negative error naming file and line. Rows must have n_cols fields. */
int cr_table_next(cr_table *t, const char ***fields);
void cr_table_close(cr_table *t);
/* Missing value spellings: "", "NA", "?", "NaN" (documented in crest.h). */
bool cr_is_missing(const char *s);
int cr_table_col(const cr_table *t, const char *name);   /* index or -1 */

/* ---- a spec at work on a table (src/features/transform.c) --------------- */

/* A spec's column references bound to one table's columns (or one row's
 * names): a plain value on the caller's stack, so transforms only read the
 * spec and threads may share one. cols[ref] is the table column, or -1
 * where the table lacks it (read as missing values). */
typedef struct cr_binding {
    const crest_features *fs;
    int *cols;                    /* [fs->n_refs], cr_malloc'd */
} cr_binding;

/* Binds a laid-out spec to n column names; the spec records which columns
 * were absent (crest_features_absent). cr_binding_free always. */
int cr_features_bind(cr_binding *b, const crest_features *fs, const char *const *names, int n);
void cr_binding_free(cr_binding *b);

/* A table read as model inputs through a spec: the rows o selects (hold-out),
 * labels as class ids. One per reader, on its stack; cr_rows_close always. */
typedef struct cr_rows {
    cr_table t;
    cr_binding b;
    crest_table_opts o;
    int lcol;                     /* label column, or -1 (no labels wanted) */
    long row;                     /* data rows read, selected or not */
    long skipped;                 /* selected rows without a label */
    size_t selected;              /* selected rows met, in o's range or not */
} cr_rows;

/* Opens path; need_label: the spec's label column must be there. */
int cr_rows_open(cr_rows *r, const crest_features *fs, const char *path,
                 const crest_table_opts *o, bool need_label);
/* Up to cap selected rows (with a label, if labels are wanted) into x
 * [cap, width] and y (class ids; -1 without labels); *n = 0 at the end. */
int cr_rows_read(cr_rows *r, float *x, int32_t *y, size_t cap, size_t *n);
void cr_rows_close(cr_rows *r);

/* ---- the embedding-bag and column-slice ops ----------------------------- */

typedef enum cr_combiner { CR_COMB_MEAN = 0, CR_COMB_SUM, CR_COMB_SQRTN } cr_combiner;

/* table [V, d], x [B, D]: ids at x[:, ids_at + s], weights at
 * x[:, w_at + s] (w_at < 0: weights 1), s < slots. Ids < 0 or >= V are
 * skipped. out[b] = combine(sum_s w_s table[id_s]). */
cr_node *cr_op_embedding_bag(cr_graph *g, cr_node *table, cr_node *x, int ids_at, int w_at,
                             int slots, cr_combiner comb);
/* x[:, lo:hi] of a [B, D] input. */
cr_node *cr_op_slice_cols(cr_graph *g, cr_node *x, int lo, int hi);

#endif
