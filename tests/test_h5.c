/* test_h5.c - Keras HDF5 files written by crest_model_save_h5 and read back
 * by crest_model_load / crest_model_load_weights (src/io/h5*.c). The reader
 * is also tested on files Keras' layout written by h5py, and on a real
 * Keras file, in tests/scripts/h5_import.sh. */
#include <math.h>
#include <signal.h>
#include <sys/time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"
#include "testutil.h"

#define N 5

static crest_model *small_model(unsigned seed)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 6)), CREST_OK);
    crest_model_set_seed(m, seed);
    crest_add(m, crest_dense(8, CREST_RELU));
    crest_add(m, crest_batch_normalization(0.99f, 1e-3f, true, true));
    crest_add(m, crest_dense(3, CREST_SOFTMAX));
    assert_int_equal(cr_model_build(m), CREST_OK);
    return m;
}

static void predict(crest_model *m, float *p)
{
    float x[N * 6];
    for (int i = 0; i < N * 6; i++)
        x[i] = sinf((float)i * 0.7f);
    assert_int_equal(crest_predict(m, x, N, p), CREST_OK);
}

/* save_h5 -> load: same outputs to the bit, same metadata, same summary. */
static void test_round_trip(void **state)
{
    (void)state;
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.h5", dir);
    crest_model *m = small_model(3), *back = NULL;
    assert_int_equal(crest_model_set_metadata(m, "{\"class_names\":[\"a\",\"b\",\"c\"]}"), CREST_OK);
    assert_int_equal(crest_model_save_h5(m, path), CREST_OK);
    assert_int_equal(crest_model_load(&back, path), CREST_OK);
    float p0[N * 3], p1[N * 3];
    predict(m, p0);
    predict(back, p1);
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

/* Weights of a saved whole model onto another instance of the architecture,
 * as Keras' load_weights. */
static void test_load_weights(void **state)
{
    (void)state;
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.h5", dir);
    crest_model *m = small_model(3), *other = small_model(99);
    assert_int_equal(crest_model_save_h5(m, path), CREST_OK);
    float p0[N * 3], p1[N * 3];
    predict(m, p0);
    predict(other, p1);
    assert_memory_not_equal(p0, p1, sizeof p0);
    assert_int_equal(crest_model_load_weights(other, path), CREST_OK);
    predict(other, p1);
    assert_memory_equal(p0, p1, sizeof p0);
    /* a different architecture is refused, naming the layer */
    crest_model *wrong = NULL;
    assert_int_equal(crest_sequential_new(&wrong, crest_shape(1, 6)), CREST_OK);
    crest_add(wrong, crest_dense(4, CREST_RELU));
    assert_int_equal(crest_model_load_weights(wrong, path), CREST_E_SHAPE);
    assert_non_null(strstr(crest_last_error(), "m.h5"));
    assert_non_null(strstr(crest_last_error(), "kernel"));
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
    predict(m, p0);
    predict(back, p1);
    assert_memory_equal(p0, p1, sizeof p0);
    crest_model_free(back);
    crest_model_free(m);
    tu_rmdir(dir);
}

/* A diverged model is not written; an old file stays. */
static void test_refuses_nan(void **state)
{
    (void)state;
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.h5", dir);
    crest_model *m = small_model(3);
    assert_int_equal(crest_model_save_h5(m, path), CREST_OK);
    size_t before = tu_size(dir, "m.h5");
    m->weights[0]->val[2] = NAN;      /* dense/kernel */
    assert_int_equal(crest_model_save_h5(m, path), CREST_E_STATE);
    assert_non_null(strstr(crest_last_error(), "kernel"));
    assert_int_equal(tu_size(dir, "m.h5"), before);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_load_weights),
        cmocka_unit_test(test_chunked_names),
        cmocka_unit_test(test_refuses_nan),
        cmocka_unit_test(test_signals_interrupt_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
