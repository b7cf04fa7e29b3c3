/* test_fmnist.c - accuracy floors on real data (Fashion-MNIST, 60k/10k).
 * The data comes from tools/setup.sh; a missing data set fails the test.
 * Under sanitizers (CREST_SANITIZED=1) the same code runs on a subset with
 * a lower floor, to keep the run short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "crest.h"

static crest_dataset *train, *test;
static bool sanitized;

static int load(void **state)
{
    (void)state;
    sanitized = getenv("CREST_SANITIZED") != NULL;
    if (crest_dataset_load(&train, "fashion-mnist:train") ||
        crest_dataset_load(&test, "fashion-mnist:test")) {
        print_error("Fashion-MNIST is missing: %s\n", crest_last_error());
        return -1;
    }
    if (sanitized) {
        crest_dataset *a = NULL, *b = NULL;
        crest_dataset_slice(train, 0, 6000, &a);
        crest_dataset_slice(test, 0, 2000, &b);
        crest_dataset_free(train);
        crest_dataset_free(test);
        train = a;
        test = b;
    }
    return crest_dataset_size(train) && crest_dataset_size(test) ? 0 : -1;
}

static int unload(void **state)
{
    (void)state;
    crest_dataset_free(train);
    crest_dataset_free(test);
    return 0;
}

static double run(int hidden, int epochs)
{
    crest_model *m = NULL;
    crest_metrics r = { 0 };
    assert_int_equal(crest_sequential_new(&m, crest_shape(2, 28, 28)), CREST_OK);
    crest_add(m, crest_flatten());
    if (hidden)
        crest_add(m, crest_dense(hidden, CREST_RELU));
    crest_add(m, crest_dense(10, CREST_SOFTMAX));
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(1e-3f) }),
                     CREST_OK);
    assert_int_equal(crest_fit(m, train, &(crest_fit_opts){ .epochs = epochs, .batch_size = 32,
                                                            .seed = 1 }),
                     CREST_OK);
    assert_int_equal(crest_evaluate(m, test, 256, &r), CREST_OK);
    crest_model_free(m);
    print_message("hidden %d, %d epochs: test accuracy %.4f, loss %.4f\n", hidden, epochs,
                  r.accuracy, r.loss);
    return r.accuracy;
}

static void test_softmax_head(void **state)
{
    (void)state;
    assert_true(run(0, sanitized ? 2 : 5) >= (sanitized ? 0.75 : 0.83));
}

static void test_mlp_head(void **state)
{
    (void)state;
    assert_true(run(128, sanitized ? 2 : 10) >= (sanitized ? 0.78 : 0.87));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_head),
        cmocka_unit_test(test_mlp_head),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
