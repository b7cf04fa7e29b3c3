/* onnx_ops.c - crest's ops as ONNX nodes (src/io/onnx_build.h): each op of
 * a traced inference graph mapped to the nodes computing it, 4-D values kept
 * in the layout their producer made (see src/io/onnx.c), a Transpose only
 * where a layout-sensitive op needs the other one. */
#include "onnx_build.h"
#include "../functional_graph.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values of crest nodes, in either layout ---------------------------- */

int cr_ox_fail_node(ox *o, const cr_node *n, int code, const char *why)
{
    if (!o->err)
        o->err = cr_fail(code, "layer '%s': %s (op %s) cannot be exported to ONNX",
                         n->layer ? n->layer : "?", why, n->op ? n->op->name : "?");
    return o->err;
}

static const char *weight_name(ox *o, const cr_node *p)
{
    const cr_weight *w = p->w;
    for (int i = 0; i < o->n_w; i++)
        if (o->w_done[i] == w)
            return o->w_name[i];
    if (o->n_w == o->cap_w) {
        int cap = o->cap_w ? 2 * o->cap_w : 64;
        const cr_weight **a = cr_realloc(o->w_done, (size_t)cap * sizeof *a);
        if (a)
            o->w_done = a;
        char **b = a ? cr_realloc(o->w_name, (size_t)cap * sizeof *b) : NULL;
        if (!b) {
            o->err = cr_fail(CREST_E_NOMEM, "out of memory writing ONNX");
            return NULL;
        }
        o->w_name = b;
        o->cap_w = cap;
    }
    char *name = w->owner ? cr_ox_str(o, "%s/%s", w->owner->name, w->name)
                          : cr_ox_str(o, "%s_%d", w->name ? w->name : "param", o->tmp++);
    int64_t dims[CR_MAX_DIMS];
    for (int i = 0; i < w->shape.ndim; i++)
        dims[i] = w->shape.d[i];
    if (!cr_ox_init(o, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, w->val,
                 (size_t)w->size * sizeof(float), dims, w->shape.ndim))
        return NULL;
    o->w_done[o->n_w] = w;
    o->w_name[o->n_w++] = name;
    return name;
}

static bool is4(const cr_node *n) { return n->shape.ndim == 4; }

/* A reshape of a weight as an initializer of the reshaped shape (made on
 * first use: a convolution reads the weight's values itself). */
static const char *reshaped_weight(ox *o, const cr_node *n)
{
    const cr_weight *w = cr_kernel_weight(n);
    int64_t dims[CR_MAX_DIMS];
    for (int i = 0; i < n->shape.ndim; i++)
        dims[i] = n->shape.d[i];
    return o->name[n->id] = cr_ox_init(o, cr_ox_fresh(o, w->name ? w->name : "param"),
                                       ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, w->val,
                                       (size_t)w->size * sizeof(float), dims, n->shape.ndim);
}

/* n's value in layout nchw (4-D values; others have one layout). */
const char *cr_ox_val(ox *o, const cr_node *n, bool nchw)
{
    if (o->err)
        return NULL;
    if (n->kind == CR_NODE_PARAM && !o->name[n->id])
        o->name[n->id] = (char *)weight_name(o, n);
    if (n->kind == CR_NODE_OP && !o->name[n->id] && cr_kernel_weight(n) && !reshaped_weight(o, n))
        return NULL;
    if (!is4(n) || o->nchw[n->id] == nchw)
        return o->name[n->id];
    if (!o->alt[n->id]) {
        char *t = cr_ox_fresh(o, nchw ? "to_nchw" : "to_nhwc");
        Onnx__NodeProto *tr = cr_ox_node(o, "Transpose", (const char *[]){ o->name[n->id] }, 1, t);
        cr_ox_attr_ints(o, tr, "perm", nchw ? (int64_t[]){ 0, 3, 1, 2 } : (int64_t[]){ 0, 2, 3, 1 }, 4);
        o->alt[n->id] = tr ? t : NULL;
    }
    return o->alt[n->id];
}

static char *out_of(ox *o, const cr_node *n, bool nchw)
{
    o->nchw[n->id] = nchw && is4(n);
    return o->name[n->id] = cr_ox_str(o, "v%d", n->id);
}

/* ---- activations -------------------------------------------------------- */

/* y = act(x) into out; x's layout is kept (softmax: channels are axis 1 of
 * an NCHW value). */
static bool emit_act(ox *o, const cr_node *n, int act, const char *x, bool nchw,
                     const char *out)
{
    char *t, *u;
    switch (act) {
    case CREST_LINEAR: return cr_ox_unary(o, "Identity", x, out);
    case CREST_RELU: return cr_ox_unary(o, "Relu", x, out);
    case CREST_RELU6:
        return cr_ox_node(o, "Clip", (const char *[]){ x, cr_ox_scalar_f32(o, 0), cr_ox_scalar_f32(o, 6) }, 3,
                       out);
    case CREST_SIGMOID: return cr_ox_unary(o, "Sigmoid", x, out);
    case CREST_TANH: return cr_ox_unary(o, "Tanh", x, out);
    case CREST_SOFTMAX: case CREST_LOG_SOFTMAX: {
        Onnx__NodeProto *s = cr_ox_node(o, act == CREST_SOFTMAX ? "Softmax" : "LogSoftmax", &x, 1,
                                     out);
        cr_ox_attr_i(o, s, "axis", nchw && is4(n) ? 1 : -1);
        return s;
    }
    case CREST_SWISH:
        t = cr_ox_unary(o, "Sigmoid", x, cr_ox_fresh(o, "sig"));
        return cr_ox_binary(o, "Mul", x, t, out);
    case CREST_HARD_SILU:        /* x * relu6(x + 3) / 6 */
        t = cr_ox_binary(o, "Add", x, cr_ox_scalar_f32(o, 3), cr_ox_fresh(o, "hs"));
        u = cr_ox_fresh(o, "hs");
        if (!t || !cr_ox_node(o, "Clip", (const char *[]){ t, cr_ox_scalar_f32(o, 0), cr_ox_scalar_f32(o, 6) },
                              3, u))
            return false;
        t = cr_ox_binary(o, "Mul", x, u, cr_ox_fresh(o, "hs"));
        return cr_ox_binary(o, "Div", t, cr_ox_scalar_f32(o, 6), out);
    case CREST_HARD_SIGMOID: case CREST_HARD_SIGMOID_KERAS3: {   /* Keras 2's; Keras 3's */
        Onnx__NodeProto *h = cr_ox_node(o, "HardSigmoid", &x, 1, out);
        cr_ox_attr_f(o, h, "alpha", act == CREST_HARD_SIGMOID ? 0.2f : 1.0f / 6.0f);
        cr_ox_attr_f(o, h, "beta", 0.5f);
        return h;
    }
    case CREST_ELU: {
        Onnx__NodeProto *e = cr_ox_node(o, "Elu", &x, 1, out);
        cr_ox_attr_f(o, e, "alpha", 1.0f);
        return e;
    }
    case CREST_SELU: return cr_ox_unary(o, "Selu", x, out);     /* ONNX's defaults are Keras' */
    case CREST_SOFTPLUS: return cr_ox_unary(o, "Softplus", x, out);
    case CREST_SOFTSIGN: return cr_ox_unary(o, "Softsign", x, out);
    case CREST_GELU:    /* exact: 0.5 x (1 + erf(x / sqrt 2)) */
        t = cr_ox_binary(o, "Mul", x, cr_ox_scalar_f32(o, 0.70710678118654752f), cr_ox_fresh(o, "g"));
        t = cr_ox_unary(o, "Erf", t, cr_ox_fresh(o, "g"));
        t = cr_ox_binary(o, "Add", t, cr_ox_scalar_f32(o, 1), cr_ox_fresh(o, "g"));
        u = cr_ox_binary(o, "Mul", x, cr_ox_scalar_f32(o, 0.5f), cr_ox_fresh(o, "g"));
        return cr_ox_binary(o, "Mul", u, t, out);
    case CREST_EXPONENTIAL: return cr_ox_unary(o, "Exp", x, out);
    case CREST_LEAKY_RELU: {
        Onnx__NodeProto *l = cr_ox_node(o, "LeakyRelu", &x, 1, out);
        cr_ox_attr_f(o, l, "alpha", 0.2f);
        return l;
    }
    case CREST_MISH:
        t = cr_ox_unary(o, "Softplus", x, cr_ox_fresh(o, "m"));
        t = cr_ox_unary(o, "Tanh", t, cr_ox_fresh(o, "m"));
        return cr_ox_binary(o, "Mul", x, t, out);
    default:
        return cr_ox_fail_node(o, n, CREST_E_UNSUPPORTED, "an activation with no ONNX mapping"), false;
    }
}

/* Keras ReLU(max_value, negative_slope, threshold):
 * x > threshold ? min(x, max_value) : slope * (x - threshold). */
static bool emit_relu_ex(ox *o, const cr_node *n, const char *x, const char *out)
{
    float mx, slope, th;
    cr_relu_ex_parts(n, &mx, &slope, &th);
    const char *hi = mx >= 0 ? cr_ox_binary(o, "Min", x, cr_ox_scalar_f32(o, mx), cr_ox_fresh(o, "r")) : x;
    const char *d = cr_ox_binary(o, "Sub", x, cr_ox_scalar_f32(o, th), cr_ox_fresh(o, "r"));
    const char *lo = cr_ox_binary(o, "Mul", d, cr_ox_scalar_f32(o, slope), cr_ox_fresh(o, "r"));
    const char *c = cr_ox_binary(o, "Greater", x, cr_ox_scalar_f32(o, th), cr_ox_fresh(o, "r"));
    return cr_ox_node(o, "Where", (const char *[]){ c, hi, lo }, 3, out);
}

/* ---- window ops --------------------------------------------------------- */

void cr_ox_pads(const cr_conv_geom *g, int64_t pads[4])
{
    int eh = (g->kh - 1) * g->dh + 1, ew = (g->kw - 1) * g->dw + 1;
    int pb = (g->oh - 1) * g->sh + eh - g->h - g->pt;
    int pr = (g->ow - 1) * g->sw + ew - g->w - g->pl;
    pads[0] = g->pt;
    pads[1] = g->pl;
    pads[2] = pb > 0 ? pb : 0;
    pads[3] = pr > 0 ? pr : 0;
}

/* Keras kernel [kh,kw,c,oc] (conv) or [kh,kw,c,dm] (depthwise) as ONNX's
 * [oc, c/group, kh, kw]; output channel ci*dm + j of a depthwise comes from
 * input channel ci, as in ONNX's groups of dm. */
static char *conv_weight(ox *o, const cr_node *n, bool depthwise)
{
    const cr_node *k = n->in[1];
    const cr_dims *s = &k->shape;
    const cr_weight *wt = cr_kernel_weight(k);
    const char *base = wt && wt->owner ? wt->owner->name : "kernel";
    char *name = cr_ox_str(o, "%s/%s_oihw", base, wt && wt->name ? wt->name : "kernel");
    for (size_t i = 0; name && i < o->g->n_initializer; i++)
        if (!strcmp(o->g->initializer[i]->name, name))
            return name;      /* a layer applied twice: one weight */
    int64_t kh = s->d[0], kw = s->d[1], c = s->d[2], m = s->d[3];
    int64_t oc = depthwise ? c * m : m, ic = depthwise ? 1 : c;
    float *w = cr_ox_alloc(o, (size_t)(kh * kw * c * m) * sizeof *w);
    if (!w)
        return NULL;
    const float *src = k->kind == CR_NODE_PARAM && k->val ? k->val : wt ? wt->val : NULL;
    if (!src)
        return cr_ox_fail_node(o, n, CREST_E_UNSUPPORTED, "a kernel that is not a weight"), NULL;
    for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++)
            for (int64_t ci = 0; ci < c; ci++)
                for (int64_t j = 0; j < m; j++) {
                    float v = src[((y * kw + x) * c + ci) * m + j];
                    int64_t oo = depthwise ? ci * m + j : j, ii = depthwise ? 0 : ci;
                    w[((oo * ic + ii) * kh + y) * kw + x] = v;
                }
    return cr_ox_init(o, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, w, (size_t)(kh * kw * c * m) * sizeof *w,
                   (int64_t[]){ oc, ic, kh, kw }, 4);
}

static bool emit_window(ox *o, const cr_node *n)
{
    cr_conv_geom g;
    int act;
    bool folded;
    if (!cr_window_parts(n, &g, &act, &folded))
        return cr_ox_fail_node(o, n, CREST_E_SHAPE, "a window op whose geometry is bad"), false;
    if (folded)
        return cr_ox_fail_node(o, n, CREST_E_UNSUPPORTED, "a folded batch norm"), false;
    const char *op = n->op->name;
    bool conv = !strcmp(op, "conv2d"), dw = !strcmp(op, "depthwise2d");
    if ((conv || dw) && (!cr_kernel_weight(n->in[1]) || (n->n_in == 3 &&
                                                             n->in[2]->kind != CR_NODE_PARAM)))
        return cr_ox_fail_node(o, n, CREST_E_UNSUPPORTED, "a kernel or bias that is not a weight"),
               false;
    int64_t pads[4];
    cr_ox_pads(&g, pads);
    const char *x = cr_ox_val(o, n->in[0], true);
    char *out = cr_ox_str(o, "v%d", n->id);
    char *y = act == CREST_LINEAR ? out : cr_ox_fresh(o, "pre");
    Onnx__NodeProto *node;
    if (conv || dw) {
        const char *in[3] = { x, conv_weight(o, n, dw), n->n_in == 3 ? cr_ox_val(o, n->in[2], true) : "" };
        node = cr_ox_node(o, "Conv", in, n->n_in == 3 ? 3 : 2, y);
        if (dw)
            cr_ox_attr_i(o, node, "group", g.c);
        cr_ox_attr_ints(o, node, "dilations", (int64_t[]){ g.dh, g.dw }, 2);
    } else {
        node = cr_ox_node(o, !strcmp(op, "maxpool2d") ? "MaxPool" : "AveragePool", &x, 1, y);
        /* crest averages over the cells inside the image: count_include_pad 0 */
    }
    cr_ox_attr_ints(o, node, "kernel_shape", (int64_t[]){ g.kh, g.kw }, 2);
    cr_ox_attr_ints(o, node, "strides", (int64_t[]){ g.sh, g.sw }, 2);
    cr_ox_attr_ints(o, node, "pads", pads, 4);
    if (!node)
        return false;
    if (act != CREST_LINEAR && !emit_act(o, n, act, y, true, out))
        return false;
    o->name[n->id] = out;
    o->nchw[n->id] = true;
    return true;
}

/* ---- the other ops ------------------------------------------------------ */

static bool emit_batchnorm(ox *o, const cr_node *n)
{
    cr_node *mean, *var, *gamma, *beta;
    float eps;
    cr_bn_parts(n, &mean, &var, &gamma, &beta, &eps);
    int64_t c = mean->shape.d[0];
    if (mean->kind != CR_NODE_PARAM || var->kind != CR_NODE_PARAM ||
        (gamma && gamma->kind != CR_NODE_PARAM) || (beta && beta->kind != CR_NODE_PARAM))
        return cr_ox_fail_node(o, n, CREST_E_UNSUPPORTED, "statistics that are not weights"), false;
    int r = n->shape.ndim;
    if (r == 4 || r == 2) {      /* BatchNormalization: channels on axis 1 */
        float *ones = NULL, *zeros = NULL;
        if (!gamma || !beta) {
            ones = cr_ox_alloc(o, (size_t)c * sizeof *ones);
            zeros = cr_ox_alloc(o, (size_t)c * sizeof *zeros);
            if (!ones || !zeros)
                return false;
            for (int64_t i = 0; i < c; i++)
                ones[i] = 1.0f;
        }
        const char *in[5] = {
            cr_ox_val(o, n->in[0], true),
            gamma ? cr_ox_val(o, gamma, true)
                  : cr_ox_init(o, cr_ox_fresh(o, "ones"), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, ones,
                            (size_t)c * sizeof(float), &c, 1),
            beta ? cr_ox_val(o, beta, true)
                 : cr_ox_init(o, cr_ox_fresh(o, "zeros"), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, zeros,
                           (size_t)c * sizeof(float), &c, 1),
            cr_ox_val(o, mean, true), cr_ox_val(o, var, true) };
        Onnx__NodeProto *b = cr_ox_node(o, "BatchNormalization", in, 5, out_of(o, n, true));
        cr_ox_attr_f(o, b, "epsilon", eps);
        return b;
    }
    /* other ranks: channels last, as a per-channel multiply-add whose
     * factors are computed here in double */
    float *mul = cr_ox_alloc(o, (size_t)c * sizeof *mul), *add = cr_ox_alloc(o, (size_t)c * sizeof *add);
    if (!mul || !add)
        return false;
    for (int64_t i = 0; i < c; i++) {
        double s = (gamma ? gamma->w->val[i] : 1.0) / sqrt((double)var->w->val[i] + eps);
        mul[i] = (float)s;
        add[i] = (float)((beta ? beta->w->val[i] : 0.0) - mean->w->val[i] * s);
    }
    const char *t = cr_ox_binary(o, "Mul", cr_ox_val(o, n->in[0], false),
                           cr_ox_init(o, cr_ox_fresh(o, "bn_mul"), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
                                   mul, (size_t)c * sizeof(float), &c, 1), cr_ox_fresh(o, "bn"));
    return cr_ox_binary(o, "Add", t,
                  cr_ox_init(o, cr_ox_fresh(o, "bn_add"), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, add,
                          (size_t)c * sizeof(float), &c, 1), out_of(o, n, false));
}

/* x [..., C] + bias [C]; on an NCHW value the bias is [C, 1, 1]. */
static bool emit_bias_add(ox *o, const cr_node *n)
{
    const cr_node *x = n->in[0], *b = n->in[1];
    bool nchw = is4(x) && o->nchw[x->id];
    const char *bv = cr_ox_val(o, b, false);
    if (nchw)
        bv = cr_ox_binary(o, "Reshape", bv, cr_ox_const_i64(o, "shape", (int64_t[]){ -1, 1, 1 }, 3),
                    cr_ox_fresh(o, "bias"));
    return cr_ox_binary(o, "Add", cr_ox_val(o, x, nchw), bv, out_of(o, n, nchw));
}

/* add / sub / mul with numpy broadcasting: two 4-D values in NCHW when
 * either already is; anything else in crest's own layout. */
static bool emit_elementwise(ox *o, const cr_node *n, const char *op_type)
{
    const cr_node *a = n->in[0], *b = n->in[1];
    bool nchw = is4(a) && is4(b) && (o->nchw[a->id] || o->nchw[b->id]);
    return cr_ox_binary(o, op_type, cr_ox_val(o, a, nchw), cr_ox_val(o, b, nchw), out_of(o, n, nchw));
}

static bool emit_concat(ox *o, const cr_node *n)
{
    int axis;
    cr_concat_axis(n, &axis);
    bool nchw = is4(n) && axis == 3;
    for (int i = 0; i < n->n_in && nchw; i++)
        nchw = is4(n->in[i]);
    const char **in = cr_ox_alloc(o, (size_t)n->n_in * sizeof *in);
    if (!in)
        return false;
    for (int i = 0; i < n->n_in; i++)
        in[i] = cr_ox_val(o, n->in[i], nchw);
    Onnx__NodeProto *c = cr_ox_node(o, "Concat", in, n->n_in, out_of(o, n, nchw));
    cr_ox_attr_i(o, c, "axis", nchw ? 1 : axis);
    return c;
}

static bool emit_reduce(ox *o, const cr_node *n, bool mean)
{
    int axis;
    bool keep;
    cr_reduce_parts(n, &axis, &keep);
    const char *x = cr_ox_val(o, n->in[0], false);
    Onnx__NodeProto *r;
    if (mean) {
        r = cr_ox_node(o, "ReduceMean", &x, 1, out_of(o, n, false));
        if (axis != CR_AXIS_ALL)
            cr_ox_attr_ints(o, r, "axes", (int64_t[]){ axis }, 1);
    } else if (axis != CR_AXIS_ALL) {
        r = cr_ox_node(o, "ReduceSum", (const char *[]){ x, cr_ox_const_i64(o, "axes", (int64_t[]){ axis }, 1) },
                    2, out_of(o, n, false));
    } else {
        r = cr_ox_node(o, "ReduceSum", &x, 1, out_of(o, n, false));
    }
    cr_ox_attr_i(o, r, "keepdims", keep);
    return r;
}

static bool emit_spatial(ox *o, const cr_node *n, const char *op)
{
    const char *x = cr_ox_val(o, n->in[0], true);
    if (!strcmp(op, "global_avgpool") || !strcmp(op, "global_maxpool")) {
        const char *type = op[7] == 'a' ? "GlobalAveragePool" : "GlobalMaxPool";
        if (is4(n))      /* keepdims: [n,c,1,1] is the NCHW of [n,1,1,c] */
            return cr_ox_unary(o, type, x, out_of(o, n, true));
        const char *t = cr_ox_unary(o, type, x, cr_ox_fresh(o, "gpool"));
        Onnx__NodeProto *f = cr_ox_node(o, "Flatten", &t, 1, out_of(o, n, false));
        cr_ox_attr_i(o, f, "axis", 1);
        return f;
    }
    int t, b, l, r;
    if (cr_pad_parts(n, &t, &b, &l, &r))
        return cr_ox_node(o, "Pad", (const char *[]){ x, cr_ox_const_i64(o, "pads",
                                   (int64_t[]){ 0, 0, t, l, 0, 0, b, r }, 8) }, 2,
                       out_of(o, n, true));
    cr_crop_parts(n, &t, &b, &l, &r);
    int64_t h = n->in[0]->shape.d[1], w = n->in[0]->shape.d[2];
    return cr_ox_node(o, "Slice", (const char *[]){ x, cr_ox_const_i64(o, "starts", (int64_t[]){ t, l }, 2),
                   cr_ox_const_i64(o, "ends", (int64_t[]){ h - b, w - r }, 2),
                   cr_ox_const_i64(o, "axes", (int64_t[]){ 2, 3 }, 2) }, 4, out_of(o, n, true));
}

/* An NCHW value whose height and width are 1 ([n,c,1,1], as global pooling
 * with keepdims makes) lies in memory as its NHWC form does: Flatten and
 * Reshape take it with no Transpose. */
static bool flat_same(const ox *o, const cr_node *x)
{
    return is4(x) && o->nchw[x->id] && x->shape.d[1] == 1 && x->shape.d[2] == 1;
}

/* Resize of x (NCHW) to oh x ow: the sizes [n, c, oh, ow] from x's shape
 * (the batch is dynamic). bilinear or nearest, source coordinates as
 * TF.js' upsampling (asymmetric: o * in / out) or, half_pixel, as
 * tf.image.resize ((o + 0.5) * in / out - 0.5; nearest: floor((o + 0.5) *
 * in / out), that coordinate rounded half up). */
static bool emit_resize(ox *o, const cr_node *n, bool bilinear, bool half_pixel)
{
    const char *x = cr_ox_val(o, n->in[0], true);
    const char *sh = cr_ox_unary(o, "Shape", x, cr_ox_fresh(o, "shape"));
    char *nc = cr_ox_fresh(o, "nc");
    if (!sh || !cr_ox_node(o, "Slice", (const char *[]){ sh, cr_ox_const_i64(o, "starts", (int64_t[]){ 0 }, 1),
                                         cr_ox_const_i64(o, "ends", (int64_t[]){ 2 }, 1) }, 3, nc))
        return false;
    const char *hw = cr_ox_const_i64(o, "hw", (int64_t[]){ n->shape.d[1], n->shape.d[2] }, 2);
    Onnx__NodeProto *c = cr_ox_node(o, "Concat", (const char *[]){ nc, hw }, 2, cr_ox_fresh(o, "sizes"));
    cr_ox_attr_i(o, c, "axis", 0);
    if (!c)
        return false;
    Onnx__NodeProto *r = cr_ox_node(o, "Resize", (const char *[]){ x, "", "", c->output[0] }, 4,
                                    out_of(o, n, true));
    cr_ox_attr_s(o, r, "mode", bilinear ? "linear" : "nearest");
    cr_ox_attr_s(o, r, "coordinate_transformation_mode", half_pixel ? "half_pixel" : "asymmetric");
    if (!bilinear)     /* half-pixel: floor(s + 0.5) of s = (o + 0.5) * in / out - 0.5 */
        cr_ox_attr_s(o, r, "nearest_mode", half_pixel ? "round_prefer_ceil" : "floor");
    return r;
}

/* Conv2DTranspose: ConvTranspose of the NCHW value, Keras' kernel [kh, kw,
 * oc, c] as ONNX's [c, oc, kh, kw]; crest's output size by the end pads,
 * or output_padding where it is longer than the gradient's span. */
static bool emit_tconv(ox *o, const cr_node *n)
{
    const cr_node *k = n->in[1];
    if (k->kind != CR_NODE_PARAM || !k->w)
        return cr_ox_fail_node(o, n, CREST_E_UNSUPPORTED, "a kernel that is not a weight"), false;
    int sh, sw, pt, pl;
    cr_tconv_parts(n, &sh, &sw, &pt, &pl);
    int64_t kh = k->shape.d[0], kw = k->shape.d[1], oc = k->shape.d[2], c = k->shape.d[3];
    int64_t eb = (n->in[0]->shape.d[1] - 1) * sh + kh - pt - n->shape.d[1];
    int64_t er = (n->in[0]->shape.d[2] - 1) * sw + kw - pl - n->shape.d[2];
    float *w = cr_ox_alloc(o, (size_t)(kh * kw * oc * c) * sizeof *w);
    if (!w)
        return false;
    for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++)
            for (int64_t j = 0; j < oc; j++)
                for (int64_t i = 0; i < c; i++)
                    w[((i * oc + j) * kh + y) * kw + x] = k->w->val[((y * kw + x) * oc + j) * c + i];
    const char *in[2] = { cr_ox_val(o, n->in[0], true),
                          cr_ox_init(o, cr_ox_fresh(o, "tconv_kernel"), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
                                     w, (size_t)(kh * kw * oc * c) * sizeof *w,
                                     (int64_t[]){ c, oc, kh, kw }, 4) };
    Onnx__NodeProto *t = cr_ox_node(o, "ConvTranspose", in, 2, out_of(o, n, true));
    cr_ox_attr_ints(o, t, "kernel_shape", (int64_t[]){ kh, kw }, 2);
    cr_ox_attr_ints(o, t, "strides", (int64_t[]){ sh, sw }, 2);
    cr_ox_attr_ints(o, t, "pads", (int64_t[]){ pt, pl, eb > 0 ? eb : 0, er > 0 ? er : 0 }, 4);
    if (eb < 0 || er < 0)
        cr_ox_attr_ints(o, t, "output_padding", (int64_t[]){ eb < 0 ? -eb : 0, er < 0 ? -er : 0 }, 2);
    return t;
}

/* Softmax or LogSoftmax over one axis (opset 13: that axis alone), in the
 * input's layout. */
static bool emit_softmax_axis(ox *o, const cr_node *n)
{
    int axis;
    bool lg;
    cr_softmax_axis_parts(n, &axis, &lg);
    const cr_node *x = n->in[0];
    bool nchw = is4(x) && o->nchw[x->id];
    const char *xv = cr_ox_val(o, x, nchw);
    Onnx__NodeProto *s = cr_ox_node(o, lg ? "LogSoftmax" : "Softmax", &xv, 1, out_of(o, n, nchw));
    cr_ox_attr_i(o, s, "axis", nchw ? (int[]){ 0, 2, 3, 1 }[axis] : axis);
    return s;
}

/* A weight's values as an initializer over n's trailing axes from `from`
 * (a per-feature factor broadcasting over the leading ones). */
static const char *trailing_const(ox *o, const cr_node *n, int from, const float *v, int64_t count)
{
    int64_t dims[CR_MAX_DIMS];
    int nd = 0;
    for (int i = from; i < n->shape.ndim; i++)
        dims[nd++] = n->shape.d[i];
    return cr_ox_const_f32(o, "w", v, count, dims, nd);
}

/* LayerNormalization over the trailing axes (opset 13 has no operator):
 * d = x - mean, y = d / sqrt(mean(d^2) + eps) * gamma + beta, on the NHWC
 * value. */
static bool emit_layernorm(ox *o, const cr_node *n)
{
    int axes;
    float eps;
    cr_node *gamma, *beta;
    cr_layernorm_parts(n, &axes, &eps, &gamma, &beta);
    if ((gamma && (gamma->kind != CR_NODE_PARAM || !gamma->w)) ||
        (beta && (beta->kind != CR_NODE_PARAM || !beta->w)))
        return cr_ox_fail_node(o, n, CREST_E_UNSUPPORTED, "a gamma or beta that is not a weight"), false;
    int r = n->shape.ndim, from = r - axes;
    int64_t ax[CR_MAX_DIMS];
    for (int i = 0; i < axes; i++)
        ax[i] = from + i;
    const char *x = cr_ox_val(o, n->in[0], false);
    Onnx__NodeProto *m = cr_ox_node(o, "ReduceMean", &x, 1, cr_ox_fresh(o, "ln_mean"));
    cr_ox_attr_ints(o, m, "axes", ax, axes);
    const char *d = m ? cr_ox_binary(o, "Sub", x, m->output[0], cr_ox_fresh(o, "ln_d")) : NULL;
    const char *sq = d ? cr_ox_binary(o, "Mul", d, d, cr_ox_fresh(o, "ln_sq")) : NULL;
    Onnx__NodeProto *v = sq ? cr_ox_node(o, "ReduceMean", &sq, 1, cr_ox_fresh(o, "ln_var")) : NULL;
    cr_ox_attr_ints(o, v, "axes", ax, axes);
    if (!v)
        return false;
    const char *sd = cr_ox_binary(o, "Add", v->output[0], cr_ox_scalar_f32(o, eps), cr_ox_fresh(o, "ln_v"));
    sd = cr_ox_unary(o, "Sqrt", sd, cr_ox_fresh(o, "ln_sd"));
    const char *y = cr_ox_binary(o, "Div", d, sd, gamma || beta ? cr_ox_fresh(o, "ln_h") : out_of(o, n, false));
    if (gamma)
        y = cr_ox_binary(o, "Mul", y, trailing_const(o, n, from, gamma->w->val, gamma->w->size),
                         beta ? cr_ox_fresh(o, "ln_g") : out_of(o, n, false));
    if (beta)
        y = cr_ox_binary(o, "Add", y, trailing_const(o, n, from, beta->w->val, beta->w->size),
                         out_of(o, n, false));
    return y;
}

/* Keras' Normalization: (x - mean) / max(sqrt(var), eps), or inverted x *
 * den + mean, the denominators computed here as crest does (float). */
static bool emit_normalize(ox *o, const cr_node *n)
{
    float eps;
    bool inv;
    cr_normalize_parts(n, &eps, &inv);
    const cr_node *mean = n->in[1], *var = n->in[2];
    if (mean->kind != CR_NODE_PARAM || !mean->w || var->kind != CR_NODE_PARAM || !var->w)
        return cr_ox_fail_node(o, n, CREST_E_UNSUPPORTED, "statistics that are not weights"), false;
    int64_t m = mean->w->size;
    float *den = cr_ox_alloc(o, (size_t)m * sizeof *den);
    if (!den)
        return false;
    for (int64_t i = 0; i < m; i++) {
        float s = sqrtf(var->w->val[i] > 0 ? var->w->val[i] : 0);
        den[i] = s > eps ? s : eps;
    }
    int from = n->shape.ndim;     /* the trailing axes m covers (none: a scalar) */
    for (int64_t t = 1, i = n->shape.ndim - 1; m > 1 && i >= 1; i--) {
        t *= n->shape.d[i];
        if (t == m) {
            from = (int)i;
            break;
        }
    }
    const char *x = cr_ox_val(o, n->in[0], false);
    const char *mv = trailing_const(o, n, from, mean->w->val, m);
    const char *dv = trailing_const(o, n, from, den, m);
    if (inv) {
        const char *t = cr_ox_binary(o, "Mul", x, dv, cr_ox_fresh(o, "nz"));
        return cr_ox_binary(o, "Add", t, mv, out_of(o, n, false));
    }
    const char *t = cr_ox_binary(o, "Sub", x, mv, cr_ox_fresh(o, "nz"));
    return cr_ox_binary(o, "Div", t, dv, out_of(o, n, false));
}

/* Dot's l2_normalize: x / sqrt(max(sum x^2, eps)) over one axis. */
static bool emit_l2_normalize(ox *o, const cr_node *n)
{
    int axis;
    float eps;
    cr_l2_normalize_parts(n, &axis, &eps);
    const char *x = cr_ox_val(o, n->in[0], false);
    Onnx__NodeProto *s = cr_ox_node(o, "ReduceSumSquare", &x, 1, cr_ox_fresh(o, "l2"));
    cr_ox_attr_ints(o, s, "axes", (int64_t[]){ axis }, 1);
    if (!s)
        return false;
    const char *m = cr_ox_binary(o, "Max", s->output[0], cr_ox_scalar_f32(o, eps), cr_ox_fresh(o, "l2"));
    m = cr_ox_unary(o, "Sqrt", m, cr_ox_fresh(o, "l2"));
    return cr_ox_binary(o, "Div", x, m, out_of(o, n, false));
}

/* v (NHWC, shape s) with axis ax moved last (last) or first after the
 * batch (!last), as [batch, others, K] or [batch, K, others]. */
static const char *dot_side(ox *o, const cr_node *v, int ax, bool last)
{
    const cr_dims *s = &v->shape;
    int64_t perm[CR_MAX_DIMS], rest = 1;
    int k = 1;
    perm[0] = 0;
    if (!last)
        perm[k++] = ax;
    for (int i = 1; i < s->ndim; i++)
        if (i != ax) {
            perm[k++] = i;
            rest *= s->d[i];
        }
    if (last)
        perm[k++] = ax;
    const char *x = cr_ox_val(o, v, false);
    Onnx__NodeProto *t = cr_ox_node(o, "Transpose", &x, 1, cr_ox_fresh(o, "dot_t"));
    cr_ox_attr_ints(o, t, "perm", perm, s->ndim);
    if (!t)
        return NULL;
    int64_t shape[3] = { 0, last ? rest : s->d[ax], last ? s->d[ax] : rest };
    return cr_ox_binary(o, "Reshape", t->output[0], cr_ox_const_i64(o, "shape", shape, 3),
                        cr_ox_fresh(o, "dot_r"));
}

/* Keras' batch_dot: x as [batch, M, K], y as [batch, K, N], MatMul, then
 * the output's shape (x's other axes, then y's). */
static bool emit_batch_dot(ox *o, const cr_node *n)
{
    int ax, ay;
    cr_batch_dot_parts(n, &ax, &ay);
    const char *a = dot_side(o, n->in[0], ax, true), *b = a ? dot_side(o, n->in[1], ay, false) : NULL;
    const char *p = b ? cr_ox_binary(o, "MatMul", a, b, cr_ox_fresh(o, "dot")) : NULL;
    int64_t shape[CR_MAX_DIMS] = { 0 };
    for (int i = 1; i < n->shape.ndim; i++)
        shape[i] = n->shape.d[i];
    return p && cr_ox_binary(o, "Reshape", p, cr_ox_const_i64(o, "shape", shape, n->shape.ndim),
                             out_of(o, n, false));
}

/* RepeatVector: [b, F] -> [b, times, F] by Unsqueeze and Tile. */
static bool emit_repeat(ox *o, const cr_node *n)
{
    const char *u = cr_ox_binary(o, "Unsqueeze", cr_ox_val(o, n->in[0], false),
                                 cr_ox_const_i64(o, "axes", (int64_t[]){ 1 }, 1), cr_ox_fresh(o, "rep"));
    return cr_ox_binary(o, "Tile", u, cr_ox_const_i64(o, "repeats", (int64_t[]){ 1, n->shape.d[1], 1 }, 3),
                        out_of(o, n, false));
}

/* Keras' Permute: a Transpose of the NHWC value (batch first). */
static bool emit_transpose(ox *o, const cr_node *n)
{
    int perm[CR_MAX_DIMS], k;
    int64_t p[CR_MAX_DIMS];
    cr_transpose_parts(n, perm, &k);
    for (int i = 0; i < k; i++)
        p[i] = perm[i];
    const char *x = cr_ox_val(o, n->in[0], false);
    Onnx__NodeProto *t = cr_ox_node(o, "Transpose", &x, 1, out_of(o, n, false));
    cr_ox_attr_ints(o, t, "perm", p, k);
    return t;
}

/* ---- 3-D ops: NDHWC values, the windows on their NCDHW transpose ------- */

static const char *to_ncdhw(ox *o, const cr_node *x)
{
    const char *v = cr_ox_val(o, x, false);
    Onnx__NodeProto *t = cr_ox_node(o, "Transpose", &v, 1, cr_ox_fresh(o, "ncdhw"));
    cr_ox_attr_ints(o, t, "perm", (int64_t[]){ 0, 4, 1, 2, 3 }, 5);
    return t ? t->output[0] : NULL;
}

static bool from_ncdhw(ox *o, const cr_node *n, const char *y)
{
    Onnx__NodeProto *t = y ? cr_ox_node(o, "Transpose", &y, 1, out_of(o, n, false)) : NULL;
    cr_ox_attr_ints(o, t, "perm", (int64_t[]){ 0, 2, 3, 4, 1 }, 5);
    return t;
}

/* Keras' 3-D kernel [kd, kh, kw, a, b] as ONNX's [b, a, kd, kh, kw]
 * (conv3d: a input channels, b filters; transposed: a filters, b input
 * channels, ONNX's [c, filters, ...]). */
static const char *vol_kernel(ox *o, const cr_node *k)
{
    const int64_t *d = k->shape.d;
    int64_t taps = d[0] * d[1] * d[2], a = d[3], b = d[4];
    float *w = cr_ox_alloc(o, (size_t)(taps * a * b) * sizeof *w);
    if (!w)
        return NULL;
    for (int64_t t = 0; t < taps; t++)
        for (int64_t i = 0; i < a; i++)
            for (int64_t j = 0; j < b; j++)
                w[(j * a + i) * taps + t] = k->w->val[(t * a + i) * b + j];
    return cr_ox_init(o, cr_ox_fresh(o, "kernel3d"), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, w,
                      (size_t)(taps * a * b) * sizeof *w, (int64_t[]){ b, a, d[0], d[1], d[2] }, 5);
}

/* Conv3D, Conv3DTranspose, MaxPooling3D, AveragePooling3D: Conv,
 * ConvTranspose (end pads or output_padding give crest's size, as in 2-D),
 * MaxPool, AveragePool (count_include_pad 0: crest averages the cells
 * inside). */
static bool emit_vol_window(ox *o, const cr_node *n)
{
    int k[3], s[3], dil[3], pb[3];
    cr_vol_window_parts(n, k, s, dil, pb);
    const char *op = n->op->name;
    bool conv = !strcmp(op, "conv3d"), tconv = !strcmp(op, "conv3d_transpose");
    if ((conv || tconv) && (n->in[1]->kind != CR_NODE_PARAM || !n->in[1]->w ||
                            (n->n_in == 3 && (n->in[2]->kind != CR_NODE_PARAM || !n->in[2]->w))))
        return cr_ox_fail_node(o, n, CREST_E_UNSUPPORTED, "a kernel or bias that is not a weight"), false;
    int64_t pads[6], outpad[3] = { 0, 0, 0 }, ks[3], ss[3], ds[3];
    bool extra = false;
    for (int i = 0; i < 3; i++) {
        int64_t in = n->in[0]->shape.d[i + 1], out = n->shape.d[i + 1], ek = (int64_t)(k[i] - 1) * dil[i] + 1;
        int64_t end = tconv ? (in - 1) * s[i] + k[i] - pb[i] - out : (out - 1) * s[i] + ek - in - pb[i];
        pads[i] = pb[i];
        pads[i + 3] = end > 0 ? end : 0;
        outpad[i] = tconv && end < 0 ? -end : 0;
        extra |= outpad[i] != 0;
        ks[i] = k[i];
        ss[i] = s[i];
        ds[i] = dil[i];
    }
    const char *x = to_ncdhw(o, n->in[0]), *y = cr_ox_fresh(o, "vol");
    Onnx__NodeProto *node;
    if (conv || tconv) {
        const char *in[3] = { x, vol_kernel(o, n->in[1]), n->n_in == 3 ? cr_ox_val(o, n->in[2], false) : "" };
        node = cr_ox_node(o, conv ? "Conv" : "ConvTranspose", in, n->n_in == 3 ? 3 : 2, y);
        if (conv)
            cr_ox_attr_ints(o, node, "dilations", ds, 3);
        if (extra)
            cr_ox_attr_ints(o, node, "output_padding", outpad, 3);
    } else {
        node = x ? cr_ox_node(o, !strcmp(op, "maxpool3d") ? "MaxPool" : "AveragePool", &x, 1, y) : NULL;
    }
    cr_ox_attr_ints(o, node, "kernel_shape", ks, 3);
    cr_ox_attr_ints(o, node, "strides", ss, 3);
    cr_ox_attr_ints(o, node, "pads", pads, 6);
    return node && from_ncdhw(o, n, y);
}

/* Global 3-D pooling, 3-D zero padding (Pad), cropping (Slice) and
 * nearest upsampling (Resize by the integer factors). */
static bool emit_vol_other(ox *o, const cr_node *n)
{
    const char *op = n->op->name;
    int a[6];
    if (!strcmp(op, "global_avgpool3d") || !strcmp(op, "global_maxpool3d")) {
        const char *x = to_ncdhw(o, n->in[0]);
        const char *t = x ? cr_ox_unary(o, op[7] == 'a' ? "GlobalAveragePool" : "GlobalMaxPool", x,
                                        cr_ox_fresh(o, "gpool")) : NULL;
        if (n->shape.ndim == 5)
            return from_ncdhw(o, n, t);
        Onnx__NodeProto *f = t ? cr_ox_node(o, "Flatten", &t, 1, out_of(o, n, false)) : NULL;
        cr_ox_attr_i(o, f, "axis", 1);
        return f;
    }
    const char *x = cr_ox_val(o, n->in[0], false);
    if (cr_vol_amounts(n, a) && !strcmp(op, "zero_pad3d"))
        return cr_ox_binary(o, "Pad", x, cr_ox_const_i64(o, "pads", (int64_t[]){ 0, a[0], a[2], a[4], 0,
                                                                           0, a[1], a[3], a[5], 0 }, 10),
                            out_of(o, n, false));
    if (cr_vol_amounts(n, a)) {
        const int64_t *d = n->in[0]->shape.d;
        return cr_ox_node(o, "Slice", (const char *[]){ x, cr_ox_const_i64(o, "starts", (int64_t[]){ a[0], a[2], a[4] }, 3),
                                         cr_ox_const_i64(o, "ends", (int64_t[]){ d[1] - a[1], d[2] - a[3], d[3] - a[5] }, 3),
                                         cr_ox_const_i64(o, "axes", (int64_t[]){ 1, 2, 3 }, 3) }, 4,
                          out_of(o, n, false));
    }
    int sz[3];
    cr_upsample3d_parts(n, sz);
    const float sc[5] = { 1, (float)sz[0], (float)sz[1], (float)sz[2], 1 };
    Onnx__NodeProto *r = cr_ox_node(o, "Resize", (const char *[]){ x, "", cr_ox_const_f32(o, "scales", sc, 5,
                                                                                   (int64_t[]){ 5 }, 1) },
                                    3, out_of(o, n, false));
    cr_ox_attr_s(o, r, "mode", "nearest");
    cr_ox_attr_s(o, r, "coordinate_transformation_mode", "asymmetric");
    cr_ox_attr_s(o, r, "nearest_mode", "floor");
    return r;
}

/* The ops of Keras layers beyond convolutions, pooling and Dense: 1, done;
 * 0, an error (recorded); -1, not one of them. */
static int emit_layer_op(ox *o, const cr_node *n)
{
    const char *op = n->op->name;
    if (!strcmp(op, "transpose"))
        return (int)emit_transpose(o, n);
    if (!strcmp(op, "conv2d_transpose"))
        return (int)emit_tconv(o, n);
    if (!strcmp(op, "softmax_axis"))
        return (int)emit_softmax_axis(o, n);
    if (!strcmp(op, "layernorm"))
        return (int)emit_layernorm(o, n);
    if (!strcmp(op, "normalize"))
        return (int)emit_normalize(o, n);
    if (!strcmp(op, "repeat"))
        return (int)emit_repeat(o, n);
    if (!strcmp(op, "l2_normalize"))
        return (int)emit_l2_normalize(o, n);
    int k[3], st[3], dl[3], pb[3];
    if (cr_vol_window_parts(n, k, st, dl, pb))
        return (int)emit_vol_window(o, n);
    if (!strcmp(op, "global_avgpool3d") || !strcmp(op, "global_maxpool3d") || !strcmp(op, "zero_pad3d") ||
        !strcmp(op, "crop3d") || !strcmp(op, "upsample3d"))
        return (int)emit_vol_other(o, n);
    if (!strcmp(op, "batch_dot"))
        return (int)emit_batch_dot(o, n);
    int count;
    const float *scale, *offset;
    if (cr_channel_affine_parts(n, &count, &scale, &offset)) {   /* per channel: the last axis */
        int64_t c = count;
        const char *x = cr_ox_val(o, n->in[0], false);
        const char *t = cr_ox_binary(o, "Mul", x, cr_ox_const_f32(o, "scale", scale, c, &c, 1),
                                     cr_ox_fresh(o, "aff"));
        return cr_ox_binary(o, "Add", t, cr_ox_const_f32(o, "offset", offset, c, &c, 1),
                            out_of(o, n, false)) != NULL;
    }
    if (!strcmp(op, "maximum") || !strcmp(op, "minimum"))
        return (int)emit_elementwise(o, n, op[1] == 'a' ? "Max" : "Min");
    float alpha;
    if (cr_elu_alpha_parts(n, &alpha)) {
        const cr_node *x = n->in[0];
        bool nchw = is4(x) && o->nchw[x->id];
        const char *xv = cr_ox_val(o, x, nchw);
        Onnx__NodeProto *e = cr_ox_node(o, "Elu", &xv, 1, out_of(o, n, nchw));
        cr_ox_attr_f(o, e, "alpha", alpha);
        return e != NULL;
    }
    bool flag;
    if (cr_upsample2d_parts(n, &flag))
        return (int)emit_resize(o, n, flag, false);
    if (cr_resize_parts(n, &flag))
        return (int)emit_resize(o, n, !flag, true);
    return -1;
}

bool cr_ox_emit_op(ox *o, const cr_node *n)
{
    const char *op = n->op->name;
    const cr_act_def *a = cr_act_of(n);
    if (a) {
        const cr_node *x = n->in[0];
        bool nchw = is4(x) && o->nchw[x->id];
        return emit_act(o, n, a->id, cr_ox_val(o, x, nchw), nchw, out_of(o, n, nchw));
    }
    if (!strcmp(op, "conv2d") || !strcmp(op, "depthwise2d") || !strcmp(op, "maxpool2d") ||
        !strcmp(op, "avgpool2d"))
        return emit_window(o, n);
    if (!strcmp(op, "batchnorm"))
        return emit_batchnorm(o, n);
    if (!strcmp(op, "bias_add"))
        return emit_bias_add(o, n);
    if (!strcmp(op, "add") || !strcmp(op, "sub") || !strcmp(op, "mul"))
        return emit_elementwise(o, n, op[0] == 'a' ? "Add" : op[0] == 's' ? "Sub" : "Mul");
    if (!strcmp(op, "matmul"))
        return cr_ox_binary(o, "MatMul", cr_ox_val(o, n->in[0], false), cr_ox_val(o, n->in[1], false),
                      out_of(o, n, false));
    if (!strcmp(op, "dropout")) {    /* inference: the identity */
        const cr_node *x = n->in[0];
        if (!cr_ox_val(o, x, false))
            return false;
        o->name[n->id] = o->name[x->id];
        o->alt[n->id] = o->alt[x->id];
        o->nchw[n->id] = o->nchw[x->id];
        return true;
    }
    if (!strcmp(op, "relu_ex")) {
        const cr_node *x = n->in[0];
        bool nchw = is4(x) && o->nchw[x->id];
        return emit_relu_ex(o, n, cr_ox_val(o, x, nchw), out_of(o, n, nchw));
    }
    if (!strcmp(op, "scale")) {
        float mul, add;
        cr_scale_parts(n, &mul, &add);
        const cr_node *x = n->in[0];
        bool nchw = is4(x) && o->nchw[x->id];
        const char *t = cr_ox_binary(o, "Mul", cr_ox_val(o, x, nchw), cr_ox_scalar_f32(o, mul), cr_ox_fresh(o, "s"));
        return cr_ox_binary(o, "Add", t, cr_ox_scalar_f32(o, add), out_of(o, n, nchw));
    }
    if (!strcmp(op, "flatten")) {
        const char *x = cr_ox_val(o, n->in[0], flat_same(o, n->in[0]));
        Onnx__NodeProto *f = cr_ox_node(o, "Flatten", &x, 1, out_of(o, n, false));
        cr_ox_attr_i(o, f, "axis", 1);
        return f;
    }
    if (!strcmp(op, "reshape") && cr_kernel_weight(n))
        return true;       /* a weight viewed in another shape: made where used */
    int r = emit_layer_op(o, n);
    if (r >= 0)
        return r;
    if (!strcmp(op, "reshape")) {
        int64_t shape[CR_MAX_DIMS] = { 0 };    /* 0: the input's batch */
        for (int i = 1; i < n->shape.ndim; i++)
            shape[i] = n->shape.d[i];
        return cr_ox_binary(o, "Reshape", cr_ox_val(o, n->in[0], flat_same(o, n->in[0])),
                      cr_ox_const_i64(o, "shape", shape, n->shape.ndim), out_of(o, n, false));
    }
    if (!strcmp(op, "concat"))
        return emit_concat(o, n);
    if (!strcmp(op, "sum") || !strcmp(op, "mean"))
        return emit_reduce(o, n, op[0] == 'm');
    if (!strcmp(op, "global_avgpool") || !strcmp(op, "global_maxpool") ||
        !strcmp(op, "zero_pad2d") || !strcmp(op, "crop2d"))
        return emit_spatial(o, n, op);
    if (!strcmp(op, "embedding_bag") || !strcmp(op, "slice_cols"))
        return cr_ox_fail_node(o, n, CREST_E_UNSUPPORTED, "a feature-column op"), false;
    return cr_ox_fail_node(o, n, CREST_E_UNSUPPORTED, "an op with no ONNX mapping"), false;
}
