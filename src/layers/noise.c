/* noise.c - SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout,
 * AlphaDropout: the identity at inference; when the graph trains, the noise
 * op (src/ops/noise.c) with the model's seeded RNG, as Keras defines each. */
#include "../internal.h"
#include "json.h"
#include "layers/window.h"

typedef struct { int kind, rank; float p; } noise_cfg;   /* rank: spatial input rank */

static cr_node *noise_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const noise_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    if (c->rank && in[0]->shape.ndim != c->rank)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': %s needs inputs of rank %d, got "
                             "%d", l->name, l->def->keras_class, c->rank - 1,
                             in[0]->shape.ndim - 1);
    if (!crest_graph_training(g) || c->p == 0)
        return in[0];
    return cr_op_noise(g, in[0], c->kind, c->p);
}

static int noise_parse_as(crest_layer *l, const cJSON *cfg, int kind, int rank)
{
    noise_cfg *c = l->cfg;
    double p;
    bool gauss = kind == CR_NOISE_GAUSSIAN;
    int rc = cr_json_num(cfg, gauss ? "stddev" : "rate", 0, gauss ? 1e30 : 0.999999,
                         CR_JSON_REQUIRED, &p);
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(cfg, "noise_shape");
    if (!rc && ns && !cJSON_IsNull(ns))
        rc = cr_fail(CREST_E_UNSUPPORTED, "'noise_shape' is not supported");
    if (!rc && rank > 3)
        rc = cr_channels_last(cfg);
    *c = (noise_cfg){ kind, rank, (float)p };
    return rc;
}

static int noise_save(const crest_layer *l, cJSON *cfg)
{
    const noise_cfg *c = l->cfg;
    cJSON_AddNumberToObject(cfg, c->kind == CR_NOISE_GAUSSIAN ? "stddev" : "rate", c->p);
    if (c->rank > 3)
        cJSON_AddStringToObject(cfg, "data_format", "channels_last");
    return CREST_OK;
}

#define NOISE_LAYER(NAME, CLASS, DEFAULT, KIND, RANK)                                 \
    static int NAME##_parse(crest_layer *l, const cJSON *cfg)                        \
    {                                                                                \
        return noise_parse_as(l, cfg, KIND, RANK);                                   \
    }                                                                                \
    const cr_layer_def cr_##NAME##_def = { .keras_class = CLASS, .default_name = DEFAULT, \
        .cfg_size = sizeof(noise_cfg), .build = noise_build, .parse = NAME##_parse,  \
        .save = noise_save };

NOISE_LAYER(spatial_dropout1d, "SpatialDropout1D", "spatial_dropout1d", CR_NOISE_SPATIAL, 3)
NOISE_LAYER(spatial_dropout2d, "SpatialDropout2D", "spatial_dropout2d", CR_NOISE_SPATIAL, 4)
NOISE_LAYER(spatial_dropout3d, "SpatialDropout3D", "spatial_dropout3d", CR_NOISE_SPATIAL, 5)
NOISE_LAYER(gaussian_noise, "GaussianNoise", "gaussian_noise", CR_NOISE_GAUSSIAN, 0)
NOISE_LAYER(gaussian_dropout, "GaussianDropout", "gaussian_dropout", CR_NOISE_GAUSSIAN_DROPOUT, 0)
NOISE_LAYER(alpha_dropout, "AlphaDropout", "alpha_dropout", CR_NOISE_ALPHA, 0)
