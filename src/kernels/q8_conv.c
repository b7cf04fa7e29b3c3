/* q8_conv.c - int8 Conv2D and DepthwiseConv2D, NHWC.
 *
 * Conv2D with P = n*oh*ow output pixels and K = kh*kw*c:
 *  - 1x1, stride 1, no padding: x is already the [P, c] matrix, so the
 *    convolution is one gemm y[P, oc] = x[P, c] k[c, oc], read in place.
 *  - otherwise im2col by row tiles (tile_rows(g) rows of K4 bytes, about
 *    1 MB, independent of the image size and thread count): threads claim
 *    chunks of a tile's pixels, gather their rows of the patch matrix (the
 *    padding taps as z_x, the bytes past K as 0: their weights are 0) into
 *    their own part of the scratch and multiply them at once.
 * Depthwise: threads claim chunks of output rows (n, oh), and for the
 * shapes of the level's dw3_rows, of channels when the rows are few;
 * depth multiplier 1 runs the level's vector row loop, others the plain
 * one.
 */
#include "q8.h"

#define SCRATCH_BYTES (1 << 20)
#define SERIAL_MACS (1 << 18)      /* below this, one thread */
#define DW_CHUNK_MACS (1 << 18)

static bool is_pointwise(const cr_conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
           g->oh == g->h && g->ow == g->w;
}

static int64_t n_pixels(const cr_conv_geom *g) { return (int64_t)g->n * g->oh * g->ow; }

static int patch_len(const cr_conv_geom *g) { return g->kh * g->kw * g->c; }

static int tile_rows(const cr_conv_geom *g)
{
    int k4 = q8_k4(patch_len(g));
    int64_t r = SCRATCH_BYTES / (k4 > 0 ? k4 : 1), P = n_pixels(g);
    if (r < 16)
        r = 16;
    return (int)(r < P ? r : P);
}

size_t cr_q8_conv2d_packed_bytes(const cr_conv_geom *g)
{
    return cr_q8_gemm_packed_bytes(patch_len(g), g->oc);
}

void cr_q8_conv2d_pack(const cr_conv_geom *g, const int8_t *k, const int32_t *bias,
                       int32_t z_x, void *kp)
{
    cr_q8_gemm_pack(patch_len(g), g->oc, k, bias, z_x, kp);
}

size_t cr_q8_conv2d_scratch(const cr_conv_geom *g, int n_threads)
{
    (void)n_threads;
    if (is_pointwise(g) || n_pixels(g) <= 0)
        return 0;
    return (size_t)tile_rows(g) * q8_k4(patch_len(g));
}

/* n bytes from s to d, and n bytes of value v at d, without library calls
 * for short runs (rows of a patch are a few bytes in the first layers). */
static inline void copy_bytes(uint8_t *d, const uint8_t *s, size_t n)
{
    if (n > 64) {
        memcpy(d, s, n);
        return;
    }
    for (; n >= 8; n -= 8, d += 8, s += 8)
        memcpy(d, s, 8);
    if (n & 4) {
        memcpy(d, s, 4);
        d += 4, s += 4;
    }
    if (n & 2) {
        memcpy(d, s, 2);
        d += 2, s += 2;
    }
    if (n & 1)
        *d = *s;
}

static inline void fill_bytes(uint8_t *d, uint8_t v, size_t n)
{
    uint64_t v8 = v * 0x0101010101010101ull;
    if (n > 64) {
        memset(d, v, n);
        return;
    }
    for (; n >= 8; n -= 8, d += 8)
        memcpy(d, &v8, 8);
    if (n & 4) {
        memcpy(d, &v8, 4);
        d += 4;
    }
    if (n & 2) {
        memcpy(d, &v8, 2);
        d += 2;
    }
    if (n & 1)
        *d = v;
}

/* Rows p0.. of the patch matrix ([kh][kw][c], then zeros to K4). A kernel
 * row whose taps are all inside the image and adjacent (dilation 1) is one
 * run of kw * c bytes. */
static void im2col(const cr_conv_geom *g, const uint8_t *x, int32_t z_x, int64_t p0, int rows,
                   uint8_t *d)
{
    int K = patch_len(g), k4 = q8_k4(K), c = g->c;
    int ow = (int)(p0 % g->ow), oh = (int)(p0 / g->ow % g->oh);
    int n = (int)(p0 / ((int64_t)g->ow * g->oh));
    for (int r = 0; r < rows; r++, d += k4) {
        if (r > 0 && ++ow == g->ow) {
            ow = 0;
            if (++oh == g->oh)
                oh = 0, n++;
        }
        int bx = ow * g->sw - g->pl;
        bool cols_in = bx >= 0 && bx + (g->kw - 1) * g->dw < g->w;
        uint8_t *o = d;
        for (int i = 0; i < g->kh; i++) {
            int iy = oh * g->sh - g->pt + i * g->dh;
            int iyc = iy < 0 ? 0 : iy >= g->h ? g->h - 1 : iy;
            const uint8_t *xr = x + ((size_t)n * g->h + iyc) * g->w * c;
            if (iy < 0 || iy >= g->h) {
                fill_bytes(o, (uint8_t)z_x, (size_t)g->kw * c);
                o += (size_t)g->kw * c;
            } else if (cols_in && g->dw == 1) {
                copy_bytes(o, xr + (size_t)bx * c, (size_t)g->kw * c);
                o += (size_t)g->kw * c;
            } else {
                for (int j = 0; j < g->kw; j++, o += c) {
                    int ix = bx + j * g->dw;
                    if (ix < 0 || ix >= g->w)
                        fill_bytes(o, (uint8_t)z_x, (size_t)c);
                    else
                        copy_bytes(o, xr + (size_t)ix * c, (size_t)c);
                }
            }
        }
        fill_bytes(d + K, 0, (size_t)(k4 - K));
    }
}

/* Whether the level's conv_small takes this convolution (q8.h). */
static bool small_conv(const cr_q8_ukr *u, const cr_conv_geom *g)
{
    int k4 = q8_k4(patch_len(g));
    return u->conv_small && k4 <= Q8_SMALL_K4 &&
           (int64_t)(g->oc + Q8_NR - 1) / Q8_NR * Q8_NR * k4 <= Q8_SMALL_ELEMS;
}

typedef struct conv_job {
    const cr_q8_ukr *u;
    const cr_conv_geom *g;
    const uint8_t *x;
    int32_t z_x;
    const void *kp;
    const cr_q8_req *rq;
    uint8_t *y, *col;
    int64_t r0;
    int rows, mb;
} conv_job;

static void conv_chunk(void *ctx, int i, int n)
{
    const conv_job *j = ctx;
    int K = patch_len(j->g), k4 = q8_k4(K), oc = j->g->oc;
    int lo = i * j->mb, hi = lo + j->mb < j->rows ? lo + j->mb : j->rows;
    (void)n;
    if (!j->col) {                    /* conv_small: the whole gemm, no patch matrix */
        j->u->conv_small(j->g, j->x, j->z_x, j->kp, j->rq, j->y, j->r0 + lo, hi - lo);
        return;
    }
    uint8_t *col = j->col + (size_t)lo * k4;
    im2col(j->g, j->x, j->z_x, j->r0 + lo, hi - lo, col);
    q8_gemm_serial(j->u, hi - lo, 0, oc, K, col, (size_t)k4, j->kp,
                   j->y + (j->r0 + lo) * oc, NULL, (size_t)oc, j->rq);
}

void cr_q8_conv2d(cr_pool *p, const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                  const void *kp, const cr_q8_req *rq, uint8_t *y, void *scratch)
{
    int64_t P = n_pixels(g);
    if (P <= 0 || g->oc <= 0)
        return;
    if (is_pointwise(g)) {
        cr_q8_gemm_packed(p, (int)P, g->oc, g->c, x, g->c, kp, y, g->oc, rq);
        return;
    }
    int T = tile_rows(g), K = patch_len(g);
    double per_row = (double)g->oc * (K > 0 ? K : 1);
    if (per_row * P < SERIAL_MACS)
        p = NULL;
    conv_job j = { .u = cr_q8_ukr_get(), .g = g, .x = x, .z_x = z_x, .kp = kp, .rq = rq,
                   .y = y, .col = scratch };
    if (small_conv(j.u, g)) {
        j.col = NULL;
        T = P < INT32_MAX ? (int)P : INT32_MAX;
    }
    for (int64_t r0 = 0; r0 < P; r0 += T) {
        j.r0 = r0;
        j.rows = (int)(P - r0 < T ? P - r0 : T);
        j.mb = q8_rows_per_chunk(j.u, j.rows, per_row, 1, cr_pool_size(p));
        cr_pool_chunks(p, (j.rows + j.mb - 1) / j.mb, conv_chunk, &j);
    }
}

/* ---- depthwise ------------------------------------------------------------ */

size_t cr_q8_depthwise2d_packed_bytes(const cr_conv_geom *g)
{
    return (size_t)((g->oc + 63) / 64) * q8_dw_block_bytes(g->kh, g->kw);
}

void cr_q8_depthwise2d_pack(const cr_conv_geom *g, const int8_t *k, const int32_t *bias,
                            void *kp)
{
    uint8_t *d = kp;
    memset(d, 0, cr_q8_depthwise2d_packed_bytes(g));
    for (int o = 0; o < g->oc; o++) {
        uint32_t b = bias ? (uint32_t)bias[o] : 0, sum = 0;
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                int8_t w = k[((size_t)i * g->kw + j) * g->oc + o];
                d[q8_dw_w_at(g->kh, g->kw, o, i, j)] = (uint8_t)w;
                sum += (uint32_t)(int32_t)w;
            }
        size_t at = q8_dw_bias_at(g->kh, g->kw, o);
        memcpy(d + at, &b, 4);
        memcpy(d + at + 256, &sum, 4);
    }
}

typedef struct dw_job {
    const cr_q8_ukr *u;
    const cr_conv_geom *g;
    const uint8_t *x;
    int32_t z_x;
    const uint8_t *kp;
    const cr_q8_req *rq;
    uint8_t *y;
    int64_t rows_per_chunk, rows;
    int ch_per_chunk, n_ch_chunks; /* dw3_rows: chunks of channels too */
} dw_job;

static void dw_chunk(void *ctx, int i, int n)
{
    const dw_job *j = ctx;
    int64_t lo = i / j->n_ch_chunks * j->rows_per_chunk, hi = lo + j->rows_per_chunk;
    (void)n;
    hi = hi < j->rows ? hi : j->rows;
    if (j->n_ch_chunks > 1 || j->ch_per_chunk > 0) {
        int c0 = i % j->n_ch_chunks * j->ch_per_chunk, c1 = c0 + j->ch_per_chunk;
        j->u->dw3_rows(j->g, j->x, j->z_x, j->kp, j->rq, j->y, lo, hi, c0,
                       c1 < j->g->c ? c1 : j->g->c);
        return;
    }
    if (j->g->oc == j->g->c) {
        j->u->dw_rows(j->g, j->x, j->z_x, j->kp, j->rq, j->y, lo, hi);
        return;
    }
    for (int64_t row = lo; row < hi; row++)
        for (int ow = 0; ow < j->g->ow; ow++)
            q8_dw_cell(j->g, j->x, j->z_x, j->kp, j->rq, j->y, row, ow, 0, j->g->oc);
}

/* Channels per chunk for dw3_rows (a multiple of 16, at least 32): with
 * several threads and fewer than 4 chunks of rows a thread, the rows'
 * channels in as many parts as make up 4 chunks a thread (a thread splitting
 * few rows by rows would set up every channel's weights for each of them;
 * by channels, each channel's once). */
static int dw_ch_per_chunk(int C, int64_t row_chunks, int64_t nth)
{
    int64_t blocks = (C + 15) / 16, parts = 1;
    if (nth > 1 && row_chunks < 4 * nth)
        parts = (4 * nth + row_chunks - 1) / row_chunks;
    if (parts > blocks / 2)
        parts = blocks / 2 > 1 ? blocks / 2 : 1;
    return (int)((blocks + parts - 1) / parts * 16);
}

void cr_q8_depthwise2d(cr_pool *p, const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                       const void *kp, const cr_q8_req *rq, uint8_t *y)
{
    int64_t rows = (int64_t)g->n * g->oh;
    if (rows <= 0 || g->ow <= 0 || g->oc <= 0)
        return;
    double per_row = (double)g->ow * g->oc * g->kh * g->kw + 1;
    if (per_row * rows < SERIAL_MACS)
        p = NULL;
    int64_t rpc = (int64_t)(DW_CHUNK_MACS / per_row);
    int64_t nth = cr_pool_size(p);
    rpc = rpc < 1 ? 1 : rpc;
    dw_job j = { .u = cr_q8_ukr_get(), .g = g, .x = x, .z_x = z_x, .kp = kp, .rq = rq, .y = y,
                 .rows = rows, .n_ch_chunks = 1 };
    if (j.u->dw3_rows && q8_dw3_shape(g)) {
        j.ch_per_chunk = dw_ch_per_chunk(g->c, (rows + rpc - 1) / rpc, nth);
        j.n_ch_chunks = (g->c + j.ch_per_chunk - 1) / j.ch_per_chunk;
    } else {
        while (rpc > 1 && (rows + rpc - 1) / rpc < 4 * nth)
            rpc /= 2;
    }
    j.rows_per_chunk = rpc;
    cr_pool_chunks(p, (int)((rows + rpc - 1) / rpc * j.n_ch_chunks), dw_chunk, &j);
}
