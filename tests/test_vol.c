/* test_vol.c - the 3-D ops and layers beyond the registry's gradient check
 * and the TF.js goldens:
 *   - conv3d and conv3d_transpose against direct loops in double, on
 *     shapes that span several im2col tiles;
 *   - the transposed convolution is the adjoint of the convolution
 *     (<conv(x), y> = <x, convT(y)> for the same kernel and geometry);
 *   - forward and backward bit-identical on 1 and 2 threads;
 *   - every 3-D class through its Keras JSON and back (parse, save, parse:
 *     the same JSON);
 *   - bad configs and inputs are errors naming the layer and the problem.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "json.h"
#include "ops/vol.h"

/* ---- direct loops ---------------------------------------------------------- */

typedef struct geo { int n, d, h, w, c, od, oh, ow, oc, k[3], s[3], dil[3], p[3]; } geo;

static size_t big_at(const geo *g, int b, int z, int y, int x)
{
    return ((((size_t)b * g->d + z) * g->h + y) * g->w + x) * g->c;
}

/* y[small] = conv(x[big]) over the taps that fall inside, double sums. */
static void conv_direct(const geo *g, const float *x, const float *k, const float *bias,
                        double *y)
{
    for (int b = 0; b < g->n; b++)
        for (int z = 0; z < g->od; z++)
            for (int yy = 0; yy < g->oh; yy++)
                for (int xx = 0; xx < g->ow; xx++)
                    for (int o = 0; o < g->oc; o++) {
                        double s = bias ? bias[o] : 0;
                        for (int i = 0; i < g->k[0]; i++)
                            for (int j = 0; j < g->k[1]; j++)
                                for (int l = 0; l < g->k[2]; l++) {
                                    int zi = z * g->s[0] - g->p[0] + i * g->dil[0];
                                    int yi = yy * g->s[1] - g->p[1] + j * g->dil[1];
                                    int xi = xx * g->s[2] - g->p[2] + l * g->dil[2];
                                    if (zi < 0 || zi >= g->d || yi < 0 || yi >= g->h || xi < 0 ||
                                        xi >= g->w)
                                        continue;
                                    for (int c = 0; c < g->c; c++)
                                        s += (double)x[big_at(g, b, zi, yi, xi) + c] *
                                             k[((((size_t)i * g->k[1] + j) * g->k[2] + l) * g->c +
                                                c) * g->oc + o];
                                }
                        y[((((size_t)b * g->od + z) * g->oh + yy) * g->ow + xx) * g->oc + o] = s;
                    }
}

static float *run(cr_graph *g, cr_node *out, cr_pool *pool)
{
    cr_ctx c = { .pool = pool };
    cr_graph_forward(g, &c);
    int64_t n = cr_dims_count(&out->shape);
    float *v = malloc((size_t)n * sizeof *v);
    memcpy(v, out->val, (size_t)n * sizeof *v);
    return v;
}

static double worst_rel(const float *a, const double *r, int64_t n)
{
    double w = 0, mag = 0;
    for (int64_t i = 0; i < n; i++)
        mag = fmax(mag, fabs(r[i]));
    for (int64_t i = 0; i < n; i++)
        w = fmax(w, fabs(a[i] - r[i]) / fmax(1.0, mag));
    return w;
}

/* conv3d, 'same' with strides and K = 5*5*5*40 (several tiles). */
static void test_conv3d_direct(void **state)
{
    (void)state;
    cr_rng r;
    cr_rng_seed(&r, 1);
    cr_graph *g = cr_graph_new(NULL, false);
    cr_node *x = cr_example_var(g, &r, crest_shape(5, 2, 7, 6, 5, 40), -1, 1, 0);
    cr_node *k = cr_example_var(g, &r, crest_shape(5, 5, 5, 5, 40, 3), -1, 1, 0);
    cr_node *b = cr_example_var(g, &r, crest_shape(1, 3), -1, 1, 0);
    cr_node *y = cr_op_conv3d(g, x, k, b, &(cr_vol_opts){ .s = { 1, 2, 1 }, .same = true });
    assert_int_equal(cr_graph_status(g), 0);
    assert_int_equal(cr_graph_plan(g, 1), 0);
    float *v = run(g, y, NULL);
    geo gg = { 2, 7, 6, 5, 40, 7, 3, 5, 3, { 5, 5, 5 }, { 1, 2, 1 }, { 1, 1, 1 }, { 2, 1, 2 } };
    int64_t n = cr_dims_count(&y->shape);
    assert_int_equal(n, 2 * 7 * 3 * 5 * 3);
    double *ref = malloc((size_t)n * sizeof *ref);
    conv_direct(&gg, x->val, k->val, b->val, ref);
    double w = worst_rel(v, ref, n);
    print_message("conv3d vs direct loops: worst %.2e\n", w);
    assert_true(w < 1e-5);
    free(v);
    free(ref);
    cr_graph_free(g);
}

/* <conv(u), v> = <u, convT(v)>: conv3d_transpose with kernel [.., f, c]
 * reads the same numbers as conv3d from f to c channels. */
static void test_transpose_is_adjoint(void **state)
{
    (void)state;
    cr_rng r;
    cr_rng_seed(&r, 2);
    cr_graph *g = cr_graph_new(NULL, false);
    /* transposed: v [1,3,4,3,6] -> [1,6,8,9,4] (valid, strides 2,2,3, kernel 2,1,3, outpad 0,1,0) */
    cr_node *v = cr_example_var(g, &r, crest_shape(5, 1, 3, 4, 3, 6), -1, 1, 0);
    cr_node *k = cr_example_var(g, &r, crest_shape(5, 2, 1, 3, 4, 6), -1, 1, 0);
    cr_node *t = cr_op_conv3d_transpose(g, v, k, NULL, &(cr_vol_opts){ .s = { 2, 2, 3 },
                                        .out_pad = { 0, 1, 0 } });
    assert_int_equal(cr_graph_status(g), 0);
    assert_int_equal(t->shape.d[1], 6);
    assert_int_equal(t->shape.d[2], 8);
    assert_int_equal(t->shape.d[3], 9);
    cr_node *u = cr_example_var(g, &r, t->shape, -1, 1, 0);
    cr_node *cu = cr_op_conv3d(g, u, k, NULL, &(cr_vol_opts){ .s = { 2, 2, 3 } });
    assert_int_equal(cr_graph_status(g), 0);
    assert_true(cr_dims_eq(&cu->shape, &v->shape));
    assert_int_equal(cr_graph_plan(g, 1), 0);
    float *tv = run(g, t, NULL), *cv = run(g, cu, NULL);
    double a = 0, b = 0;
    for (int64_t i = 0; i < cr_dims_count(&t->shape); i++)
        a += (double)u->val[i] * tv[i];
    for (int64_t i = 0; i < cr_dims_count(&v->shape); i++)
        b += (double)cv[i] * v->val[i];
    print_message("adjoint: <u, convT(v)> %.9g, <conv(u), v> %.9g\n", a, b);
    assert_true(fabs(a - b) < 1e-4 * fmax(1, fabs(a)));
    free(tv);
    free(cv);
    cr_graph_free(g);
}

/* A chain of every 3-D op, forward and backward, on 1 and 2 threads. */
static void chain(int threads, float **vals, float **grads, size_t *n_out, size_t *n_grads)
{
    cr_rng r;
    cr_rng_seed(&r, 3);
    cr_graph *g = cr_graph_new(NULL, true);
    cr_node *x = cr_example_var(g, &r, crest_shape(5, 2, 12, 12, 10, 6), -1, 1, 0);
    cr_node *k1 = cr_example_var(g, &r, crest_shape(5, 3, 3, 3, 6, 20), -1, 1, 0);
    cr_node *b1 = cr_example_var(g, &r, crest_shape(1, 20), -1, 1, 0);
    cr_node *y = cr_op_conv3d(g, x, k1, b1, &(cr_vol_opts){ .same = true });
    y = cr_op_pool3d(g, y, true, (int[3]){ 2, 2, 2 }, &(cr_vol_opts){ .s = { 2, 2, 2 },
                     .same = true });
    y = cr_op_pad3d(g, y, (int[6]){ 1, 0, 0, 1, 1, 1 });
    y = cr_op_pool3d(g, y, false, (int[3]){ 3, 2, 2 }, &(cr_vol_opts){ .s = { 1, 1, 1 },
                     .same = true });
    cr_node *k2 = cr_example_var(g, &r, crest_shape(5, 3, 3, 3, 16, 20), -1, 1, 0);
    y = cr_op_conv3d_transpose(g, y, k2, NULL, &(cr_vol_opts){ .s = { 2, 2, 2 }, .same = true,
                               .out_pad = { -1, -1, -1 } });
    y = cr_op_upsample3d(g, y, (int[3]){ 1, 2, 1 });
    y = cr_op_crop3d(g, y, (int[6]){ 1, 1, 0, 2, 1, 0 });
    cr_node *gp = cr_op_global_pool3d(g, y, false, false);
    cr_node *gm = cr_op_global_pool3d(g, y, true, false);
    cr_node *out = crest_op_add(g, gp, gm);
    cr_node *loss = crest_op_sum(g, crest_op_mul(g, out, out), CR_AXIS_ALL, false);
    assert_int_equal(cr_graph_status(g), 0);
    for (int i = 0; i < g->n_own_w; i++)
        g->own_w[i]->grad = cr_calloc((size_t)g->own_w[i]->size, sizeof(float));
    g->planned = false;
    assert_int_equal(cr_graph_plan(g, 1), 0);
    cr_pool *pool = threads > 1 ? cr_pool_new(threads) : NULL;
    cr_ctx c = { .pool = pool, .training = true };
    cr_graph_forward(g, &c);
    cr_graph_backward(g, loss, &c);
    *n_out = (size_t)cr_dims_count(&out->shape);
    *vals = malloc(*n_out * sizeof(float));
    memcpy(*vals, out->val, *n_out * sizeof(float));
    *n_grads = 0;
    for (int i = 0; i < g->n_own_w; i++)
        *n_grads += (size_t)g->own_w[i]->size;
    *grads = malloc(*n_grads * sizeof(float));
    for (int i = 0, off = 0; i < g->n_own_w; off += (int)g->own_w[i]->size, i++)
        memcpy(*grads + off, g->own_w[i]->grad, (size_t)g->own_w[i]->size * sizeof(float));
    cr_pool_free(pool);
    cr_graph_free(g);
}

static void test_threads_bit_identical(void **state)
{
    (void)state;
    float *o1, *g1, *o2, *g2;
    size_t no1, ng1, no2, ng2;
    chain(1, &o1, &g1, &no1, &ng1);
    chain(2, &o2, &g2, &no2, &ng2);
    assert_int_equal(no1, no2);
    assert_int_equal(ng1, ng2);
    assert_memory_equal(o1, o2, no1 * sizeof(float));
    assert_memory_equal(g1, g2, ng1 * sizeof(float));
    bool nonzero = false;
    for (size_t i = 0; i < ng1; i++)
        nonzero |= g1[i] != 0;
    assert_true(nonzero);
    free(o1);
    free(g1);
    free(o2);
    free(g2);
}

/* ---- layers: JSON round trips and errors -------------------------------------- */

static const char *const good[] = {
    "{\"class_name\":\"Conv3D\",\"config\":{\"name\":\"c\",\"filters\":4,\"kernel_size\":[3,2,1],"
    "\"strides\":2,\"padding\":\"same\",\"dilation_rate\":[1,2,1],\"activation\":\"relu\","
    "\"use_bias\":false,\"data_format\":\"channels_last\"}}",
    "{\"class_name\":\"Conv3DTranspose\",\"config\":{\"name\":\"t\",\"filters\":2,"
    "\"kernel_size\":3,\"strides\":[2,2,1],\"padding\":\"valid\",\"output_padding\":[1,0,0]}}",
    "{\"class_name\":\"Conv3DTranspose\",\"config\":{\"name\":\"t\",\"filters\":2,"
    "\"kernel_size\":3,\"output_padding\":null}}",
    "{\"class_name\":\"MaxPooling3D\",\"config\":{\"name\":\"p\",\"pool_size\":[2,3,2],"
    "\"strides\":null}}",
    "{\"class_name\":\"AveragePooling3D\",\"config\":{\"name\":\"p\",\"strides\":1,"
    "\"padding\":\"same\"}}",
    "{\"class_name\":\"GlobalAveragePooling3D\",\"config\":{\"name\":\"g\",\"keepdims\":true}}",
    "{\"class_name\":\"GlobalMaxPooling3D\",\"config\":{\"name\":\"g\"}}",
    "{\"class_name\":\"UpSampling3D\",\"config\":{\"name\":\"u\",\"size\":[1,2,3]}}",
    "{\"class_name\":\"ZeroPadding3D\",\"config\":{\"name\":\"z\",\"padding\":[[1,0],2,[0,3]]}}",
    "{\"class_name\":\"Cropping3D\",\"config\":{\"name\":\"k\",\"cropping\":[1,0,2]}}",
};

static char *layer_text(const crest_layer *l)
{
    cJSON *j = cr_layer_json(l, NULL);
    assert_non_null(j);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static void test_json_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cJSON *j = cJSON_Parse(good[i]);
        crest_layer *a = NULL, *b = NULL;
        if (cr_layer_from_json(j, &a))
            print_error("%s: %s\n", good[i], crest_last_error());
        assert_non_null(a);
        char *sa = layer_text(a);
        cJSON *ja = cJSON_Parse(sa);
        assert_int_equal(cr_layer_from_json(ja, &b), 0);
        char *sb = layer_text(b);
        assert_string_equal(sa, sb);
        print_message("%s\n", sa);
        cJSON_free(sa);
        cJSON_free(sb);
        cJSON_Delete(j);
        cJSON_Delete(ja);
        crest_layer_free(a);
        crest_layer_free(b);
    }
}

/* A layer from JSON that must fail to parse: the message says want. */
static void bad_parse(const char *json, const char *want)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    crest_layer *l = NULL;
    int rc = cr_layer_from_json(j, &l);
    print_message("%-60.60s -> %s\n", json, crest_last_error());
    assert_true(rc < 0);
    assert_null(l);
    assert_non_null(strstr(crest_last_error(), want));
    assert_non_null(strstr(crest_last_error(), "layer 'v'"));
    cJSON_Delete(j);
}

/* A layer that parses but cannot be built on input `sample`. */
static void bad_build(const char *json, crest_dims sample, const char *want)
{
    cJSON *j = cJSON_Parse(json);
    crest_layer *l = NULL;
    assert_int_equal(cr_layer_from_json(j, &l), 0);
    cJSON_Delete(j);
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, sample), 0);
    int rc = crest_add(m, l);
    if (!rc)
        rc = cr_model_build(m);
    print_message("%-60.60s -> %s\n", json, crest_last_error());
    assert_true(rc < 0);
    assert_non_null(strstr(crest_last_error(), want));
    crest_model_free(m);
}

static void test_bad_configs(void **state)
{
    (void)state;
    bad_parse("{\"class_name\":\"Conv3D\",\"config\":{\"name\":\"v\",\"filters\":2,"
              "\"kernel_size\":[3,3]}}", "kernel_size");
    bad_parse("{\"class_name\":\"Conv3D\",\"config\":{\"name\":\"v\",\"kernel_size\":3}}",
              "filters");
    bad_parse("{\"class_name\":\"Conv3D\",\"config\":{\"name\":\"v\",\"filters\":2,"
              "\"kernel_size\":3,\"strides\":[1,0,1]}}", "strides");
    bad_parse("{\"class_name\":\"Conv3D\",\"config\":{\"name\":\"v\",\"filters\":2,"
              "\"kernel_size\":3,\"data_format\":\"channels_first\"}}", "channels_first");
    bad_parse("{\"class_name\":\"Conv3D\",\"config\":{\"name\":\"v\",\"filters\":2,"
              "\"kernel_size\":3,\"padding\":\"causal\"}}", "causal");
    bad_parse("{\"class_name\":\"Conv3DTranspose\",\"config\":{\"name\":\"v\",\"filters\":2,"
              "\"kernel_size\":3,\"dilation_rate\":2}}", "dilation_rate");
    bad_parse("{\"class_name\":\"Conv3DTranspose\",\"config\":{\"name\":\"v\",\"filters\":2,"
              "\"kernel_size\":3,\"strides\":2,\"output_padding\":[0,2,0]}}", "output_padding");
    bad_parse("{\"class_name\":\"MaxPooling3D\",\"config\":{\"name\":\"v\","
              "\"pool_size\":[2,2]}}", "pool_size");
    bad_parse("{\"class_name\":\"UpSampling3D\",\"config\":{\"name\":\"v\",\"size\":0}}", "size");
    bad_parse("{\"class_name\":\"ZeroPadding3D\",\"config\":{\"name\":\"v\","
              "\"padding\":[[1,2,3],1,1]}}", "padding");
    bad_parse("{\"class_name\":\"Cropping3D\",\"config\":{\"name\":\"v\",\"cropping\":-1}}",
              "cropping");
    bad_build("{\"class_name\":\"Conv3D\",\"config\":{\"name\":\"v\",\"filters\":2,"
              "\"kernel_size\":3}}", crest_shape(3, 8, 8, 3), "rank 4");
    bad_build("{\"class_name\":\"Conv3D\",\"config\":{\"name\":\"v\",\"filters\":2,"
              "\"kernel_size\":[3,9,3]}}", crest_shape(4, 8, 8, 8, 1), "does not fit");
    bad_build("{\"class_name\":\"MaxPooling3D\",\"config\":{\"name\":\"v\","
              "\"pool_size\":[2,2,5]}}", crest_shape(4, 4, 4, 4, 1), "does not fit");
    bad_build("{\"class_name\":\"Cropping3D\",\"config\":{\"name\":\"v\",\"cropping\":2}}",
              crest_shape(4, 4, 6, 6, 1), "leave 0");
    bad_build("{\"class_name\":\"GlobalMaxPooling3D\",\"config\":{\"name\":\"v\"}}",
              crest_shape(2, 4, 4), "rank 3");
    bad_build("{\"class_name\":\"Conv3D\",\"config\":{\"name\":\"v\",\"filters\":60000,"
              "\"kernel_size\":60}}", crest_shape(4, 8, 8, 8, 2), "more than crest accepts");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv3d_direct),
        cmocka_unit_test(test_transpose_is_adjoint),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_bad_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
