/* infer.c - `crest infer`: a raw forward pass on float32 tensors. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct infer_opts {
    const char *input, *layer, *out;
    cli_shape shape;
    long threads, batch;
    const char *custom_layers;
} infer_opts;

#define T infer_opts
static const cli_opt infer_options[] = {
    { CLI_STR_OPT(T, "--input", input), .arg = "X.f32",
      .help = "raw little-endian float32, row-major (NHWC for images)" },
    { CLI_CUSTOM_OPT(T, "--shape", shape, cli_shape_opt), .arg = "N,H,W,C",
      .help = "its shape: N samples of the model's input (any rank)" },
    { CLI_STR_OPT(T, "--layer", layer), .arg = "NAME", .help = "stop at that layer's output" },
    { CLI_STR_OPT(T, "--out", out), .arg = "Y.f32", .help = "the output, float32 as the input" },
    { CLI_CUSTOM_LAYERS_OPT(T, custom_layers) },
    { CLI_INT_OPT(T, "--batch", batch, 1, 1 << 16), .arg = "B",
      .help = "samples per pass (default: sized to keep activations in cache)" },
    { CLI_INT_OPT(T, "--threads", threads, 1, 256), .arg = "T",
      .help = "worker threads (default: the cores)" },
};
#undef T

const cli_command infer_cmd = {
    .name = "infer",
    .usage = "crest infer MODEL --input X.f32 --shape N,H,W,C [--layer NAME] --out Y.f32\n"
             "                   [--batch B] [--threads T]",
    .about = "  Raw forward pass in inference mode. Prints the output shape to stderr.\n"
             "  Unknown dimensions of the model's input (None, as in [None,None,None,3])\n"
             "  take the input's: the model is planned for the --shape given.\n",
    CLI_OPTS(infer_options),
    .max_pos = 1,
};

/* MODEL, --input, --shape and --out given; --out writable. */
static bool parse_infer(int argc, char **argv, infer_opts *o, const char **model, int *rc)
{
    cli_parsed p;
    if (!cli_parse(&infer_cmd, argc, argv, o, &p, rc))
        return false;
    *model = p.n_pos ? p.pos[0] : NULL;
    if (!*model || !o->input || !o->shape.text || !o->out)
        *rc = cli_usage("infer", "needs MODEL, --input, --shape and --out");
    else
        *rc = cli_check_out_file("infer", o->out);
    return *rc == 0;
}

/* Steps return 0, a library error (< 0) or an exit code (> 0, reported). */

static int load_model(const char *path, const infer_opts *o, crest_model **m)
{
    int err = crest_model_load(m, path);
    if (!err && o->threads)
        err = crest_model_set_threads(*m, (int)o->threads);
    if (err)
        return err;
    crest_dims want = crest_model_input_shape(*m);
    if (crest_dims_count(want) < 0)   /* unknown dimensions (None) take the input's */
        return crest_model_set_input_shape(*m, o->shape.d);
    if (crest_dims_count(want) != crest_dims_count(o->shape.d)) {
        fprintf(stderr, "crest infer: --shape %s does not fit the model's input of %lld values "
                        "per sample\n", o->shape.text, (long long)crest_dims_count(want));
        return EXIT_INPUT;
    }
    /* nothing but this forward pass follows: the weights' memory goes back
     * as the convolutions pack them (a probe to --layer traces anew). Not
     * for several samples on several threads: each thread then runs whole
     * passes on a copy of the graph, which prepares its own weights. */
    if (o->layer || (o->shape.n > 1 && o->threads != 1))
        return CREST_OK;
    int rc = crest_model_inference_only(*m);
    return rc == CREST_E_UNSUPPORTED ? CREST_OK : rc;   /* a custom model keeps its weights */
}

/* The forward pass, its output written to --out and its shape printed. */
static int run(crest_model *m, const infer_opts *o, const float *x)
{
    float *y = NULL;
    crest_dims od;
    size_t n = o->shape.n;
    int err = crest_infer(m, o->layer, x, n, (int)o->batch, &y, &od);
    if (!err)
        err = cli_write_file("infer", o->out, y, n * (size_t)crest_dims_count(od) * sizeof(float));
    crest_free(y);
    if (err)
        return err;
    fprintf(stderr, "output [%zu", n);
    for (int i = 0; i < od.ndim; i++)
        fprintf(stderr, ",%lld", (long long)od.d[i]);
    fprintf(stderr, "] -> %s\n", o->out);
    return CREST_OK;
}

int cmd_infer(int argc, char **argv)
{
    infer_opts o = { 0 };
    const char *model;
    int rc;
    if (!parse_infer(argc, argv, &o, &model, &rc))
        return rc;
    crest_model *m = NULL;
    float *x = NULL;
    int err = load_model(model, &o, &m);
    if (!err && !(x = cli_read_f32("infer", o.input, o.shape.n * (size_t)crest_dims_count(o.shape.d), &rc)))
        err = rc;
    if (!err)
        err = run(m, &o, x);
    free(x);
    crest_model_free(m);
    return err > 0 ? err : err ? cli_fail("infer", err) : EXIT_OK;
}
