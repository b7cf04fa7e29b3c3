/* conv.c - Conv2D, DepthwiseConv2D, SeparableConv2D (NHWC, channels_last).
 *
 * Weights as Keras names and lays them out: Conv2D "kernel" [kh,kw,in,filters]
 * and "bias"; DepthwiseConv2D "depthwise_kernel" [kh,kw,in,dm] and "bias"
 * [in*dm]; SeparableConv2D "depthwise_kernel", "pointwise_kernel"
 * [1,1,in*dm,filters] and "bias". relu / relu6 activations are fused into
 * the convolution's epilogue.
 */
#include "../internal.h"
#include "json.h"
#include "layers/window.h"

typedef struct conv_cfg {
    cr_window win;
    cr_conv_params p;
} conv_cfg;

enum { K_CONV = CR_CONV, K_DEPTHWISE = CR_CONV_DEPTHWISE, K_SEPARABLE = CR_CONV_SEPARABLE };

static cr_conv_opts conv_opts(const conv_cfg *c, crest_act fused)
{
    return (cr_conv_opts){ .sh = c->win.s[0], .sw = c->win.s[1], .dh = c->win.d[0],
                           .dw = c->win.d[1], .same = c->win.same, .act = fused };
}

/* Activation after the last conv: fused when the epilogue can do it. */
static bool fusable(crest_act a) { return cr_activations[a].kernel != CR_ACT_NONE; }

static cr_node *conv_build_kind(crest_layer *l, cr_graph *g, cr_node **in, int n_in, int kind)
{
    const conv_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    cr_node *x = in[0];
    if (x->shape.ndim != 4)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': %s needs [batch, height, width, "
                             "channels] input, got rank %d", l->name, l->def->keras_class,
                             x->shape.ndim);
    int cin = (int)x->shape.d[3], kh = c->win.k[0], kw = c->win.k[1];
    /* hostile files: refuse absurd kernels before allocating them */
    double kvals = (double)kh * kw * cin * (kind == K_DEPTHWISE ? c->p.dm : c->p.filters) *
                   (kind == K_SEPARABLE ? c->p.dm : 1);
    if (kvals > (double)(1 << 28))
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': a %dx%d kernel over %d channels "
                             "has %.3g values, more than crest accepts (%d)", l->name, kh, kw,
                             cin, kvals, 1 << 28);
    crest_act fused = fusable(c->p.act) ? c->p.act : CREST_LINEAR;
    cr_node *y;
    if (kind == K_CONV) {
        cr_node *k = cr_layer_var(g, "kernel", crest_shape(4, kh, kw, cin, c->p.filters),
                                  c->p.kinit, true);
        cr_node *b = c->p.use_bias ? cr_layer_var(g, "bias", crest_shape(1, c->p.filters),
                                                c->p.binit, true) : NULL;
        cr_conv_opts o = conv_opts(c, fused);
        y = cr_op_conv2d(g, x, k, b, &o);
        if (c->p.l2 > 0 && g->training)
            cr_graph_add_loss(g, cr_op_l2(g, k, c->p.l2));
    } else {
        cr_node *dk = cr_layer_var(g, "depthwise_kernel", crest_shape(4, kh, kw, cin, c->p.dm),
                                   c->p.kinit, true);
        if (kind == K_DEPTHWISE) {
            cr_node *b = c->p.use_bias ? cr_layer_var(g, "bias", crest_shape(1, cin * c->p.dm),
                                                    c->p.binit, true) : NULL;
            cr_conv_opts o = conv_opts(c, fused);
            y = cr_op_depthwise2d(g, x, dk, b, &o);
        } else {
            cr_node *pk = cr_layer_var(g, "pointwise_kernel",
                                       crest_shape(4, 1, 1, cin * c->p.dm, c->p.filters), c->p.pinit,
                                       true);
            cr_node *b = c->p.use_bias ? cr_layer_var(g, "bias", crest_shape(1, c->p.filters),
                                                    c->p.binit, true) : NULL;
            cr_conv_opts o = conv_opts(c, CREST_LINEAR);
            y = cr_op_depthwise2d(g, x, dk, NULL, &o);
            y = cr_op_conv2d(g, y, pk, b, &(cr_conv_opts){ .act = fused });
        }
    }
    return fused != CREST_LINEAR ? y : crest_op_activate(g, y, c->p.act);
}

static cr_node *conv_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    return conv_build_kind(l, g, in, n_in, K_CONV);
}
static cr_node *dw_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    return conv_build_kind(l, g, in, n_in, K_DEPTHWISE);
}
static cr_node *sep_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    return conv_build_kind(l, g, in, n_in, K_SEPARABLE);
}

static int conv_parse_kind(crest_layer *l, const cJSON *cfg, int kind)
{
    conv_cfg *c = l->cfg;
    int rc = cr_window_parse(cfg, "kernel_size", 0, &c->win);
    return rc ? rc : cr_conv_params_parse(cfg, (cr_conv_kind)kind, &c->p);
}

static int conv_parse(crest_layer *l, const cJSON *cfg) { return conv_parse_kind(l, cfg, K_CONV); }
static int dw_parse(crest_layer *l, const cJSON *cfg)
{
    return conv_parse_kind(l, cfg, K_DEPTHWISE);
}
static int sep_parse(crest_layer *l, const cJSON *cfg)
{
    return conv_parse_kind(l, cfg, K_SEPARABLE);
}

static int conv_save_kind(const crest_layer *l, cJSON *cfg, int kind)
{
    const conv_cfg *c = l->cfg;
    if (kind != K_DEPTHWISE)
        cJSON_AddNumberToObject(cfg, "filters", c->p.filters);
    cr_window_save(cfg, "kernel_size", &c->win);
    cr_conv_params_save(cfg, (cr_conv_kind)kind, &c->p);
    return CREST_OK;
}

static int conv_save(const crest_layer *l, cJSON *cfg) { return conv_save_kind(l, cfg, K_CONV); }
static int dw_save(const crest_layer *l, cJSON *cfg)
{
    return conv_save_kind(l, cfg, K_DEPTHWISE);
}
static int sep_save(const crest_layer *l, cJSON *cfg)
{
    return conv_save_kind(l, cfg, K_SEPARABLE);
}

static void conv_enable_bias(crest_layer *l) { ((conv_cfg *)l->cfg)->p.use_bias = true; }

const cr_layer_def cr_conv2d_def = { .keras_class = "Conv2D", .default_name = "conv2d",
    .cfg_size = sizeof(conv_cfg), .build = conv_build, .parse = conv_parse, .save = conv_save,
    .enable_bias = conv_enable_bias };
const cr_layer_def cr_depthwise_conv2d_def = { .keras_class = "DepthwiseConv2D",
    .default_name = "depthwise_conv2d", .cfg_size = sizeof(conv_cfg), .build = dw_build,
    .parse = dw_parse, .save = dw_save, .enable_bias = conv_enable_bias };
const cr_layer_def cr_separable_conv2d_def = { .keras_class = "SeparableConv2D",
    .default_name = "separable_conv2d", .cfg_size = sizeof(conv_cfg), .build = sep_build,
    .parse = sep_parse, .save = sep_save, .enable_bias = conv_enable_bias };
