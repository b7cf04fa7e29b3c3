/* merge.c - Add, Multiply, Average, Concatenate: layers of several inputs. */
#include "../internal.h"
#include "json.h"

typedef enum { M_ADD, M_MUL, M_AVG } merge_kind;
typedef struct { int kind; } merge_cfg;

static cr_node *merge_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const merge_cfg *c = l->cfg;
    if (n_in < 2)
        return cr_graph_fail(g, CREST_E_ARG, "layer '%s': %s needs at least two inputs, got %d",
                             l->name, l->def->keras_class, n_in);
    cr_node *y = in[0];
    for (int i = 1; i < n_in; i++)
        y = c->kind == M_MUL ? crest_op_mul(g, y, in[i]) : crest_op_add(g, y, in[i]);
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
