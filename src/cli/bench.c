/* bench.c - `crest bench`: forward-pass speed on random input. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *bench_help =
    "usage: crest bench MODEL [--batch B] [--threads T] [--iters N] [--profile] [--json]\n"
    "  Inference forward passes on random input of the model's shape, after two\n"
    "  warm-up passes: median and min ms per batch and per image. A batch runs\n"
    "  in passes sized to keep activations in cache (as crest infer does).\n"
    "  --profile: then as many passes again, timing every layer: median ms per\n"
    "  batch, share of the whole and GFLOP/s per layer and per layer kind.\n"
    "  Defaults: batch 1, threads = cores, 10 iterations.\n";

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

int cmd_bench(int argc, char **argv)
{
    cli_args a = { argc, 0, argv, "bench" };
    const char *name, *val, *model = NULL, *v;
    bool inl, json = false, profile = false;
    long threads = 0, batch = 1, iters = 10;
    int rc;
    while (cli_next(&a, &name, &val, &inl)) {
        if (!name) {
            if (model)
                return cli_usage("bench", "unexpected argument '%s'", val);
            model = val;
        } else if (!strcmp(name, "--help")) {
            fputs(bench_help, stdout);
            return EXIT_OK;
        } else if (!strcmp(name, "--json")) {
            json = true;
        } else if (!strcmp(name, "--profile")) {
            profile = true;
        } else if (!strcmp(name, "--batch") || !strcmp(name, "--threads") ||
                   !strcmp(name, "--iters")) {
            long *dst = name[2] == 'b' ? &batch : name[2] == 't' ? &threads : &iters;
            if ((rc = cli_value(&a, name, val, &v)) ||
                (rc = cli_int("bench", name, v, 1, name[2] == 't' ? 256 : 1 << 16, dst)))
                return rc;
        } else {
            return cli_usage("bench", "unknown option %s", name);
        }
    }
    if (!model)
        return cli_usage("bench", "needs a model");
    crest_model *m = NULL;
    float *x = NULL, *y = NULL;
    double *t = malloc((size_t)iters * sizeof *t);
    int err = crest_model_load(&m, model);
    if (!err && threads)
        err = crest_model_set_threads(m, (int)threads);
    if (err || !t) {
        rc = err ? cli_fail("bench", err) : EXIT_RUN;
        goto out;
    }
    size_t per = (size_t)crest_dims_count(crest_model_input_shape(m));
    if ((double)batch * (double)per * sizeof *x > (double)(1UL << 31)) {
        fprintf(stderr, "crest bench: --batch %ld: the input alone would take %.1f GB (at most "
                        "2 GB)\n", batch, (double)batch * (double)per * sizeof *x / 1e9);
        rc = EXIT_INPUT;
        goto out;
    }
    x = malloc((size_t)batch * per * sizeof *x);
    if (!x) {
        fprintf(stderr, "crest bench: out of memory for a batch of %ld\n", batch);
        rc = EXIT_RUN;
        goto out;
    }
    uint64_t s = 0x9e3779b97f4a7c15ULL;   /* uniform [0, 1), as scaled pixels */
    for (size_t i = 0; i < (size_t)batch * per; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)(s >> 40) / (float)(1 << 24);
    }
    crest_dims od;
    for (long i = -2; i < iters; i++) {
        double t0 = now_ms();
        if ((err = crest_infer(m, NULL, x, (size_t)batch, 0, &y, &od))) {
            rc = cli_fail("bench", err);
            goto out;
        }
        if (i >= 0)
            t[i] = now_ms() - t0;
        crest_free(y);
        y = NULL;
    }
    qsort(t, (size_t)iters, sizeof *t, cmp_double);
    double med = iters % 2 ? t[iters / 2] : (t[iters / 2 - 1] + t[iters / 2]) / 2, mn = t[0];
    int nth = threads ? (int)threads : crest_model_threads(m);
    if (json)
        printf("{\"ms_per_image_median\": %.4f, \"ms_per_image_min\": %.4f, "
               "\"ms_per_batch_median\": %.4f, \"ms_per_batch_min\": %.4f, \"batch\": %ld, "
               "\"threads\": %d, \"iters\": %ld", med / (double)batch, mn / (double)batch,
               med, mn, batch, nth, iters);
    else
        printf("%s: batch %ld, threads %ld, %ld iterations\n"
               "  per batch: median %.2f ms, min %.2f ms\n"
               "  per image: median %.3f ms, min %.3f ms\n", model, batch,
               threads ? threads : (long)crest_model_threads(m), iters, med, mn,
               med / (double)batch, mn / (double)batch);
    rc = profile ? run_profile(m, x, batch, iters, json) : EXIT_OK;
    if (json)
        printf("}\n");
out:
    free(t);
    free(x);
    crest_model_free(m);
    return rc;
}
