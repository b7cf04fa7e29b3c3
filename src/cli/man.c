/* man.c - the crest(1) manual page in roff, written from the same command
 * tables (cli_command, cli_opt) that --help prints, so the two cannot
 * drift apart: `crest help --man` prints it, the Makefile installs it. */
#include "cli.h"

#include <string.h>

/* Text for roff: backslashes escaped, hyphens as \- (so options copy and
 * search as typed), and a '.' or '\'' that would start a line made literal. */
static void roff_text(FILE *f, const char *s, size_t n, bool line_start)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        char c = s[i];
        if (line_start && (c == '.' || c == '\''))
            fputs("\\&", f);
        if (c == '\\')
            fputs("\\e", f);
        else if (c == '-')
            fputs("\\-", f);
        else
            fputc(c, f);
        line_start = c == '\n';
    }
}

static void roff_str(FILE *f, const char *s, bool line_start)
{
    roff_text(f, s, strlen(s), line_start);
}

/* A block of --help text as it appears there (no fill: its own layout),
 * each line without the two spaces of indent --help gives it. */
static void roff_block(FILE *f, const char *text)
{
    if (!text)
        return;
    fputs(".PP\n.nf\n", f);
    for (const char *t = text; *t;) {
        size_t n = strcspn(t, "\n");
        const char *s = t;
        while (*s == ' ' && s < t + n && s - t < 2)
            s++;
        roff_text(f, s, n - (size_t)(s - t), true);
        fputc('\n', f);
        t += n + (t[n] == '\n');
    }
    fputs(".fi\n", f);
}

/* One option: .TP, the name and its value, then its help filled as a
 * paragraph, with the range --help shows. */
static void roff_option(FILE *f, const cli_opt *o)
{
    const char *arg = o->arg ? o->arg : o->type == CLI_ENUM ? o->choices : NULL;
    if (o->section) {
        fputs(".PP\n", f);
        roff_str(f, o->section, true);
        fputc('\n', f);
    }
    fputs(arg ? ".TP\n.BI \"" : ".TP\n.B ", f);
    roff_str(f, o->name, false);
    if (arg) {   /* bold name, italic value */
        fputs(" \" \"", f);
        roff_str(f, arg, false);
        fputs("\"", f);
    }
    fputc('\n', f);
    const char *h = o->help ? o->help : "";
    for (const char *t = h; *t;) {   /* --help's line breaks: one paragraph */
        size_t n = strcspn(t, "\n");
        roff_text(f, t, n, true);
        fputc('\n', f);
        t += n + (t[n] == '\n');
    }
    if (o->type == CLI_INT)
        fprintf(f, "[%ld, %ld]\n", o->min, o->max);
    else if (o->type == CLI_FLOAT)
        fprintf(f, "[%g, %g]\n", o->fmin, o->fmax);
}

void cli_man(FILE *f, const cli_entry *cmds, int n)
{
    fprintf(f, ".\\\" crest(1), written by `crest help --man` from the tables of --help.\n"
               ".TH CREST 1 \"\" \"crest %s\" \"User Commands\"\n"
               ".ad l\n"   /* left-aligned: justification would pad --help's words */
               ".SH NAME\ncrest \\- train classification heads on neural networks\n"
               ".SH SYNOPSIS\n.B crest\n.I COMMAND\n[options]\n.br\n"
               ".B crest\n.I COMMAND\n.B \\-\\-help\n"
               ".SH DESCRIPTION\n"
               "crest imports Keras models (TF.js layers folders, Keras HDF5 files), cuts and\n"
               "freezes backbones and trains classification heads on images and tables.\n"
               "Human output goes to stdout, progress and diagnostics to stderr; \\fB\\-\\-json\\fR\n"
               "prints one JSON object to stdout instead.\n.PP\n",
            CREST_VERSION);
    for (int i = 0; i < n; i++)
        fprintf(f, ".TP\n.B %s\n%s\n", cmds[i].name, cmds[i].what);
    fputs(".SH COMMANDS\n", f);
    for (int i = 0; i < n; i++) {
        const cli_command *c = cmds[i].table;
        fprintf(f, ".SS %s\n", cmds[i].name);
        for (const char *t = c->usage; *t;) {   /* each usage line in bold */
            size_t k = strcspn(t, "\n");
            while (*t == ' ' && k)
                t++, k--;
            fputs(".B ", f);
            roff_text(f, t, k, false);
            fputs("\n.br\n", f);
            t += k + (t[k] == '\n');
        }
        roff_block(f, c->about);
        for (int k = 0; k < c->n_opts; k++)
            roff_option(f, &c->opts[k]);
        roff_block(f, c->more);
    }
    fputs(".SH EXIT STATUS\n0 ok, 1 failure while running, 2 usage error, 3 bad input\n"
          "(model, data or option value), with a one\\-line message naming what is wrong.\n"
          ".SH ENVIRONMENT\n.TP\n.B CREST_DATA\nwhere built\\-in data sets live "
          "(default: data beside the working directory)\n"
          ".SH SEE ALSO\nThe library: \\fIcrest.h\\fR (pkg\\-config crest; CMake "
          "find_package(crest), target crest::crest).\n", f);
}
