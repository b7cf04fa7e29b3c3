/* merge.c - Add, Multiply, Average, Subtract, Maximum, Minimum, Concatenate,
 * Dot: layers of several inputs. */
#include "../internal.h"
#include "json.h"

typedef enum { M_ADD, M_MUL, M_AVG, M_SUB, M_MAX, M_MIN } merge_kind;
typedef struct { int kind; } merge_cfg;

static cr_node *merge_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const merge_cfg *c = l->cfg;
    if (n_in < 2)
        return cr_graph_fail(g, CREST_E_ARG, "layer '%s': %s needs at least two inputs, got %d",
                             l->name, l->def->keras_class, n_in);
    if (c->kind == M_SUB && n_in != 2)
        return cr_graph_fail(g, CREST_E_ARG, "layer '%s': Subtract takes exactly two inputs, "
                             "got %d", l->name, n_in);
    cr_node *y = in[0];
    for (int i = 1; i < n_in; i++)
        switch (c->kind) {
        case M_MUL: y = crest_op_mul(g, y, in[i]); break;
        case M_SUB: y = crest_op_sub(g, y, in[i]); break;
        case M_MAX: y = cr_op_minmax(g, y, in[i], true); break;
        case M_MIN: y = cr_op_minmax(g, y, in[i], false); break;
        default: y = crest_op_add(g, y, in[i]); break;
        }
    if (c->kind == M_AVG)
        y = crest_op_scale(g, y, 1.0f / (float)n_in, 0.0f);
    return y;
}

static int merge_save(const crest_layer *l, cJSON *cfg)
{
    (void)l;
    (void)cfg;
    return CREST_OK;
}

static int add_parse(crest_layer *l, const cJSON *cfg);
static int mul_parse(crest_layer *l, const cJSON *cfg);
static int avg_parse(crest_layer *l, const cJSON *cfg);

const cr_layer_def cr_add_def = { .keras_class = "Add", .default_name = "add",
    .cfg_size = sizeof(merge_cfg), .build = merge_build, .parse = add_parse,
    .save = merge_save };
const cr_layer_def cr_multiply_def = { .keras_class = "Multiply", .default_name = "multiply",
    .cfg_size = sizeof(merge_cfg), .build = merge_build, .parse = mul_parse,
    .save = merge_save };
const cr_layer_def cr_average_def = { .keras_class = "Average", .default_name = "average",
    .cfg_size = sizeof(merge_cfg), .build = merge_build, .parse = avg_parse,
    .save = merge_save };

crest_layer *crest_merge_add(void) { return cr_layer_new(&cr_add_def, &(merge_cfg){ M_ADD }); }
crest_layer *crest_merge_multiply(void)
{
    return cr_layer_new(&cr_multiply_def, &(merge_cfg){ M_MUL });
}
crest_layer *crest_merge_average(void)
{
    return cr_layer_new(&cr_average_def, &(merge_cfg){ M_AVG });
}

/* Subtract, Maximum, Minimum: the kind from the class as well */
static int sub_parse(crest_layer *l, const cJSON *cfg)
{
    (void)cfg;
    ((merge_cfg *)l->cfg)->kind = M_SUB;
    return CREST_OK;
}
static int max_parse(crest_layer *l, const cJSON *cfg)
{
    (void)cfg;
    ((merge_cfg *)l->cfg)->kind = M_MAX;
    return CREST_OK;
}
static int min_parse(crest_layer *l, const cJSON *cfg)
{
    (void)cfg;
    ((merge_cfg *)l->cfg)->kind = M_MIN;
    return CREST_OK;
}

const cr_layer_def cr_subtract_def = { .keras_class = "Subtract", .default_name = "subtract",
    .cfg_size = sizeof(merge_cfg), .build = merge_build, .parse = sub_parse,
    .save = merge_save };
const cr_layer_def cr_maximum_def = { .keras_class = "Maximum", .default_name = "maximum",
    .cfg_size = sizeof(merge_cfg), .build = merge_build, .parse = max_parse,
    .save = merge_save };
const cr_layer_def cr_minimum_def = { .keras_class = "Minimum", .default_name = "minimum",
    .cfg_size = sizeof(merge_cfg), .build = merge_build, .parse = min_parse,
    .save = merge_save };

/* parse runs on a zeroed cfg: the kind comes from the class */
static int add_parse(crest_layer *l, const cJSON *cfg)
{
    (void)cfg;
    ((merge_cfg *)l->cfg)->kind = M_ADD;
    return CREST_OK;
}
static int mul_parse(crest_layer *l, const cJSON *cfg)
{
    (void)cfg;
    ((merge_cfg *)l->cfg)->kind = M_MUL;
    return CREST_OK;
}
static int avg_parse(crest_layer *l, const cJSON *cfg)
{
    (void)cfg;
    ((merge_cfg *)l->cfg)->kind = M_AVG;
    return CREST_OK;
}

/* ---- Concatenate ------------------------------------------------------- */

typedef struct { int axis; } concat_cfg;

static cr_node *concat_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    if (n_in < 2)
        return cr_graph_fail(g, CREST_E_ARG, "layer '%s': Concatenate needs two inputs or more",
                             l->name);
    return crest_op_concat(g, in, n_in, ((concat_cfg *)l->cfg)->axis);
}

static int concat_parse(crest_layer *l, const cJSON *cfg)
{
    return cr_json_int(cfg, "axis", -CREST_MAX_DIMS, CREST_MAX_DIMS, -1,
                       &((concat_cfg *)l->cfg)->axis);
}

static int concat_save(const crest_layer *l, cJSON *cfg)
{
    cJSON_AddNumberToObject(cfg, "axis", ((concat_cfg *)l->cfg)->axis);
    return CREST_OK;
}

const cr_layer_def cr_concatenate_def = { .keras_class = "Concatenate",
    .default_name = "concatenate", .cfg_size = sizeof(concat_cfg), .build = concat_build,
    .parse = concat_parse, .save = concat_save };

crest_layer *crest_concatenate(int axis)
{
    return cr_layer_new(&cr_concatenate_def, &(concat_cfg){ axis });
}

/* ---- Dot(axes, normalize) ---------------------------------------------- */

/* axes: one for both inputs, or one each; negative ones count from each
 * input's end (Keras). normalize: l2-normalize both along their axes first,
 * as tf.linalg.l2_normalize (epsilon 1e-12; TF.js uses 1e-7, which only
 * differs for vectors of norm below 3e-4). */
typedef struct { int axes[2], n_axes; bool normalize; } dot_cfg;

static cr_node *dot_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const dot_cfg *c = l->cfg;
    if (n_in != 2)
        return cr_graph_fail(g, CREST_E_ARG, "layer '%s': Dot takes exactly two inputs, got %d",
                             l->name, n_in);
    int ax[2];
    cr_node *x[2] = { in[0], in[1] };
    for (int i = 0; i < 2; i++) {
        int a = c->axes[c->n_axes == 2 ? i : 0], nd = x[i]->shape.ndim;
        ax[i] = a < 0 ? a + nd : a;
        if (ax[i] < 1 || ax[i] >= nd)
            return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': Dot axis %d of a rank-%d input",
                                 l->name, a, nd);
        if (c->normalize)
            x[i] = cr_op_l2_normalize(g, x[i], ax[i], 1e-12f);
    }
    return cr_op_batch_dot(g, x[0], x[1], ax[0], ax[1]);
}

static int dot_parse(crest_layer *l, const cJSON *cfg)
{
    dot_cfg *c = l->cfg;
    int rc = cr_json_ints(cfg, "axes", -CR_MAX_DIMS, CR_MAX_DIMS, c->axes, 2, &c->n_axes);
    if (!rc && c->n_axes < 1)
        rc = cr_fail(CREST_E_FORMAT, "'axes' is missing");
    if (!rc)
        rc = cr_json_bool(cfg, "normalize", false, &c->normalize);
    return rc;
}

static int dot_save(const crest_layer *l, cJSON *cfg)
{
    const dot_cfg *c = l->cfg;
    if (c->n_axes == 1)
        cJSON_AddNumberToObject(cfg, "axes", c->axes[0]);
    else
        cr_json_add_ints(cfg, "axes", c->axes, c->n_axes);
    cJSON_AddBoolToObject(cfg, "normalize", c->normalize);
    return CREST_OK;
}

const cr_layer_def cr_dot_def = { .keras_class = "Dot", .default_name = "dot",
    .cfg_size = sizeof(dot_cfg), .build = dot_build, .parse = dot_parse, .save = dot_save };
