/* pooling.c - MaxPooling2D, AveragePooling2D (windows; average over the
 * valid cells only, as TF), GlobalAveragePooling2D, GlobalMaxPooling2D. */
#include "../internal.h"
#include "json.h"
#include "layers/window.h"

typedef struct { cr_window win; bool max; } pool_cfg;

static cr_node *pool_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const pool_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    cr_conv_opts o = { .sh = c->win.s[0], .sw = c->win.s[1], .same = c->win.same };
    return cr_op_pool2d(g, in[0], c->max, c->win.k[0], c->win.k[1], &o);
}

static int pool_parse_kind(crest_layer *l, const cJSON *cfg, bool max)
{
    pool_cfg *c = l->cfg;
    c->max = max;
    return cr_window_parse(cfg, "pool_size", true, &c->win);
}
static int maxp_parse(crest_layer *l, const cJSON *cfg) { return pool_parse_kind(l, cfg, true); }
static int avgp_parse(crest_layer *l, const cJSON *cfg) { return pool_parse_kind(l, cfg, false); }

static int pool_save(const crest_layer *l, cJSON *cfg)
{
    cr_window_save(cfg, "pool_size", &((const pool_cfg *)l->cfg)->win);
    return CREST_OK;
}

const cr_layer_def cr_max_pooling2d_def = { .keras_class = "MaxPooling2D",
    .default_name = "max_pooling2d", .cfg_size = sizeof(pool_cfg), .build = pool_build,
    .parse = maxp_parse, .save = pool_save };
const cr_layer_def cr_average_pooling2d_def = { .keras_class = "AveragePooling2D",
    .default_name = "average_pooling2d", .cfg_size = sizeof(pool_cfg), .build = pool_build,
    .parse = avgp_parse, .save = pool_save };

/* ---- global pooling ---------------------------------------------------- */

typedef struct { bool keepdims, max; } gpool_cfg;

static cr_node *gpool_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const gpool_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    return cr_op_global_pool(g, in[0], c->max, c->keepdims);
}

static int gpool_parse_kind(crest_layer *l, const cJSON *cfg, bool max)
{
    gpool_cfg *c = l->cfg;
    c->max = max;
    int rc = cr_json_bool(cfg, "keepdims", false, &c->keepdims);
    return rc ? rc : cr_channels_last(cfg);
}
static int gmax_parse(crest_layer *l, const cJSON *cfg) { return gpool_parse_kind(l, cfg, true); }
static int gavg_parse(crest_layer *l, const cJSON *cfg) { return gpool_parse_kind(l, cfg, false); }

static int gpool_save(const crest_layer *l, cJSON *cfg)
{
    const gpool_cfg *c = l->cfg;
    cJSON_AddStringToObject(cfg, "data_format", "channels_last");
    if (c->keepdims)   /* TF.js 4 has no keepdims: write it only when set */
        cJSON_AddBoolToObject(cfg, "keepdims", true);
    return CREST_OK;
}

const cr_layer_def cr_global_average_pooling2d_def = { .keras_class = "GlobalAveragePooling2D",
    .default_name = "global_average_pooling2d", .cfg_size = sizeof(gpool_cfg),
    .build = gpool_build, .parse = gavg_parse, .save = gpool_save };
const cr_layer_def cr_global_max_pooling2d_def = { .keras_class = "GlobalMaxPooling2D",
    .default_name = "global_max_pooling2d", .cfg_size = sizeof(gpool_cfg),
    .build = gpool_build, .parse = gmax_parse, .save = gpool_save };

crest_layer *crest_global_pooling2d(bool max, bool keepdims)
{
    return cr_layer_new(max ? &cr_global_max_pooling2d_def : &cr_global_average_pooling2d_def,
                        &(gpool_cfg){ keepdims, max });
}
