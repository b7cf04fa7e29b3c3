/* summary.c - `crest summary`: the Keras-style table of a model's layers. */
#include "cli.h"

#include <stdio.h>

typedef struct summary_opts {
    bool json;
    const char *custom_layers;
} summary_opts;

static const cli_opt summary_options[] = {
    { CLI_FLAG_OPT(summary_opts, "--json", json),
      .help = "{\"layers\":[{\"name\",\"class\",\"output_shape\",\"params\"}...],\n"
              "\"total_params\",\"trainable_params\",\"non_trainable_params\"}" },
    { CLI_CUSTOM_LAYERS_OPT(summary_opts, custom_layers) },
};

const cli_command summary_cmd = {
    .name = "summary", .usage = "crest summary MODEL [--json]",
    .about = "  Layer name, class, output shape and parameters; total, trainable,\n"
             "  non-trainable.\n",
    CLI_OPTS(summary_options),
    .max_pos = 1,
};

int cmd_summary(int argc, char **argv)
{
    summary_opts o = { 0 };
    cli_parsed p;
    int rc;
    if (!cli_parse(&summary_cmd, argc, argv, &o, &p, &rc))
        return rc;
    if (!p.n_pos)
        return cli_usage("summary", "needs a model");
    crest_model *m = NULL;
    int err = crest_model_load(&m, p.pos[0]);
    char *s = err ? NULL : crest_model_summary(m, o.json);
    if (!s) {
        crest_model_free(m);
        return cli_fail("summary", err ? err : CREST_E_NOMEM);
    }
    fputs(s, stdout);
    if (o.json)
        putchar('\n');
    crest_free(s);
    crest_model_free(m);
    return EXIT_OK;
}
