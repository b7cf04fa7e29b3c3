/* test_upsample.c - the ops behind Conv2DTranspose and UpSampling2D
 * (src/ops/upsample.c) over many geometries:
 *  - finite-difference gradient checks (central differences of
 *    L = sum(y * R) in double; |a - n| / max(1, |a|, |n|) <= 2e-3) of the
 *    input and the kernel, for kernels smaller, equal and larger than the
 *    stride, 'valid' and 'same', and for nearest and bilinear upsampling
 *    by square and uneven factors;
 *  - conv2d_transpose's forward against its definition written as a
 *    scatter (every input cell adds x * k to the output cells it reaches),
 *    the other way round from the op's gather;
 *  - results bit-identical for 1 and 3 threads.
 * (TF.js goldens of the layers: tools/golden/cases/upsample2d.js.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "gradcheck.h"

typedef struct geo {
    int h, w, c, kh, kw, oc, sh, sw;
    bool same;
} geo;

static const geo tconv_geos[] = {
    { 3, 4, 2, 3, 3, 2, 2, 2, true },  { 3, 3, 2, 4, 4, 3, 2, 2, true },
    { 2, 3, 3, 3, 3, 2, 2, 2, false }, { 2, 3, 2, 1, 2, 3, 3, 2, false },
    { 4, 3, 2, 2, 3, 2, 1, 1, false }, { 3, 2, 2, 2, 2, 2, 1, 1, true },
    { 2, 2, 1, 5, 3, 2, 2, 3, true },  { 3, 2, 2, 2, 5, 1, 3, 1, false },
};

/* Worst relative error of the analytic gradients of every variable of g. */
static double gradcheck(cr_graph *g, cr_node *out, cr_rng *rng, const char *what)
{
    double worst = gc_worst(g, out, rng, what, 2e-3);
    assert_true(worst >= 0);   /* planned */
    return worst;
}

static void test_tconv_gradients(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof tconv_geos / sizeof *tconv_geos; i++) {
        const geo *q = &tconv_geos[i];
        cr_rng r;
        cr_rng_seed(&r, 10 + i);
        cr_graph *g = cr_graph_new(NULL, true);
        cr_node *x = cr_example_var(g, &r, crest_shape(4, 2, q->h, q->w, q->c), -1, 1, 0);
        cr_node *k = cr_example_var(g, &r, crest_shape(4, q->kh, q->kw, q->oc, q->c), -1, 1, 0);
        cr_node *y = cr_op_conv2d_transpose(g, x, k, q->sh, q->sw, q->same);
        assert_non_null(y);
        char what[64];
        snprintf(what, sizeof what, "tconv geometry %zu", i);
        double worst = gradcheck(g, y, &r, what);
        print_message("%s: out %s, worst %.2e\n", what,
                      cr_dims_str(&y->shape, (char[64]){ 0 }, 64), worst);
        assert_true(worst <= 2e-3);
        cr_graph_free(g);
    }
}

static void test_upsample_gradients(void **state)
{
    (void)state;
    static const int sizes[][2] = { { 1, 1 }, { 2, 2 }, { 2, 3 }, { 3, 2 }, { 4, 1 } };
    for (int bil = 0; bil < 2; bil++)
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            cr_rng r;
            cr_rng_seed(&r, 30 + i);
            cr_graph *g = cr_graph_new(NULL, true);
            cr_node *x = cr_example_var(g, &r, crest_shape(4, 2, 3, 4, 2), -1, 1, 0);
            cr_node *y = cr_op_upsample2d(g, x, sizes[i][0], sizes[i][1], bil);
            char what[64];
            snprintf(what, sizeof what, "upsample %dx%d %s", sizes[i][0], sizes[i][1],
                     bil ? "bilinear" : "nearest");
            double worst = gradcheck(g, y, &r, what);
            print_message("%s: worst %.2e\n", what, worst);
            assert_true(worst <= 2e-3);
            cr_graph_free(g);
        }
}

/* y as the scatter of every input cell (the definition, not the op's gather). */
static void tconv_scatter(const geo *q, int n, const float *x, const float *k, float *y,
                          int oh, int ow)
{
    int th = (q->h - 1) * q->sh + q->kh - oh, tw = (q->w - 1) * q->sw + q->kw - ow;
    int pt = q->same && th > 0 ? th / 2 : 0, pl = q->same && tw > 0 ? tw / 2 : 0;
    memset(y, 0, (size_t)n * oh * ow * q->oc * sizeof(float));
    for (int b = 0; b < n; b++)
        for (int iy = 0; iy < q->h; iy++)
            for (int ix = 0; ix < q->w; ix++)
                for (int ky = 0; ky < q->kh; ky++)
                    for (int kx = 0; kx < q->kw; kx++) {
                        int oy = iy * q->sh - pt + ky, ox = ix * q->sw - pl + kx;
                        if (oy < 0 || oy >= oh || ox < 0 || ox >= ow)
                            continue;
                        for (int o = 0; o < q->oc; o++)
                            for (int c = 0; c < q->c; c++)
                                y[(((size_t)b * oh + oy) * ow + ox) * q->oc + o] +=
                                    x[(((size_t)b * q->h + iy) * q->w + ix) * q->c + c] *
                                    k[((ky * q->kw + kx) * q->oc + o) * q->c + c];
                    }
}

static void test_tconv_forward_and_threads(void **state)
{
    (void)state;
    cr_pool *pool = cr_pool_new(3);
    assert_non_null(pool);
    for (size_t i = 0; i < sizeof tconv_geos / sizeof *tconv_geos; i++) {
        geo q = tconv_geos[i];
        q.h *= 5;   /* large enough for the pool to split rows */
        q.w *= 7;
        q.c *= 4;
        q.oc *= 4;
        cr_rng r;
        cr_rng_seed(&r, 50 + i);
        cr_graph *g = cr_graph_new(NULL, false);
        cr_node *x = cr_example_var(g, &r, crest_shape(4, 3, q.h, q.w, q.c), -1, 1, 0);
        cr_node *k = cr_example_var(g, &r, crest_shape(4, q.kh, q.kw, q.oc, q.c), -1, 1, 0);
        cr_node *y = cr_op_conv2d_transpose(g, x, k, q.sh, q.sw, q.same);
        assert_non_null(y);
        assert_int_equal(cr_graph_plan(g, 1), CREST_OK);
        int oh = (int)y->shape.d[1], ow = (int)y->shape.d[2];
        int64_t cnt = cr_dims_count(&y->shape);
        float *ref = malloc((size_t)cnt * sizeof *ref), *one = malloc((size_t)cnt * sizeof *one);
        tconv_scatter(&q, 3, x->val, k->val, ref, oh, ow);
        cr_graph_forward(g, &(cr_ctx){ 0 });
        memcpy(one, y->val, (size_t)cnt * sizeof(float));
        double d = 0;
        for (int64_t t = 0; t < cnt; t++)
            d = fmax(d, fabs((double)one[t] - ref[t]));
        cr_graph_forward(g, &(cr_ctx){ .pool = pool });
        assert_memory_equal(one, y->val, (size_t)cnt * sizeof(float));
        print_message("tconv geometry %zu at %dx%d: max |op - scatter| %.2e\n", i, q.h, q.w, d);
        assert_true(d < 1e-4);
        free(ref);
        free(one);
        cr_graph_free(g);
    }
    cr_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tconv_gradients),
        cmocka_unit_test(test_upsample_gradients),
        cmocka_unit_test(test_tconv_forward_and_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
