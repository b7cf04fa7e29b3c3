/* ukr.h - private to src/kernels: the per-ISA inner loops ("micro-kernels").
 *
 * ukr_tmpl.h holds the loops once, written against a handful of vector
 * primitives; ukr_generic.c, ukr_avx2.c and ukr_avx512.c each define the
 * primitives and include it, giving one cr_ukr table per SIMD level. The
 * drivers (gemm.c, conv.c, depthwise.c, pooling.c) do the blocking and the
 * thread split and call the table of the selected level.
 *
 * Every loop here computes each output element by the same sequence of
 * float operations wherever the element falls (full vector or masked tail,
 * interior or border of the image), which is what makes the drivers'
 * results independent of the thread split.
 */
#ifndef CR_KERNELS_UKR_H
#define CR_KERNELS_UKR_H

#include "kernels.h"

/* K is cut into blocks of at most CR_KC (the count depends on K only);
 * every C element sums each block in registers, then adds it to C. */
#define CR_KC 256

typedef struct cr_ukr {
    cr_isa isa;
    int vw;                    /* floats per vector: the channel chunk */
    int mr, nr;                /* gemm tile: mr rows x nr (= 2 vw) columns */

    /* C[rows, cols] = act((add ? C : 0) + A B (+ bias[cols], if not NULL))
     * for one tile, rows <= mr, cols <= nv*vw. a: packed A [kc][mr] (lda 0)
     * or, when rows == mr, the rows of A in place (row r at a + r*lda); b:
     * packed B [kc][nv*vw]; nv 1|2; act a cr_act. */
    void (*gemm)(int kc, const float *a, int lda, const float *b, int nv, float *c, int ldc,
                 int rows, int cols, bool add, const float *bias, int act);

    /* The same for rows of C (any number of columns) with B read in place
     * (row stride ldb), for products with very few rows. */
    void (*gemm_direct)(int kc, const float *a, int lda, const float *b, int ldb, float *c,
                        int ldc, int rows, int cols, bool add, const float *bias, int act);

    /* Packing for gemm (see ukr_tmpl.h): B into panels of nr (or, last,
     * vw) columns; A into micro-panels of mr rows (untransposed A: only a
     * last partial one, the rest is read in place). */
    void (*pack_a)(const float *a, int lda, bool ta, int rows, int kc, float *ap);
    void (*pack_b)(const float *b, int ldb, bool tb, int kc, int ncols, float *bp);

    /* Depthwise (depth multiplier 1) forward, output row `row` of n*oh,
     * stored through the activation act (a cr_act). */
    void (*dw_row)(const cr_conv_geom *g, const float *x, const float *k, const float *bias,
                   float *y, int64_t row, int act);
    /* Depthwise (dm 1) backward for channels [c0, c1); NULL outputs skipped. */
    void (*dw_back)(const cr_conv_geom *g, const float *x, const float *k, const float *dy,
                    float *dx, float *dk, float *dbias, int c0, int c1);
    /* Max or average pooling forward, output row `row` of n*oh. */
    void (*pool_row)(const cr_conv_geom *g, const float *x, float *y, int64_t row, bool max);
    /* Pooling backward for channels [c0, c1) (x, y unused for average). */
    void (*pool_back)(const cr_conv_geom *g, const float *x, const float *y, const float *dy,
                      float *dx, int c0, int c1, bool max);
    /* dst[c] += sum over r < rows of src[r*ld + c], c in [c0, c1). */
    void (*colsum)(const float *src, int64_t rows, int ld, float *dst, int c0, int c1);
    /* Conv2D col2im for channels [c0, c1): dx += the rows r0.. of col
     * ([rows][kh][kw][c]) scattered back to their input cells. */
    void (*col2im)(const cr_conv_geom *g, const float *col, int64_t r0, int rows, float *dx,
                   int c0, int c1);
    /* Conv2D im2col: rows p0.. of the patch matrix, [kh][kw][c] each. */
    void (*im2col)(const cr_conv_geom *g, const float *x, int64_t p0, int rows, float *d);
} cr_ukr;

extern const cr_ukr cr_ukr_generic;
#if defined(__x86_64__) && defined(__GNUC__)
#define CR_HAVE_X86_UKR 1
extern const cr_ukr cr_ukr_avx2, cr_ukr_avx512;
#endif

/* cr_gemm_packed on the calling thread (K > 0), for drivers that split
 * work themselves (conv2d: im2col and gemm of a row range in one task). */
void cr_gemm_packed_serial(int M, int N, int K, const float *A, int lda, const float *Bp,
                           float *C, int ldc, const float *bias, cr_act act);

/* The table of the selected level. */
const cr_ukr *cr_ukr_get(void);

/* The fused activation (a cr_act) on one float: relu v > 0 ? v : 0, relu6
 * then u < 6 ? u : 6 (NaN gives 0); the vector form in ukr_tmpl.h matches. */
static inline float cr_act_apply(float v, int act)
{
    if (act != CR_ACT_NONE) {
        v = v > 0.0f ? v : 0.0f;
        if (act == CR_ACT_RELU6)
            v = v < 6.0f ? v : 6.0f;
    }
    return v;
}

/* The taps t in [lo, hi) of a window starting at `base` with dilation d and
 * k taps that land inside 0..size-1 (base + t*d). Empty: lo == hi. */
static inline void cr_tap_range(int base, int d, int k, int size, int *lo, int *hi)
{
    int l = base >= 0 ? 0 : (-base + d - 1) / d;
    int h = base > size - 1 ? 0 : (size - 1 - base) / d + 1;
    *lo = l < k ? l : k;
    *hi = h < k ? h : k;
    if (*hi < *lo)
        *hi = *lo;
}

/* Output columns [ow0, ow1) whose kw taps are all inside the image. */
static inline void cr_interior(const cr_conv_geom *g, int *ow0, int *ow1)
{
    int last = g->w - 1 + g->pl - (g->kw - 1) * g->dw;
    *ow0 = (g->pl + g->sw - 1) / g->sw;
    *ow1 = last < 0 ? 0 : last / g->sw + 1;
    if (*ow1 > g->ow)
        *ow1 = g->ow;
}

/* Splits 0..n into chunks of `unit` and hands task ith of nth its share,
 * as [lo, hi) clipped to n. */
static inline void cr_split_units(int64_t n, int64_t unit, int ith, int nth, int64_t *lo,
                                  int64_t *hi)
{
    cr_split((n + unit - 1) / unit, ith, nth, lo, hi);
    *lo *= unit;
    *hi *= unit;
    if (*hi > n)
        *hi = n;
    if (*lo > n)
        *lo = n;
}

/* How many tasks to split `units` independent pieces of `work` (any unit,
 * e.g. multiply-adds) into: no more than the pool has threads, and only
 * when each task gets at least min_work. */
static inline int cr_tasks(const cr_pool *p, int64_t units, double work, double min_work)
{
    int64_t n = cr_pool_size(p);
    if (work < min_work * n)
        n = (int64_t)(work / min_work);
    if (n > units)
        n = units;
    return n < 1 ? 1 : (int)n;
}

#endif
