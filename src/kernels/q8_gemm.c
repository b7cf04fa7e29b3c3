/* q8_gemm.c - int8 gemm on packed weights (the layout is in q8.h), and the
 * driver the convolutions share.
 *
 * Threads claim chunks of C: a block of rows by a block of up to NB columns.
 * Inside a chunk, the loop runs over column tiles (the tile's panels, nr
 * columns by K4 bytes, stay in L1) and then over row tiles (the chunk's
 * rows of A stay in L2). Every element of C is one exact integer sum and
 * one requantization, whichever chunk or thread computes it, so results are
 * bit-identical for any thread count.
 */
#include "q8.h"

#define NB 256                     /* columns per chunk (a multiple of any nr) */
#define CHUNK_MACS (1 << 20)       /* multiply-adds per chunk (aim) */
#define SERIAL_MACS (1 << 18)      /* below this, one thread */

size_t cr_q8_gemm_packed_bytes(int K, int N)
{
    return (size_t)((N + Q8_NR - 1) / Q8_NR) * q8_panel_bytes(K);
}

void cr_q8_gemm_pack(int K, int N, const int8_t *B, const int32_t *bias, int32_t z_a, void *Bp)
{
    size_t ps = q8_panel_bytes(K);
    for (int j0 = 0; j0 < N; j0 += Q8_NR) {
        int8_t *panel = (int8_t *)Bp + (size_t)(j0 / Q8_NR) * ps;
        memset(panel, 0, ps);
        for (int c = 0; c < Q8_NR && j0 + c < N; c++) {
            uint32_t sum = 0;
            for (int k = 0; k < K; k++) {
                int8_t w = B[(size_t)k * N + j0 + c];
                panel[64 + (size_t)(k / 4) * 64 + c * 4 + k % 4] = w;
                sum += (uint32_t)(int32_t)w;
            }
            uint32_t b = bias ? (uint32_t)bias[j0 + c] : 0;
            b -= (uint32_t)z_a * sum;
            memcpy(panel + c * 4, &b, sizeof b);
        }
    }
}

/* Rows of A (K bytes each) as int16 rows of q8_k4(K), zeros past K (the
 * level's vector form when it has one). */
static void widen_rows(const uint8_t *A, size_t lda, int rows, int K, int16_t *d)
{
    int k4 = q8_k4(K);
    for (int r = 0; r < rows; r++, A += lda, d += k4) {
        for (int k = 0; k < K; k++)
            d[k] = A[k];
        for (int k = K; k < k4; k++)
            d[k] = 0;
    }
}

/* q8_gemm_serial with u->gemm16: blocks of rows widened once, then every
 * column tile over them (the same tiles and sums as the byte path). */
static __attribute__((noinline)) void gemm_serial16(const cr_q8_ukr *u, int M, int n0, int n1,
                                                    int K, const uint8_t *A, size_t lda,
                                                    const void *Bp, uint8_t *C, int32_t *C32,
                                                    size_t ldc, const cr_q8_req *rq)
{
    _Alignas(64) int16_t a16[Q8_A16_ELEMS];
    size_t ps = q8_panel_bytes(K), k4 = (size_t)q8_k4(K);
    int rb = (int)(Q8_A16_ELEMS / (k4 > 0 ? k4 : 1)) / u->mr * u->mr;
    for (int i0 = 0; i0 < M; i0 += rb) {
        int mb = M - i0 < rb ? M - i0 : rb;
        (u->widen ? u->widen : widen_rows)(A + (size_t)i0 * lda, lda, mb, K, a16);
        for (int j = n0; j < n1; j += u->nr) {
            int cols = n1 - j < u->nr ? n1 - j : u->nr;
            const int8_t *bp = (const int8_t *)Bp + (size_t)(j / Q8_NR) * ps;
            for (int i = 0; i < mb; i += u->mr) {
                int rows = mb - i < u->mr ? mb - i : u->mr;
                size_t at = (size_t)(i0 + i) * ldc + j;
                u->gemm16(K, a16 + (size_t)i * k4, k4, bp, rows, cols, C ? C + at : NULL,
                          C32 ? C32 + at : NULL, ldc, rq, j);
            }
        }
    }
}

void q8_gemm_serial(const cr_q8_ukr *u, int M, int n0, int n1, int K, const uint8_t *A,
                    size_t lda, const void *Bp, uint8_t *C, int32_t *C32, size_t ldc,
                    const cr_q8_req *rq)
{
    int k4 = q8_k4(K);
    if (u->gemm_small && k4 <= Q8_SMALL_K4 &&
        (int64_t)(n1 - n0 + Q8_NR - 1) / Q8_NR * Q8_NR * k4 <= Q8_SMALL_ELEMS) {
        u->gemm_small(M, n0, n1, K, A, lda, Bp, C, C32, ldc, rq);
        return;
    }
    if (u->gemm16 && (size_t)u->mr * k4 <= Q8_A16_ELEMS) {
        gemm_serial16(u, M, n0, n1, K, A, lda, Bp, C, C32, ldc, rq);
        return;
    }
    size_t ps = q8_panel_bytes(K);
    for (int j = n0; j < n1; j += u->nr) {
        int cols = n1 - j < u->nr ? n1 - j : u->nr;
        const int8_t *bp = (const int8_t *)Bp + (size_t)(j / Q8_NR) * ps;
        for (int i = 0; i < M; i += u->mr) {
            int rows = M - i < u->mr ? M - i : u->mr;
            u->gemm(K, A + (size_t)i * lda, lda, bp, rows, cols, C ? C + i * ldc + j : NULL,
                    C32 ? C32 + i * ldc + j : NULL, ldc, rq, j);
        }
    }
}

typedef struct q8_gemm_job {
    const cr_q8_ukr *u;
    int M, N, K, mb, ncb;
    const uint8_t *A;
    size_t lda, ldc;
    const void *Bp;
    uint8_t *C;
    int32_t *C32;
    const cr_q8_req *rq;
} q8_gemm_job;

static void gemm_chunk(void *ctx, int i, int n)
{
    const q8_gemm_job *j = ctx;
    int m0 = (i / j->ncb) * j->mb, n0 = (i % j->ncb) * NB;
    int m1 = m0 + j->mb < j->M ? m0 + j->mb : j->M, n1 = n0 + NB < j->N ? n0 + NB : j->N;
    (void)n;
    q8_gemm_serial(j->u, m1 - m0, n0, n1, j->K, j->A + (size_t)m0 * j->lda, j->lda, j->Bp,
                   j->C ? j->C + m0 * j->ldc : NULL, j->C32 ? j->C32 + m0 * j->ldc : NULL,
                   j->ldc, j->rq);
}

/* Rows per chunk: about CHUNK_MACS of work, whole row tiles, and at least
 * 4 chunks per thread when there are enough rows. */
int q8_rows_per_chunk(const cr_q8_ukr *u, int64_t M, double macs_per_row, int n_col_chunks,
                      int nth)
{
    int mr = u->mr;
    int64_t mb = (int64_t)(CHUNK_MACS / (macs_per_row > 1 ? macs_per_row : 1));
    mb = (mb + mr - 1) / mr * mr;
    mb = mb < mr ? mr : mb;
    while (mb > mr && ((M + mb - 1) / mb) * n_col_chunks < 4 * nth)
        mb = (mb / 2 + mr - 1) / mr * mr;
    return (int)(mb < M ? mb : (M + mr - 1) / mr * mr);
}

static void gemm_run(cr_pool *p, int M, int N, int K, const uint8_t *A, int lda, const void *Bp,
                     uint8_t *C, int32_t *C32, int ldc, const cr_q8_req *rq)
{
    if (M <= 0 || N <= 0)
        return;
    q8_gemm_job j = { .u = cr_q8_ukr_get(), .M = M, .N = N, .K = K, .A = A,
                      .lda = (size_t)lda, .ldc = (size_t)ldc, .Bp = Bp, .C = C, .C32 = C32,
                      .rq = rq };
    double macs = (double)M * N * (K > 0 ? K : 1);
    if (macs < SERIAL_MACS)
        p = NULL;
    j.ncb = (N + NB - 1) / NB;
    int nbw = N < NB ? N : NB;
    j.mb = q8_rows_per_chunk(j.u, M, (double)nbw * (K > 0 ? K : 1), j.ncb, cr_pool_size(p));
    cr_pool_chunks(p, ((M + j.mb - 1) / j.mb) * j.ncb, gemm_chunk, &j);
}

void cr_q8_gemm_packed(cr_pool *p, int M, int N, int K, const uint8_t *A, int lda,
                       const void *Bp, uint8_t *C, int ldc, const cr_q8_req *rq)
{
    gemm_run(p, M, N, K, A, lda, Bp, C, NULL, ldc, rq);
}

void cr_q8_gemm_packed_i32(cr_pool *p, int M, int N, int K, const uint8_t *A, int lda,
                           const void *Bp, int32_t *C, int ldc)
{
    gemm_run(p, M, N, K, A, lda, Bp, NULL, C, ldc, NULL);
}
