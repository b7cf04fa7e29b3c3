/* test_tflite_export.c - crest_model_save_tflite from C: the file reads back
 * with a FlatBuffers reader written here from the format's rules (vtables,
 * offsets, vectors; not crest's builder), in TFLite's schema: identifier,
 * version, buffer 0 empty and weight data 16-aligned, inputs and outputs
 * with the batch dynamic in shape_signature, the operators (a batch norm
 * folded into the convolution before it, ReLU6 fused; alone, it is MUL +
 * ADD), two inputs kept by name, a quantized model's int8 operators and
 * tensors (per-channel kernels, int32 biases, QUANTIZE / DEQUANTIZE at the
 * float edges); the same model gives the same bytes; bad
 * arguments are refused, and every allocation failure is CREST_E_NOMEM
 * leaving no file (leaks show under ASan). A runtime that is not crest's
 * checks the files in tests/scripts/tflite_export.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "oomutil.h"

/* ---- a FlatBuffers reader ---- */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

typedef struct fbr { const uint8_t *buf; size_t len; } fbr;

static const uint8_t *at(const fbr *f, const uint8_t *p, size_t n)
{
    assert_true(p >= f->buf && p + n <= f->buf + f->len);
    return p;
}

/* Field id of a table, or NULL when absent. */
static const uint8_t *field(const fbr *f, const uint8_t *table, int id)
{
    const uint8_t *vt = at(f, table - (int32_t)rd32(at(f, table, 4)), 4);
    uint16_t vsize = rd16(vt);
    assert_true(vsize >= 4 && vsize % 2 == 0);
    if (4 + 2 * id >= vsize)
        return NULL;
    uint16_t off = rd16(at(f, vt + 4 + 2 * id, 2));
    assert_true(off < rd16(vt + 2));
    return off ? table + off : NULL;
}

static const uint8_t *deref(const fbr *f, const uint8_t *p)
{
    assert_true(((size_t)(p - f->buf)) % 4 == 0);
    return at(f, p + rd32(at(f, p, 4)), 4);
}

/* Object field id (table, vector, string), or NULL. */
static const uint8_t *obj(const fbr *f, const uint8_t *table, int id)
{
    const uint8_t *p = field(f, table, id);
    return p ? deref(f, p) : NULL;
}

static uint32_t vlen(const fbr *f, const uint8_t *v) { return rd32(at(f, v, 4)); }
static const uint8_t *vtab(const fbr *f, const uint8_t *v, uint32_t i)
{
    assert_true(i < vlen(f, v));
    return deref(f, v + 4 + 4 * i);
}

static int32_t vint(const fbr *f, const uint8_t *v, uint32_t i)
{
    assert_true(i < vlen(f, v));
    return (int32_t)rd32(at(f, v + 4 + 4 * i, 4));
}

static int64_t scalar(const fbr *f, const uint8_t *table, int id, int size, int64_t def)
{
    const uint8_t *p = field(f, table, id);
    if (!p)
        return def;
    assert_true(((size_t)(p - f->buf)) % (size_t)size == 0);    /* aligned */
    return size == 1 ? (int8_t)*at(f, p, 1) : (int32_t)rd32(at(f, p, 4));
}

/* ---- TFLite's schema (schema.fbs): the tables and fields read here ---- */
enum { MODEL_VERSION = 0, MODEL_OPCODES = 1, MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4 };
enum { SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPS = 3 };
enum { T_SHAPE = 0, T_TYPE = 1, T_BUFFER = 2, T_NAME = 3, T_QUANT = 4, T_SIGNATURE = 7 };
enum { Q_SCALE = 2, Q_ZERO = 3, Q_DIM = 6 };          /* QuantizationParameters */
enum { INT8 = 9, INT32 = 2, FLOAT32 = 0, INT16 = 7, INT64 = 4 };   /* TensorType */
enum { OP_OPCODE = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPT_TYPE = 3, OP_OPTS = 4 };
enum { CONV_2D = 3, FULLY_CONNECTED = 9, MUL = 18, ADD = 0, RELU6 = 21, MEAN = 40,
       SOFTMAX = 25, CONCATENATION = 2, TANH = 28, QUANTIZE = 114, DEQUANTIZE = 6,
       AVERAGE_POOL_2D = 1, RESHAPE = 22 };

typedef struct tfl {
    fbr f;
    char *raw;
    const uint8_t *model, *sg, *tensors, *ops, *codes;
} tfl;

static void open_tfl(tfl *t, const char *path)
{
    size_t n = 0;
    t->raw = tu_read_file(path, &n);
    assert_non_null(t->raw);
    t->f = (fbr){ (const uint8_t *)t->raw, n };
    assert_true(n >= 8 && n % 4 == 0);
    assert_memory_equal(t->raw + 4, "TFL3", 4);
    t->model = deref(&t->f, t->f.buf);
    assert_int_equal(scalar(&t->f, t->model, MODEL_VERSION, 4, 0), 3);
    const uint8_t *sgs = obj(&t->f, t->model, MODEL_SUBGRAPHS);
    assert_int_equal(vlen(&t->f, sgs), 1);
    t->sg = vtab(&t->f, sgs, 0);
    t->tensors = obj(&t->f, t->sg, SG_TENSORS);
    t->ops = obj(&t->f, t->sg, SG_OPS);
    t->codes = obj(&t->f, t->model, MODEL_OPCODES);
    /* buffer 0 is empty; every buffer's data starts 16-aligned */
    const uint8_t *bufs = obj(&t->f, t->model, MODEL_BUFFERS);
    assert_null(obj(&t->f, vtab(&t->f, bufs, 0), 0));
    for (uint32_t i = 1; i < vlen(&t->f, bufs); i++) {
        const uint8_t *d = obj(&t->f, vtab(&t->f, bufs, i), 0);
        assert_non_null(d);
        assert_int_equal((size_t)(d + 4 - t->f.buf) % 16, 0);
    }
}

/* Builtin code of operator i (OperatorCode: deprecated_builtin_code, and
 * builtin_code from schema 3a; both written) */
static int op_code(const tfl *t, uint32_t i)
{
    const uint8_t *op = vtab(&t->f, t->ops, i);
    const uint8_t *c = vtab(&t->f, t->codes, (uint32_t)scalar(&t->f, op, OP_OPCODE, 4, 0));
    int64_t old = scalar(&t->f, c, 0, 1, 0), code = scalar(&t->f, c, 3, 4, 0);
    assert_true(code == old || (old == 127 && code > 127));
    return (int)code;
}

static int count_op(const tfl *t, int code)
{
    int k = 0;
    for (uint32_t i = 0; i < vlen(&t->f, t->ops); i++)
        k += op_code(t, i) == code;
    return k;
}

/* Tensor k's shape (and shape_signature) into s / sig; its rank. */
static int tensor_shape(const tfl *t, int k, int32_t *s, int32_t *sig)
{
    const uint8_t *x = vtab(&t->f, t->tensors, (uint32_t)k);
    const uint8_t *v = obj(&t->f, x, T_SHAPE), *g = obj(&t->f, x, T_SIGNATURE);
    int n = (int)vlen(&t->f, v);
    for (int i = 0; i < n; i++) {
        s[i] = vint(&t->f, v, (uint32_t)i);
        sig[i] = g ? vint(&t->f, g, (uint32_t)i) : s[i];
    }
    return n;
}

static const char *tensor_name(const tfl *t, int k)
{
    const uint8_t *s = obj(&t->f, vtab(&t->f, t->tensors, (uint32_t)k), T_NAME);
    assert_int_equal(s[4 + vlen(&t->f, s)], 0);      /* NUL-terminated */
    return (const char *)s + 4;
}

/* ---- tests ---- */

static crest_layer *keras(const char *cls, const char *cfg)
{
    crest_layer *l = NULL;
    assert_int_equal(crest_layer_from_keras(cls, cfg, &l), CREST_OK);
    return l;
}

/* [6,6,3] -> Conv2D 3x3 same -> BatchNormalization -> ReLU6 ->
 * GlobalAveragePooling2D -> Dense softmax */
static crest_model *conv_bn(void)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(3, 6, 6, 3)), CREST_OK);
    assert_int_equal(crest_add(m, keras("Conv2D", "{\"filters\": 5, \"kernel_size\": [3, 3], "
                                        "\"padding\": \"same\"}")), CREST_OK);
    assert_int_equal(crest_add(m, crest_batch_normalization(0, 0, true, true)), CREST_OK);
    assert_int_equal(crest_add(m, crest_activation(CREST_RELU6)), CREST_OK);
    assert_int_equal(crest_add(m, crest_global_pooling2d(false, false)), CREST_OK);
    assert_int_equal(crest_add(m, crest_dense(4, CREST_SOFTMAX)), CREST_OK);
    return m;
}

static void test_conv_reads_back(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/m.tflite", tu_fixture_dir);
    crest_model *cm = conv_bn();
    assert_int_equal(crest_model_save_tflite(cm, path), CREST_OK);
    tfl t;
    open_tfl(&t, path);
    const uint8_t *ins = obj(&t.f, t.sg, SG_INPUTS), *outs = obj(&t.f, t.sg, SG_OUTPUTS);
    assert_int_equal(vlen(&t.f, ins), 1);
    assert_int_equal(vlen(&t.f, outs), 1);
    int32_t s[8], sig[8];
    assert_int_equal(tensor_shape(&t, vint(&t.f, ins, 0), s, sig), 4);   /* NHWC */
    assert_int_equal(s[0], 1);
    assert_int_equal(sig[0], -1);                   /* the batch: dynamic */
    assert_int_equal(s[1], 6);
    assert_int_equal(s[3], 3);
    assert_int_equal(tensor_shape(&t, vint(&t.f, outs, 0), s, sig), 2);
    assert_int_equal(s[1], 4);
    /* CONV_2D (the batch norm folded, ReLU6 fused), MEAN, FULLY_CONNECTED, SOFTMAX */
    assert_int_equal(vlen(&t.f, t.ops), 4);
    assert_int_equal(count_op(&t, CONV_2D), 1);
    assert_int_equal(count_op(&t, MEAN), 1);
    assert_int_equal(count_op(&t, FULLY_CONNECTED), 1);
    assert_int_equal(count_op(&t, SOFTMAX), 1);
    const uint8_t *conv = vtab(&t.f, t.ops, 0);
    assert_int_equal(scalar(&t.f, conv, OP_OPT_TYPE, 1, 0), 1);           /* Conv2DOptions */
    const uint8_t *o = obj(&t.f, conv, OP_OPTS);
    assert_int_equal(scalar(&t.f, o, 3, 1, 0), 3);    /* fused_activation_function RELU6 */
    assert_int_equal(scalar(&t.f, o, 0, 1, 0), 0);    /* padding SAME */
    const uint8_t *cin = obj(&t.f, conv, OP_INPUTS);
    assert_int_equal(vlen(&t.f, cin), 3);               /* input, filter, bias */
    assert_int_equal(tensor_shape(&t, vint(&t.f, cin, 1), s, sig), 4);
    assert_int_equal(s[0], 5);                          /* [oc, kh, kw, c] */
    assert_int_equal(s[3], 3);
    free(t.raw);
    crest_model_free(cm);
}

static void test_batchnorm_alone(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/bn.tflite", tu_fixture_dir);
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(3, 6, 6, 3)), CREST_OK);
    assert_int_equal(crest_add(m, crest_batch_normalization(0, 0, true, true)), CREST_OK);
    assert_int_equal(crest_add(m, crest_activation(CREST_RELU6)), CREST_OK);
    assert_int_equal(crest_add(m, crest_global_pooling2d(false, false)), CREST_OK);
    assert_int_equal(crest_add(m, crest_dense(4, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_model_save_tflite(m, path), CREST_OK);
    tfl t;
    open_tfl(&t, path);
    assert_int_equal(count_op(&t, MUL), 1);
    assert_int_equal(count_op(&t, ADD), 1);
    assert_int_equal(count_op(&t, RELU6), 1);
    free(t.raw);
    crest_model_free(m);
}

static void test_two_inputs(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/two.tflite", tu_fixture_dir);
    crest_model *m = NULL;
    assert_int_equal(crest_functional_new(&m, "two"), CREST_OK);
    crest_sym *a = crest_input(m, crest_shape(1, 5), "pixels");
    crest_sym *b = crest_input(m, crest_shape(1, 3), "table");
    crest_sym *ha = crest_apply(m, crest_dense(4, CREST_RELU), a);
    crest_sym *hb = crest_apply(m, crest_dense(2, CREST_TANH), b);
    crest_sym *both = crest_call(m, crest_concatenate(-1), (crest_sym *[]){ ha, hb }, 2);
    crest_sym *y = crest_apply(m, crest_dense(3, CREST_SOFTMAX), both);
    assert_int_equal(crest_functional_outputs(m, (crest_sym *[]){ a, b }, 2, &y, 1), CREST_OK);
    assert_int_equal(crest_model_save_tflite(m, path), CREST_OK);
    tfl t;
    open_tfl(&t, path);
    const uint8_t *ins = obj(&t.f, t.sg, SG_INPUTS);
    assert_int_equal(vlen(&t.f, ins), 2);
    assert_string_equal(tensor_name(&t, vint(&t.f, ins, 0)), "pixels");
    assert_string_equal(tensor_name(&t, vint(&t.f, ins, 1)), "table");
    assert_int_equal(count_op(&t, CONCATENATION), 1);
    assert_int_equal(count_op(&t, FULLY_CONNECTED), 3);   /* relu fused, tanh not */
    assert_int_equal(count_op(&t, TANH), 1);
    assert_int_equal(vlen(&t.f, t.ops), 6);
    free(t.raw);
    crest_model_free(m);
}

static void test_same_bytes(void **state)
{
    (void)state;
    char p1[128], p2[128];
    snprintf(p1, sizeof p1, "%s/a.tflite", tu_fixture_dir);
    snprintf(p2, sizeof p2, "%s/b.tflite", tu_fixture_dir);
    crest_model *m = conv_bn();
    assert_int_equal(crest_model_save_tflite(m, p1), CREST_OK);
    assert_int_equal(crest_model_save_tflite(m, p2), CREST_OK);
    size_t n1 = 0, n2 = 0;
    char *a = tu_read_file(p1, &n1), *b = tu_read_file(p2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    free(a);
    free(b);
    crest_model_free(m);
}

/* Tensor k's type and the count and axis of its quantization parameters. */
static int tensor_type(const tfl *t, int k, int *n_q, int *q_dim)
{
    const uint8_t *x = vtab(&t->f, t->tensors, (uint32_t)k), *q = obj(&t->f, x, T_QUANT);
    *n_q = q ? (int)vlen(&t->f, obj(&t->f, q, Q_SCALE)) : 0;
    *q_dim = q ? (int)scalar(&t->f, q, Q_DIM, 4, 0) : 0;
    if (q)
        assert_int_equal(vlen(&t->f, obj(&t->f, q, Q_ZERO)), (uint32_t)*n_q);
    return (int)scalar(&t->f, x, T_TYPE, 1, 0);
}

/* m quantized on N deterministic [6,6,3] samples with activations act,
 * written to path and opened as t (free t->raw). */
static void quantize_save_open(crest_model *m, crest_quant_act act, const char *path, tfl *t)
{
    enum { N = 40 };
    float *x = malloc(N * 6 * 6 * 3 * sizeof *x);
    assert_non_null(x);
    for (int i = 0; i < N * 6 * 6 * 3; i++)
        x[i] = (float)((i * 7919) % 1000) / 1000.0f;
    crest_dataset *cal = NULL;
    assert_int_equal(crest_dataset_new(&cal, N, crest_shape(3, 6, 6, 3), x, NULL, 0), CREST_OK);
    assert_int_equal(crest_quantize(m, cal, &(crest_quant_opts){ .samples = N, .activations = act }),
                     CREST_OK);
    assert_int_equal(crest_model_save_tflite(m, path), CREST_OK);
    open_tfl(t, path);
    crest_dataset_free(cal);
    free(x);
}

/* conv_bn quantized (crest_quantize on random images): one QUANTIZE at the
 * input, CONV_2D int8 (int8 per-channel filter on axis 0, int32 bias), MEAN
 * int8, a DEQUANTIZE before the float Dense and softmax. */
static void test_int8(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/q.tflite", tu_fixture_dir);
    crest_model *m = conv_bn();
    tfl t;
    quantize_save_open(m, CREST_QACT_UINT8, path, &t);
    assert_int_equal(count_op(&t, QUANTIZE), 1);
    assert_int_equal(count_op(&t, DEQUANTIZE), 1);
    assert_int_equal(count_op(&t, CONV_2D), 1);
    assert_int_equal(count_op(&t, SOFTMAX), 1);
    int n_q, q_dim;
    for (uint32_t i = 0; i < vlen(&t.f, t.ops); i++) {
        const uint8_t *op = vtab(&t.f, t.ops, i), *in = obj(&t.f, op, OP_INPUTS);
        int code = op_code(&t, i), out = vint(&t.f, obj(&t.f, op, OP_OUTPUTS), 0);
        /* the head's Dense, read by the softmax alone, is float (as crest
         * gives it from its int32 sums) */
        int want = code == SOFTMAX || code == DEQUANTIZE || code == FULLY_CONNECTED ? FLOAT32
                                                                                  : INT8;
        assert_int_equal(tensor_type(&t, out, &n_q, &q_dim), want);
        if (code == CONV_2D) {
            assert_int_equal(tensor_type(&t, vint(&t.f, in, 0), &n_q, &q_dim), INT8);
            assert_int_equal(n_q, 1);                       /* per tensor */
            assert_int_equal(tensor_type(&t, vint(&t.f, in, 1), &n_q, &q_dim), INT8);
            assert_int_equal(n_q, 5);                       /* per output channel */
            assert_int_equal(q_dim, 0);
            assert_int_equal(tensor_type(&t, vint(&t.f, in, 2), &n_q, &q_dim), INT32);
            assert_int_equal(n_q, 5);
        }
    }
    free(t.raw);
    crest_model_free(m);
}

/* [6,6,3] -> Conv2D same -> ReLU6 -> AveragePooling2D 2x2 -> global
 * average pooling -> Dense softmax, quantized with int16 activations:
 * TFLite's 16x8: CONV_2D on int16 (int8 per-channel filter, int64 bias),
 * both poolings AVERAGE_POOL_2D on int16 keeping the input's scale (the
 * global one then RESHAPE'd to [1, 5]), a DEQUANTIZE before the float
 * Dense and softmax (numbers: tests/scripts/quantized16_export.sh). */
static void test_int16(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/q16.tflite", tu_fixture_dir);
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(3, 6, 6, 3)), CREST_OK);
    assert_int_equal(crest_add(m, keras("Conv2D", "{\"filters\": 5, \"kernel_size\": [3, 3], "
                                        "\"padding\": \"same\"}")), CREST_OK);
    assert_int_equal(crest_add(m, crest_activation(CREST_RELU6)), CREST_OK);
    assert_int_equal(crest_add(m, keras("AveragePooling2D", "{\"pool_size\": [2, 2]}")), CREST_OK);
    assert_int_equal(crest_add(m, crest_global_pooling2d(false, false)), CREST_OK);
    assert_int_equal(crest_add(m, crest_dense(4, CREST_SOFTMAX)), CREST_OK);
    tfl t;
    quantize_save_open(m, CREST_QACT_INT16, path, &t);
    assert_int_equal(count_op(&t, QUANTIZE), 1);
    assert_int_equal(count_op(&t, CONV_2D), 1);
    assert_int_equal(count_op(&t, AVERAGE_POOL_2D), 2);
    assert_int_equal(count_op(&t, MEAN), 0);
    assert_int_equal(count_op(&t, RESHAPE), 1);
    assert_int_equal(count_op(&t, DEQUANTIZE), 1);
    int n_q, q_dim;
    for (uint32_t i = 0; i < vlen(&t.f, t.ops); i++) {
        const uint8_t *op = vtab(&t.f, t.ops, i), *in = obj(&t.f, op, OP_INPUTS);
        int code = op_code(&t, i), out = vint(&t.f, obj(&t.f, op, OP_OUTPUTS), 0);
        int want = code == SOFTMAX || code == DEQUANTIZE || code == FULLY_CONNECTED ? FLOAT32
                                                                                  : INT16;
        assert_int_equal(tensor_type(&t, out, &n_q, &q_dim), want);
        if (code == CONV_2D) {
            assert_int_equal(tensor_type(&t, vint(&t.f, in, 0), &n_q, &q_dim), INT16);
            assert_int_equal(tensor_type(&t, vint(&t.f, in, 1), &n_q, &q_dim), INT8);
            assert_int_equal(n_q, 5);
            assert_int_equal(tensor_type(&t, vint(&t.f, in, 2), &n_q, &q_dim), INT64);
            assert_int_equal(n_q, 5);
        }
    }
    free(t.raw);
    crest_model_free(m);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    crest_model *m = conv_bn();
    assert_int_equal(crest_model_save_tflite(NULL, "x.tflite"), CREST_E_ARG);
    assert_int_equal(crest_model_save_tflite(m, NULL), CREST_E_ARG);
    char path[160];
    snprintf(path, sizeof path, "%s/no/such/folder/m.tflite", tu_fixture_dir);
    assert_int_equal(crest_model_save_tflite(m, path), CREST_E_IO);
    assert_non_null(strstr(crest_last_error(), "m.tflite"));
    crest_model_free(m);
}

/* Allocation k fails for k = 0, 1, ... until the save succeeds: each
 * failure is CREST_E_NOMEM and leaves neither the file nor a temp file. */
static void test_out_of_memory(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/oom.tflite", tu_fixture_dir);
    crest_model *m = conv_bn();
    assert_true(tu_export_oom(m, path, crest_model_save_tflite) > 10);
    crest_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conv_reads_back, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(test_batchnorm_alone, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(test_two_inputs, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(test_same_bytes, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(test_int8, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(test_int16, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_arguments, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(test_out_of_memory, tu_setup_dir, tu_teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
