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

/* Rows [0, rows) (rows <= mrt) by np panels; missing rows read row 0 and
 * are not stored. */
INLINE void tile(const int np, const int mrt, int K, const uint8_t *a, size_t lda,
                 const int8_t *bp, int rows, int cols, uint8_t *c, int32_t *c32, size_t ldc,
                 const cr_q8_req *rq, int j0)
{
    size_t ps = q8_panel_bytes(K);
    const uint8_t *ar[MR];
    __m512i acc[MR][4];
    UNROLL
    for (int r = 0; r < mrt; r++)
        ar[r] = a + (r < rows ? r : 0) * lda;
    UNROLL
    for (int p = 0; p < np; p++) {
        __m512i b0 = _mm512_loadu_si512(bp + p * ps);
        UNROLL
        for (int r = 0; r < mrt; r++)
            acc[r][p] = b0;
    }
    const int8_t *w = bp + 64;
    int k = 0;
    for (; k + 4 <= K; k += 4, w += 64) {
        __m512i b[4];
        UNROLL
        for (int p = 0; p < np; p++)
            b[p] = _mm512_loadu_si512(w + p * ps);
        UNROLL
        for (int r = 0; r < mrt; r++) {
            __m512i av = bcast4(ar[r] + k);
            UNROLL
            for (int p = 0; p < np; p++)
                acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], av, b[p]);
        }
    }
    if (k < K) {
        __m512i b[4];
        UNROLL
        for (int p = 0; p < np; p++)
            b[p] = _mm512_loadu_si512(w + p * ps);
        UNROLL
        for (int r = 0; r < mrt; r++) {
            __m512i av = bcastn(ar[r] + k, K - k);
            UNROLL
            for (int p = 0; p < np; p++)
                acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], av, b[p]);
        }
    }
    if (!c) {
        UNROLL
        for (int p = 0; p < np; p++) {
            __mmask16 mk = tail16(cols - 16 * p);
            UNROLL
            for (int r = 0; r < mrt; r++)
                if (r < rows)
                    _mm512_mask_storeu_epi32(c32 + r * ldc + 16 * p, mk, acc[r][p]);
        }
        return;
    }
    __m512 flo = _mm512_set1_ps((float)(rq->lo - rq->z_out));
    __m512 fhi = _mm512_set1_ps((float)(rq->hi - rq->z_out));
    __m512i z = _mm512_set1_epi32(rq->z_out);
    UNROLL
    for (int p = 0; p < np; p++) {
        __mmask16 mk = tail16(cols - 16 * p);
        __m512 m = rq->per_tensor ? _mm512_set1_ps(rq->m[0])
                                  : _mm512_maskz_loadu_ps(mk, rq->m + j0 + 16 * p);
        UNROLL
        for (int r = 0; r < mrt; r++)
            if (r < rows) {
                __m512i q = requant16(acc[r][p], m, flo, fhi, z);
                _mm_mask_storeu_epi8(c + r * ldc + 16 * p, mk, _mm512_cvtepi32_epi8(q));
            }
    }
}

static TARGET void gemm_avx512(int K, const uint8_t *a, size_t lda, const int8_t *bp, int rows,
                               int cols, uint8_t *c, int32_t *c32, size_t ldc,
                               const cr_q8_req *rq, int j0)
{
    int np = (cols + 15) / 16;
    if (np <= 2) {
        if (np == 1)
            tile(1, MR, K, a, lda, bp, rows, cols, c, c32, ldc, rq, j0);
        else
            tile(2, MR, K, a, lda, bp, rows, cols, c, c32, ldc, rq, j0);
        return;
    }
    for (int r0 = 0; r0 < rows; r0 += MR / 2) {
        int rr = rows - r0 < MR / 2 ? rows - r0 : MR / 2;
        uint8_t *cr = c ? c + r0 * ldc : NULL;
        int32_t *cr32 = c32 ? c32 + r0 * ldc : NULL;
        if (np == 3)
            tile(3, MR / 2, K, a + r0 * lda, lda, bp, rr, cols, cr, cr32, ldc, rq, j0);
        else
            tile(4, MR / 2, K, a + r0 * lda, lda, bp, rr, cols, cr, cr32, ldc, rq, j0);
    }
}

/* ---- depthwise, depth multiplier 1 ----------------------------------------
 * 16 channels a vector: acc = bias, then for each valid tap (i, then j)
 * acc += (x - z) * w in int32 lanes (exact), then requant16. */
static TARGET void dw_row_avx512(const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                                 const int32_t *kp, const cr_q8_req *rq, uint8_t *y,
                                 int64_t row)
{
    int oh = (int)(row % g->oh), n = (int)(row / g->oh), C = g->c, oc16 = q8_oc16(C), i0, i1;
    int by = oh * g->sh - g->pt;
    cr_tap_range(by, g->dh, g->kh, g->h, &i0, &i1);
    __m512 flo = _mm512_set1_ps((float)(rq->lo - rq->z_out));
    __m512 fhi = _mm512_set1_ps((float)(rq->hi - rq->z_out));
    __m512i z = _mm512_set1_epi32(rq->z_out), zx = _mm512_set1_epi32(z_x);
    const uint8_t *x0 = x + (size_t)n * g->h * g->w * C;
    for (int c0 = 0; c0 < C; c0 += 16) {
        __mmask16 mk = tail16(C - c0);
        __m512i bias = _mm512_loadu_si512(kp + c0);
        __m512 m = rq->per_tensor ? _mm512_set1_ps(rq->m[0])
                                  : _mm512_maskz_loadu_ps(mk, rq->m + c0);
        for (int ow = 0; ow < g->ow; ow++) {
            int bx = ow * g->sw - g->pl, j0, j1;
            cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
            __m512i acc = bias;
            for (int i = i0; i < i1; i++) {
                const uint8_t *xr = x0 + (size_t)(by + i * g->dh) * g->w * C + c0;
                const int32_t *kr = kp + (size_t)(1 + i * g->kw) * oc16 + c0;
                for (int j = j0; j < j1; j++) {
                    __m128i xb = _mm_maskz_loadu_epi8(mk, xr + (size_t)(bx + j * g->dw) * C);
                    __m512i xv = _mm512_sub_epi32(_mm512_cvtepu8_epi32(xb), zx);
                    __m512i wv = _mm512_loadu_si512(kr + (size_t)j * oc16);
                    acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(xv, wv));
                }
            }
            __m512i q = requant16(acc, m, flo, fhi, z);
            _mm_mask_storeu_epi8(y + ((size_t)row * g->ow + ow) * C + c0, mk,
                                 _mm512_cvtepi32_epi8(q));
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
