/* test_onnx_export.c - crest_model_save_onnx from C: the file reads back
 * with the protobuf-c structs it was written with (opset, inputs, outputs,
 * dynamic batch, op types, NCHW inside), two-input functional models keep
 * both inputs, a quantized model is QDQ int8 (per-channel kernel codes,
 * int32 biases, a float classifier output), bad arguments are refused, and every allocation failure is
 * CREST_E_NOMEM leaving no file (leaks show under ASan). Runtimes that are
 * not crest's check the files in tests/scripts/onnx_export.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "onnx.pb-c.h"
#include "oomutil.h"

static Onnx__ModelProto *read_back(const char *path)
{
    size_t n = 0;
    char *buf = tu_read_file(path, &n);
    assert_non_null(buf);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, (const uint8_t *)buf);
    free(buf);
    assert_non_null(m);
    return m;
}

static int count_op(const Onnx__ModelProto *m, const char *op)
{
    int k = 0;
    for (size_t i = 0; i < m->graph->n_node; i++)
        k += !strcmp(m->graph->node[i]->op_type, op);
    return k;
}

/* [6,6,3] -> BatchNormalization -> ReLU6 -> GlobalAveragePooling2D -> Dense
 * softmax */
static crest_model *small_cnn(void)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(3, 6, 6, 3)), CREST_OK);
    assert_int_equal(crest_add(m, crest_batch_normalization(0, 0, true, true)), CREST_OK);
    assert_int_equal(crest_add(m, crest_activation(CREST_RELU6)), CREST_OK);
    assert_int_equal(crest_add(m, crest_global_pooling2d(false, false)), CREST_OK);
    assert_int_equal(crest_add(m, crest_dense(4, CREST_SOFTMAX)), CREST_OK);
    return m;
}

static void test_cnn_reads_back(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/m.onnx", tu_fixture_dir);
    crest_model *cm = small_cnn();
    assert_int_equal(crest_model_save_onnx(cm, path), CREST_OK);
    Onnx__ModelProto *m = read_back(path);
    assert_int_equal(m->n_opset_import, 1);
    assert_int_equal(m->opset_import[0]->version, 13);
    assert_string_equal(m->producer_name, "crest");
    const Onnx__GraphProto *g = m->graph;
    assert_int_equal(g->n_input, 1);
    assert_int_equal(g->n_output, 1);
    const Onnx__TensorShapeProto *in = g->input[0]->type->tensor_type->shape;
    assert_int_equal(in->n_dim, 4);     /* NHWC, as crest's */
    assert_string_equal(in->dim[0]->dim_param, "batch");
    assert_int_equal(in->dim[1]->dim_value, 6);
    assert_int_equal(in->dim[3]->dim_value, 3);
    const Onnx__TensorShapeProto *out = g->output[0]->type->tensor_type->shape;
    assert_int_equal(out->n_dim, 2);
    assert_int_equal(out->dim[1]->dim_value, 4);
    assert_int_equal(count_op(m, "Transpose"), 1);      /* at the input only */
    assert_int_equal(count_op(m, "BatchNormalization"), 1);
    assert_int_equal(count_op(m, "Clip"), 1);         /* bounds: scalar initializers */
    assert_int_equal(count_op(m, "GlobalAveragePool"), 1);
    assert_int_equal(count_op(m, "MatMul"), 1);
    assert_int_equal(count_op(m, "Softmax"), 1);
    onnx__model_proto__free_unpacked(m, NULL);
    crest_model_free(cm);
}

static void test_two_inputs(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/two.onnx", tu_fixture_dir);
    crest_model *m = NULL;
    assert_int_equal(crest_functional_new(&m, "two"), CREST_OK);
    crest_sym *a = crest_input(m, crest_shape(1, 5), "pixels");
    crest_sym *b = crest_input(m, crest_shape(1, 3), "table");
    crest_sym *ha = crest_apply(m, crest_dense(4, CREST_RELU), a);
    crest_sym *hb = crest_apply(m, crest_dense(2, CREST_TANH), b);
    crest_sym *both = crest_call(m, crest_concatenate(-1), (crest_sym *[]){ ha, hb }, 2);
    crest_sym *y = crest_apply(m, crest_dense(3, CREST_SOFTMAX), both);
    assert_int_equal(crest_functional_outputs(m, (crest_sym *[]){ a, b }, 2, &y, 1), CREST_OK);
    assert_int_equal(crest_model_save_onnx(m, path), CREST_OK);
    Onnx__ModelProto *p = read_back(path);
    assert_int_equal(p->graph->n_input, 2);
    assert_string_equal(p->graph->input[0]->name, "pixels");
    assert_string_equal(p->graph->input[1]->name, "table");
    assert_int_equal(count_op(p, "Concat"), 1);
    assert_int_equal(count_op(p, "Transpose"), 0);
    onnx__model_proto__free_unpacked(p, NULL);
    crest_model_free(m);
}

/* [6,6,3] -> Conv2D 3x3 same -> BatchNormalization -> ReLU6 ->
 * GlobalAveragePooling2D -> Dense(8, relu) -> Dense softmax, quantized
 * (crest_quantize on made-up images: the norm folds into the conv). */
static crest_model *conv_bn_int8(void)
{
    enum { N = 40 };
    crest_model *m = NULL;
    crest_layer *conv = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(3, 6, 6, 3)), CREST_OK);
    assert_int_equal(crest_layer_from_keras("Conv2D", "{\"filters\": 5, \"kernel_size\": [3, 3], "
                                            "\"padding\": \"same\"}", &conv), CREST_OK);
    assert_int_equal(crest_add(m, conv), CREST_OK);
    assert_int_equal(crest_add(m, crest_batch_normalization(0, 0, true, true)), CREST_OK);
    assert_int_equal(crest_add(m, crest_activation(CREST_RELU6)), CREST_OK);
    assert_int_equal(crest_add(m, crest_global_pooling2d(false, false)), CREST_OK);
    assert_int_equal(crest_add(m, crest_dense(8, CREST_RELU)), CREST_OK);
    assert_int_equal(crest_add(m, crest_dense(4, CREST_SOFTMAX)), CREST_OK);
    float *x = malloc(N * 6 * 6 * 3 * sizeof *x);
    assert_non_null(x);
    for (int i = 0; i < N * 6 * 6 * 3; i++)
        x[i] = (float)((i * 7919) % 1000) / 1000.0f;
    crest_dataset *cal = NULL;
    assert_int_equal(crest_dataset_new(&cal, N, crest_shape(3, 6, 6, 3), x, NULL, 0), CREST_OK);
    assert_int_equal(crest_quantize(m, cal, &(crest_quant_opts){ .samples = N }), CREST_OK);
    crest_dataset_free(cal);
    free(x);
    return m;
}

static const Onnx__TensorProto *initializer(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!strcmp(g->initializer[i]->name, name))
            return g->initializer[i];
    return NULL;
}

static const Onnx__NodeProto *producer(const Onnx__GraphProto *g, const char *value)
{
    for (size_t i = 0; i < g->n_node; i++)
        if (!strcmp(g->node[i]->output[0], value))
            return g->node[i];
    return NULL;
}

/* The DequantizeLinear feeding input k of node n: its initializer x's type,
 * its scale's and zero point's element counts (and the zero points). */
static const Onnx__TensorProto *dq_input(const Onnx__GraphProto *g, const Onnx__NodeProto *n,
                                         int k, size_t *n_scale, const Onnx__TensorProto **zp)
{
    const Onnx__NodeProto *d = producer(g, n->input[k]);
    assert_non_null(d);
    assert_string_equal(d->op_type, "DequantizeLinear");
    assert_int_equal(d->n_input, 3);
    const Onnx__TensorProto *s = initializer(g, d->input[1]);
    *zp = initializer(g, d->input[2]);
    assert_non_null(s);
    assert_non_null(*zp);
    *n_scale = s->n_dims ? (size_t)s->dims[0] : 1;
    assert_int_equal((*zp)->n_dims ? (size_t)(*zp)->dims[0] : 1, *n_scale);
    return initializer(g, d->input[0]);   /* NULL: an activation */
}

/* The quantized model as QDQ: one Conv reading a dequantized input, its
 * kernel uint8 codes (zero point 128) per output channel, its bias int32;
 * the hidden Dense a Gemm whose output is quantized, the classifier a Gemm
 * with a float output (only the softmax reads it); ReLU6 left to the
 * QuantizeLinear (its zero point 0, 6 the top code). */
static void test_int8_qdq(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/q.onnx", tu_fixture_dir);
    crest_model *cm = conv_bn_int8();
    assert_int_equal(crest_model_save_onnx(cm, path), CREST_OK);
    Onnx__ModelProto *m = read_back(path);
    const Onnx__GraphProto *g = m->graph;
    assert_int_equal(count_op(m, "Conv"), 1);
    assert_int_equal(count_op(m, "Gemm"), 2);
    assert_int_equal(count_op(m, "BatchNormalization"), 0);   /* folded */
    assert_int_equal(count_op(m, "Clip"), 0);
    assert_int_equal(count_op(m, "MatMul"), 0);
    assert_true(count_op(m, "QuantizeLinear") >= 4);   /* input, conv, pooling, dense */
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        size_t ns;
        const Onnx__TensorProto *zp, *t;
        if (!strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "Gemm")) {
            assert_int_equal(n->n_input, 3);
            assert_null(dq_input(g, n, 0, &ns, &zp));          /* an activation: per tensor */
            assert_int_equal(ns, 1);
            assert_int_equal(zp->data_type, ONNX__TENSOR_PROTO__DATA_TYPE__UINT8);
            t = dq_input(g, n, 1, &ns, &zp);
            assert_non_null(t);
            assert_int_equal(t->data_type, ONNX__TENSOR_PROTO__DATA_TYPE__UINT8);
            assert_int_equal(zp->raw_data.data[0], 128);
            size_t oc = !strcmp(n->op_type, "Conv") ? (size_t)t->dims[0] : (size_t)t->dims[1];
            assert_int_equal(ns, oc);                            /* per output channel */
            for (size_t k = 0; k < t->raw_data.len; k++)
                assert_true(t->raw_data.data[k] >= 1);         /* codes -127..127 */
            t = dq_input(g, n, 2, &ns, &zp);
            assert_int_equal(t->data_type, ONNX__TENSOR_PROTO__DATA_TYPE__INT32);
            assert_int_equal(ns, oc);
        }
    }
    /* the classifier's Gemm feeds the Softmax directly (float out) */
    const Onnx__NodeProto *sm = NULL;
    for (size_t i = 0; i < g->n_node; i++)
        if (!strcmp(g->node[i]->op_type, "Softmax"))
            sm = g->node[i];
    assert_non_null(sm);
    assert_string_equal(producer(g, sm->input[0])->op_type, "Gemm");
    onnx__model_proto__free_unpacked(m, NULL);
    crest_model_free(cm);
}

/* A quantized model's export under failing allocations: CREST_E_NOMEM, no
 * file, no leak. */
static void test_int8_out_of_memory(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/q_oom.onnx", tu_fixture_dir);
    crest_model *m = conv_bn_int8();
    assert_true(tu_export_oom(m, path, crest_model_save_onnx) > 10);
    crest_model_free(m);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    crest_model *m = small_cnn();
    assert_int_equal(crest_model_save_onnx(NULL, "x.onnx"), CREST_E_ARG);
    assert_int_equal(crest_model_save_onnx(m, NULL), CREST_E_ARG);
    char path[160];
    snprintf(path, sizeof path, "%s/no/such/folder/m.onnx", tu_fixture_dir);
    assert_int_equal(crest_model_save_onnx(m, path), CREST_E_IO);
    assert_non_null(strstr(crest_last_error(), "m.onnx"));
    crest_model_free(m);
}

/* Allocation k fails for k = 0, 1, ... until the save succeeds: each
 * failure is CREST_E_NOMEM and leaves neither the file nor a temp file. */
static void test_out_of_memory(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/oom.onnx", tu_fixture_dir);
    crest_model *m = small_cnn();
    assert_true(tu_export_oom(m, path, crest_model_save_onnx) > 10);
    crest_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cnn_reads_back, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(test_two_inputs, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(test_int8_qdq, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(test_int8_out_of_memory, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_arguments, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(test_out_of_memory, tu_setup_dir, tu_teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
