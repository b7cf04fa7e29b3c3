/* vol.c - 3-D convolution (im2col + the gemm) and 3-D pooling, NDHWC.
 *
 * Convolution: with P small-side cells and K = kd*kh*kw*c, rows r0.. of the
 * [P, K] patch matrix are gathered into scratch a tile at a time (about
 * 4 MB, whatever the volume), then multiplied by the [K, oc] kernel. The
 * data gradient multiplies dy by k^T into the tile and scatters it back
 * (col2im); the filter gradient is patches^T dy.
 *
 * Threads: im2col splits tile rows, col2im and pooling backward split
 * channels (so no two threads add into one element), pooling forward
 * splits output planes, the gemm splits its own tiles. Every output
 * element sees the same operations in the same order for any thread count.
 */
#include "vol.h"
#include "ukr.h"

#include <math.h>
#include <string.h>

#define SCRATCH_FLOATS (1 << 20)
#define MIN_TASK_WORK 1e5

static int64_t n_small(const cr_vol_geom *g) { return (int64_t)g->n * g->od * g->oh * g->ow; }
static int patch_len(const cr_vol_geom *g) { return g->k[0] * g->k[1] * g->k[2] * g->c; }

static int tile_rows(const cr_vol_geom *g)
{
    int64_t r = SCRATCH_FLOATS / (patch_len(g) > 0 ? patch_len(g) : 1), P = n_small(g);
    if (r < 16)
        r = 16;
    return (int)(r < P ? r : P);
}

size_t cr_conv3d_scratch(const cr_vol_geom *g)
{
    return (size_t)tile_rows(g) * (size_t)patch_len(g);
}

/* Small-side cell r as (batch, z, y, x). */
static void cell_of(const cr_vol_geom *g, int64_t r, int64_t *b, int *z, int *y, int *x)
{
    *x = (int)(r % g->ow);
    r /= g->ow;
    *y = (int)(r % g->oh);
    r /= g->oh;
    *z = (int)(r % g->od);
    *b = r / g->od;
}

/* ---- im2col: rows [lo, hi) of the tile starting at r0 -------------------- */

typedef struct col_job {
    const cr_vol_geom *g;
    const float *src;
    float *dst;
    int64_t r0;
    int rows;
} col_job;

static void im2col_rows(const cr_vol_geom *g, const float *x, int64_t r0, int64_t lo,
                        int64_t hi, float *col)
{
    size_t C = (size_t)g->c, K = (size_t)patch_len(g);
    for (int64_t r = lo; r < hi; r++) {
        int64_t b;
        int z, y, xx;
        cell_of(g, r0 + r, &b, &z, &y, &xx);
        float *out = col + (size_t)r * K;
        for (int i = 0; i < g->k[0]; i++) {
            int zi = z * g->s[0] - g->p[0] + i * g->dil[0];
            for (int j = 0; j < g->k[1]; j++) {
                int yi = y * g->s[1] - g->p[1] + j * g->dil[1];
                for (int l = 0; l < g->k[2]; l++, out += C) {
                    int xi = xx * g->s[2] - g->p[2] + l * g->dil[2];
                    if (zi < 0 || zi >= g->d || yi < 0 || yi >= g->h || xi < 0 || xi >= g->w) {
                        memset(out, 0, C * sizeof(float));
                        continue;
                    }
                    size_t at = ((((size_t)b * g->d + zi) * g->h + yi) * g->w + xi) * C;
                    memcpy(out, x + at, C * sizeof(float));
                }
            }
        }
    }
}

static void im2col_task(void *ctx, int ith, int nth)
{
    const col_job *j = ctx;
    int64_t lo, hi;
    cr_split(j->rows, ith, nth, &lo, &hi);
    im2col_rows(j->g, j->src, j->r0, lo, hi, j->dst);
}

static void im2col(cr_pool *p, const cr_vol_geom *g, const float *x, int64_t r0, int rows,
                   float *col)
{
    col_job j = { g, x, col, r0, rows };
    double work = (double)rows * patch_len(g);
    cr_pool_run(p, cr_tasks(p, rows, work, MIN_TASK_WORK), im2col_task, &j);
}

/* dx (channels [c0, c1)) += the tile's rows scattered back. */
static void col2im_chans(const cr_vol_geom *g, const float *col, int64_t r0, int rows,
                         float *dx, int c0, int c1)
{
    size_t C = (size_t)g->c, K = (size_t)patch_len(g);
    for (int64_t r = 0; r < rows; r++) {
        int64_t b;
        int z, y, xx;
        cell_of(g, r0 + r, &b, &z, &y, &xx);
        const float *in = col + (size_t)r * K;
        for (int i = 0; i < g->k[0]; i++) {
            int zi = z * g->s[0] - g->p[0] + i * g->dil[0];
            for (int j = 0; j < g->k[1]; j++) {
                int yi = y * g->s[1] - g->p[1] + j * g->dil[1];
                for (int l = 0; l < g->k[2]; l++, in += C) {
                    int xi = xx * g->s[2] - g->p[2] + l * g->dil[2];
                    if (zi < 0 || zi >= g->d || yi < 0 || yi >= g->h || xi < 0 || xi >= g->w)
                        continue;
                    float *o = dx + ((((size_t)b * g->d + zi) * g->h + yi) * g->w + xi) * C;
                    for (int c = c0; c < c1; c++)
                        o[c] += in[c];
                }
            }
        }
    }
}

static void col2im_task(void *ctx, int ith, int nth)
{
    const col_job *j = ctx;
    int64_t c0, c1;
    cr_split(j->g->c, ith, nth, &c0, &c1);
    if (c0 < c1)
        col2im_chans(j->g, j->src, j->r0, j->rows, j->dst, (int)c0, (int)c1);
}

/* ---- convolution ----------------------------------------------------------- */

void cr_conv3d(cr_pool *p, const cr_vol_geom *g, const float *x, const float *k,
               const float *bias, bool add, float *y, float *scratch)
{
    int64_t P = n_small(g);
    int K = patch_len(g), T = tile_rows(g);
    for (int64_t r0 = 0; r0 < P; r0 += T) {
        int rows = (int)(P - r0 < T ? P - r0 : T);
        im2col(p, g, x, r0, rows, scratch);
        cr_gemm_bias(p, false, false, rows, g->oc, K, scratch, K, k, g->oc, add ? 1.0f : 0.0f,
                     y + r0 * g->oc, g->oc, bias);
    }
}

void cr_conv3d_backward_data(cr_pool *p, const cr_vol_geom *g, const float *dy, const float *k,
                             float *dx, float *scratch)
{
    int64_t P = n_small(g);
    int K = patch_len(g), T = tile_rows(g);
    for (int64_t r0 = 0; r0 < P; r0 += T) {
        int rows = (int)(P - r0 < T ? P - r0 : T);
        cr_gemm(p, false, true, rows, K, g->oc, dy + r0 * g->oc, g->oc, k, g->oc, 0.0f, scratch,
                K);
        col_job j = { g, scratch, dx, r0, rows };
        cr_pool_run(p, cr_tasks(p, g->c, (double)rows * K, MIN_TASK_WORK), col2im_task, &j);
    }
}

void cr_conv3d_backward_filter(cr_pool *p, const cr_vol_geom *g, const float *x,
                               const float *dy, float *dk, float *scratch)
{
    int64_t P = n_small(g);
    int K = patch_len(g), T = tile_rows(g);
    for (int64_t r0 = 0; r0 < P; r0 += T) {
        int rows = (int)(P - r0 < T ? P - r0 : T);
        im2col(p, g, x, r0, rows, scratch);
        cr_gemm(p, true, false, K, g->oc, rows, scratch, K, dy + r0 * g->oc, g->oc, 1.0f, dk,
                g->oc);
    }
}

void cr_vol_colsum(const float *src, int64_t rows, int C, float *dst)
{
    for (int64_t r = 0; r < rows; r++)
        for (int c = 0; c < C; c++)
            dst[c] += src[r * C + c];
}

/* ---- pooling ------------------------------------------------------------------ */

typedef struct pool_job {
    const cr_vol_geom *g;
    const float *x, *y, *dy;
    float *out;
    bool max;
} pool_job;

/* The window of small-side cell (z, y, x) clipped to the volume: [lo, hi)
 * per axis. */
static void window_of(const cr_vol_geom *g, int z, int y, int x, int lo[3], int hi[3])
{
    int at[3] = { z, y, x }, dim[3] = { g->d, g->h, g->w };
    for (int a = 0; a < 3; a++) {
        int s = at[a] * g->s[a] - g->p[a];
        lo[a] = s < 0 ? 0 : s;
        hi[a] = s + g->k[a] < dim[a] ? s + g->k[a] : dim[a];
    }
}

static void pool_fwd_task(void *ctx, int ith, int nth)
{
    const pool_job *j = ctx;
    const cr_vol_geom *g = j->g;
    size_t C = (size_t)g->c;
    int64_t lo, hi;
    cr_split((int64_t)g->n * g->od, ith, nth, &lo, &hi);
    for (int64_t plane = lo; plane < hi; plane++) {
        int64_t b = plane / g->od;
        int z = (int)(plane % g->od);
        for (int y = 0; y < g->oh; y++)
            for (int x = 0; x < g->ow; x++) {
                int wl[3], wh[3];
                window_of(g, z, y, x, wl, wh);
                float *out = j->out + (((size_t)plane * g->oh + y) * g->ow + x) * C;
                int cnt = (wh[0] - wl[0]) * (wh[1] - wl[1]) * (wh[2] - wl[2]);
                for (size_t c = 0; c < C; c++)
                    out[c] = j->max ? -INFINITY : 0.0f;
                for (int zi = wl[0]; zi < wh[0]; zi++)
                    for (int yi = wl[1]; yi < wh[1]; yi++)
                        for (int xi = wl[2]; xi < wh[2]; xi++) {
                            const float *in =
                                j->x + ((((size_t)b * g->d + zi) * g->h + yi) * g->w + xi) * C;
                            if (j->max) {
                                for (size_t c = 0; c < C; c++)
                                    out[c] = in[c] > out[c] ? in[c] : out[c];
                            } else {
                                for (size_t c = 0; c < C; c++)
                                    out[c] += in[c];
                            }
                        }
                if (!j->max && cnt > 0)
                    for (size_t c = 0; c < C; c++)
                        out[c] /= (float)cnt;
            }
    }
}

void cr_pool3d(cr_pool *p, const cr_vol_geom *g, const float *x, float *y, bool max)
{
    pool_job j = { .g = g, .x = x, .out = y, .max = max };
    int64_t planes = (int64_t)g->n * g->od;
    double work = (double)planes * g->oh * g->ow * g->c * g->k[0] * g->k[1] * g->k[2];
    cr_pool_run(p, cr_tasks(p, planes, work, MIN_TASK_WORK), pool_fwd_task, &j);
}

static void pool_back_task(void *ctx, int ith, int nth)
{
    const pool_job *j = ctx;
    const cr_vol_geom *g = j->g;
    size_t C = (size_t)g->c;
    int64_t c0, c1;
    cr_split(g->c, ith, nth, &c0, &c1);
    for (int64_t plane = 0; plane < (int64_t)g->n * g->od; plane++) {
        int64_t b = plane / g->od;
        int z = (int)(plane % g->od);
        for (int y = 0; y < g->oh; y++)
            for (int x = 0; x < g->ow; x++) {
                int wl[3], wh[3];
                window_of(g, z, y, x, wl, wh);
                size_t o = (((size_t)plane * g->oh + y) * g->ow + x) * C;
                int cnt = (wh[0] - wl[0]) * (wh[1] - wl[1]) * (wh[2] - wl[2]);
                for (int64_t c = c0; c < c1; c++) {
                    bool done = false;
                    for (int zi = wl[0]; zi < wh[0] && !done; zi++)
                        for (int yi = wl[1]; yi < wh[1] && !done; yi++)
                            for (int xi = wl[2]; xi < wh[2] && !done; xi++) {
                                size_t at =
                                    ((((size_t)b * g->d + zi) * g->h + yi) * g->w + xi) * C + c;
                                if (!j->max) {
                                    j->out[at] += j->dy[o + c] / (float)cnt;
                                } else if (j->x[at] == j->y[o + c]) {
                                    j->out[at] += j->dy[o + c];
                                    done = true;
                                }
                            }
                }
            }
    }
}

void cr_pool3d_backward(cr_pool *p, const cr_vol_geom *g, const float *x, const float *y,
                        const float *dy, float *dx, bool max)
{
    pool_job j = { .g = g, .x = x, .y = y, .dy = dy, .out = dx, .max = max };
    double work = (double)n_small(g) * g->c * g->k[0] * g->k[1] * g->k[2];
    cr_pool_run(p, cr_tasks(p, g->c, work, MIN_TASK_WORK), pool_back_task, &j);
}
