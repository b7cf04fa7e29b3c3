/* conv.c - Conv2D, NHWC input, HWIO kernel.
 *
 * With P = n*oh*ow output pixels and K = kh*kw*c:
 *  - 1x1, stride 1, no padding: x is already the [P, c] matrix, so the
 *    convolution is one gemm y[P, oc] = x[P, c] k[c, oc].
 *  - otherwise im2col by row tiles: rows r0.. of the [P, K] patch matrix
 *    are gathered into scratch (tile_rows(g) rows, about 1 MB, independent
 *    of the image size and of the thread count), then y[rows, oc] = col k.
 * Backward, per tile: dk += col^T dy, and dx += col2im(dy k^T) with the
 * product in scratch. dbias += column sums of dy.
 *
 * Threads: gemm splits its output tiles; im2col splits rows; col2im and the
 * column sums split channels (so no two threads add into the same dx or
 * dbias element). Tiles follow each other in order. Every output element
 * therefore sees the same operations for any thread count.
 */
#include "ukr.h"

#define SCRATCH_FLOATS (1 << 18)   /* im2col tile budget: 1 MB */
#define MIN_TASK_WORK 1e5          /* floats moved or multiply-adds per task */

static bool is_pointwise(const cr_conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
           g->oh == g->h && g->ow == g->w;
}

static int64_t n_pixels(const cr_conv_geom *g) { return (int64_t)g->n * g->oh * g->ow; }

static int patch_len(const cr_conv_geom *g) { return g->kh * g->kw * g->c; }

static int tile_rows(const cr_conv_geom *g)
{
    int64_t r = SCRATCH_FLOATS / patch_len(g), P = n_pixels(g);
    if (r < 16)
        r = 16;
    return (int)(r < P ? r : P);
}

size_t cr_conv2d_scratch(const cr_conv_geom *g, int n_threads)
{
    (void)n_threads;
    if (is_pointwise(g))
        return 0;
    return (size_t)tile_rows(g) * patch_len(g);
}

/* ---- im2col, parallel over rows ----------------------------------------- */

typedef struct im2col_job {
    const cr_conv_geom *g;
    const float *x;
    int64_t r0;
    int rows;
    float *col;
} im2col_job;

static void im2col_task(void *ctx, int ith, int nth)
{
    const im2col_job *j = ctx;
    const cr_ukr *u = cr_ukr_get();
    size_t K = (size_t)patch_len(j->g);
    int64_t lo, hi;
    cr_split(j->rows, ith, nth, &lo, &hi);
    if (lo < hi)
        u->im2col(j->g, j->x, j->r0 + lo, (int)(hi - lo), j->col + lo * K);
}

static void im2col(cr_pool *p, const cr_conv_geom *g, const float *x, int64_t r0, int rows,
                   float *col)
{
    im2col_job j = { g, x, r0, rows, col };
    double work = (double)rows * patch_len(g);
    cr_pool_run(p, cr_tasks(p, rows, work, MIN_TASK_WORK), im2col_task, &j);
}

/* ---- channel-split helpers: col2im and column sums ---------------------- */

typedef struct chan_job {
    const cr_ukr *u;
    const cr_conv_geom *g;
    const float *src;
    int64_t r0, rows;
    float *dst;
    int C;
} chan_job;

static void col2im_task(void *ctx, int ith, int nth)
{
    const chan_job *j = ctx;
    int64_t c0, c1;
    cr_split_units(j->C, j->u->vw, ith, nth, &c0, &c1);
    if (c0 < c1)
        j->u->col2im(j->g, j->src, j->r0, (int)j->rows, j->dst, (int)c0, (int)c1);
}

static void colsum_task(void *ctx, int ith, int nth)
{
    const chan_job *j = ctx;
    int64_t c0, c1;
    cr_split_units(j->C, j->u->vw, ith, nth, &c0, &c1);
    if (c0 < c1)
        j->u->colsum(j->src, j->rows, j->C, j->dst, (int)c0, (int)c1);
}

/* Splits C channels in chunks of the vector width among threads. */
static void run_channels(cr_pool *p, chan_job *j, cr_task_fn fn, double work)
{
    j->u = cr_ukr_get();
    int64_t chunks = (j->C + j->u->vw - 1) / j->u->vw;
    cr_pool_run(p, cr_tasks(p, chunks, work, MIN_TASK_WORK), fn, j);
}

/* ---- Conv2D ---------------------------------------------------------------- */

size_t cr_conv2d_packed_floats(const cr_conv_geom *g)
{
    return cr_gemm_packed_floats(patch_len(g), g->oc);
}

void cr_conv2d_pack(const cr_conv_geom *g, const float *k, float *kp)
{
    cr_gemm_pack(false, patch_len(g), g->oc, k, g->oc, kp);
}

/* y[rows, oc] = act(a[rows, K] k + bias), k packed (kp) or not. */
static void conv_gemm(cr_pool *p, const cr_conv_geom *g, int64_t rows, const float *a,
                      const float *k, const float *kp, const float *bias, cr_act act, float *y)
{
    int K = patch_len(g);
    if (kp)
        cr_gemm_packed(p, (int)rows, g->oc, K, a, K, kp, y, g->oc, bias, act);
    else
        cr_gemm_ep(p, false, false, (int)rows, g->oc, K, a, K, k, g->oc, 0.0f, y, g->oc, bias,
                   act);
}

/* ---- im2col and gemm fused, packed kernel ---------------------------------
 * Threads claim chunks of output pixels; a chunk gathers its own rows of
 * the patch matrix (its rows of the tile's scratch, so chunks never share)
 * and multiplies them at once, while they are in cache: one hand-off per
 * tile, not two. */

#define CHUNK_FLOPS 1e6

typedef struct fused_job {
    const cr_ukr *u;
    const cr_conv_geom *g;
    const float *x, *kp, *bias;
    cr_act act;
    float *y, *col;
    int64_t r0;
    int rows, mb;
} fused_job;

static void fused_chunk(void *ctx, int i, int n)
{
    const fused_job *j = ctx;
    int K = patch_len(j->g), lo = i * j->mb, hi = lo + j->mb < j->rows ? lo + j->mb : j->rows;
    float *col = j->col + (size_t)lo * K;
    (void)n;
    j->u->im2col(j->g, j->x, j->r0 + lo, hi - lo, col);
    cr_gemm_packed_serial(hi - lo, j->g->oc, K, col, K, j->kp, j->y + (j->r0 + lo) * j->g->oc,
                          j->g->oc, j->bias, j->act);
}

static void conv_fused_tile(cr_pool *p, fused_job *j)
{
    int mr = j->u->mr, nth = cr_pool_size(p);
    double per_row = 2.0 * j->g->oc * patch_len(j->g);
    int mb = ((int)(CHUNK_FLOPS / per_row) + mr) / mr * mr;
    mb = mb < 4 * mr ? 4 * mr : mb;        /* a panel of the kernel serves 4 micro-panels */
    while (mb > mr && (j->rows + mb - 1) / mb < 4 * nth)
        mb = (mb / 2 + mr - 1) / mr * mr;
    j->mb = mb;
    if (per_row * j->rows < 4e5)
        p = NULL;
    cr_pool_chunks(p, (j->rows + mb - 1) / mb, fused_chunk, j);
}

void cr_conv2d_ep(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                  const float *kp, const float *bias, cr_act act, float *y, float *scratch)
{
    int64_t P = n_pixels(g);
    int T = tile_rows(g);
    if (P <= 0)
        return;
    if (is_pointwise(g)) {
        conv_gemm(p, g, P, x, k, kp, bias, act, y);
        return;
    }
    fused_job j = { .u = cr_ukr_get(), .g = g, .x = x, .kp = kp, .bias = bias, .act = act,
                    .y = y, .col = scratch };
    for (int64_t r0 = 0; r0 < P; r0 += T) {
        int rows = (int)(P - r0 < T ? P - r0 : T);
        if (kp && patch_len(g) > 0) {
            j.r0 = r0;
            j.rows = rows;
            conv_fused_tile(p, &j);
            continue;
        }
        im2col(p, g, x, r0, rows, scratch);
        conv_gemm(p, g, rows, scratch, k, kp, bias, act, y + r0 * g->oc);
    }
}

void cr_conv2d(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
               const float *bias, float *y, float *scratch)
{
    cr_conv2d_ep(p, g, x, k, NULL, bias, CR_ACT_NONE, y, scratch);
}

void cr_conv2d_backward(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                        const float *dy, float *dx, float *dk, float *dbias, float *scratch)
{
    int64_t P = n_pixels(g);
    int K = patch_len(g), T = tile_rows(g);
    if (P <= 0)
        return;
    if (dbias) {
        chan_job j = { .src = dy, .rows = P, .dst = dbias, .C = g->oc };
        run_channels(p, &j, colsum_task, (double)P * g->oc);
    }
    if (is_pointwise(g)) {
        if (dk)     /* dk[c, oc] += x^T dy */
            cr_gemm(p, true, false, g->c, g->oc, (int)P, x, g->c, dy, g->oc, 1.0f, dk, g->oc);
        if (dx)     /* dx[P, c] += dy k^T */
            cr_gemm(p, false, true, (int)P, g->c, g->oc, dy, g->oc, k, g->oc, 1.0f, dx, g->c);
        return;
    }
    for (int64_t r0 = 0; r0 < P; r0 += T) {
        int rows = (int)(P - r0 < T ? P - r0 : T);
        const float *dyt = dy + r0 * g->oc;
        if (dk) {
            im2col(p, g, x, r0, rows, scratch);
            cr_gemm(p, true, false, K, g->oc, rows, scratch, K, dyt, g->oc, 1.0f, dk, g->oc);
        }
        if (dx) {
            cr_gemm(p, false, true, rows, K, g->oc, dyt, g->oc, k, g->oc, 0.0f, scratch, K);
            chan_job j = { .g = g, .src = scratch, .r0 = r0, .rows = rows, .dst = dx, .C = g->c };
            run_channels(p, &j, col2im_task, (double)rows * K);
        }
    }
}
