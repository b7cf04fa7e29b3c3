/* permute.c - Permute(dims) and RepeatVector(n), Keras' reshaping layers
 * that move values rather than padding or cropping them. */
#include "../internal.h"
#include "json.h"

/* ---- Permute: dims, a permutation of 1..rank (the batch stays first) --- */

typedef struct { int dims[CR_MAX_DIMS], n; } permute_cfg;

static cr_node *permute_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const permute_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    if (c->n != in[0]->shape.ndim - 1)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': Permute of %d axes on a rank-%d "
                             "input", l->name, c->n, in[0]->shape.ndim - 1);
    int perm[CR_MAX_DIMS] = { 0 };
    for (int i = 0; i < c->n; i++)
        perm[i + 1] = c->dims[i];
    return cr_op_transpose(g, in[0], perm, c->n + 1);
}

static int permute_parse(crest_layer *l, const cJSON *cfg)
{
    permute_cfg *c = l->cfg;
    int rc = cr_json_ints(cfg, "dims", 1, CR_MAX_DIMS - 1, c->dims, CR_MAX_DIMS - 1, &c->n);
    if (!rc && c->n < 1)
        return cr_fail(CREST_E_FORMAT, "'dims' is missing");
    bool seen[CR_MAX_DIMS] = { false };
    for (int i = 0; !rc && i < c->n; i++) {
        if (c->dims[i] > c->n || seen[c->dims[i]])
            rc = cr_fail(CREST_E_FORMAT, "'dims' is not a permutation of 1..%d", c->n);
        else
            seen[c->dims[i]] = true;
    }
    return rc;
}

static int permute_save(const crest_layer *l, cJSON *cfg)
{
    const permute_cfg *c = l->cfg;
    cr_json_put(cfg, "dims", cJSON_CreateIntArray(c->dims, c->n));
    return CREST_OK;
}

const cr_layer_def cr_permute_def = { .keras_class = "Permute", .default_name = "permute",
    .cfg_size = sizeof(permute_cfg), .build = permute_build, .parse = permute_parse,
    .save = permute_save };

/* ---- RepeatVector: [batch, F] -> [batch, n, F] ------------------------- */

typedef struct { int n; } repeat_cfg;

static cr_node *repeat_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    if (!cr_one_input(g, l, n_in))
        return NULL;
    return cr_op_repeat(g, in[0], ((const repeat_cfg *)l->cfg)->n);
}

static int repeat_parse(crest_layer *l, const cJSON *cfg)
{
    return cr_json_int(cfg, "n", 1, 1 << 24, CR_JSON_REQUIRED, &((repeat_cfg *)l->cfg)->n);
}

static int repeat_save(const crest_layer *l, cJSON *cfg)
{
    cJSON_AddNumberToObject(cfg, "n", ((const repeat_cfg *)l->cfg)->n);
    return CREST_OK;
}

const cr_layer_def cr_repeat_vector_def = { .keras_class = "RepeatVector",
    .default_name = "repeat_vector", .cfg_size = sizeof(repeat_cfg), .build = repeat_build,
    .parse = repeat_parse, .save = repeat_save };
