/* onnx.c - a model as an ONNX file (float32, opset 13; QDQ int8 for a quantized
 * model), for ONNX Runtime and
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
 * ("batch"). Weights are written as raw little-endian float32.
 *
 * A model crest quantize made is written as QDQ int8 where crest runs it
 * int8 (src/io/onnx_int8.c).
 *
 * This file writes the model: its inputs and outputs, the graph from the
 * traced ops, and the packed file; the building blocks are in
 * src/io/onnx_proto.c, the op-by-op mapping in src/io/onnx_ops.c and the
 * int8 ops of a quantized model in src/io/onnx_int8.c. */
#include "onnx_build.h"
#include "../functional_graph.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define ONNX_OPSET 13
#define ONNX_IR_VERSION 7

/* ---- graph inputs and outputs ------------------------------------------- */

static Onnx__ValueInfoProto *value_info(ox *o, const char *name, const cr_dims *s)
{
    Onnx__ValueInfoProto *v = cr_ox_alloc(o, sizeof *v);
    Onnx__TypeProto *t = cr_ox_alloc(o, sizeof *t);
    Onnx__TypeProto__Tensor *tt = cr_ox_alloc(o, sizeof *tt);
    Onnx__TensorShapeProto *sh = cr_ox_alloc(o, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **d = cr_ox_alloc(o, (size_t)(s->ndim ? s->ndim : 1) * sizeof *d);
    if (!v || !t || !tt || !sh || !d)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < s->ndim; i++) {
        if (!(d[i] = cr_ox_alloc(o, sizeof **d)))
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
    char *s = cr_ox_str(o, "%s", base);
    for (int i = 0; s && i < n_taken; i++)
        if (taken[i] && !strcmp(taken[i], s))
            return cr_ox_str(o, "%s_%d", what, k);
    return s;
}

static int build_graph(ox *o, crest_model *m, cr_graph *g)
{
    Onnx__GraphProto *gp = o->g;
    gp->name = cr_ox_str(o, "%s", m->name);
    char *io[2 * CR_MAX_IO] = { 0 };
    int n_io = 0;
    gp->input = cr_ox_alloc(o, (size_t)g->n_inputs * sizeof *gp->input);
    gp->output = cr_ox_alloc(o, (size_t)g->n_outputs * sizeof *gp->output);
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
        int r = n->kind == CR_NODE_OP && o->q ? cr_ox_emit_int8(o, n) : 0;
        if (n->kind == CR_NODE_OP && !r)
            cr_ox_emit_op(o, n);
    }
    for (int k = 0; k < g->n_outputs && !o->err; k++) {
        const cr_node *y = g->outputs[k];
        char *name = io_name(o, NULL, y, "output", k, io, n_io);
        io[n_io++] = name;
        cr_ox_unary(o, "Identity", cr_ox_val(o, y, false), name);
        gp->output[gp->n_output++] = value_info(o, name, &y->shape);
    }
    return o->err;
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
        o.name = cr_ox_alloc(&o, (size_t)g->n * sizeof *o.name);
        o.alt = cr_ox_alloc(&o, (size_t)g->n * sizeof *o.alt);
        o.nchw = cr_ox_alloc(&o, (size_t)g->n * sizeof *o.nchw);
        if (!o.err && m->quant)      /* QDQ int8 where crest runs int8 (onnx_int8.c) */
            cr_ox_int8_start(&o, g, m->quant);
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
    cr_ox_free(&o);
    cr_graph_free(g);
    return rc;
}

int crest_model_save_onnx(crest_model *m, const char *path)
{
    if (!m || !path)
        return cr_fail(CREST_E_ARG, "save_onnx: NULL argument");
    int rc = cr_quant_refuse16(m, "exported to ONNX");
    if (rc)
        return rc;
    rc = cr_model_build(m);
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
