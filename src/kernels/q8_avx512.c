/* q8_avx512.c - the int8 inner loops for AVX-512 VNNI (with BW and VL):
 * vpdpbusd multiplies 4 uint8 of A by 4 int8 of a packed column and adds
 * the 4 products to an int32 lane, 16 columns (one packed panel) a vector.
 * Built for plain x86-64 with per-function target attributes; used only
 * when the CPU has these extensions. Same bytes as q8_generic.c: the sums
 * are exact integers, and the requantization does the same float
 * operations (convert, multiply, max, min, convert with the current
 * rounding mode: to nearest even).
 */
#include "q8.h"

#ifdef CR_HAVE_X86_UKR
#include "simd_x86.h"

#define TARGET CR_TARGET("avx512f,avx512bw,avx512vl,avx512vnni")
#define INLINE static inline __attribute__((always_inline)) TARGET
#ifdef __clang__
#define UNROLL
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif

#define MR 12                  /* rows per tile for 1 or 2 panels; 6 for 3 or 4 */

INLINE __mmask16 tail16(int n) { return (__mmask16)(n >= 16 ? 0xFFFFu : (1u << n) - 1); }

/* 4 bytes of A broadcast to every lane (n < 4: the first n, then zeros). */
INLINE __m512i bcast4(const uint8_t *p) { int32_t v; memcpy(&v, p, 4); return _mm512_set1_epi32(v); }
INLINE __m512i bcastn(const uint8_t *p, int n)
{
    return _mm512_set1_epi32(q8_load_upto4(p, n));
}

/* requant of 16 accumulators (kernels.h): cvt, mul, max, min, cvt, + z. */
INLINE __m512i requant16(__m512i acc, __m512 m, __m512 flo, __m512 fhi, __m512i z)
{
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), m);
    f = _mm512_min_ps(_mm512_max_ps(f, flo), fhi);
    return _mm512_add_epi32(_mm512_cvtps_epi32(f), z);
}

/* Rows [0, rows) (rows <= MRT) by NP panels; missing rows read row 0 and
 * are not stored. One function per shape (arrays of exactly MRT x NP
 * vectors, so that the compiler keeps them in registers). */
#define TILE(NP, MRT)                                                                         \
    static TARGET void tile_##NP##_##MRT(int K, const uint8_t *a, size_t lda,               \
                                         const int8_t *bp, int rows, int cols, uint8_t *c,   \
                                         int32_t *c32, size_t ldc, const cr_q8_req *rq,      \
                                         int j0)                                             \
    {                                                                                        \
        size_t ps = q8_panel_bytes(K);                                                       \
        const uint8_t *ar[MRT];                                                              \
        __m512i acc[MRT][NP];                                                                \
        UNROLL                                                                               \
        for (int r = 0; r < MRT; r++)                                                        \
            ar[r] = a + (r < rows ? r : 0) * lda;                                            \
        UNROLL                                                                               \
        for (int p = 0; p < NP; p++) {                                                       \
            __m512i b0 = _mm512_loadu_si512(bp + p * ps);                                    \
            UNROLL                                                                           \
            for (int r = 0; r < MRT; r++)                                                    \
                acc[r][p] = b0;                                                              \
        }                                                                                    \
        const int8_t *w = bp + 64;                                                           \
        int k = 0;                                                                           \
        for (; k + 4 <= K; k += 4, w += 64) {                                                \
            __m512i b[NP];                                                                   \
            UNROLL                                                                           \
            for (int p = 0; p < NP; p++)                                                     \
                b[p] = _mm512_loadu_si512(w + p * ps);                                       \
            UNROLL                                                                           \
            for (int r = 0; r < MRT; r++) {                                                  \
                __m512i av = bcast4(ar[r] + k);                                              \
                UNROLL                                                                       \
                for (int p = 0; p < NP; p++)                                                 \
                    acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], av, b[p]);                    \
            }                                                                                \
        }                                                                                    \
        if (k < K) {                                                                         \
            __m512i b[NP];                                                                   \
            UNROLL                                                                           \
            for (int p = 0; p < NP; p++)                                                     \
                b[p] = _mm512_loadu_si512(w + p * ps);                                       \
            UNROLL                                                                           \
            for (int r = 0; r < MRT; r++) {                                                  \
                __m512i av = bcastn(ar[r] + k, K - k);                                       \
                UNROLL                                                                       \
                for (int p = 0; p < NP; p++)                                                 \
                    acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], av, b[p]);                    \
            }                                                                                \
        }                                                                                    \
        _Alignas(64) int32_t out[MRT][NP][16];                                               \
        UNROLL                                                                               \
        for (int r = 0; r < MRT; r++) {                                                      \
            UNROLL                                                                           \
            for (int p = 0; p < NP; p++)                                                     \
                _mm512_store_si512(out[r][p], acc[r][p]);                                    \
        }                                                                                    \
        store_tile(&out[0][0][0], NP, rows, cols, c, c32, ldc, rq, j0);                      \
    }

/* Stores rows x cols of a tile's accumulators (out: [rows][np][16]):
 * int32 into c32, or requantized into c. */
static TARGET void store_tile(const int32_t *out, int np, int rows, int cols, uint8_t *c,
                              int32_t *c32, size_t ldc, const cr_q8_req *rq, int j0)
{
    if (!c) {
        for (int r = 0; r < rows; r++)
            for (int p = 0; p < np; p++)
                _mm512_mask_storeu_epi32(c32 + r * ldc + 16 * p, tail16(cols - 16 * p),
                                         _mm512_load_si512(out + (r * np + p) * 16));
        return;
    }
    __m512 flo = _mm512_set1_ps((float)(rq->lo - rq->z_out));
    __m512 fhi = _mm512_set1_ps((float)(rq->hi - rq->z_out));
    __m512i z = _mm512_set1_epi32(rq->z_out);
    for (int p = 0; p < np; p++) {
        __mmask16 mk = tail16(cols - 16 * p);
        __m512 m = rq->per_tensor ? _mm512_set1_ps(rq->m[0])
                                  : _mm512_maskz_loadu_ps(mk, rq->m + j0 + 16 * p);
        for (int r = 0; r < rows; r++) {
            __m512i q = requant16(_mm512_load_si512(out + (r * np + p) * 16), m, flo, fhi, z);
            _mm_mask_storeu_epi8(c + r * ldc + 16 * p, mk, _mm512_cvtepi32_epi8(q));
        }
    }
}

TILE(1, 12)
TILE(2, 12)
TILE(3, 6)
TILE(4, 6)
TILE(1, 4)
TILE(2, 4)
TILE(3, 4)
TILE(4, 4)
TILE(4, 1)

static TARGET void gemm_avx512(int K, const uint8_t *a, size_t lda, const int8_t *bp, int rows,
                               int cols, uint8_t *c, int32_t *c32, size_t ldc,
                               const cr_q8_req *rq, int j0)
{
    int np = (cols + 15) / 16;
    if (rows == 1 && np == 4) {            /* a few rows (Dense at batch 1) */
        tile_4_1(K, a, lda, bp, rows, cols, c, c32, ldc, rq, j0);
        return;
    }
    if (rows <= 4) {
        if (np == 1)
            tile_1_4(K, a, lda, bp, rows, cols, c, c32, ldc, rq, j0);
        else if (np == 2)
            tile_2_4(K, a, lda, bp, rows, cols, c, c32, ldc, rq, j0);
        else if (np == 3)
            tile_3_4(K, a, lda, bp, rows, cols, c, c32, ldc, rq, j0);
        else
            tile_4_4(K, a, lda, bp, rows, cols, c, c32, ldc, rq, j0);
        return;
    }
    if (np <= 2) {
        if (np == 1)
            tile_1_12(K, a, lda, bp, rows, cols, c, c32, ldc, rq, j0);
        else
            tile_2_12(K, a, lda, bp, rows, cols, c, c32, ldc, rq, j0);
        return;
    }
    for (int r0 = 0; r0 < rows; r0 += MR / 2) {
        int rr = rows - r0 < MR / 2 ? rows - r0 : MR / 2;
        uint8_t *cr = c ? c + r0 * ldc : NULL;
        int32_t *cr32 = c32 ? c32 + r0 * ldc : NULL;
        if (np == 3)
            tile_3_6(K, a + r0 * lda, lda, bp, rr, cols, cr, cr32, ldc, rq, j0);
        else
            tile_4_6(K, a + r0 * lda, lda, bp, rr, cols, cr, cr32, ldc, rq, j0);
    }
}

/* ---- depthwise, depth multiplier 1: q8_dw_tmpl.h, 64 channels a step,
 * and 32 (ymm) for a last block of at most 32 channels ---------------------- */

INLINE __mmask64 tail64(int n) { return n >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << n) - 1; }
INLINE __mmask32 tail32(int n) { return n >= 32 ? ~(__mmask32)0 : ((__mmask32)1 << n) - 1; }

INLINE __m256i requant8(__m256i acc, __m256 m, __m256 flo, __m256 fhi, __m256i z)
{
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), m);
    f = _mm256_min_ps(_mm256_max_ps(f, flo), fhi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), z);
}

#define VI __m256i
#define VF __m256
#define VB 32
#define DW_ROW dw_row_avx512_32
#define DW_BLOCKS_ONLY
#define v_ld(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define v_st(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), v)
#define v_ldn(p, n) _mm256_maskz_loadu_epi8(tail32(n), p)
#define v_stn(p, v, n) _mm256_mask_storeu_epi8(p, tail32(n), v)
#define v_unlo8 _mm256_unpacklo_epi8
#define v_unhi8 _mm256_unpackhi_epi8
#define v_unlo16 _mm256_unpacklo_epi16
#define v_unhi16 _mm256_unpackhi_epi16
#define v_dot _mm256_dpbusd_epi32
#define v_ldf(p) _mm256_load_ps(p)
#define v_set1f _mm256_set1_ps
#define v_set1i _mm256_set1_epi32
#define v_sub32 _mm256_sub_epi32
#define v_mul32 _mm256_mullo_epi32
#define v_req requant8
#define v_pack(q0, q1, q2, q3) \
    _mm256_packus_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3))
#include "q8_dw_tmpl.h"
#undef VI
#undef VF
#undef VB
#undef DW_ROW
#undef DW_BLOCKS_ONLY
#undef v_ld
#undef v_st
#undef v_ldn
#undef v_stn
#undef v_unlo8
#undef v_unhi8
#undef v_unlo16
#undef v_unhi16
#undef v_dot
#undef v_ldf
#undef v_set1f
#undef v_set1i
#undef v_sub32
#undef v_mul32
#undef v_req
#undef v_pack

#define VI __m512i
#define VF __m512
#define VB 64
#define DW_ROW dw_row_avx512
#define DW_TAIL dw_row_avx512_32_blocks
#define v_ld(p) _mm512_loadu_si512(p)
#define v_st(p, v) _mm512_storeu_si512(p, v)
#define v_ldn(p, n) _mm512_maskz_loadu_epi8(tail64(n), p)
#define v_stn(p, v, n) _mm512_mask_storeu_epi8(p, tail64(n), v)
#define v_unlo8 _mm512_unpacklo_epi8
#define v_unhi8 _mm512_unpackhi_epi8
#define v_unlo16 _mm512_unpacklo_epi16
#define v_unhi16 _mm512_unpackhi_epi16
#define v_dot _mm512_dpbusd_epi32
#define v_ldf(p) _mm512_load_ps(p)
#define v_set1f _mm512_set1_ps
#define v_set1i _mm512_set1_epi32
#define v_sub32 _mm512_sub_epi32
#define v_mul32 _mm512_mullo_epi32
#define v_req requant16
#define v_pack(q0, q1, q2, q3) \
    _mm512_packus_epi16(_mm512_packs_epi32(q0, q1), _mm512_packs_epi32(q2, q3))

#include "q8_dw_tmpl.h"

/* ---- elementwise: 16 lanes, the generic loops' operations in the same
 * order (each product and the sum rounded separately, max then min, the
 * current rounding mode); tails go to the generic loops. */

static TARGET void add_avx512(int64_t n, const uint8_t *a, int32_t z_a, float ma,
                              const uint8_t *b, int32_t z_b, float mb, uint8_t *y, int32_t z_y,
                              int32_t lo, int32_t hi)
{
    __m512 flo = _mm512_set1_ps((float)(lo - z_y)), fhi = _mm512_set1_ps((float)(hi - z_y));
    __m512 va = _mm512_set1_ps(ma), vb = _mm512_set1_ps(mb);
    __m512i za = _mm512_set1_epi32(z_a), zb = _mm512_set1_epi32(z_b), zy = _mm512_set1_epi32(z_y);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i xa = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(a + i)));
        __m512i xb = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(xa, za)), va);
        __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(xb, zb)), vb);
        __m512 f = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(u, v), flo), fhi);
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), zy);
        _mm_storeu_si128((__m128i *)(void *)(y + i), _mm512_cvtepi32_epi8(q));
    }
    q8_add_generic(n - i, a + i, z_a, ma, b + i, z_b, mb, y + i, z_y, lo, hi);
}

static TARGET void quantize_avx512(int64_t n, const float *x, float s, int32_t z, uint8_t *q)
{
    __m512 flo = _mm512_set1_ps((float)-z), fhi = _mm512_set1_ps((float)(255 - z));
    __m512 vr = _mm512_set1_ps(q8_inv_scale(s));
    __m512i vz = _mm512_set1_epi32(z);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 f = _mm512_mul_ps(_mm512_loadu_ps(x + i), vr);
        f = _mm512_min_ps(_mm512_max_ps(f, flo), fhi);
        __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(f), vz);
        _mm_storeu_si128((__m128i *)(void *)(q + i), _mm512_cvtepi32_epi8(v));
    }
    q8_quantize_generic(n - i, x + i, s, z, q + i);
}

static TARGET void dequantize_avx512(int64_t n, const uint8_t *q, float s, int32_t z, float *x)
{
    __m512 vs = _mm512_set1_ps(s);
    __m512i vz = _mm512_set1_epi32(z);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(q + i)));
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v, vz)), vs));
    }
    q8_dequantize_generic(n - i, q + i, s, z, x + i);
}

const cr_q8_ukr cr_q8_ukr_avx512 = {
    .isa = CR_Q8_AVX512VNNI,
    .mr = MR,
    .nr = 4 * Q8_NR,
    .gemm = gemm_avx512,
    .add = add_avx512,
    .quantize = quantize_avx512,
    .dequantize = dequantize_avx512,
    .dw_rows = dw_row_avx512,
};
#endif
