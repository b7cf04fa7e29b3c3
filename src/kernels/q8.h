/* q8.h - private to src/kernels: the int8 kernels' per-level inner loops.
 *
 * q8_generic.c defines the portable loops (the definition of every result);
 * q8_avx2.c, q8_avxvnni.c and q8_avx512.c give the same bytes faster. The
 * drivers (q8_gemm.c, q8_conv.c, q8_pool.c) do the blocking and the thread
 * split and call the table of the selected level (q8_isa.c).
 *
 * Packed gemm weights (cr_q8_gemm_pack; the same for every level): panels
 * of Q8_NR = 16 output columns, K padded to K4 = a multiple of 4 with zero
 * weights; panel j at Bp + j * q8_panel_bytes(K):
 *     int32 bias[16]                    bias - z_a * column sums (0 past N)
 *     int8  w[K4 / 4][16][4]            w[k/4][col][k%4] = B[k][col]
 * so that 4 consecutive k of one column are one int32 lane (vpdpbusd's u8 x
 * s8 groups of 4), and a 64-byte row of the panel is 16 columns x 4 k.
 *
 * Packed depthwise weights: int32 bias[OC16], then int32 w[kh*kw][OC16]
 * (OC16 = oc rounded up to 16, zeros past oc): widened once, so the inner
 * loops multiply int32 lanes.
 */
#ifndef CR_KERNELS_Q8_H
#define CR_KERNELS_Q8_H

#include "ukr.h"

#include <math.h>
#include <string.h>

#define Q8_NR 16

static inline int q8_k4(int K) { return (K + 3) & ~3; }

static inline size_t q8_panel_bytes(int K) { return 64 + (size_t)16 * q8_k4(K); }

static inline int q8_oc16(int oc) { return (oc + 15) & ~15; }

typedef struct cr_q8_ukr {
    cr_q8_isa isa;
    int mr;                    /* gemm tile rows (columns: one or more panels) */
    int nr;                    /* gemm tile columns, a multiple of Q8_NR */

    /* One tile of C: rows <= mr rows, cols <= nr columns. A row r is at
     * a + r*lda (K bytes); bp is the tile's first panel (the next ones
     * follow, q8_panel_bytes(K) apart); j0 is the tile's first column (for
     * per-channel multipliers). Stores uint8 through rq into c, or, when c
     * is NULL, the int32 accumulators into c32; row stride ldc. */
    void (*gemm)(int K, const uint8_t *a, size_t lda, const int8_t *bp, int rows, int cols,
                 uint8_t *c, int32_t *c32, size_t ldc, const cr_q8_req *rq, int j0);

    /* Depthwise, depth multiplier 1: output row `row` of n*oh. */
    void (*dw_row)(const cr_conv_geom *g, const uint8_t *x, int32_t z_x, const int32_t *kp,
                   const cr_q8_req *rq, uint8_t *y, int64_t row);
} cr_q8_ukr;

extern const cr_q8_ukr cr_q8_ukr_generic;
#ifdef CR_HAVE_X86_UKR
extern const cr_q8_ukr cr_q8_ukr_avx2, cr_q8_ukr_avxvnni, cr_q8_ukr_avx512;
#endif

/* The table of the selected level. */
const cr_q8_ukr *cr_q8_ukr_get(void);

/* The requantization of one accumulator (kernels.h), the definition every
 * vector form matches: flo = lo - z, fhi = hi - z as floats. */
static inline uint8_t q8_requant(int32_t acc, float m, float flo, float fhi, int32_t z)
{
    float f = (float)acc * m;
    f = f > flo ? f : flo;
    f = f < fhi ? f : fhi;
    return (uint8_t)((int32_t)lrintf(f) + z);
}

/* The multiplier of column j. */
static inline float q8_m(const cr_q8_req *rq, int j)
{
    return rq->per_tensor ? rq->m[0] : rq->m[j];
}

/* a * b + c on int32 wrapping modulo 2^32 (no signed overflow). */
static inline int32_t q8_mac(int32_t c, int32_t a, int32_t b)
{
    uint32_t r = (uint32_t)c + (uint32_t)a * (uint32_t)b;
    int32_t s;
    memcpy(&s, &r, sizeof s);
    return s;
}

/* C[M, n0..n1) (uint8 through rq, or int32 into C32 when C is NULL) on
 * the calling thread: C and C32 point at row 0, column 0. */
void q8_gemm_serial(const cr_q8_ukr *u, int M, int n0, int n1, int K, const uint8_t *A,
                    size_t lda, const void *Bp, uint8_t *C, int32_t *C32, size_t ldc,
                    const cr_q8_req *rq);

/* Rows per chunk of a gemm (whole row tiles) for M rows of macs_per_row
 * multiply-adds each, with n_col_chunks column chunks per row block. */
int q8_rows_per_chunk(const cr_q8_ukr *u, int64_t M, double macs_per_row, int n_col_chunks,
                      int nth);

/* The depthwise output cell (row, ow) for output channels [o0, o1) of any
 * depth multiplier, in plain C (used by every level for dm > 1 and by the
 * generic level for all). */
void q8_dw_cell(const cr_conv_geom *g, const uint8_t *x, int32_t z_x, const int32_t *kp,
                const cr_q8_req *rq, uint8_t *y, int64_t row, int ow, int o0, int o1);

#endif
