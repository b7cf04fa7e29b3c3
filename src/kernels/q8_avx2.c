/* q8_avx2.c - the int8 inner loops for AVX2 and for AVX-VNNI, 8 int32
 * lanes a vector. Built for plain x86-64 with per-function target
 * attributes; each level is used only when the CPU has it. Same bytes as
 * q8_generic.c: exact integer sums, then the same float operations.
 *
 * AVX2 has no u8 x s8 dot product that cannot saturate (vpmaddubsw adds two
 * products of up to 255 * 127 into int16, which overflows), so A and B are
 * widened to int16 and multiplied by vpmaddwd: each int32 lane gets two
 * products of a column, the two lanes of a column are added at the end.
 * A is widened once per block of rows by the gemm driver (gemm16), B in
 * the loop; rows too long for the driver's buffer run on bytes (gemm), and
 * short rows (K4 <= 64) on B widened once per chunk (gemm_small), which
 * convolutions with such short patches feed straight from the image
 * (conv_small: no byte im2col).
 * AVX-VNNI's vpdpbusd (VEX encoded) adds four u8 x s8 products to an int32
 * lane without saturation, as AVX-512 VNNI does on 16 lanes.
 * Depthwise runs the AVX2 row loop at both levels.
 */
#include "q8.h"

#ifdef CR_HAVE_X86_UKR
#include "simd_x86.h"

#define T_AVX2 CR_TARGET("avx2")
#define T_VNNI CR_TARGET("avx2,avxvnni")
#define INLINE static inline __attribute__((always_inline))
#ifdef __clang__
#define UNROLL
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif

#define MR_AVX2 6
#define MR_VNNI 6

INLINE T_AVX2 __m256i tail8(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

INLINE T_AVX2 int32_t load4(const uint8_t *p, int n)
{
    if (n == 4) {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    return q8_load_upto4(p, n);
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
        q8_copy_small(p, t, n);
    }
}

/* The multiplier of columns j0.. (n <= 8 of them). */
INLINE T_AVX2 __m256 load_m(const cr_q8_req *rq, int j0, int n)
{
    if (rq->per_tensor)
        return _mm256_set1_ps(rq->m[0]);
    return n == 8 ? _mm256_loadu_ps(rq->m + j0) : _mm256_maskload_ps(rq->m + j0, tail8(n));
}

/* Stores rows x cols (<= 16) of a tile's accumulators (out: [rows][16],
 * column order): int32 into c32, or requantized into c. Kept out of the
 * K loops so that their accumulators stay in registers. */
static T_AVX2 void store_tile(const int32_t *out, int rows, int cols, uint8_t *c, int32_t *c32,
                              size_t ldc, const cr_q8_req *rq, int j0)
{
    __m256 flo = _mm256_set1_ps((float)(rq ? rq->lo - rq->z_out : 0));
    __m256 fhi = _mm256_set1_ps((float)(rq ? rq->hi - rq->z_out : 0));
    __m256i z = _mm256_set1_epi32(rq ? rq->z_out : 0);
    for (int h = 0; h < 2 && 8 * h < cols; h++) {
        int n = cols - 8 * h < 8 ? cols - 8 * h : 8;
        __m256 m = c ? load_m(rq, j0 + 8 * h, n) : _mm256_setzero_ps();
        for (int r = 0; r < rows; r++) {
            __m256i v = _mm256_load_si256((const __m256i *)(const void *)(out + r * 16 + 8 * h));
            if (c) {
                store8(c + r * ldc + 8 * h, requant8(v, m, flo, fhi, z), n);
            } else {
                int32_t *p = c32 + r * ldc + 8 * h;
                if (n == 8)
                    _mm256_storeu_si256((__m256i *)(void *)p, v);
                else
                    _mm256_maskstore_epi32((int *)p, tail8(n), v);
            }
        }
    }
}

/* ---- AVX2 gemm on bytes (K4 too large for the driver's int16 buffer):
 * rows in groups of 4, one panel in two halves of 8 columns ------------- */

#define MR_BYTES 4

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
    for (int r = 0; r < MR_BYTES; r++) {
        __m256i av = bcast_wide(load4(ar[r] + k, n));
        s[r][0] = _mm256_add_epi32(s[r][0], _mm256_madd_epi16(av, b0));
        s[r][1] = _mm256_add_epi32(s[r][1], _mm256_madd_epi16(av, b1));
    }
}

static T_AVX2 void bytes4_avx2(int K, const uint8_t *a, size_t lda, const int8_t *bp, int rows,
                             int cols, uint8_t *c, int32_t *c32, size_t ldc,
                             const cr_q8_req *rq, int j0)
{
    const uint8_t *ar[MR_BYTES];
    _Alignas(32) int32_t out[MR_BYTES * 16];
    UNROLL
    for (int r = 0; r < MR_BYTES; r++)
        ar[r] = a + (r < rows ? r : 0) * lda;
    for (int h = 0; h < 2 && 8 * h < cols; h++) {
        __m256i s[MR_BYTES][2];
        UNROLL
        for (int r = 0; r < MR_BYTES; r++)
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
        for (int r = 0; r < MR_BYTES; r++) {
            __m256i t = _mm256_hadd_epi32(s[r][0], s[r][1]);
            t = _mm256_permute4x64_epi64(t, _MM_SHUFFLE(3, 1, 2, 0));
            _mm256_store_si256((__m256i *)(void *)(out + r * 16 + 8 * h),
                               _mm256_add_epi32(t, bias));
        }
    }
    store_tile(out, rows, cols, c, c32, ldc, rq, j0);
}

static T_AVX2 void gemm_avx2(int K, const uint8_t *a, size_t lda, const int8_t *bp, int rows,
                             int cols, uint8_t *c, int32_t *c32, size_t ldc,
                             const cr_q8_req *rq, int j0)
{
    for (int r = 0; r < rows; r += MR_BYTES) {
        int n = rows - r < MR_BYTES ? rows - r : MR_BYTES;
        bytes4_avx2(K, a + r * lda, lda, bp, n, cols, c ? c + r * ldc : NULL,
                    c32 ? c32 + r * ldc : NULL, ldc, rq, j0);
    }
}

/* ---- AVX2 gemm on widened A: mr 6, one panel, in two halves -------------
 * A arrives as int16 (the driver widens it once per block of rows), so a
 * row's 4 k are one 8-byte broadcast from memory. Per group of 4 k and half
 * panel: 2 vpmovsxbw of the weights (shared by the 6 rows), then per row 2
 * vpmaddwd and 2 vpaddd: 192 multiply-adds for 26 vector operations (the
 * byte kernel above: 128 for 30). Tiles of 1 or 2 rows run a 2-row loop.
 * Lanes as in gemm_avx2 (column, pair of k). */

INLINE T_AVX2 __m256i bcast_w16(const int16_t *p)
{
    long long v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi64x(v);
}

/* One half panel (8 columns: raw weights at w, 64 bytes a group of 4 k;
 * their 8 int32 biases at bias) for R rows: row r's sums into t[r], in
 * hadd order (columns 0 1 4 5 | 2 3 6 7). The accumulators start at the
 * bias in the even lane of each column's pair (the sums wrap modulo 2^32,
 * so where the bias is added does not matter). Out of line: inlined into
 * the tile, GCC 12 spills or copies accumulators inside the loop. Aligned
 * to 64 bytes, as small16_R: where the loop falls in the code swung the
 * speed by 4%. */
#define HALF16(R)                                                                            \
    static T_AVX2 __attribute__((noinline, aligned(64))) void half16_##R(                    \
        int k4, const int16_t *const *ar, const int8_t *w, const int8_t *bias, __m256i *t)   \
    {                                                                                        \
        __m256i s[R][2];                                                                     \
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)bias);                   \
        __m256i i0 = _mm256_cvtepu32_epi64(b);                                               \
        __m256i i1 = _mm256_cvtepu32_epi64(                                                  \
            _mm_loadu_si128((const __m128i *)(const void *)(bias + 16)));                   \
        UNROLL                                                                               \
        for (int r = 0; r < R; r++)                                                          \
            s[r][0] = i0, s[r][1] = i1;                                                      \
        for (int k = 0; k < k4; k += 4, w += 64) {                                           \
            __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)w)); \
            __m256i b1 =                                                                     \
                _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + 16))); \
            UNROLL                                                                           \
            for (int r = 0; r < R; r++) {                                                    \
                __m256i av = bcast_w16(ar[r] + k);                                           \
                s[r][0] = _mm256_add_epi32(s[r][0], _mm256_madd_epi16(av, b0));              \
                s[r][1] = _mm256_add_epi32(s[r][1], _mm256_madd_epi16(av, b1));              \
            }                                                                                \
        }                                                                                    \
        UNROLL                                                                               \
        for (int r = 0; r < R; r++)                                                          \
            t[r] = _mm256_hadd_epi32(s[r][0], s[r][1]);                                      \
    }
HALF16(6)
HALF16(2)

/* A tile row of 16 columns from its halves' sums (hadd order, bias in),
 * requantized into c: the multipliers come in hadd order (mm) and one
 * unpack after the packs restores column order; z is added on int16 (q - z
 * is within [lo - z, hi - z], nothing saturates), as in dw3_cells. */
INLINE T_AVX2 void row16_req(__m256i t0, __m256i t1, const __m256 *mm, __m256 flo, __m256 fhi,
                             __m256i z16, uint8_t *c)
{
    __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(t0), mm[0]);
    __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(t1), mm[1]);
    __m256i q0 = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(f0, flo), fhi));
    __m256i q1 = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(f1, flo), fhi));
    /* int16 per 128-bit lane: 0 1 4 5 8 9 12 13 | 2 3 6 7 10 11 14 15 */
    __m256i w = _mm256_add_epi16(_mm256_packs_epi32(q0, q1), z16);
    __m256i u = _mm256_packus_epi16(w, w);
    __m128i v = _mm_unpacklo_epi16(_mm256_castsi256_si128(u), _mm256_extracti128_si256(u, 1));
    _mm_storeu_si128((__m128i *)(void *)c, v);
}

/* A last panel of 8 columns (N = 24, 40, ...): rows of the first half's
 * sums (hadd order: 0 1 4 5 | 2 3 6 7) requantized into c, 8 bytes a row:
 * after the packs each 128-bit lane holds its 4 columns twice, and one
 * unpack of 16-bit units puts the 8 bytes in column order. */
static T_AVX2 void row8_req_rows(const __m256i *t, int rows, uint8_t *c, size_t ldc,
                                 const cr_q8_req *rq, int j0)
{
    __m256 flo = _mm256_set1_ps((float)(rq->lo - rq->z_out));
    __m256 fhi = _mm256_set1_ps((float)(rq->hi - rq->z_out));
    __m256i z16 = _mm256_set1_epi16((int16_t)rq->z_out);
    __m256 m = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(load_m(rq, j0, 8)),
                                                      _MM_SHUFFLE(3, 1, 2, 0)));
    for (int r = 0; r < rows; r++) {
        __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(t[r]), m);
        __m256i q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(f, flo), fhi));
        __m256i w = _mm256_add_epi16(_mm256_packs_epi32(q, q), z16);
        __m256i u = _mm256_packus_epi16(w, w);
        __m128i v = _mm_unpacklo_epi16(_mm256_castsi256_si128(u), _mm256_extracti128_si256(u, 1));
        _mm_storel_epi64((__m128i *)(void *)(c + r * ldc), v);
    }
}

static T_AVX2 void gemm16_avx2(int K, const int16_t *a, size_t lda, const int8_t *bp, int rows,
                               int cols, uint8_t *c, int32_t *c32, size_t ldc,
                               const cr_q8_req *rq, int j0)
{
    const int16_t *ar[MR_AVX2];
    __m256i t[2][MR_AVX2];
    UNROLL
    for (int r = 0; r < MR_AVX2; r++)
        ar[r] = a + (r < rows ? r : 0) * lda;
    for (int h = 0; h < 2 && 8 * h < cols; h++) {
        if (rows <= 2)
            half16_2(q8_k4(K), ar, bp + 64 + 32 * h, bp + 32 * h, t[h]);
        else
            half16_6(q8_k4(K), ar, bp + 64 + 32 * h, bp + 32 * h, t[h]);
    }
    if (c && cols == 16) {
        __m256 flo = _mm256_set1_ps((float)(rq->lo - rq->z_out));
        __m256 fhi = _mm256_set1_ps((float)(rq->hi - rq->z_out));
        __m256i z16 = _mm256_set1_epi16((int16_t)rq->z_out);
        __m256 mm[2];
        for (int h = 0; h < 2; h++)
            mm[h] = _mm256_castpd_ps(_mm256_permute4x64_pd(
                _mm256_castps_pd(load_m(rq, j0 + 8 * h, 8)), _MM_SHUFFLE(3, 1, 2, 0)));
        for (int r = 0; r < rows; r++)
            row16_req(t[0][r], t[1][r], mm, flo, fhi, z16, c + r * ldc);
        return;
    }
    if (c && cols == 8) {
        row8_req_rows(t[0], rows, c, ldc, rq, j0);
        return;
    }
    _Alignas(32) int32_t out[MR_AVX2 * 16];
    for (int h = 0; h < 2 && 8 * h < cols; h++)
        for (int r = 0; r < rows; r++)
            _mm256_store_si256((__m256i *)(void *)(out + r * 16 + 8 * h),
                               _mm256_permute4x64_epi64(t[h][r], _MM_SHUFFLE(3, 1, 2, 0)));
    store_tile(out, rows, cols, c, c32, ldc, rq, j0);
}

/* ---- AVX2 gemm for short rows (K4 <= Q8_SMALL_K4) -----------------------
 * With few k, the fixed work per tile (widening the weights, the pair sums,
 * the requantization) weighs as much as the multiply-adds. So the chunk's
 * panels are re-laid once on the stack as int16 pairs, w[k/2][16 columns]
 * [2], and a row's pair of k is one 4-byte broadcast: each int32 lane is
 * one column, the 16 columns two vectors, and a tile of 6 rows x 16
 * columns runs in one loop with 12 accumulators, without widening or pair
 * sums. */

/* Panels [0, np) at bp (k4 k each) as int16 pairs at d (16 * k4 a panel):
 * per group of 4 k, 4 columns a vector as int16 (32-bit units: column c's
 * pair 0, pair 1, then c + 1's), the even units of two such vectors are
 * pair 0 of 8 columns, the odd ones pair 1 (shufps, then the 64-bit units
 * back in column order). */
static T_AVX2 void small_relayout(int k4, const int8_t *bp, int np, int16_t *d)
{
    size_t ps = q8_panel_bytes(k4);
    for (int p = 0; p < np; p++) {
        const int8_t *w = bp + (size_t)p * ps + 64;
        for (int g = 0; g < k4 / 4; g++, w += 64, d += 64) {
            for (int h = 0; h < 2; h++) {
                __m256 v0 = _mm256_castsi256_ps(_mm256_cvtepi8_epi16(
                    _mm_loadu_si128((const __m128i *)(const void *)(w + 32 * h))));
                __m256 v1 = _mm256_castsi256_ps(_mm256_cvtepi8_epi16(
                    _mm_loadu_si128((const __m128i *)(const void *)(w + 32 * h + 16))));
                __m256i e = _mm256_castps_si256(_mm256_shuffle_ps(v0, v1, 0x88));
                __m256i o = _mm256_castps_si256(_mm256_shuffle_ps(v0, v1, 0xDD));
                _mm256_store_si256((__m256i *)(void *)(d + 16 * h),
                                   _mm256_permute4x64_epi64(e, _MM_SHUFFLE(3, 1, 2, 0)));
                _mm256_store_si256((__m256i *)(void *)(d + 32 + 16 * h),
                                   _mm256_permute4x64_epi64(o, _MM_SHUFFLE(3, 1, 2, 0)));
            }
        }
    }
}

/* One row of a tile of 16 columns (its sums s0: columns 0-7, s1: 8-15)
 * requantized into c: z added on int16 as in row16_req. */
INLINE T_AVX2 void small_req_row(__m256i s0, __m256i s1, __m256 m0, __m256 m1, __m256 flo,
                                 __m256 fhi, __m256i z16, uint8_t *c)
{
    __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 0, 4, 1, 5);
    __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(s0), m0);
    __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(s1), m1);
    __m256i q0 = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(f0, flo), fhi));
    __m256i q1 = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(f1, flo), fhi));
    /* per 128-bit lane: columns 0-3 | 8-11, then 4-7 | 12-15 */
    __m256i w = _mm256_add_epi16(_mm256_packs_epi32(q0, q1), z16);
    __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w, w), order);
    _mm_storeu_si128((__m128i *)(void *)c, _mm256_castsi256_si128(b));
}

/* R rows (rows <= R of them real) of one panel (int16 pairs at w, int32
 * biases at bias): with c, 16 columns requantized into c (row stride
 * ldc, multipliers from column j0) straight from the accumulators;
 * otherwise row r's sums (columns 0-7, 8-15) into acc[2 r], acc[2 r + 1].
 * Out of line, as half16_R. */
#define SMALL16(R)                                                                           \
    static T_AVX2 __attribute__((noinline, aligned(64))) void small16_##R(                   \
        int k4, const int16_t *const *ar, const int16_t *w, const int8_t *bias, __m256i *acc, \
        int rows, uint8_t *c, size_t ldc, const cr_q8_req *rq, int j0)                       \
    {                                                                                        \
        __m256i s[R][2];                                                                     \
        __m256i i0 = _mm256_loadu_si256((const __m256i *)(const void *)bias);               \
        __m256i i1 = _mm256_loadu_si256((const __m256i *)(const void *)(bias + 32));        \
        UNROLL                                                                               \
        for (int r = 0; r < R; r++)                                                          \
            s[r][0] = i0, s[r][1] = i1;                                                      \
        for (int k = 0; k < k4; k += 2, w += 32) {                                           \
            __m256i w0 = _mm256_load_si256((const __m256i *)(const void *)w);               \
            __m256i w1 = _mm256_load_si256((const __m256i *)(const void *)(w + 16));        \
            UNROLL                                                                           \
            for (int r = 0; r < R; r++) {                                                    \
                int32_t v;                                                                   \
                memcpy(&v, ar[r] + k, sizeof v);                                             \
                __m256i av = _mm256_set1_epi32(v);                                           \
                s[r][0] = _mm256_add_epi32(s[r][0], _mm256_madd_epi16(av, w0));              \
                s[r][1] = _mm256_add_epi32(s[r][1], _mm256_madd_epi16(av, w1));              \
            }                                                                                \
        }                                                                                    \
        if (!c) {                                                                            \
            UNROLL                                                                           \
            for (int r = 0; r < R; r++)                                                      \
                acc[2 * r] = s[r][0], acc[2 * r + 1] = s[r][1];                              \
            return;                                                                          \
        }                                                                                    \
        __m256 flo = _mm256_set1_ps((float)(rq->lo - rq->z_out));                           \
        __m256 fhi = _mm256_set1_ps((float)(rq->hi - rq->z_out));                           \
        __m256i z16 = _mm256_set1_epi16((int16_t)rq->z_out);                                 \
        __m256 m0 = load_m(rq, j0, 8), m1 = load_m(rq, j0 + 8, 8);                           \
        UNROLL                                                                               \
        for (int r = 0; r < R; r++)                                                          \
            if (r < rows)                                                                    \
                small_req_row(s[r][0], s[r][1], m0, m1, flo, fhi, z16, c + r * ldc);         \
    }
SMALL16(6)
SMALL16(2)

/* A row of K bytes as k4 int16 (zeros past K): 16 a step, the last 16
 * overlapping the previous ones (never past the row). */
INLINE T_AVX2 void small_widen(const uint8_t *s, int K, int k4, int16_t *d)
{
    int k = 0;
    if (K >= 16) {
        for (;; k += 16) {
            int at = k + 16 <= K ? k : K - 16;
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + at));
            _mm256_storeu_si256((__m256i *)(void *)(d + at), _mm256_cvtepu8_epi16(v));
            if (at + 16 >= K)
                break;
        }
        k = K;
    }
    for (; k < K; k++)
        d[k] = s[k];
    for (; k < k4; k++)
        d[k] = 0;
}

static T_AVX2 void widen_avx2(const uint8_t *A, size_t lda, int rows, int K, int16_t *d)
{
    int k4 = q8_k4(K);
    for (int r = 0; r < rows; r++, A += lda, d += k4) {
        int k = 0;
        for (; k + 32 <= K; k += 32) {          /* then the rest as small_widen does */
            __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(A + k));
            _mm256_storeu_si256((__m256i *)(void *)(d + k),
                                _mm256_cvtepu8_epi16(_mm256_castsi256_si128(v)));
            _mm256_storeu_si256((__m256i *)(void *)(d + k + 16),
                                _mm256_cvtepu8_epi16(_mm256_extracti128_si256(v, 1)));
        }
        if (K - k >= 16 || k == 0)
            small_widen(A + k, K - k, k4 - k, d + k);
        else                                    /* fewer than 16 left: overlap back */
            small_widen(A + K - 16, 16, k4 - (K - 16), d + K - 16);
    }
}

/* One tile of rows (row r's int16 at ar[r], k4 of them) times the chunk's
 * re-laid panels wp (np of them, columns n0..n1): requantized into c (or
 * int32 into c32), row stride ldc, c and c32 at the tile's row 0, column
 * 0 of the matrix. */
INLINE T_AVX2 void small_tile(const int16_t *const *ar, int rows, int k4, const int16_t *wp,
                              int n0, int n1, int K, const int8_t *Bp, uint8_t *c, int32_t *c32,
                              size_t ldc, const cr_q8_req *rq)
{
    _Alignas(32) int32_t out[MR_AVX2 * 16];
    __m256i acc[2 * MR_AVX2];
    int np = (n1 - n0 + Q8_NR - 1) / Q8_NR;
    for (int p = 0; p < np; p++) {
        int j = n0 + p * Q8_NR, cols = n1 - j < Q8_NR ? n1 - j : Q8_NR;
        const int8_t *bias = Bp + (size_t)(j / Q8_NR) * q8_panel_bytes(K);
        uint8_t *cq = c && cols == 16 ? c + j : NULL;   /* requantized in the loop's function */
        if (rows <= 2)
            small16_2(k4, ar, wp + (size_t)p * 16 * k4, bias, acc, rows, cq, ldc, rq, j);
        else
            small16_6(k4, ar, wp + (size_t)p * 16 * k4, bias, acc, rows, cq, ldc, rq, j);
        if (cq)
            continue;
        for (int r = 0; r < rows; r++) {
            _mm256_store_si256((__m256i *)(void *)(out + r * 16), acc[2 * r]);
            _mm256_store_si256((__m256i *)(void *)(out + r * 16 + 8), acc[2 * r + 1]);
        }
        store_tile(out, rows, cols, c ? c + j : NULL, c32 ? c32 + j : NULL, ldc, rq, j);
    }
}

static T_AVX2 void gemm_small_avx2(int M, int n0, int n1, int K, const uint8_t *A, size_t lda,
                                   const int8_t *Bp, uint8_t *C, int32_t *C32, size_t ldc,
                                   const cr_q8_req *rq)
{
    _Alignas(32) int16_t wp[Q8_SMALL_ELEMS];
    _Alignas(32) int16_t a16[MR_AVX2 * Q8_SMALL_K4];
    int k4 = q8_k4(K), np = (n1 - n0 + Q8_NR - 1) / Q8_NR;
    small_relayout(k4, Bp + (size_t)(n0 / Q8_NR) * q8_panel_bytes(K), np, wp);
    for (int i = 0; i < M; i += MR_AVX2) {
        int rows = M - i < MR_AVX2 ? M - i : MR_AVX2;
        const int16_t *ar[MR_AVX2];
        for (int r = 0; r < MR_AVX2; r++) {
            ar[r] = a16 + (r < rows ? r : 0) * k4;
            if (r < rows)
                small_widen(A + (size_t)(i + r) * lda, K, k4, a16 + r * k4);
        }
        small_tile(ar, rows, k4, wp, n0, n1, K, Bp, C ? C + (size_t)i * ldc : NULL,
                   C32 ? C32 + (size_t)i * ldc : NULL, ldc, rq);
    }
}

/* ---- AVX2 convolution with short patches (q8_k4(K) <= Q8_SMALL_K4) -------
 * As im2col then gemm_small, without the byte patch matrix: each tile's
 * rows of the patch matrix ([kh][kw][c], padding taps z_x, zeros past K)
 * are gathered straight into int16. A kernel row whose taps are all in
 * the image and adjacent is one run of kw * c <= 16 bytes: one 16-byte
 * load (when 16 bytes from its start are inside x), widened and stored
 * as 16 int16, the bytes past the run overwritten by the next run or
 * zeroed past K; rows are CS_LD int16 apart, room for the last run's
 * 16. CS_ROWS rows are gathered before they are multiplied, so that the
 * overlapping stores are done when the tiles read the rows (loads across
 * two recent stores wait for them). */
#define CS_LD (Q8_SMALL_K4 + 16)
#define CS_ROWS (16 * MR_AVX2)     /* rows gathered before their tiles run */

/* Row of the patch matrix for output pixel (n, oh, ow) into d. */
static T_AVX2 void conv_small_row(const cr_conv_geom *g, const uint8_t *x, const uint8_t *xend,
                                  int32_t z_x, int n, int oh, int ow, int K, int k4, int16_t *d)
{
    int c = g->c, run = g->kw * c, bx = ow * g->sw - g->pl, by = oh * g->sh - g->pt;
    bool cols_in = bx >= 0 && bx + (g->kw - 1) * g->dw < g->w;
    if (cols_in && g->dw == 1 && run <= 16 && by >= 0 && by + (g->kh - 1) * g->dh < g->h) {
        size_t rs = (size_t)g->dh * g->w * c;     /* all in: one run a kernel row */
        const uint8_t *p = x + (((size_t)n * g->h + by) * g->w + bx) * c;
        if (xend - (p + (g->kh - 1) * rs) >= 16) {
            for (int i = 0; i < g->kh; i++, p += rs)
                _mm256_storeu_si256((__m256i *)(void *)(d + i * run),
                                    _mm256_cvtepu8_epi16(_mm_loadu_si128(
                                        (const __m128i *)(const void *)p)));
            for (int k = K; k < k4; k++)
                d[k] = 0;
            return;
        }
    }
    int16_t *o = d;
    for (int i = 0; i < g->kh; i++, o += run) {
        int iy = by + i * g->dh;
        if (iy < 0 || iy >= g->h) {
            for (int t = 0; t < run; t++)
                o[t] = (int16_t)z_x;
            continue;
        }
        const uint8_t *xr = x + ((size_t)n * g->h + iy) * g->w * c;
        if (cols_in && g->dw == 1 && run <= 16 && xend - (xr + (size_t)bx * c) >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(xr + (size_t)bx * c));
            _mm256_storeu_si256((__m256i *)(void *)o, _mm256_cvtepu8_epi16(v));
            continue;
        }
        for (int j = 0; j < g->kw; j++) {
            int ix = bx + j * g->dw;
            bool in = ix >= 0 && ix < g->w;
            for (int t = 0; t < c; t++)
                o[j * c + t] = (int16_t)(in ? xr[(size_t)ix * c + t] : z_x);
        }
    }
    for (int k = K; k < k4; k++)
        d[k] = 0;
}

static T_AVX2 void conv_small_avx2(const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                                   const void *kp, const cr_q8_req *rq, uint8_t *y, int64_t p0,
                                   int M)
{
    _Alignas(32) int16_t wp[Q8_SMALL_ELEMS];
    _Alignas(32) int16_t a16[CS_ROWS * CS_LD];
    int K = g->kh * g->kw * g->c, k4 = q8_k4(K), N = g->oc, np = (N + Q8_NR - 1) / Q8_NR;
    const uint8_t *xend = x + (size_t)g->n * g->h * g->w * g->c;
    small_relayout(k4, kp, np, wp);
    int ow = (int)(p0 % g->ow), oh = (int)(p0 / g->ow % g->oh);
    int n = (int)(p0 / ((int64_t)g->ow * g->oh));
    for (int i0 = 0; i0 < M; i0 += CS_ROWS) {
        int mb = M - i0 < CS_ROWS ? M - i0 : CS_ROWS;
        for (int r = 0; r < mb; r++) {
            conv_small_row(g, x, xend, z_x, n, oh, ow, K, k4, a16 + r * CS_LD);
            if (++ow == g->ow) {
                ow = 0;
                if (++oh == g->oh)
                    oh = 0, n++;
            }
        }
        for (int i = 0; i < mb; i += MR_AVX2) {
            int rows = mb - i < MR_AVX2 ? mb - i : MR_AVX2;
            const int16_t *ar[MR_AVX2];
            for (int r = 0; r < MR_AVX2; r++)
                ar[r] = a16 + (i + (r < rows ? r : 0)) * CS_LD;
            small_tile(ar, rows, k4, wp, 0, N, K, kp, y + (p0 + i0 + i) * N, NULL, (size_t)N,
                       rq);
        }
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
    _Alignas(32) int32_t out[MR_VNNI * 16];
    UNROLL
    for (int r = 0; r < MR_VNNI; r++) {
        _mm256_store_si256((__m256i *)(void *)(out + r * 16), acc[r][0]);
        _mm256_store_si256((__m256i *)(void *)(out + r * 16 + 8), acc[r][1]);
    }
    store_tile(out, rows, cols, c, c32, ldc, rq, j0);
}

/* ---- depthwise, depth multiplier 1 ----------------------------------------
 * As q8_avx512.c's, 32 channels (half a packed block) a step: the input
 * bytes of 4 taps interleaved, then a u8 x s8 dot product of 4 per lane:
 * vpdpbusd with AVX-VNNI; with AVX2 two vpmaddwd, one on the even bytes and
 * one on the odd ones (each product fits in int16, their pair sums in
 * int32, so nothing saturates). AVX2 runs 3x3 kernels at stride 1 or 2
 * across on a loop of its own (dw_rows_avx2, below), other shapes on this. */

/* acc + the dot products of the 4 bytes of each lane, u8 (a) x s8 (b). */
INLINE T_AVX2 __m256i dot4_avx2(__m256i acc, __m256i a, __m256i b)
{
    __m256i lo = _mm256_set1_epi16(0x00FF);
    __m256i ae = _mm256_and_si256(a, lo), ao = _mm256_srli_epi16(a, 8);
    __m256i be = _mm256_srai_epi16(_mm256_slli_epi16(b, 8), 8), bo = _mm256_srai_epi16(b, 8);
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(ae, be),
                                                  _mm256_madd_epi16(ao, bo)));
}

/* dot4_avx2 with b's even and odd bytes split (sign-extended to int16)
 * beforehand: the same sums, 3 fewer operations per product of 4. */
INLINE T_AVX2 void wsplit_avx2(__m256i b, __m256i *be, __m256i *bo)
{
    *be = _mm256_srai_epi16(_mm256_slli_epi16(b, 8), 8);
    *bo = _mm256_srai_epi16(b, 8);
}

INLINE T_AVX2 __m256i dot4_split_avx2(__m256i acc, __m256i a, __m256i be, __m256i bo)
{
    __m256i ae = _mm256_and_si256(a, _mm256_set1_epi16(0x00FF)), ao = _mm256_srli_epi16(a, 8);
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(ae, be),
                                                  _mm256_madd_epi16(ao, bo)));
}

INLINE T_VNNI __m256i dot4_vnni(__m256i acc, __m256i a, __m256i b)
{
    return _mm256_dpbusd_avx_epi32(acc, a, b);
}

/* 32 bytes at p, or its first n (then zeros). */
INLINE T_AVX2 __m256i load32(const uint8_t *p, int n)
{
    if (n == 32)
        return _mm256_loadu_si256((const __m256i *)(const void *)p);
    uint8_t t[32] = { 0 };
    q8_copy_small(t, p, n);
    return _mm256_loadu_si256((const __m256i *)(const void *)t);
}

INLINE T_AVX2 void store32n(uint8_t *p, __m256i v, int n)
{
    uint8_t t[32];
    _mm256_storeu_si256((__m256i *)(void *)t, v);
    q8_copy_small(p, t, n);
}

#define VI __m256i
#define VF __m256
#define VB 32
#define v_ld(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define v_st(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), v)
#define v_ldn load32
#define v_stn store32n
#define v_unlo8 _mm256_unpacklo_epi8
#define v_unhi8 _mm256_unpackhi_epi8
#define v_unlo16 _mm256_unpacklo_epi16
#define v_unhi16 _mm256_unpackhi_epi16
#define v_ldf(p) _mm256_load_ps(p)
#define v_set1f _mm256_set1_ps
#define v_set1i _mm256_set1_epi32
#define v_sub32 _mm256_sub_epi32
#define v_mul32 _mm256_mullo_epi32
#define v_req requant8
#define v_pack(q0, q1, q2, q3) \
    _mm256_packus_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3))

#define DW_FEW_REGS            /* 16 vector registers: weights from memory */
#define TARGET T_AVX2
#define DW_ROW dw_row_avx2
#define v_dot dot4_avx2
#define v_wsplit wsplit_avx2
#define v_dot_split dot4_split_avx2
#include "q8_dw_tmpl.h"
#undef TARGET
#undef DW_ROW
#undef v_dot
#undef v_wsplit
#undef v_dot_split

/* ---- depthwise 3x3, dilation 1, stride 1 or 2 (AVX2 without VNNI) --------
 * 16 channels a step, each input column widened to int16 once (for the 3
 * cells that read it at stride 1), then vpmaddwd on pairs of taps: kernel
 * rows 0 and 1 of each column (3 pairs), row 2 of columns 0 and 1, and row
 * 2 of column 2 with a zero partner weight: 5 vpmaddwd per 8 channels for
 * 9 taps, no per-tap widening. Products of u8 x s8 fit in int16 and their
 * pairs in int32, so the sums are exact. Lanes: acc[0] holds channels 0-3
 * and 8-11, acc[1] 4-7 and 12-15 (unpacking within 128-bit lanes), which
 * packing back (32 -> 16 -> 8 bits) returns to channel order. The weights
 * come from the shared packed layout (q8.h), rearranged per call. Padding
 * reads z_x, and the accumulators start at bias - z_x * (sum of weights),
 * as in the other levels. */

#define DW3_CH 256                 /* channels whose weights are set up at once */

typedef struct dw3_blk {
    __m256i w[5][2];               /* int16 weight pairs: tap pair, half */
    __m256i acc0[2];
    __m256 m[2];
} dw3_blk;

typedef struct dw3_col {
    __m256i a[2];                  /* kernel rows 0, 1 interleaved: halves */
    __m256i r2;                    /* kernel row 2, 16 int16 */
} dw3_col;

/* Channel of lane k (0..7) of half h of a block of 16. */
static inline int dw3_ch(int h, int k) { return (k & 3) + 4 * h + 8 * (k >> 2); }

/* Two 16-byte pieces of the packed block as one vector: lanes 0-3 from
 * quad-order vector h, lanes 4-7 from vector h + 2 (see dw3_ch). */
INLINE T_AVX2 __m256i dw3_quads(const uint8_t *v, int h)
{
    return _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(v + 64 * h))),
        _mm_loadu_si128((const __m128i *)(const void *)(v + 64 * (h + 2))), 1);
}

/* Block of channels c0.. (c0 a multiple of 16) from the packed kernel: its
 * quad-order lanes 4 * (c0 % 64 / 16) + 0..3 of every vector. */
static T_AVX2 void dw3_setup(int C, int32_t z_x, const uint8_t *kp, const cr_q8_req *rq, int c0,
                             dw3_blk *b)
{
    const uint8_t *base = kp + (size_t)(c0 / 64) * q8_dw_block_bytes(3, 3) + 16 * (c0 % 64 / 16);
    __m256i zx = _mm256_set1_epi32(z_x);
    for (int h = 0; h < 2; h++) {
        b->acc0[h] = _mm256_sub_epi32(dw3_quads(base, h),
                                      _mm256_mullo_epi32(zx, dw3_quads(base + 256, h)));
        __m256i e[3];
        for (int j = 0; j < 3; j++) {
            __m256i v = dw3_quads(base + 512 + 256 * j, h);   /* bytes r0 r1 r2 0 */
            e[j] = _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8);  /* r0, r2 */
            __m256i o = _mm256_srai_epi16(v, 8);                   /* r1, 0 */
            b->w[j][h] = _mm256_blend_epi16(e[j], _mm256_slli_epi32(o, 16), 0xAA);
        }
        b->w[3][h] = _mm256_blend_epi16(_mm256_srli_epi32(e[0], 16), e[1], 0xAA);
        b->w[4][h] = _mm256_srli_epi32(e[2], 16);
    }
    if (rq->per_tensor) {
        b->m[0] = b->m[1] = _mm256_set1_ps(rq->m[0]);
    } else if (c0 + 16 <= C) {
        __m256 lo = _mm256_loadu_ps(rq->m + c0), hi = _mm256_loadu_ps(rq->m + c0 + 8);
        b->m[0] = _mm256_permute2f128_ps(lo, hi, 0x20);
        b->m[1] = _mm256_permute2f128_ps(lo, hi, 0x31);
    } else {
        _Alignas(32) float m[2][8];
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 8; k++)
                m[h][k] = c0 + dw3_ch(h, k) < C ? rq->m[c0 + dw3_ch(h, k)] : 0.0f;
        b->m[0] = _mm256_load_ps(m[0]);
        b->m[1] = _mm256_load_ps(m[1]);
    }
}

/* The kernel rows' input rows at a block's first channel: a padding row is
 * z bytes (step 0). */
typedef struct dw3_rows {
    const uint8_t *p[3];
    size_t step[3];
} dw3_rows;

/* Row i's 16 (or n < 16: full false) channels at column ix widened; chk:
 * z outside the image. */
INLINE T_AVX2 __m256i dw3_wid(const bool full, const bool chk, const dw3_rows *r, int i, int ix,
                              int w, int n, __m256i zw)
{
    if (chk && (unsigned)ix >= (unsigned)w)
        return zw;
    const uint8_t *p = r->p[i] + (size_t)ix * r->step[i];
    if (full)
        return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)p));
    uint8_t t[16] = { 0 };
    q8_copy_small(t, p, n);
    return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)t));
}

INLINE T_AVX2 dw3_col dw3_load(const bool full, const bool chk, const dw3_rows *r, int ix, int w,
                               int n, __m256i zw)
{
    __m256i r0 = dw3_wid(full, chk, r, 0, ix, w, n, zw);
    __m256i r1 = dw3_wid(full, chk, r, 1, ix, w, n, zw);
    dw3_col c = { { _mm256_unpacklo_epi16(r0, r1), _mm256_unpackhi_epi16(r0, r1) },
                  dw3_wid(full, chk, r, 2, ix, w, n, zw) };
    return c;
}

/* Output cells [oa, ob) of a row at stride s: c[0..2] the columns of cell
 * oa (c[0], and c[1] at stride 1, loaded: the others are loaded here), a
 * its first input column; z the output zero point as 16 int16. */
INLINE T_AVX2 void dw3_cells(const int s, const bool full, const bool chk, dw3_col *c, int a,
                             int oa, int ob, const dw3_rows *r, int w, const dw3_blk *b,
                             __m256i zw, __m256 flo, __m256 fhi, __m256i z, uint8_t *y, size_t C,
                             int n)
{
    for (int ow = oa; ow < ob; ow++, a += s) {
        if (s == 2)
            c[1] = dw3_load(full, chk, r, a + 1, w, n, zw);
        c[2] = dw3_load(full, chk, r, a + 2, w, n, zw);
        __m256i q[2];
        for (int h = 0; h < 2; h++) {
            __m256i p = h ? _mm256_unpackhi_epi16(c[0].r2, c[1].r2)
                          : _mm256_unpacklo_epi16(c[0].r2, c[1].r2);
            __m256i l = h ? _mm256_unpackhi_epi16(c[2].r2, c[2].r2)
                          : _mm256_unpacklo_epi16(c[2].r2, c[2].r2);
            __m256i s0 = _mm256_add_epi32(_mm256_madd_epi16(c[0].a[h], b->w[0][h]),
                                          _mm256_madd_epi16(c[1].a[h], b->w[1][h]));
            __m256i s1 = _mm256_add_epi32(_mm256_madd_epi16(c[2].a[h], b->w[2][h]),
                                          _mm256_madd_epi16(p, b->w[3][h]));
            __m256i acc = _mm256_add_epi32(_mm256_add_epi32(b->acc0[h], s0),
                                           _mm256_add_epi32(s1, _mm256_madd_epi16(l, b->w[4][h])));
            __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), b->m[h]);
            q[h] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(f, flo), fhi));
        }
        /* requant8 with z added once to 16 lanes of int16 (q - z is within
         * [lo - z, hi - z], so neither the pack nor the add saturates) */
        __m256i p16 = _mm256_add_epi16(_mm256_packs_epi32(q[0], q[1]), z);
        __m128i v = _mm_packus_epi16(_mm256_castsi256_si128(p16), _mm256_extracti128_si256(p16, 1));
        uint8_t *yo = y + (size_t)ow * C;
        if (full) {
            _mm_storeu_si128((__m128i *)(void *)yo, v);
        } else {
            uint8_t t[16];
            _mm_storeu_si128((__m128i *)(void *)t, v);
            q8_copy_small(yo, t, n);
        }
        if (s == 1) {
            c[0] = c[1];
            c[1] = c[2];
        } else {
            c[0] = c[2];
        }
    }
}

/* One output row of 16 (or n < 16: full false) channels at stride s, in
 * one loop that checks every column against the image (the checks are
 * predicted; splitting the row into edge and inner cells cost more, in
 * the loop exits, than it saved, at widths 7 to 28). */
INLINE T_AVX2 void dw3_row(const int s, const bool full, const cr_conv_geom *g,
                           const dw3_rows *r, const dw3_blk *b, __m256i zw, __m256 flo,
                           __m256 fhi, __m256i z, uint8_t *y, int n)
{
    int w = g->w, pl = g->pl;
    dw3_col c[3];
    c[0] = dw3_load(full, true, r, -pl, w, n, zw);
    c[1] = s == 1 ? dw3_load(full, true, r, 1 - pl, w, n, zw) : c[0];
    dw3_cells(s, full, true, c, -pl, 0, g->ow, r, w, b, zw, flo, fhi, z, y, (size_t)g->c, n);
}

/* Output rows [r0, r1) of n*oh, channels [c_lo, c_hi) (c_lo a multiple
 * of 16): 3x3, dilation 1, stride 1 or 2 across (any down). Per DW3_CH
 * channels the weights once, then per row every block of 16 channels. */
static T_AVX2 void dw3_rows_avx2(const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                                 const uint8_t *kp, const cr_q8_req *rq, uint8_t *y, int64_t r0,
                                 int64_t r1, int c_lo, int c_hi)
{
    int C = g->c;
    dw3_blk blk[DW3_CH / 16];
    __m256i zw = _mm256_set1_epi16((int16_t)z_x), z = _mm256_set1_epi16((int16_t)rq->z_out);
    __m256 flo = _mm256_set1_ps((float)(rq->lo - rq->z_out));
    __m256 fhi = _mm256_set1_ps((float)(rq->hi - rq->z_out));
    uint8_t zb[16];
    memset(zb, (int)z_x, sizeof zb);
    for (int cf = c_lo; cf < c_hi; cf += DW3_CH) {
        int ct = c_hi - cf < DW3_CH ? c_hi : cf + DW3_CH;
        for (int c0 = cf; c0 < ct; c0 += 16)
            dw3_setup(C, z_x, kp, rq, c0, &blk[(c0 - cf) / 16]);
        for (int64_t row = r0; row < r1; row++) {
            int oh = (int)(row % g->oh), nn = (int)(row / g->oh), by = oh * g->sh - g->pt;
            const uint8_t *xn = x + (size_t)nn * g->h * g->w * C;
            uint8_t *yr = y + (size_t)row * g->ow * C;
            for (int c0 = cf; c0 < ct; c0 += 16) {
                dw3_rows r;
                for (int i = 0; i < 3; i++) {
                    bool in = by + i >= 0 && by + i < g->h;
                    r.p[i] = in ? xn + (size_t)(by + i) * g->w * C + c0 : zb;
                    r.step[i] = in ? (size_t)C : 0;
                }
                const dw3_blk *b = &blk[(c0 - cf) / 16];
                int n = ct - c0 < 16 ? ct - c0 : 16;
                if (g->sw == 1 && n == 16)
                    dw3_row(1, true, g, &r, b, zw, flo, fhi, z, yr + c0, n);
                else if (g->sw == 1)
                    dw3_row(1, false, g, &r, b, zw, flo, fhi, z, yr + c0, n);
                else if (n == 16)
                    dw3_row(2, true, g, &r, b, zw, flo, fhi, z, yr + c0, n);
                else
                    dw3_row(2, false, g, &r, b, zw, flo, fhi, z, yr + c0, n);
            }
        }
    }
}

/* Output rows [r0, r1) of n*oh: the shapes q8_dw3_shape takes on the loop
 * above, others on the template's. */
static T_AVX2 void dw_rows_avx2(const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                                const uint8_t *kp, const cr_q8_req *rq, uint8_t *y, int64_t r0,
                                int64_t r1)
{
    if (q8_dw3_shape(g))
        dw3_rows_avx2(g, x, z_x, kp, rq, y, r0, r1, 0, g->c);
    else
        dw_row_avx2(g, x, z_x, kp, rq, y, r0, r1);
}

#define TARGET T_VNNI
#define DW_ROW dw_row_avxvnni
#define v_dot dot4_vnni
#include "q8_dw_tmpl.h"

/* ---- elementwise: 8 lanes, as q8_avx512.c's ------------------------------ */

INLINE T_AVX2 __m256i load8u(const uint8_t *p)
{
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p));
}

static T_AVX2 void add_avx2(int64_t n, const uint8_t *a, int32_t z_a, float ma,
                            const uint8_t *b, int32_t z_b, float mb, uint8_t *y, int32_t z_y,
                            int32_t lo, int32_t hi)
{
    __m256 flo = _mm256_set1_ps((float)(lo - z_y)), fhi = _mm256_set1_ps((float)(hi - z_y));
    __m256 va = _mm256_set1_ps(ma), vb = _mm256_set1_ps(mb);
    __m256i za = _mm256_set1_epi32(z_a), zb = _mm256_set1_epi32(z_b), zy = _mm256_set1_epi32(z_y);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8u(a + i), za)), va);
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8u(b + i), zb)), vb);
        __m256 f = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(u, v), flo), fhi);
        store8(y + i, _mm256_add_epi32(_mm256_cvtps_epi32(f), zy), 8);
    }
    q8_add_generic(n - i, a + i, z_a, ma, b + i, z_b, mb, y + i, z_y, lo, hi);
}

static T_AVX2 void quantize_avx2(int64_t n, const float *x, float s, int32_t z, uint8_t *q)
{
    __m256 flo = _mm256_set1_ps((float)-z), fhi = _mm256_set1_ps((float)(255 - z));
    __m256 vr = _mm256_set1_ps(q8_inv_scale(s));
    __m256i vz = _mm256_set1_epi32(z);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 f = _mm256_mul_ps(_mm256_loadu_ps(x + i), vr);
        f = _mm256_min_ps(_mm256_max_ps(f, flo), fhi);
        store8(q + i, _mm256_add_epi32(_mm256_cvtps_epi32(f), vz), 8);
    }
    q8_quantize_generic(n - i, x + i, s, z, q + i);
}

static T_AVX2 void dequantize_avx2(int64_t n, const uint8_t *q, float s, int32_t z, float *x)
{
    __m256 vs = _mm256_set1_ps(s);
    __m256i vz = _mm256_set1_epi32(z);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8u(q + i),
                                                                                   vz)), vs));
    q8_dequantize_generic(n - i, q + i, s, z, x + i);
}

const cr_q8_ukr cr_q8_ukr_avx2 = {
    .isa = CR_Q8_AVX2,
    .mr = MR_AVX2,
    .nr = Q8_NR,
    .gemm = gemm_avx2,
    .gemm16 = gemm16_avx2,
    .widen = widen_avx2,
    .gemm_small = gemm_small_avx2,
    .conv_small = conv_small_avx2,
    .add = add_avx2,
    .quantize = quantize_avx2,
    .dequantize = dequantize_avx2,
    .dw_rows = dw_rows_avx2,
    .dw3_rows = dw3_rows_avx2,
};

const cr_q8_ukr cr_q8_ukr_avxvnni = {
    .isa = CR_Q8_AVXVNNI,
    .mr = MR_VNNI,
    .nr = Q8_NR,
    .gemm = gemm_avxvnni,
    .add = add_avx2,
    .quantize = quantize_avx2,
    .dequantize = dequantize_avx2,
    .dw_rows = dw_row_avxvnni,
};
#endif
