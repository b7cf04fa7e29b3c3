/* q8_dw_tmpl.h - the int8 depthwise row loop (depth multiplier 1), written
 * once; included (no guard) by q8_avx512.c and q8_avx2.c after they define:
 *
 *   TARGET                 function attribute selecting the instruction set
 *   DW_FEW_REGS            (optional) 16 vector registers: 3x3 weights not held
 *   DW_ROW                 the name of the row function to define (with
 *                          DW_BLOCKS_ONLY: only DW_ROW##_blocks, for channel
 *                          ranges; DW_TAIL: such a narrower function, which
 *                          the row runs on a last block of <= 32 channels)
 *   VI, VF                 integer and float vector types; VB bytes a vector
 *                          (64: one packed block at a time, 32: half of one)
 *   v_ld(p) v_st(p, v)     VB bytes, unaligned
 *   v_ldn(p, n)            the first n <= VB bytes, zeros after (no read past)
 *   v_stn(p, v, n)         the first n bytes
 *   v_unlo8 v_unhi8 v_unlo16 v_unhi16   unpack within 128-bit lanes
 *   v_dot(acc, a, b)       acc + per int32 lane the 4 products u8 (a) x s8 (b)
 *   v_wsplit(b, e, o)      (optional, with DW_FEW_REGS) b's weights split once
 *   v_dot_split(acc, a, e, o)  into two vectors for a cheaper v_dot, which the
 *                          1 x 3 groups' cells then use (from memory)
 *   v_ldf(p) v_set1f(f) v_set1i(i) v_sub32(a, b) v_mul32(a, b)
 *   v_req(acc, m, flo, fhi, z)   the requantization (kernels.h)
 *   v_pack(q0, q1, q2, q3) the 4 quad-order vectors of bytes 0..255 as VB bytes
 *                          in channel order (32 -> 16 -> 8 bits, saturating)
 *
 * Per output row and VB channels: the input bytes of each input column are
 * interleaved once, 4 kernel rows by 4 (q8.h's quad order), into a buffer;
 * then each output cell adds, per kernel column, vpdpbusd of the column's
 * interleaved bytes with that column's packed weights. Padding reads z_x
 * bytes, and the accumulators start at bias - z_x * (sum of the weights),
 * so acc = bias + sum over taps of (x - z_x) * w, exactly. A cell's input
 * columns are interleaved once for all the cells that read them (3 times
 * fewer shuffles than per cell, for 3x3 stride 1).
 */

#define DW_BUF_COLS 96             /* interleaved input columns (x 4 VB bytes) */
#define DW_CAT_(a, b) a##b
#define DW_CAT(a, b) DW_CAT_(a, b)
#define dw_cells DW_CAT(DW_ROW, _cells)
#define dw_blocks DW_CAT(DW_ROW, _blocks)

/* Cells [oa, ob) of one output row for VB channels: acc0, m in quad order;
 * wb: the packed weights of these channels (group g vector q at
 * wb + 256 g + 64 q); buf: interleaved input columns from column ix0 on
 * (GC groups each, padding columns included as z bytes). */
static inline __attribute__((always_inline)) TARGET void
dw_cells(const int kwc, const int gcc, const cr_conv_geom *g, int oa, int ob, int ix0,
         const uint8_t *buf, const uint8_t *wb, const VI *acc0,
         const VF *m, const cr_q8_req *rq, uint8_t *y, int nc)
{
    VF flo = v_set1f((float)(rq->lo - rq->z_out)), fhi = v_set1f((float)(rq->hi - rq->z_out));
    VI z = v_set1i(rq->z_out);
    int kw = kwc ? kwc : g->kw, GC = gcc ? gcc : (g->kh + 3) / 4, C = g->c;
#ifdef DW_FEW_REGS
    const bool wreg = false;
#else
    const bool wreg = kwc == 3 && gcc == 1;
#endif
    VI w[3][4];                    /* 1 x 3 groups: the weights stay in registers */
    if (wreg)
        for (int j = 0; j < 3; j++)
            for (int q = 0; q < 4; q++)
                w[j][q] = v_ld(wb + 256 * j + 64 * q);
#ifdef v_wsplit
    const bool wsplit = kwc == 3 && gcc == 1;
    VI we[3][4], wo[3][4];         /* 1 x 3 groups: the weights split once */
    if (wsplit)
        for (int j = 0; j < 3; j++)
            for (int q = 0; q < 4; q++)
                v_wsplit(v_ld(wb + 256 * j + 64 * q), &we[j][q], &wo[j][q]);
#endif
    for (int ow = oa; ow < ob; ow++) {
        VI acc[4] = { acc0[0], acc0[1], acc0[2], acc0[3] };
        const uint8_t *qc = buf + (size_t)(ow * g->sw - g->pl - ix0) * GC * 4 * VB;
        for (int j = 0; j < kw; j++) {
            const uint8_t *qp = qc + (size_t)j * g->dw * GC * 4 * VB;
            for (int gr = 0; gr < GC; gr++, qp += 4 * VB) {
                for (int q = 0; q < 4; q++) {
#ifdef v_wsplit
                    if (wsplit) {
                        acc[q] = v_dot_split(acc[q], v_ld(qp + q * VB), we[j][q], wo[j][q]);
                        continue;
                    }
#endif
                    VI wv = wreg ? w[j][q] : v_ld(wb + 256 * (j * GC + gr) + 64 * q);
                    acc[q] = v_dot(acc[q], v_ld(qp + q * VB), wv);
                }
            }
        }
        VI b = v_pack(v_req(acc[0], m[0], flo, fhi, z), v_req(acc[1], m[1], flo, fhi, z),
                      v_req(acc[2], m[2], flo, fhi, z), v_req(acc[3], m[3], flo, fhi, z));
        if (nc == VB)
            v_st(y + (size_t)ow * C, b);
        else
            v_stn(y + (size_t)ow * C, b, nc);
    }
}

/* Channels [cf, ct) (cf a multiple of 64) of output rows [r0, r1) of n*oh:
 * per block of channels the multipliers and starting accumulators once,
 * then every row. */
static TARGET void dw_blocks(const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                             const uint8_t *kp, const cr_q8_req *rq, uint8_t *y, int64_t r0,
                             int64_t r1, int cf, int ct)
{
    int C = g->c, GC = (g->kh + 3) / 4, cap = DW_BUF_COLS / GC;
    int span = (g->kw - 1) * g->dw + 1, cells = (cap - span) / g->sw + 1;
    size_t bb = q8_dw_block_bytes(g->kh, g->kw);
    _Alignas(64) uint8_t buf[DW_BUF_COLS * 4 * VB];
    _Alignas(64) uint8_t zq[4 * VB];
    _Alignas(64) float mp[64];
    memset(zq, (int)z_x, sizeof zq);
    VI zx = v_set1i(z_x);
    for (int c0 = cf; c0 < ct; c0 += 64) {
        const uint8_t *blk = kp + (size_t)(c0 / 64) * bb;
        int nb = ct - c0 < 64 ? ct - c0 : 64;
        for (int cc = 0; cc < 64; cc++)
            mp[q8_dw_lane(cc)] = cc < nb ? q8_m(rq, c0 + cc) : 0.0f;
        for (int h = 0; VB * h < nb; h++) {
            int ch = c0 + VB * h, nc = nb - VB * h < VB ? nb - VB * h : VB;
            VF m[4];
            VI acc0[4];
            for (int q = 0; q < 4; q++) {
                m[q] = v_ldf(mp + 16 * q + VB / 4 * h);
                acc0[q] = v_sub32(v_ld(blk + 64 * q + VB * h),
                                  v_mul32(zx, v_ld(blk + 256 + 64 * q + VB * h)));
            }
            for (int64_t row = r0; row < r1; row++) {
            int oh = (int)(row % g->oh), n = (int)(row / g->oh), by = oh * g->sh - g->pt;
            const uint8_t *xn = x + (size_t)n * g->h * g->w * C;
            uint8_t *yr = y + (size_t)row * g->ow * C;
            const uint8_t *rp[4 * 8];  /* the kernel rows' input rows, NULL: padding */
            for (int i = 0; i < 4 * GC; i++) {
                int iy = by + i * g->dh;
                rp[i] = i < g->kh && iy >= 0 && iy < g->h ? xn + (size_t)iy * g->w * C : NULL;
            }
            for (int oa = 0; oa < g->ow; oa += cells) {
                int ob = oa + cells < g->ow ? oa + cells : g->ow;
                int ix0 = oa * g->sw - g->pl, ix1 = (ob - 1) * g->sw - g->pl + span - 1;
                int lo = ix0 > 0 ? ix0 : 0, hi = ix1 < g->w - 1 ? ix1 : g->w - 1;
                /* padding columns: z bytes (interleaved z is z) */
                for (int ix = ix0; ix <= ix1; ix++) {
                    if (ix >= lo && ix <= hi)
                        continue;
                    uint8_t *d = buf + (size_t)(ix - ix0) * GC * 4 * VB;
                    for (int k = 0; k < 4 * GC; k++)
                        v_st(d + k * VB, v_ld(zq));
                }
                for (int gr = 0; gr < GC && lo <= hi; gr++) {
                    const uint8_t *src[4];
                    size_t step[4];
                    for (int t = 0; t < 4; t++) {
                        const uint8_t *r = rp[4 * gr + t];
                        src[t] = r ? r + (size_t)lo * C + ch : zq;
                        step[t] = r ? (size_t)C : 0;
                    }
                    uint8_t *d = buf + ((size_t)(lo - ix0) * GC + gr) * 4 * VB;
                    for (int ix = lo; ix <= hi; ix++, d += (size_t)GC * 4 * VB) {
                        VI x0 = v_ldn(src[0], nc), x1 = v_ldn(src[1], nc);
                        VI x2 = v_ldn(src[2], nc), x3 = v_ldn(src[3], nc);
                        src[0] += step[0], src[1] += step[1];
                        src[2] += step[2], src[3] += step[3];
                        VI l01 = v_unlo8(x0, x1), h01 = v_unhi8(x0, x1);
                        VI l23 = v_unlo8(x2, x3), h23 = v_unhi8(x2, x3);
                        v_st(d, v_unlo16(l01, l23));
                        v_st(d + VB, v_unhi16(l01, l23));
                        v_st(d + 2 * VB, v_unlo16(h01, h23));
                        v_st(d + 3 * VB, v_unhi16(h01, h23));
                    }
                }
                const uint8_t *wb = blk + 512 + VB * h;
                if (g->kw == 3 && GC == 1)
                    dw_cells(3, 1, g, oa, ob, ix0, buf, wb, acc0, m, rq, yr + ch, nc);
                else
                    dw_cells(0, 0, g, oa, ob, ix0, buf, wb, acc0, m, rq, yr + ch, nc);
            }
            }
        }
    }
}

#ifndef DW_BLOCKS_ONLY
/* Output rows [r0, r1) of n*oh. DW_TAIL (if defined): a narrower
 * instance's dw_blocks, which takes a last block of at most 32 channels. */
static TARGET void DW_ROW(const cr_conv_geom *g, const uint8_t *x, int32_t z_x,
                          const uint8_t *kp, const cr_q8_req *rq, uint8_t *y, int64_t r0,
                          int64_t r1)
{
    int C = g->c, GC = (g->kh + 3) / 4, cap = DW_BUF_COLS / GC;
    int span = (g->kw - 1) * g->dw + 1;
    if (cap < span || g->kh > 4 * 8) {         /* very wide or tall kernels */
        for (int64_t row = r0; row < r1; row++)
            for (int ow = 0; ow < g->ow; ow++)
                q8_dw_cell(g, x, z_x, kp, rq, y, row, ow, 0, C);
        return;
    }
#ifdef DW_TAIL
    int full = C / 64 * 64;
    if (C - full > 0 && C - full <= 32) {
        dw_blocks(g, x, z_x, kp, rq, y, r0, r1, 0, full);
        DW_TAIL(g, x, z_x, kp, rq, y, r0, r1, full, C);
        return;
    }
#endif
    dw_blocks(g, x, z_x, kp, rq, y, r0, r1, 0, C);
}
#endif

#undef DW_BUF_COLS
#undef dw_cells
#undef dw_blocks
