/* test_csv.c - the CSV and ARFF readers: quoting, delimiters, missing
 * values, streaming across chunk boundaries, and bad tables. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/features.h"
#include "testutil.h"

static char dir[64];

static const char *put(const char *name, const char *text)
{
    static char path[4][256];
    static int k;
    char *p = path[k++ % 4];
    tu_write(dir, name, text, strlen(text));
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static int setup(void **s)
{
    (void)s;
    tu_tmpdir(dir, sizeof dir);
    return 0;
}
static int teardown(void **s)
{
    (void)s;
    tu_rmdir(dir);
    return 0;
}

static void test_quoting(void **state)
{
    (void)state;
    const char *p = put("q.csv", "a,\"b,c\",d\r\n"
                                 "1,\"he said \"\"hi\"\"\",x\r\n"
                                 "\n"
                                 "2,\"two\nlines\",\r\n"
                                 "3,,\"\"");
    cr_table t;
    const char **v;
    assert_int_equal(cr_table_open(&t, p, 0), CREST_OK);
    assert_int_equal(t.n_cols, 3);
    assert_string_equal(t.names[1], "b,c");
    assert_int_equal(cr_table_next(&t, &v), 1);
    assert_string_equal(v[1], "he said \"hi\"");
    assert_string_equal(v[2], "x");
    assert_int_equal(cr_table_next(&t, &v), 1);   /* the blank line is skipped */
    assert_int_equal(t.row_line, 4);
    assert_string_equal(v[1], "two\nlines");
    assert_string_equal(v[2], "");
    assert_true(cr_is_missing(v[2]));
    assert_int_equal(cr_table_next(&t, &v), 1);
    assert_int_equal(t.row_line, 6);              /* line numbers count the quoted break */
    assert_string_equal(v[0], "3");
    assert_string_equal(v[2], "");
    assert_int_equal(cr_table_next(&t, &v), 0);
    cr_table_close(&t);
    assert_true(cr_is_missing("NA") && cr_is_missing("?") && cr_is_missing("NaN"));
    assert_false(cr_is_missing("0") || cr_is_missing("na") || cr_is_missing(" "));
}

static void test_delimiters(void **state)
{
    (void)state;
    const char *p = put("s.csv", "x;y\n1,5;\"a;b\"\n");
    cr_table t;
    const char **v;
    assert_int_equal(cr_table_open(&t, p, ';'), CREST_OK);
    assert_int_equal(cr_table_next(&t, &v), 1);
    assert_string_equal(v[0], "1,5");
    assert_string_equal(v[1], "a;b");
    cr_table_close(&t);
    p = put("t.tsv", "x\ty\n1\t2\n");
    assert_int_equal(cr_table_open(&t, p, '\t'), CREST_OK);
    assert_int_equal(cr_table_next(&t, &v), 1);
    assert_string_equal(v[1], "2");
    cr_table_close(&t);
}

/* Rows and a quoted field straddling the 64 KiB read chunks. */
static void test_streaming_chunks(void **state)
{
    (void)state;
    size_t cap = 1 << 22, n = 0;
    char *text = malloc(cap);
    n += (size_t)sprintf(text + n, "id,text\n");
    for (int i = 0; i < 30000; i++)
        n += (size_t)sprintf(text + n, i == 9000 ? "%d,\"%0*d\nmore,\"\"x\"\"\"\n" : "%d,r%d\n",
                             i, i == 9000 ? 70000 : i, i);
    tu_write(dir, "big.csv", text, n);
    free(text);
    char p[256];
    snprintf(p, sizeof p, "%s/big.csv", dir);
    cr_table t;
    const char **v;
    assert_int_equal(cr_table_open(&t, p, 0), CREST_OK);
    long rows = 0;
    int rc;
    while ((rc = cr_table_next(&t, &v)) == 1) {
        assert_int_equal(atol(v[0]), rows);
        if (rows == 9000) {
            assert_int_equal(strlen(v[1]), 70000 + 9);
            assert_string_equal(v[1] + 70000, "\nmore,\"x\"");
        } else {
            assert_int_equal(atol(v[1] + 1), rows);
        }
        rows++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(rows, 30000);
    cr_table_close(&t);
}

static void expect_error(const char *name, const char *text, int code, const char *msg1,
                         const char *msg2)
{
    const char *p = put(name, text);
    cr_table t;
    const char **v;
    int rc = cr_table_open(&t, p, 0);
    while (rc == CREST_OK && (rc = cr_table_next(&t, &v)) == 1)
        rc = 0;
    cr_table_close(&t);
    assert_int_equal(rc, code);
    print_message("  %s: %s\n", name, crest_last_error());
    assert_non_null(strstr(crest_last_error(), name));
    assert_non_null(strstr(crest_last_error(), msg1));
    if (msg2)
        assert_non_null(strstr(crest_last_error(), msg2));
}

static void test_bad_tables(void **state)
{
    (void)state;
    expect_error("ragged.csv", "a,b,c\n1,2,3\n4,5\n", CREST_E_FORMAT, "line 3", "2 fields");
    expect_error("unterminated.csv", "a,b\n1,2\n3,\"open\n4,5\n", CREST_E_FORMAT, "line 3",
                 "unterminated");
    expect_error("afterquote.csv", "a,b\n\"x\"y,2\n", CREST_E_FORMAT, "line 2", "closing quote");
    expect_error("empty.csv", "", CREST_E_FORMAT, "empty", NULL);
    expect_error("blank.csv", "\n\r\n\n", CREST_E_FORMAT, "empty", NULL);
    expect_error("dup.csv", "a,a\n1,2\n", CREST_E_FORMAT, "twice", NULL);
    expect_error("noname.csv", "a,,c\n1,2,3\n", CREST_E_FORMAT, "column 2", "empty column name");
    cr_table t;
    assert_int_equal(cr_table_open(&t, "/nonexistent/x.csv", 0), CREST_E_IO);
    cr_table_close(&t);
}

static void test_arff(void **state)
{
    (void)state;
    const char *p = put("w.arff", "% weather\n@relation weather\n\n"
                                  "@attribute outlook {sunny, overcast, 'light rain'}\n"
                                  "@attribute temperature numeric\n"
                                  "@attribute 'wind speed' REAL\n"
                                  "@attribute note string\n"
                                  "@attribute play {yes,no}\n\n@data\n"
                                  "sunny,85,?,'hot, dry',no\n"
                                  "% a comment row\n"
                                  "'light rain', 70 , 3.5 ,\"wet\",yes\n");
    cr_table t;
    const char **v;
    assert_int_equal(cr_table_open(&t, p, 0), CREST_OK);
    assert_true(t.arff);
    assert_int_equal(t.n_cols, 5);
    assert_string_equal(t.names[2], "wind speed");
    assert_int_equal(t.attr[0], CR_ATTR_NOMINAL);
    assert_int_equal(t.n_nominal[0], 3);
    assert_string_equal(t.nominal[0][2], "light rain");
    assert_int_equal(t.attr[1], CR_ATTR_NUMERIC);
    assert_int_equal(t.attr[3], CR_ATTR_STRING);
    assert_int_equal(cr_table_next(&t, &v), 1);
    assert_string_equal(v[3], "hot, dry");
    assert_true(cr_is_missing(v[2]));
    assert_int_equal(cr_table_next(&t, &v), 1);
    assert_string_equal(v[0], "light rain");
    assert_string_equal(v[1], "70");
    assert_string_equal(v[2], "3.5");
    assert_int_equal(cr_table_next(&t, &v), 0);
    cr_table_close(&t);
    expect_error("date.arff", "@relation r\n@attribute d date\n@data\n", CREST_E_UNSUPPORTED,
                 "line 2", "date");
    expect_error("sparse.arff", "@relation r\n@attribute a numeric\n@data\n{0 1}\n",
                 CREST_E_UNSUPPORTED, "line 4", "sparse");
    expect_error("nodata.arff", "@relation r\n@attribute a numeric\n", CREST_E_FORMAT,
                 "no @data", NULL);
    expect_error("ragged.arff", "@relation r\n@attribute a numeric\n@attribute b numeric\n"
                 "@data\n1,2\n3\n", CREST_E_FORMAT, "line 6", "1 fields");
}

/* An @attribute line that ends early (no type, or a quote never closed)
 * must be an error naming it, not read on into the bytes earlier (longer)
 * lines left in the row buffer: found by tests/fuzz/fuzz_arff (a
 * heap-buffer-overflow read under ASan; here "@attribute x" after
 * "@attribute a numeric" silently became numeric). */
static void test_arff_attribute_ends_early(void **state)
{
    (void)state;
    expect_error("notype.arff", "@relation r\n@attribute a numeric\n@attribute x\n@data\n1,2\n",
                 CREST_E_FORMAT, "line 3", "'x' has no type");
    expect_error("notype2.arff", "@relation r\n@attribute 'long name' numeric\n@attribute 'x'  \n"
                 "@data\n1,2\n", CREST_E_FORMAT, "line 3", "'x' has no type");
    expect_error("openquote.arff", "@relation r\n@attribute 'a b c d e' numeric\n"
                 "@attribute 'x numeric\n@data\n1,2\n", CREST_E_FORMAT, "line 3",
                 "'x numeric has no closing '");
    /* the fuzzer's own input (tests/fuzz/corpus/arff/crash-attribute-no-type) */
    expect_error("fuzzed.arff", "@RELATION r\n@ATTRIBUTE  NU\n1,ax NU\n1,a\n% c\n2,b\n",
                 CREST_E_FORMAT, "line 2", "'NU' has no type");
    /* a nominal value listed twice: its values become a vocabulary, which
     * must not hold one twice (fuzz_arff: the inferred spec did not load back) */
    expect_error("dupnominal.arff", "@relation r\n@attribute c {a, 'b', b}\n@data\nb\n",
                 CREST_E_FORMAT, "line 2", "'c' lists 'b' twice");
    /* a nominal type right after the name, no blank between */
    const char *p = put("brace.arff", "@relation r\n@attribute c{a,b}\n@data\nb\n");
    cr_table t;
    const char **v;
    assert_int_equal(cr_table_open(&t, p, 0), CREST_OK);
    assert_int_equal(t.n_cols, 1);
    assert_string_equal(t.names[0], "c");
    assert_int_equal(t.attr[0], CR_ATTR_NOMINAL);
    assert_int_equal(t.n_nominal[0], 2);
    assert_int_equal(cr_table_next(&t, &v), 1);
    assert_string_equal(v[0], "b");
    cr_table_close(&t);
}

/* scikit-learn's CSVs: "n_samples,n_features,class names" first. */
static void test_sklearn_layout(void **state)
{
    (void)state;
    cr_table t;
    const char **v;
    const char *p = put("sk.csv", "3,2,cat,dog\n1.5,2,0\n3,4,1\n5,6,7\n");
    assert_int_equal(cr_table_open(&t, p, 0), CREST_OK);
    assert_true(t.sklearn);
    assert_int_equal(t.n_cols, 3);
    assert_string_equal(t.names[0], "f0");
    assert_string_equal(t.names[2], "target");
    assert_int_equal(cr_table_next(&t, &v), 1);
    assert_string_equal(v[0], "1.5");
    assert_string_equal(v[2], "cat");
    assert_int_equal(cr_table_next(&t, &v), 1);
    assert_string_equal(v[2], "dog");
    assert_int_equal(cr_table_next(&t, &v), 1);
    assert_string_equal(v[2], "7");                 /* no such class name: as written */
    assert_int_equal(cr_table_next(&t, &v), 0);
    cr_table_close(&t);
    /* looks alike, but the next row does not have n_features + 1 fields: a header */
    p = put("nosk.csv", "3,2,cat,dog\n1,2,3,4\n");
    assert_int_equal(cr_table_open(&t, p, 0), CREST_OK);
    assert_false(t.sklearn);
    assert_string_equal(t.names[2], "cat");
    assert_int_equal(cr_table_next(&t, &v), 1);
    assert_string_equal(v[3], "4");
    assert_int_equal(cr_table_next(&t, &v), 0);
    cr_table_close(&t);
    p = put("hdronly.csv", "3,2,cat,dog\n");
    assert_int_equal(cr_table_open(&t, p, 0), CREST_OK);
    assert_int_equal(cr_table_next(&t, &v), 0);
    cr_table_close(&t);
}

static void test_penguins_file(void **state)
{
    (void)state;
    char p[1024];
    snprintf(p, sizeof p, "%s/penguins/penguins.csv", crest_data_dir());
    cr_table t;
    const char **v;
    int rc = cr_table_open(&t, p, 0);
    if (rc == CREST_E_IO) {
        cr_table_close(&t);
        skip();
    }
    assert_int_equal(rc, CREST_OK);
    assert_int_equal(t.n_cols, 8);
    assert_int_equal(cr_table_col(&t, "species"), 0);
    long rows = 0, na = 0;
    while ((rc = cr_table_next(&t, &v)) == 1) {
        rows++;
        for (int c = 0; c < 8; c++)
            na += cr_is_missing(v[c]);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(rows, 344);
    assert_int_equal(na, 19);   /* 2 rows of 4 NA measurements, 11 NA sex values */
    cr_table_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoting),          cmocka_unit_test(test_delimiters),
        cmocka_unit_test(test_streaming_chunks), cmocka_unit_test(test_bad_tables),
        cmocka_unit_test(test_arff),             cmocka_unit_test(test_penguins_file),
        cmocka_unit_test(test_sklearn_layout),   cmocka_unit_test(test_arff_attribute_ends_early),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
