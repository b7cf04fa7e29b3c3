/* conv.c - NHWC convolution, depthwise convolution and pooling.
 *
 * Conv2D: 1x1 stride-1 unpadded convolutions are one gemm over [n*h*w, c];
 * others go through im2col in row tiles (bounded scratch) + gemm.
 * Depthwise and pooling loop over output pixels with channels innermost
 * (contiguous in NHWC, so the compiler vectorizes them); threads take
 * whole output rows, so every output is computed the same way for any
 * thread count. Backward passes accumulate (+=) into their outputs.
 */
#include "kernels.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TILE_ROWS 256     /* output pixels per im2col tile */

static bool is_pointwise(const cr_conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
           g->oh == g->h && g->ow == g->w;
}

size_t cr_conv2d_scratch(const cr_conv_geom *g, int n_threads)
{
    (void)n_threads;
    if (is_pointwise(g))
        return 0;
    return (size_t)TILE_ROWS * g->kh * g->kw * g->c;
}

/* Row r of the im2col matrix: output pixel r (over n*oh*ow), kh*kw*c values. */
static void im2col_rows(const cr_conv_geom *g, const float *x, int64_t r0, int rows, float *col)
{
    int K = g->kh * g->kw * g->c;
    for (int r = 0; r < rows; r++) {
        int64_t p = r0 + r;
        int ow = (int)(p % g->ow), oh = (int)((p / g->ow) % g->oh), n = (int)(p / g->ow / g->oh);
        float *dst = col + (size_t)r * K;
        for (int i = 0; i < g->kh; i++) {
            int y = oh * g->sh - g->pt + i * g->dh;
            for (int j = 0; j < g->kw; j++, dst += g->c) {
                int xx = ow * g->sw - g->pl + j * g->dw;
                if (y < 0 || y >= g->h || xx < 0 || xx >= g->w)
                    memset(dst, 0, (size_t)g->c * sizeof(float));
                else
                    memcpy(dst, x + (((size_t)n * g->h + y) * g->w + xx) * g->c,
                           (size_t)g->c * sizeof(float));
            }
        }
    }
}

static void col2im_rows(const cr_conv_geom *g, const float *col, int64_t r0, int rows, float *dx)
{
    int K = g->kh * g->kw * g->c;
    for (int r = 0; r < rows; r++) {
        int64_t p = r0 + r;
        int ow = (int)(p % g->ow), oh = (int)((p / g->ow) % g->oh), n = (int)(p / g->ow / g->oh);
        const float *src = col + (size_t)r * K;
        for (int i = 0; i < g->kh; i++) {
            int y = oh * g->sh - g->pt + i * g->dh;
            for (int j = 0; j < g->kw; j++, src += g->c) {
                int xx = ow * g->sw - g->pl + j * g->dw;
                if (y < 0 || y >= g->h || xx < 0 || xx >= g->w)
                    continue;
                float *d = dx + (((size_t)n * g->h + y) * g->w + xx) * g->c;
                for (int c = 0; c < g->c; c++)
                    d[c] += src[c];
            }
        }
    }
}

static void add_bias(float *y, int64_t rows, int oc, const float *bias)
{
    if (!bias)
        return;
    for (int64_t r = 0; r < rows; r++)
        for (int c = 0; c < oc; c++)
            y[r * oc + c] += bias[c];
}

void cr_conv2d(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
               const float *bias, float *y, float *scratch)
{
    int64_t P = (int64_t)g->n * g->oh * g->ow;
    int K = g->kh * g->kw * g->c;
    if (is_pointwise(g)) {
        cr_gemm(p, false, false, (int)P, g->oc, g->c, x, g->c, k, g->oc, 0.0f, y, g->oc);
    } else {
        for (int64_t r0 = 0; r0 < P; r0 += TILE_ROWS) {
            int rows = (int)(P - r0 < TILE_ROWS ? P - r0 : TILE_ROWS);
            im2col_rows(g, x, r0, rows, scratch);
            cr_gemm(p, false, false, rows, g->oc, K, scratch, K, k, g->oc, 0.0f,
                    y + r0 * g->oc, g->oc);
        }
    }
    add_bias(y, P, g->oc, bias);
}

void cr_conv2d_backward(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                        const float *dy, float *dx, float *dk, float *dbias, float *scratch)
{
    int64_t P = (int64_t)g->n * g->oh * g->ow;
    int K = g->kh * g->kw * g->c;
    if (dbias)
        for (int64_t r = 0; r < P; r++)
            for (int c = 0; c < g->oc; c++)
                dbias[c] += dy[r * g->oc + c];
    if (is_pointwise(g)) {
        if (dk)      /* dk[c, oc] += x^T dy */
            cr_gemm(p, true, false, g->c, g->oc, (int)P, x, g->c, dy, g->oc, 1.0f, dk, g->oc);
        if (dx)      /* dx += dy k^T */
            cr_gemm(p, false, true, (int)P, g->c, g->oc, dy, g->oc, k, g->oc, 1.0f, dx, g->c);
        return;
    }
    for (int64_t r0 = 0; r0 < P; r0 += TILE_ROWS) {
        int rows = (int)(P - r0 < TILE_ROWS ? P - r0 : TILE_ROWS);
        const float *dyt = dy + r0 * g->oc;
        if (dk) {
            im2col_rows(g, x, r0, rows, scratch);
            cr_gemm(p, true, false, K, g->oc, rows, scratch, K, dyt, g->oc, 1.0f, dk, g->oc);
        }
        if (dx) {
            cr_gemm(p, false, true, rows, K, g->oc, dyt, g->oc, k, g->oc, 0.0f, scratch, K);
            col2im_rows(g, scratch, r0, rows, dx);
        }
    }
}

/* ---- depthwise --------------------------------------------------------- */

typedef struct dw_job {
    const cr_conv_geom *g;
    const float *x, *k, *bias, *dy;
    float *y, *dx;
    int dm;
} dw_job;

/* Output rows (n, oh) [lo, hi): y[.., ci*dm + j] = sum x[.., ci] k[i, j, ci, jm]. */
static void dw_rows(void *ctx, int ith, int nth)
{
    dw_job *d = ctx;
    const cr_conv_geom *g = d->g;
    int64_t lo, hi;
    cr_split((int64_t)g->n * g->oh, ith, nth, &lo, &hi);
    int dm = d->dm, oc = g->oc;
    for (int64_t row = lo; row < hi; row++) {
        int n = (int)(row / g->oh), oh = (int)(row % g->oh);
        for (int ow = 0; ow < g->ow; ow++) {
            float *yo = d->y + (((size_t)n * g->oh + oh) * g->ow + ow) * oc;
            for (int c = 0; c < oc; c++)
                yo[c] = d->bias ? d->bias[c] : 0.0f;
            for (int i = 0; i < g->kh; i++) {
                int yy = oh * g->sh - g->pt + i * g->dh;
                if (yy < 0 || yy >= g->h)
                    continue;
                for (int j = 0; j < g->kw; j++) {
                    int xx = ow * g->sw - g->pl + j * g->dw;
                    if (xx < 0 || xx >= g->w)
                        continue;
                    const float *xi = d->x + (((size_t)n * g->h + yy) * g->w + xx) * g->c;
                    const float *ki = d->k + ((size_t)i * g->kw + j) * oc;
                    if (dm == 1)
                        for (int c = 0; c < oc; c++)
                            yo[c] = fmaf(xi[c], ki[c], yo[c]);
                    else
                        for (int c = 0; c < oc; c++)
                            yo[c] = fmaf(xi[c / dm], ki[c], yo[c]);
                }
            }
        }
    }
}

void cr_depthwise2d(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                    const float *bias, float *y)
{
    dw_job d = { .g = g, .x = x, .k = k, .bias = bias, .y = y, .dm = g->oc / g->c };
    int64_t rows = (int64_t)g->n * g->oh;
    cr_pool_run(p, rows < 64 ? (int)rows : 64, dw_rows, &d);
}

/* dx: threads over input rows would need gathers; backward runs serially
 * per image batch, in a fixed order, which keeps it deterministic. */
void cr_depthwise2d_backward(cr_pool *p, const cr_conv_geom *g, const float *x, const float *k,
                             const float *dy, float *dx, float *dk, float *dbias)
{
    (void)p;
    int dm = g->oc / g->c, oc = g->oc;
    for (int n = 0; n < g->n; n++)
        for (int oh = 0; oh < g->oh; oh++)
            for (int ow = 0; ow < g->ow; ow++) {
                const float *go = dy + (((size_t)n * g->oh + oh) * g->ow + ow) * oc;
                if (dbias)
                    for (int c = 0; c < oc; c++)
                        dbias[c] += go[c];
                for (int i = 0; i < g->kh; i++) {
                    int yy = oh * g->sh - g->pt + i * g->dh;
                    if (yy < 0 || yy >= g->h)
                        continue;
                    for (int j = 0; j < g->kw; j++) {
                        int xx = ow * g->sw - g->pl + j * g->dw;
                        if (xx < 0 || xx >= g->w)
                            continue;
                        size_t xo = (((size_t)n * g->h + yy) * g->w + xx) * g->c;
                        size_t ko = ((size_t)i * g->kw + j) * oc;
                        for (int c = 0; c < oc; c++) {
                            if (dk)
                                dk[ko + c] += go[c] * x[xo + c / dm];
                            if (dx)
                                dx[xo + c / dm] += go[c] * k[ko + c];
                        }
                    }
                }
            }
}

/* ---- pooling ----------------------------------------------------------- */

typedef struct pool_job {
    const cr_conv_geom *g;
    const float *x;
    float *y;
    bool max;
} pool_job;

static void pool_rows(void *ctx, int ith, int nth)
{
    pool_job *d = ctx;
    const cr_conv_geom *g = d->g;
    int64_t lo, hi;
    cr_split((int64_t)g->n * g->oh, ith, nth, &lo, &hi);
    for (int64_t row = lo; row < hi; row++) {
        int n = (int)(row / g->oh), oh = (int)(row % g->oh);
        for (int ow = 0; ow < g->ow; ow++) {
            float *yo = d->y + (((size_t)n * g->oh + oh) * g->ow + ow) * g->c;
            int cnt = 0;
            for (int c = 0; c < g->c; c++)
                yo[c] = d->max ? -FLT_MAX : 0.0f;
            for (int i = 0; i < g->kh; i++) {
                int yy = oh * g->sh - g->pt + i * g->dh;
                if (yy < 0 || yy >= g->h)
                    continue;
                for (int j = 0; j < g->kw; j++) {
                    int xx = ow * g->sw - g->pl + j * g->dw;
                    if (xx < 0 || xx >= g->w)
                        continue;
                    const float *xi = d->x + (((size_t)n * g->h + yy) * g->w + xx) * g->c;
                    cnt++;
                    if (d->max)
                        for (int c = 0; c < g->c; c++)
                            yo[c] = xi[c] > yo[c] ? xi[c] : yo[c];
                    else
                        for (int c = 0; c < g->c; c++)
                            yo[c] += xi[c];
                }
            }
            if (!d->max && cnt)
                for (int c = 0; c < g->c; c++)
                    yo[c] /= (float)cnt;
        }
    }
}

static void pool_run(cr_pool *p, const cr_conv_geom *g, const float *x, float *y, bool max)
{
    pool_job d = { g, x, y, max };
    int64_t rows = (int64_t)g->n * g->oh;
    cr_pool_run(p, rows < 64 ? (int)rows : 64, pool_rows, &d);
}

void cr_maxpool2d(cr_pool *p, const cr_conv_geom *g, const float *x, float *y)
{
    pool_run(p, g, x, y, true);
}

void cr_avgpool2d(cr_pool *p, const cr_conv_geom *g, const float *x, float *y)
{
    pool_run(p, g, x, y, false);
}

/* Max: the gradient goes to the first cell (in window order) equal to the max. */
void cr_maxpool2d_backward(cr_pool *p, const cr_conv_geom *g, const float *x, const float *y,
                           const float *dy, float *dx)
{
    (void)p;
    for (int n = 0; n < g->n; n++)
        for (int oh = 0; oh < g->oh; oh++)
            for (int ow = 0; ow < g->ow; ow++) {
                size_t o = (((size_t)n * g->oh + oh) * g->ow + ow) * g->c;
                for (int c = 0; c < g->c; c++) {
                    bool done = false;
                    for (int i = 0; i < g->kh && !done; i++) {
                        int yy = oh * g->sh - g->pt + i * g->dh;
                        if (yy < 0 || yy >= g->h)
                            continue;
                        for (int j = 0; j < g->kw && !done; j++) {
                            int xx = ow * g->sw - g->pl + j * g->dw;
                            if (xx < 0 || xx >= g->w)
                                continue;
                            size_t xi = (((size_t)n * g->h + yy) * g->w + xx) * g->c + c;
                            if (x[xi] == y[o + c]) {
                                dx[xi] += dy[o + c];
                                done = true;
                            }
                        }
                    }
                }
            }
}

void cr_avgpool2d_backward(cr_pool *p, const cr_conv_geom *g, const float *dy, float *dx)
{
    (void)p;
    for (int n = 0; n < g->n; n++)
        for (int oh = 0; oh < g->oh; oh++)
            for (int ow = 0; ow < g->ow; ow++) {
                int cnt = 0;
                for (int i = 0; i < g->kh; i++) {
                    int yy = oh * g->sh - g->pt + i * g->dh;
                    for (int j = 0; j < g->kw; j++) {
                        int xx = ow * g->sw - g->pl + j * g->dw;
                        cnt += yy >= 0 && yy < g->h && xx >= 0 && xx < g->w;
                    }
                }
                if (!cnt)
                    continue;
                const float *go = dy + (((size_t)n * g->oh + oh) * g->ow + ow) * g->c;
                for (int i = 0; i < g->kh; i++) {
                    int yy = oh * g->sh - g->pt + i * g->dh;
                    if (yy < 0 || yy >= g->h)
                        continue;
                    for (int j = 0; j < g->kw; j++) {
                        int xx = ow * g->sw - g->pl + j * g->dw;
                        if (xx < 0 || xx >= g->w)
                            continue;
                        float *d = dx + (((size_t)n * g->h + yy) * g->w + xx) * g->c;
                        for (int c = 0; c < g->c; c++)
                            d[c] += go[c] / (float)cnt;
                    }
                }
            }
}
