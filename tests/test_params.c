/* test_params.c - the model's parameter block (src/params.c): every weight
 * a view into one block, in the model's order; freezing skips runs of it;
 * save writes it as the shard; cutting and appending re-lay it out with
 * the values kept; a custom model's layers outlive the model's block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "testutil.h"
#include "blobs.h"

static crest_model *mlp(void)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 8)), CREST_OK);
    crest_model_set_seed(m, 11);
    crest_model_set_threads(m, 1);
    crest_add(m, crest_dense(6, CREST_RELU));
    crest_add(m, crest_batch_normalization(0, 0, true, true));
    assert_int_equal(crest_add(m, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    return m;
}

/* Every weight lies in the block at its running offset. */
static void assert_packed(const crest_model *m)
{
    int64_t off = 0;
    for (int i = 0; i < m->n_weights; i++) {
        const cr_weight *w = m->weights[i];
        assert_ptr_equal(w->block, &m->params);
        assert_ptr_equal(w->val, m->params.val + off);
        if (m->params.grad)
            assert_ptr_equal(w->grad, m->params.grad + off);
        for (int k = 0; k < 2; k++)
            if (m->params.slot[k])
                assert_ptr_equal(w->slot[k], m->params.slot[k] + off);
        off += w->size;
    }
    assert_int_equal(off, m->params.n);
    assert_int_equal((size_t)off, crest_model_param_count(m, false));
}

static void test_views_and_fit(void **state)
{
    (void)state;
    crest_model *m = mlp();
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(1e-2f) }),
                     CREST_OK);
    assert_int_equal(cr_model_build(m), CREST_OK);
    assert_packed(m);
    /* 8*6+6 + 4*6 + 6*3+3 */
    assert_int_equal(m->params.n, 54 + 24 + 21);
    crest_dataset *d = tu_blobs(90, 3, 1.0f, 1.5f);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 2, .batch_size = 16 }),
                     CREST_OK);
    assert_packed(m);   /* gradients and both Adam slots now, all views */
    assert_non_null(m->params.grad);
    assert_non_null(m->params.slot[0]);
    assert_non_null(m->params.slot[1]);
    crest_dataset_free(d);
    crest_model_free(m);
}

/* A frozen layer is a run of the block the optimizer skips: its values stay
 * and its Adam state stays zero, while the rest moves. */
static void test_frozen_run(void **state)
{
    (void)state;
    crest_model *m = mlp();
    crest_layer_set_trainable(crest_model_layer(m, 0), false);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(1e-2f) }),
                     CREST_OK);
    assert_int_equal(cr_model_build(m), CREST_OK);
    int64_t n0 = 54;   /* the first Dense: kernel and bias */
    float *before = malloc((size_t)m->params.n * sizeof *before);
    memcpy(before, m->params.val, (size_t)m->params.n * sizeof *before);
    crest_dataset *d = tu_blobs(60, 4, 1.0f, 1.5f);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 1, .batch_size = 20 }),
                     CREST_OK);
    assert_memory_equal(before, m->params.val, (size_t)n0 * sizeof *before);
    for (int64_t i = 0; i < n0; i++)
        assert_true(m->params.slot[0][i] == 0 && m->params.slot[1][i] == 0);
    /* the last Dense moved (BatchNorm's moving statistics are not trained) */
    int64_t last = m->params.n - 21;
    assert_memory_not_equal(before + last, m->params.val + last, 21 * sizeof *before);
    free(before);
    crest_dataset_free(d);
    crest_model_free(m);
}

/* The saved shard is the block, byte for byte; loading lays it out again. */
static void test_save_is_block(void **state)
{
    (void)state;
    crest_model *m = mlp(), *again = NULL;
    assert_int_equal(crest_model_save(m, tu_fixture_dir), CREST_OK);
    char shard[600] = "";
    DIR *dir = opendir(tu_fixture_dir);
    assert_non_null(dir);
    for (struct dirent *e; (e = readdir(dir));)
        if (!strncmp(e->d_name, "weights.", 8))
            snprintf(shard, sizeof shard, "%s/%s", tu_fixture_dir, e->d_name);
    closedir(dir);
    char *bytes = NULL;
    size_t len = 0;
    assert_int_equal(cr_read_file(shard, 0, &bytes, &len), CREST_OK);
    assert_int_equal(len, (size_t)m->params.n * sizeof(float));
    assert_memory_equal(bytes, m->params.val, len);
    cr_free(bytes);
    assert_int_equal(crest_model_load(&again, tu_fixture_dir), CREST_OK);
    assert_int_equal(cr_model_build(again), CREST_OK);
    assert_packed(again);
    assert_memory_equal(again->params.val, m->params.val, len);
    crest_model_free(again);
    crest_model_free(m);
}

/* Cutting drops layers: the block shrinks to the rest, values kept; appending
 * a head copies the head's block into the tail in one pass. */
static void test_cut_and_append(void **state)
{
    (void)state;
    crest_model *m = NULL, *head = NULL;
    assert_int_equal(crest_functional_new(&m, "base"), CREST_OK);
    crest_model_set_seed(m, 5);
    crest_sym *x = crest_input(m, crest_shape(1, 8), "in");
    crest_sym *h = crest_call(m, crest_dense(6, CREST_RELU), &x, 1);
    crest_sym *y = crest_call(m, crest_dense(4, CREST_SOFTMAX), &h, 1);
    assert_int_equal(crest_functional_outputs(m, &x, 1, &y, 1), CREST_OK);
    assert_int_equal(cr_model_build(m), CREST_OK);
    float first[54];
    memcpy(first, m->params.val, sizeof first);
    assert_int_equal(crest_model_cut(m, crest_layer_name(crest_model_layer(m, 0)),
                                     CREST_POOL_NONE), CREST_OK);
    assert_int_equal(cr_model_build(m), CREST_OK);
    assert_packed(m);
    assert_int_equal(m->params.n, 54);
    assert_memory_equal(first, m->params.val, sizeof first);

    assert_int_equal(crest_sequential_new(&head, crest_shape(1, 6)), CREST_OK);
    crest_model_set_seed(head, 9);
    assert_int_equal(crest_add(head, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(cr_model_build(head), CREST_OK);
    assert_int_equal(crest_model_append(m, head), CREST_OK);
    assert_int_equal(cr_model_build(m), CREST_OK);
    assert_packed(m);
    assert_int_equal(m->params.n, 54 + 21);
    assert_memory_equal(first, m->params.val, sizeof first);
    assert_memory_equal(head->params.val, m->params.val + 54, 21 * sizeof(float));
    crest_model_free(head);
    crest_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_views_and_fit),
        cmocka_unit_test(test_frozen_run),
        cmocka_unit_test_setup_teardown(test_save_is_block, tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test(test_cut_and_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
