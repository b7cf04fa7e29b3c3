/* gemm.c - C = beta*C + op(A) op(B), single precision, row-major.
 *
 * Blocking (BLIS style; each thread runs it on its own part of C):
 *
 *   for jc over its columns, NC at a time
 *     for each K block (k0, kc)            fixed by K alone, kc <= CR_KC
 *       pack B[k0.., jc..] into panels of nr columns, [kc][nr] each
 *       for ic over its rows, MC at a time
 *         pack A[ic.., k0..] into micro-panels of mr rows, [kc][mr] each
 *           (A^T only: untransposed A is read in place, mr rows at once,
 *           except for a last partial micro-panel)
 *         for each micro-panel of A        (kc*mr floats: stays in L1)
 *           for each panel of B            (the B block: stays in L2)
 *             micro-kernel: mr x nr tile of C, all of kc in registers
 *
 * mr x nr is 8 x 32 for AVX-512, 6 x 16 for AVX2, 4 x 16 generic (ukr.h).
 * A last panel of B with at most nr/2 columns is packed half width and run
 * by the half-width kernel. Packing zero-pads partial panels; the kernel
 * computes full tiles and stores only the valid part.
 *
 * Determinism: every element of C gets, for each K block in order, a sum
 * over the block in k order (fused multiply-adds from 0), then C = sum (first
 * block, beta 0) or C = C + sum. Which tile, panel or thread an element falls
 * in does not change that, and the thread split is over whole tiles of C, so
 * results are bit-identical for any number of threads.
 *
 * Below: B packed once (convolution weights; cr_gemm_packed, threads claim
 * tiles of C dynamically) and very few rows (B read in place); both do
 * the same per-element operations as the blocked path. The bias and a
 * fused activation are applied in the last K block's stores.
 */
#define _POSIX_C_SOURCE 200809L
#include "ukr.h"

#include <stdlib.h>
#include <string.h>

#define MC 64              /* rows of A packed at a time */
#define NC 512             /* columns of B packed at a time: kc*NC floats, 512 KB */
#define MR_MAX 8           /* largest mr and nr of any level (stack fallback) */
#define NR_MAX 32
#define TASK_FLOPS 4e6     /* below this much work per task, use fewer threads */

typedef struct gemm_job {
    const cr_ukr *u;
    bool ta, tb, add;
    int M, N, K, lda, ldb, ldc, nkb;
    const float *A, *B, *bias;
    float *C;
    int act;               /* cr_act, applied with the bias on the last K block */
    bool split_n;          /* threads split N (else M) */
} gemm_job;

/* Start of K block b of nkb: the blocks are as even as possible. */
static int kblock(const gemm_job *j, int b)
{
    return (int)((int64_t)b * j->K / j->nkb);
}

/* B[k0.., j0..j0+ncols) into panels of nr columns (see pack_b in ukr_tmpl.h). */
static void pack_b(const gemm_job *j, int k0, int kc, int j0, int ncols, float *bp)
{
    const float *b = j->tb ? j->B + (size_t)j0 * j->ldb + k0 : j->B + (size_t)k0 * j->ldb + j0;
    j->u->pack_b(b, j->ldb, j->tb, kc, ncols, bp);
}

/* A[i0..i0+rows, k0..] into micro-panels of mr rows, the one at row ir at
 * ap + ir*kc; untransposed A: only a last partial one (see ukr_tmpl.h). */
static void pack_a(const gemm_job *j, int i0, int rows, int k0, int kc, float *ap)
{
    const float *a = j->ta ? j->A + (size_t)k0 * j->lda + i0 : j->A + (size_t)i0 * j->lda + k0;
    j->u->pack_a(a, j->lda, j->ta, rows, kc, ap);
}

/* C[m0..m1, n0..n1) with packing buffers for mc rows and nc columns. */
static void gemm_region(const gemm_job *j, int m0, int m1, int n0, int n1, float *ap,
                        float *bp, int mc, int nc)
{
    const cr_ukr *u = j->u;
    for (int jc = n0; jc < n1; jc += nc) {
        int ncb = n1 - jc < nc ? n1 - jc : nc;
        for (int b = 0; b < j->nkb; b++) {
            int k0 = kblock(j, b), kc = kblock(j, b + 1) - k0;
            bool add = j->add || b > 0;
            const float *bias = b == j->nkb - 1 && j->bias ? j->bias + jc : NULL;
            int act = b == j->nkb - 1 ? j->act : CR_ACT_NONE;
            pack_b(j, k0, kc, jc, ncb, bp);
            for (int ic = m0; ic < m1; ic += mc) {
                int mcb = m1 - ic < mc ? m1 - ic : mc;
                pack_a(j, ic, mcb, k0, kc, ap);
                for (int ir = 0; ir < mcb; ir += u->mr) {
                    int rows = mcb - ir < u->mr ? mcb - ir : u->mr, lda = 0;
                    const float *a = ap + (size_t)ir * kc;
                    if (!j->ta && rows == u->mr) {
                        a = j->A + (size_t)(ic + ir) * j->lda + k0;
                        lda = j->lda;
                    }
                    float *c = j->C + (size_t)(ic + ir) * j->ldc + jc;
                    for (int jr = 0; jr < ncb; jr += u->nr) {
                        int cols = ncb - jr < u->nr ? ncb - jr : u->nr;
                        u->gemm(kc, a, lda, bp + (size_t)jr * kc, cols <= u->vw ? 1 : 2,
                                c + jr, j->ldc, rows, cols, add, bias ? bias + jr : NULL, act);
                    }
                }
            }
        }
    }
}

/* Packing buffers on the stack: for small products (no allocation), and
 * as the fallback when allocation fails (then with mc = mr, nc = nr: slower,
 * same results). */
#define STACK_FLOATS ((MR_MAX + NR_MAX) * CR_KC)
static __attribute__((noinline)) void gemm_region_stack(const gemm_job *j, int m0, int m1,
                                                        int n0, int n1, int mc, int nc, int kc)
{
    _Alignas(64) float buf[STACK_FLOATS];
    gemm_region(j, m0, m1, n0, n1, buf, buf + (size_t)mc * kc, mc, nc);
}

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

static void gemm_task(void *ctx, int ith, int nth)
{
    const gemm_job *j = ctx;
    int64_t m0 = 0, m1 = j->M, n0 = 0, n1 = j->N;
    if (j->split_n)
        cr_split_units(j->N, j->u->nr, ith, nth, &n0, &n1);
    else
        cr_split_units(j->M, j->u->mr, ith, nth, &m0, &m1);
    if (m0 >= m1 || n0 >= n1)
        return;
    int kcmax = (j->K + j->nkb - 1) / j->nkb;
    int mc = round_up((int)(m1 - m0), j->u->mr), nc = round_up((int)(n1 - n0), j->u->nr);
    int mc_max = MC / j->u->mr * j->u->mr, nc_max = NC / j->u->nr * j->u->nr;
    mc = mc < mc_max ? mc : mc_max;         /* whole micro-panels only */
    nc = nc < nc_max ? nc : nc_max;
    size_t floats = (size_t)(mc + nc) * kcmax;
    float *buf = floats <= STACK_FLOATS ? NULL : aligned_alloc(64, (floats * 4 + 63) / 64 * 64);
    if (!buf) {
        if (floats > STACK_FLOATS)
            mc = j->u->mr, nc = j->u->nr;
        gemm_region_stack(j, (int)m0, (int)m1, (int)n0, (int)n1, mc, nc, kcmax);
        return;
    }
    gemm_region(j, (int)m0, (int)m1, (int)n0, (int)n1, buf, buf + (size_t)mc * kcmax, mc, nc);
    free(buf);
}

/* Estimated time (in flops) of the busiest of nth threads when the split
 * is over M (split_n false) or N. A thread computes its tiles (the busiest
 * has ceil(tiles / nth)) and packs all of the operand it shares (B when
 * splitting M, A when splitting N) plus its share of the other. Packing an
 * element costs about PACK_FLOPS; untransposed A is not packed. */
#define PACK_FLOPS 24.0
static double split_cost(const gemm_job *j, int64_t mt, int64_t nt, int nth, bool split_n)
{
    int64_t tiles = split_n ? nt : mt, most = (tiles + nth - 1) / nth;
    double work = 2.0 * j->M * j->N * (double)j->K * (double)most / (double)tiles;
    double a = j->ta ? PACK_FLOPS * j->M * (double)j->K : 0, b = PACK_FLOPS * j->N * (double)j->K;
    return work + (split_n ? a + b / nth : b + a / nth);
}

/* ---- very few rows: B read in place ------------------------------------------
 *
 * A Dense layer on one sample is a vector times a matrix: packing B would
 * cost more than the product. The direct kernel does the blocked kernel's
 * operations per element (same K blocks), so results do not depend on M;
 * threads take chunks of DIRECT_COLS columns. */

#define DIRECT_M 4
#define DIRECT_COLS 128

typedef struct dir_job {
    const cr_ukr *u;
    int M, N, K, lda, ldb, ldc, nkb, act;
    bool add;
    const float *A, *B, *bias;
    float *C;
} dir_job;

static void direct_chunk(void *ctx, int i, int n)
{
    const dir_job *j = ctx;
    int j0 = i * DIRECT_COLS, nc = j->N - j0 < DIRECT_COLS ? j->N - j0 : DIRECT_COLS;
    (void)n;
    for (int b = 0; b < j->nkb; b++) {
        int k0 = (int)((int64_t)b * j->K / j->nkb), kc = (int)((int64_t)(b + 1) * j->K / j->nkb) - k0;
        bool last = b == j->nkb - 1;
        j->u->gemm_direct(kc, j->A + k0, j->lda, j->B + (size_t)k0 * j->ldb + j0, j->ldb,
                          j->C + j0, j->ldc, j->M, nc, j->add || b > 0,
                          last && j->bias ? j->bias + j0 : NULL, last ? j->act : CR_ACT_NONE);
    }
}

static void gemm_direct(cr_pool *p, const gemm_job *g)
{
    dir_job j = { .u = g->u, .M = g->M, .N = g->N, .K = g->K, .lda = g->lda, .ldb = g->ldb,
                  .ldc = g->ldc, .nkb = g->nkb, .act = g->act, .add = g->add, .A = g->A,
                  .B = g->B, .bias = g->bias, .C = g->C };
    if (2.0 * g->M * g->N * (double)g->K < 2e5)
        p = NULL;
    cr_pool_chunks(p, (g->N + DIRECT_COLS - 1) / DIRECT_COLS, direct_chunk, &j);
}

/* C = act(beta*C (+ bias per column)): for K = 0 and for beta other than 0, 1. */
static void scale(int M, int N, float beta, float *C, int ldc, const float *bias, cr_act act)
{
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        for (int jj = 0; jj < N; jj++) {
            float v = beta == 0 ? 0.0f : c[jj] * beta;
            c[jj] = cr_act_apply(bias ? v + bias[jj] : v, (int)act);
        }
    }
}

void cr_gemm_ep(cr_pool *p, bool ta, bool tb, int M, int N, int K, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc, const float *bias,
                cr_act act)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        scale(M, N, beta, C, ldc, bias, act);
        return;
    }
    if (beta != 0 && beta != 1) {
        scale(M, N, beta, C, ldc, NULL, CR_ACT_NONE);        /* then C += AB below */
        beta = 1;
    }
    const cr_ukr *u = cr_ukr_get();
    gemm_job j = { .u = u, .ta = ta, .tb = tb, .add = beta != 0, .M = M, .N = N, .K = K,
                   .lda = lda, .ldb = ldb, .ldc = ldc, .nkb = (K + CR_KC - 1) / CR_KC,
                   .A = A, .B = B, .bias = bias, .C = C, .act = act };
    if (!ta && !tb && M <= DIRECT_M) {
        gemm_direct(p, &j);
        return;
    }
    int64_t mt = (M + u->mr - 1) / u->mr, nt = (N + u->nr - 1) / u->nr;
    int nth = cr_tasks(p, mt > nt ? mt : nt, 2.0 * M * N * (double)K, TASK_FLOPS);
    j.split_n = split_cost(&j, mt, nt, nth, true) < split_cost(&j, mt, nt, nth, false);
    cr_pool_run(p, nth, gemm_task, &j);
}

void cr_gemm_bias(cr_pool *p, bool ta, bool tb, int M, int N, int K, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc, const float *bias)
{
    cr_gemm_ep(p, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc, bias, CR_ACT_NONE);
}

void cr_gemm(cr_pool *p, bool ta, bool tb, int M, int N, int K, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc)
{
    cr_gemm_bias(p, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc, NULL);
}

/* ---- B packed once ---------------------------------------------------------
 *
 * Layout: K blocks as cr_gemm cuts them (k0 ascending); block (k0, kc) at
 * Bp + k0*Nw, with Nw the packed width (full panels of nr columns and a
 * last panel of nr or, for at most vw columns, vw); panel jr of the block
 * at + jr*kc, [kc][width] (pack_b's layout over all N). The driver cuts C
 * into chunks of mb rows x nb columns, claimed by threads dynamically. */

#define CHUNK_FLOPS 1e6    /* aim per chunk */
#define SERIAL_FLOPS 4e5   /* below this, no hand-off */
#define NB_MAX 256         /* columns per chunk: the chunk's B block stays in L2 */
#define MB_MIN 32          /* rows per chunk when they allow 4 chunks a thread: each
                              panel of B serves several micro-panels */

static int packed_width(const cr_ukr *u, int N)
{
    int full = N / u->nr * u->nr, rest = N - full;
    return full + (rest == 0 ? 0 : rest <= u->vw ? u->vw : u->nr);
}

static int n_kblocks(int K) { return (K + CR_KC - 1) / CR_KC; }

size_t cr_gemm_packed_floats(int K, int N)
{
    return K > 0 && N > 0 ? (size_t)K * (size_t)packed_width(cr_ukr_get(), N) : 0;
}

void cr_gemm_pack(bool tb, int K, int N, const float *B, int ldb, float *Bp)
{
    const cr_ukr *u = cr_ukr_get();
    int nkb = n_kblocks(K), Nw = packed_width(u, N);
    for (int b = 0; b < nkb; b++) {
        int k0 = (int)((int64_t)b * K / nkb), kc = (int)((int64_t)(b + 1) * K / nkb) - k0;
        const float *s = tb ? B + k0 : B + (size_t)k0 * ldb;
        u->pack_b(s, ldb, tb, kc, N, Bp + (size_t)k0 * Nw);
    }
}

typedef struct pk_job {
    const cr_ukr *u;
    int M, N, K, lda, ldc, nkb, Nw, act;
    const float *A, *Bp, *bias;
    float *C;
    int mb, nb, ncj;       /* chunk rows, columns; chunks across N */
} pk_job;

/* Rows [m0, m1) x columns [n0, n1) of C for one K block: for each
 * micro-panel of rows (A read in place, stays in L1; a last partial one
 * packed), every panel of B (the chunk's B block stays in L2). */
static void pk_block(const pk_job *j, int m0, int m1, int n0, int n1, int b)
{
    const cr_ukr *u = j->u;
    int k0 = (int)((int64_t)b * j->K / j->nkb), kc = (int)((int64_t)(b + 1) * j->K / j->nkb) - k0;
    bool last = b == j->nkb - 1;
    const float *bb = j->Bp + (size_t)k0 * j->Nw, *bias = last ? j->bias : NULL;
    int act = last ? j->act : CR_ACT_NONE;
    _Alignas(64) float ap[MR_MAX * CR_KC];
    for (int ir = m0; ir < m1; ir += u->mr) {
        int rows = m1 - ir < u->mr ? m1 - ir : u->mr, lda = j->lda;
        const float *a = j->A + (size_t)ir * j->lda + k0;
        if (rows < u->mr) {                   /* a last partial micro-panel */
            u->pack_a(a, j->lda, false, rows, kc, ap);
            a = ap;
            lda = 0;
        }
        float *c = j->C + (size_t)ir * j->ldc;
        for (int jr = n0; jr < n1; jr += u->nr) {
            int cols = n1 - jr < u->nr ? n1 - jr : u->nr;
            u->gemm(kc, a, lda, bb + (size_t)jr * kc, cols <= u->vw ? 1 : 2, c + jr, j->ldc,
                    rows, cols, b > 0, bias ? bias + jr : NULL, act);
        }
    }
}

static void pk_chunk(void *ctx, int i, int n)
{
    const pk_job *j = ctx;
    (void)n;
    int m0 = i / j->ncj * j->mb, n0 = i % j->ncj * j->nb;
    int m1 = m0 + j->mb < j->M ? m0 + j->mb : j->M, n1 = n0 + j->nb < j->N ? n0 + j->nb : j->N;
    for (int b = 0; b < j->nkb; b++)
        pk_block(j, m0, m1, n0, n1, b);
}

/* Chunk shape: columns in whole panels, at most NB_MAX, evened out; rows
 * for about CHUNK_FLOPS, at least 4 chunks per thread where rows allow. */
static void pk_shape(pk_job *j, int nth)
{
    int nr = j->u->nr, mr = j->u->mr;
    int ncj = (j->N + NB_MAX - 1) / NB_MAX, nb = round_up((j->N + ncj - 1) / ncj, nr);
    double per_row = 2.0 * (nb < j->N ? nb : j->N) * j->K;
    int mb = round_up((int)(CHUNK_FLOPS / per_row) + 1, mr);
    mb = mb > 1024 ? 1024 : mb < MB_MIN ? MB_MIN : mb;
    int64_t mcs = (j->M + mb - 1) / mb;
    while (mcs * ncj < 4 * nth && mb > mr) {
        mb = round_up(mb / 2, mr);
        mcs = (j->M + mb - 1) / mb;
    }
    j->nb = nb;
    j->ncj = (j->N + nb - 1) / nb;
    j->mb = mb;
}

void cr_gemm_packed(cr_pool *p, int M, int N, int K, const float *A, int lda,
                    const float *Bp, float *C, int ldc, const float *bias, cr_act act)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        scale(M, N, 0.0f, C, ldc, bias, act);
        return;
    }
    const cr_ukr *u = cr_ukr_get();
    pk_job j = { .u = u, .M = M, .N = N, .K = K, .lda = lda, .ldc = ldc, .nkb = n_kblocks(K),
                 .Nw = packed_width(u, N), .act = act, .A = A, .Bp = Bp, .bias = bias, .C = C };
    double flops = 2.0 * M * N * (double)K;
    if (flops < SERIAL_FLOPS)
        p = NULL;
    pk_shape(&j, cr_pool_size(p));
    int64_t chunks = (int64_t)((M + j.mb - 1) / j.mb) * j.ncj;
    cr_pool_chunks(p, (int)chunks, pk_chunk, &j);
}

void cr_gemm_packed_serial(int M, int N, int K, const float *A, int lda, const float *Bp,
                           float *C, int ldc, const float *bias, cr_act act)
{
    const cr_ukr *u = cr_ukr_get();
    if (M <= 0 || N <= 0 || K <= 0)
        return;
    pk_job j = { .u = u, .M = M, .N = N, .K = K, .lda = lda, .ldc = ldc, .nkb = n_kblocks(K),
                 .Nw = packed_width(u, N), .act = act, .A = A, .Bp = Bp, .bias = bias, .C = C,
                 .mb = M, .nb = N, .ncj = 1 };
    pk_chunk(&j, 0, 1);
}
