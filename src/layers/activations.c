/* activations.c - the activation layers: Activation(name) (any of the
 * activation table, src/ops/activation.c), ReLU (max_value, negative_slope,
 * threshold), LeakyReLU. */
#include "../internal.h"
#include "json.h"

typedef struct { float max_value, slope, threshold; } relu_cfg;   /* max_value < 0: none */

static cr_node *relu_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const relu_cfg *c = l->cfg;
    if (n_in != 1)
        return cr_graph_fail(g, CREST_E_ARG, "layer '%s': %s takes one input", l->name,
                             l->def->keras_class);
    return cr_op_relu_ex(g, in[0], c->max_value, c->slope, c->threshold);
}

static int relu_parse(crest_layer *l, const cJSON *cfg)
{
    relu_cfg *c = l->cfg;
    double mv = -1, ns = 0, th = 0;
    int rc = cr_json_num(cfg, "max_value", 0, 1e30, -1, &mv);
    if (!rc)
        rc = cr_json_num(cfg, "negative_slope", 0, 1e30, 0, &ns);
    if (!rc)
        rc = cr_json_num(cfg, "threshold", -1e30, 1e30, 0, &th);
    *c = (relu_cfg){ (float)mv, (float)ns, (float)th };
    return rc;
}

static int relu_save(const crest_layer *l, cJSON *cfg)
{
    const relu_cfg *c = l->cfg;
    if (c->max_value >= 0)
        cJSON_AddNumberToObject(cfg, "max_value", c->max_value);
    else
        cJSON_AddNullToObject(cfg, "max_value");
    cJSON_AddNumberToObject(cfg, "negative_slope", c->slope);
    cJSON_AddNumberToObject(cfg, "threshold", c->threshold);
    return CREST_OK;
}

const cr_layer_def cr_relu_def = { .keras_class = "ReLU", .default_name = "re_lu",
    .cfg_size = sizeof(relu_cfg), .build = relu_build, .parse = relu_parse, .save = relu_save };

/* LeakyReLU(alpha) (Keras 3: negative_slope): f = x > 0 ? x : alpha * x. */
static int leaky_parse(crest_layer *l, const cJSON *cfg)
{
    relu_cfg *c = l->cfg;
    double a;
    const char *key = cJSON_GetObjectItemCaseSensitive(cfg, "negative_slope") ? "negative_slope"
                                                                              : "alpha";
    int rc = cr_json_num(cfg, key, 0, 1e30, 0.3, &a);
    *c = (relu_cfg){ -1, (float)a, 0 };
    return rc;
}

static int leaky_save(const crest_layer *l, cJSON *cfg)
{
    cJSON_AddNumberToObject(cfg, "alpha", ((const relu_cfg *)l->cfg)->slope);
    return CREST_OK;
}

const cr_layer_def cr_leaky_relu_def = { .keras_class = "LeakyReLU", .default_name = "leaky_re_lu",
    .cfg_size = sizeof(relu_cfg), .build = relu_build, .parse = leaky_parse,
    .save = leaky_save };

/* ---- Activation -------------------------------------------------------- */

typedef struct { crest_act act; } act_cfg;

static cr_node *act_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    (void)n_in;
    return crest_op_activate(g, in[0], ((act_cfg *)l->cfg)->act);
}

static int act_parse(crest_layer *l, const cJSON *cfg)
{
    return cr_json_act(cfg, "activation", &((act_cfg *)l->cfg)->act);
}

static int act_save(const crest_layer *l, cJSON *cfg)
{
    cJSON_AddStringToObject(cfg, "activation", crest_act_name(((act_cfg *)l->cfg)->act));
    return CREST_OK;
}

const cr_layer_def cr_activation_def = { .keras_class = "Activation",
    .default_name = "activation", .cfg_size = sizeof(act_cfg), .build = act_build,
    .parse = act_parse, .save = act_save };

crest_layer *crest_activation(crest_act activation)
{
    if (activation < 0 || activation >= CREST_ACT_COUNT) {
        cr_fail(CREST_E_ARG, "Activation: unknown activation %d", (int)activation);
        return NULL;
    }
    return cr_layer_new(&cr_activation_def, &(act_cfg){ activation });
}
