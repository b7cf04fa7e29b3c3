/* gemm.c - C = beta*C + op(A) op(B), single precision, row-major.
 *
 * Scheme: B is packed once per call into panels of NR columns ([K][NR],
 * zero-padded); A rows are read directly (or from a packed A^T). Each
 * MR x NR tile of C is accumulated over all of K in registers, k ascending,
 * with fmaf, then stored (added to C when beta = 1). Every element of C is
 * thus computed by the same operations whatever the tiling at the edges and
 * whatever the thread split (threads take whole tiles), so results are
 * bit-identical for any thread count. The tile loops are written for the
 * compiler to vectorize; target_clones builds AVX-512, AVX2+FMA and generic
 * versions, chosen at load time.
 */
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MR 8
#define NR 32

/* One MR x NR tile (rows < MR or cols < NR at the edges). */
CR_CLONES static void tile(int rows, int cols, int K, const float *A, int lda, const float *Bp,
                        float beta, float *C, int ldc)
{
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    if (rows == MR) {
        for (int k = 0; k < K; k++) {
            const float *b = Bp + (size_t)k * NR;
            for (int r = 0; r < MR; r++) {
                float a = A[(size_t)r * lda + k];
                for (int j = 0; j < NR; j++)
                    acc[r][j] = fmaf(a, b[j], acc[r][j]);
            }
        }
    } else {
        for (int k = 0; k < K; k++) {
            const float *b = Bp + (size_t)k * NR;
            for (int r = 0; r < rows; r++) {
                float a = A[(size_t)r * lda + k];
                for (int j = 0; j < NR; j++)
                    acc[r][j] = fmaf(a, b[j], acc[r][j]);
            }
        }
    }
    for (int r = 0; r < rows; r++) {
        float *c = C + (size_t)r * ldc;
        if (beta != 0)
            for (int j = 0; j < cols; j++)
                c[j] += acc[r][j];
        else
            memcpy(c, acc[r], (size_t)cols * sizeof(float));
    }
}

typedef struct gemm_job {
    int M, N, K, lda, ldc, n_panels, m_tiles;
    const float *A, *Bp;
    float beta;
    float *C;
} gemm_job;

static void gemm_task(void *ctx, int ith, int nth)
{
    gemm_job *j = ctx;
    int64_t total = (int64_t)j->m_tiles * j->n_panels, lo, hi;
    cr_split(total, ith, nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++) {
        int mt = (int)(t / j->n_panels), np = (int)(t % j->n_panels);
        int i0 = mt * MR, j0 = np * NR;
        int rows = j->M - i0 < MR ? j->M - i0 : MR, cols = j->N - j0 < NR ? j->N - j0 : NR;
        tile(rows, cols, j->K, j->A + (size_t)i0 * j->lda, j->lda, j->Bp + (size_t)np * j->K * NR,
             j->beta, j->C + (size_t)i0 * j->ldc + j0, j->ldc);
    }
}

void cr_gemm(cr_pool *p, bool ta, bool tb, int M, int N, int K, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    int n_panels = (N + NR - 1) / NR;
    float *Bp = malloc((size_t)n_panels * (size_t)(K ? K : 1) * NR * sizeof(float));
    float *At = ta ? malloc((size_t)M * (size_t)(K ? K : 1) * sizeof(float)) : NULL;
    if (!Bp || (ta && !At)) {
        /* no memory for packing: the plain triple loop, same k order */
        free(Bp);
        free(At);
        for (int i = 0; i < M; i++)
            for (int jj = 0; jj < N; jj++) {
                float s = 0;
                for (int k = 0; k < K; k++)
                    s = fmaf(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k],
                             tb ? B[(size_t)jj * ldb + k] : B[(size_t)k * ldb + jj], s);
                C[(size_t)i * ldc + jj] = beta != 0 ? C[(size_t)i * ldc + jj] + s : s;
            }
        return;
    }
    for (int np = 0; np < n_panels; np++) {
        float *dst = Bp + (size_t)np * K * NR;
        int j0 = np * NR, cols = N - j0 < NR ? N - j0 : NR;
        for (int k = 0; k < K; k++) {
            float *d = dst + (size_t)k * NR;
            for (int j = 0; j < cols; j++)
                d[j] = tb ? B[(size_t)(j0 + j) * ldb + k] : B[(size_t)k * ldb + j0 + j];
            for (int j = cols; j < NR; j++)
                d[j] = 0;
        }
    }
    if (ta) {
        for (int i = 0; i < M; i++)
            for (int k = 0; k < K; k++)
                At[(size_t)i * K + k] = A[(size_t)k * lda + i];
        A = At;
        lda = K;
    }
    gemm_job j = { M, N, K, lda, ldc, n_panels, (M + MR - 1) / MR, A, Bp, beta, C };
    int64_t tiles = (int64_t)j.m_tiles * n_panels;
    double flops = 2.0 * M * N * (double)K;
    /* a hand-off to the pool costs tens of microseconds: only big products split */
    int nth = flops < 8e6 ? 1 : (int)(tiles < 64 ? tiles : 64);
    cr_pool_run(p, nth, gemm_task, &j);
    free(Bp);
    free(At);
}
