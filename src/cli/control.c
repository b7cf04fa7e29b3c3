/* control.c - `crest train`'s training control: --lr-schedule SPEC into a
 * crest_lr_schedule, --monitor, and --class-weight balanced|FILE.json into
 * the weights fit takes. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A number of the spec, or false. */
static bool num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* "a,b,c" into at most max numbers in [lo, hi]; their count, or -1. */
static int num_list(const char *s, double lo, double hi, float *out, int max)
{
    int n = 0;
    for (const char *p = s;; p++) {
        char t[64];
        size_t k = strcspn(p, ",");
        double v;
        if (n == max || k >= sizeof t)
            return -1;
        memcpy(t, p, k);
        t[k] = 0;
        if (!num(t, lo, hi, &v))
            return -1;
        out[n++] = (float)v;
        p += k;
        if (!*p)
            return n;
    }
}

/* One "key=value" part of the spec into the schedule; false if unknown. */
static bool schedule_key(crest_lr_schedule *s, const char *part)
{
    const char *eq = strchr(part, '=');
    double v;
    if (!eq || !num(eq + 1, 0, 1e9, &v))
        return false;
    size_t n = (size_t)(eq - part);
#define KEY(k) (n == sizeof k - 1 && !strncmp(part, k, n))
    if (s->kind == CREST_LR_COSINE && KEY("warmup"))
        s->warmup_epochs = (float)v;
    else if (s->kind == CREST_LR_COSINE && KEY("alpha") && v <= 1)
        s->alpha = (float)v;
    else if (s->kind == CREST_LR_PLATEAU && KEY("factor") && v > 0 && v < 1)
        s->factor = (float)v;
    else if (s->kind == CREST_LR_PLATEAU && KEY("min_lr"))
        s->min_lr = (float)v;
    else if (s->kind == CREST_LR_PLATEAU && KEY("min_delta"))
        s->min_delta = v > 0 ? (float)v : -1;
    else if (s->kind == CREST_LR_PLATEAU && KEY("cooldown") && v == floor(v) && v <= 1000)
        s->cooldown = (int)v;
    else
        return false;
#undef KEY
    return true;
}

int cli_parse_schedule(const char *cmd, const cli_opt *opt, const char *v, void *dst)
{
    cli_schedule *c = dst;
    memset(c, 0, sizeof *c);
    crest_lr_schedule *s = &c->s;
    char buf[512], *parts[8];
    int n = 0;
    if (strlen(v) >= sizeof buf)
        goto bad;
    strcpy(buf, v);
    for (char *p = buf;;) {   /* split at ':' */
        if (n == 8)
            goto bad;
        parts[n++] = p;
        char *colon = strchr(p, ':');
        if (!colon)
            break;
        *colon = 0;
        p = colon + 1;
    }
    double a, b;
    if (!strcmp(parts[0], "cosine")) {
        s->kind = CREST_LR_COSINE;
        for (int i = 1; i < n; i++)
            if (!schedule_key(s, parts[i]))
                goto bad;
    } else if (!strcmp(parts[0], "exponential") && n == 2 && num(parts[1], 1e-9, 1e3, &a)) {
        s->kind = CREST_LR_EXPONENTIAL;   /* times RATE per epoch, smoothly per step */
        s->decay_rate = (float)a;
        s->decay_epochs = 1;
    } else if (!strcmp(parts[0], "step") && n == 3 && num(parts[1], 1, 1024, &a) &&
               a == floor(a) && num(parts[2], 1e-9, 1e3, &b)) {
        s->kind = CREST_LR_EXPONENTIAL;   /* times RATE every E epochs */
        s->decay_epochs = (float)a;
        s->decay_rate = (float)b;
        s->staircase = true;
    } else if (!strcmp(parts[0], "piecewise") && n == 3) {
        s->kind = CREST_LR_PIECEWISE;
        int nb = num_list(parts[1], 0, 1024, c->bounds, 16);
        int nv = num_list(parts[2], 1e-9, 100, c->values, 17);
        if (nb < 1 || nv != nb + 1)
            goto bad;
        for (int i = 1; i < nb; i++)
            if (!(c->bounds[i] > c->bounds[i - 1]))
                goto bad;
        s->n_boundaries = nb;
        s->boundary_epochs = c->bounds;
        s->values = c->values;
    } else if (!strcmp(parts[0], "plateau") && n >= 2 && num(parts[1], 0, 1000, &a) &&
               a == floor(a)) {
        s->kind = CREST_LR_PLATEAU;
        s->patience = a > 0 ? (int)a : 0;
        if (a == 0)
            goto bad;   /* patience 0 would read as the default (10) */
        for (int i = 2; i < n; i++)
            if (!schedule_key(s, parts[i]))
                goto bad;
    } else {
        goto bad;
    }
    return 0;
bad:
    fprintf(stderr, "crest %s: %s '%s' is not cosine[:warmup=E][:alpha=A], exponential:RATE, "
            "step:E:RATE, piecewise:E1,E2..:LR0,LR1,LR2.. or "
            "plateau:PATIENCE[:factor=F][:min_lr=LR][:cooldown=E][:min_delta=D]\n", cmd,
            opt->name, v);
    return EXIT_INPUT;
}

const crest_lr_schedule *cli_schedule_of(const train_opts *o)
{
    return o->schedule.s.kind != CREST_LR_CONSTANT ? &o->schedule.s : NULL;
}

crest_monitor cli_monitor(const train_opts *o)
{
    crest_monitor m = CREST_MONITOR_AUTO;
    if (o->monitor)
        crest_monitor_parse(o->monitor, &m);   /* checked by the option's choices */
    return m;
}

/* The K class names weights are given by: the data set's (image folders),
 * else the model's (tables, recorded names), else "0".."K-1". */
static char **weight_names(const crest_model *named, const crest_dataset *ds, int K)
{
    if (!crest_dataset_class_name(ds, 0))
        return cli_class_names(named, K);
    char **names = calloc((size_t)K + 1, sizeof *names);
    for (int k = 0; names && k < K; k++)
        if (!(names[k] = strdup(crest_dataset_class_name(ds, k) ? crest_dataset_class_name(ds, k)
                                                                : "?"))) {
            cli_class_names_free(names);
            return NULL;
        }
    return names;
}

/* --class-weight FILE.json: {"class name": weight, ...}; classes left out
 * weigh 1. An exit code, message printed. */
static int weights_from_file(const char *path, char **names, int K, float *w)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "crest train: --class-weight %s: %s\n", path, strerror(errno));
        return EXIT_INPUT;
    }
    char *text = malloc(1 << 20);
    size_t len = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!text) {
        fprintf(stderr, "crest train: out of memory\n");
        return EXIT_RUN;
    }
    text[len] = 0;
    cJSON *j = cJSON_Parse(text);
    free(text);
    int rc = 0;
    if (!cJSON_IsObject(j)) {
        fprintf(stderr, "crest train: --class-weight %s: not a JSON object {\"class\": weight}\n",
                path);
        rc = EXIT_INPUT;
    }
    for (int k = 0; k < K; k++)
        w[k] = 1.0f;
    const cJSON *it;
    const cJSON *obj = rc ? NULL : j;
    cJSON_ArrayForEach(it, obj) {
        int k = 0;
        while (k < K && strcmp(names[k], it->string))
            k++;
        if (k == K) {
            fprintf(stderr, "crest train: --class-weight %s: no class '%s' (classes:", path,
                    it->string);
            for (int i = 0; i < K; i++)
                fprintf(stderr, " %s", names[i]);
            fprintf(stderr, ")\n");
            rc = EXIT_INPUT;
            break;
        }
        if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0) || it->valuedouble > 1e6) {
            fprintf(stderr, "crest train: --class-weight %s: the weight of '%s' is not a "
                    "number in [0, 1e6]\n", path, it->string);
            rc = EXIT_INPUT;
            break;
        }
        w[k] = (float)it->valuedouble;
    }
    cJSON_Delete(j);
    return rc;
}

int cli_class_weight(const train_opts *o, const crest_model *named, const crest_dataset *ds,
                     float **out)
{
    *out = NULL;
    if (!o->class_weight)
        return 0;
    int K = crest_dataset_classes(ds);
    float *w = calloc(K > 0 ? (size_t)K : 1, sizeof *w);
    char **names = w ? weight_names(named, ds, K) : NULL;
    if (!names) {
        free(w);
        fprintf(stderr, "crest train: out of memory\n");
        return EXIT_RUN;
    }
    int rc = 0;
    if (!strcmp(o->class_weight, "balanced")) {
        if (crest_class_weight_balanced(ds, w)) {
            fprintf(stderr, "crest train: --class-weight balanced: %s\n", crest_last_error());
            rc = EXIT_INPUT;
        }
    } else {
        rc = weights_from_file(o->class_weight, names, K, w);
    }
    if (!rc) {
        fprintf(stderr, "class weights:");
        for (int k = 0; k < K; k++)
            fprintf(stderr, " %s %.4g%s", names[k], w[k], k + 1 < K ? "," : "\n");
        *out = w;
    } else {
        free(w);
    }
    cli_class_names_free(names);
    return rc;
}
