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
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
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
    int32_t v = 0;
    memcpy(&v, p, (size_t)n);
    return _mm512_set1_epi32(v);
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

static TARGET void gemm_avx512(int K, const uint8_t *a, size_t lda, const int8_t *bp, int rows,
                               int cols, uint8_t *c, int32_t *c32, size_t ldc,
                               const cr_q8_req *rq, int j0)
{
    int np = (cols + 15) / 16;
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

/* ---- depthwise, depth multiplier 1 ----------------------------------------
 * 64 channels at a time (q8.h's packed layout): the input bytes of 4 taps
 * are interleaved into 4 vectors of 16 channels x 4 taps, and vpdpbusd adds
 * the 4 products per channel. Padding taps read bytes of z_x, and the
 * accumulators start at bias - z_x * (sum of the weights), so that
 * acc = bias + sum over taps of (x - z_x) * w exactly; in the image
 * interior the taps' addresses are offsets fixed per row. */
static TARGET void dw_block_avx512(const uint8_t *const *tp, int G, int nc, const uint8_t *blk,
                                   const __m512i *acc0, const __m512 *m, const cr_q8_req *rq,
                                   uint8_t *y)
{
    __mmask64 mk = nc >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << nc) - 1;
    __m512i acc[4] = { acc0[0], acc0[1], acc0[2], acc0[3] };
    const uint8_t *w = blk + 512;
    for (int gi = 0; gi < G; gi++, tp += 4, w += 256) {
        __m512i x0 = _mm512_maskz_loadu_epi8(mk, tp[0]), x1 = _mm512_maskz_loadu_epi8(mk, tp[1]);
        __m512i x2 = _mm512_maskz_loadu_epi8(mk, tp[2]), x3 = _mm512_maskz_loadu_epi8(mk, tp[3]);
        __m512i l01 = _mm512_unpacklo_epi8(x0, x1), h01 = _mm512_unpackhi_epi8(x0, x1);
        __m512i l23 = _mm512_unpacklo_epi8(x2, x3), h23 = _mm512_unpackhi_epi8(x2, x3);
        acc[0] = _mm512_dpbusd_epi32(acc[0], _mm512_unpacklo_epi16(l01, l23),
                                     _mm512_loadu_si512(w));
        acc[1] = _mm512_dpbusd_epi32(acc[1], _mm512_unpackhi_epi16(l01, l23),
                                     _mm512_loadu_si512(w + 64));
        acc[2] = _mm512_dpbusd_epi32(acc[2], _mm512_unpacklo_epi16(h01, h23),
                                     _mm512_loadu_si512(w + 128));
        acc[3] = _mm512_dpbusd_epi32(acc[3], _mm512_unpackhi_epi16(h01, h23),
                                     _mm512_loadu_si512(w + 192));
    }
    __m512 flo = _mm512_set1_ps((float)(rq->lo - rq->z_out));
    __m512 fhi = _mm512_set1_ps((float)(rq->hi - rq->z_out));
    __m512i z = _mm512_set1_epi32(rq->z_out);
    __m512i q0 = requant16(acc[0], m[0], flo, fhi, z), q1 = requant16(acc[1], m[1], flo, fhi, z);
    __m512i q2 = requant16(acc[2], m[2], flo, fhi, z), q3 = requant16(acc[3], m[3], flo, fhi, z);
    __m512i b = _mm512_packus_epi16(_mm512_packs_epi32(q0, q1), _mm512_packs_epi32(q2, q3));
    _mm512_mask_storeu_epi8(y, mk, b);
}

static TARGET void dw_row_avx512(const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                                 const uint8_t *kp, const cr_q8_req *rq, uint8_t *y,
                                 int64_t row)
{
    int taps = g->kh * g->kw, G = q8_dw_groups(taps), C = g->c, i0, i1, ow0, ow1;
    if (taps > Q8_DW_MAX_TAPS) {
        for (int ow = 0; ow < g->ow; ow++)
            q8_dw_cell(g, x, z_x, kp, rq, y, row, ow, 0, C);
        return;
    }
    int oh = (int)(row % g->oh), n = (int)(row / g->oh), by = oh * g->sh - g->pt;
    const uint8_t *xn = x + (size_t)n * g->h * g->w * C;
    uint8_t *yr = y + (size_t)row * g->ow * C;
    size_t bb = q8_dw_block_bytes(taps);
    _Alignas(64) uint8_t zpix[64];
    _Alignas(64) float mp[64];
    const uint8_t *tp[Q8_DW_MAX_TAPS + 4];
    ptrdiff_t off[Q8_DW_MAX_TAPS];
    memset(zpix, (int)z_x, sizeof zpix);
    cr_tap_range(by, g->dh, g->kh, g->h, &i0, &i1);
    cr_interior(g, &ow0, &ow1);
    bool rows_in = i0 == 0 && i1 == g->kh;
    for (int i = 0, t = 0; i < g->kh; i++)
        for (int j = 0; j < g->kw; j++, t++)
            off[t] = ((ptrdiff_t)(by + i * g->dh) * g->w + j * g->dw - g->pl) * C;
    for (int t = taps; t % 4; t++)
        tp[t] = zpix;
    for (int c0 = 0; c0 < C; c0 += 64) {
        const uint8_t *blk = kp + (size_t)(c0 / 64) * bb;
        int nc = C - c0 < 64 ? C - c0 : 64;
        for (int cc = 0; cc < 64; cc++)
            mp[q8_dw_lane(cc)] = cc < nc ? q8_m(rq, c0 + cc) : 0.0f;
        __m512 m[4];
        __m512i acc0[4], zx = _mm512_set1_epi32(z_x);
        for (int q = 0; q < 4; q++) {
            m[q] = _mm512_load_ps(mp + 16 * q);
            acc0[q] = _mm512_sub_epi32(_mm512_loadu_si512(blk + 64 * q),
                                       _mm512_mullo_epi32(zx, _mm512_loadu_si512(blk + 256 + 64 * q)));
        }
        for (int ow = 0; ow < g->ow; ow++) {
            if (rows_in && ow >= ow0 && ow < ow1) {
                ptrdiff_t base = (ptrdiff_t)ow * g->sw * C + c0;
                for (int t = 0; t < taps; t++)
                    tp[t] = xn + (off[t] + base);
            } else {
                q8_dw_taps(g, xn, by, ow, c0, zpix, tp);
            }
            dw_block_avx512(tp, G, nc, blk, acc0, m, rq, yr + (size_t)ow * C + c0);
        }
    }
}

const cr_q8_ukr cr_q8_ukr_avx512 = {
    .isa = CR_Q8_AVX512VNNI,
    .mr = MR,
    .nr = 4 * Q8_NR,
    .gemm = gemm_avx512,
    .dw_row = dw_row_avx512,
};
#endif
