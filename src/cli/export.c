/* export.c - `crest export`: a model in another file format. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct export_opts {
    const char *format, *out;
    const char *quantize;
    const char *custom_layers;
} export_opts;

static const cli_opt export_options[] = {
    { CLI_ENUM_OPT(export_opts, "--format", format, "tfjs|h5|keras|onnx|tflite"),
      .help = "tfjs: a TF.js layers folder (without augmentation layers: TF.js\n"
              "has no RandomFlip...; they are the identity at inference; a model\n"
              "with RandomCrop is refused); h5: a Keras 2.x HDF5 file (model.save's\n"
              "layout); keras: a Keras 3 .keras zip (config.json, metadata.json,\n"
              "model.weights.h5); onnx: an ONNX file (float32, opset 13; inputs and\n"
              "outputs NHWC as crest's, batch dynamic; a model crest quantize made: QDQ\n"
              "int8, QuantizeLinear / DequantizeLinear with the calibration's scales\n"
              "around Conv, Gemm, pooling..., which ONNX Runtime runs as its QLinear\n"
              "kernels; adds and quantizing float values as float ops before a\n"
              "QuantizeLinear of scale 1, rounding as crest); tflite: a TFLite file (float32,\n"
              "builtin operators; batch norms folded into the convolutions before them,\n"
              "NHWC, batch dynamic; a model crest quantize made: int8 inside, float\n"
              "input and output; with --activations int16, TFLite's 16x8: int16\n"
              "values, int8 kernels, int64 biases; ONNX refuses those for now)" },
    { CLI_STR_OPT(export_opts, "--out", out), .arg = "PATH",
      .help = "the folder (tfjs) or file (h5, keras, onnx, tflite) written, atomically" },
    { CLI_ENUM_OPT(export_opts, "--quantize", quantize, "uint8|uint16|float16"),
      .help = "with --format tfjs: store the weights as TF.js' converter does with\n"
              "--quantize_uint8 (1 byte per weight: per-tensor min and scale, 0 kept\n"
              "exact), _uint16 or _float16 (2 bytes); TF.js and crest read them back\n"
              "as float32, so the saved model computes with the rounded weights" },
    { CLI_CUSTOM_LAYERS_OPT(export_opts, custom_layers) },
};

const cli_command export_cmd = {
    .name = "export", .usage = "crest export MODEL --format FORMAT --out PATH",
    .about = "  Writes MODEL (any form crest reads: a TF.js layers folder, a Keras .h5\n"
             "  or .keras file, a folder crest train wrote) in another format.\n",
    CLI_OPTS(export_options),
    .max_pos = 1,
};

/* The checks that come before any work: arguments, format, output. */
static int check(const export_opts *o, const cli_parsed *p)
{
    if (!p->n_pos)
        return cli_usage("export", "needs a model");
    if (!o->format || !o->out)
        return cli_usage("export", "needs --format and --out");
    if (o->quantize && strcmp(o->format, "tfjs") != 0)
        return cli_usage("export", "--quantize needs --format tfjs");
    return strcmp(o->format, "tfjs") != 0 ? cli_check_out_file("export", o->out)
                                          : cli_check_out_dir("export", o->out);
}

/* TF.js 4.22 has none of Keras' augmentation layers (RandomFlip...), so
 * tf.loadLayersModel would refuse the folder: the ones that are the
 * identity at inference are left out (a note says so). A RandomCrop
 * resizes at inference and has no TF.js form: refused. */
static int strip_augmentation(crest_model *m)
{
    for (int i = 0; i < crest_model_layer_count(m); i++)
        if (!strcmp(crest_layer_class(crest_model_layer(m, i)), "RandomCrop")) {
            fprintf(stderr, "crest export: layer '%s': TF.js has no RandomCrop (at inference "
                            "Keras' smart_resize); export to keras or h5 instead\n",
                    crest_layer_name(crest_model_layer(m, i)));
            return EXIT_INPUT;
        }
    int n = crest_model_strip_augmentation(m);
    if (n > 0)
        fprintf(stderr, "crest export: left out %d augmentation layer%s (the identity at "
                        "inference; TF.js has no RandomFlip, RandomRotation... classes)\n", n,
                n == 1 ? "" : "s");
    return n < 0 ? n : 0;
}

static crest_weight_quant quant_of(const char *q)
{
    return !q                       ? CREST_WQ_NONE
           : !strcmp(q, "uint8")    ? CREST_WQ_UINT8
           : !strcmp(q, "uint16")   ? CREST_WQ_UINT16
                                    : CREST_WQ_FLOAT16;
}

int cmd_export(int argc, char **argv)
{
    export_opts o = { 0 };
    cli_parsed p;
    int rc;
    if (!cli_parse(&export_cmd, argc, argv, &o, &p, &rc))
        return rc;
    if ((rc = check(&o, &p)) != 0)
        return rc;
    crest_model *m = NULL;
    int err = crest_model_load(&m, p.pos[0]);
    if (!err && !strcmp(o.format, "tfjs"))
        err = strip_augmentation(m);
    if (!err)
        err = !strcmp(o.format, "h5")      ? crest_model_save_h5(m, o.out)
              : !strcmp(o.format, "keras") ? crest_model_save_keras(m, o.out)
              : !strcmp(o.format, "onnx")  ? crest_model_save_onnx(m, o.out)
              : !strcmp(o.format, "tflite") ? crest_model_save_tflite(m, o.out)
                                           : crest_model_save_quantized(m, o.out, quant_of(o.quantize));
    crest_model_free(m);
    if (err > 0)
        return err;
    if (err)
        return cli_fail("export", err);
    printf("exported: %s (%s)\n", o.out, o.format);
    return EXIT_OK;
}
