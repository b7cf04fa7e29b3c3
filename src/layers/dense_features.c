/* dense_features.c - the DenseFeatures layer: model input rows (already
 * transformed by the feature spec: dense floats, then embedding ids) ->
 * the dense part followed by each embedding column's combined vectors.
 * Its config carries the whole spec with its adapted statistics, so a
 * saved model re-applies the same transform to raw rows at predict time. */
#include "../features/column.h"
#include "json.h"

typedef struct df_cfg { crest_features *fs; } df_cfg;


static cr_node *df_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const crest_features *fs = ((df_cfg *)l->cfg)->fs;
    if (n_in != 1 || !fs)
        return cr_graph_fail(g, CREST_E_ARG, "layer '%s': DenseFeatures takes one input",
                             l->name);
    cr_node *x = in[0];
    if (x->shape.ndim != 2 || x->shape.d[1] != fs->width)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': input has %lld values per row, "
                             "the feature spec makes %d", l->name,
                             x->shape.ndim == 2 ? (long long)x->shape.d[1] : -1LL, fs->width);
    cr_node *parts[CR_TABLE_MAX_COLS + 1];
    int np = 0;
    if (fs->n_dense > 0)
        parts[np++] = cr_op_slice_cols(g, x, 0, fs->n_dense);
    for (int i = 0; i < fs->n && np <= CR_TABLE_MAX_COLS; i++) {
        const cr_feature *f = &fs->f[i];
        if (f->mode != CR_M_EMBEDDING)
            continue;
        char name[160];
        snprintf(name, sizeof name, "%s_embedding", f->name);
        /* TF feature columns initialize embeddings with a truncated normal of
         * stddev 1/sqrt(dim); crest uses Keras Embedding's uniform(-0.05, 0.05) */
        cr_node *t = cr_layer_var(g, name, crest_shape(2, cr_feature_cardinality(f), f->emb_dim),
                                  CREST_RANDOM_UNIFORM, true);
        parts[np++] = cr_op_embedding_bag(g, t, x, f->ids_at, f->w_at, f->slots, f->combiner);
    }
    if (np == 0)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': the spec makes no outputs", l->name);
    return np == 1 ? parts[0] : crest_op_concat(g, parts, np, -1);
}

static int df_parse(crest_layer *l, const cJSON *cfg)
{
    df_cfg *c = l->cfg;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(cfg, "features");
    if (!spec)
        return cr_fail(CREST_E_FORMAT, "DenseFeatures has no \"features\" spec");
    int rc = cr_features_from_cjson(spec, &c->fs);
    if (!rc && !c->fs->laid_out)
        rc = cr_fail(CREST_E_FORMAT, "DenseFeatures: the saved spec lacks its statistics");
    return rc;
}

static int df_save(const crest_layer *l, cJSON *cfg)
{
    cJSON *spec = cr_features_to_cjson(((const df_cfg *)l->cfg)->fs);
    if (!spec)
        return cr_fail(CREST_E_NOMEM, "out of memory saving DenseFeatures");
    cr_json_put(cfg, "features", spec);
    return CREST_OK;
}

static void df_free(void *cfg) { crest_features_free(((df_cfg *)cfg)->fs); }

const cr_layer_def cr_dense_features_def = { .keras_class = "DenseFeatures",
    .default_name = "dense_features", .cfg_size = sizeof(df_cfg), .build = df_build,
    .parse = df_parse, .save = df_save, .free_cfg = df_free };

crest_layer *crest_dense_features(const crest_features *f)
{
    if (!f || !f->laid_out) {
        cr_fail(CREST_E_STATE, "DenseFeatures: the feature spec is %s",
                f ? "not adapted" : "NULL");
        return NULL;
    }
    cJSON *j = cr_features_to_cjson(f);   /* a deep copy through JSON */
    df_cfg c = { NULL };
    int rc = j ? cr_features_from_cjson(j, &c.fs) : cr_fail(CREST_E_NOMEM, "out of memory");
    cJSON_Delete(j);
    if (rc)
        return NULL;
    crest_layer *l = cr_layer_new(&cr_dense_features_def, &c);
    if (!l)
        crest_features_free(c.fs);
    return l;
}

const crest_features *crest_model_features(const crest_model *m)
{
    if (!m || m->n_layers < 1 || m->layers[0]->def != &cr_dense_features_def)
        return NULL;
    return ((const df_cfg *)m->layers[0]->cfg)->fs;
}
