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
 * As q8_avx512.c's, 32 channels (half a packed block) a step: the input
 * bytes of 4 taps interleaved, then a u8 x s8 dot product of 4 per lane:
 * vpdpbusd with AVX-VNNI; with AVX2 two vpmaddwd, one on the even bytes and
 * one on the odd ones (each product fits in int16, their pair sums in
 * int32, so nothing saturates). */

/* acc + the dot products of the 4 bytes of each lane, u8 (a) x s8 (b). */
INLINE T_AVX2 __m256i dot4_avx2(__m256i acc, __m256i a, __m256i b)
{
    __m256i lo = _mm256_set1_epi16(0x00FF);
    __m256i ae = _mm256_and_si256(a, lo), ao = _mm256_srli_epi16(a, 8);
    __m256i be = _mm256_srai_epi16(_mm256_slli_epi16(b, 8), 8), bo = _mm256_srai_epi16(b, 8);
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
    memcpy(t, p, (size_t)n);
    return _mm256_loadu_si256((const __m256i *)(const void *)t);
}

#define LD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))

#define DW_ROW(NAME, T, DOT)                                                                  \
    static T void NAME##_half(const uint8_t *const *tp, int G, int nc, const uint8_t *wb,     \
                              const __m256i *acc0, const __m256 *m, const cr_q8_req *rq,      \
                              uint8_t *y)                                                     \
    {                                                                                         \
        __m256i acc[4] = { acc0[0], acc0[1], acc0[2], acc0[3] };                              \
        for (int gi = 0; gi < G; gi++, tp += 4, wb += 256) {                                  \
            __m256i x0 = load32(tp[0], nc), x1 = load32(tp[1], nc);                           \
            __m256i x2 = load32(tp[2], nc), x3 = load32(tp[3], nc);                           \
            __m256i l01 = _mm256_unpacklo_epi8(x0, x1), h01 = _mm256_unpackhi_epi8(x0, x1);   \
            __m256i l23 = _mm256_unpacklo_epi8(x2, x3), h23 = _mm256_unpackhi_epi8(x2, x3);   \
            acc[0] = DOT(acc[0], _mm256_unpacklo_epi16(l01, l23), LD(wb));                    \
            acc[1] = DOT(acc[1], _mm256_unpackhi_epi16(l01, l23), LD(wb + 64));               \
            acc[2] = DOT(acc[2], _mm256_unpacklo_epi16(h01, h23), LD(wb + 128));              \
            acc[3] = DOT(acc[3], _mm256_unpackhi_epi16(h01, h23), LD(wb + 192));              \
        }                                                                                     \
        __m256 flo = _mm256_set1_ps((float)(rq->lo - rq->z_out));                            \
        __m256 fhi = _mm256_set1_ps((float)(rq->hi - rq->z_out));                             \
        __m256i z = _mm256_set1_epi32(rq->z_out);                                             \
        __m256i q0 = requant8(acc[0], m[0], flo, fhi, z);                                     \
        __m256i q1 = requant8(acc[1], m[1], flo, fhi, z);                                     \
        __m256i q2 = requant8(acc[2], m[2], flo, fhi, z);                                     \
        __m256i q3 = requant8(acc[3], m[3], flo, fhi, z);                                     \
        __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3)); \
        if (nc == 32) {                                                                       \
            _mm256_storeu_si256((__m256i *)(void *)y, b);                                     \
        } else {                                                                              \
            uint8_t t[32];                                                                    \
            _mm256_storeu_si256((__m256i *)(void *)t, b);                                     \
            memcpy(y, t, (size_t)nc);                                                         \
        }                                                                                     \
    }                                                                                         \
                                                                                              \
    static T void NAME(const cr_conv_geom *g, const uint8_t *x, int32_t z_x,                  \
                       const uint8_t *kp, const cr_q8_req *rq, uint8_t *y, int64_t row)       \
    {                                                                                         \
        int taps = g->kh * g->kw, G = q8_dw_groups(taps), C = g->c, i0, i1, ow0, ow1;         \
        if (taps > Q8_DW_MAX_TAPS) {                                                          \
            for (int ow = 0; ow < g->ow; ow++)                                                \
                q8_dw_cell(g, x, z_x, kp, rq, y, row, ow, 0, C);                              \
            return;                                                                           \
        }                                                                                     \
        int oh = (int)(row % g->oh), n = (int)(row / g->oh), by = oh * g->sh - g->pt;         \
        const uint8_t *xn = x + (size_t)n * g->h * g->w * C;                                  \
        uint8_t *yr = y + (size_t)row * g->ow * C;                                            \
        size_t bb = q8_dw_block_bytes(taps);                                                  \
        _Alignas(64) uint8_t zpix[64];                                                        \
        _Alignas(64) float mp[64];                                                            \
        const uint8_t *tp[Q8_DW_MAX_TAPS + 4];                                                \
        ptrdiff_t off[Q8_DW_MAX_TAPS];                                                        \
        memset(zpix, (int)z_x, sizeof zpix);                                                  \
        cr_tap_range(by, g->dh, g->kh, g->h, &i0, &i1);                                       \
        cr_interior(g, &ow0, &ow1);                                                           \
        bool rows_in = i0 == 0 && i1 == g->kh;                                                \
        for (int i = 0, t = 0; i < g->kh; i++)                                                \
            for (int j = 0; j < g->kw; j++, t++)                                              \
                off[t] = ((ptrdiff_t)(by + i * g->dh) * g->w + j * g->dw - g->pl) * C;        \
        for (int t = taps; t % 4; t++)                                                        \
            tp[t] = zpix;                                                                     \
        __m256i zx = _mm256_set1_epi32(z_x);                                                  \
        for (int c0 = 0; c0 < C; c0 += 64) {                                                  \
            const uint8_t *blk = kp + (size_t)(c0 / 64) * bb;                                 \
            int nb = C - c0 < 64 ? C - c0 : 64;                                               \
            for (int cc = 0; cc < 64; cc++)                                                   \
                mp[q8_dw_lane(cc)] = cc < nb ? q8_m(rq, c0 + cc) : 0.0f;                      \
            for (int h = 0; h < 2 && 32 * h < nb; h++) {                                      \
                int nc = nb - 32 * h < 32 ? nb - 32 * h : 32;                                 \
                __m256 m[4];                                                                  \
                __m256i acc0[4];                                                              \
                for (int q = 0; q < 4; q++) {                                                 \
                    m[q] = _mm256_load_ps(mp + 16 * q + 8 * h);                               \
                    acc0[q] = _mm256_sub_epi32(LD(blk + 64 * q + 32 * h),                     \
                                  _mm256_mullo_epi32(zx, LD(blk + 256 + 64 * q + 32 * h)));   \
                }                                                                             \
                int ch = c0 + 32 * h;                                                         \
                for (int ow = 0; ow < g->ow; ow++) {                                          \
                    if (rows_in && ow >= ow0 && ow < ow1) {                                   \
                        ptrdiff_t base = (ptrdiff_t)ow * g->sw * C + ch;                      \
                        for (int t = 0; t < taps; t++)                                        \
                            tp[t] = xn + (off[t] + base);                                     \
                    } else {                                                                  \
                        q8_dw_taps(g, xn, by, ow, ch, zpix, tp);                              \
                    }                                                                         \
                    NAME##_half(tp, G, nc, blk + 512 + 32 * h, acc0, m, rq,                   \
                                yr + (size_t)ow * C + ch);                                    \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }

DW_ROW(dw_row_avx2, T_AVX2, dot4_avx2)
DW_ROW(dw_row_avxvnni, T_VNNI, dot4_vnni)

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
    .dw_row = dw_row_avxvnni,
};
#endif
