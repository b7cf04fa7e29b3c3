/* q8_elem.c - int8 elementwise kernels and pooling: add, quantize and
 * dequantize (the level's loops, threads take ranges of elements), max and
 * average pooling (plain loops, threads take output rows). Each output is
 * computed the same way wherever it falls, so results do not depend on the
 * thread count.
 */
#include "q8.h"

/* Products and sums stay separate operations (no FMA): gcc does not
 * contract in ISO C mode; clang needs telling. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define ELEM_CHUNK 65536           /* elements per task, at least */

typedef struct elem_job {
    int64_t n;
    const uint8_t *a, *b;
    const float *x;
    uint8_t *y;
    float *fy;
    int32_t z_a, z_b, z_y, lo, hi;
    float ma, mb;
} elem_job;

static void elem_run(cr_pool *p, elem_job *j, cr_task_fn fn)
{
    if (j->n <= 0)
        return;
    int64_t chunks = (j->n + ELEM_CHUNK - 1) / ELEM_CHUNK;
    cr_pool_run(p, cr_tasks(p, chunks, (double)j->n, ELEM_CHUNK), fn, j);
}

static void add_task(void *ctx, int ith, int nth)
{
    const elem_job *j = ctx;
    int64_t lo, hi;
    cr_split_units(j->n, 64, ith, nth, &lo, &hi);
    if (lo < hi)
        cr_q8_ukr_get()->add(hi - lo, j->a + lo, j->z_a, j->ma, j->b + lo, j->z_b, j->mb,
                             j->y + lo, j->z_y, j->lo, j->hi);
}

void cr_q8_add(cr_pool *p, int64_t n, const uint8_t *a, int32_t z_a, float ma,
               const uint8_t *b, int32_t z_b, float mb, uint8_t *y, int32_t z_y,
               int32_t lo, int32_t hi)
{
    elem_job j = { .n = n, .a = a, .b = b, .y = y, .z_a = z_a, .z_b = z_b, .z_y = z_y,
                   .lo = lo, .hi = hi, .ma = ma, .mb = mb };
    elem_run(p, &j, add_task);
}

static void quantize_task(void *ctx, int ith, int nth)
{
    const elem_job *j = ctx;
    int64_t lo, hi;
    cr_split_units(j->n, 64, ith, nth, &lo, &hi);
    if (lo < hi)
        cr_q8_ukr_get()->quantize(hi - lo, j->x + lo, j->ma, j->z_y, j->y + lo);
}

void cr_q8_quantize(cr_pool *p, int64_t n, const float *x, float s, int32_t z, uint8_t *q)
{
    elem_job j = { .n = n, .x = x, .y = q, .z_y = z, .ma = s };
    elem_run(p, &j, quantize_task);
}

static void dequantize_task(void *ctx, int ith, int nth)
{
    const elem_job *j = ctx;
    int64_t lo, hi;
    cr_split_units(j->n, 64, ith, nth, &lo, &hi);
    if (lo < hi)
        cr_q8_ukr_get()->dequantize(hi - lo, j->a + lo, j->ma, j->z_a, j->fy + lo);
}

void cr_q8_dequantize(cr_pool *p, int64_t n, const uint8_t *q, float s, int32_t z, float *x)
{
    elem_job j = { .n = n, .a = q, .fy = x, .z_a = z, .ma = s };
    elem_run(p, &j, dequantize_task);
}

/* ---- pooling -------------------------------------------------------------- */

typedef struct pool_job {
    const cr_conv_geom *g;
    const uint8_t *x;
    uint8_t *y;
    bool max;
    int32_t z_x, z_y, lo, hi;
    float m;
} pool_job;

#define POOL_CHUNK 256             /* channels summed at a time (on the stack) */

/* Output row `row`: per cell and chunk of channels, the window's valid
 * cells in order (channels innermost, which the compiler vectorizes): the
 * byte maximum (0 if none), or the int32 sum of x - z_x requantized. */
static void pool_row(const pool_job *j, int64_t row)
{
    const cr_conv_geom *g = j->g;
    int oh = (int)(row % g->oh), n = (int)(row / g->oh), by = oh * g->sh - g->pt, i0, i1;
    float flo = (float)(j->lo - j->z_y), fhi = (float)(j->hi - j->z_y);
    uint32_t acc[POOL_CHUNK];      /* sums wrap modulo 2^32, as int32 elsewhere */
    cr_tap_range(by, 1, g->kh, g->h, &i0, &i1);
    for (int ow = 0; ow < g->ow; ow++) {
        int bx = ow * g->sw - g->pl, j0, j1;
        cr_tap_range(bx, 1, g->kw, g->w, &j0, &j1);
        int count = (i1 - i0) * (j1 - j0);
        float scale = count > 0 ? j->m / (float)count : 0.0f;
        uint8_t *y = j->y + ((size_t)row * g->ow + ow) * g->c;
        for (int c0 = 0; c0 < g->c; c0 += POOL_CHUNK) {
            int nc = g->c - c0 < POOL_CHUNK ? g->c - c0 : POOL_CHUNK;
            for (int c = 0; c < nc; c++)
                acc[c] = 0;
            for (int i = i0; i < i1; i++)
                for (int t = j0; t < j1; t++) {
                    const uint8_t *x =
                        j->x + (((size_t)n * g->h + by + i) * g->w + bx + t) * g->c + c0;
                    if (j->max)
                        for (int c = 0; c < nc; c++)
                            acc[c] = x[c] > acc[c] ? x[c] : acc[c];
                    else
                        for (int c = 0; c < nc; c++)
                            acc[c] += (uint32_t)(x[c] - j->z_x);
                }
            for (int c = 0; c < nc; c++) {
                if (j->max) {
                    y[c0 + c] = (uint8_t)acc[c];
                    continue;
                }
                float f = count > 0 ? (float)(int32_t)acc[c] * scale : 0.0f;
                f = f > flo ? f : flo;
                f = f < fhi ? f : fhi;
                y[c0 + c] = (uint8_t)((int32_t)lrintf(f) + j->z_y);
            }
        }
    }
}

static void pool_task(void *ctx, int ith, int nth)
{
    const pool_job *j = ctx;
    int64_t lo, hi;
    cr_split((int64_t)j->g->n * j->g->oh, ith, nth, &lo, &hi);
    for (int64_t row = lo; row < hi; row++)
        pool_row(j, row);
}

static void pool_run(cr_pool *p, pool_job *j)
{
    const cr_conv_geom *g = j->g;
    int64_t rows = (int64_t)g->n * g->oh;
    double work = (double)rows * g->ow * g->c * g->kh * g->kw;
    if (rows > 0)
        cr_pool_run(p, cr_tasks(p, rows, work, ELEM_CHUNK), pool_task, j);
}

void cr_q8_maxpool2d(cr_pool *p, const cr_conv_geom *g, const uint8_t *x, uint8_t *y)
{
    pool_job j = { .g = g, .x = x, .y = y, .max = true };
    pool_run(p, &j);
}

void cr_q8_avgpool2d(cr_pool *p, const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                     float m, uint8_t *y, int32_t z_y, int32_t lo, int32_t hi)
{
    pool_job j = { .g = g, .x = x, .y = y, .max = false, .z_x = z_x, .m = m, .z_y = z_y,
                   .lo = lo, .hi = hi };
    pool_run(p, &j);
}
