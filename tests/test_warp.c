/* test_warp.c - the image warp op behind Keras' geometric augmentation
 * (src/ops/warp.c):
 *  - against TF.js' tf.image.transform (tests/golden/warp/, written by
 *    tools/golden/warp.js): 9 maps (rotations, zooms in and out, a
 *    translation, both flips, a projective map, a map reaching several
 *    periods outside the image) x 4 fill modes x 2 interpolations;
 *  - the draws: a rotation range of one angle is that rotation; a flip is
 *    exact and its probability about 1/2 per axis; factors of 0 give the
 *    input back; the draws follow the graph's seed;
 *  - one and two threads give the same bits.
 * (The finite-difference gradient check runs from the op registry.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#define H 7
#define W 6
#define C 3
#define PER (H * W * C)

static float *golden(const char *name, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "tests/golden/warp/%s", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    float *v = malloc(n * sizeof *v);
    assert_int_equal(fread(v, sizeof *v, n, f), n);
    fclose(f);
    return v;
}

/* y = warp(x) of a [2, H, W, C] input through attr a; bits into y. */
static void run(const cr_warp_attr *a, const float *x, float *y, cr_pool *pool, uint64_t seed)
{
    cr_graph *g = cr_graph_new(NULL, false);
    cr_rng r;
    cr_rng_seed(&r, 1);
    cr_node *in = cr_example_var(g, &r, crest_shape(4, 2, H, W, C), -1, 1, 0);
    memcpy(in->val, x, 2 * PER * sizeof *x);
    cr_node *out = cr_op_warp(g, in, a);
    assert_non_null(out);
    assert_int_equal(cr_graph_plan(g, 1), CREST_OK);
    cr_rng draws;
    cr_rng_seed(&draws, seed);
    cr_graph_forward(g, &(cr_ctx){ .pool = pool, .rng = &draws, .training = true });
    memcpy(y, out->val, 2 * PER * sizeof *y);
    cr_graph_free(g);
}

static void test_matches_tfjs(void **state)
{
    (void)state;
    enum { MAPS = 9 };
    float *x = golden("input.f32", 2 * PER), *maps = golden("maps.f32", MAPS * 8);
    float *want = golden("out.f32", (size_t)MAPS * 8 * 2 * PER), y[2 * PER];
    static const int fills[] = { CR_FILL_REFLECT, CR_FILL_WRAP, CR_FILL_CONSTANT, CR_FILL_NEAREST };
    static const char *const names[] = { "reflect", "wrap", "constant", "nearest" };
    double worst = 0;
    for (int m = 0, k = 0; m < MAPS; m++)
        for (int f = 0; f < 4; f++)
            for (int bil = 0; bil < 2; bil++, k++) {
                cr_warp_attr a = { .kind = CR_WARP_GIVEN, .fill = fills[f], .bilinear = bil,
                                   .fill_value = 0.25f };
                memcpy(a.given, maps + 8 * m, sizeof a.given);
                run(&a, x, y, NULL, 1);
                double d = 0;
                for (int i = 0; i < 2 * PER; i++)
                    d = fmax(d, fabs((double)y[i] - want[(size_t)k * 2 * PER + i]));
                if (d > 1e-5)
                    print_error("map %d, %s, %s: max |crest - TF.js| %.3g\n", m, names[f],
                                bil ? "bilinear" : "nearest", d);
                worst = fmax(worst, d);
            }
    print_message("72 warps against tf.image.transform: worst %.2e\n", worst);
    assert_true(worst <= 1e-5);
    free(x);
    free(maps);
    free(want);
}

static void test_draws(void **state)
{
    (void)state;
    float *x = golden("input.f32", 2 * PER), *maps = golden("maps.f32", 9 * 8);
    float y[2 * PER], z[2 * PER];
    /* a rotation range of one angle (0.3 rad = 0.3 / 2pi turns) is that map */
    float turns = 0.3f / 6.283185307179586f;
    cr_warp_attr rot = { .kind = CR_WARP_ROTATE, .lo = { turns, 0 }, .hi = { turns, 0 },
                         .fill = CR_FILL_REFLECT, .bilinear = true };
    cr_warp_attr given = { .kind = CR_WARP_GIVEN, .fill = CR_FILL_REFLECT, .bilinear = true };
    memcpy(given.given, maps, sizeof given.given);
    run(&rot, x, y, NULL, 7);
    run(&given, x, z, NULL, 7);
    for (int i = 0; i < 2 * PER; i++)
        assert_true(fabsf(y[i] - z[i]) <= 1e-5f);
    /* zero factors: the input, exactly */
    cr_warp_attr none[] = {
        { .kind = CR_WARP_ROTATE, .bilinear = true },
        { .kind = CR_WARP_ZOOM, .bilinear = true, .flags = CR_ZOOM_KEEP_ASPECT },
        { .kind = CR_WARP_TRANSLATE, .bilinear = true },
        { .kind = CR_WARP_FLIP },
    };
    for (size_t i = 0; i < sizeof none / sizeof *none; i++) {
        run(&none[i], x, y, NULL, 3);
        assert_memory_equal(x, y, sizeof y);
    }
    /* flips: each sample is the input or its mirror, exactly; over many
     * seeds each axis flips about half the time */
    int flips = 0, total = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        cr_warp_attr fl = { .kind = CR_WARP_FLIP, .flags = CR_FLIP_HORIZONTAL, .bilinear = true };
        run(&fl, x, y, NULL, seed);
        for (int b = 0; b < 2; b++, total++) {
            const float *xs = x + b * PER, *ys = y + b * PER;
            bool same = !memcmp(xs, ys, PER * sizeof *xs), mirror = true;
            for (int r = 0; r < H && mirror; r++)
                for (int q = 0; q < W && mirror; q++)
                    mirror = !memcmp(ys + (r * W + q) * C, xs + (r * W + W - 1 - q) * C,
                                     C * sizeof *xs);
            assert_true(same || mirror);
            flips += !same;
        }
    }
    print_message("horizontal flips: %d of %d\n", flips, total);
    assert_true(flips > total * 0.4 && flips < total * 0.6);
    /* the same seed, the same draws; another seed, others */
    cr_warp_attr zoom = { .kind = CR_WARP_ZOOM, .lo = { -0.3f, 0 }, .hi = { 0.3f, 0 },
                          .flags = CR_ZOOM_KEEP_ASPECT, .fill = CR_FILL_NEAREST,
                          .bilinear = true };
    run(&zoom, x, y, NULL, 11);
    run(&zoom, x, z, NULL, 11);
    assert_memory_equal(y, z, sizeof y);
    run(&zoom, x, z, NULL, 12);
    assert_memory_not_equal(y, z, sizeof y);
    free(x);
    free(maps);
}

static void test_threads(void **state)
{
    (void)state;
    float *x = golden("input.f32", 2 * PER), y1[2 * PER], y2[2 * PER];
    cr_pool *pool = cr_pool_new(2);
    assert_non_null(pool);
    cr_warp_attr a = { .kind = CR_WARP_ROTATE, .lo = { -0.2f, 0 }, .hi = { 0.2f, 0 },
                       .fill = CR_FILL_WRAP, .bilinear = true };
    run(&a, x, y1, NULL, 5);
    run(&a, x, y2, pool, 5);
    assert_memory_equal(y1, y2, sizeof y1);
    cr_pool_free(pool);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_tfjs),
        cmocka_unit_test(test_draws),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
