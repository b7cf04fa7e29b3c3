/* test_q8_kernels.c - every int8 kernel against a naive reference written
 * here from kernels.h's definitions (int64 sums, the requantization spelled
 * out), byte for byte.
 *
 * Each case packs once, then runs on every int8 SIMD level this CPU has and
 * on 1 and 2 threads; all must equal the reference exactly. Shapes are
 * random and deliberately odd (row lengths and channel counts that are not
 * multiples of 4, 16 or a tile, leading dimensions past the row, padding
 * wider than the kernel, strides, dilations, depth multipliers, n > 1), and
 * inputs are allocated to their exact size so that AddressSanitizer sees
 * any read past them; outputs carry guard bytes that must stay untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crest.h"
#include "kernels/kernels.h"

/* ---- helpers -------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static int irand(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

static float urand(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() >> 8) / 16777216.0f; }

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* n bytes; mode 0: uniform 0..255, 1: uniform -127..127, 2: mostly near
 * the middle with a few extremes */
static uint8_t *bytes(size_t n, int mode)
{
    uint8_t *v = xmalloc(n);
    for (size_t i = 0; i < n; i++) {
        if (mode == 1)
            v[i] = (uint8_t)(int8_t)irand(-127, 127);
        else if (mode == 2 && rnd() % 8)
            v[i] = (uint8_t)irand(100, 156);
        else
            v[i] = (uint8_t)irand(0, 255);
    }
    return v;
}

static int32_t *biases(int n, int span)
{
    int32_t *b = xmalloc((size_t)n * sizeof *b);
    for (int i = 0; i < n; i++)
        b[i] = irand(-span, span);
    return b;
}

/* The requantization as kernels.h defines it. */
static uint8_t ref_requant(int64_t acc, float m, int z, int lo, int hi)
{
    float f = (float)(int32_t)acc;
    f = f * m;
    if (!(f > (float)(lo - z)))
        f = (float)(lo - z);
    if (!(f < (float)(hi - z)))
        f = (float)(hi - z);
    return (uint8_t)((int)nearbyintf(f) + z);
}

/* A requantization for sums of `terms` products of (x - z) * w: the
 * multiplier spreads the outputs over the byte range, so that both clamps
 * and many rounding cases are hit. Per channel or per tensor; the fused
 * activation's clamp at random. half: m = 0.5 (exact ties to even). */
typedef struct req {
    cr_q8_req rq;
    float *m;
} req;

static req make_req(int oc, int64_t terms, bool half)
{
    req r;
    r.m = xmalloc((size_t)(oc > 0 ? oc : 1) * sizeof *r.m);
    double spread = 60.0 / (sqrt((double)(terms > 0 ? terms : 1)) * 74.0 * 73.0);
    for (int i = 0; i < oc; i++)
        r.m[i] = half ? 0.5f : (float)(spread * urand(0.3f, 3.0f));
    r.rq.m = r.m;
    r.rq.per_tensor = rnd() % 3 == 0;
    r.rq.z_out = irand(0, 255);
    r.rq.lo = 0;
    r.rq.hi = 255;
    switch (rnd() % 3) {
    case 1: r.rq.lo = r.rq.z_out; break;                  /* relu */
    case 2:                                               /* relu6, or any clamp */
        r.rq.lo = irand(0, r.rq.z_out);
        r.rq.hi = irand(r.rq.lo, 255);
        break;
    default: break;
    }
    return r;
}

static float req_m(const req *r, int c) { return r->rq.per_tensor ? r->m[0] : r->m[c]; }

static cr_pool *pool2;

static int setup(void **state)
{
    (void)state;
    pool2 = cr_pool_new(2);
    return pool2 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cr_pool_free(pool2);
    cr_q8_isa_select(cr_q8_isa_best());
    return 0;
}

/* Counts (and prints the first few of) bytes that differ. */
static int n_diff(const char *what, const uint8_t *got, const uint8_t *want, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            if (bad < 5)
                print_error("%s [%zu]: got %d want %d\n", what, i, got[i], want[i]);
            bad++;
        }
    return bad;
}

/* Runs every supported level with 1 and 2 threads (simple loop form). */
typedef struct run {
    int lv, th;
    cr_pool *p;
    char name[48];
} run;

static bool next_run(run *r)
{
    for (;;) {
        if (r->th == 0) {
            r->lv = 0;
            r->th = 1;
        } else if (r->th == 1) {
            r->th = 2;
        } else {
            r->lv++;
            r->th = 1;
        }
        if (r->lv > CR_Q8_AVX512VNNI) {
            cr_q8_isa_select(cr_q8_isa_best());
            return false;
        }
        if (!cr_q8_isa_supported((cr_q8_isa)r->lv))
            continue;
        if (cr_q8_isa_select((cr_q8_isa)r->lv) != (cr_q8_isa)r->lv)
            continue;
        r->p = r->th == 1 ? NULL : pool2;
        snprintf(r->name, sizeof r->name, "%s, %d thread%s", cr_q8_isa_name((cr_q8_isa)r->lv),
                 r->th, r->th > 1 ? "s" : "");
        return true;
    }
}

#define GUARD 0xA5

/* ---- gemm ----------------------------------------------------------------- */

/* extreme: A 255 (a few 0), B -127 (a few 127), z_a 0: the sums reach
 * -K * 255 * 127 (they wrap past about 66000 taps, kernels.h). */
static int gemm_case_x(int M, int N, int K, int lda, int ldc, bool half, bool i32, bool extreme)
{
    size_t asz = M > 0 ? (size_t)(M - 1) * lda + K : 0;
    uint8_t *A = bytes(asz, rnd() % 2 ? 0 : 2);
    int8_t *B = (int8_t *)bytes((size_t)K * N, 1);
    int32_t *bias = rnd() % 4 ? biases(N, 100000) : NULL;
    int32_t z_a = extreme ? 0 : irand(0, 255);
    if (extreme) {
        for (size_t i = 0; i < asz; i++)
            A[i] = rnd() % 16 ? 255 : 0;
        for (size_t i = 0; i < (size_t)K * N; i++)
            B[i] = rnd() % 16 ? -127 : 127;
    }
    req r = make_req(N, K, half);
    void *Bp = xmalloc(cr_q8_gemm_packed_bytes(K, N));
    cr_q8_gemm_pack(K, N, B, bias, z_a, Bp);

    size_t csz = M > 0 ? (size_t)(M - 1) * ldc + N : 0;
    uint8_t *want = xmalloc(csz), *got = xmalloc(csz);
    int32_t *want32 = xmalloc(csz * 4), *got32 = xmalloc(csz * 4);
    memset(want, GUARD, csz);
    memset(want32, GUARD, csz * 4);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            int64_t acc = bias ? bias[j] : 0;
            for (int k = 0; k < K; k++)
                acc += (int64_t)(A[(size_t)i * lda + k] - z_a) * B[(size_t)k * N + j];
            want[(size_t)i * ldc + j] = ref_requant(acc, req_m(&r, j), r.rq.z_out, r.rq.lo,
                                                    r.rq.hi);
            want32[(size_t)i * ldc + j] = (int32_t)acc;
        }
    int bad = 0;
    run ru = { 0 };
    while (next_run(&ru)) {
        char what[128];
        snprintf(what, sizeof what, "gemm%s M %d N %d K %d lda %d ldc %d (%s)", i32 ? "_i32" : "",
                 M, N, K, lda, ldc, ru.name);
        if (i32) {
            memset(got32, GUARD, csz * 4);
            cr_q8_gemm_packed_i32(ru.p, M, N, K, A, lda, Bp, got32, ldc);
            bad += n_diff(what, (uint8_t *)got32, (uint8_t *)want32, csz * 4);
        } else {
            memset(got, GUARD, csz);
            cr_q8_gemm_packed(ru.p, M, N, K, A, lda, Bp, got, ldc, &r.rq);
            bad += n_diff(what, got, want, csz);
        }
    }
    free(A);
    free(B);
    free(bias);
    free(r.m);
    free(Bp);
    free(want);
    free(got);
    free(want32);
    free(got32);
    return bad;
}

static int gemm_case(int M, int N, int K, int lda, int ldc, bool half, bool i32)
{
    return gemm_case_x(M, N, K, lda, ldc, half, i32, false);
}

static void test_gemm(void **state)
{
    (void)state;
    int bad = 0;
    for (int t = 0; t < 300 && !bad; t++) {
        int M = irand(1, t < 200 ? 40 : 130), N = irand(1, t < 200 ? 70 : 300);
        int K = t % 10 == 0 ? irand(1, 8) : irand(1, t < 200 ? 300 : 700);
        int lda = K + (rnd() % 3 ? 0 : irand(1, 40)), ldc = N + (rnd() % 3 ? 0 : irand(1, 40));
        bad += gemm_case(M, N, K, lda, ldc, t % 7 == 3, t % 5 == 4);
    }
    /* exact shapes of tiles and panels, and one with several chunks of
     * columns and rows */
    int shapes[][3] = { { 16, 16, 4 }, { 8, 64, 64 }, { 7, 48, 12 }, { 1, 1, 1 },
                        { 33, 257, 33 }, { 300, 520, 96 }, { 4, 1000, 1280 } };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        bad += gemm_case(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][2], shapes[s][1],
                         false, s % 2);
    /* a last panel of 8 columns (AVX2 stores it on its own), uint8 out:
     * every row tail of a 6-row tile, per-tensor and per-channel */
    int eights[][3] = { { 13, 24, 96 }, { 5, 40, 144 }, { 1, 8, 70 }, { 2, 24, 65 },
                        { 4, 56, 200 }, { 6, 8, 68 }, { 3, 24, 100 } };
    for (size_t s = 0; s < sizeof eights / sizeof *eights; s++)
        bad += gemm_case(eights[s][0], eights[s][1], eights[s][2], eights[s][2] + (int)s % 2,
                         eights[s][1] + (int)s % 3, s % 2 == 1, false);
    assert_int_equal(bad, 0);
}

/* Long rows: around the largest K whose tile of rows the AVX2 driver
 * widens to int16 on its stack (6 rows of K4 <= 32768 int16: K4 5460;
 * beyond, the byte loop), several blocks of widened rows, and sums at and
 * past the int32 range; random and extreme operands, rows and columns not
 * multiples of the tile. */
static void test_gemm_long(void **state)
{
    (void)state;
    int bad = 0;
    int shapes[][3] = { { 13, 17, 5457 }, { 7, 33, 5460 }, { 9, 16, 5461 }, { 2, 5, 5463 },
                        { 20, 3, 1639 }, { 3, 18, 66001 }, { 6, 17, 90001 } };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int x = 0; x < 2; x++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            if (getenv("CREST_SANITIZED") && K > 10000 && x == 0)
                continue;
            bad += gemm_case_x(M, N, K, K + (int)s % 3, N + x, s % 3 == 1, x == 1 && s % 2,
                               x == 1);
        }
    assert_int_equal(bad, 0);
}

/* Short rows (the AVX2 level's gemm_small, K4 <= 64, weights re-laid as
 * int16 pairs): K around the groups of 4 and the limit, every row tail of
 * a 6-row tile, partial panels of 16 columns, a second chunk of columns
 * (N > 256), padded strides, int32 and uint8 outputs, and extreme operands
 * at the largest K. */
static void test_gemm_small(void **state)
{
    (void)state;
    int ks[] = { 1, 2, 3, 4, 5, 15, 16, 17, 24, 27, 28, 31, 32, 33, 61, 63, 64, 65 };
    int ms[] = { 1, 2, 3, 4, 5, 6, 7, 13, 38 };
    int ns[] = { 1, 7, 8, 9, 16, 17, 24, 31, 32, 96, 300 };
    int bad = 0, t = 0;
    for (size_t a = 0; a < sizeof ks / sizeof *ks; a++)
        for (size_t b = 0; b < sizeof ms / sizeof *ms; b++, t++) {
            int K = ks[a], M = ms[b], N = ns[(a + 3 * b) % (sizeof ns / sizeof *ns)];
            int lda = K + (t % 3 == 0 ? 5 : 0), ldc = N + (t % 4 == 1 ? 3 : 0);
            bad += gemm_case_x(M, N, K, lda, ldc, t % 5 == 2, t % 6 == 5, false);
        }
    bad += gemm_case_x(19, 300, 64, 64, 300, false, false, true);
    bad += gemm_case_x(20, 40, 61, 61, 41, true, true, true);
    assert_int_equal(bad, 0);
}

/* ---- conv2d --------------------------------------------------------------- */

/* A random geometry: sizes up to the limits, padding sometimes wider than
 * the kernel (windows with no valid cell). */
static cr_conv_geom rand_geom(int max_hw, int max_c, int max_k, int max_s, int max_d)
{
    for (;;) {
        cr_conv_geom g = { 0 };
        g.n = irand(1, 2);
        g.h = irand(1, max_hw);
        g.w = irand(1, max_hw);
        g.c = irand(1, max_c);
        g.kh = irand(1, max_k);
        g.kw = irand(1, max_k);
        g.sh = irand(1, max_s);
        g.sw = irand(1, max_s);
        g.dh = irand(1, max_d);
        g.dw = irand(1, max_d);
        g.pt = irand(0, g.kh);
        g.pl = irand(0, g.kw);
        int pb = irand(0, g.kh), pr = irand(0, g.kw);
        g.oh = (g.h + g.pt + pb - g.dh * (g.kh - 1) - 1) / g.sh + 1;
        g.ow = (g.w + g.pl + pr - g.dw * (g.kw - 1) - 1) / g.sw + 1;
        if (g.h + g.pt + pb - g.dh * (g.kh - 1) - 1 >= 0 &&
            g.w + g.pl + pr - g.dw * (g.kw - 1) - 1 >= 0 && g.oh >= 1 && g.ow >= 1)
            return g;
    }
}

static int conv_case(const cr_conv_geom *g)
{
    size_t xs = (size_t)g->n * g->h * g->w * g->c, ys = (size_t)g->n * g->oh * g->ow * g->oc;
    int K = g->kh * g->kw * g->c;
    uint8_t *x = bytes(xs, rnd() % 2 ? 0 : 2);
    int8_t *k = (int8_t *)bytes((size_t)K * g->oc, 1);
    int32_t *bias = rnd() % 4 ? biases(g->oc, 50000) : NULL;
    int32_t z_x = irand(0, 255);
    req r = make_req(g->oc, K, false);
    void *kp = xmalloc(cr_q8_conv2d_packed_bytes(g));
    cr_q8_conv2d_pack(g, k, bias, z_x, kp);
    size_t ss = cr_q8_conv2d_scratch(g, 2);
    void *scratch = ss ? xmalloc(ss) : NULL;
    uint8_t *want = xmalloc(ys + 16), *got = xmalloc(ys + 16);
    memset(want + ys, GUARD, 16);

    for (int n = 0; n < g->n; n++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int o = 0; o < g->oc; o++) {
                    int64_t acc = bias ? bias[o] : 0;
                    for (int i = 0; i < g->kh; i++)
                        for (int j = 0; j < g->kw; j++) {
                            int iy = oy * g->sh - g->pt + i * g->dh;
                            int ix = ox * g->sw - g->pl + j * g->dw;
                            bool in = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
                            for (int c = 0; c < g->c; c++) {
                                int xv = in ? x[(((size_t)n * g->h + iy) * g->w + ix) * g->c + c]
                                            : z_x;
                                acc += (int64_t)(xv - z_x) *
                                       k[(((size_t)i * g->kw + j) * g->c + c) * g->oc + o];
                            }
                        }
                    want[(((size_t)n * g->oh + oy) * g->ow + ox) * g->oc + o] =
                        ref_requant(acc, req_m(&r, o), r.rq.z_out, r.rq.lo, r.rq.hi);
                }
    int bad = 0;
    run ru = { 0 };
    while (next_run(&ru)) {
        char what[160];
        snprintf(what, sizeof what,
                 "conv2d n%d %dx%dx%d->%dx%dx%d k%dx%d s%d,%d d%d,%d p%d,%d (%s)", g->n, g->h,
                 g->w, g->c, g->oh, g->ow, g->oc, g->kh, g->kw, g->sh, g->sw, g->dh, g->dw, g->pt,
                 g->pl, ru.name);
        memset(got, GUARD, ys + 16);
        cr_q8_conv2d(ru.p, g, x, z_x, kp, &r.rq, got, scratch);
        bad += n_diff(what, got, want, ys + 16);
    }
    free(x);
    free(k);
    free(bias);
    free(r.m);
    free(kp);
    free(scratch);
    free(want);
    free(got);
    return bad;
}

static void test_conv2d(void **state)
{
    (void)state;
    int bad = 0;
    for (int t = 0; t < 150 && !bad; t++) {
        cr_conv_geom g = rand_geom(9, 20, 3, 3, 2);
        g.oc = irand(1, 40);
        bad += conv_case(&g);
    }
    for (int t = 0; t < 30 && !bad; t++) {     /* pointwise: gemm on x in place */
        int h = irand(1, 12), w = irand(1, 12), c = irand(1, 70);
        cr_conv_geom g = { .n = irand(1, 3), .h = h, .w = w, .c = c, .oh = h, .ow = w,
                           .oc = irand(1, 90), .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1,
                           .dw = 1 };
        bad += conv_case(&g);
    }
    /* MobileNet's first layer, and one with several im2col tiles */
    cr_conv_geom first = { .n = 1, .h = 23, .w = 23, .c = 3, .oh = 12, .ow = 12, .oc = 32,
                           .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 0,
                           .pl = 0 };
    bad += conv_case(&first);
    cr_conv_geom tiles = { .n = 2, .h = 32, .w = 32, .c = 64, .oh = 32, .ow = 32, .oc = 24,
                           .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1,
                           .pl = 1 };
    assert_true(cr_q8_conv2d_scratch(&tiles, 2) < (size_t)2 * 32 * 32 * 576);
    bad += conv_case(&tiles);
    /* short patches (AVX2's conv_small: rows of the patch matrix gathered
     * as int16, runs of up to 16 bytes loaded whole when 16 bytes fit in
     * x): MobileNet's first layer with "same" padding (bottom and right),
     * two images, chunks of several blocks of gathered rows; runs of 5,
     * 15, 16 and 18 bytes; dilation; the last pixels' runs at the end of
     * x; as many columns as fit (16 panels of K4 64) and one panel more */
    cr_conv_geom shorts[] = {
        { .n = 2, .h = 48, .w = 48, .c = 3, .oh = 24, .ow = 24, .oc = 32, .kh = 3, .kw = 3,
          .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 0, .pl = 0 },
        { .n = 1, .h = 13, .w = 11, .c = 1, .oh = 11, .ow = 9, .oc = 20, .kh = 5, .kw = 5,
          .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1 },
        { .n = 2, .h = 6, .w = 7, .c = 5, .oh = 6, .ow = 7, .oc = 9, .kh = 3, .kw = 3,
          .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1 },
        { .n = 1, .h = 9, .w = 9, .c = 8, .oh = 4, .ow = 8, .oc = 17, .kh = 2, .kw = 2,
          .sh = 2, .sw = 1, .dh = 1, .dw = 1, .pt = 0, .pl = 0 },
        { .n = 1, .h = 7, .w = 8, .c = 6, .oh = 7, .ow = 8, .oc = 24, .kh = 3, .kw = 3,
          .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1 },
        { .n = 1, .h = 10, .w = 10, .c = 2, .oh = 6, .ow = 6, .oc = 31, .kh = 3, .kw = 3,
          .sh = 1, .sw = 1, .dh = 2, .dw = 2, .pt = 0, .pl = 0 },
        { .n = 1, .h = 5, .w = 5, .c = 7, .oh = 3, .ow = 3, .oc = 256, .kh = 3, .kw = 3,
          .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 0, .pl = 0 },
        { .n = 1, .h = 5, .w = 5, .c = 7, .oh = 3, .ow = 3, .oc = 257, .kh = 3, .kw = 3,
          .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 0, .pl = 0 },
    };
    for (size_t i = 0; i < sizeof shorts / sizeof *shorts; i++)
        bad += conv_case(&shorts[i]);
    assert_int_equal(bad, 0);
}

/* ---- depthwise ------------------------------------------------------------ */

static int dw_case(const cr_conv_geom *g)
{
    size_t xs = (size_t)g->n * g->h * g->w * g->c, ys = (size_t)g->n * g->oh * g->ow * g->oc;
    int dm = g->oc / g->c, taps = g->kh * g->kw;
    uint8_t *x = bytes(xs, rnd() % 2 ? 0 : 2);
    int8_t *k = (int8_t *)bytes((size_t)taps * g->oc, 1);
    int32_t *bias = rnd() % 4 ? biases(g->oc, 50000) : NULL;
    int32_t z_x = irand(0, 255);
    req r = make_req(g->oc, taps, false);
    void *kp = xmalloc(cr_q8_depthwise2d_packed_bytes(g));
    cr_q8_depthwise2d_pack(g, k, bias, kp);
    uint8_t *want = xmalloc(ys + 16), *got = xmalloc(ys + 16);
    memset(want + ys, GUARD, 16);

    for (int n = 0; n < g->n; n++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int o = 0; o < g->oc; o++) {
                    int64_t acc = bias ? bias[o] : 0;
                    for (int i = 0; i < g->kh; i++)
                        for (int j = 0; j < g->kw; j++) {
                            int iy = oy * g->sh - g->pt + i * g->dh;
                            int ix = ox * g->sw - g->pl + j * g->dw;
                            bool in = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
                            int xv = in ? x[(((size_t)n * g->h + iy) * g->w + ix) * g->c + o / dm]
                                        : z_x;
                            acc += (int64_t)(xv - z_x) * k[((size_t)i * g->kw + j) * g->oc + o];
                        }
                    want[(((size_t)n * g->oh + oy) * g->ow + ox) * g->oc + o] =
                        ref_requant(acc, req_m(&r, o), r.rq.z_out, r.rq.lo, r.rq.hi);
                }
    int bad = 0;
    run ru = { 0 };
    while (next_run(&ru)) {
        char what[160];
        snprintf(what, sizeof what,
                 "depthwise n%d %dx%dx%d->%dx%dx%d k%dx%d s%d,%d d%d,%d p%d,%d (%s)", g->n, g->h,
                 g->w, g->c, g->oh, g->ow, g->oc, g->kh, g->kw, g->sh, g->sw, g->dh, g->dw, g->pt,
                 g->pl, ru.name);
        memset(got, GUARD, ys + 16);
        cr_q8_depthwise2d(ru.p, g, x, z_x, kp, &r.rq, got);
        bad += n_diff(what, got, want, ys + 16);
    }
    free(x);
    free(k);
    free(bias);
    free(r.m);
    free(kp);
    free(want);
    free(got);
    return bad;
}

static void test_depthwise(void **state)
{
    (void)state;
    int bad = 0;
    for (int t = 0; t < 250 && !bad; t++) {
        cr_conv_geom g = rand_geom(t % 5 ? 10 : 24, t % 3 ? 40 : 150, t % 4 ? 3 : 5, 3, 2);
        g.oc = g.c * (t % 3 == 2 ? irand(2, 3) : 1);
        bad += dw_case(&g);
    }
    /* MobileNetV2's shapes (scaled down), stride 1 and 2 */
    cr_conv_geom s1 = { .n = 2, .h = 14, .w = 14, .c = 144, .oh = 14, .ow = 14, .oc = 144,
                        .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1 };
    bad += dw_case(&s1);
    cr_conv_geom s2 = { .n = 1, .h = 15, .w = 15, .c = 96, .oh = 8, .ow = 8, .oc = 96,
                        .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 1, .pl = 1 };
    bad += dw_case(&s2);
    /* rows wider than the interleaving buffer (several column chunks),
     * kernels taller than 4 (two groups of rows per column), and kernels too
     * wide or tall for the buffer (plain cells) */
    cr_conv_geom wide[] = {
        { .n = 1, .h = 3, .w = 220, .c = 70, .oh = 3, .ow = 220, .oc = 70, .kh = 3, .kw = 3,
          .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1 },
        { .n = 2, .h = 4, .w = 301, .c = 69, .oh = 2, .ow = 151, .oc = 69, .kh = 3, .kw = 3,
          .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 1, .pl = 1 },
        { .n = 1, .h = 9, .w = 150, .c = 33, .oh = 9, .ow = 150, .oc = 33, .kh = 5, .kw = 2,
          .sh = 1, .sw = 1, .dh = 1, .dw = 2, .pt = 2, .pl = 1 },
        { .n = 1, .h = 7, .w = 130, .c = 17, .oh = 3, .ow = 13, .oc = 17, .kh = 3, .kw = 40,
          .sh = 2, .sw = 1, .dh = 2, .dw = 3, .pt = 0, .pl = 0 },
        { .n = 1, .h = 40, .w = 5, .c = 20, .oh = 8, .ow = 5, .oc = 20, .kh = 33, .kw = 1,
          .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 0, .pl = 0 },
    };
    for (size_t i = 0; i < sizeof wide / sizeof *wide; i++)
        bad += dw_case(&wide[i]);
    assert_int_equal(bad, 0);
}

/* 3x3, dilation 1, stride 1 or 2 across (AVX2's own loop, 16 channels a
 * step): widths 1-3 and wider, channels not a multiple of 16 and more than
 * the 256 whose weights it sets up at once, padding on every side (up to
 * wider than the kernel), any stride down; rows split by channels. */
static void test_depthwise_3x3(void **state)
{
    (void)state;
    int bad = 0;
    for (int t = 0; t < 120 && !bad; t++) {
        cr_conv_geom g = { .n = irand(1, 2), .h = irand(1, 9), .w = t % 4 ? irand(1, 3)
                                                                         : irand(4, 40),
                           .kh = 3, .kw = 3, .sh = irand(1, 3), .sw = irand(1, 2), .dh = 1,
                           .dw = 1, .pt = irand(0, 3), .pl = irand(0, 3) };
        g.c = t % 5 == 0 ? irand(250, 300) : t % 5 == 1 ? 16 * irand(1, 4) : irand(1, 70);
        g.oc = g.c;
        int pb = irand(0, 3), pr = irand(0, 3);
        if (g.h + g.pt + pb < 3 || g.w + g.pl + pr < 3)
            continue;
        g.oh = (g.h + g.pt + pb - 3) / g.sh + 1;
        g.ow = (g.w + g.pl + pr - 3) / g.sw + 1;
        bad += dw_case(&g);
    }
    /* few rows with enough work for 2 threads, which AVX2 splits by
     * channels too: channels a multiple of 16 or not, parts wider than the
     * 256 channels set up at once, stride 2 */
    cr_conv_geom few[] = {
        { .n = 1, .h = 7, .w = 7, .c = 960, .oh = 7, .ow = 7, .oc = 960, .kh = 3, .kw = 3,
          .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1 },
        { .n = 1, .h = 7, .w = 7, .c = 1000, .oh = 7, .ow = 7, .oc = 1000, .kh = 3, .kw = 3,
          .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1 },
        { .n = 1, .h = 5, .w = 5, .c = 2000, .oh = 5, .ow = 5, .oc = 2000, .kh = 3, .kw = 3,
          .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1 },
        { .n = 1, .h = 11, .w = 11, .c = 1300, .oh = 6, .ow = 6, .oc = 1300, .kh = 3, .kw = 3,
          .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pt = 1, .pl = 1 },
    };
    for (size_t i = 0; i < sizeof few / sizeof *few; i++)
        bad += dw_case(&few[i]);
    assert_int_equal(bad, 0);
}

/* ---- pooling -------------------------------------------------------------- */

static int pool_case(const cr_conv_geom *g, bool max)
{
    size_t xs = (size_t)g->n * g->h * g->w * g->c, ys = (size_t)g->n * g->oh * g->ow * g->c;
    uint8_t *x = bytes(xs, rnd() % 2 ? 0 : 2);
    int32_t z_x = irand(0, 255), z_y = irand(0, 255), lo = irand(0, z_y), hi = irand(z_y, 255);
    float m = urand(0.3f, 3.0f);
    if (rnd() % 3 == 0)
        lo = 0, hi = 255;
    uint8_t *want = xmalloc(ys + 16), *got = xmalloc(ys + 16);
    memset(want + ys, GUARD, 16);
    for (int n = 0; n < g->n; n++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int c = 0; c < g->c; c++) {
                    int64_t acc = 0;
                    int count = 0, best = 0;
                    for (int i = 0; i < g->kh; i++)
                        for (int j = 0; j < g->kw; j++) {
                            int iy = oy * g->sh - g->pt + i, ix = ox * g->sw - g->pl + j;
                            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                continue;
                            int v = x[(((size_t)n * g->h + iy) * g->w + ix) * g->c + c];
                            best = v > best ? v : best;
                            acc += v - z_x;
                            count++;
                        }
                    size_t yi = (((size_t)n * g->oh + oy) * g->ow + ox) * g->c + c;
                    if (max) {
                        want[yi] = (uint8_t)best;
                    } else {
                        float scale = count ? m / (float)count : 0.0f;
                        want[yi] = ref_requant(acc, scale, z_y, lo, hi);
                    }
                }
    int bad = 0;
    run ru = { 0 };
    while (next_run(&ru)) {
        char what[160];
        snprintf(what, sizeof what, "%spool n%d %dx%dx%d->%dx%d k%dx%d s%d,%d p%d,%d (%s)",
                 max ? "max" : "avg", g->n, g->h, g->w, g->c, g->oh, g->ow, g->kh, g->kw, g->sh,
                 g->sw, g->pt, g->pl, ru.name);
        memset(got, GUARD, ys + 16);
        if (max)
            cr_q8_maxpool2d(ru.p, g, x, got);
        else
            cr_q8_avgpool2d(ru.p, g, x, z_x, m, got, z_y, lo, hi);
        bad += n_diff(what, got, want, ys + 16);
    }
    free(x);
    free(want);
    free(got);
    return bad;
}

static void test_pooling(void **state)
{
    (void)state;
    int bad = 0;
    for (int t = 0; t < 200 && !bad; t++) {
        cr_conv_geom g = rand_geom(t % 4 ? 9 : 40, t % 2 ? 20 : 200, 3, 3, 1);
        g.oc = g.c;
        bad += pool_case(&g, t % 2);
    }
    /* global average pooling, MobileNet's 7x7x1280 */
    cr_conv_geom gap = { .n = 2, .h = 7, .w = 7, .c = 1280, .oh = 1, .ow = 1, .oc = 1280,
                         .kh = 7, .kw = 7, .sh = 1, .sw = 1, .dh = 1, .dw = 1 };
    bad += pool_case(&gap, false);
    assert_int_equal(bad, 0);
}

/* ---- elementwise ---------------------------------------------------------- */

static void test_add(void **state)
{
    (void)state;
    int bad = 0;
    for (int t = 0; t < 40 && !bad; t++) {
        int64_t n = t < 30 ? irand(0, 300) : irand(100000, 300000);
        uint8_t *a = bytes((size_t)n, 0), *b = bytes((size_t)n, 2);
        uint8_t *want = xmalloc((size_t)n + 16), *got = xmalloc((size_t)n + 16);
        int32_t z_a = irand(0, 255), z_b = irand(0, 255), z_y = irand(0, 255);
        int32_t lo = t % 2 ? 0 : irand(0, z_y), hi = t % 2 ? 255 : irand(z_y, 255);
        float ma = urand(0.2f, 1.5f), mb = t % 5 == 0 ? 0.5f : urand(0.2f, 1.5f);
        if (t % 5 == 0)
            ma = 0.5f;             /* ties to even */
        memset(want + n, GUARD, 16);
        for (int64_t i = 0; i < n; i++) {
            float u = (float)(a[i] - z_a) * ma;
            float v = (float)(b[i] - z_b) * mb;
            float f = u + v;
            if (!(f > (float)(lo - z_y)))
                f = (float)(lo - z_y);
            if (!(f < (float)(hi - z_y)))
                f = (float)(hi - z_y);
            want[i] = (uint8_t)((int)nearbyintf(f) + z_y);
        }
        run ru = { 0 };
        while (next_run(&ru)) {
            char what[96];
            snprintf(what, sizeof what, "add n %lld (%s)", (long long)n, ru.name);
            memset(got, GUARD, (size_t)n + 16);
            cr_q8_add(ru.p, n, a, z_a, ma, b, z_b, mb, got, z_y, lo, hi);
            bad += n_diff(what, got, want, (size_t)n + 16);
            /* in place: y is a */
            uint8_t *a2 = xmalloc((size_t)n + 16);
            memcpy(a2, a, (size_t)n);
            memset(a2 + n, GUARD, 16);
            cr_q8_add(ru.p, n, a2, z_a, ma, b, z_b, mb, a2, z_y, lo, hi);
            bad += n_diff(what, a2, want, (size_t)n + 16);
            free(a2);
        }
        free(a);
        free(b);
        free(want);
        free(got);
    }
    assert_int_equal(bad, 0);
}

static void test_quantize(void **state)
{
    (void)state;
    int bad = 0;
    for (int t = 0; t < 30 && !bad; t++) {
        int64_t n = t < 20 ? irand(0, 500) : irand(100000, 200000);
        float s = urand(0.001f, 0.2f);
        int32_t z = irand(0, 255);
        float *x = xmalloc((size_t)n * sizeof *x), *fx = xmalloc((size_t)n * sizeof *fx);
        uint8_t *want = xmalloc((size_t)n + 16), *got = xmalloc((size_t)n + 16);
        for (int64_t i = 0; i < n; i++) {
            switch (rnd() % 8) {
            case 0: x[i] = s * (float)(irand(-300, 300)) + 0.5f * s; break;   /* ties */
            case 1: x[i] = (rnd() % 2 ? 1 : -1) * urand(1e3f, 1e30f); break;
            case 2: {
                const float sp[] = { NAN, INFINITY, -INFINITY, 0.0f, -0.0f };
                x[i] = sp[rnd() % 5];
                break;
            }
            default: x[i] = urand(-300.0f * s, 300.0f * s); break;
            }
        }
        memset(want + n, GUARD, 16);
        for (int64_t i = 0; i < n; i++) {
            float f = x[i] * (1.0f / s);
            int q;
            if (isnan(f))
                q = 0;
            else if (f <= (float)-z)
                q = 0;
            else if (f >= (float)(255 - z))
                q = 255;
            else
                q = (int)nearbyintf(f) + z;
            want[i] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
        }
        run ru = { 0 };
        while (next_run(&ru)) {
            char what[96];
            snprintf(what, sizeof what, "quantize n %lld (%s)", (long long)n, ru.name);
            memset(got, GUARD, (size_t)n + 16);
            cr_q8_quantize(ru.p, n, x, s, z, got);
            bad += n_diff(what, got, want, (size_t)n + 16);
            cr_q8_dequantize(ru.p, n, want, s, z, fx);
            for (int64_t i = 0; i < n; i++) {
                float w = (float)(want[i] - z) * s;
                if (memcmp(&fx[i], &w, sizeof w)) {
                    if (bad < 5)
                        print_error("dequantize [%lld] (%s): got %g want %g\n", (long long)i,
                                    ru.name, fx[i], w);
                    bad++;
                }
            }
        }
        free(x);
        free(fx);
        free(want);
        free(got);
    }
    assert_int_equal(bad, 0);
}

/* ---- levels --------------------------------------------------------------- */

static void test_levels(void **state)
{
    (void)state;
    cr_q8_isa best = cr_q8_isa_best();
    assert_true(cr_q8_isa_supported(CR_Q8_GENERIC));
    assert_true(cr_q8_isa_supported(best));
    assert_int_equal(cr_q8_isa_select(CR_Q8_GENERIC), CR_Q8_GENERIC);
    assert_int_equal(cr_q8_isa_current(), CR_Q8_GENERIC);
    assert_int_equal(cr_q8_isa_select((cr_q8_isa)99), best);
    for (int lv = 0; lv <= CR_Q8_AVX512VNNI; lv++) {
        cr_q8_isa got = cr_q8_isa_select((cr_q8_isa)lv);
        assert_int_equal(got, cr_q8_isa_supported((cr_q8_isa)lv) ? (cr_q8_isa)lv : best);
        print_message("q8 level %s: %s\n", cr_q8_isa_name((cr_q8_isa)lv),
                      cr_q8_isa_supported((cr_q8_isa)lv) ? "tested" : "not on this CPU");
        /* crest_kernels names the levels in force (int16 follows int8's) */
        char want[80];
        snprintf(want, sizeof want, "float32 %s, int8 %s, int16 %s", cr_isa_name(cr_isa_current()),
                 cr_q8_isa_name(got), got >= CR_Q8_AVX2 ? "avx2" : "generic");
        assert_string_equal(crest_kernels(), want);
    }
    cr_q8_isa_select(best);
    assert_non_null(strstr(crest_kernels(), cr_q8_isa_name(best)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_gemm_long),
        cmocka_unit_test(test_gemm_small),
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_depthwise),
        cmocka_unit_test(test_depthwise_3x3),
        cmocka_unit_test(test_pooling),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_quantize),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
