/* bench_gemm_openblas.c - cr_gemm against OpenBLAS's cblas_sgemm on the
 * gemm shapes crest runs (batch-32 MLP, MobileNetV2 1x1 convolutions), on
 * 1 and 2 threads. Not part of the library or of `make bench`; build it by
 * hand (Debian: apt-get install libopenblas-dev):
 *
 *   make lib
 *   cc -std=c11 -O2 -DCR_WITH_OPENBLAS -Isrc bench/bench_gemm_openblas.c \
 *      build/libcrest.a -lopenblas -lm -pthread -o bench_gemm_openblas
 *
 * Without CR_WITH_OPENBLAS it builds to a stub that says so (the Makefile
 * builds every bench/bench_*.c). Prints, per shape and thread count, the
 * GFLOP/s of both and the ratio crest / OpenBLAS (> 1: crest is faster).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>

#ifndef CR_WITH_OPENBLAS
int main(void)
{
    printf("bench_gemm_openblas: build with -DCR_WITH_OPENBLAS ... -lopenblas to run\n");
    return 0;
}
#else
#include <cblas.h>
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
    float *v = malloc(n * sizeof *v);
    if (!v) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    unsigned s = 777;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        v[i] = (float)((s >> 9) & 0xffff) / 32768.0f - 1.0f;
    }
    return v;
}

typedef struct shape {
    const char *name;
    bool ta, tb;
    int M, N, K;
} shape;

typedef struct args {
    const shape *s;
    const float *A, *B;
    float *C;
    cr_pool *pool;
} args;

static void run_crest(const args *a)
{
    const shape *s = a->s;
    cr_gemm(a->pool, s->ta, s->tb, s->M, s->N, s->K, a->A, s->ta ? s->M : s->K, a->B,
            s->tb ? s->K : s->N, 0.0f, a->C, s->N);
}

static void run_blas(const args *a)
{
    const shape *s = a->s;
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                s->tb ? CblasTrans : CblasNoTrans, s->M, s->N, s->K, 1.0f, a->A,
                s->ta ? s->M : s->K, a->B, s->tb ? s->K : s->N, 0.0f, a->C, s->N);
}

/* Best seconds per call over `secs` of repeated calls. */
static double time_it(void (*fn)(const args *), const args *a, double secs)
{
    fn(a);
    double best = 1e30, start = now();
    for (int reps = 0; reps < 3 || now() - start < secs; reps++) {
        double t0 = now();
        fn(a);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.3;
    static const shape shapes[] = {
        { "mlp fc1 fwd   x W", false, false, 32, 128, 784 },
        { "mlp fc1 dX    dY W^T", false, true, 32, 784, 128 },
        { "mlp fc1 dW    X^T dY", true, false, 784, 128, 32 },
        { "mlp fc2 fwd   x W", false, false, 32, 10, 128 },
        { "mlp fc2 dX    dY W^T", false, true, 32, 128, 10 },
        { "mlp fc2 dW    X^T dY", true, false, 128, 10, 32 },
        { "1x1 b1 112x112 32->16", false, false, 112 * 112, 16, 32 },
        { "1x1 b1 56x56 144->24", false, false, 56 * 56, 24, 144 },
        { "1x1 b1 14x14 64->384", false, false, 14 * 14, 384, 64 },
        { "1x1 b1 7x7 960->320", false, false, 7 * 7, 320, 960 },
        { "1x1 b32 56x56 144->24", false, false, 32 * 56 * 56, 24, 144 },
        { "1x1 b32 7x7 960->320", false, false, 32 * 7 * 7, 320, 960 },
        { "1x1 b32 dk 7x7 x^T dy", true, false, 960, 320, 32 * 7 * 7 },
        { "1x1 b32 dx 7x7 dy k^T", false, true, 32 * 7 * 7, 960, 320 },
        { "square 512", false, false, 512, 512, 512 },
    };
    cr_pool *pools[2] = { NULL, cr_pool_new(2) };
    printf("crest isa %s; OpenBLAS %s\n", cr_isa_name(cr_isa_current()), openblas_get_config());
    printf("%-26s %4s %9s %9s %7s\n", "shape (M x N x K)", "thr", "crest", "openblas", "ratio");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        float *A = randv((size_t)s->M * s->K), *B = randv((size_t)s->K * s->N);
        float *C = randv((size_t)s->M * s->N);
        double flops = 2.0 * s->M * s->N * (double)s->K;
        for (int t = 1; t <= 2; t++) {
            args a = { s, A, B, C, pools[t - 1] };
            openblas_set_num_threads(t);
            double tc = time_it(run_crest, &a, secs), tb = time_it(run_blas, &a, secs);
            printf("%-26s %4d %9.1f %9.1f %7.2f\n", s->name, t, flops / tc * 1e-9,
                   flops / tb * 1e-9, tb / tc);
            fflush(stdout);
        }
        free(A);
        free(B);
        free(C);
    }
    cr_pool_free(pools[1]);
    return 0;
}
#endif
