/* test_fuzz_load.c - seeded random corruption of a saved model: every load
 * either succeeds or returns an error with a message; never a crash, hang
 * or leak (run under ASan/UBSan in CI). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static void save_small_functional(const char *dir)
{
    crest_model *m = NULL;
    assert_int_equal(crest_functional_new(&m, "fz"), CREST_OK);
    crest_sym *a = crest_input(m, crest_shape(1, 5), "a");
    crest_sym *b = crest_input(m, crest_shape(2, 2, 2), "b");
    crest_sym *fb = crest_apply(m, crest_flatten(), b);
    crest_sym *ab[2] = { crest_apply(m, crest_dense(4, CREST_RELU), a),
                         crest_apply(m, crest_dense(4, CREST_TANH), fb) };
    crest_sym *s = crest_call(m, crest_merge_add(), ab, 2);
    crest_sym *d = crest_apply(m, crest_dropout(0.1f), s);
    crest_sym *o = crest_apply(m, crest_dense(3, CREST_SOFTMAX), d);
    crest_sym *ins[2] = { a, b };
    assert_int_equal(crest_functional_outputs(m, ins, 2, &o, 1), CREST_OK);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model_free(m);
}

static void test_mutated_model_json(void **state)
{
    (void)state;
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    save_small_functional(dir);
    char *orig = tu_read(dir, "model.json");
    size_t n = strlen(orig);
    cr_rng r;
    cr_rng_seed(&r, 2024);
    const char *tokens[] = { "null", "-1", "1e9", "\"\"", "[]", "{}", "0", "true",
                             "\"../x\"", "99999999999", "[null]", "\"Dense\"" };
    int ok = 0, failed = 0;
    int iters = getenv("CREST_FUZZ_ITERS") ? atoi(getenv("CREST_FUZZ_ITERS")) : 600;
    for (int it = 0; it < iters; it++) {
        char *t = malloc(n + 64);
        memcpy(t, orig, n + 1);
        int edits = 1 + (int)cr_rng_below(&r, 3);
        for (int e = 0; e < edits && strlen(t) > 0; e++) {
            size_t at = (size_t)cr_rng_below(&r, strlen(t));
            switch (cr_rng_below(&r, 4)) {
            case 0:   /* flip a byte */
                t[at] = (char)(32 + cr_rng_below(&r, 95));
                break;
            case 1:   /* truncate */
                t[at] = 0;
                break;
            case 2: { /* replace a number or word with a hostile token */
                const char *tok = tokens[cr_rng_below(&r, sizeof tokens / sizeof *tokens)];
                size_t len = strcspn(t + at, ",]}"), tl = strlen(tok);
                if (len > 40 || strlen(t) + tl >= n + 60)
                    break;
                memmove(t + at + tl, t + at + len, strlen(t + at + len) + 1);
                memcpy(t + at, tok, tl);
                break;
            }
            default: { /* delete a span */
                size_t rest = strlen(t + at), k = 1 + (size_t)cr_rng_below(&r, 8);
                if (k > rest)
                    k = rest;
                memmove(t + at, t + at + k, rest - k + 1);
                break;
            }
            }
        }
        tu_write(dir, "model.json", t, strlen(t));
        free(t);
        crest_model *m = NULL;
        int rc = crest_model_load(&m, dir);
        if (rc == CREST_OK) {
            float x[9] = { 0 }, p[64];
            if (crest_model_output_size(m) <= 64 &&
                cr_dims_count(&m->in_shape) == 9)
                crest_predict(m, x, 1, p);
            crest_model_free(m);
            ok++;
        } else {
            assert_null(m);
            assert_true(strlen(crest_last_error()) > 0);
            failed++;
        }
    }
    print_message("fuzzed model.json: %d loaded, %d rejected\n", ok, failed);
    assert_true(failed > iters / 2);
    free(orig);
    tu_rmdir(dir);
}

static void test_mutated_weights(void **state)
{
    (void)state;
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    save_small_functional(dir);
    char *json = tu_read(dir, "model.json");
    const char *sp = strstr(json, "weights.");
    char shard[64] = { 0 };
    memcpy(shard, sp, strcspn(sp, "\""));
    size_t len = tu_size(dir, shard);
    char *bin = tu_read(dir, shard);
    cr_rng r;
    cr_rng_seed(&r, 7);
    for (int it = 0; it < 50; it++) {
        size_t cut = (size_t)cr_rng_below(&r, len + 16);
        char *b = calloc(1, len + 16);
        memcpy(b, bin, len);
        tu_write(dir, shard, b, cut);
        free(b);
        crest_model *m = NULL;
        int rc = crest_model_load(&m, dir);
        assert_int_equal(rc, cut == len ? CREST_OK : CREST_E_FORMAT);
        crest_model_free(m);
    }
    free(json);
    free(bin);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutated_model_json),
        cmocka_unit_test(test_mutated_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
