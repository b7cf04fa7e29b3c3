/* onnx.c - a model as an ONNX file (float32, opset 13), for ONNX Runtime and
 * the other runtimes that read ONNX.
 *
 * The message is built with the C structs protobuf-c generates at build
 * time from the onnx.proto of Debian's libonnx-dev (build/gen/, see the
 * Makefile) and packed by libprotobuf-c: no encoder of ours.
 *
 * What is exported is the model's unfused inference graph of ops (every
 * model kind traces into one: Sequential, functional, nested backbones,
 * custom models, lambdas, expressions), op by op: conv2d -> Conv,
 * depthwise2d -> Conv with group = channels, batchnorm ->
 * BatchNormalization, relu6 -> Clip, matmul -> MatMul, bias_add -> Add,
 * global pooling -> GlobalAveragePool / GlobalMaxPool, zero padding -> Pad,
 * and so on. An op with no mapping is CREST_E_UNSUPPORTED naming its layer.
 *
 * Layout: crest is NHWC, ONNX's Conv and pooling are NCHW. The model's
 * inputs and outputs stay NHWC (the same tensors feed crest, TF.js and the
 * ONNX model), and inside the graph every 4-D value is kept in whichever
 * layout its producer made: convolutions, pooling, padding, cropping,
 * batch norm, bias adds, element-wise ops, concatenation on channels and
 * softmax on channels all work in NCHW, so a Transpose appears only where a
 * layout-sensitive op (Flatten, Reshape, MatMul, a reduction) or an output
 * needs NHWC again. MobileNetV2 and InceptionV3 get one Transpose, at the
 * input. Converting the whole graph rather than wrapping each convolution
 * in a Transpose pair keeps the file free of layout noise for any runtime,
 * not only those whose optimizer cancels such pairs.
 *
 * Spatial sizes are fixed at the traced input's; the batch is dynamic
 * ("batch"). Weights are written as raw little-endian float32. */
#include "../internal.h"
#include "../functional_graph.h"

#include "onnx.pb-c.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define ONNX_OPSET 13
#define ONNX_IR_VERSION 7

typedef struct ox {
    Onnx__GraphProto *g;
    size_t cap_node, cap_init;
    void **mem;                  /* every allocation, freed together */
    size_t n_mem, cap_mem;
    int err;                     /* first error (message set) */
    int tmp;                     /* counter for fresh value names */
    /* per crest node (by id): its ONNX value, whether a 4-D value is NCHW,
     * and the other layout's value once made */
    char **name, **alt;
    bool *nchw;
    /* weights already written: which weight, its initializer's name */
    const cr_weight **w_done;
    char **w_name;
    int n_w, cap_w;
} ox;

/* ---- allocation and building blocks ------------------------------------- */

static void *ox_alloc(ox *o, size_t n)
{
    if (o->err)
        return NULL;
    if (o->n_mem == o->cap_mem) {
        size_t cap = o->cap_mem ? 2 * o->cap_mem : 256;
        void **m = cr_realloc(o->mem, cap * sizeof *m);
        if (!m) {
            o->err = cr_fail(CREST_E_NOMEM, "out of memory writing ONNX");
            return NULL;
        }
        o->mem = m;
        o->cap_mem = cap;
    }
    void *p = cr_calloc(1, n ? n : 1);
    if (!p) {
        o->err = cr_fail(CREST_E_NOMEM, "out of memory writing ONNX");
        return NULL;
    }
    o->mem[o->n_mem++] = p;
    return p;
}

static char *ox_str(ox *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *ox_str(ox *o, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *s = ox_alloc(o, strlen(buf) + 1);
    if (s)
        memcpy(s, buf, strlen(buf) + 1);
    return s;
}

static char *ox_fresh(ox *o, const char *what) { return ox_str(o, "%s_%d", what, o->tmp++); }

/* Appends p to a growable array of pointers (arrays live outside o->mem:
 * they are realloc'ed; freed by ox_free). */
static bool ox_push(ox *o, void ***arr, size_t *n, size_t *cap, void *p)
{
    if (o->err || !p)
        return false;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        void **a = cr_realloc(*arr, c * sizeof *a);
        if (!a) {
            o->err = cr_fail(CREST_E_NOMEM, "out of memory writing ONNX");
            return false;
        }
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = p;
    return true;
}

/* A node op_type(in...) -> out; in entries may be "" (an omitted input). */
static Onnx__NodeProto *ox_node(ox *o, const char *op_type, const char *const *in, int n_in,
                                const char *out)
{
    Onnx__NodeProto *n = ox_alloc(o, sizeof *n);
    char **ins = ox_alloc(o, (size_t)(n_in > 0 ? n_in : 1) * sizeof *ins);
    char **outs = ox_alloc(o, sizeof *outs);
    if (!n || !ins || !outs || !out)
        return NULL;
    onnx__node_proto__init(n);
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) {
            o->err = cr_fail(CREST_E_INTERNAL, "ONNX: an input of %s has no value", op_type);
            return NULL;
        }
        ins[i] = (char *)in[i];
    }
    n->n_input = (size_t)n_in;
    n->input = ins;
    outs[0] = (char *)out;
    n->n_output = 1;
    n->output = outs;
    n->op_type = (char *)op_type;
    n->name = ox_str(o, "%s_%zu", op_type, o->g->n_node);
    if (!ox_push(o, (void ***)&o->g->node, &o->g->n_node, &o->cap_node, n))
        return NULL;
    return n;
}

static Onnx__AttributeProto *ox_attr(ox *o, Onnx__NodeProto *n, const char *name,
                                     Onnx__AttributeProto__AttributeType type)
{
    if (!n)
        return NULL;
    Onnx__AttributeProto *a = ox_alloc(o, sizeof *a);
    Onnx__AttributeProto **arr = ox_alloc(o, (n->n_attribute + 1) * sizeof *arr);
    if (!a || !arr)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = true;
    a->type = type;
    if (n->n_attribute)
        memcpy(arr, n->attribute, n->n_attribute * sizeof *arr);
    arr[n->n_attribute++] = a;
    n->attribute = arr;
    return a;
}

static void attr_i(ox *o, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = ox_attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) {
        a->has_i = true;
        a->i = v;
    }
}

static void attr_f(ox *o, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = ox_attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) {
        a->has_f = true;
        a->f = v;
    }
}

static void attr_ints(ox *o, Onnx__NodeProto *n, const char *name, const int64_t *v, int k)
{
    Onnx__AttributeProto *a = ox_attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *c = ox_alloc(o, (size_t)k * sizeof *c);
    if (a && c) {
        memcpy(c, v, (size_t)k * sizeof *c);
        a->n_ints = (size_t)k;
        a->ints = c;
    }
}

/* An initializer: raw little-endian data (not copied: it must outlive the
 * pack), dims[0..nd). Returns its name. */
static char *ox_init(ox *o, char *name, int32_t dtype, const void *data, size_t bytes,
                     const int64_t *dims, int nd)
{
    Onnx__TensorProto *t = ox_alloc(o, sizeof *t);
    int64_t *d = ox_alloc(o, (size_t)(nd > 0 ? nd : 1) * sizeof *d);
    if (!t || !d || !name)
        return NULL;
    onnx__tensor_proto__init(t);
    if (nd > 0)         /* scalars: dims is NULL */
        memcpy(d, dims, (size_t)nd * sizeof *d);
    t->n_dims = (size_t)nd;
    t->dims = d;
    t->has_data_type = true;
    t->data_type = dtype;
    t->name = name;
    t->has_raw_data = true;
    t->raw_data.data = (uint8_t *)data;
    t->raw_data.len = bytes;
    if (!ox_push(o, (void ***)&o->g->initializer, &o->g->n_initializer, &o->cap_init, t))
        return NULL;
    return name;
}

static char *const_i64(ox *o, const char *what, const int64_t *v, int k)
{
    int64_t *c = ox_alloc(o, (size_t)k * sizeof *c);
    if (!c)
        return NULL;
    memcpy(c, v, (size_t)k * sizeof *c);
    return ox_init(o, ox_fresh(o, what), ONNX__TENSOR_PROTO__DATA_TYPE__INT64, c,
                   (size_t)k * sizeof *c, (int64_t[]){ k }, 1);
}

/* A float constant of shape dims (copied). */
static char *const_f32(ox *o, const char *what, const float *v, int64_t count,
                       const int64_t *dims, int nd)
{
    float *c = ox_alloc(o, (size_t)count * sizeof *c);
    if (!c)
        return NULL;
    memcpy(c, v, (size_t)count * sizeof *c);
    return ox_init(o, ox_fresh(o, what), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, c,
                   (size_t)count * sizeof *c, dims, nd);
}

/* A float scalar; one initializer per distinct value. */
static char *scalar_f32(ox *o, float v)
{
    for (size_t i = 0; i < o->g->n_initializer; i++) {
        const Onnx__TensorProto *t = o->g->initializer[i];
        if (t->n_dims == 0 && t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT &&
            t->raw_data.len == sizeof v && !memcmp(t->raw_data.data, &v, sizeof v))
            return t->name;
    }
    return const_f32(o, "c", &v, 1, NULL, 0);
}

static char *unary(ox *o, const char *op_type, const char *x, const char *out)
{
    return ox_node(o, op_type, &x, 1, out) ? (char *)out : NULL;
}

static char *binary(ox *o, const char *op_type, const char *a, const char *b, const char *out)
{
    return ox_node(o, op_type, (const char *[]){ a, b }, 2, out) ? (char *)out : NULL;
}

/* ---- values of crest nodes, in either layout ---------------------------- */

static int fail_node(ox *o, const cr_node *n, int code, const char *why)
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
    char *name = w->owner ? ox_str(o, "%s/%s", w->owner->name, w->name)
                          : ox_str(o, "%s_%d", w->name ? w->name : "param", o->tmp++);
    int64_t dims[CR_MAX_DIMS];
    for (int i = 0; i < w->shape.ndim; i++)
        dims[i] = w->shape.d[i];
    if (!ox_init(o, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, w->val,
                 (size_t)w->size * sizeof(float), dims, w->shape.ndim))
        return NULL;
    o->w_done[o->n_w] = w;
    o->w_name[o->n_w++] = name;
    return name;
}

static bool is4(const cr_node *n) { return n->shape.ndim == 4; }

/* n's value in layout nchw (4-D values; others have one layout). */
static const char *val(ox *o, const cr_node *n, bool nchw)
{
    if (o->err)
        return NULL;
    if (n->kind == CR_NODE_PARAM && !o->name[n->id])
        o->name[n->id] = (char *)weight_name(o, n);
    if (!is4(n) || o->nchw[n->id] == nchw)
        return o->name[n->id];
    if (!o->alt[n->id]) {
        char *t = ox_fresh(o, nchw ? "to_nchw" : "to_nhwc");
        Onnx__NodeProto *tr = ox_node(o, "Transpose", (const char *[]){ o->name[n->id] }, 1, t);
        attr_ints(o, tr, "perm", nchw ? (int64_t[]){ 0, 3, 1, 2 } : (int64_t[]){ 0, 2, 3, 1 }, 4);
        o->alt[n->id] = tr ? t : NULL;
    }
    return o->alt[n->id];
}

static char *out_of(ox *o, const cr_node *n, bool nchw)
{
    o->nchw[n->id] = nchw && is4(n);
    return o->name[n->id] = ox_str(o, "v%d", n->id);
}

/* ---- activations -------------------------------------------------------- */

/* y = act(x) into out; x's layout is kept (softmax: channels are axis 1 of
 * an NCHW value). */
static bool emit_act(ox *o, const cr_node *n, int act, const char *x, bool nchw,
                     const char *out)
{
    char *t, *u;
    switch (act) {
    case CREST_LINEAR: return unary(o, "Identity", x, out);
    case CREST_RELU: return unary(o, "Relu", x, out);
    case CREST_RELU6:
        return ox_node(o, "Clip", (const char *[]){ x, scalar_f32(o, 0), scalar_f32(o, 6) }, 3,
                       out);
    case CREST_SIGMOID: return unary(o, "Sigmoid", x, out);
    case CREST_TANH: return unary(o, "Tanh", x, out);
    case CREST_SOFTMAX: case CREST_LOG_SOFTMAX: {
        Onnx__NodeProto *s = ox_node(o, act == CREST_SOFTMAX ? "Softmax" : "LogSoftmax", &x, 1,
                                     out);
        attr_i(o, s, "axis", nchw && is4(n) ? 1 : -1);
        return s;
    }
    case CREST_SWISH:
        t = unary(o, "Sigmoid", x, ox_fresh(o, "sig"));
        return binary(o, "Mul", x, t, out);
    case CREST_HARD_SIGMOID: case CREST_HARD_SIGMOID_KERAS3: {   /* Keras 2's; Keras 3's */
        Onnx__NodeProto *h = ox_node(o, "HardSigmoid", &x, 1, out);
        attr_f(o, h, "alpha", act == CREST_HARD_SIGMOID ? 0.2f : 1.0f / 6.0f);
        attr_f(o, h, "beta", 0.5f);
        return h;
    }
    case CREST_ELU: {
        Onnx__NodeProto *e = ox_node(o, "Elu", &x, 1, out);
        attr_f(o, e, "alpha", 1.0f);
        return e;
    }
    case CREST_SELU: return unary(o, "Selu", x, out);     /* ONNX's defaults are Keras' */
    case CREST_SOFTPLUS: return unary(o, "Softplus", x, out);
    case CREST_SOFTSIGN: return unary(o, "Softsign", x, out);
    case CREST_GELU:    /* exact: 0.5 x (1 + erf(x / sqrt 2)) */
        t = binary(o, "Mul", x, scalar_f32(o, 0.70710678118654752f), ox_fresh(o, "g"));
        t = unary(o, "Erf", t, ox_fresh(o, "g"));
        t = binary(o, "Add", t, scalar_f32(o, 1), ox_fresh(o, "g"));
        u = binary(o, "Mul", x, scalar_f32(o, 0.5f), ox_fresh(o, "g"));
        return binary(o, "Mul", u, t, out);
    case CREST_EXPONENTIAL: return unary(o, "Exp", x, out);
    case CREST_LEAKY_RELU: {
        Onnx__NodeProto *l = ox_node(o, "LeakyRelu", &x, 1, out);
        attr_f(o, l, "alpha", 0.2f);
        return l;
    }
    case CREST_MISH:
        t = unary(o, "Softplus", x, ox_fresh(o, "m"));
        t = unary(o, "Tanh", t, ox_fresh(o, "m"));
        return binary(o, "Mul", x, t, out);
    default:
        return fail_node(o, n, CREST_E_UNSUPPORTED, "an activation with no ONNX mapping"), false;
    }
}

/* Keras ReLU(max_value, negative_slope, threshold):
 * x > threshold ? min(x, max_value) : slope * (x - threshold). */
static bool emit_relu_ex(ox *o, const cr_node *n, const char *x, const char *out)
{
    float mx, slope, th;
    cr_relu_ex_parts(n, &mx, &slope, &th);
    const char *hi = mx >= 0 ? binary(o, "Min", x, scalar_f32(o, mx), ox_fresh(o, "r")) : x;
    const char *d = binary(o, "Sub", x, scalar_f32(o, th), ox_fresh(o, "r"));
    const char *lo = binary(o, "Mul", d, scalar_f32(o, slope), ox_fresh(o, "r"));
    const char *c = binary(o, "Greater", x, scalar_f32(o, th), ox_fresh(o, "r"));
    return ox_node(o, "Where", (const char *[]){ c, hi, lo }, 3, out);
}

/* ---- window ops --------------------------------------------------------- */

static void pads_of(const cr_conv_geom *g, int64_t pads[4])
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
    const char *base = k->w && k->w->owner ? k->w->owner->name : "kernel";
    char *name = ox_str(o, "%s/%s_oihw", base, k->w && k->w->name ? k->w->name : "kernel");
    for (size_t i = 0; name && i < o->g->n_initializer; i++)
        if (!strcmp(o->g->initializer[i]->name, name))
            return name;      /* a layer applied twice: one weight */
    int64_t kh = s->d[0], kw = s->d[1], c = s->d[2], m = s->d[3];
    int64_t oc = depthwise ? c * m : m, ic = depthwise ? 1 : c;
    float *w = ox_alloc(o, (size_t)(kh * kw * c * m) * sizeof *w);
    if (!w)
        return NULL;
    const float *src = k->val ? k->val : k->w ? k->w->val : NULL;
    if (!src)
        return fail_node(o, n, CREST_E_UNSUPPORTED, "a kernel that is not a weight"), NULL;
    for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++)
            for (int64_t ci = 0; ci < c; ci++)
                for (int64_t j = 0; j < m; j++) {
                    float v = src[((y * kw + x) * c + ci) * m + j];
                    int64_t oo = depthwise ? ci * m + j : j, ii = depthwise ? 0 : ci;
                    w[((oo * ic + ii) * kh + y) * kw + x] = v;
                }
    return ox_init(o, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, w, (size_t)(kh * kw * c * m) * sizeof *w,
                   (int64_t[]){ oc, ic, kh, kw }, 4);
}

static bool emit_window(ox *o, const cr_node *n)
{
    cr_conv_geom g;
    int act;
    bool folded;
    if (!cr_window_parts(n, &g, &act, &folded))
        return fail_node(o, n, CREST_E_SHAPE, "a window op whose geometry is bad"), false;
    if (folded)
        return fail_node(o, n, CREST_E_UNSUPPORTED, "a folded batch norm"), false;
    const char *op = n->op->name;
    bool conv = !strcmp(op, "conv2d"), dw = !strcmp(op, "depthwise2d");
    if ((conv || dw) && (n->in[1]->kind != CR_NODE_PARAM || (n->n_in == 3 &&
                                                             n->in[2]->kind != CR_NODE_PARAM)))
        return fail_node(o, n, CREST_E_UNSUPPORTED, "a kernel or bias that is not a weight"),
               false;
    int64_t pads[4];
    pads_of(&g, pads);
    const char *x = val(o, n->in[0], true);
    char *out = ox_str(o, "v%d", n->id);
    char *y = act == CREST_LINEAR ? out : ox_fresh(o, "pre");
    Onnx__NodeProto *node;
    if (conv || dw) {
        const char *in[3] = { x, conv_weight(o, n, dw), n->n_in == 3 ? val(o, n->in[2], true) : "" };
        node = ox_node(o, "Conv", in, n->n_in == 3 ? 3 : 2, y);
        if (dw)
            attr_i(o, node, "group", g.c);
        attr_ints(o, node, "dilations", (int64_t[]){ g.dh, g.dw }, 2);
    } else {
        node = ox_node(o, !strcmp(op, "maxpool2d") ? "MaxPool" : "AveragePool", &x, 1, y);
        /* crest averages over the cells inside the image: count_include_pad 0 */
    }
    attr_ints(o, node, "kernel_shape", (int64_t[]){ g.kh, g.kw }, 2);
    attr_ints(o, node, "strides", (int64_t[]){ g.sh, g.sw }, 2);
    attr_ints(o, node, "pads", pads, 4);
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
        return fail_node(o, n, CREST_E_UNSUPPORTED, "statistics that are not weights"), false;
    int r = n->shape.ndim;
    if (r == 4 || r == 2) {      /* BatchNormalization: channels on axis 1 */
        float *ones = NULL, *zeros = NULL;
        if (!gamma || !beta) {
            ones = ox_alloc(o, (size_t)c * sizeof *ones);
            zeros = ox_alloc(o, (size_t)c * sizeof *zeros);
            if (!ones || !zeros)
                return false;
            for (int64_t i = 0; i < c; i++)
                ones[i] = 1.0f;
        }
        const char *in[5] = {
            val(o, n->in[0], true),
            gamma ? val(o, gamma, true)
                  : ox_init(o, ox_fresh(o, "ones"), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, ones,
                            (size_t)c * sizeof(float), &c, 1),
            beta ? val(o, beta, true)
                 : ox_init(o, ox_fresh(o, "zeros"), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, zeros,
                           (size_t)c * sizeof(float), &c, 1),
            val(o, mean, true), val(o, var, true) };
        Onnx__NodeProto *b = ox_node(o, "BatchNormalization", in, 5, out_of(o, n, true));
        attr_f(o, b, "epsilon", eps);
        return b;
    }
    /* other ranks: channels last, as a per-channel multiply-add whose
     * factors are computed here in double */
    float *mul = ox_alloc(o, (size_t)c * sizeof *mul), *add = ox_alloc(o, (size_t)c * sizeof *add);
    if (!mul || !add)
        return false;
    for (int64_t i = 0; i < c; i++) {
        double s = (gamma ? gamma->w->val[i] : 1.0) / sqrt((double)var->w->val[i] + eps);
        mul[i] = (float)s;
        add[i] = (float)((beta ? beta->w->val[i] : 0.0) - mean->w->val[i] * s);
    }
    const char *t = binary(o, "Mul", val(o, n->in[0], false),
                           ox_init(o, ox_fresh(o, "bn_mul"), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
                                   mul, (size_t)c * sizeof(float), &c, 1), ox_fresh(o, "bn"));
    return binary(o, "Add", t,
                  ox_init(o, ox_fresh(o, "bn_add"), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, add,
                          (size_t)c * sizeof(float), &c, 1), out_of(o, n, false));
}

/* x [..., C] + bias [C]; on an NCHW value the bias is [C, 1, 1]. */
static bool emit_bias_add(ox *o, const cr_node *n)
{
    const cr_node *x = n->in[0], *b = n->in[1];
    bool nchw = is4(x) && o->nchw[x->id];
    const char *bv = val(o, b, false);
    if (nchw)
        bv = binary(o, "Reshape", bv, const_i64(o, "shape", (int64_t[]){ -1, 1, 1 }, 3),
                    ox_fresh(o, "bias"));
    return binary(o, "Add", val(o, x, nchw), bv, out_of(o, n, nchw));
}

/* add / sub / mul with numpy broadcasting: two 4-D values in NCHW when
 * either already is; anything else in crest's own layout. */
static bool emit_elementwise(ox *o, const cr_node *n, const char *op_type)
{
    const cr_node *a = n->in[0], *b = n->in[1];
    bool nchw = is4(a) && is4(b) && (o->nchw[a->id] || o->nchw[b->id]);
    return binary(o, op_type, val(o, a, nchw), val(o, b, nchw), out_of(o, n, nchw));
}

static bool emit_concat(ox *o, const cr_node *n)
{
    int axis;
    cr_concat_axis(n, &axis);
    bool nchw = is4(n) && axis == 3;
    for (int i = 0; i < n->n_in && nchw; i++)
        nchw = is4(n->in[i]);
    const char **in = ox_alloc(o, (size_t)n->n_in * sizeof *in);
    if (!in)
        return false;
    for (int i = 0; i < n->n_in; i++)
        in[i] = val(o, n->in[i], nchw);
    Onnx__NodeProto *c = ox_node(o, "Concat", in, n->n_in, out_of(o, n, nchw));
    attr_i(o, c, "axis", nchw ? 1 : axis);
    return c;
}

static bool emit_reduce(ox *o, const cr_node *n, bool mean)
{
    int axis;
    bool keep;
    cr_reduce_parts(n, &axis, &keep);
    const char *x = val(o, n->in[0], false);
    Onnx__NodeProto *r;
    if (mean) {
        r = ox_node(o, "ReduceMean", &x, 1, out_of(o, n, false));
        if (axis != CR_AXIS_ALL)
            attr_ints(o, r, "axes", (int64_t[]){ axis }, 1);
    } else if (axis != CR_AXIS_ALL) {
        r = ox_node(o, "ReduceSum", (const char *[]){ x, const_i64(o, "axes", (int64_t[]){ axis }, 1) },
                    2, out_of(o, n, false));
    } else {
        r = ox_node(o, "ReduceSum", &x, 1, out_of(o, n, false));
    }
    attr_i(o, r, "keepdims", keep);
    return r;
}

static bool emit_spatial(ox *o, const cr_node *n, const char *op)
{
    const char *x = val(o, n->in[0], true);
    if (!strcmp(op, "global_avgpool") || !strcmp(op, "global_maxpool")) {
        const char *type = op[7] == 'a' ? "GlobalAveragePool" : "GlobalMaxPool";
        if (is4(n))      /* keepdims: [n,c,1,1] is the NCHW of [n,1,1,c] */
            return unary(o, type, x, out_of(o, n, true));
        const char *t = unary(o, type, x, ox_fresh(o, "gpool"));
        Onnx__NodeProto *f = ox_node(o, "Flatten", &t, 1, out_of(o, n, false));
        attr_i(o, f, "axis", 1);
        return f;
    }
    int t, b, l, r;
    if (cr_pad_parts(n, &t, &b, &l, &r))
        return ox_node(o, "Pad", (const char *[]){ x, const_i64(o, "pads",
                                   (int64_t[]){ 0, 0, t, l, 0, 0, b, r }, 8) }, 2,
                       out_of(o, n, true));
    cr_crop_parts(n, &t, &b, &l, &r);
    int64_t h = n->in[0]->shape.d[1], w = n->in[0]->shape.d[2];
    return ox_node(o, "Slice", (const char *[]){ x, const_i64(o, "starts", (int64_t[]){ t, l }, 2),
                   const_i64(o, "ends", (int64_t[]){ h - b, w - r }, 2),
                   const_i64(o, "axes", (int64_t[]){ 2, 3 }, 2) }, 4, out_of(o, n, true));
}

/* An NCHW value whose height and width are 1 ([n,c,1,1], as global pooling
 * with keepdims makes) lies in memory as its NHWC form does: Flatten and
 * Reshape take it with no Transpose. */
static bool flat_same(const ox *o, const cr_node *x)
{
    return is4(x) && o->nchw[x->id] && x->shape.d[1] == 1 && x->shape.d[2] == 1;
}

static bool emit_op(ox *o, const cr_node *n)
{
    const char *op = n->op->name;
    const cr_act_def *a = cr_act_of(n);
    if (a) {
        const cr_node *x = n->in[0];
        bool nchw = is4(x) && o->nchw[x->id];
        return emit_act(o, n, a->id, val(o, x, nchw), nchw, out_of(o, n, nchw));
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
        return binary(o, "MatMul", val(o, n->in[0], false), val(o, n->in[1], false),
                      out_of(o, n, false));
    if (!strcmp(op, "dropout")) {    /* inference: the identity */
        const cr_node *x = n->in[0];
        if (!val(o, x, false))
            return false;
        o->name[n->id] = o->name[x->id];
        o->alt[n->id] = o->alt[x->id];
        o->nchw[n->id] = o->nchw[x->id];
        return true;
    }
    if (!strcmp(op, "relu_ex")) {
        const cr_node *x = n->in[0];
        bool nchw = is4(x) && o->nchw[x->id];
        return emit_relu_ex(o, n, val(o, x, nchw), out_of(o, n, nchw));
    }
    if (!strcmp(op, "scale")) {
        float mul, add;
        cr_scale_parts(n, &mul, &add);
        const cr_node *x = n->in[0];
        bool nchw = is4(x) && o->nchw[x->id];
        const char *t = binary(o, "Mul", val(o, x, nchw), scalar_f32(o, mul), ox_fresh(o, "s"));
        return binary(o, "Add", t, scalar_f32(o, add), out_of(o, n, nchw));
    }
    if (!strcmp(op, "flatten")) {
        const char *x = val(o, n->in[0], flat_same(o, n->in[0]));
        Onnx__NodeProto *f = ox_node(o, "Flatten", &x, 1, out_of(o, n, false));
        attr_i(o, f, "axis", 1);
        return f;
    }
    if (!strcmp(op, "reshape")) {
        int64_t shape[CR_MAX_DIMS] = { 0 };    /* 0: the input's batch */
        for (int i = 1; i < n->shape.ndim; i++)
            shape[i] = n->shape.d[i];
        return binary(o, "Reshape", val(o, n->in[0], flat_same(o, n->in[0])),
                      const_i64(o, "shape", shape, n->shape.ndim), out_of(o, n, false));
    }
    if (!strcmp(op, "concat"))
        return emit_concat(o, n);
    if (!strcmp(op, "sum") || !strcmp(op, "mean"))
        return emit_reduce(o, n, op[0] == 'm');
    if (!strcmp(op, "global_avgpool") || !strcmp(op, "global_maxpool") ||
        !strcmp(op, "zero_pad2d") || !strcmp(op, "crop2d"))
        return emit_spatial(o, n, op);
    if (!strcmp(op, "embedding_bag") || !strcmp(op, "slice_cols"))
        return fail_node(o, n, CREST_E_UNSUPPORTED, "a feature-column op"), false;
    return fail_node(o, n, CREST_E_UNSUPPORTED, "an op with no ONNX mapping"), false;
}

/* ---- graph inputs and outputs ------------------------------------------- */

static Onnx__ValueInfoProto *value_info(ox *o, const char *name, const cr_dims *s)
{
    Onnx__ValueInfoProto *v = ox_alloc(o, sizeof *v);
    Onnx__TypeProto *t = ox_alloc(o, sizeof *t);
    Onnx__TypeProto__Tensor *tt = ox_alloc(o, sizeof *tt);
    Onnx__TensorShapeProto *sh = ox_alloc(o, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **d = ox_alloc(o, (size_t)(s->ndim ? s->ndim : 1) * sizeof *d);
    if (!v || !t || !tt || !sh || !d)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < s->ndim; i++) {
        if (!(d[i] = ox_alloc(o, sizeof **d)))
            return NULL;
        onnx__tensor_shape_proto__dimension__init(d[i]);
        if (i == 0) {
            d[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d[i]->dim_param = "batch";
        } else {
            d[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d[i]->dim_value = s->d[i];
        }
    }
    sh->n_dim = (size_t)s->ndim;
    sh->dim = d;
    tt->has_elem_type = true;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = (char *)name;
    v->type = t;
    return v;
}

/* A name for input or output k: the Input's or the layer's (given as
 * known) when that is unique so far. */
static char *io_name(ox *o, const char *known, const cr_node *n, const char *what, int k,
                     char **taken, int n_taken)
{
    const char *base = known && *known ? known : n->layer && *n->layer ? n->layer : what;
    char *s = ox_str(o, "%s", base);
    for (int i = 0; s && i < n_taken; i++)
        if (taken[i] && !strcmp(taken[i], s))
            return ox_str(o, "%s_%d", what, k);
    return s;
}

static int build_graph(ox *o, crest_model *m, cr_graph *g)
{
    Onnx__GraphProto *gp = o->g;
    gp->name = ox_str(o, "%s", m->name);
    char *io[2 * CR_MAX_IO] = { 0 };
    int n_io = 0;
    gp->input = ox_alloc(o, (size_t)g->n_inputs * sizeof *gp->input);
    gp->output = ox_alloc(o, (size_t)g->n_outputs * sizeof *gp->output);
    /* functional and Sequential models: the Keras Input names, in order */
    crest_sym *syms[CR_MAX_IO];
    int n_syms = cr_functional_inputs(m, syms);
    for (int k = 0; k < g->n_inputs && !o->err; k++) {
        const cr_node *x = g->inputs[k];
        char *name = io_name(o, n_syms == g->n_inputs ? syms[k]->name : NULL, x, "input", k,
                             io, n_io);
        io[n_io++] = name;
        o->name[x->id] = name;
        o->nchw[x->id] = false;
        gp->input[gp->n_input++] = value_info(o, name, &x->shape);
    }
    for (int i = 0; i < g->n && !o->err; i++) {
        const cr_node *n = g->nodes[i];
        if (n->kind == CR_NODE_INPUT && !o->name[n->id])
            return cr_fail(CREST_E_UNSUPPORTED, "model '%s': an input the model does not "
                           "declare cannot be exported to ONNX", m->name);
        if (n->kind == CR_NODE_OP)
            emit_op(o, n);
    }
    for (int k = 0; k < g->n_outputs && !o->err; k++) {
        const cr_node *y = g->outputs[k];
        char *name = io_name(o, NULL, y, "output", k, io, n_io);
        io[n_io++] = name;
        unary(o, "Identity", val(o, y, false), name);
        gp->output[gp->n_output++] = value_info(o, name, &y->shape);
    }
    return o->err;
}

static void ox_free(ox *o)
{
    for (size_t i = 0; i < o->n_mem; i++)
        cr_free(o->mem[i]);
    cr_free(o->mem);
    if (o->g) {
        cr_free(o->g->node);
        cr_free(o->g->initializer);
    }
    cr_free(o->w_done);
    cr_free(o->w_name);
}

/* The packed ModelProto of m into *buf / *len (cr_malloc'ed). */
static int pack_model(crest_model *m, uint8_t **buf, size_t *len)
{
    int rc = cr_model_build(m);
    if (rc)
        return rc;
    if (crest_model_features(m))
        return cr_fail(CREST_E_UNSUPPORTED,
                       "layer '%s': DenseFeatures (feature columns: lookups, hashing, "
                       "buckets, embeddings of raw table rows) cannot be exported to ONNX",
                       m->layers[0]->name);
    cr_graph *g = cr_graph_new(m, false);
    if (!g)
        return cr_fail(CREST_E_NOMEM, "out of memory tracing model '%s'", m->name);
    cr_node *out = cr_model_trace(m, g);
    rc = cr_graph_status(g);
    if (!rc && g->n_outputs == 0)
        g->outputs[g->n_outputs++] = out;
    ox o = { 0 };
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1] = { &opset };
    onnx__model_proto__init(&model);
    onnx__graph_proto__init(&graph);
    onnx__operator_set_id_proto__init(&opset);
    o.g = &graph;
    if (!rc) {
        o.name = ox_alloc(&o, (size_t)g->n * sizeof *o.name);
        o.alt = ox_alloc(&o, (size_t)g->n * sizeof *o.alt);
        o.nchw = ox_alloc(&o, (size_t)g->n * sizeof *o.nchw);
        rc = o.err ? o.err : build_graph(&o, m, g);
    }
    if (!rc) {
        opset.domain = "";
        opset.has_version = true;
        opset.version = ONNX_OPSET;
        model.has_ir_version = true;
        model.ir_version = ONNX_IR_VERSION;
        model.n_opset_import = 1;
        model.opset_import = opsets;
        model.producer_name = "crest";
        model.producer_version = "0.1";
        model.graph = &graph;
        *len = onnx__model_proto__get_packed_size(&model);
        if (!(*buf = cr_malloc(*len ? *len : 1)))
            rc = cr_fail(CREST_E_NOMEM, "out of memory packing ONNX (%zu bytes)", *len);
        else if (onnx__model_proto__pack(&model, *buf) != *len)
            rc = cr_fail(CREST_E_INTERNAL, "protobuf-c packed a size it did not predict");
        if (rc) {
            cr_free(*buf);
            *buf = NULL;
        }
    }
    ox_free(&o);
    cr_graph_free(g);
    return rc;
}

int crest_model_save_onnx(crest_model *m, const char *path)
{
    if (!m || !path)
        return cr_fail(CREST_E_ARG, "save_onnx: NULL argument");
    int rc = cr_model_build(m);
    if (!rc)
        rc = cr_check_finite(m);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!rc)
        rc = pack_model(m, &buf, &len);
    if (!rc)
        rc = cr_write_file_atomic(path, buf, len);
    cr_free(buf);
    return rc ? cr_wrap(rc, "%s", path) : CREST_OK;
}
