/* main.c - the `crest` command: the table of commands and the dispatch.
 * What the commands share is in common.c. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const cli_entry cmds[] = {
    { "train", "build a model with a classification head and train it", cmd_train, &train_cmd },
    { "evaluate", "loss, accuracy, per-class scores, confusion matrix", cmd_evaluate,
      &evaluate_cmd },
    { "predict", "class probabilities for inputs", cmd_predict, &predict_cmd },
    { "summary", "Keras-style table of a model's layers", cmd_summary, &summary_cmd },
    { "infer", "raw forward pass on float32 tensors (optionally up to a layer)", cmd_infer,
      &infer_cmd },
    { "bench", "forward-pass speed: ms per batch and per image", cmd_bench, &bench_cmd },
    { "export", "the model in another format (TF.js, Keras .h5 or .keras, ONNX)", cmd_export,
      &export_cmd },
    { "quantize", "post-training int8 quantization, calibrated on real inputs", cmd_quantize,
      &quantize_cmd },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: crest COMMAND [options]   (crest COMMAND --help for each;\n"
               "       crest help --man prints the manual page, crest(1))\n\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].what);
}

int crest_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "help") && argc == 3 && !strcmp(argv[2], "--man")) {
        cli_man(stdout, cmds, (int)(sizeof cmds / sizeof cmds[0]));   /* crest(1) */
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("crest %s\nkernels: %s\n", CREST_VERSION, crest_kernels());
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].run(argc - 2, argv + 2);
    fprintf(stderr, "crest: unknown command '%s' (see crest --help)\n", argv[1]);
    return EXIT_USAGE;
}
