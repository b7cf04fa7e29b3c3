/* core.c - Dense, Dropout, Flatten, Reshape (Activation: activations.c). */
#include "../internal.h"
#include "json.h"

/* ---- Dense ------------------------------------------------------------- */

typedef struct dense_cfg {
    int units;
    crest_act act;
    bool use_bias;
    crest_init kinit, binit;
    float l2;
} dense_cfg;

static cr_node *dense_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const dense_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    cr_node *x = in[0];
    if (x->shape.ndim < 2)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': Dense needs [batch, features]",
                             l->name);
    cr_node *k = cr_layer_var(g, "kernel", crest_shape(2, (int)x->shape.d[x->shape.ndim - 1],
                              c->units), c->kinit, true);
    cr_node *y = crest_op_matmul(g, x, k);
    if (c->use_bias)
        y = crest_op_bias_add(g, y, cr_layer_var(g, "bias", crest_shape(1, c->units),
                                                 c->binit, true));
    if (c->l2 > 0 && g->training)
        cr_graph_add_loss(g, cr_op_l2(g, k, c->l2));
    return crest_op_activate(g, y, c->act);
}

static int dense_parse(crest_layer *l, const cJSON *cfg)
{
    dense_cfg *c = l->cfg;
    int rc = cr_json_int(cfg, "units", 1, 1 << 24, CR_JSON_REQUIRED, &c->units);
    if (!rc)
        rc = cr_json_act(cfg, "activation", &c->act);
    if (!rc)
        rc = cr_json_bool(cfg, "use_bias", true, &c->use_bias);
    if (!rc)
        rc = cr_json_init(cfg, "kernel_initializer", CREST_GLOROT_UNIFORM, &c->kinit);
    if (!rc)
        rc = cr_json_init(cfg, "bias_initializer", CREST_ZEROS, &c->binit);
    if (!rc)
        rc = cr_json_l2(cfg, "kernel_regularizer", &c->l2);
    return rc;
}

static int dense_save(const crest_layer *l, cJSON *cfg)
{
    const dense_cfg *c = l->cfg;
    cJSON_AddNumberToObject(cfg, "units", c->units);
    cJSON_AddStringToObject(cfg, "activation", crest_act_name(c->act));
    cJSON_AddBoolToObject(cfg, "use_bias", c->use_bias);
    cr_json_add_init(cfg, "kernel_initializer", c->kinit);
    cr_json_add_init(cfg, "bias_initializer", c->binit);
    cr_json_add_l2(cfg, "kernel_regularizer", c->l2);
    cJSON_AddNullToObject(cfg, "bias_regularizer");
    cJSON_AddNullToObject(cfg, "activity_regularizer");
    cJSON_AddNullToObject(cfg, "kernel_constraint");
    cJSON_AddNullToObject(cfg, "bias_constraint");
    return CREST_OK;
}

static void dense_enable_bias(crest_layer *l) { ((dense_cfg *)l->cfg)->use_bias = true; }

const cr_layer_def cr_dense_def = { .keras_class = "Dense", .default_name = "dense",
    .cfg_size = sizeof(dense_cfg), .build = dense_build, .parse = dense_parse,
    .save = dense_save, .enable_bias = dense_enable_bias };

crest_layer *crest_dense_ex(const crest_dense_opts *o)
{
    if (!o || o->units < 1) {
        cr_fail(CREST_E_ARG, "Dense: units must be at least 1");
        return NULL;
    }
    if (o->activation < 0 || o->activation >= CREST_ACT_COUNT || o->l2 < 0 ||
        o->kernel_init < 0 || o->kernel_init >= CREST_INIT_COUNT || o->bias_init < 0 ||
        o->bias_init >= CREST_INIT_COUNT) {
        cr_fail(CREST_E_ARG, "Dense: bad activation, initializer or l2");
        return NULL;
    }
    dense_cfg c = { .units = o->units, .act = o->activation, .use_bias = !o->no_bias,
                    .kinit = o->kernel_init ? o->kernel_init : CREST_GLOROT_UNIFORM,
                    .binit = o->bias_init ? o->bias_init : CREST_ZEROS, .l2 = o->l2 };
    crest_layer *l = cr_layer_new(&cr_dense_def, &c);
    if (l && o->name && crest_layer_set_name(l, o->name)) {
        crest_layer_free(l);
        return NULL;
    }
    return l;
}

crest_layer *crest_dense(int units, crest_act activation)
{
    return crest_dense_ex(&(crest_dense_opts){ .units = units, .activation = activation });
}

/* ---- Dropout ----------------------------------------------------------- */

typedef struct { float rate; } dropout_cfg;

static cr_node *dropout_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    (void)n_in;
    return crest_op_dropout(g, in[0], ((dropout_cfg *)l->cfg)->rate,
                             crest_graph_training(g));
}

static int dropout_parse(crest_layer *l, const cJSON *cfg)
{
    double r;
    int rc = cr_json_num(cfg, "rate", 0, 0.999999, CR_JSON_REQUIRED, &r);
    ((dropout_cfg *)l->cfg)->rate = (float)r;
    return rc;
}

static int dropout_save(const crest_layer *l, cJSON *cfg)
{
    cJSON_AddNumberToObject(cfg, "rate", ((dropout_cfg *)l->cfg)->rate);
    cJSON_AddNullToObject(cfg, "noise_shape");
    cJSON_AddNullToObject(cfg, "seed");
    return CREST_OK;
}

const cr_layer_def cr_dropout_def = { .keras_class = "Dropout", .default_name = "dropout",
    .cfg_size = sizeof(dropout_cfg), .build = dropout_build, .parse = dropout_parse,
    .save = dropout_save };

crest_layer *crest_dropout(float rate)
{
    if (!(rate >= 0 && rate < 1)) {
        cr_fail(CREST_E_ARG, "Dropout: rate %g is not in [0, 1)", rate);
        return NULL;
    }
    return cr_layer_new(&cr_dropout_def, &(dropout_cfg){ rate });
}

/* ---- Flatten ----------------------------------------------------------- */

static cr_node *flatten_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    (void)l;
    (void)n_in;
    return crest_op_flatten(g, in[0]);
}

static int nothing_parse(crest_layer *l, const cJSON *cfg)
{
    (void)l;
    (void)cfg;
    return CREST_OK;
}

static int flatten_save(const crest_layer *l, cJSON *cfg)
{
    (void)l;
    cJSON_AddStringToObject(cfg, "data_format", "channels_last");
    return CREST_OK;
}

const cr_layer_def cr_flatten_def = { .keras_class = "Flatten", .default_name = "flatten",
    .cfg_size = 1, .build = flatten_build, .parse = nothing_parse, .save = flatten_save };

crest_layer *crest_flatten(void) { return cr_layer_new(&cr_flatten_def, NULL); }

/* ---- Reshape ----------------------------------------------------------- */

static cr_node *reshape_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    (void)n_in;
    return crest_op_reshape(g, in[0], *(cr_dims *)l->cfg);
}

static int reshape_parse(crest_layer *l, const cJSON *cfg)
{
    return cr_json_dims(cfg, "target_shape", false, (cr_dims *)l->cfg);
}

static int reshape_save(const crest_layer *l, cJSON *cfg)
{
    cr_json_add_dims(cfg, "target_shape", (const cr_dims *)l->cfg, false);
    return CREST_OK;
}

const cr_layer_def cr_reshape_def = { .keras_class = "Reshape", .default_name = "reshape",
    .cfg_size = sizeof(cr_dims), .build = reshape_build, .parse = reshape_parse,
    .save = reshape_save };

crest_layer *crest_reshape(crest_dims target)
{
    if (target.ndim < 1 || target.ndim >= CREST_MAX_DIMS) {
        cr_fail(CREST_E_ARG, "Reshape: target rank %d", target.ndim);
        return NULL;
    }
    return cr_layer_new(&cr_reshape_def, &target);
}
