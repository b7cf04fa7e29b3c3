/* q16.c - int16 x int8 inference kernels (TFLite's "16x8" numbers, see
 * kernels.h).
 *
 * The reference loops are q16_tmpl.h's, compiled twice: generic and for
 * AVX2 (chosen as the int8 kernels' level is, cr_q8_isa; integer
 * arithmetic, so the same bits either way). Convolutions, depthwise
 * convolutions and the gemm share one inner loop: per output pixel (or row
 * of A) and block of at most Q16_OB output channels, every input value
 * times its row of weights into int32 partial sums (channels innermost,
 * which the compiler vectorizes), moved into the int64 accumulators every
 * CR_Q16_FLUSH products, so nothing can overflow. Zero inputs (padding,
 * relu) are skipped. Threads take chunks of output rows; each output is
 * computed the same way wherever it falls.
 *
 * The fast paths give the same bits: Conv2D and Dense on packed weights
 * (cr_q16_gemm_pack: the int8 gemm's panels, one packed matrix per block
 * of PK_KB k) run the int8 kernels' driver design (chunks of rows by
 * columns, q8_rows_per_chunk) and their AVX2 tile (cr_q8_ukr.gemm16, which
 * takes int16 rows of A: the activations as they are, or im2col patches
 * gathered per block of rows), exact int32 sums per block added into int64;
 * rows of at most SK_K4 k run on AVX2 an int16 tile of their own that
 * requantizes from its registers (sk_*, on weights packed again as int16
 * pairs after the panels); depthwise at multiplier 1 on AVX2 pairs taps
 * for vpmaddwd (dw16_*). When biases and sums fit in int32 they requantize
 * from int32 eight channels at a time (store32's double operations).
 */
#include "q8.h"

#include <math.h>
#ifdef CR_HAVE_X86_UKR
#include <immintrin.h>
#endif

#define Q16_OB 256                 /* output channels per block (on the stack) */
#define Q16_CHUNK_MACS (1 << 18)   /* work per chunk of rows, about */
#define ELEM_CHUNK 65536
#ifdef CR_HAVE_X86_UKR
#define CR_Q16_AVX2(f) f##_avx2
#else
#define CR_Q16_AVX2(f) NULL
#endif

void cr_q16_multiplier(double m, int32_t *mult, int *shift)
{
    *mult = 0;
    *shift = 0;
    if (!(m > 0) || !isfinite(m))
        return;
    int e;
    double f = frexp(m, &e);
    int64_t q = (int64_t)round(f * 2147483648.0);
    if (q == ((int64_t)1 << 31)) {
        q /= 2;
        e++;
    }
    if (e < -31)
        return;
    if (e > 7) {
        q = INT32_MAX;
        e = 7;
    }
    *mult = (int32_t)q;
    *shift = e;
}

void cr_q16_req_scales(int oc, const int32_t *mult, const int32_t *shift, double *rs)
{
    for (int c = 0; c < oc; c++) {
        int32_t r = mult[c] < 0x7FFF0000 ? (int32_t)(((int64_t)mult[c] + (1 << 15)) >> 16) : 0x7FFF;
        rs[c] = ldexp((double)r, shift[c] - 15);
    }
}

/* ---- the shared inner loop ------------------------------------------------ */

typedef struct acc_blk {
    int32_t a32[Q16_OB];
    int64_t a64[Q16_OB];
    int on, count;                 /* channels in the block; products in a32 */
} acc_blk;
/* Rows per chunk for `rows` rows of `per_row` multiply-adds. */
static int64_t rows_per_chunk(cr_pool *p, int64_t rows, double per_row)
{
    int64_t rpc = (int64_t)(Q16_CHUNK_MACS / (per_row + 1));
    rpc = rpc < 1 ? 1 : rpc;
    while (rpc > 1 && (rows + rpc - 1) / rpc < 4 * (int64_t)cr_pool_size(p))
        rpc /= 2;
    return rpc;
}

/* ---- convolutions ----------------------------------------------------------- */

typedef struct conv_job {
    const cr_conv_geom *g;
    const int16_t *x;
    const int8_t *k;
    const int64_t *bias;
    const cr_q16_req *rq;
    int16_t *y;
    int64_t rpc, rows;
    bool depthwise;
    const int16_t *wp;             /* depthwise on pairs of taps: dw_pairs */
    int tp;                        /* its pairs of taps */
    const int32_t *b32;            /* the biases as int32 when sums cannot overflow */
    const int16_t *zero;           /* depthwise on pairs: zeros for taps outside */
} conv_job;

#define DW_TAPS 32                 /* depthwise on pairs: taps at most */
#define DW_PAIRS_ELEMS (1 << 15)   /* its weights (int16, on the stack) at most */

typedef struct gemm_job {
    int M, N, K;
    const int16_t *A;
    const int8_t *B;
    const int64_t *bias;
    const cr_q16_req *rq;
    int16_t *C;
    int64_t *C64;
    int64_t rpc;
} gemm_job;

/* The input window of output cell (row, ow): its image n, top-left corner
 * (by, bx) and the taps [i0, i1) x [t0, t1) that fall inside the input. */
typedef struct cell_win {
    int n, by, bx, i0, i1, t0, t1;
} cell_win;

static inline cell_win cell_window(const cr_conv_geom *g, int64_t row, int ow)
{
    cell_win c = { .n = (int)(row / g->oh), .by = (int)(row % g->oh) * g->sh - g->pt,
                   .bx = ow * g->sw - g->pl };
    cr_tap_range(c.by, g->dh, g->kh, g->h, &c.i0, &c.i1);
    cr_tap_range(c.bx, g->dw, g->kw, g->w, &c.t0, &c.t1);
    return c;
}

/* Offset of tap (i, t) of window c's input pixel (its first channel). */
static inline size_t cell_tap(const cr_conv_geom *g, const cell_win *c, int i, int t)
{
    return (((size_t)c->n * g->h + c->by + i * g->dh) * g->w + c->bx + t * g->dw) * g->c;
}

/* ---- packed gemm: the int8 kernels' panels and tiles ---------------------
 * Weights as the int8 gemm's panels (q8.h, biases 0), one packed matrix per
 * block of at most PK_KB k: a tile (cr_q8_ukr.gemm16 on AVX2) sums at most
 * PK_KB products exactly in int32 (PK_KB * 32768 * 127 < 2^31), the
 * driver adds the blocks' sums into int64. */
#define PK_KB 512
#define PK_NB 256                  /* columns per chunk */
#define PK_RB 48                   /* rows per block (on the stack) */
#define PK_SERIAL_MACS (1 << 18)   /* below this, one thread */
#define SK_K4 32                   /* short rows (sk_chunk): q8_k4(K) at most (at 64
                                      the int8 tile was faster) */
#define SK_MR 6                    /* its tiles' rows */

typedef void (*pk_tile_fn)(int K, const int16_t *a, size_t lda, const int8_t *bp, int rows,
                           int cols, uint8_t *c, int32_t *c32, size_t ldc, const cr_q8_req *rq,
                           int j0);

typedef struct pk_job {
    int64_t M;                     /* rows: of A, or output pixels */
    int N, K, ncb, mb, mr;
    const int16_t *A;              /* gemm: A [M, K] */
    const cr_conv_geom *g;         /* convolution (A: x's patches) */
    const int16_t *x;
    const int8_t *Bp;
    const int64_t *bias;
    const cr_q16_req *rq;
    int16_t *C;
    int64_t *C64;
    const int32_t *b32;            /* bias as int32 when sums and it cannot overflow */
    pk_tile_fn tile;
} pk_job;

#define B32_MAX 4096               /* channels at most for int32 biases (on the stack) */

/* bias [n] as int32 into b32 when each sum of at most `products` products
 * (|x w| <= 32768 * 127) plus its bias fits in int32: then true. */
static bool bias32(const int64_t *bias, int n, int64_t products, int32_t *b32)
{
    int64_t lim = INT32_MAX - products * 32768 * 127;
    if (!bias || n > B32_MAX || lim < 0)
        return false;
    for (int o = 0; o < n; o++) {
        if (bias[o] > lim || bias[o] < -lim)
            return false;
        b32[o] = (int32_t)bias[o];
    }
    return true;
}

static int pk_blocks(int K) { return K <= 0 ? 1 : (K + PK_KB - 1) / PK_KB; }

/* Short rows (q8_k4(K) <= SK_K4): after the panels, their weights again as
 * int16 pairs for sk_chunk, per panel of Q8_NR columns and pair of k, the
 * columns' two weights (zeros past K and N). */
static size_t sk_pairs_bytes(int K, int N)
{
    return q8_k4(K) <= SK_K4 ? (size_t)(N + Q8_NR - 1) / Q8_NR * Q8_NR * q8_k4(K) * 2 : 0;
}

static const int16_t *sk_pairs(const void *Bp, int K, int N)
{
    return (const int16_t *)((const char *)Bp + cr_q8_gemm_packed_bytes(K, N));
}

static void sk_pack(int K, int N, const int8_t *B, int16_t *wp)
{
    int k4 = q8_k4(K);
    for (int c0 = 0; c0 < N; c0 += Q8_NR)
        for (int k = 0; k < k4; k += 2, wp += 2 * Q8_NR)
            for (int col = 0; col < Q8_NR; col++)
                for (int q = 0; q < 2; q++)
                    wp[2 * col + q] =
                        c0 + col < N && k + q < K ? B[(size_t)(k + q) * N + c0 + col] : 0;
}

#define Q16_FN(f) f##_generic
#include "q16_tmpl.h"
#undef Q16_FN

#ifdef CR_HAVE_X86_UKR
#ifdef __clang__
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif
#define Q16_FN(f) f##_avx2
#define Q16_AVX2 1
#include "q16_tmpl.h"
#undef Q16_AVX2
#undef Q16_FN
#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

/* The level's copy of a hot loop (the int8 kernels' level: cr_q8_isa). */
static cr_task_fn q16_level(cr_task_fn generic, cr_task_fn avx2)
{
#ifdef CR_HAVE_X86_UKR
    if (cr_q8_isa_current() >= CR_Q8_AVX2)
        return avx2;
#endif
    (void)avx2;
    return generic;
}

static void conv_run(cr_pool *p, conv_job *j)
{
    const cr_conv_geom *g = j->g;
    j->rows = (int64_t)g->n * g->oh;
    if (j->rows <= 0 || g->ow <= 0 || g->oc <= 0)
        return;
    double per_row = (double)g->ow * g->oc * g->kh * g->kw * (j->depthwise ? 1 : g->c);
    j->rpc = rows_per_chunk(p, j->rows, per_row);
    cr_pool_chunks(p, (int)((j->rows + j->rpc - 1) / j->rpc),
                   q16_level(conv_chunk_generic, CR_Q16_AVX2(conv_chunk)), j);
}

void cr_q16_conv2d(cr_pool *p, const cr_conv_geom *g, const int16_t *x, const int8_t *k,
                   const int64_t *bias, const cr_q16_req *rq, int16_t *y)
{
    if (g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
        g->oh == g->h && g->ow == g->w) {   /* 1x1: x is the [pixels, c] matrix */
        cr_q16_gemm(p, g->n * g->h * g->w, g->oc, g->c, x, k, bias, rq, y, NULL);
        return;
    }
    conv_job j = { .g = g, .x = x, .k = k, .bias = bias, .rq = rq, .y = y };
    conv_run(p, &j);
}

/* Depthwise weights k [taps, c] (depth multiplier 1) for dw16_cell: per
 * block of 16 channels and pair of taps (a, b), 32 int16 in the lane order
 * of unpacking two taps' inputs: channels 0-3 and 8-11 (the low unpack),
 * then 4-7 and 12-15, each as (weight of a, weight of b); zeros past the
 * taps and channels. */
static void dw_pairs(const cr_conv_geom *g, const int8_t *k, int tp, int16_t *wp)
{
    int T = g->kh * g->kw;
    for (int c0 = 0; c0 < g->c; c0 += 16)
        for (int pr = 0; pr < tp; pr++, wp += 32)
            for (int h = 0; h < 2; h++)
                for (int l = 0; l < 8; l++) {
                    int ch = c0 + (l < 4 ? l : l + 4) + 4 * h;
                    for (int q = 0; q < 2; q++) {
                        int tap = 2 * pr + q;
                        wp[16 * h + 2 * l + q] =
                            ch < g->c && tap < T ? k[(size_t)tap * g->c + ch] : 0;
                    }
                }
}

void cr_q16_depthwise2d(cr_pool *p, const cr_conv_geom *g, const int16_t *x, const int8_t *k,
                        const int64_t *bias, const cr_q16_req *rq, int16_t *y)
{
    conv_job j = { .g = g, .x = x, .k = k, .bias = bias, .rq = rq, .y = y, .depthwise = true };
#ifdef CR_HAVE_X86_UKR
    int T = g->kh * g->kw;
    j.tp = (T + 1) / 2;
    if (cr_q8_isa_current() >= CR_Q8_AVX2 && g->oc == g->c && T <= DW_TAPS &&
        (int64_t)(g->c + 15) / 16 * j.tp * 32 <= DW_PAIRS_ELEMS) {
        _Alignas(32) int16_t wp[DW_PAIRS_ELEMS], zero[DW_PAIRS_ELEMS / 2 + 16] = { 0 };
        j.rows = (int64_t)g->n * g->oh;
        if (j.rows <= 0 || g->ow <= 0 || g->oc <= 0)
            return;
        _Alignas(32) int32_t b32[B32_MAX];
        dw_pairs(g, k, j.tp, wp);
        j.wp = wp;
        j.zero = zero;
        j.b32 = bias32(bias, g->oc, T, b32) ? b32 : NULL;
        j.rpc = rows_per_chunk(p, j.rows, (double)g->ow * g->oc * T);
        cr_pool_chunks(p, (int)((j.rows + j.rpc - 1) / j.rpc), dw16_chunk_avx2, &j);
        return;
    }
#endif
    conv_run(p, &j);
}

/* ---- gemm ------------------------------------------------------------------ */


void cr_q16_gemm(cr_pool *p, int M, int N, int K, const int16_t *A, const int8_t *B,
                 const int64_t *bias, const cr_q16_req *rq, int16_t *C, int64_t *C64)
{
    if (M <= 0 || N <= 0)
        return;
    gemm_job j = { .M = M, .N = N, .K = K, .A = A, .B = B, .bias = bias, .rq = rq, .C = C,
                   .C64 = C64, .rpc = rows_per_chunk(p, M, (double)N * K) };
    cr_pool_chunks(p, (int)((M + j.rpc - 1) / j.rpc),
                   q16_level(gemm_chunk_generic, CR_Q16_AVX2(gemm_chunk)), &j);
}

/* ---- add -------------------------------------------------------------------- */

/* gemmlowp's SaturatingRoundingDoublingHighMul. */
static int32_t srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * b;
    int64_t nudge = ab >= 0 ? (1 << 30) : 1 - (1 << 30);
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp's RoundingDivideByPOT (e in [0, 31]). */
static int32_t rdpot(int32_t x, int e)
{
    int64_t mask = ((int64_t)1 << e) - 1, rem = (int64_t)x & mask;
    int64_t threshold = (mask >> 1) + (x < 0);
    return (int32_t)(((int64_t)x >> e) + (rem > threshold));
}

static int32_t mul_small(int32_t x, int32_t m, int32_t sh)
{
    return rdpot(srdhm(x, m), -sh);
}

/* A multiplier below 1 (shift <= 0); one that is not saturates at 1. */
static void small_multiplier(double m, int32_t *mult, int32_t *shift)
{
    int s;
    cr_q16_multiplier(m, mult, &s);
    if (s > 0) {
        *mult = INT32_MAX;
        s = 0;
    }
    *shift = s;
}

void cr_q16_add_params(float s_a, float s_b, float s_y, cr_q16_add_par *par)
{
    double twice = 2.0 * (double)(s_a > s_b ? s_a : s_b);
    small_multiplier((double)s_a / twice, &par->ma, &par->sha);
    small_multiplier((double)s_b / twice, &par->mb, &par->shb);
    small_multiplier(twice / (32768.0 * (double)s_y), &par->my, &par->shy);
    par->lo = -32768;
    par->hi = 32767;
}

typedef struct elem_job {
    int64_t n;
    const int16_t *a, *b;
    const float *x;
    int16_t *y;
    float *fy;
    float s;
    const cr_q16_add_par *par;
} elem_job;

#ifdef CR_HAVE_X86_UKR
#define T_AVX2 __attribute__((target("avx2")))

/* srdhm of 4 int32 (the low halves of x's 64-bit lanes) by m: the exact
 * product, the nudge by its sign, the division by 2^31 rounded toward zero
 * (adding 2^31 - 1 to negatives), then bits 31..62 of the 64-bit lanes,
 * which are the int32 result (a logical shift does). */
static inline T_AVX2 __m256i srdhm4(__m256i x, __m256i m)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i p = _mm256_mul_epi32(x, m);
    __m256i neg = _mm256_cmpgt_epi64(zero, p);
    p = _mm256_add_epi64(p, _mm256_blendv_epi8(_mm256_set1_epi64x(1 << 30),
                                               _mm256_set1_epi64x(1 - (1 << 30)), neg));
    p = _mm256_add_epi64(p, _mm256_and_si256(_mm256_cmpgt_epi64(zero, p),
                                             _mm256_set1_epi64x(((int64_t)1 << 31) - 1)));
    return _mm256_srli_epi64(p, 31);
}

/* mul_small on 8 int32 lanes (m >= 0, sh in [-31, 0]; x never INT32_MIN
 * with m INT32_MIN, so srdhm's saturation cannot occur). */
static inline T_AVX2 __m256i mul_small8(__m256i x, int32_t m, int32_t sh)
{
    __m256i vm = _mm256_set1_epi32(m);
    __m256i ev = srdhm4(x, vm), od = srdhm4(_mm256_srli_epi64(x, 32), vm);
    __m256i h = _mm256_blend_epi32(ev, _mm256_slli_epi64(od, 32), 0xAA);
    int e = -sh;
    __m256i mask = _mm256_set1_epi32((int32_t)(((int64_t)1 << e) - 1));
    __m256i rem = _mm256_and_si256(h, mask);
    __m256i thr = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1),
                                   _mm256_cmpgt_epi32(_mm256_setzero_si256(), h));
    __m256i q = _mm256_sra_epi32(h, _mm_cvtsi32_si128(e));
    return _mm256_sub_epi32(q, _mm256_cmpgt_epi32(rem, thr));
}

/* add_task's loop on [lo, hi) eight at a time; returns where it stopped. */
static T_AVX2 int64_t add_avx2(const elem_job *j, int64_t lo, int64_t hi)
{
    const cr_q16_add_par *p = j->par;
    __m256i vlo = _mm256_set1_epi32(p->lo), vhi = _mm256_set1_epi32(p->hi);
    int64_t i = lo;
    for (; i + 8 <= hi; i += 8) {
        __m256i a = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(j->a + i)));
        __m256i b = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(j->b + i)));
        a = mul_small8(_mm256_slli_epi32(a, 15), p->ma, p->sha);
        b = mul_small8(_mm256_slli_epi32(b, 15), p->mb, p->shb);
        __m256i v = mul_small8(_mm256_add_epi32(a, b), p->my, p->shy);
        v = _mm256_min_epi32(_mm256_max_epi32(v, vlo), vhi);
        __m128i y = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storeu_si128((__m128i *)(j->y + i), y);
    }
    return i;
}

/* quantize_task's loop the same way: x / s, clamped (NaN: the lower bound,
 * as max_ps returns its second operand), rounded half away from zero as
 * trunc(f) + sign(f) when |f - trunc(f)| >= 1/2 (both exact). */
static T_AVX2 int64_t quantize_avx2(const elem_job *j, int64_t lo, int64_t hi)
{
    const __m256 s = _mm256_set1_ps(j->s), flo = _mm256_set1_ps(-32768.0f);
    const __m256 fhi = _mm256_set1_ps(32767.0f), half = _mm256_set1_ps(0.5f);
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    int64_t i = lo;
    for (; i + 8 <= hi; i += 8) {
        __m256 f = _mm256_div_ps(_mm256_loadu_ps(j->x + i), s);
        f = _mm256_min_ps(_mm256_max_ps(f, flo), fhi);
        __m256 t = _mm256_round_ps(f, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m256 d = _mm256_andnot_ps(sign, _mm256_sub_ps(f, t));
        __m256 up = _mm256_and_ps(_mm256_cmp_ps(d, half, _CMP_GE_OQ),
                                  _mm256_or_ps(one, _mm256_and_ps(sign, f)));
        __m256i q = _mm256_cvttps_epi32(_mm256_add_ps(t, up));
        __m128i y = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        _mm_storeu_si128((__m128i *)(j->y + i), y);
    }
    return i;
}
#endif

/* Where the level's vector loop (fn) leaves [lo, hi) to the plain one. */
#ifdef CR_HAVE_X86_UKR
#define ELEM_VEC(fn, j, lo, hi) (cr_q8_isa_current() >= CR_Q8_AVX2 ? fn((j), (lo), (hi)) : (lo))
#else
#define ELEM_VEC(fn, j, lo, hi) (lo)
#endif

static void add_task(void *ctx, int ith, int nth)
{
    const elem_job *j = ctx;
    const cr_q16_add_par *p = j->par;
    int64_t lo, hi;
    cr_split(j->n, ith, nth, &lo, &hi);
    for (int64_t i = ELEM_VEC(add_avx2, j, lo, hi); i < hi; i++) {
        int32_t a = mul_small(j->a[i] * 32768, p->ma, p->sha);
        int32_t b = mul_small(j->b[i] * 32768, p->mb, p->shb);
        int32_t v = mul_small(a + b, p->my, p->shy);
        j->y[i] = (int16_t)(v < p->lo ? p->lo : v > p->hi ? p->hi : v);
    }
}

static void elem_run(cr_pool *p, elem_job *j, cr_task_fn fn)
{
    if (j->n <= 0)
        return;
    int64_t chunks = (j->n + ELEM_CHUNK - 1) / ELEM_CHUNK;
    cr_pool_run(p, cr_tasks(p, chunks, (double)j->n, ELEM_CHUNK), fn, j);
}

void cr_q16_add(cr_pool *p, int64_t n, const int16_t *a, const int16_t *b,
                const cr_q16_add_par *par, int16_t *y)
{
    elem_job j = { .n = n, .a = a, .b = b, .y = y, .par = par };
    elem_run(p, &j, add_task);
}

/* ---- conversions ---------------------------------------------------------- */

static void quantize_task(void *ctx, int ith, int nth)
{
    const elem_job *j = ctx;
    int64_t lo, hi;
    cr_split(j->n, ith, nth, &lo, &hi);
    for (int64_t i = ELEM_VEC(quantize_avx2, j, lo, hi); i < hi; i++) {
        float f = j->x[i] / j->s;
        f = f > -32768.0f ? f : -32768.0f;
        f = f < 32767.0f ? f : 32767.0f;
        j->y[i] = (int16_t)roundf(f);
    }
}

void cr_q16_quantize(cr_pool *p, int64_t n, const float *x, float s, int16_t *q)
{
    elem_job j = { .n = n, .x = x, .s = s, .y = q };
    elem_run(p, &j, quantize_task);
}

static void dequantize_task(void *ctx, int ith, int nth)
{
    const elem_job *j = ctx;
    int64_t lo, hi;
    cr_split(j->n, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++)
        j->fy[i] = (float)j->a[i] * j->s;
}

void cr_q16_dequantize(cr_pool *p, int64_t n, const int16_t *q, float s, float *x)
{
    elem_job j = { .n = n, .a = q, .s = s, .fy = x };
    elem_run(p, &j, dequantize_task);
}

/* ---- pooling ---------------------------------------------------------------- */

typedef struct pool_job {
    const cr_conv_geom *g;
    const int16_t *x;
    int16_t *y;
    bool max;
    int32_t lo, hi;
} pool_job;

/* Output cell (row, ow), channels [c0, c0 + nc), nc <= Q16_OB. */
static void pool_cell(const pool_job *j, int64_t row, int ow, int c0, int nc)
{
    const cr_conv_geom *g = j->g;
    int oh = (int)(row % g->oh), n = (int)(row / g->oh), i0, i1, t0, t1;
    int by = oh * g->sh - g->pt, bx = ow * g->sw - g->pl;
    int64_t acc[Q16_OB];
    cr_tap_range(by, 1, g->kh, g->h, &i0, &i1);
    cr_tap_range(bx, 1, g->kw, g->w, &t0, &t1);
    int64_t count = (int64_t)(i1 - i0) * (t1 - t0);
    int16_t *y = j->y + ((size_t)row * g->ow + ow) * g->c + c0;
    for (int c = 0; c < nc; c++)
        acc[c] = j->max ? -32768 : 0;
    for (int i = i0; i < i1; i++)
        for (int t = t0; t < t1; t++) {
            const int16_t *x =
                j->x + (((size_t)n * g->h + by + i) * g->w + bx + t) * g->c + c0;
            if (j->max)
                for (int c = 0; c < nc; c++)
                    acc[c] = x[c] > acc[c] ? x[c] : acc[c];
            else
                for (int c = 0; c < nc; c++)
                    acc[c] += x[c];
        }
    for (int c = 0; c < nc; c++) {
        int64_t v = acc[c];
        if (!j->max)
            v = count <= 0 ? 0 : v > 0 ? (v + count / 2) / count : (v - count / 2) / count;
        y[c] = (int16_t)(v < j->lo ? j->lo : v > j->hi ? j->hi : v);
    }
}

static void pool_task(void *ctx, int ith, int nth)
{
    const pool_job *j = ctx;
    int64_t lo, hi;
    cr_split((int64_t)j->g->n * j->g->oh, ith, nth, &lo, &hi);
    for (int64_t row = lo; row < hi; row++)
        for (int ow = 0; ow < j->g->ow; ow++)
            for (int c0 = 0; c0 < j->g->c; c0 += Q16_OB)
                pool_cell(j, row, ow, c0, j->g->c - c0 < Q16_OB ? j->g->c - c0 : Q16_OB);
}

static void pool_run(cr_pool *p, pool_job *j)
{
    const cr_conv_geom *g = j->g;
    int64_t rows = (int64_t)g->n * g->oh;
    double work = (double)rows * g->ow * g->c * g->kh * g->kw;
    if (rows > 0)
        cr_pool_run(p, cr_tasks(p, rows, work, ELEM_CHUNK), pool_task, j);
}

void cr_q16_maxpool2d(cr_pool *p, const cr_conv_geom *g, const int16_t *x, int16_t *y)
{
    pool_job j = { .g = g, .x = x, .y = y, .max = true, .lo = -32768, .hi = 32767 };
    pool_run(p, &j);
}

void cr_q16_avgpool2d(cr_pool *p, const cr_conv_geom *g, const int16_t *x, int32_t lo,
                      int32_t hi, int16_t *y)
{
    pool_job j = { .g = g, .x = x, .y = y, .lo = lo, .hi = hi };
    pool_run(p, &j);
}

/* ---- packed gemm and convolutions ---------------------------------------- */

/* The generic tile: rows x cols int32 sums of a's rows (q8_k4(K) int16,
 * zeros past K) and the panel's columns into c32 (the panel's biases are
 * 0; c and rq unused). */
static void pk_tile_generic(int K, const int16_t *a, size_t lda, const int8_t *bp, int rows,
                            int cols, uint8_t *c, int32_t *c32, size_t ldc, const cr_q8_req *rq,
                            int j0)
{
    int k4 = q8_k4(K);
    (void)c, (void)rq, (void)j0;
    for (int r = 0; r < rows; r++)
        for (int col = 0; col < cols; col++) {
            int32_t s = 0;
            for (int k = 0; k < k4; k++)
                s += (int32_t)a[(size_t)r * lda + k] * bp[64 + (k / 4) * 64 + col * 4 + k % 4];
            c32[(size_t)r * ldc + col] = s;
        }
}

size_t cr_q16_gemm_packed_bytes(int K, int N)
{
    size_t n = 0;
    for (int b = 0; b < pk_blocks(K); b++)
        n += cr_q8_gemm_packed_bytes(K - b * PK_KB < PK_KB ? K - b * PK_KB : PK_KB, N);
    return n + sk_pairs_bytes(K, N);
}

void cr_q16_gemm_pack(int K, int N, const int8_t *B, void *Bp)
{
    int8_t *d = Bp;
    for (int b = 0; b < pk_blocks(K); b++) {
        int kb = K - b * PK_KB < PK_KB ? K - b * PK_KB : PK_KB;
        cr_q8_gemm_pack(kb, N, B + (size_t)b * PK_KB * N, NULL, 0, d);
        d += cr_q8_gemm_packed_bytes(kb, N);
    }
    if (sk_pairs_bytes(K, N))   /* one block: d is at an even offset past the panels */
        sk_pack(K, N, B, (int16_t *)(void *)d);
}

static void pk_run(cr_pool *p, pk_job *j)
{
    if (j->M <= 0 || j->N <= 0)
        return;
    const cr_q8_ukr *u = &cr_q8_ukr_generic;
    j->tile = pk_tile_generic;
#ifdef CR_HAVE_X86_UKR
    if (cr_q8_isa_current() >= CR_Q8_AVX2) {   /* the AVX2 tile (the levels above have it) */
        u = &cr_q8_ukr_avx2;
        j->tile = u->gemm16;
    }
#endif
    j->mr = u->mr;
    _Alignas(32) int32_t b32[B32_MAX];
    if (j->C && pk_blocks(j->K) == 1 && bias32(j->bias, j->N, j->K, b32))
        j->b32 = b32;
    double macs = (double)j->M * j->N * (j->K > 0 ? j->K : 1);
    if (macs < PK_SERIAL_MACS)
        p = NULL;
    j->ncb = (j->N + PK_NB - 1) / PK_NB;
    int nbw = j->N < PK_NB ? j->N : PK_NB;
    j->mb = q8_rows_per_chunk(u, j->M, (double)nbw * (j->K > 0 ? j->K : 1), j->ncb,
                              cr_pool_size(p));
    cr_task_fn fn = q16_level(pk_chunk_generic, CR_Q16_AVX2(pk_chunk));
#ifdef CR_HAVE_X86_UKR
    if (fn == pk_chunk_avx2 && j->C && q8_k4(j->K) <= SK_K4 && (j->b32 || !j->bias))
        fn = sk_chunk_avx2;   /* short rows: requantized from the registers */
#endif
    cr_pool_chunks(p, (int)((j->M + j->mb - 1) / j->mb) * j->ncb, fn, j);
}

void cr_q16_gemm_packed(cr_pool *p, int M, int N, int K, const int16_t *A, const void *Bp,
                        const int64_t *bias, const cr_q16_req *rq, int16_t *C, int64_t *C64)
{
    pk_job j = { .M = M, .N = N, .K = K, .A = A, .Bp = Bp, .bias = bias, .rq = rq, .C = C,
                 .C64 = C64 };
    pk_run(p, &j);
}

size_t cr_q16_conv2d_packed_bytes(const cr_conv_geom *g)
{
    return cr_q16_gemm_packed_bytes(g->kh * g->kw * g->c, g->oc);
}

void cr_q16_conv2d_pack(const cr_conv_geom *g, const int8_t *k, void *kp)
{
    cr_q16_gemm_pack(g->kh * g->kw * g->c, g->oc, k, kp);
}

void cr_q16_conv2d_packed(cr_pool *p, const cr_conv_geom *g, const int16_t *x, const void *kp,
                          const int64_t *bias, const cr_q16_req *rq, int16_t *y)
{
    pk_job j = { .M = (int64_t)g->n * g->oh * g->ow, .N = g->oc, .K = g->kh * g->kw * g->c,
                 .Bp = kp, .bias = bias, .rq = rq, .C = y };
    if (g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
        g->oh == g->h && g->ow == g->w)
        j.A = x;   /* 1x1: x is the [pixels, c] matrix */
    else
        j.g = g, j.x = x;
    pk_run(p, &j);
}
