/* fuzz_spec.c - a feature spec (--columns SPEC.json, src/features/spec.c).
 *
 * The input is the spec's JSON. A spec that parses is written back and
 * parsed again, adapted on a small fixed table (columns a, b, c, d, tags and
 * label), transformed into a data set, and one row is run through a model
 * whose first layer is DenseFeatures. */
#include "fuzz.h"

static const char table[] =
    "a,b,c,d,tags,label\n"
    "1.5,x,3,red,p q,yes\n"
    "-2,y,1,blue,q,no\n"
    "NA,x,7,,p,yes\n"
    "4e3,z,3,red,r p q,no\n";

static const char *const names[] = { "a", "b", "c", "d", "tags", "label" };
static const char *const values[] = { "0.5", "y", "3", "green", "p r", "no" };

static void run_model(const crest_features *f)
{
    int w = crest_features_width(f);
    if (w < 1 || w > 65536)
        return;
    crest_model *m = NULL;
    float *row = malloc((size_t)w * sizeof *row), p[2];
    if (!row)
        abort();
    if (crest_sequential_new(&m, crest_shape(1, w)) != CREST_OK) {
        free(row);
        return;
    }
    crest_model_set_threads(m, 1);
    if (crest_add(m, crest_dense_features(f)) == CREST_OK &&
        crest_add(m, crest_dense(2, CREST_SOFTMAX)) == CREST_OK &&
        crest_features_transform(f, names, values, 6, row) == CREST_OK)
        crest_predict(m, row, 1, p);
    crest_model_free(m);
    free(row);
}

static void adapted(crest_features *f, const char *csv)
{
    if (crest_features_adapt(f, csv, NULL) != CREST_OK)
        return;
    crest_dataset *d = NULL;
    if (crest_features_dataset(&d, f, csv, NULL, false) == CREST_OK)
        crest_dataset_free(d);
    run_model(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char csv[600];
    if (!csv[0])
        fz_write("t.csv", table, sizeof table - 1, csv, sizeof csv);
    char *text = fz_str(data, size);
    crest_features *f = NULL;
    if (crest_features_parse(&f, text) == CREST_OK) {
        char *js = crest_features_json(f, false);
        crest_features *back = NULL;
        if (!js || crest_features_parse(&back, js) != CREST_OK)
            __builtin_trap();   /* what crest writes it must read */
        crest_features_free(back);
        crest_free(js);
        adapted(f, csv);
        crest_features_free(f);
    }
    free(text);
    return 0;
}
