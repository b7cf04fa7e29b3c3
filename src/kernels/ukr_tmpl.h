/* ukr_tmpl.h - the inner loops, written once; included (no guard) by
 * ukr_generic.c, ukr_avx2.c and ukr_avx512.c after they define:
 *
 *   V, VW          vector type and its width in floats
 *   VM             lane mask type
 *   TARGET         function attribute selecting the instruction set
 *   UKR_MR         gemm tile rows
 *   UKR_ISA        the cr_isa value, UKR_TABLE the name of the table
 *   v_zero() v_set1(f) v_load(p) v_store(p, v)
 *   v_loadn(p, n) v_storen(p, v, n)   first n < VW lanes, the rest zero/untouched
 *   v_fma(a, b, c) = a*b + c    v_add  v_div  v_max(a, b) = a > b ? a : b
 *   m_none() m_eq(a, b) m_andnot(a, b) = a & ~b  m_or(a, b)
 *   v_add_mask(a, b, m) = m ? a + b : a
 *
 * Channels are innermost in NHWC, so every window loop works on a chunk of
 * VW channels at a time (the last chunk masked). The per-element operation
 * order is spelled out in each function's comment.
 */

#ifdef __clang__
#define UNROLL            /* clang unrolls these constant-count loops by itself */
#else
#define UNROLL _Pragma("GCC unroll 16")
#endif
#define INLINE static inline __attribute__((always_inline)) TARGET

INLINE V ld(const float *p, int n) { return n == VW ? v_load(p) : v_loadn(p, n); }

INLINE void st(float *p, V v, int n)
{
    if (n == VW)
        v_store(p, v);
    else
        v_storen(p, v, n);
}

/* The fused activation (CR_ACT_*), as cr_act_apply does on scalars:
 * max_ps(v, 0) is v > 0 ? v : 0 and min_ps(u, 6) is u < 6 ? u : 6. */
INLINE V act_v(V v, int act)
{
    if (act != CR_ACT_NONE) {
        v = v_max(v, v_zero());
        if (act == CR_ACT_RELU6)
            v = v_min(v, v_set1(6.0f));
    }
    return v;
}


/* ---- gemm micro-kernel -------------------------------------------------- */

/* One UKR_MR x nv*VW tile of C over one K block: the accumulators stay in
 * registers for all of kc (k ascending, acc = a*b + acc), then C = acc or
 * C = C + acc. A is either packed ([kc][UKR_MR], lda == 0) or read in place
 * (row r at a + r*lda, all UKR_MR rows present). Edge tiles compute the full
 * tile (packing zero-pads A and B) and store only rows x cols (with masks,
 * or through a buffer when rows are missing), with the same final add;
 * then, on the last K block, C = C + bias (per column) if bias is given,
 * then C = act(C) (act is CR_ACT_NONE on other blocks). */
INLINE void gemm_body(const int nv, const bool packed, int kc, const float *a, int lda,
                      const float *b, float *c, int ldc, int rows, int cols, bool add,
                      const float *bias, int act)
{
    V acc[UKR_MR][2];
    UNROLL
    for (int r = 0; r < UKR_MR; r++) {
        acc[r][0] = v_zero();
        acc[r][1] = v_zero();
    }
    for (int k = 0; k < kc; k++, a += packed ? UKR_MR : 1, b += nv * VW) {
        V b0 = v_load(b), b1 = nv > 1 ? v_load(b + VW) : b0;
        UNROLL
        for (int r = 0; r < UKR_MR; r++) {
            V ar = v_set1(packed ? a[r] : a[(size_t)r * lda]);
            acc[r][0] = v_fma(ar, b0, acc[r][0]);
            if (nv > 1)
                acc[r][1] = v_fma(ar, b1, acc[r][1]);
        }
    }
    if (rows == UKR_MR) {              /* masked stores for a column edge */
        int n0 = cols < VW ? cols : VW, n1 = cols - n0;
        V b0 = bias ? ld(bias, n0) : v_zero(), b1 = bias && nv > 1 ? ld(bias + VW, n1) : b0;
        UNROLL
        for (int r = 0; r < UKR_MR; r++) {
            float *p = c + (size_t)r * ldc;
            V v0 = add ? v_add(ld(p, n0), acc[r][0]) : acc[r][0];
            st(p, act_v(bias ? v_add(v0, b0) : v0, act), n0);
            if (nv > 1) {
                V v1 = add ? v_add(ld(p + VW, n1), acc[r][1]) : acc[r][1];
                st(p + VW, act_v(bias ? v_add(v1, b1) : v1, act), n1);
            }
        }
        return;
    }
    float t[UKR_MR * 2 * VW];
    UNROLL
    for (int r = 0; r < UKR_MR; r++) {
        UNROLL
        for (int v = 0; v < nv; v++)
            v_store(t + (r * nv + v) * VW, acc[r][v]);
    }
    for (int r = 0; r < rows; r++) {
        float *p = c + (size_t)r * ldc;
        const float *s = t + r * nv * VW;
        for (int j = 0; j < cols; j++) {
            float v = add ? p[j] + s[j] : s[j];
            p[j] = cr_act_apply(bias ? v + bias[j] : v, act);
        }
    }
}

static TARGET void gemm_tile(int kc, const float *a, int lda, const float *b, int nv, float *c,
                             int ldc, int rows, int cols, bool add, const float *bias, int act)
{
    if (lda == 0) {
        if (nv == 2)
            gemm_body(2, true, kc, a, 0, b, c, ldc, rows, cols, add, bias, act);
        else
            gemm_body(1, true, kc, a, 0, b, c, ldc, rows, cols, add, bias, act);
    } else {
        if (nv == 2)
            gemm_body(2, false, kc, a, lda, b, c, ldc, rows, cols, add, bias, act);
        else
            gemm_body(1, false, kc, a, lda, b, c, ldc, rows, cols, add, bias, act);
    }
}

/* A few rows of C with B read in place (row stride ldb): for each of rows
 * rows and each chunk of up to 4 vectors of columns, acc = a*b + acc over
 * the K block (k ascending, from 0), then C = (add ? C + acc : acc), then
 * on the last block + bias and act: gemm_body's operations per element,
 * so the same bits. cols may be anything (masked edges). */
static TARGET void gemm_direct(int kc, const float *a, int lda, const float *b, int ldb,
                               float *c, int ldc, int rows, int cols, bool add,
                               const float *bias, int act)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j += 4 * VW) {
            int n[4];
            V acc[4];
            UNROLL
            for (int u = 0; u < 4; u++) {
                int left = cols - j - u * VW;
                n[u] = left <= 0 ? 0 : left < VW ? left : VW;
                acc[u] = v_zero();
            }
            const float *ar = a + (size_t)r * lda, *bj = b + j;
            for (int k = 0; k < kc; k++, bj += ldb) {
                V av = v_set1(ar[k]);
                UNROLL
                for (int u = 0; u < 4; u++)
                    if (n[u] > 0)
                        acc[u] = v_fma(av, ld(bj + u * VW, n[u]), acc[u]);
            }
            float *p = c + (size_t)r * ldc + j;
            UNROLL
            for (int u = 0; u < 4; u++) {
                if (n[u] == 0)
                    continue;
                V v = add ? v_add(ld(p + u * VW, n[u]), acc[u]) : acc[u];
                if (bias)
                    v = v_add(v, ld(bias + j + u * VW, n[u]));
                st(p + u * VW, act_v(v, act), n[u]);
            }
        }
}

/* ---- gemm packing ------------------------------------------------------- */

/* d[0..w) = s[0..n) then zeros (n <= w <= 2 VW). */
INLINE void copy_pad(float *d, const float *s, int n, int w)
{
    for (int o = 0; o < w; o += VW) {
        int m = w - o < VW ? w - o : VW, nn = n - o < 0 ? 0 : n - o < m ? n - o : m;
        st(d + o, nn > 0 ? ld(s + o, nn) : v_zero(), m);
    }
}

/* d[k*w + c] = s[c*ld + k] for c < cols, k < kc; zeros in columns cols..w.
 * 8 x 8 blocks go through registers where the ISA has a transpose. */
static TARGET void pack_bt(const float *s, int ld, int cols, int kc, int w, float *d)
{
    int c8 = 0, k8 = 0;
#ifdef UKR_TRANSPOSE8
    c8 = cols / 8 * 8;
    k8 = kc / 8 * 8;
    for (int c = 0; c < c8; c += 8)
        for (int k = 0; k < k8; k += 8)
            transpose8(s + (size_t)c * ld + k, ld, d + (size_t)k * w + c, w);
#endif
    for (int c = 0; c < c8; c++)
        for (int k = k8; k < kc; k++)
            d[(size_t)k * w + c] = s[(size_t)c * ld + k];
    for (int c = c8; c < cols; c++)
        for (int k = 0; k < kc; k++)
            d[(size_t)k * w + c] = s[(size_t)c * ld + k];
    for (int k = 0; cols < w && k < kc; k++)
        copy_pad(d + (size_t)k * w + cols, s, 0, w - cols);
}

/* kc rows of B (from b = &op(B)[0][0] of the block, row stride ldb; tb:
 * b[j*ldb + k]) for ncols columns, into panels of 2 VW columns ([kc][2 VW]);
 * a last panel of at most VW columns is VW wide. Panel jr at bp + jr*kc. */
static TARGET void pack_b(const float *b, int ldb, bool tb, int kc, int ncols, float *bp)
{
    for (int jr = 0; jr < ncols; jr += 2 * VW) {
        int cols = ncols - jr < 2 * VW ? ncols - jr : 2 * VW, w = cols <= VW ? VW : 2 * VW;
        float *d = bp + (size_t)jr * kc;
        if (tb)
            pack_bt(b + (size_t)jr * ldb, ldb, cols, kc, w, d);
        else
            for (int k = 0; k < kc; k++)
                copy_pad(d + (size_t)k * w, b + (size_t)k * ldb + jr, cols, w);
    }
}

/* rows x kc of op(A) (a = &op(A)[0][0] of the block; ta: a[k*lda + i])
 * into micro-panels of UKR_MR rows, [kc][UKR_MR], panel ir at ap + ir*kc.
 * Untransposed A is read in place by the micro-kernel, so then only a last
 * partial micro-panel is packed. */
static TARGET void pack_a(const float *a, int lda, bool ta, int rows, int kc, float *ap)
{
    if (ta) {
        for (int k = 0; k < kc; k++)
            for (int ir = 0; ir < rows; ir += UKR_MR) {
                int r = rows - ir < UKR_MR ? rows - ir : UKR_MR;
                copy_pad(ap + (size_t)ir * kc + (size_t)k * UKR_MR, a + (size_t)k * lda + ir, r,
                         UKR_MR);
            }
        return;
    }
    int ir = rows / UKR_MR * UKR_MR, r = rows - ir;
    float *d = ap + (size_t)ir * kc;
    for (int k = 0; r > 0 && k < kc; k++)
        for (int rr = 0; rr < UKR_MR; rr++)
            d[(size_t)k * UKR_MR + rr] = rr < r ? a[(size_t)(ir + rr) * lda + k] : 0.0f;
}

/* ---- depthwise forward -------------------------------------------------- */

/* Output cell acc = bias; for valid taps, i then j ascending:
 * acc = x * k + acc. */
INLINE V dw_cell(const cr_conv_geom *g, const float *xn, const float *k, V acc, int i0, int i1,
                 int oh, int ow, int c0, int nc)
{
    int C = g->c, bx = ow * g->sw - g->pl, j0, j1;
    cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
    for (int i = i0; i < i1; i++) {
        int iy = oh * g->sh - g->pt + i * g->dh;
        const float *xr = xn + (size_t)iy * g->w * C + c0;
        const float *kr = k + (size_t)i * g->kw * C + c0;
        for (int j = j0; j < j1; j++)
            acc = v_fma(ld(xr + (size_t)(bx + j * g->dw) * C, nc), ld(kr + (size_t)j * C, nc), acc);
    }
    return acc;
}

/* dw_cell for four full chunks at once (c0, c0 + VW, ...): four
 * independent chains instead of one. */
INLINE void dw_cell4(const cr_conv_geom *g, const float *xn, const float *k, const float *bias,
                     int i0, int i1, int oh, int ow, int c0, float *y, int act)
{
    int C = g->c, bx = ow * g->sw - g->pl, j0, j1;
    cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
    V a[4];
    UNROLL
    for (int u = 0; u < 4; u++)
        a[u] = bias ? v_load(bias + c0 + u * VW) : v_zero();
    for (int i = i0; i < i1; i++) {
        int iy = oh * g->sh - g->pt + i * g->dh;
        const float *xr = xn + (size_t)iy * g->w * C + c0;
        const float *kr = k + (size_t)i * g->kw * C + c0;
        for (int j = j0; j < j1; j++) {
            const float *xp = xr + (size_t)(bx + j * g->dw) * C, *kp = kr + (size_t)j * C;
            UNROLL
            for (int u = 0; u < 4; u++)
                a[u] = v_fma(v_load(xp + u * VW), v_load(kp + u * VW), a[u]);
        }
    }
    UNROLL
    for (int u = 0; u < 4; u++)
        v_store(y + u * VW, act_v(a[u], act));
}

/* Four neighbouring output cells whose taps are all inside the image: the
 * same operations as dw_cell, four independent chains sharing each k load. */
INLINE void dw_quad(const cr_conv_geom *g, const float *xn, const float *k, V b, int i0, int i1,
                    int oh, int ow, int c0, int nc, float *y, int act)
{
    int C = g->c, bx = ow * g->sw - g->pl;
    size_t step = (size_t)g->sw * C;
    V a0 = b, a1 = b, a2 = b, a3 = b;
    for (int i = i0; i < i1; i++) {
        int iy = oh * g->sh - g->pt + i * g->dh;
        const float *xr = xn + (size_t)iy * g->w * C + c0;
        const float *kr = k + (size_t)i * g->kw * C + c0;
        for (int j = 0; j < g->kw; j++) {
            V kv = ld(kr + (size_t)j * C, nc);
            const float *p = xr + (size_t)(bx + j * g->dw) * C;
            a0 = v_fma(ld(p, nc), kv, a0);
            a1 = v_fma(ld(p + step, nc), kv, a1);
            a2 = v_fma(ld(p + 2 * step, nc), kv, a2);
            a3 = v_fma(ld(p + 3 * step, nc), kv, a3);
        }
    }
    st(y, act_v(a0, act), nc);
    st(y + C, act_v(a1, act), nc);
    st(y + 2 * (size_t)C, act_v(a2, act), nc);
    st(y + 3 * (size_t)C, act_v(a3, act), nc);
}

/* The common case (kw = 3, column dilation 1) for ncell neighbouring
 * interior cells: constant taps, so the loads are fixed offsets from one
 * pointer per input row, and each k vector serves ncell cells. `full`: a
 * whole chunk (plain loads), else nc < VW channels (masked loads). Same
 * operations as dw_cell. */
INLINE void dw3_cells(const int ncell, const bool full, const cr_conv_geom *g, const float *xn,
                      const float *k, V b, int i0, int i1, int oh, int ow, int c0, int nc,
                      float *y, int act)
{
#define LD3(p) (full ? v_load(p) : v_loadn(p, nc))
    size_t C = (size_t)g->c, step = (size_t)g->sw * C;
    V acc[8];
    UNROLL
    for (int q = 0; q < ncell; q++)
        acc[q] = b;
    for (int i = i0; i < i1; i++) {
        int iy = oh * g->sh - g->pt + i * g->dh;
        const float *xp = xn + ((size_t)iy * g->w + ow * g->sw - g->pl) * C + c0;
        const float *kr = k + (size_t)i * 3 * C + c0;
        V k0 = LD3(kr), k1 = LD3(kr + C), k2 = LD3(kr + 2 * C);
        UNROLL
        for (int q = 0; q < ncell; q++, xp += step) {
            acc[q] = v_fma(LD3(xp), k0, acc[q]);
            acc[q] = v_fma(LD3(xp + C), k1, acc[q]);
            acc[q] = v_fma(LD3(xp + 2 * C), k2, acc[q]);
        }
    }
    UNROLL
    for (int q = 0; q < ncell; q++) {
        if (full)
            v_store(y + q * C, act_v(acc[q], act));
        else
            v_storen(y + q * C, act_v(acc[q], act), nc);
    }
#undef LD3
}

/* dw3_cells for a run-time ncell of 8, 4 or 2. */
INLINE void dw3_group(int ncell, bool full, const cr_conv_geom *g, const float *xn,
                      const float *k, V b, int i0, int i1, int oh, int ow, int c0, int nc,
                      float *y, int act)
{
    /* each call with constant ncell and full, so the compiler specializes it */
#define DW3_CELLS(n, f) dw3_cells(n, f, g, xn, k, b, i0, i1, oh, ow, c0, nc, y, act)
#define DW3_BY_NCELL(f) \
    (ncell == 8 ? DW3_CELLS(8, f) : ncell == 4 ? DW3_CELLS(4, f) : DW3_CELLS(2, f))
    if (full)
        DW3_BY_NCELL(true);
    else
        DW3_BY_NCELL(false);
#undef DW3_BY_NCELL
#undef DW3_CELLS
}

/* Channels before the first one whose x address is vector aligned, when
 * that is the same for every pixel (C a multiple of VW); else 0. Starting
 * the chunks there keeps full-vector loads within cache lines. */
INLINE int lead_channels(const float *x, int C)
{
    int m = (int)((uintptr_t)x % (VW * sizeof(float)));
    if (C % VW != 0 || m % sizeof(float) != 0 || m == 0)
        return 0;
    return VW - m / (int)sizeof(float);
}

/* Output cells left to right, interior ones in groups of 8, 4 or 2, for
 * each group all channel chunks, so the few input rows the window covers
 * stay in L1. Every path does dw_cell's operations, then stores act(acc). */
static TARGET void dw_row(const cr_conv_geom *g, const float *x, const float *k,
                          const float *bias, float *y, int64_t row, int act)
{
    int C = g->c, oh = (int)(row % g->oh), i0, i1, ow0, ow1, lead = lead_channels(x, C);
    bool k3 = g->kw == 3 && g->dw == 1;
    const float *xn = x + (size_t)(row / g->oh) * g->h * g->w * C;
    float *yr = y + (size_t)row * g->ow * C;
    cr_tap_range(oh * g->sh - g->pt, g->dh, g->kh, g->h, &i0, &i1);
    cr_interior(g, &ow0, &ow1);
    for (int ow = 0; ow < g->ow;) {
        int room = ow >= ow0 ? ow1 - ow : 0;    /* interior cells from ow on */
        int n = k3 ? (room >= 8 ? 8 : room >= 4 ? 4 : room >= 2 ? 2 : 1) : room >= 4 ? 4 : 1;
        for (int c0 = 0; c0 < C;) {
            int nc = c0 < lead ? lead - c0 : C - c0 < VW ? C - c0 : VW;
            float *yo = yr + (size_t)ow * C + c0;
            if (n == 1 && nc == VW && C - c0 >= 4 * VW) {
                dw_cell4(g, xn, k, bias, i0, i1, oh, ow, c0, yo, act);
                c0 += 4 * VW;
                continue;
            }
            V b = bias ? ld(bias + c0, nc) : v_zero();
            if (k3 && n > 1)
                dw3_group(n, nc == VW, g, xn, k, b, i0, i1, oh, ow, c0, nc, yo, act);
            else if (n == 4)
                dw_quad(g, xn, k, b, i0, i1, oh, ow, c0, nc, yo, act);
            else
                st(yo, act_v(dw_cell(g, xn, k, b, i0, i1, oh, ow, c0, nc), act), nc);
            c0 += nc;
        }
        ow += n;
    }
}

/* ---- depthwise backward ------------------------------------------------- */

/* For channels [c0, c1): output cells in order (n, oh, ow), taps i, j,
 * chunks of channels innermost (memory order):
 *   dbias = dbias + dy,  dk[tap] = dy * x + dk[tap],  dx = dy * k + dx. */
static TARGET void dw_back(const cr_conv_geom *g, const float *x, const float *k,
                           const float *dy, float *dx, float *dk, float *dbias, int c0, int c1)
{
    int C = g->c;
    for (int64_t row = 0; row < (int64_t)g->n * g->oh; row++) {
        int n = (int)(row / g->oh), oh = (int)(row % g->oh), i0, i1;
        cr_tap_range(oh * g->sh - g->pt, g->dh, g->kh, g->h, &i0, &i1);
        for (int ow = 0; ow < g->ow; ow++) {
            const float *gy = dy + ((size_t)row * g->ow + ow) * C;
            int bx = ow * g->sw - g->pl, j0, j1;
            cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
            for (int cc = c0; dbias && cc < c1; cc += VW) {
                int nc = c1 - cc < VW ? c1 - cc : VW;
                st(dbias + cc, v_add(ld(dbias + cc, nc), ld(gy + cc, nc)), nc);
            }
            for (int i = i0; i < i1; i++) {
                int iy = oh * g->sh - g->pt + i * g->dh;
                for (int j = j0; j < j1; j++) {
                    size_t xo = (((size_t)n * g->h + iy) * g->w + bx + j * g->dw) * C;
                    size_t ko = ((size_t)i * g->kw + j) * C;
                    for (int cc = c0; cc < c1; cc += VW) {
                        int nc = c1 - cc < VW ? c1 - cc : VW;
                        V gv = ld(gy + cc, nc);
                        if (dk)
                            st(dk + ko + cc, v_fma(gv, ld(x + xo + cc, nc), ld(dk + ko + cc, nc)),
                               nc);
                        if (dx)
                            st(dx + xo + cc, v_fma(gv, ld(k + ko + cc, nc), ld(dx + xo + cc, nc)),
                               nc);
                    }
                }
            }
        }
    }
}

/* ---- pooling ------------------------------------------------------------ */

/* max: acc = -inf, then acc = x > acc ? x : acc over valid taps (i, j order);
 * average: acc = 0, acc = acc + x, then acc / (number of valid taps). */
static TARGET void pool_row(const cr_conv_geom *g, const float *x, float *y, int64_t row,
                            bool max)
{
    int C = g->c, oh = (int)(row % g->oh), i0, i1;
    const float *xn = x + (size_t)(row / g->oh) * g->h * g->w * C;
    float *yr = y + (size_t)row * g->ow * C;
    cr_tap_range(oh * g->sh - g->pt, g->dh, g->kh, g->h, &i0, &i1);
    for (int ow = 0; ow < g->ow; ow++) {
        int bx = ow * g->sw - g->pl, j0, j1;
        cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
        int cells = (i1 - i0) * (j1 - j0);
        V div = v_set1((float)(cells > 0 ? cells : 1));        /* no cells: 0 */
        for (int c0 = 0; c0 < C; c0 += VW) {
            int nc = C - c0 < VW ? C - c0 : VW;
            V acc = max ? v_set1(-INFINITY) : v_zero();
            for (int i = i0; i < i1; i++) {
                const float *xr = xn + (size_t)(oh * g->sh - g->pt + i * g->dh) * g->w * C + c0;
                for (int j = j0; j < j1; j++) {
                    V xv = ld(xr + (size_t)(bx + j * g->dw) * C, nc);
                    acc = max ? v_max(xv, acc) : v_add(acc, xv);
                }
            }
            st(yr + (size_t)ow * C + c0, max ? acc : v_div(acc, div), nc);
        }
    }
}

/* For channels [c0, c1), output cells in order (n, oh, ow), chunks of
 * channels innermost (memory order):
 * max: dx += dy at the first valid tap (i, j order) where x == y;
 * average: dx = dx + dy / (number of valid taps) at every valid tap. */
static TARGET void pool_back(const cr_conv_geom *g, const float *x, const float *y,
                             const float *dy, float *dx, int c0, int c1, bool max)
{
    int C = g->c;
    for (int64_t row = 0; row < (int64_t)g->n * g->oh; row++) {
        int n = (int)(row / g->oh), oh = (int)(row % g->oh), i0, i1;
        cr_tap_range(oh * g->sh - g->pt, g->dh, g->kh, g->h, &i0, &i1);
        for (int ow = 0; ow < g->ow; ow++) {
            size_t o = ((size_t)row * g->ow + ow) * C;
            int bx = ow * g->sw - g->pl, j0, j1;
            cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
            V cnt = v_set1((float)((i1 - i0) * (j1 - j0)));
            for (int cc = c0; cc < c1; cc += VW) {
                int nc = c1 - cc < VW ? c1 - cc : VW;
                V gv = ld(dy + o + cc, nc), yv = max ? ld(y + o + cc, nc) : v_zero();
                if (!max)
                    gv = v_div(gv, cnt);
                VM done = m_none();
                for (int i = i0; i < i1; i++) {
                    int iy = oh * g->sh - g->pt + i * g->dh;
                    for (int j = j0; j < j1; j++) {
                        size_t xo = (((size_t)n * g->h + iy) * g->w + bx + j * g->dw) * C + cc;
                        if (max) {
                            VM m = m_andnot(m_eq(ld(x + xo, nc), yv), done);
                            st(dx + xo, v_add_mask(ld(dx + xo, nc), gv, m), nc);
                            done = m_or(done, m);
                        } else {
                            st(dx + xo, v_add(ld(dx + xo, nc), gv), nc);
                        }
                    }
                }
            }
        }
    }
}

/* ---- reductions and scatters for conv2d backward ------------------------ */

/* dst = dst + src[0] + src[1] + ..., rows ascending (chunks innermost). */
static TARGET void colsum(const float *src, int64_t rows, int ld_, float *dst, int c0, int c1)
{
    for (int64_t r = 0; r < rows; r++)
        for (int cc = c0; cc < c1; cc += VW) {
            int nc = c1 - cc < VW ? c1 - cc : VW;
            st(dst + cc, v_add(ld(dst + cc, nc), ld(src + (size_t)r * ld_ + cc, nc)), nc);
        }
}

/* d[0..n) = s[0..n), or zeros when s is NULL. */
INLINE void copy_n(float *d, const float *s, size_t n)
{
    for (size_t o = 0; o < n; o += VW) {
        int m = n - o < VW ? (int)(n - o) : VW;
        st(d + o, s ? ld(s + o, m) : v_zero(), m);
    }
}

/* Rows of the Conv2D patch matrix for output pixels p0 .. p0+rows-1, each
 * [kh][kw][c] inputs, zeros where the window leaves the image. A row of kw
 * taps inside the image with column dilation 1 is one contiguous copy. */
static TARGET void im2col(const cr_conv_geom *g, const float *x, int64_t p0, int rows,
                          float *d)
{
    size_t C = (size_t)g->c;
    int64_t row = p0 / g->ow;
    int ow = (int)(p0 % g->ow), oh = (int)(row % g->oh), n = (int)(row / g->oh);
    for (int r = 0; r < rows; r++) {
        int bx = ow * g->sw - g->pl, j0, j1;
        cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
        for (int i = 0; i < g->kh; i++, d += g->kw * C) {
            int iy = oh * g->sh - g->pt + i * g->dh;
            size_t cell = ((size_t)n * g->h + (size_t)iy) * g->w;     /* valid when iy is */
            if (iy < 0 || iy >= g->h)
                copy_n(d, NULL, g->kw * C);
            else if (g->dw == 1 && j0 == 0 && j1 == g->kw)
                copy_n(d, x + (cell + (size_t)bx) * C, g->kw * C);
            else
                for (int j = 0; j < g->kw; j++)
                    copy_n(d + j * C, j >= j0 && j < j1 ? x + (cell + bx + j * g->dw) * C : NULL,
                           C);
        }
        if (++ow == g->ow && (ow = 0, ++oh == g->oh)) {
            oh = 0;
            n++;
        }
    }
}

/* dx = dx + col, rows ascending, taps i, j ascending, chunks innermost. */
static TARGET void col2im(const cr_conv_geom *g, const float *col, int64_t r0, int rows,
                          float *dx, int c0, int c1)
{
    int C = g->c;
    size_t K = (size_t)g->kh * g->kw * C;
    int64_t row0 = r0 / g->ow;
    int ow = (int)(r0 % g->ow), oh = (int)(row0 % g->oh), n = (int)(row0 / g->oh);
    for (int r = 0; r < rows; r++) {
        int bx = ow * g->sw - g->pl, i0, i1, j0, j1;
        cr_tap_range(oh * g->sh - g->pt, g->dh, g->kh, g->h, &i0, &i1);
        cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
        for (int i = i0; i < i1; i++) {
            int iy = oh * g->sh - g->pt + i * g->dh;
            for (int j = j0; j < j1; j++) {
                float *d = dx + (((size_t)n * g->h + iy) * g->w + bx + j * g->dw) * C;
                const float *s = col + r * K + ((size_t)i * g->kw + j) * C;
                for (int cc = c0; cc < c1; cc += VW) {
                    int nc = c1 - cc < VW ? c1 - cc : VW;
                    st(d + cc, v_add(ld(d + cc, nc), ld(s + cc, nc)), nc);
                }
            }
        }
        if (++ow == g->ow && (ow = 0, ++oh == g->oh)) {
            oh = 0;
            n++;
        }
    }
}

const cr_ukr UKR_TABLE = {
    .isa = UKR_ISA,
    .vw = VW,
    .mr = UKR_MR,
    .nr = 2 * VW,
    .gemm = gemm_tile,
    .gemm_direct = gemm_direct,
    .pack_a = pack_a,
    .pack_b = pack_b,
    .dw_row = dw_row,
    .dw_back = dw_back,
    .pool_row = pool_row,
    .pool_back = pool_back,
    .colsum = colsum,
    .col2im = col2im,
    .im2col = im2col,
};

#undef UNROLL
#undef INLINE
