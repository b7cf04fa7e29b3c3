/* kernels.h - the narrow interface between crest's ops and its hot loops.
 *
 * Everything here works on plain float arrays, row-major, images NHWC.
 * Kernels are pure and have no error paths (callers validate shapes first).
 * They allocate nothing except cr_gemm's packing buffers for large products
 * (up to about 0.6 MB per thread; if that allocation fails, a 40 KB stack
 * buffer is used instead: slower, same results; small products always use
 * the stack). Conv2D takes its im2col scratch from the caller.
 *
 * Threads: every kernel takes a cr_pool (NULL = run on the calling thread).
 * Work is split over *outputs* only (rows, columns, channels, images), and each
 * output element is always computed with the same sequence of float
 * operations, so results are bit-identical for any thread count.
 * Denormals are flushed in every worker (and the caller, via cr_pool_run).
 *
 * Speed: buffers aligned to 64 bytes are noticeably faster (20-35% for
 * depthwise convolution), as vector loads then never straddle cache lines.
 * Small kernels run on one thread; the pool hands a job over in about a
 * microsecond when its workers have just finished another (they poll for a
 * millisecond before sleeping), and kernels cut their work into more
 * chunks than threads, claimed dynamically, so a late thread costs nothing.
 */
#ifndef CR_KERNELS_H
#define CR_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Hot loops written for the compiler to vectorize are built three times,
 * for AVX-512, AVX2+FMA and plain x86-64, and picked at load time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__clang_analyzer__)
#define CR_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define CR_CLONES
#endif

/* ---- code paths --------------------------------------------------------- */

/* The SIMD level the kernels use. The library is built for plain x86-64;
 * AVX2+FMA and AVX-512 code is compiled with per-function target attributes
 * and chosen at run time from what the CPU supports. Results are
 * deterministic for a given level; different levels may differ in the last
 * bits (the generic level does not fuse multiply-adds). */
typedef enum cr_isa { CR_ISA_GENERIC = 0, CR_ISA_AVX2 = 1, CR_ISA_AVX512 = 2 } cr_isa;

/* The environment variable CREST_ISA caps the levels both kinds of kernels
 * choose: generic < avx2 < avxvnni < avx512 < avx512vnni (float32 takes the
 * highest of generic, avx2, avx512 at or under it; int8 of generic, avx2,
 * avxvnni, avx512vnni). Its rank in that list, read once; 4 when it is
 * unset or names no level. */
int cr_isa_cap(void);
bool cr_isa_cap_ignored(void);         /* CREST_ISA is set but names no level */
cr_isa cr_isa_best(void);              /* the best level this CPU supports, capped */
cr_isa cr_isa_current(void);           /* the level in use (default: best) */
const char *cr_isa_name(cr_isa isa);   /* "generic", "avx2", "avx512" */
/* For tests and benchmarks: use `isa` (lowered to cr_isa_best() if needed)
 * from now on and return the level in force. Call while no kernel runs. */
cr_isa cr_isa_select(cr_isa isa);

/* ---- thread pool (threads.c) ------------------------------------------- */

typedef struct cr_pool cr_pool;

/* A pool of n_threads workers in total, counting the caller (n_threads <= 1:
 * no worker threads). Returns NULL on allocation or thread creation failure. */
cr_pool *cr_pool_new(int n_threads);
void cr_pool_free(cr_pool *p);                 /* NULL is a no-op */
int cr_pool_size(const cr_pool *p);            /* 1 for NULL */

/* Runs fn(ctx, ith, nth) for ith = 0..nth-1 with nth = min(n_tasks, size),
 * the caller taking ith = 0, and returns when all are done. While a job
 * runs, other calls on the same pool (nested ones from inside a task, or
 * from another thread) run their tasks serially on their own thread. */
typedef void (*cr_task_fn)(void *ctx, int ith, int nth);
void cr_pool_run(cr_pool *p, int n_tasks, cr_task_fn fn, void *ctx);
/* Runs fn(ctx, i, n_chunks) for every i < n_chunks (any number), each once,
 * on whichever thread claims it first (the caller included). */
void cr_pool_chunks(cr_pool *p, int n_chunks, cr_task_fn fn, void *ctx);

/* Helper: the [lo, hi) part of 0..n that task ith of nth owns. */
static inline void cr_split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi)
{
    int64_t q = n / nth, r = n % nth;
    *lo = ith * q + (ith < r ? ith : r);
    *hi = *lo + q + (ith < r ? 1 : 0);
}

/* ---- dense linear algebra --------------------------------------------- */

/* Activations fused into a kernel's stores (after the bias): relu gives
 * v > 0 ? v : 0, relu6 then min(that, 6); NaN gives 0. */
typedef enum cr_act { CR_ACT_NONE = 0, CR_ACT_RELU = 1, CR_ACT_RELU6 = 2 } cr_act;

/* C[M,N] = beta * C + op(A)[M,K] * op(B)[K,N]
 * op(A) = A (lda >= K) or, if ta, A^T with A stored [K,M] (lda >= M); same for B.
 * beta is 0 or 1 (0: C is overwritten, never read, may hold NaN garbage). */
void cr_gemm(cr_pool *p, bool ta, bool tb, int M, int N, int K,
             const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc);
/* The same, then C[i][j] += bias[j] (bias [N], or NULL), in the same pass
 * (a Dense layer's xW + b). Other beta values than 0 and 1 also work. */
void cr_gemm_bias(cr_pool *p, bool ta, bool tb, int M, int N, int K,
                  const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc, const float *bias);
/* The same, then C = act(C), also in the same pass. */
void cr_gemm_ep(cr_pool *p, bool ta, bool tb, int M, int N, int K,
                const float *A, int lda, const float *B, int ldb,
                float beta, float *C, int ldc, const float *bias, cr_act act);

/* B packed once (a layer's weights) into the layout the micro-kernel reads,
 * for the SIMD level in force when packing (pack again after cr_isa_select).
 * cr_gemm_packed_floats: the size of Bp for op(B) [K,N]; cr_gemm_pack fills
 * it (op(B) = B, or B^T if tb, as in cr_gemm). */
size_t cr_gemm_packed_floats(int K, int N);
void cr_gemm_pack(bool tb, int K, int N, const float *B, int ldb, float *Bp);
/* C[M,N] = act(A[M,K] B + bias) with B packed by cr_gemm_pack (bias [N] or
 * NULL; C overwritten). The same bits as cr_gemm_ep with beta 0, for any
 * thread count: threads claim tiles of C (pixels x output channels). */
void cr_gemm_packed(cr_pool *p, int M, int N, int K, const float *A, int lda,
                    const float *Bp, float *C, int ldc, const float *bias, cr_act act);

/* ---- convolution (NHWC, kernels HWIO like Keras) ------------------------ */

/* Geometry of a window op. Strides and dilations are >= 1 (pooling: dh =
 * dw = 1); output cell (oh, ow) reads input rows oh*sh - pt + i*dh and
 * columns ow*sw - pl + j*dw, skipping those outside the image. */
typedef struct cr_conv_geom {
    int n, h, w, c;            /* input  [n,h,w,c] */
    int oh, ow, oc;            /* output [n,oh,ow,oc] (oc = c*depth_multiplier for depthwise) */
    int kh, kw;                /* kernel size */
    int sh, sw;                /* strides */
    int dh, dw;                /* dilation */
    int pt, pl;                /* top / left zero padding (bottom/right follow from oh/ow) */
} cr_conv_geom;

/* Conv2D forward: x [n,h,w,c], k [kh,kw,c,oc], bias [oc] or NULL, y [n,oh,ow,oc].
 * scratch: cr_conv2d_scratch(g, n_threads) floats (may be 0, then NULL is
 * fine); forward and backward take the same amount. It does not depend on
 * n_threads, and stays bounded (about 1 MB) whatever the image size. */
size_t cr_conv2d_scratch(const cr_conv_geom *g, int n_threads);
void cr_conv2d(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
               const float *bias, float *y, float *scratch);
/* The same with y = act(conv + bias) in the gemm's stores; kp: NULL, or the
 * kernel packed by cr_conv2d_pack (cr_conv2d_packed_floats(g) floats; then
 * k is not read). Same bits either way. */
void cr_conv2d_ep(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                  const float *kp, const float *bias, cr_act act, float *y, float *scratch);
size_t cr_conv2d_packed_floats(const cr_conv_geom *g);
void cr_conv2d_pack(const cr_conv_geom *g, const float *k, float *kp);
/* Backward. Each output pointer may be NULL (not needed). All accumulate (+=). */
void cr_conv2d_backward(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                        const float *dy, float *dx, float *dk, float *dbias, float *scratch);

/* DepthwiseConv2D: k [kh,kw,c,dm] (Keras layout), oc = c*dm, output channel
 * ci*dm + j comes from input channel ci and k[..,..,ci,j]. */
void cr_depthwise2d(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                    const float *bias, float *y);
/* The same with y = act(...) applied in the stores. */
void cr_depthwise2d_act(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                        const float *bias, cr_act act, float *y);
/* Backward. Each output pointer may be NULL (not needed). All accumulate (+=). */
void cr_depthwise2d_backward(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                             const float *dy, float *dx, float *dk, float *dbias);

/* Pooling over windows (padding cells are ignored: average divides by the
 * number of valid cells, as Keras 'same' average pooling does). oc == c.
 * Max ignores NaN inputs; a window with no valid (or only NaN) cells gives
 * -inf for max, 0 for average. Max backward sends each gradient to the first
 * cell, in window order (row-major), that equals y. Backward passes
 * accumulate (+=) into dx. */
void cr_maxpool2d(cr_pool *p, const cr_conv_geom *g, const float *x, float *y);
void cr_maxpool2d_backward(cr_pool *p, const cr_conv_geom *g, const float *x,
                           const float *y, const float *dy, float *dx);
void cr_avgpool2d(cr_pool *p, const cr_conv_geom *g, const float *x, float *y);
void cr_avgpool2d_backward(cr_pool *p, const cr_conv_geom *g, const float *dy, float *dx);

/* ---- int8 inference (q8*.c) ------------------------------------------------
 *
 * Number formats (those of ONNX QLinear*, TFLite and XNNPACK's "fp32
 * requantization"):
 * - Activations: uint8, per tensor: real = s * (q - z), z in [0, 255].
 *   (TFLite's int8 activations are the same numbers shifted: q8 = q - 128,
 *   z8 = z - 128.)
 * - Weights: int8, symmetric, per output channel: real = s_w[c] * q, q in
 *   [-127, 127] (-128 is not used).
 * - Biases: int32 in units of s_in * s_w[c].
 * - Accumulator: acc = bias[c] + sum over taps of (x - z_in) * w, in int32
 *   (exact when taps * 255 * 127 plus the bias fits in 31 bits, about 66000
 *   taps; beyond that it wraps, the same way at every level).
 * - Requantization of acc to the output, exactly (so that every SIMD level
 *   gives the same bytes):
 *       f = (float)acc * m[c]           m[c] = (float)(s_in * s_w[c]) / s_out
 *       f = min(max(f, lo - z_out), hi - z_out)    (max(a, b) = a > b ? a : b)
 *       q = (int)nearbyint(f) + z_out   (round half to even)
 *   one conversion, one multiply, no FMA, clamp then round; m[c] in float
 *   arithmetic (product, then quotient: two roundings, as ONNX Runtime and
 *   XNNPACK compute it from the scales; src/quant_graph.c). A fused
 *   activation is the clamp: none lo = 0, hi = 255; relu lo = z_out; relu6
 *   lo = z_out, hi = min(255, z_out + round(6 / s_out)).
 * - Padding taps of a convolution read z_in (a real zero).
 * - Quantize: q = clamp(nearbyint(x * r) + z, 0, 255), r = 1.0f / s (in
 *   float, as XNNPACK's conversion in LiteRT; NaN gives 0). Dequantize:
 *   x = (float)(q - z) * s.
 *
 * Levels: the int8 kernels have their own SIMD levels (cr_q8_isa), chosen
 * at run time like the float ones; every level gives the same bytes (the
 * generic level is the definition). Packed weights do not depend on the
 * level: pack once, run at any level. They are an in-memory layout only
 * (save the int8 weights, not the packed bytes).
 *
 * Threads: work is split over outputs (pixels x channels); integer sums are
 * exact, so results are bit-identical for any thread count. The kernels
 * allocate nothing (conv2d takes its im2col scratch from the caller; the
 * AVX2 level's gemm widens rows of A into a 64 KB buffer on the stack, or
 * for rows of at most 64 k the weights into a 32 KB one) and
 * have no error paths: callers validate shapes, zero points (0..255) and
 * 0 <= lo <= hi <= 255. Buffers need no particular alignment.
 */

typedef enum cr_q8_isa {
    CR_Q8_GENERIC = 0,     /* portable C: the definition */
    CR_Q8_AVX2 = 1,        /* AVX2: bytes widened to int16, vpmaddwd */
    CR_Q8_AVXVNNI = 2,     /* AVX-VNNI: vpdpbusd on 256-bit vectors */
    CR_Q8_AVX512VNNI = 3,  /* AVX-512 VNNI (with BW, VL): vpdpbusd on 512 bits */
} cr_q8_isa;

cr_q8_isa cr_q8_isa_best(void);            /* the best level this CPU supports, capped */
cr_q8_isa cr_q8_isa_current(void);         /* the level in use (default: best) */
/* "generic", "avx2", "avxvnni", "avx512vnni" */
const char *cr_q8_isa_name(cr_q8_isa isa);
/* For tests and benchmarks: whether this CPU can run level `isa`. */
bool cr_q8_isa_supported(cr_q8_isa isa);
/* For tests and benchmarks: use `isa` from now on (the best level if this
 * CPU cannot run it) and return the level in force. Call while no kernel
 * runs. */
cr_q8_isa cr_q8_isa_select(cr_q8_isa isa);

/* How an int32 accumulator becomes an output byte (see above). */
typedef struct cr_q8_req {
    const float *m;        /* [oc] multipliers (or one, if per_tensor) */
    bool per_tensor;       /* m[0] for every channel */
    int32_t z_out;         /* output zero point */
    int32_t lo, hi;        /* clamp of q, 0 <= lo <= hi <= 255 */
} cr_q8_req;

/* ---- int8 gemm: C[M,N] (uint8) = requant(A[M,K] (uint8, zero z_a) B[K,N]
 * (int8) + bias). B is packed once (cr_q8_gemm_packed_bytes(K, N) bytes):
 * from B [K][N] row-major (a Dense kernel, or a 1x1 convolution's [ci][co])
 * and bias [N] (int32, or NULL for zeros); packing folds -z_a * (column sums
 * of B) into the bias, so the kernels multiply raw bytes. */
size_t cr_q8_gemm_packed_bytes(int K, int N);
void cr_q8_gemm_pack(int K, int N, const int8_t *B, const int32_t *bias, int32_t z_a, void *Bp);
/* A: M rows of K bytes, row stride lda >= K; C: row stride ldc >= N. */
void cr_q8_gemm_packed(cr_pool *p, int M, int N, int K, const uint8_t *A, int lda,
                       const void *Bp, uint8_t *C, int ldc, const cr_q8_req *rq);
/* The same product, with the int32 accumulators out (for a float or int32
 * consumer), C row stride ldc >= N. */
void cr_q8_gemm_packed_i32(cr_pool *p, int M, int N, int K, const uint8_t *A, int lda,
                           const void *Bp, int32_t *C, int ldc);

/* ---- int8 Conv2D: x [n,h,w,c] uint8 (zero z_x), k [kh,kw,c,oc] int8
 * (HWIO), bias [oc] int32 or NULL, y [n,oh,ow,oc] uint8. The kernel is
 * packed once for its z_x (cr_q8_conv2d_packed_bytes(g) bytes); scratch:
 * cr_q8_conv2d_scratch(g, n_threads) bytes (0 for 1x1 convolutions with
 * stride 1 and no padding, which multiply x in place; otherwise about 1 MB
 * at most, whatever the image size and thread count). */
size_t cr_q8_conv2d_packed_bytes(const cr_conv_geom *g);
void cr_q8_conv2d_pack(const cr_conv_geom *g, const int8_t *k, const int32_t *bias,
                       int32_t z_x, void *kp);
size_t cr_q8_conv2d_scratch(const cr_conv_geom *g, int n_threads);
void cr_q8_conv2d(cr_pool *p, const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                  const void *kp, const cr_q8_req *rq, uint8_t *y, void *scratch);

/* ---- int8 DepthwiseConv2D: k [kh,kw,c,dm] int8 (Keras layout), oc = c*dm,
 * output channel ci*dm + j from input channel ci; bias [oc] int32 or NULL.
 * Packed once (cr_q8_depthwise2d_packed_bytes(g) bytes). */
size_t cr_q8_depthwise2d_packed_bytes(const cr_conv_geom *g);
void cr_q8_depthwise2d_pack(const cr_conv_geom *g, const int8_t *k, const int32_t *bias,
                            void *kp);
void cr_q8_depthwise2d(cr_pool *p, const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                       const void *kp, const cr_q8_req *rq, uint8_t *y);

/* ---- int8 elementwise add of n bytes, exactly:
 *   f = (float)(a - z_a) * ma + (float)(b - z_b) * mb
 * (ma = s_a / s_y, mb = s_b / s_y; two products, one sum, no FMA), then
 * clamped, rounded and shifted by z_y with lo/hi as in the requantization.
 * y may be a or b. */
void cr_q8_add(cr_pool *p, int64_t n, const uint8_t *a, int32_t z_a, float ma,
               const uint8_t *b, int32_t z_b, float mb, uint8_t *y, int32_t z_y,
               int32_t lo, int32_t hi);

/* ---- int8 pooling (oc == c). Max: on the bytes (input and output share
 * s and z); a window with no valid cell gives 0. Average: acc = sum over
 * the window's valid cells of (x - z_x) (int32), then f = (float)acc *
 * (m / (float)count) (m = s_x / s_y; count the number of valid cells, as
 * in cr_avgpool2d; f = 0 when there is none), then clamped, rounded and
 * shifted by z_y as in the requantization. Global average pooling is
 * average pooling with the whole image as the window. */
void cr_q8_maxpool2d(cr_pool *p, const cr_conv_geom *g, const uint8_t *x, uint8_t *y);
void cr_q8_avgpool2d(cr_pool *p, const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                     float m, uint8_t *y, int32_t z_y, int32_t lo, int32_t hi);

/* ---- conversions of n values (see the number formats above) */
void cr_q8_quantize(cr_pool *p, int64_t n, const float *x, float s, int32_t z, uint8_t *q);
void cr_q8_dequantize(cr_pool *p, int64_t n, const uint8_t *q, float s, int32_t z, float *x);

/* ---- int16 x int8 inference (q16.c): TFLite's "16x8" numbers -----------
 *
 * - Activations: int16, per tensor, symmetric: real = s * q (zero point 0).
 * - Weights: int8 per output channel, as the int8 kernels' (q in [-127, 127]).
 * - Biases: int64 in units of s_in * s_w[c].
 * - Accumulator: acc = bias[c] + sum of x * w, exact: int32 partial sums of
 *   at most CR_Q16_FLUSH products (each |x * w| <= 32768 * 127 < 2^22, so a
 *   partial stays below 2^30), added into int64.
 * - Requantization as TFLite's reference int16 kernels, from a Q0.31
 *   multiplier mult[c] and exponent shift[c] (cr_q16_multiplier):
 *       r = mult rounded to 16 bits: (mult + 2^15) >> 16, or 0x7FFF when
 *           mult >= 0x7FFF0000
 *       t = 15 - shift;  v = (acc * r + 2^(t-1)) >> t   (arithmetic shift)
 *       q = min(max(v, lo), hi)
 *   acc is saturated to [-2^47, 2^47) first (TFLite assumes it there). A
 *   fused relu is lo = 0, relu6 hi = min(32767, round(6 / s_out)); none:
 *   [-32768, 32767].
 * - Padding taps read 0.
 * - Quantize: q = clamp(round(x / s), -32768, 32767) (x / s in float, round
 *   half away from zero, NaN gives -32768), as TFLite's reference QUANTIZE;
 *   dequantize: x = (float)q * s.
 * Results do not depend on the thread count.
 */
#define CR_Q16_FLUSH 256

/* TFLite's QuantizeMultiplier: m = mult * 2^(shift - 31), mult in [2^30,
 * 2^31) (round half away from zero of the frexp fraction), with shift
 * kept in [-31, 7] (smaller: mult = 0; larger: the largest multiplier). */
void cr_q16_multiplier(double m, int32_t *mult, int *shift);

/* The requantization above. */
static inline int32_t cr_q16_scale(int64_t acc, int32_t mult, int shift)
{
    const int64_t lim = (int64_t)1 << 47;
    int64_t r = mult < 0x7FFF0000 ? ((int64_t)mult + (1 << 15)) >> 16 : 0x7FFF;
    int t = 15 - shift;
    acc = acc < -lim ? -lim : acc > lim - 1 ? lim - 1 : acc;
    int64_t v = (acc * r + ((int64_t)1 << (t - 1))) >> t;
    return (int32_t)(v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : v);
}

typedef struct cr_q16_req {
    const int32_t *mult;   /* [oc] */
    const int32_t *shift;  /* [oc] */
    const double *rs;      /* [oc] cr_q16_req_scales of them */
    int32_t lo, hi;        /* clamp, -32768 <= lo <= hi <= 32767 */
} cr_q16_req;

/* rs[c] = r * 2^-t of channel c (exact): for |acc| < 2^31 the kernels
 * compute floor(acc * rs[c] + 1/2) in double, which is exactly the
 * requantization above (acc * r has at most 46 significant bits). */
void cr_q16_req_scales(int oc, const int32_t *mult, const int32_t *shift, double *rs);

static inline int16_t cr_q16_requant(int64_t acc, const cr_q16_req *rq, int c)
{
    int32_t v = cr_q16_scale(acc, rq->mult[c], rq->shift[c]);
    return (int16_t)(v < rq->lo ? rq->lo : v > rq->hi ? rq->hi : v);
}

/* Conv2D: x [n,h,w,c] int16, k [kh,kw,c,oc] int8, bias [oc] int64 or NULL,
 * y [n,oh,ow,oc] int16. Depthwise: k [kh,kw,c,dm] (oc = c*dm). No packing,
 * no scratch. */
void cr_q16_conv2d(cr_pool *p, const cr_conv_geom *g, const int16_t *x, const int8_t *k,
                   const int64_t *bias, const cr_q16_req *rq, int16_t *y);
void cr_q16_depthwise2d(cr_pool *p, const cr_conv_geom *g, const int16_t *x, const int8_t *k,
                        const int64_t *bias, const cr_q16_req *rq, int16_t *y);
/* C[M,N] = A[M,K] (int16) B[K,N] (int8) + bias: requantized into C, or
 * when C is NULL the int64 accumulators into C64. */
void cr_q16_gemm(cr_pool *p, int M, int N, int K, const int16_t *A, const int8_t *B,
                 const int64_t *bias, const cr_q16_req *rq, int16_t *C, int64_t *C64);

/* The same on packed weights (the fast path; the results above, bit for
 * bit): cr_q16_gemm_pack lays out B [K, N] into cr_q16_gemm_packed_bytes
 * at Bp; a convolution's kernel [kh, kw, c, oc] is B with K = kh * kw * c
 * (cr_q16_conv2d_pack). Scratch is on the stack. */
size_t cr_q16_gemm_packed_bytes(int K, int N);
void cr_q16_gemm_pack(int K, int N, const int8_t *B, void *Bp);
void cr_q16_gemm_packed(cr_pool *p, int M, int N, int K, const int16_t *A, const void *Bp,
                        const int64_t *bias, const cr_q16_req *rq, int16_t *C, int64_t *C64);
size_t cr_q16_conv2d_packed_bytes(const cr_conv_geom *g);
void cr_q16_conv2d_pack(const cr_conv_geom *g, const int8_t *k, void *kp);
void cr_q16_conv2d_packed(cr_pool *p, const cr_conv_geom *g, const int16_t *x, const void *kp,
                          const int64_t *bias, const cr_q16_req *rq, int16_t *y);

/* Add as TFLite's general-scale int16 ADD: with S = 2 max(s_a, s_b)
 * (double), multipliers of s_a / S, s_b / S and S / (2^15 s_y)
 * (cr_q16_multiplier, each < 1), per element
 *     a' = H(a * 2^15, ma, sha), b' = H(b * 2^15, mb, shb)
 *     y = clamp(H(a' + b', my, shy), lo, hi)
 * where H(x, m, s) is gemmlowp's rounding doubling high multiply of x by m
 * then its rounding right shift by -s. */
typedef struct cr_q16_add_par {
    int32_t ma, mb, my;
    int32_t sha, shb, shy;   /* <= 0 */
    int32_t lo, hi;
} cr_q16_add_par;
void cr_q16_add_params(float s_a, float s_b, float s_y, cr_q16_add_par *par);
void cr_q16_add(cr_pool *p, int64_t n, const int16_t *a, const int16_t *b,
                const cr_q16_add_par *par, int16_t *y);

/* Pooling (oc == c); input and output share the scale. Max: the largest
 * value of the window's valid cells (-32768 if none). Average: the sum s
 * of the valid cells (int64) over their count n, rounded half away from
 * zero ((s + n/2) / n, or (s - n/2) / n for s <= 0, C division), as
 * TFLite's int16 AVERAGE_POOL_2D; then clamped to [lo, hi]. */
void cr_q16_maxpool2d(cr_pool *p, const cr_conv_geom *g, const int16_t *x, int16_t *y);
void cr_q16_avgpool2d(cr_pool *p, const cr_conv_geom *g, const int16_t *x, int32_t lo,
                      int32_t hi, int16_t *y);

void cr_q16_quantize(cr_pool *p, int64_t n, const float *x, float s, int16_t *q);
void cr_q16_dequantize(cr_pool *p, int64_t n, const int16_t *q, float s, float *x);

#endif
