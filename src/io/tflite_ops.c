/* tflite_ops.c - crest's ops as TFLite builtin operators (see
 * src/io/tflite.c): each op of a traced inference graph mapped to the
 * operators computing it, as TensorFlow's converter writes a Keras model: a
 * batch norm whose only input is a convolution's output is folded into its
 * kernel and bias, a Dense layer's bias add goes into FULLY_CONNECTED, and
 * a ReLU or ReLU6 that alone reads a convolution or Dense output is its
 * fused activation. Activations TFLite has no builtin for are composed
 * of builtins (swish = x * LOGISTIC(x), softplus = RELU(x) + LOG(1 +
 * EXP(-|x|)), ...). */
#include "tflite_build.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

bool cr_tl_fail_node(tl *t, const cr_node *n, int code, const char *why)
{
    if (!t->err)
        t->err = cr_fail(code, "layer '%s': %s (op %s) cannot be exported to TFLite",
                         n->layer ? n->layer : "?", why, n->op ? n->op->name : "?");
    return false;
}

/* ---- tensors of crest nodes --------------------------------------------- */

static int weight_tensor(tl *t, const cr_node *p)
{
    const cr_weight *w = p->w;
    for (int i = 0; i < t->n_w; i++)
        if (t->w[i] == w)
            return t->w_t[i];
    if (t->n_w == t->cap_w) {
        int cap = t->cap_w ? 2 * t->cap_w : 64;
        const cr_weight **a = cr_realloc(t->w, (size_t)cap * sizeof *a);
        if (a)
            t->w = a;
        int *b = a ? cr_realloc(t->w_t, (size_t)cap * sizeof *b) : NULL;
        if (!b) {
            t->err = cr_fail(CREST_E_NOMEM, "out of memory writing TFLite");
            return -1;
        }
        t->w_t = b;
        t->cap_w = cap;
    }
    int32_t shape[CR_MAX_DIMS];
    for (int i = 0; i < w->shape.ndim; i++)
        shape[i] = (int32_t)w->shape.d[i];
    const char *name = w->owner ? cr_tl_str(t, "%s/%s", w->owner->name, w->name)
                                : cr_tl_str(t, "%s_%d", w->name ? w->name : "param", t->n_t);
    int k = cr_tl_const(t, name, TFL_FLOAT32, w->val, shape, w->shape.ndim);
    if (k < 0)
        return -1;
    t->w[t->n_w] = w;
    t->w_t[t->n_w++] = k;
    return k;
}

/* A reshape of a weight as a constant tensor of the reshaped shape. */
static int reshaped_weight(tl *t, const cr_node *n)
{
    const cr_weight *w = cr_kernel_weight(n);
    int32_t shape[CR_MAX_DIMS];
    for (int i = 0; i < n->shape.ndim; i++)
        shape[i] = (int32_t)n->shape.d[i];
    return cr_tl_const(t, cr_tl_str(t, "%s_%d", w->name ? w->name : "param", t->n_t), TFL_FLOAT32,
                       w->val, shape, n->shape.ndim);
}

int cr_tl_val(tl *t, const cr_node *n)
{
    if (t->err)
        return -1;
    if (t->tensor[n->id] < 0 && n->kind == CR_NODE_PARAM)
        t->tensor[n->id] = weight_tensor(t, n);
    if (t->tensor[n->id] < 0 && n->kind == CR_NODE_OP && cr_kernel_weight(n))
        t->tensor[n->id] = reshaped_weight(t, n);
    if (t->tensor[n->id] < 0 && !t->err)
        t->err = cr_fail(CREST_E_INTERNAL, "TFLite: node %d of layer '%s' used before it "
                         "was written", n->id, n->layer ? n->layer : "?");
    int k = t->tensor[n->id];
    return cr_tl_isq(t, k) ? cr_tl_dequantized(t, n, k) : k;
}

/* A new tensor of n's shape, named after it. */
static int fresh(tl *t, const cr_node *n)
{
    return cr_tl_tensor_dims(t, cr_tl_str(t, "%s/%s_%d", n->layer ? n->layer : "v",
                                          n->op ? n->op->name : "value", t->n_t), &n->shape);
}

/* n's value is tensor k (made by the caller); returns whether k is one. */
static bool set(tl *t, const cr_node *n, int k)
{
    t->tensor[n->id] = k;
    return k >= 0 && !t->err;
}

/* Whether n is an output of the graph. */
static bool is_output(const tl *t, const cr_node *n)
{
    for (int k = 0; k < t->g->n_outputs; k++)
        if (t->g->outputs[k] == n)
            return true;
    return false;
}

/* The one consumer of n, if n has exactly one and is not a graph output. */
static const cr_node *sole_user(const tl *t, const cr_node *n)
{
    return t->uses[n->id] == 1 && !is_output(t, n) ? t->g->nodes[t->user[n->id]] : NULL;
}

static bool is_op(const cr_node *n, const char *name)
{
    return n && n->kind == CR_NODE_OP && n->op && !strcmp(n->op->name, name);
}

/* ---- operators ---------------------------------------------------------- */

/* Options every binary arithmetic op carries (fused activation NONE): Arm NN
 * and others read them unconditionally. */
static tl_opts binary_opts(int code)
{
    switch (code) {
    case TFL_ADD: return cr_tl_opts(TFL_OPT_ADD);
    case TFL_SUB: return cr_tl_opts(TFL_OPT_SUB);
    case TFL_MUL: return cr_tl_opts(TFL_OPT_MUL);
    case TFL_DIV: return cr_tl_opts(TFL_OPT_DIV);
    case TFL_MAXIMUM: case TFL_MINIMUM: return cr_tl_opts(TFL_OPT_MAXIMUM_MINIMUM);
    case TFL_GREATER: return cr_tl_opts(TFL_OPT_GREATER);
    default: return cr_tl_opts(TFL_OPT_NONE);
    }
}

static tl_opts unary_opts(int code)
{
    switch (code) {
    case TFL_EXP: return cr_tl_opts(TFL_OPT_EXP);
    case TFL_ABS: return cr_tl_opts(TFL_OPT_ABS);
    case TFL_NEG: return cr_tl_opts(TFL_OPT_NEG);
    default: return cr_tl_opts(TFL_OPT_NONE);
    }
}

/* code(x) -> out; out, or -1 on an error */
static int un(tl *t, int code, int x, int out)
{
    tl_opts o = unary_opts(code);
    return cr_tl_op(t, code, 1, &x, 1, out, &o) ? out : -1;
}

static int bin(tl *t, int code, int a, int b, int out)
{
    tl_opts o = binary_opts(code);
    return cr_tl_op(t, code, 1, (int[]){ a, b }, 2, out, &o) ? out : -1;
}

/* RESHAPE x to shape (shape[0], the batch, as -1) into out: the new shape
 * both as the options' new_shape and as the second input, as TensorFlow's
 * converter writes it. */
int cr_tl_reshape(tl *t, int x, const int32_t *shape, int nd, int out)
{
    int32_t *s = cr_tl_alloc(t, (size_t)nd * sizeof *s);
    if (!s)
        return -1;
    memcpy(s, shape, (size_t)nd * sizeof *s);
    s[0] = -1;
    tl_opts o = cr_tl_opts(TFL_OPT_RESHAPE);
    o.vec_id = 0;
    o.vec = s;
    o.n_vec = nd;
    int k = cr_tl_const_i32(t, cr_tl_str(t, "shape_%d", t->n_t), s, nd);
    return cr_tl_op(t, TFL_RESHAPE, 1, (int[]){ x, k }, 2, out, &o) ? out : -1;
}

/* ---- activations ---------------------------------------------------------- */

/* softplus(x) = relu(x) + log(1 + exp(-|x|)): no overflow for large x. */
static int softplus(tl *t, const cr_node *n, int x, int out)
{
    int a = un(t, TFL_ABS, x, fresh(t, n));
    a = un(t, TFL_NEG, a, fresh(t, n));
    a = un(t, TFL_EXP, a, fresh(t, n));
    a = bin(t, TFL_ADD, a, cr_tl_scalar(t, 1.0f), fresh(t, n));
    a = un(t, TFL_LOG, a, fresh(t, n));
    return bin(t, TFL_ADD, un(t, TFL_RELU, x, fresh(t, n)), a, out);
}

/* act(x) for node n (x of n's shape): the tensor holding it. */
static int act_to(tl *t, const cr_node *n, int act, int x)
{
    if (act == CREST_LINEAR || x < 0)
        return x;
    int y = fresh(t, n), a, b;
    tl_opts o;
    switch (act) {
    case CREST_RELU: return un(t, TFL_RELU, x, y);
    case CREST_RELU6: return un(t, TFL_RELU6, x, y);
    case CREST_SIGMOID: return un(t, TFL_LOGISTIC, x, y);
    case CREST_TANH: return un(t, TFL_TANH, x, y);
    case CREST_ELU: return un(t, TFL_ELU, x, y);
    case CREST_EXPONENTIAL: return un(t, TFL_EXP, x, y);
    case CREST_HARD_SILU: return un(t, TFL_HARD_SWISH, x, y);     /* x relu6(x + 3) / 6 */
    case CREST_GELU: return un(t, TFL_GELU, x, y);   /* GeluOptions left out: approximate false */
    case CREST_SOFTMAX:
        o = cr_tl_opts(TFL_OPT_SOFTMAX);
        cr_tl_opt_f(&o, 0, 1.0f);                    /* beta */
        return cr_tl_op(t, TFL_SOFTMAX, 1, &x, 1, y, &o) ? y : -1;
    case CREST_LOG_SOFTMAX:
        o = cr_tl_opts(TFL_OPT_LOG_SOFTMAX);
        return cr_tl_op(t, TFL_LOG_SOFTMAX, 1, &x, 1, y, &o) ? y : -1;
    case CREST_LEAKY_RELU:
        o = cr_tl_opts(TFL_OPT_LEAKY_RELU);
        cr_tl_opt_f(&o, 0, 0.2f);                    /* alpha */
        return cr_tl_op(t, TFL_LEAKY_RELU, 1, &x, 1, y, &o) ? y : -1;
    case CREST_SWISH:
        return bin(t, TFL_MUL, x, un(t, TFL_LOGISTIC, x, fresh(t, n)), y);
    case CREST_HARD_SIGMOID: case CREST_HARD_SIGMOID_KERAS3:   /* clip(a x + 0.5, 0, 1) */
        a = bin(t, TFL_MUL, x, cr_tl_scalar(t, act == CREST_HARD_SIGMOID ? 0.2f : 1.0f / 6.0f),
                fresh(t, n));
        a = bin(t, TFL_ADD, a, cr_tl_scalar(t, 0.5f), fresh(t, n));
        return bin(t, TFL_MINIMUM, un(t, TFL_RELU, a, fresh(t, n)), cr_tl_scalar(t, 1.0f), y);
    case CREST_SELU: {   /* l relu(x) + l a min(elu(x), 0) */
        const float l = 1.0507009873554804934f, al = 1.6732632423543772848f;
        a = bin(t, TFL_MUL, un(t, TFL_RELU, x, fresh(t, n)), cr_tl_scalar(t, l), fresh(t, n));
        b = bin(t, TFL_MINIMUM, un(t, TFL_ELU, x, fresh(t, n)), cr_tl_scalar(t, 0), fresh(t, n));
        b = bin(t, TFL_MUL, b, cr_tl_scalar(t, l * al), fresh(t, n));
        return bin(t, TFL_ADD, a, b, y);
    }
    case CREST_SOFTPLUS: return softplus(t, n, x, y);
    case CREST_SOFTSIGN:   /* x / (1 + |x|) */
        a = bin(t, TFL_ADD, un(t, TFL_ABS, x, fresh(t, n)), cr_tl_scalar(t, 1.0f), fresh(t, n));
        return bin(t, TFL_DIV, x, a, y);
    case CREST_MISH:
        a = un(t, TFL_TANH, softplus(t, n, x, fresh(t, n)), fresh(t, n));
        return bin(t, TFL_MUL, x, a, y);
    default:
        cr_tl_fail_node(t, n, CREST_E_UNSUPPORTED, "an activation with no TFLite mapping");
        return -1;
    }
}

/* The fused activation for act, or -1 when TFLite's ops cannot fuse it:
 * the schema lists TANH too, but TFLite's FULLY_CONNECTED refuses it and
 * its CONV_2D ignores it (LiteRT 2.5), so only ReLU and ReLU6 are fused. */
static int fusable(int act)
{
    return act == CREST_LINEAR ? TFL_ACT_NONE : act == CREST_RELU ? TFL_ACT_RELU
           : act == CREST_RELU6 ? TFL_ACT_RELU6 : -1;
}

/* Keras ReLU(max_value, negative_slope, threshold):
 * x > threshold ? min(x, max_value) : slope * (x - threshold). */
static int relu_ex(tl *t, const cr_node *n, int x)
{
    float mx, slope, th;
    cr_relu_ex_parts(n, &mx, &slope, &th);
    if (th == 0 && slope == 0 && (mx < 0 || mx == 6))
        return un(t, mx < 0 ? TFL_RELU : TFL_RELU6, x, fresh(t, n));
    if (th == 0 && mx < 0 && slope > 0 && slope < 1) {
        tl_opts o = cr_tl_opts(TFL_OPT_LEAKY_RELU);
        cr_tl_opt_f(&o, 0, slope);
        int y = fresh(t, n);
        return cr_tl_op(t, TFL_LEAKY_RELU, 1, &x, 1, y, &o) ? y : -1;
    }
    int hi = mx >= 0 ? bin(t, TFL_MINIMUM, x, cr_tl_scalar(t, mx), fresh(t, n)) : x;
    int d = bin(t, TFL_SUB, x, cr_tl_scalar(t, th), fresh(t, n));
    int lo = bin(t, TFL_MUL, d, cr_tl_scalar(t, slope), fresh(t, n));
    int c = cr_tl_tensor_dims(t, cr_tl_str(t, "%s/greater_%d", n->layer ? n->layer : "v", t->n_t),
                              &n->shape);
    if (c >= 0)
        t->t[c].type = TFL_BOOL;
    c = bin(t, TFL_GREATER, x, cr_tl_scalar(t, th), c);
    int y = fresh(t, n);
    return cr_tl_op(t, TFL_SELECT_V2, 1, (int[]){ c, hi, lo }, 3, y, NULL) ? y : -1;
}

/* ---- window ops ------------------------------------------------------------ */

/* Tensor y takes the (per-tensor) quantization of tensor k; returns y. */
static int same_quant(tl *t, int y, int k)
{
    if (y >= 0 && k >= 0) {
        t->t[y].type = t->t[k].type;
        t->t[y].scale = t->t[k].scale;
        t->t[y].zero = t->t[k].zero;
        t->t[y].n_q = 1;
    }
    return y;
}

/* PAD x [1,h,w,c] by these zeros into a new tensor: its index or -1. */
static int pad4(tl *t, const cr_node *n, int x, const int32_t *shape_in, int top, int bottom,
                int left, int right)
{
    int32_t in_shape[4];      /* shape_in may lie in t->t, which new tensors move */
    memcpy(in_shape, shape_in, sizeof in_shape);
    int32_t *p = cr_tl_alloc(t, 8 * sizeof *p);
    if (!p)
        return -1;
    const int32_t pads[8] = { 0, 0, top, bottom, left, right, 0, 0 };
    memcpy(p, pads, sizeof pads);
    int k = cr_tl_const(t, cr_tl_str(t, "paddings_%d", t->n_t), TFL_INT32, p,
                        (int32_t[]){ 4, 2 }, 2);
    int32_t shape[4] = { 1, in_shape[1] + top + bottom, in_shape[2] + left + right, in_shape[3] };
    int y = cr_tl_tensor(t, cr_tl_str(t, "%s/pad_%d", n->layer ? n->layer : "v", t->n_t), shape,
                         4, true, TFL_FLOAT32);
    bool int8 = cr_tl_isq(t, x);
    if (int8)        /* int8: the input's parameters (the zeros pad with its zero point) */
        same_quant(t, y, x);
    tl_opts o = cr_tl_opts(TFL_OPT_PAD);
    return cr_tl_op(t, TFL_PAD, int8 ? cr_tl_qver(t, 2, 3) : 1, (int[]){ x, k }, 2, y, &o) ? y : -1;
}

/* TFLite's padding for geometry g, SAME or VALID, or -1 when it is neither
 * (then *pb, *pr: the bottom and right padding g implies). */
static int padding_of(const cr_conv_geom *g, int *pb, int *pr)
{
    int eh = (g->kh - 1) * g->dh + 1, ew = (g->kw - 1) * g->dw + 1;
    int th = (g->oh - 1) * g->sh + eh - g->h, tw = (g->ow - 1) * g->sw + ew - g->w;
    *pb = th - g->pt;
    *pr = tw - g->pl;
    if (g->pt == 0 && g->pl == 0 && g->h >= eh && g->w >= ew &&
        g->oh == (g->h - eh) / g->sh + 1 && g->ow == (g->w - ew) / g->sw + 1)
        return TFL_PAD_VALID;
    if (g->oh == (g->h + g->sh - 1) / g->sh && g->ow == (g->w + g->sw - 1) / g->sw &&
        g->pt == (th > 0 ? th : 0) / 2 && g->pl == (tw > 0 ? tw : 0) / 2)
        return TFL_PAD_SAME;
    return -1;
}

/* The kernel as TFLite's filter (conv2d [oc,kh,kw,c]; depthwise
 * [1,kh,kw,c*m], the bytes of Keras' [kh,kw,c,m]) and the bias, with batch
 * norm bn (or NULL) folded in, in double: output channel o times
 * s = gamma / sqrt(var + eps), bias (b - mean) s + beta. */
static bool conv_consts(tl *t, const cr_node *n, const cr_node *bn, bool dw, int *filter,
                        int *bias)
{
    const cr_dims *s = &n->in[1]->shape;
    int64_t kh = s->d[0], kw = s->d[1], c = s->d[2], m = s->d[3], oc = dw ? c * m : m;
    const float *src = cr_kernel_weight(n->in[1])->val, *b = n->n_in == 3 ? n->in[2]->w->val : NULL;
    float *f = cr_tl_alloc(t, (size_t)(kh * kw * c * m) * sizeof *f);
    float *fb = cr_tl_alloc(t, (size_t)oc * sizeof *fb);
    double *sc = cr_tl_alloc(t, (size_t)oc * sizeof *sc);
    if (!f || !fb || !sc)
        return false;
    cr_node *mean = NULL, *var = NULL, *gamma = NULL, *beta = NULL;
    float eps = 0;
    if (bn)
        cr_bn_parts(bn, &mean, &var, &gamma, &beta, &eps);
    for (int64_t o = 0; o < oc; o++) {
        double b0 = b ? b[o] : 0.0;
        sc[o] = bn ? (gamma ? gamma->w->val[o] : 1.0) / sqrt((double)var->w->val[o] + eps) : 1.0;
        fb[o] = (float)(bn ? (b0 - mean->w->val[o]) * sc[o] + (beta ? beta->w->val[o] : 0.0) : b0);
    }
    for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++)
            for (int64_t ci = 0; ci < c; ci++)
                for (int64_t j = 0; j < m; j++) {
                    int64_t at = ((y * kw + x) * c + ci) * m + j, o = dw ? ci * m + j : j;
                    f[dw ? at : ((j * kh + y) * kw + x) * c + ci] = (float)(src[at] * sc[o]);
                }
    const char *base = n->layer ? n->layer : "conv";
    *filter = cr_tl_const(t, cr_tl_str(t, "%s/kernel_%d", base, t->n_t), TFL_FLOAT32, f,
                          dw ? (int32_t[]){ 1, (int32_t)kh, (int32_t)kw, (int32_t)oc }
                             : (int32_t[]){ (int32_t)oc, (int32_t)kh, (int32_t)kw, (int32_t)c }, 4);
    *bias = cr_tl_const(t, cr_tl_str(t, "%s/bias_%d", base, t->n_t), TFL_FLOAT32, fb,
                        (int32_t[]){ (int32_t)oc }, 1);
    return *filter >= 0 && *bias >= 0;
}

static bool params_only(const cr_node *n, int from)
{
    for (int i = from; i < n->n_in; i++)
        if (n->in[i]->kind != CR_NODE_PARAM || !n->in[i]->w)
            return false;
    return true;
}

/* The activation of node c when TFLite can fuse it into the op before it
 * (an activation, or Keras' ReLU as relu / relu6), or -1. */
static int fusable_node(const cr_node *c)
{
    const cr_act_def *a = c ? cr_act_of(c) : NULL;
    if (a)
        return fusable(a->id) > 0 ? (int)a->id : -1;
    float mx, slope, th;
    if (is_op(c, "relu_ex") && cr_relu_ex_parts(c, &mx, &slope, &th) && th == 0 && slope == 0)
        return mx < 0 ? CREST_RELU : mx == 6 ? CREST_RELU6 : -1;
    return -1;
}

/* The nodes fused after n (a conv or matmul): a batch norm (convolutions)
 * or a bias add (matmul), then an activation; *act updated, the last one
 * fused returned. */
static const cr_node *fuse_after(tl *t, const cr_node *n, bool conv, int *act,
                                 const cr_node **extra)
{
    const cr_node *last = n, *c = sole_user(t, n);
    *extra = NULL;
    if (*act != CREST_LINEAR)
        return n;
    if (conv && is_op(c, "batchnorm") && c->in[0] == n && params_only(c, 1))
        *extra = c;
    if (!conv && is_op(c, "bias_add") && c->in[0] == n && params_only(c, 1))
        *extra = c;
    if (*extra) {
        t->done[c->id] = true;
        last = c;
        c = sole_user(t, c);
    }
    int a = fusable_node(c);
    if (a > 0) {
        t->done[c->id] = true;
        *act = a;
        last = c;
    }
    return last;
}

/* x padded as geometry g asks when SAME and VALID cannot say it (explicit
 * zeros, then VALID): *pad set; x, or -1 when no padding fits. */
static int window_input(tl *t, const cr_node *n, const cr_conv_geom *g, int x, int *pad)
{
    int pb, pr;
    *pad = padding_of(g, &pb, &pr);
    if (*pad >= 0 || (!is_op(n, "conv2d") && !is_op(n, "depthwise2d")))
        return *pad >= 0 ? x : -1;
    int eh = (g->kh - 1) * g->dh + 1, ew = (g->kw - 1) * g->dw + 1;
    pb = pb > 0 ? pb : 0;
    pr = pr > 0 ? pr : 0;
    int h = g->h + g->pt + pb, w = g->w + g->pl + pr;
    if (h < eh || w < ew || (h - eh) / g->sh + 1 != g->oh || (w - ew) / g->sw + 1 != g->ow)
        return -1;
    *pad = TFL_PAD_VALID;
    return pad4(t, n, x, (int32_t[]){ 1, g->h, g->w, g->c }, g->pt, pb, g->pl, pr);
}

/* The window operator of n: in = {x, filter, bias} (pools: x), fused
 * activation fa; int8 ops take the versions TFLite gives their int8 forms. */
static bool window_op(tl *t, const cr_node *n, const cr_conv_geom *g, int pad, int fa,
                      const int *in, int y, bool int8)
{
    bool conv = is_op(n, "conv2d"), dw = is_op(n, "depthwise2d");
    int code, version = int8 ? cr_tl_qver(t, 2, 3) : 1;
    tl_opts o;
    if (conv || dw) {
        code = conv ? TFL_CONV_2D : TFL_DEPTHWISE_CONV_2D;
        o = cr_tl_opts(conv ? TFL_OPT_CONV2D : TFL_OPT_DEPTHWISE_CONV2D);
        if (dw)
            cr_tl_opt_i(&o, 3, g->oc / g->c);                    /* depth_multiplier */
        cr_tl_opt_b(&o, dw ? 4 : 3, (int8_t)fa);
        cr_tl_opt_i(&o, dw ? 5 : 4, g->dw);                      /* dilation w, h */
        cr_tl_opt_i(&o, dw ? 6 : 5, g->dh);
        version = int8 ? cr_tl_qver(t, 3, dw ? 5 : 4) : dw && (g->dh > 1 || g->dw > 1) ? 2 : 1;
    } else {
        code = is_op(n, "maxpool2d") ? TFL_MAX_POOL_2D : TFL_AVERAGE_POOL_2D;
        o = cr_tl_opts(TFL_OPT_POOL2D);
        cr_tl_opt_i(&o, 3, g->kw);                               /* filter width, height */
        cr_tl_opt_i(&o, 4, g->kh);
        cr_tl_opt_b(&o, 5, (int8_t)fa);
    }
    cr_tl_opt_b(&o, 0, (int8_t)pad);
    cr_tl_opt_i(&o, 1, g->sw);
    cr_tl_opt_i(&o, 2, g->sh);
    return cr_tl_op(t, code, version, in, conv || dw ? 3 : 1, y, &o);
}

/* A quantized model's convolution (its kernel int8, its output calibrated)
 * or max pooling of an int8 value (with int16 activations average pooling
 * too: crest's keeps the input's scale, as TFLite's int16 one), as an int8
 * operator: 1, done; 0, n stays float; -1, an error. */
static int window_int8(tl *t, const cr_node *n, const cr_node *last, const cr_conv_geom *g,
                       int fa)
{
    bool conv = is_op(n, "conv2d") || is_op(n, "depthwise2d");
    if (is_output(t, n) || is_output(t, last))
        return 0;   /* crest runs a model output's op float (src/quant_graph.c) */
    const cr_weight *kw = conv ? cr_kernel_weight(n->in[1]) : NULL;   /* 1-D: a reshape */
    const cr_qweight *qw = kw ? cr_quant_weight(t->q, kw) : NULL;
    const cr_qact *po = cr_tl_qpar(t, last) ? cr_tl_qpar(t, last) : cr_tl_qpar(t, n);
    int in0 = t->tensor[n->in[0]->id];
    bool pool = is_op(n, "maxpool2d") || (is_op(n, "avgpool2d") && t->qtype == TFL_INT16);
    if (conv ? !qw || !po : !pool || !cr_tl_isq(t, in0))
        return 0;
    int pad, x = cr_tl_val_q(t, n->in[0]);
    if (x < 0)
        return t->err ? -1 : 0;
    if ((x = window_input(t, n, g, x, &pad)) < 0)
        return 0;
    int in[3] = { x, -1, -1 }, y;
    if (conv && !cr_tl_qconsts(t, n, qw, t->t[x].scale[0], n->n_in == 3 ? n->in[2]->w->val : NULL,
                               &in[1], &in[2]))
        return -1;
    const char *name = cr_tl_str(t, "%s/%s_%d", last->layer ? last->layer : "v", n->op->name, t->n_t);
    y = conv ? cr_tl_qtensor(t, name, &last->shape, po->s, cr_tl_zero(t, po))
             : cr_tl_qtensor(t, name, &n->shape, t->t[x].scale[0], (int32_t)t->t[x].zero[0]);
    return window_op(t, n, g, pad, fa, in, y, true) && set(t, last, y) ? 1 : -1;
}

static bool emit_window(tl *t, const cr_node *n)
{
    cr_conv_geom g;
    int act;
    bool folded;
    if (!cr_window_parts(n, &g, &act, &folded))
        return cr_tl_fail_node(t, n, CREST_E_SHAPE, "a window op whose geometry is bad");
    if (folded)
        return cr_tl_fail_node(t, n, CREST_E_UNSUPPORTED, "a folded batch norm");
    bool conv = is_op(n, "conv2d"), dw = is_op(n, "depthwise2d");
    if ((conv || dw) && (!cr_kernel_weight(n->in[1]) || !params_only(n, 2)))
        return cr_tl_fail_node(t, n, CREST_E_UNSUPPORTED, "a kernel or bias that is not a weight");
    const cr_node *bn = NULL, *last = conv || dw ? fuse_after(t, n, true, &act, &bn) : n;
    int fa = fusable(act), pad, r;
    if (t->q && !bn && fa >= 0 && (r = window_int8(t, n, last, &g, fa)) != 0)
        return r > 0;
    int x = window_input(t, n, &g, cr_tl_val(t, n->in[0]), &pad);
    if (x < 0)
        return t->err ? false : cr_tl_fail_node(t, n, CREST_E_UNSUPPORTED, "a padding TFLite's "
                                                "SAME and VALID cannot express");
    int y = fresh(t, fa >= 0 ? last : n), in[3] = { x, -1, -1 };
    if ((conv || dw) && !conv_consts(t, n, bn, dw, &in[1], &in[2]))
        return false;
    if (!window_op(t, n, &g, pad, fa >= 0 ? fa : TFL_ACT_NONE, in, y, false))
        return false;
    return set(t, last, fa >= 0 ? y : act_to(t, n, act, y));
}

/* ---- the other ops -------------------------------------------------------- */

/* The shape of tensor k (batch first). */
static const int32_t *shape_of(const tl *t, int k) { return t->t[k].shape; }

/* An int8 tensor like node n's value with the parameters of tensor k. */
static int same_params(tl *t, const cr_node *n, int k)
{
    return cr_tl_qtensor(t, cr_tl_str(t, "%s/%s_%d", n->layer ? n->layer : "v", n->op->name, t->n_t),
                         &n->shape, t->t[k].scale[0], (int32_t)t->t[k].zero[0]);
}

/* Whether only float ops read n (or it is a graph output): crest's int8
 * graph then gives the Dense's output as float from its int32 sums, which a
 * float FULLY_CONNECTED on the dequantized input computes alike (its
 * weights are scale * q), with no 8-bit rounding of the logits. */
static bool read_as_float(const tl *t, const cr_node *n)
{
    static const char *const int8_ops[] = { "conv2d", "depthwise2d", "matmul", "add",
                                            "maxpool2d", "avgpool2d", "global_maxpool",
                                            "global_avgpool", "reshape", "flatten",
                                            "zero_pad2d" };
    for (int i = n->id + 1; i < t->g->n; i++) {
        const cr_node *c = t->g->nodes[i];
        bool reads = false;
        for (int j = 0; j < c->n_in; j++)
            reads |= c->in[j] == n;
        if (!reads)
            continue;
        const cr_act_def *a = cr_act_of(c);
        if (a && (a->id == CREST_RELU || a->id == CREST_RELU6))
            return false;
        for (size_t k = 0; k < sizeof int8_ops / sizeof *int8_ops; k++)
            if (!strcmp(c->op->name, int8_ops[k]))
                return false;
    }
    return true;
}

/* A quantized model's Dense (int8 kernel, calibrated output) as an int8
 * FULLY_CONNECTED: 1, done; 0, it stays float; -1, an error. */
static int matmul_int8(tl *t, const cr_node *n, const cr_node *last, const cr_node *bias, int fa)
{
    const cr_qweight *qw = cr_quant_weight(t->q, n->in[1]->w);
    const cr_qact *po = cr_tl_qpar(t, last) ? cr_tl_qpar(t, last) : cr_tl_qpar(t, n);
    if (!qw || !po || read_as_float(t, last))
        return 0;
    int in[3] = { cr_tl_val_q(t, n->in[0]), -1, -1 };
    if (in[0] < 0)
        return t->err ? -1 : 0;
    if (!cr_tl_qconsts(t, n, qw, t->t[in[0]].scale[0], bias ? bias->in[1]->w->val : NULL,
                       &in[1], &in[2]))
        return -1;
    int y = cr_tl_qtensor(t, cr_tl_str(t, "%s/dense_%d", last->layer ? last->layer : "v", t->n_t),
                          &last->shape, po->s, cr_tl_zero(t, po));
    tl_opts o = cr_tl_opts(TFL_OPT_FULLY_CONNECTED);
    cr_tl_opt_b(&o, 0, (int8_t)fa);
    return cr_tl_op(t, TFL_FULLY_CONNECTED, cr_tl_qver(t, 4, 7), in, 3, y, &o) && set(t, last, y)
           ? 1 : -1;
}

/* x as a quantized model's int8 Dense reads it when its output stays float
 * (read_as_float): x's uint8 codes, dequantized; a float x (from a layer
 * kept float) is quantized first, as crest does. */
static int codes_as_float(tl *t, const cr_node *x)
{
    int k = t->tensor[x->id];
    if (k < 0 || cr_tl_isq(t, k))
        return cr_tl_val(t, x);
    int q = cr_tl_val_q(t, x);
    if (q < 0)
        return t->err ? -1 : k;   /* no parameters: crest reads it float too */
    int y = cr_tl_tensor_dims(t, cr_tl_str(t, "%s_codes_%d", t->t[k].name, t->n_t), &x->shape);
    return y >= 0 && cr_tl_op(t, TFL_DEQUANTIZE, cr_tl_qver(t, 2, 3), &q, 1, y, NULL) ? y : -1;
}

/* x [..., k] @ w [k, units] (a weight): FULLY_CONNECTED with the bias add
 * and activation after it fused; x of rank > 2 through a RESHAPE to
 * [rows, k] and back. */
static bool emit_matmul(tl *t, const cr_node *n)
{
    const cr_node *x = n->in[0], *w = n->in[1], *bias;
    if (w->kind != CR_NODE_PARAM || !w->w || w->shape.ndim != 2)
        return cr_tl_fail_node(t, n, CREST_E_UNSUPPORTED, "a matrix product whose right "
                               "side is not a weight matrix");
    int act = CREST_LINEAR, q;
    const cr_node *last = fuse_after(t, n, false, &act, &bias);
    if (t->q && x->shape.ndim == 2 && fusable(act) >= 0 &&
        (q = matmul_int8(t, n, last, bias, fusable(act))) != 0)
        return q > 0;
    int32_t k = (int32_t)w->shape.d[0], units = (int32_t)w->shape.d[1];
    float *f = cr_tl_alloc(t, (size_t)k * (size_t)units * sizeof *f);
    if (!f)
        return false;
    for (int32_t i = 0; i < k; i++)          /* Keras [k, units] -> TFLite [units, k] */
        for (int32_t j = 0; j < units; j++)
            f[(size_t)j * (size_t)k + (size_t)i] = w->w->val[(size_t)i * (size_t)units + (size_t)j];
    const char *base = n->layer ? n->layer : "dense";
    int in[3] = { t->q && cr_quant_weight(t->q, w->w) ? codes_as_float(t, x) : cr_tl_val(t, x),
                  cr_tl_const(t, cr_tl_str(t, "%s/kernel_%d", base, t->n_t), TFL_FLOAT32, f,
                              (int32_t[]){ units, k }, 2),
                  bias ? cr_tl_val(t, bias->in[1]) : -1 };
    if (!bias) {
        float *z = cr_tl_alloc(t, (size_t)units * sizeof *z);
        in[2] = z ? cr_tl_const(t, cr_tl_str(t, "%s/bias_%d", base, t->n_t), TFL_FLOAT32, z,
                                (int32_t[]){ units }, 1) : -1;
    }
    int r = x->shape.ndim, y;
    if (in[0] < 0)
        return false;
    if (r > 2) {
        int32_t rows = 1;
        for (int i = 1; i < r - 1; i++)
            rows *= (int32_t)x->shape.d[i];
        const int32_t flat[2] = { rows, k }, fo[2] = { rows, units };
        in[0] = cr_tl_reshape(t, in[0], flat, 2, cr_tl_tensor(t, cr_tl_str(t, "%s/rows_%d", base, t->n_t),
                                                        flat, 2, true, TFL_FLOAT32));
        y = cr_tl_tensor(t, cr_tl_str(t, "%s/fc_%d", base, t->n_t), fo, 2, true, TFL_FLOAT32);
    } else {
        y = fresh(t, last);
    }
    tl_opts o = cr_tl_opts(TFL_OPT_FULLY_CONNECTED);
    cr_tl_opt_b(&o, 0, (int8_t)fusable(act));
    if (!cr_tl_op(t, TFL_FULLY_CONNECTED, 1, in, 3, y, &o))
        return false;
    if (r > 2) {
        int z = fresh(t, last);
        y = z >= 0 ? cr_tl_reshape(t, y, shape_of(t, z), r, z) : -1;
    }
    return set(t, last, y);
}

/* A batch norm no convolution took: x * s + (beta - mean s) per channel
 * (the last axis), the factors computed here in double. */
static bool emit_batchnorm(tl *t, const cr_node *n)
{
    cr_node *mean, *var, *gamma, *beta;
    float eps;
    cr_bn_parts(n, &mean, &var, &gamma, &beta, &eps);
    if (!params_only(n, 1))
        return cr_tl_fail_node(t, n, CREST_E_UNSUPPORTED, "statistics that are not weights");
    int32_t c = (int32_t)mean->shape.d[0];
    float *mul = cr_tl_alloc(t, (size_t)c * sizeof *mul), *add = cr_tl_alloc(t, (size_t)c * sizeof *add);
    if (!mul || !add)
        return false;
    for (int32_t i = 0; i < c; i++) {
        double s = (gamma ? gamma->w->val[i] : 1.0) / sqrt((double)var->w->val[i] + eps);
        mul[i] = (float)s;
        add[i] = (float)((beta ? beta->w->val[i] : 0.0) - mean->w->val[i] * s);
    }
    const char *base = n->layer ? n->layer : "bn";
    int km = cr_tl_const(t, cr_tl_str(t, "%s/scale_%d", base, t->n_t), TFL_FLOAT32, mul, &c, 1);
    int ka = cr_tl_const(t, cr_tl_str(t, "%s/shift_%d", base, t->n_t), TFL_FLOAT32, add, &c, 1);
    int a = bin(t, TFL_MUL, cr_tl_val(t, n->in[0]), km, fresh(t, n));
    return set(t, n, bin(t, TFL_ADD, a, ka, fresh(t, n)));
}

static bool emit_concat(tl *t, const cr_node *n)
{
    int axis;
    cr_concat_axis(n, &axis);
    int *in = cr_tl_alloc(t, (size_t)n->n_in * sizeof *in);
    if (!in)
        return false;
    for (int i = 0; i < n->n_in; i++)
        in[i] = cr_tl_val(t, n->in[i]);
    tl_opts o = cr_tl_opts(TFL_OPT_CONCATENATION);
    cr_tl_opt_i(&o, 0, axis);
    int y = fresh(t, n);
    return cr_tl_op(t, TFL_CONCATENATION, 1, in, n->n_in, y, &o) && set(t, n, y);
}

/* MEAN or SUM over axes (a constant input), keep_dims as asked. */
static int reduce(tl *t, const cr_node *n, int code, int x, const int32_t *axes, int n_axes,
                  bool keep)
{
    int k = cr_tl_const_i32(t, cr_tl_str(t, "axes_%d", t->n_t), axes, n_axes);
    tl_opts o = cr_tl_opts(TFL_OPT_REDUCER);
    cr_tl_opt_b(&o, 0, keep);
    int y = fresh(t, n);
    return cr_tl_op(t, code, 1, (int[]){ x, k }, 2, y, &o) ? y : -1;
}

static bool emit_reduce(tl *t, const cr_node *n, bool mean)
{
    int axis;
    bool keep;
    cr_reduce_parts(n, &axis, &keep);
    int32_t axes[CR_MAX_DIMS], n_axes = 0;
    int r = n->in[0]->shape.ndim;
    for (int i = 0; i < r; i++)
        if (axis == CR_AXIS_ALL || axis == i)
            axes[n_axes++] = i;
    return set(t, n, reduce(t, n, mean ? TFL_MEAN : TFL_SUM, cr_tl_val(t, n->in[0]), axes, n_axes,
                            keep));
}

/* The options of a pool over the whole of an image of NHWC shape s. */
static tl_opts whole_pool(const int32_t *s)
{
    tl_opts o = cr_tl_opts(TFL_OPT_POOL2D);
    cr_tl_opt_b(&o, 0, TFL_PAD_VALID);
    cr_tl_opt_i(&o, 1, 1);
    cr_tl_opt_i(&o, 2, 1);
    cr_tl_opt_i(&o, 3, s[2]);
    cr_tl_opt_i(&o, 4, s[1]);
    return o;
}

/* Global pooling: MEAN over height and width (as TensorFlow's converter
 * writes GlobalAveragePooling2D), MAX_POOL_2D over the whole image; zero
 * padding: PAD; cropping: STRIDED_SLICE. */
static bool emit_spatial(tl *t, const cr_node *n, const char *op)
{
    int x = cr_tl_val(t, n->in[0]);
    if (x < 0)
        return false;
    int32_t s[4];             /* a copy: new tensors move t->t */
    memcpy(s, shape_of(t, x), sizeof s);
    if (!strcmp(op, "global_avgpool"))
        return set(t, n, reduce(t, n, TFL_MEAN, x, (int32_t[]){ 1, 2 }, 2, n->shape.ndim == 4));
    if (!strcmp(op, "global_maxpool")) {
        tl_opts o = whole_pool(s);
        int y = n->shape.ndim == 4 ? fresh(t, n)
                : cr_tl_tensor(t, cr_tl_str(t, "%s/gmax_%d", n->layer ? n->layer : "v", t->n_t),
                               (int32_t[]){ 1, 1, 1, s[3] }, 4, true, TFL_FLOAT32);
        if (!cr_tl_op(t, TFL_MAX_POOL_2D, 1, &x, 1, y, &o))
            return false;
        return set(t, n, n->shape.ndim == 4 ? y : cr_tl_reshape(t, y, (int32_t[]){ 1, s[3] }, 2, fresh(t, n)));
    }
    int top, bottom, left, right;
    if (cr_pad_parts(n, &top, &bottom, &left, &right)) {
        int y = pad4(t, n, x, s, top, bottom, left, right);
        if (y >= 0)
            t->t[y].name = cr_tl_str(t, "%s/%s_%d", n->layer ? n->layer : "v", op, y);
        return set(t, n, y);
    }
    cr_crop_parts(n, &top, &bottom, &left, &right);
    /* STRIDED_SLICE: begin_mask / end_mask 9 take batch and channels whole */
    int b = cr_tl_const_i32(t, cr_tl_str(t, "begin_%d", t->n_t), (int32_t[]){ 0, top, left, 0 }, 4);
    int e = cr_tl_const_i32(t, cr_tl_str(t, "end_%d", t->n_t),
                            (int32_t[]){ 0, s[1] - bottom, s[2] - right, 0 }, 4);
    int st = cr_tl_const_i32(t, cr_tl_str(t, "strides_%d", t->n_t), (int32_t[]){ 1, 1, 1, 1 }, 4);
    tl_opts o = cr_tl_opts(TFL_OPT_STRIDED_SLICE);
    cr_tl_opt_i(&o, 0, 9);
    cr_tl_opt_i(&o, 1, 9);
    int y = fresh(t, n);
    return cr_tl_op(t, TFL_STRIDED_SLICE, 1, (int[]){ x, b, e, st }, 4, y, &o) && set(t, n, y);
}

/* n's value is its input's (dropout, a linear activation...). */
static bool alias(tl *t, const cr_node *n)
{
    const cr_node *x = n->in[0];
    if (t->tensor[x->id] < 0)
        return set(t, n, cr_tl_val(t, x));
    t->other[n->id] = t->other[x->id];
    return set(t, n, t->tensor[x->id]);
}

static bool emit_scale(tl *t, const cr_node *n)
{
    float mul, add;
    cr_scale_parts(n, &mul, &add);
    int y = cr_tl_val(t, n->in[0]);
    if (mul != 1.0f)
        y = bin(t, TFL_MUL, y, cr_tl_scalar(t, mul), fresh(t, n));
    if (add != 0.0f)
        y = bin(t, TFL_ADD, y, cr_tl_scalar(t, add), fresh(t, n));
    return y == cr_tl_val(t, n->in[0]) ? alias(t, n) : set(t, n, y);
}

/* add of two calibrated values of n's shape as an int8 ADD (int16: the
 * general-scale int16 ADD crest runs, pot_scale_int16 false). */
static int add_int8(tl *t, const cr_node *n)
{
    const cr_qact *po = cr_tl_qpar(t, n);
    if (!po || n->n_in != 2 || !cr_dims_eq(&n->in[0]->shape, &n->shape) ||
        !cr_dims_eq(&n->in[1]->shape, &n->shape))
        return 0;
    int a = cr_tl_val_q(t, n->in[0]), b = a >= 0 ? cr_tl_val_q(t, n->in[1]) : -1;
    if (a < 0 || b < 0)
        return t->err ? -1 : 0;
    int y = cr_tl_qtensor(t, cr_tl_str(t, "%s/add_%d", n->layer ? n->layer : "v", t->n_t),
                          &n->shape, po->s, cr_tl_zero(t, po));
    tl_opts o = cr_tl_opts(TFL_OPT_ADD);
    if (t->qtype == TFL_INT16)
        cr_tl_opt_b1(&o, 1, 0);   /* pot_scale_int16 */
    return cr_tl_op(t, TFL_ADD, cr_tl_qver(t, 2, 3), (int[]){ a, b }, 2, y, &o) && set(t, n, y)
           ? 1 : -1;
}

/* A pool (code: MAX_POOL_2D or AVERAGE_POOL_2D) over the whole image of
 * int8 tensor x (shape s) keeping its parameters, RESHAPE'd to [batch, c]
 * when n drops the spatial axes: crest's int8 global max pooling, and its
 * int16 global average pooling (TFLite's int16 average pool, crest's q16 one). */
static int whole_pool_int8(tl *t, const cr_node *n, int code, int x, const int32_t *s)
{
    tl_opts o = whole_pool(s);
    int y = same_quant(t, cr_tl_tensor(t, cr_tl_str(t, "%s/pool_%d", n->layer ? n->layer : "v", t->n_t),
                                       (int32_t[]){ 1, 1, 1, s[3] }, 4, true, TFL_FLOAT32), x);
    if (!cr_tl_op(t, code, cr_tl_qver(t, 2, 3), &x, 1, y, &o))
        return -1;
    int z = n->shape.ndim == 4 ? y : same_params(t, n, y);
    return z == y ? y : cr_tl_reshape(t, y, shape_of(t, z), 2, z);
}

/* Global average pooling of int8 tensor x (shape s) as crest's int8 graph
 * runs it: MEAN to its calibrated parameters po; with int16 activations
 * AVERAGE_POOL_2D keeping x's scale (whole_pool_int8). */
static int gavg_int8(tl *t, const cr_node *n, int x, const int32_t *s, const cr_qact *po)
{
    if (t->qtype == TFL_INT16)
        return whole_pool_int8(t, n, TFL_AVERAGE_POOL_2D, x, s);
    int k = cr_tl_const_i32(t, cr_tl_str(t, "axes_%d", t->n_t), (int32_t[]){ 1, 2 }, 2);
    tl_opts o = cr_tl_opts(TFL_OPT_REDUCER);
    cr_tl_opt_b(&o, 0, n->shape.ndim == 4);
    int y = cr_tl_qtensor(t, cr_tl_str(t, "%s/mean_%d", n->layer ? n->layer : "v", t->n_t),
                          &n->shape, po->s, cr_tl_zero(t, po));
    return cr_tl_op(t, TFL_MEAN, 2, (int[]){ x, k }, 2, y, &o) ? y : -1;
}

/* The ops of a quantized model that run on an int8 value as crest's int8
 * graph runs them (src/quant_graph.c): add; and, on an int8 input, reshape,
 * flatten, relu, relu6, zero padding, max pooling and global max pooling
 * (the output keeps the input's parameters) and global average pooling
 * (gavg_int8). 1: done,
 * 0: n stays float, -1: an error. */
static int emit_int8(tl *t, const cr_node *n)
{
    const char *op = n->op->name;
    if (is_output(t, n))
        return 0;   /* crest runs a model output's op float */
    if (!strcmp(op, "add"))
        return add_int8(t, n);
    int x = n->n_in ? t->tensor[n->in[0]->id] : -1, y, top, bottom, left, right;
    const cr_act_def *a = cr_act_of(n);
    if (!cr_tl_isq(t, x))
        return 0;
    int32_t s[CR_MAX_DIMS];   /* a copy: new tensors move t->t */
    memcpy(s, shape_of(t, x), sizeof s);
    if (!strcmp(op, "reshape") || !strcmp(op, "flatten"))
        return (y = same_params(t, n, x)) >= 0 &&
               set(t, n, cr_tl_reshape(t, x, shape_of(t, y), n->shape.ndim, y)) ? 1 : -1;
    if (a && (a->id == CREST_RELU || a->id == CREST_RELU6))
        return (y = same_params(t, n, x)) >= 0 &&
               cr_tl_op(t, a->id == CREST_RELU ? TFL_RELU : TFL_RELU6, cr_tl_qver(t, 2, 3), &x, 1,
                        y, NULL) &&
               set(t, n, y) ? 1 : -1;
    if (cr_pad_parts(n, &top, &bottom, &left, &right))
        return set(t, n, pad4(t, n, x, s, top, bottom, left, right)) ? 1 : -1;
    const cr_qact *po = cr_tl_qpar(t, n);
    if (!strcmp(op, "global_avgpool") && po && n->in[0]->shape.ndim == 4)
        return set(t, n, gavg_int8(t, n, x, s, po)) ? 1 : -1;
    if (!strcmp(op, "global_maxpool") && n->in[0]->shape.ndim == 4)
        return set(t, n, whole_pool_int8(t, n, TFL_MAX_POOL_2D, x, s)) ? 1 : -1;
    return 0;
}

/* Keras' Permute: TRANSPOSE (batch first). */
static bool emit_transpose(tl *t, const cr_node *n)
{
    int perm[CR_MAX_DIMS], k;
    cr_transpose_parts(n, perm, &k);
    int32_t *p = cr_tl_alloc(t, (size_t)k * sizeof *p);
    if (!p)
        return false;
    for (int i = 0; i < k; i++)
        p[i] = perm[i];
    int x = cr_tl_val(t, n->in[0]);
    int kp = cr_tl_const_i32(t, cr_tl_str(t, "perm_%d", t->n_t), p, k), y = fresh(t, n);
    tl_opts o = cr_tl_opts(TFL_OPT_TRANSPOSE);
    return cr_tl_op(t, TFL_TRANSPOSE, 1, (int[]){ x, kp }, 2, y, &o) && set(t, n, y);
}

/* TRANSPOSE x by perm into a new tensor of shape `shape`. */
static int transpose_to(tl *t, const cr_node *n, int x, const int *perm, const int32_t *shape, int r)
{
    int32_t *p = cr_tl_alloc(t, (size_t)r * sizeof *p);
    if (!p || x < 0)
        return -1;
    for (int i = 0; i < r; i++)
        p[i] = perm[i];
    int kp = cr_tl_const_i32(t, cr_tl_str(t, "perm_%d", t->n_t), p, r);
    int y = cr_tl_tensor(t, cr_tl_str(t, "%s/transpose_%d", n->layer ? n->layer : "v", t->n_t),
                         shape, r, true, TFL_FLOAT32);
    tl_opts o = cr_tl_opts(TFL_OPT_TRANSPOSE);
    return cr_tl_op(t, TFL_TRANSPOSE, 1, (int[]){ x, kp }, 2, y, &o) ? y : -1;
}

/* Softmax over one axis: TRANSPOSE that axis last, SOFTMAX (or
 * LOG_SOFTMAX), TRANSPOSE back. */
static bool emit_softmax_axis(tl *t, const cr_node *n)
{
    int axis, r = n->shape.ndim, perm[CR_MAX_DIMS], back[CR_MAX_DIMS];
    bool lg;
    cr_softmax_axis_parts(n, &axis, &lg);
    int32_t shape[CR_MAX_DIMS];
    for (int i = 0, k = 0; i < r; i++)
        if (i != axis)
            perm[k++] = i;
    perm[r - 1] = axis;
    for (int i = 0; i < r; i++) {
        back[perm[i]] = i;
        shape[i] = i == 0 ? 1 : (int32_t)n->shape.d[perm[i]];
    }
    int x = transpose_to(t, n, cr_tl_val(t, n->in[0]), perm, shape, r);
    int y = cr_tl_tensor(t, cr_tl_str(t, "%s/softmax_%d", n->layer ? n->layer : "v", t->n_t),
                         shape, r, true, TFL_FLOAT32);
    tl_opts o = cr_tl_opts(lg ? TFL_OPT_LOG_SOFTMAX : TFL_OPT_SOFTMAX);
    if (!lg)
        cr_tl_opt_f(&o, 0, 1.0f);                    /* beta */
    if (x < 0 || !cr_tl_op(t, lg ? TFL_LOG_SOFTMAX : TFL_SOFTMAX, 1, &x, 1, y, &o))
        return false;
    int32_t out[CR_MAX_DIMS];
    for (int i = 0; i < r; i++)
        out[i] = i == 0 ? 1 : (int32_t)n->shape.d[i];
    return set(t, n, transpose_to(t, n, y, back, out, r));
}

/* A weight's values (count of them) as a constant over n's trailing axes
 * from `from` (none: shape [1]), broadcasting over the leading ones. */
static int trailing_const(tl *t, const cr_node *n, int from, const float *v, int64_t count)
{
    int32_t shape[CR_MAX_DIMS];
    int nd = 0;
    for (int i = from; i < n->shape.ndim; i++)
        shape[nd++] = (int32_t)n->shape.d[i];
    if (!nd)
        shape[nd++] = 1;
    float *c = cr_tl_alloc(t, (size_t)count * sizeof *c);
    if (!c)
        return -1;
    memcpy(c, v, (size_t)count * sizeof *c);
    return cr_tl_const(t, cr_tl_str(t, "%s/const_%d", n->layer ? n->layer : "v", t->n_t),
                       TFL_FLOAT32, c, shape, nd);
}

/* LayerNormalization: d = x - MEAN(x), h = d * RSQRT(MEAN(d d) + eps) (as
 * crest: 1 / sqrt, then a product), y = h gamma + beta. */
static bool emit_layernorm(tl *t, const cr_node *n)
{
    int axes;
    float eps;
    cr_node *gamma, *beta;
    cr_layernorm_parts(n, &axes, &eps, &gamma, &beta);
    if ((gamma && (gamma->kind != CR_NODE_PARAM || !gamma->w)) ||
        (beta && (beta->kind != CR_NODE_PARAM || !beta->w)))
        return cr_tl_fail_node(t, n, CREST_E_UNSUPPORTED, "a gamma or beta that is not a weight");
    int r = n->shape.ndim, from = r - axes;
    int32_t ax[CR_MAX_DIMS];
    for (int i = 0; i < axes; i++)
        ax[i] = from + i;
    int x = cr_tl_val(t, n->in[0]);
    int m = reduce(t, n, TFL_MEAN, x, ax, axes, true);
    int d = bin(t, TFL_SUB, x, m, fresh(t, n));
    int v = reduce(t, n, TFL_MEAN, bin(t, TFL_MUL, d, d, fresh(t, n)), ax, axes, true);
    for (int i = from; i < r && m >= 0 && v >= 0; i++)     /* the means' shapes: kept axes 1 */
        t->t[m].shape[i] = t->t[v].shape[i] = 1;
    int32_t rs[CR_MAX_DIMS];
    for (int i = 0; i < r; i++)
        rs[i] = i == 0 || i >= from ? 1 : (int32_t)n->shape.d[i];
    const char *base = n->layer ? n->layer : "v";
    v = bin(t, TFL_ADD, v, cr_tl_scalar(t, eps),
            cr_tl_tensor(t, cr_tl_str(t, "%s/ln_var_%d", base, t->n_t), rs, r, true, TFL_FLOAT32));
    v = un(t, TFL_RSQRT, v, cr_tl_tensor(t, cr_tl_str(t, "%s/ln_rstd_%d", base, t->n_t), rs, r, true,
                                         TFL_FLOAT32));
    int y = bin(t, TFL_MUL, d, v, fresh(t, n));
    if (gamma)
        y = bin(t, TFL_MUL, y, trailing_const(t, n, from, gamma->w->val, gamma->w->size), fresh(t, n));
    if (beta)
        y = bin(t, TFL_ADD, y, trailing_const(t, n, from, beta->w->val, beta->w->size), fresh(t, n));
    return set(t, n, y);
}

/* Normalization: (x - mean) / max(sqrt(var), eps), or inverted x * den +
 * mean, the denominators computed here as crest does (float). */
static bool emit_normalize(tl *t, const cr_node *n)
{
    float eps;
    bool inv;
    cr_normalize_parts(n, &eps, &inv);
    if (!params_only(n, 1))
        return cr_tl_fail_node(t, n, CREST_E_UNSUPPORTED, "statistics that are not weights");
    const cr_weight *mw = n->in[1]->w, *vw = n->in[2]->w;
    float *den = cr_tl_alloc(t, (size_t)mw->size * sizeof *den);
    if (!den)
        return false;
    for (int64_t i = 0; i < mw->size; i++) {
        float s = sqrtf(vw->val[i] > 0 ? vw->val[i] : 0);
        den[i] = s > eps ? s : eps;
    }
    int from = n->shape.ndim;     /* the trailing axes the statistics cover */
    for (int64_t c = 1, i = n->shape.ndim - 1; mw->size > 1 && i >= 1; i--) {
        c *= n->shape.d[i];
        if (c == mw->size) {
            from = (int)i;
            break;
        }
    }
    int x = cr_tl_val(t, n->in[0]);
    int mv = trailing_const(t, n, from, mw->val, mw->size), dv = trailing_const(t, n, from, den, mw->size);
    if (inv)
        return set(t, n, bin(t, TFL_ADD, bin(t, TFL_MUL, x, dv, fresh(t, n)), mv, fresh(t, n)));
    return set(t, n, bin(t, TFL_DIV, bin(t, TFL_SUB, x, mv, fresh(t, n)), dv, fresh(t, n)));
}

/* Dot's l2_normalize: x / SQRT(MAXIMUM(SUM(x x), eps)) over one axis. */
static bool emit_l2_normalize(tl *t, const cr_node *n)
{
    int axis, r = n->shape.ndim;
    float eps;
    cr_l2_normalize_parts(n, &axis, &eps);
    int32_t ax = axis, shape[CR_MAX_DIMS];     /* n's shape, the summed axis 1 */
    for (int i = 0; i < r; i++)
        shape[i] = i == 0 ? 1 : i == axis ? 1 : (int32_t)n->shape.d[i];
    const char *base = n->layer ? n->layer : "v";
    int x = cr_tl_val(t, n->in[0]);
    int k = cr_tl_const_i32(t, cr_tl_str(t, "axes_%d", t->n_t), &ax, 1);
    int s = cr_tl_tensor(t, cr_tl_str(t, "%s/l2_sum_%d", base, t->n_t), shape, r, true, TFL_FLOAT32);
    tl_opts o = cr_tl_opts(TFL_OPT_REDUCER);
    cr_tl_opt_b(&o, 0, 1);
    if (s < 0 || !cr_tl_op(t, TFL_SUM, 1, (int[]){ bin(t, TFL_MUL, x, x, fresh(t, n)), k }, 2, s, &o))
        return false;
    s = bin(t, TFL_MAXIMUM, s, cr_tl_scalar(t, eps),
            cr_tl_tensor(t, cr_tl_str(t, "%s/l2_max_%d", base, t->n_t), shape, r, true, TFL_FLOAT32));
    s = un(t, TFL_SQRT, s, cr_tl_tensor(t, cr_tl_str(t, "%s/l2_norm_%d", base, t->n_t), shape, r, true,
                                        TFL_FLOAT32));
    return set(t, n, bin(t, TFL_DIV, x, s, fresh(t, n)));
}

/* One side of batch_dot: v with axis ax moved last (last) or first after
 * the batch, reshaped to [1, others, K] or [1, K, others]. */
static int dot_side(tl *t, const cr_node *n, const cr_node *v, int ax, bool last)
{
    const cr_dims *s = &v->shape;
    int perm[CR_MAX_DIMS], k = 1;
    int32_t shape[CR_MAX_DIMS], rest = 1;
    perm[0] = 0;
    if (!last)
        perm[k++] = ax;
    for (int i = 1; i < s->ndim; i++)
        if (i != ax) {
            perm[k++] = i;
            rest *= (int32_t)s->d[i];
        }
    if (last)
        perm[k++] = ax;
    for (int i = 0; i < s->ndim; i++)
        shape[i] = i == 0 ? 1 : (int32_t)s->d[perm[i]];
    int x = transpose_to(t, n, cr_tl_val(t, v), perm, shape, s->ndim);
    const int32_t flat[3] = { 1, last ? rest : (int32_t)s->d[ax], last ? (int32_t)s->d[ax] : rest };
    int y = cr_tl_tensor(t, cr_tl_str(t, "%s/dot_%d", n->layer ? n->layer : "v", t->n_t), flat, 3,
                         true, TFL_FLOAT32);
    return x >= 0 && y >= 0 ? cr_tl_reshape(t, x, flat, 3, y) : -1;
}

/* Keras' batch_dot: BATCH_MATMUL of [batch, M, K] and [batch, K, N], then
 * the output's shape. */
static bool emit_batch_dot(tl *t, const cr_node *n)
{
    int ax, ay;
    cr_batch_dot_parts(n, &ax, &ay);
    int a = dot_side(t, n, n->in[0], ax, true), b = a >= 0 ? dot_side(t, n, n->in[1], ay, false) : -1;
    if (b < 0)
        return false;
    const int32_t mn[3] = { 1, t->t[a].shape[1], t->t[b].shape[2] };
    int p = cr_tl_tensor(t, cr_tl_str(t, "%s/matmul_%d", n->layer ? n->layer : "v", t->n_t), mn, 3,
                         true, TFL_FLOAT32);
    tl_opts o = cr_tl_opts(TFL_OPT_BATCH_MATMUL);
    if (p < 0 || !cr_tl_op(t, TFL_BATCH_MATMUL, 1, (int[]){ a, b }, 2, p, &o))
        return false;
    int y = fresh(t, n);
    return set(t, n, y >= 0 ? cr_tl_reshape(t, p, shape_of(t, y), n->shape.ndim, y) : -1);
}

/* RepeatVector: [b, F] as [b, 1, F], then times copies concatenated. */
static bool emit_repeat(tl *t, const cr_node *n)
{
    int times = (int)n->shape.d[1];
    int32_t f = (int32_t)n->shape.d[2], s1[3] = { 1, 1, f };
    int x = cr_tl_val(t, n->in[0]);
    int one = cr_tl_tensor(t, cr_tl_str(t, "%s/row_%d", n->layer ? n->layer : "v", t->n_t), s1, 3,
                           true, TFL_FLOAT32);
    x = x >= 0 && one >= 0 ? cr_tl_reshape(t, x, s1, 3, one) : -1;
    int *in = cr_tl_alloc(t, (size_t)times * sizeof *in);
    if (!in || x < 0)
        return false;
    for (int i = 0; i < times; i++)
        in[i] = x;
    tl_opts o = cr_tl_opts(TFL_OPT_CONCATENATION);
    cr_tl_opt_i(&o, 0, 1);
    int y = fresh(t, n);
    return cr_tl_op(t, TFL_CONCATENATION, 1, in, times, y, &o) && set(t, n, y);
}

/* ELU with alpha: relu(x) + alpha min(ELU(x), 0). */
static int elu_alpha(tl *t, const cr_node *n, int x, float alpha)
{
    int b = bin(t, TFL_MINIMUM, un(t, TFL_ELU, x, fresh(t, n)), cr_tl_scalar(t, 0), fresh(t, n));
    b = bin(t, TFL_MUL, b, cr_tl_scalar(t, alpha), fresh(t, n));
    return bin(t, TFL_ADD, un(t, TFL_RELU, x, fresh(t, n)), b, fresh(t, n));
}

/* Conv2DTranspose: TRANSPOSE_CONV, Keras' kernel [kh, kw, oc, c] as
 * TFLite's [oc, kh, kw, c]. Where crest's output drops cells of the full
 * span (h - 1) s + k (its 'same' padding), the full span is computed
 * (VALID) and a STRIDED_SLICE cuts crest's window out of it: Arm NN 20.08
 * pads an odd SAME total on the other side. Otherwise VALID when the
 * output is the span, SAME (padding nothing) when it is longer (k < s: the
 * cells past the span are zeros). The output shape is a constant [1, oh, ow, oc]: computing its
 * batch from the input's shape (SHAPE, as TensorFlow's converter does)
 * makes the output a dynamic tensor, which LiteRT's compiled models refuse
 * as an output. */
static bool emit_tconv(tl *t, const cr_node *n)
{
    const cr_node *k = n->in[1];
    if (k->kind != CR_NODE_PARAM || !k->w)
        return cr_tl_fail_node(t, n, CREST_E_UNSUPPORTED, "a kernel that is not a weight");
    int sh, sw, pt, pl;
    cr_tconv_parts(n, &sh, &sw, &pt, &pl);
    int32_t kh = (int32_t)k->shape.d[0], kw = (int32_t)k->shape.d[1], oc = (int32_t)k->shape.d[2],
            c = (int32_t)k->shape.d[3];
    int32_t oh = (int32_t)n->shape.d[1], ow = (int32_t)n->shape.d[2];
    int32_t th = ((int32_t)n->in[0]->shape.d[1] - 1) * sh + kh - oh;
    int32_t tw = ((int32_t)n->in[0]->shape.d[2] - 1) * sw + kw - ow;
    bool cut = th > 0 || tw > 0;
    float *w = cr_tl_alloc(t, (size_t)kh * kw * oc * c * sizeof *w);
    int32_t *hw = cr_tl_alloc(t, 4 * sizeof *hw);
    if (!w || !hw)
        return false;
    for (int32_t y = 0; y < kh; y++)
        for (int32_t x = 0; x < kw; x++)
            for (int32_t j = 0; j < oc; j++)
                for (int32_t i = 0; i < c; i++)
                    w[(((size_t)j * kh + y) * kw + x) * c + i] = k->w->val[(((size_t)y * kw + x) * oc + j) * c + i];
    hw[0] = 1;
    hw[1] = cut && th > 0 ? oh + th : oh;
    hw[2] = cut && tw > 0 ? ow + tw : ow;
    hw[3] = oc;
    const char *base = n->layer ? n->layer : "tconv";
    int x = cr_tl_val(t, n->in[0]);
    int os = cr_tl_const_i32(t, cr_tl_str(t, "%s/output_shape_%d", base, t->n_t), hw, 4);
    int kt = cr_tl_const(t, cr_tl_str(t, "%s/kernel_%d", base, t->n_t), TFL_FLOAT32, w,
                         (int32_t[]){ oc, kh, kw, c }, 4);
    tl_opts o = cr_tl_opts(TFL_OPT_TRANSPOSE_CONV);
    cr_tl_opt_b(&o, 0, cut || (th == 0 && tw == 0) ? TFL_PAD_VALID : TFL_PAD_SAME);
    cr_tl_opt_i(&o, 1, sw);
    cr_tl_opt_i(&o, 2, sh);
    int y = cut ? cr_tl_tensor(t, cr_tl_str(t, "%s/span_%d", base, t->n_t), hw, 4, true, TFL_FLOAT32)
                : fresh(t, n);
    if (y < 0 || !cr_tl_op(t, TFL_TRANSPOSE_CONV, 1, (int[]){ os, kt, x }, 3, y, &o))
        return false;
    if (!cut)
        return set(t, n, y);
    int b = cr_tl_const_i32(t, cr_tl_str(t, "begin_%d", t->n_t), (int32_t[]){ 0, pt, pl, 0 }, 4);
    int e = cr_tl_const_i32(t, cr_tl_str(t, "end_%d", t->n_t), (int32_t[]){ 0, pt + oh, pl + ow, 0 }, 4);
    int st = cr_tl_const_i32(t, cr_tl_str(t, "strides_%d", t->n_t), (int32_t[]){ 1, 1, 1, 1 }, 4);
    tl_opts so = cr_tl_opts(TFL_OPT_STRIDED_SLICE);
    cr_tl_opt_i(&so, 0, 9);       /* begin_mask / end_mask 9: batch and channels whole */
    cr_tl_opt_i(&so, 1, 9);
    int z = fresh(t, n);
    return cr_tl_op(t, TFL_STRIDED_SLICE, 1, (int[]){ y, b, e, st }, 4, z, &so) && set(t, n, z);
}

/* The 3-D ops TFLite's builtins take on NDHWC values: global pooling (MEAN
 * / REDUCE_MAX over depth, height and width), zero padding (PAD) and
 * cropping (STRIDED_SLICE); 3-D windows and upsampling have none. */
static bool emit_vol(tl *t, const cr_node *n, const char *op)
{
    int a[6], x = cr_tl_val(t, n->in[0]);
    if (!strcmp(op, "global_avgpool3d") || !strcmp(op, "global_maxpool3d"))
        return set(t, n, reduce(t, n, op[7] == 'a' ? TFL_MEAN : TFL_REDUCE_MAX, x,
                                (int32_t[]){ 1, 2, 3 }, 3, n->shape.ndim == 5));
    if (!cr_vol_amounts(n, a))
        return cr_tl_fail_node(t, n, CREST_E_UNSUPPORTED, "an op with no TFLite mapping");
    if (!strcmp(op, "zero_pad3d")) {
        int32_t *p = cr_tl_alloc(t, 10 * sizeof *p);
        if (!p)
            return false;
        const int32_t pads[10] = { 0, 0, a[0], a[1], a[2], a[3], a[4], a[5], 0, 0 };
        memcpy(p, pads, sizeof pads);
        int k = cr_tl_const(t, cr_tl_str(t, "paddings_%d", t->n_t), TFL_INT32, p, (int32_t[]){ 5, 2 }, 2);
        tl_opts o = cr_tl_opts(TFL_OPT_PAD);
        int y = fresh(t, n);
        return cr_tl_op(t, TFL_PAD, 1, (int[]){ x, k }, 2, y, &o) && set(t, n, y);
    }
    const int64_t *d = n->in[0]->shape.d;
    int b = cr_tl_const_i32(t, cr_tl_str(t, "begin_%d", t->n_t), (int32_t[]){ 0, a[0], a[2], a[4], 0 }, 5);
    int e = cr_tl_const_i32(t, cr_tl_str(t, "end_%d", t->n_t),
                            (int32_t[]){ 0, (int32_t)d[1] - a[1], (int32_t)d[2] - a[3], (int32_t)d[3] - a[5], 0 },
                            5);
    int st = cr_tl_const_i32(t, cr_tl_str(t, "strides_%d", t->n_t), (int32_t[]){ 1, 1, 1, 1, 1 }, 5);
    tl_opts o = cr_tl_opts(TFL_OPT_STRIDED_SLICE);
    cr_tl_opt_i(&o, 0, 17);       /* begin_mask / end_mask 17: batch and channels whole */
    cr_tl_opt_i(&o, 1, 17);
    int y = fresh(t, n);
    return cr_tl_op(t, TFL_STRIDED_SLICE, 1, (int[]){ x, b, e, st }, 4, y, &o) && set(t, n, y);
}

/* UpSampling2D (TF.js' coordinates: o * in / out) and Resizing
 * (tf.image.resize: half-pixel centers) as RESIZE_BILINEAR or
 * RESIZE_NEAREST_NEIGHBOR, align_corners false. */
static bool emit_resize(tl *t, const cr_node *n, bool bilinear, bool half_pixel)
{
    int32_t *hw = cr_tl_alloc(t, 2 * sizeof *hw);
    if (!hw)
        return false;
    hw[0] = (int32_t)n->shape.d[1];
    hw[1] = (int32_t)n->shape.d[2];
    int x = cr_tl_val(t, n->in[0]);
    int ks = cr_tl_const_i32(t, cr_tl_str(t, "size_%d", t->n_t), hw, 2), y = fresh(t, n);
    tl_opts o = cr_tl_opts(bilinear ? TFL_OPT_RESIZE_BILINEAR : TFL_OPT_RESIZE_NEAREST_NEIGHBOR);
    cr_tl_opt_b(&o, bilinear ? 2 : 0, 0);                       /* align_corners */
    cr_tl_opt_b(&o, bilinear ? 3 : 1, half_pixel);             /* half_pixel_centers */
    return cr_tl_op(t, bilinear ? TFL_RESIZE_BILINEAR : TFL_RESIZE_NEAREST_NEIGHBOR,
                    half_pixel ? 3 : 1, (int[]){ x, ks }, 2, y, &o) && set(t, n, y);
}

/* The ops of Keras layers beyond convolutions, pooling and Dense: 1, done;
 * 0, an error (recorded); -1, not one of them. */
static int emit_layer(tl *t, const cr_node *n)
{
    const char *op = n->op->name;
    if (!strcmp(op, "transpose"))
        return (int)emit_transpose(t, n);
    if (!strcmp(op, "conv2d_transpose"))
        return (int)emit_tconv(t, n);
    if (!strcmp(op, "softmax_axis"))
        return (int)emit_softmax_axis(t, n);
    if (!strcmp(op, "layernorm"))
        return (int)emit_layernorm(t, n);
    if (!strcmp(op, "normalize"))
        return (int)emit_normalize(t, n);
    if (!strcmp(op, "repeat"))
        return (int)emit_repeat(t, n);
    if (!strcmp(op, "l2_normalize"))
        return (int)emit_l2_normalize(t, n);
    if (!strcmp(op, "global_avgpool3d") || !strcmp(op, "global_maxpool3d") || !strcmp(op, "zero_pad3d") ||
        !strcmp(op, "crop3d"))
        return (int)emit_vol(t, n, op);
    if (!strcmp(op, "batch_dot"))
        return (int)emit_batch_dot(t, n);
    if (!strcmp(op, "maximum") || !strcmp(op, "minimum"))
        return (int)set(t, n, bin(t, op[1] == 'a' ? TFL_MAXIMUM : TFL_MINIMUM, cr_tl_val(t, n->in[0]),
                                  cr_tl_val(t, n->in[1]), fresh(t, n)));
    int count;
    const float *scale, *offset;
    if (cr_channel_affine_parts(n, &count, &scale, &offset)) {   /* per channel: the last axis */
        int k = n->shape.ndim - 1;
        int x = cr_tl_val(t, n->in[0]);
        x = bin(t, TFL_MUL, x, trailing_const(t, n, k, scale, count), fresh(t, n));
        return (int)set(t, n, bin(t, TFL_ADD, x, trailing_const(t, n, k, offset, count), fresh(t, n)));
    }
    float alpha;
    if (cr_elu_alpha_parts(n, &alpha))
        return (int)set(t, n, elu_alpha(t, n, cr_tl_val(t, n->in[0]), alpha));
    bool flag;
    if (cr_upsample2d_parts(n, &flag))
        return (int)emit_resize(t, n, flag, false);
    if (cr_resize_parts(n, &flag))
        return (int)emit_resize(t, n, !flag, true);
    return -1;
}

bool cr_tl_emit(tl *t, const cr_node *n)
{
    const char *op = n->op->name;
    const cr_act_def *a = cr_act_of(n);
    int r;
    if (t->q && (r = emit_int8(t, n)) != 0)
        return r > 0;
    if (a)
        return set(t, n, act_to(t, n, a->id, cr_tl_val(t, n->in[0])));
    if (!strcmp(op, "conv2d") || !strcmp(op, "depthwise2d") || !strcmp(op, "maxpool2d") ||
        !strcmp(op, "avgpool2d"))
        return emit_window(t, n);
    if (!strcmp(op, "matmul"))
        return emit_matmul(t, n);
    if (!strcmp(op, "batchnorm"))
        return emit_batchnorm(t, n);
    if (!strcmp(op, "bias_add") || !strcmp(op, "add") || !strcmp(op, "sub") || !strcmp(op, "mul"))
        return set(t, n, bin(t, op[0] == 'b' || op[0] == 'a' ? TFL_ADD : op[0] == 's' ? TFL_SUB : TFL_MUL,
                             cr_tl_val(t, n->in[0]), cr_tl_val(t, n->in[1]), fresh(t, n)));
    if (!strcmp(op, "dropout"))       /* inference: the identity */
        return alias(t, n);
    if (!strcmp(op, "relu_ex"))
        return set(t, n, relu_ex(t, n, cr_tl_val(t, n->in[0])));
    if (!strcmp(op, "scale"))
        return emit_scale(t, n);
    if (!strcmp(op, "reshape") && cr_kernel_weight(n))
        return true;       /* a weight viewed in another shape: made where used */
    if ((r = emit_layer(t, n)) >= 0)
        return r > 0;
    if (!strcmp(op, "flatten") || !strcmp(op, "reshape")) {
        int x = cr_tl_val(t, n->in[0]), y = fresh(t, n);   /* in this order: */
        return set(t, n, x >= 0 && y >= 0                    /* tensors move t->t */
                         ? cr_tl_reshape(t, x, shape_of(t, y), n->shape.ndim, y) : -1);
    }
    if (!strcmp(op, "concat"))
        return emit_concat(t, n);
    if (!strcmp(op, "sum") || !strcmp(op, "mean"))
        return emit_reduce(t, n, op[0] == 'm');
    if (!strcmp(op, "global_avgpool") || !strcmp(op, "global_maxpool") ||
        !strcmp(op, "zero_pad2d") || !strcmp(op, "crop2d"))
        return emit_spatial(t, n, op);
    if (!strcmp(op, "embedding_bag") || !strcmp(op, "slice_cols"))
        return cr_tl_fail_node(t, n, CREST_E_UNSUPPORTED, "a feature-column op");
    return cr_tl_fail_node(t, n, CREST_E_UNSUPPORTED, "an op with no TFLite mapping");
}
