/* preprocessing.c - Keras' preprocessing layers crest runs in the graph:
 * Rescaling (x * scale + offset). */
#include "../internal.h"
#include "json.h"

/* ---- Rescaling --------------------------------------------------------- */

typedef struct { float scale, offset; } rescale_cfg;

static cr_node *rescale_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const rescale_cfg *c = l->cfg;
    if (n_in != 1)
        return cr_graph_fail(g, CREST_E_ARG, "layer '%s': Rescaling takes one input", l->name);
    return crest_op_scale(g, in[0], c->scale, c->offset);
}

static int rescale_parse(crest_layer *l, const cJSON *cfg)
{
    rescale_cfg *c = l->cfg;
    double s = 1, o = 0;
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(cfg, "scale");
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(cfg, "offset");
    if (cJSON_IsArray(sv) || cJSON_IsArray(ov))
        return cr_fail(CREST_E_UNSUPPORTED, "Rescaling: per-channel scale / offset is not "
                       "supported (scalars only)");
    int rc = cr_json_num(cfg, "scale", -1e30, 1e30, CR_JSON_REQUIRED, &s);
    if (!rc)
        rc = cr_json_num(cfg, "offset", -1e30, 1e30, 0, &o);
    *c = (rescale_cfg){ (float)s, (float)o };
    return rc;
}

static int rescale_save(const crest_layer *l, cJSON *cfg)
{
    const rescale_cfg *c = l->cfg;
    cJSON_AddNumberToObject(cfg, "scale", c->scale);
    cJSON_AddNumberToObject(cfg, "offset", c->offset);
    return CREST_OK;
}

const cr_layer_def cr_rescaling_def = { .keras_class = "Rescaling", .default_name = "rescaling",
    .cfg_size = sizeof(rescale_cfg), .build = rescale_build, .parse = rescale_parse,
    .save = rescale_save };
