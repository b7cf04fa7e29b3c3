/* reshaping.c - ZeroPadding2D and Cropping2D (channels_last).
 * Amounts as Keras takes them: n (all sides), [h, w] (symmetric), or
 * [[top, bottom], [left, right]]. */
#include "../internal.h"
#include "json.h"
#include "layers/window.h"

#include <math.h>

typedef struct { int t, b, l, r; } tblr_cfg;

static int small_int(const cJSON *v, int *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > (1 << 16))
        return -1;
    *out = (int)v->valuedouble;
    return 0;
}

static int tblr_parse(const cJSON *cfg, const char *key, int def, tblr_cfg *c)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    int a[4];
    if (!v || cJSON_IsNull(v)) {
        a[0] = a[1] = a[2] = a[3] = def;
    } else if (cJSON_IsNumber(v)) {
        if (small_int(v, &a[0]))
            goto bad;
        a[1] = a[2] = a[3] = a[0];
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2) {
        for (int i = 0; i < 2; i++) {
            const cJSON *e = cJSON_GetArrayItem(v, i);
            if (cJSON_IsNumber(e)) {
                if (small_int(e, &a[2 * i]))
                    goto bad;
                a[2 * i + 1] = a[2 * i];
            } else if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 ||
                       small_int(cJSON_GetArrayItem(e, 0), &a[2 * i]) ||
                       small_int(cJSON_GetArrayItem(e, 1), &a[2 * i + 1])) {
                goto bad;
            }
        }
    } else {
        goto bad;
    }
    *c = (tblr_cfg){ a[0], a[1], a[2], a[3] };
    return cr_channels_last(cfg);
bad:
    return cr_fail(CREST_E_FORMAT, "'%s' is not n, [h, w] or [[top, bottom], [left, right]]",
                   key);
}

static void tblr_save(cJSON *cfg, const char *key, const tblr_cfg *c)
{
    int tb[2] = { c->t, c->b }, lr[2] = { c->l, c->r };
    cJSON *a = cJSON_CreateArray();
    cr_json_push(a, cJSON_CreateIntArray(tb, 2));
    cr_json_push(a, cJSON_CreateIntArray(lr, 2));
    cr_json_put(cfg, key, a);
    cJSON_AddStringToObject(cfg, "data_format", "channels_last");
}

static cr_node *pad_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const tblr_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    return cr_op_pad2d(g, in[0], c->t, c->b, c->l, c->r);
}

static int pad_parse(crest_layer *l, const cJSON *cfg)
{
    return tblr_parse(cfg, "padding", 1, l->cfg);
}

static int pad_save(const crest_layer *l, cJSON *cfg)
{
    tblr_save(cfg, "padding", l->cfg);
    return CREST_OK;
}

const cr_layer_def cr_zero_padding2d_def = { .keras_class = "ZeroPadding2D",
    .default_name = "zero_padding2d", .cfg_size = sizeof(tblr_cfg), .build = pad_build,
    .parse = pad_parse, .save = pad_save };

static cr_node *crop_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const tblr_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    return cr_op_crop2d(g, in[0], c->t, c->b, c->l, c->r);
}

static int crop_parse(crest_layer *l, const cJSON *cfg)
{
    return tblr_parse(cfg, "cropping", 0, l->cfg);
}

static int crop_save(const crest_layer *l, cJSON *cfg)
{
    tblr_save(cfg, "cropping", l->cfg);
    return CREST_OK;
}

const cr_layer_def cr_cropping2d_def = { .keras_class = "Cropping2D",
    .default_name = "cropping2d", .cfg_size = sizeof(tblr_cfg), .build = crop_build,
    .parse = crop_parse, .save = crop_save };
