/* main.c - the `crest` command: dispatch and shared helpers. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *cmd, int rc)
{
    fprintf(stderr, "crest %s: %s\n", cmd, crest_last_error());
    switch (rc) {
    case CREST_E_FORMAT: case CREST_E_SHAPE: case CREST_E_ARG: case CREST_E_IO:
    case CREST_E_UNSUPPORTED:
        return EXIT_INPUT;
    default:
        return EXIT_RUN;
    }
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "crest %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see crest %s --help)\n", cmd);
    return EXIT_USAGE;
}

bool cli_next(cli_args *a, const char **name, const char **val, bool *has_inline)
{
    if (a->i >= a->argc)
        return false;
    static char buf[128];
    char *s = a->argv[a->i++];
    *has_inline = false;
    if (s[0] == '-' && s[1] == '-' && s[2]) {
        char *eq = strchr(s, '=');
        if (eq && (size_t)(eq - s) < sizeof buf) {
            memcpy(buf, s, (size_t)(eq - s));
            buf[eq - s] = 0;
            *name = buf;
            *val = eq + 1;
            *has_inline = true;
        } else {
            *name = s;
            *val = NULL;
        }
    } else {
        *name = NULL;
        *val = s;
    }
    return true;
}

int cli_value(cli_args *a, const char *name, const char *inl, const char **out)
{
    if (inl) {
        *out = inl;
        return 0;
    }
    if (a->i >= a->argc)
        return cli_usage(a->cmd, "%s needs a value", name);
    *out = a->argv[a->i++];
    return 0;
}

int cli_int(const char *cmd, const char *name, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "crest %s: %s '%s' is not an integer in [%ld, %ld]\n", cmd, name, s, lo,
                hi);
        return EXIT_INPUT;
    }
    *out = v;
    return 0;
}

int cli_float(const char *cmd, const char *name, const char *s, double lo, double hi,
              double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "crest %s: %s '%s' is not a number in [%g, %g]\n", cmd, name, s, lo, hi);
        return EXIT_INPUT;
    }
    *out = v;
    return 0;
}

static const struct {
    const char *name, *what;
    int (*run)(int, char **);
} cmds[] = {
    { "train", "build a model with a classification head and train it", cmd_train },
    { "evaluate", "loss, accuracy, per-class scores, confusion matrix", cmd_evaluate },
    { "predict", "class probabilities for inputs", cmd_predict },
    { "summary", "Keras-style table of a model's layers", cmd_summary },
    { "infer", "raw forward pass on float32 tensors (optionally up to a layer)", cmd_infer },
    { "bench", "forward-pass speed: ms per batch and per image", cmd_bench },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: crest COMMAND [options]   (crest COMMAND --help for each)\n\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].what);
}

int crest_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("crest %s\n", CREST_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].run(argc - 2, argv + 2);
    fprintf(stderr, "crest: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
