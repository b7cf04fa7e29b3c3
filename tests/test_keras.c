/* test_keras.c - Keras 3 .keras files written by crest_model_save_keras and
 * read back by crest_model_load / crest_model_load_weights (src/io/keras*.c),
 * and Keras' layer path names. Files in Keras' layout written by h5py, round
 * trips checked by real TF.js and bad files: tests/scripts/keras_format.sh. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"
#include "io/keras.h"
#include "testutil.h"

#define N 5

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

/* save_keras -> load: same outputs to the bit, same metadata and summary. */
static void test_round_trip(void **state)
{
    (void)state;
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.keras", dir);
    crest_model *m = small_model(3), *back = NULL;
    assert_int_equal(crest_model_set_metadata(m, "{\"class_names\":[\"a\",\"b\",\"c\"]}"), CREST_OK);
    assert_int_equal(crest_model_save_keras(m, path), CREST_OK);
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
    /* the zip's members, in Keras' order, stored */
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
    crest_model_free(back);
    crest_model_free(m);
    tu_rmdir(dir);
}

/* Two inputs, a layer applied twice, two Dense layers (dense, dense_1 in
 * the file) and a merge: the functional form through .keras. */
static void test_functional(void **state)
{
    (void)state;
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/f.keras", dir);
    crest_model *m = NULL, *back = NULL;
    assert_int_equal(crest_functional_new(&m, "two"), CREST_OK);
    crest_model_set_seed(m, 5);
    crest_sym *a = crest_input(m, crest_shape(1, 6), "a"), *b = crest_input(m, crest_shape(1, 6), "b");
    crest_layer *shared = crest_dense(4, CREST_TANH);
    crest_sym *ya = crest_apply(m, shared, a), *yb = crest_apply(m, shared, b);
    crest_sym *sum = crest_call(m, crest_merge_add(), (crest_sym *[]){ ya, yb }, 2);
    crest_sym *out = crest_apply(m, crest_dense(3, CREST_SOFTMAX), sum);
    assert_int_equal(crest_functional_outputs(m, (crest_sym *[]){ a, b }, 2, &out, 1), CREST_OK);
    assert_int_equal(crest_model_save_keras(m, path), CREST_OK);
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

/* Weights of a saved model onto another instance of the architecture, as
 * Keras' load_weights; another architecture is refused, naming file,
 * layer and weight. */
static void test_load_weights(void **state)
{
    (void)state;
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.keras", dir);
    crest_model *m = small_model(3), *other = small_model(99);
    assert_int_equal(crest_model_save_keras(m, path), CREST_OK);
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
    assert_non_null(strstr(crest_last_error(), "m.keras"));
    /* groups come in HDF5's name order: batch_normalization first */
    assert_non_null(strstr(crest_last_error(), "layer 'batch_normalization'"));
    assert_non_null(strstr(crest_last_error(), "'gamma'"));
    assert_non_null(strstr(crest_last_error(), "layers/batch_normalization/vars/0"));
    crest_model_free(wrong);
    crest_model_free(other);
    crest_model_free(m);
    tu_rmdir(dir);
}

/* A diverged model is not written; an old file stays. */
static void test_refuses_nan(void **state)
{
    (void)state;
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.keras", dir);
    crest_model *m = small_model(3);
    assert_int_equal(crest_model_save_keras(m, path), CREST_OK);
    size_t before = tu_size(dir, "m.keras");
    m->weights[0]->val[2] = NAN;      /* dense/kernel */
    assert_int_equal(crest_model_save_keras(m, path), CREST_E_STATE);
    assert_non_null(strstr(crest_last_error(), "kernel"));
    assert_int_equal(tu_size(dir, "m.keras"), before);
    assert_int_equal(tu_count_files(dir), 1);
    crest_model_free(m);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snake),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_functional),
        cmocka_unit_test(test_load_weights),
        cmocka_unit_test(test_refuses_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
