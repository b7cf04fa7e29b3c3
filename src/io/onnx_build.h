/* onnx_build.h - what the three parts of the ONNX writer share (private to
 * src/io/onnx*.c): the graph being built (ox) and its building blocks
 * (onnx_proto.c), and the mapping of crest's ops to ONNX nodes
 * (onnx_ops.c) that the writer (onnx.c) runs over a traced graph. Every
 * allocation goes to the ox's arena, freed together by cr_ox_free; the first
 * error sticks in o->err (its message set) and later calls do nothing. */
#ifndef CR_ONNX_BUILD_H
#define CR_ONNX_BUILD_H

#include "../internal.h"

#include "onnx.pb-c.h"

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
    /* QDQ int8 export of a quantized model (onnx_int8.c): the traced graph,
     * its record, each node's calibrated parameters as crest's int8 graph
     * uses them (NULL: none), whether crest holds the value as uint8 (its
     * ONNX value is then the DequantizeLinear of its QuantizeLinear),
     * whether an earlier int8 op computed it (a fused activation, a Dense's
     * bias add), and a value's QuantizeLinear -> DequantizeLinear made for
     * an int8 op (by layout: [0] NHWC / other ranks, [1] NCHW) */
    const cr_graph *gr;
    const cr_quant *q;
    const cr_qact **par;
    bool *u8, *done;
    char **qdq[2];
    char *zp_u8[256];
} ox;

/* ---- building blocks (onnx_proto.c) ---- */
void *cr_ox_alloc(ox *o, size_t n);                 /* zeroed, in the arena */
char *cr_ox_str(ox *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *cr_ox_fresh(ox *o, const char *what);         /* a new value name "what_N" */
/* Appends p to a growable array of pointers (the array outside the arena). */
bool cr_ox_push(ox *o, void ***arr, size_t *n, size_t *cap, void *p);
/* A node op_type(in...) -> out; in entries may be "" (an omitted input). */
Onnx__NodeProto *cr_ox_node(ox *o, const char *op_type, const char *const *in, int n_in,
                            const char *out);
void cr_ox_attr_i(ox *o, Onnx__NodeProto *n, const char *name, int64_t v);
void cr_ox_attr_f(ox *o, Onnx__NodeProto *n, const char *name, float v);
void cr_ox_attr_s(ox *o, Onnx__NodeProto *n, const char *name, const char *v);   /* v static */
void cr_ox_attr_ints(ox *o, Onnx__NodeProto *n, const char *name, const int64_t *v, int k);
/* An initializer: raw little-endian data (not copied: it must outlive the
 * packing); its name. */
char *cr_ox_init(ox *o, char *name, int32_t dtype, const void *data, size_t bytes,
                 const int64_t *dims, int nd);
char *cr_ox_const_i64(ox *o, const char *what, const int64_t *v, int k);
char *cr_ox_const_f32(ox *o, const char *what, const float *v, int64_t count,
                      const int64_t *dims, int nd);
char *cr_ox_scalar_f32(ox *o, float v);
/* op_type(x) -> out and op_type(a, b) -> out: out, or NULL on an error. */
char *cr_ox_unary(ox *o, const char *op_type, const char *x, const char *out);
char *cr_ox_binary(ox *o, const char *op_type, const char *a, const char *b, const char *out);
void cr_ox_free(ox *o);

/* ---- crest's ops as ONNX nodes (onnx_ops.c) ---- */
/* Records an error naming n's layer (or op); returns code. */
int cr_ox_fail_node(ox *o, const cr_node *n, int code, const char *why);
/* n's value in layout nchw (4-D values; others have one layout), made on
 * first use by a Transpose. */
const char *cr_ox_val(ox *o, const cr_node *n, bool nchw);
/* ONNX's pads [top, left, bottom, right] of a window's geometry. */
void cr_ox_pads(const cr_conv_geom *g, int64_t pads[4]);
/* The nodes computing op node n as float ops; false on an error (recorded). */
bool cr_ox_emit_op(ox *o, const cr_node *n);

/* ---- QDQ int8 of a quantized model (onnx_int8.c) ---- */
/* Sets up o for the int8 export of graph g with record q; false on an error. */
bool cr_ox_int8_start(ox *o, const cr_graph *g, const cr_quant *q);
/* Op node n as crest's int8 graph runs it: 1, done (or computed by an
 * earlier int8 op); 0, n is a float op; -1, an error (recorded). */
int cr_ox_emit_int8(ox *o, const cr_node *n);

#endif
