/* bench.c - `crest bench`: forward-pass speed on random input. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench_opts {
    long batch, threads, iters;   /* threads 0: the cores */
    bool profile, json;
    const char *custom_layers;
} bench_opts;

#define T bench_opts
static const cli_opt bench_options[] = {
    { CLI_INT_OPT(T, "--batch", batch, 1, 1 << 16), .arg = "B",
      .help = "samples per pass (default 1)" },
    { CLI_INT_OPT(T, "--threads", threads, 1, 256), .arg = "T",
      .help = "worker threads (default: the cores)" },
    { CLI_INT_OPT(T, "--iters", iters, 1, 1 << 16), .arg = "N", .help = "timed passes (default 10)" },
    { CLI_FLAG_OPT(T, "--profile", profile),
      .help = "then as many passes again, timing every layer: median ms per\n"
              "batch, share of the whole and GFLOP/s per layer and per layer kind" },
    { CLI_FLAG_OPT(T, "--json", json),
      .help = "{\"ms_per_image_median\", \"ms_per_image_min\", \"batch\", \"threads\",\n"
              "\"iters\", \"kernels\"[, \"profile\": [...]]}" },
    { CLI_CUSTOM_LAYERS_OPT(T, custom_layers) },
};
#undef T

const cli_command bench_cmd = {
    .name = "bench",
    .usage = "crest bench MODEL [--batch B] [--threads T] [--iters N] [--profile] [--json]",
    .about = "  Inference forward passes on random input of the model's shape, after two\n"
             "  warm-up passes: median and min ms per batch and per image. A batch runs\n"
             "  in passes sized to keep activations in cache (as crest infer does).\n",
    CLI_OPTS(bench_options),
    .max_pos = 1,
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Layer kinds in order of first appearance, totals per kind. */
typedef struct kind_sum { const char *kind; int layers; double ms, flops; } kind_sum;

static int sum_kinds(const crest_profile_entry *p, int n, kind_sum *k)
{
    int nk = 0;
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < nk && strcmp(k[j].kind, p[i].kind))
            j++;
        if (j == nk)
            k[nk++] = (kind_sum){ .kind = p[i].kind };
        k[j].layers++;
        k[j].ms += p[i].ms;
        k[j].flops += p[i].flops;
    }
    return nk;
}

static double gflops(double flops, double ms) { return ms > 0 ? flops / ms * 1e-6 : 0; }

static void print_profile(const crest_profile_entry *p, int n, const kind_sum *k, int nk)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += p[i].ms;
    printf("profile (median ms per batch; layers sum to %.3f ms)\n"
           "  %-28s %-16s %9s %6s %8s\n", total, "layer", "kind", "ms", "share", "GFLOP/s");
    for (int i = 0; i < n; i++)
        printf("  %-28s %-16s %9.3f %5.1f%% %8.1f\n", p[i].layer, p[i].kind, p[i].ms,
               total > 0 ? 100 * p[i].ms / total : 0, gflops(p[i].flops, p[i].ms));
    printf("by kind\n  %-16s %6s %9s %6s %8s\n", "kind", "layers", "ms", "share", "GFLOP/s");
    for (int i = 0; i < nk; i++)
        printf("  %-16s %6d %9.3f %5.1f%% %8.1f\n", k[i].kind, k[i].layers, k[i].ms,
               total > 0 ? 100 * k[i].ms / total : 0, gflops(k[i].flops, k[i].ms));
}

static void json_profile(const crest_profile_entry *p, int n, const kind_sum *k, int nk)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += p[i].ms;
    printf(", \"profile\": [");
    for (int i = 0; i < n; i++)
        printf("%s{\"layer\": \"%s\", \"kind\": \"%s\", \"ms\": %.4f, \"share\": %.4f, "
               "\"gflops\": %.2f}", i ? ", " : "", p[i].layer, p[i].kind, p[i].ms,
               total > 0 ? p[i].ms / total : 0, gflops(p[i].flops, p[i].ms));
    printf("], \"profile_kinds\": [");
    for (int i = 0; i < nk; i++)
        printf("%s{\"kind\": \"%s\", \"layers\": %d, \"ms\": %.4f, \"share\": %.4f, "
               "\"gflops\": %.2f}", i ? ", " : "", k[i].kind, k[i].layers, k[i].ms,
               total > 0 ? k[i].ms / total : 0, gflops(k[i].flops, k[i].ms));
    printf("]");
}

/* --profile: times layers over iters runs and prints (the JSON object's
 * closing brace is the caller's). */
static int run_profile(crest_model *m, const float *x, long batch, long iters, bool json)
{
    crest_profile_entry *p = NULL;
    int n = 0, err = crest_model_profile(m, x, (size_t)batch, (int)iters, &p, &n);
    kind_sum *k = err ? NULL : malloc((size_t)(n ? n : 1) * sizeof *k);
    if (err || !k) {
        crest_free(p);
        return err ? cli_fail("bench", err) : EXIT_RUN;
    }
    int nk = sum_kinds(p, n, k);
    if (json)
        json_profile(p, n, k, nk);
    else
        print_profile(p, n, k, nk);
    free(k);
    crest_free(p);
    return EXIT_OK;
}

/* Steps return 0, a library error (< 0) or an exit code (> 0, reported). */

/* A model whose input has unknown dimensions (None) runs at its recorded
 * image size, else at 224 for each unknown one (said on stderr). */
static int fix_unknown_size(crest_model *m)
{
    crest_dims in = crest_model_input_shape(m);
    if (crest_dims_count(in) >= 0)
        return CREST_OK;
    crest_image_opts io;
    if (in.ndim == 3 && !crest_model_image_opts(m, &io)) {
        in.d[0] = io.height;
        in.d[1] = io.width;
    }
    for (int i = 0; i < in.ndim; i++)
        if (in.d[i] == CREST_DIM_NONE)
            in.d[i] = 224;
    char s[160];
    fprintf(stderr, "crest bench: the model's input has unknown dimensions; samples of %s\n",
            crest_dims_str(in, s, sizeof s));
    return crest_model_set_input_shape(m, in);
}

/* A batch of uniform [0, 1) inputs (as scaled pixels), at most 2 GB. */
static int random_input(crest_model *m, long batch, float **x)
{
    int err = fix_unknown_size(m);
    if (err)
        return err;
    size_t per = (size_t)crest_dims_count(crest_model_feed_shape(m));
    if ((double)batch * (double)per * sizeof **x > (double)(1UL << 31)) {
        fprintf(stderr, "crest bench: --batch %ld: the input alone would take %.1f GB (at most "
                        "2 GB)\n", batch, (double)batch * (double)per * sizeof **x / 1e9);
        return EXIT_INPUT;
    }
    *x = malloc((size_t)batch * per * sizeof **x);
    if (!*x) {
        fprintf(stderr, "crest bench: out of memory for a batch of %ld\n", batch);
        return EXIT_RUN;
    }
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < (size_t)batch * per; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        (*x)[i] = (float)(s >> 40) / (float)(1 << 24);
    }
    return EXIT_OK;
}

/* Two warm-up passes, then --iters timed ones: t[i] ms each, sorted. */
static int time_passes(crest_model *m, const float *x, long batch, long iters, double *t)
{
    crest_dims od;
    for (long i = -2; i < iters; i++) {
        float *y = NULL;
        double t0 = now_ms();
        int err = crest_infer(m, NULL, x, (size_t)batch, 0, &y, &od);
        crest_free(y);
        if (err)
            return err;
        if (i >= 0)
            t[i] = now_ms() - t0;
    }
    qsort(t, (size_t)iters, sizeof *t, cmp_double);
    return CREST_OK;
}

static void report(const char *model, const bench_opts *o, const double *t, int nth)
{
    long iters = o->iters, batch = o->batch;
    double med = iters % 2 ? t[iters / 2] : (t[iters / 2 - 1] + t[iters / 2]) / 2, mn = t[0];
    if (o->json)
        printf("{\"ms_per_image_median\": %.4f, \"ms_per_image_min\": %.4f, "
               "\"ms_per_batch_median\": %.4f, \"ms_per_batch_min\": %.4f, \"batch\": %ld, "
               "\"threads\": %d, \"iters\": %ld, \"kernels\": \"%s\"", med / (double)batch,
               mn / (double)batch, med, mn, batch, nth, iters, crest_kernels());
    else
        printf("%s: batch %ld, threads %d, %ld iterations\n"
               "  kernels: %s\n"
               "  per batch: median %.2f ms, min %.2f ms\n"
               "  per image: median %.3f ms, min %.3f ms\n", model, batch, nth, iters,
               crest_kernels(), med, mn, med / (double)batch, mn / (double)batch);
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o = { .batch = 1, .iters = 10 };
    cli_parsed p;
    int rc;
    if (!cli_parse(&bench_cmd, argc, argv, &o, &p, &rc))
        return rc;
    if (!p.n_pos)
        return cli_usage("bench", "needs a model");
    crest_model *m = NULL;
    float *x = NULL;
    double *t = malloc((size_t)o.iters * sizeof *t);
    int err = t ? crest_model_load(&m, p.pos[0]) : EXIT_RUN;
    if (!err && o.threads)
        err = crest_model_set_threads(m, (int)o.threads);
    if (!err)
        err = random_input(m, o.batch, &x);
    if (!err)
        err = time_passes(m, x, o.batch, o.iters, t);
    if (!err) {
        report(p.pos[0], &o, t, o.threads ? (int)o.threads : crest_model_threads(m));
        err = o.profile ? run_profile(m, x, o.batch, o.iters, o.json) : EXIT_OK;
        if (o.json)
            printf("}\n");
    }
    free(t);
    free(x);
    crest_model_free(m);
    return err > 0 ? err : err ? cli_fail("bench", err) : EXIT_OK;
}
