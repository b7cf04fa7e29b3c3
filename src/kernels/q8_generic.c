/* q8_generic.c - the int8 inner loops in portable C: the definition of
 * every result the vector levels reproduce byte for byte. */
#include "q8.h"

/* acc = panel bias + sum over k of a[k] * w[k] (modulo 2^32), then
 * requantized, or stored as is. */
static void gemm_generic(int K, const uint8_t *a, size_t lda, const int8_t *bp, int rows,
                         int cols, uint8_t *c, int32_t *c32, size_t ldc, const cr_q8_req *rq,
                         int j0)
{
    size_t ps = q8_panel_bytes(K);
    float flo = 0, fhi = 0;
    if (c) {
        flo = (float)(rq->lo - rq->z_out);
        fhi = (float)(rq->hi - rq->z_out);
    }
    for (int r = 0; r < rows; r++) {
        const uint8_t *ar = a + r * lda;
        for (int j = 0; j < cols; j++) {
            const int8_t *panel = bp + (size_t)(j / Q8_NR) * ps;
            const int8_t *w = panel + 64 + (j % Q8_NR) * 4;
            int32_t acc;
            memcpy(&acc, panel + (j % Q8_NR) * 4, sizeof acc);
            for (int k = 0; k < K; k++)
                acc = q8_mac(acc, ar[k], w[(size_t)(k / 4) * 64 + k % 4]);
            if (c)
                c[r * ldc + j] = q8_requant(acc, q8_m(rq, j0 + j), flo, fhi, rq->z_out);
            else
                c32[r * ldc + j] = acc;
        }
    }
}

void q8_dw_cell(const cr_conv_geom *g, const uint8_t *x, int32_t z_x, const uint8_t *kp,
                const cr_q8_req *rq, uint8_t *y, int64_t row, int ow, int o0, int o1)
{
    int dm = g->oc / g->c, oh = (int)(row % g->oh), n = (int)(row / g->oh), i0, i1, j0, j1;
    int by = oh * g->sh - g->pt, bx = ow * g->sw - g->pl;
    float flo = (float)(rq->lo - rq->z_out), fhi = (float)(rq->hi - rq->z_out);
    cr_tap_range(by, g->dh, g->kh, g->h, &i0, &i1);
    cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
    uint8_t *yc = y + ((size_t)row * g->ow + ow) * g->oc;
    for (int o = o0; o < o1; o++) {
        int32_t acc;
        memcpy(&acc, kp + q8_dw_bias_at(g->kh, g->kw, o), sizeof acc);
        for (int i = i0; i < i1; i++) {
            const uint8_t *xr = x + (((size_t)n * g->h + by + i * g->dh) * g->w) * g->c;
            for (int j = j0; j < j1; j++) {
                int32_t xv = xr[(size_t)(bx + j * g->dw) * g->c + o / dm] - z_x;
                acc = q8_mac(acc, xv, (int8_t)kp[q8_dw_w_at(g->kh, g->kw, o, i, j)]);
            }
        }
        yc[o] = q8_requant(acc, q8_m(rq, o), flo, fhi, rq->z_out);
    }
}

static void dw_rows_generic(const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                            const uint8_t *kp, const cr_q8_req *rq, uint8_t *y, int64_t r0,
                            int64_t r1)
{
    for (int64_t row = r0; row < r1; row++)
        for (int ow = 0; ow < g->ow; ow++)
            q8_dw_cell(g, x, z_x, kp, rq, y, row, ow, 0, g->oc);
}

/* Products and sums stay separate operations (no FMA): gcc does not
 * contract in ISO C mode; clang needs telling. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* f = (a - z_a) ma + (b - z_b) mb, clamped to [lo - z_y, hi - z_y] as
 * max(f, lo) then min (NaN gives lo), rounded to nearest even, + z_y. */
void q8_add_generic(int64_t n, const uint8_t *a, int32_t z_a, float ma, const uint8_t *b,
                    int32_t z_b, float mb, uint8_t *y, int32_t z_y, int32_t lo, int32_t hi)
{
    float flo = (float)(lo - z_y), fhi = (float)(hi - z_y);
    for (int64_t i = 0; i < n; i++) {
        float u = (float)(a[i] - z_a) * ma;
        float v = (float)(b[i] - z_b) * mb;
        float f = u + v;
        f = f > flo ? f : flo;
        f = f < fhi ? f : fhi;
        y[i] = (uint8_t)((int32_t)lrintf(f) + z_y);
    }
}

/* f = x * (1 / s); f = min(max(f, -z), 255 - z) (NaN gives -z); q = rint(f) + z. */
void q8_quantize_generic(int64_t n, const float *x, float s, int32_t z, uint8_t *q)
{
    float flo = (float)-z, fhi = (float)(255 - z), r = q8_inv_scale(s);
    for (int64_t i = 0; i < n; i++) {
        float f = x[i] * r;
        f = f > flo ? f : flo;
        f = f < fhi ? f : fhi;
        q[i] = (uint8_t)((int32_t)lrintf(f) + z);
    }
}

void q8_dequantize_generic(int64_t n, const uint8_t *q, float s, int32_t z, float *x)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(q[i] - z) * s;
}

const cr_q8_ukr cr_q8_ukr_generic = {
    .isa = CR_Q8_GENERIC,
    .mr = 4,
    .nr = Q8_NR,
    .gemm = gemm_generic,
    .add = q8_add_generic,
    .quantize = q8_quantize_generic,
    .dequantize = q8_dequantize_generic,
    .dw_rows = dw_rows_generic,
};
