/* bench_fma_peak.c - this machine's fp32 FMA peak, the ceiling against which
 * `crest bench --profile`'s GFLOP/s per layer are read (issue 11).
 *
 *   build/bench/bench_fma_peak [THREADS] [ROUNDS]
 *
 * Each thread runs 12 independent chains of vector FMAs (enough to cover the
 * FMA latency times the number of FMA pipes on current x86 cores) at the
 * widest width the CPU has (AVX-512, else AVX2+FMA), entirely in registers;
 * 2 flops per lane per FMA. Prints the median over rounds, per thread and
 * for all threads, as JSON. */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12
#define STEPS 20000000L

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((target("avx2,fma"))) static float run_avx2(long steps)
{
    __m256 acc[CHAINS];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm256_set1_ps((float)c);
    for (long i = 0; i < steps; i++)
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm256_fmadd_ps(acc[c], a, b);
    float s = 0, out[8];
    for (int c = 0; c < CHAINS; c++) {
        _mm256_storeu_ps(out, acc[c]);
        s += out[0];
    }
    return s;
}

__attribute__((target("avx512f"))) static float run_avx512(long steps)
{
    __m512 acc[CHAINS];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm512_set1_ps((float)c);
    for (long i = 0; i < steps; i++)
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm512_fmadd_ps(acc[c], a, b);
    float s = 0;
    for (int c = 0; c < CHAINS; c++)
        s += _mm512_reduce_add_ps(acc[c]);
    return s;
}

static int lanes;
static volatile float sink;

static void *worker(void *arg)
{
    long steps = *(long *)arg;
    sink = lanes == 16 ? run_avx512(steps) : run_avx2(steps);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (threads < 1 || threads > 64 || rounds < 1 || rounds > 100) {
        fprintf(stderr, "usage: bench_fma_peak [THREADS 1..64] [ROUNDS 1..100]\n");
        return 2;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("fma") || !__builtin_cpu_supports("avx2")) {
        fprintf(stderr, "bench_fma_peak: this CPU has no AVX2+FMA\n");
        return 1;
    }
    lanes = __builtin_cpu_supports("avx512f") ? 16 : 8;
    double *gflops = malloc(sizeof *gflops * (size_t)rounds);
    pthread_t tid[64];
    long steps = STEPS;
    if (!gflops)
        return 1;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        for (int t = 0; t < threads; t++)
            pthread_create(&tid[t], NULL, worker, &steps);
        for (int t = 0; t < threads; t++)
            pthread_join(tid[t], NULL);
        double dt = now() - t0;
        gflops[r] = 2.0 * lanes * CHAINS * (double)steps * threads / dt * 1e-9;
    }
    qsort(gflops, (size_t)rounds, sizeof *gflops, cmp_double);
    double med = gflops[rounds / 2];
    printf("{\"isa\": \"%s\", \"threads\": %d, \"rounds\": %d, \"gflops_median\": %.1f, "
           "\"gflops_per_thread\": %.1f}\n",
           lanes == 16 ? "avx512f" : "avx2+fma", threads, rounds, med, med / threads);
    free(gflops);
    return 0;
}
