/* pooling.c - max and average pooling, NHWC, vectorized over channels
 * (loops in ukr_tmpl.h). Forward: threads take output rows (n, oh).
 * Backward: windows may overlap, so threads take channel ranges instead and
 * each walks every output cell in order; no two threads touch the same dx
 * element, and each element sees the same sequence for any thread count.
 */
#include "ukr.h"

#define MIN_TASK_WORK 1e5          /* window cells visited per task */

typedef struct pool_job {
    const cr_ukr *u;
    const cr_conv_geom *g;
    const float *x, *y, *dy;
    float *out;
    bool max;
} pool_job;

static double pool_work(const cr_conv_geom *g)
{
    return (double)g->n * g->oh * g->ow * g->c * g->kh * g->kw;
}

static void fwd_task(void *ctx, int ith, int nth)
{
    const pool_job *j = ctx;
    int64_t lo, hi;
    cr_split((int64_t)j->g->n * j->g->oh, ith, nth, &lo, &hi);
    for (int64_t row = lo; row < hi; row++)
        j->u->pool_row(j->g, j->x, j->out, row, j->max);
}

static void back_task(void *ctx, int ith, int nth)
{
    const pool_job *j = ctx;
    int64_t c0, c1;
    cr_split_units(j->g->c, j->u->vw, ith, nth, &c0, &c1);
    if (c0 < c1)
        j->u->pool_back(j->g, j->x, j->y, j->dy, j->out, (int)c0, (int)c1, j->max);
}

static void forward(cr_pool *p, const cr_conv_geom *g, const float *x, float *y, bool max)
{
    pool_job j = { .u = cr_ukr_get(), .g = g, .x = x, .out = y, .max = max };
    int64_t rows = (int64_t)g->n * g->oh;
    if (rows > 0)
        cr_pool_run(p, cr_tasks(p, rows, pool_work(g), MIN_TASK_WORK), fwd_task, &j);
}

static void backward(cr_pool *p, const cr_conv_geom *g, const float *x, const float *y,
                     const float *dy, float *dx, bool max)
{
    pool_job j = { .u = cr_ukr_get(), .g = g, .x = x, .y = y, .dy = dy, .out = dx, .max = max };
    int64_t chunks = (g->c + j.u->vw - 1) / j.u->vw;
    if ((int64_t)g->n * g->oh * g->ow > 0)
        cr_pool_run(p, cr_tasks(p, chunks, pool_work(g), MIN_TASK_WORK), back_task, &j);
}

void cr_maxpool2d(cr_pool *p, const cr_conv_geom *g, const float *x, float *y)
{
    forward(p, g, x, y, true);
}

void cr_avgpool2d(cr_pool *p, const cr_conv_geom *g, const float *x, float *y)
{
    forward(p, g, x, y, false);
}

void cr_maxpool2d_backward(cr_pool *p, const cr_conv_geom *g, const float *x, const float *y,
                           const float *dy, float *dx)
{
    backward(p, g, x, y, dy, dx, true);
}

void cr_avgpool2d_backward(cr_pool *p, const cr_conv_geom *g, const float *dy, float *dx)
{
    backward(p, g, NULL, NULL, dy, dx, false);
}
