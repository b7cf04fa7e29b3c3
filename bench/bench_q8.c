/* bench_q8.c - the int8 kernels against crest's own fp32 kernels on every
 * convolution of MobileNetV2 224 (alpha 1): the 3x3 stem, the 1x1
 * expansions and projections, the 3x3 depthwise layers at stride 1 and 2.
 *
 *   bench_q8 [generic|avx2|avxvnni|avx512vnni] [rounds] [batch] [only]
 *
 * fp32: cr_conv2d_ep on a packed kernel (1x1: cr_gemm_packed on x in
 * place) and cr_depthwise2d_act, with relu6 where the network has it; int8:
 * cr_q8_conv2d and cr_q8_depthwise2d (per-channel multipliers, relu6 as the
 * clamp); int16 (TFLite's 16x8): cr_q16_conv2d_packed and cr_q16_depthwise2d
 * (int64 biases, per-channel fixed-point multipliers, a relu6 clamp). Rounds (default 7) interleave everything: in each round every
 * layer runs fp32, int8 then int16, on 1 then 2 threads, each timed as the best of
 * a burst of about 20 ms (1 thread: the thread's CPU time, so that other
 * processes on a shared machine count less; 2 threads: wall time); the
 * table gives the median over rounds, as GOP/s
 * (a multiply-add is 2 operations) and the int8 and int16 speed-ups. The total weighs
 * each shape by how often the network has it (adds and pooling are not
 * included: they are a few percent of the time). `only`: the layers whose
 * name contains it (for profiling one shape).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double now(void) { return clock_s(CLOCK_MONOTONIC); }

static void *xalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
    if (!p) {
        fprintf(stderr, "bench_q8: out of memory\n");
        exit(1);
    }
    memset(p, 0, (n + 63) / 64 * 64 + 64);
    return p;
}

static unsigned seed = 12345;
static unsigned rnd(void)
{
    seed = seed * 1103515245u + 12345u;
    return seed >> 9;
}

typedef struct layer {
    const char *name;
    int count;                 /* how many times MobileNetV2 has this shape (0: extra) */
    bool dw;
    int hw, c, oc, k, s;       /* input size (square), channels, kernel, stride;
                                  k 0: Dense, hw rows (not scaled by the batch) */
} layer;

static const layer net[] = {
    { "stem 3x3/2 224x224x3->32", 1, false, 224, 3, 32, 3, 2 },
    { "dw 3x3/1 112x112x32", 1, true, 112, 32, 32, 3, 1 },
    { "1x1 112x112x32->16", 1, false, 112, 32, 16, 1, 1 },
    { "1x1 112x112x16->96", 1, false, 112, 16, 96, 1, 1 },
    { "dw 3x3/2 112x112x96", 1, true, 112, 96, 96, 3, 2 },
    { "1x1 56x56x96->24", 1, false, 56, 96, 24, 1, 1 },
    { "1x1 56x56x24->144", 2, false, 56, 24, 144, 1, 1 },
    { "dw 3x3/1 56x56x144", 1, true, 56, 144, 144, 3, 1 },
    { "1x1 56x56x144->24", 1, false, 56, 144, 24, 1, 1 },
    { "dw 3x3/2 56x56x144", 1, true, 56, 144, 144, 3, 2 },
    { "1x1 28x28x144->32", 1, false, 28, 144, 32, 1, 1 },
    { "1x1 28x28x32->192", 3, false, 28, 32, 192, 1, 1 },
    { "dw 3x3/1 28x28x192", 2, true, 28, 192, 192, 3, 1 },
    { "1x1 28x28x192->32", 2, false, 28, 192, 32, 1, 1 },
    { "dw 3x3/2 28x28x192", 1, true, 28, 192, 192, 3, 2 },
    { "1x1 14x14x192->64", 1, false, 14, 192, 64, 1, 1 },
    { "1x1 14x14x64->384", 4, false, 14, 64, 384, 1, 1 },
    { "dw 3x3/1 14x14x384", 4, true, 14, 384, 384, 3, 1 },
    { "1x1 14x14x384->64", 3, false, 14, 384, 64, 1, 1 },
    { "1x1 14x14x384->96", 1, false, 14, 384, 96, 1, 1 },
    { "1x1 14x14x96->576", 3, false, 14, 96, 576, 1, 1 },
    { "dw 3x3/1 14x14x576", 2, true, 14, 576, 576, 3, 1 },
    { "1x1 14x14x576->96", 2, false, 14, 576, 96, 1, 1 },
    { "dw 3x3/2 14x14x576", 1, true, 14, 576, 576, 3, 2 },
    { "1x1 7x7x576->160", 1, false, 7, 576, 160, 1, 1 },
    { "1x1 7x7x160->960", 3, false, 7, 160, 960, 1, 1 },
    { "dw 3x3/1 7x7x960", 3, true, 7, 960, 960, 3, 1 },
    { "1x1 7x7x960->160", 2, false, 7, 960, 160, 1, 1 },
    { "1x1 7x7x960->320", 1, false, 7, 960, 320, 1, 1 },
    { "1x1 7x7x320->1280", 1, false, 7, 320, 1280, 1, 1 },
    /* Dense heads (k 0: M = batch x hw rows of c features), not in the total */
    { "dense 1280->1000 (M 1)", 0, false, 1, 1280, 1000, 0, 1 },
    { "dense 1280->1000 (M 32)", 0, false, 32, 1280, 1000, 0, 1 },
};
#define N_LAYERS ((int)(sizeof net / sizeof *net))

typedef struct bufs {
    cr_conv_geom g;
    double macs;
    float *x, *y, *k, *kp, *bias, *scratch;
    uint8_t *qx, *qy;
    void *qkp, *qscratch;
    float *m;
    cr_q8_req rq;
    int16_t *x16, *y16;
    int8_t *k16;               /* depthwise: raw; otherwise packed */
    int64_t *b64;
    int32_t *mult, *shift;
    double *rs;
    cr_q16_req rq16;
} bufs;

/* Keras 'same' padding: total max(0, (out-1)*s + k - in), the extra at the
 * bottom/right. */
static cr_conv_geom geom(const layer *l, int batch)
{
    if (l->k == 0)             /* Dense: a 1x1 convolution over hw rows */
        return (cr_conv_geom){ .n = 1, .h = l->hw, .w = 1, .c = l->c, .oh = l->hw, .ow = 1,
                               .oc = l->oc, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1,
                               .dw = 1 };
    cr_conv_geom g = { .n = batch, .h = l->hw, .w = l->hw, .c = l->c, .kh = l->k, .kw = l->k,
                       .sh = l->s, .sw = l->s, .dh = 1, .dw = 1 };
    g.oh = g.ow = (l->hw + l->s - 1) / l->s;
    g.oc = l->oc;
    int pad = (g.oh - 1) * l->s + l->k - l->hw;
    pad = pad < 0 ? 0 : pad;
    g.pt = g.pl = pad / 2;
    return g;
}

/* The int16 operands: inputs over the int16 range (a quarter of them 0,
 * as after a relu), the int8 kernel, biases and multipliers of about
 * 1 / (127 sqrt(taps)) so that outputs spread. */
static void setup16(bufs *b, const layer *l, const int8_t *qk)
{
    cr_conv_geom *g = &b->g;
    size_t xs = (size_t)g->n * g->h * g->w * g->c, ys = (size_t)g->n * g->oh * g->ow * g->oc;
    size_t ks = (size_t)g->kh * g->kw * (l->dw ? 1 : g->c) * g->oc;
    int taps = g->kh * g->kw * (l->dw ? 1 : g->c);
    b->x16 = xalloc(xs * 2);
    b->y16 = xalloc(ys * 2);
    b->b64 = xalloc((size_t)g->oc * 8);
    b->mult = xalloc((size_t)g->oc * 4);
    b->shift = xalloc((size_t)g->oc * 4);
    b->rs = xalloc((size_t)g->oc * 8);
    for (size_t i = 0; i < xs; i++)
        b->x16[i] = rnd() % 4 ? (int16_t)(rnd() % 65536 - 32768) : 0;
    for (int i = 0; i < g->oc; i++) {
        int sh;
        b->b64[i] = (int64_t)(rnd() % 2000001) - 1000000;
        cr_q16_multiplier(1.0 / (127.0 * sqrt((double)taps)) * (1 + 0.01 * (i % 13)),
                          &b->mult[i], &sh);
        b->shift[i] = sh;
    }
    cr_q16_req_scales(g->oc, b->mult, b->shift, b->rs);
    b->rq16 = (cr_q16_req){ .mult = b->mult, .shift = b->shift, .rs = b->rs, .lo = 0,
                            .hi = 20000 };
    if (l->dw) {
        b->k16 = xalloc(ks);
        memcpy(b->k16, qk, ks);
    } else {
        b->k16 = xalloc(cr_q16_conv2d_packed_bytes(g));
        cr_q16_conv2d_pack(g, qk, b->k16);
    }
}

static void setup(bufs *b, const layer *l, int batch)
{
    cr_conv_geom *g = &b->g;
    *g = geom(l, batch);
    size_t xs = (size_t)g->n * g->h * g->w * g->c, ys = (size_t)g->n * g->oh * g->ow * g->oc;
    size_t ks = (size_t)g->kh * g->kw * (l->dw ? 1 : g->c) * g->oc;
    b->macs = (double)ys * g->kh * g->kw * (l->dw ? 1 : g->c);
    b->x = xalloc(xs * 4);
    b->y = xalloc(ys * 4);
    b->k = xalloc(ks * 4);
    b->bias = xalloc((size_t)g->oc * 4);
    b->qx = xalloc(xs);
    b->qy = xalloc(ys);
    b->m = xalloc((size_t)g->oc * 4);
    int8_t *qk = xalloc(ks);
    int32_t *qb = xalloc((size_t)g->oc * 4);
    for (size_t i = 0; i < xs; i++) {
        b->x[i] = (float)(rnd() % 1000) / 1000.0f;
        b->qx[i] = (uint8_t)(rnd() % 256);
    }
    for (size_t i = 0; i < ks; i++) {
        b->k[i] = (float)((int)(rnd() % 2001) - 1000) / 20000.0f;
        qk[i] = (int8_t)((int)(rnd() % 255) - 127);
    }
    for (int i = 0; i < g->oc; i++) {
        b->bias[i] = 0.01f * (float)(i % 7);
        qb[i] = (int32_t)(rnd() % 20001) - 10000;
        b->m[i] = 2e-4f + 1e-5f * (float)(i % 13);
    }
    b->rq = (cr_q8_req){ .m = b->m, .per_tensor = false, .z_out = 0, .lo = 0, .hi = 200 };
    if (l->dw) {
        b->qkp = xalloc(cr_q8_depthwise2d_packed_bytes(g));
        cr_q8_depthwise2d_pack(g, qk, qb, b->qkp);
    } else {
        b->kp = xalloc(cr_conv2d_packed_floats(g) * 4);
        cr_conv2d_pack(g, b->k, b->kp);
        b->scratch = xalloc(cr_conv2d_scratch(g, 2) * 4);
        b->qkp = xalloc(cr_q8_conv2d_packed_bytes(g));
        cr_q8_conv2d_pack(g, qk, qb, 128, b->qkp);
        b->qscratch = xalloc(cr_q8_conv2d_scratch(g, 2));
    }
    setup16(b, l, qk);
    free(qk);
    free(qb);
}

/* q: 0 fp32, 1 int8, 2 int16. */
static void run(cr_pool *p, const layer *l, bufs *b, int q)
{
    bool q8 = q == 1;
    if (q == 2 && l->dw)
        cr_q16_depthwise2d(p, &b->g, b->x16, b->k16, b->b64, &b->rq16, b->y16);
    else if (q == 2)
        cr_q16_conv2d_packed(p, &b->g, b->x16, b->k16, b->b64, &b->rq16, b->y16);
    else if (q8 && l->dw)
        cr_q8_depthwise2d(p, &b->g, b->qx, 128, b->qkp, &b->rq, b->qy);
    else if (q8)
        cr_q8_conv2d(p, &b->g, b->qx, 128, b->qkp, &b->rq, b->qy, b->qscratch);
    else if (l->dw)
        cr_depthwise2d_act(p, &b->g, b->x, b->k, b->bias, CR_ACT_RELU6, b->y);
    else
        cr_conv2d_ep(p, &b->g, b->x, b->k, b->kp, b->bias, CR_ACT_RELU6, b->y, b->scratch);
}

/* Best time of a burst of about 20 ms: on one thread the thread's CPU
 * time (what it ran, whatever else the machine runs), on a pool the wall
 * time. */
static double burst(cr_pool *p, const layer *l, bufs *b, int q)
{
    clockid_t id = p ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
    double best = 1e30, t_end = now() + 0.02;
    int it = 0;
    do {
        double t0 = clock_s(id);
        run(p, l, b, q);
        double t = clock_s(id) - t0;
        best = t < best ? t : best;
        it++;
    } while (now() < t_end || it < 3);
    return best;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    cr_q8_isa isa = cr_q8_isa_best();
    int rounds = 7, batch = 1;
    if (argc > 1) {
        int i;
        for (i = 0; i <= CR_Q8_AVX512VNNI; i++)
            if (!strcmp(argv[1], cr_q8_isa_name((cr_q8_isa)i)))
                break;
        if (i > CR_Q8_AVX512VNNI) {
            fprintf(stderr,
                    "usage: bench_q8 [generic|avx2|avxvnni|avx512vnni] [rounds] [batch] [only]\n");
            return 2;
        }
        isa = (cr_q8_isa)i;
    }
    if (argc > 2)
        rounds = atoi(argv[2]) > 0 ? atoi(argv[2]) : rounds;
    if (argc > 3)
        batch = atoi(argv[3]) > 0 ? atoi(argv[3]) : batch;
    const char *only = argc > 4 ? argv[4] : NULL;
    isa = cr_q8_isa_select(isa);
    cr_pool *pools[2] = { NULL, cr_pool_new(2) };
    if (!pools[1]) {
        fprintf(stderr, "bench_q8: no thread pool\n");
        return 1;
    }
    static bufs b[N_LAYERS];
    for (int i = 0; i < N_LAYERS; i++)
        setup(&b[i], &net[i], batch);
    /* t[layer][threads][fp32 / int8 / int16][round] */
    double *t = calloc((size_t)N_LAYERS * 6 * rounds, sizeof *t);
    if (!t)
        return 1;
#define T(i, th, q, r) t[(((size_t)(i) * 2 + (th)) * 3 + (q)) * rounds + (r)]
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < N_LAYERS; i++)
            for (int th = 0; th < 2 && (!only || strstr(net[i].name, only)); th++)
                for (int q = 0; q < 3; q++)
                    T(i, th, q, r) = burst(pools[th], &net[i], &b[i], q);
    printf("int8 level %s, fp32 level %s, batch %d, %d rounds (medians); GOP/s, int8 and "
           "int16 speed-ups over fp32 (1t: thread CPU time, 2t: wall time)\n",
           cr_q8_isa_name(isa), cr_isa_name(cr_isa_current()), batch, rounds);
    printf("%-26s %2s %7s |%6s %6s %6s %5s %5s |%6s %6s %6s %5s %5s\n", "layer", "n", "MMAC",
           "fp32", "int8", "int16", "x8", "x16", "fp32", "int8", "int16", "x8", "x16");
    double tot[2][3] = { { 0, 0, 0 }, { 0, 0, 0 } }, macs = 0;
    for (int i = 0; i < N_LAYERS; i++) {
        if (only && !strstr(net[i].name, only))
            continue;
        double med[2][3];
        for (int th = 0; th < 2; th++)
            for (int q = 0; q < 3; q++) {
                med[th][q] = median(&T(i, th, q, 0), rounds);
                tot[th][q] += net[i].count * med[th][q];
            }
        macs += net[i].count * b[i].macs;
        printf("%-26.26s %2d %7.2f", net[i].name, net[i].count, b[i].macs / 1e6);
        for (int th = 0; th < 2; th++)
            printf(" |%6.1f %6.1f %6.1f %5.2f %5.2f", 2e-9 * b[i].macs / med[th][0],
                   2e-9 * b[i].macs / med[th][1], 2e-9 * b[i].macs / med[th][2],
                   med[th][0] / med[th][1], med[th][0] / med[th][2]);
        printf("\n");
    }
    if (macs > 0) {
        printf("%-26s %2s %7.2f", "total (convs), ms/batch", "", macs / 1e6);
        for (int th = 0; th < 2; th++)
            printf(" |%6.2f %6.2f %6.2f %5.2f %5.2f", 1e3 * tot[th][0], 1e3 * tot[th][1],
                   1e3 * tot[th][2], tot[th][0] / tot[th][1], tot[th][0] / tot[th][2]);
        printf("\n");
    }
    cr_pool_free(pools[1]);
    free(t);
    return 0;
}
