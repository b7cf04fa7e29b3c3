/* test_dynamic_shape.c - models whose input has unknown dimensions (Keras
 * None), through the C API:
 *  - the fully convolutional model of tests/golden/dynamic (input
 *    [None,None,None,3]) refuses raw calls until a shape is set, then
 *    matches real TF.js at two sizes in one process, back and forth, and the
 *    arena only grows;
 *  - --layer style probes and crest_predict at the set shape;
 *  - cut + global pooling + a Dense head: fixed-size features from any
 *    image size (TF.js' pooled features), fit on 12x12 images, evaluate on
 *    9x13 ones (the training and evaluation graphs are re-shaped too);
 *  - a Sequential [None, 4] sequence model: lengths change between calls;
 *  - re-planning cost on a 480-layer fully convolutional model, printed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "json.h"
#include "testutil.h"

#define G "tests/golden/dynamic"

static float *read_f32(const char *name, size_t *n)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", G, name);
    size_t len = 0;
    char *x = tu_read_file(p, &len);
    if (!x)
        fail_msg("%s: missing (run tools/golden/dynamic_shape.js)", p);
    *n = len / sizeof(float);
    return (float *)(void *)x;
}

/* max |a - b| <= 1e-4 * max |b| */
static void assert_close(const float *a, const float *b, size_t n, const char *what)
{
    double d = 0, mag = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        mag = fmax(mag, fabs((double)b[i]));
    }
    print_message("%-34s max |diff| %.3g of %.3g\n", what, d, mag);
    if (!(d <= 1e-4 * mag))
        fail_msg("%s: crest differs from TF.js by %g", what, d);
}

static crest_model *load(const char *kind)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", G, kind);
    crest_model *m = NULL;
    if (crest_model_load(&m, p))
        fail_msg("%s: %s", p, crest_last_error());
    return m;
}

static void test_two_sizes_one_process(void **state)
{
    (void)state;
    size_t na, nb, nya, nyb;
    float *xa = read_f32("x_a.f32", &na), *xb = read_f32("x_b.f32", &nb);
    float *ya = read_f32("y_float_a.f32", &nya), *yb = read_f32("y_float_b.f32", &nyb);
    crest_model *m = load("float");
    crest_dims in = crest_model_input_shape(m);
    assert_int_equal(in.ndim, 3);
    assert_int_equal(in.d[0], CREST_DIM_NONE);
    assert_int_equal(in.d[1], CREST_DIM_NONE);
    assert_int_equal(in.d[2], 3);
    assert_int_equal(crest_dims_count(in), -1);
    assert_int_equal(crest_model_output_size(m), 0);   /* follows the unknown size */
    crest_dims os = crest_model_output_shape(m);
    assert_int_equal(os.ndim, 3);
    assert_int_equal(os.d[0], CREST_DIM_NONE);
    assert_int_equal(os.d[1], CREST_DIM_NONE);
    assert_int_equal(os.d[2], 3);
    float *y = NULL;
    crest_dims od;
    /* no shape yet: a raw call is an error saying what to do */
    assert_int_equal(crest_infer(m, NULL, xa, 1, 0, &y, &od), CREST_E_SHAPE);
    assert_non_null(strstr(crest_last_error(), "crest_model_set_input_shape"));
    size_t arena = 0;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(crest_model_set_input_shape(m, crest_shape(3, 9, 13, 3)), CREST_OK);
        assert_int_equal(crest_model_output_size(m), 28 * 44 * 3);
        os = crest_model_output_shape(m);
        assert_true(os.ndim == 3 && os.d[0] == 28 && os.d[1] == 44 && os.d[2] == 3);
        assert_int_equal(crest_infer(m, NULL, xa, 1, 0, &y, &od), CREST_OK);
        assert_int_equal(od.d[0], 28);
        assert_int_equal(od.d[1], 44);
        assert_close(y, ya, nya, "infer 1x9x13 (TF.js)");
        crest_free(y);
        assert_int_equal(crest_model_set_input_shape(m, crest_shape(3, 16, 11, 3)), CREST_OK);
        assert_int_equal(crest_infer(m, NULL, xb, 2, round + 1, &y, &od), CREST_OK);
        assert_int_equal(od.d[0], 56);
        assert_close(y, yb, nyb, "infer 2x16x11 (TF.js)");
        crest_free(y);
        float *p = malloc(nyb * sizeof *p);
        assert_int_equal(crest_predict(m, xb, 2, p), CREST_OK);
        assert_close(p, yb, nyb, "predict 2x16x11 (TF.js)");
        free(p);
        /* one arena, grown to the largest shape, never re-made smaller */
        if (round == 0)
            arena = m->infer.g->arena_cap;
        assert_int_equal(m->infer.g->arena_cap, arena);
    }
    /* a probe inside the model at the set shape */
    assert_int_equal(crest_infer(m, "up_tconv", xb, 2, 0, &y, &od), CREST_OK);
    assert_int_equal(od.ndim, 3);
    assert_int_equal(od.d[0], 28);
    assert_int_equal(od.d[1], 18);
    assert_int_equal(od.d[2], 6);
    crest_free(y);
    /* shapes it cannot take: named errors, and the last good shape stays */
    assert_int_equal(crest_model_set_input_shape(m, crest_shape(3, 2, 9, 3)), CREST_E_SHAPE);
    assert_non_null(strstr(crest_last_error(), "layer 'head'"));
    assert_int_equal(crest_model_set_input_shape(m, crest_shape(3, 9, 9, 4)), CREST_E_SHAPE);
    assert_int_equal(crest_model_set_input_shape(m, crest_shape(2, 9, 9)), CREST_E_SHAPE);
    assert_int_equal(crest_infer(m, NULL, xb, 2, 0, &y, &od), CREST_OK);
    assert_close(y, yb, nyb, "after refused shapes");
    crest_free(y);
    /* the summary writes None, the JSON null */
    char *s = crest_model_summary(m, false);
    assert_non_null(strstr(s, "(None, None, None, 6)"));
    crest_free(s);
    s = crest_model_summary(m, true);
    assert_non_null(strstr(s, "[null,null,null,8]"));
    crest_free(s);
    crest_model_free(m);
    free(xa);
    free(xb);
    free(ya);
    free(yb);
}

static void test_quantized(void **state)
{
    (void)state;
    size_t na, nya;
    float *xa = read_f32("x_a.f32", &na), *ya = read_f32("y_uint8_a.f32", &nya);
    crest_model *m = load("uint8");
    float *y = NULL;
    crest_dims od;
    assert_int_equal(crest_model_set_input_shape(m, crest_shape(3, 9, 13, 3)), CREST_OK);
    assert_int_equal(crest_infer(m, NULL, xa, 1, 0, &y, &od), CREST_OK);
    assert_close(y, ya, nya, "uint8 infer 1x9x13 (TF.js)");
    crest_free(y);
    crest_model_free(m);
    free(xa);
    free(ya);
}

/* ten 12x12 and ten 9x13 images with labels: mean brightness above 0.5 */
static crest_dataset *images(int h, int w, unsigned seed)
{
    size_t n = 10, per = (size_t)h * w * 3;
    float *x = malloc(n * per * sizeof *x);
    int32_t lab[10];
    cr_rng r;
    cr_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        float base = i % 2 ? 0.7f : 0.2f;
        lab[i] = (int32_t)(i % 2);
        for (size_t k = 0; k < per; k++)
            x[i * per + k] = base + 0.3f * (float)cr_rng_uniform(&r) - 0.15f;
    }
    crest_dataset *d = NULL;
    assert_int_equal(crest_dataset_new(&d, n, crest_shape(3, h, w, 3), x, lab, 2), CREST_OK);
    free(x);
    return d;
}

static void test_cut_pool_head(void **state)
{
    (void)state;
    size_t na, nb, nfa, nfb;
    float *xa = read_f32("x_a.f32", &na), *xb = read_f32("x_b.f32", &nb);
    float *fa = read_f32("feat_a.f32", &nfa), *fb = read_f32("feat_b.f32", &nfb);
    crest_model *m = load("float");
    assert_int_equal(crest_model_cut(m, "res", CREST_POOL_AVG), CREST_OK);
    assert_int_equal(crest_model_output_size(m), 8);   /* pooled: fixed whatever the size */
    float feat[16];
    assert_int_equal(crest_model_set_input_shape(m, crest_shape(3, 9, 13, 3)), CREST_OK);
    assert_int_equal(crest_predict(m, xa, 1, feat), CREST_OK);
    assert_close(feat, fa, nfa, "pooled features 1x9x13 (TF.js)");
    assert_int_equal(crest_model_set_input_shape(m, crest_shape(3, 16, 11, 3)), CREST_OK);
    assert_int_equal(crest_predict(m, xb, 2, feat), CREST_OK);
    assert_close(feat, fb, nfb, "pooled features 2x16x11 (TF.js)");
    /* a head, frozen backbone, fit on 12x12 images, evaluate on 9x13 ones */
    assert_int_equal(crest_model_set_trainable(m, 0, -1, false), CREST_OK);
    crest_model *head = NULL;
    assert_int_equal(crest_sequential_new(&head, crest_shape(1, 8)), CREST_OK);
    assert_int_equal(crest_add(head, crest_dense(2, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_model_append(m, head), CREST_OK);
    crest_model_free(head);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.05f) }),
                     CREST_OK);
    crest_dataset *tr = images(12, 12, 1), *te = images(9, 13, 2);
    if (crest_fit(m, tr, &(crest_fit_opts){ .epochs = 3, .batch_size = 4, .seed = 1 }))
        fail_msg("fit: %s", crest_last_error());
    crest_metrics met;
    if (crest_evaluate(m, te, 0, &met))
        fail_msg("evaluate: %s", crest_last_error());
    assert_int_equal(met.n, 10);
    assert_true(isfinite(met.loss));
    float probs[20];
    assert_int_equal(crest_predict_dataset(m, tr, probs), CREST_OK);
    for (int i = 0; i < 10; i++)
        assert_true(fabsf(probs[2 * i] + probs[2 * i + 1] - 1) < 1e-5f);
    /* evaluate on the training size again: graphs re-shaped back */
    assert_int_equal(crest_evaluate(m, tr, 3, &met), CREST_OK);
    crest_dataset_free(tr);
    crest_dataset_free(te);
    crest_model_free(m);
    free(xa);
    free(xb);
    free(fa);
    free(fb);
}

/* class labels against an image output (the upscaler of the golden
 * model): a named shape error before any pass, at any data size (it
 * overflowed the CLI's score buffer, sized before the data's shape). */
static void test_labels_need_vector_output(void **state)
{
    (void)state;
    crest_model *m = load("float");
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.01f) }),
                     CREST_OK);
    crest_dataset *te = images(9, 13, 2);
    crest_metrics met;
    assert_int_equal(crest_evaluate(m, te, 0, &met), CREST_E_SHAPE);
    assert_non_null(strstr(crest_last_error(), "outputs [28,44,3] per sample"));
    assert_int_equal(crest_fit(m, te, &(crest_fit_opts){ .epochs = 1, .batch_size = 4 }),
                     CREST_E_SHAPE);
    crest_dataset_free(te);
    crest_model_free(m);
}

static void test_sequence_lengths(void **state)
{
    (void)state;
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(2, CREST_DIM_NONE, 4)), CREST_OK);
    assert_int_equal(crest_add(m, crest_dense(3, CREST_TANH)), CREST_OK);   /* last axis */
    char *s = crest_model_summary(m, false);
    assert_non_null(s);
    assert_non_null(strstr(s, "(None, None, 3)"));
    crest_free(s);
    float x[4 * 7], y[3 * 7];
    for (int i = 0; i < 28; i++)
        x[i] = (float)(i % 5) * 0.1f - 0.2f;
    for (int len = 7; len >= 1; len -= 3) {
        assert_int_equal(crest_model_set_input_shape(m, crest_shape(2, len, 4)), CREST_OK);
        assert_int_equal(crest_model_output_size(m), 3 * len);
        assert_int_equal(crest_predict(m, x, 1, y), CREST_OK);
        if (len == 7)
            continue;
        /* each step is the same Dense: row t does not depend on the length */
        float full[21];
        assert_int_equal(crest_model_set_input_shape(m, crest_shape(2, 7, 4)), CREST_OK);
        assert_int_equal(crest_predict(m, x, 1, full), CREST_OK);
        assert_memory_equal(y, full, (size_t)(3 * len) * sizeof(float));
    }
    /* saved with null dimensions, loaded back unknown */
    char dir[64];
    tu_tmpdir(dir, sizeof dir);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model *back = NULL;
    assert_int_equal(crest_model_load(&back, dir), CREST_OK);
    assert_int_equal(crest_model_input_shape(back).d[0], CREST_DIM_NONE);
    crest_model_free(back);
    tu_rmdir(dir);
    crest_model_free(m);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* 480 Conv2D layers over [None, None, 3]: re-planning at a new size costs a
 * small fraction of one forward pass (printed; asserted only loosely). */
static void test_replan_cost_deep(void **state)
{
    (void)state;
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(3, CREST_DIM_NONE, CREST_DIM_NONE, 3)),
                     CREST_OK);
    for (int i = 0; i < 480; i++) {
        cJSON *j = NULL;
        assert_int_equal(cr_json_parse("{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4, "
                                       "\"kernel_size\": 3, \"padding\": \"same\", "
                                       "\"activation\": \"relu\"}}", 0, NULL, &j), CREST_OK);
        crest_layer *l = NULL;
        assert_int_equal(cr_layer_from_json(j, &l), CREST_OK);
        cJSON_Delete(j);
        assert_int_equal(crest_add(m, l), CREST_OK);
    }
    static const int sizes[] = { 32, 48, 40, 32, 48 };
    float *x = calloc(48 * 48 * 3, sizeof *x), *y = NULL;
    crest_dims od;
    double plan = 0, fwd = 0;
    int n = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        double t0 = now_ms();
        assert_int_equal(crest_model_set_input_shape(m, crest_shape(3, sizes[i], sizes[i], 3)),
                         CREST_OK);
        assert_int_equal(cr_graph_plan(m->infer.g, 1), CREST_OK);
        double t1 = now_ms();
        assert_int_equal(crest_infer(m, NULL, x, 1, 1, &y, &od), CREST_OK);
        double t2 = now_ms();
        crest_free(y);
        if (i) {   /* the first includes the trace */
            plan += t1 - t0;
            fwd += t2 - t1;
            n++;
        }
    }
    print_message("480-layer model: re-shape + re-plan %.3f ms, forward pass %.3f ms "
                  "(mean of %d size changes)\n", plan / n, fwd / n, n);
    assert_true(plan < fwd);
    free(x);
    crest_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_sizes_one_process),
        cmocka_unit_test(test_quantized),
        cmocka_unit_test(test_cut_pool_head),
        cmocka_unit_test(test_labels_need_vector_output),
        cmocka_unit_test(test_sequence_lengths),
        cmocka_unit_test(test_replan_cost_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
