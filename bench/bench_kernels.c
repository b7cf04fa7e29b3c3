/* bench_kernels.c - GFLOP/s of crest's kernels on the shapes that matter:
 * the gemms of a batch-32 MLP (784-128-10, forward and both backward
 * products) and the layers of MobileNetV2 (1x1 convolutions, the 3x3 stem,
 * 3x3 depthwise at stride 1 and 2), at batch 1 and 32, on 1 and 2 threads.
 *
 *   bench_kernels [generic|avx2|avx512] [seconds per case]
 *
 * Each case is run once to warm up, then repeatedly for the given time
 * (default 0.25 s); the best time per call is reported. A flop is a
 * multiply or an add (a multiply-add counts 2).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *randv(size_t n)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        v[i] = (float)((s >> 9) & 0xffff) / 32768.0f - 1.0f;
    }
    return v;
}

typedef enum { GEMM, CONV, DW, MAXPOOL } kind;

typedef struct bench_case {
    const char *name;
    kind kind;
    bool ta, tb;
    int M, N, K;               /* GEMM */
    cr_conv_geom g;            /* CONV, DW, MAXPOOL */
} bench_case;

typedef struct buffers {
    float *a, *b, *c, *scratch;
} buffers;

static double flops_of(const bench_case *b)
{
    const cr_conv_geom *g = &b->g;
    double out = (double)g->n * g->oh * g->ow * g->oc;
    switch (b->kind) {
    case GEMM: return 2.0 * b->M * b->N * (double)b->K;
    case CONV: return 2.0 * out * g->kh * g->kw * g->c;
    case DW: return 2.0 * out * g->kh * g->kw;
    case MAXPOOL: return out * g->kh * g->kw;
    }
    return 0;
}

static void alloc_case(const bench_case *b, buffers *m)
{
    const cr_conv_geom *g = &b->g;
    size_t in = (size_t)g->n * g->h * g->w * g->c, out = (size_t)g->n * g->oh * g->ow * g->oc;
    memset(m, 0, sizeof *m);
    switch (b->kind) {
    case GEMM:
        m->a = randv((size_t)b->M * b->K);
        m->b = randv((size_t)b->K * b->N);
        m->c = randv((size_t)b->M * b->N);
        break;
    case CONV:
        m->a = randv(in);
        m->b = randv((size_t)g->kh * g->kw * g->c * g->oc);
        m->c = randv(out);
        m->scratch = randv(cr_conv2d_scratch(g, 2));
        break;
    case DW:
    case MAXPOOL:
        m->a = randv(in);
        m->b = randv((size_t)g->kh * g->kw * g->oc);
        m->c = randv(out);
        break;
    }
}

static void run_case(cr_pool *p, const bench_case *b, buffers *m)
{
    switch (b->kind) {
    case GEMM:
        cr_gemm(p, b->ta, b->tb, b->M, b->N, b->K, m->a, b->ta ? b->M : b->K, m->b,
                b->tb ? b->K : b->N, 0.0f, m->c, b->N);
        break;
    case CONV: cr_conv2d(p, &b->g, m->a, m->b, m->b, m->c, m->scratch); break;
    case DW: cr_depthwise2d(p, &b->g, m->a, m->b, m->b, m->c); break;
    case MAXPOOL: cr_maxpool2d(p, &b->g, m->a, m->c); break;
    }
}

static cr_conv_geom same(int n, int h, int w, int c, int oc, int k, int s)
{
    int oh = (h + s - 1) / s, ow = (w + s - 1) / s;
    int ph = (oh - 1) * s + k - h, pw = (ow - 1) * s + k - w;
    ph = ph > 0 ? ph : 0;
    pw = pw > 0 ? pw : 0;
    return (cr_conv_geom){ .n = n, .h = h, .w = w, .c = c, .oh = oh, .ow = ow, .oc = oc,
                           .kh = k, .kw = k, .sh = s, .sw = s, .dh = 1, .dw = 1,
                           .pt = ph / 2, .pl = pw / 2 };
}

#define G(name, ta, tb, M, N, K) { name, GEMM, ta, tb, M, N, K, { 0 } }
#define C(name, kind, geom) { name, kind, false, false, 0, 0, 0, geom }

int main(int argc, char **argv)
{
    cr_isa isa = cr_isa_best();
    double secs = 0.25;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "generic"))
            isa = CR_ISA_GENERIC;
        else if (!strcmp(argv[i], "avx2"))
            isa = CR_ISA_AVX2;
        else if (!strcmp(argv[i], "avx512"))
            isa = CR_ISA_AVX512;
        else
            secs = atof(argv[i]);
    }
    isa = cr_isa_select(isa);
    const bench_case cases[] = {
        G("mlp fc1 fwd   x W", false, false, 32, 128, 784),
        G("mlp fc1 dX    dY W^T", false, true, 32, 784, 128),
        G("mlp fc1 dW    X^T dY", true, false, 784, 128, 32),
        G("mlp fc2 fwd   x W", false, false, 32, 10, 128),
        G("mlp fc2 dX    dY W^T", false, true, 32, 128, 10),
        G("mlp fc2 dW    X^T dY", true, false, 128, 10, 32),
        C("mnv2 1x1 b1  112x112 32->16", CONV, same(1, 112, 112, 32, 16, 1, 1)),
        C("mnv2 1x1 b1  56x56 144->24", CONV, same(1, 56, 56, 144, 24, 1, 1)),
        C("mnv2 1x1 b1  14x14 64->384", CONV, same(1, 14, 14, 64, 384, 1, 1)),
        C("mnv2 1x1 b1  7x7 960->320", CONV, same(1, 7, 7, 960, 320, 1, 1)),
        C("mnv2 1x1 b32 112x112 32->16", CONV, same(32, 112, 112, 32, 16, 1, 1)),
        C("mnv2 1x1 b32 56x56 144->24", CONV, same(32, 56, 56, 144, 24, 1, 1)),
        C("mnv2 1x1 b32 14x14 64->384", CONV, same(32, 14, 14, 64, 384, 1, 1)),
        C("mnv2 1x1 b32 7x7 960->320", CONV, same(32, 7, 7, 960, 320, 1, 1)),
        C("mnv2 stem b1 224 3x3s2 3->32", CONV, same(1, 224, 224, 3, 32, 3, 2)),
        C("mnv2 stem b32 224 3x3s2 3->32", CONV, same(32, 224, 224, 3, 32, 3, 2)),
        C("mnv2 dw b1  112x112x96 s2", DW, same(1, 112, 112, 96, 96, 3, 2)),
        C("mnv2 dw b1  56x56x144 s1", DW, same(1, 56, 56, 144, 144, 3, 1)),
        C("mnv2 dw b1  14x14x576 s1", DW, same(1, 14, 14, 576, 576, 3, 1)),
        C("mnv2 dw b32 112x112x96 s2", DW, same(32, 112, 112, 96, 96, 3, 2)),
        C("mnv2 dw b32 14x14x576 s1", DW, same(32, 14, 14, 576, 576, 3, 1)),
        C("maxpool b32 28x28x32 2x2s2", MAXPOOL, same(32, 28, 28, 32, 32, 2, 2)),
    };
    cr_pool *pools[2] = { NULL, cr_pool_new(2) };
    if (!pools[1]) {
        fprintf(stderr, "cannot start threads\n");
        return 1;
    }
    printf("isa %s; GFLOP/s (best of repeated runs, %.2f s per case)\n", cr_isa_name(isa), secs);
    printf("%-34s %10s %10s %10s %10s\n", "case", "1 thr ms", "GFLOP/s", "2 thr ms", "GFLOP/s");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const bench_case *b = &cases[i];
        buffers m;
        alloc_case(b, &m);
        printf("%-34s", b->name);
        for (int t = 0; t < 2; t++) {
            run_case(pools[t], b, &m);
            double best = 1e30, start = now();
            int reps = 0;
            while (reps < 3 || now() - start < secs) {
                double t0 = now();
                run_case(pools[t], b, &m);
                double dt = now() - t0;
                best = dt < best ? dt : best;
                reps++;
            }
            printf(" %10.3f %10.1f", best * 1e3, flops_of(b) / best * 1e-9);
        }
        printf("\n");
        fflush(stdout);
        free(m.a);
        free(m.b);
        free(m.c);
        free(m.scratch);
    }
    cr_pool_free(pools[1]);
    return 0;
}
