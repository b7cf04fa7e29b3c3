/* onnx_int8.c - the ONNX export of a quantized model (crest quantize;
 * src/quant.c) in QDQ form: float ops between QuantizeLinear /
 * DequantizeLinear pairs, with exactly the numbers crest's int8 graph
 * (src/quant_graph.c) computes with.
 *
 * Why QDQ and not QLinearConv / QLinearMatMul: crest's int8 arithmetic is
 * ONNX Runtime's (uint8 activations with a zero point, per-channel
 * symmetric int8 kernels, int32 biases in units of s_in * s_w[c], an fp32
 * multiplier, clamp, round half to even; src/kernels/kernels.h), and ONNX
 * Runtime turns DequantizeLinear -> Conv / Gemm / Add / pooling ->
 * QuantizeLinear into those kernels itself (QLinearConv, QGemm,
 * QLinearAdd...). QLinearMatMul has no bias, so a Dense's int32 bias would
 * round twice; QDQ's Gemm keeps it in the sums, as crest does. And a
 * runtime with no int8 kernels still runs a QDQ file in float, rounding
 * where crest rounds.
 *
 * Which ops are int8 follows the rewrite of src/quant_graph.c on the
 * unfused trace the exporter walks (its fusions of src/fuse.c mirrored):
 *  - conv2d / depthwise2d with an int8 kernel and a calibrated output, a
 *    ReLU / ReLU6 that crest fuses after it in the same group:
 *    DQ(x), DQ(kernel, per channel, axis 0), DQ(int32 bias) -> Conv
 *    [-> Relu | Clip] -> Q -> DQ;
 *  - matmul by an int8 kernel with its bias add and ReLU / ReLU6: Gemm
 *    (kernel per column, axis 1), its output uint8, or float (no Q) when
 *    only float ops read it (a classifier before its softmax), as crest's
 *    int32 sums times s_in * s_w[c];
 *  - add of two calibrated values: Cast / Sub / Mul of each input's codes,
 *    Add, Q with scale 1 -> DQ (add_int8);
 *  - max pooling, reshape, flatten, ReLU / ReLU6 and zero padding of a
 *    uint8 value keep its parameters; average pooling takes its own.
 * A value crest holds as uint8 is, in the file, the DequantizeLinear of its
 * QuantizeLinear: float ops read that, exactly crest's dequantized value;
 * an int8 op reading a float value reads it through Mul by 1 / s ->
 * QuantizeLinear (scale 1) -> DequantizeLinear with its calibrated
 * parameters (crest's quantize node; quantized()).
 * Activations are uint8 (zero points 0..255, as crest's). Kernels are
 * crest's per-channel symmetric int8 codes stored as uint8 + 128 with zero
 * point 128 (the same real values s_w[c] * q): ONNX Runtime's u8 x s8
 * kernels on x86 CPUs without VNNI (AVX2, this machine's) add pairs of
 * products in 16 bits and saturate (its quantization guide says so and
 * advises u8 x u8 there), which moved the MLP's probabilities by 0.017;
 * its u8 x u8 kernels are exact on every CPU. Biases are int32 with zero
 * point 0 and scales s_in * s_w[c].
 *
 * Checked layer by layer (every QuantizeLinear output of the file against
 * crest's uint8 values, whole model and each fused kernel alone on crest's
 * own inputs): QLinearConv and QGemm give crest's codes to the bit, their
 * multiplier being crest's ((float)(s_in * s_w) / s_out in float:
 * src/quant_graph.c computes it as ONNX Runtime does). Two fused forms
 * round otherwise and are written as float ops (below): QLinearAdd, and
 * QuantizeLinear of a float value (it divides by s, crest multiplies by
 * 1 / s). One code apart in a million outputs is enough for MobileNetV2's
 * later layers to move the probabilities by 0.004-0.009. */
#include "onnx_build.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define T_FLOAT ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
#define T_UINT8 ONNX__TENSOR_PROTO__DATA_TYPE__UINT8
#define T_INT32 ONNX__TENSOR_PROTO__DATA_TYPE__INT32
#define KERNEL_ZERO 128     /* the kernels' zero point: crest's int8 codes + 128 */

static bool is_op(const cr_node *n, const char *name)
{
    return n && n->kind == CR_NODE_OP && n->op && !strcmp(n->op->name, name);
}

static bool is4(const cr_node *n) { return n->shape.ndim == 4; }

static bool pinned(const ox *o, const cr_node *n)
{
    for (int k = 0; k < o->gr->n_outputs; k++)
        if (o->gr->outputs[k] == n)
            return true;
    return false;
}

/* The one consumer of n (NULL: none, several, or n is an output). */
static const cr_node *sole_consumer(const ox *o, const cr_node *n)
{
    const cr_node *c = NULL;
    if (pinned(o, n))
        return NULL;
    for (int i = n->id + 1; i < o->gr->n; i++)
        for (int j = 0; j < o->gr->nodes[i]->n_in; j++)
            if (o->gr->nodes[i]->in[j] == n) {
                if (c)
                    return NULL;
                c = o->gr->nodes[i];
            }
    return c;
}

/* The activation of node c if it is ReLU or ReLU6, else -1. */
static int relu_of(const cr_node *c)
{
    const cr_act_def *a = c && c->n_in == 1 ? cr_act_of(c) : NULL;
    return a && (a->id == CREST_RELU || a->id == CREST_RELU6) ? (int)a->id : -1;
}

bool cr_ox_int8_start(ox *o, const cr_graph *g, const cr_quant *q)
{
    o->gr = g;
    o->q = q;
    char (*keys)[160] = cr_ox_alloc(o, (size_t)g->n * sizeof *keys);
    o->par = cr_ox_alloc(o, (size_t)g->n * sizeof *o->par);
    o->u8 = cr_ox_alloc(o, (size_t)g->n * sizeof *o->u8);
    o->done = cr_ox_alloc(o, (size_t)g->n * sizeof *o->done);
    o->qdq[0] = cr_ox_alloc(o, (size_t)g->n * sizeof *o->qdq[0]);
    o->qdq[1] = cr_ox_alloc(o, (size_t)g->n * sizeof *o->qdq[1]);
    if (o->err)
        return false;
    cr_graph_qkeys(g, keys);
    for (int i = 0; i < g->n; i++) {
        const cr_node *n = g->nodes[i];
        o->par[i] = keys[i][0] ? cr_quant_act(q, keys[i]) : NULL;
        if (!o->par[i] && cr_fused_act_of_window(n))
            o->par[i] = o->par[n->in[0]->id];   /* a float conv's fused ReLU (--keep-float) */
    }
    return true;
}

/* ---- QuantizeLinear / DequantizeLinear ------------------------------------ */

static char *zero_u8(ox *o, int32_t z)
{
    uint8_t zz = (uint8_t)(z < 0 ? 0 : z > 255 ? 255 : z);
    if (!o->zp_u8[zz]) {
        uint8_t *v = cr_ox_alloc(o, 1);
        if (!v)
            return NULL;
        *v = zz;
        o->zp_u8[zz] = cr_ox_init(o, cr_ox_str(o, "zp_u8_%d", zz), T_UINT8, v, 1, NULL, 0);
    }
    return o->zp_u8[zz];
}

/* x -> QuantizeLinear (scale qs, zero point z) -> DequantizeLinear (scale
 * s, the same z): ONNX's Q is saturate(round_half_even(x / qs) + z). */
static const char *q_dq(ox *o, const char *x, const char *qs, const char *s, const char *z,
                        const char *what)
{
    char *q = x && qs && s && z ? cr_ox_str(o, "%s_q%d", what ? what : "v", o->tmp++) : NULL;
    if (!q || !cr_ox_node(o, "QuantizeLinear", (const char *[]){ x, qs, z }, 3, q))
        return NULL;
    Onnx__NodeProto *d = cr_ox_node(o, "DequantizeLinear", (const char *[]){ q, s, z }, 3,
                                    cr_ox_str(o, "%s_dq%d", what ? what : "v", o->tmp++));
    return d ? d->output[0] : NULL;
}

/* x (float) -> QuantizeLinear -> DequantizeLinear with parameters p: the
 * float value crest's uint8 code of x stands for. */
static const char *qdq(ox *o, const char *x, const cr_qact *p, const char *what)
{
    const char *s = cr_ox_scalar_f32(o, p->s), *z = zero_u8(o, p->z);
    return q_dq(o, x, s, s, z, what);
}

/* Crest's quantize node on float x (src/kernels/q8.h): x * (1 / s) in
 * float, a Mul, then QuantizeLinear with scale 1 (round half to even, + z,
 * saturated), and the DequantizeLinear of those codes with p. ONNX
 * Runtime's QuantizeLinear with scale s divides: at ties (x / s half way
 * between two codes, which inputs such as p / 127.5 - 1 hit often) its
 * codes would be one apart from crest's. */
static const char *quantized(ox *o, const char *x, const cr_qact *p, const char *what)
{
    const char *one = cr_ox_scalar_f32(o, 1.0f), *z = zero_u8(o, p->z), *s = cr_ox_scalar_f32(o, p->s);
    const char *f = cr_ox_binary(o, "Mul", x, cr_ox_scalar_f32(o, 1.0f / p->s), cr_ox_fresh(o, "scaled"));
    return q_dq(o, f, one, s, z, what);
}

/* n's value is uint8 in crest with parameters p; d is its dequantized form
 * in the file, in layout nchw. */
static void mark_u8(ox *o, const cr_node *n, const char *d, bool nchw, const cr_qact *p)
{
    o->name[n->id] = (char *)d;
    o->alt[n->id] = NULL;
    o->nchw[n->id] = nchw && is4(n);
    o->u8[n->id] = true;
    o->par[n->id] = p;
}

/* Node n's value is uint8 in crest with parameters p: y (its float value,
 * layout nchw) quantized and dequantized. */
static bool set_u8(ox *o, const cr_node *n, const char *y, bool nchw, const cr_qact *p,
                   const char *layer)
{
    const char *d = y ? qdq(o, y, p, layer ? layer : n->layer) : NULL;
    if (d)
        mark_u8(o, n, d, nchw, p);
    return d != NULL;
}

/* Whether an int8 op can read x: it is uint8, or a quantize can make it. */
static bool in_ok(const ox *o, const cr_node *x) { return o->u8[x->id] || o->par[x->id]; }

/* x as an int8 op reads it, in layout nchw: its DequantizeLinear, or one
 * made (once per layout) from its float value and parameters. */
static const char *qin(ox *o, const cr_node *x, bool nchw)
{
    int l = nchw && is4(x);
    if (o->u8[x->id] && (!is4(x) || o->nchw[x->id] == (bool)l))
        return o->name[x->id];
    if (!o->qdq[l][x->id]) {
        const char *v = cr_ox_val(o, x, l);
        o->qdq[l][x->id] = v ? (char *)quantized(o, v, o->par[x->id], x->layer) : NULL;
    }
    return o->qdq[l][x->id];
}

/* ---- int8 constants ------------------------------------------------------- */

/* DequantizeLinear of a kernel (uint8, zero point 128) or bias (int32,
 * zero point 0) constant (data in the arena, dims) with per-channel scales
 * [oc] along axis. */
static const char *dq_const(ox *o, const char *name, int32_t type, void *data, size_t bytes,
                            const int64_t *dims, int nd, const float *scale, int64_t oc, int axis)
{
    size_t zb = (size_t)oc * (type == T_UINT8 ? 1 : 4);
    void *zeros = cr_ox_alloc(o, zb);
    if (zeros && type == T_UINT8)
        memset(zeros, KERNEL_ZERO, zb);
    const char *w = cr_ox_init(o, cr_ox_str(o, "%s", name), type, data, bytes, dims, nd);
    const char *s = cr_ox_const_f32(o, "scale", scale, oc, &oc, 1);
    const char *z = zeros ? cr_ox_init(o, cr_ox_fresh(o, "zp"), type, zeros, zb, &oc, 1) : NULL;
    if (!w || !s || !z)
        return NULL;
    Onnx__NodeProto *d = cr_ox_node(o, "DequantizeLinear", (const char *[]){ w, s, z }, 3,
                                    cr_ox_str(o, "%s_dq", name));
    cr_ox_attr_i(o, d, "axis", axis);
    return d ? d->output[0] : NULL;
}

/* The int32 bias of a kernel quantized by qw for input scale s_in (b:
 * float values, or NULL for zeros), as crest's int8_parts rounds it. */
static const char *dq_bias(ox *o, const char *base, const cr_qweight *qw, float s_in,
                           const float *b)
{
    int64_t oc = qw->oc;
    int32_t *q = cr_ox_alloc(o, (size_t)oc * sizeof *q);
    float *s = cr_ox_alloc(o, (size_t)oc * sizeof *s);
    if (!q || !s)
        return NULL;
    for (int64_t c = 0; c < oc; c++) {
        double unit = (double)s_in * qw->scale[c];
        double v = b ? nearbyint(b[c] / unit) : 0;
        q[c] = (int32_t)(v > 2147483647.0 ? 2147483647.0 : v < -2147483647.0 ? -2147483647.0 : v);
        s[c] = (float)unit;
    }
    return dq_const(o, cr_ox_str(o, "%s/bias_int32_%d", base, o->tmp++), T_INT32, q,
                    (size_t)oc * sizeof *q, &oc, 1, s, oc, 0);
}

/* Kernel code of value v, channel scale s: crest's int8 code (its rounding,
 * quant_graph.c) + 128, a uint8 whose zero point is 128. */
static uint8_t code(float v, float s)
{
    float c = nearbyintf(v / s);
    return (uint8_t)((c > 127 ? 127 : c < -127 ? -127 : (int)c) + KERNEL_ZERO);
}

/* A conv2d / depthwise2d kernel (Keras [kh,kw,c,m]) as codes [oc, c/group,
 * kh, kw] with its DequantizeLinear (axis 0). */
static const char *dq_conv_kernel(ox *o, const cr_node *n, const cr_qweight *qw, bool dw)
{
    const cr_node *k = n->in[1];
    const cr_dims *s = &k->shape;
    int64_t kh = s->d[0], kw = s->d[1], c = s->d[2], m = s->d[3];
    int64_t oc = dw ? c * m : m, ic = dw ? 1 : c;
    uint8_t *w = cr_ox_alloc(o, (size_t)(kh * kw * c * m));
    if (!w || qw->oc != oc)
        return NULL;
    const float *src = cr_kernel_weight(k)->val;
    for (int64_t at = 0; at < kh * kw * c * m; at++) {
        int64_t j = at % m, ci = at / m % c, x = at / m / c % kw, y = at / m / c / kw;
        int64_t oo = dw ? ci * m + j : j, ii = dw ? 0 : ci;
        w[((oo * ic + ii) * kh + y) * kw + x] = code(src[at], qw->scale[oo]);
    }
    const char *base = n->layer ? n->layer : "conv";
    return dq_const(o, cr_ox_str(o, "%s/kernel_int8_%d", base, o->tmp++), T_UINT8, w,
                    (size_t)(kh * kw * c * m), (int64_t[]){ oc, ic, kh, kw }, 4, qw->scale, oc, 0);
}

/* ---- int8 ops ------------------------------------------------------------- */

/* y = act(y) for ReLU / ReLU6, before a QuantizeLinear with parameters p
 * (NULL: y stays float). crest clamps the codes to [z, 255] (ReLU) or [z,
 * z + round(6 / s)] (ReLU6); where the QuantizeLinear's own saturation to
 * [0, 255] is that clamp (z 0, as a range calibrated after a ReLU has; 6 at
 * or past the top code) the activation is left out: the same codes, and
 * ONNX Runtime 1.30 fails to fuse Gemm -> Relu -> QuantizeLinear (a node
 * name it makes twice). */
static const char *relu_to(ox *o, int act, const char *y, const cr_qact *p)
{
    if (p && p->z == 0 && (act == CREST_RELU || nearbyint(6.0 / p->s) >= 255))
        return y;
    if (act == CREST_RELU)
        return cr_ox_unary(o, "Relu", y, cr_ox_fresh(o, "relu"));
    if (act != CREST_RELU6 || !y)
        return y;
    Onnx__NodeProto *c = cr_ox_node(o, "Clip", (const char *[]){ y, cr_ox_scalar_f32(o, 0),
                                    cr_ox_scalar_f32(o, 6) }, 3, cr_ox_fresh(o, "relu6"));
    return c ? c->output[0] : NULL;
}

/* conv2d / depthwise2d as crest's try_conv decides (src/quant_graph.c),
 * with the ReLU / ReLU6 that src/fuse.c puts into it. */
static int conv_int8(ox *o, const cr_node *n, bool dw)
{
    cr_conv_geom g;
    int act;
    bool folded;
    const cr_node *x = n->in[0], *c;
    const cr_qact *po = o->par[n->id];
    const cr_weight *w = n->n_in >= 2 ? cr_kernel_weight(n->in[1]) : NULL;   /* 1-D: a reshape */
    const cr_qweight *qw = w ? cr_quant_weight(o->q, w) : NULL;
    if (!po || !qw || n->n_in > 3 || (n->n_in == 3 && n->in[2]->kind != CR_NODE_PARAM) ||
        !in_ok(o, x) || !cr_window_parts(n, &g, &act, &folded) || folded)
        return 0;
    const cr_node *fused = NULL;   /* src/fuse.c: the activation reading the conv alone */
    if (act == CREST_LINEAR && (c = sole_consumer(o, n)) && !pinned(o, c) && cr_act_of(c) &&
        c->n_in == 1 && cr_act_of(c)->kernel != CR_ACT_NONE) {
        if (relu_of(c) < 0)
            return 0;   /* crest runs the conv float with it */
        fused = c;
        act = relu_of(c);
    }
    if (act != CREST_LINEAR && act != CREST_RELU && act != CREST_RELU6)
        return 0;
    const cr_qact *pi = o->par[x->id];
    const char *base = n->layer ? n->layer : "conv";
    const char *in[3] = { qin(o, x, true), dq_conv_kernel(o, n, qw, dw),
                          dq_bias(o, base, qw, pi->s, n->n_in == 3 ? n->in[2]->w->val : NULL) };
    int64_t pads[4];
    cr_ox_pads(&g, pads);
    Onnx__NodeProto *node = cr_ox_node(o, "Conv", in, 3, cr_ox_fresh(o, "conv"));
    if (dw)
        cr_ox_attr_i(o, node, "group", g.c);
    cr_ox_attr_ints(o, node, "dilations", (int64_t[]){ g.dh, g.dw }, 2);
    cr_ox_attr_ints(o, node, "kernel_shape", (int64_t[]){ g.kh, g.kw }, 2);
    cr_ox_attr_ints(o, node, "strides", (int64_t[]){ g.sh, g.sw }, 2);
    cr_ox_attr_ints(o, node, "pads", pads, 4);
    if (!node)
        return -1;
    const char *y = relu_to(o, act, node->output[0], po);
    if (!set_u8(o, n, y, true, po, fused ? fused->layer : NULL))
        return -1;
    if (fused) {
        o->done[fused->id] = true;
        o->name[fused->id] = o->name[n->id];
        o->nchw[fused->id] = true;
        o->u8[fused->id] = true;
        o->par[fused->id] = po;
    }
    return 1;
}

/* Ops crest's rewrite can run int8 on a uint8 input (int8_capable). */
static bool int8_capable(const cr_node *c)
{
    static const char *const ops[] = { "conv2d", "depthwise2d", "matmul", "add", "maxpool2d",
                                       "avgpool2d", "global_maxpool", "global_avgpool",
                                       "reshape", "flatten" };
    if (relu_of(c) >= 0)
        return true;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (is_op(c, ops[i]))
            return true;
    return false;
}

static bool float_consumers(const ox *o, const cr_node *n)
{
    if (pinned(o, n))
        return true;
    for (int i = n->id + 1; i < o->gr->n; i++)
        for (int j = 0; j < o->gr->nodes[i]->n_in; j++)
            if (o->gr->nodes[i]->in[j] == n && int8_capable(o->gr->nodes[i]))
                return false;
    return true;
}

/* Gemm(xq [rows, K], DQ(kernel), DQ(bias)) into a new value. */
static const char *gemm(ox *o, const cr_node *n, const char *xq, const cr_qweight *qw, float s_in,
                        const float *bias)
{
    const cr_weight *w = n->in[1]->w;
    int64_t K = w->shape.d[0], N = w->shape.d[1];
    uint8_t *k = cr_ox_alloc(o, (size_t)(K * N));
    if (!k || qw->oc != N)
        return NULL;
    for (int64_t i = 0; i < K * N; i++)
        k[i] = code(w->val[i], qw->scale[i % N]);
    const char *base = n->layer ? n->layer : "dense";
    const char *in[3] = { xq, dq_const(o, cr_ox_str(o, "%s/kernel_int8_%d", base, o->tmp++), T_UINT8, k,
                                       (size_t)(K * N), (int64_t[]){ K, N }, 2, qw->scale, N, 1),
                          dq_bias(o, base, qw, s_in, bias) };
    Onnx__NodeProto *g = cr_ox_node(o, "Gemm", in, 3, cr_ox_fresh(o, "gemm"));
    return g ? g->output[0] : NULL;
}

/* matmul [-> bias_add] [-> relu | relu6] as crest's try_dense: one Gemm,
 * uint8 out, or float out when only float ops read the chain's end. */
static int dense_int8(ox *o, const cr_node *n)
{
    const cr_node *x = n->in[0], *end = n, *c;
    const cr_weight *w = n->in[1]->kind == CR_NODE_PARAM ? n->in[1]->w : NULL;
    const cr_qweight *qw = cr_quant_weight(o->q, w);
    if (!qw || n->in[1]->shape.ndim != 2 || !in_ok(o, x) || x->shape.ndim < 2)
        return 0;
    const cr_node *chain[3] = { n, NULL, NULL };
    int len = 1, act = CREST_LINEAR;
    const float *bias = NULL;
    if ((c = sole_consumer(o, end)) && is_op(c, "bias_add") && c->in[0] == end &&
        c->in[1]->kind == CR_NODE_PARAM && c->in[1]->w && c->in[1]->shape.ndim == 1 && !pinned(o, c)) {
        chain[len++] = end = c;
        bias = c->in[1]->w->val;
    }
    if ((c = sole_consumer(o, end)) && relu_of(c) >= 0 && !pinned(o, c)) {
        act = relu_of(c);
        chain[len++] = end = c;
    }
    const cr_qact *po = o->par[end->id], *pi = o->par[x->id];
    bool fout = float_consumers(o, end) || !po;
    int64_t K = n->in[1]->shape.d[0], N = n->in[1]->shape.d[1];
    const char *xq = qin(o, x, false);
    if (x->shape.ndim > 2)     /* rows of K: a Reshape of the codes' values */
        xq = cr_ox_binary(o, "Reshape", xq, cr_ox_const_i64(o, "shape", (int64_t[]){ -1, K }, 2),
                          cr_ox_fresh(o, "rows"));
    const char *y = relu_to(o, act, gemm(o, n, xq, qw, pi->s, bias), fout ? NULL : po);
    if (y && x->shape.ndim > 2) {
        int64_t shape[CR_MAX_DIMS] = { 0 };    /* 0: the input's batch */
        for (int i = 1; i < end->shape.ndim - 1; i++)
            shape[i] = end->shape.d[i];
        shape[end->shape.ndim - 1] = N;
        y = cr_ox_binary(o, "Reshape", y, cr_ox_const_i64(o, "shape", shape, end->shape.ndim),
                         cr_ox_fresh(o, "unrows"));
    }
    if (!y)
        return -1;
    if (fout) {
        o->name[end->id] = (char *)y;
        o->nchw[end->id] = false;
    } else if (!set_u8(o, end, y, false, po, NULL)) {
        return -1;
    }
    for (int i = 0; i < len; i++)
        o->done[chain[i]->id] = true;
    return 1;
}

/* The uint8 codes behind x's DequantizeLinear (its input), or NULL. */
static const char *codes_of(ox *o, const char *dq)
{
    for (size_t i = o->g->n_node; dq && i-- > 0;) {
        const Onnx__NodeProto *d = o->g->node[i];
        if (d->n_output == 1 && !strcmp(d->output[0], dq))
            return !strcmp(d->op_type, "DequantizeLinear") ? d->input[0] : NULL;
    }
    return NULL;
}

/* (q - z) * m in float from uint8 codes q: Cast, Sub, Mul, one rounding
 * (the Mul's), as crest's add computes each term. */
static const char *term(ox *o, const char *q, int32_t z, float m)
{
    char *f = q ? cr_ox_fresh(o, "codes") : NULL;
    Onnx__NodeProto *c = f ? cr_ox_node(o, "Cast", (const char *[]){ q }, 1, f) : NULL;
    if (!c)
        return NULL;
    cr_ox_attr_i(o, c, "to", T_FLOAT);
    const char *d = cr_ox_binary(o, "Sub", f, cr_ox_scalar_f32(o, (float)z), cr_ox_fresh(o, "sub"));
    return cr_ox_binary(o, "Mul", d, cr_ox_scalar_f32(o, m), cr_ox_fresh(o, "mul"));
}

/* add of two uint8 values, as crest's (src/kernels/q8_generic.c): f = (a -
 * z_a) m_a + (b - z_b) m_b in float with m = s / s_y rounded once (as
 * src/quant_graph.c's try_add), then QuantizeLinear with scale 1 and zero
 * point z_y: round half to even, + z_y, saturated, bit for bit crest's code;
 * a DequantizeLinear with the output's own parameters reads it. Not
 * DQ -> Add -> Q: ONNX Runtime fuses that into QLinearAdd, whose float
 * formula folds the zero points into one constant, z_y - (m_a z_a + m_b z_b),
 * and multiplies-adds the raw codes onto it: other roundings, a code one
 * apart now and then (2 of 75,264 block_4_add outputs of MobileNetV2, three
 * random images), which the 40 layers after it amplify. */
static int add_int8(ox *o, const cr_node *n)
{
    const cr_qact *po = o->par[n->id];
    const cr_node *a = n->in[0], *b = n->n_in == 2 ? n->in[1] : NULL;
    if (!po || !b || !in_ok(o, a) || !in_ok(o, b) || !cr_dims_eq(&a->shape, &n->shape) ||
        !cr_dims_eq(&b->shape, &n->shape))
        return 0;
    bool nchw = is4(n) && (o->nchw[a->id] || o->nchw[b->id]);
    const cr_qact *pa = o->par[a->id], *pb = o->par[b->id];
    const char *u = term(o, codes_of(o, qin(o, a, nchw)), pa->z, (float)((double)pa->s / po->s));
    const char *v = term(o, codes_of(o, qin(o, b, nchw)), pb->z, (float)((double)pb->s / po->s));
    const char *f = u && v ? cr_ox_binary(o, "Add", u, v, cr_ox_fresh(o, "add")) : NULL;
    const char *one = cr_ox_scalar_f32(o, 1.0f), *z = zero_u8(o, po->z), *s = cr_ox_scalar_f32(o, po->s);
    const char *d = q_dq(o, f, one, s, z, n->layer ? n->layer : "add");
    if (!d)
        return -1;
    mark_u8(o, n, d, nchw, po);
    return 1;
}

/* A float op on the dequantized input whose result crest holds as uint8
 * with parameters p (max pooling, reshape, relu... keep the input's;
 * average pooling has its own). */
static int requantized(ox *o, const cr_node *n, const cr_qact *p)
{
    if (!cr_ox_emit_op(o, n))
        return -1;
    return set_u8(o, n, o->name[n->id], o->nchw[n->id], p, NULL) ? 1 : -1;
}

int cr_ox_emit_int8(ox *o, const cr_node *n)
{
    if (o->done[n->id])
        return 1;
    const char *op = n->op->name;
    if (n->n_in < 1 || (pinned(o, n) && strcmp(op, "matmul")))
        return 0;   /* outputs stay float (a Dense gives float anyway) */
    const cr_node *x = n->in[0];
    const cr_qact *pi = o->par[x->id];
    bool byte_in = o->u8[x->id] && pi;
    if (!strcmp(op, "conv2d") || !strcmp(op, "depthwise2d"))
        return conv_int8(o, n, op[0] == 'd');
    if (!strcmp(op, "matmul"))
        return dense_int8(o, n);
    if (!strcmp(op, "add"))
        return add_int8(o, n);
    if (!strcmp(op, "zero_pad2d") && !o->par[n->id]) {
        /* padding src/fuse.c moved into the conv after it: the conv's
         * padding taps read the input's zero point, a real 0 */
        if (byte_in)
            return requantized(o, n, pi);
        o->par[n->id] = pi;
        return 0;
    }
    if (x->shape.ndim == 4 && (!strcmp(op, "maxpool2d") || !strcmp(op, "global_maxpool")))
        return byte_in ? requantized(o, n, pi) : 0;
    if (x->shape.ndim == 4 && (!strcmp(op, "avgpool2d") || !strcmp(op, "global_avgpool")))
        return byte_in && o->par[n->id] ? requantized(o, n, o->par[n->id]) : 0;
    if (!strcmp(op, "reshape") || !strcmp(op, "flatten") || relu_of(n) >= 0)
        return byte_in ? requantized(o, n, pi) : 0;
    return 0;
}
