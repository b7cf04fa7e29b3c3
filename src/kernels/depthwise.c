/* depthwise.c - DepthwiseConv2D, NHWC input, kernel [kh, kw, c, dm].
 *
 * Depth multiplier 1 (MobileNet's case) runs the vectorized loops of
 * ukr_tmpl.h: forward one output row (n, oh) at a time, channels innermost
 * in vectors, several output columns at once in the image interior, the
 * fused activation in the stores; threads claim chunks of whole rows. Backward threads take channel ranges, each walking every
 * output cell in order, so no two threads add into the same dx, dk or dbias
 * element and each element sees the same sequence for any thread count.
 * Other multipliers use the plain loops below, split the same way (an input
 * channel owns its dm output channels).
 */
#include "ukr.h"

#define MIN_TASK_WORK 1e5          /* multiply-adds per task */
#define CHUNK_WORK 2e5             /* multiply-adds per forward chunk (aim) */

typedef struct dw_job {
    const cr_ukr *u;
    const cr_conv_geom *g;
    const float *x, *k, *bias, *dy;
    float *y, *dx, *dk, *dbias;
    int act;
    int64_t rows_per_chunk;
} dw_job;

static double dw_work(const cr_conv_geom *g)
{
    return (double)g->n * g->oh * g->ow * g->oc * g->kh * g->kw;
}

/* ---- any depth multiplier ------------------------------------------------- */

/* y = bias; y = y + x * k over valid taps, i then j; then y = act(y). */
static void dw_row_any(const dw_job *d, int64_t row)
{
    const cr_conv_geom *g = d->g;
    int dm = g->oc / g->c, oh = (int)(row % g->oh), n = (int)(row / g->oh), i0, i1;
    cr_tap_range(oh * g->sh - g->pt, g->dh, g->kh, g->h, &i0, &i1);
    for (int ow = 0; ow < g->ow; ow++) {
        int bx = ow * g->sw - g->pl, j0, j1;
        cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
        float *y = d->y + ((size_t)row * g->ow + ow) * g->oc;
        for (int o = 0; o < g->oc; o++)
            y[o] = d->bias ? d->bias[o] : 0.0f;
        for (int i = i0; i < i1; i++) {
            int iy = oh * g->sh - g->pt + i * g->dh;
            for (int j = j0; j < j1; j++) {
                const float *x = d->x + (((size_t)n * g->h + iy) * g->w + bx + j * g->dw) * g->c;
                const float *k = d->k + ((size_t)i * g->kw + j) * g->oc;
                for (int o = 0; o < g->oc; o++)
                    y[o] += x[o / dm] * k[o];
            }
        }
        for (int o = 0; d->act != CR_ACT_NONE && o < g->oc; o++)
            y[o] = cr_act_apply(y[o], d->act);
    }
}

/* Input channels [c0, c1) and their output channels, cells in order. */
static void dw_back_any(const dw_job *d, int c0, int c1)
{
    const cr_conv_geom *g = d->g;
    int dm = g->oc / g->c;
    for (int64_t row = 0; row < (int64_t)g->n * g->oh; row++) {
        int n = (int)(row / g->oh), oh = (int)(row % g->oh), i0, i1;
        cr_tap_range(oh * g->sh - g->pt, g->dh, g->kh, g->h, &i0, &i1);
        for (int ow = 0; ow < g->ow; ow++) {
            const float *gy = d->dy + ((size_t)row * g->ow + ow) * g->oc;
            int bx = ow * g->sw - g->pl, j0, j1;
            cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
            for (int o = c0 * dm; d->dbias && o < c1 * dm; o++)
                d->dbias[o] += gy[o];
            for (int i = i0; i < i1; i++) {
                int iy = oh * g->sh - g->pt + i * g->dh;
                for (int j = j0; j < j1; j++) {
                    size_t xo = (((size_t)n * g->h + iy) * g->w + bx + j * g->dw) * g->c;
                    size_t ko = ((size_t)i * g->kw + j) * g->oc;
                    for (int o = c0 * dm; o < c1 * dm; o++) {
                        if (d->dk)
                            d->dk[ko + o] += gy[o] * d->x[xo + o / dm];
                        if (d->dx)
                            d->dx[xo + o / dm] += gy[o] * d->k[ko + o];
                    }
                }
            }
        }
    }
}

/* ---- tasks ------------------------------------------------------------------ */

/* Chunk i: rows_per_chunk output rows. */
static void fwd_task(void *ctx, int i, int n)
{
    const dw_job *d = ctx;
    const cr_conv_geom *g = d->g;
    int64_t rows = (int64_t)g->n * g->oh, lo = i * d->rows_per_chunk;
    int64_t hi = lo + d->rows_per_chunk < rows ? lo + d->rows_per_chunk : rows;
    (void)n;
    for (int64_t row = lo; row < hi; row++) {
        if (g->oc == g->c)
            d->u->dw_row(g, d->x, d->k, d->bias, d->y, row, d->act);
        else
            dw_row_any(d, row);
    }
}

static void back_task(void *ctx, int ith, int nth)
{
    const dw_job *d = ctx;
    const cr_conv_geom *g = d->g;
    int64_t c0, c1;
    cr_split_units(g->c, d->u->vw, ith, nth, &c0, &c1);
    if (c0 >= c1)
        return;
    if (g->oc == g->c)
        d->u->dw_back(g, d->x, d->k, d->dy, d->dx, d->dk, d->dbias, (int)c0, (int)c1);
    else
        dw_back_any(d, (int)c0, (int)c1);
}

/* Forward: chunks of whole output rows, about CHUNK_WORK each and at
 * least 4 per thread where rows allow, claimed dynamically. */
void cr_depthwise2d_act(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                        const float *bias, cr_act act, float *y)
{
    dw_job d = { .u = cr_ukr_get(), .g = g, .x = x, .k = k, .bias = bias, .y = y, .act = act };
    int64_t rows = (int64_t)g->n * g->oh;
    if (rows <= 0)
        return;
    double work = dw_work(g), per_row = work / (double)rows;
    if (work < MIN_TASK_WORK * 2)
        p = NULL;
    int64_t rpc = (int64_t)(CHUNK_WORK / per_row) + 1, most = rows / (4 * cr_pool_size(p));
    if (rpc > most)
        rpc = most > 1 ? most : 1;
    d.rows_per_chunk = rpc;
    cr_pool_chunks(p, (int)((rows + rpc - 1) / rpc), fwd_task, &d);
}

void cr_depthwise2d(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                    const float *bias, float *y)
{
    cr_depthwise2d_act(p, g, x, k, bias, CR_ACT_NONE, y);
}

void cr_depthwise2d_backward(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                             const float *dy, float *dx, float *dk, float *dbias)
{
    dw_job d = { .u = cr_ukr_get(), .g = g, .x = x, .k = k, .dy = dy,
                 .dx = dx, .dk = dk, .dbias = dbias };
    int64_t chunks = (g->c + d.u->vw - 1) / d.u->vw;
    if ((int64_t)g->n * g->oh * g->ow > 0 && (dx || dk || dbias))
        cr_pool_run(p, cr_tasks(p, chunks, dw_work(g), MIN_TASK_WORK), back_task, &d);
}
