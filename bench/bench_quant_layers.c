/* bench_quant_layers.c - where an int8 model (crest quantize) departs from
 * the float model it came from, layer by layer, on real inputs.
 *
 *   build/bench/bench_quant_layers FLOAT INT8 SPEC [N] [MATCH...]
 *
 * SPEC is read through FLOAT's recorded preprocessing (an image folder, IDX
 * set or built-in name such as fashion-mnist:test); N samples (default 32)
 * are taken evenly spread over it. For every layer of INT8 (those whose name
 * contains one of MATCH, if given), both models run to that layer's output
 * (crest_infer) and the line shows the int8 side's signal-to-quantization-
 * noise ratio, 10 log10(sum f^2 / sum (q - f)^2), the cosine of the two,
 * and max |f|. A batch norm folded into the layer before it is compared
 * through its own name on the float side (LAYER_BN or bn_LAYER, Keras'
 * MobileNetV2 naming).
 *
 * What a line measures: the int8 model runs the probed layer itself in
 * float (a probe is a float output) on the uint8 tensor before it, so the
 * error is everything upstream plus the layer's own weights, not its output
 * rounding; a layer whose channels a quantizer rescales (none today) would
 * not compare. Diagnosis, not a test: the numbers depend on the model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int fail(const char *what)
{
    fprintf(stderr, "bench_quant_layers: %s: %s\n", what, crest_last_error());
    return 1;
}

static bool wanted(const char *name, int argc, char **argv)
{
    if (argc <= 5)
        return true;
    for (int a = 5; a < argc; a++)
        if (strstr(name, argv[a]))
            return true;
    return false;
}

/* One layer's line; false if either side cannot run to it. */
static bool compare(crest_model *mf, crest_model *mq, const char *name, const float *x, size_t n)
{
    char fname[300];
    snprintf(fname, sizeof fname, "%s_BN", name);
    if (!crest_model_find_layer(mf, fname))
        snprintf(fname, sizeof fname, "bn_%s", name);
    if (!crest_model_find_layer(mf, fname))
        snprintf(fname, sizeof fname, "%s", name);
    float *yf = NULL, *yq = NULL;
    crest_dims sf, sq;
    if (crest_infer(mf, fname, x, n, 16, &yf, &sf) || crest_infer(mq, name, x, n, 16, &yq, &sq) ||
        crest_dims_count(sf) != crest_dims_count(sq)) {
        printf("%-36s not compared: %s\n", name, crest_last_error());
        crest_free(yf);
        crest_free(yq);
        return false;
    }
    double se = 0, ss = 0, dot = 0, qq = 0, mx = 0;
    for (int64_t k = 0; k < (int64_t)n * crest_dims_count(sf); k++) {   /* [n, shape] */
        double f = yf[k], q = yq[k];
        se += (q - f) * (q - f);
        ss += f * f;
        dot += f * q;
        qq += q * q;
        mx = fabs(f) > mx ? fabs(f) : mx;
    }
    printf("%-36s sqnr %7.2f dB  cos %.5f  max|f| %9.3f\n", name,
           10 * log10((ss + 1e-30) / (se + 1e-30)), dot / sqrt(ss * qq + 1e-30), mx);
    crest_free(yf);
    crest_free(yq);
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_quant_layers FLOAT INT8 SPEC [N] [MATCH...]\n");
        return 2;
    }
    crest_model *mf = NULL, *mq = NULL;
    crest_dataset *d = NULL;
    crest_image_opts io;
    crest_folder_info info = { 0 };
    if (crest_model_load(&mf, argv[1]) || crest_model_load(&mq, argv[2]))
        return fail("load");
    int rc = crest_model_image_opts(mf, &io) == CREST_OK
                 ? crest_image_source_open(&d, argv[3], &io, &info)
                 : crest_dataset_load(&d, argv[3]);
    crest_free(info.skipped_names);
    if (rc)
        return fail(argv[3]);
    size_t total = crest_dataset_size(d), n = argc > 4 ? (size_t)atol(argv[4]) : 32;
    n = n < 1 ? 1 : n > total ? total : n;
    size_t per = (size_t)crest_dims_count(crest_dataset_sample_shape(d));
    float *x = malloc(n * per * sizeof *x);
    size_t *rows = malloc(n * sizeof *rows);
    if (!x || !rows)
        return fail("out of memory");
    for (size_t i = 0; i < n; i++)
        rows[i] = (size_t)((double)i * (double)total / (double)n);
    if (cr_dataset_gather(d, rows, 0, (int64_t)n, x))
        return fail(argv[3]);
    printf("%s against %s, %zu samples of %s\n", argv[2], argv[1], n, argv[3]);
    for (int i = 0; i < crest_model_layer_count(mq); i++) {
        const char *name = crest_layer_name(crest_model_layer(mq, i));
        if (wanted(name, argc, argv))
            compare(mf, mq, name, x, n);
    }
    free(x);
    free(rows);
    crest_dataset_free(d);
    crest_model_free(mf);
    crest_model_free(mq);
    return 0;
}
