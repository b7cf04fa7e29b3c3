/* test_kernels.c - every kernel in src/kernels against naive references.
 *
 * The references below are written from the definitions, in double, and
 * also return for each output the sum of the magnitudes of the terms that
 * make it up (plus the initial value when accumulating); an output passes
 * when |got - want| <= rtol(terms) * magnitude, so the tolerance follows the
 * size of what is being summed, not a fixed absolute number.
 *
 * Each test runs on every SIMD level the CPU has (generic, AVX2, AVX-512).
 * Shapes are deliberately odd: sizes that are not multiples of the vector
 * width or tile, leading dimensions larger than the row, transposes, beta 0
 * over NaN garbage, padding / stride / dilation mixes, depth multipliers,
 * 1x1 convolutions, several K blocks, several im2col tiles. Backward passes
 * start from random dx/dk/dbias to check they accumulate, and the outputs
 * must be bit-identical on pools of 1, 2 and 3 threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "kernels/kernels.h"

/* ---- helpers -------------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;

static float frand(void)            /* uniform in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 40) / (double)(1 << 23) - 1.0);
}

static float *vec(size_t n, float fill)   /* NAN fill: garbage; 2: random */
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = fill == 2 ? frand() : fill;
    return v;
}

static float *copy(const float *src, size_t n)
{
    float *v = vec(n, 0);
    memcpy(v, src, n * sizeof *v);
    return v;
}

static double *dvec(size_t n)
{
    double *v = calloc(n ? n : 1, sizeof *v);
    assert_non_null(v);
    return v;
}

/* Relative tolerance for a sum of `terms` float products. */
static double rtol(int64_t terms) { return 2e-7 * (4.0 + sqrt((double)terms)); }

/* Counts (and prints the first few of) outputs off by more than
 * tol * mag[i]; got is rows x cols with leading dimension ld. */
static int n_bad(const char *what, const float *got, int rows, int cols, int ld,
                 const double *want, const double *mag, double tol)
{
    int bad = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            size_t i = (size_t)r * cols + c;
            double g = got[(size_t)r * ld + c], err = fabs(g - want[i]);
            if (!(err <= tol * mag[i] + 1e-30)) {
                if (bad < 5)
                    print_error("%s [%d,%d]: got %.9g want %.9g (tol %.3g)\n", what, r, c, g,
                                want[i], tol * mag[i]);
                bad++;
            }
        }
    return bad;
}

static int n_bad_flat(const char *what, const float *got, size_t n, const double *want,
                      const double *mag, double tol)
{
    return n_bad(what, got, 1, (int)n, (int)n, want, mag, tol);
}

/* Runs body once per SIMD level; `isa` names the level in messages. */
#define FOR_EACH_ISA(isa)                                                         \
    for (int isa_i_ = 0, isa_n_ = (int)cr_isa_best() + 1; isa_i_ < isa_n_;        \
         isa_i_++, cr_isa_select(cr_isa_best()))                                  \
        for (const char *isa = cr_isa_name(cr_isa_select((cr_isa)isa_i_)); isa; isa = NULL)

static cr_pool *pools[3];           /* 1, 2 and 3 threads (pools[0] = NULL) */

static int setup_pools(void **state)
{
    (void)state;
    pools[0] = NULL;
    pools[1] = cr_pool_new(2);
    pools[2] = cr_pool_new(3);
    return pools[1] && pools[2] ? 0 : -1;
}

static int teardown_pools(void **state)
{
    (void)state;
    cr_pool_free(pools[1]);
    cr_pool_free(pools[2]);
    return 0;
}

/* ---- thread pool ------------------------------------------------------------ */

typedef struct count_ctx {
    int hits[8];
    int nth_seen;
    unsigned csr_bad;
    cr_pool *p;
    int nested_hits;
} count_ctx;

static unsigned csr_flags(void)
{
#if defined(__x86_64__)
    return _mm_getcsr() & 0x8040u;
#else
    return 0x8040u;
#endif
}

static void nested_task(void *ctx, int ith, int nth)
{
    (void)ith;
    (void)nth;
    __atomic_fetch_add(&((count_ctx *)ctx)->nested_hits, 1, __ATOMIC_RELAXED);
}

static void count_task(void *ctx, int ith, int nth)
{
    count_ctx *c = ctx;
    __atomic_fetch_add(&c->hits[ith], 1, __ATOMIC_RELAXED);
    __atomic_store_n(&c->nth_seen, nth, __ATOMIC_RELAXED);
    if (csr_flags() != 0x8040u)
        __atomic_fetch_add(&c->csr_bad, 1, __ATOMIC_RELAXED);
    if (c->p)                      /* a nested call runs serially, all tasks */
        cr_pool_run(c->p, 3, nested_task, ctx);
}

static void test_pool(void **state)
{
    (void)state;
    assert_int_equal(cr_pool_size(NULL), 1);
    cr_pool *one = cr_pool_new(0);
    assert_non_null(one);
    assert_int_equal(cr_pool_size(one), 1);
    cr_pool_free(one);
    cr_pool_free(NULL);
#if defined(__x86_64__)
    unsigned before = _mm_getcsr();
#endif
    for (int pi = 0; pi < 3; pi++)
        for (int tasks = 0; tasks <= 5; tasks++) {
            count_ctx c = { .p = pools[pi] };
            cr_pool_run(pools[pi], tasks, count_task, &c);
            int want = tasks < pi + 1 ? tasks : pi + 1;
            want = want < 1 ? 1 : want;
            assert_int_equal(c.nth_seen, want);
            for (int i = 0; i < 8; i++)
                assert_int_equal(c.hits[i], i < want ? 1 : 0);
            assert_int_equal(c.csr_bad, 0);
            /* nested: serial on the busy pool, min(3, size) tasks each */
            assert_int_equal(c.nested_hits, pools[pi] ? want * (pi + 1 < 3 ? pi + 1 : 3) : 0);
        }
#if defined(__x86_64__)
    assert_int_equal(_mm_getcsr(), before);        /* the caller's MXCSR is restored */
#endif
}

/* Two threads issuing kernels on one pool at once: whichever finds the pool
 * taken runs serially; both get the single-thread results. */
typedef struct shared_ctx {
    float *a, *b, *c;
    int reps;
} shared_ctx;

static void *shared_gemms(void *arg)
{
    shared_ctx *s = arg;
    for (int r = 0; r < s->reps; r++)
        cr_gemm(pools[2], false, false, 120, 130, 140, s->a, 140, s->b, 130, 0.0f, s->c, 130);
    return NULL;
}

static void test_pool_shared(void **state)
{
    (void)state;
    shared_ctx s[2];
    float *want[2];
    for (int t = 0; t < 2; t++) {
        s[t] = (shared_ctx){ vec(120 * 140, 2), vec(140 * 130, 2), vec(120 * 130, NAN), 30 };
        want[t] = vec(120 * 130, NAN);
        cr_gemm(NULL, false, false, 120, 130, 140, s[t].a, 140, s[t].b, 130, 0.0f, want[t], 130);
    }
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, shared_gemms, &s[1]), 0);
    shared_gemms(&s[0]);
    pthread_join(th, NULL);
    for (int t = 0; t < 2; t++) {
        assert_memory_equal(s[t].c, want[t], 120 * 130 * sizeof(float));
        free(s[t].a), free(s[t].b), free(s[t].c), free(want[t]);
    }
}

/* Denormal inputs are treated as zero while a kernel runs, on the caller's
 * thread too. */
static void test_denormals_flushed(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa) {
        float a[4] = { 1e-39f, 1e-39f, 1e-39f, 1e-39f }, b[4] = { 1, 1, 1, 1 }, c[1] = { 5 };
        cr_gemm(NULL, false, false, 1, 1, 4, a, 4, b, 1, 0.0f, c, 1);
        if (c[0] != 0.0f)
            fail_msg("%s: denormals not flushed: %g", isa, c[0]);
    }
}

/* ---- gemm ------------------------------------------------------------------- */

static void ref_gemm(bool ta, bool tb, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb, float beta, const float *C0, int ldc,
                     const float *bias, double *want, double *mag)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = beta != 0 ? (double)beta * C0[(size_t)i * ldc + j] : 0, m = fabs(s);
            if (bias) {
                s += bias[j];
                m += fabs(bias[j]);
            }
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += a * b;
                m += fabs(a * b);
            }
            want[(size_t)i * N + j] = s;
            mag[(size_t)i * N + j] = m;
        }
}

/* One gemm case (cr_gemm, or cr_gemm_bias when with_bias) on every thread
 * count: checked against the reference, bit-identical across thread
 * counts, padding columns of C untouched. */
static void gemm_case_b(const char *isa, bool ta, bool tb, int M, int N, int K, int pad,
                        float beta, bool with_bias)
{
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + 2;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
    size_t nc = (size_t)M * ldc;
    float *A = vec(na, 2), *B = vec(nb, 2), *C0 = vec(nc, beta != 0 ? 2 : NAN);
    float *bias = with_bias ? vec((size_t)N, 2) : NULL;
    double *want = dvec((size_t)M * N), *mag = dvec((size_t)M * N);
    ref_gemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C0, ldc, bias, want, mag);
    float *C[3];
    for (int t = 0; t < 3; t++) {
        C[t] = copy(C0, nc);
        if (with_bias)
            cr_gemm_bias(pools[t], ta, tb, M, N, K, A, lda, B, ldb, beta, C[t], ldc, bias);
        else
            cr_gemm(pools[t], ta, tb, M, N, K, A, lda, B, ldb, beta, C[t], ldc);
    }
    char what[128];
    snprintf(what, sizeof what, "%s gemm%s ta=%d tb=%d M=%d N=%d K=%d pad=%d beta=%g", isa,
             with_bias ? "_bias" : "", ta, tb, M, N, K, pad, beta);
    if (n_bad(what, C[0], M, N, ldc, want, mag, rtol(K + 2)))
        fail_msg("%s: wrong", what);
    for (int t = 1; t < 3; t++)
        if (memcmp(C[0], C[t], nc * sizeof(float)))
            fail_msg("%s: %d threads differ from 1", what, t + 1);
    for (int i = 0; i < M; i++)
        if (memcmp(C[0] + (size_t)i * ldc + N, C0 + (size_t)i * ldc + N, 2 * sizeof(float)))
            fail_msg("%s: wrote past N", what);
    for (int t = 0; t < 3; t++)
        free(C[t]);
    free(A);
    free(B);
    free(C0);
    free(want);
    free(mag);
    free(bias);
}

static void gemm_case(const char *isa, bool ta, bool tb, int M, int N, int K, int pad,
                      float beta)
{
    gemm_case_b(isa, ta, tb, M, N, K, pad, beta, false);
}

static void test_gemm_small_shapes(void **state)
{
    (void)state;
    static const int shapes[][3] = {
        { 1, 1, 1 },   { 1, 17, 5 },  { 7, 1, 3 },   { 5, 9, 13 },  { 13, 31, 33 },
        { 17, 33, 7 }, { 8, 32, 16 }, { 6, 16, 8 },  { 9, 10, 19 }, { 32, 10, 23 },
        { 23, 16, 32 }, { 11, 24, 3 }, { 3, 48, 2 },  { 4, 15, 1 },
    };
    FOR_EACH_ISA(isa) {
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int t = 0; t < 4; t++)
                for (int pad = 0; pad <= 3; pad += 3)
                    for (int beta = 0; beta <= 1; beta++)
                        gemm_case(isa, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                                  pad, (float)beta);
    }
}

/* Several K blocks, several NC / MC blocks, and shapes big enough to be
 * split among threads, over M (tall) and over N (wide). */
static void test_gemm_large_shapes(void **state)
{
    (void)state;
    static const int shapes[][3] = {
        { 33, 100, 257 }, { 100, 65, 300 }, { 9, 200, 520 }, { 70, 530, 40 },
        { 300, 40, 200 }, { 40, 600, 200 }, { 129, 127, 131 },
    };
    FOR_EACH_ISA(isa) {
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int t = 0; t < 4; t++)
                gemm_case(isa, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], t,
                          (float)(t % 2));
    }
}

/* The bias variant, and beta other than 0 and 1, on edge and block shapes. */
static void test_gemm_bias(void **state)
{
    (void)state;
    static const int shapes[][3] = {
        { 1, 1, 1 }, { 7, 10, 5 }, { 9, 33, 17 }, { 32, 16, 300 }, { 17, 48, 2 },
        { 70, 530, 40 }, { 200, 50, 100 }, { 5, 3, 0 },
    };
    static const float betas[] = { 0.0f, 1.0f, 0.5f };
    FOR_EACH_ISA(isa) {
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int t = 0; t < 4; t++)
                for (int b = 0; b < 3; b++)
                    gemm_case_b(isa, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                                t % 3, betas[b], true);
        gemm_case_b(isa, false, false, 9, 7, 8, 1, 0.5f, false);
    }
}

static void test_gemm_degenerate(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa) {
        float c[6] = { NAN, NAN, NAN, 1, 2, 3 }, a[1] = { 0 }, b[1] = { 0 };
        cr_gemm(NULL, false, false, 1, 3, 0, a, 1, b, 3, 0.0f, c, 3);   /* K = 0, beta 0 */
        for (int i = 0; i < 3; i++)
            assert_true(c[i] == 0.0f);
        cr_gemm(NULL, false, false, 1, 3, 0, a, 1, b, 3, 1.0f, c + 3, 3);
        assert_true(c[3] == 1 && c[4] == 2 && c[5] == 3);
        cr_gemm(NULL, false, false, 0, 3, 4, a, 1, b, 3, 0.0f, c, 3);   /* M = 0: nothing */
        cr_gemm(NULL, false, false, 1, 0, 4, a, 1, b, 3, 0.0f, c, 3);
        (void)isa;
    }
}

/* ---- geometry ----------------------------------------------------------------- */

/* Explicit paddings (top, bottom, left, right); output size follows. */
static cr_conv_geom geom_pad(int n, int h, int w, int c, int oc, int kh, int kw, int sh, int sw,
                             int dh, int dw, int pt, int pb, int pl, int pr)
{
    cr_conv_geom g = { .n = n, .h = h, .w = w, .c = c, .oc = oc, .kh = kh, .kw = kw,
                       .sh = sh, .sw = sw, .dh = dh, .dw = dw, .pt = pt, .pl = pl };
    g.oh = (h + pt + pb - (kh - 1) * dh - 1) / sh + 1;
    g.ow = (w + pl + pr - (kw - 1) * dw - 1) / sw + 1;
    return g;
}

/* Keras padding: 'same' (pad so that oh = ceil(h / sh)) or 'valid'. */
static cr_conv_geom geom(int n, int h, int w, int c, int oc, int kh, int kw, int sh, int sw,
                         int dh, int dw, bool same)
{
    if (!same)
        return geom_pad(n, h, w, c, oc, kh, kw, sh, sw, dh, dw, 0, 0, 0, 0);
    int oh = (h + sh - 1) / sh, ow = (w + sw - 1) / sw;
    int ph = (oh - 1) * sh + (kh - 1) * dh + 1 - h, pw = (ow - 1) * sw + (kw - 1) * dw + 1 - w;
    ph = ph > 0 ? ph : 0;
    pw = pw > 0 ? pw : 0;
    return geom_pad(n, h, w, c, oc, kh, kw, sh, sw, dh, dw, ph / 2, ph - ph / 2, pw / 2,
                    pw - pw / 2);
}

static size_t in_size(const cr_conv_geom *g) { return (size_t)g->n * g->h * g->w * g->c; }
static size_t out_size(const cr_conv_geom *g) { return (size_t)g->n * g->oh * g->ow * g->oc; }

/* Input cell of output (oh, ow) tap (i, j), or -1 when it is padding. */
static int64_t in_cell(const cr_conv_geom *g, int n, int oh, int ow, int i, int j)
{
    int iy = oh * g->sh - g->pt + i * g->dh, ix = ow * g->sw - g->pl + j * g->dw;
    if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
        return -1;
    return ((int64_t)n * g->h + iy) * g->w + ix;
}

static int64_t out_cell(const cr_conv_geom *g, int n, int oh, int ow)
{
    return ((int64_t)n * g->oh + oh) * g->ow + ow;
}

#define FOR_OUT(g, n, oh, ow)                 \
    for (int n = 0; n < (g)->n; n++)          \
        for (int oh = 0; oh < (g)->oh; oh++)  \
            for (int ow = 0; ow < (g)->ow; ow++)
#define FOR_TAP(g, i, j)                      \
    for (int i = 0; i < (g)->kh; i++)         \
        for (int j = 0; j < (g)->kw; j++)

static void describe(char *buf, size_t n, const char *isa, const char *op, const cr_conv_geom *g)
{
    snprintf(buf, n, "%s %s n%d %dx%dx%d->%dx%dx%d k%dx%d s%d,%d d%d,%d p%d,%d", isa, op, g->n,
             g->h, g->w, g->c, g->oh, g->ow, g->oc, g->kh, g->kw, g->sh, g->sw, g->dh, g->dw,
             g->pt, g->pl);
}

/* The outputs of a kernel run on 1, 2 and 3 threads must be bit-identical. */
static void same_bits(const char *what, float *const out[3], size_t n)
{
    if (!out[0])
        return;
    for (int t = 1; t < 3; t++)
        if (memcmp(out[0], out[t], n * sizeof(float)))
            fail_msg("%s: %d threads differ from 1", what, t + 1);
}

static void free3(float *v[3])
{
    for (int t = 0; t < 3; t++)
        free(v[t]);
}

/* Accumulating outputs: three copies of a random initial value (or NULLs). */
static void init3(float *v[3], const float *init, size_t n)
{
    for (int t = 0; t < 3; t++)
        v[t] = init ? copy(init, n) : NULL;
}

/* ---- Conv2D ------------------------------------------------------------------ */

static void ref_conv(const cr_conv_geom *g, const float *x, const float *k, const float *bias,
                     double *want, double *mag)
{
    FOR_OUT(g, n, oh, ow)
        for (int o = 0; o < g->oc; o++) {
            double s = bias ? bias[o] : 0, m = fabs(s);
            FOR_TAP(g, i, j) {
                int64_t cell = in_cell(g, n, oh, ow, i, j);
                for (int c = 0; cell >= 0 && c < g->c; c++) {
                    double t = (double)x[cell * g->c + c] *
                               k[(((size_t)i * g->kw + j) * g->c + c) * g->oc + o];
                    s += t;
                    m += fabs(t);
                }
            }
            want[out_cell(g, n, oh, ow) * g->oc + o] = s;
            mag[out_cell(g, n, oh, ow) * g->oc + o] = m;
        }
}

/* Gradients from the definition y = sum x k + b, added to the initial
 * values (wx, wk, wb start as dx, dk, dbias; m* as their magnitudes). */
static void ref_conv_back(const cr_conv_geom *g, const float *x, const float *k, const float *dy,
                          double *wx, double *mx, double *wk, double *mk, double *wb,
                          double *mb)
{
    FOR_OUT(g, n, oh, ow)
        for (int o = 0; o < g->oc; o++) {
            double gy = dy[out_cell(g, n, oh, ow) * g->oc + o];
            wb[o] += gy;
            mb[o] += fabs(gy);
            FOR_TAP(g, i, j) {
                int64_t cell = in_cell(g, n, oh, ow, i, j);
                for (int c = 0; cell >= 0 && c < g->c; c++) {
                    size_t ki = (((size_t)i * g->kw + j) * g->c + c) * g->oc + o;
                    size_t xi = (size_t)cell * g->c + c;
                    wx[xi] += gy * k[ki];
                    mx[xi] += fabs(gy * k[ki]);
                    wk[ki] += gy * x[xi];
                    mk[ki] += fabs(gy * x[xi]);
                }
            }
        }
}

static void start_acc(const float *init, size_t n, double **w, double **m)
{
    *w = dvec(n);
    *m = dvec(n);
    for (size_t i = 0; i < n; i++) {
        (*w)[i] = init[i];
        (*m)[i] = fabs(init[i]);
    }
}

typedef void (*ref_back_fn)(const cr_conv_geom *g, const float *x, const float *k,
                            const float *dy, double *wx, double *mx, double *wk, double *mk,
                            double *wb, double *mb);

/* The backward results of the three thread counts (dx, dk, db; [0] NULL
 * where not wanted), accumulated onto dx0, dk0, db0: against ref, and the
 * same to the bit at every thread count. Frees dx, dk and db. */
static void check_backward(const char *what, const cr_conv_geom *g, ref_back_fn ref,
                           const float *x, const float *k, const float *dy, const float *dx0,
                           const float *dk0, const float *db0, float *dx[3], float *dk[3],
                           float *db[3], size_t nx, size_t nk)
{
    double *wx, *mx, *wk, *mk, *wb, *mb;
    start_acc(dx0, nx, &wx, &mx);
    start_acc(dk0, nk, &wk, &mk);
    start_acc(db0, g->oc, &wb, &mb);
    ref(g, x, k, dy, wx, mx, wk, mk, wb, mb);
    int64_t pixels = (int64_t)g->n * g->oh * g->ow;
    if (dx[0] && n_bad_flat(what, dx[0], nx, wx, mx, rtol((int64_t)g->kh * g->kw * g->oc)))
        fail_msg("%s: dx wrong", what);
    if (dk[0] && n_bad_flat(what, dk[0], nk, wk, mk, rtol(pixels)))
        fail_msg("%s: dk wrong", what);
    if (db[0] && n_bad_flat(what, db[0], g->oc, wb, mb, rtol(pixels)))
        fail_msg("%s: dbias wrong", what);
    same_bits(what, dx, nx);
    same_bits(what, dk, nk);
    same_bits(what, db, g->oc);
    free3(dx);
    free3(dk);
    free3(db);
    free(wx), free(mx), free(wk), free(mk), free(wb), free(mb);
}

/* which: bit 0 dx, bit 1 dk, bit 2 dbias wanted. */
/* A kernel under test: conv2d or depthwise2d, with its reference. */
typedef struct kernel_kind {
    const char *name;
    size_t (*k_size)(const cr_conv_geom *g);      /* the kernel's floats */
    int64_t (*terms)(const cr_conv_geom *g);      /* products summed per output */
    void (*ref)(const cr_conv_geom *g, const float *x, const float *k, const float *bias,
                double *want, double *mag);
    ref_back_fn ref_back;
    void (*run)(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                const float *b, const float *dy, float *y, float *dx, float *dk, float *db,
                float *scratch);                  /* forward into y, then backward */
    bool uses_scratch, shifts_x;                  /* shifts_x: x placed by x_shift */
} kernel_kind;

/* x starts `x_shift` floats past a 64-byte boundary (-1: wherever malloc
 * puts it), to reach the depthwise kernels' realignment of channel chunks. */
static int x_shift = -1;

/* One geometry of kind kk on isa, forward and the backward parts `which`
 * asks for (1 dx, 2 dk, 4 dbias) against the reference, bit-identical on
 * 1, 2 and 3 threads. */
static void kernel_case(const kernel_kind *kk, const char *isa, cr_conv_geom g, bool bias_on,
                        int which)
{
    char what[160];
    describe(what, sizeof what, isa, kk->name, &g);
    size_t nx = in_size(&g), ny = out_size(&g), nk = kk->k_size(&g);
    float *xbase = vec(kk->shifts_x ? nx + 32 : nx, 2), *x = xbase;
    if (kk->shifts_x && x_shift >= 0)
        x = xbase + (16 - (uintptr_t)xbase % 64 / sizeof(float)) % 16 + x_shift;
    float *k = vec(nk, 2), *b = bias_on ? vec(g.oc, 2) : NULL;
    float *dy = vec(ny, 2), *dx0 = vec(nx, 2), *dk0 = vec(nk, 2), *db0 = vec(g.oc, 2);
    size_t ns = kk->uses_scratch ? cr_conv2d_scratch(&g, 3) : 0;
    float *scratch = ns ? vec(ns, NAN) : NULL;
    double *want = dvec(ny), *mag = dvec(ny);
    kk->ref(&g, x, k, b, want, mag);
    float *y[3], *dx[3], *dk[3], *db[3];
    init3(dx, which & 1 ? dx0 : NULL, nx);
    init3(dk, which & 2 ? dk0 : NULL, nk);
    init3(db, which & 4 ? db0 : NULL, g.oc);
    for (int t = 0; t < 3; t++) {
        y[t] = vec(ny, NAN);
        kk->run(pools[t], &g, x, k, b, dy, y[t], dx[t], dk[t], db[t], scratch);
    }
    if (n_bad_flat(what, y[0], ny, want, mag, rtol(kk->terms(&g))))
        fail_msg("%s: forward wrong", what);
    same_bits(what, y, ny);
    check_backward(what, &g, kk->ref_back, x, k, dy, dx0, dk0, db0, dx, dk, db, nx, nk);
    free3(y);
    free(xbase), free(k), free(b), free(dy), free(dx0), free(dk0), free(db0), free(scratch);
    free(want), free(mag);
}

static size_t conv_k_size(const cr_conv_geom *g) { return (size_t)g->kh * g->kw * g->c * g->oc; }
static int64_t conv_terms(const cr_conv_geom *g) { return (int64_t)g->kh * g->kw * g->c; }

static void conv_run(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                     const float *b, const float *dy, float *y, float *dx, float *dk, float *db,
                     float *scratch)
{
    cr_conv2d(p, g, x, k, b, y, scratch);
    cr_conv2d_backward(p, g, x, k, dy, dx, dk, db, scratch);
}

static const kernel_kind conv_kind = { "conv2d", conv_k_size, conv_terms, ref_conv,
                                       ref_conv_back, conv_run, true, false };

static void conv_case(const char *isa, cr_conv_geom g, bool bias_on, int which)
{
    kernel_case(&conv_kind, isa, g, bias_on, which);
}

static void test_conv2d(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa) {
        conv_case(isa, geom(2, 5, 7, 3, 5, 1, 1, 1, 1, 1, 1, false), true, 7);    /* 1x1: gemm */
        conv_case(isa, geom(2, 9, 11, 17, 33, 1, 1, 1, 1, 1, 1, true), false, 7);
        conv_case(isa, geom(1, 7, 9, 4, 6, 1, 1, 2, 2, 1, 1, false), true, 7);    /* 1x1 s2 */
        conv_case(isa, geom(2, 6, 7, 3, 4, 3, 3, 1, 1, 1, 1, true), true, 7);
        conv_case(isa, geom(2, 9, 8, 5, 17, 3, 3, 2, 2, 1, 1, true), true, 7);
        conv_case(isa, geom(1, 9, 10, 2, 3, 3, 3, 2, 2, 1, 1, false), false, 7);
        conv_case(isa, geom(2, 5, 6, 3, 7, 2, 2, 1, 1, 1, 1, true), true, 7);     /* pad 0/1 */
        conv_case(isa, geom(1, 11, 9, 3, 5, 5, 3, 2, 1, 1, 2, true), true, 7);
        conv_case(isa, geom(2, 10, 9, 4, 3, 3, 3, 1, 1, 2, 2, false), true, 7);   /* dilated */
        conv_case(isa, geom_pad(1, 6, 7, 3, 4, 3, 2, 2, 1, 1, 1, 2, 0, 1, 3), true, 7);
        conv_case(isa, geom(1, 10, 11, 3, 9, 4, 4, 3, 3, 1, 1, true), true, 7);
        conv_case(isa, geom(1, 17, 15, 3, 32, 3, 3, 2, 2, 1, 1, true), true, 7);  /* stem */
        conv_case(isa, geom(2, 16, 16, 64, 8, 3, 3, 1, 1, 1, 1, true), true, 7);  /* 2 tiles */
        conv_case(isa, geom(2, 6, 5, 3, 4, 3, 3, 1, 1, 1, 1, true), true, 1);     /* dx only */
        conv_case(isa, geom(2, 6, 5, 3, 4, 3, 3, 1, 1, 1, 1, true), true, 2);     /* dk only */
        conv_case(isa, geom(2, 6, 5, 3, 4, 1, 1, 1, 1, 1, 1, true), true, 4);     /* dbias */
        conv_case(isa, geom(2, 6, 5, 3, 4, 1, 1, 1, 1, 1, 1, true), true, 0);     /* none */
    }
}

/* Big enough that every stage splits over 2 and 3 threads. */
static void test_conv2d_threads(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa) {
        conv_case(isa, geom(2, 24, 24, 32, 40, 3, 3, 1, 1, 1, 1, true), true, 7);
        conv_case(isa, geom(4, 20, 20, 48, 40, 1, 1, 1, 1, 1, 1, true), true, 7);
    }
}

/* ---- DepthwiseConv2D -------------------------------------------------------- */

static void ref_dw(const cr_conv_geom *g, const float *x, const float *k, const float *bias,
                   double *want, double *mag)
{
    int dm = g->oc / g->c;
    FOR_OUT(g, n, oh, ow)
        for (int o = 0; o < g->oc; o++) {
            double s = bias ? bias[o] : 0, m = fabs(s);
            FOR_TAP(g, i, j) {
                int64_t cell = in_cell(g, n, oh, ow, i, j);
                if (cell < 0)
                    continue;
                double t = (double)x[cell * g->c + o / dm] * k[((size_t)i * g->kw + j) * g->oc + o];
                s += t;
                m += fabs(t);
            }
            want[out_cell(g, n, oh, ow) * g->oc + o] = s;
            mag[out_cell(g, n, oh, ow) * g->oc + o] = m;
        }
}

static void ref_dw_back(const cr_conv_geom *g, const float *x, const float *k, const float *dy,
                        double *wx, double *mx, double *wk, double *mk, double *wb, double *mb)
{
    int dm = g->oc / g->c;
    FOR_OUT(g, n, oh, ow)
        for (int o = 0; o < g->oc; o++) {
            double gy = dy[out_cell(g, n, oh, ow) * g->oc + o];
            wb[o] += gy;
            mb[o] += fabs(gy);
            FOR_TAP(g, i, j) {
                int64_t cell = in_cell(g, n, oh, ow, i, j);
                if (cell < 0)
                    continue;
                size_t ki = ((size_t)i * g->kw + j) * g->oc + o, xi = cell * g->c + o / dm;
                wx[xi] += gy * k[ki];
                mx[xi] += fabs(gy * k[ki]);
                wk[ki] += gy * x[xi];
                mk[ki] += fabs(gy * x[xi]);
            }
        }
}

static size_t dw_k_size(const cr_conv_geom *g) { return (size_t)g->kh * g->kw * g->oc; }
static int64_t dw_terms(const cr_conv_geom *g) { return (int64_t)g->kh * g->kw; }

static void dw_run(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                   const float *b, const float *dy, float *y, float *dx, float *dk, float *db,
                   float *scratch)
{
    (void)scratch;
    cr_depthwise2d(p, g, x, k, b, y);
    cr_depthwise2d_backward(p, g, x, k, dy, dx, dk, db);
}

static const kernel_kind dw_kind = { "depthwise", dw_k_size, dw_terms, ref_dw, ref_dw_back,
                                     dw_run, false, true };

static void dw_case(const char *isa, cr_conv_geom g, bool bias_on, int which)
{
    kernel_case(&dw_kind, isa, g, bias_on, which);
}

static void test_depthwise(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa) {
        static const int chans[] = { 1, 5, 17, 33 };
        for (int ci = 0; ci < 4; ci++) {
            int c = chans[ci];
            dw_case(isa, geom(2, 9, 11, c, c, 3, 3, 1, 1, 1, 1, true), true, 7);
            dw_case(isa, geom(1, 10, 9, c, c, 3, 3, 2, 2, 1, 1, true), ci % 2, 7);
            dw_case(isa, geom(1, 9, 12, c, c, 3, 3, 2, 2, 1, 1, false), true, 7);
            dw_case(isa, geom(2, 7, 13, c, 2 * c, 3, 3, 1, 1, 1, 1, true), true, 7);   /* dm 2 */
        }
        dw_case(isa, geom(1, 8, 9, 5, 15, 3, 2, 1, 2, 1, 1, true), true, 7);          /* dm 3 */
        dw_case(isa, geom(1, 11, 12, 6, 6, 5, 5, 1, 1, 1, 1, true), true, 7);
        dw_case(isa, geom(2, 11, 12, 7, 7, 3, 3, 1, 1, 2, 2, true), true, 7);         /* dilated */
        dw_case(isa, geom(1, 9, 10, 20, 20, 3, 3, 1, 2, 2, 1, false), false, 7);
        dw_case(isa, geom_pad(1, 7, 9, 9, 9, 3, 3, 1, 1, 1, 1, 2, 0, 0, 2), true, 7);
        dw_case(isa, geom_pad(2, 6, 8, 9, 18, 2, 4, 2, 1, 1, 1, 1, 1, 3, 0), true, 7);
        dw_case(isa, geom(2, 5, 6, 19, 19, 1, 1, 1, 1, 1, 1, true), true, 7);         /* 1x1 */
        dw_case(isa, geom(1, 14, 14, 40, 40, 3, 3, 1, 1, 1, 1, true), true, 7);
        dw_case(isa, geom(1, 14, 14, 40, 40, 3, 3, 2, 2, 1, 1, true), true, 7);
        dw_case(isa, geom(1, 7, 13, 72, 72, 3, 3, 1, 1, 1, 1, true), true, 7);     /* 4+ chunks */
        dw_case(isa, geom(1, 9, 11, 72, 72, 3, 3, 2, 2, 1, 1, true), false, 7);
        dw_case(isa, geom(1, 6, 10, 64, 64, 5, 3, 1, 1, 1, 1, true), true, 7);
        dw_case(isa, geom(1, 6, 7, 5, 5, 3, 3, 1, 1, 1, 1, true), true, 1);
        dw_case(isa, geom(1, 6, 7, 5, 10, 3, 3, 1, 1, 1, 1, true), true, 2);
        dw_case(isa, geom(1, 6, 7, 5, 5, 3, 3, 1, 1, 1, 1, true), true, 4);
        for (x_shift = 0; x_shift < 16; x_shift += 3) {   /* chunks realigned to x */
            dw_case(isa, geom(1, 9, 14, 64, 64, 3, 3, 1, 1, 1, 1, true), true, 7);
            dw_case(isa, geom(1, 9, 14, 32, 32, 3, 3, 2, 2, 1, 1, true), true, 7);
        }
        x_shift = -1;
    }
}

static void test_depthwise_threads(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa) {
        dw_case(isa, geom(2, 20, 20, 48, 48, 3, 3, 1, 1, 1, 1, true), true, 7);
        dw_case(isa, geom(2, 21, 20, 48, 48, 3, 3, 2, 2, 1, 1, true), true, 7);
        dw_case(isa, geom(2, 16, 16, 24, 48, 3, 3, 1, 1, 1, 1, true), true, 7);
    }
}

/* ---- pooling -------------------------------------------------------------------- */

static void ref_pool(const cr_conv_geom *g, const float *x, bool max, double *want, double *mag)
{
    FOR_OUT(g, n, oh, ow)
        for (int c = 0; c < g->c; c++) {
            double s = max ? -INFINITY : 0, m = 0;
            int cnt = 0;
            FOR_TAP(g, i, j) {
                int64_t cell = in_cell(g, n, oh, ow, i, j);
                if (cell < 0)
                    continue;
                double v = x[cell * g->c + c];
                s = max ? (v > s ? v : s) : s + v;
                m += fabs(v);
                cnt++;
            }
            want[out_cell(g, n, oh, ow) * g->c + c] = max ? s : s / cnt;
            mag[out_cell(g, n, oh, ow) * g->c + c] = max ? 0 : m / cnt;
        }
}

/* Max: the gradient goes to the first window cell (row-major) equal to the
 * maximum; average: dy / (valid cells) to each valid cell. */
static void ref_pool_back(const cr_conv_geom *g, const float *x, const float *y,
                          const float *dy, bool max, double *wx, double *mx)
{
    FOR_OUT(g, n, oh, ow)
        for (int c = 0; c < g->c; c++) {
            size_t o = out_cell(g, n, oh, ow) * g->c + c;
            int cnt = 0;
            FOR_TAP(g, i, j) cnt += in_cell(g, n, oh, ow, i, j) >= 0;
            bool done = false;
            FOR_TAP(g, i, j) {
                int64_t cell = in_cell(g, n, oh, ow, i, j);
                if (cell < 0 || done)
                    continue;
                size_t xi = cell * g->c + c;
                if (max && x[xi] != y[o])
                    continue;
                double d = max ? dy[o] : (double)dy[o] / cnt;
                wx[xi] += d;
                mx[xi] += fabs(d);
                done = max;
            }
        }
}

static void pool_case(const char *isa, cr_conv_geom g, bool max, bool ties)
{
    char what[160];
    describe(what, sizeof what, isa, max ? "maxpool" : "avgpool", &g);
    size_t nx = in_size(&g), ny = out_size(&g);
    float *x = vec(nx, 2), *dy = vec(ny, 2), *dx0 = vec(nx, 2);
    if (ties)                     /* few distinct values: many tied maxima */
        for (size_t i = 0; i < nx; i++)
            x[i] = (float)(int)(x[i] * 2);
    double *want = dvec(ny), *mag = dvec(ny);
    ref_pool(&g, x, max, want, mag);
    float *y[3], *dx[3];
    init3(dx, dx0, nx);
    for (int t = 0; t < 3; t++) {
        y[t] = vec(ny, NAN);
        if (max) {
            cr_maxpool2d(pools[t], &g, x, y[t]);
            cr_maxpool2d_backward(pools[t], &g, x, y[t], dy, dx[t]);
        } else {
            cr_avgpool2d(pools[t], &g, x, y[t]);
            cr_avgpool2d_backward(pools[t], &g, dy, dx[t]);
        }
    }
    if (n_bad_flat(what, y[0], ny, want, mag, rtol((int64_t)g.kh * g.kw)))
        fail_msg("%s: forward wrong", what);
    same_bits(what, y, ny);
    double *wx, *mx;
    start_acc(dx0, nx, &wx, &mx);
    ref_pool_back(&g, x, y[0], dy, max, wx, mx);
    if (n_bad_flat(what, dx[0], nx, wx, mx, rtol((int64_t)g.kh * g.kw)))
        fail_msg("%s: dx wrong", what);
    same_bits(what, dx, nx);
    free3(y);
    free3(dx);
    free(x), free(dy), free(dx0), free(want), free(mag), free(wx), free(mx);
}

static void test_pooling(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa) {
        static const int chans[] = { 1, 5, 17, 33 };
        for (int ci = 0; ci < 4; ci++)
            for (int max = 0; max <= 1; max++) {
                int c = chans[ci];
                pool_case(isa, geom(2, 8, 9, c, c, 2, 2, 2, 2, 1, 1, false), max, false);
                pool_case(isa, geom(1, 9, 7, c, c, 3, 3, 2, 2, 1, 1, true), max, false);
                pool_case(isa, geom(2, 7, 8, c, c, 3, 3, 1, 1, 1, 1, true), max, ci & 1);
                pool_case(isa, geom(1, 7, 9, c, c, 2, 2, 1, 1, 1, 1, true), max, true);
                pool_case(isa, geom(1, 11, 10, c, c, 3, 2, 3, 2, 1, 1, true), max, false);
                pool_case(isa, geom_pad(1, 6, 7, c, c, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0), max, true);
            }
    }
}

static void test_pooling_threads(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa) {
        for (int max = 0; max <= 1; max++) {
            pool_case(isa, geom(4, 24, 24, 40, 40, 3, 3, 1, 1, 1, 1, true), max, max);
            pool_case(isa, geom(4, 32, 30, 64, 64, 2, 2, 2, 2, 1, 1, false), max, false);
        }
    }
}

/* NaN cells are skipped by max; windows entirely in the padding give -inf
 * (max) and 0 (average). */
static void test_pooling_special(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa) {
        /* 1 image 2x2, 17 channels; 2x2 windows, stride 2, padding 2 on top
         * and left: output 2x2 whose first row and column see only padding */
        cr_conv_geom g = geom_pad(1, 2, 2, 17, 17, 2, 2, 2, 2, 1, 1, 2, 0, 2, 0);
        assert_int_equal(g.oh, 2);
        float x[4 * 17], y[4 * 17];
        for (int i = 0; i < 4 * 17; i++)
            x[i] = (float)i;
        for (int c = 0; c < 17; c += 2)
            x[3 * 17 + c] = NAN;           /* the largest cell, for even channels */
        cr_maxpool2d(pools[2], &g, x, y);
        for (int c = 0; c < 17; c++) {
            if (!(y[c] == -INFINITY && y[17 + c] == -INFINITY && y[2 * 17 + c] == -INFINITY))
                fail_msg("%s: empty max window", isa);
            float want = c % 2 ? (float)(3 * 17 + c) : (float)(2 * 17 + c);
            if (y[3 * 17 + c] != want)
                fail_msg("%s: max with NaN: got %g want %g", isa, y[3 * 17 + c], want);
        }
        cr_avgpool2d(pools[2], &g, x, y);
        for (int c = 0; c < 17; c++)
            if (y[c] != 0 || y[17 + c] != 0 || y[2 * 17 + c] != 0)
                fail_msg("%s: empty average window", isa);
    }
}

/* A worker that loses its CPU mid-task (here: sleeps 20 ms) while the
 * caller has long finished its share: the pool runs the next jobs on the
 * caller alone (a loaded machine makes threads no slower than one). */
typedef struct stall_ctx {
    pthread_t caller;
    int on_worker;
    bool stall;
} stall_ctx;

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* 20 us of work on the caller; on a worker, with stall set, 50 ms away. */
static void stall_task(void *ctx, int i, int n)
{
    stall_ctx *c = ctx;
    (void)i;
    (void)n;
    if (!pthread_equal(pthread_self(), c->caller)) {
        __atomic_fetch_add(&c->on_worker, 1, __ATOMIC_RELAXED);
        if (c->stall) {
            struct timespec d = { 0, 50000000 };
            nanosleep(&d, NULL);
            return;
        }
    }
    for (double t0 = mono_s(); mono_s() - t0 < 20e-6;)
        ;
}

static void test_pool_backoff(void **state)
{
    (void)state;
    cr_pool *p = cr_pool_new(2);
    assert_non_null(p);
    stall_ctx c = { .caller = pthread_self(), .stall = true };
    for (int attempt = 0; attempt < 20 && c.on_worker == 0; attempt++)
        cr_pool_chunks(p, 64, stall_task, &c);
    assert_true(c.on_worker > 0);            /* the worker joined and stalled */
    c = (stall_ctx){ .caller = pthread_self(), .stall = false };
    for (int job = 0; job < 20; job++)
        cr_pool_chunks(p, 8, stall_task, &c);
    assert_int_equal(c.on_worker, 0);        /* ...so the next jobs ran on the caller */
    cr_pool_free(p);
}

/* ---- fused stores, packed weights, chunked pool --------------------------- */

static float act_f(float v, cr_act act)      /* the kernels' definition */
{
    if (act != CR_ACT_NONE) {
        v = v > 0.0f ? v : 0.0f;
        if (act == CR_ACT_RELU6)
            v = v < 6.0f ? v : 6.0f;
    }
    return v;
}

static double act_d(double v, cr_act act)
{
    if (act != CR_ACT_NONE) {
        v = v > 0 ? v : 0;
        if (act == CR_ACT_RELU6)
            v = v < 6 ? v : 6;
    }
    return v;
}

static const char *act_name(cr_act act)
{
    return act == CR_ACT_RELU6 ? "relu6" : act == CR_ACT_RELU ? "relu" : "linear";
}

/* cr_gemm_packed with A starting `shift` floats past a 64-byte boundary:
 * against the reference, bit-identical to cr_gemm_ep (unpacked, beta 0)
 * and across thread counts, padding columns of C untouched. tb: pack from
 * B^T. The packed buffer starts as NaN (packing must write all of it). */
static void packed_case(const char *isa, int M, int N, int K, int shift, bool tb,
                        bool with_bias, cr_act act)
{
    int lda = K + shift % 3, ldc = N + 2, ldb = tb ? K + 1 : N;
    float *abase = vec((size_t)M * lda + 32, 2);
    float *A = abase + (16 - (uintptr_t)abase % 64 / sizeof(float)) % 16 + shift;
    float *B = vec((size_t)(tb ? N : K) * ldb, 2), *bias = with_bias ? vec((size_t)N, 2) : NULL;
    float *C0 = vec((size_t)M * ldc, NAN);
    double *want = dvec((size_t)M * N), *mag = dvec((size_t)M * N);
    ref_gemm(false, tb, M, N, K, A, lda, B, ldb, 0.0f, C0, ldc, bias, want, mag);
    for (size_t i = 0; i < (size_t)M * N; i++)
        want[i] = act_d(want[i], act);
    size_t np = cr_gemm_packed_floats(K, N);
    float *Bp = vec(np, NAN), *U = copy(C0, (size_t)M * ldc), *C[3];
    cr_gemm_pack(tb, K, N, B, ldb, Bp);
    cr_gemm_ep(NULL, false, tb, M, N, K, A, lda, B, ldb, 0.0f, U, ldc, bias, act);
    char what[160];
    snprintf(what, sizeof what, "%s gemm_packed M=%d N=%d K=%d shift=%d tb=%d bias=%d %s", isa,
             M, N, K, shift, tb, with_bias, act_name(act));
    for (int t = 0; t < 3; t++) {
        C[t] = copy(C0, (size_t)M * ldc);
        cr_gemm_packed(pools[t], M, N, K, A, lda, Bp, C[t], ldc, bias, act);
    }
    if (n_bad(what, C[0], M, N, ldc, want, mag, rtol(K + 2)))
        fail_msg("%s: wrong", what);
    if (memcmp(C[0], U, (size_t)M * ldc * sizeof(float)))
        fail_msg("%s: differs from the unpacked gemm", what);
    same_bits(what, C, (size_t)M * ldc);
    for (int i = 0; i < M; i++)
        if (memcmp(C[0] + (size_t)i * ldc + N, C0 + (size_t)i * ldc + N, 2 * sizeof(float)))
            fail_msg("%s: wrote past N", what);
    free3(C);
    free(abase), free(B), free(bias), free(C0), free(want), free(mag), free(Bp), free(U);
}

/* Odd sizes, partial micro-panels and panels, several K blocks, several
 * column chunks (N > 256) and row chunks, every alignment of A. */
static void test_gemm_packed(void **state)
{
    (void)state;
    static const int shapes[][3] = {
        { 1, 1, 1 },    { 7, 5, 3 },     { 13, 33, 17 },  { 9, 16, 256 }, { 8, 40, 300 },
        { 49, 300, 160 }, { 3, 530, 33 }, { 600, 17, 40 }, { 100, 96, 16 }, { 25, 7, 520 },
    };
    FOR_EACH_ISA(isa) {
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int v = 0; v < 6; v++)
                packed_case(isa, shapes[s][0], shapes[s][1], shapes[s][2], (int)(s + v) % 16,
                            v % 2, v < 4, (cr_act)(v % 3));
        for (int shift = 0; shift < 16; shift++)
            packed_case(isa, 19, 35, 21, shift, false, true, CR_ACT_RELU6);
        packed_case(isa, 5, 3, 0, 0, false, true, CR_ACT_RELU);       /* K = 0: act(bias) */
    }
}

/* Products of at most 4 rows read B in place; each row must have the bits
 * it has inside a larger product (the blocked, packed path). */
static void test_gemm_few_rows(void **state)
{
    (void)state;
    static const int shapes[][2] = { { 1, 3 }, { 17, 256 }, { 200, 300 }, { 300, 520 }, { 64, 1 } };
    FOR_EACH_ISA(isa) {
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int v = 0; v < 6; v++) {
                int N = shapes[s][0], K = shapes[s][1], M = 11, ldc = N + 1;
                float *A = vec((size_t)M * K, 2), *B = vec((size_t)K * N, 2);
                float *bias = v < 3 ? vec((size_t)N, 2) : NULL, *C0 = vec((size_t)M * ldc, 2);
                float beta = (float)(v % 2), *big = copy(C0, (size_t)M * ldc);
                cr_act act = (cr_act)(v % 3);
                cr_gemm_ep(pools[1], false, false, M, N, K, A, K, B, N, beta, big, ldc, bias, act);
                for (int rows = 1; rows <= 4; rows++)
                    for (int t = 0; t < 3; t++) {
                        float *c = copy(C0 + 2 * ldc, (size_t)rows * ldc);
                        cr_gemm_ep(pools[t], false, false, rows, N, K, A + 2 * K, K, B, N, beta, c,
                                   ldc, bias, act);
                        if (memcmp(c, big + 2 * ldc, (size_t)rows * ldc * sizeof(float)))
                            fail_msg("%s gemm N=%d K=%d beta=%g %s: %d rows on %d threads differ "
                                     "from the same rows of %d", isa, N, K, beta, act_name(act),
                                     rows, t + 1, M);
                        free(c);
                    }
                free(A), free(B), free(bias), free(C0), free(big);
            }
    }
}

static void act_all(float *y, size_t n, cr_act act)
{
    for (size_t i = 0; i < n; i++)
        y[i] = act_f(y[i], act);
}

/* Conv2D with y = act(conv + bias) in the gemm's stores, kernel packed or
 * not: the bits of cr_conv2d then act, on every thread count. */
static void conv_ep_case(const char *isa, cr_conv_geom g, cr_act act)
{
    char what[160];
    describe(what, sizeof what, isa, act_name(act), &g);
    size_t nx = in_size(&g), ny = out_size(&g), nk = (size_t)g.kh * g.kw * g.c * g.oc;
    float *x = vec(nx, 2), *k = vec(nk, 2), *b = vec(g.oc, 2), *ref = vec(ny, NAN), *y[3], *yp[3];
    size_t ns = cr_conv2d_scratch(&g, 3);
    float *scratch = ns ? vec(ns, NAN) : NULL, *kp = vec(cr_conv2d_packed_floats(&g), NAN);
    cr_conv2d_pack(&g, k, kp);
    cr_conv2d(NULL, &g, x, k, b, ref, scratch);
    act_all(ref, ny, act);
    for (int t = 0; t < 3; t++) {
        y[t] = vec(ny, NAN);
        yp[t] = vec(ny, NAN);
        cr_conv2d_ep(pools[t], &g, x, k, NULL, b, act, y[t], scratch);
        cr_conv2d_ep(pools[t], &g, x, NULL, kp, b, act, yp[t], scratch);
        if (memcmp(y[t], ref, ny * sizeof(float)) || memcmp(yp[t], ref, ny * sizeof(float)))
            fail_msg("%s: fused store differs from conv then act (%d threads)", what, t + 1);
    }
    free3(y);
    free3(yp);
    free(x), free(k), free(b), free(ref), free(scratch), free(kp);
}

/* Depthwise with the activation in its stores, x at every alignment. */
static void dw_act_case(const char *isa, cr_conv_geom g, int shift, cr_act act)
{
    char what[160];
    describe(what, sizeof what, isa, act_name(act), &g);
    size_t nx = in_size(&g), ny = out_size(&g), nk = (size_t)g.kh * g.kw * g.oc;
    float *xbase = vec(nx + 32, 2);
    float *x = xbase + (16 - (uintptr_t)xbase % 64 / sizeof(float)) % 16 + shift;
    float *k = vec(nk, 2), *b = vec(g.oc, 2), *ref = vec(ny, NAN), *y[3];
    for (size_t i = 0; i < nx; i++)
        x[i] *= 8;                          /* past 6, so relu6 clips */
    cr_depthwise2d(NULL, &g, x, k, b, ref);
    act_all(ref, ny, act);
    for (int t = 0; t < 3; t++) {
        y[t] = vec(ny, NAN);
        cr_depthwise2d_act(pools[t], &g, x, k, b, act, y[t]);
        if (memcmp(y[t], ref, ny * sizeof(float)))
            fail_msg("%s shift %d: fused store differs from depthwise then act (%d threads)",
                     what, shift, t + 1);
    }
    free3(y);
    free(xbase), free(k), free(b), free(ref);
}

static void test_fused_stores(void **state)
{
    (void)state;
    FOR_EACH_ISA(isa) {
        for (int a = 0; a < 3; a++) {
            conv_ep_case(isa, geom(2, 9, 11, 17, 33, 1, 1, 1, 1, 1, 1, true), (cr_act)a);
            conv_ep_case(isa, geom(1, 17, 15, 3, 32, 3, 3, 2, 2, 1, 1, true), (cr_act)a);
            conv_ep_case(isa, geom_pad(1, 6, 7, 3, 4, 3, 2, 2, 1, 1, 1, 2, 0, 1, 3), (cr_act)a);
            conv_ep_case(isa, geom(2, 16, 16, 64, 8, 3, 3, 1, 1, 1, 1, true), (cr_act)a);
            conv_ep_case(isa, geom(1, 7, 7, 300, 270, 1, 1, 1, 1, 1, 1, true), (cr_act)a);
            for (int shift = 0; shift < 16; shift += a + 1) {
                dw_act_case(isa, geom(1, 9, 14, 64, 64, 3, 3, 1, 1, 1, 1, true), shift, (cr_act)a);
                dw_act_case(isa, geom(1, 9, 14, 33, 33, 3, 3, 2, 2, 1, 1, true), shift, (cr_act)a);
            }
            dw_act_case(isa, geom(2, 7, 13, 5, 10, 3, 3, 1, 1, 1, 1, true), 0, (cr_act)a); /* dm 2 */
            dw_act_case(isa, geom(1, 11, 12, 6, 6, 5, 5, 1, 1, 1, 1, true), 1, (cr_act)a);
            dw_act_case(isa, geom_pad(1, 7, 9, 9, 9, 3, 3, 2, 2, 1, 1, 0, 1, 0, 1), 3, (cr_act)a);
            dw_act_case(isa, geom(1, 30, 30, 96, 96, 3, 3, 2, 2, 1, 1, true), 0, (cr_act)a);
        }
    }
}

typedef struct chunk_ctx {
    int *hits;
    int n_seen, bad_n;
} chunk_ctx;

static void chunk_task(void *ctx, int i, int n)
{
    chunk_ctx *c = ctx;
    __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
    if (n != c->n_seen)
        __atomic_fetch_add(&c->bad_n, 1, __ATOMIC_RELAXED);
}

/* cr_pool_chunks runs every chunk exactly once, whatever their number. */
static void test_pool_chunks(void **state)
{
    (void)state;
    static const int counts[] = { 0, 1, 2, 3, 7, 1000, 20000 };
    int *hits = calloc(20000, sizeof *hits);
    assert_non_null(hits);
    for (int pi = 0; pi < 3; pi++)
        for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++)
            for (int rep = 0; rep < 20; rep++) {
                int n = counts[ci];
                memset(hits, 0, 20000 * sizeof *hits);
                chunk_ctx c = { .hits = hits, .n_seen = n };
                cr_pool_chunks(pools[pi], n, chunk_task, &c);
                assert_int_equal(c.bad_n, 0);
                for (int i = 0; i < 20000; i++)
                    if (hits[i] != (i < n ? 1 : 0))
                        fail_msg("%d threads, %d chunks: chunk %d ran %d times", pi + 1, n, i,
                                 hits[i]);
            }
    free(hits);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_pool_shared),
        cmocka_unit_test(test_denormals_flushed),
        cmocka_unit_test(test_gemm_small_shapes),
        cmocka_unit_test(test_gemm_large_shapes),
        cmocka_unit_test(test_gemm_bias),
        cmocka_unit_test(test_gemm_degenerate),
        cmocka_unit_test(test_gemm_packed),
        cmocka_unit_test(test_gemm_few_rows),
        cmocka_unit_test(test_fused_stores),
        cmocka_unit_test(test_pool_chunks),
        cmocka_unit_test(test_pool_backoff),
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_conv2d_threads),
        cmocka_unit_test(test_depthwise),
        cmocka_unit_test(test_depthwise_threads),
        cmocka_unit_test(test_pooling),
        cmocka_unit_test(test_pooling_threads),
        cmocka_unit_test(test_pooling_special),
    };
    return cmocka_run_group_tests(tests, setup_pools, teardown_pools);
}
