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

/* ---- gemm micro-kernel -------------------------------------------------- */

/* One UKR_MR x nv*VW tile of C over one K block: the accumulators stay in
 * registers for all of kc (k ascending, acc = a*b + acc), then C = acc or
 * C = C + acc. Edge tiles compute the full tile (packing zero-pads A and B)
 * and store only rows x cols, through a buffer, with the same final add. */
INLINE void gemm_body(const int nv, int kc, const float *a, const float *b, float *c, int ldc,
                      int rows, int cols, bool add)
{
    V acc[UKR_MR][2];
    UNROLL
    for (int r = 0; r < UKR_MR; r++) {
        acc[r][0] = v_zero();
        acc[r][1] = v_zero();
    }
    for (int k = 0; k < kc; k++, a += UKR_MR, b += nv * VW) {
        V b0 = v_load(b), b1 = nv > 1 ? v_load(b + VW) : b0;
        UNROLL
        for (int r = 0; r < UKR_MR; r++) {
            V ar = v_set1(a[r]);
            acc[r][0] = v_fma(ar, b0, acc[r][0]);
            if (nv > 1)
                acc[r][1] = v_fma(ar, b1, acc[r][1]);
        }
    }
    if (rows == UKR_MR && cols == nv * VW) {
        UNROLL
        for (int r = 0; r < UKR_MR; r++) {
            UNROLL
            for (int v = 0; v < nv; v++) {
                float *p = c + (size_t)r * ldc + v * VW;
                v_store(p, add ? v_add(v_load(p), acc[r][v]) : acc[r][v]);
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
        for (int j = 0; j < cols; j++)
            p[j] = add ? p[j] + s[j] : s[j];
    }
}

static TARGET void gemm_tile(int kc, const float *a, const float *b, int nv, float *c, int ldc,
                             int rows, int cols, bool add)
{
    if (nv == 2)
        gemm_body(2, kc, a, b, c, ldc, rows, cols, add);
    else
        gemm_body(1, kc, a, b, c, ldc, rows, cols, add);
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

/* Four neighbouring output cells whose taps are all inside the image: the
 * same operations as dw_cell, four independent chains sharing each k load. */
INLINE void dw_quad(const cr_conv_geom *g, const float *xn, const float *k, V b, int i0, int i1,
                    int oh, int ow, int c0, int nc, float *y)
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
    st(y, a0, nc);
    st(y + C, a1, nc);
    st(y + 2 * (size_t)C, a2, nc);
    st(y + 3 * (size_t)C, a3, nc);
}

static TARGET void dw_row(const cr_conv_geom *g, const float *x, const float *k,
                          const float *bias, float *y, int64_t row)
{
    int C = g->c, oh = (int)(row % g->oh), i0, i1, ow0, ow1;
    const float *xn = x + (size_t)(row / g->oh) * g->h * g->w * C;
    float *yr = y + (size_t)row * g->ow * C;
    cr_tap_range(oh * g->sh - g->pt, g->dh, g->kh, g->h, &i0, &i1);
    cr_interior(g, &ow0, &ow1);
    for (int c0 = 0; c0 < C; c0 += VW) {
        int nc = C - c0 < VW ? C - c0 : VW;
        V b = bias ? ld(bias + c0, nc) : v_zero();
        for (int ow = 0; ow < g->ow;) {
            if (ow >= ow0 && ow + 4 <= ow1) {
                dw_quad(g, xn, k, b, i0, i1, oh, ow, c0, nc, yr + (size_t)ow * C + c0);
                ow += 4;
            } else {
                st(yr + (size_t)ow * C + c0, dw_cell(g, xn, k, b, i0, i1, oh, ow, c0, nc), nc);
                ow++;
            }
        }
    }
}

/* ---- depthwise backward ------------------------------------------------- */

/* For channels [c0, c1), output cells in order (n, oh, ow), taps i, j:
 *   dbias += (sum of dy),  dk[tap] = dy * x + dk[tap],  dx = dy * k + dx. */
static TARGET void dw_back(const cr_conv_geom *g, const float *x, const float *k,
                           const float *dy, float *dx, float *dk, float *dbias, int c0, int c1)
{
    int C = g->c;
    for (int cc = c0; cc < c1; cc += VW) {
        int nc = c1 - cc < VW ? c1 - cc : VW;
        V sb = v_zero();
        for (int64_t row = 0; row < (int64_t)g->n * g->oh; row++) {
            int n = (int)(row / g->oh), oh = (int)(row % g->oh), i0, i1;
            cr_tap_range(oh * g->sh - g->pt, g->dh, g->kh, g->h, &i0, &i1);
            for (int ow = 0; ow < g->ow; ow++) {
                V gv = ld(dy + ((size_t)row * g->ow + ow) * C + cc, nc);
                int bx = ow * g->sw - g->pl, j0, j1;
                cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
                if (dbias)
                    sb = v_add(sb, gv);
                for (int i = i0; i < i1; i++) {
                    int iy = oh * g->sh - g->pt + i * g->dh;
                    for (int j = j0; j < j1; j++) {
                        size_t xo = (((size_t)n * g->h + iy) * g->w + bx + j * g->dw) * C + cc;
                        size_t ko = ((size_t)i * g->kw + j) * C + cc;
                        if (dk)
                            st(dk + ko, v_fma(gv, ld(x + xo, nc), ld(dk + ko, nc)), nc);
                        if (dx)
                            st(dx + xo, v_fma(gv, ld(k + ko, nc), ld(dx + xo, nc)), nc);
                    }
                }
            }
        }
        if (dbias)
            st(dbias + cc, v_add(ld(dbias + cc, nc), sb), nc);
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
        V div = v_set1((float)((i1 - i0) * (j1 - j0)));
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

/* For channels [c0, c1), output cells in order (n, oh, ow):
 * max: dx += dy at the first valid tap (i, j order) where x == y;
 * average: dx = dx + dy / (number of valid taps) at every valid tap. */
static TARGET void pool_back(const cr_conv_geom *g, const float *x, const float *y,
                             const float *dy, float *dx, int c0, int c1, bool max)
{
    int C = g->c;
    for (int cc = c0; cc < c1; cc += VW) {
        int nc = c1 - cc < VW ? c1 - cc : VW;
        for (int64_t row = 0; row < (int64_t)g->n * g->oh; row++) {
            int n = (int)(row / g->oh), oh = (int)(row % g->oh), i0, i1;
            cr_tap_range(oh * g->sh - g->pt, g->dh, g->kh, g->h, &i0, &i1);
            for (int ow = 0; ow < g->ow; ow++) {
                size_t o = ((size_t)row * g->ow + ow) * C + cc;
                int bx = ow * g->sw - g->pl, j0, j1;
                cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
                V gv = ld(dy + o, nc), yv = max ? ld(y + o, nc) : v_zero();
                if (!max)
                    gv = v_div(gv, v_set1((float)((i1 - i0) * (j1 - j0))));
                VM done = m_none();
                for (int i = i0; i < i1; i++) {
                    int iy = oh * g->sh - g->pt + i * g->dh;
                    for (int j = j0; j < j1; j++) {
                        float *d = dx + (((size_t)n * g->h + iy) * g->w + bx + j * g->dw) * C + cc;
                        if (max) {
                            VM m = m_andnot(m_eq(ld(x + (d - dx), nc), yv), done);
                            st(d, v_add_mask(ld(d, nc), gv, m), nc);
                            done = m_or(done, m);
                        } else {
                            st(d, v_add(ld(d, nc), gv), nc);
                        }
                    }
                }
            }
        }
    }
}

/* ---- reductions and scatters for conv2d backward ------------------------ */

/* dst = dst + (src[0] + src[1] + ... ), rows ascending. */
static TARGET void colsum(const float *src, int64_t rows, int ld_, float *dst, int c0, int c1)
{
    for (int cc = c0; cc < c1; cc += VW) {
        int nc = c1 - cc < VW ? c1 - cc : VW;
        V acc = v_zero();
        for (int64_t r = 0; r < rows; r++)
            acc = v_add(acc, ld(src + (size_t)r * ld_ + cc, nc));
        st(dst + cc, v_add(ld(dst + cc, nc), acc), nc);
    }
}

/* dx = dx + col, rows ascending, taps i, j ascending. */
static TARGET void col2im(const cr_conv_geom *g, const float *col, int64_t r0, int rows,
                          float *dx, int c0, int c1)
{
    int C = g->c;
    size_t K = (size_t)g->kh * g->kw * C;
    for (int cc = c0; cc < c1; cc += VW) {
        int nc = c1 - cc < VW ? c1 - cc : VW;
        for (int r = 0; r < rows; r++) {
            int64_t p = r0 + r, row = p / g->ow;
            int ow = (int)(p % g->ow), oh = (int)(row % g->oh), n = (int)(row / g->oh);
            int bx = ow * g->sw - g->pl, i0, i1, j0, j1;
            cr_tap_range(oh * g->sh - g->pt, g->dh, g->kh, g->h, &i0, &i1);
            cr_tap_range(bx, g->dw, g->kw, g->w, &j0, &j1);
            for (int i = i0; i < i1; i++) {
                int iy = oh * g->sh - g->pt + i * g->dh;
                for (int j = j0; j < j1; j++) {
                    float *d = dx + (((size_t)n * g->h + iy) * g->w + bx + j * g->dw) * C + cc;
                    const float *s = col + r * K + ((size_t)i * g->kw + j) * C + cc;
                    st(d, v_add(ld(d, nc), ld(s, nc)), nc);
                }
            }
        }
    }
}

const cr_ukr UKR_TABLE = {
    .isa = UKR_ISA,
    .vw = VW,
    .mr = UKR_MR,
    .nr = 2 * VW,
    .gemm = gemm_tile,
    .dw_row = dw_row,
    .dw_back = dw_back,
    .pool_row = pool_row,
    .pool_back = pool_back,
    .colsum = colsum,
    .col2im = col2im,
};

#undef UNROLL
#undef INLINE
