/* crest_examples.c - the `crest` command with the example programs' own
 * model code registered, so the scenario test (tests/scripts/scenarios.sh)
 * runs the custom model of way 2 (class TwoStage), the Lambda head of way 5
 * (function "affine") and the expression head through the same commands as
 * every other model. Every command of `crest` works as is; one more builds
 * and trains an example's model, since `crest train` cannot build them:
 *
 *   crest_examples train-example custom|lambda|expr --data SPEC --out DIR
 *                  [--epochs E] [--limit N] [--seed S]
 *
 * The examples' sources are included (their main renamed), so these are
 * their models, not copies of them. */
#define main way2_main
#include "../examples/way2_custom_model.c"
#undef main
#define main way5_main
#include "../examples/way5_lambda_head.c"
#undef main

#include "cli/cli.h"

#include <string.h>

/* The TwoStage model of way 2 rebuilt from its saved config. */
static int two_stage_factory(crest_model **out, const char *config_json)
{
    (void)config_json;
    return two_stage_new(out, crest_dense(128, CREST_RELU), 10);
}

static int build(const char *kind, crest_model **m)
{
    if (!strcmp(kind, "custom"))
        return two_stage_new(m, crest_dense(128, CREST_RELU), 10);
    int rc = crest_sequential_new(m, crest_shape(2, 28, 28));
    if (rc)
        return rc;
    crest_add(*m, crest_flatten());
    crest_add(*m, crest_dense(128, CREST_RELU));
    if (!strcmp(kind, "lambda"))
        return crest_add(*m, crest_lambda("affine", affine, &(affine_args){ .units = 10 },
                                          sizeof(affine_args)));
    return crest_add(*m, crest_expr("W[_,10]: softmax(x @ W + b)"));
}

typedef struct example_opts {
    const char *data, *out;
    long epochs, limit, seed;
} example_opts;

#define T example_opts
static const cli_opt example_options[] = {
    { CLI_STR_OPT(T, "--data", data), .arg = "SPEC", .help = "the training data" },
    { CLI_STR_OPT(T, "--out", out), .arg = "DIR", .help = "where the model goes" },
    { CLI_INT_OPT(T, "--epochs", epochs, 1, 100), .arg = "E", .help = "(default 1)" },
    { CLI_INT_OPT(T, "--limit", limit, 1, 1L << 30), .arg = "N", .help = "the first N samples" },
    { CLI_INT_OPT(T, "--seed", seed, 0, 1L << 40), .arg = "S", .help = "(default 0)" },
};
#undef T

static const cli_command example_cmd = {
    .name = "train-example",
    .usage = "crest_examples train-example custom|lambda|expr --data SPEC --out DIR [options]",
    .opts = example_options, .n_opts = sizeof example_options / sizeof *example_options,
    .max_pos = 1,
};

static int train_example(int argc, char **argv)
{
    example_opts o = { .epochs = 1 };
    cli_parsed p;
    int rc;
    if (!cli_parse(&example_cmd, argc, argv, &o, &p, &rc))
        return rc;
    const char *data = o.data, *out = o.out, *kind = p.n_pos ? p.pos[0] : "";
    long epochs = o.epochs, limit = o.limit, seed = o.seed;
    if (!data || !out || (strcmp(kind, "custom") && strcmp(kind, "lambda") && strcmp(kind, "expr")))
        return cli_usage("train-example", "needs custom|lambda|expr, --data and --out");
    crest_dataset *ds = NULL, *part = NULL;
    crest_model *m = NULL;
    int err = crest_dataset_load(&ds, data);
    if (!err && limit > 0 && (size_t)limit < crest_dataset_size(ds))
        err = crest_dataset_slice(ds, 0, (size_t)limit, &part);
    if (!err)
        err = build(kind, &m);
    if (!err)
        crest_model_set_seed(m, (uint64_t)seed);
    if (!err)
        err = crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(1e-3f),
                                                      .loss = CREST_SPARSE_CCE,
                                                      .metrics = CREST_ACCURACY });
    if (!err)
        err = crest_fit(m, part ? part : ds, &(crest_fit_opts){ .epochs = (int)epochs,
                                                                .batch_size = 32,
                                                                .seed = (uint64_t)seed,
                                                                .progress = cli_progress_bar });
    if (!err)
        err = crest_model_set_metadata(m, "{\"crest\":{\"loss\":"
                                          "\"sparse_categorical_crossentropy\",\"classes\":10}}");
    if (!err)
        err = crest_model_save(m, out);
    rc = err ? cli_fail("train-example", err) : EXIT_OK;
    if (!err)
        printf("saved: %s\n", out);
    crest_model_free(m);
    crest_dataset_free(part);
    crest_dataset_free(ds);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = crest_register_model("TwoStage", two_stage_factory);
    if (!rc)
        rc = crest_register_lambda("affine", affine);
    if (rc) {
        fprintf(stderr, "crest_examples: %s\n", crest_last_error());
        return EXIT_RUN;
    }
    if (argc > 1 && !strcmp(argv[1], "train-example"))
        return train_example(argc - 2, argv + 2);
    return crest_cli_main(argc, argv);
}
