/* upsample.c - the layers that make images larger (NHWC, channels_last):
 * Conv2DTranspose and UpSampling2D, as TF.js 4.22 computes them.
 *
 * Conv2DTranspose: "kernel" [kh, kw, filters, in] (Keras' layout) and
 * "bias" [filters]; padding valid or same, any strides. TF.js has neither
 * output_padding nor dilation for it, so a file asking for them is refused
 * rather than run differently from Keras. UpSampling2D: integer size
 * (rows, cols), interpolation nearest or bilinear (see src/ops/upsample.c
 * for how bilinear samples).
 */
#include "../internal.h"
#include "json.h"
#include "layers/window.h"

typedef struct tconv_cfg {
    cr_window win;
    cr_conv_params p;
} tconv_cfg;

static cr_node *tconv_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const tconv_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    cr_node *x = in[0];
    if (x->shape.ndim != 4)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': Conv2DTranspose needs [batch, "
                             "height, width, channels] input, got rank %d", l->name,
                             x->shape.ndim);
    int cin = (int)x->shape.d[3], kh = c->win.k[0], kw = c->win.k[1];
    if ((double)kh * kw * cin * c->p.filters > (double)(1 << 28))
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': a %dx%d kernel from %d to %d "
                             "channels is more than crest accepts", l->name, kh, kw, cin,
                             c->p.filters);
    cr_node *k = cr_layer_var(g, "kernel", crest_shape(4, kh, kw, c->p.filters, cin), c->p.kinit,
                              true);
    cr_node *y = cr_op_conv2d_transpose(g, x, k, c->win.s[0], c->win.s[1], c->win.same);
    if (c->p.use_bias)
        y = crest_op_bias_add(g, y, cr_layer_var(g, "bias", crest_shape(1, c->p.filters),
                                                 c->p.binit, true));
    if (c->p.l2 > 0 && g->training)
        cr_graph_add_loss(g, cr_op_l2(g, k, c->p.l2));
    return crest_op_activate(g, y, c->p.act);
}

static int tconv_parse(crest_layer *l, const cJSON *cfg)
{
    tconv_cfg *c = l->cfg;
    int rc = cr_window_parse(cfg, "kernel_size", false, &c->win);
    if (!rc && (c->win.d[0] != 1 || c->win.d[1] != 1))
        rc = cr_fail(CREST_E_UNSUPPORTED, "dilation_rate %d,%d: TF.js' Conv2DTranspose has no "
                     "dilation (1 only)", c->win.d[0], c->win.d[1]);
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(cfg, "output_padding");
    if (!rc && op && !cJSON_IsNull(op))
        rc = cr_fail(CREST_E_UNSUPPORTED, "output_padding is not supported (TF.js' "
                     "Conv2DTranspose has none; null only)");
    if (!rc)
        rc = cr_conv_params_parse(cfg, CR_CONV_TRANSPOSE, &c->p);
    return rc;
}

static int tconv_save(const crest_layer *l, cJSON *cfg)
{
    const tconv_cfg *c = l->cfg;
    cJSON_AddNumberToObject(cfg, "filters", c->p.filters);
    cr_window_save(cfg, "kernel_size", &c->win);
    cr_conv_params_save(cfg, CR_CONV_TRANSPOSE, &c->p);
    return CREST_OK;
}

const cr_layer_def cr_conv2d_transpose_def = { .keras_class = "Conv2DTranspose",
    .default_name = "conv2d_transpose", .cfg_size = sizeof(tconv_cfg), .build = tconv_build,
    .parse = tconv_parse, .save = tconv_save };

/* ---- UpSampling2D ----------------------------------------------------------- */

typedef struct up_cfg { int size[2]; bool bilinear; } up_cfg;

static cr_node *up_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const up_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    return cr_op_upsample2d(g, in[0], c->size[0], c->size[1], c->bilinear);
}

static int up_parse(crest_layer *l, const cJSON *cfg)
{
    up_cfg *c = l->cfg;
    int rc = cr_json_pair(cfg, "size", 2, c->size);
    if (!rc && (c->size[0] < 1 || c->size[1] < 1 || c->size[0] > 1024 || c->size[1] > 1024))
        rc = cr_fail(CREST_E_FORMAT, "'size' %d,%d is not in [1, 1024]", c->size[0], c->size[1]);
    const char *interp = NULL;
    if (!rc)
        rc = cr_json_str(cfg, "interpolation", "nearest", &interp);
    if (!rc) {
        c->bilinear = !strcmp(interp, "bilinear");
        if (!c->bilinear && strcmp(interp, "nearest"))
            rc = cr_fail(CREST_E_UNSUPPORTED, "interpolation '%s' is not supported (nearest, "
                         "bilinear)", interp);
    }
    return rc ? rc : cr_channels_last(cfg);
}

static int up_save(const crest_layer *l, cJSON *cfg)
{
    const up_cfg *c = l->cfg;
    cr_json_put(cfg, "size", cJSON_CreateIntArray(c->size, 2));
    cJSON_AddStringToObject(cfg, "data_format", "channels_last");
    cJSON_AddStringToObject(cfg, "interpolation", c->bilinear ? "bilinear" : "nearest");
    return CREST_OK;
}

const cr_layer_def cr_up_sampling2d_def = { .keras_class = "UpSampling2D",
    .default_name = "up_sampling2d", .cfg_size = sizeof(up_cfg), .build = up_build,
    .parse = up_parse, .save = up_save };
