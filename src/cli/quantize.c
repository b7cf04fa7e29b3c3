/* quantize.c - `crest quantize`: post-training int8 quantization of a model,
 * calibrated on real inputs, saved as a folder every command runs. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct quant_opts {
    const char *calibrate, *out, *method, *label, *activations;
    long samples, threads;
    double percentile;
    bool float_head, json;
    char delimiter;
    const char *custom_layers, *keep_float, *preprocess;
    int image_size[2];
    cli_shape shape;
} quant_opts;

enum { Q_SAMPLES = 1,   /* image folders and files, IDX sets, built-in names */
       Q_TABLE = 2,     /* .csv, .arff, penguins: through the model's feature spec */
       Q_TENSOR = 4 };  /* X.f32 with --shape: the model's inputs as they are */

#define T quant_opts
static const cli_opt quantize_options[] = {
    { CLI_STR_OPT(T, "--calibrate", calibrate), .arg = "SPEC",
      .help = "real model inputs to calibrate the activation ranges on (required):\n"
              "an image folder, IDX set or built-in name through the model's recorded\n"
              "preprocessing, a table through its feature spec, or raw float32\n"
              "inputs X.f32 with --shape" },
    { CLI_STR_OPT(T, "--out", out), .arg = "DIR8",
      .help = "the quantized model's folder (required), written atomically" },
    { CLI_INT_OPT(T, "--samples", samples, 1, 1L << 30), .arg = "N",
      .help = "calibration samples, spread evenly over SPEC (default 500)" },
    { CLI_ENUM_OPT(T, "--method", method, "minmax|percentile"),
      .help = "each activation's range: the minimum and maximum seen (default), or\n"
              "clipped at a percentile of the values seen (outliers saturate)" },
    { CLI_FLOAT_OPT(T, "--percentile", percentile, 50.001, 100), .arg = "P",
      .help = "with --method percentile: the share of values kept in range\n"
              "(default 99.99)" },
    { CLI_ENUM_OPT(T, "--activations", activations, "uint8|int16"),
      .help = "the activations' type: per-tensor uint8 (default), or symmetric int16\n"
              "with int8 weights (TFLite's 16x8: closer to float, slower)" },
    { CLI_FLAG_OPT(T, "--float-head", float_head),
      .help = "keep the classifier (the last Dense layer) float32" },
    { CLI_STR_OPT(T, "--keep-float", keep_float), .arg = "LAYER[,LAYER...]",
      .help = "keep these convolution or Dense layers float32 (e.g. the first\n"
              "convolution, when inputs are not 8-bit pixels)" },
    { CLI_FLAG_OPT(T, "--json", json),
      .help = "one JSON object: out, samples, folded_batch_norms, int8_weights,\n"
              "activations, int8_ops (ops run integer), float_ops, weights_bytes, float_weights_bytes" },
    { CLI_CUSTOM_LAYERS_OPT(T, custom_layers) },
    { CLI_INT_OPT(T, "--threads", threads, 1, 256), .arg = "T",
      .help = "worker threads (default: the cores)" },
    CLI_IMAGE_OPTS(T, preprocess, image_size, Q_SAMPLES),
    { CLI_STR_OPT(T, "--label", label), .arg = "COL", .modes = Q_TABLE,
      .help = "the label column (default: the model's)",
      .section = "tables (.csv, .arff, penguins), through the model's feature spec:" },
    { CLI_CUSTOM_OPT(T, "--delimiter", delimiter, cli_delimiter), .arg = "C",
      .modes = Q_TABLE, .help = "one character, or \\t (default ,)" },
    { CLI_CUSTOM_OPT(T, "--shape", shape, cli_shape_opt), .arg = "N,D1,D2,...", .modes = Q_TENSOR,
      .help = "X.f32's shape: N samples of the model's input (as crest infer reads\n"
              "them: little-endian, row-major, already preprocessed)",
      .section = "raw float32 inputs (--calibrate X.f32), for models of any input:" },
};
#undef T

static const cli_rule quantize_rules[] = {
    { Q_SAMPLES, "is for images and IDX sets, not", true },
    { Q_TENSOR, "is for raw float32 inputs (--calibrate X.f32), not", true },
    { Q_TABLE, "is for tables (.csv, .arff, penguins), not", true },
};

static bool is_f32(const char *spec)
{
    size_t n = strlen(spec);
    return n > 4 && !strcmp(spec + n - 4, ".f32");
}

const cli_command quantize_cmd = {
    .name = "quantize", .usage = "crest quantize DIR --calibrate SPEC --out DIR8 [options]",
    .about = "  Post-training int8 quantization: batch norms folded into the convolutions\n"
             "  before them, kernels int8 per output channel (symmetric), activations\n"
             "  uint8 per tensor (asymmetric, ranges calibrated on real inputs). DIR8\n"
             "  holds 1 byte per kernel weight and runs everywhere DIR does (predict,\n"
             "  evaluate, infer, bench, summary) with int8 kernels; it cannot be\n"
             "  trained or exported to Keras formats.\n",
    CLI_OPTS(quantize_options),
    .max_pos = 1, .rules = quantize_rules, .n_rules = (int)(sizeof quantize_rules / sizeof quantize_rules[0]),
};

/* Bytes of the weight shards (weights.*.bin, group*.bin) of a TF.js folder;
 * -1 if path is not a folder. */
static long long shard_bytes(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long long total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".bin") || strstr(e->d_name, ".tmp."))
            continue;
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (stat(p, &st) == 0)
            total += st.st_size;
    }
    closedir(d);
    return total;
}

static int check(const quant_opts *o, const cli_parsed *p)
{
    if (!p->n_pos)
        return cli_usage("quantize", "needs a model");
    if (!o->calibrate || !o->out)
        return cli_usage("quantize", "needs --calibrate and --out");
    if (o->percentile && (!o->method || strcmp(o->method, "percentile")))
        return cli_usage("quantize", "--percentile needs --method percentile");
    if (o->keep_float && (!o->keep_float[0] || strstr(o->keep_float, ",,") ||
                          o->keep_float[0] == ',' ||
                          o->keep_float[strlen(o->keep_float) - 1] == ','))
        return cli_usage("quantize", "--keep-float needs layer names separated by commas");
    unsigned mode = is_f32(o->calibrate) ? Q_TENSOR : cli_is_table(o->calibrate) ? Q_TABLE : Q_SAMPLES;
    int rc = cli_check_modes(&quantize_cmd, p, mode, o->calibrate);
    if (!rc && mode == Q_TENSOR && !o->shape.text)
        rc = cli_usage("quantize", "--calibrate %s needs --shape N,D1,D2,...", o->calibrate);
    return rc ? rc : cli_check_out_dir("quantize", o->out);
}

/* --keep-float's names, split in place into names (at most n); their count. */
static int split_names(char *list, const char **names, int n)
{
    int k = 0;
    for (char *save = NULL, *it = strtok_r(list, ",", &save); it && k < n;
         it = strtok_r(NULL, ",", &save))
        names[k++] = it;
    return k;
}

/* --calibrate X.f32 --shape N,...: N samples the model takes as they are
 * (an input with unknown dimensions takes the shape's, as in crest infer). */
static int tensor_calibration(crest_model *m, const quant_opts *o, crest_dataset **ds)
{
    crest_dims want = crest_model_input_shape(m);
    int64_t per = crest_dims_count(o->shape.d);
    if (crest_dims_count(want) < 0) {
        int err = crest_model_set_input_shape(m, o->shape.d);
        if (err) {
            fprintf(stderr, "crest quantize: --shape %s: %s\n", o->shape.text, crest_last_error());
            return err == CREST_E_NOMEM ? EXIT_RUN : EXIT_INPUT;
        }
    } else if (crest_dims_count(want) != per) {
        fprintf(stderr, "crest quantize: --shape %s does not fit the model's input of %lld values "
                        "per sample\n", o->shape.text, (long long)crest_dims_count(want));
        return EXIT_INPUT;
    }
    int rc = 0;
    float *x = cli_read_f32("quantize", o->calibrate, o->shape.n * (size_t)per, &rc);
    if (!x)
        return rc;
    int err = crest_dataset_new(ds, o->shape.n, o->shape.d, x, NULL, 0);
    free(x);
    if (err)
        fprintf(stderr, "crest quantize: --calibrate %s: %s\n", o->calibrate, crest_last_error());
    return err ? (err == CREST_E_NOMEM ? EXIT_RUN : EXIT_INPUT) : 0;
}

/* The calibration inputs as the model reads them; errors name SPEC. */
static int load_calibration(crest_model *m, const quant_opts *o, crest_dataset **ds)
{
    if (is_f32(o->calibrate))
        return tensor_calibration(m, o, ds);
    int err = cli_is_table(o->calibrate)
                  ? cli_table_dataset(m, o->calibrate, o->label, 0, o->delimiter, ds)
                  : cli_model_images(m, "quantize", o->preprocess, o->image_size);
    if (!err && !cli_is_table(o->calibrate))
        err = cli_load_for_model(m, "quantize", o->calibrate, ds);
    if (err > 0)
        return err;
    if (!err && crest_dataset_size(*ds) == 0) {
        fprintf(stderr, "crest quantize: --calibrate %s: no samples\n", o->calibrate);
        return EXIT_INPUT;
    }
    if (err)
        fprintf(stderr, "crest quantize: --calibrate %s: %s\n", o->calibrate, crest_last_error());
    return err ? (err == CREST_E_NOMEM ? EXIT_RUN : EXIT_INPUT) : 0;
}

static void report(const quant_opts *o, crest_model *m, size_t samples, long long fbytes)
{
    crest_quant_info qi;
    long long qbytes = shard_bytes(o->out);
    crest_quant_info_get(m, &qi);
    const char *act = qi.activations == CREST_QACT_INT16 ? "int16" : "uint8";
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "out", o->out);
        cJSON_AddNumberToObject(j, "samples", (double)samples);
        cJSON_AddNumberToObject(j, "folded_batch_norms", qi.folded_bn);
        cJSON_AddNumberToObject(j, "int8_weights", qi.int8_weights);
        cJSON_AddStringToObject(j, "activations", act);
        cJSON_AddNumberToObject(j, "int8_ops", qi.int8_nodes);
        cJSON_AddNumberToObject(j, "float_ops", qi.float_nodes);
        cJSON_AddNumberToObject(j, "weights_bytes", (double)qbytes);
        cJSON_AddNumberToObject(j, "float_weights_bytes", (double)fbytes);
        char *s = cJSON_PrintUnformatted(j);
        if (s)
            printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(j);
        return;
    }
    printf("calibrated on %zu sample%s of %s; %d batch norm%s folded; %d kernel%s int8\n", samples,
           samples == 1 ? "" : "s", o->calibrate, qi.folded_bn, qi.folded_bn == 1 ? "" : "s",
           qi.int8_weights, qi.int8_weights == 1 ? "" : "s");
    printf("inference: %d ops integer (%s activations), %d float\n", qi.int8_nodes, act,
           qi.float_nodes);
    printf("saved: %s (weights %lld bytes; float32: %lld bytes)\n", o->out, qbytes, fbytes);
}

int cmd_quantize(int argc, char **argv)
{
    quant_opts o = { 0 };
    cli_parsed p;
    int rc;
    if (!cli_parse(&quantize_cmd, argc, argv, &o, &p, &rc))
        return rc;
    if ((rc = check(&o, &p)) != 0)
        return rc;
    crest_model *m = NULL;
    crest_dataset *ds = NULL;
    int err = crest_model_load(&m, p.pos[0]);
    if (!err && o.threads)
        err = crest_model_set_threads(m, (int)o.threads);
    if (!err && crest_model_quantized(m)) {
        fprintf(stderr, "crest quantize: %s is int8-quantized already\n", p.pos[0]);
        crest_model_free(m);
        return EXIT_INPUT;
    }
    if (err) {
        crest_model_free(m);
        return cli_fail("quantize", err);
    }
    long long fbytes = (long long)crest_model_param_count(m, false) * 4;
    if ((rc = load_calibration(m, &o, &ds)) != 0) {
        crest_model_free(m);
        return rc;
    }
    char *list = o.keep_float ? strdup(o.keep_float) : NULL;
    const char **names = list ? calloc(strlen(list) / 2 + 1, sizeof *names) : NULL;
    crest_quant_opts qo = { .method = o.method && !strcmp(o.method, "percentile")
                                          ? CREST_CALIB_PERCENTILE : CREST_CALIB_MINMAX,
                            .percentile = o.percentile, .samples = (size_t)o.samples,
                            .float_head = o.float_head, .keep_float = names,
                            .activations = o.activations && !strcmp(o.activations, "int16")
                                               ? CREST_QACT_INT16 : CREST_QACT_UINT8 };
    if (names)
        qo.n_keep_float = split_names(list, names, (int)(strlen(o.keep_float) / 2 + 1));
    size_t n = o.samples ? (size_t)o.samples : 500;
    n = n < crest_dataset_size(ds) ? n : crest_dataset_size(ds);
    err = o.keep_float && !names ? CREST_E_NOMEM : crest_quantize(m, ds, &qo);
    free(names);
    free(list);
    if (err && o.keep_float && strstr(crest_last_error(), "keep float")) {
        fprintf(stderr, "crest quantize: --keep-float %s: %s\n", o.keep_float, crest_last_error());
        rc = EXIT_INPUT;
    } else if (err) {
        fprintf(stderr, "crest quantize: --calibrate %s: %s\n", o.calibrate, crest_last_error());
        rc = err == CREST_E_NOMEM ? EXIT_RUN : EXIT_INPUT;
    } else if ((err = crest_model_save(m, o.out))) {
        rc = cli_fail("quantize", err);
    } else {
        report(&o, m, n, fbytes);
    }
    crest_dataset_free(ds);
    crest_model_free(m);
    return rc;
}
