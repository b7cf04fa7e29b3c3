/* activations.c - the activation layers: Activation(name) (any of the
 * activation table, src/ops/activation.c), ReLU (max_value, negative_slope,
 * threshold), LeakyReLU, ELU(alpha), ThresholdedReLU(theta), Softmax(axis),
 * PReLU(alpha, shared_axes). */
#include "../internal.h"
#include "json.h"

typedef struct { float max_value, slope, threshold; } relu_cfg;   /* max_value < 0: none */

static cr_node *relu_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const relu_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
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

/* ---- ELU(alpha), ThresholdedReLU(theta) -------------------------------- */

typedef struct { float v; } one_cfg;

static cr_node *elu_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    if (!cr_one_input(g, l, n_in))
        return NULL;
    return cr_op_elu_alpha(g, in[0], ((one_cfg *)l->cfg)->v);
}

static int elu_parse(crest_layer *l, const cJSON *cfg)
{
    double a;
    int rc = cr_json_num(cfg, "alpha", -1e30, 1e30, 1.0, &a);
    ((one_cfg *)l->cfg)->v = (float)a;
    return rc;
}

static int elu_save(const crest_layer *l, cJSON *cfg)
{
    cJSON_AddNumberToObject(cfg, "alpha", ((const one_cfg *)l->cfg)->v);
    return CREST_OK;
}

const cr_layer_def cr_elu_def = { .keras_class = "ELU", .default_name = "elu",
    .cfg_size = sizeof(one_cfg), .build = elu_build, .parse = elu_parse, .save = elu_save };

/* ThresholdedReLU: x > theta ? x : 0, the ReLU op with threshold theta */
static cr_node *thr_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    if (!cr_one_input(g, l, n_in))
        return NULL;
    return cr_op_relu_ex(g, in[0], -1, 0, ((one_cfg *)l->cfg)->v);
}

static int thr_parse(crest_layer *l, const cJSON *cfg)
{
    double t;
    int rc = cr_json_num(cfg, "theta", -1e30, 1e30, 1.0, &t);
    ((one_cfg *)l->cfg)->v = (float)t;
    return rc;
}

static int thr_save(const crest_layer *l, cJSON *cfg)
{
    cJSON_AddNumberToObject(cfg, "theta", ((const one_cfg *)l->cfg)->v);
    return CREST_OK;
}

const cr_layer_def cr_thresholded_relu_def = { .keras_class = "ThresholdedReLU",
    .default_name = "thresholded_re_lu", .cfg_size = sizeof(one_cfg), .build = thr_build,
    .parse = thr_parse, .save = thr_save };

/* ---- Softmax(axis) ----------------------------------------------------- */

typedef struct { int axis; } softmax_cfg;

static cr_node *softmax_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    if (!cr_one_input(g, l, n_in))
        return NULL;
    return cr_op_softmax_axis(g, in[0], ((softmax_cfg *)l->cfg)->axis, false);
}

static int softmax_parse(crest_layer *l, const cJSON *cfg)
{
    int ax[CR_MAX_DIMS], n;
    int rc = cr_json_ints(cfg, "axis", -CR_MAX_DIMS, CR_MAX_DIMS, ax, CR_MAX_DIMS, &n);
    if (!rc && n > 1)
        rc = cr_fail(CREST_E_UNSUPPORTED, "'axis': softmax over several axes is not supported");
    ((softmax_cfg *)l->cfg)->axis = n == 1 ? ax[0] : -1;
    return rc;
}

static int softmax_save(const crest_layer *l, cJSON *cfg)
{
    cJSON_AddNumberToObject(cfg, "axis", ((const softmax_cfg *)l->cfg)->axis);
    return CREST_OK;
}

const cr_layer_def cr_softmax_def = { .keras_class = "Softmax", .default_name = "softmax",
    .cfg_size = sizeof(softmax_cfg), .build = softmax_build, .parse = softmax_parse,
    .save = softmax_save };

/* ---- PReLU: relu(x) - alpha relu(-x), as Keras computes it ------------- */

typedef struct {
    int shared[CR_MAX_DIMS], n_shared;    /* axes (batch = 0) alpha is shared over */
    crest_init init;
} prelu_cfg;

static cr_node *prelu_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const prelu_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    cr_node *x = in[0];
    cr_dims s = { .ndim = x->shape.ndim - 1 };
    for (int i = 1; i < x->shape.ndim; i++)
        s.d[i - 1] = x->shape.d[i];
    for (int k = 0; k < c->n_shared; k++) {
        int ax = c->shared[k];
        if (ax < 1 || ax >= x->shape.ndim)
            return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': shared axis %d of a rank-%d "
                                 "input", l->name, ax, x->shape.ndim);
        s.d[ax - 1] = 1;
    }
    cr_node *alpha = cr_layer_var(g, "alpha", s, c->init, true);
    cr_node *pos = crest_op_activate(g, x, CREST_RELU);
    cr_node *neg = crest_op_activate(g, crest_op_scale(g, x, -1.0f, 0.0f), CREST_RELU);
    return crest_op_sub(g, pos, crest_op_mul(g, alpha, neg));
}

static int prelu_parse(crest_layer *l, const cJSON *cfg)
{
    prelu_cfg *c = l->cfg;
    int rc = cr_json_ints(cfg, "shared_axes", 1, CR_MAX_DIMS - 1, c->shared, CR_MAX_DIMS - 1,
                          &c->n_shared);
    if (c->n_shared < 0)
        c->n_shared = 0;
    if (!rc)
        rc = cr_json_init(cfg, "alpha_initializer", CREST_ZEROS, &c->init);
    const cJSON *reg = cJSON_GetObjectItemCaseSensitive(cfg, "alpha_regularizer");
    if (!rc && reg && !cJSON_IsNull(reg))
        rc = cr_fail(CREST_E_UNSUPPORTED, "'alpha_regularizer' is not supported");
    return rc;
}

static int prelu_save(const crest_layer *l, cJSON *cfg)
{
    const prelu_cfg *c = l->cfg;
    cr_json_add_init(cfg, "alpha_initializer", c->init);
    cJSON_AddNullToObject(cfg, "alpha_regularizer");
    cJSON_AddNullToObject(cfg, "alpha_constraint");
    cr_json_add_ints(cfg, "shared_axes", c->shared, c->n_shared);
    return CREST_OK;
}

const cr_layer_def cr_prelu_def = { .keras_class = "PReLU", .default_name = "p_re_lu",
    .cfg_size = sizeof(prelu_cfg), .build = prelu_build, .parse = prelu_parse,
    .save = prelu_save };
