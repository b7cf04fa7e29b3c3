/* quant_graph.c - the int8 rewrite of a quantized model's inference graph.
 *
 * After tracing and the float fusions (src/fuse.c), cr_graph_quantize walks
 * the graph in order and turns into int8 nodes (uint8 values, n->q8):
 *  - conv2d / depthwise2d with an int8 kernel (relu / relu6 in the
 *    requantization's clamp, padding taps read the zero point);
 *  - matmul by an int8 kernel, with the bias_add and relu / relu6 after it
 *    folded in (one gemm node);
 *  - add of two tensors of the same shape;
 *  - max pooling, global max pooling, reshape, flatten and relu / relu6 of a
 *    uint8 tensor (on the bytes: the output keeps the input's scale);
 *  - average and global average pooling of a uint8 tensor;
 * each where the calibration gave its output (and input) a range. Every
 * other op stays float: a dequantize node sits after a uint8 tensor a float
 * op reads, a quantize node after a float tensor an int8 op reads. Outputs,
 * kept nodes and the probe stay float. The float node's op and attributes
 * stay on the int8 node (its shape rule and geometry), so planning for any
 * batch works as for float graphs.
 *
 * Arithmetic follows the int8 kernels' contract (src/kernels/kernels.h):
 * biases int32 in units of s_in * s_w[c], multipliers m[c] = s_in * s_w[c] /
 * s_out rounded once to float, and the kernels' exact requantization, so
 * the result is the same for any thread count and SIMD level.
 *
 * With int16 activations (q->act16) the same rewrite makes the same nodes
 * with int16 values (n->q16, attribute i16) run by the q16 kernels: biases
 * int64, fixed-point multipliers (TFLite's 16x8 scheme, kernels.h), the
 * kernels' int8 codes unpacked; average pooling keeps its input's scale.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>

/* ---- the quantization record ------------------------------------------- */

void cr_quant_free(cr_quant *q)
{
    if (!q)
        return;
    for (int i = 0; i < q->n_w; i++)
        cr_free(q->w[i].scale);
    cr_free(q->w);
    cr_free(q->act);
    for (int i = 0; i < q->n_keep; i++)
        cr_free(q->keep[i]);
    cr_free(q->keep);
    cr_free(q);
}

const cr_qact *cr_quant_act(const cr_quant *q, const char *key)
{
    for (int i = 0; q && i < q->n_act; i++)
        if (!strcmp(q->act[i].key, key))
            return &q->act[i];
    return NULL;
}

static void weight_name(const cr_weight *w, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", w->owner ? w->owner->name : "", w->name);
}

static const cr_qweight *find_weight(const cr_quant *q, const char *name)
{
    for (int i = 0; q && i < q->n_w; i++)
        if (!strcmp(q->w[i].name, name))
            return &q->w[i];
    return NULL;
}

int cr_kernel_channels(const cr_weight *w)
{
    const cr_dims *d = &w->shape;
    if (d->ndim < 1)
        return 1;
    if (d->ndim >= 2 && !strcmp(w->name, "depthwise_kernel"))
        return (int)(d->d[d->ndim - 2] * d->d[d->ndim - 1]);
    return (int)d->d[d->ndim - 1];
}

const cr_qweight *cr_quant_weight(const cr_quant *q, const cr_weight *w)
{
    char name[300];
    if (!q || !w)
        return NULL;
    weight_name(w, name, sizeof name);
    const cr_qweight *qw = find_weight(q, name);
    return qw && qw->oc == cr_kernel_channels(w) ? qw : NULL;
}

int cr_quant_refuse(const crest_model *m, const char *what)
{
    if (!m || !m->quant)
        return CREST_OK;
    return cr_fail(CREST_E_UNSUPPORTED, "model '%s' is int8-quantized (crest quantize): it "
                   "cannot be %s; use the float model it was quantized from", m->name, what);
}

int cr_quant_refuse16(const crest_model *m, const char *what)
{
    if (!m || !m->quant || !m->quant->act16)
        return CREST_OK;
    return cr_fail(CREST_E_UNSUPPORTED, "model '%s' has int16 activations (crest quantize "
                   "--activations int16): it cannot be %s yet; quantize it with the default "
                   "uint8 activations to export it", m->name, what);
}

bool crest_model_quantized(const crest_model *m)
{
    return m && m->quant;
}

void cr_graph_qkeys(const cr_graph *g, char (*keys)[160])
{
    for (int i = 0; i < g->n; i++) {
        const cr_node *n = g->nodes[i];
        keys[i][0] = 0;
        if (n->kind == CR_NODE_INPUT) {
            for (int k = 0; k < g->n_inputs; k++)
                if (g->inputs[k] == n)
                    snprintf(keys[i], sizeof keys[i], "input:%d", k);
            continue;
        }
        if (n->kind != CR_NODE_OP)
            continue;
        if (!n->layer) {
            snprintf(keys[i], sizeof keys[i], "#%d", i);
            continue;
        }
        int k = 0;
        for (int j = 0; j < i; j++)
            k += g->nodes[j]->kind == CR_NODE_OP && g->nodes[j]->layer &&
                 !strcmp(g->nodes[j]->layer, n->layer);
        snprintf(keys[i], sizeof keys[i], "%s#%d", n->layer, k);
    }
}

/* ---- int8 ops ----------------------------------------------------------- */

enum q8_kind { Q_CONV, Q_DW, Q_DENSE, Q_DENSE_F, Q_ADD, Q_MAXPOOL, Q_AVGPOOL, Q_GMAX, Q_GAVG, Q_COPY,
               Q_RELU, Q_QUANT, Q_DEQUANT };

typedef struct q8_attr {
    int kind;
    const cr_op_def *orig;        /* the float op replaced (shape rule, geometry), or NULL */
    void *orig_attr;              /* its attributes (owned) */
    void *packed;                 /* conv / depthwise / dense: the packed kernel */
    float *m;                     /* [oc] multipliers */
    int oc;
    bool per_tensor;
    int32_t z_in, z_in2, z_out, lo, hi;
    float s, ma, mb;              /* quantize / dequantize: s; add: ma, mb; pools: m */
    int threads;                  /* conv scratch is sized for this many */
    /* conv / depthwise / dense: the output's range (NULL: float), the
     * calibration key of the value it computes, and what packing reads */
    const cr_qact *out;
    char key[160];
    const cr_qweight *qw;
    const cr_weight *bias;
    float s_in, s_out;
    /* int16 activations: the kernel's int8 codes (layout of the float
     * kernel), int64 biases, fixed-point multipliers; add's parameters */
    bool i16;
    int8_t *k16;
    int64_t *b64;
    int32_t *mult, *shift;
    double *rs;
    cr_q16_add_par add16;
} q8_attr;

static void q8_release(cr_node *n)
{
    q8_attr *a = n->attr;
    if (!a)
        return;
    cr_free(a->packed);
    cr_free(a->m);
    cr_free(a->orig_attr);
    cr_free(a->k16);
    cr_free(a->b64);
    cr_free(a->mult);
    cr_free(a->shift);
    cr_free(a->rs);
    a->rs = NULL;
    a->packed = a->m = a->orig_attr = NULL;
    a->k16 = NULL;
    a->b64 = NULL;
    a->mult = a->shift = NULL;
}

static int same_shape(cr_node *n)
{
    n->shape = n->in[0]->shape;
    return CREST_OK;
}

/* The float op's shape rule, run with its own op and attributes in place. */
static int q8_shape(cr_node *n)
{
    q8_attr *a = n->attr;
    if (!a->orig)
        return same_shape(n);
    const cr_op_def *op = n->op;
    n->op = a->orig;
    n->attr = a->orig_attr;
    int rc = a->orig->shape(n);
    n->op = op;
    n->attr = a;
    return rc;
}

/* The window geometry of the float op at the current shapes. */
static bool q8_geom(cr_node *n, cr_conv_geom *geo)
{
    q8_attr *a = n->attr;
    if (a->kind == Q_GMAX || a->kind == Q_GAVG) {
        const cr_dims *x = &n->in[0]->shape;
        *geo = (cr_conv_geom){ .n = (int)x->d[0], .h = (int)x->d[1], .w = (int)x->d[2],
                               .c = (int)x->d[3], .oh = 1, .ow = 1, .oc = (int)x->d[3],
                               .kh = (int)x->d[1], .kw = (int)x->d[2], .sh = 1, .sw = 1,
                               .dh = 1, .dw = 1 };
        return true;
    }
    const cr_op_def *op = n->op;
    int act;
    bool folded;
    n->op = a->orig;
    n->attr = a->orig_attr;
    bool ok = cr_window_parts(n, geo, &act, &folded);
    n->op = op;
    n->attr = a;
    return ok;
}

static const uint8_t *u8in(const cr_node *n, int i) { return (const uint8_t *)n->in[i]->val; }
static uint8_t *u8out(const cr_node *n) { return (uint8_t *)n->val; }

static cr_q8_req req_of(const q8_attr *a)
{
    return (cr_q8_req){ .m = a->m, .per_tensor = a->per_tensor, .z_out = a->z_out,
                        .lo = a->lo, .hi = a->hi };
}

static int64_t q8_aux(const cr_node *n)
{
    const q8_attr *a = n->attr;
    cr_conv_geom geo;
    if (a->i16)   /* a float-out Dense: its int64 sums */
        return a->kind == Q_DENSE_F ? 2 * cr_dims_count(&n->shape) : 0;
    if (a->kind != Q_CONV || !q8_geom((cr_node *)n, &geo))
        return 0;
    return (int64_t)(cr_q8_conv2d_scratch(&geo, a->threads) + 3) / 4;
}

static void q16_fwd(cr_node *n, const cr_ctx *c);

static void q8_fwd(cr_node *n, const cr_ctx *c)
{
    q8_attr *a = n->attr;
    if (a->i16) {
        q16_fwd(n, c);
        return;
    }
    cr_q8_req rq = req_of(a);
    cr_conv_geom geo;
    int64_t cnt = cr_dims_count(&n->shape);
    switch (a->kind) {
    case Q_CONV:
        if (q8_geom(n, &geo))
            cr_q8_conv2d(c->pool, &geo, u8in(n, 0), a->z_in, a->packed, &rq, u8out(n), n->aux);
        break;
    case Q_DW:
        if (q8_geom(n, &geo))
            cr_q8_depthwise2d(c->pool, &geo, u8in(n, 0), a->z_in, a->packed, &rq, u8out(n));
        break;
    case Q_DENSE: {
        int K = (int)n->in[1]->shape.d[0], N = (int)n->in[1]->shape.d[1];
        int M = (int)(cnt / N);
        cr_q8_gemm_packed(c->pool, M, N, K, u8in(n, 0), K, a->packed, u8out(n), N, &rq);
        break;
    }
    case Q_DENSE_F: {   /* float out: acc * s_in * s_w[c], then relu / relu6 */
        int K = (int)n->in[1]->shape.d[0], N = (int)n->in[1]->shape.d[1];
        int M = (int)(cnt / N);
        int32_t *acc = (int32_t *)n->val;   /* same size as the floats, converted in place */
        cr_q8_gemm_packed_i32(c->pool, M, N, K, u8in(n, 0), K, a->packed, acc, N);
        float hi = a->hi == 6 ? 6.0f : INFINITY;
        for (int64_t i = 0; i < cnt; i++) {
            float f = (float)acc[i] * a->m[i % N];
            n->val[i] = a->lo ? (f > 0 ? (f < hi ? f : hi) : 0.0f) : f;
        }
        break;
    }
    case Q_ADD:
        cr_q8_add(c->pool, cnt, u8in(n, 0), a->z_in, a->ma, u8in(n, 1), a->z_in2, a->mb,
                  u8out(n), a->z_out, a->lo, a->hi);
        break;
    case Q_MAXPOOL:
    case Q_GMAX:
        if (q8_geom(n, &geo))
            cr_q8_maxpool2d(c->pool, &geo, u8in(n, 0), u8out(n));
        break;
    case Q_AVGPOOL:
    case Q_GAVG:
        if (q8_geom(n, &geo))
            cr_q8_avgpool2d(c->pool, &geo, u8in(n, 0), a->z_in, a->ma, u8out(n), a->z_out, a->lo,
                            a->hi);
        break;
    case Q_COPY:
        if (n->val != n->in[0]->val)
            memcpy(n->val, n->in[0]->val, (size_t)cnt);
        break;
    case Q_RELU: {
        const uint8_t *x = u8in(n, 0);
        uint8_t *y = u8out(n);
        for (int64_t i = 0; i < cnt; i++)
            y[i] = (uint8_t)(x[i] < a->lo ? a->lo : x[i] > a->hi ? a->hi : x[i]);
        break;
    }
    case Q_QUANT:
        cr_q8_quantize(c->pool, cnt, n->in[0]->val, a->s, a->z_out, u8out(n));
        break;
    case Q_DEQUANT:
        cr_q8_dequantize(c->pool, cnt, u8in(n, 0), a->s, a->z_in, n->val);
        break;
    }
}

static const int16_t *i16in(const cr_node *n, int i) { return (const int16_t *)n->in[i]->val; }
static int16_t *i16out(const cr_node *n) { return (int16_t *)n->val; }

/* A float-out Dense of int16 inputs: the int64 sums into aux, then
 * acc * m[c] (in double, rounded to float once) and relu / relu6. */
static void q16_dense_float(cr_node *n, const cr_ctx *c)
{
    q8_attr *a = n->attr;
    int64_t cnt = cr_dims_count(&n->shape);
    int K = (int)n->in[1]->shape.d[0], N = (int)n->in[1]->shape.d[1], M = (int)(cnt / N);
    int64_t *acc = (int64_t *)n->aux;
    cr_q16_gemm_packed(c->pool, M, N, K, i16in(n, 0), a->packed, a->b64, NULL, NULL, acc);
    float hi = a->hi == 6 ? 6.0f : INFINITY;
    for (int64_t i = 0; i < cnt; i++) {
        float f = (float)((double)acc[i] * a->m[i % N]);
        n->val[i] = a->lo ? (f > 0 ? (f < hi ? f : hi) : 0.0f) : f;
    }
}

static void q16_fwd(cr_node *n, const cr_ctx *c)
{
    q8_attr *a = n->attr;
    cr_q16_req rq = { .mult = a->mult, .shift = a->shift, .rs = a->rs, .lo = a->lo, .hi = a->hi };
    cr_conv_geom geo;
    int64_t cnt = cr_dims_count(&n->shape);
    switch (a->kind) {
    case Q_CONV:
    case Q_DW:
        if (q8_geom(n, &geo) && a->kind == Q_DW)
            cr_q16_depthwise2d(c->pool, &geo, i16in(n, 0), a->k16, a->b64, &rq, i16out(n));
        else if (q8_geom(n, &geo))
            cr_q16_conv2d_packed(c->pool, &geo, i16in(n, 0), a->packed, a->b64, &rq, i16out(n));
        break;
    case Q_DENSE: {
        int K = (int)n->in[1]->shape.d[0], N = (int)n->in[1]->shape.d[1];
        cr_q16_gemm_packed(c->pool, (int)(cnt / N), N, K, i16in(n, 0), a->packed, a->b64, &rq,
                           i16out(n), NULL);
        break;
    }
    case Q_DENSE_F:
        q16_dense_float(n, c);
        break;
    case Q_ADD:
        cr_q16_add(c->pool, cnt, i16in(n, 0), i16in(n, 1), &a->add16, i16out(n));
        break;
    case Q_MAXPOOL:
    case Q_GMAX:
        if (q8_geom(n, &geo))
            cr_q16_maxpool2d(c->pool, &geo, i16in(n, 0), i16out(n));
        break;
    case Q_AVGPOOL:
    case Q_GAVG:
        if (q8_geom(n, &geo))
            cr_q16_avgpool2d(c->pool, &geo, i16in(n, 0), a->lo, a->hi, i16out(n));
        break;
    case Q_COPY:
        if (n->val != n->in[0]->val)
            memcpy(n->val, n->in[0]->val, (size_t)cnt * sizeof(int16_t));
        break;
    case Q_RELU: {
        const int16_t *x = i16in(n, 0);
        int16_t *y = i16out(n);
        for (int64_t i = 0; i < cnt; i++)
            y[i] = (int16_t)(x[i] < a->lo ? a->lo : x[i] > a->hi ? a->hi : x[i]);
        break;
    }
    case Q_QUANT:
        cr_q16_quantize(c->pool, cnt, n->in[0]->val, a->s, i16out(n));
        break;
    case Q_DEQUANT:
        cr_q16_dequantize(c->pool, cnt, i16in(n, 0), a->s, n->val);
        break;
    }
}

const char *cr_q8_kernel_key(const cr_node *n, const cr_qact **out)
{
    if (n->kind != CR_NODE_OP || n->op->forward != q8_fwd)
        return NULL;
    const q8_attr *a = n->attr;
    if (a->kind != Q_CONV && a->kind != Q_DW && a->kind != Q_DENSE && a->kind != Q_DENSE_F)
        return NULL;
    *out = a->out;
    return a->key;
}

/* Integer multiply-adds (two operations each) of the convolutions and
 * Dense layers, for profiles; other int8 ops 0. */
static double q8_flops(const cr_node *n)
{
    const q8_attr *a = n->attr;
    cr_conv_geom geo;
    double out = (double)cr_dims_count(&n->shape);
    switch (a->kind) {
    case Q_CONV:
        return q8_geom((cr_node *)n, &geo) ? 2.0 * out * geo.kh * geo.kw * geo.c : 0;
    case Q_DW:
        return q8_geom((cr_node *)n, &geo) ? 2.0 * out * geo.kh * geo.kw : 0;
    case Q_DENSE:
    case Q_DENSE_F:
        return 2.0 * out * (double)n->in[1]->shape.d[0];
    default:
        return 0;
    }
}

#define Q8_OP(nm) { .name = nm, .arity = -1, .shape = q8_shape, .forward = q8_fwd, \
                    .aux_size = q8_aux, .release = q8_release, .flops = q8_flops }
static const cr_op_def q8_defs[] = {
    [Q_CONV] = Q8_OP("q8_conv2d"), [Q_DW] = Q8_OP("q8_depthwise2d"),
    [Q_DENSE] = Q8_OP("q8_dense"), [Q_DENSE_F] = Q8_OP("q8_dense_float_out"),
    [Q_ADD] = Q8_OP("q8_add"),
    [Q_MAXPOOL] = Q8_OP("q8_maxpool2d"), [Q_AVGPOOL] = Q8_OP("q8_avgpool2d"),
    [Q_GMAX] = Q8_OP("q8_global_maxpool"), [Q_GAVG] = Q8_OP("q8_global_avgpool"),
    [Q_COPY] = Q8_OP("q8_reshape"), [Q_RELU] = Q8_OP("q8_relu"),
    [Q_QUANT] = Q8_OP("quantize"), [Q_DEQUANT] = Q8_OP("dequantize"),
};

/* ---- the rewrite ------------------------------------------------------- */

typedef struct rewrite {
    cr_graph *g;
    cr_quant *q;
    char (*keys)[160];
    const cr_qact **par;          /* [n] each value's uint8 parameters, or NULL */
    bool *u8, *dead;
    int threads;
} rewrite;

static bool is_op(const cr_node *n, const char *name)
{
    return n->kind == CR_NODE_OP && !strcmp(n->op->name, name);
}

static bool pinned(const cr_graph *g, const cr_node *n)
{
    if (n->keep || n == g->probe_out)
        return true;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == n)
            return true;
    return false;
}

/* The one live consumer of n, or NULL (none, several, or an output). */
static cr_node *sole_consumer(const rewrite *r, const cr_node *n)
{
    cr_node *c = NULL;
    if (pinned(r->g, n))
        return NULL;
    for (int i = n->id + 1; i < r->g->n; i++)
        for (int j = 0; j < r->g->nodes[i]->n_in; j++)
            if (!r->dead[i] && r->g->nodes[i]->in[j] == n) {
                if (c)
                    return NULL;
                c = r->g->nodes[i];
            }
    return c;
}

/* x can be read as uint8: it is, or a quantize node can make it. */
static bool in_ok(const rewrite *r, const cr_node *x)
{
    return r->u8[x->id] || r->par[x->id];
}

/* The clamp of an output with fused activation act (CREST_*). */
static void clamp_of(const rewrite *r, int act, const cr_qact *o, int32_t *lo, int32_t *hi)
{
    if (r->q->act16) {   /* TFLite's range for int16: [-32768, 32767] */
        *lo = act == CREST_RELU || act == CREST_RELU6 ? 0 : -32768;
        double top = nearbyint(6.0 / o->s);
        *hi = act == CREST_RELU6 && top < 32767 ? (int32_t)top : 32767;
        return;
    }
    *lo = act == CREST_RELU || act == CREST_RELU6 ? o->z : 0;
    *hi = 255;
    if (act == CREST_RELU6) {
        double top = o->z + nearbyint(6.0 / o->s);
        *hi = top < 255 ? (int32_t)top : 255;
    }
}

/* n becomes int8 node kind (its float op and attributes kept for shapes). */
static int become(rewrite *r, cr_node *n, int kind, q8_attr *a)
{
    if (n->op->release)
        n->op->release(n);   /* float caches (packed conv kernels) go */
    q8_attr *na = cr_malloc(sizeof *na);
    if (!na)
        return cr_fail(CREST_E_NOMEM, "quantize: out of memory rewriting the graph");
    *na = *a;
    na->kind = kind;
    na->orig = n->op;
    na->orig_attr = n->attr;
    na->threads = r->threads;
    na->i16 = r->q->act16;
    n->op = &q8_defs[kind];
    n->attr = na;
    n->q8 = !na->i16;
    n->q16 = na->i16;
    r->u8[n->id] = true;
    return CREST_OK;
}

/* The multiplier from an accumulator in units of s_in * s_w to units of
 * s_out, in float arithmetic with two roundings, (float)(s_in * s_w) / s_out,
 * as ONNX Runtime's QLinearConv / QGemm and XNNPACK's convolutions (LiteRT)
 * compute theirs from the scales an export writes: the correctly rounded
 * s_in * s_w / s_out differs from it by one ulp on a few channels, enough
 * to round an accumulator at a tie the other way (one code apart in about
 * one output in a million, which MobileNetV2's 52 layers amplify). */
static float q8_multiplier(float s_in, float s_w, float s_out)
{
    float p = s_in * s_w;
    return p / s_out;
}

/* The int8 codes of a weight quantized by qw, with int32 biases in units of
 * s_in * scale[c] (bias NULL: zeros), and the multipliers to s_out. */
static int int8_parts(const cr_weight *w, const cr_qweight *qw, const cr_weight *bias,
                      float s_in, float s_out, int8_t **k, int32_t **b, float **m)
{
    int oc = qw->oc;
    *k = cr_malloc((size_t)w->size + 1);
    *b = cr_malloc((size_t)oc * sizeof **b);
    *m = cr_malloc((size_t)oc * sizeof **m);
    if (!*k || !*b || !*m)
        return cr_fail(CREST_E_NOMEM, "quantize: out of memory packing '%s'", w->name);
    for (int64_t i = 0; i < w->size; i++) {
        float c = nearbyintf(w->val[i] / qw->scale[i % oc]);
        (*k)[i] = (int8_t)(c > 127 ? 127 : c < -127 ? -127 : c);
    }
    for (int o = 0; o < oc; o++) {
        double unit = (double)s_in * qw->scale[o];
        double v = bias ? nearbyint(bias->val[o] / unit) : 0;
        (*b)[o] = (int32_t)(v > 2147483647.0 ? 2147483647.0 : v < -2147483647.0 ? -2147483647.0 : v);
        (*m)[o] = q8_multiplier(s_in, qw->scale[o], s_out);
    }
    return CREST_OK;
}

/* With int16 activations: a's int64 biases in units of s_in * scale[c]
 * (kept within 2^62, so sums cannot overflow) and fixed-point multipliers
 * of s_in * scale[c] / s_out (in double, as TFLite computes them). */
static int q16_parts(const cr_weight *w, const cr_qweight *qw, const cr_weight *bias,
                     float s_in, float s_out, q8_attr *a)
{
    int oc = qw->oc;
    a->b64 = cr_malloc((size_t)oc * sizeof *a->b64);
    a->mult = cr_malloc((size_t)oc * sizeof *a->mult);
    a->shift = cr_malloc((size_t)oc * sizeof *a->shift);
    a->rs = cr_malloc((size_t)oc * sizeof *a->rs);
    if (!a->b64 || !a->mult || !a->shift || !a->rs)
        return cr_fail(CREST_E_NOMEM, "quantize: out of memory packing '%s'", w->name);
    for (int o = 0; o < oc; o++) {
        double unit = (double)s_in * qw->scale[o], lim = 4611686018427387904.0;
        double v = bias ? nearbyint(bias->val[o] / unit) : 0;
        a->b64[o] = (int64_t)(v > lim ? lim : v < -lim ? -lim : v);
        int sh;
        cr_q16_multiplier((double)s_in * qw->scale[o] / s_out, &a->mult[o], &sh);
        a->shift[o] = sh;
    }
    cr_q16_req_scales(oc, a->mult, a->shift, a->rs);
    return CREST_OK;
}

/* a's int16 codes k16 [K, N] packed for cr_q16_gemm_packed (a convolution's
 * kernel: K = kh * kw * c). */
static int q16_pack(q8_attr *a, int K, int N, const cr_node *n)
{
    if (!(a->packed = cr_malloc(cr_q16_gemm_packed_bytes(K, N) + 1)))
        return cr_fail(CREST_E_NOMEM, "quantize: out of memory packing layer '%s'",
                       n->layer ? n->layer : "?");
    cr_q16_gemm_pack(K, N, a->k16, a->packed);
    return CREST_OK;
}

/* What a failed rewrite of a node had allocated. */
static void attr_free(q8_attr *a)
{
    cr_free(a->packed);
    cr_free(a->m);
    cr_free(a->k16);
    cr_free(a->b64);
    cr_free(a->mult);
    cr_free(a->shift);
    cr_free(a->rs);
}

static const cr_weight *param_w(const cr_node *n)
{
    return n->kind == CR_NODE_PARAM ? n->w : NULL;
}

bool cr_fused_act_of_window(const cr_node *n)
{
    const cr_act_def *a = n->kind == CR_NODE_OP && n->n_in == 1 ? cr_act_of(n) : NULL;
    const cr_node *x = a ? n->in[0] : NULL;
    return x && (a->id == CREST_RELU || a->id == CREST_RELU6) && x->kind == CR_NODE_OP &&
           (!strcmp(x->op->name, "conv2d") || !strcmp(x->op->name, "depthwise2d"));
}

cr_weight *cr_kernel_weight(const cr_node *k)
{
    if (k->kind == CR_NODE_OP && !strcmp(k->op->name, "reshape") && k->n_in == 1)
        k = k->in[0];   /* a 1-D layer's [k, a, b] kernel viewed as [k, 1, a, b] */
    return k->kind == CR_NODE_PARAM ? k->w : NULL;
}

static int try_conv(rewrite *r, cr_node *n, bool depthwise)
{
    cr_conv_geom geo;
    int act;
    bool folded;
    const cr_qact *po = r->par[n->id];
    const cr_weight *w = n->n_in >= 2 ? cr_kernel_weight(n->in[1]) : NULL;
    const cr_weight *bias = n->n_in == 3 ? param_w(n->in[2]) : NULL;
    const cr_qweight *qw = cr_quant_weight(r->q, w);
    if (!po || !qw || (n->n_in == 3 && !bias) || n->n_in > 3 || !in_ok(r, n->in[0]) ||
        !cr_window_parts(n, &geo, &act, &folded) || folded ||
        (act != CREST_LINEAR && act != CREST_RELU && act != CREST_RELU6))
        return CREST_OK;
    const cr_qact *pi = r->par[n->in[0]->id];
    q8_attr a = { .oc = qw->oc, .z_in = pi->z, .z_out = po->z, .out = po, .qw = qw,
                  .bias = bias, .s_in = pi->s, .s_out = po->s };
    snprintf(a.key, sizeof a.key, "%s", r->keys[n->id]);
    clamp_of(r, act, po, &a.lo, &a.hi);
    int8_t *k = NULL;
    int32_t *b = NULL;
    int rc = int8_parts(w, qw, bias, pi->s, po->s, &k, &b, &a.m);
    if (!rc && r->q->act16) {
        rc = q16_parts(w, qw, bias, pi->s, po->s, &a);
        a.k16 = k;
        k = NULL;
        if (!rc && !depthwise)
            rc = q16_pack(&a, geo.kh * geo.kw * geo.c, geo.oc, n);
    } else if (!rc) {
        size_t bytes = depthwise ? cr_q8_depthwise2d_packed_bytes(&geo)
                                 : cr_q8_conv2d_packed_bytes(&geo);
        if (!(a.packed = cr_malloc(bytes + 1)))
            rc = cr_fail(CREST_E_NOMEM, "quantize: out of memory packing layer '%s'",
                         n->layer ? n->layer : "?");
        else if (depthwise)
            cr_q8_depthwise2d_pack(&geo, k, b, a.packed);
        else
            cr_q8_conv2d_pack(&geo, k, b, a.z_in, a.packed);
    }
    if (!rc)
        rc = become(r, n, depthwise ? Q_DW : Q_CONV, &a);
    if (rc)
        attr_free(&a);
    cr_free(k);
    cr_free(b);
    return rc;
}

/* Ops try_int8 can run int8 on a uint8 input. */
static bool int8_capable(const cr_node *c)
{
    static const char *const ops[] = { "conv2d", "depthwise2d", "matmul", "add", "maxpool2d",
                                       "avgpool2d", "global_maxpool", "global_avgpool",
                                       "reshape", "flatten" };
    const cr_act_def *ad = c->n_in == 1 ? cr_act_of(c) : NULL;
    if (ad && (ad->id == CREST_RELU || ad->id == CREST_RELU6))
        return true;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (is_op(c, ops[i]))
            return true;
    return false;
}

/* Whether every consumer of n is a float op (or n is an output): then a
 * Dense ending at n gives float, from its int32 sums, unrounded. */
static bool float_consumers(const rewrite *r, const cr_node *n)
{
    if (pinned(r->g, n))
        return true;
    for (int i = n->id + 1; i < r->g->n; i++)
        for (int j = 0; j < r->g->nodes[i]->n_in; j++)
            if (!r->dead[i] && r->g->nodes[i]->in[j] == n && int8_capable(r->g->nodes[i]))
                return false;
    return true;
}

/* The bias_add and relu / relu6 after matmul n (single consumers, not
 * pinned) into chain[1..]; returns the chain's length, *act its activation. */
static int dense_chain(const rewrite *r, cr_node *n, cr_node **chain, int *act)
{
    cr_node *end = n, *c;
    int len = 1;
    chain[0] = n;
    *act = CREST_LINEAR;
    if ((c = sole_consumer(r, end)) && is_op(c, "bias_add") && c->in[0] == end &&
        param_w(c->in[1]) && c->in[1]->shape.ndim == 1 && !pinned(r->g, c))
        chain[len++] = end = c;
    const cr_act_def *ad;
    if ((c = sole_consumer(r, end)) && c->n_in == 1 && (ad = cr_act_of(c)) &&
        (ad->id == CREST_RELU || ad->id == CREST_RELU6) && !pinned(r->g, c)) {
        *act = ad->id;
        chain[len++] = c;
    }
    return len;
}

/* matmul [, bias_add] [, relu | relu6]: one gemm node (the matmul's); the
 * consumers of the chain's end read it. Its output is uint8, or float (from
 * the int32 sums) when only float ops read it (a classifier's softmax). */
static int try_dense(rewrite *r, cr_node *n)
{
    const cr_weight *w = param_w(n->in[1]);
    const cr_qweight *qw = cr_quant_weight(r->q, w);
    if (!qw || n->in[1]->shape.ndim != 2 || !in_ok(r, n->in[0]))
        return CREST_OK;
    cr_node *chain[3];
    int act, len = dense_chain(r, n, chain, &act);
    cr_node *end = chain[len - 1];
    const cr_weight *bias = len > 1 && is_op(chain[1], "bias_add") ? param_w(chain[1]->in[1]) : NULL;
    const cr_qact *po = r->par[end->id], *pi = r->par[n->in[0]->id];
    bool fout = float_consumers(r, end) || !po;
    q8_attr a = { .oc = qw->oc, .z_in = pi->z, .z_out = fout ? 0 : po->z, .out = fout ? NULL : po,
                  .qw = qw, .bias = bias, .s_in = pi->s, .s_out = fout ? 1.0f : po->s };
    snprintf(a.key, sizeof a.key, "%s", r->keys[end->id]);
    if (fout) {   /* the clamp in float: lo 1 = relu, hi 6 = relu6 */
        a.lo = act != CREST_LINEAR;
        a.hi = act == CREST_RELU6 ? 6 : 0;
    } else {
        clamp_of(r, act, po, &a.lo, &a.hi);
    }
    int8_t *k = NULL;
    int32_t *b = NULL;
    int K = (int)n->in[1]->shape.d[0], N = (int)n->in[1]->shape.d[1];
    int rc = int8_parts(w, qw, bias, pi->s, fout ? 1.0f : po->s, &k, &b, &a.m);
    if (!rc && r->q->act16) {
        rc = q16_parts(w, qw, bias, pi->s, fout ? 1.0f : po->s, &a);
        a.k16 = k;
        k = NULL;
        if (!rc)
            rc = q16_pack(&a, K, N, n);
    } else if (!rc && !(a.packed = cr_malloc(cr_q8_gemm_packed_bytes(K, N) + 1))) {
        rc = cr_fail(CREST_E_NOMEM, "quantize: out of memory packing layer '%s'",
                     n->layer ? n->layer : "?");
    } else if (!rc) {
        cr_q8_gemm_pack(K, N, k, b, a.z_in, a.packed);
    }
    if (!rc)
        rc = become(r, n, fout ? Q_DENSE_F : Q_DENSE, &a);
    cr_free(k);
    cr_free(b);
    if (rc) {
        attr_free(&a);
        return rc;
    }
    for (int i = 1; i < len; i++)   /* the chain's end is now n */
        r->dead[chain[i]->id] = true;
    for (int i = end->id + 1; i < r->g->n; i++)
        for (int j = 0; j < r->g->nodes[i]->n_in; j++)
            if (r->g->nodes[i]->in[j] == end)
                r->g->nodes[i]->in[j] = n;
    if (fout) {
        n->q8 = n->q16 = false;
        r->u8[n->id] = false;
    }
    r->par[n->id] = fout ? NULL : po;
    return CREST_OK;
}

int cr_q8_kernel_rebias(cr_node *n)
{
    const cr_qact *o;
    if (!cr_q8_kernel_key(n, &o))
        return CREST_OK;
    q8_attr *a = n->attr;
    const cr_weight *w = cr_kernel_weight(n->in[1]);
    int8_t *k = NULL;
    int32_t *b = NULL;
    float *m = NULL;
    cr_conv_geom geo;
    int rc = int8_parts(w, a->qw, a->bias, a->s_in, a->s_out, &k, &b, &m);
    if (!rc && a->i16) {   /* the codes stay; new int64 biases */
        q8_attr t = { 0 };
        rc = q16_parts(w, a->qw, a->bias, a->s_in, a->s_out, &t);
        if (!rc) {
            int64_t *old = a->b64;
            a->b64 = t.b64;
            t.b64 = old;
        }
        attr_free(&t);
    } else if (!rc && a->kind == Q_CONV && q8_geom(n, &geo))
        cr_q8_conv2d_pack(&geo, k, b, a->z_in, a->packed);
    else if (!rc && a->kind == Q_DW && q8_geom(n, &geo))
        cr_q8_depthwise2d_pack(&geo, k, b, a->packed);
    else if (!rc && (a->kind == Q_DENSE || a->kind == Q_DENSE_F))
        cr_q8_gemm_pack((int)n->in[1]->shape.d[0], (int)n->in[1]->shape.d[1], k, b, a->z_in,
                        a->packed);
    cr_free(k);
    cr_free(b);
    cr_free(m);
    return rc;
}

static int try_add(rewrite *r, cr_node *n)
{
    const cr_qact *po = r->par[n->id];
    if (!po || n->n_in != 2 || !in_ok(r, n->in[0]) || !in_ok(r, n->in[1]) ||
        !cr_dims_eq(&n->in[0]->shape, &n->shape) || !cr_dims_eq(&n->in[1]->shape, &n->shape))
        return CREST_OK;
    const cr_qact *pa = r->par[n->in[0]->id], *pb = r->par[n->in[1]->id];
    q8_attr a = { .z_in = pa->z, .z_in2 = pb->z, .z_out = po->z, .lo = 0, .hi = 255,
                  .ma = (float)((double)pa->s / po->s), .mb = (float)((double)pb->s / po->s) };
    if (r->q->act16)
        cr_q16_add_params(pa->s, pb->s, po->s, &a.add16);
    return become(r, n, Q_ADD, &a);
}

/* Ops on a uint8 tensor's bytes: the output keeps the input's parameters. */
static int try_bytes(rewrite *r, cr_node *n, int kind)
{
    const cr_qact *pi = r->par[n->in[0]->id];
    if (!r->u8[n->in[0]->id] || !pi)
        return CREST_OK;
    q8_attr a = { .z_in = pi->z, .z_out = pi->z, .lo = 0, .hi = 255 };
    if (r->q->act16) {
        a.lo = -32768;
        a.hi = 32767;
    }
    if (kind == Q_RELU) {
        const cr_act_def *ad = cr_act_of(n);
        clamp_of(r, ad->id, pi, &a.lo, &a.hi);
    }
    r->par[n->id] = pi;
    return become(r, n, kind, &a);
}

static int try_avg(rewrite *r, cr_node *n, int kind)
{
    const cr_qact *pi = r->par[n->in[0]->id], *po = r->par[n->id];
    if (!r->u8[n->in[0]->id] || !pi || !po)
        return CREST_OK;
    if (r->q->act16)   /* TFLite's int16 average pool: the input's scale */
        return try_bytes(r, n, kind);
    q8_attr a = { .z_in = pi->z, .z_out = po->z, .lo = 0, .hi = 255,
                  .ma = (float)((double)pi->s / po->s) };
    return become(r, n, kind, &a);
}

/* Turns n into an int8 node if it can be one. */
static int try_int8(rewrite *r, cr_node *n)
{
    const char *op = n->op->name;
    if (n->n_in < 1 || (pinned(r->g, n) && strcmp(op, "matmul")))
        return CREST_OK;   /* outputs stay float (a Dense gives float anyway) */
    const cr_act_def *ad = n->n_in == 1 ? cr_act_of(n) : NULL;
    if (!strcmp(op, "conv2d") || !strcmp(op, "depthwise2d"))
        return try_conv(r, n, op[0] == 'd');
    if (!strcmp(op, "matmul"))
        return try_dense(r, n);
    if (!strcmp(op, "add"))
        return try_add(r, n);
    if (n->in[0]->shape.ndim == 4 && (!strcmp(op, "maxpool2d") || !strcmp(op, "global_maxpool")))
        return try_bytes(r, n, op[0] == 'm' ? Q_MAXPOOL : Q_GMAX);
    if (n->in[0]->shape.ndim == 4 && (!strcmp(op, "avgpool2d") || !strcmp(op, "global_avgpool")))
        return try_avg(r, n, op[0] == 'a' ? Q_AVGPOOL : Q_GAVG);
    if (!strcmp(op, "reshape") || !strcmp(op, "flatten"))
        return try_bytes(r, n, Q_COPY);
    if (ad && (ad->id == CREST_RELU || ad->id == CREST_RELU6))
        return try_bytes(r, n, Q_RELU);
    return CREST_OK;
}

/* A quantize (to_u8) or dequantize node reading p, placed right after it. */
static cr_node *converter(const rewrite *r, cr_node *p, bool to_u8)
{
    cr_node *c = cr_calloc(1, sizeof *c);
    q8_attr *a = cr_calloc(1, sizeof *a);
    cr_node **in = cr_malloc(sizeof *in);
    if (!c || !a || !in) {
        cr_free(c);
        cr_free(a);
        cr_free(in);
        return NULL;
    }
    const cr_qact *pp = r->par[p->id];
    bool i16 = r->q->act16;
    *a = (q8_attr){ .kind = to_u8 ? Q_QUANT : Q_DEQUANT, .s = pp->s, .z_in = pp->z,
                    .z_out = pp->z, .i16 = i16 };
    in[0] = p;
    *c = (cr_node){ .op = &q8_defs[a->kind], .kind = CR_NODE_OP, .n_in = 1, .in = in,
                    .shape = p->shape, .attr = a, .layer = p->layer, .q8 = to_u8 && !i16,
                    .q16 = to_u8 && i16 };
    return c;
}

/* Which inputs of n are data (weights stay as they are). */
static int data_inputs(const cr_node *n)
{
    if (n->op->forward != q8_fwd)
        return n->n_in;
    int k = ((const q8_attr *)n->attr)->kind;
    return k == Q_ADD ? 2 : 1;
}

/* Converters between the domains; the graph renumbered without dead nodes. */
static int splice(rewrite *r)
{
    cr_graph *g = r->g;
    int n = g->n, rc = CREST_OK, k = 0, extra = 0;
    cr_node **conv = cr_calloc((size_t)n * 2 + 1, sizeof *conv);   /* [i]: to u8, [n+i]: to float */
    if (!conv)
        return cr_fail(CREST_E_NOMEM, "quantize: out of memory rewriting the graph");
    for (int i = 0; i < n && !rc; i++) {
        cr_node *nd = g->nodes[i];
        if (r->dead[i] || nd->kind != CR_NODE_OP)
            continue;
        bool want_u8 = nd->op->forward == q8_fwd;   /* int8 ops read uint8 (any output) */
        for (int j = 0; j < data_inputs(nd) && !rc; j++) {
            cr_node *p = nd->in[j];
            if (p->kind == CR_NODE_PARAM || r->u8[p->id] == want_u8)
                continue;
            int slot = want_u8 ? p->id : n + p->id;
            if (!conv[slot]) {
                if (!(conv[slot] = converter(r, p, want_u8))) {
                    rc = cr_fail(CREST_E_NOMEM, "quantize: out of memory rewriting the graph");
                    break;
                }
                extra++;
            }
            nd->in[j] = conv[slot];
        }
    }
    cr_node **nodes = rc ? NULL : cr_malloc((size_t)(n + extra) * sizeof *nodes);
    if (!rc && !nodes)
        rc = cr_fail(CREST_E_NOMEM, "quantize: out of memory rewriting the graph");
    if (rc) {
        for (int i = 0; i < 2 * n; i++)
            if (conv[i]) {
                cr_free(conv[i]->attr);
                cr_free(conv[i]->in);
                cr_free(conv[i]);
            }
        cr_free(conv);
        return rc;
    }
    for (int i = 0; i < n; i++) {
        cr_node *nd = g->nodes[i];
        if (r->dead[i]) {
            if (nd->op && nd->op->release)
                nd->op->release(nd);
            cr_free(nd->in);
            cr_free(nd->attr);
            cr_free(nd);
            continue;
        }
        nodes[k++] = nd;
        for (int s = 0; s < 2; s++)
            if (conv[s * n + i])
                nodes[k++] = conv[s * n + i];
    }
    for (int i = 0; i < k; i++)
        nodes[i]->id = i;
    cr_free(g->nodes);
    g->nodes = nodes;
    g->n = g->cap = k;
    g->planned = false;
    cr_free(conv);
    return CREST_OK;
}

int cr_graph_quantize(cr_graph *g, cr_quant *q)
{
    int rc = cr_graph_status(g);
    if (rc || !q)
        return rc;
    rewrite r = { .g = g, .q = q, .threads = 64 };
    size_t n = (size_t)g->n + 1;
    r.keys = cr_malloc(n * sizeof *r.keys);
    r.par = cr_calloc(n, sizeof *r.par);
    r.u8 = cr_calloc(n, sizeof *r.u8);
    r.dead = cr_calloc(n, sizeof *r.dead);
    if (!r.keys || !r.par || !r.u8 || !r.dead)
        rc = cr_fail(CREST_E_NOMEM, "quantize: out of memory rewriting the graph");
    if (!rc) {
        cr_graph_qkeys(g, r.keys);
        for (int i = 0; i < g->n; i++)
            r.par[i] = r.keys[i][0] ? cr_quant_act(q, r.keys[i]) : NULL;
    }
    for (int i = 0; !rc && i < g->n; i++)
        if (!r.dead[i] && g->nodes[i]->kind == CR_NODE_OP)
            rc = try_int8(&r, g->nodes[i]);
    if (!rc)
        rc = splice(&r);
    if (!rc) {
        q->int8_nodes = q->float_nodes = 0;
        for (int i = 0; i < g->n; i++) {
            const cr_node *nd = g->nodes[i];
            if (nd->kind != CR_NODE_OP || nd->op == &q8_defs[Q_QUANT] ||
                nd->op == &q8_defs[Q_DEQUANT])
                continue;
            if (nd->op->forward == q8_fwd)
                q->int8_nodes++;
            else
                q->float_nodes++;
        }
    }
    cr_free(r.keys);
    cr_free(r.par);
    cr_free(r.u8);
    cr_free(r.dead);
    return rc;
}
