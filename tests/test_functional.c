/* test_functional.c - the functional API and Keras functional JSON. */
#define _POSIX_C_SOURCE 200809L
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
#include "models.h"

/* Samples: 6 "pixels" then 3 "tabular" values; the class is decided by
 * the tabular part and the pixel part together. */
static crest_dataset *two_part(size_t n, uint64_t seed)
{
    cr_rng r;
    cr_rng_seed(&r, seed);
    float *x = malloc(n * 9 * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        int a = (int)(i % 2), b = (int)((i / 2) % 2);
        y[i] = a + 2 * b;                          /* 4 classes */
        for (int k = 0; k < 6; k++)
            x[i * 9 + k] = (float)cr_rng_normal(&r) * 0.5f + (k < 3 ? a : 1 - a);
        for (int k = 0; k < 3; k++)
            x[i * 9 + 6 + k] = (float)cr_rng_normal(&r) * 0.5f + (b ? 1.0f : -1.0f);
    }
    crest_dataset *d = NULL;
    assert_int_equal(crest_dataset_new(&d, n, crest_shape(1, 9), x, y, 4), CREST_OK);
    free(x);
    free(y);
    return d;
}

static crest_model *two_input_model(void)
{
    return tm_two_input_model(&(tm_two_inputs){ .name = "two_inputs", .seed = 5, .h = 2,
                                                .w = 3, .tab = 3, .img_units = 8,
                                                .tab_units = 4, .classes = 4 });
}

static void test_two_inputs_concatenate_train_and_roundtrip(void **state)
{
    (void)state;
    crest_dataset *d = two_part(800, 1);
    crest_model *m = two_input_model();
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.01f) }),
                     CREST_OK);
    crest_history h;
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 8, .seed = 2, .history = &h }),
                     CREST_OK);
    print_message("two inputs: loss %.4f -> %.4f, accuracy %.3f\n", h.loss[0], h.loss[7],
                  h.accuracy[7]);
    assert_true(h.accuracy[7] > 0.95);     /* needs both inputs: each alone gives 0.5 */

    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model *l = NULL;
    assert_int_equal(crest_model_load(&l, dir), CREST_OK);
    float p1[800 * 4], p2[800 * 4];
    assert_int_equal(crest_predict(m, crest_dataset_x(d), 800, p1), CREST_OK);
    assert_int_equal(crest_predict(l, crest_dataset_x(d), 800, p2), CREST_OK);
    assert_memory_equal(p1, p2, sizeof p1);
    const char *keep = getenv("CREST_TFJS_OUT");   /* tests/scripts/tfjs_functional.sh */
    if (keep) {
        assert_int_equal(crest_model_save(m, keep), CREST_OK);
        char path[512];
        snprintf(path, sizeof path, "%s/x.f32", keep);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(crest_dataset_x(d), sizeof(float), 800 * 9, f), 800 * 9);
        fclose(f);
        snprintf(path, sizeof path, "%s/probs.f32", keep);
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(p1, sizeof(float), 800 * 4, f), 800 * 4);
        fclose(f);
    }
    char *s = crest_model_summary(l, true);
    assert_non_null(strstr(s, "\"class\":\"Concatenate\""));
    crest_free(s);
    crest_model_free(l);
    crest_model_free(m);
    crest_dataset_free(d);
    tu_rmdir(dir);
}

static void test_shared_layer_and_merges(void **state)
{
    (void)state;
    crest_model *m = NULL;
    assert_int_equal(crest_functional_new(&m, NULL), CREST_OK);
    crest_sym *x = crest_input(m, crest_shape(1, 4), NULL);
    crest_layer *shared = crest_dense(4, CREST_TANH);
    crest_sym *a = crest_apply(m, shared, x);
    crest_sym *b = crest_apply(m, shared, a);          /* same weights, second call */
    crest_sym *ab[2] = { a, b };
    crest_sym *s = crest_call(m, crest_merge_add(), ab, 2);
    crest_sym *p = crest_call(m, crest_merge_multiply(), ab, 2);
    crest_sym *sp[2] = { s, p };
    crest_sym *v = crest_call(m, crest_merge_average(), sp, 2);
    crest_sym *out = crest_apply(m, crest_dense(2, CREST_SOFTMAX), v);
    assert_int_equal(crest_functional_outputs(m, &x, 1, &out, 1), CREST_OK);
    assert_int_equal(crest_model_param_count(m, false), 4 * 4 + 4 + 4 * 2 + 2);
    /* check the maths of one sample by hand */
    float in[4] = { 0.5f, -1, 0.25f, 2 }, prob[2];
    assert_int_equal(crest_predict(m, in, 1, prob), CREST_OK);
    cr_weight *k = m->weights[0], *bb = m->weights[1], *k2 = m->weights[2], *b2 = m->weights[3];
    double va[4], vb[4], vv[4], z[2];
    for (int j = 0; j < 4; j++) {
        double t = bb->val[j];
        for (int i = 0; i < 4; i++)
            t += in[i] * k->val[i * 4 + j];
        va[j] = tanh(t);
    }
    for (int j = 0; j < 4; j++) {
        double t = bb->val[j];
        for (int i = 0; i < 4; i++)
            t += va[i] * k->val[i * 4 + j];
        vb[j] = tanh(t);
        vv[j] = ((va[j] + vb[j]) + va[j] * vb[j]) / 2;
    }
    for (int j = 0; j < 2; j++) {
        z[j] = b2->val[j];
        for (int i = 0; i < 4; i++)
            z[j] += vv[i] * k2->val[i * 2 + j];
    }
    double p0 = 1 / (1 + exp(z[1] - z[0]));
    assert_true(fabs(prob[0] - p0) < 1e-5);
    crest_model_free(m);
}

/* A residual block in Keras 2 / TF.js form and in Keras 3 form. */
static const char *k2_json =
    "{\"format\":\"layers-model\",\"modelTopology\":{\"class_name\":\"Model\",\"config\":{"
    "\"name\":\"res\",\"layers\":["
    "{\"class_name\":\"InputLayer\",\"name\":\"in\",\"config\":{\"name\":\"in\","
    "\"batch_input_shape\":[null,3]},\"inbound_nodes\":[]},"
    "{\"class_name\":\"Dense\",\"name\":\"d1\",\"config\":{\"name\":\"d1\",\"units\":3,"
    "\"activation\":\"relu\"},\"inbound_nodes\":[[[\"in\",0,0,{}]]]},"
    "{\"class_name\":\"Add\",\"name\":\"sum\",\"config\":{\"name\":\"sum\"},"
    "\"inbound_nodes\":[[[\"in\",0,0,{}],[\"d1\",0,0,{}]]]},"
    "{\"class_name\":\"Dense\",\"name\":\"out\",\"config\":{\"name\":\"out\",\"units\":2,"
    "\"activation\":\"softmax\"},\"inbound_nodes\":[[[\"sum\",0,0,{}]]]}],"
    "\"input_layers\":[[\"in\",0,0]],\"output_layers\":[[\"out\",0,0]]}},"
    "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":["
    "{\"name\":\"out/bias\",\"shape\":[2],\"dtype\":\"float32\"},"
    "{\"name\":\"d1/kernel\",\"shape\":[3,3],\"dtype\":\"float32\"},"
    "{\"name\":\"d1/bias\",\"shape\":[3],\"dtype\":\"float32\"},"
    "{\"name\":\"out/kernel\",\"shape\":[3,2],\"dtype\":\"float32\"}]}]}";

#define KT(NAME) "{\"class_name\":\"__keras_tensor__\",\"config\":{\"shape\":[null,3]," \
                 "\"dtype\":\"float32\",\"keras_history\":[\"" NAME "\",0,0]}}"
static const char *k3_json =
    "{\"format\":\"layers-model\",\"modelTopology\":{\"class_name\":\"Functional\",\"config\":{"
    "\"name\":\"res\",\"layers\":["
    "{\"class_name\":\"Dense\",\"name\":\"out\",\"config\":{\"name\":\"out\",\"units\":2,"
    "\"activation\":\"softmax\"},\"inbound_nodes\":[{\"args\":[" KT("sum") "],\"kwargs\":{}}]},"
    "{\"class_name\":\"Add\",\"name\":\"sum\",\"config\":{\"name\":\"sum\"},"
    "\"inbound_nodes\":[{\"args\":[[" KT("in") "," KT("d1") "]],\"kwargs\":{}}]},"
    "{\"class_name\":\"InputLayer\",\"name\":\"in\",\"config\":{\"name\":\"in\","
    "\"batch_shape\":[null,3]},\"inbound_nodes\":[]},"
    "{\"class_name\":\"Dense\",\"name\":\"d1\",\"config\":{\"name\":\"d1\",\"units\":3,"
    "\"activation\":\"relu\"},\"inbound_nodes\":[{\"args\":[" KT("in") "],\"kwargs\":{}}]}],"
    "\"input_layers\":[\"in\",0,0],\"output_layers\":[[\"out\",0,0]]}},"
    "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":["
    "{\"name\":\"out/bias\",\"shape\":[2],\"dtype\":\"float32\"},"
    "{\"name\":\"d1/kernel\",\"shape\":[3,3],\"dtype\":\"float32\"},"
    "{\"name\":\"d1/bias\",\"shape\":[3],\"dtype\":\"float32\"},"
    "{\"name\":\"out/kernel\",\"shape\":[3,2],\"dtype\":\"float32\"}]}]}";

static void expect_residual(const char *dir)
{
    crest_model *m = NULL;
    int rc = crest_model_load(&m, dir);
    if (rc)
        print_error("%s\n", crest_last_error());
    assert_int_equal(rc, CREST_OK);
    float x[3] = { 1, -2, 0.5f }, p[2];
    assert_int_equal(crest_predict(m, x, 1, p), CREST_OK);
    /* weights file: out/bias, d1/kernel, d1/bias, out/kernel as below */
    double h[3], s[3], z[2] = { 0.1, -0.1 };
    const double k1[9] = { 1, 0, 0, 0, 1, 0, 0, 0, -1 }, b1[3] = { 0, 0.5, 0 };
    const double k2[6] = { 1, -1, 0.5, 0.5, 2, 0 };
    for (int j = 0; j < 3; j++) {
        double t = b1[j];
        for (int i = 0; i < 3; i++)
            t += x[i] * k1[i * 3 + j];
        h[j] = t > 0 ? t : 0;
        s[j] = x[j] + h[j];
    }
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 3; i++)
            z[j] += s[i] * k2[i * 2 + j];
    assert_true(fabs(p[0] - 1 / (1 + exp(z[1] - z[0]))) < 1e-6);
    crest_model_free(m);
}

static void test_keras2_and_keras3_json(void **state)
{
    (void)state;
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    float w[] = { 0.1f, -0.1f, 1, 0, 0, 0, 1, 0, 0, 0, -1, 0, 0.5f, 0, 1, -1, 0.5f, 0.5f, 2, 0 };
    tu_write(dir, "w.bin", w, sizeof w);
    tu_write(dir, "model.json", k2_json, strlen(k2_json));
    expect_residual(dir);
    tu_write(dir, "model.json", k3_json, strlen(k3_json));
    expect_residual(dir);

    /* broken graphs: each a clear error */
    struct { const char *from, *to, *needle; } bad[] = {
        { "[[[\"sum\",0,0,{}]]]", "[[[\"nowhere\",0,0,{}]]]", "nowhere" },
        { "[[[\"in\",0,0,{}]]]}", "[[[\"out\",0,0,{}]]]}", "never become available" },
        { "[[\"in\",0,0]]", "[[\"ghost\",0,0]]", "ghost" },
        { "\"name\":\"d1\",\"config\"", "\"name\":\"sum\",\"config\"", "appears twice" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = tu_replace(k2_json, bad[i].from, bad[i].to);
        tu_write(dir, "model.json", t, strlen(t));
        free(t);
        crest_model *m = NULL;
        int rc = crest_model_load(&m, dir);
        print_message("broken %zu: %s\n", i, crest_last_error());
        assert_int_equal(rc, CREST_E_FORMAT);
        assert_null(m);
        assert_non_null(strstr(crest_last_error(), bad[i].needle));
    }
    tu_rmdir(dir);
}

static void test_construction_errors(void **state)
{
    (void)state;
    crest_model *m = NULL, *other = NULL;
    assert_int_equal(crest_functional_new(&m, NULL), CREST_OK);
    assert_int_equal(crest_functional_new(&other, NULL), CREST_OK);
    crest_sym *x = crest_input(m, crest_shape(1, 4), "x");
    crest_sym *y = crest_input(other, crest_shape(1, 4), "y");
    assert_null(crest_input(m, crest_shape(1, 4), "x"));       /* name taken */
    crest_model_free(m);
    assert_int_equal(crest_functional_new(&m, NULL), CREST_OK);
    x = crest_input(m, crest_shape(1, 4), "x");
    assert_null(crest_apply(m, crest_dense(2, CREST_RELU), y)); /* another model's tensor */
    assert_non_null(strstr(crest_last_error(), "not a tensor of"));
    crest_model_free(m);
    /* an output that needs an Input not listed */
    assert_int_equal(crest_functional_new(&m, NULL), CREST_OK);
    x = crest_input(m, crest_shape(1, 4), "x");
    crest_sym *z = crest_input(m, crest_shape(1, 4), "z");
    crest_sym *xz[2] = { x, z };
    crest_sym *c = crest_call(m, crest_merge_add(), xz, 2);
    assert_int_equal(crest_functional_outputs(m, &x, 1, &c, 1), CREST_E_ARG);
    assert_non_null(strstr(crest_last_error(), "'z'"));
    crest_model_free(m);
    /* shapes that do not merge: the error names the layer */
    assert_int_equal(crest_functional_new(&m, NULL), CREST_OK);
    x = crest_input(m, crest_shape(1, 4), "x");
    z = crest_input(m, crest_shape(1, 3), "z");
    crest_sym *xz2[2] = { x, z };
    c = crest_call(m, crest_merge_add(), xz2, 2);
    assert_int_equal(crest_functional_outputs(m, xz2, 2, &c, 1), CREST_E_SHAPE);
    assert_non_null(strstr(crest_last_error(), "add"));
    crest_model_free(m);
    crest_model_free(other);
}

/* Unnamed inputs are input_1, input_2 as in Keras, and such a model saves
 * and loads (the name search used to find the new input itself: every
 * unnamed input became input_100001, and two of them made a model that
 * saved but did not load). */
static void test_unnamed_inputs(void **state)
{
    (void)state;
    char dir[64];
    tu_tmpdir(dir, sizeof dir);
    crest_model *m = NULL, *back = NULL;
    assert_int_equal(crest_functional_new(&m, "two"), CREST_OK);
    crest_sym *in[2] = { crest_input(m, crest_shape(1, 3), NULL),
                         crest_input(m, crest_shape(1, 2), NULL) };
    crest_sym *x = crest_call(m, crest_concatenate(-1), in, 2);
    crest_sym *y = crest_apply(m, crest_dense(2, CREST_SOFTMAX), x);
    assert_int_equal(crest_functional_outputs(m, in, 2, &y, 1), CREST_OK);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    char *json = tu_read(dir, "model.json");
    assert_non_null(strstr(json, "\"input_1\""));
    assert_non_null(strstr(json, "\"input_2\""));
    free(json);
    assert_int_equal(crest_model_load(&back, dir), CREST_OK);
    crest_model_free(back);
    crest_model_free(m);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_inputs_concatenate_train_and_roundtrip),
        cmocka_unit_test(test_shared_layer_and_merges),
        cmocka_unit_test(test_keras2_and_keras3_json),
        cmocka_unit_test(test_construction_errors),
        cmocka_unit_test(test_unnamed_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
