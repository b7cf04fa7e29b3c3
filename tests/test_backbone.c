/* test_backbone.c - the real pretrained backbones against TF.js.
 *
 * $CREST_DATA/models/mobilenet_v2 and inception_v3 (nsfwjs 4.3.0, Keras
 * 2.2.4 functional models, uint8-quantized) are loaded with
 * crest_model_load and run on the golden inputs:
 *   - probabilities: max |crest - tfjs| <= 1e-4;
 *   - features (mean over H, W of out_relu / mixed10, via crest_infer's
 *     layer probe): max |diff| <= 1e-4 * max |feature|;
 * through the fused inference graph (BatchNorm folded into convolutions),
 * the unfused one, and both images in one batch. The summary must list the
 * layers and count every stored weight. MobileNetV2's features must be
 * bit-identical on 1, 2 and 3 threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "testutil.h"
#include "golden.h"

static const char *images[2] = { "china", "flower" };


static crest_model *load(const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/models/%s", crest_data_dir(), name);
    crest_model *m = NULL;
    if (crest_model_load(&m, p)) {
        print_error("%s (run tools/setup.sh): %s\n", p, crest_last_error());
        return NULL;
    }
    crest_model_set_threads(m, 2);
    return m;
}

static double max_abs(const float *a, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++)
        w = fabs(a[i]) > w ? fabs(a[i]) : w;
    return w;
}

/* Inputs for both images: [2, side, side, 3], the 224 goldens zero-padded. */
static float *inputs(int side)
{
    size_t per = (size_t)side * side * 3;
    float *x = calloc(2 * per, sizeof *x);
    int pad = (side - 224) / 2;   /* 299: 37 before, 38 after, as the golden */
    for (int i = 0; i < 2; i++) {
        char p[256];
        snprintf(p, sizeof p, "tests/golden/mobilenet_v2/%s.input.f32", images[i]);
        float *s = gd_read_f32(p, 224 * 224 * 3, false);
        assert_non_null(s);
        for (int y = 0; y < 224; y++)
            memcpy(x + i * per + ((size_t)(y + pad) * side + pad) * 3, s + (size_t)y * 224 * 3,
                   224 * 3 * sizeof(float));
        free(s);
    }
    return x;
}

/* Runs both images one by one and as one batch; checks probs and features. */
static void check_model(crest_model *m, const char *golden, int side, const char *feat_layer,
                        int n_feat, const char *label)
{
    float *x = inputs(side);
    size_t per = (size_t)side * side * 3;
    for (int batched = 0; batched < 2; batched++)
        for (int i = 0; i < 2; i++) {
            if (batched && i)
                break;
            size_t n = batched ? 2 : 1;
            float *probs = NULL, *feat = NULL;
            crest_dims ps, fs;
            assert_int_equal(crest_infer(m, NULL, x + (batched ? 0 : i * per), n, 0, &probs, &ps), 0);
            assert_int_equal(crest_infer(m, feat_layer, x + (batched ? 0 : i * per), n, 0, &feat,
                                         &fs), 0);
            assert_int_equal(fs.ndim, 3);
            assert_int_equal(fs.d[2], n_feat);
            for (size_t k = 0; k < n; k++) {
                int img = batched ? (int)k : i;
                char p[256];
                snprintf(p, sizeof p, "tests/golden/%s/%s.probs.f32", golden, images[img]);
                float *rp = gd_read_f32(p, 5, false);
                snprintf(p, sizeof p, "tests/golden/%s/%s.features.f32", golden, images[img]);
                float *rf = gd_read_f32(p, (size_t)n_feat, false);
                assert_non_null(rp);
                assert_non_null(rf);
                /* mean over H, W of the layer's output */
                int64_t hw = fs.d[0] * fs.d[1];
                float *pooled = calloc((size_t)n_feat, sizeof *pooled);
                for (int64_t q = 0; q < hw; q++)
                    for (int c = 0; c < n_feat; c++)
                        pooled[c] += feat[((int64_t)k * hw + q) * n_feat + c] / (float)hw;
                double dp = gd_max_diff(probs + k * 5, rp, 5),
                       df = gd_max_diff(pooled, rf, (size_t)n_feat);
                double scale = max_abs(rf, (size_t)n_feat);
                print_message("%s %s %s%s: probs max |diff| %.2e, features max |diff| %.2e "
                              "(%.2e of max |feature| %.3g)\n", golden, label, images[img],
                              batched ? " (batch of 2)" : "", dp, df, df / scale, scale);
                assert_true(dp <= 1e-4);
                assert_true(df <= 1e-4 * scale);
                free(pooled);
                free(rp);
                free(rf);
            }
            crest_free(probs);
            crest_free(feat);
        }
    free(x);
}

static void test_mobilenet_v2(void **state)
{
    (void)state;
    crest_model *m = load("mobilenet_v2");
    assert_non_null(m);
    check_model(m, "mobilenet_v2", 224, "out_relu", 1280, "fused");
    /* the fused graph really is smaller: 52 BatchNorms folded */
    int bn_nodes = 0;
    for (int i = 0; i < m->infer.g->n; i++)
        bn_nodes += m->infer.g->nodes[i]->op == &cr_op_batchnorm_def;
    assert_int_equal(bn_nodes, 0);
    char *s = crest_model_summary(m, false);
    assert_non_null(s);
    assert_non_null(strstr(s, "out_relu (ReLU)"));
    assert_non_null(strstr(s, "block_16_depthwise (DepthwiseConv2D)"));
    /* every uint8 weight of the 2,619,461-byte shard counted once */
    assert_non_null(strstr(s, "Total params: 2,619,461"));
    crest_free(s);
    crest_model_free(m);

    m = load("mobilenet_v2");
    assert_non_null(m);
    m->no_fuse = true;
    check_model(m, "mobilenet_v2", 224, "out_relu", 1280, "unfused");
    crest_model_free(m);
}

/* The forward pass gives the same bits on 1, 2 and 3 threads (kernels split
 * outputs, never partial sums), for one image and a batch of two; and the
 * fused graph has no ZeroPadding2D left (folded into the convolutions). */
static void test_mobilenet_v2_threads(void **state)
{
    (void)state;
    float *x = inputs(224), *ref[2] = { NULL, NULL };
    crest_dims fs;
    for (int t = 1; t <= 3; t++) {
        crest_model *m = load("mobilenet_v2");
        assert_non_null(m);
        assert_int_equal(crest_model_set_threads(m, t), 0);
        for (int b = 0; b < 2; b++) {
            float *feat = NULL;
            size_t n = b ? 2 : 1, cnt = n * 7 * 7 * 1280;
            assert_int_equal(crest_infer(m, "out_relu", x, n, 0, &feat, &fs), 0);
            if (t == 1) {
                ref[b] = feat;
                continue;
            }
            if (memcmp(feat, ref[b], cnt * sizeof(float)))
                fail_msg("%d threads, batch %zu: features differ from 1 thread (max |diff| %.3g)",
                         t, n, gd_max_diff(feat, ref[b], cnt));
            crest_free(feat);
        }
        int pads = 0;
        for (int i = 0; i < m->infer.g->n; i++)
            pads += m->infer.g->nodes[i]->kind == CR_NODE_OP &&
                    !strcmp(m->infer.g->nodes[i]->op->name, "zero_pad2d");
        assert_int_equal(pads, 0);
        crest_model_free(m);
    }
    crest_free(ref[0]);
    crest_free(ref[1]);
    free(x);
}

/* Passes run whole on several threads (each thread its own copy of the
 * graph, src/infer.c): crest_infer and crest_predict to the model's output
 * give the same bits on 1, 2 and 3 threads, for 5 images in passes of 2
 * (3 passes: on 3 threads the last copy takes one) and of 1. */
static void test_mobilenet_v2_pass_threads(void **state)
{
    (void)state;
    const size_t per = 224 * 224 * 3, n = 5;
    float *two = inputs(224), *x = malloc(n * per * sizeof *x), *ref[3] = { NULL };
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)   /* the two photos, each a little brighter */
        for (size_t j = 0; j < per; j++)
            x[i * per + j] = two[(i % 2) * per + j] * (1.0f + 0.05f * (float)i);
    size_t cnt = 0;
    for (int t = 1; t <= 3; t++) {
        crest_model *m = load("mobilenet_v2");
        assert_non_null(m);
        assert_int_equal(crest_model_set_threads(m, t), 0);
        crest_dims od;
        float *y[3] = { NULL, NULL, NULL };
        assert_int_equal(crest_infer(m, NULL, x, n, 2, &y[0], &od), 0);
        assert_int_equal(m->n_copies, t - 1);   /* 3 passes: every thread ran some */
        assert_int_equal(crest_infer(m, NULL, x, n, 1, &y[1], &od), 0);
        cnt = n * (size_t)crest_dims_count(od);
        assert_non_null(y[2] = malloc(cnt * sizeof(float)));
        assert_int_equal(crest_predict(m, x, n, y[2]), 0);
        for (int k = 0; k < 3; k++) {
            if (t == 1 && k == 0) {
                ref[0] = y[0];
                continue;
            }
            if (memcmp(y[k], ref[0], cnt * sizeof(float)))
                fail_msg("%d threads, way %d: outputs differ from 1 thread in passes of 2 "
                         "(max |diff| %.3g)", t, k, gd_max_diff(y[k], ref[0], cnt));
            if (k == 2)
                free(y[k]);
            else
                crest_free(y[k]);
        }
        crest_model_free(m);
    }
    crest_free(ref[0]);
    free(two);
    free(x);
}

static void test_inception_v3(void **state)
{
    (void)state;
    crest_model *m = load("inception_v3");
    assert_non_null(m);
    check_model(m, "inception_v3", 299, "mixed10", 2048, "fused");
    crest_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mobilenet_v2),
        cmocka_unit_test(test_mobilenet_v2_threads),
        cmocka_unit_test(test_mobilenet_v2_pass_threads),
        cmocka_unit_test(test_inception_v3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
