/* tabular.c - `crest train` / `evaluate` on tables: feature columns, a
 * DenseFeatures layer and a Dense softmax head (way 4). */
#include "cli.h"
#include "dist.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

bool cli_is_table(const char *data)
{
    return data && (ends_with(data, ".csv") || ends_with(data, ".tsv") ||
                    ends_with(data, ".arff") || !strcmp(data, "penguins"));
}

const char *cli_table_path(const char *data, char *buf, size_t size)
{
    if (strcmp(data, "penguins"))
        return data;
    snprintf(buf, size, "%s/penguins/penguins.csv", crest_data_dir());
    return buf;
}

int cli_delimiter(const char *cmd, const cli_opt *o, const char *v, void *dst)
{
    if (!strcmp(v, "\\t") || !strcmp(v, "tab"))
        v = "\t";
    if (strlen(v) != 1 || *v == '"' || *v == '\n' || *v == '\r') {
        fprintf(stderr, "crest %s: %s '%s' must be one character (or \\t)\n", cmd, o->name, v);
        return EXIT_INPUT;
    }
    *(char *)dst = *v;
    return 0;
}

/* DenseFeatures, hidden Dense(relu) layers, Dropout, Dense softmax:
 * compiled, with the metadata the saved model carries. */
static int build_model(const train_opts *o, const crest_features *f, crest_model **out)
{
    crest_model *m = NULL;
    int err = crest_sequential_new(&m, crest_shape(1, crest_features_width(f)));
    if (!err) {
        crest_model_set_seed(m, (uint64_t)o->seed);
        if (o->threads)
            crest_model_set_threads(m, (int)o->threads);
        crest_add(m, crest_dense_features(f));
        err = cli_add_head(m, o, crest_features_classes(f));
    }
    if (!err) {
        crest_optimizer *opt = cli_optimizer(o, o->lr ? o->lr : 0.01);
        err = opt ? crest_compile(m, &(crest_compile_opts){
                        .optimizer = opt, .label_smoothing = (float)o->label_smoothing })
                  : CREST_E_ARG;
    }
    if (!err) {
        char meta[1024];
        snprintf(meta, sizeof meta,
                 "{\"crest\":{\"loss\":\"sparse_categorical_crossentropy\",\"data\":\"%s\","
                 "\"classes\":%d,\"preprocessing\":\"feature columns (DenseFeatures)\"}}",
                 strchr(o->data, '"') || strchr(o->data, '\\') ? "?" : o->data,
                 crest_features_classes(f));
        err = crest_model_set_metadata(m, meta);
    }
    if (err) {
        crest_model_free(m);
        m = NULL;
    }
    *out = m;
    return err;
}

/* A spec file, with --label filled in when it names none (and checked
 * against it when it does). Errors found here are printed and returned as
 * an exit code (> 0); library errors stay negative. */
static int read_spec(const char *file, const char *label, crest_features **f)
{
    FILE *fp = fopen(file, "rb");
    char *text = NULL;
    long len = -1;
    if (fp && fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 && len < (64L << 20))
        text = malloc((size_t)len + 1);
    if (text) {
        rewind(fp);
        if (fread(text, 1, (size_t)len, fp) != (size_t)len)
            len = -1;
        text[len < 0 ? 0 : len] = 0;
    }
    if (fp)
        fclose(fp);
    if (!text || len < 0) {
        free(text);
        fprintf(stderr, "crest train: cannot read %s\n", file);
        return EXIT_INPUT;
    }
    /* a UTF-8 byte-order mark is not JSON; a NUL byte would cut the text short */
    bool nul = strlen(text) != (size_t)len;
    cJSON *root = nul ? NULL : cJSON_Parse(text + (strncmp(text, "\xEF\xBB\xBF", 3) ? 0 : 3));
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        fprintf(stderr, "crest train: %s is not a JSON object\n", file);
        return EXIT_INPUT;
    }
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "label");
    int err = CREST_OK;
    if (!l)
        cJSON_AddStringToObject(root, "label", label);
    else if (!cJSON_IsString(l) || strcmp(l->valuestring, label)) {
        fprintf(stderr, "crest train: --label %s is not the label of %s\n", label, file);
        err = EXIT_INPUT;
    }
    char *js = err ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!err)
        err = js ? crest_features_parse(f, js) : CREST_E_NOMEM;
    free(js);
    return err;
}

/* Spec: given (--columns) and adapted, else inferred and printed for the
 * user to edit. */
static int load_spec(const train_opts *o, const char *path, const crest_table_opts *rows,
                     crest_features **f)
{
    int err;
    if (o->columns) {
        err = read_spec(o->columns, o->label, f);
        if (!err)
            err = crest_features_adapt(*f, path, rows);
        return err;
    }
    err = crest_features_infer(f, path, o->label, rows);
    if (!err) {
        char *js = crest_features_json(*f, true);
        if (js)
            printf("inferred feature spec (save, edit and pass with --columns):\n%s\n", js);
        crest_free(js);
    }
    return err;
}

/* One `crest train` run on a table: what its steps make and the last frees. */
typedef struct table_run {
    const train_opts *o;
    const char *path;          /* the table's file */
    crest_table_opts rows;     /* the rows trained on (all, or those not held out) */
    crest_features *f;
    crest_dataset *ds, *val, *test;   /* no ds when streamed (--chunk); test: --holdout */
    crest_model *m;
    crest_history *hist;
} table_run;

/* Every rank's rows (mine: this rank's, NULL if none) gathered in rank
 * order, which is file order, into r->ds on every rank. */
static int gather_table(table_run *r, const crest_dataset *mine)
{
    size_t rows = mine ? crest_dataset_size(mine) : 0, n = (size_t)cli_dist_sum((long)rows);
    size_t w = (size_t)crest_features_width(r->f);
    float *x = malloc((n ? n : 1) * w * sizeof *x), *ly = malloc((n ? n : 1) * sizeof *ly);
    float *my = malloc((rows ? rows : 1) * sizeof *my);
    int32_t *labels = malloc((n ? n : 1) * sizeof *labels);
    int err = x && ly && my && labels ? EXIT_OK : EXIT_RUN;
    if (err)
        fprintf(stderr, "crest train: out of memory gathering %zu rows\n", n);
    err = cli_dist_check("train", err);   /* all ranks gather, or none */
    static const float none[1];
    for (size_t i = 0; !err && i < rows; i++)   /* class ids: exact as floats */
        my[i] = (float)crest_dataset_labels(mine)[i];
    if (!err)
        err = cli_dist_gather_rows(mine ? crest_dataset_x(mine) : none, rows, w, 1, x, n, true);
    if (!err)
        err = cli_dist_gather_rows(my, rows, 1, 1, ly, n, true);
    for (size_t i = 0; !err && i < n; i++)
        labels[i] = (int32_t)ly[i];
    if (!err)
        err = crest_dataset_new(&r->ds, n, crest_shape(1, (int64_t)w), x, labels,
                                crest_features_classes(r->f));
    free(x);
    free(ly);
    free(my);
    free(labels);
    return err;
}

/* The training rows through the spec. Under mpirun each rank reads its
 * share of them (crest_shard_range of the selected rows, in file order),
 * and the shares are gathered: a bad row ends every rank, named by its
 * rank and line. */
static int table_rows(table_run *r)
{
    int ranks = cli_dist_size();
    if (ranks < 2)
        return crest_features_dataset(&r->ds, r->f, r->path, &r->rows, true);
    size_t total = 0, first = 0, count = 0;
    crest_dataset *mine = NULL;
    crest_table_opts part = r->rows;
    int err = crest_table_count_rows(r->path, &r->rows, &total);
    if (!err)
        crest_shard_range(total, ranks, cli_dist_rank(), &first, &count);
    part.skip_rows = first;
    part.max_rows = count;
    if (!err && count)   /* max_rows 0 would read them all */
        err = crest_features_dataset(&mine, r->f, r->path, &part, true);
    err = cli_dist_check("train", err);
    if (!err)
        err = gather_table(r, mine);
    crest_dataset_free(mine);
    if (!err)
        fprintf(stderr, "rows: %zu with a label, read on %d ranks\n",
                crest_dataset_size(r->ds), ranks);
    return err;
}

/* Step 1: the spec, then the rows through it: training (unless streamed),
 * --val or the seeded, stratified --val-split, the held-out rows. */
static int load_tables(table_run *r)
{
    const train_opts *o = r->o;
    char buf[1024];
    crest_table_opts held = r->rows;
    held.rows = CREST_ROWS_HOLDOUT;
    int err = load_spec(o, r->path, &r->rows, &r->f);
    if (cli_dist_size() > 1)   /* every rank goes on, or none */
        err = cli_dist_check("train", err);
    if (!err && !o->chunk)   /* streaming (--chunk) never holds the whole table */
        err = table_rows(r);
    if (!err && o->val)
        err = crest_features_dataset(&r->val, r->f, cli_table_path(o->val, buf, sizeof buf), NULL,
                                     true);
    if (!err && r->ds)
        err = cli_split_val(o, &r->ds, &r->val);
    if (!err && o->holdout)
        err = crest_features_dataset(&r->test, r->f, r->path, &held, true);
    if (cli_dist_size() > 1)
        err = cli_dist_check("train", err);
    return err;
}

/* Step 2: the model's summary, then fit (streamed with --chunk). */
static int fit_table(table_run *r)
{
    const train_opts *o = r->o;
    char *s = crest_model_summary(r->m, false);
    if (s)
        fputs(s, stdout);
    crest_free(s);
    char ck[4096];   /* streaming (--chunk) runs have no checkpoints */
    crest_fit_opts fo = cli_fit_opts(o, o->chunk ? NULL : cli_checkpoint_dir(o, ck, sizeof ck),
                                     "fit");
    fo.epochs = (int)(o->epochs ? o->epochs : 30);
    fo.validation_data = r->val;
    fo.history = r->hist;
    if (o->chunk)   /* streamed: rows for progress */
        fo.progress = cli_progress_rows;
    if (o->chunk)
        return crest_fit_table(r->m, r->f, r->path, &r->rows, &fo, (int)o->chunk);
    /* micro-shards of 8 rows summed in order: the same bits over any number
     * of ranks (each computes its part of every batch) and in the plain build */
    int err = cli_dist_fit_opts(&fo, true);
    float *cw = NULL;
    if (!err)
        err = cli_class_weight(o, r->m, r->ds, &cw);
    fo.class_weight = cw;
    if (!err)
        err = crest_fit(r->m, r->ds, &fo);
    free(cw);
    return err;
}

/* Step 3: --holdout N: the held-out rows scored. */
static int score_holdout(const table_run *r)
{
    crest_metrics met;
    int err = crest_evaluate(r->m, r->test, 256, &met);
    if (!err)
        printf("hold-out (1 row in %ld, %zu rows): loss %.4f accuracy %.4f\n", r->o->holdout,
               met.n, met.loss, met.accuracy);
    return err;
}

/* The report: scored on the validation rows, else the held-out rows
 * (--holdout), else the training rows (none when streamed without either:
 * the table is never in memory). */
static int table_report(const table_run *r)
{
    const train_opts *o = r->o;
    crest_model *saved = NULL;
    int err = cli_saved_model(o, r->m, &saved);
    const crest_dataset *ev = r->val ? r->val : r->test ? r->test : r->ds;
    if (!err)
        err = cli_train_report(&(cli_report){ .o = o, .kind = "feature columns and a Dense head",
            .n_phases = 1, .hist = { r->hist }, .phase = { "fit" },
            .first = { (int)o->initial_epoch }, .has_val = r->val != NULL,
            .scored = saved ? saved : r->m, .eval = ev, .val_is_eval = r->val != NULL,
            .eval_on = r->test ? "held-out" : NULL, .val_what = cli_val_what(o),
            .no_eval_why = "the table was streamed (--chunk) and there is no --val or --holdout data in memory" });
    crest_model_free(saved);
    return err;
}

int cli_train_table(const train_opts *o)
{
    char buf[1024];
    if (!o->label)
        return cli_usage("train", "tables need --label COLUMN");
    if (o->chunk && (o->resume || o->initial_epoch || o->checkpoint))
        return cli_usage("train", "--chunk streams the table: no --resume, --checkpoint nor "
                         "--initial-epoch");
    if (o->chunk && (o->val_split > 0 || o->patience || o->class_weight || cli_schedule_of(o)))
        return cli_usage("train", "--chunk streams the table: --val-split, --early-stop, "
                         "--class-weight and --lr-schedule need it in memory (for validation "
                         "use --val FILE or --holdout N)");
    table_run r = { .o = o, .path = cli_table_path(o->data, buf, sizeof buf),
                    .rows = { .delimiter = o->delimiter,
                              .rows = o->holdout ? CREST_ROWS_TRAIN : CREST_ROWS_ALL,
                              .holdout_every = (int)o->holdout } };
    r.hist = calloc(1, sizeof *r.hist);
    int err = r.hist ? load_tables(&r) : CREST_E_NOMEM;
    if (!err)
        err = build_model(o, r.f, &r.m);
    if (!err)
        err = fit_table(&r);
    bool many = cli_dist_size() > 1;   /* then rank 0 alone scores, saves, reports */
    if (many)
        err = cli_dist_check("train", err);
    bool here = !err && cli_dist_rank() == 0;
    if (here && r.test)
        err = score_holdout(&r);
    if (here && !err)
        err = cli_save_trained(r.m, o, cli_keep_best(o));
    if (here && !err)
        err = table_report(&r);
    if (many)   /* the ranks end with rank 0's word */
        err = cli_dist_check("train", err);
    free(r.hist);
    crest_model_free(r.m);
    crest_dataset_free(r.ds);
    crest_dataset_free(r.val);
    crest_dataset_free(r.test);
    crest_features_free(r.f);
    return err > 0 ? err : err ? cli_fail("train", err) : EXIT_OK;   /* > 0: reported */
}

/* crest.h's policy: spec columns the table lacks are missing values; say so. */
static void warn_absent(const char *cmd, const crest_features *f)
{
    const char *absent[8];
    int na = crest_features_absent(f, absent, 8);
    if (na > 0)
        fprintf(stderr, "crest %s: warning: no column ", cmd);
    for (int i = 0; i < na && i < 8; i++)
        fprintf(stderr, "%s%s", i ? ", " : "", absent[i]);
    if (na > 0)
        fprintf(stderr, "%s (read as missing values)\n", na > 8 ? ", ..." : "");
}

int cli_table_dataset(crest_model *m, const char *data, const char *label, long holdout,
                      char delimiter, crest_dataset **out)
{
    char buf[1024];
    const crest_features *f = crest_model_features(m);
    *out = NULL;
    if (!f) {
        fprintf(stderr, "crest: the model has no DenseFeatures layer, so it cannot read %s\n",
                data);
        return EXIT_INPUT;
    }
    char *js = crest_features_json(f, false);
    char want[300];
    snprintf(want, sizeof want, "\"label\":\"%s\"", label ? label : "");
    bool ok = !label || (js && strstr(js, want));
    crest_free(js);
    if (!ok) {
        fprintf(stderr, "crest: --label %s is not the label the model was trained on\n", label);
        return EXIT_INPUT;
    }
    crest_table_opts rows = { .delimiter = delimiter,
                              .rows = holdout ? CREST_ROWS_HOLDOUT : CREST_ROWS_ALL,
                              .holdout_every = (int)holdout };
    int err = crest_features_dataset(out, f, cli_table_path(data, buf, sizeof buf), &rows, true);
    if (!err)
        warn_absent("evaluate", f);
    return err ? cli_fail("evaluate", err) : 0;
}

int cli_predict_table(crest_model *m, const char *path, int top, long limit, cJSON *arr)
{
    const crest_features *f = crest_model_features(m);
    if (!f) {
        fprintf(stderr, "crest predict: the model has no DenseFeatures layer, so it cannot "
                "read %s\n", path);
        return EXIT_INPUT;
    }
    float *p = NULL;
    size_t n = 0;
    int err = crest_predict_table(m, path, NULL, &p, &n);
    if (err)
        return cli_fail("predict", err);
    warn_absent("predict", f);
    int K = (int)crest_model_output_size(m);
    if (limit >= 0 && (size_t)limit < n)
        n = (size_t)limit;
    for (size_t i = 0; i < n; i++) {
        const float *pr = p + i * (size_t)K;
        if (arr) {
            cJSON *o = cJSON_CreateObject(), *pa = cJSON_CreateArray();
            cJSON_AddStringToObject(o, "input", path);
            cJSON_AddNumberToObject(o, "index", (double)i);
            for (int k = 0; k < K; k++)
                cJSON_AddItemToArray(pa, cJSON_CreateNumber(pr[k]));
            cJSON_AddItemToObject(o, "probs", pa);
            int best = 0;
            for (int k = 1; k < K; k++)
                best = pr[k] > pr[best] ? k : best;
            const char *nm = crest_features_class_name(f, best);
            cJSON_AddStringToObject(o, "class", nm ? nm : "");
            cJSON_AddItemToArray(arr, o);
            continue;
        }
        printf("%s[%zu]:", path, i);
        unsigned char used[4096] = { 0 };
        for (int t = 0; t < top && t < K && K <= 4096; t++) {
            int best = -1;
            for (int k = 0; k < K; k++)
                if (!used[k] && (best < 0 || pr[k] > pr[best]))
                    best = k;
            used[best] = 1;
            const char *nm = crest_features_class_name(f, best);
            printf(" %s (%.4f)", nm ? nm : "?", pr[best]);
        }
        printf("\n");
    }
    crest_free(p);
    return 0;
}
