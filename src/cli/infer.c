/* infer.c - `crest infer`: a raw forward pass on float32 tensors. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *infer_help =
    "usage: crest infer MODEL --input X.f32 --shape N,H,W,C [--layer NAME] --out Y.f32\n"
    "                   [--batch B] [--threads T]\n"
    "  Raw forward pass in inference mode. X.f32 / Y.f32 are raw little-endian\n"
    "  float32, row-major (NHWC for images). --layer NAME stops at that layer's\n"
    "  output. Prints the output shape to stderr. --batch: samples per pass\n"
    "  (default: sized to keep activations in cache).\n";

/* "N,H,W,C" -> n and the per-sample shape. */
static int parse_shape(const char *s, size_t *n, crest_dims *d)
{
    long v[CREST_MAX_DIMS + 1];
    int k = 0;
    const char *p = s;
    while (*p && k <= CREST_MAX_DIMS) {
        char *end;
        errno = 0;
        v[k] = strtol(p, &end, 10);
        if (errno || end == p || v[k] < 1 || v[k] > (1L << 24) || (*end && *end != ','))
            return -1;
        k++;
        p = *end ? end + 1 : end;
    }
    if (*p || k < 2 || k > CREST_MAX_DIMS)
        return -1;
    *n = (size_t)v[0];
    d->ndim = k - 1;
    for (int i = 1; i < k; i++)
        d->d[i - 1] = v[i];
    return 0;
}

static float *read_f32(const char *path, size_t want, int *rc)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "crest infer: %s: %s\n", path, strerror(errno));
        *rc = EXIT_INPUT;
        return NULL;
    }
    float *x = malloc(want ? want * sizeof(float) : 1);
    size_t got = x ? fread(x, sizeof(float), want, f) : 0;
    int extra = fgetc(f);
    fclose(f);
    if (!x || got != want || extra != EOF) {
        fprintf(stderr, "crest infer: %s: expected exactly %zu float32 values (%zu bytes)\n",
                path, want, want * sizeof(float));
        free(x);
        *rc = EXIT_INPUT;
        return NULL;
    }
    return x;
}

int cmd_infer(int argc, char **argv)
{
    cli_args a = { argc, 0, argv, "infer" };
    const char *name, *val, *model = NULL, *in = NULL, *shape = NULL, *layer = NULL,
                          *outp = NULL, *v;
    bool inl;
    long threads = 0, batch = 0;
    int rc;
    while (cli_next(&a, &name, &val, &inl)) {
        if (!name) {
            if (model)
                return cli_usage("infer", "unexpected argument '%s'", val);
            model = val;
        } else if (!strcmp(name, "--help")) {
            fputs(infer_help, stdout);
            return EXIT_OK;
        } else if (!strcmp(name, "--input")) {
            if ((rc = cli_value(&a, name, val, &in)))
                return rc;
        } else if (!strcmp(name, "--shape")) {
            if ((rc = cli_value(&a, name, val, &shape)))
                return rc;
        } else if (!strcmp(name, "--layer")) {
            if ((rc = cli_value(&a, name, val, &layer)))
                return rc;
        } else if (!strcmp(name, "--out")) {
            if ((rc = cli_value(&a, name, val, &outp)))
                return rc;
        } else if (!strcmp(name, "--threads")) {
            if ((rc = cli_value(&a, name, val, &v)) ||
                (rc = cli_int("infer", name, v, 1, 256, &threads)))
                return rc;
        } else if (!strcmp(name, "--batch")) {
            if ((rc = cli_value(&a, name, val, &v)) ||
                (rc = cli_int("infer", name, v, 1, 1 << 16, &batch)))
                return rc;
        } else {
            return cli_usage("infer", "unknown option %s", name);
        }
    }
    if (!model || !in || !shape || !outp)
        return cli_usage("infer", "needs MODEL, --input, --shape and --out");
    if ((rc = cli_check_out_file("infer", outp)))
        return rc;
    size_t n;
    crest_dims d;
    if (parse_shape(shape, &n, &d)) {
        fprintf(stderr, "crest infer: --shape '%s' is not N,D1,D2,... of positive integers\n",
                shape);
        return EXIT_INPUT;
    }
    crest_model *m = NULL;
    float *x = NULL, *y = NULL;
    crest_dims od;
    int err = crest_model_load(&m, model);
    if (!err && threads)
        err = crest_model_set_threads(m, (int)threads);
    if (err) {
        rc = cli_fail("infer", err);
        goto out;
    }
    crest_dims want = crest_model_input_shape(m);
    if (crest_dims_count(want) != crest_dims_count(d)) {
        fprintf(stderr, "crest infer: --shape %s does not fit the model's input of %lld values "
                        "per sample\n", shape, (long long)crest_dims_count(want));
        rc = EXIT_INPUT;
        goto out;
    }
    rc = EXIT_OK;
    if (!(x = read_f32(in, n * (size_t)crest_dims_count(d), &rc)))
        goto out;
    if ((err = crest_infer(m, layer, x, n, (int)batch, &y, &od))) {
        rc = cli_fail("infer", err);
        goto out;
    }
    size_t cnt = n * (size_t)crest_dims_count(od);
    if ((rc = cli_write_file("infer", outp, y, cnt * sizeof(float))))
        goto out;
    fprintf(stderr, "output [%zu", n);
    for (int i = 0; i < od.ndim; i++)
        fprintf(stderr, ",%lld", (long long)od.d[i]);
    fprintf(stderr, "] -> %s\n", outp);
out:
    free(x);
    crest_free(y);
    crest_model_free(m);
    return rc;
}
