/* oomutil.h - save and load under every allocation failure (include after
 * cmocka.h and internal.h). Header-only, static. */
#ifndef CREST_OOMUTIL_H
#define CREST_OOMUTIL_H

#include "testutil.h"

static inline bool tu_has_tmp_file(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;
    while (d && (e = readdir(d)))
        found |= strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return found;
}

/* save(m, path) (an export to one file, in tu_fixture_dir) once, then with
 * allocation k failing for k = 0, 1, ... until it succeeds: each failure
 * must be CREST_E_NOMEM and leave neither the file nor a temp file. Leaks
 * show under ASan. Returns the failed attempts. */
static inline long tu_export_oom(crest_model *m, const char *path,
                                 int (*save)(crest_model *, const char *))
{
    assert_int_equal(save(m, path), CREST_OK);   /* built once */
    assert_int_equal(remove(path), 0);
    int rc = -1;
    long k;
    for (k = 0; k < 20000; k++) {
        cr_alloc_fail_after(k);
        rc = save(m, path);
        cr_alloc_fail_after(-1);
        if (!rc)
            break;
        if (rc != CREST_E_NOMEM)
            print_error("k %ld: %s\n", k, crest_last_error());
        assert_int_equal(rc, CREST_E_NOMEM);
        struct stat st;
        assert_int_not_equal(stat(path, &st), 0);
        assert_false(tu_has_tmp_file(tu_fixture_dir));
    }
    assert_int_equal(rc, CREST_OK);
    return k;
}

/* m (compiled) is saved to dir, trained one more epoch on d, then saved with
 * allocation k failing for k = 0, 1, ... until the save succeeds: each
 * failure must be CREST_E_NOMEM, leave the first model.json as it was (and
 * loadable) and no temp file. Then loads with allocation k failing: each
 * failure CREST_E_NOMEM (or a custom factory's NULL layer) and no model, until one loads and predicts as m
 * does. Leaks show under ASan. Returns the failed saves and loads. */
static inline void tu_save_load_oom(crest_model *m, const crest_dataset *d, const char *dir,
                                    long *saves, long *loads)
{
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    char *before = tu_read(dir, "model.json");
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 1, .batch_size = 8 }),
                     CREST_OK);
    int rc = -1;
    for (*saves = 0; *saves < 50000; ++*saves) {
        cr_alloc_fail_after(*saves);
        rc = crest_model_save(m, dir);
        cr_alloc_fail_after(-1);
        if (!rc)
            break;
        if (rc != CREST_E_NOMEM)
            print_error("save, k %ld: %s\n", *saves, crest_last_error());
        assert_int_equal(rc, CREST_E_NOMEM);
        char *now = tu_read(dir, "model.json");
        assert_string_equal(now, before);
        free(now);
        assert_false(tu_has_tmp_file(dir));
        crest_model *old = NULL;
        assert_int_equal(crest_model_load(&old, dir), CREST_OK);
        crest_model_free(old);
    }
    assert_int_equal(rc, CREST_OK);
    char *after = tu_read(dir, "model.json");
    assert_string_not_equal(after, before);   /* the trained weights: a new shard */
    free(before);
    free(after);
    size_t n = crest_dataset_size(d) < 4 ? crest_dataset_size(d) : 4;
    size_t k = n * (size_t)crest_model_output_size(m);
    float *p0 = calloc(k, sizeof *p0), *p1 = calloc(k, sizeof *p1);
    assert_int_equal(crest_predict(m, crest_dataset_x(d), n, p0), CREST_OK);
    rc = -1;
    for (*loads = 0; *loads < 50000; ++*loads) {
        crest_model *l = NULL;
        cr_alloc_fail_after(*loads);
        rc = crest_model_load(&l, dir);
        cr_alloc_fail_after(-1);
        if (rc) {
            /* a C factory (custom model classes) whose crest_dense() etc. got
             * no memory hands crest a NULL layer: CREST_E_ARG, as in the
             * other allocation-failure loops */
            bool null_layer = rc == CREST_E_ARG && strstr(crest_last_error(), "NULL layer");
            if (rc != CREST_E_NOMEM && !null_layer)
                print_error("load, k %ld: %s\n", *loads, crest_last_error());
            assert_true(rc == CREST_E_NOMEM || null_layer);
            assert_null(l);
            continue;
        }
        assert_int_equal(crest_predict(l, crest_dataset_x(d), n, p1), CREST_OK);
        assert_memory_equal(p0, p1, k * sizeof *p0);
        crest_model_free(l);
        break;
    }
    assert_int_equal(rc, CREST_OK);
    free(p0);
    free(p1);
}

#endif
