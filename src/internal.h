/* internal.h - crest's private interfaces (prefix cr_). Never installed. */
#ifndef CR_INTERNAL_H
#define CR_INTERNAL_H

#include "crest.h"
#include "kernels/kernels.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------ */

/* Sets the thread-local message and returns code: `return cr_fail(...)`. */
int cr_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "context: " to the current message, returns code unchanged. */
int cr_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- memory: every allocation goes through here, so tests can fail it - */

void *cr_malloc(size_t n);
void *cr_calloc(size_t n, size_t size);
void *cr_realloc(void *p, size_t n);
char *cr_strdup(const char *s);
void cr_free(void *p);
/* Test hook: the k-th allocation from now (0-based) fails; -1 disables. */
void cr_alloc_fail_after(long k);

/* ---- numbers in files: '.' decimal point whatever setlocale() said ------ */

/* strtod / snprintf in the "C" locale (errno as strtod leaves it). Every
 * number crest reads from or writes to a file, a spec, an expression or a
 * command line goes through these. */
double cr_strtod(const char *s, char **end);
int cr_snprintf_c(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Seconds on a monotonic clock (progress events time epochs and passes). */
double cr_now(void);

/* The calling thread runs in the "C" locale until cr_locale_pop(saved). */
void *cr_locale_push_c(void);
void cr_locale_pop(void *saved);

/* ---- random numbers: xoshiro256**, seeded by splitmix64 ----------------- */

typedef struct cr_rng { uint64_t s[4]; } cr_rng;
void cr_rng_seed(cr_rng *r, uint64_t seed);
uint64_t cr_rng_next(cr_rng *r);
double cr_rng_uniform(cr_rng *r);          /* [0, 1) */
double cr_rng_normal(cr_rng *r);           /* N(0, 1) */
uint64_t cr_rng_below(cr_rng *r, uint64_t n);

/* ---- hashing (cache keys, checkpoint fingerprints) --------------------- */

typedef struct cr_hasher { uint64_t h; } cr_hasher;
void cr_hash_bytes(cr_hasher *s, const void *p, size_t n);
void cr_hash_str(cr_hasher *s, const char *str);    /* with its NUL */
/* The samples of d (values, or a lazy set's file bytes / raw images) and the
 * input transform (lazy sets: their own) into h (src/data/hash.c). */
int cr_hash_samples(cr_hasher *h, const crest_dataset *d, const crest_image_opts *input);

/* ---- byte buffers (checkpoints) ---------------------------------------- */

/* Growable for writing (put), bounded for reading (get from pos). The
 * first error sticks in err; get fails with CREST_E_FORMAT when short. */
typedef struct cr_buf {
    unsigned char *p;
    size_t len, cap, pos;
    int err;
} cr_buf;
void cr_buf_put(cr_buf *b, const void *src, size_t n);
int cr_buf_get(cr_buf *b, void *dst, size_t n);    /* dst NULL: skip */

/* ---- shapes ------------------------------------------------------------ */

typedef crest_dims cr_dims;
#define CR_MAX_DIMS CREST_MAX_DIMS
int64_t cr_dims_count(const cr_dims *s);
bool cr_dims_eq(const cr_dims *a, const cr_dims *b);
/* "[32,28,28]" into buf; returns buf. */
char *cr_dims_str(const cr_dims *s, char *buf, size_t size);

typedef struct cJSON cJSON;
typedef struct cr_quant cr_quant;   /* int8 quantization of a model (src/quant.c) */

#define CR_MAX_IO 16              /* inputs / outputs of one model */

/* ---- graph ------------------------------------------------------------- */

typedef struct crest_graph cr_graph;
typedef struct crest_node cr_node;
typedef struct cr_weight cr_weight;

/* Execution context handed to forward/backward. */
typedef struct cr_ctx {
    cr_pool *pool;
    cr_rng *rng;          /* dropout etc. */
    bool training;
} cr_ctx;

/* One op: shape rule, forward and backward together. Backward accumulates
 * (+=) into in[i]->grad wherever that pointer is not NULL. */
typedef struct cr_op_def {
    const char *name;
    int arity;                               /* -1: variadic */
    int (*shape)(cr_node *n);                /* sets n->shape from inputs; 0 or cr_fail */
    void (*forward)(cr_node *n, const cr_ctx *c);
    void (*backward)(cr_node *n, const cr_ctx *c);
    int64_t (*aux_size)(const cr_node *n);   /* floats of per-node scratch kept fwd->bwd */
    void (*release)(cr_node *n);             /* frees what the op hung on attr, or NULL */
    /* Ops that keep their weights prepared (folded, packed) for inference:
     * with build false, whether n would hold all it needs from its weight
     * inputs once prepared (1) or still reads them (0); with build true, it
     * prepares them now: 1, 0, or a CREST_E_* code. NULL: reads them. */
    int (*prepare)(cr_node *n, bool build);
    /* optional: floating-point or integer operations of one run at the
     * planned shapes (a multiply-add counts two), for profiles; NULL: the
     * profiler's own count (convolutions and matmul) or none */
    double (*flops)(const cr_node *n);
    /* Gradient check: builds a small random instance whose inputs are
     * trainable variables; returns its output. tol: relative tolerance. */
    cr_node *(*example)(cr_graph *g, cr_rng *r);
    double gc_tol;
} cr_op_def;

/* The backward of y = x * mask elementwise (mask NULL: y = x): in[0]'s
 * gradient += n's gradient times the mask (src/ops/shape.c; copy, dropout
 * and the noise ops, whose masks sit in aux). */
void cr_grad_masked(cr_node *n, const float *mask);

enum cr_node_kind { CR_NODE_OP = 0, CR_NODE_INPUT, CR_NODE_PARAM };

struct crest_node {
    const cr_op_def *op;          /* NULL for inputs and params */
    int kind;
    int id;                       /* index in g->nodes (a topological order) */
    int n_in;
    cr_node **in;
    cr_dims shape;                /* full shape, batch first (params: as stored) */
    cr_dims sample;               /* inputs: shape without the batch */
    bool needs_grad;
    float *val, *grad, *aux;
    void *attr;                   /* op attributes, op-specific struct */
    cr_weight *w;                 /* params */
    const char *layer;            /* name of the layer that made it (errors) */
    int last_use;                 /* planning: id of last consumer */
    bool keep;                    /* inference plans never reuse its buffer */
    bool q8;                      /* val holds uint8 (int8 graphs, src/quant_graph.c) */
    bool q16;                     /* val holds int16 (int16-activation graphs) */
};

struct crest_graph {
    cr_node **nodes;
    int n, cap;
    int err;                      /* sticky first error (message in last_error) */
    char errmsg[512];
    bool training;
    crest_model *model;           /* for variables, init rng; may be NULL in tests */
    crest_layer *layer;           /* the layer currently building, or NULL */
    cr_weight **own_w;            /* variables created with no layer (tests) */
    int n_own_w;
    cr_node **losses;             /* extra loss terms (regularizers), scalars */
    int n_losses;
    cr_rng init_rng;              /* used when model is NULL */
    cr_node *inputs[CR_MAX_IO];   /* the model's inputs, in order (traces mark them) */
    int n_inputs;
    cr_node *outputs[CR_MAX_IO];  /* the model's outputs (output 0 is trained) */
    int n_outputs;
    /* every layer applied while tracing (nested ones too) is reported to
     * on_apply before it builds (custom models record them) */
    void (*on_apply)(cr_graph *g, crest_layer *l);
    bool inference_mode;          /* crest_layer_apply(..., training = false) */
    /* test hook: inputs get gradient buffers */
    bool input_grads;
    const crest_layer *probe;     /* if set, its output node is recorded in probe_out */
    cr_node *probe_out;
    /* plan */
    int64_t batch;
    float *arena;                 /* 64-byte aligned, inside arena_raw */
    void *arena_raw;
    size_t arena_cap;             /* floats */
    size_t arena_used;            /* floats the current plan uses (<= arena_cap) */
    bool planned;
    bool holds_released;          /* prepared by cr_graph_release_weights */
};

cr_graph *cr_graph_new(crest_model *m, bool training);
void cr_graph_free(cr_graph *g);
/* Records the first error; returns NULL so builders can `return cr_graph_fail(...)`. */
cr_node *cr_graph_fail(cr_graph *g, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cr_graph_status(const cr_graph *g);   /* 0 or the sticky error (message re-set) */

cr_node *cr_input(cr_graph *g, cr_dims sample_shape);
/* Declares x as the model's next input (fed from the data set, in order). */
void cr_graph_mark_input(cr_graph *g, cr_node *x);
/* Copies rows of samples into the model inputs: each sample of `stride`
 * floats holds the inputs' values one after another. */
void cr_graph_feed(cr_graph *g, const float *x, int64_t stride, const size_t *rows,
                   size_t start, int64_t batch);
/* Gives model input k a new sample shape (same rank); the next plan re-runs
 * every shape rule, so a graph traced once serves data of any size its ops
 * accept (fully convolutional models). */
int cr_graph_reshape_input(cr_graph *g, int k, cr_dims sample);
cr_node *cr_param(cr_graph *g, cr_weight *w);
/* Generic op node. attr (attr_size bytes) is copied. */
cr_node *cr_op(cr_graph *g, const cr_op_def *def, cr_node **in, int n_in,
               const void *attr, size_t attr_size);
void cr_graph_add_loss(cr_graph *g, cr_node *scalar);
/* Gradient-check helper: a trainable variable owned by g with uniform values
 * in [lo, hi], kept at least `gap` away from zero (for ops with kinks). */
cr_node *cr_example_var(cr_graph *g, cr_rng *r, cr_dims shape, float lo, float hi,
                        float gap);
/* Threads split over rows: runs fn over [0, rows) in chunks via the pool. */
typedef void (*cr_rows_fn)(void *ctx, int64_t lo, int64_t hi);
void cr_parallel_rows(const cr_ctx *c, int64_t rows, int64_t work_per_row, cr_rows_fn fn,
                      void *ctx);

/* Concrete shapes and buffers for this batch size (re-plans when it changes).
 * keep_all: every value kept (training); else buffers are reused. */
int cr_graph_plan(cr_graph *g, int64_t batch);
/* Every output of g has the batch as its first dimension (an output that
 * ignores the input's batch, e.g. an expression of variables alone, is a
 * CREST_E_SHAPE error). Leaves the shapes as traced (batch 1). */
int cr_graph_check_batched(cr_graph *g);
/* The plan validator (run by cr_graph_plan unless NDEBUG): every buffer
 * (value, aux, grad offsets per node, -1 = none) lies in [0, top) and no two
 * buffers that are live at the same step overlap. CREST_E_INTERNAL if not. */
int cr_graph_check_layout(const cr_graph *g, const int64_t *voff, const int64_t *aoff,
                          const int64_t *goff, int64_t top);
void cr_graph_forward(cr_graph *g, const cr_ctx *c);
/* Gradients of the scalar node `loss` w.r.t. everything that needs them;
 * weight gradients are accumulated into w->grad (caller zeroes them). */
void cr_graph_backward(cr_graph *g, cr_node *loss, const cr_ctx *c);

/* ---- ops (src/ops) ----------------------------------------------------- */

#define CR_AXIS_ALL (-1000)       /* crest_op_sum / crest_op_mean over every axis */

extern const cr_op_def *const cr_op_registry[];
extern const int cr_op_registry_count;

/* Loss ops: scalar mean over the batch (weights: per-sample, or NULL). */
/* With label smoothing (as CCE on the one-hot labels). */
cr_node *cr_op_sparse_cce_ls(cr_graph *g, cr_node *out, cr_node *labels, cr_node *sw,
                             bool from_logits, float smoothing);
cr_node *cr_op_sparse_cce(cr_graph *g, cr_node *out, cr_node *labels, cr_node *sw,
                          bool from_logits);
cr_node *cr_op_cce(cr_graph *g, cr_node *out, cr_node *target, cr_node *sw,
                   bool from_logits, float smoothing);
cr_node *cr_op_bce(cr_graph *g, cr_node *out, cr_node *target, cr_node *sw,
                   bool from_logits, float smoothing);
cr_node *cr_op_l2(cr_graph *g, cr_node *w, float factor);    /* factor * sum(w^2) */

/* Activations (src/ops/activation.c): one row per crest_act, which every
 * user of activations looks up. */
typedef struct cr_act_def {
    cr_op_def op;                 /* first: a node's op is its row; op.name is the
                                     Keras / TF.js name; no forward: the identity */
    crest_act id;                 /* the row's index */
    const char *alias;            /* a second name Keras writes ("silu"), or NULL */
    float (*f)(float x);          /* pointwise: y = f(x) (NULL: last_axis or identity) */
    float (*df)(float x, float y);    /* f'(x), given x and y */
    bool last_axis;               /* softmax-like: over the last axis, own forward */
    cr_act kernel;                /* the kernels' fused epilogue computing it, or CR_ACT_NONE */
    float kink;                   /* > 0: gradient checks keep inputs off +-kink (and 0) */
} cr_act_def;

extern const cr_act_def cr_activations[CREST_ACT_COUNT];    /* indexed by crest_act */
/* The row of an activation node, or NULL if n is not one. */
const cr_act_def *cr_act_of(const cr_node *n);
/* Gradient-check example of activation act: a small random input, kept off
 * its kinks, through crest_op_activate. */
cr_node *cr_act_example(cr_graph *g, cr_rng *r, crest_act act);

/* Image ops on NHWC tensors (src/ops/window.c, spatial.c, norm.c). Zero
 * strides / dilations mean 1; same: TF 'same' padding (extra on the
 * bottom / right), else 'valid'. act: fused CREST_LINEAR / RELU / RELU6. */
typedef struct cr_conv_opts { int sh, sw, dh, dw; bool same; crest_act act; } cr_conv_opts;
/* x [n,h,w,c], k [kh,kw,c,oc], bias [oc] or NULL. */
cr_node *cr_op_conv2d(cr_graph *g, cr_node *x, cr_node *k, cr_node *bias,
                      const cr_conv_opts *o);
/* k [kh,kw,c,dm] -> c*dm channels; bias [c*dm] or NULL. */
cr_node *cr_op_depthwise2d(cr_graph *g, cr_node *x, cr_node *k, cr_node *bias,
                           const cr_conv_opts *o);
/* Max or average (over the valid cells only) pooling, kh x kw windows. */
cr_node *cr_op_pool2d(cr_graph *g, cr_node *x, bool max, int kh, int kw, const cr_conv_opts *o);
/* Over height and width: [n,c], or [n,1,1,c] with keepdims. */
cr_node *cr_op_global_pool(cr_graph *g, cr_node *x, bool max, bool keepdims);
cr_node *cr_op_pad2d(cr_graph *g, cr_node *x, int top, int bottom, int left, int right);
cr_node *cr_op_crop2d(cr_graph *g, cr_node *x, int top, int bottom, int left, int right);
/* [..., a, b] -> [..., b, a] (rank 3 or more; src/ops/transpose.c). */
cr_node *cr_op_swap_last2(cr_graph *g, cr_node *x);
/* Batch normalization over the last axis; gamma / beta may be NULL (scale /
 * center off). training: batch statistics, and mean / var (moving) updated
 * in forward with momentum; else the moving statistics normalize. */
cr_node *cr_op_batchnorm(cr_graph *g, cr_node *x, cr_node *mean, cr_node *var, cr_node *gamma,
                         cr_node *beta, float eps, float momentum, bool training);
/* tf.nn.depth_to_space / space_to_depth, NHWC, DCR order, block >= 2
 * (src/ops/depth_space.c). */
cr_node *cr_op_depth_to_space(cr_graph *g, cr_node *x, int block);
cr_node *cr_op_space_to_depth(cr_graph *g, cr_node *x, int block);
/* Keras ReLU(max_value (< 0: none), negative_slope, threshold) (src/ops/activation.c). */
cr_node *cr_op_relu_ex(cr_graph *g, cr_node *x, float max_value, float slope, float threshold);
extern const cr_op_def cr_op_conv2d_def, cr_op_depthwise2d_def, cr_op_batchnorm_def;
/* Keras ELU(alpha): x > 0 ? x : alpha (e^x - 1) (src/ops/activation.c). */
cr_node *cr_op_elu_alpha(cr_graph *g, cr_node *x, float alpha);
/* Softmax (log: log-softmax) over one axis (of the full shape, batch 0). */
cr_node *cr_op_softmax_axis(cr_graph *g, cr_node *x, int axis, bool log);
/* Broadcasting of two-input ops (elementwise.c): n's shape from its two
 * inputs by numpy's rules (trailing dims aligned, each pair equal or one
 * of them 1); the strides of input shape x seen with output o's rank (0
 * where broadcast). */
int cr_broadcast_shape(cr_node *n);
void cr_bcast_strides(const cr_dims *x, const cr_dims *o, int64_t *st);
/* Runs BODY for each output index io in order, with ia and ib the matching
 * indices of the two inputs (strides from cr_bcast_strides). */
#define CR_BCAST_LOOP(o, sa, sb, BODY)                                               \
    do {                                                                          \
        int64_t idx_[CR_MAX_DIMS] = { 0 }, ia = 0, ib = 0;                        \
        int64_t total_ = cr_dims_count(o);                                        \
        for (int64_t io = 0; io < total_; io++) {                                 \
            BODY;                                                                 \
            for (int k_ = (o)->ndim - 1; k_ >= 0; k_--) {                         \
                idx_[k_]++;                                                       \
                ia += (sa)[k_];                                                   \
                ib += (sb)[k_];                                                   \
                if (idx_[k_] < (o)->d[k_])                                        \
                    break;                                                        \
                ia -= (sa)[k_] * (o)->d[k_];                                      \
                ib -= (sb)[k_] * (o)->d[k_];                                      \
                idx_[k_] = 0;                                                     \
            }                                                                     \
        }                                                                         \
    } while (0)

/* Elementwise maximum (max) or minimum of two tensors, broadcasting as
 * crest_op_add (minmax.c). */
cr_node *cr_op_minmax(cr_graph *g, cr_node *a, cr_node *b, bool max);
/* Elementwise math (math.c): y = f(x) for kind CR_MATH_*; a is pow's
 * exponent, [a, b] clip's bounds (unused by the others). */
enum { CR_MATH_ABS, CR_MATH_SIGN, CR_MATH_SQRT, CR_MATH_RSQRT, CR_MATH_SQUARE, CR_MATH_LOG,
       CR_MATH_RECIPROCAL, CR_MATH_POW, CR_MATH_CLIP };
cr_node *cr_op_math(cr_graph *g, cr_node *x, int kind, float a, float b);
/* The kind named name (its op's name: "abs", "pow", ...), or -1. */
int cr_math_kind(const char *name);
/* max (max) or min of x over one axis (full shape, batch 0) or all
 * (CR_AXIS_ALL), as crest_op_sum; ties share the gradient equally, as
 * TensorFlow's (shape.c). */
cr_node *cr_op_reduce_extreme(cr_graph *g, cr_node *x, int axis, bool keepdims, bool max);
/* Training-time noise (noise.c); p: the rate, or the stddev of GAUSSIAN. */
enum { CR_NOISE_SPATIAL, CR_NOISE_GAUSSIAN, CR_NOISE_GAUSSIAN_DROPOUT, CR_NOISE_ALPHA };
cr_node *cr_op_noise(cr_graph *g, cr_node *x, int kind, float p);
/* Per-sample image warps, drawn each forward pass (warp.c: Keras' RandomFlip,
 * RandomRotation, RandomZoom, RandomTranslation; GIVEN: one fixed map). */
enum { CR_WARP_FLIP, CR_WARP_ROTATE, CR_WARP_ZOOM, CR_WARP_TRANSLATE, CR_WARP_GIVEN,
       CR_WARP_CROP };
enum { CR_FILL_REFLECT, CR_FILL_WRAP, CR_FILL_CONSTANT, CR_FILL_NEAREST };
enum { CR_FLIP_HORIZONTAL = 1, CR_FLIP_VERTICAL = 2, CR_ZOOM_KEEP_ASPECT = 4 };
typedef struct cr_warp_attr {
    int kind, flags, fill;
    bool bilinear;
    float lo[2], hi[2];       /* the draw's range per axis: [0] height (rotate: turns), [1] width */
    float fill_value;
    float given[8];           /* CR_WARP_GIVEN: TF's [a0 a1 a2 b0 b1 b2 c0 c1] */
    int out_h, out_w;         /* CR_WARP_CROP: the window (the output's size) */
} cr_warp_attr;
cr_node *cr_op_warp(cr_graph *g, cr_node *x, const cr_warp_attr *a);
/* Augmentation layers (layers/augment.c) in training mode (or, training
 * false, as at inference) over inputs of sample shape `sample`: *g
 * (cr_graph_free) and its output *y (a RandomCrop changes its shape).
 * cr_augment_run sends nb inputs x (per floats each) through it with draws
 * from r, into out (NULL: back into x; then the shape must be kept). */
int cr_augment_graph(crest_layer *const *l, int n, cr_dims sample, bool training, cr_graph **g,
                     cr_node **y);
/* RandomFlip, RandomRotation, RandomZoom, RandomTranslation,
 * RandomContrast, RandomBrightness: the identity at inference. */
bool cr_layer_inference_identity_augment(const crest_layer *l);
/* Those and RandomCrop. */
bool cr_layer_is_augment(const crest_layer *l);
int cr_augment_run(cr_graph *g, cr_node *y, float *x, int64_t nb, int64_t per, cr_rng *r,
                   cr_pool *pool, float *out);
/* Per-sample contrast or brightness, clipped to [lo, hi] (color.c: Keras'
 * RandomContrast, RandomBrightness). */
typedef struct cr_color_attr {
    bool brightness;          /* else contrast */
    float lower, upper;       /* contrast: factor in [1 - lower, 1 + upper]; brightness:
                               * delta in [lower, upper] * (hi - lo) */
    float lo, hi;             /* the value range */
} cr_color_attr;
cr_node *cr_op_color(cr_graph *g, cr_node *x, const cr_color_attr *a);
/* Keras batch_dot over axis ax of x and ay of y (full-shape axes, >= 1) and
 * l2_normalize along one axis (dot.c). */
cr_node *cr_op_batch_dot(cr_graph *g, cr_node *x, cr_node *y, int ax, int ay);
cr_node *cr_op_l2_normalize(cr_graph *g, cr_node *x, int axis, float eps);
/* Output axis i is input axis perm[i], perm[0] = 0 (transpose.c);
 * [batch, F] -> [batch, times, F]. */
cr_node *cr_op_transpose(cr_graph *g, cr_node *x, const int *perm, int n);
cr_node *cr_op_repeat(cr_graph *g, cr_node *x, int times);
/* Layer normalization over the last `axes` axes; gamma / beta may be NULL;
 * normalize with fixed statistics (invert: undo it) (layernorm.c). */
cr_node *cr_op_layernorm(cr_graph *g, cr_node *x, cr_node *gamma, cr_node *beta, int axes,
                         float eps);
cr_node *cr_op_normalize(cr_graph *g, cr_node *x, cr_node *mean, cr_node *var, float eps,
                         bool invert);
/* y = x * scale[c] + offset[c] over the last axis of n channels (affine.c). */
cr_node *cr_op_channel_affine(cr_graph *g, cr_node *x, const float *scale, const float *offset,
                              int n);
/* Resize NHWC images to oh x ow, bilinear or nearest, half-pixel centers (resize.c). */
cr_node *cr_op_resize(cr_graph *g, cr_node *x, int oh, int ow, bool nearest);
/* Keras' smart_resize (layers/preprocessing.c): the largest centred window of
 * th:tw's aspect ratio (if crop), resized to th x tw. */
cr_node *cr_smart_resize(cr_graph *g, cr_node *x, int th, int tw, bool nearest, bool crop);
/* Transposed convolution (src/ops/upsample.c): x [n,h,w,c], k [kh,kw,oc,c]
 * (Keras' Conv2DTranspose kernel) -> [n, h*sh (+ max(kh-sh,0) valid), ..., oc]. */
cr_node *cr_op_conv2d_transpose(cr_graph *g, cr_node *x, cr_node *k, int sh, int sw, bool same);
/* [n,h,w,c] -> [n,h*sh,w*sw,c], nearest or bilinear as TF.js resizes. */
cr_node *cr_op_upsample2d(cr_graph *g, cr_node *x, int sh, int sw, bool bilinear);
extern const cr_op_def cr_op_conv2d_transpose_def, cr_op_upsample2d_def;

/* Inference-graph fusions (src/fuse.c uses these). A conv or depthwise node
 * with no fused activation nor batch norm yet can take one in: */
bool cr_conv_can_fold(const cr_node *conv);
/* Appends the inference batch norm's parameters to conv's inputs: forward
 * then folds them into the kernel and bias (no backward: inference only). */
int cr_conv_fold_bn(cr_node *conv, cr_node *mean, cr_node *var, cr_node *gamma, cr_node *beta,
                    float eps);
/* Sets conv's epilogue to relu / relu6; false if it cannot. */
bool cr_conv_fuse_act(cr_node *conv, int act);
/* A zero_pad2d node's padding; false if n is not one. */
bool cr_pad_parts(const cr_node *n, int *top, int *bottom, int *left, int *right);
/* Makes a 'valid' conv or depthwise node pad its input by these zeros itself
 * (its input is then the padding's input); false if it cannot. */
bool cr_conv_fuse_pad(cr_node *conv, int top, int bottom, int left, int right);
/* The parts of an inference batchnorm node; false if n is not one. */
bool cr_bn_parts(const cr_node *n, cr_node **mean, cr_node **var, cr_node **gamma,
                 cr_node **beta, float *eps);
/* Views of ops' attributes for exporters (src/io/onnx.c); each is false if
 * n is not such a node. Window nodes (conv2d, depthwise2d, max / average
 * pooling): their geometry at the traced shapes, fused activation, and
 * whether a batch norm was folded in. Axes are non-negative (reductions:
 * CR_AXIS_ALL stays). */
bool cr_window_parts(const cr_node *n, cr_conv_geom *g, int *act, bool *folded);
bool cr_crop_parts(const cr_node *n, int *top, int *bottom, int *left, int *right);
bool cr_concat_axis(const cr_node *n, int *axis);
bool cr_reduce_parts(const cr_node *n, int *axis, bool *keepdims);
bool cr_scale_parts(const cr_node *n, float *mul, float *add);
bool cr_relu_ex_parts(const cr_node *n, float *max_value, float *slope, float *threshold);
/* transpose: its permutation (batch first, k axes); upsample2d: bilinear
 * (TF.js' arithmetic, no half-pixel centers) or nearest; resize (Keras'
 * Resizing, half-pixel centers): nearest or bilinear. */
/* conv2d_transpose: strides and the top / left padding of the convolution
 * it is the gradient of; softmax_axis: its axis (non-negative) and whether
 * log-softmax; elu_alpha: alpha; layernorm: trailing axes, eps, gamma and
 * beta (or NULL); normalize: eps and whether inverted. */
/* batch_dot: the summed axes of x and y; l2_normalize: axis and eps;
 * channel_affine: the channels and their scales and offsets. */
bool cr_batch_dot_parts(const cr_node *n, int *ax, int *ay);
/* 3-D ops (src/ops/vol.c, NDHWC): the window of conv3d, conv3d_transpose
 * (that of the convolution from its output back to its input) and 3-D
 * pooling: taps, strides, dilation, zeros before; zero_pad3d / crop3d:
 * before and after per axis (depth, height, width); upsample3d: sizes. */
bool cr_vol_window_parts(const cr_node *n, int k[3], int s[3], int dil[3], int before[3]);
bool cr_vol_amounts(const cr_node *n, int amounts[6]);
bool cr_upsample3d_parts(const cr_node *n, int size[3]);
bool cr_l2_normalize_parts(const cr_node *n, int *axis, float *eps);
bool cr_channel_affine_parts(const cr_node *n, int *count, const float **scale, const float **offset);
bool cr_tconv_parts(const cr_node *n, int *sh, int *sw, int *pt, int *pl);
bool cr_softmax_axis_parts(const cr_node *n, int *axis, bool *log);
bool cr_elu_alpha_parts(const cr_node *n, float *alpha);
bool cr_layernorm_parts(const cr_node *n, int *axes, float *eps, cr_node **gamma, cr_node **beta);
bool cr_normalize_parts(const cr_node *n, float *eps, bool *invert);
bool cr_transpose_parts(const cr_node *n, int perm[CR_MAX_DIMS], int *k);
bool cr_upsample2d_parts(const cr_node *n, bool *bilinear);
bool cr_resize_parts(const cr_node *n, bool *nearest);
/* Folds batch norms into the convolutions feeding them, zero padding into
 * the convolutions it feeds, and fuses relu / relu6 into conv epilogues (in training graphs only where no gradient
 * flows); drops the nodes that became dead. Kept nodes, outputs and the
 * probe are never fused away. */
int cr_graph_fuse_inference(cr_graph *g);

/* ---- weights and layers ------------------------------------------------ */

struct cr_weight {
    char *name;                   /* short: "kernel"; full name is layer/name */
    cr_dims shape;
    int64_t size;
    float *val, *grad;
    float *slot[2];               /* optimizer state */
    bool trainable;
    crest_layer *owner;
    /* the parameter block val, grad and slot[] are views into (NULL: the
     * weight owns them: it belongs to no model yet) */
    const struct cr_params *block;
    /* bumped by everything that writes val after creation (optimizer,
     * loaders, initializers): ops that prepare weights once (packed or
     * folded convolution kernels) redo it when it changes */
    unsigned version;
};

/* A model's parameters, the way kann collates its variables: the values,
 * gradients and optimizer slots of all its weights (m->weights, in that
 * order) as contiguous arrays; each weight's val, grad and slot[k] are
 * views at its offset. grad and slot[k] are allocated on first need, for
 * the whole block (untouched pages cost no memory). Save, hashing,
 * snapshots, zeroing gradients and the optimizer each make one pass. */
typedef struct cr_params {
    float *val, *grad, *slot[2];
    int64_t n;                    /* floats in each array */
    /* crest_model_inference_only: pages of val were returned to the system
     * (those of weights the inference graph holds prepared); val may then
     * read as zeros, so nothing may read or move the block any more */
    bool released;
} cr_params;

cr_weight *cr_weight_new(const char *name, cr_dims shape, bool trainable);
void cr_weight_free(cr_weight *w);
/* Fills w->val per Keras' initializer semantics (fans from the shape). */
void cr_weight_init(cr_weight *w, crest_init init, cr_rng *r);

typedef struct cr_layer_def {
    const char *keras_class;      /* "Dense" */
    const char *default_name;     /* "dense" */
    size_t cfg_size;
    /* Adds the layer's ops for inputs in[0..n_in). */
    cr_node *(*build)(crest_layer *l, cr_graph *g, cr_node **in, int n_in);
    /* Keras config <-> cfg. parse gets the "config" object. */
    int (*parse)(crest_layer *l, const cJSON *config);
    int (*save)(const crest_layer *l, cJSON *config);
    void (*free_cfg)(void *cfg);  /* optional: frees what cfg points to */
    /* optional: told when the layer is frozen / unfrozen (BatchNormalization
     * then stays in inference mode) */
    void (*set_trainable)(crest_layer *l, bool trainable);
    /* optional: switches the layer's bias on (its weight is made, zero, at
     * the next trace), so a batch norm can be folded into it (src/quant.c) */
    void (*enable_bias)(crest_layer *l);
} cr_layer_def;

struct crest_layer {
    const cr_layer_def *def;
    char name[128];
    bool named;                   /* user gave the name */
    void *cfg;
    bool trainable;
    cr_weight **w;
    int n_w;
    cr_dims out_shape;            /* last built output, without batch; CREST_DIM_NONE
                                     where it follows an unknown input dimension */
    unsigned none_mask;           /* bit i: out_shape.d[i] is unknown (kept by later traces) */
    bool built;
};

crest_layer *cr_layer_new(const cr_layer_def *def, const void *cfg);
cr_weight *cr_layer_weight(crest_layer *l, const char *name);
/* Variable of the layer being built in g: found by name or created. */
cr_node *cr_layer_var(cr_graph *g, const char *name, cr_dims shape, crest_init init,
                      bool trainable);
cr_node *cr_layer_apply(crest_layer *l, cr_graph *g, cr_node **in, int n_in);
/* A builder's check that it got one input: false, with "layer 'NAME': CLASS
 * takes one input" recorded in g, when n_in is not 1. */
bool cr_one_input(cr_graph *g, const crest_layer *l, int n_in);

/* The built-in layer classes (src/layers/registry.c), and one by class name. */
extern const cr_layer_def *const cr_layer_registry[];
extern const int cr_layer_registry_count;
const cr_layer_def *cr_layer_def_find(const char *keras_class);

/* GlobalAveragePooling1D / GlobalMaxPooling1D (src/layers/oned.c): the
 * pooling a cut 1-D backbone ([batch, steps, channels]) gets. */
crest_layer *cr_global_pooling1d(bool max);

/* Lambda and expression layers (src/layers/lambda.c, expr.c). */
extern const cr_layer_def cr_lambda_def, cr_expr_def;

/* An expression layer whose undeclared names are the numeric (or boolean)
 * fields of fields (a layer's Keras config); fields NULL: syntax only, any
 * name allowed (src/layers/expr.c). NULL with the message set. */
crest_layer *cr_expr_with_fields(const char *expression, const cJSON *fields);

/* Custom layer classes (src/layers/custom_layers.c). */
/* The def of a registered custom class, or NULL. */
const cr_layer_def *cr_custom_layer_def(const char *class_name);
/* Registers {class: expression} definitions from source (a file, or a
 * saved model); replace: a class registered already takes the new one. */
int cr_custom_layers_from_json(const cJSON *defs, const char *source, bool replace);
/* The definitions a saved model carries in its metadata
 * ("crest_custom_layers"), registered unless registered already. */
int cr_custom_layers_from_meta(const cJSON *meta, const char *source);
/* The metadata to save with m: m->meta_json plus the definitions of its
 * expression classes; *out NULL if there is none. */
int cr_custom_layers_meta(const crest_model *m, char **out);
/* Test hook: forgets every registered class (no layer of one may be alive). */
void cr_custom_layers_reset(void);

/* Keras initializer names */
const char *cr_init_keras_name(crest_init i);     /* "GlorotUniform" */
int cr_init_parse(const cJSON *init_obj, crest_init *out);

/* Layer (de)serialization, Keras config <-> layer (src/layers/serial.c). */
/* A layer from {"class_name", "config"}; unknown classes are an error naming them. */
int cr_layer_from_json(const cJSON *layer_json, crest_layer **out);
/* {"class_name", "config"} of a layer; batch_input adds batch_input_shape. */
cJSON *cr_layer_json(const crest_layer *l, const cr_dims *batch_input);
/* batch_input_shape / batch_shape in a layer config (found = false if
 * neither; src/layers/config.c). */
int cr_input_shape_json(const cJSON *cfg, cr_dims *out, bool *found);
/* A fresh copy of l's class, config, name and trainable flag (no weights). */
int cr_layer_clone(const crest_layer *l, crest_layer **out);

/* ---- models ------------------------------------------------------------ */

/* One model kind: how a model of that kind is read from and written to its
 * Keras JSON form ({"class_name", "config"}), traced and freed. File formats
 * (src/io/) find kinds by class name through cr_model_from_topology and write
 * them through cr_model_to_json, and know nothing else about them. */
typedef struct cr_model_kind {
    const char *class_name;       /* "Sequential"; NULL: registered custom classes */
    const char *alias;            /* another class name read as this kind, or NULL */
    int (*from_json)(const char *class_name, const cJSON *config, crest_model **out);
    cJSON *(*to_json)(crest_model *m);            /* NULL with the message set on error */
    /* the forward pass into g; returns output 0 (NULL on error, sticky in g) */
    cr_node *(*trace)(crest_model *m, cr_graph *g);
    void (*destroy)(crest_model *m);              /* frees m->impl */
} cr_model_kind;

/* Sequential is a chain-shaped functional model (src/sequential.c). */
extern const cr_model_kind cr_sequential_kind, cr_functional_kind, cr_custom_kind;
/* The table (src/model_kinds.c): by class name, or the custom kind when a
 * class is none of the built-in ones. */
const cr_model_kind *cr_model_kind_find(const char *class_name);
/* A model from a modelTopology ({class_name, config}, or Keras 2's
 * {model_config: {...}}) through the kind table. */
int cr_model_from_topology(const cJSON *topo, crest_model **out);
/* The modelTopology of m; NULL with the message set on error. */
cJSON *cr_model_to_json(crest_model *m);

/* {"class_name", "config": cfg, "keras_version", "backend"}, as TF.js
 * writes a topology; consumes cfg. NULL if out of memory (the writer's
 * cr_json_check tells). */
cJSON *cr_model_json_wrap(const char *class_name, cJSON *cfg);
/* The Keras JSON of m's layers in order, but skip; the first one listed
 * carries first_input as its batch_input_shape (NULL: none). NULL with the
 * message set when a layer cannot be saved. */
cJSON *cr_model_layers_json(crest_model *m, const crest_layer *skip, const cr_dims *first_input);

#define CR_MAX_COPIES 16   /* threads that run passes of their own, at most */

/* One traced graph and the nodes fit, evaluate and predict use. */
typedef struct cr_traced {
    cr_graph *g;
    cr_node *out;                 /* output 0 ([batch, units] in loss graphs) */
    cr_node *loss, *label, *sw;   /* loss graphs: the loss, its labels and sample weights */
} cr_traced;

struct crest_model {
    const cr_model_kind *kind;
    char name[128];
    cr_dims in_shape;             /* one input: its shape; several: [total values];
                                     CREST_DIM_NONE where unknown (one input only) */
    /* Unknown input dimensions (src/dynamic.c): graphs are traced at feed
     * (a placeholder while fed is false) and re-shaped when it changes */
    bool dynamic;                 /* in_shape has a CREST_DIM_NONE */
    bool fed;                     /* feed holds the data's shape */
    bool out_dynamic;             /* output 0 follows an unknown dimension */
    unsigned out_none;            /* bit k: output 0's dimension k (0: batch) does */
    cr_dims feed;                 /* the sample shape graphs are traced / planned at */
    crest_layer **layers;
    int n_layers, cap_layers;
    int err;                      /* sticky construction error */
    char errmsg[512];
    uint64_t seed;
    cr_rng init_rng;
    int threads;
    cr_pool *pool;
    /* compiled */
    bool compiled;
    crest_compile_opts copts;
    crest_optimizer *opt;
    void *impl;                   /* the kind's own state */
    /* traced graphs: inference, training (with loss), evaluation (with loss) */
    cr_traced infer, train, eval;
    /* more copies of the inference graph, one per thread that runs whole
     * passes at once (src/infer.c, cr_run_passes) */
    cr_traced copy[CR_MAX_COPIES - 1];
    int n_copies;
    int64_t out_size;
    /* all distinct weights, in Keras order */
    cr_weight **weights;
    int n_weights;
    cr_params params;             /* their values, gradients and slots (src/params.c) */
    bool layers_borrowed;         /* custom models: layers belong to the user */
    char *meta_json;              /* userDefinedMetadata to save (crest extras) */
    cJSON *nest_topo;             /* the topology read, when it nests models: the
                                     paths of a Keras 3 weights file (src/io/keras.c) */
    bool no_fuse;                 /* test hook: inference graphs stay unfused */
    cr_quant *quant;              /* int8 quantized (src/quant.c), or NULL */
};

crest_model *cr_model_alloc(const cr_model_kind *kind, const char *name);
/* Records the first construction error in m (sticky); returns code. */
int cr_model_fail(crest_model *m, int code);
int cr_model_build(crest_model *m);               /* traces m->infer (idempotent) */
/* ---- unknown input dimensions (src/dynamic.c) ---- */
bool cr_dims_unknown(const cr_dims *d);           /* some dimension is CREST_DIM_NONE */
/* "[None,None,3]" into buf; returns buf. */
char *cr_shape_str(const cr_dims *d, char *buf, size_t size);
/* After in_shape is set: m->dynamic, and feed (a placeholder if unknown). */
int cr_model_set_declared(crest_model *m);
/* The sample shape input k of m is traced at (declared: its shape as declared). */
cr_dims cr_model_trace_shape(const crest_model *m, const cr_dims *declared);
/* cr_model_build's part for dynamic models: traces at placeholders until
 * one works, marks the layers' unknown output dimensions, re-shapes to feed. */
int cr_model_build_dynamic(crest_model *m, cr_graph **gout, cr_node **out);
/* ---- a data shape bound to a model (src/input_shape.c) ---- */
/* Binds a data shape (crest_model_set_input_shape); d: a data set's sample
 * shape, or NULL for raw calls (then the shape must have been set). */
int cr_model_bind(crest_model *m, const cr_dims *sample);
int cr_model_ready(crest_model *m);               /* raw calls: feed is known */
/* Graph g of m (infer, train or eval) re-shaped to m->feed if it differs. */
int cr_model_reshape_graph(crest_model *m, cr_graph *g);
/* The model's forward pass traced into g; returns output 0 (NULL on error). */
cr_node *cr_model_trace(crest_model *m, cr_graph *g);
/* Inference on n samples, writing output k of the inference graph. */
int cr_predict_node(crest_model *m, int k, const float *x, size_t n, float *out);
int cr_model_build_train(crest_model *m);         /* traces m->train (after compile) */
int cr_model_build_eval(crest_model *m);          /* traces m->eval (after compile) */
/* Appends l (named uniquely); consumes l, even on failure. */
int cr_model_push_layer(crest_model *m, crest_layer *l);
void cr_model_invalidate(crest_model *m);          /* drop traced graphs */
void cr_model_drop_copies(crest_model *m);         /* drop m->copy[] */
/* Traces one more copy of the inference graph (as cr_model_build traces
 * m->infer, after it) into t. */
int cr_model_trace_copy(crest_model *m, cr_traced *t);
/* src/infer.c: the n samples of x in passes of bs, each pass whole on one
 * thread of pool with its own copy of m's inference graph; into out
 * (per_out floats per sample) output k, or (k < 0) m->infer.out. 1 when
 * it ran them, 0 when it cannot here (one thread or pass, a custom or
 * dynamic model, released weights: the caller runs them), or an error. */
int cr_run_passes(crest_model *m, cr_pool *pool, int k, const float *x, size_t n, int64_t bs,
                  float *out, int64_t per_out);
/* Frees the training and evaluation graphs (the inference one stays). */
void cr_model_drop_loss_graphs(crest_model *m);
int cr_model_collect_weights(crest_model *m);   /* lists and packs m->weights */
/* src/params.c: lays m->weights out in m->params (again if a weight moved,
 * was added or was dropped); every use of the block calls this first. */
int cr_params_pack(crest_model *m);
/* The block's gradients (k < 0) or optimizer slot k, allocated (zeroed) on
 * first need, views set in every weight. */
int cr_params_need(crest_model *m, int k);
/* CREST_E_STATE if crest_model_inference_only let go of m's weights. */
int cr_params_readable(const crest_model *m);
/* Gives every weight still in m's block its own storage (layers that
 * outlive the model), then frees the block. */
void cr_params_release(crest_model *m);
/* Whether weight i of m takes optimizer steps: trainable itself, its layer
 * trainable (the one rule freezing follows). */
bool cr_weight_trainable(const cr_weight *w);
/* CREST_E_STATE naming the first NaN or infinite weight (a diverged model
 * is never saved). */
int cr_check_finite(const crest_model *m);
/* The weight named "layer/weight" (Keras' weight path), or NULL. */
cr_weight *cr_model_find_weight(crest_model *m, const char *name);
int cr_model_pool(crest_model *m, cr_pool **out);
/* A name -> function table guarded by a mutex (model and lambda registries,
 * src/layers/layer.c);
 * define one as `static cr_registry r = { .mu = PTHREAD_MUTEX_INITIALIZER };`. */
#define CR_REGISTRY_MAX 256
typedef struct cr_registry {
    pthread_mutex_t mu;
    int n;
    char name[CR_REGISTRY_MAX][128];
    void (*fn[CR_REGISTRY_MAX])(void);
} cr_registry;
int cr_registry_set(cr_registry *r, const char *name, void (*fn)(void));
void (*cr_registry_get(cr_registry *r, const char *name))(void);
/* Unique default names per model, Keras style: dense, dense_1, ... */
void cr_model_name_layer(crest_model *m, crest_layer *l);

/* The symbolic tensors of functional models (src/functional_graph.c);
 * Sequential ones are functional models whose layers form a chain, so these
 * serve both kinds. */
crest_sym *cr_functional_output(crest_model *m, int k);      /* NULL if not complete */
int cr_functional_inputs(crest_model *m, crest_sym **inputs);  /* count */
crest_sym *cr_functional_find(crest_model *m, const char *layer);   /* last application */
crest_layer *cr_sym_layer(const crest_sym *s);               /* NULL for an Input */
int cr_sym_n_in(const crest_sym *s);
crest_sym *cr_sym_in(const crest_sym *s, int i);
/* A functional (or Sequential) model with no tensors yet, of that kind;
 * chain: it grows by crest_add only (the functional API refuses it). */
int cr_functional_alloc(const cr_model_kind *kind, const char *name, bool chain,
                        crest_model **out);
/* Lets layers be applied again to a complete model; outputs are set again with
 * cr_functional_set_outputs. */
int cr_functional_reopen(crest_model *m);
/* crest_call and crest_functional_outputs for either kind (the public ones
 * take functional models only); set_outputs builds the model when build. */
crest_sym *cr_functional_call(crest_model *m, crest_layer *l, crest_sym **in, int n_in);
crest_sym *cr_functional_input(crest_model *m, crest_dims shape, const char *name);
int cr_functional_set_outputs(crest_model *m, crest_sym **inputs, int n_inputs,
                              crest_sym **outputs, int n_outputs, bool build);
/* After outputs are set: frees the tensors and layers no output needs, rebuilds. */
int cr_functional_prune(crest_model *m);
/* Takes out every single-input layer drop(l, ctx) selects: its uses read its
 * input instead; then prunes (the layers are freed). *n_dropped: how many
 * applications were taken out. */
int cr_functional_bypass(crest_model *m, bool (*drop)(const crest_layer *l, void *ctx), void *ctx,
                         int *n_dropped);
/* Nested models (src/functional.c): a layer entry of class Sequential, Model
 * or Functional inside a model's layers is read by flattening it into the
 * outer model (its layers keep their names). */
bool cr_nest_is_model(const cJSON *layer_json);
/* Appends nested model entry lj to the chain of Sequential m. */
int cr_nest_add(crest_model *m, const cJSON *layer_json);
/* The input shape of a layer entry, looking inside nested models (found =
 * false if there is none). */
int cr_nest_input_shape(const cJSON *layer_json, cr_dims *out, bool *found);
/* What find(ctx, name) finds for a layer path "outer/inner" (a layer inside
 * a nested model): the exact name first, then the names crest gives that
 * layer when flattening, "outer_inner" (renamed on a clash), then "inner"
 * (crest_model_find_layer, cr_functional_find); NULL if none is found. */
void *cr_find_by_path(const char *path, void *(*find)(void *ctx, const char *name), void *ctx);
/* The functional kind's trace and destroy (Sequential shares them). */
cr_node *cr_functional_trace(crest_model *m, cr_graph *g);
void cr_functional_destroy(crest_model *m);

/* ---- int8 quantization (src/quant.c, src/quant_graph.c) --------------- */

/* An activation's uint8 parameters: real = s * (q - z); lo, hi the range
 * they cover (calibrated). With int16 activations (cr_quant.act16) z = 0
 * and s = max(|lo|, |hi|) / 32767. Keyed by cr_graph_qkeys' names. */
typedef struct cr_qact {
    char key[160];
    float lo, hi, s;
    int32_t z;
} cr_qact;

/* A weight stored int8, per output channel (cr_kernel_channels; channel c
 * is index % oc): real = scale[c] * q. */
typedef struct cr_qweight {
    char name[300];               /* "layer/kernel" */
    int oc;
    float *scale;                 /* [oc] */
} cr_qweight;

struct cr_quant {
    cr_qact *act;
    int n_act;
    cr_qweight *w;
    int n_w;
    int method;                   /* crest_calibration */
    double percentile;
    int64_t samples;
    bool float_head;
    bool act16;                   /* activations int16 (symmetric, z = 0), not uint8 */
    char **keep;                  /* layers kept float by name (crest_quant_opts.keep_float) */
    int n_keep;
    int folded_bn;
    int int8_nodes, float_nodes;  /* of the last graph rewritten */
};

void cr_quant_free(cr_quant *q);
/* The output channels of a kernel: its last axis, or for a depthwise kernel
 * [kh, kw, c, dm] ("depthwise_kernel") c * dm, the last two. */
int cr_kernel_channels(const cr_weight *w);
/* The weight a convolution's kernel input k stands for: a param, or a
 * reshape of one (1-D layers view [k, a, b] kernels as [k, 1, a, b], the
 * same values in the same order); NULL otherwise. */
cr_weight *cr_kernel_weight(const cr_node *k);
/* Whether n is a ReLU / ReLU6 reading a convolution or depthwise one: in the
 * graph crest calibrates (src/fuse.c) it is part of that node, so its
 * quantization parameters are the convolution's. */
bool cr_fused_act_of_window(const cr_node *n);
const cr_qact *cr_quant_act(const cr_quant *q, const char *key);
const cr_qweight *cr_quant_weight(const cr_quant *q, const cr_weight *w);
/* The name of every node of g that calibration and the int8 rewrite share:
 * "LAYER#k" (the k-th node LAYER made, in graph order), "input:k" for model
 * input k, "#i" for nodes of no layer. keys: g->n entries. */
void cr_graph_qkeys(const cr_graph *g, char (*keys)[160]);
/* Rewrites the (fused) inference graph g of a quantized model: int8 nodes
 * where q has ranges and weights for them, quantize / dequantize at the
 * float boundaries. Pinned nodes (outputs, kept, probe) stay float. */
int cr_graph_quantize(cr_graph *g, cr_quant *q);
/* An int8 convolution, depthwise or Dense node of a rewritten graph: the
 * calibration key of the float value it stands for (the end of its fused
 * chain), with *out its uint8 parameters (NULL: it gives float). NULL if n
 * is not such a node. */
const char *cr_q8_kernel_key(const cr_node *n, const cr_qact **out);
/* Packs such a node's kernel again after its float bias changed: the same
 * int32 biases a new rewrite would give. */
int cr_q8_kernel_rebias(cr_node *n);
/* CREST_E_UNSUPPORTED naming the model when it is quantized: `what` (e.g.
 * "saved as Keras .h5") needs its float weights. */
int cr_quant_refuse(const crest_model *m, const char *what);
/* The same when m's activations are int16 (no export writes them yet). */
int cr_quant_refuse16(const crest_model *m, const char *what);
/* Saving (src/io/tfjs.c): the shard of m's weights with the int8 ones as
 * 1-byte codes (specs, one per weight, get their "quantization"), and the
 * "crestQuantization" section of model.json. Loading: the section and the
 * int8 specs of the manifest into m->quant. */
int cr_quant_shard(const crest_model *m, cJSON *specs, unsigned char **bytes, size_t *len);
cJSON *cr_quant_json(const crest_model *m);
int cr_quant_from_json(crest_model *m, const cJSON *section, const cJSON *manifest);

/* ---- optimizers -------------------------------------------------------- */

int cr_optimizer_step(crest_optimizer *o, crest_model *m, cr_pool *pool);
/* The rate of the next updates (a schedule's); negative: the optimizer's own. */
void cr_optimizer_set_rate(crest_optimizer *o, double lr);
double cr_optimizer_lr(const crest_optimizer *o);   /* its own (initial) rate */
void cr_optimizer_reset(crest_optimizer *o);
/* The optimizer's settings, step count and every weight's slots, appended
 * to b; restore reads them back into o and ws (CREST_E_STATE if o is not
 * configured as the saved one was). */
void cr_optimizer_save(const crest_optimizer *o, const crest_model *m, cr_buf *b);
int cr_optimizer_restore(crest_optimizer *o, crest_model *m, cr_buf *b);

/* ---- fit (src/train.c) and its checkpoints (src/checkpoint.c) ---------- */

/* Everything a run of crest_fit carries from one epoch to the next besides
 * the model's weights and optimizer: a checkpoint holds all of it. */
/* ReduceLROnPlateau's state between epochs (src/schedule.c). */
typedef struct cr_plateau {
    double best;                  /* the best monitored value so far */
    float lr;                     /* the current rate (float32, as the optimizer's) */
    int32_t wait, cooldown;       /* epochs without improvement; cooldown left */
} cr_plateau;
void cr_plateau_init(cr_plateau *p, double lr, bool maximize);
/* Keras' on_epoch_end with current, the monitored value: true when the rate
 * (p->lr) was cut. */
bool cr_plateau_update(cr_plateau *p, const crest_lr_schedule *s, bool maximize,
                       double current);
int cr_schedule_check(const crest_lr_schedule *s, bool has_val);
void cr_schedule_hash(cr_hasher *h, const crest_lr_schedule *s);
crest_monitor cr_monitor_resolve(crest_monitor m, bool has_val);
bool cr_monitor_maximize(crest_monitor m);
double cr_monitor_value(crest_monitor m, const crest_history *h, int epoch);

typedef struct cr_fit {
    crest_model *m;
    const crest_dataset *train;
    const crest_fit_opts *o;
    size_t n, n_val;              /* training rows; held-out tail (validation_split) */
    int epochs, bs;
    int64_t steps;                /* per epoch */
    bool has_val, early;
    size_t *idx;                  /* the shuffled row order (shuffled in place) */
    float *best;                  /* early stopping: the best weights, or NULL */
    size_t n_params;
    cr_rng shuffle, drop;
    double best_loss;
    int wait, best_epoch;
    int epoch;                    /* epochs done (the next one to run) */
    bool stopped;                 /* early stopping ended the run */
    crest_history hist;
    uint64_t fingerprint;         /* of the model, the data and the options */
    char *ckpt;                   /* checkpoint file, or NULL */
    double t0;                    /* when the current epoch began (cr_now) */
    /* the learning-rate schedule (src/schedule.c), if any */
    const crest_lr_schedule *sched;
    double base_lr;               /* the optimizer's own rate */
    double lr;                    /* the rate of the last update */
    cr_plateau plateau;           /* ReduceLROnPlateau's state (checkpointed) */
    crest_monitor plateau_monitor, best_monitor;   /* resolved (never AUTO) */
    cr_graph *aug;                /* crest_fit_opts.augment's graph (aug_y: its output) */
    cr_node *aug_y;
    float *micro;                 /* micro-shard rows of a batch (src/train.c), or NULL */
} cr_fit;

/* Hands e to o->progress, if any (fit, table fit, resume); inline so the
 * checkpoint code below fit can report without calling up into train.c. */
static inline void cr_fit_progress(const crest_fit_opts *o, crest_progress e)
{
    if (o->progress)
        o->progress(&e, o->progress_user);
}

/* With o->checkpoint_dir: names the file, fingerprints the run and, with
 * o->resume and a checkpoint there (or o->resume_bytes, another process's
 * read of it; then checkpoint_dir may be NULL: nothing written), restores
 * the run (weights, optimizer, RNGs, row order, history, early stopping).
 * CREST_E_STATE if the checkpoint was made by another run (model, data or
 * options differ). */
int cr_fit_checkpoint_open(cr_fit *f);
/* Writes the run's state atomically (after an epoch). */
int cr_fit_checkpoint_save(const cr_fit *f);

/* ---- datasets ---------------------------------------------------------- */

struct crest_dataset {
    size_t n;
    cr_dims shape;                /* per sample */
    int64_t stride;               /* floats per sample */
    float *x;
    int32_t *labels;              /* or NULL */
    float *y;                     /* dense targets [n, n_out] or NULL */
    int n_classes;                /* classes or dense width */
    char **class_names;           /* image folders: sub-folder names, or NULL */
    int n_class_names;
    crest_image_opts *image;      /* image folders: how files became samples, or NULL */
    /* Lazy image sets (crest_image_source_open): x is NULL and sample i is
     * made on demand through *image, from files[i] (decoded) or from row i
     * of raw (its values times raw_scale on the 0..255 scale). */
    char **files;
    crest_dataset *raw;
    float raw_scale;
};

/* Lazy data sets (src/data/source.c). */
static inline bool cr_dataset_lazy(const crest_dataset *d) { return d && !d->x; }
/* Samples rows[start..start+b) (rows NULL: start, start+1, ...) as model
 * inputs into dst [b, stride], decoding or transforming lazy samples. */
int cr_dataset_gather(const crest_dataset *d, const size_t *rows, size_t start, int64_t b,
                      float *dst);
/* The same, lazy samples decoded over pool's threads (NULL: this one); the
 * same bits and, on failure, the message of the lowest failing sample. */
int cr_dataset_gather_on(const crest_dataset *d, const size_t *rows, size_t start, int64_t b,
                         float *dst, cr_pool *pool);
/* The samples rows[0..n) of d as a new data set (lazy stays lazy). */
int cr_dataset_take(const crest_dataset *d, const size_t *rows, size_t n, crest_dataset **out);
/* An empty data set of n samples of `shape` with labels (or none), no x:
 * the caller fills files / raw and image (lazy). */
int cr_dataset_new_lazy(crest_dataset **out, size_t n, crest_dims shape, const int32_t *labels,
                        int n_classes);
/* Images per inference pass whose activations stay cache-sized (src/infer.c);
 * 0 if planning failed. */
int64_t cr_auto_batch(cr_graph *g);

/* Image options from a parsed JSON object (src/data/image.c). */
int cr_image_opts_from_cjson(const cJSON *j, crest_image_opts *out);
/* Test hook: the cap on one decoded image (0: CREST_IMAGE_MAX_BYTES). */
void cr_image_set_max_bytes(size_t n);
/* Test hook: images decoded so far, process-wide. */
unsigned long cr_image_decodes(void);
/* CREST_OK or CREST_E_ARG naming the bad field of o. */
int cr_image_check_opts(const crest_image_opts *o);

/* ---- files ------------------------------------------------------------- */

/* Reads a whole file (max bytes; 0 = no limit). Caller frees *out. */
int cr_read_file(const char *path, size_t max, char **out, size_t *len);
/* Writes atomically: temp file "<path>.tmp.<pid>" in the same folder,
 * fsync, rename, fsync of the folder. First removes the temp files of
 * writers that died (SIGKILL) in that folder, so they never pile up. */
int cr_write_file_atomic(const char *path, const void *data, size_t len);
/* fsync of the folder holding path (its entry for path becomes durable);
 * folders that cannot be synced (EINVAL, EROFS) are not an error. */
int cr_sync_dir_of(const char *path);
/* Removes the temp files of crest's atomic writes ("*.json.tmp.<pid>",
 * "*.bin.tmp.<pid>", "*.ckpt.tmp.<pid>", "*.h5.tmp.<pid>") in dir whose process is gone;
 * returns how many. */
int cr_remove_dead_temps(const char *dir);
/* mkdir -p: each missing folder along dir is created; false on failure. */
bool cr_make_dirs(const char *dir);

#endif
