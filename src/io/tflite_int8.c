/* tflite_int8.c - int8 tensors for the TFLite export of a quantized model
 * (crest quantize; src/quant.c): the calibrated parameters of a node's
 * value, int8 tensors with TFLite's quantization (per tensor for values,
 * per output channel for kernels, int32 biases in units of s_in * s_w[c],
 * as crest's int8 kernels use them), and the QUANTIZE / DEQUANTIZE
 * operators between the float and int8 parts of the graph. TFLite's int8
 * is crest's uint8 shifted by 128: the same scale, zero point z - 128.
 *
 * A model quantized with int16 activations (TFLite's "16x8") is written
 * the same way with int16 activation tensors (crest's scales, zero point
 * 0), the same int8 per-channel kernels and int64 biases (as crest's q16
 * kernels hold them); t->qtype says which. */
#include "tflite_build.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const cr_qact *cr_tl_qpar(const tl *t, const cr_node *n)
{
    const cr_qact *p =
        t->q && t->keys && t->keys[n->id][0] ? cr_quant_act(t->q, t->keys[n->id]) : NULL;
    return p || !cr_fused_act_of_window(n) ? p : cr_tl_qpar(t, n->in[0]);
}

bool cr_tl_isq(const tl *t, int k)
{
    return k >= 0 && t->q && t->t[k].type == t->qtype;
}

int32_t cr_tl_zero(const tl *t, const cr_qact *p)
{
    return p->z - t->zoff;
}

int cr_tl_qver(const tl *t, int v8, int v16)
{
    return t->qtype == TFL_INT16 ? v16 : v8;
}

/* Per-tensor parameters of tensor k: scale sc, zero point z (TFLite's). */
static bool quantize_params(tl *t, int k, float sc, int32_t z)
{
    float *s = cr_tl_alloc(t, sizeof *s);
    int64_t *zp = cr_tl_alloc(t, sizeof *zp);
    if (!s || !zp || k < 0)
        return false;
    *s = sc;
    *zp = z;
    t->t[k].type = t->qtype;
    t->t[k].scale = s;
    t->t[k].zero = zp;
    t->t[k].n_q = 1;
    return true;
}

int cr_tl_qtensor(tl *t, const char *name, const cr_dims *s, float sc, int32_t z)
{
    int k = cr_tl_tensor_dims(t, name, s);
    return quantize_params(t, k, sc, z) ? k : -1;
}

int cr_tl_val_q(tl *t, const cr_node *n)
{
    int k = t->tensor[n->id];
    if (k < 0 || t->err)
        return -1;
    if (cr_tl_isq(t, k))
        return k;
    if (t->other[n->id] >= 0)
        return t->other[n->id];
    const cr_qact *p = cr_tl_qpar(t, n);
    if (!p && n->kind == CR_NODE_OP && !strcmp(n->op->name, "zero_pad2d") && n->n_in == 1)
        p = cr_tl_qpar(t, n->in[0]);   /* src/fuse.c moved it into the conv after it: */
    if (!p)                            /* crest pads the quantized input with its zero point */
        return -1;
    int y = cr_tl_qtensor(t, cr_tl_str(t, "%s_%s", t->t[k].name,
                                       t->qtype == TFL_INT16 ? "int16" : "int8"),
                          &n->shape, p->s, cr_tl_zero(t, p));
    if (y < 0 || !cr_tl_op(t, TFL_QUANTIZE, cr_tl_qver(t, 1, 2), &k, 1, y, NULL))
        return -1;
    return t->other[n->id] = y;
}

int cr_tl_dequantized(tl *t, const cr_node *n, int k)
{
    if (t->other[n->id] >= 0)
        return t->other[n->id];
    int y = cr_tl_tensor_dims(t, cr_tl_str(t, "%s_float", t->t[k].name), &n->shape);
    if (y < 0 || !cr_tl_op(t, TFL_DEQUANTIZE, cr_tl_qver(t, 2, 3), &k, 1, y, NULL))
        return -1;
    return t->other[n->id] = y;
}

/* A constant of TFLite type type with per-channel parameters along q_dim. */
static int qconst(tl *t, const char *name, uint8_t type, const void *data, const int32_t *shape,
                  int nd, const float *scale, int oc, int q_dim)
{
    int64_t *zero = cr_tl_alloc(t, (size_t)oc * sizeof *zero);
    int k = zero ? cr_tl_const(t, name, type, data, shape, nd) : -1;
    if (k < 0)
        return -1;
    t->t[k].scale = scale;
    t->t[k].zero = zero;
    t->t[k].n_q = oc;
    t->t[k].q_dim = q_dim;
    return k;
}

/* The biases b (NULL: zeros) in units of s_in * scale[o] (bs: those units),
 * as crest's kernels hold them: int32, or with int16 activations int64
 * kept within 2^62 (src/quant_graph.c). */
static void *qbias(tl *t, const float *b, float s_in, const cr_qweight *qw, float *bs)
{
    bool wide = t->qtype == TFL_INT16;
    void *q = cr_tl_alloc(t, (size_t)qw->oc * (wide ? sizeof(int64_t) : sizeof(int32_t)));
    for (int o = 0; q && o < qw->oc; o++) {
        double unit = (double)s_in * qw->scale[o], lim = 4611686018427387904.0;
        bs[o] = (float)unit;
        if (!wide) {
            ((int32_t *)q)[o] = (int32_t)lrint(b ? b[o] / unit : 0.0);
            continue;
        }
        double v = b ? nearbyint(b[o] / unit) : 0.0;
        ((int64_t *)q)[o] = (int64_t)(v > lim ? lim : v < -lim ? -lim : v);
    }
    return q;
}

bool cr_tl_qconsts(tl *t, const cr_node *n, const cr_qweight *qw, float s_in, const float *b,
                   int *filter, int *bias)
{
    const cr_dims *s = &n->in[1]->shape;
    bool dw = !strcmp(n->op->name, "depthwise2d"), fc = !strcmp(n->op->name, "matmul");
    int64_t kh = fc ? 1 : s->d[0], kw = fc ? 1 : s->d[1], c = s->d[fc ? 0 : 2],
            m = s->d[fc ? 1 : 3], oc = dw ? c * m : m;
    const float *w = cr_kernel_weight(n->in[1])->val;   /* 1-D: a reshape of it */
    int8_t *f = cr_tl_alloc(t, (size_t)(kh * kw * c * m));
    float *bs = cr_tl_alloc(t, (size_t)oc * sizeof *bs);
    void *bq = bs && qw->oc == oc ? qbias(t, b, s_in, qw, bs) : NULL;
    if (!f || !bq)
        return false;
    for (int64_t at = 0; at < kh * kw * c * m; at++) {   /* Keras [kh,kw,c,m] or [k,units] */
        int64_t j = at % m, ci = at / m % c, x = at / m / c % kw, y = at / m / c / kw, o = dw ? ci * m + j : j;
        long q = lrint(w[at] / qw->scale[o]);
        int8_t v = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
        f[dw ? at : ((j * kh + y) * kw + x) * c + ci] = v;
    }
    const char *base = n->layer ? n->layer : "kernel";
    int32_t shape[4] = { (int32_t)oc, (int32_t)kh, (int32_t)kw, (int32_t)c };
    if (dw) {
        shape[0] = 1;
        shape[3] = (int32_t)oc;
    }
    if (fc)
        shape[1] = (int32_t)c;
    *filter = qconst(t, cr_tl_str(t, "%s/kernel_int8_%d", base, t->n_t), TFL_INT8, f, shape,
                     fc ? 2 : 4, qw->scale, (int)oc, dw ? 3 : 0);
    bool wide = t->qtype == TFL_INT16;
    *bias = qconst(t, cr_tl_str(t, "%s/bias_int%d_%d", base, wide ? 64 : 32, t->n_t),
                   wide ? TFL_INT64 : TFL_INT32, bq,
                   (int32_t[]){ (int32_t)oc }, 1, bs, (int)oc, 0);
    return *filter >= 0 && *bias >= 0;
}
