/* q16_tmpl.h - the int16 kernels' hot loops, included by q16.c once per
 * SIMD level with Q16_FN(name) naming that level's copy (the generic one,
 * and one compiled for AVX2). The loops are plain C on integers: each copy
 * gives the same bits, the compiler only vectorizes them differently. */

static void Q16_FN(acc_start)(acc_blk *b, const int64_t *bias, int o0, int on)
{
    b->on = on;
    b->count = 0;
    for (int o = 0; o < on; o++) {
        b->a32[o] = 0;
        b->a64[o] = bias ? bias[o0 + o] : 0;
    }
}

static void Q16_FN(acc_flush)(acc_blk *b)
{
    for (int o = 0; o < b->on; o++) {
        b->a64[o] += b->a32[o];
        b->a32[o] = 0;
    }
    b->count = 0;
}

/* len inputs x[0..len) times rows of weights w + i * ldw (on of them):
 * four inputs at a time (skipped when all are 0), then one at a time; the
 * partial sums are flushed before they could hold more than CR_Q16_FLUSH
 * products. */
static void Q16_FN(acc_run)(acc_blk *b, const int16_t *x, int len, const int8_t *w, size_t ldw)
{
    int on = b->on, i = 0;
    int32_t *a = b->a32;
    for (; i + 4 <= len; i += 4) {
        int32_t x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
        if (!(x0 | x1 | x2 | x3))
            continue;
        if (b->count + 4 > CR_Q16_FLUSH)
            Q16_FN(acc_flush)(b);
        const int8_t *w0 = w + (size_t)i * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
        int o = 0;
#ifdef Q16_AVX2
        /* pairs of inputs against pairs of weights (bytes interleaved, then
         * widened to int16): vpmaddwd sums two exact products per lane */
        uint32_t p01 = (uint32_t)(uint16_t)x0 | (uint32_t)(uint16_t)x1 << 16;
        uint32_t p23 = (uint32_t)(uint16_t)x2 | (uint32_t)(uint16_t)x3 << 16;
        __m256i v01 = _mm256_set1_epi32((int32_t)p01), v23 = _mm256_set1_epi32((int32_t)p23);
        for (; o + 16 <= on; o += 16) {
            __m128i b0 = _mm_loadu_si128((const __m128i *)(w0 + o));
            __m128i b1 = _mm_loadu_si128((const __m128i *)(w1 + o));
            __m128i b2 = _mm_loadu_si128((const __m128i *)(w2 + o));
            __m128i b3 = _mm_loadu_si128((const __m128i *)(w3 + o));
            __m256i lo = _mm256_add_epi32(
                _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(b0, b1)), v01),
                _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(b2, b3)), v23));
            __m256i hi = _mm256_add_epi32(
                _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpackhi_epi8(b0, b1)), v01),
                _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpackhi_epi8(b2, b3)), v23));
            __m256i *d = (__m256i *)(a + o);
            _mm256_storeu_si256(d, _mm256_add_epi32(_mm256_loadu_si256(d), lo));
            _mm256_storeu_si256(d + 1, _mm256_add_epi32(_mm256_loadu_si256(d + 1), hi));
        }
#endif
        for (; o < on; o++)
            a[o] += x0 * (int32_t)w0[o] + x1 * (int32_t)w1[o] + x2 * (int32_t)w2[o] +
                    x3 * (int32_t)w3[o];
        b->count += 4;
    }
    for (; i < len; i++) {
        int32_t xv = x[i];
        if (!xv)
            continue;
        if (b->count + 1 > CR_Q16_FLUSH)
            Q16_FN(acc_flush)(b);
        const int8_t *wr = w + (size_t)i * ldw;
        for (int o = 0; o < on; o++)
            a[o] += xv * (int32_t)wr[o];
        b->count++;
    }
}

/* Sums of on channels [o0, o0 + on) (on <= Q16_OB): s32[o] plus s64[o]
 * and bias[o0 + o] where given, requantized into y (or as they are into
 * y64). Sums that fit in int32 (all of them, in practice) take the exact
 * double form of the requantization (cr_q16_req_scales), which vectorizes. */
static void Q16_FN(store_sums)(const int32_t *s32, const int64_t *s64, const int64_t *bias,
                               const cr_q16_req *rq, int o0, int on, int16_t *y, int64_t *y64)
{
    int64_t v64[Q16_OB];
    int32_t v32[Q16_OB];
    int small = 1;
    for (int o = 0; o < on; o++) {
        int64_t v = (s64 ? s64[o] : 0) + (bias ? bias[o0 + o] : 0) + s32[o];
        v64[o] = v;
        v32[o] = (int32_t)v;
        small &= v32[o] == v;
    }
    if (!y) {
        if (y64)
            memcpy(y64, v64, (size_t)on * sizeof *y64);
        return;
    }
    if (!small) {
        for (int o = 0; o < on; o++)
            y[o] = cr_q16_requant(v64[o], rq, o0 + o);
        return;
    }
    const double *restrict rs = rq->rs + o0;
    int16_t *restrict yo = y;
    double lo = rq->lo, hi = rq->hi;
    int o = 0;
#ifdef Q16_AVX2
    /* four at a time: the same double operations (no NaN can occur) */
    const __m256d vlo = _mm256_set1_pd(lo), vhi = _mm256_set1_pd(hi), half = _mm256_set1_pd(0.5);
    for (; o + 4 <= on; o += 4) {
        __m256d f = _mm256_cvtepi32_pd(_mm_loadu_si128((const __m128i *)(v32 + o)));
        f = _mm256_floor_pd(_mm256_add_pd(_mm256_mul_pd(f, _mm256_loadu_pd(rs + o)), half));
        f = _mm256_min_pd(_mm256_max_pd(f, vlo), vhi);
        __m128i q = _mm256_cvttpd_epi32(f);
        _mm_storel_epi64((__m128i *)(yo + o), _mm_packs_epi32(q, q));
    }
#endif
    for (; o < on; o++) {
        double f = floor((double)v32[o] * rs[o] + 0.5);
        f = f < lo ? lo : f;
        f = f > hi ? hi : f;
        yo[o] = (int16_t)f;
    }
}

/* on int32 sums s32[o] (plus b32[o0 + o] if given; the caller has made
 * sure that cannot overflow) of channels o0.. requantized into y: the
 * double form of store_sums, eight at a time. */
static void Q16_FN(store32)(const int32_t *s32, const int32_t *b32, const cr_q16_req *rq, int o0,
                            int on, int16_t *y)
{
    const double *restrict rs = rq->rs + o0;
    double lo = rq->lo, hi = rq->hi;
    int o = 0;
#ifdef Q16_AVX2
    const __m256d vlo = _mm256_set1_pd(lo), vhi = _mm256_set1_pd(hi), half = _mm256_set1_pd(0.5);
    for (; o + 8 <= on; o += 8) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(s32 + o));
        if (b32)
            v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)(b32 + o0 + o)));
        __m256d f0 = _mm256_cvtepi32_pd(_mm256_castsi256_si128(v));
        __m256d f1 = _mm256_cvtepi32_pd(_mm256_extracti128_si256(v, 1));
        f0 = _mm256_floor_pd(_mm256_add_pd(_mm256_mul_pd(f0, _mm256_loadu_pd(rs + o)), half));
        f1 = _mm256_floor_pd(_mm256_add_pd(_mm256_mul_pd(f1, _mm256_loadu_pd(rs + o + 4)), half));
        f0 = _mm256_min_pd(_mm256_max_pd(f0, vlo), vhi);
        f1 = _mm256_min_pd(_mm256_max_pd(f1, vlo), vhi);
        __m128i q = _mm_packs_epi32(_mm256_cvttpd_epi32(f0), _mm256_cvttpd_epi32(f1));
        _mm_storeu_si128((__m128i *)(y + o), q);
    }
#endif
    for (; o < on; o++) {
        double f = floor((double)(s32[o] + (b32 ? b32[o0 + o] : 0)) * rs[o] + 0.5);
        f = f < lo ? lo : f;
        f = f > hi ? hi : f;
        y[o] = (int16_t)f;
    }
}

/* The block's sums requantized into y (or as they are into y64). */
static void Q16_FN(acc_store)(acc_blk *b, const cr_q16_req *rq, int o0, int16_t *y,
                              int64_t *y64)
{
    Q16_FN(store_sums)(b->a32, b->a64, NULL, rq, o0, b->on, y, y64);
}

/* Output cell (row, ow) of a Conv2D, channels [o0, o0 + on). */
static void Q16_FN(conv_cell)(const conv_job *j, acc_blk *b, int64_t row, int ow, int o0, int on)
{
    const cr_conv_geom *g = j->g;
    cell_win c = cell_window(g, row, ow);
    Q16_FN(acc_start)(b, j->bias, o0, on);
    for (int i = c.i0; i < c.i1; i++)
        for (int t = c.t0; t < c.t1; t++) {
            const int16_t *x = j->x + cell_tap(g, &c, i, t);
            const int8_t *w = j->k + ((size_t)i * g->kw + t) * g->c * g->oc + o0;
            Q16_FN(acc_run)(b, x, g->c, w, (size_t)g->oc);
        }
    Q16_FN(acc_store)(b, j->rq, o0, j->y + ((size_t)row * g->ow + ow) * g->oc + o0, NULL);
}

/* The same for a depthwise convolution (channel o reads input o / dm): one
 * product per channel and tap. */
static void Q16_FN(dw_cell)(const conv_job *j, acc_blk *b, int64_t row, int ow, int o0, int on)
{
    const cr_conv_geom *g = j->g;
    int dm = g->oc / g->c;
    cell_win c = cell_window(g, row, ow);
    int32_t *a = b->a32;
    Q16_FN(acc_start)(b, j->bias, o0, on);
    for (int i = c.i0; i < c.i1; i++)
        for (int t = c.t0; t < c.t1; t++) {
            const int16_t *x = j->x + cell_tap(g, &c, i, t);
            const int8_t *w = j->k + ((size_t)i * g->kw + t) * g->oc + o0;
            if (b->count + 1 > CR_Q16_FLUSH)
                Q16_FN(acc_flush)(b);
            if (dm == 1) {
                x += o0;
                for (int o = 0; o < on; o++)
                    a[o] += (int32_t)x[o] * (int32_t)w[o];
            } else {
                for (int o = 0; o < on; o++)
                    a[o] += (int32_t)x[(o0 + o) / dm] * (int32_t)w[o];
            }
            b->count++;
        }
    Q16_FN(acc_store)(b, j->rq, o0, j->y + ((size_t)row * g->ow + ow) * g->oc + o0, NULL);
}

static void Q16_FN(conv_chunk)(void *ctx, int i, int nch)
{
    const conv_job *j = ctx;
    acc_blk b;
    int64_t lo = i * j->rpc, hi = lo + j->rpc < j->rows ? lo + j->rpc : j->rows;
    (void)nch;
    for (int64_t row = lo; row < hi; row++)
        for (int ow = 0; ow < j->g->ow; ow++)
            for (int o0 = 0; o0 < j->g->oc; o0 += Q16_OB) {
                int on = j->g->oc - o0 < Q16_OB ? j->g->oc - o0 : Q16_OB;
                if (j->depthwise)
                    Q16_FN(dw_cell)(j, &b, row, ow, o0, on);
                else
                    Q16_FN(conv_cell)(j, &b, row, ow, o0, on);
            }
}

/* Rows A[r * lda ..] (r < nr <= 4) against the weight rows w + k * ldw,
 * into bs[r] (the same channels): each group of four weight rows is read
 * (and on AVX2 interleaved and widened) once for all the rows; a group
 * whose inputs are all 0 is skipped. Every block gets the same number of
 * products, so the first one's count stands for all. */
static void Q16_FN(acc_rows)(acc_blk *bs, int nr, const int16_t *A, size_t lda, int K,
                             const int8_t *w, size_t ldw)
{
    int on = bs[0].on, i = 0;
    for (; i < K; i += 4) {
        int g = K - i < 4 ? K - i : 4;
        int32_t x[4][4] = { { 0 } };
        int any = 0;
        for (int r = 0; r < nr; r++)
            for (int q = 0; q < g; q++)
                any |= x[r][q] = A[(size_t)r * lda + i + q];
        if (!any)
            continue;
        if (bs[0].count + 4 > CR_Q16_FLUSH)
            for (int r = 0; r < nr; r++)
                Q16_FN(acc_flush)(&bs[r]);
        const int8_t *w0 = w + (size_t)i * ldw, *w1 = g > 1 ? w0 + ldw : w0;
        const int8_t *w2 = g > 2 ? w1 + ldw : w0, *w3 = g > 3 ? w2 + ldw : w0;
        int o = 0;
#ifdef Q16_AVX2
        __m256i v01[4], v23[4];
        for (int r = 0; r < nr; r++) {
            v01[r] = _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)x[r][0] |
                                                 (uint32_t)(uint16_t)x[r][1] << 16));
            v23[r] = _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)x[r][2] |
                                                 (uint32_t)(uint16_t)x[r][3] << 16));
        }
        for (; o + 16 <= on; o += 16) {
            __m128i b0 = _mm_loadu_si128((const __m128i *)(w0 + o));
            __m128i b1 = _mm_loadu_si128((const __m128i *)(w1 + o));
            __m128i b2 = _mm_loadu_si128((const __m128i *)(w2 + o));
            __m128i b3 = _mm_loadu_si128((const __m128i *)(w3 + o));
            __m256i l01 = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(b0, b1));
            __m256i h01 = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(b0, b1));
            __m256i l23 = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(b2, b3));
            __m256i h23 = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(b2, b3));
            for (int r = 0; r < nr; r++) {
                __m256i lo = _mm256_add_epi32(_mm256_madd_epi16(l01, v01[r]),
                                              _mm256_madd_epi16(l23, v23[r]));
                __m256i hi = _mm256_add_epi32(_mm256_madd_epi16(h01, v01[r]),
                                              _mm256_madd_epi16(h23, v23[r]));
                __m256i *d = (__m256i *)(bs[r].a32 + o);
                _mm256_storeu_si256(d, _mm256_add_epi32(_mm256_loadu_si256(d), lo));
                _mm256_storeu_si256(d + 1, _mm256_add_epi32(_mm256_loadu_si256(d + 1), hi));
            }
        }
#endif
        for (int r = 0; r < nr; r++) {
            int32_t *a = bs[r].a32, x0 = x[r][0], x1 = x[r][1], x2 = x[r][2], x3 = x[r][3];
            for (int oo = o; oo < on; oo++)
                a[oo] += x0 * (int32_t)w0[oo] + x1 * (int32_t)w1[oo] + x2 * (int32_t)w2[oo] +
                         x3 * (int32_t)w3[oo];
        }
        for (int r = 0; r < nr; r++)
            bs[r].count += 4;
    }
}

static void Q16_FN(gemm_chunk)(void *ctx, int i, int nch)
{
    const gemm_job *j = ctx;
    acc_blk b[4];
    int64_t lo = i * j->rpc, hi = lo + j->rpc < j->M ? lo + j->rpc : j->M;
    (void)nch;
    for (int64_t r0 = lo; r0 < hi; r0 += 4) {
        int nr = hi - r0 < 4 ? (int)(hi - r0) : 4;
        for (int o0 = 0; o0 < j->N; o0 += Q16_OB) {
            int on = j->N - o0 < Q16_OB ? j->N - o0 : Q16_OB;
            for (int r = 0; r < nr; r++)
                Q16_FN(acc_start)(&b[r], j->bias, o0, on);
            Q16_FN(acc_rows)(b, nr, j->A + (size_t)r0 * j->K, (size_t)j->K, j->K, j->B + o0,
                             (size_t)j->N);
            for (int r = 0; r < nr; r++) {
                size_t at = (size_t)(r0 + r) * j->N + o0;
                Q16_FN(acc_store)(&b[r], j->rq, o0, j->C ? j->C + at : NULL,
                                  j->C64 ? j->C64 + at : NULL);
            }
        }
    }
}

/* ---- packed gemm and im2col convolutions (q16.c's pk_job) ------------- */

/* The taps [t0, t1) of output column ow inside the input. */
static inline void Q16_FN(tap_cols)(const cr_conv_geom *g, int ow, int *t0, int *t1)
{
    int bx = ow * g->sw - g->pl;
    if (g->dw == 1) {   /* no division */
        *t0 = bx < 0 ? (-bx < g->kw ? -bx : g->kw) : 0;
        *t1 = g->w - bx < g->kw ? g->w - bx : g->kw;
        *t1 = *t1 < *t0 ? *t0 : *t1;
    } else {
        cr_tap_range(bx, g->dw, g->kw, g->w, t0, t1);
    }
}

/* n int16 from s (NULL: zeros) to d, short runs without a library call. */
static inline void Q16_FN(copy16)(int16_t *d, const int16_t *s, int n)
{
    if (n > 32)
        s ? memcpy(d, s, (size_t)n * sizeof *d) : memset(d, 0, (size_t)n * sizeof *d);
    else
        for (int q = 0; q < n; q++)
            d[q] = s ? s[q] : 0;
}

/* pk_gather of whole patches (dilation 1 across): per kernel row, the
 * taps inside the input are one run of the input row; the window's row
 * part is found once per output row. */
static void Q16_FN(pk_patches)(const pk_job *j, int64_t r0, int nr, int16_t *d)
{
    const cr_conv_geom *g = j->g;
    int k4 = q8_k4(j->K), kwc = g->kw * g->c;
    int64_t row = r0 / g->ow;
    int ow = (int)(r0 % g->ow);
    cell_win c = cell_window(g, row, 0);
    for (int r = 0; r < nr; r++, d += k4) {
        int t0, t1, bx = ow * g->sw - g->pl;
        Q16_FN(tap_cols)(g, ow, &t0, &t1);
        for (int i = 0; i < g->kh; i++) {
            int16_t *dr = d + (size_t)i * kwc;
            if (i < c.i0 || i >= c.i1 || t1 == t0) {
                Q16_FN(copy16)(dr, NULL, kwc);
                continue;
            }
            const int16_t *src =
                j->x + (((size_t)c.n * g->h + c.by + i * g->dh) * g->w + bx + t0) * g->c;
            Q16_FN(copy16)(dr, NULL, t0 * g->c);
            Q16_FN(copy16)(dr + t0 * g->c, src, (t1 - t0) * g->c);
            Q16_FN(copy16)(dr + t1 * g->c, NULL, (g->kw - t1) * g->c);
        }
        for (int k = j->K; k < k4; k++)
            d[k] = 0;
        if (++ow == g->ow) {
            ow = 0;
            c = cell_window(g, ++row, 0);
        }
    }
}

/* Rows [r0, r0 + nr) of the job's A, columns [k0, k0 + kb), as int16 rows
 * of q8_k4(kb) at d (zeros past kb); for a convolution, rows are output
 * pixels and A their patches (taps outside the input read 0). */
static void Q16_FN(pk_gather)(const pk_job *j, int64_t r0, int nr, int k0, int kb, int16_t *d)
{
    int k4 = q8_k4(kb);
    if (j->g && k0 == 0 && kb == j->K && j->g->dw == 1) {
        Q16_FN(pk_patches)(j, r0, nr, d);
        return;
    }
    for (int r = 0; r < nr; r++, d += k4) {
        if (!j->g) {
            memcpy(d, j->A + (size_t)(r0 + r) * j->K + k0, (size_t)kb * sizeof *d);
        } else {
            const cr_conv_geom *g = j->g;
            int64_t p = r0 + r;
            cell_win c = cell_window(g, p / g->ow, (int)(p % g->ow));
            for (int tap = k0 / g->c; tap * g->c < k0 + kb; tap++) {
                int i = tap / g->kw, t = tap % g->kw, base = tap * g->c;
                int cs = (k0 > base ? k0 : base) - base;
                int ce = (k0 + kb < base + g->c ? k0 + kb : base + g->c) - base;
                int16_t *dst = d + base + cs - k0;
                const int16_t *src = i >= c.i0 && i < c.i1 && t >= c.t0 && t < c.t1
                                         ? j->x + cell_tap(g, &c, i, t) + cs : NULL;
                if (ce - cs > 16)
                    src ? memcpy(dst, src, (size_t)(ce - cs) * sizeof *d)
                        : memset(dst, 0, (size_t)(ce - cs) * sizeof *d);
                else   /* few channels (a stem's 3): no library call */
                    for (int q = 0; q < ce - cs; q++)
                        dst[q] = src ? src[q] : 0;
            }
        }
        for (int k = kb; k < k4; k++)
            d[k] = 0;
    }
}

/* Chunk i: rows [m0, m1) by columns [n0, n1) (at most PK_NB), in blocks of
 * PK_RB rows: per block of at most PK_KB k, the rows gathered once as
 * int16, every panel of the chunk's columns against them (the level's
 * tile: exact int32 sums of at most PK_KB products, which cannot
 * overflow), the blocks' sums added into int64, then requantized. */
static void Q16_FN(pk_chunk)(void *ctx, int i, int nch)
{
    const pk_job *j = ctx;
    _Alignas(64) int16_t a16[PK_RB * PK_KB];
    _Alignas(64) int32_t c32[PK_RB * PK_NB];
    _Alignas(64) int64_t s64[PK_RB * PK_NB];
    int64_t m0 = (int64_t)(i / j->ncb) * j->mb, m1 = m0 + j->mb < j->M ? m0 + j->mb : j->M;
    int n0 = (i % j->ncb) * PK_NB, n1 = n0 + PK_NB < j->N ? n0 + PK_NB : j->N, nb = n1 - n0;
    int nkb = pk_blocks(j->K);
    (void)nch;
    for (int64_t i0 = m0; i0 < m1; i0 += PK_RB) {
        int mb = m1 - i0 < PK_RB ? (int)(m1 - i0) : PK_RB;
        const int8_t *bp = j->Bp;
        for (int b = 0; b < nkb; b++) {
            int k0 = b * PK_KB, kb = j->K - k0 < PK_KB ? j->K - k0 : PK_KB;
            size_t k4 = (size_t)q8_k4(kb), ps = q8_panel_bytes(kb);
            const int16_t *a = a16;
            if (!j->g && nkb == 1 && j->K % 4 == 0)   /* rows of A as they are */
                a = j->A + (size_t)i0 * j->K;
            else
                Q16_FN(pk_gather)(j, i0, mb, k0, kb, a16);
            for (int c0 = n0; c0 < n1; c0 += Q8_NR) {
                int cols = n1 - c0 < Q8_NR ? n1 - c0 : Q8_NR;
                const int8_t *pp = bp + (size_t)(c0 / Q8_NR) * ps;
                for (int r = 0; r < mb; r += j->mr)
                    j->tile(kb, a + r * k4, k4, pp, mb - r < j->mr ? mb - r : j->mr, cols,
                            NULL, c32 + r * PK_NB + (c0 - n0), PK_NB, NULL, c0);
            }
            if (b < nkb - 1)   /* all but the last block into int64 */
                for (int r = 0; r < mb; r++)
                    for (int o = 0; o < nb; o++)
                        s64[r * PK_NB + o] = (b ? s64[r * PK_NB + o] : 0) + c32[r * PK_NB + o];
            bp += cr_q8_gemm_packed_bytes(kb, j->N);
        }
        for (int r = 0; r < mb; r++) {
            size_t at = (size_t)(i0 + r) * j->N + n0;
            if (j->C && nkb == 1 && (j->b32 || !j->bias))
                Q16_FN(store32)(c32 + r * PK_NB, j->b32, j->rq, n0, nb, j->C + at);
            else
                Q16_FN(store_sums)(c32 + r * PK_NB, nkb > 1 ? s64 + r * PK_NB : NULL, j->bias,
                                   j->rq, n0, nb, j->C ? j->C + at : NULL,
                                   j->C64 ? j->C64 + at : NULL);
        }
    }
}

#ifdef Q16_AVX2
/* ---- depthwise, depth multiplier 1, on pairs of taps (AVX2) -------------
 * 16 channels at a time: the int16 inputs of two taps interleaved (unpack
 * within 128-bit lanes) against the pair's weights laid out the same way
 * (q16.c's dw_pairs), so one vpmaddwd adds both taps' exact products per
 * int32 lane; at most DW_TAPS products a sum, so nothing overflows. */

/* Sums of 16 channels c0.. of one output pixel, tap t's input at xp[t]
 * (xp[T] and taps outside the input: j->zero). */
static inline void Q16_FN(dw16_sums)(const conv_job *j, const int16_t *const *xp, int c0,
                                     const int16_t *w, int32_t *s)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    for (int p = 0; p < j->tp; p++, w += 32) {
        __m256i xa = _mm256_loadu_si256((const __m256i *)(xp[2 * p] + c0));
        __m256i xb = _mm256_loadu_si256((const __m256i *)(xp[2 * p + 1] + c0));
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb),
                                                     _mm256_load_si256((const __m256i *)w)));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb),
                                                     _mm256_load_si256((const __m256i *)(w + 16))));
    }
    /* lanes: channels 0-3 8-11 | 4-7 12-15 */
    _mm256_store_si256((__m256i *)s, _mm256_permute2x128_si256(a0, a1, 0x20));
    _mm256_store_si256((__m256i *)(s + 8), _mm256_permute2x128_si256(a0, a1, 0x31));
}

/* Output pixel (row, ow) from its tap pointers xp, into y. */
static void Q16_FN(dw16_cell)(const conv_job *j, const int16_t *const *xp, int16_t *y)
{
    const cr_conv_geom *g = j->g;
    const int16_t *w = j->wp;
    _Alignas(32) int32_t s[16];
    int c0 = 0;
    for (; c0 + 16 <= g->oc; c0 += 16, w += 32 * j->tp) {
        Q16_FN(dw16_sums)(j, xp, c0, w, s);
        if (j->b32 || !j->bias)
            Q16_FN(store32)(s, j->b32, j->rq, c0, 16, y + c0);
        else
            Q16_FN(store_sums)(s, NULL, j->bias, j->rq, c0, 16, y + c0, NULL);
    }
    if (c0 < g->oc) {   /* the last channels: their inputs copied, zeros past them */
        int n = g->oc - c0, T = g->kh * g->kw;
        _Alignas(32) int16_t xt[DW_TAPS + 1][16];
        const int16_t *xq[DW_TAPS + 1];
        for (int t = 0; t <= T; t++) {
            memset(xt[t], 0, sizeof xt[t]);
            memcpy(xt[t], xp[t] + c0, (size_t)n * sizeof **xt);
            xq[t] = xt[t];
        }
        Q16_FN(dw16_sums)(j, xq, 0, w, s);
        if (j->b32 || !j->bias)
            Q16_FN(store32)(s, j->b32, j->rq, c0, n, y + c0);
        else
            Q16_FN(store_sums)(s, NULL, j->bias, j->rq, c0, n, y + c0, NULL);
    }
}

/* Rows of outputs: the tap pointers (j->zero outside the input) set per
 * pixel, or moved along from the last one when both have every column of
 * taps inside. */
static void Q16_FN(dw16_chunk)(void *ctx, int i, int nch)
{
    const conv_job *j = ctx;
    const cr_conv_geom *g = j->g;
    int64_t lo = i * j->rpc, hi = lo + j->rpc < j->rows ? lo + j->rpc : j->rows;
    int T = g->kh * g->kw;
    const int16_t *xp[DW_TAPS + 1];
    (void)nch;
    for (int64_t row = lo; row < hi; row++) {
        cell_win c = cell_window(g, row, 0);
        bool inside = false;
        for (int ow = 0; ow < g->ow; ow++) {
            int t0, t1, bx = ow * g->sw - g->pl;
            Q16_FN(tap_cols)(g, ow, &t0, &t1);
            bool all = t0 == 0 && t1 == g->kw;
            if (all && inside) {
                for (int t = 0; t < T; t++)
                    xp[t] = xp[t] == j->zero ? xp[t] : xp[t] + (ptrdiff_t)g->sw * g->c;
            } else {
                for (int a = 0; a < g->kh; a++) {
                    const int16_t *xr = j->x + ((size_t)c.n * g->h + c.by + a * g->dh) * g->w * g->c;
                    for (int t = 0; t < g->kw; t++)
                        xp[a * g->kw + t] = a >= c.i0 && a < c.i1 && t >= t0 && t < t1
                                                ? xr + (ptrdiff_t)(bx + t * g->dw) * g->c : j->zero;
                }
                xp[T] = j->zero;   /* the odd tap's partner */
            }
            inside = all;
            Q16_FN(dw16_cell)(j, xp, j->y + ((size_t)row * g->ow + ow) * g->oc);
        }
    }
}
#endif

#ifdef Q16_AVX2
/* ---- packed gemm with short rows (q8_k4(K) <= SK_K4, AVX2) --------------
 * With few k the requantization weighs as much as the multiply-adds, so it
 * runs on the accumulators, never through memory: the panels are also
 * packed as int16 pairs (sk_pairs: w[k / 2][16 columns][2], zeros past N), a
 * row's pair of k is one 4-byte broadcast against them (vpmaddwd: each
 * int32 lane one column's exact sum), and a tile of SK_MR rows by 16
 * columns keeps its 12 sums in registers, started at the int32 biases,
 * then requantized by store32's double operations. At most SK_K4 products
 * a sum: with bias32's check nothing overflows. */

/* 8 int32 sums of channels o0.. requantized (store32's operations). */
static inline __m128i Q16_FN(sk_req8)(__m256i v, const double *rs, __m256d vlo, __m256d vhi)
{
    const __m256d half = _mm256_set1_pd(0.5);
    __m256d f0 = _mm256_cvtepi32_pd(_mm256_castsi256_si128(v));
    __m256d f1 = _mm256_cvtepi32_pd(_mm256_extracti128_si256(v, 1));
    f0 = _mm256_floor_pd(_mm256_add_pd(_mm256_mul_pd(f0, _mm256_loadu_pd(rs)), half));
    f1 = _mm256_floor_pd(_mm256_add_pd(_mm256_mul_pd(f1, _mm256_loadu_pd(rs + 4)), half));
    f0 = _mm256_min_pd(_mm256_max_pd(f0, vlo), vhi);
    f1 = _mm256_min_pd(_mm256_max_pd(f1, vlo), vhi);
    return _mm_packs_epi32(_mm256_cvttpd_epi32(f0), _mm256_cvttpd_epi32(f1));
}

/* rows <= SK_MR rows (row r's k4 int16 at ar[r]) by one panel (pairs at w,
 * 16 int32 biases at b, scales at rs) into y (row stride ldy), cols <= 16
 * columns of it. Out of line, so that the sums stay in registers. */
static __attribute__((noinline)) void Q16_FN(sk_tile)(int k4, const int16_t *const *ar,
                                                      const int16_t *w, const int32_t *b,
                                                      const double *rs, const cr_q16_req *rq,
                                                      int rows, int cols, int16_t *y, size_t ldy)
{
    __m256i s[SK_MR][2];
    __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
    __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 8));
    for (int r = 0; r < SK_MR; r++)
        s[r][0] = b0, s[r][1] = b1;
    for (int k = 0; k < k4; k += 2, w += 32) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)w);
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + 16));
        for (int r = 0; r < SK_MR; r++) {
            int32_t v;
            memcpy(&v, ar[r] + k, sizeof v);
            __m256i av = _mm256_set1_epi32(v);
            s[r][0] = _mm256_add_epi32(s[r][0], _mm256_madd_epi16(av, w0));
            s[r][1] = _mm256_add_epi32(s[r][1], _mm256_madd_epi16(av, w1));
        }
    }
    const __m256d vlo = _mm256_set1_pd(rq->lo), vhi = _mm256_set1_pd(rq->hi);
    for (int r = 0; r < rows; r++, y += ldy) {
        __m128i q0 = Q16_FN(sk_req8)(s[r][0], rs, vlo, vhi);
        __m128i q1 = Q16_FN(sk_req8)(s[r][1], rs + 8, vlo, vhi);
        if (cols == 16) {
            _mm_storeu_si128((__m128i *)y, q0);
            _mm_storeu_si128((__m128i *)(y + 8), q1);
        } else {
            _Alignas(16) int16_t t[16];
            _mm_store_si128((__m128i *)t, q0);
            _mm_store_si128((__m128i *)(t + 8), q1);
            memcpy(y, t, (size_t)cols * sizeof *y);
        }
    }
}

/* pk_chunk's chunk i with short rows: requantized into j->C. */
static void Q16_FN(sk_chunk)(void *ctx, int i, int nch)
{
    const pk_job *j = ctx;
    _Alignas(32) int16_t a16[PK_RB * SK_K4];
    _Alignas(32) int32_t b16[PK_NB];
    _Alignas(32) double rs[PK_NB];
    int64_t m0 = (int64_t)(i / j->ncb) * j->mb, m1 = m0 + j->mb < j->M ? m0 + j->mb : j->M;
    int n0 = (i % j->ncb) * PK_NB, n1 = n0 + PK_NB < j->N ? n0 + PK_NB : j->N;
    int k4 = q8_k4(j->K), np = (n1 - n0 + Q8_NR - 1) / Q8_NR;
    const int16_t *wp = sk_pairs(j->Bp, j->K, j->N) + (size_t)n0 * k4;
    (void)nch;
    for (int o = 0; o < np * Q8_NR; o++) {   /* zeros past N */
        b16[o] = n0 + o < n1 && j->b32 ? j->b32[n0 + o] : 0;
        rs[o] = n0 + o < n1 ? j->rq->rs[n0 + o] : 0;
    }
    for (int64_t i0 = m0; i0 < m1; i0 += PK_RB) {
        int mb = m1 - i0 < PK_RB ? (int)(m1 - i0) : PK_RB;
        const int16_t *a = a16;
        if (!j->g && j->K > 0 && j->K % 4 == 0)   /* rows of A as they are */
            a = j->A + (size_t)i0 * j->K;
        else
            Q16_FN(pk_gather)(j, i0, mb, 0, j->K, a16);
        for (int p = 0; p < np; p++) {
            int c0 = n0 + p * Q8_NR, cols = n1 - c0 < Q8_NR ? n1 - c0 : Q8_NR;
            for (int r = 0; r < mb; r += SK_MR) {
                int rows = mb - r < SK_MR ? mb - r : SK_MR;
                const int16_t *ar[SK_MR];
                for (int q = 0; q < SK_MR; q++)
                    ar[q] = a + (size_t)(r + (q < rows ? q : 0)) * k4;
                Q16_FN(sk_tile)(k4, ar, wp + (size_t)p * Q8_NR * k4, b16 + p * Q8_NR,
                                rs + p * Q8_NR, j->rq, rows, cols,
                                j->C + (size_t)(i0 + r) * j->N + c0, (size_t)j->N);
            }
        }
    }
}
#endif
