/* test_augment.c - Keras' augmentation layers in a model (src/layers/augment.c):
 *  - at inference (predict) they are the identity: the model predicts what
 *    the same model without them predicts, bit for bit;
 *  - fit draws new warps every step: trained with them, the weights differ
 *    from training without them, and the same seed gives the same bits;
 *    the layers given to fit (crest_fit_opts.augment) train the same bits;
 *  - saved and loaded again (TF.js folder), the layers and their configs
 *    come back and the model predicts the same;
 *  - bad configs are errors naming the field;
 *  - RandomContrast / RandomBrightness's op by its definition;
 *  - put in front of a built model (crest_model_prepend) they change no
 *    prediction and train as if built in; crest_model_strip_augmentation
 *    takes them out again.
 * (Registry round trip: test_registry; the warp op: test_warp.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "testutil.h"

#define N 24
#define S (6 * 5 * 3)

static const char *const aug[][2] = {
    { "RandomFlip", "{\"mode\": \"horizontal_and_vertical\"}" },
    { "RandomRotation", "{\"factor\": 0.1, \"fill_mode\": \"reflect\"}" },
    { "RandomZoom", "{\"height_factor\": [-0.2, 0.3]}" },
    { "RandomTranslation", "{\"height_factor\": 0.1, \"width_factor\": 0.1, "
                           "\"fill_mode\": \"constant\"}" },
    { "RandomContrast", "{\"factor\": 0.2, \"value_range\": [0, 2]}" },
    { "RandomBrightness", "{\"factor\": 0.1, \"value_range\": [0, 2]}" },
};

static crest_model *model(bool with_aug, uint64_t seed)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(3, 6, 5, 3)), CREST_OK);
    crest_model_set_seed(m, seed);
    for (size_t i = 0; with_aug && i < sizeof aug / sizeof *aug; i++) {
        crest_layer *l = NULL;
        assert_int_equal(crest_layer_from_keras(aug[i][0], aug[i][1], &l), CREST_OK);
        assert_int_equal(crest_add(m, l), CREST_OK);
    }
    crest_add(m, crest_flatten());
    crest_add(m, crest_dense(3, CREST_SOFTMAX));
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(1e-2f) }),
                     CREST_OK);
    return m;
}

static crest_dataset *data(void)
{
    static float x[N * S];
    static int32_t y[N];
    cr_rng r;
    cr_rng_seed(&r, 9);
    for (int i = 0; i < N; i++) {
        y[i] = i % 3;
        for (int k = 0; k < S; k++)   /* class i % 3 brightens channel i % 3 */
            x[i * S + k] = (float)cr_rng_uniform(&r) + (k % 3 == y[i] ? 1.0f : 0.0f);
    }
    crest_dataset *d = NULL;
    assert_int_equal(crest_dataset_new(&d, N, crest_shape(3, 6, 5, 3), x, y, 3), CREST_OK);
    return d;
}

/* the Dense kernel and bias of m, concatenated */
static void dense_weights(crest_model *m, float *out, size_t *n)
{
    *n = 0;
    for (int i = 0; i < m->n_weights; i++) {
        memcpy(out + *n, m->weights[i]->val, (size_t)m->weights[i]->size * sizeof *out);
        *n += (size_t)m->weights[i]->size;
    }
}

static void test_identity_at_inference(void **state)
{
    (void)state;
    crest_model *a = model(true, 4), *b = model(false, 4);
    float wa[S * 3 + 3], wb[S * 3 + 3];
    size_t na, nb;
    dense_weights(a, wa, &na);
    dense_weights(b, wb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(wa, wb, na * sizeof *wa);   /* the layers draw no weights */
    crest_dataset *d = data();
    float pa[N * 3], pb[N * 3];
    assert_int_equal(crest_predict_dataset(a, d, pa), CREST_OK);
    assert_int_equal(crest_predict_dataset(b, d, pb), CREST_OK);
    assert_memory_equal(pa, pb, sizeof pa);
    crest_dataset_free(d);
    crest_model_free(a);
    crest_model_free(b);
}

static void test_fit_draws(void **state)
{
    (void)state;
    crest_dataset *d = data();
    crest_fit_opts o = { .epochs = 3, .batch_size = 8 };
    float w[3][S * 3 + 3];
    size_t n;
    for (int k = 0; k < 3; k++) {   /* with, with again (same seed), without */
        crest_model *m = model(k < 2, 4);
        assert_int_equal(crest_fit(m, d, &o), CREST_OK);
        dense_weights(m, w[k], &n);
        crest_model_free(m);
    }
    assert_memory_equal(w[0], w[1], n * sizeof w[0][0]);
    assert_memory_not_equal(w[0], w[2], n * sizeof w[0][0]);
    /* the layers given to fit (crest_fit_opts.augment) instead of in the
     * model: the same draws in the same order, the same weights */
    crest_layer *l[6];
    for (size_t i = 0; i < sizeof aug / sizeof *aug; i++)
        assert_int_equal(crest_layer_from_keras(aug[i][0], aug[i][1], &l[i]), CREST_OK);
    crest_model *m = model(false, 4);
    crest_fit_opts oa = o;
    oa.augment = l;
    oa.n_augment = (int)(sizeof aug / sizeof *aug);
    assert_int_equal(crest_fit(m, d, &oa), CREST_OK);
    float wf[S * 3 + 3];
    dense_weights(m, wf, &n);
    assert_memory_equal(w[0], wf, n * sizeof wf[0]);
    crest_model_free(m);
    for (size_t i = 0; i < sizeof aug / sizeof *aug; i++)
        crest_layer_free(l[i]);
    crest_dataset_free(d);
}

static void test_save_load(void **state)
{
    (void)state;
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m", dir);
    crest_model *m = model(true, 5), *back = NULL;
    assert_int_equal(crest_model_save(m, path), CREST_OK);
    assert_int_equal(crest_model_load(&back, path), CREST_OK);
    char *s0 = crest_model_summary(m, true), *s1 = crest_model_summary(back, true);
    assert_string_equal(s0, s1);
    assert_non_null(strstr(s1, "RandomTranslation"));
    crest_free(s0);
    crest_free(s1);
    crest_dataset *d = data();
    float p0[N * 3], p1[N * 3];
    assert_int_equal(crest_predict_dataset(m, d, p0), CREST_OK);
    assert_int_equal(crest_predict_dataset(back, d, p1), CREST_OK);
    assert_memory_equal(p0, p1, sizeof p0);
    char *text = tu_read(path, "model.json");
    assert_non_null(strstr(text, "\"height_factor\":[-0.2,0.3]"));
    free(text);
    crest_dataset_free(d);
    crest_model_free(back);
    crest_model_free(m);
    tu_rmdir(dir);
}

static void test_bad_configs(void **state)
{
    (void)state;
    static const char *const bad[][3] = {
        { "RandomFlip", "{\"mode\": \"diagonal\"}", "mode 'diagonal'" },
        { "RandomRotation", "{}", "'factor' is required" },
        { "RandomRotation", "{\"factor\": [0.2, 0.1]}", "'factor' [0.2, 0.1]" },
        { "RandomZoom", "{\"height_factor\": [-1.5, 0.1]}", "'height_factor'" },
        { "RandomTranslation", "{\"height_factor\": 0.1, \"width_factor\": 2}",
          "'width_factor'" },
        { "RandomRotation", "{\"factor\": 0.1, \"fill_mode\": \"mirror\"}", "fill_mode 'mirror'" },
        { "RandomZoom", "{\"height_factor\": 0.1, \"interpolation\": \"bicubic\"}",
          "interpolation 'bicubic'" },
        { "RandomFlip", "[1]", "not a JSON object" },
        { "RandomRotation", "{\"factor\": -0.1}", "a single factor is a magnitude" },
        { "RandomContrast", "{\"factor\": 1.5}", "'factor' 1.5 is not within [0, 1]" },
        { "RandomBrightness", "{\"factor\": [-2, 0]}", "'factor' [-2, 0]" },
        { "RandomBrightness", "{\"factor\": 0.1, \"value_range\": [1, 1]}", "'value_range'" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        crest_layer *l = NULL;
        assert_int_not_equal(crest_layer_from_keras(bad[i][0], bad[i][1], &l), CREST_OK);
        assert_null(l);
        if (!strstr(crest_last_error(), bad[i][2]) || !strstr(crest_last_error(), bad[i][0]))
            fail_msg("%s %s: '%s'", bad[i][0], bad[i][1], crest_last_error());
    }
}

/* The color op by its definition, with draws fixed by their ranges:
 * contrast 0.5 (lower 0.5, upper -0.5), brightness +0.1 of the range. */
static void test_color_definition(void **state)
{
    (void)state;
    cr_rng r;
    cr_rng_seed(&r, 3);
    cr_graph *g = cr_graph_new(NULL, false);
    cr_node *x = cr_example_var(g, &r, crest_shape(4, 2, 3, 4, 2), 0, 2, 0);
    cr_node *yc = cr_op_color(g, x, &(cr_color_attr){ .lower = 0.5f, .upper = -0.5f,
                                                       .lo = 0, .hi = 2 });
    cr_node *yb = cr_op_color(g, x, &(cr_color_attr){ .brightness = true, .lower = 0.1f,
                                                       .upper = 0.1f, .lo = 0, .hi = 2 });
    assert_int_equal(cr_graph_plan(g, 1), CREST_OK);
    cr_graph_forward(g, &(cr_ctx){ .rng = &r, .training = true });
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < 2; k++) {
            double m = 0;
            for (int p = 0; p < 12; p++)
                m += x->val[b * 24 + p * 2 + k] / 12.0;
            for (int p = 0; p < 12; p++) {
                int i = b * 24 + p * 2 + k;
                double c = (x->val[i] - m) * 0.5 + m, br = fmin(2, x->val[i] + 0.2);
                assert_true(fabs(yc->val[i] - c) < 1e-5);
                assert_true(fabs(yb->val[i] - br) < 1e-5);
            }
        }
    cr_graph_free(g);
}

/* RandomCrop: while training, each sample's output is some 3x2 window of
 * it, exactly; at inference the model predicts what Resizing(3, 2,
 * crop_to_aspect_ratio) gives. */
static void test_random_crop(void **state)
{
    (void)state;
    cr_rng r;
    cr_rng_seed(&r, 8);
    cr_graph *g = cr_graph_new(NULL, false);
    cr_node *x = cr_example_var(g, &r, crest_shape(4, 4, 5, 4, 2), -1, 1, 0);
    cr_node *y = cr_op_warp(g, x, &(cr_warp_attr){ .kind = CR_WARP_CROP, .out_h = 3,
                                                    .out_w = 2 });
    assert_int_equal(cr_graph_plan(g, 1), CREST_OK);
    cr_graph_forward(g, &(cr_ctx){ .rng = &r, .training = true });
    assert_int_equal(y->shape.d[1], 3);
    assert_int_equal(y->shape.d[2], 2);
    for (int b = 0; b < 4; b++) {
        bool found = false;
        for (int oy = 0; oy <= 2 && !found; oy++)
            for (int ox = 0; ox <= 2 && !found; ox++) {
                found = true;
                for (int i = 0; i < 3 && found; i++)
                    found = !memcmp(y->val + ((b * 3 + i) * 2) * 2,
                                    x->val + ((b * 5 + oy + i) * 4 + ox) * 2, 4 * sizeof(float));
            }
        assert_true(found);
    }
    cr_graph_free(g);
    /* inference: smart_resize, as Resizing with crop_to_aspect_ratio */
    crest_model *m[2] = { NULL, NULL };
    const char *cls[2][2] = { { "RandomCrop", "{\"height\": 3, \"width\": 2}" },
                              { "Resizing", "{\"height\": 3, \"width\": 2, "
                                            "\"crop_to_aspect_ratio\": true}" } };
    float *p[2] = { NULL, NULL };
    float in[4 * 5 * 4 * 2];
    for (int i = 0; i < 4 * 5 * 4 * 2; i++)
        in[i] = sinf((float)i);
    for (int k = 0; k < 2; k++) {
        crest_layer *l = NULL;
        assert_int_equal(crest_sequential_new(&m[k], crest_shape(3, 5, 4, 2)), CREST_OK);
        assert_int_equal(crest_layer_from_keras(cls[k][0], cls[k][1], &l), CREST_OK);
        crest_add(m[k], l);
        crest_add(m[k], crest_flatten());
        crest_dims shape;
        assert_int_equal(crest_infer(m[k], NULL, in, 4, 0, &p[k], &shape), CREST_OK);
        assert_int_equal(crest_dims_count(shape), 3 * 2 * 2);
        crest_model_free(m[k]);
    }
    assert_memory_equal(p[0], p[1], 4 * 12 * sizeof(float));
    crest_free(p[0]);
    crest_free(p[1]);
}

/* crest_extract with augmentation: copies * n feature rows, copy-major,
 * labels repeated; copies differ; the same seed gives the same rows (and
 * the cache hits); another seed misses and differs; no layers and one copy
 * is the plain extraction. */
static void test_extract_copies(void **state)
{
    (void)state;
    char dir[64];
    tu_tmpdir(dir, sizeof dir);
    crest_model *bb = NULL;
    assert_int_equal(crest_sequential_new(&bb, crest_shape(3, 6, 5, 3)), CREST_OK);
    crest_model_set_seed(bb, 2);
    crest_add(bb, crest_flatten());
    crest_add(bb, crest_dense(4, CREST_TANH));
    crest_layer *l[2] = { NULL, NULL };
    assert_int_equal(crest_layer_from_keras("RandomFlip", NULL, &l[0]), CREST_OK);
    assert_int_equal(crest_layer_from_keras("RandomRotation", "{\"factor\": 0.2}", &l[1]),
                     CREST_OK);
    crest_dataset *d = data(), *f[4] = { NULL };
    crest_extract_stats st[4];
    uint64_t seeds[4] = { 5, 5, 6, 0 };
    for (int k = 0; k < 4; k++) {
        crest_extract_opts o = { .cache_dir = dir, .stats = &st[k], .augment = l,
                                 .n_augment = k < 3 ? 2 : 0, .copies = k < 3 ? 3 : 1,
                                 .augment_seed = seeds[k] };
        assert_int_equal(crest_extract(bb, d, &o, &f[k]), CREST_OK);
    }
    assert_int_equal(crest_dataset_size(f[0]), 3 * N);
    assert_int_equal(crest_dataset_size(f[3]), N);
    const float *x0 = crest_dataset_x(f[0]), *x1 = crest_dataset_x(f[1]);
    const float *x2 = crest_dataset_x(f[2]);
    const int32_t *lab = crest_dataset_labels(f[0]);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < N; i++)
            assert_int_equal(lab[k * N + i], i % 3);
    assert_false(st[0].cache_hit);
    assert_true(st[1].cache_hit);
    assert_false(st[2].cache_hit);
    assert_memory_equal(x0, x1, 3 * N * 4 * sizeof *x0);
    assert_memory_not_equal(x0, x2, 3 * N * 4 * sizeof *x0);
    assert_memory_not_equal(x0, x0 + N * 4, N * 4 * sizeof *x0);   /* copy 0 != copy 1 */
    crest_dataset *plain = NULL;
    assert_int_equal(crest_extract(bb, d, NULL, &plain), CREST_OK);
    assert_memory_equal(crest_dataset_x(plain), crest_dataset_x(f[3]), N * 4 * sizeof(float));
    crest_dataset_free(plain);
    for (int k = 0; k < 4; k++)
        crest_dataset_free(f[k]);
    crest_layer_free(l[0]);
    crest_layer_free(l[1]);
    crest_dataset_free(d);
    crest_model_free(bb);
    tu_rmdir(dir);
}

/* A checkpoint of a run with one augmentation does not resume a run with
 * another (the fingerprint covers the layers' configs); with the same it does. */
static void test_resume_fingerprint(void **state)
{
    (void)state;
    char dir[64];
    tu_tmpdir(dir, sizeof dir);
    crest_dataset *d = data();
    crest_layer *flip = NULL, *rot = NULL;
    assert_int_equal(crest_layer_from_keras("RandomFlip", NULL, &flip), CREST_OK);
    assert_int_equal(crest_layer_from_keras("RandomRotation", "{\"factor\": 0.1}", &rot),
                     CREST_OK);
    crest_model *m = model(false, 4);
    crest_fit_opts o = { .epochs = 2, .batch_size = 8, .checkpoint_dir = dir,
                         .augment = &flip, .n_augment = 1 };
    assert_int_equal(crest_fit(m, d, &o), CREST_OK);
    crest_fit_opts r = o;
    r.epochs = 3;
    r.resume = true;
    r.augment = &rot;
    assert_int_not_equal(crest_fit(m, d, &r), CREST_OK);
    assert_non_null(strstr(crest_last_error(), "cannot resume"));
    r.augment = &flip;
    assert_int_equal(crest_fit(m, d, &r), CREST_OK);
    crest_model_free(m);
    crest_layer_free(flip);
    crest_layer_free(rot);
    crest_dataset_free(d);
    tu_rmdir(dir);
}

/* crest_model_prepend puts the layers in front of a built, compiled model
 * (as crest train --augment does): it predicts what it did, bit for bit,
 * and trains what the model built with them trains; the summary lists them
 * first. crest_model_strip_augmentation takes them out again (what TF.js
 * export does): the model trains as one without them. RandomCrop stays,
 * with the larger input it was given. */
static void test_prepend_strip(void **state)
{
    (void)state;
    crest_dataset *d = data();
    crest_fit_opts o = { .epochs = 3, .batch_size = 8 };
    float want_aug[S * 3 + 3], want_plain[S * 3 + 3], got[S * 3 + 3], p0[N * 3], p1[N * 3];
    size_t n;
    for (int k = 0; k < 2; k++) {
        crest_model *m = model(k == 0, 4);
        assert_int_equal(crest_fit(m, d, &o), CREST_OK);
        dense_weights(m, k == 0 ? want_aug : want_plain, &n);
        crest_model_free(m);
    }
    crest_model *m = model(false, 4);
    assert_int_equal(crest_predict_dataset(m, d, p0), CREST_OK);
    crest_layer *l[6];
    for (size_t i = 0; i < sizeof aug / sizeof *aug; i++)
        assert_int_equal(crest_layer_from_keras(aug[i][0], aug[i][1], &l[i]), CREST_OK);
    assert_int_equal(crest_model_prepend(m, l, 6, NULL), CREST_OK);
    assert_int_equal(crest_model_layer_count(m), 8);
    assert_string_equal(crest_layer_class(crest_model_layer(m, 0)), "RandomFlip");
    assert_string_equal(crest_layer_class(crest_model_layer(m, 5)), "RandomBrightness");
    assert_int_equal(crest_predict_dataset(m, d, p1), CREST_OK);
    assert_memory_equal(p0, p1, sizeof p0);   /* inactive at inference */
    char *sum = crest_model_summary(m, false);
    assert_true(strstr(sum, "RandomFlip") && strstr(sum, "RandomFlip") < strstr(sum, "Dense"));
    crest_free(sum);
    assert_int_equal(crest_fit(m, d, &o), CREST_OK);   /* active while training */
    dense_weights(m, got, &n);
    assert_memory_equal(got, want_aug, n * sizeof *got);
    crest_model_free(m);

    m = model(true, 4);
    assert_int_equal(crest_model_strip_augmentation(m), 6);
    assert_int_equal(crest_model_layer_count(m), 2);
    assert_int_equal(crest_model_strip_augmentation(m), 0);
    assert_int_equal(crest_fit(m, d, &o), CREST_OK);
    dense_weights(m, got, &n);
    assert_memory_equal(got, want_plain, n * sizeof *got);
    crest_model_free(m);

    /* RandomCrop in front: the model takes larger images; it is no
     * inference identity, so it stays */
    m = model(false, 4);
    assert_int_equal(crest_layer_from_keras("RandomCrop", "{\"height\": 6, \"width\": 5}", &l[0]),
                     CREST_OK);
    assert_int_equal(crest_model_prepend(m, l, 1, &(crest_dims){ 3, { 9, 7, 3 } }), CREST_OK);
    crest_dims in = crest_model_input_shape(m);
    assert_int_equal(in.d[0] * 100 + in.d[1] * 10 + in.d[2], 973);
    assert_int_equal(crest_model_strip_augmentation(m), 0);
    assert_int_equal(crest_model_layer_count(m), 3);
    crest_model_free(m);

    /* bad calls: an error, and the layers are freed (ASan) */
    assert_int_equal(crest_layer_from_keras("RandomFlip", NULL, &l[0]), CREST_OK);
    assert_int_equal(crest_model_prepend(NULL, l, 1, NULL), CREST_E_ARG);
    crest_dataset_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_at_inference),
        cmocka_unit_test(test_fit_draws),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_color_definition),
        cmocka_unit_test(test_random_crop),
        cmocka_unit_test(test_extract_copies),
        cmocka_unit_test(test_resume_fingerprint),
        cmocka_unit_test(test_prepend_strip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
