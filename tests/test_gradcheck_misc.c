/* test_gradcheck_misc.c - the ops behind the rest of Keras' layer list,
 * beyond the one example each that test_gradcheck runs from the registry:
 *  - finite-difference gradients of each op under the options its layers
 *    use (softmax on every axis, log or not; batch_dot of every rank mix and
 *    axis pair; l2_normalize on inner axes; layer norm over 1..3 axes with
 *    and without gamma / beta; normalize with scalar statistics; resize up,
 *    down and nearest; transposes; each noise kind alone), checked as
 *    test_gradcheck does: |a - n| / max(1, |a|, |n|) <= 2e-3, central
 *    differences in double;
 *  - the noise layers when training, against Keras' definitions: spatial
 *    dropout drops whole (sample, channel) planes at the rate and scales the
 *    rest by 1 / (1 - rate); Gaussian noise and dropout have the stated
 *    mean and spread; alpha dropout keeps zero mean and unit variance of a
 *    standard normal input and sets dropped units to A alpha' + B; the same
 *    seed gives the same draws; at inference the layers add no op;
 *  - the backward passes fine-tuning leans on (BatchNorm in inference mode
 *    over more channels than one block of its kernel, relu, relu6) give
 *    the same bits on 1, 2 and 3 threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"
#include "gradcheck.h"

typedef cr_node *(*build_fn)(cr_graph *g, cr_rng *r);

/* Worst relative error of the analytic gradient over every trainable input. */
static double check(const char *what, build_fn build)
{
    cr_rng rng;
    cr_rng_seed(&rng, 4321);
    cr_graph *g = cr_graph_new(NULL, true);
    cr_node *out = build(g, &rng);
    if (!out || cr_graph_status(g)) {
        print_error("%s: %s\n", what, crest_last_error());
        cr_graph_free(g);
        return -1;
    }
    double worst = gc_worst(g, out, &rng, what, 0);
    cr_graph_free(g);
    return worst;
}

static cr_node *var(cr_graph *g, cr_rng *r, cr_dims s) { return cr_example_var(g, r, s, -2, 2, 0); }

/* ---- the variants ------------------------------------------------------ */

static cr_node *sm_axes(cr_graph *g, cr_rng *r)
{
    cr_node *x = var(g, r, crest_shape(4, 2, 3, 2, 4));
    x = cr_op_softmax_axis(g, x, 3, false);
    x = cr_op_softmax_axis(g, x, -3, true);
    return cr_op_softmax_axis(g, x, 1, false);
}
static cr_node *sm_last(cr_graph *g, cr_rng *r)      /* the activation row path */
{
    return cr_op_softmax_axis(g, var(g, r, crest_shape(3, 2, 2, 5)), -1, true);
}
static cr_node *dot_vec(cr_graph *g, cr_rng *r)       /* [b,6] . [b,6] -> [b,1] */
{
    return cr_op_batch_dot(g, var(g, r, crest_shape(2, 2, 6)), var(g, r, crest_shape(2, 2, 6)),
                           1, 1);
}
static cr_node *dot_same_axis(cr_graph *g, cr_rng *r) /* [b,3,5] . [b,4,5] over 2: [b,3,4] */
{
    return cr_op_batch_dot(g, var(g, r, crest_shape(3, 2, 3, 5)),
                           var(g, r, crest_shape(3, 2, 4, 5)), 2, 2);
}
static cr_node *dot_mixed(cr_graph *g, cr_rng *r)     /* [b,4] . [b,2,4,3] over (1, 2) */
{
    return cr_op_batch_dot(g, var(g, r, crest_shape(2, 2, 4)),
                           var(g, r, crest_shape(4, 2, 2, 4, 3)), 1, 2);
}
static cr_node *l2n_inner(cr_graph *g, cr_rng *r)
{
    return cr_op_l2_normalize(g, var(g, r, crest_shape(4, 2, 3, 4, 2)), 2, 1e-12f);
}
static cr_node *ln_three(cr_graph *g, cr_rng *r)
{
    cr_node *x = var(g, r, crest_shape(4, 2, 2, 3, 2));
    cr_node *gm = cr_example_var(g, r, crest_shape(3, 2, 3, 2), 0.5f, 1.5f, 0);
    return cr_op_layernorm(g, x, gm, NULL, 3, 1e-3f);
}
static cr_node *ln_plain(cr_graph *g, cr_rng *r)
{
    return cr_op_layernorm(g, var(g, r, crest_shape(2, 3, 7)), NULL, NULL, 1, 1e-5f);
}
static cr_node *nz_scalar(cr_graph *g, cr_rng *r)
{
    cr_node *x = var(g, r, crest_shape(3, 2, 3, 2));
    cr_node *m = cr_example_var(g, r, (cr_dims){ .ndim = 0 }, -1, 1, 0);
    cr_node *v = cr_example_var(g, r, (cr_dims){ .ndim = 0 }, 0.5f, 2, 0);
    m->w->trainable = v->w->trainable = false;
    m->needs_grad = v->needs_grad = false;
    return cr_op_normalize(g, x, m, v, 1e-7f, false);
}
static cr_node *rs_down(cr_graph *g, cr_rng *r)
{
    return cr_op_resize(g, var(g, r, crest_shape(4, 2, 7, 6, 2)), 3, 4, false);
}
static cr_node *rs_nearest_up(cr_graph *g, cr_rng *r)
{
    return cr_op_resize(g, var(g, r, crest_shape(4, 1, 3, 3, 2)), 7, 5, true);
}
static cr_node *tp_swap(cr_graph *g, cr_rng *r)
{
    return cr_op_transpose(g, var(g, r, crest_shape(3, 2, 3, 5)), (int[]){ 0, 2, 1 }, 3);
}
static cr_node *tp_5d(cr_graph *g, cr_rng *r)
{
    return cr_op_transpose(g, var(g, r, crest_shape(5, 1, 2, 3, 2, 2)), (int[]){ 0, 4, 2, 1, 3 },
                           5);
}
static cr_node *noise_spatial(cr_graph *g, cr_rng *r)
{
    return cr_op_noise(g, var(g, r, crest_shape(3, 2, 5, 4)), CR_NOISE_SPATIAL, 0.5f);
}
static cr_node *noise_gauss(cr_graph *g, cr_rng *r)
{
    return cr_op_noise(g, var(g, r, crest_shape(2, 3, 4)), CR_NOISE_GAUSSIAN, 1.0f);
}
static cr_node *noise_gdrop(cr_graph *g, cr_rng *r)
{
    return cr_op_noise(g, var(g, r, crest_shape(2, 3, 4)), CR_NOISE_GAUSSIAN_DROPOUT, 0.5f);
}
static cr_node *noise_alpha(cr_graph *g, cr_rng *r)
{
    return cr_op_noise(g, var(g, r, crest_shape(2, 3, 4)), CR_NOISE_ALPHA, 0.5f);
}
static cr_node *elu_neg(cr_graph *g, cr_rng *r)
{
    return cr_op_elu_alpha(g, cr_example_var(g, r, crest_shape(2, 3, 4), -3, 3, 0.05f), 2.5f);
}

/* BatchNorm in inference mode over 70 channels: a block of 64 and a tail. */
static cr_node *bn_blocks(cr_graph *g, cr_rng *r)
{
    cr_dims c = crest_shape(1, 70);
    return cr_op_batchnorm(g, var(g, r, crest_shape(3, 2, 3, 70)),
                           cr_example_var(g, r, c, -0.5f, 0.5f, 0),
                           cr_example_var(g, r, c, 0.5f, 1.5f, 0),
                           cr_example_var(g, r, c, 0.5f, 1.5f, 0),
                           cr_example_var(g, r, c, -1, 1, 0), 1e-3f, 0.99f, false);
}

static void test_variants(void **state)
{
    (void)state;
    static const struct { const char *name; build_fn fn; } v[] = {
        { "softmax axes 3, -3 (log), 1", sm_axes }, { "log-softmax last axis", sm_last },
        { "batch_dot vectors", dot_vec }, { "batch_dot same axis", dot_same_axis },
        { "batch_dot rank 2 . rank 4", dot_mixed }, { "l2_normalize inner axis", l2n_inner },
        { "layernorm 3 axes, gamma only", ln_three }, { "layernorm plain", ln_plain },
        { "normalize scalar statistics", nz_scalar }, { "resize bilinear down", rs_down },
        { "resize nearest up", rs_nearest_up }, { "transpose swap", tp_swap },
        { "transpose rank 5", tp_5d }, { "spatial dropout", noise_spatial },
        { "gaussian noise", noise_gauss }, { "gaussian dropout", noise_gdrop },
        { "alpha dropout", noise_alpha }, { "elu alpha 2.5", elu_neg },
        { "batchnorm inference 70 channels", bn_blocks },
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        double worst = check(v[i].name, v[i].fn);
        print_message("gradcheck %-30s worst %.2e\n", v[i].name, worst);
        failures += worst < 0 || worst > 2e-3;
    }
    assert_int_equal(failures, 0);
}

/* ---- noise when training: Keras' definitions --------------------------- */

/* One forward pass of a noise op on x (n values of shape s), seed given. */
static float *noisy(const float *x, cr_dims s, int kind, float p, uint64_t seed)
{
    cr_graph *g = cr_graph_new(NULL, true);
    cr_rng r, drop;
    cr_rng_seed(&r, 1);
    cr_node *in = cr_example_var(g, &r, s, -1, 1, 0);
    int64_t n = cr_dims_count(&s);
    memcpy(in->w->val, x, (size_t)n * sizeof(float));
    cr_node *y = cr_op_noise(g, in, kind, p);
    assert_non_null(y);
    y->keep = true;
    assert_int_equal(cr_graph_plan(g, s.d[0]), 0);
    cr_rng_seed(&drop, seed);
    cr_ctx c = { .rng = &drop, .training = true };
    cr_graph_forward(g, &c);
    float *out = malloc((size_t)n * sizeof *out);
    memcpy(out, y->val, (size_t)n * sizeof *out);
    cr_graph_free(g);
    return out;
}

static void test_noise_training(void **state)
{
    (void)state;
    enum { B = 8, H = 10, W = 10, C = 50, N = B * H * W * C };
    cr_dims s = crest_shape(4, B, H, W, C);
    float *x = malloc(N * sizeof *x);
    cr_rng r;
    cr_rng_seed(&r, 7);
    for (int i = 0; i < N; i++)
        x[i] = (float)cr_rng_normal(&r);

    /* spatial dropout, rate 0.3: whole planes, kept ones scaled by 1 / 0.7 */
    float *y = noisy(x, s, CR_NOISE_SPATIAL, 0.3f, 5);
    int dropped = 0;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < C; k++) {
            bool gone = y[(int64_t)b * H * W * C + k] == 0;
            dropped += gone;
            for (int i = 0; i < H * W; i++) {
                int64_t at = ((int64_t)b * H * W + i) * C + k;
                float want = gone ? 0.0f : x[at] / 0.7f;
                assert_true(fabsf(y[at] - want) <= 1e-5f * (1 + fabsf(want)));
            }
        }
    double frac = (double)dropped / (B * C);
    print_message("spatial dropout 0.3: %.3f of %d planes dropped\n", frac, B * C);
    assert_true(frac > 0.22 && frac < 0.38);
    float *y2 = noisy(x, s, CR_NOISE_SPATIAL, 0.3f, 5), *y3 = noisy(x, s, CR_NOISE_SPATIAL, 0.3f, 6);
    assert_memory_equal(y, y2, N * sizeof *y);          /* seeded */
    assert_memory_not_equal(y, y3, N * sizeof *y);
    free(y), free(y2), free(y3);

    /* Gaussian noise, stddev 0.5: y - x ~ N(0, 0.25) */
    y = noisy(x, s, CR_NOISE_GAUSSIAN, 0.5f, 5);
    double m = 0, v = 0;
    for (int i = 0; i < N; i++)
        m += y[i] - x[i];
    m /= N;
    for (int i = 0; i < N; i++)
        v += (y[i] - x[i] - m) * (y[i] - x[i] - m);
    v /= N;
    print_message("gaussian noise 0.5: mean %.4f, sd %.4f\n", m, sqrt(v));
    assert_true(fabs(m) < 0.01 && fabs(sqrt(v) - 0.5) < 0.01);
    free(y);

    /* Gaussian dropout, rate 0.2: y / x ~ N(1, 0.2 / 0.8) */
    y = noisy(x, s, CR_NOISE_GAUSSIAN_DROPOUT, 0.2f, 5);
    m = v = 0;
    for (int i = 0; i < N; i++)
        m += y[i] / x[i];
    m /= N;
    for (int i = 0; i < N; i++)
        v += (y[i] / x[i] - m) * (y[i] / x[i] - m);
    v /= N;
    print_message("gaussian dropout 0.2: multiplier mean %.4f, sd %.4f (want %.4f)\n", m, sqrt(v),
                  sqrt(0.25));
    assert_true(fabs(m - 1) < 0.01 && fabs(sqrt(v) - 0.5) < 0.01);
    free(y);

    /* alpha dropout, rate 0.2, on N(0, 1): mean 0 and variance 1 kept */
    const double ap = -1.6732632423543772 * 1.0507009873554805, p = 0.2;
    double A = pow((1 - p) * (1 + p * ap * ap), -0.5), Bc = -A * ap * p;
    y = noisy(x, s, CR_NOISE_ALPHA, 0.2f, 5);
    m = v = 0;
    int n_drop = 0;
    for (int i = 0; i < N; i++) {
        m += y[i];
        bool kept = fabs(y[i] - (A * x[i] + Bc)) < 1e-5;
        bool gone = fabs(y[i] - (A * ap + Bc)) < 1e-5;
        assert_true(kept || gone);
        n_drop += gone && !kept;
    }
    m /= N;
    for (int i = 0; i < N; i++)
        v += (y[i] - m) * (y[i] - m);
    v /= N;
    print_message("alpha dropout 0.2: mean %.4f, variance %.4f, %.3f dropped\n", m, v,
                  (double)n_drop / N);
    assert_true(fabs(m) < 0.02 && fabs(v - 1) < 0.03);
    assert_true(fabs((double)n_drop / N - 0.2) < 0.01);
    free(y);
    free(x);
}

/* At inference (and in inference mode) the noise layers are the identity:
 * their graphs hold no op. */
static void test_noise_inference(void **state)
{
    (void)state;
    static const char *const classes[] = { "GaussianNoise", "GaussianDropout", "AlphaDropout",
                                           "SpatialDropout1D" };
    for (int i = 0; i < 4; i++) {
        char json[160];
        snprintf(json, sizeof json, "{\"class_name\": \"%s\", \"config\": {\"name\": \"n\", "
                 "\"%s\": 0.3}}", classes[i], i == 0 ? "stddev" : "rate");
        cJSON *j = cJSON_Parse(json);
        crest_layer *l = NULL;
        assert_int_equal(cr_layer_from_json(j, &l), 0);
        cJSON_Delete(j);
        for (int training = 0; training < 2; training++) {
            cr_graph *g = cr_graph_new(NULL, training);
            cr_node *x = cr_input(g, crest_shape(2, 3, 4));
            cr_node *y = cr_layer_apply(l, g, &x, 1);
            assert_non_null(y);
            assert_true((y == x) == !training);
            cr_graph_free(g);
        }
        crest_layer_free(l);
    }
}

/* ---- fine-tuning's backward passes: same bits on any thread count ------ */

/* Gradients of x, gamma and beta (one array) of BatchNorm (inference mode,
 * 200 channels: 3 blocks and a tail) followed by relu6 then relu, on a
 * [1024, 200] input, on `threads` threads. */
static float *bn_act_grads(int threads)
{
    cr_graph *g = cr_graph_new(NULL, true);
    cr_rng r;
    cr_rng_seed(&r, 77);
    cr_dims c = crest_shape(1, 200);
    cr_node *x = cr_example_var(g, &r, crest_shape(2, 1024, 200), -8, 8, 0);
    cr_node *gm = cr_example_var(g, &r, c, 0.5f, 1.5f, 0);
    cr_node *bt = cr_example_var(g, &r, c, -1, 1, 0);
    cr_node *y = cr_op_batchnorm(g, x, cr_example_var(g, &r, c, -0.5f, 0.5f, 0),
                                 cr_example_var(g, &r, c, 0.5f, 1.5f, 0), gm, bt, 1e-3f, 0.99f,
                                 false);
    y = crest_op_activate(g, crest_op_activate(g, y, CREST_RELU6), CREST_RELU);
    cr_node *rn = cr_example_var(g, &r, y->shape, -1, 1, 0);
    rn->w->trainable = false;
    rn->needs_grad = false;
    cr_node *l = crest_op_sum(g, crest_op_mul(g, y, rn), CR_AXIS_ALL, false);
    for (int i = 0; i < g->n_own_w; i++)
        g->own_w[i]->grad = cr_calloc((size_t)g->own_w[i]->size, sizeof(float));
    assert_int_equal(cr_graph_status(g), 0);
    assert_int_equal(cr_graph_plan(g, 1), 0);
    cr_pool *p = cr_pool_new(threads);
    cr_rng drop;
    cr_rng_seed(&drop, 1);
    cr_ctx ctx = { .pool = p, .rng = &drop, .training = true };
    cr_graph_forward(g, &ctx);
    cr_graph_backward(g, l, &ctx);
    float *out = malloc((1024 * 200 + 400) * sizeof *out);
    assert_non_null(out);
    memcpy(out, x->w->grad, 1024 * 200 * sizeof *out);
    memcpy(out + 1024 * 200, gm->w->grad, 200 * sizeof *out);
    memcpy(out + 1024 * 200 + 200, bt->w->grad, 200 * sizeof *out);
    cr_pool_free(p);
    cr_graph_free(g);
    return out;
}

static void test_bn_act_threads(void **state)
{
    (void)state;
    float *one = bn_act_grads(1);
    bool nonzero = false;
    for (int i = 0; i < 1024 * 200 + 400; i++)
        nonzero |= one[i] != 0;
    assert_true(nonzero);
    for (int t = 2; t <= 3; t++) {
        float *more = bn_act_grads(t);
        if (memcmp(one, more, (1024 * 200 + 400) * sizeof *one))
            fail_msg("BatchNorm / relu6 / relu gradients on %d threads differ from 1 thread", t);
        free(more);
    }
    free(one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_noise_training),
        cmocka_unit_test(test_noise_inference),
        cmocka_unit_test(test_bn_act_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
