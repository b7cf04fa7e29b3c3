/* norm.c - BatchNormalization over the channel (last) axis; LayerNormalization
 * (at the end).
 *
 * Weights in Keras order: gamma (if scale), beta (if center), then the
 * non-trainable moving_mean and moving_variance.
 *
 * Mode, as Keras 2 / TF 2 for frozen layers: batch statistics only when
 * the graph trains, the layer is trainable, and the layer was never
 * frozen. Freezing (trainable false, from the model file or
 * crest_layer_set_trainable) sets a sticky flag, so a backbone unfrozen
 * later for fine-tuning keeps normalizing with its moving statistics and
 * never updates them, while gamma and beta still train.
 */
#include "../internal.h"
#include "json.h"

/* What BatchNormalization and LayerNormalization share: epsilon and the
 * learned offset (center: beta) and scale (scale: gamma). */
typedef struct affine_cfg {
    float eps;
    bool center, scale;
    crest_init ginit, binit;
} affine_cfg;

typedef struct bn_cfg {
    int axis;
    float momentum;
    affine_cfg a;
    bool keep_inference;      /* sticky: was frozen once */
    crest_init minit, vinit;
} bn_cfg;

static cr_node *bn_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const bn_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    cr_node *x = in[0];
    int nd = x->shape.ndim;
    if (nd < 2 || (c->axis != -1 && c->axis != nd - 1))
        return cr_graph_fail(g, CREST_E_UNSUPPORTED, "layer '%s': BatchNormalization over axis "
                             "%d of a rank-%d input (only the last axis is supported)", l->name,
                             c->axis, nd);
    cr_dims s = crest_shape(1, (int)x->shape.d[nd - 1]);
    cr_node *gamma = c->a.scale ? cr_layer_var(g, "gamma", s, c->a.ginit, true) : NULL;
    cr_node *beta = c->a.center ? cr_layer_var(g, "beta", s, c->a.binit, true) : NULL;
    cr_node *mean = cr_layer_var(g, "moving_mean", s, c->minit, false);
    cr_node *var = cr_layer_var(g, "moving_variance", s, c->vinit, false);
    bool train = crest_graph_training(g) && l->trainable && !c->keep_inference;
    return cr_op_batchnorm(g, x, mean, var, gamma, beta, c->a.eps, c->momentum, train);
}

static int affine_parse(const cJSON *cfg, affine_cfg *a)
{
    double eps = 1e-3;
    int rc = cr_json_num(cfg, "epsilon", 1e-30, 1, 1e-3, &eps);
    if (!rc)
        rc = cr_json_bool(cfg, "center", true, &a->center);
    if (!rc)
        rc = cr_json_bool(cfg, "scale", true, &a->scale);
    if (!rc)
        rc = cr_json_init(cfg, "gamma_initializer", CREST_ONES, &a->ginit);
    if (!rc)
        rc = cr_json_init(cfg, "beta_initializer", CREST_ZEROS, &a->binit);
    a->eps = (float)eps;
    return rc;
}

static void affine_save(cJSON *cfg, const affine_cfg *a)
{
    cJSON_AddNumberToObject(cfg, "epsilon", a->eps);
    cJSON_AddBoolToObject(cfg, "center", a->center);
    cJSON_AddBoolToObject(cfg, "scale", a->scale);
    cr_json_add_init(cfg, "beta_initializer", a->binit);
    cr_json_add_init(cfg, "gamma_initializer", a->ginit);
}

static int bn_parse(crest_layer *l, const cJSON *cfg)
{
    bn_cfg *c = l->cfg;
    double mom = 0.99;
    const cJSON *ax = cJSON_GetObjectItemCaseSensitive(cfg, "axis");
    int rc = CREST_OK;
    if (cJSON_IsArray(ax)) {   /* Keras 2 may save [3] */
        if (cJSON_GetArraySize(ax) != 1 || !cJSON_IsNumber(cJSON_GetArrayItem(ax, 0)))
            rc = cr_fail(CREST_E_UNSUPPORTED, "'axis': only one axis is supported");
        else
            c->axis = (int)cJSON_GetArrayItem(ax, 0)->valuedouble;
    } else {
        rc = cr_json_int(cfg, "axis", -8, 8, -1, &c->axis);
    }
    if (!rc && c->axis < -1)
        rc = cr_fail(CREST_E_UNSUPPORTED, "'axis' %d: only the last axis is supported", c->axis);
    if (!rc)
        rc = cr_json_num(cfg, "momentum", 0, 1, 0.99, &mom);
    if (!rc)
        rc = affine_parse(cfg, &c->a);
    if (!rc)
        rc = cr_json_init(cfg, "moving_mean_initializer", CREST_ZEROS, &c->minit);
    if (!rc)
        rc = cr_json_init(cfg, "moving_variance_initializer", CREST_ONES, &c->vinit);
    c->momentum = (float)mom;
    c->keep_inference = !l->trainable;
    return rc;
}

static int bn_save(const crest_layer *l, cJSON *cfg)
{
    const bn_cfg *c = l->cfg;
    cJSON_AddNumberToObject(cfg, "axis", c->axis);
    cJSON_AddNumberToObject(cfg, "momentum", c->momentum);
    affine_save(cfg, &c->a);
    cr_json_add_init(cfg, "moving_mean_initializer", c->minit);
    cr_json_add_init(cfg, "moving_variance_initializer", c->vinit);
    return CREST_OK;
}

static void bn_set_trainable(crest_layer *l, bool trainable)
{
    if (!trainable)
        ((bn_cfg *)l->cfg)->keep_inference = true;
}

const cr_layer_def cr_batch_normalization_def = { .keras_class = "BatchNormalization",
    .default_name = "batch_normalization", .cfg_size = sizeof(bn_cfg), .build = bn_build,
    .parse = bn_parse, .save = bn_save, .set_trainable = bn_set_trainable };

crest_layer *crest_batch_normalization(float momentum, float epsilon, bool center, bool scale)
{
    bn_cfg c = { .axis = -1, .momentum = momentum ? momentum : 0.99f,
                 .a = { .eps = epsilon ? epsilon : 1e-3f, .center = center, .scale = scale,
                        .ginit = CREST_ONES, .binit = CREST_ZEROS },
                 .minit = CREST_ZEROS, .vinit = CREST_ONES };
    if (!(c.momentum >= 0 && c.momentum <= 1 && c.a.eps > 0)) {
        cr_fail(CREST_E_ARG, "BatchNormalization: momentum %g, epsilon %g", momentum, epsilon);
        return NULL;
    }
    return cr_layer_new(&cr_batch_normalization_def, &c);
}

/* ---- LayerNormalization ------------------------------------------------ */

/* Over the axes listed (batch = 0; negative count from the end), which must
 * be the last ones of the input; gamma (if scale) and beta (if center) have
 * their shape, in that order. The biased variance, as Keras. */
typedef struct ln_cfg {
    int axes[CR_MAX_DIMS], n_axes;
    affine_cfg a;
} ln_cfg;

/* How many trailing axes of a rank-nd input the listed ones are (0: they
 * are not the trailing ones). */
static int trailing_axes(const int *axes, int n, int nd)
{
    bool on[CR_MAX_DIMS] = { false };
    for (int i = 0; i < n; i++) {
        int a = axes[i] < 0 ? axes[i] + nd : axes[i];
        if (a < 1 || a >= nd || on[a])
            return 0;
        on[a] = true;
    }
    for (int a = nd - n; a < nd; a++)
        if (!on[a])
            return 0;
    return n;
}

static cr_node *ln_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const ln_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    cr_node *x = in[0];
    int nd = x->shape.ndim, k = trailing_axes(c->axes, c->n_axes, nd);
    if (!k)
        return cr_graph_fail(g, CREST_E_UNSUPPORTED, "layer '%s': LayerNormalization over "
                             "axes that are not the last ones of a rank-%d input (supported: "
                             "the trailing axes)", l->name, nd - 1);
    cr_dims s = { .ndim = k };
    for (int i = 0; i < k; i++)
        s.d[i] = x->shape.d[nd - k + i];
    cr_node *gamma = c->a.scale ? cr_layer_var(g, "gamma", s, c->a.ginit, true) : NULL;
    cr_node *beta = c->a.center ? cr_layer_var(g, "beta", s, c->a.binit, true) : NULL;
    return cr_op_layernorm(g, x, gamma, beta, k, c->a.eps);
}

static int ln_parse(crest_layer *l, const cJSON *cfg)
{
    ln_cfg *c = l->cfg;
    int rc = cr_json_ints(cfg, "axis", -CR_MAX_DIMS, CR_MAX_DIMS - 1, c->axes, CR_MAX_DIMS - 1,
                          &c->n_axes);
    if (!rc && c->n_axes < 0) {
        c->axes[0] = -1;
        c->n_axes = 1;
    }
    if (!rc && c->n_axes < 1)
        rc = cr_fail(CREST_E_FORMAT, "'axis' is empty");
    if (!rc)
        rc = affine_parse(cfg, &c->a);
    bool rms = false;     /* Keras 3: scale by the root mean square only */
    if (!rc)
        rc = cr_json_bool(cfg, "rms_scaling", false, &rms);
    if (!rc && rms)
        rc = cr_fail(CREST_E_UNSUPPORTED, "'rms_scaling' is not supported");
    const char *regs[] = { "gamma_regularizer", "beta_regularizer" };
    for (int i = 0; !rc && i < 2; i++) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(cfg, regs[i]);
        if (r && !cJSON_IsNull(r))
            rc = cr_fail(CREST_E_UNSUPPORTED, "'%s' is not supported", regs[i]);
    }
    return rc;
}

static int ln_save(const crest_layer *l, cJSON *cfg)
{
    const ln_cfg *c = l->cfg;
    if (c->n_axes == 1)
        cJSON_AddNumberToObject(cfg, "axis", c->axes[0]);
    else
        cr_json_add_ints(cfg, "axis", c->axes, c->n_axes);
    affine_save(cfg, &c->a);
    cJSON_AddNullToObject(cfg, "beta_regularizer");
    cJSON_AddNullToObject(cfg, "gamma_regularizer");
    cJSON_AddNullToObject(cfg, "beta_constraint");
    cJSON_AddNullToObject(cfg, "gamma_constraint");
    return CREST_OK;
}

const cr_layer_def cr_layer_normalization_def = { .keras_class = "LayerNormalization",
    .default_name = "layer_normalization", .cfg_size = sizeof(ln_cfg), .build = ln_build,
    .parse = ln_parse, .save = ln_save };
