/* column.h - the feature spec held by crest_features (see crest.h). */
#ifndef CR_COLUMN_H
#define CR_COLUMN_H
#include "strmap.h"

enum cr_ftype {
    CR_F_FLOAT = 0, CR_F_FLOAT_NORMALIZED, CR_F_FLOAT_RESCALED, CR_F_FLOAT_DISCRETIZED,
    CR_F_INT_CATEGORICAL, CR_F_STR_CATEGORICAL, CR_F_INT_HASHED, CR_F_STR_HASHED,
    CR_F_IDENTITY, CR_F_CROSS, CR_F_COUNT
};
enum cr_fmode { CR_M_ONE_HOT = 0, CR_M_MULTI_HOT, CR_M_COUNT, CR_M_INT, CR_M_EMBEDDING };

typedef struct cr_feature {
    char *name;
    int type, mode;
    int col;                      /* adapt's scratch: the column of the table being
                                   * adapted (-1 for crosses); transforms read columns
                                   * through a cr_binding, never through the spec */
    int ref;                      /* its first column reference (cr_binding.cols) */
    /* numeric */
    double scale, offset;         /* float_rescaled */
    double mean, var;             /* adapt (or given) */
    bool has_stats, has_indicator_choice, indicator;
    double *bounds;               /* float_discretized */
    int n_bounds, num_bins;       /* num_bins: discretized (adapt), hashed, crossed */
    /* categorical */
    char **vocab;
    int n_vocab, num_oov, default_value, max_tokens, num_buckets;
    bool has_vocab;
    char *vocab_file;
    cr_strmap lookup;
    char sep;                     /* multi-valued fields: separator (0: one value) */
    int max_values;
    char *weight_name;            /* weighted categorical: a numeric column */
    char **cross;                 /* crossed feature names */
    int n_cross;
    /* embedding */
    int emb_dim, combiner;
    /* layout of the model input */
    int at, width;                /* dense floats (one-hot etc.) */
    int ids_at, w_at, slots;      /* embedding: ids, weights (-1) */
} cr_feature;

struct crest_features {
    char *label;
    char **classes;
    int n_classes;
    cr_feature *f;
    int n, cap;
    int n_dense, width;           /* dense floats; model input floats */
    bool laid_out;
    int n_refs;                   /* column references: each feature's own column,
                                   * crossed columns, weight column, in spec order */
    /* What crest_features_absent reports: the references the last table (or
     * row) bound lacked. Written under a lock through this pointer, so the
     * spec itself stays read-only for every transform (threads may share it). */
    struct cr_absent *absent;
};

/* The record behind crest_features_absent (the spec points to it). */
struct cr_absent {
    bool bound;                   /* a table or row was bound */
    unsigned char miss[];         /* [n_refs]: that reference was absent */
};

/* id of one token of feature f (after adapt), or -1 to drop it. */
int cr_feature_token_id(const cr_feature *f, const char *tok);
int cr_feature_cardinality(const cr_feature *f);
bool cr_feature_is_numeric(const cr_feature *f);
/* layout.c: a feature's column references (own column, crossed columns,
 * weight, in that order) and the k-th one's name; the spec's layout. */
int cr_feature_refs(const cr_feature *f);
const char *cr_feature_ref_name(const cr_feature *f, int k);
int cr_features_layout(crest_features *fs);
cJSON *cr_features_to_cjson(const crest_features *fs);
int cr_features_from_cjson(const cJSON *root, crest_features **out);
bool cr_features_row_selected(const crest_table_opts *o, long row);

#endif
