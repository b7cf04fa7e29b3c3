/* q8_avx2.c - the int8 inner loops for AVX2 and for AVX-VNNI, 8 int32
 * lanes a vector. Built for plain x86-64 with per-function target
 * attributes; each level is used only when the CPU has it. Same bytes as
 * q8_generic.c: exact integer sums, then the same float operations.
 *
 * AVX2 has no u8 x s8 dot product that cannot saturate (vpmaddubsw adds two
 * products of up to 255 * 127 into int16, which overflows), so A and B are
 * widened to int16 and multiplied by vpmaddwd: each int32 lane gets two
 * products of a column, the two lanes of a column are added at the end.
 * AVX-VNNI's vpdpbusd (VEX encoded) adds four u8 x s8 products to an int32
 * lane without saturation, as AVX-512 VNNI does on 16 lanes.
 * Depthwise runs the AVX2 row loop at both levels.
 */
#include "q8.h"

#ifdef CR_HAVE_X86_UKR
#include <immintrin.h>

#define T_AVX2 __attribute__((target("avx2")))
#define T_VNNI __attribute__((target("avx2,avxvnni")))
#define INLINE static inline __attribute__((always_inline))
#ifdef __clang__
#define UNROLL
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif

#define MR_AVX2 4
#define MR_VNNI 6

INLINE T_AVX2 __m256i tail8(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

INLINE T_AVX2 int32_t load4(const uint8_t *p, int n)
{
    int32_t v = 0;
    memcpy(&v, p, (size_t)n);
    return v;
}

/* requant of 8 accumulators (kernels.h): cvt, mul, max, min, cvt, + z. */
INLINE T_AVX2 __m256i requant8(__m256i acc, __m256 m, __m256 flo, __m256 fhi, __m256i z)
{
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), m);
    f = _mm256_min_ps(_mm256_max_ps(f, flo), fhi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), z);
}

/* Stores the n <= 8 low bytes of 8 lanes holding 0..255. */
INLINE T_AVX2 void store8(uint8_t *p, __m256i q, int n)
{
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    __m128i b = _mm_packus_epi16(w, w);
    if (n == 8) {
        _mm_storel_epi64((__m128i *)(void *)p, b);
    } else {
        uint8_t t[16];
        _mm_storeu_si128((__m128i *)(void *)t, b);
        memcpy(p, t, (size_t)n);
    }
}

/* The multiplier of columns j0.. (n <= 8 of them). */
INLINE T_AVX2 __m256 load_m(const cr_q8_req *rq, int j0, int n)
{
    if (rq->per_tensor)
        return _mm256_set1_ps(rq->m[0]);
    return n == 8 ? _mm256_loadu_ps(rq->m + j0) : _mm256_maskload_ps(rq->m + j0, tail8(n));
}

/* Stores rows x (half h of a panel: columns 8h.., n of them) of acc. */
INLINE T_AVX2 void store_half(const int mrt, __m256i acc[][2], int h, int rows, int n,
                              uint8_t *c, int32_t *c32, size_t ldc, const cr_q8_req *rq, int j0)
{
    if (n <= 0)
        return;
    if (!c) {
        UNROLL
        for (int r = 0; r < mrt; r++) {
            if (r >= rows)
                continue;
            int32_t *p = c32 + r * ldc + 8 * h;
            if (n == 8)
                _mm256_storeu_si256((__m256i *)(void *)p, acc[r][h]);
            else
                _mm256_maskstore_epi32((int *)p, tail8(n), acc[r][h]);
        }
        return;
    }
    __m256 flo = _mm256_set1_ps((float)(rq->lo - rq->z_out));
    __m256 fhi = _mm256_set1_ps((float)(rq->hi - rq->z_out));
    __m256i z = _mm256_set1_epi32(rq->z_out);
    __m256 m = load_m(rq, j0 + 8 * h, n);
    UNROLL
    for (int r = 0; r < mrt; r++)
        if (r < rows)
            store8(c + r * ldc + 8 * h, requant8(acc[r][h], m, flo, fhi, z), n);
}

/* ---- AVX2 gemm: mr 4, one panel, in two halves of 8 columns ------------- */

INLINE T_AVX2 __m256i bcast_wide(int32_t v)
{
    __m128i a = _mm_cvtepu8_epi16(_mm_cvtsi32_si128(v));
    return _mm256_broadcastq_epi64(a);
}

/* One group of 4 k (n < 4: the last, partial one) for all rows. */
INLINE T_AVX2 void step_avx2(__m256i s[][2], const uint8_t *const *ar, int k, int n,
                             const int8_t *w)
{
    __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)w));
    __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + 16)));
    UNROLL
    for (int r = 0; r < MR_AVX2; r++) {
        __m256i av = bcast_wide(load4(ar[r] + k, n));
        s[r][0] = _mm256_add_epi32(s[r][0], _mm256_madd_epi16(av, b0));
        s[r][1] = _mm256_add_epi32(s[r][1], _mm256_madd_epi16(av, b1));
    }
}

static T_AVX2 void gemm_avx2(int K, const uint8_t *a, size_t lda, const int8_t *bp, int rows,
                             int cols, uint8_t *c, int32_t *c32, size_t ldc,
                             const cr_q8_req *rq, int j0)
{
    const uint8_t *ar[MR_AVX2];
    __m256i acc[MR_AVX2][2];
    UNROLL
    for (int r = 0; r < MR_AVX2; r++)
        ar[r] = a + (r < rows ? r : 0) * lda;
    for (int h = 0; h < 2 && 8 * h < cols; h++) {
        __m256i s[MR_AVX2][2];
        UNROLL
        for (int r = 0; r < MR_AVX2; r++)
            s[r][0] = s[r][1] = _mm256_setzero_si256();
        const int8_t *w = bp + 64 + 32 * h;
        int k = 0;
        for (; k + 4 <= K; k += 4, w += 64)
            step_avx2(s, ar, k, 4, w);
        if (k < K)
            step_avx2(s, ar, k, K - k, w);
        /* lanes (column, pair): s0 columns 0-3, s1 columns 4-7 of the half */
        __m256i bias = _mm256_loadu_si256((const __m256i *)(const void *)(bp + 32 * h));
        UNROLL
        for (int r = 0; r < MR_AVX2; r++) {
            __m256i t = _mm256_hadd_epi32(s[r][0], s[r][1]);
            t = _mm256_permute4x64_epi64(t, _MM_SHUFFLE(3, 1, 2, 0));
            acc[r][h] = _mm256_add_epi32(t, bias);
        }
        int nh = cols - 8 * h < 8 ? cols - 8 * h : 8;
        store_half(MR_AVX2, acc, h, rows, nh, c, c32, ldc, rq, j0);
    }
}

/* ---- AVX-VNNI gemm: mr 6, one panel (2 vectors of 8 columns) ------------ */

INLINE T_VNNI void step_vnni(__m256i acc[][2], const uint8_t *const *ar, int k, int n,
                             const int8_t *w)
{
    __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)w);
    __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(w + 32));
    UNROLL
    for (int r = 0; r < MR_VNNI; r++) {
        __m256i av = _mm256_set1_epi32(load4(ar[r] + k, n));
        acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], av, b0);
        acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], av, b1);
    }
}

static T_VNNI void gemm_avxvnni(int K, const uint8_t *a, size_t lda, const int8_t *bp,
                                int rows, int cols, uint8_t *c, int32_t *c32, size_t ldc,
                                const cr_q8_req *rq, int j0)
{
    const uint8_t *ar[MR_VNNI];
    __m256i acc[MR_VNNI][2];
    __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)bp);
    __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(bp + 32));
    UNROLL
    for (int r = 0; r < MR_VNNI; r++) {
        ar[r] = a + (r < rows ? r : 0) * lda;
        acc[r][0] = b0;
        acc[r][1] = b1;
    }
    const int8_t *w = bp + 64;
    int k = 0;
    for (; k + 4 <= K; k += 4, w += 64)
        step_vnni(acc, ar, k, 4, w);
    if (k < K)
        step_vnni(acc, ar, k, K - k, w);
    for (int h = 0; h < 2; h++) {
        int nh = cols - 8 * h < 8 ? cols - 8 * h : 8;
        store_half(MR_VNNI, acc, h, rows, nh, c, c32, ldc, rq, j0);
    }
}

/* ---- depthwise, depth multiplier 1 ----------------------------------------
 * 8 channels a vector: acc = bias, then for each valid tap (i, then j)
 * acc += (x - z) * w in int32 lanes (exact), then requant8. */
static T_AVX2 void dw_row_avx2(const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                               const int32_t *kp, const cr_q8_req *rq, uint8_t *y, int64_t row)
{
    int oh = (int)(row % g->oh), n = (int)(row / g->oh), C = g->c, oc16 = q8_oc16(C), i0, i1;
    int by = oh * g->sh - g->pt;
    cr_tap_range(by, g->dh, g->kh, g->h, &i0, &i1);
    __m256 flo = _mm256_set1_ps((float)(rq->lo - rq->z_out));
    __m256 fhi = _mm256_set1_ps((float)(rq->hi - rq->z_out));
    __m256i z = _mm256_set1_epi32(rq->z_out), zx = _mm256_set1_epi32(z_x);
    const uint8_t *x0 = x + (size_t)n * g->h * g->w * C;
    for (int c0 = 0; c0 < C; c0 += 8) {
        int nc = C - c0 < 8 ? C - c0 : 8;
        __m256i bias = _mm256_loadu_si256((const __m256i *)(const void *)(kp + c0));
        __m256 m = load_m(rq, c0, nc);
        for (int ow = 0; ow < g->ow; ow++) {
            int bx = ow * g->sw - g->pl, j0, j1;
            cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
            __m256i acc = bias;
            for (int i = i0; i < i1; i++) {
                const uint8_t *xr = x0 + (size_t)(by + i * g->dh) * g->w * C + c0;
                const int32_t *kr = kp + (size_t)(1 + i * g->kw) * oc16 + c0;
                for (int j = j0; j < j1; j++) {
                    const uint8_t *xp = xr + (size_t)(bx + j * g->dw) * C;
                    int64_t v = 0;
                    if (nc == 8)
                        memcpy(&v, xp, 8);
                    else
                        memcpy(&v, xp, (size_t)nc);
                    __m256i xv = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(v));
                    __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(kr +
                                                    (size_t)j * oc16));
                    acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_sub_epi32(xv, zx), wv));
                }
            }
            store8(y + ((size_t)row * g->ow + ow) * C + c0, requant8(acc, m, flo, fhi, z), nc);
        }
    }
}

const cr_q8_ukr cr_q8_ukr_avx2 = {
    .isa = CR_Q8_AVX2,
    .mr = MR_AVX2,
    .nr = Q8_NR,
    .gemm = gemm_avx2,
    .dw_row = dw_row_avx2,
};

const cr_q8_ukr cr_q8_ukr_avxvnni = {
    .isa = CR_Q8_AVXVNNI,
    .mr = MR_VNNI,
    .nr = Q8_NR,
    .gemm = gemm_avxvnni,
    .dw_row = dw_row_avx2,
};
#endif
