/* window.c - the window ops on NHWC images: conv2d, depthwise conv2d, max
 * and average pooling (they share attributes and geometry). The hot loops
 * live in src/kernels; this file owns the shape rules (Keras / TF padding),
 * attributes and gradients.
 *
 * Padding follows TensorFlow: 'valid' uses no padding, out = ceil((in - ek
 * + 1) / s) with ek = (k - 1) * d + 1; 'same' gives out = ceil(in / s) and
 * pads total = max((out - 1) * s + ek - in, 0), floor(total / 2) on the
 * top / left and the rest (one more when odd) on the bottom / right.
 *
 * conv2d and depthwise2d can carry a fused activation (relu or relu6,
 * applied after the bias); its gradient is recovered from the output, so
 * fused nodes still train.
 */
#include "../internal.h"

#include <math.h>

enum { PAD_VALID = 0, PAD_SAME = 1 };

typedef struct win_attr {
    int kh, kw;          /* pooling window (convs read it from the kernel) */
    int sh, sw, dh, dw;
    int pad;             /* PAD_VALID / PAD_SAME */
    int xt, xb, xl, xr;  /* explicit zero padding (a ZeroPadding2D fused in) */
    int act;             /* fused: CREST_LINEAR, CREST_RELU or CREST_RELU6 */
    /* inference only: a batch norm folded in (cr_fold_batchnorm). Inputs
     * then go on with mean, var, gamma (if bn_scale), beta (if bn_center). */
    bool bn, bn_scale, bn_center;
    float eps;
    struct conv_cache *cache;   /* weights prepared once (see below), or NULL */
} win_attr;

/* Convolution inputs before any folded batch-norm parameters. */
static int conv_n_in(const cr_node *n)
{
    const win_attr *a = n->attr;
    return a->bn ? n->n_in - 2 - a->bn_scale - a->bn_center : n->n_in;
}

static const float *conv_bias(const cr_node *n)
{
    return conv_n_in(n) == 3 ? n->in[2]->val : NULL;
}

static int out_dim(int in, int k, int s, int d, int pad, int *before)
{
    int ek = (k - 1) * d + 1;
    if (pad == PAD_SAME) {
        int out = (in + s - 1) / s;
        int total = (out - 1) * s + ek - in;
        *before = total > 0 ? total / 2 : 0;
        return out;
    }
    *before = 0;
    return in >= ek ? (in - ek) / s + 1 : 0;
}

/* Geometry for x [n,h,w,c] and a kh x kw window; oc output channels. */
static int window_geom(const cr_node *n, int kh, int kw, int oc, cr_conv_geom *g)
{
    const win_attr *a = n->attr;
    const cr_dims *x = &n->in[0]->shape;
    if (x->ndim != 4) {
        char s[96];
        return cr_fail(CREST_E_SHAPE, "%s: input %s is not [batch, height, width, channels]",
                       n->op->name, cr_dims_str(x, s, sizeof s));
    }
    if (a->sh < 1 || a->sw < 1 || a->dh < 1 || a->dw < 1 || kh < 1 || kw < 1)
        return cr_fail(CREST_E_ARG, "%s: window %dx%d, strides %dx%d, dilation %dx%d",
                       n->op->name, kh, kw, a->sh, a->sw, a->dh, a->dw);
    if (x->d[1] > (1 << 20) || x->d[2] > (1 << 20) || x->d[3] > (1 << 20) ||
        x->d[0] > (1 << 24))
        return cr_fail(CREST_E_SHAPE, "%s: input too large", n->op->name);
    *g = (cr_conv_geom){ .n = (int)x->d[0], .h = (int)x->d[1], .w = (int)x->d[2],
                         .c = (int)x->d[3], .oc = oc, .kh = kh, .kw = kw, .sh = a->sh,
                         .sw = a->sw, .dh = a->dh, .dw = a->dw };
    g->oh = out_dim(g->h + a->xt + a->xb, kh, a->sh, a->dh, a->pad, &g->pt);
    g->ow = out_dim(g->w + a->xl + a->xr, kw, a->sw, a->dw, a->pad, &g->pl);
    g->pt += a->xt;      /* the kernels skip taps outside the image: zeros */
    g->pl += a->xl;
    if (g->oh < 1 || g->ow < 1)
        return cr_fail(CREST_E_SHAPE, "%s: a %dx%d window (dilation %dx%d) does not fit a "
                       "%dx%d input with 'valid' padding", n->op->name, kh, kw, a->dh, a->dw,
                       g->h, g->w);
    return CREST_OK;
}

static void set_out(cr_node *n, const cr_conv_geom *g)
{
    n->shape = (cr_dims){ .ndim = 4, .d = { g->n, g->oh, g->ow, g->oc } };
}

/* ---- fused activation: applied in the kernels' stores ------------------- */

static cr_act kernel_act(const cr_node *n)
{
    return cr_activations[((const win_attr *)n->attr)->act].kernel;
}

/* dy *= f'(pre-activation), read from y; in place (the node's own grad). */
static void epilogue_bwd(cr_node *n)
{
    cr_act act = kernel_act(n);
    if (act == CR_ACT_NONE)
        return;
    int64_t cnt = cr_dims_count(&n->shape);
    float hi = act == CR_ACT_RELU6 ? 6.0f : INFINITY;
    for (int64_t i = 0; i < cnt; i++)
        if (!(n->val[i] > 0 && n->val[i] < hi))
            n->grad[i] = 0;
}

/* ---- folded batch norm (inference) ------------------------------------- */

/* Floats of aux the fold needs: the folded kernel and bias. */
static int64_t fold_aux(const cr_node *n)
{
    const win_attr *a = n->attr;
    return a->bn ? cr_dims_count(&n->in[1]->shape) + 2 * n->shape.d[3] : 0;
}

/* k' = k * mul[oc], b' = (b - mean) * mul + beta with mul = gamma /
 * sqrt(var + eps), over output channel o = index % oc (Keras kernels keep
 * the output channel innermost, depthwise as c*dm). Recomputed every
 * forward, so it always reflects the current weights. */
static void fold(const cr_node *n, float *k, float *b)
{
    const win_attr *a = n->attr;
    int base = conv_n_in(n);
    const float *mean = n->in[base]->val, *var = n->in[base + 1]->val;
    const float *gamma = a->bn_scale ? n->in[base + 2]->val : NULL;
    const float *beta = a->bn_center ? n->in[base + 2 + a->bn_scale]->val : NULL;
    const float *bias = conv_bias(n), *k0 = n->in[1]->val;
    int64_t oc = n->shape.d[3], cnt = cr_dims_count(&n->in[1]->shape);
    float *mul = b + oc;   /* scratch after the bias */
    for (int64_t o = 0; o < oc; o++) {
        double m = (gamma ? gamma[o] : 1.0) / sqrt((double)var[o] + a->eps);
        mul[o] = (float)m;
        b[o] = (float)(((bias ? bias[o] : 0.0) - mean[o]) * m + (beta ? beta[o] : 0.0));
    }
    for (int64_t r = 0; r < cnt; r += oc)
        for (int64_t o = 0; o < oc; o++)
            k[r + o] = k0[r + o] * mul[o];
}

/* ---- weights prepared once -----------------------------------------------
 *
 * A convolution whose kernel, bias and folded batch-norm inputs are all
 * weights no gradient flows into (inference graphs, frozen backbones)
 * keeps them prepared on the node: the folded kernel and bias, and for
 * conv2d the kernel packed for the gemm micro-kernel. They are redone when
 * a weight's version or the SIMD level changes. The bits are those the
 * unprepared path computes (same fold, same packing). */

#define CACHE_MAX_W 6

typedef struct conv_cache {
    int isa, nw;
    const cr_weight *w[CACHE_MAX_W];
    unsigned ver[CACHE_MAX_W];
    float *k, *b;              /* one block: kernel (packed for conv2d), bias or NULL */
} conv_cache;

static void conv_release(cr_node *n)
{
    win_attr *a = n->attr;
    if (a && a->cache) {
        cr_free(a->cache->k);
        cr_free(a->cache);
        a->cache = NULL;
    }
}

/* The node's weight inputs qualify for a cache. */
static bool cacheable(const cr_node *n)
{
    if (n->n_in - 1 > CACHE_MAX_W)
        return false;
    for (int i = 1; i < n->n_in; i++)
        if (n->in[i]->kind != CR_NODE_PARAM || !n->in[i]->w || n->in[i]->needs_grad)
            return false;
    return true;
}

static bool cache_fresh(const cr_node *n, const conv_cache *cc)
{
    if (!cc || cc->isa != (int)cr_isa_current() || cc->nw != n->n_in - 1)
        return false;
    for (int i = 1; i < n->n_in; i++)
        if (cc->w[i - 1] != n->in[i]->w || cc->ver[i - 1] != n->in[i]->w->version)
            return false;
    return true;
}

/* (Re)builds the cache: fold (if any) into tmp, then pack or copy. */
static conv_cache *cache_build(cr_node *n, const cr_conv_geom *g, bool pack)
{
    win_attr *a = n->attr;
    int64_t cnt = cr_dims_count(&n->in[1]->shape), oc = g->oc;
    int64_t kf = pack ? (int64_t)cr_conv2d_packed_floats(g) : cnt;
    conv_release(n);
    conv_cache *cc = cr_calloc(1, sizeof *cc);
    float *tmp = a->bn && pack ? cr_malloc((size_t)cnt * sizeof(float)) : NULL;
    if (cc)
        cc->k = cr_malloc((size_t)(kf + 2 * oc) * sizeof(float));
    if (!cc || !cc->k || (a->bn && pack && !tmp)) {
        if (cc)
            cr_free(cc->k);
        cr_free(cc);
        cr_free(tmp);
        return NULL;                      /* the unprepared path still works */
    }
    const float *k = n->in[1]->val, *b = conv_bias(n);
    cc->b = cc->k + kf;
    if (a->bn) {
        fold(n, pack ? tmp : cc->k, cc->b);
        k = pack ? tmp : cc->k;
    } else if (b) {
        memcpy(cc->b, b, (size_t)oc * sizeof(float));
    } else {
        cc->b = NULL;
    }
    if (pack)
        cr_conv2d_pack(g, k, cc->k);
    else if (!a->bn)
        memcpy(cc->k, k, (size_t)cnt * sizeof(float));
    cr_free(tmp);
    cc->isa = (int)cr_isa_current();
    cc->nw = n->n_in - 1;
    for (int i = 1; i < n->n_in; i++) {
        cc->w[i - 1] = n->in[i]->w;
        cc->ver[i - 1] = n->in[i]->w->version;
    }
    a->cache = cc;
    return cc;
}

/* The prepared weights, or NULL (then fold into aux per forward). */
static const conv_cache *prepared(cr_node *n, const cr_conv_geom *g, bool pack)
{
    win_attr *a = n->attr;
    if (!cacheable(n))
        return NULL;
    if (cache_fresh(n, a->cache))
        return a->cache;
    return cache_build(n, g, pack);
}

/* The ops' prepare hooks (see cr_op_def), on planned nodes: conv2d always
 * packs; depthwise only prepares a batch-norm fold (else it reads its
 * kernel as is). */
static int prepare_win(cr_node *n, const cr_conv_geom *g, bool build, bool pack)
{
    const win_attr *a = n->attr;
    if (!cacheable(n) || (!pack && !a->bn))
        return 0;
    if (!build)
        return 1;
    return prepared(n, g, pack) ? 1 : cr_fail(CREST_E_NOMEM, "out of memory preparing the "
                                              "weights of a convolution");
}

/* ---- conv2d: x [n,h,w,c], k [kh,kw,c,oc], bias [oc] optional ----------- */

static int conv_shape(cr_node *n)
{
    const cr_dims *k = &n->in[1]->shape;
    if (k->ndim != 4 || n->in[0]->shape.ndim != 4 || k->d[2] != n->in[0]->shape.d[3] ||
        (conv_n_in(n) == 3 && (n->in[2]->shape.ndim != 1 || n->in[2]->shape.d[0] != k->d[3]))) {
        char sx[96], sk[96];
        return cr_fail(CREST_E_SHAPE, "conv2d: input %s and kernel %s do not fit "
                       "([n,h,w,c] and [kh,kw,c,filters])",
                       cr_dims_str(&n->in[0]->shape, sx, sizeof sx), cr_dims_str(k, sk, sizeof sk));
    }
    cr_conv_geom g = { 0 };
    int rc = window_geom(n, (int)k->d[0], (int)k->d[1], (int)k->d[3], &g);
    if (!rc)
        set_out(n, &g);
    return rc;
}

static void conv_geom_of(const cr_node *n, cr_conv_geom *g)
{
    const cr_dims *k = &n->in[1]->shape;
    window_geom(n, (int)k->d[0], (int)k->d[1], (int)k->d[3], g);
}

static int conv_prepare(cr_node *n, bool build)
{
    cr_conv_geom g = { 0 };
    conv_geom_of(n, &g);
    return prepare_win(n, &g, build, true);
}

static int64_t conv_aux(const cr_node *n)
{
    cr_conv_geom g = { 0 };
    conv_geom_of(n, &g);
    return (int64_t)cr_conv2d_scratch(&g, 1) + fold_aux(n);
}

static void conv_fwd(cr_node *n, const cr_ctx *c)
{
    cr_conv_geom g = { 0 };
    conv_geom_of(n, &g);
    const float *k = n->in[1]->val, *b = conv_bias(n);
    float *scratch = n->aux;
    const conv_cache *cc = prepared(n, &g, true);
    if (cc) {
        cr_conv2d_ep(c->pool, &g, n->in[0]->val, NULL, cc->k, cc->b, kernel_act(n), n->val,
                     scratch);
        return;
    }
    if (((const win_attr *)n->attr)->bn) {
        float *fk = n->aux, *fb = n->aux + cr_dims_count(&n->in[1]->shape);
        fold(n, fk, fb);
        k = fk;
        b = fb;
        scratch = fb + 2 * g.oc;
    }
    cr_conv2d_ep(c->pool, &g, n->in[0]->val, k, NULL, b, kernel_act(n), n->val, scratch);
}

static void conv_bwd(cr_node *n, const cr_ctx *c)
{
    cr_conv_geom g = { 0 };
    conv_geom_of(n, &g);
    epilogue_bwd(n);
    cr_conv2d_backward(c->pool, &g, n->in[0]->val, n->in[1]->val, n->grad, n->in[0]->grad,
                       n->in[1]->grad, conv_n_in(n) == 3 ? n->in[2]->grad : NULL, n->aux);
}

static cr_node *conv_ex(cr_graph *g, cr_rng *r)
{
    /* 'same' with stride 2 on an odd size: uneven padding; plus dilation */
    cr_node *x = cr_example_var(g, r, crest_shape(4, 2, 7, 6, 3), -1, 1, 0);
    cr_node *k = cr_example_var(g, r, crest_shape(4, 3, 3, 3, 4), -1, 1, 0);
    cr_node *b = cr_example_var(g, r, crest_shape(1, 4), -1, 1, 0);
    cr_node *y = cr_op_conv2d(g, x, k, b, &(cr_conv_opts){ .sh = 2, .sw = 1, .same = true });
    cr_node *k2 = cr_example_var(g, r, crest_shape(4, 2, 2, 4, 2), -1, 1, 0);
    return cr_op_conv2d(g, y, k2, NULL, &(cr_conv_opts){ .dh = 2, .dw = 1 });
}

const cr_op_def cr_op_conv2d_def = { .name = "conv2d", .arity = -1, .shape = conv_shape,
    .forward = conv_fwd, .backward = conv_bwd, .aux_size = conv_aux, .release = conv_release,
    .prepare = conv_prepare,
    .example = conv_ex, .gc_tol = 2e-3 };

static win_attr attr_of(const cr_conv_opts *o)
{
    return (win_attr){ .sh = o->sh ? o->sh : 1, .sw = o->sw ? o->sw : 1,
                       .dh = o->dh ? o->dh : 1, .dw = o->dw ? o->dw : 1,
                       .pad = o->same ? PAD_SAME : PAD_VALID, .act = o->act };
}

cr_node *cr_op_conv2d(cr_graph *g, cr_node *x, cr_node *k, cr_node *bias,
                      const cr_conv_opts *o)
{
    win_attr a = attr_of(o);
    cr_node *in[3] = { x, k, bias };
    return cr_op(g, &cr_op_conv2d_def, in, bias ? 3 : 2, &a, sizeof a);
}

/* ---- depthwise2d: k [kh,kw,c,dm], out channels c*dm --------------------- */

static int dw_shape(cr_node *n)
{
    const cr_dims *k = &n->in[1]->shape;
    if (k->ndim != 4 || n->in[0]->shape.ndim != 4 || k->d[2] != n->in[0]->shape.d[3] ||
        (conv_n_in(n) == 3 &&
         (n->in[2]->shape.ndim != 1 || n->in[2]->shape.d[0] != k->d[2] * k->d[3]))) {
        char sx[96], sk[96];
        return cr_fail(CREST_E_SHAPE, "depthwise2d: input %s and kernel %s do not fit "
                       "([n,h,w,c] and [kh,kw,c,depth_multiplier])",
                       cr_dims_str(&n->in[0]->shape, sx, sizeof sx), cr_dims_str(k, sk, sizeof sk));
    }
    cr_conv_geom g = { 0 };
    int rc = window_geom(n, (int)k->d[0], (int)k->d[1], (int)(k->d[2] * k->d[3]), &g);
    if (!rc)
        set_out(n, &g);
    return rc;
}

static void dw_geom_of(const cr_node *n, cr_conv_geom *g)
{
    const cr_dims *k = &n->in[1]->shape;
    window_geom(n, (int)k->d[0], (int)k->d[1], (int)(k->d[2] * k->d[3]), g);
}

static int dw_prepare(cr_node *n, bool build)
{
    cr_conv_geom g = { 0 };
    dw_geom_of(n, &g);
    return prepare_win(n, &g, build, false);
}

static void dw_fwd(cr_node *n, const cr_ctx *c)
{
    cr_conv_geom g = { 0 };
    dw_geom_of(n, &g);
    const float *k = n->in[1]->val, *b = conv_bias(n);
    const win_attr *a = n->attr;
    const conv_cache *cc = a->bn ? prepared(n, &g, false) : NULL;
    if (cc) {
        k = cc->k;
        b = cc->b;
    } else if (a->bn) {
        float *fk = n->aux, *fb = n->aux + cr_dims_count(&n->in[1]->shape);
        fold(n, fk, fb);
        k = fk;
        b = fb;
    }
    /* bias: in the kernel's init; activation: in its stores */
    cr_depthwise2d_act(c->pool, &g, n->in[0]->val, k, b, kernel_act(n), n->val);
}

static void dw_bwd(cr_node *n, const cr_ctx *c)
{
    cr_conv_geom g = { 0 };
    dw_geom_of(n, &g);
    epilogue_bwd(n);
    cr_depthwise2d_backward(c->pool, &g, n->in[0]->val, n->in[1]->val, n->grad, n->in[0]->grad,
                            n->in[1]->grad, conv_n_in(n) == 3 ? n->in[2]->grad : NULL);
}

static cr_node *dw_ex(cr_graph *g, cr_rng *r)
{
    cr_node *x = cr_example_var(g, r, crest_shape(4, 2, 6, 5, 3), -1, 1, 0);
    cr_node *k = cr_example_var(g, r, crest_shape(4, 3, 3, 3, 2), -1, 1, 0);
    cr_node *b = cr_example_var(g, r, crest_shape(1, 6), -1, 1, 0);
    cr_node *y = cr_op_depthwise2d(g, x, k, b, &(cr_conv_opts){ .sh = 2, .sw = 2, .same = true });
    cr_node *k2 = cr_example_var(g, r, crest_shape(4, 2, 2, 6, 1), -1, 1, 0);
    return cr_op_depthwise2d(g, y, k2, NULL, &(cr_conv_opts){ .dh = 1, .dw = 1, .same = true });
}

const cr_op_def cr_op_depthwise2d_def = { .name = "depthwise2d", .arity = -1,
    .shape = dw_shape, .forward = dw_fwd, .backward = dw_bwd, .aux_size = fold_aux,
    .release = conv_release, .prepare = dw_prepare, .example = dw_ex,
    .gc_tol = 2e-3 };

cr_node *cr_op_depthwise2d(cr_graph *g, cr_node *x, cr_node *k, cr_node *bias,
                           const cr_conv_opts *o)
{
    win_attr a = attr_of(o);
    cr_node *in[3] = { x, k, bias };
    return cr_op(g, &cr_op_depthwise2d_def, in, bias ? 3 : 2, &a, sizeof a);
}

/* ---- max / average pooling -------------------------------------------- */

static int pool_shape(cr_node *n)
{
    const win_attr *a = n->attr;
    if (n->in[0]->shape.ndim != 4)
        return window_geom(n, a->kh, a->kw, 0, &(cr_conv_geom){ 0 });
    cr_conv_geom g = { 0 };
    int rc = window_geom(n, a->kh, a->kw, (int)n->in[0]->shape.d[3], &g);
    if (!rc)
        set_out(n, &g);
    return rc;
}

static void pool_geom_of(const cr_node *n, cr_conv_geom *g)
{
    const win_attr *a = n->attr;
    window_geom(n, a->kh, a->kw, (int)n->in[0]->shape.d[3], g);
}

static void maxpool_fwd(cr_node *n, const cr_ctx *c)
{
    cr_conv_geom g = { 0 };
    pool_geom_of(n, &g);
    cr_maxpool2d(c->pool, &g, n->in[0]->val, n->val);
}

static void maxpool_bwd(cr_node *n, const cr_ctx *c)
{
    if (!n->in[0]->grad)
        return;
    cr_conv_geom g = { 0 };
    pool_geom_of(n, &g);
    cr_maxpool2d_backward(c->pool, &g, n->in[0]->val, n->val, n->grad, n->in[0]->grad);
}

static void avgpool_fwd(cr_node *n, const cr_ctx *c)
{
    cr_conv_geom g = { 0 };
    pool_geom_of(n, &g);
    cr_avgpool2d(c->pool, &g, n->in[0]->val, n->val);
}

static void avgpool_bwd(cr_node *n, const cr_ctx *c)
{
    if (!n->in[0]->grad)
        return;
    cr_conv_geom g = { 0 };
    pool_geom_of(n, &g);
    cr_avgpool2d_backward(c->pool, &g, n->grad, n->in[0]->grad);
}

static cr_node *pool_ex(cr_graph *g, cr_rng *r, bool max)
{
    /* distinct values: max pooling has a kink where two cells tie */
    cr_node *x = cr_example_var(g, r, crest_shape(4, 2, 7, 5, 3), -1, 1, 0);
    cr_node *y = cr_op_pool2d(g, x, max, 3, 2, &(cr_conv_opts){ .sh = 2, .sw = 1, .same = true });
    return cr_op_pool2d(g, y, max, 2, 2, &(cr_conv_opts){ .sh = 1, .sw = 2 });
}
static cr_node *maxpool_ex(cr_graph *g, cr_rng *r) { return pool_ex(g, r, true); }
static cr_node *avgpool_ex(cr_graph *g, cr_rng *r) { return pool_ex(g, r, false); }

const cr_op_def cr_op_maxpool2d_def = { .name = "maxpool2d", .arity = 1, .shape = pool_shape,
    .forward = maxpool_fwd, .backward = maxpool_bwd, .example = maxpool_ex, .gc_tol = 2e-3 };
const cr_op_def cr_op_avgpool2d_def = { .name = "avgpool2d", .arity = 1, .shape = pool_shape,
    .forward = avgpool_fwd, .backward = avgpool_bwd, .example = avgpool_ex, .gc_tol = 2e-3 };

cr_node *cr_op_pool2d(cr_graph *g, cr_node *x, bool max, int kh, int kw, const cr_conv_opts *o)
{
    win_attr a = attr_of(o);
    a.kh = kh;
    a.kw = kw;
    a.dh = a.dw = 1;
    a.act = CREST_LINEAR;
    return cr_op(g, max ? &cr_op_maxpool2d_def : &cr_op_avgpool2d_def, &x, 1, &a, sizeof a);
}

/* ---- folding a batch norm into a convolution (inference graphs) -------- */

bool cr_conv_can_fold(const cr_node *conv)
{
    if (!conv || conv->kind != CR_NODE_OP ||
        (conv->op != &cr_op_conv2d_def && conv->op != &cr_op_depthwise2d_def))
        return false;
    const win_attr *a = conv->attr;
    return !a->bn && a->act == CREST_LINEAR;
}

int cr_conv_fold_bn(cr_node *conv, cr_node *mean, cr_node *var, cr_node *gamma, cr_node *beta,
                    float eps)
{
    cr_node **in = cr_realloc(conv->in, (size_t)(conv->n_in + 4) * sizeof *in);
    if (!in)
        return cr_fail(CREST_E_NOMEM, "out of memory folding a batch norm");
    conv->in = in;
    in[conv->n_in++] = mean;
    in[conv->n_in++] = var;
    if (gamma)
        in[conv->n_in++] = gamma;
    if (beta)
        in[conv->n_in++] = beta;
    win_attr *a = conv->attr;
    a->bn = true;
    a->bn_scale = gamma != NULL;
    a->bn_center = beta != NULL;
    a->eps = eps;
    return CREST_OK;
}

bool cr_conv_fuse_act(cr_node *conv, int act)
{
    if (!conv || conv->kind != CR_NODE_OP ||
        (conv->op != &cr_op_conv2d_def && conv->op != &cr_op_depthwise2d_def))
        return false;
    win_attr *a = conv->attr;
    if (a->act != CREST_LINEAR || act < 0 || act >= CREST_ACT_COUNT ||
        cr_activations[act].kernel == CR_ACT_NONE)
        return false;
    a->act = act;
    return true;
}

bool cr_conv_fuse_pad(cr_node *conv, int top, int bottom, int left, int right)
{
    if (!conv || conv->kind != CR_NODE_OP ||
        (conv->op != &cr_op_conv2d_def && conv->op != &cr_op_depthwise2d_def))
        return false;
    win_attr *a = conv->attr;
    if (a->pad != PAD_VALID || a->xt || a->xb || a->xl || a->xr)
        return false;
    a->xt = top;
    a->xb = bottom;
    a->xl = left;
    a->xr = right;
    return true;
}

/* ---- a view for exporters ----------------------------------------------- */

bool cr_window_parts(const cr_node *n, cr_conv_geom *g, int *act, bool *folded)
{
    if (!n || n->kind != CR_NODE_OP ||
        (n->op != &cr_op_conv2d_def && n->op != &cr_op_depthwise2d_def &&
         n->op != &cr_op_maxpool2d_def && n->op != &cr_op_avgpool2d_def))
        return false;
    const win_attr *a = n->attr;
    int kh = a->kh, kw = a->kw, oc = 0;
    if (n->op == &cr_op_conv2d_def || n->op == &cr_op_depthwise2d_def) {
        const cr_dims *k = &n->in[1]->shape;
        kh = (int)k->d[0];
        kw = (int)k->d[1];
        oc = (int)(n->op == &cr_op_conv2d_def ? k->d[3] : k->d[2] * k->d[3]);
    } else if (n->in[0]->shape.ndim == 4) {
        oc = (int)n->in[0]->shape.d[3];
    }
    if (window_geom(n, kh, kw, oc, g))
        return false;
    *act = a->act;
    *folded = a->bn;
    return true;
}
