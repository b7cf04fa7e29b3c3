/* test_oned.c - the 1-D layers beyond their TF.js goldens
 * (test_layers_golden): bad configs and inputs give errors naming the layer,
 * and a 1-D backbone cut below its top gets global 1-D pooling.
 */
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
#include "golden.h"

#define GOLDEN "tests/golden/layers"
#define SEQ_CNN "tests/golden/oned_cnn"

/* A golden case's model with one substitution; load's code and message. */
static int load_edited(const char *name, const char *from, const char *to, char *msg,
                       size_t size)
{
    char dir[256];
    snprintf(dir, sizeof dir, GOLDEN "/%s", name);
    return gd_load_edited(dir, from, to, msg, size);
}

static void test_bad_configs(void **state)
{
    (void)state;
    static const struct { const char *model, *from, *to, *want, *layer; } cases[] = {
        { "conv1d_valid", "\"kernel_size\":[3]", "\"kernel_size\":[3,3]", "takes one", "'conv'" },
        { "conv1d_valid", "\"kernel_size\":[3]", "\"kernel_size\":[0]", "kernel_size", "'conv'" },
        { "conv1d_valid", "\"kernel_size\":[3]", "\"kernel_size\":\"3\"", "kernel_size",
          "'conv'" },
        { "conv1d_valid", "\"kernel_size\":[3]", "\"kernel_size\":[30]",
          "30-step window (dilation 1) does not fit 9 steps", "'conv'" },
        { "conv1d_valid", "\"strides\":[1]", "\"strides\":[-1]", "strides", "'conv'" },
        { "conv1d_valid", "\"padding\":\"valid\"", "\"padding\":\"full\"", "padding 'full'",
          "'conv'" },
        { "conv1d_valid", "\"strides\":[1],\"padding\":\"valid\",\"dilation_rate\":[1]",
          "\"strides\":[2],\"padding\":\"valid\",\"dilation_rate\":[2]", "only one", "'conv'" },
        { "conv1d_valid", "\"filters\":4", "\"filters\":4,\"groups\":3", "groups 3", "'conv'" },
        { "conv1d_valid", "\"filters\":4", "\"filters\":5", "shape", "conv/kernel" },
        { "conv1d_valid", "\"filters\":4", "\"filters\":4,\"data_format\":\"channels_middle\"",
          "channels_middle", "'conv'" },
        { "conv1d_valid", "\"batch_input_shape\":[null,9,3]",
          "\"batch_input_shape\":[null,9,3,1]", "needs [batch, steps, channels]", "'conv'" },
        { "conv1d_valid", "\"filters\":4", "\"filters\":4000000,\"kernel_size\":[60000]",
          "filters", "'conv'" },
        { "sepconv1d_same", "\"depth_multiplier\":2", "\"depth_multiplier\":0",
          "depth_multiplier", "'sep'" },
        { "dwconv1d_valid", "\"kernel_size\":[2]", "\"kernel_size\":[2],\"strides\":[2]",
          "only one", "'dw'" },
        { "maxpool1d_valid", "\"padding\":\"valid\"", "\"padding\":\"causal\"",
          "padding 'causal'", "'pool'" },
        { "maxpool1d_valid", "\"pool_size\":[2]", "\"pool_size\":[9]", "does not fit 7 steps",
          "'pool'" },
        { "gap1d", "\"name\":\"gap\"", "\"name\":\"gap\",\"keepdims\":3", "keepdims", "'gap'" },
        { "cropping1d_pair", "\"cropping\":[1,2]", "\"cropping\":[4,3]", "leaves nothing",
          "'crop'" },
        { "cropping1d_pair", "\"cropping\":[1,2]", "\"cropping\":[1,-2]", "cropping", "'crop'" },
        { "cropping1d_pair", "\"cropping\":[1,2]", "\"cropping\":[[1,2]]", "cropping",
          "'crop'" },
        { "upsampling1d", "\"size\":3", "\"size\":0", "size", "'up'" },
        { "upsampling1d", "\"size\":3", "\"size\":1000", "at most", "'up'" },
        { "zeropad1d_pair", "\"padding\":[1,3]",
          "\"padding\":[1,3],\"data_format\":\"channels_first\"", "no data_format", "'pad'" },
        { "zeropad1d_pair", "\"padding\":[1,3]", "\"padding\":1.5", "padding", "'pad'" },
        { "conv1d_cf_same_s2", "\"batch_input_shape\":[null,3,9]",
          "\"batch_input_shape\":[null,3,9,2]", "needs [batch, channels, steps]", "'conv'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[1024];
        int rc = load_edited(cases[i].model, cases[i].from, cases[i].to, msg, sizeof msg);
        print_message("%-18s %-40.40s -> %d: %s\n", cases[i].model, cases[i].to, rc, msg);
        assert_true(rc < 0);
        assert_non_null(strstr(msg, cases[i].want));
        assert_non_null(strstr(msg, cases[i].layer));
    }
}

/* Same configs in other Keras spellings load: ints for 1-tuples, strides
 * null on pooling (= pool_size). */
static void test_spellings(void **state)
{
    (void)state;
    char msg[1024];
    assert_int_equal(load_edited("conv1d_same_s2", "\"kernel_size\":[3]", "\"kernel_size\":3",
                                 msg, sizeof msg), CREST_OK);
    assert_int_equal(load_edited("maxpool1d_valid", "\"strides\":[2]", "\"strides\":null", msg,
                                 sizeof msg), CREST_OK);
    assert_int_equal(load_edited("zeropad1d_int", "\"padding\":2", "\"padding\":[2,2]", msg,
                                 sizeof msg), CREST_OK);
}

/* crest_model_cut below a 1-D backbone's top: [steps, channels] gets
 * GlobalMaxPooling1D (or GlobalAveragePooling1D), and its output is the
 * max (mean) over steps of the cut layer's. */
static void cut_pooled(crest_pooling pool)
{
    crest_model *m = NULL, *full = NULL;
    assert_int_equal(crest_model_load(&m, SEQ_CNN), CREST_OK);
    assert_int_equal(crest_model_load(&full, SEQ_CNN), CREST_OK);
    char *xb = tu_read(SEQ_CNN, "x.f32");
    const float *x = (const float *)xb;
    float *feat = NULL, *cut = NULL;
    crest_dims fs, cs;
    assert_int_equal(crest_infer(full, "relu2", x, 4, 0, &feat, &fs), CREST_OK);
    assert_int_equal(fs.ndim, 2);
    assert_int_equal(fs.d[0], 150);
    assert_int_equal(fs.d[1], 32);
    assert_int_equal(crest_model_cut(m, "relu2", pool), CREST_OK);
    int n = crest_model_layer_count(m);
    const char *cls = crest_model_layer(m, n - 1)->def->keras_class;
    assert_string_equal(cls, pool == CREST_POOL_MAX ? "GlobalMaxPooling1D"
                                                    : "GlobalAveragePooling1D");
    assert_int_equal(crest_infer(m, NULL, x, 4, 0, &cut, &cs), CREST_OK);
    assert_int_equal(cs.ndim, 1);
    assert_int_equal(cs.d[0], 32);
    double worst = 0;
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 32; c++) {
            double r = pool == CREST_POOL_MAX ? -INFINITY : 0;
            for (int t = 0; t < 150; t++) {
                double v = feat[((size_t)i * 150 + t) * 32 + c];
                r = pool == CREST_POOL_MAX ? fmax(r, v) : r + v / 150;
            }
            worst = fmax(worst, fabs(r - cut[i * 32 + c]));
        }
    print_message("cut relu2 + %s: max |diff| %.2e\n", cls, worst);
    assert_true(worst < 1e-5);
    /* the default cut walks back over GAP1D and Dense to pool2 */
    char name[128];
    assert_int_equal(crest_model_default_cut(full, name, sizeof name), CREST_OK);
    assert_string_equal(name, "pool2");
    crest_free(feat);
    crest_free(cut);
    free(xb);
    crest_model_free(m);
    crest_model_free(full);
}

static void test_cut_max(void **state)
{
    (void)state;
    cut_pooled(CREST_POOL_MAX);
}

static void test_cut_avg(void **state)
{
    (void)state;
    cut_pooled(CREST_POOL_AVG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_spellings),
        cmocka_unit_test(test_cut_max),
        cmocka_unit_test(test_cut_avg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
