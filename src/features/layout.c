/* layout.c - where a feature spec's columns land: each feature's column
 * references (its own column, crossed columns, weight) and its place in the
 * model input. The spec (spec.c) lays itself out when parsed; transforms
 * (transform.c) and the DenseFeatures layer read the layout. */
#include "column.h"

bool cr_feature_is_numeric(const cr_feature *f) { return f->type <= CR_F_FLOAT_DISCRETIZED; }

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

int cr_feature_refs(const cr_feature *f)
{
    return (f->type != CR_F_CROSS) + f->n_cross + (f->weight_name ? 1 : 0);
}

const char *cr_feature_ref_name(const cr_feature *f, int k)
{
    int own = f->type != CR_F_CROSS;
    return k < own ? f->name : k < own + f->n_cross ? f->cross[k - own] : f->weight_name;
}

/* Column references, and a fresh absent record for them. */
static int layout_refs(crest_features *fs)
{
    int r = 0;
    for (int i = 0; i < fs->n; i++) {
        fs->f[i].ref = r;
        r += cr_feature_refs(&fs->f[i]);
    }
    fs->n_refs = r;
    cr_free(fs->absent);
    fs->absent = cr_calloc(1, sizeof *fs->absent + (size_t)r);
    return fs->absent ? CREST_OK : cr_fail(CREST_E_NOMEM, "out of memory for a feature spec");
}

/* Model-input layout: dense blocks in spec order, then embedding slots. */
int cr_features_layout(crest_features *fs)
{
    if (layout_refs(fs))
        return CREST_E_NOMEM;
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
