/* test_q16_kernels.c - the int16 x int8 kernels (TFLite's 16x8 numbers)
 * against naive references written here from kernels.h's definitions:
 * int64 sums, and each rounding spelled out in long double arithmetic
 * (exact for these magnitudes) rather than with shifts, so that the
 * kernels' integer tricks are checked, not repeated. Every case runs on 1
 * and 2 threads and must match byte for byte; inputs are allocated to their
 * exact size (AddressSanitizer sees any read past them). Inputs include
 * the extremes -32768 and 32767, enough products per output to need the
 * int32 -> int64 flush, and more than one block of output channels. The
 * convolutions and the gemm also run on both SIMD levels (generic C and
 * the AVX2 build of the same loops), and so do the fast paths: Conv2D and
 * the gemm on packed weights (K past one int32 block, the largest
 * products; short rows on the tile that requantizes from its registers),
 * depthwise on pairs of taps, biases added in int32 or int64,
 * add and quantize eight at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static int irand(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* n int16: mostly moderate, some zeros (skipped by the kernels), some
 * extremes. */
static int16_t *vals16(size_t n)
{
    int16_t *v = xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        int r = irand(0, 15);
        v[i] = (int16_t)(r == 0 ? 0 : r == 1 ? -32768 : r == 2 ? 32767 : irand(-32768, 32767));
    }
    return v;
}

static int8_t *vals8(size_t n)
{
    int8_t *v = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        v[i] = (int8_t)(irand(0, 7) ? irand(-127, 127) : (irand(0, 1) ? 127 : -127));
    return v;
}

static cr_pool *pool2;
static double *req_rs;   /* the last make_req's scales */

/* Runs r = 0..3: threads 1 and 2 on the generic level, then on the best
 * one (AVX2 here): every run must give the reference's bits. */
static cr_pool *run_setup(int r)
{
    cr_q8_isa_select(r < 2 ? CR_Q8_GENERIC : cr_q8_isa_best());
    return r % 2 ? pool2 : NULL;
}

static int setup(void **state)
{
    (void)state;
    pool2 = cr_pool_new(2);
    print_message("q16 levels: generic and %s\n", cr_q8_isa_name(cr_q8_isa_best()));
    return pool2 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cr_pool_free(pool2);
    free(req_rs);
    return 0;
}

/* ---- the fixed-point facts ------------------------------------------------ */

/* floor(v + 1/2): v = acc * round16(mult) / 2^(15 - shift), in long double
 * (acc * r < 2^63: exact). */
static int32_t ref_scale(int64_t acc, int32_t mult, int shift)
{
    const int64_t lim = (int64_t)1 << 47;
    acc = acc < -lim ? -lim : acc > lim - 1 ? lim - 1 : acc;
    long double r = mult >= 0x7FFF0000 ? 32767.0L : floorl(((long double)mult + 32768.0L) / 65536.0L);
    long double v = floorl((long double)acc * r / ldexpl(1.0L, 15 - shift) + 0.5L);
    return (int32_t)(v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : v);
}

static void test_multiplier(void **state)
{
    (void)state;
    int32_t m;
    int s;
    cr_q16_multiplier(0.5, &m, &s);
    assert_int_equal(m, 1 << 30);
    assert_int_equal(s, 0);
    cr_q16_multiplier(1.0, &m, &s);
    assert_int_equal(m, 1 << 30);
    assert_int_equal(s, 1);
    cr_q16_multiplier(0.75, &m, &s);
    assert_int_equal(m, 0x60000000);
    assert_int_equal(s, 0);
    /* the fraction rounds up to 1: the next exponent */
    cr_q16_multiplier(1.0 - 1e-12, &m, &s);
    assert_int_equal(m, 1 << 30);
    assert_int_equal(s, 1);
    cr_q16_multiplier(1e-12, &m, &s);   /* 2^-39.9: below 2^-31, 0 */
    assert_int_equal(m, 0);
    cr_q16_multiplier(0, &m, &s);
    assert_int_equal(m, 0);
    for (int t = 0; t < 1000; t++) {
        double x = ldexp(1.0 + rnd() / 4294967296.0, irand(-30, 5));
        cr_q16_multiplier(x, &m, &s);
        assert_true(m >= (1 << 30));
        assert_true(fabs(ldexp((double)m, s - 31) / x - 1) < 1e-9);
    }
    /* TFLite's rounding of the product: half up (toward +infinity) */
    cr_q16_multiplier(0.5, &m, &s);
    assert_int_equal(cr_q16_scale(3, m, s), 2);
    assert_int_equal(cr_q16_scale(-3, m, s), -1);
    assert_int_equal(cr_q16_scale(5, m, s), 3);
    assert_int_equal(cr_q16_scale(-5, m, s), -2);
    for (int t = 0; t < 100000; t++) {
        int64_t acc = (int64_t)(int32_t)rnd() * ((int64_t)1 << irand(0, 17)) + irand(-5, 5);
        int32_t mult = irand(0, 7) ? (int32_t)(0x40000000u + rnd() % 0x40000000u)
                                   : 0x7FFF0000 + irand(0, 0xFFFE);
        int sh = irand(-31, 7);
        assert_int_equal(cr_q16_scale(acc, mult, sh), ref_scale(acc, mult, sh));
    }
}

static int16_t ref_requant(int64_t acc, const cr_q16_req *rq, int c)
{
    int32_t v = ref_scale(acc, rq->mult[c], rq->shift[c]);
    return (int16_t)(v < rq->lo ? rq->lo : v > rq->hi ? rq->hi : v);
}

/* Per-channel multipliers of s_in * s_w / s_out for a sum of `taps`
 * products, so outputs spread over the int16 range; the clamp random. */
static void make_req(int oc, int taps, cr_q16_req *rq, int32_t **mult, int32_t **shift)
{
    *mult = xmalloc((size_t)oc * sizeof **mult);
    *shift = xmalloc((size_t)oc * sizeof **shift);
    free(req_rs);
    req_rs = xmalloc((size_t)oc * sizeof *req_rs);
    for (int o = 0; o < oc; o++) {
        int s;
        double m = 1.0 / (127.0 * sqrt((double)taps) + 1) * (0.5 + irand(0, 1000) / 500.0);
        cr_q16_multiplier(m, &(*mult)[o], &s);
        (*shift)[o] = s;
    }
    cr_q16_req_scales(oc, *mult, *shift, req_rs);
    *rq = (cr_q16_req){ .mult = *mult, .shift = *shift, .rs = req_rs, .lo = -32768, .hi = 32767 };
    int k = irand(0, 2);
    if (k == 1)
        rq->lo = 0;
    if (k == 2) {
        rq->lo = 0;
        rq->hi = irand(100, 30000);
    }
}

/* Biases of one of three kinds: small (the packed and depthwise paths
 * add them in int32), up to 2^37 (int64 sums), or all near 2^31 (too close
 * for int32 with any sizeable sum). */
static int64_t *biases(int oc)
{
    int64_t *b = xmalloc((size_t)oc * sizeof *b);
    int kind = irand(0, 2);
    for (int o = 0; o < oc; o++)
        b[o] = kind == 0   ? irand(-(1 << 24), 1 << 24)
               : kind == 1 ? (int64_t)(int32_t)rnd() * irand(0, 64)
                           : (int64_t)INT32_MAX - irand(0, 1 << 20);
    return b;
}

/* ---- convolutions ------------------------------------------------------------ */

static cr_conv_geom rand_geom(int max_hw, int max_c, int max_k, int max_s, int max_d)
{
    for (;;) {
        cr_conv_geom g = { .n = irand(1, 2), .h = irand(1, max_hw), .w = irand(1, max_hw),
                           .c = irand(1, max_c), .kh = irand(1, max_k), .kw = irand(1, max_k),
                           .sh = irand(1, max_s), .sw = irand(1, max_s), .dh = irand(1, max_d),
                           .dw = irand(1, max_d) };
        g.pt = irand(0, g.kh);
        g.pl = irand(0, g.kw);
        int pb = irand(0, g.kh), pr = irand(0, g.kw);
        int eh = g.h + g.pt + pb - g.dh * (g.kh - 1) - 1, ew = g.w + g.pl + pr - g.dw * (g.kw - 1) - 1;
        g.oh = eh / g.sh + 1;
        g.ow = ew / g.sw + 1;
        if (eh >= 0 && ew >= 0)
            return g;
    }
}

/* The reference convolution (depthwise: channel o reads input o / dm). */
static void ref_conv(const cr_conv_geom *g, bool dw, const int16_t *x, const int8_t *k,
                     const int64_t *b, const cr_q16_req *rq, int16_t *y)
{
    int dm = dw ? g->oc / g->c : 1;
    for (int n = 0; n < g->n; n++)
        for (int oh = 0; oh < g->oh; oh++)
            for (int ow = 0; ow < g->ow; ow++)
                for (int o = 0; o < g->oc; o++) {
                    int64_t acc = b ? b[o] : 0;
                    for (int i = 0; i < g->kh; i++)
                        for (int j = 0; j < g->kw; j++) {
                            int iy = oh * g->sh - g->pt + i * g->dh;
                            int ix = ow * g->sw - g->pl + j * g->dw;
                            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                continue;
                            const int16_t *xp = x + (((size_t)n * g->h + iy) * g->w + ix) * g->c;
                            if (dw)
                                acc += (int64_t)xp[o / dm] * k[((size_t)i * g->kw + j) * g->oc + o];
                            else
                                for (int c = 0; c < g->c; c++)
                                    acc += (int64_t)xp[c] *
                                           k[(((size_t)i * g->kw + j) * g->c + c) * g->oc + o];
                        }
                    y[(((size_t)n * g->oh + oh) * g->ow + ow) * g->oc + o] = ref_requant(acc, rq, o);
                }
}

static void conv_case(const cr_conv_geom *g, bool dw)
{
    size_t nx = (size_t)g->n * g->h * g->w * g->c, ny = (size_t)g->n * g->oh * g->ow * g->oc;
    size_t nk = (size_t)g->kh * g->kw * (dw ? (size_t)g->oc : (size_t)g->c * g->oc);
    int16_t *x = vals16(nx), *want = xmalloc(ny * 2), *got = xmalloc(ny * 2 + 16);
    int8_t *k = vals8(nk);
    int64_t *b = irand(0, 3) ? biases(g->oc) : NULL;
    cr_q16_req rq;
    int32_t *mult, *shift;
    make_req(g->oc, g->kh * g->kw * (dw ? 1 : g->c), &rq, &mult, &shift);
    ref_conv(g, dw, x, k, b, &rq, want);
    for (int th = 0; th < 4; th++) {
        memset(got, 0x5a, ny * 2 + 16);
        (dw ? cr_q16_depthwise2d : cr_q16_conv2d)(run_setup(th), g, x, k, b, &rq, got);
        assert_memory_equal(got, want, ny * 2);
        for (size_t i = ny * 2; i < ny * 2 + 16; i++)
            assert_int_equal(((uint8_t *)got)[i], 0x5a);
    }
    if (!dw) {   /* the packed path (im2col on the int8 gemm's tiles) */
        void *kp = xmalloc(cr_q16_conv2d_packed_bytes(g));
        cr_q16_conv2d_pack(g, k, kp);
        for (int th = 0; th < 4; th++) {
            memset(got, 0x5a, ny * 2 + 16);
            cr_q16_conv2d_packed(run_setup(th), g, x, kp, b, &rq, got);
            assert_memory_equal(got, want, ny * 2);
            for (size_t i = ny * 2; i < ny * 2 + 16; i++)
                assert_int_equal(((uint8_t *)got)[i], 0x5a);
        }
        free(kp);
    }
    free(x);
    free(want);
    free(got);
    free(k);
    free(b);
    free(mult);
    free(shift);
}

static void test_conv2d(void **state)
{
    (void)state;
    for (int t = 0; t < 60; t++) {
        cr_conv_geom g = rand_geom(8, t % 5 ? 12 : 70, 3, 2, 2);
        g.oc = t % 7 ? irand(1, 20) : irand(250, 300);   /* two blocks of channels */
        conv_case(&g, false);
    }
    /* a 1x1 convolution with long rows: products past the int32 flush */
    cr_conv_geom pw = { .n = 1, .h = 3, .w = 4, .c = 700, .oh = 3, .ow = 4, .oc = 9, .kh = 1,
                        .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1 };
    conv_case(&pw, false);
    /* enough work for chunks on both threads: a 3x3 stride-2 stem (K 27),
     * and a 1x1 and a 3x3 with K past one int32 block of the packed path */
    cr_conv_geom stem = { .n = 2, .h = 23, .w = 21, .c = 3, .oh = 12, .ow = 11, .oc = 32,
                          .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 1, .pl = 1 };
    conv_case(&stem, false);
    cr_conv_geom pw2 = { .n = 2, .h = 7, .w = 9, .c = 576, .oh = 7, .ow = 9, .oc = 40, .kh = 1,
                         .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1 };
    conv_case(&pw2, false);
    cr_conv_geom c3 = { .n = 1, .h = 6, .w = 7, .c = 70, .oh = 6, .ow = 7, .oc = 270, .kh = 3,
                        .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1 };
    conv_case(&c3, false);
    /* short patches and 1x1 with short rows, past one tile of rows */
    cr_conv_geom s3 = { .n = 1, .h = 9, .w = 10, .c = 3, .oh = 9, .ow = 10, .oc = 35, .kh = 3,
                        .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1 };
    conv_case(&s3, false);
    cr_conv_geom s1 = { .n = 2, .h = 8, .w = 7, .c = 24, .oh = 8, .ow = 7, .oc = 144, .kh = 1,
                        .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1 };
    conv_case(&s1, false);
}

static void test_depthwise(void **state)
{
    (void)state;
    for (int t = 0; t < 60; t++) {
        cr_conv_geom g = rand_geom(t % 5 ? 9 : 24, t % 3 ? 30 : 300, t % 4 ? 3 : 5, 3, 2);
        g.oc = g.c * (t % 4 ? 1 : irand(2, 3));
        conv_case(&g, true);
    }
    /* a 17x17 window: more taps than one int32 partial holds */
    cr_conv_geom big = { .n = 1, .h = 17, .w = 17, .c = 5, .oh = 1, .ow = 1, .oc = 5, .kh = 17,
                         .kw = 17, .sh = 1, .sw = 1, .dh = 1, .dw = 1 };
    conv_case(&big, true);
    /* rows for both threads on the AVX2 pairs-of-taps loop: 3x3 at stride
     * 1 and 2 over channels with and without a tail of 16, and 5x5 (an odd
     * number of taps, the last one unpaired) */
    cr_conv_geom d1 = { .n = 2, .h = 14, .w = 13, .c = 40, .oh = 14, .ow = 13, .oc = 40, .kh = 3,
                        .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1 };
    conv_case(&d1, true);
    cr_conv_geom d2 = { .n = 1, .h = 15, .w = 16, .c = 96, .oh = 7, .ow = 8, .oc = 96, .kh = 3,
                        .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 0, .pl = 0 };
    conv_case(&d2, true);
    cr_conv_geom d5 = { .n = 1, .h = 9, .w = 11, .c = 37, .oh = 9, .ow = 11, .oc = 37, .kh = 5,
                        .kw = 5, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 2, .pl = 2 };
    conv_case(&d5, true);
}

/* ---- gemm ---------------------------------------------------------------- */

/* C = A B (+ bias) on every level and thread count, unpacked and packed:
 * requantized, and the int64 sums. extreme: A all -32768 and B all -127,
 * the largest products (a packed int32 block of more than 512 of them
 * would overflow). */
static void gemm_case(int M, int N, int K, bool with_bias, bool extreme)
{
    int16_t *A = vals16((size_t)M * K), *want = xmalloc((size_t)M * N * 2);
    int16_t *got = xmalloc((size_t)M * N * 2);
    int8_t *B = vals8((size_t)K * N);
    int64_t *b = with_bias ? biases(N) : NULL, *w64 = xmalloc((size_t)M * N * 8);
    int64_t *g64 = xmalloc((size_t)M * N * 8);
    void *Bp = xmalloc(cr_q16_gemm_packed_bytes(K, N));
    cr_q16_req rq;
    int32_t *mult, *shift;
    for (size_t i = 0; extreme && i < (size_t)M * K; i++)
        A[i] = -32768;
    for (size_t i = 0; extreme && i < (size_t)K * N; i++)
        B[i] = -127;
    make_req(N, K, &rq, &mult, &shift);
    cr_q16_gemm_pack(K, N, B, Bp);
    for (int r = 0; r < M; r++)
        for (int o = 0; o < N; o++) {
            int64_t acc = b ? b[o] : 0;
            for (int k = 0; k < K; k++)
                acc += (int64_t)A[(size_t)r * K + k] * B[(size_t)k * N + o];
            w64[(size_t)r * N + o] = acc;
            want[(size_t)r * N + o] = ref_requant(acc, &rq, o);
        }
    for (int th = 0; th < 4; th++) {
        cr_q16_gemm(run_setup(th), M, N, K, A, B, b, &rq, got, NULL);
        assert_memory_equal(got, want, (size_t)M * N * 2);
        cr_q16_gemm(run_setup(th), M, N, K, A, B, b, NULL, NULL, g64);
        assert_memory_equal(g64, w64, (size_t)M * N * 8);
        memset(got, 0, (size_t)M * N * 2);
        cr_q16_gemm_packed(run_setup(th), M, N, K, A, Bp, b, &rq, got, NULL);
        assert_memory_equal(got, want, (size_t)M * N * 2);
        memset(g64, 0, (size_t)M * N * 8);
        cr_q16_gemm_packed(run_setup(th), M, N, K, A, Bp, b, NULL, NULL, g64);
        assert_memory_equal(g64, w64, (size_t)M * N * 8);
    }
    free(A);
    free(want);
    free(got);
    free(B);
    free(b);
    free(w64);
    free(g64);
    free(Bp);
    free(mult);
    free(shift);
}

static void test_gemm(void **state)
{
    (void)state;
    for (int t = 0; t < 40; t++) {
        int M = irand(1, 9), N = t % 5 ? irand(1, 40) : irand(257, 300);
        int K = t % 3 ? irand(1, 50) : irand(500, 1300);
        gemm_case(M, N, K, t % 4, false);
    }
    /* chunks on both threads (more rows than one block of the packed path,
     * columns past one chunk); K at and past one int32 block */
    gemm_case(150, 270, 96, true, false);
    gemm_case(100, 40, 512, true, false);
    gemm_case(60, 24, 513, false, false);
    gemm_case(7, 33, 1300, true, true);
    gemm_case(53, 17, 512, false, true);
    /* short rows (the AVX2 tiles requantizing from their registers): K of
     * MobileNetV2's narrow layers, K not a multiple of 4 (rows gathered),
     * columns and rows past whole tiles, the largest products */
    gemm_case(150, 96, 16, true, false);
    gemm_case(61, 37, 24, true, false);
    gemm_case(97, 270, 32, false, false);
    gemm_case(43, 50, 29, true, false);
    gemm_case(29, 21, 30, true, false);
    gemm_case(13, 19, 7, false, false);
    gemm_case(50, 33, 32, false, true);
}

/* ---- add ------------------------------------------------------------------ */

/* gemmlowp's doubling high multiply: x = a * b / 2^31 rounded half up;
 * then the division by 2^e rounded half away from zero. */
static int32_t ref_mul_small(int32_t x, int32_t m, int32_t sh)
{
    long double h = floorl((long double)x * m / 2147483648.0L + 0.5L);
    long double q = h / ldexpl(1.0L, -sh);
    return (int32_t)(q >= 0 ? floorl(q + 0.5L) : -floorl(-q + 0.5L));
}

static void test_add(void **state)
{
    (void)state;
    for (int t = 0; t < 50; t++) {
        float sa = ldexpf(1.0f + irand(0, 1000) / 1000.0f, irand(-12, -4));
        float sb = t % 5 ? ldexpf(1.0f + irand(0, 1000) / 1000.0f, irand(-12, -4)) : sa;
        float sy = (sa > sb ? sa : sb) * (0.5f + irand(0, 1000) / 500.0f);
        cr_q16_add_par p;
        cr_q16_add_params(sa, sb, sy, &p);
        assert_true(p.sha <= 0 && p.shb <= 0 && p.shy <= 0);
        /* the multipliers are TFLite's: of s / 2max and 2max / (2^15 s_y) */
        double twice = 2.0 * (sa > sb ? sa : sb);
        assert_true(fabs(ldexp(p.ma, p.sha - 31) / (sa / twice) - 1) < 1e-9);
        assert_true(fabs(ldexp(p.my, p.shy - 31) / (twice / 32768.0 / sy) - 1) < 1e-9);
        if (t % 3 == 0)
            p.lo = 0;
        int64_t n = irand(1, 3000);
        int16_t *a = vals16((size_t)n), *b = vals16((size_t)n);
        int16_t *want = xmalloc((size_t)n * 2), *got = xmalloc((size_t)n * 2);
        for (int64_t i = 0; i < n; i++) {
            int32_t u = ref_mul_small(a[i] * 32768, p.ma, p.sha);
            int32_t v = ref_mul_small(b[i] * 32768, p.mb, p.shb);
            int32_t y = ref_mul_small(u + v, p.my, p.shy);
            want[i] = (int16_t)(y < p.lo ? p.lo : y > p.hi ? p.hi : y);
            /* and within one code of the real sum */
            double real = (a[i] * (double)sa + b[i] * (double)sb) / sy;
            if (real > p.lo + 1 && real < p.hi - 1)
                assert_true(fabs(want[i] - real) <= 1.01);
        }
        for (int th = 0; th < 4; th++) {
            cr_q16_add(run_setup(th), n, a, b, &p, got);
            assert_memory_equal(got, want, (size_t)n * 2);
        }
        free(a);
        free(b);
        free(want);
        free(got);
    }
}

/* ---- pooling and conversions ------------------------------------------------- */

static void test_pooling(void **state)
{
    (void)state;
    for (int t = 0; t < 60; t++) {
        cr_conv_geom g = rand_geom(t % 4 ? 9 : 30, t % 2 ? 20 : 300, 3, 3, 1);
        g.dh = g.dw = 1;
        g.oh = (g.h + 2 * g.pt - g.kh) / g.sh + 1;
        g.ow = (g.w + 2 * g.pl - g.kw) / g.sw + 1;
        if (g.oh < 1 || g.ow < 1)
            continue;
        g.oc = g.c;
        bool max = t % 2;
        int32_t lo = t % 3 ? -32768 : 0, hi = 32767;
        size_t nx = (size_t)g.n * g.h * g.w * g.c, ny = (size_t)g.n * g.oh * g.ow * g.c;
        int16_t *x = vals16(nx), *want = xmalloc(ny * 2), *got = xmalloc(ny * 2);
        for (int n = 0; n < g.n; n++)
            for (int oh = 0; oh < g.oh; oh++)
                for (int ow = 0; ow < g.ow; ow++)
                    for (int c = 0; c < g.c; c++) {
                        long double s = 0;
                        int cnt = 0, m = -32768;
                        for (int i = 0; i < g.kh; i++)
                            for (int j = 0; j < g.kw; j++) {
                                int iy = oh * g.sh - g.pt + i, ix = ow * g.sw - g.pl + j;
                                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w)
                                    continue;
                                int v = x[(((size_t)n * g.h + iy) * g.w + ix) * g.c + c];
                                s += v;
                                m = v > m ? v : m;
                                cnt++;
                            }
                        /* the mean rounded half away from zero */
                        long double q = cnt ? s / cnt : 0;
                        long double r = q >= 0 ? floorl(q + 0.5L) : -floorl(-q + 0.5L);
                        int v = (int)r;   /* max: unclamped */
                        want[(((size_t)n * g.oh + oh) * g.ow + ow) * g.c + c] =
                            (int16_t)(max ? m : v < lo ? lo : v > hi ? hi : v);
                    }
        for (int th = 0; th < 2; th++) {
            if (max)
                cr_q16_maxpool2d(th ? pool2 : NULL, &g, x, got);
            else
                cr_q16_avgpool2d(th ? pool2 : NULL, &g, x, lo, hi, got);
            if (memcmp(got, want, ny * 2))
                fail_msg("%s pool n %d h %d w %d c %d k %dx%d s %d,%d p %d,%d -> %dx%d, %d threads",
                         max ? "max" : "avg", g.n, g.h, g.w, g.c, g.kh, g.kw, g.sh, g.sw, g.pt,
                         g.pl, g.oh, g.ow, th + 1);
        }
        free(x);
        free(want);
        free(got);
    }
}

static void test_quantize(void **state)
{
    (void)state;
    float x[] = { 0.0f, 0.5f, -0.5f, 1.5f, -1.5f, 2.49f, 1e9f, -1e9f, NAN, 32766.5f, -32767.5f,
                  0.49999997f, -0.49999997f, 8388607.5f, -2.5f, 2.5f, -0.0f, 100.5f };
    int16_t want[] = { 0, 1, -1, 2, -2, 2, 32767, -32768, -32768, 32767, -32768,
                       0, 0, 32767, -3, 3, 0, 101 };
    enum { NX = sizeof x / sizeof *x };
    int16_t q[NX];
    float back[NX];
    /* s = 0.5: x / s = 2x; halves round away from zero; both levels (the
     * first 16 values on AVX2's vector loop) */
    float xs[NX];
    for (int i = 0; i < NX; i++)
        xs[i] = x[i] * 0.5f;
    for (int th = 0; th < 4; th++) {
        memset(q, 0x5a, sizeof q);
        cr_q16_quantize(run_setup(th), NX, xs, 0.5f, q);
        assert_memory_equal(q, want, sizeof want);
    }
    cr_q16_dequantize(NULL, NX, q, 0.25f, back);
    for (int i = 0; i < NX; i++)
        assert_true(back[i] == (float)q[i] * 0.25f);
    /* many values, both thread counts: round(x / s) */
    enum { N = 100000 };
    float *v = xmalloc(N * sizeof *v);
    int16_t *a = xmalloc(N * 2), *b = xmalloc(N * 2);
    for (int i = 0; i < N; i++)
        v[i] = (float)irand(-40000, 40000) / 7.0f;
    cr_q16_quantize(run_setup(0), N, v, 0.3f, a);
    for (int th = 1; th < 4; th++) {
        cr_q16_quantize(run_setup(th), N, v, 0.3f, b);
        assert_memory_equal(a, b, N * 2);
    }
    for (int i = 0; i < N; i++) {
        float f = v[i] / 0.3f;
        long r = lroundf(f);
        assert_int_equal(a[i], r < -32768 ? -32768 : r > 32767 ? 32767 : r);
    }
    free(v);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multiplier), cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_depthwise),  cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_add),        cmocka_unit_test(test_pooling),
        cmocka_unit_test(test_quantize),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
