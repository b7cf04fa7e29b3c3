/* tflite_build.h - what the three parts of the TFLite writer share (private
 * to src/io/tflite*.c): the model being built as plain arrays of tensors,
 * buffers and operators (tflite_model.c), the mapping of crest's ops to
 * TFLite builtin operators that fills them (tflite_ops.c), and the writer
 * that runs the mapping over a traced graph, serializes the arrays with
 * src/io/flatbuf.c and writes the file (tflite.c).
 *
 * The numbers below are facts of TFLite's schema, tensorflow/lite/schema/
 * schema.fbs in TensorFlow (file identifier "TFL3", schema version 3): enum
 * values and union indices as the schema lists them; a table's field number
 * is its position in the table's declaration (0-based; a union field takes
 * two: its type, then its value). Members are only ever appended there, so
 * these stay valid in later versions of the schema. */
#ifndef CR_TFLITE_BUILD_H
#define CR_TFLITE_BUILD_H

#include "../internal.h"

#include <stdint.h>

/* enum TensorType : byte */
enum { TFL_FLOAT32 = 0, TFL_INT32 = 2, TFL_UINT8 = 3, TFL_INT64 = 4, TFL_BOOL = 6, TFL_INT16 = 7,
       TFL_INT8 = 9 };

/* enum BuiltinOperator (codes above 126 go in OperatorCode.builtin_code only) */
enum {
    TFL_ADD = 0, TFL_AVERAGE_POOL_2D = 1, TFL_CONCATENATION = 2, TFL_CONV_2D = 3,
    TFL_DEPTHWISE_CONV_2D = 4, TFL_DEQUANTIZE = 6, TFL_FULLY_CONNECTED = 9, TFL_LOGISTIC = 14,
    TFL_MAX_POOL_2D = 17, TFL_MUL = 18, TFL_RELU = 19, TFL_RELU6 = 21, TFL_RESHAPE = 22,
    TFL_SOFTMAX = 25, TFL_TANH = 28, TFL_PAD = 34, TFL_MEAN = 40, TFL_SUB = 41, TFL_DIV = 42,
    TFL_STRIDED_SLICE = 45, TFL_EXP = 47, TFL_LOG_SOFTMAX = 50, TFL_MAXIMUM = 55, TFL_MINIMUM = 57, TFL_NEG = 59,
    TFL_GREATER = 61, TFL_SLICE = 65, TFL_LOG = 73, TFL_SUM = 74, TFL_LEAKY_RELU = 98,
    TFL_ABS = 101, TFL_ELU = 111, TFL_QUANTIZE = 114, TFL_HARD_SWISH = 117,
    TFL_SELECT_V2 = 123, TFL_RESIZE_BILINEAR = 23, TFL_TRANSPOSE = 39, TFL_RESIZE_NEAREST_NEIGHBOR = 97,
    TFL_TRANSPOSE_CONV = 67, TFL_RSQRT = 76, TFL_SQRT = 75,
    TFL_BATCH_MATMUL = 126, TFL_REDUCE_MAX = 82, TFL_PLACEHOLDER_FOR_GREATER_OP_CODES = 127, TFL_GELU = 150,
};

/* union BuiltinOptions: the index of each options table (0: none) */
enum {
    TFL_OPT_NONE = 0, TFL_OPT_CONV2D = 1, TFL_OPT_DEPTHWISE_CONV2D = 2, TFL_OPT_POOL2D = 5,
    TFL_OPT_FULLY_CONNECTED = 8, TFL_OPT_SOFTMAX = 9, TFL_OPT_CONCATENATION = 10,
    TFL_OPT_ADD = 11, TFL_OPT_RESHAPE = 17, TFL_OPT_MUL = 21, TFL_OPT_PAD = 22,
    TFL_OPT_REDUCER = 27, TFL_OPT_SUB = 28, TFL_OPT_DIV = 29, TFL_OPT_STRIDED_SLICE = 32,
    TFL_OPT_EXP = 33,
    TFL_OPT_LOG_SOFTMAX = 36, TFL_OPT_MAXIMUM_MINIMUM = 39, TFL_OPT_NEG = 42,
    TFL_OPT_GREATER = 44, TFL_OPT_RESIZE_BILINEAR = 15, TFL_OPT_TRANSPOSE = 26,
    TFL_OPT_RESIZE_NEAREST_NEIGHBOR = 74, TFL_OPT_TRANSPOSE_CONV = 49,
    TFL_OPT_BATCH_MATMUL = 101, TFL_OPT_SLICE = 48, TFL_OPT_LEAKY_RELU = 75, TFL_OPT_ABS = 78,
};

/* enum Padding : byte; enum ActivationFunctionType : byte */
enum { TFL_PAD_SAME = 0, TFL_PAD_VALID = 1 };
enum { TFL_ACT_NONE = 0, TFL_ACT_RELU = 1, TFL_ACT_RELU6 = 3, TFL_ACT_TANH = 4 };

/* Field numbers of the options tables used (their declaration order):
 *   Conv2DOptions: padding, stride_w, stride_h, fused_activation_function,
 *     dilation_w_factor (default 1), dilation_h_factor (default 1)
 *   DepthwiseConv2DOptions: padding, stride_w, stride_h, depth_multiplier,
 *     fused_activation_function, dilation_w_factor, dilation_h_factor
 *   Pool2DOptions: padding, stride_w, stride_h, filter_width, filter_height,
 *     fused_activation_function
 *   FullyConnectedOptions: fused_activation_function, weights_format
 *   SoftmaxOptions: beta; ConcatenationOptions: axis, fused_activation_function
 *   AddOptions, SubOptions, MulOptions, DivOptions: fused_activation_function;
 *     AddOptions then pot_scale_int16 (bool, default true: int16 scales powers
 *     of two; false: the general-scale int16 ADD, op version 3)
 *   ReshapeOptions: new_shape; ReducerOptions: keep_dims; LeakyReluOptions: alpha
 *   ResizeBilinearOptions: new_height, new_width (both unused), align_corners,
 *     half_pixel_centers
 *   TransposeConvOptions: padding, stride_w, stride_h; BatchMatMulOptions:
 *     adj_x, adj_y; ResizeNearestNeighborOptions: align_corners,
 *     half_pixel_centers
 *   StridedSliceOptions: begin_mask, end_mask, ellipsis_mask, new_axis_mask,
 *     shrink_axis_mask */

/* One scalar field of an options table. */
typedef struct tl_field {
    uint8_t id, kind;                 /* kind: 'b' byte, 'B' byte of default 1, 'i' int32,
                                         'f' float */
    int32_t i;
    float f;
} tl_field;

#define TL_MAX_FIELDS 8

typedef struct tl_opts {
    uint8_t type;                     /* TFL_OPT_* */
    tl_field f[TL_MAX_FIELDS];
    int n_f;
    int vec_id;                       /* an int vector field (ReshapeOptions), or -1 */
    const int32_t *vec;
    int n_vec;
} tl_opts;

typedef struct tl_tensor {
    int32_t shape[CR_MAX_DIMS];
    int ndim;
    bool batched;                     /* dimension 0 is the batch: -1 in shape_signature */
    uint8_t type;                     /* TFL_FLOAT32 ... */
    uint32_t buffer;                  /* 0: no data (computed) */
    const char *name;
    /* quantized tensors (int8): per-tensor (n_q 1) or per-channel along q_dim */
    const float *scale;
    const int64_t *zero;
    int n_q, q_dim;
} tl_tensor;

typedef struct tl_buffer {
    const void *data;                 /* not copied: valid until the file is packed */
    size_t count;                     /* elements */
    uint8_t type;                     /* TFL_FLOAT32 / TFL_INT32: 4 bytes each; TFL_INT8: 1;
                                         TFL_INT16: 2; TFL_INT64: 8 */
} tl_buffer;

typedef struct tl_op {
    int code, version;                /* builtin operator and its version */
    tl_opts opts;
    int *in, n_in;                    /* tensor indices (-1: an omitted input) */
    int out;
} tl_op;

typedef struct tl {
    const cr_graph *g;
    tl_tensor *t;
    int n_t, cap_t;
    tl_buffer *buf;                   /* buf[0]: the empty buffer the schema requires */
    int n_buf, cap_buf;
    tl_op *op;
    int n_op, cap_op;
    int *ins, n_ins, *outs, n_outs;   /* the subgraph's inputs and outputs */
    /* per crest node (by id): its tensor (-1: none yet), its consumers
     * (graph outputs count as one) and the last of them, whether an earlier
     * op computed it (fused) */
    int *tensor, *uses, *user;
    bool *done;
    /* weights already constant tensors: which, and their tensor */
    const cr_weight **w;
    int *w_t, n_w, cap_w;
    void **mem;                       /* every allocation, freed together */
    int n_mem, cap_mem;
    int err;                          /* first error (message set) */
    /* int8 export of a quantized model (tflite_int8.c): its record, each
     * node's key in it (cr_graph_qkeys), and each node's value in the other
     * type (float / int8) once a DEQUANTIZE or QUANTIZE made it (-1: none) */
    const cr_quant *q;
    char (*keys)[160];
    int *other;
    /* the activations' TFLite type: TFL_INT8 (crest's uint8 minus zoff =
     * 128) or, for int16 activations (TFLite's 16x8), TFL_INT16 (zoff 0) */
    uint8_t qtype;
    int32_t zoff;
} tl;

/* ---- building blocks (tflite_model.c) ---- */
bool cr_tl_start(tl *t);                             /* t zeroed: adds buffer 0 */
void cr_tl_free(tl *t);                              /* everything t holds */
void *cr_tl_alloc(tl *t, size_t n);                  /* zeroed, freed with t */
char *cr_tl_str(tl *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A tensor; shape[0] is the batch when batched. -1 on an error. */
int cr_tl_tensor(tl *t, const char *name, const int32_t *shape, int ndim, bool batched,
                 uint8_t type);
/* A tensor for a value of crest shape s (batch first). */
int cr_tl_tensor_dims(tl *t, const char *name, const cr_dims *s);
/* Constant tensors: data (not copied) of count elements. */
int cr_tl_const(tl *t, const char *name, uint8_t type, const void *data, const int32_t *shape,
                int ndim);
int cr_tl_const_i32(tl *t, const char *name, const int32_t *v, int n);     /* 1-D */
int cr_tl_scalar(tl *t, float v);                    /* shape [1], broadcasts */
/* An operator code(in...) -> out with options o (NULL: none); false on an error. */
bool cr_tl_op(tl *t, int code, int version, const int *in, int n_in, int out,
              const tl_opts *o);
/* Options of the given type with fields set by the caller. */
tl_opts cr_tl_opts(uint8_t type);
void cr_tl_opt_i(tl_opts *o, int id, int32_t v);
void cr_tl_opt_b(tl_opts *o, int id, int8_t v);
void cr_tl_opt_b1(tl_opts *o, int id, int8_t v);      /* a bool of schema default true */
void cr_tl_opt_f(tl_opts *o, int id, float v);

/* ---- int8 / int16 tensors of a quantized model (tflite_int8.c) ---- */
/* TFLite int8 is crest's uint8 shifted: q - 128, zero point z - 128, same
 * scale; int16 activations are crest's as they are (zero point 0). "int8"
 * below means t->qtype. The calibrated parameters of node n's value, or
 * NULL. */
const cr_qact *cr_tl_qpar(const tl *t, const cr_node *n);
/* Whether tensor k is a quantized activation (of type t->qtype). */
bool cr_tl_isq(const tl *t, int k);
/* TFLite's zero point for crest's parameters p. */
int32_t cr_tl_zero(const tl *t, const cr_qact *p);
/* An op's version: v8 with int8 activations, v16 with int16 ones. */
int cr_tl_qver(const tl *t, int v8, int v16);
/* An int8 tensor of crest shape s with scale sc and TFLite zero point z. */
int cr_tl_qtensor(tl *t, const char *name, const cr_dims *s, float sc, int32_t z);
/* n's value as int8: the tensor it is, or one QUANTIZE made from its float
 * value with its calibrated parameters; -1 (no error) when it has none. */
int cr_tl_val_q(tl *t, const cr_node *n);
/* n's value as float: a DEQUANTIZE of int8 tensor k (made once). */
int cr_tl_dequantized(tl *t, const cr_node *n, int k);
/* The int8 filter and int32 bias (int64 with int16 activations, as crest's
 * 16x8 kernels hold them; b: float values, or NULL for zeros) of
 * conv2d / depthwise2d / matmul node n, its kernel quantized per output
 * channel (qw), for input scale s_in, in TFLite's layouts; false on an
 * error. */
bool cr_tl_qconsts(tl *t, const cr_node *n, const cr_qweight *qw, float s_in, const float *b,
                   int *filter, int *bias);

/* ---- crest's ops as TFLite operators (tflite_ops.c) ---- */
/* RESHAPE x to shape (shape[0], the batch, as -1) into out; out or -1. */
int cr_tl_reshape(tl *t, int x, const int32_t *shape, int nd, int out);
/* Records an error naming n's layer; returns false. */
bool cr_tl_fail_node(tl *t, const cr_node *n, int code, const char *why);
/* The tensor of node n (a weight: made on first use). */
int cr_tl_val(tl *t, const cr_node *n);
/* The operators computing op node n (and the nodes fused into them). */
bool cr_tl_emit(tl *t, const cr_node *n);

#endif
