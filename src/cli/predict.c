/* predict.c - `crest predict`: class probabilities for image files, .f32
 * samples, table rows or a data set. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct predict_opts {
    const char *data;
    long top, limit;   /* limit < 0: every sample */
    bool json;
    const char *custom_layers, *preprocess;
    int image_size[2];
} predict_opts;

#define T predict_opts
static const cli_opt predict_options[] = {
    { CLI_STR_OPT(T, "--data", data), .arg = "SPEC",
      .help = "samples of a data set (an image folder, IDX set or image file goes\n"
              "through the model's recorded image preprocessing), or a table" },
    { CLI_INT_OPT(T, "--limit", limit, 1, 1L << 40), .arg = "N",
      .help = "the first N samples of --data or of a table" },
    { CLI_INT_OPT(T, "--top", top, 1, 1L << 40), .arg = "K",
      .help = "the K most probable classes of each sample (default 1)" },
    { CLI_FLAG_OPT(T, "--json", json), .help = "{\"predictions\":[{\"input\",\"index\",\"class\","
                                               "\"probs\":[...]}]}: all probabilities" },
    CLI_IMAGE_OPTS(T, preprocess, image_size, 0),
    { CLI_CUSTOM_LAYERS_OPT(T, custom_layers) },
};
#undef T

const cli_command predict_cmd = {
    .name = "predict",
    .usage = "crest predict DIR INPUT... [--top K] [--json]\n"
             "       crest predict DIR --data SPEC [--limit N] [--top K] [--json]",
    .about = "  INPUT: a JPEG or PNG image (through the model's recorded preprocessing), a\n"
             "  raw little-endian float32 file (.f32) of one or more samples of the model's\n"
             "  input shape, or a table (.csv with a header row, .arff) of raw\n"
             "  rows for a model trained on a table (its feature spec is applied; a label\n"
             "  column, if present, is ignored); any other kind is an error.\n"
             "  Prints each sample's top classes; --json prints all probabilities.\n",
    CLI_OPTS(predict_options),
    .max_pos = 257, .too_many = "at most 256 inputs",
};

/* One `crest predict` run: the model and what every input shares. */
typedef struct predict_run {
    const predict_opts *o;
    crest_model *m;
    int K;              /* classes */
    size_t per;         /* input values per sample */
    char **names;       /* the K class names */
    cJSON *root, *arr;  /* --json: {"predictions": arr} */
} predict_run;

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
    /* the classes in order of (probability down, index up), any count */
    int prev = -1;
    for (int t = 0; t < top && t < K; t++) {
        int best = -1;
        for (int k = 0; k < K; k++) {
            bool after = prev < 0 || p[k] < p[prev] || (p[k] == p[prev] && k > prev);
            if (after && (best < 0 || p[k] > p[best]))
                best = k;
        }
        if (best < 0)
            break;
        printf(" %s (%.4f)", names[best], p[best]);
        prev = best;
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

/* A model whose input size is unknown (None) runs at the size of its
 * recorded image transform (what it was trained at); other inputs must
 * then give their shape (crest infer --shape). */
static int fix_unknown_size(crest_model *m)
{
    crest_dims in = crest_model_input_shape(m);
    crest_image_opts io;
    if (crest_dims_count(in) >= 0 || in.ndim != 3 || crest_model_image_opts(m, &io))
        return CREST_OK;
    return crest_model_set_input_shape(m, crest_shape(3, io.height, io.width,
                                                      io.channels ? io.channels : 3));
}

/* INPUT as a lazy set of one sample: an image file through the model's
 * recorded transform. Returns an exit code. */
static int open_image_input(crest_model *m, const char *src, size_t per, crest_dataset **out)
{
    crest_image_opts io;
    int err = crest_model_image_opts(m, &io);
    if (err && err != CREST_E_NOMEM) {   /* name the file, not only the model */
        fprintf(stderr, "crest predict: %s: the model takes no image files (%s)%s\n", src,
                crest_last_error(), cli_images_hint(m));
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

/* A .f32 file of whole samples into *x (*n of them). Returns an exit code. */
static int read_samples(const char *src, size_t per, float **x, size_t *n)
{
    FILE *fp = fopen(src, "rb");
    long len = -1;
    if (fp && fseek(fp, 0, SEEK_END) == 0)
        len = ftell(fp);
    if (!fp || len < 0 || len % (long)(per * 4) != 0 || len == 0) {
        fprintf(stderr, "crest predict: %s: %s\n", src,
                !fp ? "cannot open" : "size is not a whole number of float32 samples");
        if (fp)
            fclose(fp);
        return EXIT_INPUT;
    }
    *n = (size_t)len / (per * 4);
    *x = malloc((size_t)len);
    rewind(fp);
    bool ok = *x && fread(*x, 1, (size_t)len, fp) == (size_t)len;
    fclose(fp);
    if (!ok) {
        fprintf(stderr, "crest predict: %s: read failed\n", src);
        return EXIT_INPUT;
    }
    return EXIT_OK;
}

/* --data: the model's kind of samples, the first --limit of them. */
static int open_data(const predict_run *r, crest_dataset **ds, size_t *n)
{
    int rc = cli_load_for_model(r->m, "predict", r->o->data, ds);
    if (rc)
        return rc;
    *n = crest_dataset_size(*ds);
    if (r->o->limit >= 0 && (size_t)r->o->limit < *n)
        *n = (size_t)r->o->limit;
    if ((size_t)crest_dims_count(crest_dataset_sample_shape(*ds)) != r->per) {
        fprintf(stderr, "crest predict: %s samples do not fit the model input\n", r->o->data);
        return EXIT_INPUT;
    }
    return EXIT_OK;
}

/* The samples of src (--data when is_data): a data set in *ds or raw
 * floats in *x, *n of them. Returns an exit code. */
static int open_source(const predict_run *r, const char *src, bool is_data, crest_dataset **ds,
                       float **x, size_t *n)
{
    if (is_data)
        return open_data(r, ds, n);
    if (is_image_file(src)) {   /* preprocessed as the model recorded */
        *n = 1;
        return open_image_input(r->m, src, r->per, ds);
    }
    if (!has_ext(src, ".f32")) {
        fprintf(stderr, "crest predict: %s: unknown kind of input (give a JPEG or PNG "
                        "image, raw float32 samples as .f32, or a .csv / .arff table)\n", src);
        return EXIT_INPUT;
    }
    return read_samples(src, r->per, x, n);
}

/* The probabilities of every sample of one input, printed. */
static int predict_source(const predict_run *r, const char *src, bool is_data)
{
    if (!is_data && cli_is_table(src))   /* raw rows through the feature spec */
        return cli_predict_table(r->m, src, (int)r->o->top, r->o->limit, r->arr);
    crest_dataset *ds = NULL;
    float *x = NULL, *probs = NULL;
    size_t n = 0;
    int err = 0, rc = open_source(r, src, is_data, &ds, &x, &n);
    if (!rc && !(probs = malloc((n ? n : 1) * (size_t)r->K * sizeof *probs)))
        rc = EXIT_RUN;
    if (!rc && ds && n < crest_dataset_size(ds)) {   /* --limit */
        crest_dataset *sl = NULL;
        err = crest_dataset_slice(ds, 0, n, &sl);
        crest_dataset_free(ds);
        ds = sl;
    }
    if (!rc && !err)
        err = x ? crest_predict(r->m, x, n, probs) : crest_predict_dataset(r->m, ds, probs);
    if (!rc && err)
        rc = cli_fail("predict", err);
    for (size_t i = 0; !rc && i < n; i++)
        print_row(r->arr, src, i, probs + i * (size_t)r->K, r->K, (int)r->o->top, r->names);
    crest_dataset_free(ds);
    free(x);
    free(probs);
    return rc;
}

/* DIR, then inputs or --data; --data naming a table becomes an input (its
 * path in buf: "penguins" is one). */
static bool parse_predict(int argc, char **argv, predict_opts *o, cli_parsed *p, char *buf,
                          size_t size, int *rc)
{
    if (!cli_parse(&predict_cmd, argc, argv, o, p, rc))
        return false;
    if (!p->n_pos || (p->n_pos == 1 && !o->data)) {
        *rc = cli_usage("predict", "needs a model folder and inputs or --data");
        return false;
    }
    if (o->data && cli_is_table(o->data) && p->n_pos < CLI_MAX_POS) {   /* --data penguins */
        p->pos[p->n_pos++] = cli_table_path(o->data, buf, size);
        o->data = NULL;
    }
    return true;
}

int cmd_predict(int argc, char **argv)
{
    predict_opts o = { .top = 1, .limit = -1 };
    cli_parsed p;
    char table_path[1024];
    int rc;
    if (!parse_predict(argc, argv, &o, &p, table_path, sizeof table_path, &rc))
        return rc;
    predict_run r = { .o = &o };
    int err = crest_model_load(&r.m, p.pos[0]);
    rc = err ? cli_fail("predict", err)
             : cli_model_images(r.m, "predict", o.preprocess, o.image_size);
    if (!rc)
        err = fix_unknown_size(r.m);
    if (!rc && !err)
        rc = cli_class_output(r.m, "predict", p.pos[0]);
    if (!rc && !err) {
        r.K = (int)crest_model_output_size(r.m);
        r.per = (size_t)crest_dims_count(crest_model_feed_shape(r.m));
        if (!(r.names = cli_class_names(r.m, r.K)))
            err = CREST_E_NOMEM;
    }
    rc = rc ? rc : err ? cli_fail("predict", err) : EXIT_OK;
    r.root = !rc && o.json ? cJSON_CreateObject() : NULL;
    r.arr = r.root ? cJSON_AddArrayToObject(r.root, "predictions") : NULL;
    cJSON *labels = r.root ? cJSON_AddArrayToObject(r.root, "labels") : NULL;
    for (int k = 0; labels && k < r.K; k++)   /* what each "probs" entry is */
        cJSON_AddItemToArray(labels, cJSON_CreateString(r.names[k]));
    for (int f = 1; f < p.n_pos && !rc; f++)
        rc = predict_source(&r, p.pos[f], false);
    if (!rc && o.data)
        rc = predict_source(&r, o.data, true);
    if (!rc && r.root) {
        char *s = cJSON_PrintUnformatted(r.root);
        if (s)
            puts(s);
        free(s);
    }
    cJSON_Delete(r.root);
    cli_class_names_free(r.names);
    crest_model_free(r.m);
    return rc;
}
