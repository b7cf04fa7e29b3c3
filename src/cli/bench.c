/* bench.c - `crest bench`: forward-pass speed on random input. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *bench_help =
    "usage: crest bench MODEL [--batch B] [--threads T] [--iters N] [--json]\n"
    "  Inference forward passes on random input of the model's shape, after two\n"
    "  warm-up passes: median and min ms per batch and per image. A batch runs\n"
    "  in passes sized to keep activations in cache (as crest infer does).\n"
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

int cmd_bench(int argc, char **argv)
{
    cli_args a = { argc, 0, argv, "bench" };
    const char *name, *val, *model = NULL, *v;
    bool inl, json = false;
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
               "\"threads\": %d, \"iters\": %ld}\n", med / (double)batch, mn / (double)batch,
               med, mn, batch, nth, iters);
    else
        printf("%s: batch %ld, threads %ld, %ld iterations\n"
               "  per batch: median %.2f ms, min %.2f ms\n"
               "  per image: median %.3f ms, min %.3f ms\n", model, batch,
               threads ? threads : (long)crest_model_threads(m), iters, med, mn,
               med / (double)batch, mn / (double)batch);
    rc = EXIT_OK;
out:
    free(t);
    free(x);
    crest_model_free(m);
    return rc;
}
