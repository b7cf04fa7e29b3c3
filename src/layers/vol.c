/* vol.c - the 3-D Keras layers (channels_last, NDHWC): Conv3D,
 * Conv3DTranspose, MaxPooling3D, AveragePooling3D, GlobalAveragePooling3D,
 * GlobalMaxPooling3D, UpSampling3D, ZeroPadding3D, Cropping3D.
 *
 * Weights as Keras names and lays them out: Conv3D "kernel"
 * [kd,kh,kw,in,filters] and "bias" [filters]; Conv3DTranspose "kernel"
 * [kd,kh,kw,filters,in] and "bias" [filters]. Sizes, strides and dilations
 * are n (all three axes) or [d, h, w]; paddings and croppings n, [d, h, w]
 * (symmetric) or [[front, back], [top, bottom], [left, right]].
 */
#include "../internal.h"
#include "json.h"
#include "layers/window.h"
#include "ops/vol.h"

#include <math.h>

static bool small_int(const cJSON *v, int lo, int *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > (1 << 16))
        return false;
    *out = (int)v->valuedouble;
    return true;
}

/* n or [d, h, w] of ints >= lo; def (< lo: required) when absent or null. */
static int triple(const cJSON *cfg, const char *key, int def, int lo, int out[3])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) {
        if (def < lo)
            return cr_fail(CREST_E_FORMAT, "'%s' is missing", key);
        out[0] = out[1] = out[2] = def;
        return CREST_OK;
    }
    if (small_int(v, lo, &out[0])) {
        out[1] = out[2] = out[0];
        return CREST_OK;
    }
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 3 &&
        small_int(cJSON_GetArrayItem(v, 0), lo, &out[0]) &&
        small_int(cJSON_GetArrayItem(v, 1), lo, &out[1]) &&
        small_int(cJSON_GetArrayItem(v, 2), lo, &out[2]))
        return CREST_OK;
    return cr_fail(CREST_E_FORMAT, "'%s' is not n or [d, h, w] of integers >= %d", key, lo);
}

static int padding_of(const cJSON *cfg, bool *same)
{
    const char *pad = NULL;
    int rc = cr_json_str(cfg, "padding", "valid", &pad);
    if (rc)
        return rc;
    *same = !strcmp(pad, "same") || !strcmp(pad, "SAME");
    if (!*same && strcmp(pad, "valid") && strcmp(pad, "VALID"))
        return cr_fail(CREST_E_UNSUPPORTED, "padding '%s' is not supported (valid, same)", pad);
    return CREST_OK;
}

static void put_triple(cJSON *cfg, const char *key, const int v[3])
{
    cr_json_put(cfg, key, cJSON_CreateIntArray(v, 3));
}

static cr_node *one_input(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    if (!cr_one_input(g, l, n_in))
        return NULL;
    if (in[0]->shape.ndim != 5)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': %s needs [batch, depth, height, "
                             "width, channels] input, got rank %d", l->name,
                             l->def->keras_class, in[0]->shape.ndim);
    return in[0];
}

/* ---- Conv3D, Conv3DTranspose ------------------------------------------------ */

typedef struct conv3_cfg {
    int k[3], s[3], dil[3];
    bool same, transpose;
    int out_pad[3];           /* transpose: -1 = None */
    cr_conv_params p;
} conv3_cfg;

static cr_node *conv3_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const conv3_cfg *c = l->cfg;
    cr_node *x = one_input(l, g, in, n_in);
    if (!x)
        return NULL;
    int cin = (int)x->shape.d[4];
    double kvals = (double)c->k[0] * c->k[1] * c->k[2] * cin * c->p.filters;
    if (kvals > (double)(1 << 28))
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': a %dx%dx%d kernel over %d channels "
                             "has %.3g values, more than crest accepts (%d)", l->name, c->k[0],
                             c->k[1], c->k[2], cin, kvals, 1 << 28);
    cr_dims ks = c->transpose ? crest_shape(5, c->k[0], c->k[1], c->k[2], c->p.filters, cin)
                              : crest_shape(5, c->k[0], c->k[1], c->k[2], cin, c->p.filters);
    cr_node *k = cr_layer_var(g, "kernel", ks, c->p.kinit, true);
    cr_node *b = c->p.use_bias ? cr_layer_var(g, "bias", crest_shape(1, c->p.filters), c->p.binit, true)
                             : NULL;
    cr_vol_opts o = { .same = c->same };
    memcpy(o.s, c->s, sizeof o.s);
    memcpy(o.dil, c->dil, sizeof o.dil);
    memcpy(o.out_pad, c->out_pad, sizeof o.out_pad);
    cr_node *y = c->transpose ? cr_op_conv3d_transpose(g, x, k, b, &o)
                              : cr_op_conv3d(g, x, k, b, &o);
    if (c->p.l2 > 0 && g->training)
        cr_graph_add_loss(g, cr_op_l2(g, k, c->p.l2));
    return crest_op_activate(g, y, c->p.act);
}

static int conv3_parse_kind(crest_layer *l, const cJSON *cfg, bool transpose)
{
    conv3_cfg *c = l->cfg;
    c->transpose = transpose;
    c->out_pad[0] = c->out_pad[1] = c->out_pad[2] = -1;
    int rc = triple(cfg, "kernel_size", 0, 1, c->k);
    if (!rc)
        rc = triple(cfg, "strides", 1, 1, c->s);
    if (!rc)
        rc = triple(cfg, "dilation_rate", 1, 1, c->dil);
    if (!rc)
        rc = padding_of(cfg, &c->same);
    if (!rc)
        rc = cr_channels_last(cfg);
    if (!rc && transpose && (c->dil[0] != 1 || c->dil[1] != 1 || c->dil[2] != 1))
        rc = cr_fail(CREST_E_UNSUPPORTED, "Conv3DTranspose with dilation_rate %d,%d,%d is not "
                     "supported (1 only)", c->dil[0], c->dil[1], c->dil[2]);
    if (!rc && transpose) {
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(cfg, "output_padding");
        if (op && !cJSON_IsNull(op))
            rc = triple(cfg, "output_padding", 0, 0, c->out_pad);
        for (int i = 0; !rc && i < 3; i++)
            if (c->out_pad[i] >= c->s[i])
                rc = cr_fail(CREST_E_FORMAT, "output_padding %d is not below the stride %d",
                             c->out_pad[i], c->s[i]);
    }
    if (!rc)
        rc = cr_conv_params_parse(cfg, transpose ? CR_CONV_TRANSPOSE : CR_CONV, &c->p);
    return rc;
}

static int conv3_parse(crest_layer *l, const cJSON *cfg)
{
    return conv3_parse_kind(l, cfg, false);
}
static int tconv3_parse(crest_layer *l, const cJSON *cfg)
{
    return conv3_parse_kind(l, cfg, true);
}

static int conv3_save(const crest_layer *l, cJSON *cfg)
{
    const conv3_cfg *c = l->cfg;
    cJSON_AddNumberToObject(cfg, "filters", c->p.filters);
    put_triple(cfg, "kernel_size", c->k);
    put_triple(cfg, "strides", c->s);
    cJSON_AddStringToObject(cfg, "padding", c->same ? "same" : "valid");
    cJSON_AddStringToObject(cfg, "data_format", "channels_last");
    if (c->transpose) {   /* TF.js 4.22 has no output_padding: written only when set */
        if (c->out_pad[0] >= 0)
            put_triple(cfg, "output_padding", c->out_pad);
    } else {
        put_triple(cfg, "dilation_rate", c->dil);
    }
    cr_conv_params_save(cfg, c->transpose ? CR_CONV_TRANSPOSE : CR_CONV, &c->p);
    return CREST_OK;
}

const cr_layer_def cr_conv3d_def = { .keras_class = "Conv3D", .default_name = "conv3d",
    .cfg_size = sizeof(conv3_cfg), .build = conv3_build, .parse = conv3_parse,
    .save = conv3_save };
const cr_layer_def cr_conv3d_transpose_def = { .keras_class = "Conv3DTranspose",
    .default_name = "conv3d_transpose", .cfg_size = sizeof(conv3_cfg), .build = conv3_build,
    .parse = tconv3_parse, .save = conv3_save };

/* ---- MaxPooling3D, AveragePooling3D ------------------------------------------ */

typedef struct pool3_cfg { int k[3], s[3]; bool same, max; } pool3_cfg;

static cr_node *pool3_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const pool3_cfg *c = l->cfg;
    cr_node *x = one_input(l, g, in, n_in);
    if (!x)
        return NULL;
    cr_vol_opts o = { .same = c->same };
    memcpy(o.s, c->s, sizeof o.s);
    return cr_op_pool3d(g, x, c->max, c->k, &o);
}

static int pool3_parse_kind(crest_layer *l, const cJSON *cfg, bool max)
{
    pool3_cfg *c = l->cfg;
    c->max = max;
    int rc = triple(cfg, "pool_size", 2, 1, c->k);
    if (!rc)   /* strides null: the pool size */
        rc = triple(cfg, "strides", 0, 0, c->s);
    for (int i = 0; !rc && i < 3; i++)
        if (c->s[i] == 0)
            c->s[i] = c->k[i];
    if (!rc)
        rc = padding_of(cfg, &c->same);
    return rc ? rc : cr_channels_last(cfg);
}
static int maxp3_parse(crest_layer *l, const cJSON *cfg) { return pool3_parse_kind(l, cfg, true); }
static int avgp3_parse(crest_layer *l, const cJSON *cfg)
{
    return pool3_parse_kind(l, cfg, false);
}

static int pool3_save(const crest_layer *l, cJSON *cfg)
{
    const pool3_cfg *c = l->cfg;
    put_triple(cfg, "pool_size", c->k);
    put_triple(cfg, "strides", c->s);
    cJSON_AddStringToObject(cfg, "padding", c->same ? "same" : "valid");
    cJSON_AddStringToObject(cfg, "data_format", "channels_last");
    return CREST_OK;
}

const cr_layer_def cr_max_pooling3d_def = { .keras_class = "MaxPooling3D",
    .default_name = "max_pooling3d", .cfg_size = sizeof(pool3_cfg), .build = pool3_build,
    .parse = maxp3_parse, .save = pool3_save };
const cr_layer_def cr_average_pooling3d_def = { .keras_class = "AveragePooling3D",
    .default_name = "average_pooling3d", .cfg_size = sizeof(pool3_cfg), .build = pool3_build,
    .parse = avgp3_parse, .save = pool3_save };

/* ---- GlobalAveragePooling3D, GlobalMaxPooling3D ----------------------------- */

typedef struct gpool3_cfg { bool keepdims, max; } gpool3_cfg;

static cr_node *gpool3_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const gpool3_cfg *c = l->cfg;
    cr_node *x = one_input(l, g, in, n_in);
    return x ? cr_op_global_pool3d(g, x, c->max, c->keepdims) : NULL;
}

static int gpool3_parse_kind(crest_layer *l, const cJSON *cfg, bool max)
{
    gpool3_cfg *c = l->cfg;
    c->max = max;
    int rc = cr_json_bool(cfg, "keepdims", false, &c->keepdims);
    return rc ? rc : cr_channels_last(cfg);
}
static int gmax3_parse(crest_layer *l, const cJSON *cfg)
{
    return gpool3_parse_kind(l, cfg, true);
}
static int gavg3_parse(crest_layer *l, const cJSON *cfg)
{
    return gpool3_parse_kind(l, cfg, false);
}

static int gpool3_save(const crest_layer *l, cJSON *cfg)
{
    cJSON_AddStringToObject(cfg, "data_format", "channels_last");
    if (((const gpool3_cfg *)l->cfg)->keepdims)
        cJSON_AddBoolToObject(cfg, "keepdims", true);
    return CREST_OK;
}

const cr_layer_def cr_global_average_pooling3d_def = { .keras_class = "GlobalAveragePooling3D",
    .default_name = "global_average_pooling3d", .cfg_size = sizeof(gpool3_cfg),
    .build = gpool3_build, .parse = gavg3_parse, .save = gpool3_save };
const cr_layer_def cr_global_max_pooling3d_def = { .keras_class = "GlobalMaxPooling3D",
    .default_name = "global_max_pooling3d", .cfg_size = sizeof(gpool3_cfg),
    .build = gpool3_build, .parse = gmax3_parse, .save = gpool3_save };

/* ---- UpSampling3D ------------------------------------------------------------ */

typedef struct up3_cfg { int size[3]; } up3_cfg;

static cr_node *up3_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    cr_node *x = one_input(l, g, in, n_in);
    return x ? cr_op_upsample3d(g, x, ((const up3_cfg *)l->cfg)->size) : NULL;
}

static int up3_parse(crest_layer *l, const cJSON *cfg)
{
    int rc = triple(cfg, "size", 2, 1, ((up3_cfg *)l->cfg)->size);
    return rc ? rc : cr_channels_last(cfg);
}

static int up3_save(const crest_layer *l, cJSON *cfg)
{
    put_triple(cfg, "size", ((const up3_cfg *)l->cfg)->size);
    cJSON_AddStringToObject(cfg, "data_format", "channels_last");
    return CREST_OK;
}

const cr_layer_def cr_up_sampling3d_def = { .keras_class = "UpSampling3D",
    .default_name = "up_sampling3d", .cfg_size = sizeof(up3_cfg), .build = up3_build,
    .parse = up3_parse, .save = up3_save };

/* ---- ZeroPadding3D, Cropping3D ------------------------------------------------ */

typedef struct amt3_cfg { int a[6]; } amt3_cfg;   /* before, after per axis */

/* n, [d, h, w] or [[front, back], [top, bottom], [left, right]]. */
static int amounts_parse(const cJSON *cfg, const char *key, int def, int a[6])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    int n;
    if (!v || cJSON_IsNull(v)) {
        for (int i = 0; i < 3; i++)
            a[2 * i] = a[2 * i + 1] = def;
    } else if (small_int(v, 0, &n)) {
        for (int i = 0; i < 3; i++)
            a[2 * i] = a[2 * i + 1] = n;
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 3) {
        for (int i = 0; i < 3; i++) {
            const cJSON *e = cJSON_GetArrayItem(v, i);
            if (small_int(e, 0, &a[2 * i])) {
                a[2 * i + 1] = a[2 * i];
            } else if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 ||
                       !small_int(cJSON_GetArrayItem(e, 0), 0, &a[2 * i]) ||
                       !small_int(cJSON_GetArrayItem(e, 1), 0, &a[2 * i + 1])) {
                goto bad;
            }
        }
    } else {
        goto bad;
    }
    return cr_channels_last(cfg);
bad:
    return cr_fail(CREST_E_FORMAT, "'%s' is not n, [d, h, w] or [[front, back], [top, bottom], "
                   "[left, right]]", key);
}

static void amounts_save(cJSON *cfg, const char *key, const int a[6])
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < 3; i++)
        cr_json_push(arr, cJSON_CreateIntArray(a + 2 * i, 2));
    cr_json_put(cfg, key, arr);
    cJSON_AddStringToObject(cfg, "data_format", "channels_last");
}

static cr_node *pad3_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    cr_node *x = one_input(l, g, in, n_in);
    return x ? cr_op_pad3d(g, x, ((const amt3_cfg *)l->cfg)->a) : NULL;
}
static int pad3_parse(crest_layer *l, const cJSON *cfg)
{
    return amounts_parse(cfg, "padding", 1, ((amt3_cfg *)l->cfg)->a);
}
static int pad3_save(const crest_layer *l, cJSON *cfg)
{
    amounts_save(cfg, "padding", ((const amt3_cfg *)l->cfg)->a);
    return CREST_OK;
}

static cr_node *crop3_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    cr_node *x = one_input(l, g, in, n_in);
    return x ? cr_op_crop3d(g, x, ((const amt3_cfg *)l->cfg)->a) : NULL;
}
static int crop3_parse(crest_layer *l, const cJSON *cfg)
{
    return amounts_parse(cfg, "cropping", 1, ((amt3_cfg *)l->cfg)->a);
}
static int crop3_save(const crest_layer *l, cJSON *cfg)
{
    amounts_save(cfg, "cropping", ((const amt3_cfg *)l->cfg)->a);
    return CREST_OK;
}

const cr_layer_def cr_zero_padding3d_def = { .keras_class = "ZeroPadding3D",
    .default_name = "zero_padding3d", .cfg_size = sizeof(amt3_cfg), .build = pad3_build,
    .parse = pad3_parse, .save = pad3_save };
const cr_layer_def cr_cropping3d_def = { .keras_class = "Cropping3D",
    .default_name = "cropping3d", .cfg_size = sizeof(amt3_cfg), .build = crop3_build,
    .parse = crop3_parse, .save = crop3_save };
