/* tflite.c - a model as a TFLite file (float32; schema version 3), for the
 * TFLite interpreter (LiteRT), Arm NN and the other runtimes that read
 * TFLite.
 *
 * The file is a FlatBuffer in TensorFlow's schema (tensorflow/lite/schema/
 * schema.fbs), written by our small builder (src/io/flatbuf.c; why ours:
 * see flatbuf.h) with the schema's field numbers and enum values as facts
 * in src/io/tflite_build.h. No schema is compiled or copied.
 *
 * What is exported is the model's unfused inference graph (every model
 * kind traces into one), op by op as TensorFlow's converter writes Keras
 * models: Conv2D -> CONV_2D (a batch norm after it folded into its kernel
 * and bias, a ReLU / ReLU6 after it fused), DepthwiseConv2D ->
 * DEPTHWISE_CONV_2D, Dense -> FULLY_CONNECTED (bias and activation fused),
 * pooling -> AVERAGE_POOL_2D / MAX_POOL_2D, global average pooling -> MEAN,
 * ZeroPadding2D -> PAD, and so on (src/io/tflite_ops.c). An op with no
 * mapping is CREST_E_UNSUPPORTED naming its layer; nothing is written then.
 *
 * TFLite is NHWC like crest: no layout changes. Tensor shapes are the traced
 * ones with batch 1; shape_signature marks the batch -1 (dynamic), so
 * interpreters that resize inputs run any batch, and those that do not run
 * batch 1. Weights are little-endian float32 buffers.
 *
 * This file writes the model: its inputs and outputs, the operators from
 * the traced ops (mapped op by op in src/io/tflite_ops.c) and the
 * serialization; the building blocks are in src/io/tflite_model.c. */
#include "tflite_build.h"
#include "flatbuf.h"
#include "../functional_graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TFL_SCHEMA_VERSION 3

/* ---- serialization ---------------------------------------------------------- */

/* table Buffer { data:[ubyte] (force_align: 16) } */
static cr_fb_ref write_buffer(cr_fb *b, const tl_buffer *x)
{
    cr_fb_ref data = 0;
    if (x->count) {
        size_t size = x->type == TFL_INT8 || x->type == TFL_UINT8 ? 1
                      : x->type == TFL_INT16 ? 2 : x->type == TFL_INT64 ? 8 : 4;
        uint8_t *p;
        data = cr_fb_vec(b, 1, x->count * size, 16, &p);
        for (size_t i = 0; data && i < x->count; i++) {
            if (x->type == TFL_FLOAT32)
                cr_fb_put_f32(p + 4 * i, ((const float *)x->data)[i]);
            else if (x->type == TFL_INT32)
                cr_fb_put_u32(p + 4 * i, (uint32_t)((const int32_t *)x->data)[i]);
            else if (x->type == TFL_INT16)
                for (int k = 0; k < 2; k++)
                    p[2 * i + (size_t)k] = (uint8_t)((uint16_t)((const int16_t *)x->data)[i] >> (8 * k));
            else if (x->type == TFL_INT64)
                for (int k = 0; k < 8; k++)   /* little-endian */
                    p[8 * i + (size_t)k] = (uint8_t)((uint64_t)((const int64_t *)x->data)[i] >> (8 * k));
            else
                p[i] = ((const uint8_t *)x->data)[i];
        }
    }
    cr_fb_start(b);
    cr_fb_add_ref(b, 0, data);
    return cr_fb_end(b);
}

/* table QuantizationParameters { min, max, scale:[float], zero_point:[long],
 * details (union: 2 fields), quantized_dimension:int } */
static cr_fb_ref write_quant(cr_fb *b, const tl_tensor *x)
{
    if (!x->n_q)
        return 0;
    cr_fb_ref scale = cr_fb_vec_f32(b, x->scale, (size_t)x->n_q);
    cr_fb_ref zero = cr_fb_vec_i64(b, x->zero, (size_t)x->n_q);
    cr_fb_start(b);
    cr_fb_add_ref(b, 2, scale);
    cr_fb_add_ref(b, 3, zero);
    cr_fb_add_i32(b, 6, x->q_dim, 0);
    return cr_fb_end(b);
}

/* table Tensor { shape:[int], type, buffer:uint, name:string, quantization,
 * is_variable, sparsity, shape_signature:[int] } */
static cr_fb_ref write_tensor(cr_fb *b, const tl_tensor *x)
{
    int32_t sig[CR_MAX_DIMS];
    memcpy(sig, x->shape, sizeof sig);
    sig[0] = -1;
    cr_fb_ref shape = cr_fb_vec_i32(b, x->shape, (size_t)x->ndim);
    cr_fb_ref signature = x->batched ? cr_fb_vec_i32(b, sig, (size_t)x->ndim) : 0;
    cr_fb_ref name = cr_fb_string(b, x->name);
    cr_fb_ref quant = write_quant(b, x);
    cr_fb_start(b);
    cr_fb_add_ref(b, 0, shape);
    cr_fb_add_u8(b, 1, x->type, TFL_FLOAT32);
    cr_fb_add_u32(b, 2, x->buffer, 0);
    cr_fb_add_ref(b, 3, name);
    cr_fb_add_ref(b, 4, quant);
    cr_fb_add_ref(b, 7, signature);
    return cr_fb_end(b);
}

static cr_fb_ref write_opts(cr_fb *b, const tl_opts *o)
{
    if (o->type == TFL_OPT_NONE)
        return 0;
    cr_fb_ref vec = o->vec_id >= 0 ? cr_fb_vec_i32(b, o->vec, (size_t)o->n_vec) : 0;
    cr_fb_start(b);
    for (int i = 0; i < o->n_f; i++) {
        const tl_field *f = &o->f[i];
        if (f->kind == 'b' || f->kind == 'B')
            cr_fb_add_u8(b, f->id, (uint8_t)f->i, f->kind == 'B');
        else if (f->kind == 'i')
            cr_fb_add_i32(b, f->id, f->i, 0);
        else
            cr_fb_add_f32(b, f->id, f->f, 0.0f);
    }
    if (vec)
        cr_fb_add_ref(b, o->vec_id, vec);
    return cr_fb_end(b);
}

/* table Operator { opcode_index:uint, inputs:[int], outputs:[int],
 * builtin_options (union: type, value) } */
static cr_fb_ref write_op(cr_fb *b, const tl_op *x, uint32_t opcode)
{
    cr_fb_ref in = cr_fb_vec_i32(b, x->in, (size_t)x->n_in);
    cr_fb_ref out = cr_fb_vec_i32(b, &x->out, 1);
    cr_fb_ref opts = write_opts(b, &x->opts);
    cr_fb_start(b);
    cr_fb_add_u32(b, 0, opcode, 0);
    cr_fb_add_ref(b, 1, in);
    cr_fb_add_ref(b, 2, out);
    cr_fb_add_u8(b, 3, x->opts.type, TFL_OPT_NONE);
    cr_fb_add_ref(b, 4, opts);
    return cr_fb_end(b);
}

/* table OperatorCode { deprecated_builtin_code:byte, custom_code, version:int
 * = 1, builtin_code:BuiltinOperator (int32, schema 3a) }: both codes, so
 * readers of either era find it */
static cr_fb_ref write_opcode(cr_fb *b, int code, int version)
{
    cr_fb_start(b);
    cr_fb_add_u8(b, 0, (uint8_t)(code < TFL_PLACEHOLDER_FOR_GREATER_OP_CODES
                                 ? code : TFL_PLACEHOLDER_FOR_GREATER_OP_CODES), 0);
    cr_fb_add_i32(b, 2, version, 1);
    cr_fb_add_i32(b, 3, code, 0);
    return cr_fb_end(b);
}

/* The operator codes used, in order of first use; opcode[i]: op i's index. */
static int opcodes(tl *t, int *codes, int *versions, uint32_t *opcode)
{
    int n = 0;
    for (int i = 0; i < t->n_op; i++) {
        int k = 0;
        while (k < n && (codes[k] != t->op[i].code || versions[k] != t->op[i].version))
            k++;
        if (k == n) {
            codes[n] = t->op[i].code;
            versions[n++] = t->op[i].version;
        }
        opcode[i] = (uint32_t)k;
    }
    return n;
}

/* table SubGraph { tensors, inputs, outputs, operators, name } and table
 * Model { version:uint, operator_codes, subgraphs, description, buffers } */
static int serialize(tl *t, cr_fb *b, const char *name, const uint8_t **out, size_t *len)
{
    int n_ref = t->n_buf > t->n_t ? t->n_buf : t->n_t;
    n_ref = n_ref > t->n_op ? n_ref : t->n_op;
    cr_fb_ref *refs = cr_tl_alloc(t, (size_t)n_ref * sizeof *refs);
    int *codes = cr_tl_alloc(t, (size_t)(t->n_op + 1) * sizeof *codes);
    int *versions = cr_tl_alloc(t, (size_t)(t->n_op + 1) * sizeof *versions);
    uint32_t *opcode = cr_tl_alloc(t, (size_t)(t->n_op + 1) * sizeof *opcode);
    if (t->err)
        return t->err;
    for (int i = 0; i < t->n_buf; i++)
        refs[i] = write_buffer(b, &t->buf[i]);
    cr_fb_ref buffers = cr_fb_vec_refs(b, refs, (size_t)t->n_buf);
    for (int i = 0; i < t->n_t; i++)
        refs[i] = write_tensor(b, &t->t[i]);
    cr_fb_ref tensors = cr_fb_vec_refs(b, refs, (size_t)t->n_t);
    int n_codes = opcodes(t, codes, versions, opcode);
    for (int i = 0; i < t->n_op; i++)
        refs[i] = write_op(b, &t->op[i], opcode[i]);
    cr_fb_ref ops = cr_fb_vec_refs(b, refs, (size_t)t->n_op);
    for (int i = 0; i < n_codes; i++)
        refs[i] = write_opcode(b, codes[i], versions[i]);
    cr_fb_ref op_codes = cr_fb_vec_refs(b, refs, (size_t)n_codes);
    cr_fb_ref ins = cr_fb_vec_i32(b, t->ins, (size_t)t->n_ins);
    cr_fb_ref outs = cr_fb_vec_i32(b, t->outs, (size_t)t->n_outs);
    cr_fb_ref sg_name = cr_fb_string(b, name);
    cr_fb_start(b);
    cr_fb_add_ref(b, 0, tensors);
    cr_fb_add_ref(b, 1, ins);
    cr_fb_add_ref(b, 2, outs);
    cr_fb_add_ref(b, 3, ops);
    cr_fb_add_ref(b, 4, sg_name);
    cr_fb_ref sg = cr_fb_end(b);
    cr_fb_ref subgraphs = cr_fb_vec_refs(b, &sg, 1);
    cr_fb_ref desc = cr_fb_string(b, "crest " CREST_VERSION);
    cr_fb_start(b);
    cr_fb_add_u32(b, 0, TFL_SCHEMA_VERSION, 0);
    cr_fb_add_ref(b, 1, op_codes);
    cr_fb_add_ref(b, 2, subgraphs);
    cr_fb_add_ref(b, 3, desc);
    cr_fb_add_ref(b, 4, buffers);
    cr_fb_ref model = cr_fb_end(b);
    return cr_fb_finish(b, model, "TFL3", out, len);
}

/* ---- the model's graph ------------------------------------------------------ */

/* Consumers of each node (a graph output counts as one more) and the last. */
static bool count_uses(tl *t, const cr_graph *g)
{
    t->tensor = cr_tl_alloc(t, (size_t)g->n * sizeof *t->tensor);
    t->uses = cr_tl_alloc(t, (size_t)g->n * sizeof *t->uses);
    t->user = cr_tl_alloc(t, (size_t)g->n * sizeof *t->user);
    t->done = cr_tl_alloc(t, (size_t)g->n * sizeof *t->done);
    t->ins = cr_tl_alloc(t, (size_t)g->n_inputs * sizeof *t->ins);
    t->outs = cr_tl_alloc(t, (size_t)g->n_outputs * sizeof *t->outs);
    if (t->err)
        return false;
    t->other = cr_tl_alloc(t, (size_t)g->n * sizeof *t->other);
    if (t->err)
        return false;
    for (int i = 0; i < g->n; i++)
        t->tensor[i] = t->other[i] = -1;
    for (int i = 0; i < g->n; i++)
        for (int k = 0; k < g->nodes[i]->n_in; k++) {
            int id = g->nodes[i]->in[k]->id;
            t->uses[id]++;
            t->user[id] = i;
        }
    for (int k = 0; k < g->n_outputs; k++)
        t->uses[g->outputs[k]->id]++;
    return true;
}

/* A name for input or output k: the Input's or the layer's (given as
 * known) when no tensor has it yet. */
static const char *io_name(tl *t, const char *known, const cr_node *n, const char *what, int k)
{
    const char *base = known && *known ? known : n->layer && *n->layer ? n->layer : what;
    for (int i = 0; i < t->n_t; i++)
        if (t->t[i].name && !strcmp(t->t[i].name, base))
            return cr_tl_str(t, "%s_%d", what, k);
    return cr_tl_str(t, "%s", base);
}

static int build_graph(tl *t, crest_model *m, cr_graph *g)
{
    t->g = g;
    if (!count_uses(t, g))
        return t->err;
    if (m->quant) {     /* int8 where crest's int8 graph has it (tflite_int8.c) */
        t->q = m->quant;
        t->qtype = m->quant->act16 ? TFL_INT16 : TFL_INT8;
        t->zoff = m->quant->act16 ? 0 : 128;
        if (!(t->keys = cr_tl_alloc(t, (size_t)g->n * sizeof *t->keys)))
            return t->err;
        cr_graph_qkeys(g, t->keys);
    }
    crest_sym *syms[CR_MAX_IO];
    int n_syms = cr_functional_inputs(m, syms);
    for (int k = 0; k < g->n_inputs && !t->err; k++) {
        const cr_node *x = g->inputs[k];
        const char *name = io_name(t, n_syms == g->n_inputs ? syms[k]->name : NULL, x, "input", k);
        t->ins[t->n_ins++] = t->tensor[x->id] = cr_tl_tensor_dims(t, name, &x->shape);
    }
    for (int i = 0; i < g->n && !t->err; i++) {
        const cr_node *n = g->nodes[i];
        if (n->kind == CR_NODE_INPUT && t->tensor[n->id] < 0)
            return cr_fail(CREST_E_UNSUPPORTED, "model '%s': an input the model does not "
                           "declare cannot be exported to TFLite", m->name);
        if (n->kind == CR_NODE_OP && !t->done[n->id])
            cr_tl_emit(t, n);
    }
    for (int k = 0; k < g->n_outputs && !t->err; k++) {
        const cr_node *o = g->outputs[k];
        int y = cr_tl_val(t, o);
        for (int i = 0; i < t->n_ins && y >= 0; i++)
            if (t->ins[i] == y) {   /* the input unchanged: a copy, as a RESHAPE */
                int z = cr_tl_tensor_dims(t, "", &o->shape);
                y = z >= 0 ? cr_tl_reshape(t, y, t->t[z].shape, t->t[z].ndim, z) : -1;
                break;
            }
        if (y >= 0) {   /* the output tensor takes the output layer's name */
            t->t[y].name = "";
            t->t[y].name = io_name(t, NULL, g->outputs[k], "output", k);
        }
        t->outs[t->n_outs++] = y;
    }
    return t->err;
}

/* The FlatBuffer of m into b; *out / *len inside b. */
static int pack_model(crest_model *m, cr_fb *b, const uint8_t **out, size_t *len)
{
    if (crest_model_features(m))
        return cr_fail(CREST_E_UNSUPPORTED,
                       "layer '%s': DenseFeatures (feature columns: lookups, hashing, "
                       "buckets, embeddings of raw table rows) cannot be exported to TFLite",
                       m->layers[0]->name);
    cr_graph *g = cr_graph_new(m, false);
    if (!g)
        return cr_fail(CREST_E_NOMEM, "out of memory tracing model '%s'", m->name);
    cr_node *y = cr_model_trace(m, g);
    int rc = cr_graph_status(g);
    if (!rc && g->n_outputs == 0)
        g->outputs[g->n_outputs++] = y;
    tl t = { 0 };
    if (!rc)
        rc = cr_tl_start(&t) ? build_graph(&t, m, g) : t.err;
    if (!rc)
        rc = serialize(&t, b, m->name, out, len);
    cr_tl_free(&t);
    cr_graph_free(g);
    return rc;
}

int crest_model_save_tflite(crest_model *m, const char *path)
{
    if (!m || !path)
        return cr_fail(CREST_E_ARG, "save_tflite: NULL argument");
    int rc = cr_model_build(m);
    if (!rc)
        rc = cr_check_finite(m);
    cr_fb b = { 0 };
    const uint8_t *buf = NULL;
    size_t len = 0;
    if (!rc)
        rc = pack_model(m, &b, &buf, &len);
    if (!rc)
        rc = cr_write_file_atomic(path, buf, len);
    cr_fb_free(&b);
    return rc ? cr_wrap(rc, "%s", path) : CREST_OK;
}
