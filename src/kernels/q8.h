/* q8.h - private to src/kernels: the int8 kernels' per-level inner loops.
 *
 * q8_generic.c defines the portable loops (the definition of every result);
 * q8_avx2.c, q8_avxvnni.c and q8_avx512.c give the same bytes faster. The
 * drivers (q8_gemm.c, q8_conv.c, q8_pool.c) do the blocking and the thread
 * split and call the table of the selected level (q8_isa.c). For AVX2 (no
 * u8 x s8 dot product without saturation: vpmaddwd on int16) the gemm
 * driver widens each block of rows of A to int16 once, on its stack, for
 * all the column tiles it multiplies (gemm16); short rows (K4 <= 64) go to
 * gemm_small, which also re-lays the chunk's weights as int16 on its stack.
 *
 * Packed gemm weights (cr_q8_gemm_pack; the same for every level): panels
 * of Q8_NR = 16 output columns, K padded to K4 = a multiple of 4 with zero
 * weights; panel j at Bp + j * q8_panel_bytes(K):
 *     int32 bias[16]                    bias - z_a * column sums (0 past N)
 *     int8  w[K4 / 4][16][4]            w[k/4][col][k%4] = B[k][col]
 * so that 4 consecutive k of one column are one int32 lane (vpdpbusd's u8 x
 * s8 groups of 4), and a 64-byte row of the panel is 16 columns x 4 k.
 *
 * Packed depthwise weights: blocks of 64 output channels (zeros past oc),
 * block b at kp + b * q8_dw_block_bytes(kh, kw):
 *     int32 bias[64]                    in quad order (below)
 *     int32 wsum[64]                    the sum of the channel's weights, quad order
 *     int8  w[G][4][64]                 G = kw * ceil(kh / 4) groups of 4 taps:
 *                                       group j * ceil(kh / 4) + i / 4 holds kernel
 *                                       rows i (4 of them, zeros past kh) of column j
 * Quad order: 4 vectors q of 16 int32 lanes; lane 4L + j of vector q is
 * channel 16L + 4q + j of the block, which is where interleaving the bytes
 * of 4 inputs (unpack 8-bit, then 16-bit, within 128-bit lanes) puts that
 * channel; packing the 4 vectors back (32 -> 16 -> 8 bits) restores channel
 * order. Byte 4 * lane + i % 4 of w[g][q] is that channel's weight for
 * kernel row i, so vpdpbusd of 4 interleaved input rows with w[g][q] adds
 * 4 taps of a kernel column.
 */
#ifndef CR_KERNELS_Q8_H
#define CR_KERNELS_Q8_H

#include "ukr.h"

#include <math.h>
#include <string.h>

#define Q8_NR 16
#define Q8_A16_ELEMS (1 << 15)   /* int16 of widened A on the driver's stack: 64 KB */
#define Q8_SMALL_K4 64           /* gemm_small: rows of at most this many k */
#define Q8_SMALL_ELEMS (1 << 14) /* gemm_small: int16 weights on its stack: 32 KB */

static inline int q8_k4(int K) { return (K + 3) & ~3; }

static inline size_t q8_panel_bytes(int K) { return 64 + (size_t)16 * q8_k4(K); }

/* Kernel rows in groups of 4, per kernel column. */
static inline int q8_dw_gc(int kh) { return (kh + 3) / 4; }

static inline size_t q8_dw_block_bytes(int kh, int kw)
{
    return 512 + (size_t)256 * kw * q8_dw_gc(kh);
}

/* Depthwise 3x3, dilation 1, stride 1 or 2 across, depth multiplier 1. */
static inline bool q8_dw3_shape(const cr_conv_geom *g)
{
    return g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && (g->sw == 1 || g->sw == 2) &&
           g->oc == g->c;
}

/* The quad-order index (0..63) of channel cc (0..63) of a block. */
static inline int q8_dw_lane(int cc) { return (cc & 12) * 4 + (cc >> 4) * 4 + (cc & 3); }

/* Where the weight of kernel row i, column j of output channel o is in a
 * packed depthwise kernel, and where its bias is. */
static inline size_t q8_dw_w_at(int kh, int kw, int o, int i, int j)
{
    return (size_t)(o / 64) * q8_dw_block_bytes(kh, kw) + 512 +
           (size_t)(j * q8_dw_gc(kh) + i / 4) * 256 + 4 * q8_dw_lane(o % 64) + i % 4;
}

static inline size_t q8_dw_bias_at(int kh, int kw, int o)
{
    return (size_t)(o / 64) * q8_dw_block_bytes(kh, kw) + 4 * q8_dw_lane(o % 64);
}

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

    /* The same tile with A already widened to int16 (AVX2, NULL elsewhere):
     * row r at a + r*lda, q8_k4(K) elements (zeros past K). The driver
     * widens a block of rows once for all its column tiles and calls this
     * when mr rows of q8_k4(K) fit its stack buffer (Q8_A16_ELEMS). */
    void (*gemm16)(int K, const int16_t *a, size_t lda, const int8_t *bp, int rows, int cols,
                   uint8_t *c, int32_t *c32, size_t ldc, const cr_q8_req *rq, int j0);

    /* rows rows of A (K bytes each, stride lda) as int16 rows of q8_k4(K),
     * zeros past K, for gemm16 (AVX2, NULL elsewhere). */
    void (*widen)(const uint8_t *A, size_t lda, int rows, int K, int16_t *d);

    /* C[M, n0..n1) as q8_gemm_serial, for short rows (AVX2, NULL elsewhere):
     * called when q8_k4(K) <= Q8_SMALL_K4 and the panels of [n0, n1) hold
     * at most Q8_SMALL_ELEMS weights, which it re-lays on its stack. */
    void (*gemm_small)(int M, int n0, int n1, int K, const uint8_t *A, size_t lda,
                       const int8_t *Bp, uint8_t *C, int32_t *C32, size_t ldc,
                       const cr_q8_req *rq);

    /* Conv2D output pixels [p0, p0 + M) into y (row 0 of the output), for
     * short patches (AVX2, NULL elsewhere): called when gemm_small would
     * take the whole of the im2col gemm (q8_k4(K) <= Q8_SMALL_K4, all oc
     * columns' panels within Q8_SMALL_ELEMS), which it does without the
     * byte patch matrix. */
    void (*conv_small)(const cr_conv_geom *g, const uint8_t *x, int32_t z_x, const void *kp,
                       const cr_q8_req *rq, uint8_t *y, int64_t p0, int M);

    /* The elementwise kernels of kernels.h on n elements. */
    void (*add)(int64_t n, const uint8_t *a, int32_t z_a, float ma, const uint8_t *b,
                int32_t z_b, float mb, uint8_t *y, int32_t z_y, int32_t lo, int32_t hi);
    void (*quantize)(int64_t n, const float *x, float s, int32_t z, uint8_t *q);
    void (*dequantize)(int64_t n, const uint8_t *q, float s, int32_t z, float *x);

    /* Depthwise, depth multiplier 1: output rows [r0, r1) of n*oh. */
    void (*dw_rows)(const cr_conv_geom *g, const uint8_t *x, int32_t z_x, const uint8_t *kp,
                    const cr_q8_req *rq, uint8_t *y, int64_t r0, int64_t r1);

    /* The same for a shape q8_dw3_shape takes, channels [c0, c1) only (c0
     * a multiple of 16), so that threads can split few rows by channels
     * (AVX2, NULL elsewhere). */
    void (*dw3_rows)(const cr_conv_geom *g, const uint8_t *x, int32_t z_x, const uint8_t *kp,
                     const cr_q8_req *rq, uint8_t *y, int64_t r0, int64_t r1, int c0, int c1);
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

/* Quantize multiplies by the reciprocal of the scale, rounded to float once
 * (XNNPACK's float -> int8 conversion, LiteRT's QUANTIZE, does the same;
 * x / s differs from it at ties, which inputs such as p / 127.5 - 1 with
 * s = 2 / 255 hit often). The ONNX export writes this Mul before a
 * QuantizeLinear of scale 1 (ONNX Runtime's QuantizeLinear divides). */
static inline float q8_inv_scale(float s)
{
    return 1.0f / s;
}

/* The multiplier of column j. */
static inline float q8_m(const cr_q8_req *rq, int j)
{
    return rq->per_tensor ? rq->m[0] : rq->m[j];
}

/* n <= 64 bytes from s to d in fixed-size pieces (no library call). */
static inline void q8_copy_small(uint8_t *d, const uint8_t *s, int n)
{
    for (; n >= 8; n -= 8, d += 8, s += 8)
        memcpy(d, s, 8);
    if (n & 4) {
        memcpy(d, s, 4);
        d += 4, s += 4;
    }
    if (n & 2) {
        memcpy(d, s, 2);
        d += 2, s += 2;
    }
    if (n & 1)
        *d = *s;
}

/* The n (1..4) bytes at p as the low bytes of an int32 (zeros above). */
static inline int32_t q8_load_upto4(const uint8_t *p, int n)
{
    uint32_t v = p[0];
    if (n > 1)
        v |= (uint32_t)p[1] << 8;
    if (n > 2)
        v |= (uint32_t)p[2] << 16;
    if (n > 3)
        v |= (uint32_t)p[3] << 24;
    int32_t r;
    memcpy(&r, &v, sizeof r);
    return r;
}

/* a * b + c on int32 wrapping modulo 2^32 (no signed overflow). */
static inline int32_t q8_mac(int32_t c, int32_t a, int32_t b)
{
    uint32_t r = (uint32_t)c + (uint32_t)a * (uint32_t)b;
    int32_t s;
    memcpy(&s, &r, sizeof s);
    return s;
}

/* The generic elementwise loops (the vector levels finish their tails
 * with them). */
void q8_add_generic(int64_t n, const uint8_t *a, int32_t z_a, float ma, const uint8_t *b,
                    int32_t z_b, float mb, uint8_t *y, int32_t z_y, int32_t lo, int32_t hi);
void q8_quantize_generic(int64_t n, const float *x, float s, int32_t z, uint8_t *q);
void q8_dequantize_generic(int64_t n, const uint8_t *q, float s, int32_t z, float *x);

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
void q8_dw_cell(const cr_conv_geom *g, const uint8_t *x, int32_t z_x, const uint8_t *kp,
                const cr_q8_req *rq, uint8_t *y, int64_t row, int ow, int o0, int o1);

#endif
