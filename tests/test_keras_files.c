/* test_keras_files.c - Keras model files written by crest and read back by
 * crest_model_load / crest_model_load_weights: HDF5 (.h5, Keras 2's
 * model.save; src/io/h5*.c) and Keras 3 .keras (a zip of config.json,
 * metadata.json and model.weights.h5; src/io/keras*.c), and Keras' layer
 * path names. What both formats promise is one test run once per format;
 * what one format adds has its own test. Files in Keras' layout written by
 * h5py, a real Keras file, round trips checked by TF.js and damaged files:
 * tests/scripts/h5_import.sh and tests/scripts/keras_format.sh. */
#include <math.h>
#include <signal.h>
#include <sys/time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"
#include "io/keras.h"
#include "testutil.h"

#define N 5

/* A file format: its extension and crest's writer. */
typedef struct format {
    const char *ext;
    int (*save)(crest_model *m, const char *path);
} format;

static const format H5 = { "h5", crest_model_save_h5 };
static const format KERAS = { "keras", crest_model_save_keras };

/* Keras' naming.to_snake_case, as Python's re gives it for each class. */
static void test_snake(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        { "Conv2D", "conv2d" }, { "DepthwiseConv2D", "depthwise_conv2d" },
        { "BatchNormalization", "batch_normalization" }, { "ReLU", "re_lu" },
        { "PReLU", "p_re_lu" }, { "GlobalAveragePooling2D", "global_average_pooling2d" },
        { "ZeroPadding2D", "zero_padding2d" }, { "LeakyReLU", "leaky_re_lu" },
        { "Conv2DTranspose", "conv2d_transpose" }, { "UpSampling2D", "up_sampling2d" },
        { "SeparableConv1D", "separable_conv1d" }, { "ThresholdedReLU", "thresholded_re_lu" },
        { "ELU", "elu" }, { "LSTM", "lstm" }, { "MultiHeadAttention", "multi_head_attention" },
        { "Conv3D", "conv3d" }, { "CrestExpr", "crest_expr" },
        { "HTTPServerError", "http_server_error" }, { "ABcDe", "a_bc_de" },
        { "My-Layer.X", "my_layer_x" }, { "aB", "a_b" }, { "Add", "add" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[128];
        cr_keras_snake(cases[i][0], out, sizeof out);
        assert_string_equal(out, cases[i][1]);
    }
}

/* A scratch folder dir holding (after a save) m.<ext>: its name and path. */
static void scratch_file(const format *f, char dir[64], char name[16], char path[128])
{
    tu_tmpdir(dir, 64);
    snprintf(name, 16, "m.%s", f->ext);
    snprintf(path, 128, "%s/%s", dir, name);
}

static crest_model *small_model(unsigned seed)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 6)), CREST_OK);
    crest_model_set_seed(m, seed);
    crest_add(m, crest_dense(8, CREST_RELU));
    crest_add(m, crest_batch_normalization(0.99f, 1e-3f, true, true));
    crest_add(m, crest_dense(3, CREST_SOFTMAX));
    assert_int_equal(cr_model_build(m), CREST_OK);
    for (int i = 0; i < m->n_weights; i++)        /* moving statistics off their init */
        if (!m->weights[i]->trainable)
            for (int64_t j = 0; j < m->weights[i]->size; j++)
                m->weights[i]->val[j] = 0.5f + 0.1f * (float)((j + seed) % 7);
    return m;
}

static void predict(crest_model *m, int in, float *p)
{
    float x[N * 12];
    for (int i = 0; i < N * in; i++)
        x[i] = sinf((float)i * 0.7f);
    assert_int_equal(crest_predict(m, x, N, p), CREST_OK);
}

/* save -> load: same outputs to the bit, same metadata, same summary, no
 * temporary file left. */
static void test_round_trip(void **state)
{
    const format *f = *state;
    char dir[64], path[128], name[16];
    scratch_file(f, dir, name, path);
    crest_model *m = small_model(3), *back = NULL;
    assert_int_equal(crest_model_set_metadata(m, "{\"class_names\":[\"a\",\"b\",\"c\"]}"), CREST_OK);
    assert_int_equal(f->save(m, path), CREST_OK);
    assert_int_equal(crest_model_load(&back, path), CREST_OK);
    float p0[N * 3], p1[N * 3];
    predict(m, 6, p0);
    predict(back, 6, p1);
    assert_memory_equal(p0, p1, sizeof p0);
    assert_non_null(crest_model_metadata(back));
    assert_non_null(strstr(crest_model_metadata(back), "class_names"));
    char *s0 = crest_model_summary(m, true), *s1 = crest_model_summary(back, true);
    assert_string_equal(s0, s1);
    crest_free(s0);
    crest_free(s1);
    assert_int_equal(tu_count_files(dir), 1);     /* no temp file left */
    crest_model_free(back);
    crest_model_free(m);
    tu_rmdir(dir);
}

/* A .keras file is a zip of Keras' members, in Keras' order, stored. */
static void test_keras_zip_layout(void **state)
{
    (void)state;
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.keras", dir);
    crest_model *m = small_model(3);
    assert_int_equal(crest_model_save_keras(m, path), CREST_OK);
    char *bytes = tu_read(dir, "m.keras");
    size_t len = tu_size(dir, "m.keras");
    assert_memory_equal(bytes, "PK\3\4", 4);
    assert_int_equal(bytes[8], 0);                /* compression method 0: stored */
    assert_memory_equal(bytes + 30, "metadata.json", 13);
    bool config = false, weights = false;
    for (size_t i = 0; i + 16 < len; i++) {
        config |= memcmp(bytes + i, "config.json", 11) == 0;
        weights |= memcmp(bytes + i, "model.weights.h5", 16) == 0;
    }
    assert_true(config && weights);
    free(bytes);
    crest_model_free(m);
    tu_rmdir(dir);
}

/* Two inputs, a layer applied twice, two Dense layers (dense, dense_1 in
 * the file) and a merge: the functional form through each format. */
static void test_functional(void **state)
{
    const format *f = *state;
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/f.%s", dir, f->ext);
    crest_model *m = NULL, *back = NULL;
    assert_int_equal(crest_functional_new(&m, "two"), CREST_OK);
    crest_model_set_seed(m, 5);
    crest_sym *a = crest_input(m, crest_shape(1, 6), "a"), *b = crest_input(m, crest_shape(1, 6), "b");
    crest_layer *shared = crest_dense(4, CREST_TANH);
    crest_sym *ya = crest_apply(m, shared, a), *yb = crest_apply(m, shared, b);
    crest_sym *sum = crest_call(m, crest_merge_add(), (crest_sym *[]){ ya, yb }, 2);
    crest_sym *out = crest_apply(m, crest_dense(3, CREST_SOFTMAX), sum);
    assert_int_equal(crest_functional_outputs(m, (crest_sym *[]){ a, b }, 2, &out, 1), CREST_OK);
    assert_int_equal(f->save(m, path), CREST_OK);
    assert_int_equal(crest_model_load(&back, path), CREST_OK);
    float p0[N * 3], p1[N * 3];
    predict(m, 12, p0);
    predict(back, 12, p1);
    assert_memory_equal(p0, p1, sizeof p0);
    assert_int_equal(crest_model_output_count(back), 1);
    crest_model_free(back);
    crest_model_free(m);
    tu_rmdir(dir);
}

/* Weights of a saved whole model onto another instance of the architecture,
 * as Keras' load_weights; another architecture is refused, naming the file,
 * the layer and the weight. */
static void test_load_weights(void **state)
{
    const format *f = *state;
    char dir[64], path[128], name[16];
    scratch_file(f, dir, name, path);
    crest_model *m = small_model(3), *other = small_model(99);
    assert_int_equal(f->save(m, path), CREST_OK);
    float p0[N * 3], p1[N * 3];
    predict(m, 6, p0);
    predict(other, 6, p1);
    assert_memory_not_equal(p0, p1, sizeof p0);
    assert_int_equal(crest_model_load_weights(other, path), CREST_OK);
    predict(other, 6, p1);
    assert_memory_equal(p0, p1, sizeof p0);
    crest_model *wrong = NULL;
    assert_int_equal(crest_sequential_new(&wrong, crest_shape(1, 6)), CREST_OK);
    crest_add(wrong, crest_dense(4, CREST_RELU));
    crest_add(wrong, crest_batch_normalization(0.99f, 1e-3f, true, true));
    crest_add(wrong, crest_dense(3, CREST_SOFTMAX));
    assert_int_equal(crest_model_load_weights(wrong, path), CREST_E_SHAPE);
    assert_non_null(strstr(crest_last_error(), name));
    if (f == &KERAS) {
        /* groups come in HDF5's name order: batch_normalization first */
        assert_non_null(strstr(crest_last_error(), "layer 'batch_normalization'"));
        assert_non_null(strstr(crest_last_error(), "'gamma'"));
        assert_non_null(strstr(crest_last_error(), "layers/batch_normalization/vars/0"));
    } else {
        /* layers in the model's order: the first Dense's kernel */
        assert_non_null(strstr(crest_last_error(), "kernel"));
    }
    crest_model_free(wrong);
    crest_model_free(other);
    crest_model_free(m);
    tu_rmdir(dir);
}

/* 600 layers with 120-character names: layer_names is over HDF5's 64 KiB
 * object-header limit, so it is written in chunks (layer_names0, ...). */
static void test_chunked_names(void **state)
{
    (void)state;
    char dir[64], path[128], name[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/deep.h5", dir);
    crest_model *m = NULL, *back = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 6)), CREST_OK);
    for (int i = 0; i < 600; i++) {
        crest_layer *l = crest_activation(CREST_RELU);
        snprintf(name, sizeof name, "%0119d", i);
        assert_int_equal(crest_layer_set_name(l, name), CREST_OK);
        crest_add(m, l);
    }
    crest_add(m, crest_dense(3, CREST_SOFTMAX));
    assert_int_equal(crest_model_save_h5(m, path), CREST_OK);
    char *text = tu_read(dir, "deep.h5");
    size_t len = tu_size(dir, "deep.h5");
    bool chunk0 = false, whole = false;
    for (size_t i = 0; i + 12 < len; i++) {
        chunk0 |= memcmp(text + i, "layer_names0", 12) == 0;
        whole |= memcmp(text + i, "layer_names", 11) == 0 && text[i + 11] == 0;
    }
    free(text);
    assert_true(chunk0);
    assert_false(whole);
    assert_int_equal(crest_model_load(&back, path), CREST_OK);
    float p0[N * 3], p1[N * 3];
    predict(m, 6, p0);
    predict(back, 6, p1);
    assert_memory_equal(p0, p1, sizeof p0);
    crest_model_free(back);
    crest_model_free(m);
    tu_rmdir(dir);
}

/* A diverged model is not written; an old file stays. */
static void test_refuses_nan(void **state)
{
    const format *f = *state;
    char dir[64], path[128], name[16];
    scratch_file(f, dir, name, path);
    crest_model *m = small_model(3);
    assert_int_equal(f->save(m, path), CREST_OK);
    size_t before = tu_size(dir, name);
    m->weights[0]->val[2] = NAN;      /* dense/kernel */
    assert_int_equal(f->save(m, path), CREST_E_STATE);
    assert_non_null(strstr(crest_last_error(), "kernel"));
    assert_int_equal(tu_size(dir, name), before);
    assert_int_equal(tu_count_files(dir), 1);
    crest_model_free(m);
    tu_rmdir(dir);
}

/* A program's own timer signal, installed without SA_RESTART, interrupts
 * the loader's reads from the reader child (read() fails with EINTR): that
 * is not the end of the stream. Before the fix such a load failed with
 * "libhdf5 stopped on signal 9" (fuzz_h5 found it: libFuzzer's -timeout
 * alarm). Every load here, .h5 and .keras, must succeed while a 0.2 ms
 * interval timer fires. */
static volatile sig_atomic_t ticks;

static void on_tick(int sig)
{
    (void)sig;
    ticks++;
}

static void test_signals_interrupt_reads(void **state)
{
    (void)state;
    char dir[64], h5[128], keras[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(h5, sizeof h5, "%s/big.h5", dir);
    snprintf(keras, sizeof keras, "%s/big.keras", dir);
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 512)), CREST_OK);
    crest_model_set_seed(m, 5);
    crest_add(m, crest_dense(1024, CREST_RELU));   /* 2 MB of weights: many pipe reads */
    crest_add(m, crest_dense(3, CREST_SOFTMAX));
    assert_int_equal(crest_model_save_h5(m, h5), CREST_OK);
    assert_int_equal(crest_model_save_keras(m, keras), CREST_OK);
    struct sigaction sa = { 0 }, old;
    sa.sa_handler = on_tick;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;                   /* no SA_RESTART */
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    struct itimerval it = { { 0, 200 }, { 0, 200 } }, off = { { 0, 0 }, { 0, 0 } };
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
    int failed = 0;
    for (int i = 0; i < 6; i++) {
        crest_model *back = NULL;
        if (crest_model_load(&back, i % 2 ? keras : h5) != CREST_OK) {
            print_error("load %d: %s\n", i, crest_last_error());
            failed++;
        }
        crest_model_free(back);
        if (crest_model_load_weights(m, i % 2 ? keras : h5) != CREST_OK) {
            print_error("load_weights %d: %s\n", i, crest_last_error());
            failed++;
        }
    }
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    assert_true(ticks > 0);
    assert_int_equal(failed, 0);
    crest_model_free(m);
    tu_rmdir(dir);
}

/* n floats of a little-endian float32 file */
static void read_f32(const char *path, float *out, size_t n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(out, sizeof *out, n, f), n);
    fclose(f);
}

/* A Keras 3 weights-only file (.weights.h5) onto a nested architecture: the
 * paths of the nested model's layers (layers/sequential/layers/dense_1/vars)
 * come from the architecture's own nesting, as Keras 3's load_weights finds
 * them; numpy computed the output (tools/h5/nested_weights.py). */
static void test_keras3_weights_nested(void **state)
{
    (void)state;
    char dir[64], cmd[256], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/h5/nested_weights.py %s", dir);
    assert_int_equal(system(cmd), 0);
    crest_model *m = NULL;
    snprintf(path, sizeof path, "%s/arch", dir);
    assert_int_equal(crest_model_load(&m, path), CREST_OK);
    snprintf(path, sizeof path, "%s/model.weights.h5", dir);
    int rc = crest_model_load_weights(m, path);
    if (rc)
        print_error("load_weights: %s\n", crest_last_error());
    assert_int_equal(rc, CREST_OK);
    float x[3 * 4], want[3 * 2], got[3 * 2];
    snprintf(path, sizeof path, "%s/x.f32", dir);
    read_f32(path, x, 12);
    snprintf(path, sizeof path, "%s/y.f32", dir);
    read_f32(path, want, 6);
    assert_int_equal(crest_predict_output(m, 0, x, 3, got), CREST_OK);
    for (int i = 0; i < 6; i++)
        assert_true(fabsf(got[i] - want[i]) <= 1e-5f * fmaxf(1.0f, fabsf(want[i])));
    crest_model_free(m);
    tu_rmdir(dir);
}

/* One test run for one format, named "test (FORMAT)" in the output. */
#define PER_FORMAT(t, f) { #t " (" #f ")", t, NULL, NULL, (void *)&f }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snake),
        PER_FORMAT(test_round_trip, H5),
        PER_FORMAT(test_round_trip, KERAS),
        cmocka_unit_test(test_keras_zip_layout),
        PER_FORMAT(test_functional, H5),
        PER_FORMAT(test_functional, KERAS),
        PER_FORMAT(test_load_weights, H5),
        PER_FORMAT(test_load_weights, KERAS),
        cmocka_unit_test(test_chunked_names),
        PER_FORMAT(test_refuses_nan, H5),
        PER_FORMAT(test_refuses_nan, KERAS),
        cmocka_unit_test(test_signals_interrupt_reads),
        cmocka_unit_test(test_keras3_weights_nested),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
