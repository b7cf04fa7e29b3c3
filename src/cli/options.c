/* options.c - every command's options from its table (cli.h: cli_opt,
 * cli_command): parsing, range checks, "does not apply" and --help.
 *
 * A parser of our own rather than getopt_long: getopt_long accepts any
 * unambiguous prefix of a long option (--epo for --epochs), which the
 * contract does not have and which would make adding an option break
 * command lines that used a prefix of it; it prints its own messages
 * (without the "(see crest CMD --help)" the contract's usage errors carry),
 * keeps its state in globals (optind) that crest_cli_main would have to
 * reset for each call (tests/crest_examples.c calls it in-process), and
 * knows nothing of types, ranges or modes, which the table would still
 * have to check after it. The table walk below is all of it. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int parse_float(const char *cmd, const cli_opt *o, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < o->fmin || v > o->fmax) {
        fprintf(stderr, "crest %s: %s '%s' is not a number in [%g, %g]\n", cmd, o->name, s,
                o->fmin, o->fmax);
        return EXIT_INPUT;
    }
    *out = v;
    return 0;
}

int cli_custom_layers(const char *cmd, const cli_opt *o, const char *v, void *dst)
{
    if (crest_custom_layers_load(v) != CREST_OK) {
        fprintf(stderr, "crest %s: %s: %s\n", cmd, o->name, crest_last_error());
        return EXIT_INPUT;
    }
    *(const char **)dst = v;
    return 0;
}

/* "a|b|c" -> "a, b or c". */
static void choices_text(const char *choices, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = 0;
    for (const char *p = choices; *p && n + 1 < size; p++) {
        const char *sep = *p != '|' ? NULL : strchr(p + 1, '|') ? ", " : " or ";
        int w = sep ? snprintf(buf + n, size - n, "%s", sep) : snprintf(buf + n, size - n, "%c", *p);
        n += w > 0 ? (size_t)w : 0;
    }
}

static bool is_choice(const char *choices, const char *v)
{
    size_t len = strlen(v);
    for (const char *p = choices; *p; p += *p == '|') {
        size_t n = strcspn(p, "|");
        if (n == len && !strncmp(p, v, n))
            return true;
        p += n;
    }
    return false;
}

static int parse_enum(const char *cmd, const cli_opt *o, const char *v, const char **out)
{
    char text[256];
    if (is_choice(o->choices, v)) {
        *out = v;
        return 0;
    }
    choices_text(o->choices, text, sizeof text);
    if (o->bad_exit == EXIT_USAGE)
        return cli_usage(cmd, "%s '%s' is not %s", o->name, v, text);
    fprintf(stderr, "crest %s: %s '%s' is not %s\n", cmd, o->name, v, text);
    return o->bad_exit ? o->bad_exit : EXIT_INPUT;
}

/* v into the field dst of option o: 0, or the exit code of a bad value. */
static int store_value(const char *cmd, const cli_opt *o, const char *v, void *dst)
{
    switch (o->type) {
    case CLI_STR:
        *(const char **)dst = v;
        return 0;
    case CLI_INT:
        return cli_int(cmd, o->name, v, o->min, o->max, dst);
    case CLI_FLOAT:
        return parse_float(cmd, o, v, dst);
    case CLI_ENUM:
        return parse_enum(cmd, o, v, dst);
    case CLI_CUSTOM:
        return o->parse(cmd, o, v, dst);
    case CLI_FLAG:
        break;
    }
    *(bool *)dst = true;
    return 0;
}

/* The table entry of "--name" (n: the name's length), or -1. */
static int find_opt(const cli_command *c, const char *name, size_t n)
{
    for (int i = 0; i < c->n_opts; i++)
        if (strlen(c->opts[i].name) == n && !strncmp(c->opts[i].name, name, n))
            return i;
    return -1;
}

/* argv[*i] is "--name", "--name=value" or "--flag": found in the table
 * before any value is taken, so an unknown option is named as such even
 * when nothing follows it. */
static int take_option(const cli_command *c, int argc, char **argv, int *i, void *opts,
                       cli_parsed *p)
{
    const char *s = argv[*i], *eq = strchr(s, '=');
    size_t n = eq ? (size_t)(eq - s) : strlen(s);
    int k = find_opt(c, s, n);
    if (k < 0)
        return cli_usage(c->name, "unknown option %.*s", (int)n, s);
    const cli_opt *o = &c->opts[k];
    p->given[k] = true;
    if (o->type == CLI_FLAG && eq)
        return cli_usage(c->name, "%s takes no value", o->name);
    const char *v = o->type == CLI_FLAG ? NULL : eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
    if (!v && o->type != CLI_FLAG)
        return cli_usage(c->name, "%s needs a value", o->name);
    return store_value(c->name, o, v, (char *)opts + o->at);
}

static int take_positional(const cli_command *c, cli_parsed *p, const char *s)
{
    if (p->n_pos >= c->max_pos || p->n_pos >= CLI_MAX_POS)
        return c->too_many ? cli_usage(c->name, "%s", c->too_many)
                           : cli_usage(c->name, "unexpected argument '%s'", s);
    p->pos[p->n_pos++] = s;
    return 0;
}

static bool is_help(const char *s)
{
    return !strncmp(s, "--help", 6) && (!s[6] || s[6] == '=');
}

bool cli_parse(const cli_command *c, int argc, char **argv, void *opts, cli_parsed *p,
               int *exit_code)
{
    int rc = 0;
    assert(c->n_opts <= CLI_MAX_OPTS);   /* a table that outgrew cli_parsed.given */
    memset(p, 0, sizeof *p);
    for (int i = 0; i < argc && !rc; i++) {
        const char *s = argv[i];
        if (is_help(s)) {
            cli_help(c, stdout);
            *exit_code = EXIT_OK;
            return false;
        }
        if (s[0] == '-' && strcmp(s, "-") && strcmp(s, "--"))
            rc = take_option(c, argc, argv, &i, opts, p);
        else
            rc = take_positional(c, p, s);
    }
    *exit_code = rc;
    return rc == 0;
}

int cli_check_modes(const cli_command *c, const cli_parsed *p, unsigned mode, const char *subject)
{
    for (int i = 0; i < c->n_opts; i++) {
        const cli_opt *o = &c->opts[i];
        if (!p->given[i] || !o->modes || (o->modes & mode))
            continue;
        static const cli_rule none = { 0, "does not apply here", false };
        const cli_rule *r = c->n_rules ? &c->rules[c->n_rules - 1] : &none;
        for (int k = 0; k < c->n_rules; k++)
            if (c->rules[k].modes == o->modes)
                r = &c->rules[k];
        return cli_usage(c->name, "%s %s%s%s", o->name, r->why, r->subject ? " " : "",
                         r->subject && subject ? subject : "");
    }
    return 0;
}

/* Text with each '\n' followed by indent spaces. */
static void put_indented(FILE *f, const char *text, int indent)
{
    for (const char *t = text; *t; t++) {
        fputc(*t, f);
        if (*t == '\n' && t[1])
            fprintf(f, "%*s", indent, "");
    }
}

/* "  --name ARG           help [range]", long names on a line of their own. */
static void help_option(FILE *f, const cli_opt *o)
{
    enum { COL = 23 };
    char left[96];
    const char *arg = o->arg ? o->arg : o->type == CLI_ENUM ? o->choices : NULL;
    int w = snprintf(left, sizeof left, "  %s%s%s", o->name, arg ? " " : "", arg ? arg : "");
    if (o->section)
        fprintf(f, "%s\n", o->section);
    fprintf(f, "%s", left);
    if (w >= COL - 1)
        fprintf(f, "\n%*s", COL, "");
    else
        fprintf(f, "%*s", COL - w, "");
    put_indented(f, o->help ? o->help : "", COL);
    if (o->type == CLI_INT)
        fprintf(f, " [%ld, %ld]", o->min, o->max);
    else if (o->type == CLI_FLOAT)
        fprintf(f, " [%g, %g]", o->fmin, o->fmax);
    fputc('\n', f);
}

void cli_help(const cli_command *c, FILE *f)
{
    fprintf(f, "usage: %s\n", c->usage);
    if (c->about)
        fputs(c->about, f);
    for (int i = 0; i < c->n_opts; i++)
        help_option(f, &c->opts[i]);
    if (c->more)
        fputs(c->more, f);
}
