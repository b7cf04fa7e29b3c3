/* test_two_inputs.c - a functional model with two inputs, image pixels
 * (Fashion-MNIST) and a tabular vector, joined by Concatenate, trains on
 * real data; the tabular branch matters; save / load keeps predictions.
 *
 * The tabular vector is a noisy one-hot of the garment's coarse group (tops,
 * footwear, other): information the image also carries, so the model can
 * lean on either. Under sanitizers (CREST_SANITIZED=1) a smaller subset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crest.h"
#include "testutil.h"
#include "models.h"

#define NPIX 784
#define NTAB 3

static int group_of(int label)
{
    static const int g[10] = { 0, 2, 0, 0, 0, 1, 0, 1, 2, 1 };
    return g[label];
}

/* Pixels then the tabular vector, per sample (the inputs' order). */
static crest_dataset *with_table(const crest_dataset *img, size_t n, unsigned seed)
{
    const float *x = crest_dataset_x(img);
    const int32_t *y = crest_dataset_labels(img);
    float *both = malloc(n * (NPIX + NTAB) * sizeof *both);
    srand(seed);
    for (size_t i = 0; i < n; i++) {
        memcpy(both + i * (NPIX + NTAB), x + i * NPIX, NPIX * sizeof *x);
        for (int k = 0; k < NTAB; k++)
            both[i * (NPIX + NTAB) + NPIX + k] =
                (float)(k == group_of(y[i])) + 0.3f * ((float)rand() / (float)RAND_MAX - 0.5f);
    }
    crest_dataset *d = NULL;
    assert_int_equal(crest_dataset_new(&d, n, crest_shape(1, NPIX + NTAB), both, y, 10),
                     CREST_OK);
    free(both);
    return d;
}

static crest_model *two_input_model(void)
{
    return tm_two_input_model(&(tm_two_inputs){ .name = "pixels_and_table", .seed = 3, .h = 28,
                                                .w = 28, .tab = NTAB, .img_units = 64,
                                                .tab_units = 8, .classes = 10 });
}

static void test_pixels_and_table_train(void **state)
{
    (void)state;
    bool san = getenv("CREST_SANITIZED") != NULL;
    size_t n_train = san ? 3000 : 12000, n_test = 2000;
    crest_dataset *tr = NULL, *te = NULL;
    if (crest_dataset_load(&tr, "fashion-mnist:train") ||
        crest_dataset_load(&te, "fashion-mnist:test"))
        fail_msg("Fashion-MNIST is missing: %s", crest_last_error());
    crest_dataset *train = with_table(tr, n_train, 1), *test = with_table(te, n_test, 2);
    crest_dataset_free(tr);
    crest_dataset_free(te);

    crest_model *m = two_input_model();
    assert_int_equal(crest_compile(m, NULL), CREST_OK);
    crest_history h;
    assert_int_equal(crest_fit(m, train, &(crest_fit_opts){ .epochs = 3, .seed = 4,
                                                            .history = &h }), CREST_OK);
    crest_metrics r;
    assert_int_equal(crest_evaluate(m, test, 256, &r), CREST_OK);
    print_message("pixels + table: loss %.4f -> %.4f, test accuracy %.4f\n", h.loss[0],
                  h.loss[2], r.accuracy);
    assert_true(h.loss[2] < h.loss[0]);
    assert_true(r.accuracy >= (san ? 0.70 : 0.80));

    /* the tabular branch matters: a wrong group changes the predictions */
    size_t k = 64, w = NPIX + NTAB;
    float *x = malloc(k * w * sizeof *x), *p = malloc(k * 10 * sizeof *p),
          *q = malloc(k * 10 * sizeof *q);
    memcpy(x, crest_dataset_x(test), k * w * sizeof *x);
    assert_int_equal(crest_predict(m, x, k, p), CREST_OK);
    for (size_t i = 0; i < k; i++)
        for (int j = 0; j < NTAB; j++)
            x[i * w + NPIX + j] = x[i * w + NPIX + (j + 1) % NTAB];
    assert_int_equal(crest_predict(m, x, k, q), CREST_OK);
    double diff = 0;
    for (size_t i = 0; i < k * 10; i++)
        diff += p[i] > q[i] ? p[i] - q[i] : q[i] - p[i];
    print_message("mean |change| of a probability with a wrong group: %.4f\n", diff / (k * 10));
    assert_true(diff / (double)(k * 10) > 1e-3);

    /* saved and loaded: the same predictions */
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    crest_model *l = NULL;
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    assert_int_equal(crest_model_load(&l, dir), CREST_OK);
    assert_int_equal(crest_predict(l, x, k, p), CREST_OK);
    assert_memory_equal(p, q, k * 10 * sizeof *p);
    tu_rmdir(dir);
    free(x);
    free(p);
    free(q);
    crest_model_free(l);
    crest_model_free(m);
    crest_dataset_free(train);
    crest_dataset_free(test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pixels_and_table_train),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
