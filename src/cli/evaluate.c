/* evaluate.c - `crest evaluate`: loss, accuracy, per-class scores and the
 * confusion matrix of a trained model on labelled data. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct eval_opts {
    const char *data, *label;
    bool json;
    long threads, holdout, limit;
    char delimiter;
    const char *custom_layers, *preprocess;
    int image_size[2];
} eval_opts;

enum { EVAL_SAMPLES = 1,   /* image folders, IDX sets, built-in names */
       EVAL_TABLE = 2 };   /* .csv, .arff, penguins: through the model's feature spec */

#define T eval_opts
static const cli_opt evaluate_options[] = {
    { CLI_STR_OPT(T, "--data", data), .arg = "SPEC", .help = "the labelled data (required)" },
    { CLI_INT_OPT(T, "--limit", limit, 1, 1L << 40), .arg = "N",
      .help = "the first N samples only" },
    { CLI_FLAG_OPT(T, "--json", json),
      .help = "one JSON object: n, loss, accuracy, per_class, confusion, labels" },
    { CLI_CUSTOM_LAYERS_OPT(T, custom_layers) },
    { CLI_INT_OPT(T, "--threads", threads, 1, 256), .arg = "T",
      .help = "worker threads (default: the cores)" },
    CLI_IMAGE_OPTS(T, preprocess, image_size, EVAL_SAMPLES),
    { CLI_STR_OPT(T, "--label", label), .arg = "COL", .modes = EVAL_TABLE,
      .help = "the label column (checked against the model's)",
      .section = "tables (.csv, .arff, penguins), through the model's feature spec:" },
    { CLI_INT_OPT(T, "--holdout", holdout, 2, 1000), .arg = "N", .modes = EVAL_TABLE,
      .help = "score only every Nth row (as train --holdout N held out)" },
    { CLI_CUSTOM_OPT(T, "--delimiter", delimiter, cli_delimiter), .arg = "C",
      .modes = EVAL_TABLE, .help = "one character, or \\t (default ,)" },
};
#undef T

static const cli_rule evaluate_rules[] = {
    { EVAL_SAMPLES, "is for images and IDX sets, not", true },
    { EVAL_TABLE, "is for tables (.csv, .arff, penguins), not", true },
};

const cli_command evaluate_cmd = {
    .name = "evaluate", .usage = "crest evaluate DIR --data SPEC [options]",
    .about = "  Loss, accuracy, per-class precision/recall/F1 and the confusion matrix.\n"
             "  Image sources (folders, IDX sets) go through the model's recorded image\n"
             "  preprocessing, decoded in passes.\n",
    CLI_OPTS(evaluate_options),
    .max_pos = 1, .rules = evaluate_rules, .n_rules = (int)(sizeof evaluate_rules / sizeof evaluate_rules[0]),
};

typedef cli_scores scores;

/* The loss a model was trained with, from crest's metadata. */
static crest_loss model_loss(const crest_model *m)
{
    const char *meta = crest_model_metadata(m);
    if (meta && strstr(meta, "\"binary_crossentropy\""))
        return CREST_BCE;
    if (meta && strstr(meta, "\"categorical_crossentropy\""))
        return CREST_CCE;
    return CREST_SPARSE_CCE;
}

/* DIR and --data given; --label, --holdout, --delimiter only for tables. */
static bool parse_evaluate(int argc, char **argv, eval_opts *o, const char **dir, int *rc)
{
    cli_parsed p;
    if (!cli_parse(&evaluate_cmd, argc, argv, o, &p, rc))
        return false;
    *dir = p.n_pos ? p.pos[0] : NULL;
    if (!*dir || !o->data)
        *rc = cli_usage("evaluate", "needs a model folder and --data");
    else
        *rc = cli_check_modes(&evaluate_cmd, &p, cli_is_table(o->data) ? EVAL_TABLE : EVAL_SAMPLES,
                              o->data);
    return *rc == 0;
}

/* Steps return 0, a library error (< 0) or an exit code (> 0, reported). */

static int load_model(const char *dir, const eval_opts *o, crest_model **m)
{
    int err = crest_model_load(m, dir);
    if (!err && o->threads)
        err = crest_model_set_threads(*m, (int)o->threads);
    if (!err)
        err = crest_compile(*m, &(crest_compile_opts){ .loss = model_loss(*m) });
    return err;
}

/* --data as the model reads it (a table through its feature spec, images
 * through its transform), the first --limit samples, with integer labels. */
static int load_data(crest_model *m, const eval_opts *o, crest_dataset **ds)
{
    int err = cli_is_table(o->data)
                  ? cli_table_dataset(m, o->data, o->label, o->holdout, o->delimiter, ds)
                  : cli_model_images(m, "evaluate", o->preprocess, o->image_size);
    if (!err && !cli_is_table(o->data))
        err = cli_load_for_model(m, "evaluate", o->data, ds);
    if (!err && o->limit > 0 && (size_t)o->limit < crest_dataset_size(*ds)) {
        crest_dataset *sl = NULL;
        err = crest_dataset_slice(*ds, 0, (size_t)o->limit, &sl);
        crest_dataset_free(*ds);
        *ds = sl;
    }
    if (!err && !crest_dataset_labels(*ds)) {
        fprintf(stderr, "crest evaluate: %s has no integer labels\n", o->data);
        return EXIT_INPUT;
    }
    return err;
}

/* The confusion matrix labelled by class name: rows (true classes) by name,
 * columns by name too where the names fit in a column, else by their index
 * with the names listed under the matrix. */
static void confusion_text(const scores *s, int w)
{
    int cw = 6;   /* wide enough for the counts and the names, up to 12 */
    long most = 0;
    for (size_t i = 0; i < (size_t)s->K * (size_t)s->K; i++)
        most = s->conf[i] > most ? s->conf[i] : most;
    int digits = snprintf(NULL, 0, "%ld", most) + 1;
    cw = digits > cw ? digits : cw;
    bool named = true;
    for (int k = 0; k < s->K; k++) {
        int n = (int)strlen(s->names[k]) + 1;
        if (n > 13)
            named = false;
        else if (n > cw)
            cw = n;
    }
    if (!named)
        cw = digits > 6 ? digits : 6;
    printf("\nconfusion (rows: true class, columns: predicted)\n%-*s", w, "");
    for (int j = 0; j < s->K; j++) {
        char num[16];
        snprintf(num, sizeof num, "[%d]", j);
        printf(" %*s", cw - 1, named ? s->names[j] : num);
    }
    printf("\n");
    for (int k = 0; k < s->K; k++) {
        printf("%-*s", w, s->names[k]);
        for (int j = 0; j < s->K; j++)
            printf("%*ld", cw, s->conf[(size_t)k * (size_t)s->K + (size_t)j]);
        printf("\n");
    }
    for (int j = 0; !named && j < s->K; j++)
        printf("[%d] %s\n", j, s->names[j]);
}

static void report_text(const scores *s)
{
    int w = 8;   /* the class column: the longest name */
    for (int k = 0; k < s->K; k++)
        w = (int)strlen(s->names[k]) > w ? (int)strlen(s->names[k]) : w;
    printf("n: %zu\nloss: %.4f\naccuracy: %.4f\n\n%-*s %9s %9s %9s %8s\n", s->n, s->met.loss,
           s->met.accuracy, w, "class", "precision", "recall", "f1", "support");
    for (int k = 0; k < s->K; k++) {
        double p, r, f1;
        long support;
        cli_class_scores(s, k, &p, &r, &f1, &support);
        printf("%-*s %9.4f %9.4f %9.4f %8ld\n", w, s->names[k], p, r, f1, support);
    }
    confusion_text(s, w);
}

static void report_json(const scores *s)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "n", (double)s->n);
    cJSON_AddNumberToObject(root, "loss", s->met.loss);
    cJSON_AddNumberToObject(root, "accuracy", s->met.accuracy);
    cJSON *pc = cJSON_AddArrayToObject(root, "per_class");
    cJSON *cm = cJSON_AddArrayToObject(root, "confusion");
    cJSON *lj = cJSON_AddArrayToObject(root, "labels");
    for (int k = 0; k < s->K; k++) {
        double p, r, f1;
        long support;
        cli_class_scores(s, k, &p, &r, &f1, &support);
        cJSON *o = cJSON_CreateObject(), *row = cJSON_CreateArray();
        cJSON_AddStringToObject(o, "label", s->names[k]);
        cJSON_AddNumberToObject(o, "precision", p);
        cJSON_AddNumberToObject(o, "recall", r);
        cJSON_AddNumberToObject(o, "f1", f1);
        cJSON_AddNumberToObject(o, "support", (double)support);
        cJSON_AddItemToArray(pc, o);
        for (int j = 0; j < s->K; j++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber(
                                          (double)s->conf[(size_t)k * (size_t)s->K + (size_t)j]));
        cJSON_AddItemToArray(cm, row);
        cJSON_AddItemToArray(lj, cJSON_CreateString(s->names[k]));
    }
    char *text = cJSON_PrintUnformatted(root);
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(root);
}

int cmd_evaluate(int argc, char **argv)
{
    eval_opts o = { 0 };
    const char *dir;
    int rc;
    if (!parse_evaluate(argc, argv, &o, &dir, &rc))
        return rc;
    crest_model *m = NULL;
    crest_dataset *ds = NULL;
    scores s = { 0 };
    int err = load_model(dir, &o, &m);
    if (!err)
        err = load_data(m, &o, &ds);
    if (!err)
        err = cli_score(m, ds, false, &s);
    if (!err && o.json)
        report_json(&s);
    else if (!err)
        report_text(&s);
    cli_scores_free(&s);
    crest_model_free(m);
    crest_dataset_free(ds);
    return err > 0 ? err : err ? cli_fail("evaluate", err) : EXIT_OK;
}
