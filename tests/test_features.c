/* test_features.c - feature columns: FarmHash (TF.js goldens, Keras'
 * Hashing example), every column type against hand-computed outputs, the
 * missing-value policy, the embedding op, spec round trips, penguins
 * accuracy on the fixed hold-out, save/load on raw rows, bad tables. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/column.h"
#include "oomutil.h"


static const char *put(const char *name, const char *text)
{
    static char path[8][256];
    static int k;
    char *p = path[k++ % 8];
    tu_write(tu_fixture_dir, name, text, strlen(text));
    snprintf(p, 256, "%s/%s", tu_fixture_dir, name);
    return p;
}


/* ---- FarmHash ----------------------------------------------------------- */

static void test_fingerprint_goldens(void **state)
{
    (void)state;
    char *text = tu_read("tests/golden", "farmhash.json");
    assert_non_null(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *strs = cJSON_GetObjectItem(root, "strings");
    const cJSON *m1 = cJSON_GetObjectItem(root, "mod_2147483647");
    const cJSON *m2 = cJSON_GetObjectItem(root, "mod_1000003");
    int n = cJSON_GetArraySize(strs), bad = 0;
    assert_true(n > 200);
    for (int i = 0; i < n; i++) {
        const char *s = cJSON_GetArrayItem(strs, i)->valuestring;
        uint64_t h = cr_fingerprint64(s, strlen(s));
        if ((double)(h % 2147483647u) != cJSON_GetArrayItem(m1, i)->valuedouble ||
            (double)(h % 1000003u) != cJSON_GetArrayItem(m2, i)->valuedouble) {
            print_error("length %zu: fingerprint differs from TF.js\n", strlen(s));
            bad++;
        }
    }
    cJSON_Delete(root);
    assert_int_equal(bad, 0);
}

/* One-column spec adapted on csv, then raw values -> model input. */
static crest_features *spec_on(const char *spec, const char *csv)
{
    crest_features *f = NULL;
    int rc = crest_features_parse(&f, spec);
    if (rc)
        print_error("%s\n", crest_last_error());
    assert_int_equal(rc, CREST_OK);
    if (csv) {
        rc = crest_features_adapt(f, put("adapt.csv", csv), NULL);
        if (rc)
            print_error("%s\n", crest_last_error());
        assert_int_equal(rc, CREST_OK);
    }
    return f;
}

static void row(const crest_features *f, const char *names, const char *values, float *out)
{
    char nb[256], vb[256];
    const char *n[16], *v[16];
    int k = 0;
    snprintf(nb, sizeof nb, "%s", names);
    snprintf(vb, sizeof vb, "%s", values);
    char *a = nb, *b = vb;
    for (;;) {   /* comma-separated, empty values kept */
        n[k] = a;
        v[k] = b;
        k++;
        char *ca = strchr(a, ','), *cb = strchr(b, ',');
        if (!ca || !cb)
            break;
        *ca = *cb = 0;
        a = ca + 1;
        b = cb + 1;
    }
    int rc = crest_features_transform(f, n, v, k, out);
    if (rc)
        print_error("%s\n", crest_last_error());
    assert_int_equal(rc, CREST_OK);
}

static void assert_floats(const float *got, const float *want, int n)
{
    for (int i = 0; i < n; i++)
        if (fabsf(got[i] - want[i]) > 1e-5f) {
            print_error("value %d: got %g, want %g\n", i, got[i], want[i]);
            fail();
        }
}

/* Each value of column col in gives the one output want[i] (an id). */
static void expect_ids(const crest_features *f, const char *col, const char *const *in,
                       const float *want, int n)
{
    for (int i = 0; i < n; i++) {
        float x;
        row(f, col, in[i], &x);
        if (x != want[i])
            print_error("%s = '%s': got %g, want %g\n", col, in[i], x, want[i]);
        assert_true(x == want[i]);
    }
}

static void test_keras_hashing_example(void **state)
{
    (void)state;
    /* keras.layers.Hashing(num_bins=3) on [['A'],['B'],['C'],['D'],['E']] -> 1,0,1,1,2 */
    crest_features *f = spec_on("{\"features\": {\"c\": {\"type\": \"string_hashed\", "
                                "\"num_bins\": 3, \"output_mode\": \"int\"}}}", "c\nA\n");
    const char *in[] = { "A", "B", "C", "D", "E" };
    const float want[] = { 1, 0, 1, 1, 2 };
    expect_ids(f, "c", in, want, 5);
    crest_features_free(f);
}

static void test_numeric_columns(void **state)
{
    (void)state;
    /* x: 1 2 3 4 and one NA -> mean 2.5, population variance 1.25 */
    const char *csv = "x,y\n1,0\n2,0\n3,0\nNA,0\n4,0\n";
    float o[4];
    crest_features *f = spec_on("{\"features\": {\"x\": \"float_normalized\"}}", csv);
    assert_int_equal(crest_features_width(f), 2);   /* value + missing indicator */
    row(f, "x", "1", o);
    assert_floats(o, (float[]){ (float)(-1.5 / sqrt(1.25)), 0 }, 2);
    row(f, "x", "NA", o);                           /* mean imputation -> 0, indicator 1 */
    assert_floats(o, (float[]){ 0, 1 }, 2);
    row(f, "y", "7", o);                            /* an absent column is missing */
    assert_floats(o, (float[]){ 0, 1 }, 2);
    crest_features_free(f);

    f = spec_on("{\"features\": {\"x\": {\"type\": \"float\", \"missing_indicator\": false}}}",
                csv);
    assert_int_equal(crest_features_width(f), 1);
    row(f, "x", "?", o);
    assert_floats(o, (float[]){ 2.5f }, 1);
    row(f, "x", "-3.25", o);
    assert_floats(o, (float[]){ -3.25f }, 1);
    crest_features_free(f);

    f = spec_on("{\"features\": {\"x\": {\"type\": \"float_rescaled\", \"scale\": 0.5, "
                "\"offset\": 1}}}", csv);
    row(f, "x", "3", o);
    assert_floats(o, (float[]){ 2.5f, 0 }, 2);
    crest_features_free(f);

    /* given boundaries: x < 0 -> 0, 0 <= x < 10 -> 1, x >= 10 -> 2 (one-hot) */
    f = spec_on("{\"features\": {\"x\": {\"type\": \"float_discretized\", "
                "\"bin_boundaries\": [0, 10], \"missing_indicator\": false}}}", csv);
    assert_int_equal(crest_features_width(f), 3);
    const char *in[] = { "-1", "0", "9.99", "10", "1e9" };
    const int bucket[] = { 0, 1, 1, 2, 2 };
    for (int i = 0; i < 5; i++) {
        float want[3] = { 0 };
        want[bucket[i]] = 1;
        row(f, "x", in[i], o);
        assert_floats(o, want, 3);
    }
    row(f, "x", "NA", o);                           /* mean 2.5 -> bucket 1 */
    assert_floats(o, (float[]){ 0, 1, 0 }, 3);
    crest_features_free(f);

    /* quantile bins from adapt: values 1..8, 4 bins -> boundaries at sorted
     * positions round(k/4 * 7) = 2, 4, 5 -> [3, 5, 6] */
    f = spec_on("{\"features\": {\"x\": {\"type\": \"float_discretized\", \"num_bins\": 4, "
                "\"output_mode\": \"int\"}}}", "x\n8\n1\n7\n2\n6\n3\n5\n4\n");
    char *js = crest_features_json(f, false);
    assert_non_null(strstr(js, "\"bin_boundaries\":[3,5,6]"));
    crest_free(js);
    const char *q[] = { "1", "2.9", "3", "5", "5.5", "6", "100" };
    const float qb[] = { 0, 0, 1, 2, 2, 3, 3 };
    expect_ids(f, "x", q, qb, 7);
    crest_features_free(f);
}

static void test_categorical_columns(void **state)
{
    (void)state;
    const char *csv = "c,n,w\nb,2007,1\na,2008.0,2\nb,2007,1\nc,NA,1\nb,2009,1\na,2007,1\nNA,2008,1\n";
    float o[8];
    /* learned: b (3) a (2) c (1); OOV id 0 first -> b=1 a=2 c=3 */
    crest_features *f = spec_on("{\"features\": {\"c\": \"string_categorical\"}}", csv);
    assert_int_equal(crest_features_width(f), 4);
    row(f, "c", "a", o);
    assert_floats(o, (float[]){ 0, 0, 1, 0 }, 4);
    row(f, "c", "zebra", o);                         /* unseen -> OOV */
    assert_floats(o, (float[]){ 1, 0, 0, 0 }, 4);
    row(f, "c", "NA", o);                            /* missing -> OOV */
    assert_floats(o, (float[]){ 1, 0, 0, 0 }, 4);
    crest_features_free(f);

    /* two OOV ids: unseen tokens hash into them; max_tokens caps the vocabulary */
    f = spec_on("{\"features\": {\"c\": {\"type\": \"string_categorical\", "
                "\"num_oov_indices\": 2, \"max_tokens\": 4, \"output_mode\": \"int\"}}}", csv);
    row(f, "c", "b", o);
    assert_true(o[0] == 2);
    row(f, "c", "c", o);                              /* cut by max_tokens: OOV */
    assert_true(o[0] == (float)(cr_fingerprint64("c", 1) % 2));
    row(f, "c", "zebra", o);
    assert_true(o[0] == (float)(cr_fingerprint64("zebra", 5) % 2));
    crest_features_free(f);

    /* vocabulary list, no OOV ids: unseen -> default_value -1 -> all zeros */
    f = spec_on("{\"features\": {\"c\": {\"type\": \"string_categorical\", "
                "\"vocabulary\": [\"x\", \"y\"], \"num_oov_indices\": 0}}}", NULL);
    assert_int_equal(crest_features_width(f), 2);
    row(f, "c", "y", o);
    assert_floats(o, (float[]){ 0, 1 }, 2);
    row(f, "c", "q", o);
    assert_floats(o, (float[]){ 0, 0 }, 2);
    crest_features_free(f);

    /* vocabulary file; default_value 1 for unseen tokens */
    const char *vf = put("vocab.txt", "red\r\ngreen\n\nblue\n");
    char spec[512];
    snprintf(spec, sizeof spec, "{\"features\": {\"c\": {\"type\": \"string_categorical\", "
             "\"vocabulary_file\": \"%s\", \"num_oov_indices\": 0, \"default_value\": 1}}}", vf);
    f = spec_on(spec, NULL);
    assert_int_equal(crest_features_width(f), 3);
    row(f, "c", "blue", o);
    assert_floats(o, (float[]){ 0, 0, 1 }, 3);
    row(f, "c", "pink", o);
    assert_floats(o, (float[]){ 0, 1, 0 }, 3);
    crest_features_free(f);

    /* integer_categorical: 2008.0 is 2008; learned 2007 (3) 2008 (2) 2009 (1) */
    f = spec_on("{\"features\": {\"n\": \"integer_categorical\"}}", csv);
    row(f, "n", "2008.0", o);
    assert_floats(o, (float[]){ 0, 0, 1, 0 }, 4);
    row(f, "n", "2010", o);
    assert_floats(o, (float[]){ 1, 0, 0, 0 }, 4);
    crest_features_free(f);

    /* integer_hashed: the decimal text, hashed */
    f = spec_on("{\"features\": {\"n\": {\"type\": \"integer_hashed\", \"num_bins\": 5}}}", csv);
    row(f, "n", "2007.0", o);
    float want[5] = { 0 };
    want[cr_fingerprint64("2007", 4) % 5] = 1;
    assert_floats(o, want, 5);
    crest_features_free(f);

    /* identity: the integer itself; out of range -> default_value */
    f = spec_on("{\"features\": {\"n\": {\"type\": \"identity\", \"num_buckets\": 4}}}", NULL);
    row(f, "n", "2", o);
    assert_floats(o, (float[]){ 0, 0, 1, 0 }, 4);
    row(f, "n", "9", o);
    assert_floats(o, (float[]){ 0, 0, 0, 0 }, 4);
    crest_features_free(f);
    f = spec_on("{\"features\": {\"n\": {\"type\": \"identity\", \"num_buckets\": 4, "
                "\"default_value\": 3}}}", NULL);
    row(f, "n", "-1", o);
    assert_floats(o, (float[]){ 0, 0, 0, 1 }, 4);
    crest_features_free(f);
}

static void test_multi_weighted_crossed(void **state)
{
    (void)state;
    float o[16];
    /* multi-hot and counts over "a|b" fields */
    const char *csv = "t,w,u\na|b,1,x\na,2,y\nb|c|a,1,x\n";
    crest_features *f = spec_on("{\"features\": {\"t\": {\"type\": \"string_categorical\", "
                                "\"separator\": \"|\", \"output_mode\": \"multi_hot\"}}}", csv);
    /* a (3) b (2) c (1): ids a=1 b=2 c=3 */
    row(f, "t", "c|a|a", o);
    assert_floats(o, (float[]){ 0, 1, 0, 1 }, 4);
    crest_features_free(f);
    f = spec_on("{\"features\": {\"t\": {\"type\": \"string_categorical\", "
                "\"separator\": \"|\", \"output_mode\": \"count\"}}}", csv);
    row(f, "t", "c|a|a|q", o);
    assert_floats(o, (float[]){ 1, 2, 0, 1 }, 4);
    crest_features_free(f);

    /* weighted categorical: the one-hot cell holds the weight column's value */
    f = spec_on("{\"features\": {\"u\": {\"type\": \"string_categorical\", "
                "\"weight_feature\": \"w\"}}}", csv);
    row(f, "u,w", "y,2.5", o);
    assert_floats(o, (float[]){ 0, 0, 2.5f }, 3);    /* x (2) y (1) */
    row(f, "u,w", "x,NA", o);                        /* missing weight: 0 */
    assert_floats(o, (float[]){ 0, 0, 0 }, 3);
    crest_features_free(f);

    /* crossed: fingerprint64("a|b_X_x") mod crossing_dim */
    f = spec_on("{\"features\": {\"t\": \"string_categorical\", \"u\": \"string_categorical\"},"
                " \"crosses\": [{\"features\": [\"t\", \"u\"], \"crossing_dim\": 7}]}", csv);
    assert_int_equal(crest_features_width(f), 4 + 3 + 7);
    row(f, "t,u", "a,x", o);
    float want[7] = { 0 };
    want[cr_fingerprint64("a_X_x", 5) % 7] = 1;
    assert_floats(o + 7, want, 7);
    row(f, "t,u", "NA,x", o);                        /* missing: "" in the cross */
    memset(want, 0, sizeof want);
    want[cr_fingerprint64("_X_x", 4) % 7] = 1;
    assert_floats(o + 7, want, 7);
    char *js = crest_features_json(f, false);
    assert_non_null(strstr(js, "\"name\":\"t_X_u\""));
    crest_free(js);
    crest_features_free(f);

    /* embedding input: ids in slots, padded with -1; weights after */
    f = spec_on("{\"features\": {\"x\": \"float\", \"t\": {\"type\": \"string_categorical\", "
                "\"separator\": \"|\", \"max_values\": 3, \"output_mode\": \"embedding\", "
                "\"weight_feature\": \"w\"}}}", "x,t,w\n1,a|b,1\n2,a,1\n");
    assert_int_equal(crest_features_width(f), 1 + 3 + 3);
    row(f, "x,t,w", "5,b|zz,0.5", o);
    assert_floats(o, (float[]){ 5, 2, 0, -1, 0.5f, 0.5f, 0 }, 7);
    crest_features_free(f);
}

/* embedding_bag by hand: table rows r0..r3, combiners with weights */
static void test_embedding_op(void **state)
{
    (void)state;
    cr_graph *g = cr_graph_new(NULL, false);
    cr_rng r;
    cr_rng_seed(&r, 1);
    cr_node *t = cr_example_var(g, &r, crest_shape(2, 4, 2), 0, 1, 0);
    cr_node *x = cr_example_var(g, &r, crest_shape(2, 2, 4), 0, 1, 0);
    const float T[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    /* row 0: ids 1, 3 weights 1, 3; row 1: id 2 and an out-of-range 9 */
    const float X[8] = { 1, 3, 1, 3, 2, 9, 2, 1 };
    memcpy(t->w->val, T, sizeof T);
    memcpy(x->w->val, X, sizeof X);
    cr_node *mean = cr_op_embedding_bag(g, t, x, 0, 2, 2, CR_COMB_MEAN);
    cr_node *sum = cr_op_embedding_bag(g, t, x, 0, 2, 2, CR_COMB_SUM);
    cr_node *sq = cr_op_embedding_bag(g, t, x, 0, 2, 2, CR_COMB_SQRTN);
    cr_node *un = cr_op_embedding_bag(g, t, x, 0, -1, 2, CR_COMB_MEAN);
    cr_node *out = crest_op_concat(g, (cr_node *[]){ mean, sum, sq, un }, 4, -1);
    out->keep = true;
    assert_int_equal(cr_graph_plan(g, 1), CREST_OK);
    cr_ctx c = { 0 };
    cr_graph_forward(g, &c);
    double s10 = sqrt(10.0);
    const float want[16] = {
        (3 + 3 * 7) / 4.0f, (4 + 3 * 8) / 4.0f, 3 + 21, 4 + 24,
        (float)((3 + 21) / s10), (float)((4 + 24) / s10), 5, 6,
        5, 6, 2 * 5, 2 * 6, 5, 6, 5, 6 };
    assert_floats(out->val, want, 8);
    assert_floats(out->val + 8, want + 8, 8);
    cr_graph_free(g);
}

static void test_spec_round_trip_and_errors(void **state)
{
    (void)state;
    crest_features *f = spec_on(
        "{\"label\": \"y\", \"features\": {\"a\": \"float_normalized\", "
        "\"b\": {\"type\": \"string_categorical\", \"output_mode\": \"embedding\", "
        "\"embedding_dim\": 3, \"combiner\": \"sqrtn\"}, \"c\": {\"type\": \"float_discretized\","
        " \"num_bins\": 2}}, \"crosses\": [{\"features\": [\"b\", \"b\"], \"crossing_dim\": 4}]}",
        "a,b,c,y\n1,p,1,u\n3,q,2,v\n,p,3,u\n");
    char *j1 = crest_features_json(f, false);
    crest_features *g = NULL;
    assert_int_equal(crest_features_parse(&g, j1), CREST_OK);
    char *j2 = crest_features_json(g, false);
    assert_string_equal(j1, j2);
    assert_int_equal(crest_features_width(g), crest_features_width(f));
    assert_int_equal(crest_features_classes(g), 2);
    assert_string_equal(crest_features_class_name(g, 1), "v");
    print_message("  %s\n", j1);
    crest_free(j1);
    crest_free(j2);
    crest_features_free(f);
    crest_features_free(g);

    const char *bad[] = {
        "[1]", "{\"features\": {}}", "{\"features\": {\"a\": \"floaty\"}}",
        "{\"features\": {\"a\": {\"type\": \"string_hashed\"}}}",
        "{\"features\": {\"a\": {\"type\": \"float\", \"output_mode\": \"one_hot\"}}}",
        "{\"features\": {\"a\": {\"type\": \"float_discretized\", \"bin_boundaries\": [2, 1]}}}",
        "{\"features\": {\"a\": {\"type\": \"string_categorical\", \"output_mode\": \"x\"}}}",
        "{\"features\": {\"a\": {\"type\": \"string_categorical\", \"vocabulary\": [\"p\", \"p\"]}}}",
        "{\"label\": \"a\", \"features\": {\"a\": \"float\"}}",
        ("{\"features\": {\"a\": \"float\"}, \"crosses\": [{\"features\": [\"a\", \"b\"], "
         "\"crossing_dim\": 3}]}"),
        "{\"features\": {\"a\": {\"type\": \"string_categorical\", \"vocabulary_file\": \"/nope\"}}}",
        "{\"features\": ",
        /* JSON has no inf: such a spec was written back as null and did not load
         * (1e999 parses as inf) */
        "{\"features\": {\"a\": {\"type\": \"float\", \"mean\": 1e999, \"variance\": 1}}}",
        "{\"features\": {\"a\": {\"type\": \"float\", \"mean\": 0, \"variance\": 1e999}}}",
        "{\"features\": {\"a\": {\"type\": \"float_discretized\", \"bin_boundaries\": [1, 1e999]}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        crest_features *h = (crest_features *)1;
        int rc = crest_features_parse(&h, bad[i]);
        print_message("  bad spec %zu: %s\n", i, crest_last_error());
        assert_true(rc < 0);
        assert_null(h);
    }
}

/* ---- penguins ----------------------------------------------------------- */

static const char *penguins(void)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/penguins/penguins.csv", crest_data_dir());
    FILE *fp = fopen(p, "rb");
    if (!fp)   /* missing data is a failure, never a skip */
        fail_msg("%s is missing (run tools/setup.sh)", p);
    fclose(fp);
    return p;
}

static crest_model *train_penguins(crest_features *f, const char *path, double *acc)
{
    crest_table_opts tr = { .rows = CREST_ROWS_TRAIN, .holdout_every = 5 };
    crest_table_opts te = { .rows = CREST_ROWS_HOLDOUT, .holdout_every = 5 };
    crest_dataset *a = NULL, *b = NULL;
    assert_int_equal(crest_features_dataset(&a, f, path, &tr, true), CREST_OK);
    assert_int_equal(crest_features_dataset(&b, f, path, &te, true), CREST_OK);
    assert_int_equal(crest_dataset_size(a), 276);
    assert_int_equal(crest_dataset_size(b), 68);
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, crest_features_width(f))), CREST_OK);
    crest_model_set_seed(m, 1);
    crest_model_set_threads(m, 1);
    crest_add(m, crest_dense_features(f));
    assert_int_equal(crest_add(m, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.05f) }),
                     CREST_OK);
    assert_int_equal(crest_fit(m, a, &(crest_fit_opts){ .epochs = 20, .batch_size = 16,
                                                        .seed = 2 }), CREST_OK);
    crest_metrics met;
    assert_int_equal(crest_evaluate(m, b, 64, &met), CREST_OK);
    *acc = met.accuracy;
    crest_dataset_free(a);
    crest_dataset_free(b);
    return m;
}

/* A table read in shares (skip_rows, max_rows of crest_shard_range) is the
 * whole table, row for row, for 1..4 shares; counts as the readers see. */
static void test_row_shards(void **state)
{
    (void)state;
    const char *p = penguins();
    crest_features *f = NULL;
    crest_table_opts tr = { .rows = CREST_ROWS_TRAIN, .holdout_every = 5 };
    assert_int_equal(crest_features_infer(&f, p, "species", &tr), CREST_OK);
    size_t n = 0, held = 0;
    assert_int_equal(crest_table_count_rows(p, &tr, &n), CREST_OK);
    crest_table_opts te = { .rows = CREST_ROWS_HOLDOUT, .holdout_every = 5 };
    assert_int_equal(crest_table_count_rows(p, &te, &held), CREST_OK);
    assert_int_equal(n, 276);
    assert_int_equal(held, 68);
    assert_int_not_equal(crest_table_count_rows("/nonexistent/x.csv", NULL, &n), CREST_OK);
    crest_dataset *all = NULL;
    assert_int_equal(crest_features_dataset(&all, f, p, &tr, true), CREST_OK);
    size_t w = (size_t)crest_features_width(f);
    for (int parts = 1; parts <= 4; parts++) {
        size_t at = 0;
        for (int k = 0; k < parts; k++) {
            size_t first, count;
            crest_shard_range(276, parts, k, &first, &count);
            crest_table_opts part = tr;
            part.skip_rows = first;
            part.max_rows = count;
            crest_dataset *d = NULL;
            assert_int_equal(crest_features_dataset(&d, f, p, &part, true), CREST_OK);
            assert_int_equal(crest_dataset_size(d), count);
            assert_memory_equal(crest_dataset_x(d), crest_dataset_x(all) + at * w,
                                count * w * sizeof(float));
            assert_memory_equal(crest_dataset_labels(d), crest_dataset_labels(all) + at,
                                count * sizeof(int32_t));
            at += count;
            crest_dataset_free(d);
        }
        assert_int_equal(at, crest_dataset_size(all));
    }
    crest_table_opts past = tr;   /* a range past the end: no rows, an error */
    past.skip_rows = 276;
    crest_dataset *none = NULL;
    assert_int_not_equal(crest_features_dataset(&none, f, p, &past, true), CREST_OK);
    assert_null(none);
    crest_dataset_free(all);
    crest_features_free(f);
}

static void test_penguins_inferred(void **state)
{
    (void)state;
    const char *p = penguins();
    crest_features *f = NULL;
    crest_table_opts tr = { .rows = CREST_ROWS_TRAIN, .holdout_every = 5 };
    assert_int_equal(crest_features_infer(&f, p, "species", &tr), CREST_OK);
    char *js = crest_features_json(f, false);
    assert_non_null(strstr(js, "\"island\":{\"type\":\"string_categorical\""));
    assert_non_null(strstr(js, "\"bill_length_mm\":{\"type\":\"float_normalized\""));
    assert_non_null(strstr(js, "\"year\":{\"type\":\"integer_categorical\""));
    assert_non_null(strstr(js, "\"sex\":{\"type\":\"string_categorical\""));
    assert_non_null(strstr(js, "\"classes\":[\"Adelie\",\"Chinstrap\",\"Gentoo\"]"));
    crest_free(js);
    double acc;
    crest_model *m = train_penguins(f, p, &acc);
    print_message("  penguins (inferred spec) hold-out accuracy %.4f\n", acc);
    assert_true(acc >= 0.97);
    crest_model_free(m);
    crest_features_free(f);
}

/* Declared columns with an embedding and a cross; saved, loaded, and the
 * loaded model predicts raw rows (unseen categories, missing values, an
 * unknown label) exactly as before saving. */
static void test_penguins_save_load_raw_rows(void **state)
{
    (void)state;
    const char *p = penguins();
    crest_features *f = spec_on(
        "{\"label\": \"species\", \"features\": {\"island\": \"string_categorical\", "
        "\"bill_length_mm\": \"float_normalized\", \"bill_depth_mm\": \"float_normalized\", "
        "\"flipper_length_mm\": \"float_normalized\", \"body_mass_g\": {\"type\": "
        "\"float_discretized\", \"num_bins\": 4}, \"sex\": {\"type\": \"string_categorical\", "
        "\"output_mode\": \"embedding\", \"embedding_dim\": 2}, \"year\": {\"type\": "
        "\"integer_hashed\", \"num_bins\": 4, \"output_mode\": \"embedding\", \"embedding_dim\": 2,"
        " \"combiner\": \"sum\"}}, \"crosses\": [{\"features\": [\"island\", \"sex\"], "
        "\"crossing_dim\": 8}]}", NULL);
    crest_table_opts tr = { .rows = CREST_ROWS_TRAIN, .holdout_every = 5 };
    assert_int_equal(crest_features_adapt(f, p, &tr), CREST_OK);
    double acc;
    crest_model *m = train_penguins(f, p, &acc);
    print_message("  penguins (declared, embeddings) hold-out accuracy %.4f\n", acc);
    assert_true(acc >= 0.97);
    const char *rows = put("rows.csv",
        "year,sex,island,species,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g\n"
        "2007,male,Torgersen,Adelie,39.1,18.7,181,3750\n"
        "2031,unknown,Atlantis,Dodo,NA,NA,NA,NA\n"
        "2009,female,Biscoe,,47.5,15,218,4950\n"
        "NA,NA,NA,NA,NA,NA,NA,NA\n");
    float *p1 = NULL, *p2 = NULL;
    size_t n1, n2;
    assert_int_equal(crest_predict_table(m, rows, NULL, &p1, &n1), CREST_OK);
    assert_int_equal(n1, 4);
    char mdir[128];
    snprintf(mdir, sizeof mdir, "%s/model", tu_fixture_dir);
    assert_int_equal(crest_model_save(m, mdir), CREST_OK);
    crest_model *m2 = NULL;
    assert_int_equal(crest_model_load(&m2, mdir), CREST_OK);
    assert_non_null(crest_model_features(m2));
    assert_int_equal(crest_predict_table(m2, rows, NULL, &p2, &n2), CREST_OK);
    assert_int_equal(n2, 4);
    assert_memory_equal(p1, p2, 4 * 3 * sizeof(float));
    assert_true(p1[0] > 0.9f);                       /* an Adelie */
    assert_true(p1[2 * 3 + 2] > 0.9f);               /* a Gentoo */
    for (int i = 0; i < 12; i++)
        assert_true(isfinite(p1[i]));
    /* the saved spec carries the statistics */
    char *mj = tu_read(mdir, "model.json");
    assert_non_null(strstr(mj, "\"DenseFeatures\""));
    assert_non_null(strstr(mj, "\"bin_boundaries\""));
    assert_non_null(strstr(mj, "dense_features/sex_embedding"));
    free(mj);
    /* a class seen only at evaluation time: an error naming it and its line */
    crest_dataset *d = NULL;
    assert_int_equal(crest_features_dataset(&d, crest_model_features(m2), rows, NULL, true),
                     CREST_E_FORMAT);
    print_message("  %s\n", crest_last_error());
    assert_non_null(strstr(crest_last_error(), "'Dodo'"));
    assert_non_null(strstr(crest_last_error(), "line 3"));
    crest_free(p1);
    crest_free(p2);
    crest_model_free(m);
    crest_model_free(m2);
    crest_features_free(f);
}

static crest_model *penguin_model(const crest_features *f)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, crest_features_width(f))), CREST_OK);
    crest_model_set_seed(m, 5);
    crest_model_set_threads(m, 1);
    crest_add(m, crest_dense_features(f));
    assert_int_equal(crest_add(m, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.05f) }),
                     CREST_OK);
    return m;
}

/* ---- every feature kind on penguins, CSV and ARFF ------------------------- */

static void expect_fail(int rc, const char *a, const char *b);

/* penguins.csv with two copied columns (the spec keys features by column, and
 * there are more kinds than columns), as CSV or as ARFF ('?' for NA, nominal
 * species, island and sex). */
static const char *penguins_copy(bool arff)
{
    FILE *in = fopen(penguins(), "rb");
    static char path[2][256];
    char *p = path[arff];
    snprintf(p, 256, "%s/penguins_all.%s", tu_fixture_dir, arff ? "arff" : "csv");
    FILE *out = fopen(p, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char line[512], *cols[8];
    assert_non_null(fgets(line, sizeof line, in));   /* the header */
    if (arff)
        fputs("% penguins with two copied columns\n@relation penguins\n"
              "@attribute species {Adelie,Chinstrap,Gentoo}\n"
              "@attribute island {Biscoe,Dream,Torgersen}\n@attribute bill_length_mm numeric\n"
              "@attribute bill_depth_mm REAL\n@attribute flipper_length_mm integer\n"
              "@attribute body_mass_g integer\n@attribute sex {female,male}\n"
              "@attribute year numeric\n@attribute bill_length_copy numeric\n"
              "@attribute bill_depth_copy numeric\n\n@data\n", out);
    else
        fprintf(out, "%s,bill_length_copy,bill_depth_copy\n", strtok(line, "\r\n"));
    while (fgets(line, sizeof line, in)) {
        int n = 0;
        for (char *c = strtok(line, ",\r\n"); c && n < 8; c = strtok(NULL, ",\r\n"))
            cols[n++] = strcmp(c, "NA") || !arff ? c : "?";
        assert_int_equal(n, 8);
        for (int i = 0; i < 8; i++)
            fprintf(out, "%s,", cols[i]);
        fprintf(out, "%s,%s\n", cols[2], cols[3]);
    }
    fclose(in);
    fclose(out);
    return p;
}

/* Every kind of the spec language at once: this spec (on the command line
 * too) used to abort in concat with "malloc(): invalid size" (the memory
 * planner; tests/scripts/tabular_all_kinds.sh is the CLI side). */
static const char *const all_kinds_spec =
    "{\"label\": \"species\", \"features\": {"
    "\"bill_depth_copy\": \"float\", "
    "\"bill_length_mm\": \"float_normalized\", "
    "\"bill_depth_mm\": {\"type\": \"float_rescaled\", \"scale\": 0.1, \"offset\": -1.7}, "
    "\"bill_length_copy\": {\"type\": \"float_discretized\", \"num_bins\": 5}, "
    "\"year\": \"integer_categorical\", "
    "\"island\": {\"type\": \"string_categorical\", \"output_mode\": \"embedding\", "
    "\"embedding_dim\": 3}, "
    "\"body_mass_g\": {\"type\": \"integer_hashed\", \"num_bins\": 16}, "
    "\"sex\": {\"type\": \"string_hashed\", \"num_bins\": 4}, "
    "\"flipper_length_mm\": {\"type\": \"identity\", \"num_buckets\": 240, "
    "\"output_mode\": \"embedding\", \"embedding_dim\": 4, \"combiner\": \"sqrtn\"}}, "
    "\"crosses\": [{\"features\": [\"island\", \"sex\"], \"crossing_dim\": 8, "
    "\"output_mode\": \"embedding\", \"embedding_dim\": 2}, "
    "{\"features\": [\"island\", \"year\"], \"crossing_dim\": 6}]}";

static void all_kinds_on(const char *path, const char *what)
{
    crest_table_opts tr = { .rows = CREST_ROWS_TRAIN, .holdout_every = 5 };
    crest_table_opts te = { .rows = CREST_ROWS_HOLDOUT, .holdout_every = 5 };
    crest_features *f = spec_on(all_kinds_spec, NULL);
    assert_int_equal(crest_features_adapt(f, path, &tr), CREST_OK);
    crest_dataset *a = NULL, *b = NULL;
    assert_int_equal(crest_features_dataset(&a, f, path, &tr, true), CREST_OK);
    assert_int_equal(crest_features_dataset(&b, f, path, &te, true), CREST_OK);
    crest_model *m = NULL, *l = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, crest_features_width(f))), CREST_OK);
    crest_model_set_seed(m, 3);
    crest_model_set_threads(m, 1);
    crest_add(m, crest_dense_features(f));
    crest_add(m, crest_dense(16, CREST_RELU));
    assert_int_equal(crest_add(m, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.02f) }),
                     CREST_OK);
    assert_int_equal(crest_fit(m, a, &(crest_fit_opts){ .epochs = 30, .batch_size = 16,
                                                        .seed = 4 }), CREST_OK);
    crest_metrics met, met2;
    assert_int_equal(crest_evaluate(m, b, 64, &met), CREST_OK);
    print_message("  every kind (%s): hold-out accuracy %.4f loss %.4f\n", what, met.accuracy,
                  met.loss);
    assert_true(met.accuracy >= 0.9);
    float *p1 = NULL, *p2 = NULL;
    size_t n1 = 0, n2 = 0;
    assert_int_equal(crest_predict_table(m, path, NULL, &p1, &n1), CREST_OK);
    assert_int_equal(n1, 344);
    for (size_t i = 0; i < n1 * 3; i++)
        assert_true(isfinite(p1[i]));
    char mdir[128];
    snprintf(mdir, sizeof mdir, "%s/all_kinds_%s", tu_fixture_dir, what);
    assert_int_equal(crest_model_save(m, mdir), CREST_OK);
    assert_int_equal(crest_model_load(&l, mdir), CREST_OK);
    assert_int_equal(crest_predict_table(l, path, NULL, &p2, &n2), CREST_OK);
    assert_int_equal(n2, n1);
    assert_memory_equal(p1, p2, n1 * 3 * sizeof *p1);
    assert_int_equal(crest_compile(l, NULL), CREST_OK);
    assert_int_equal(crest_evaluate(l, b, 64, &met2), CREST_OK);
    assert_true(met2.accuracy == met.accuracy && met2.loss == met.loss);
    /* and saved again from the loaded model: the same file */
    char *j1 = tu_read(mdir, "model.json");
    int rc = crest_model_save(l, mdir);
    if (rc)
        print_error("%s\n", crest_last_error());
    assert_int_equal(rc, CREST_OK);
    char *j2 = tu_read(mdir, "model.json");
    assert_string_equal(j1, j2);
    free(j1);
    free(j2);
    crest_free(p1);
    crest_free(p2);
    crest_dataset_free(a);
    crest_dataset_free(b);
    crest_model_free(m);
    crest_model_free(l);
    crest_features_free(f);
}

static void test_every_kind_penguins(void **state)
{
    (void)state;
    all_kinds_on(penguins_copy(false), "csv");
    all_kinds_on(penguins_copy(true), "arff");
}

/* crest.h: columns the spec needs but a table lacks are missing values (as
 * crest_features_transform always did): prediction on a table without
 * 'sex' equals prediction on one whose sex column is all NA. */
static void test_absent_columns(void **state)
{
    (void)state;
    crest_features *f = spec_on(
        "{\"label\": \"y\", \"features\": {\"x\": \"float_normalized\", \"c\": "
        "\"string_categorical\", \"w\": \"float\", \"t\": {\"type\": \"string_categorical\", "
        "\"weight_feature\": \"w\"}}, \"crosses\": [{\"features\": [\"c\", \"t\"], "
        "\"crossing_dim\": 4}]}",
        "x,c,w,t,y\n1,a,1,p,u\n2,b,2,q,v\n3,a,,p,u\n");
    assert_int_equal(crest_features_absent(f, NULL, 0), 0);
    crest_dataset *d1 = NULL, *d2 = NULL;
    assert_int_equal(crest_features_dataset(&d1, f, put("abs1.csv", "x,t\n1.5,p\n,q\n"), NULL,
                                            false), CREST_OK);
    const char *names[4] = { NULL };
    assert_int_equal(crest_features_absent(f, names, 4), 2);   /* c once, though crossed too */
    assert_string_equal(names[0], "c");
    assert_string_equal(names[1], "w");
    assert_int_equal(crest_features_absent(f, names, 1), 2);   /* counted beyond max */
    assert_int_equal(crest_features_dataset(&d2, f, put("abs2.csv", "x,t,c,w\n1.5,p,NA,\n,q,,?\n"),
                                            NULL, false), CREST_OK);
    assert_int_equal(crest_features_absent(f, NULL, 0), 0);
    assert_int_equal(crest_dataset_size(d1), 2);
    assert_memory_equal(crest_dataset_x(d1), crest_dataset_x(d2),
                        2 * (size_t)crest_features_width(f) * sizeof(float));
    crest_dataset_free(d1);
    crest_dataset_free(d2);
    /* evaluation still needs the label; adapt needs the columns it learns from */
    expect_fail(crest_features_dataset(&d1, f, put("abs3.csv", "x,t\n1,p\n"), NULL, true),
                "no label column 'y'", NULL);
    expect_fail(crest_features_adapt(f, put("abs4.csv", "x,t,y\n1,p,u\n2,q,v\n"), NULL),
                "no column 'c'", NULL);
    /* through a model: predict_table and fit_table too */
    crest_model *m = penguin_model(f);
    float *p = NULL;
    size_t n = 0;
    assert_int_equal(crest_predict_table(m, put("abs5.csv", "t,x\np,1\n"), NULL, &p, &n), CREST_OK);
    assert_int_equal(n, 1);
    crest_free(p);
    assert_int_equal(crest_fit_table(m, f, put("abs6.csv", "t,x,y\np,1,u\nq,2,v\n"), NULL,
                                     &(crest_fit_opts){ .epochs = 1 }, 0), CREST_OK);
    assert_int_equal(crest_features_absent(f, NULL, 0), 2);
    crest_model_free(m);
    crest_features_free(f);
}

/* Streaming training: one chunk holding every row is exactly crest_fit;
 * small chunks (50 rows) still reach the accuracy floor. */
static void test_fit_table_chunks(void **state)
{
    (void)state;
    const char *p = penguins();
    crest_table_opts tr = { .rows = CREST_ROWS_TRAIN, .holdout_every = 5 };
    crest_table_opts te = { .rows = CREST_ROWS_HOLDOUT, .holdout_every = 5 };
    crest_features *f = spec_on("{\"label\": \"species\", \"features\": {\"island\": "
        "\"string_categorical\", \"bill_length_mm\": \"float_normalized\", \"bill_depth_mm\": "
        "\"float_normalized\", \"flipper_length_mm\": \"float_normalized\", \"sex\": "
        "{\"type\": \"string_categorical\", \"output_mode\": \"embedding\", \"embedding_dim\": 2}}}",
        NULL);
    assert_int_equal(crest_features_adapt(f, p, &tr), CREST_OK);
    crest_dataset *a = NULL, *b = NULL;
    assert_int_equal(crest_features_dataset(&a, f, p, &tr, true), CREST_OK);
    assert_int_equal(crest_features_dataset(&b, f, p, &te, true), CREST_OK);
    crest_model *m1 = penguin_model(f), *m2 = penguin_model(f), *m3 = penguin_model(f);
    crest_fit_opts fo = { .epochs = 1, .batch_size = 16, .seed = 9 };
    assert_int_equal(crest_fit(m1, a, &fo), CREST_OK);
    assert_int_equal(crest_fit_table(m2, f, p, &tr, &fo, 1000), CREST_OK);
    for (int w = 0; w < m1->n_weights; w++)
        assert_memory_equal(m1->weights[w]->val, m2->weights[w]->val,
                            (size_t)m1->weights[w]->size * sizeof(float));
    crest_history h;
    fo = (crest_fit_opts){ .epochs = 15, .batch_size = 16, .seed = 3, .history = &h,
                           .validation_data = b };
    assert_int_equal(crest_fit_table(m3, f, p, &tr, &fo, 50), CREST_OK);
    assert_int_equal(h.epochs, 15);
    assert_true(h.loss[14] < h.loss[0]);
    print_message("  chunks of 50 rows: hold-out accuracy %.4f\n", h.val_accuracy[14]);
    assert_true(h.val_accuracy[14] >= 0.97);
    fo.validation_split = 0.2f;
    assert_int_equal(crest_fit_table(m3, f, p, &tr, &fo, 50), CREST_E_UNSUPPORTED);
    crest_model_free(m1);
    crest_model_free(m2);
    crest_model_free(m3);
    crest_dataset_free(a);
    crest_dataset_free(b);
    crest_features_free(f);
}

static void expect_fail(int rc, const char *a, const char *b)
{
    print_message("  %s\n", crest_last_error());
    assert_true(rc < 0);
    assert_non_null(strstr(crest_last_error(), a));
    if (b)
        assert_non_null(strstr(crest_last_error(), b));
}

static void test_bad_tables(void **state)
{
    (void)state;
    crest_features *f = NULL;
    crest_dataset *d = NULL;
    const char *spec = "{\"label\": \"y\", \"features\": {\"x\": \"float\", \"c\": "
                       "\"string_categorical\"}}";
    assert_int_equal(crest_features_parse(&f, spec), CREST_OK);
    expect_fail(crest_features_adapt(f, put("t1.csv", "x,c,y\n1,a,u\nabc,b,v\n"), NULL),
                "t1.csv line 3 column 1 (x)", "'abc' is not a number");
    expect_fail(crest_features_adapt(f, put("t2.csv", "x,c\n1,a\n"), NULL), "no label column 'y'",
                NULL);
    expect_fail(crest_features_adapt(f, put("t3.csv", "x,c,y\n1,a,u\n2,b\n"), NULL), "line 3",
                "fields");
    expect_fail(crest_features_adapt(f, put("t4.csv", ""), NULL), "empty", NULL);
    expect_fail(crest_features_adapt(f, put("t5.csv", "x,c,y\n"), NULL), "no data rows", NULL);
    expect_fail(crest_features_adapt(f, put("t6.csv", "x,y\n1,u\n"), NULL), "no column 'c'", NULL);
    expect_fail(crest_features_adapt(f, put("t7.csv", "x,c,y\n1,a,u\n1,a,u\n"), NULL), "1 class",
                NULL);
    expect_fail(crest_features_adapt(f, put("t8.csv", "x,c,y\n1,\"a,u\n"), NULL), "unterminated",
                "line 2");
    assert_int_equal(crest_features_adapt(f, put("ok.csv", "x,c,y\n1,a,u\n2,b,v\n3,a,\n"), NULL),
                     CREST_OK);
    /* rows with a missing label are skipped; text in a numeric column names line and column */
    assert_int_equal(crest_features_dataset(&d, f, put("ok2.csv", "x,c,y\n1,a,u\n2,b,v\n3,a,\n"),
                                            NULL, true), CREST_OK);
    assert_int_equal(crest_dataset_size(d), 2);
    crest_dataset_free(d);
    d = NULL;
    expect_fail(crest_features_dataset(&d, f, put("t9.csv", "y,c,x\nu,a,1\nv,b,1.5.2\n"), NULL,
                                       true), "line 3 column 3 (x)", "'1.5.2' is not a number");
    assert_null(d);
    expect_fail(crest_features_dataset(&d, f, put("t10.csv", "x,c\n1,a\n"), NULL, true),
                "no label column", NULL);
    /* without labels (prediction): fine */
    assert_int_equal(crest_features_dataset(&d, f, put("t11.csv", "c,x\nzz,\n"), NULL, false),
                     CREST_OK);
    assert_null(crest_dataset_labels(d));
    crest_dataset_free(d);
    crest_features_free(f);
    /* a DenseFeatures layer needs an adapted spec */
    assert_int_equal(crest_features_parse(&f, spec), CREST_OK);
    assert_null(crest_dense_features(f));
    crest_features_free(f);
}

/* Statistics that overflow a double are an error naming the column: the
 * spec is saved as JSON, which has no inf, and "variance": null did not
 * load back (found by fuzz_csv: 1e33 and 1e233 in one column). */
static void test_overflowing_statistics(void **state)
{
    (void)state;
    crest_features *f = NULL;
    expect_fail(crest_features_infer(&f, put("big.csv", "n,c\n1e33,a\n1e233,b\n"), NULL, NULL),
                "big.csv column 1 (n)", "too large to normalize");
    assert_null(f);
    expect_fail(crest_features_infer(&f, put("huge.csv", "c,n\na,-1.7e308\nb,1.7e308\n"), "c",
                                     NULL), "huge.csv column 2 (n)", "too large to normalize");
}

/* ARFF through inference: nominal values keep their declared order. */
static void test_arff_features(void **state)
{
    (void)state;
    const char *p = put("w.arff", "@relation w\n@attribute outlook {sunny, rainy}\n"
                                  "@attribute temp numeric\n@attribute play {no, yes}\n@data\n"
                                  "rainy,10,yes\nsunny,30,no\nsunny,?,yes\nrainy,20,no\n");
    crest_features *f = NULL;
    assert_int_equal(crest_features_infer(&f, p, "play", NULL), CREST_OK);
    char *js = crest_features_json(f, false);
    print_message("  %s\n", js);
    assert_non_null(strstr(js, "\"classes\":[\"no\",\"yes\"]"));
    assert_non_null(strstr(js, "\"vocabulary\":[\"sunny\",\"rainy\"]"));
    assert_non_null(strstr(js, "\"temp\":{\"type\":\"float_normalized\",\"mean\":20"));
    crest_free(js);
    crest_dataset *d = NULL;
    assert_int_equal(crest_features_dataset(&d, f, p, NULL, true), CREST_OK);
    assert_int_equal(crest_dataset_size(d), 4);
    const float *x = crest_dataset_x(d);   /* row 0: rainy -> id 2; temp (10-20)/sqrt(200/3) */
    assert_floats(x, (float[]){ 0, 0, 1, (float)(-10 / sqrt(200.0 / 3)), 0 }, 5);
    assert_floats(x + 2 * 5 + 3, (float[]){ 0, 1 }, 2);   /* missing temp: mean, flag */
    assert_int_equal(crest_dataset_labels(d)[0], 1);
    crest_dataset_free(d);
    crest_features_free(f);
}

/* sklearn's CSVs ("n_samples,n_features,class names" first) read as they
 * are: columns f0.., target with the class names. */
static double sklearn_accuracy(const char *name, const char *first_class)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/sklearn/%s", crest_data_dir(), name);
    FILE *fp = fopen(p, "rb");
    if (!fp)
        return -1;
    fclose(fp);
    crest_table_opts tr = { .rows = CREST_ROWS_TRAIN, .holdout_every = 5 };
    crest_table_opts te = { .rows = CREST_ROWS_HOLDOUT, .holdout_every = 5 };
    crest_features *f = NULL;
    crest_dataset *a = NULL, *b = NULL;
    crest_model *m = NULL;
    assert_int_equal(crest_features_infer(&f, p, "target", &tr), CREST_OK);
    assert_string_equal(crest_features_class_name(f, 0), first_class);
    assert_int_equal(crest_features_dataset(&a, f, p, &tr, true), CREST_OK);
    assert_int_equal(crest_features_dataset(&b, f, p, &te, true), CREST_OK);
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, crest_features_width(f))), CREST_OK);
    crest_model_set_seed(m, 3);
    crest_model_set_threads(m, 1);
    crest_add(m, crest_dense_features(f));
    crest_add(m, crest_dense(crest_features_classes(f), CREST_SOFTMAX));
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.05f) }),
                     CREST_OK);
    assert_int_equal(crest_fit(m, a, &(crest_fit_opts){ .epochs = 40, .batch_size = 16,
                                                        .seed = 4 }), CREST_OK);
    crest_metrics met;
    assert_int_equal(crest_evaluate(m, b, 64, &met), CREST_OK);
    crest_model_free(m);
    crest_dataset_free(a);
    crest_dataset_free(b);
    crest_features_free(f);
    return met.accuracy;
}

static void test_sklearn_tables(void **state)
{
    (void)state;
    double iris = sklearn_accuracy("iris.csv", "setosa");
    double wine = sklearn_accuracy("wine_data.csv", "class_0");
    assert_true(iris >= 0 && wine >= 0);   /* the data sets are there (tools/setup.sh) */
    print_message("  iris hold-out accuracy %.4f, wine %.4f\n", iris, wine);
    assert_true(iris >= 0.9);
    assert_true(wine >= 0.9);
}

/* Allocation k fails, for k = 0, 1, ...: each failure is an error (and,
 * under ASan, leaks nothing) until the whole pipeline succeeds. */
static void test_out_of_memory(void **state)
{
    (void)state;
    const char *csv = put("oom.csv", "x,c,t,y\n1,a,p|q,u\n2,b,q,v\nNA,a,,u\n");
    const char *spec = "{\"label\": \"y\", \"features\": {\"x\": \"float_normalized\", "
                       "\"c\": \"string_categorical\", \"t\": {\"type\": \"string_categorical\", "
                       "\"separator\": \"|\", \"output_mode\": \"embedding\"}}, \"crosses\": "
                       "[{\"features\": [\"c\", \"t\"], \"crossing_dim\": 4}]}";
    int k;
    for (k = 0; k < 10000; k++) {
        crest_features *f = NULL, *g = NULL;
        crest_dataset *d = NULL;
        crest_layer *l = NULL;
        cr_alloc_fail_after(k);
        int rc = crest_features_parse(&f, spec);
        if (!rc)
            rc = crest_features_adapt(f, csv, NULL);
        if (!rc)
            rc = crest_features_dataset(&d, f, csv, NULL, true);
        if (!rc)
            rc = crest_features_infer(&g, csv, "y", NULL);
        if (!rc && !(l = crest_dense_features(f)))
            rc = CREST_E_NOMEM;
        cr_alloc_fail_after(-1);
        crest_layer_free(l);
        crest_dataset_free(d);
        crest_features_free(f);
        crest_features_free(g);
        if (rc == CREST_OK)
            break;
        assert_true(rc < 0);
    }
    print_message("  pipeline succeeded once %d allocations could succeed\n", k);
    assert_true(k > 20 && k < 10000);
}

/* A DenseFeatures model (its spec, vocabularies and embeddings all go
 * through cJSON) saved and loaded under every allocation failure. */
static void test_save_load_out_of_memory(void **state)
{
    (void)state;
    const char *csv = put("oom2.csv", "x,c,t,y\n1.5,a,p|q,u\n2,b,q,v\nNA,a,,u\n3,b,p,v\n");
    crest_features *f = spec_on(
        "{\"label\": \"y\", \"features\": {\"x\": {\"type\": \"float_discretized\", "
        "\"num_bins\": 2}, \"c\": \"string_categorical\", \"t\": {\"type\": "
        "\"string_categorical\", \"separator\": \"|\", \"output_mode\": \"embedding\"}}, "
        "\"crosses\": [{\"features\": [\"c\", \"t\"], \"crossing_dim\": 4}]}", NULL);
    assert_int_equal(crest_features_adapt(f, csv, NULL), CREST_OK);
    crest_dataset *d = NULL;
    assert_int_equal(crest_features_dataset(&d, f, csv, NULL, true), CREST_OK);
    crest_model *m = penguin_model(f);
    char mdir[128];
    snprintf(mdir, sizeof mdir, "%s/oom_model", tu_fixture_dir);
    long saves, loads;
    tu_save_load_oom(m, d, mdir, &saves, &loads);
    print_message("  DenseFeatures model: save failed %ld times, load %ld times\n", saves, loads);
    assert_true(saves > 50 && loads > 50);
    /* the spec as JSON: NULL on any failure, never a spec missing an entry */
    char *full = crest_features_json(f, false);
    long k;
    for (k = 0; k < 5000; k++) {
        cr_alloc_fail_after(k);
        char *js = crest_features_json(f, false);
        cr_alloc_fail_after(-1);
        if (js) {
            assert_string_equal(js, full);
            crest_free(js);
            break;
        }
    }
    assert_true(k > 20 && k < 5000);
    crest_free(full);
    tu_rmdir(mdir);
    crest_model_free(m);
    crest_dataset_free(d);
    crest_features_free(f);
}

/* Seeded mutations of a small table (bytes flipped, inserted, deleted:
 * quotes, delimiters, line breaks, NUL, text): every run returns OK or an
 * error with a message, never crashes (ASan checks the reads). */
static void test_fuzz_tables(void **state)
{
    (void)state;
    const char *base = "species,island,bill,sex,year\n"
                       "Adelie,\"Torg,ersen\",39.1,male,2007\n"
                       "Gentoo,Biscoe,NA,female,2009\n"
                       "Chinstrap,Dream,46.5,,2008\n"
                       "Adelie,Dream,?,male,2007\n";
    const char *spec = "{\"label\": \"species\", \"features\": {\"island\": {\"type\": "
                       "\"string_categorical\", \"separator\": \"|\"}, \"bill\": {\"type\": "
                       "\"float_discretized\", \"num_bins\": 3}, \"sex\": {\"type\": "
                       "\"string_categorical\", \"output_mode\": \"embedding\"}, \"year\": "
                       "\"integer_categorical\"}, \"crosses\": [{\"features\": [\"island\", "
                       "\"sex\"], \"crossing_dim\": 5}]}";
    const char alphabet[] = "\",\n\r|?NA0.9e-x\0 ";
    cr_rng r;
    cr_rng_seed(&r, 2024);
    char buf[512], path[256];
    snprintf(path, sizeof path, "%s/fuzz.csv", tu_fixture_dir);
    int ok = 0, errors = 0;
    for (int it = 0; it < 3000; it++) {
        size_t n = strlen(base);
        memcpy(buf, base, n);
        int edits = 1 + (int)cr_rng_below(&r, 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)cr_rng_below(&r, n ? n : 1);
            char c = alphabet[cr_rng_below(&r, sizeof alphabet - 1)];
            switch (cr_rng_below(&r, 3)) {
            case 0: buf[at] = c; break;
            case 1:
                if (n + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = c;
                    n++;
                }
                break;
            default:
                if (n) {
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                }
            }
        }
        tu_write(tu_fixture_dir, "fuzz.csv", buf, n);
        crest_features *f = NULL, *g = NULL;
        crest_dataset *d = NULL;
        float *p = NULL;
        size_t np;
        int rc = crest_features_parse(&f, spec);
        assert_int_equal(rc, CREST_OK);
        rc = crest_features_adapt(f, path, NULL);
        if (!rc)
            rc = crest_features_dataset(&d, f, path, NULL, it % 2 == 0);
        int rc2 = crest_features_infer(&g, path, it % 3 ? "species" : NULL, NULL);
        if (!rc && it % 50 == 0) {   /* the whole way: a model over the fuzzed table */
            crest_model *m = NULL;
            assert_int_equal(crest_sequential_new(&m, crest_shape(1, crest_features_width(f))),
                             CREST_OK);
            crest_model_set_threads(m, 1);
            crest_add(m, crest_dense_features(f));
            crest_add(m, crest_dense(crest_features_classes(f), CREST_SOFTMAX));
            rc = crest_predict_table(m, path, NULL, &p, &np);
            crest_free(p);
            crest_model_free(m);
        }
        if (rc || rc2)
            assert_true(strlen(crest_last_error()) > 0);
        ok += !rc;
        errors += rc != 0;
        crest_dataset_free(d);
        crest_features_free(f);
        crest_features_free(g);
    }
    print_message("  3000 mutated tables: %d read, %d rejected with an error\n", ok, errors);
    assert_true(ok > 100 && errors > 100);
}

/* ---- one const spec shared by threads ------------------------------------ */

/* Bindings live on each caller's stack: threads transforming tables whose
 * columns come in different orders through one shared spec get exactly the
 * rows a single thread gets (with the binding stored in the spec they did
 * not: each thread rebinding it under the others was a data race). */
typedef struct shared_job {
    const crest_features *f;
    const char *paths[2];         /* the same rows, columns in two orders */
    const crest_dataset *want;
    int bad;
} shared_job;

static const char *const order_a[] = { "x", "c", "w", "t", "y" };
static const char *const order_b[] = { "y", "t", "w", "c", "x" };

static void *shared_worker(void *arg)
{
    shared_job *j = arg;
    const crest_features *f = j->f;
    size_t width = (size_t)crest_features_width(f);
    const float *want = crest_dataset_x(j->want);
    for (int it = 0; it < 100; it++) {
        crest_dataset *d = NULL;
        if (crest_features_dataset(&d, f, j->paths[it % 2], NULL, true) != CREST_OK ||
            crest_dataset_size(d) != crest_dataset_size(j->want) ||
            memcmp(crest_dataset_x(d), want, crest_dataset_size(d) * width * sizeof(float)) ||
            memcmp(crest_dataset_labels(d), crest_dataset_labels(j->want),
                   crest_dataset_size(d) * sizeof(int32_t)))
            j->bad++;
        crest_dataset_free(d);
        /* one raw row (the first), its columns in either order */
        const char *va[] = { "1.5", "a|b", "2", "p", "u" }, *vb[] = { "u", "p", "2", "a|b", "1.5" };
        float out[256];
        for (int k = 0; k < 20; k++)
            if (width > 256 ||
                crest_features_transform(f, k % 2 ? order_b : order_a, k % 2 ? vb : va, 5, out) ||
                memcmp(out, want, width * sizeof(float)))
                j->bad++;
    }
    return NULL;
}

static void test_shared_spec_threads(void **state)
{
    (void)state;
    /* 400 rows, the first "1.5,a|b,2,p,u" (as the single rows below) */
    static char rows_a[16384], rows_b[16384];
    static const char *const cs[] = { "a|b", "b", "a", "c", "b|c" }, *const ws[] = { "2", "1", "" };
    size_t ka = (size_t)snprintf(rows_a, sizeof rows_a, "x,c,w,t,y\n");
    size_t kb = (size_t)snprintf(rows_b, sizeof rows_b, "y,t,w,c,x\n");
    for (int i = 0; i < 400; i++) {
        char x[16] = "";   /* every ninth value missing */
        if (i % 9 != 4)
            snprintf(x, sizeof x, "%g", 1.5 + (i % 13) * 0.5);
        const char *c = cs[i % 5], *w = ws[i % 3], *t = i % 2 ? "q" : "p", *y = i % 2 ? "v" : "u";
        ka += (size_t)snprintf(rows_a + ka, sizeof rows_a - ka, "%s,%s,%s,%s,%s\n", x, c, w, t, y);
        kb += (size_t)snprintf(rows_b + kb, sizeof rows_b - kb, "%s,%s,%s,%s,%s\n", y, t, w, c, x);
    }
    assert_true(ka < sizeof rows_a - 1 && kb < sizeof rows_b - 1);
    crest_features *f = spec_on(
        "{\"label\": \"y\", \"features\": {\"x\": \"float_normalized\", \"c\": {\"type\": "
        "\"string_categorical\", \"separator\": \"|\", \"max_values\": 2, \"output_mode\": "
        "\"multi_hot\"}, \"w\": \"float\", \"t\": {\"type\": \"string_categorical\", "
        "\"weight_feature\": \"w\", \"output_mode\": \"embedding\", \"embedding_dim\": 2}}, "
        "\"crosses\": [{\"features\": [\"c\", \"t\"], \"crossing_dim\": 8}]}", rows_a);
    shared_job jobs[6];
    crest_dataset *want = NULL;
    const char *pa = put("shared_a.csv", rows_a), *pb = put("shared_b.csv", rows_b);
    assert_int_equal(crest_features_dataset(&want, f, pa, NULL, true), CREST_OK);
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        jobs[i] = (shared_job){ .f = f, .paths = { i % 2 ? pb : pa, i % 2 ? pa : pb },
                                .want = want };
        assert_int_equal(pthread_create(&th[i], NULL, shared_worker, &jobs[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(jobs[i].bad, 0);
    }
    assert_int_equal(crest_features_absent(f, NULL, 0), 0);
    crest_dataset_free(want);
    crest_features_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_goldens),
        cmocka_unit_test(test_keras_hashing_example),
        cmocka_unit_test(test_numeric_columns),
        cmocka_unit_test(test_categorical_columns),
        cmocka_unit_test(test_multi_weighted_crossed),
        cmocka_unit_test(test_embedding_op),
        cmocka_unit_test(test_spec_round_trip_and_errors),
        cmocka_unit_test(test_penguins_inferred),
        cmocka_unit_test(test_penguins_save_load_raw_rows),
        cmocka_unit_test(test_fit_table_chunks),
        cmocka_unit_test(test_bad_tables),
        cmocka_unit_test(test_arff_features),
        cmocka_unit_test(test_sklearn_tables),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_save_load_out_of_memory),
        cmocka_unit_test(test_fuzz_tables),
        cmocka_unit_test(test_every_kind_penguins),
        cmocka_unit_test(test_row_shards),
        cmocka_unit_test(test_absent_columns),
        cmocka_unit_test(test_overflowing_statistics),
        cmocka_unit_test(test_shared_spec_threads),
    };
    return cmocka_run_group_tests(tests, tu_setup_dir, tu_teardown_dir);
}
