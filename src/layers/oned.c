/* oned.c - the 1-D layers over [batch, steps, channels]: Conv1D,
 * SeparableConv1D, DepthwiseConv1D, MaxPooling1D, AveragePooling1D,
 * GlobalAveragePooling1D, GlobalMaxPooling1D, UpSampling1D, ZeroPadding1D,
 * Cropping1D.
 *
 * Each runs the 2-D op on a view with a unit width: [b, t, c] is reshaped to
 * [b, t, 1, c] (the same floats), a k-step window becomes k x 1, and the
 * result is reshaped back. That is exact: a 1-wide window over a 1-wide
 * image, 'same' or 'valid', pads nothing along the width. Kernels keep
 * Keras' 1-D shapes as weights (Conv1D "kernel" [k, in, filters],
 * "depthwise_kernel" [k, in, dm], "pointwise_kernel" [1, in*dm, filters])
 * and are viewed as [k, 1, ...] for the 2-D op.
 *
 * Padding 'causal' (convolutions only) is Keras': (k - 1) * dilation zeros
 * before the first step, then 'valid', so output t sees inputs up to t.
 * UpSampling1D repeats every step `size` times (a concat along the unit
 * axis).
 *
 * data_format channels_first (input [batch, channels, steps]), which Keras
 * allows on the convolutions and the poolings, swaps the last two axes in
 * and out (cr_op_swap_last2) around the same computation. UpSampling1D,
 * ZeroPadding1D and Cropping1D have no data_format in Keras; one other than
 * channels_last is refused, naming the layer.
 */
#include "../internal.h"
#include "json.h"
#include "layers/window.h"

#include <math.h>

enum { PAD1_VALID, PAD1_SAME, PAD1_CAUSAL };

typedef struct win1 {
    int k, s, d;
    int pad;                  /* PAD1_* */
    bool cf;                  /* data_format channels_first */
} win1;

/* An int, or a list of one int (Keras 2 writes tuples: [3]). */
static int one_int(const cJSON *cfg, const char *key, int lo, int def, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v)) {
        if (def == CR_JSON_REQUIRED)
            return cr_fail(CREST_E_FORMAT, "'%s' is missing", key);
        *out = def;
        return CREST_OK;
    }
    if (cJSON_IsArray(v)) {
        if (cJSON_GetArraySize(v) != 1)
            return cr_fail(CREST_E_FORMAT, "'%s' has %d values (a 1-D layer takes one)", key,
                           cJSON_GetArraySize(v));
        v = cJSON_GetArrayItem(v, 0);
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > (1 << 16))
        return cr_fail(CREST_E_FORMAT, "'%s' is not an integer from %d to %d", key, lo, 1 << 16);
    *out = (int)v->valuedouble;
    return CREST_OK;
}

/* data_format: channels_last (default) or, where Keras has it (cf not
 * NULL), channels_first. */
static int data_format_1d(const cJSON *cfg, bool *cf)
{
    const char *df = NULL;
    int rc = cr_json_str(cfg, "data_format", "channels_last", &df);
    bool first = !rc && !strcmp(df, "channels_first");
    if (!rc && first && cf)
        *cf = true;
    else if (!rc && strcmp(df, "channels_last") != 0)
        rc = cr_fail(CREST_E_UNSUPPORTED, "data_format %s is not supported (%s)", df,
                     cf ? "channels_last, channels_first" : "this layer has no data_format in "
                     "Keras: channels_last only");
    return rc;
}

static const char *df_name(bool cf) { return cf ? "channels_first" : "channels_last"; }

/* kernel_size / pool_size, strides, dilation_rate, padding, data_format. */
static int win1_parse(const cJSON *cfg, const char *size_key, bool pool, win1 *w)
{
    memset(w, 0, sizeof *w);
    int rc = one_int(cfg, size_key, 1, pool ? 2 : CR_JSON_REQUIRED, &w->k);
    if (!rc)   /* pooling: strides null means pool_size */
        rc = one_int(cfg, "strides", 1, pool ? w->k : 1, &w->s);
    if (!rc && !pool)
        rc = one_int(cfg, "dilation_rate", 1, 1, &w->d);
    if (pool)
        w->d = 1;
    const char *pad = NULL;
    if (!rc)
        rc = cr_json_str(cfg, "padding", "valid", &pad);
    if (!rc) {
        if (!strcmp(pad, "same") || !strcmp(pad, "SAME"))
            w->pad = PAD1_SAME;
        else if (!pool && !strcmp(pad, "causal"))
            w->pad = PAD1_CAUSAL;
        else if (strcmp(pad, "valid") && strcmp(pad, "VALID"))
            rc = cr_fail(CREST_E_UNSUPPORTED, "padding '%s' is not supported (valid, same%s)",
                         pad, pool ? "" : ", causal");
    }
    if (!rc && !pool && w->s > 1 && w->d > 1)   /* Keras refuses it too */
        rc = cr_fail(CREST_E_FORMAT, "strides %d with dilation_rate %d (Keras allows only one "
                     "of them above 1)", w->s, w->d);
    if (!rc)
        rc = data_format_1d(cfg, &w->cf);
    return rc;
}

static const char *pad_name(int pad)
{
    return pad == PAD1_SAME ? "same" : pad == PAD1_CAUSAL ? "causal" : "valid";
}

static void win1_save(cJSON *cfg, const char *size_key, const win1 *w, bool pool)
{
    cr_json_put(cfg, size_key, cJSON_CreateIntArray(&w->k, 1));
    cr_json_put(cfg, "strides", cJSON_CreateIntArray(&w->s, 1));
    cJSON_AddStringToObject(cfg, "padding", pad_name(w->pad));
    cJSON_AddStringToObject(cfg, "data_format", df_name(w->cf));
    if (!pool)
        cr_json_put(cfg, "dilation_rate", cJSON_CreateIntArray(&w->d, 1));
}

/* ---- the unit-width view ------------------------------------------------ */

/* The input as [batch, steps, channels]: channels_first inputs swapped. */
static cr_node *need_steps(crest_layer *l, cr_graph *g, cr_node **in, int n_in, bool cf)
{
    if (!cr_one_input(g, l, n_in))
        return NULL;
    cr_node *x = in[0];
    if (!x)
        return NULL;
    if (x->shape.ndim != 3) {
        char s[96];
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': %s needs [batch, %s] input, got %s",
                             l->name, l->def->keras_class,
                             cf ? "channels, steps" : "steps, channels",
                             cr_dims_str(&x->shape, s, sizeof s));
    }
    return cf ? cr_op_swap_last2(g, x) : x;
}

/* A [batch, steps, channels] result back in the layer's data_format. */
static cr_node *out_format(cr_graph *g, cr_node *y, bool cf)
{
    return cf && y ? cr_op_swap_last2(g, y) : y;
}

/* A k-step window (dilation d) must fit x's steps under 'valid' padding;
 * said in the layer's terms rather than the 2-D op's. */
static bool window_fits(crest_layer *l, cr_graph *g, const cr_node *x, const win1 *w)
{
    int64_t ek = (int64_t)(w->k - 1) * w->d + 1, t = x->shape.d[1];
    if (w->pad != PAD1_VALID || ek <= t)
        return true;
    cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': %s: a %d-step window (dilation %d) does not "
                  "fit %lld steps with 'valid' padding", l->name, l->def->keras_class, w->k, w->d,
                  (long long)t);
    return false;
}

/* [b, t, c] -> [b, t, 1, c] */
static cr_node *to4(cr_graph *g, cr_node *x)
{
    return crest_op_reshape(g, x, crest_shape(3, -1, 1, (int)x->shape.d[2]));
}

/* [b, t, 1, c] -> [b, t, c] */
static cr_node *to3(cr_graph *g, cr_node *y)
{
    return y ? crest_op_reshape(g, y, crest_shape(2, -1, (int)y->shape.d[3])) : NULL;
}

/* A [k, a, b] weight viewed as [k, 1, a, b]. */
static cr_node *kernel4(cr_graph *g, cr_node *k)
{
    return k ? crest_op_reshape(g, k, crest_shape(3, 1, (int)k->shape.d[1],
                                                  (int)k->shape.d[2])) : NULL;
}

/* ---- Conv1D, DepthwiseConv1D, SeparableConv1D --------------------------- */

typedef struct conv1_cfg {
    win1 win;
    cr_conv_params p;
} conv1_cfg;

enum { K1_CONV = CR_CONV, K1_DEPTHWISE = CR_CONV_DEPTHWISE, K1_SEPARABLE = CR_CONV_SEPARABLE };

static cr_node *conv1_build_kind(crest_layer *l, cr_graph *g, cr_node **in, int n_in, int kind)
{
    const conv1_cfg *c = l->cfg;
    cr_node *x = need_steps(l, g, in, n_in, c->win.cf);
    if (!x || !window_fits(l, g, x, &c->win))
        return NULL;
    int cin = (int)x->shape.d[2], k = c->win.k;
    double kvals = (double)k * cin * (kind == K1_DEPTHWISE ? c->p.dm : c->p.filters) *
                   (kind == K1_SEPARABLE ? c->p.dm : 1);
    if (kvals > (double)(1 << 28))
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': a %d-step kernel over %d channels "
                             "has %.3g values, more than crest accepts (%d)", l->name, k, cin,
                             kvals, 1 << 28);
    cr_node *x4 = to4(g, x);
    if (c->win.pad == PAD1_CAUSAL)
        x4 = cr_op_pad2d(g, x4, (k - 1) * c->win.d, 0, 0, 0);
    crest_act fused = cr_activations[c->p.act].kernel != CR_ACT_NONE ? c->p.act : CREST_LINEAR;
    cr_conv_opts o = { .sh = c->win.s, .sw = 1, .dh = c->win.d, .dw = 1,
                       .same = c->win.pad == PAD1_SAME, .act = fused };
    cr_node *y;
    if (kind == K1_CONV) {
        cr_node *kn = cr_layer_var(g, "kernel", crest_shape(3, k, cin, c->p.filters), c->p.kinit,
                                   true);
        cr_node *b = c->p.use_bias ? cr_layer_var(g, "bias", crest_shape(1, c->p.filters),
                                                c->p.binit, true) : NULL;
        y = cr_op_conv2d(g, x4, kernel4(g, kn), b, &o);
        if (c->p.l2 > 0 && g->training)
            cr_graph_add_loss(g, cr_op_l2(g, kn, c->p.l2));
    } else {
        cr_node *dk = cr_layer_var(g, "depthwise_kernel", crest_shape(3, k, cin, c->p.dm),
                                   c->p.kinit, true);
        if (kind == K1_DEPTHWISE) {
            cr_node *b = c->p.use_bias ? cr_layer_var(g, "bias", crest_shape(1, cin * c->p.dm),
                                                    c->p.binit, true) : NULL;
            y = cr_op_depthwise2d(g, x4, kernel4(g, dk), b, &o);
        } else {
            cr_node *pk = cr_layer_var(g, "pointwise_kernel",
                                       crest_shape(3, 1, cin * c->p.dm, c->p.filters), c->p.pinit,
                                       true);
            cr_node *b = c->p.use_bias ? cr_layer_var(g, "bias", crest_shape(1, c->p.filters),
                                                    c->p.binit, true) : NULL;
            o.act = CREST_LINEAR;
            y = cr_op_depthwise2d(g, x4, kernel4(g, dk), NULL, &o);
            y = cr_op_conv2d(g, y, kernel4(g, pk), b, &(cr_conv_opts){ .act = fused });
        }
    }
    y = out_format(g, to3(g, y), c->win.cf);   /* then the activation: softmax's axis */
    return fused != CREST_LINEAR ? y : crest_op_activate(g, y, c->p.act);
}

static cr_node *conv1_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    return conv1_build_kind(l, g, in, n_in, K1_CONV);
}
static cr_node *dw1_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    return conv1_build_kind(l, g, in, n_in, K1_DEPTHWISE);
}
static cr_node *sep1_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    return conv1_build_kind(l, g, in, n_in, K1_SEPARABLE);
}

static int conv1_parse_kind(crest_layer *l, const cJSON *cfg, int kind)
{
    conv1_cfg *c = l->cfg;
    int rc = win1_parse(cfg, "kernel_size", false, &c->win);
    return rc ? rc : cr_conv_params_parse(cfg, (cr_conv_kind)kind, &c->p);
}

static int conv1_parse(crest_layer *l, const cJSON *cfg)
{
    return conv1_parse_kind(l, cfg, K1_CONV);
}
static int dw1_parse(crest_layer *l, const cJSON *cfg)
{
    return conv1_parse_kind(l, cfg, K1_DEPTHWISE);
}
static int sep1_parse(crest_layer *l, const cJSON *cfg)
{
    return conv1_parse_kind(l, cfg, K1_SEPARABLE);
}

static int conv1_save_kind(const crest_layer *l, cJSON *cfg, int kind)
{
    const conv1_cfg *c = l->cfg;
    if (kind != K1_DEPTHWISE)
        cJSON_AddNumberToObject(cfg, "filters", c->p.filters);
    win1_save(cfg, "kernel_size", &c->win, false);
    cr_conv_params_save(cfg, (cr_conv_kind)kind, &c->p);
    return CREST_OK;
}

static int conv1_save(const crest_layer *l, cJSON *cfg)
{
    return conv1_save_kind(l, cfg, K1_CONV);
}
static int dw1_save(const crest_layer *l, cJSON *cfg)
{
    return conv1_save_kind(l, cfg, K1_DEPTHWISE);
}
static int sep1_save(const crest_layer *l, cJSON *cfg)
{
    return conv1_save_kind(l, cfg, K1_SEPARABLE);
}

/* crest quantize folds a batch norm into the layer before it (a bias then) */
static void conv1_enable_bias(crest_layer *l) { ((conv1_cfg *)l->cfg)->p.use_bias = true; }

const cr_layer_def cr_conv1d_def = { .keras_class = "Conv1D", .default_name = "conv1d",
    .cfg_size = sizeof(conv1_cfg), .build = conv1_build, .parse = conv1_parse,
    .save = conv1_save, .enable_bias = conv1_enable_bias };
const cr_layer_def cr_depthwise_conv1d_def = { .keras_class = "DepthwiseConv1D",
    .default_name = "depthwise_conv1d", .cfg_size = sizeof(conv1_cfg), .build = dw1_build,
    .parse = dw1_parse, .save = dw1_save, .enable_bias = conv1_enable_bias };
const cr_layer_def cr_separable_conv1d_def = { .keras_class = "SeparableConv1D",
    .default_name = "separable_conv1d", .cfg_size = sizeof(conv1_cfg), .build = sep1_build,
    .parse = sep1_parse, .save = sep1_save, .enable_bias = conv1_enable_bias };

/* ---- MaxPooling1D, AveragePooling1D ------------------------------------- */

typedef struct { win1 win; bool max; } pool1_cfg;

static cr_node *pool1_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const pool1_cfg *c = l->cfg;
    cr_node *x = need_steps(l, g, in, n_in, c->win.cf);
    if (!x || !window_fits(l, g, x, &c->win))
        return NULL;
    cr_conv_opts o = { .sh = c->win.s, .sw = 1, .same = c->win.pad == PAD1_SAME };
    return out_format(g, to3(g, cr_op_pool2d(g, to4(g, x), c->max, c->win.k, 1, &o)),
                      c->win.cf);
}

static int pool1_parse_kind(crest_layer *l, const cJSON *cfg, bool max)
{
    pool1_cfg *c = l->cfg;
    c->max = max;
    return win1_parse(cfg, "pool_size", true, &c->win);
}
static int maxp1_parse(crest_layer *l, const cJSON *cfg) { return pool1_parse_kind(l, cfg, true); }
static int avgp1_parse(crest_layer *l, const cJSON *cfg)
{
    return pool1_parse_kind(l, cfg, false);
}

static int pool1_save(const crest_layer *l, cJSON *cfg)
{
    win1_save(cfg, "pool_size", &((const pool1_cfg *)l->cfg)->win, true);
    return CREST_OK;
}

const cr_layer_def cr_max_pooling1d_def = { .keras_class = "MaxPooling1D",
    .default_name = "max_pooling1d", .cfg_size = sizeof(pool1_cfg), .build = pool1_build,
    .parse = maxp1_parse, .save = pool1_save };
const cr_layer_def cr_average_pooling1d_def = { .keras_class = "AveragePooling1D",
    .default_name = "average_pooling1d", .cfg_size = sizeof(pool1_cfg), .build = pool1_build,
    .parse = avgp1_parse, .save = pool1_save };

/* ---- GlobalAveragePooling1D, GlobalMaxPooling1D -------------------------- */

typedef struct { bool keepdims, max, cf; } gpool1_cfg;

static cr_node *gpool1_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const gpool1_cfg *c = l->cfg;
    cr_node *x = need_steps(l, g, in, n_in, c->cf);
    if (!x)
        return NULL;
    cr_node *y = cr_op_global_pool(g, to4(g, x), c->max, false);   /* [b, c] */
    if (!c->keepdims || !y)
        return y;
    int ch = (int)y->shape.d[1];   /* [b, 1, c], or [b, c, 1] for channels_first */
    return crest_op_reshape(g, y, c->cf ? crest_shape(2, ch, 1) : crest_shape(2, 1, ch));
}

static int gpool1_parse_kind(crest_layer *l, const cJSON *cfg, bool max)
{
    gpool1_cfg *c = l->cfg;
    c->max = max;
    int rc = cr_json_bool(cfg, "keepdims", false, &c->keepdims);
    return rc ? rc : data_format_1d(cfg, &c->cf);
}
static int gmax1_parse(crest_layer *l, const cJSON *cfg)
{
    return gpool1_parse_kind(l, cfg, true);
}
static int gavg1_parse(crest_layer *l, const cJSON *cfg)
{
    return gpool1_parse_kind(l, cfg, false);
}

static int gpool1_save(const crest_layer *l, cJSON *cfg)
{
    const gpool1_cfg *c = l->cfg;
    cJSON_AddStringToObject(cfg, "data_format", df_name(c->cf));
    if (c->keepdims)   /* TF.js 4 has no keepdims: write it only when set */
        cJSON_AddBoolToObject(cfg, "keepdims", true);
    return CREST_OK;
}

const cr_layer_def cr_global_average_pooling1d_def = { .keras_class = "GlobalAveragePooling1D",
    .default_name = "global_average_pooling1d", .cfg_size = sizeof(gpool1_cfg),
    .build = gpool1_build, .parse = gavg1_parse, .save = gpool1_save };
const cr_layer_def cr_global_max_pooling1d_def = { .keras_class = "GlobalMaxPooling1D",
    .default_name = "global_max_pooling1d", .cfg_size = sizeof(gpool1_cfg),
    .build = gpool1_build, .parse = gmax1_parse, .save = gpool1_save };

/* ---- UpSampling1D -------------------------------------------------------- */

typedef struct { int size; } up1_cfg;

#define UP1_MAX 64    /* a concat of `size` views; larger factors are refused */

static cr_node *up1_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const up1_cfg *c = l->cfg;
    cr_node *x = need_steps(l, g, in, n_in, false);
    if (!x)
        return NULL;
    if (c->size == 1)
        return x;
    cr_node *x4 = to4(g, x), *xs[UP1_MAX];
    for (int i = 0; i < c->size; i++)
        xs[i] = x4;
    /* [b, t, size, c]: step i's copies sit together */
    cr_node *y = crest_op_concat(g, xs, c->size, 2);
    return y ? crest_op_reshape(g, y, crest_shape(2, -1, (int)x->shape.d[2])) : NULL;
}

static int up1_parse(crest_layer *l, const cJSON *cfg)
{
    up1_cfg *c = l->cfg;
    int rc = one_int(cfg, "size", 1, 2, &c->size);
    if (!rc && c->size > UP1_MAX)
        rc = cr_fail(CREST_E_UNSUPPORTED, "'size' %d: crest upsamples by at most %d", c->size,
                     UP1_MAX);
    return rc ? rc : data_format_1d(cfg, NULL);
}

static int up1_save(const crest_layer *l, cJSON *cfg)
{
    cJSON_AddNumberToObject(cfg, "size", ((const up1_cfg *)l->cfg)->size);
    return CREST_OK;
}

const cr_layer_def cr_up_sampling1d_def = { .keras_class = "UpSampling1D",
    .default_name = "up_sampling1d", .cfg_size = sizeof(up1_cfg), .build = up1_build,
    .parse = up1_parse, .save = up1_save };

/* ---- ZeroPadding1D, Cropping1D ------------------------------------------ */

typedef struct { int a, b; } ab_cfg;   /* steps before, after */

/* Keras' forms: n (both ends) or [before, after]. */
static int ab_parse(const cJSON *cfg, const char *key, int def, ab_cfg *c)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    int a[2] = { def, def };
    if (v && !cJSON_IsNull(v)) {
        bool ok = true;
        if (cJSON_IsNumber(v)) {
            a[0] = a[1] = (int)v->valuedouble;
            ok = v->valuedouble == floor(v->valuedouble) && v->valuedouble >= 0 &&
                 v->valuedouble <= (1 << 16);
        } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2) {
            for (int i = 0; i < 2 && ok; i++) {
                const cJSON *e = cJSON_GetArrayItem(v, i);
                ok = cJSON_IsNumber(e) && e->valuedouble == floor(e->valuedouble) &&
                     e->valuedouble >= 0 && e->valuedouble <= (1 << 16);
                if (ok)
                    a[i] = (int)e->valuedouble;
            }
        } else {
            ok = false;
        }
        if (!ok)
            return cr_fail(CREST_E_FORMAT, "'%s' is not n or [before, after] (integers from 0 "
                           "to %d)", key, 1 << 16);
    }
    *c = (ab_cfg){ a[0], a[1] };
    return data_format_1d(cfg, NULL);
}

static void ab_save(cJSON *cfg, const char *key, const ab_cfg *c)
{
    int ab[2] = { c->a, c->b };
    cr_json_put(cfg, key, cJSON_CreateIntArray(ab, 2));
}

static cr_node *pad1_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const ab_cfg *c = l->cfg;
    cr_node *x = need_steps(l, g, in, n_in, false);
    return x ? to3(g, cr_op_pad2d(g, to4(g, x), c->a, c->b, 0, 0)) : NULL;
}

static int pad1_parse(crest_layer *l, const cJSON *cfg)
{
    return ab_parse(cfg, "padding", 1, l->cfg);
}

static int pad1_save(const crest_layer *l, cJSON *cfg)
{
    ab_save(cfg, "padding", l->cfg);
    return CREST_OK;
}

const cr_layer_def cr_zero_padding1d_def = { .keras_class = "ZeroPadding1D",
    .default_name = "zero_padding1d", .cfg_size = sizeof(ab_cfg), .build = pad1_build,
    .parse = pad1_parse, .save = pad1_save };

static cr_node *crop1_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const ab_cfg *c = l->cfg;
    cr_node *x = need_steps(l, g, in, n_in, false);
    if (x && (int64_t)c->a + c->b >= x->shape.d[1])
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': Cropping1D: cropping %d and %d "
                             "leaves nothing of %lld steps", l->name, c->a, c->b,
                             (long long)x->shape.d[1]);
    return x ? to3(g, cr_op_crop2d(g, to4(g, x), c->a, c->b, 0, 0)) : NULL;
}

static int crop1_parse(crest_layer *l, const cJSON *cfg)
{
    return ab_parse(cfg, "cropping", 1, l->cfg);
}

static int crop1_save(const crest_layer *l, cJSON *cfg)
{
    ab_save(cfg, "cropping", l->cfg);
    return CREST_OK;
}

const cr_layer_def cr_cropping1d_def = { .keras_class = "Cropping1D",
    .default_name = "cropping1d", .cfg_size = sizeof(ab_cfg), .build = crop1_build,
    .parse = crop1_parse, .save = crop1_save };

crest_layer *cr_global_pooling1d(bool max)
{
    return cr_layer_new(max ? &cr_global_max_pooling1d_def : &cr_global_average_pooling1d_def,
                        &(gpool1_cfg){ false, max, false });
}
