/* evaluate.c - `crest evaluate`, `crest predict`, `crest summary`. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static const char *eval_help =
    "usage: crest evaluate DIR --data SPEC [--label COL] [--limit N] [--json] [--threads T]\n"
    "  Loss, accuracy, per-class precision/recall/F1 and the confusion matrix.\n"
    "  Image sources (folders, IDX sets) go through the model's recorded image\n"
    "  preprocessing, decoded in passes; --limit N: the first N samples only.\n"
    "  Tables (.csv, .arff, penguins) go through the model's feature spec;\n"
    "  --holdout N scores only every Nth row (as train --holdout N held out).\n";

int cmd_evaluate(int argc, char **argv)
{
    cli_args a = { argc, 0, argv, "evaluate" };
    const char *name, *val, *dir = NULL, *data = NULL, *v, *label = NULL;
    bool inl, json = false;
    long threads = 0, holdout = 0, limit = 0;
    char delim = 0;
    int rc = 0;
    while (cli_next(&a, &name, &val, &inl)) {
        if (!name) {
            if (dir)
                return cli_usage("evaluate", "unexpected argument '%s'", val);
            dir = val;
        } else if (!strcmp(name, "--help")) {
            fputs(eval_help, stdout);
            return EXIT_OK;
        } else if (!strcmp(name, "--json")) {
            json = true;
        } else if (!strcmp(name, "--data")) {
            if ((rc = cli_value(&a, name, val, &data)))
                return rc;
        } else if (!strcmp(name, "--threads")) {
            if ((rc = cli_value(&a, name, val, &v)) ||
                (rc = cli_int("evaluate", name, v, 1, 256, &threads)))
                return rc;
        } else if (!strcmp(name, "--label")) {
            if ((rc = cli_value(&a, name, val, &label)))
                return rc;
        } else if (!strcmp(name, "--limit")) {
            if ((rc = cli_value(&a, name, val, &v)) ||
                (rc = cli_int("evaluate", name, v, 1, 1L << 40, &limit)))
                return rc;
        } else if (!strcmp(name, "--holdout")) {
            if ((rc = cli_value(&a, name, val, &v)) ||
                (rc = cli_int("evaluate", name, v, 2, 1000, &holdout)))
                return rc;
        } else if (!strcmp(name, "--delimiter")) {
            if ((rc = cli_value(&a, name, val, &v)) || (rc = cli_delimiter("evaluate", v, &delim)))
                return rc;
        } else {
            return cli_usage("evaluate", "unknown option %s", name);
        }
    }
    if (!dir || !data)
        return cli_usage("evaluate", "needs a model folder and --data");
    crest_model *m = NULL;
    crest_dataset *ds = NULL;
    float *probs = NULL;
    long *conf = NULL;
    char **names = NULL;
    crest_metrics met;
    int err = crest_model_load(&m, dir);
    if (!err && threads)
        err = crest_model_set_threads(m, (int)threads);
    if (!err)
        err = crest_compile(m, &(crest_compile_opts){ .loss = model_loss(m) });
    if (!err && cli_is_table(data)) {
        if ((rc = cli_table_dataset(m, data, label, holdout, delim, &ds)))
            goto out;
    } else if (!err && (rc = cli_load_for_model(m, "evaluate", data, &ds))) {
        goto out;
    }
    if (!err && limit > 0 && (size_t)limit < crest_dataset_size(ds)) {
        crest_dataset *sl = NULL;
        err = crest_dataset_slice(ds, 0, (size_t)limit, &sl);
        crest_dataset_free(ds);
        ds = sl;
    }
    size_t n = crest_dataset_size(ds);
    int K = (int)crest_model_output_size(m);
    const int32_t *labels = crest_dataset_labels(ds);
    if (!err && !labels) {
        fprintf(stderr, "crest evaluate: %s has no integer labels\n", data);
        rc = EXIT_INPUT;
        goto out;
    }
    if (!err) {
        probs = malloc((n ? n : 1) * (size_t)K * sizeof *probs);
        conf = calloc((size_t)K * (size_t)K, sizeof *conf);
        names = cli_class_names(m, K);
        if (!probs || !conf || !names) {
            fprintf(stderr, "crest evaluate: out of memory\n");
            rc = EXIT_RUN;
            goto out;
        }
        /* one forward pass per cache-sized batch gives metrics and outputs */
        err = crest_evaluate_probs(m, ds, 0, &met, probs);
    }
    if (err) {
        rc = cli_fail("evaluate", err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (probs[i * (size_t)K + k] > probs[i * (size_t)K + best])
                best = k;
        conf[(size_t)labels[i] * (size_t)K + (size_t)best]++;
    }
    cJSON *root = cJSON_CreateObject(), *pc = NULL, *cm = NULL;
    if (json) {
        cJSON_AddNumberToObject(root, "n", (double)n);
        cJSON_AddNumberToObject(root, "loss", met.loss);
        cJSON_AddNumberToObject(root, "accuracy", met.accuracy);
        pc = cJSON_AddArrayToObject(root, "per_class");
        cm = cJSON_AddArrayToObject(root, "confusion");
        cJSON *lj = cJSON_AddArrayToObject(root, "labels");
        for (int k = 0; k < K; k++)
            cJSON_AddItemToArray(lj, cJSON_CreateString(names[k]));
    } else {
        printf("n: %zu\nloss: %.4f\naccuracy: %.4f\n\n%-8s %9s %9s %9s %8s\n", n, met.loss,
               met.accuracy, "class", "precision", "recall", "f1", "support");
    }
    for (int k = 0; k < K; k++) {
        long tp = conf[(size_t)k * K + k], col = 0, row = 0;
        for (int j = 0; j < K; j++) {
            col += conf[(size_t)j * K + k];
            row += conf[(size_t)k * K + j];
        }
        double p = col ? (double)tp / col : 0, r = row ? (double)tp / row : 0;
        double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
        if (json) {
            cJSON *o = cJSON_CreateObject(), *rowj = cJSON_CreateArray();
            cJSON_AddStringToObject(o, "label", names[k]);
            cJSON_AddNumberToObject(o, "precision", p);
            cJSON_AddNumberToObject(o, "recall", r);
            cJSON_AddNumberToObject(o, "f1", f1);
            cJSON_AddNumberToObject(o, "support", (double)row);
            cJSON_AddItemToArray(pc, o);
            for (int j = 0; j < K; j++)
                cJSON_AddItemToArray(rowj, cJSON_CreateNumber((double)conf[(size_t)k * K + j]));
            cJSON_AddItemToArray(cm, rowj);
        } else {
            printf("%-8s %9.4f %9.4f %9.4f %8ld\n", names[k], p, r, f1, row);
        }
    }
    if (json) {
        char *s = cJSON_PrintUnformatted(root);
        if (s)
            puts(s);
        free(s);
    } else {
        printf("\nconfusion (rows: true class, columns: predicted)\n");
        for (int k = 0; k < K; k++) {
            for (int j = 0; j < K; j++)
                printf("%6ld", conf[(size_t)k * K + j]);
            printf("\n");
        }
    }
    cJSON_Delete(root);
out:
    free(probs);
    free(conf);
    cli_class_names_free(names);
    crest_model_free(m);
    crest_dataset_free(ds);
    return rc;
}

/* ---- predict ------------------------------------------------------------ */

static const char *predict_help =
    "usage: crest predict DIR INPUT... [--top K] [--json]\n"
    "       crest predict DIR --data SPEC [--limit N] [--top K] [--json]\n"
    "  INPUT: a JPEG or PNG image (through the model's recorded preprocessing), a\n"
    "  raw little-endian float32 file (.f32) of one or more samples of the model's\n"
    "  input shape, or a table (.csv with a header row, .arff) of raw\n"
    "  rows for a model trained on a table (its feature spec is applied; a label\n"
    "  column, if present, is ignored); any other kind is an error. --data:\n"
    "  samples of a data set (an image folder, IDX set or image file goes\n"
    "  through the model's recorded image preprocessing).\n"
    "  Prints each sample's top classes; --json prints all probabilities.\n";

static void print_row(cJSON *arr, const char *src, size_t i, const float *p, int K, int top,
                      char **names)
{
    if (arr) {
        cJSON *o = cJSON_CreateObject(), *pa = cJSON_CreateArray();
        int best = 0;
        for (int k = 1; k < K; k++)
            best = p[k] > p[best] ? k : best;
        cJSON_AddStringToObject(o, "input", src);
        cJSON_AddNumberToObject(o, "index", (double)i);
        cJSON_AddStringToObject(o, "class", names[best]);
        for (int k = 0; k < K; k++)
            cJSON_AddItemToArray(pa, cJSON_CreateNumber(p[k]));
        cJSON_AddItemToObject(o, "probs", pa);
        cJSON_AddItemToArray(arr, o);
        return;
    }
    printf("%s[%zu]:", src, i);
    bool used[4096] = { 0 };
    for (int t = 0; t < top && t < K && K <= 4096; t++) {
        int best = -1;
        for (int k = 0; k < K; k++)
            if (!used[k] && (best < 0 || p[k] > p[best]))
                best = k;
        used[best] = true;
        printf(" %s (%.4f)", names[best], p[best]);
    }
    printf("\n");
}

static bool has_ext(const char *path, const char *ext)
{
    const char *dot = strrchr(path, '.');
    return dot && !strchr(dot, '/') && !strcasecmp(dot, ext);
}

/* A JPEG or PNG by its name. */
static bool is_image_file(const char *path)
{
    return has_ext(path, ".jpg") || has_ext(path, ".jpeg") || has_ext(path, ".png");
}

/* INPUT as a lazy set of one sample: an image file through the model's
 * recorded transform. Returns an exit code. */
static int open_image_input(crest_model *m, const char *src, size_t per, crest_dataset **out)
{
    crest_image_opts io;
    int err = crest_model_image_opts(m, &io);
    if (err && err != CREST_E_NOMEM) {   /* name the file, not only the model */
        fprintf(stderr, "crest predict: %s: the model takes no image files (%s)\n", src,
                crest_last_error());
        return EXIT_INPUT;
    }
    if (!err && (size_t)io.height * (size_t)io.width * (size_t)(io.channels ? io.channels : 3) != per) {
        fprintf(stderr, "crest predict: %s: the model's recorded image size %dx%d does not fit "
                        "its input\n", src, io.width, io.height);
        return EXIT_INPUT;
    }
    if (!err)
        err = cli_open_images("predict", src, &io, out);
    return err ? cli_fail("predict", err) : EXIT_OK;
}

int cmd_predict(int argc, char **argv)
{
    cli_args a = { argc, 0, argv, "predict" };
    const char *name, *val, *dir = NULL, *data = NULL, *v, *inputs[256];
    int n_inputs = 0, rc = 0;
    bool inl, json = false;
    long top = 1, limit = -1;
    while (cli_next(&a, &name, &val, &inl)) {
        if (!name) {
            if (!dir)
                dir = val;
            else if (n_inputs < 256)
                inputs[n_inputs++] = val;
            else
                return cli_usage("predict", "at most 256 inputs");
        } else if (!strcmp(name, "--help")) {
            fputs(predict_help, stdout);
            return EXIT_OK;
        } else if (!strcmp(name, "--json")) {
            json = true;
        } else if (!strcmp(name, "--data")) {
            if ((rc = cli_value(&a, name, val, &data)))
                return rc;
        } else if (!strcmp(name, "--top") || !strcmp(name, "--limit")) {
            if ((rc = cli_value(&a, name, val, &v)) ||
                (rc = cli_int("predict", name, v, 1, 1L << 40, name[2] == 't' ? &top : &limit)))
                return rc;
        } else {
            return cli_usage("predict", "unknown option %s", name);
        }
    }
    if (!dir || (!n_inputs && !data))
        return cli_usage("predict", "needs a model folder and inputs or --data");
    char table_path[1024];
    if (data && cli_is_table(data) && n_inputs < 256) {   /* --data penguins, --data x.csv */
        inputs[n_inputs++] = cli_table_path(data, table_path, sizeof table_path);
        data = NULL;
    }
    crest_model *m = NULL;
    crest_dataset *ds = NULL;
    float *x = NULL, *probs = NULL;
    char **names = NULL;
    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *arr = root ? cJSON_AddArrayToObject(root, "predictions") : NULL;
    int err = crest_model_load(&m, dir);
    if (err) {
        rc = cli_fail("predict", err);
        goto out;
    }
    int K = (int)crest_model_output_size(m);
    size_t per = (size_t)crest_dims_count(crest_model_input_shape(m));
    if (!(names = cli_class_names(m, K))) {
        rc = cli_fail("predict", CREST_E_NOMEM);
        goto out;
    }
    for (int f = 0; f <= n_inputs && !rc; f++) {
        const char *src = f < n_inputs ? inputs[f] : data;
        size_t n = 0;
        if (!src || (f == n_inputs && !data))
            break;
        free(x);
        x = NULL;
        if (f < n_inputs && cli_is_table(src)) {   /* raw rows through the feature spec */
            rc = cli_predict_table(m, src, (int)top, limit, arr);
            continue;
        }
        crest_dataset_free(ds);
        ds = NULL;
        if (f == n_inputs) {
            if ((rc = cli_load_for_model(m, "predict", data, &ds)))
                break;
            n = crest_dataset_size(ds);
            if (limit >= 0 && (size_t)limit < n)
                n = (size_t)limit;
            if ((size_t)crest_dims_count(crest_dataset_sample_shape(ds)) != per) {
                fprintf(stderr, "crest predict: %s samples do not fit the model input\n", data);
                rc = EXIT_INPUT;
                break;
            }
        } else if (is_image_file(src)) {   /* preprocessed as the model recorded */
            if ((rc = open_image_input(m, src, per, &ds)))
                break;
            n = 1;
        } else if (!has_ext(src, ".f32")) {
            fprintf(stderr, "crest predict: %s: unknown kind of input (give a JPEG or PNG "
                            "image, raw float32 samples as .f32, or a .csv / .arff table)\n",
                    src);
            rc = EXIT_INPUT;
            break;
        } else {
            FILE *fp = fopen(src, "rb");
            long len = -1;
            if (fp && fseek(fp, 0, SEEK_END) == 0)
                len = ftell(fp);
            if (!fp || len < 0 || len % (long)(per * 4) != 0 || len == 0) {
                fprintf(stderr, "crest predict: %s: %s\n", src,
                        !fp ? "cannot open" : "size is not a whole number of float32 samples");
                if (fp)
                    fclose(fp);
                rc = EXIT_INPUT;
                break;
            }
            n = (size_t)len / (per * 4);
            x = malloc((size_t)len);
            rewind(fp);
            if (!x || fread(x, 1, (size_t)len, fp) != (size_t)len) {
                fprintf(stderr, "crest predict: %s: read failed\n", src);
                fclose(fp);
                rc = EXIT_INPUT;
                break;
            }
            fclose(fp);
        }
        free(probs);
        probs = malloc((n ? n : 1) * (size_t)K * sizeof *probs);
        if (!probs) {
            rc = EXIT_RUN;
            break;
        }
        if (ds && n < crest_dataset_size(ds)) {   /* --limit */
            crest_dataset *sl = NULL;
            err = crest_dataset_slice(ds, 0, n, &sl);
            crest_dataset_free(ds);
            ds = sl;
        }
        if (!err)
            err = x ? crest_predict(m, x, n, probs) : crest_predict_dataset(m, ds, probs);
        if (err) {
            rc = cli_fail("predict", err);
            break;
        }
        for (size_t i = 0; i < n; i++)
            print_row(arr, src, i, probs + i * (size_t)K, K, (int)top, names);
    }
    if (!rc && root) {
        char *s = cJSON_PrintUnformatted(root);
        if (s)
            puts(s);
        free(s);
    }
out:
    cJSON_Delete(root);
    free(x);
    free(probs);
    cli_class_names_free(names);
    crest_model_free(m);
    crest_dataset_free(ds);
    return rc;
}

/* ---- summary ------------------------------------------------------------ */

int cmd_summary(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--help")) {
            puts("usage: crest summary MODEL [--json]");
            return EXIT_OK;
        } else if (argv[i][0] == '-' || path)
            return cli_usage("summary", "unexpected argument '%s'", argv[i]);
        else
            path = argv[i];
    }
    if (!path)
        return cli_usage("summary", "needs a model");
    crest_model *m = NULL;
    int err = crest_model_load(&m, path);
    char *s = err ? NULL : crest_model_summary(m, json);
    if (!s) {
        crest_model_free(m);
        return cli_fail("summary", err ? err : CREST_E_NOMEM);
    }
    fputs(s, stdout);
    if (json)
        putchar('\n');
    crest_free(s);
    crest_model_free(m);
    return EXIT_OK;
}
