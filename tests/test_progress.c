/* test_progress.c - progress is a callback: fit, backbone extraction and
 * table fit hand every event to the callback in their options with the
 * right counts (epochs, steps, samples, images), resume and early stopping
 * included, and the library itself writes nothing to stderr, with a
 * callback or without one. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"
#include "blobs.h"



/* ---- stderr captured in a file around library calls ---------------------- */

static int saved_fd = -1;

static void stderr_begin(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/stderr.txt", tu_fixture_dir);
    fflush(stderr);
    saved_fd = dup(2);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved_fd >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    close(fd);
}

/* Restores stderr; what the library wrote meanwhile, in bytes. */
static size_t stderr_end(void)
{
    fflush(stderr);
    assert_int_equal(dup2(saved_fd, 2), 2);
    close(saved_fd);
    return tu_size(tu_fixture_dir, "stderr.txt");
}

/* ---- a recording callback -------------------------------------------------- */

#define MAX_EVENTS 512

typedef struct recorder {
    int count[CREST_PROGRESS_EXTRACT + 1];
    int n;
    crest_progress ev[MAX_EVENTS];
    char path[256];               /* RESUME's, copied (valid during the call only) */
} recorder;

static void record(const crest_progress *e, void *user)
{
    recorder *r = user;
    r->count[e->kind]++;
    if (r->n < MAX_EVENTS)
        r->ev[r->n++] = *e;
    if (e->kind == CREST_PROGRESS_RESUME)
        snprintf(r->path, sizeof r->path, "%s", e->path);
}

static crest_model *dense_model(int units)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 8)), CREST_OK);
    crest_model_set_seed(m, 3);
    crest_model_set_threads(m, 1);
    crest_add(m, crest_dense(units, CREST_SOFTMAX));
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(1e-2f) }),
                     CREST_OK);
    return m;
}

/* ---- fit --------------------------------------------------------------- */

/* 100 samples, validation_split 0.2: 80 trained on in batches of 32, so
 * 3 steps (32, 64, 80 samples) per epoch; BEGIN, STEPs, END in order. */
static void test_fit_events(void **state)
{
    (void)state;
    crest_dataset *d = tu_blobs(100, 1, 1.0f, 1.0f);
    crest_model *m = dense_model(3);
    recorder *r = calloc(1, sizeof *r);
    crest_history h;
    stderr_begin();
    int rc = crest_fit(m, d, &(crest_fit_opts){ .epochs = 3, .batch_size = 32, .seed = 1,
                                                .validation_split = 0.2f, .history = &h,
                                                .progress = record, .progress_user = r });
    assert_int_equal(stderr_end(), 0);
    assert_int_equal(rc, CREST_OK);
    assert_int_equal(r->count[CREST_PROGRESS_EPOCH_BEGIN], 3);
    assert_int_equal(r->count[CREST_PROGRESS_STEP], 9);
    assert_int_equal(r->count[CREST_PROGRESS_EPOCH_END], 3);
    assert_int_equal(r->count[CREST_PROGRESS_EARLY_STOP] + r->count[CREST_PROGRESS_RESUME] +
                     r->count[CREST_PROGRESS_EXTRACT], 0);
    assert_int_equal(r->n, 15);
    static const size_t seen[3] = { 32, 64, 80 };
    for (int ep = 0; ep < 3; ep++) {
        const crest_progress *e = &r->ev[5 * ep];
        assert_int_equal(e[0].kind, CREST_PROGRESS_EPOCH_BEGIN);
        assert_int_equal(e[0].epoch, ep);
        assert_int_equal(e[0].epochs, 3);
        assert_int_equal(e[0].steps, 3);
        for (int s = 0; s < 3; s++) {
            assert_int_equal(e[1 + s].kind, CREST_PROGRESS_STEP);
            assert_int_equal(e[1 + s].epoch, ep);
            assert_int_equal(e[1 + s].step, s + 1);
            assert_int_equal(e[1 + s].steps, 3);
            assert_int_equal(e[1 + s].samples, seen[s]);
            assert_true(e[1 + s].loss > 0 && e[1 + s].accuracy >= 0 && e[1 + s].seconds >= 0);
        }
        assert_int_equal(e[4].kind, CREST_PROGRESS_EPOCH_END);
        assert_int_equal(e[4].epoch, ep);
        assert_int_equal(e[4].step, 3);
        assert_int_equal(e[4].samples, 80);
        assert_true(e[4].has_val);
        assert_true(e[4].loss == h.loss[ep] && e[4].accuracy == h.accuracy[ep]);
        assert_true(e[4].val_loss == h.val_loss[ep] && e[4].val_accuracy == h.val_accuracy[ep]);
        assert_true(e[4].loss == e[3].loss);   /* the last step's running mean is the epoch's */
    }
    /* no callback: silent too */
    stderr_begin();
    rc = crest_fit(m, d, &(crest_fit_opts){ .epochs = 2, .early_stopping_patience = 1,
                                            .early_stopping_min_delta = 1e9f });
    assert_int_equal(stderr_end(), 0);
    assert_int_equal(rc, CREST_OK);
    free(r);
    crest_model_free(m);
    crest_dataset_free(d);
}

/* A fresh model fit for epochs with checkpoints in ck, resuming what is
 * there; events into r (cleared first), nothing on stderr. */
static void resumed_run(const crest_dataset *d, const char *ck, int epochs, recorder *r)
{
    crest_model *m = dense_model(3);
    memset(r, 0, sizeof *r);
    stderr_begin();
    int rc = crest_fit(m, d, &(crest_fit_opts){ .epochs = epochs, .seed = 4,
                                                .checkpoint_dir = ck, .resume = true,
                                                .progress = record, .progress_user = r });
    assert_int_equal(stderr_end(), 0);
    assert_int_equal(rc, CREST_OK);
    crest_model_free(m);
}

/* Early stopping: with a min_delta nothing beats, the run stops after its
 * second epoch, the first being the best; then a resumed run says where it
 * resumed. */
static void test_early_stop_and_resume(void **state)
{
    (void)state;
    crest_dataset *d = tu_blobs(60, 2, 1.0f, 1.0f);
    crest_model *m = dense_model(3);
    recorder *r = calloc(1, sizeof *r);
    stderr_begin();
    int rc = crest_fit(m, d, &(crest_fit_opts){ .epochs = 5, .early_stopping_patience = 1,
                                                .early_stopping_min_delta = 1e9f,
                                                .progress = record, .progress_user = r });
    assert_int_equal(stderr_end(), 0);
    assert_int_equal(rc, CREST_OK);
    assert_int_equal(r->count[CREST_PROGRESS_EPOCH_END], 2);
    assert_int_equal(r->count[CREST_PROGRESS_EARLY_STOP], 1);
    const crest_progress *last = &r->ev[r->n - 1];
    assert_int_equal(last->kind, CREST_PROGRESS_EARLY_STOP);
    assert_int_equal(last->epoch, 1);
    assert_int_equal(last->best_epoch, 0);
    assert_int_equal(r->ev[r->n - 2].kind, CREST_PROGRESS_EPOCH_END);
    crest_model_free(m);

    /* two epochs with checkpoints, then the same run resumed to four */
    char ck[128];
    snprintf(ck, sizeof ck, "%s/ckpt", tu_fixture_dir);
    resumed_run(d, ck, 2, r);
    assert_int_equal(r->count[CREST_PROGRESS_RESUME], 0);   /* nothing to resume yet */
    resumed_run(d, ck, 4, r);
    assert_int_equal(r->count[CREST_PROGRESS_RESUME], 1);
    assert_int_equal(r->ev[0].kind, CREST_PROGRESS_RESUME);
    assert_int_equal(r->ev[0].epoch, 2);
    assert_int_equal(r->ev[0].epochs, 4);
    assert_non_null(strstr(r->path, "ckpt/fit.ckpt"));
    assert_int_equal(r->count[CREST_PROGRESS_EPOCH_BEGIN], 2);
    assert_int_equal(r->ev[1].kind, CREST_PROGRESS_EPOCH_BEGIN);
    assert_int_equal(r->ev[1].epoch, 2);
    free(r);
    crest_dataset_free(d);
}

/* ---- backbone extraction ------------------------------------------------ */

/* 10 samples in batches of 4: events at 4, 8 and 10 of 10; a cache hit runs
 * no batch and reports none. */
static void test_extract_events(void **state)
{
    (void)state;
    crest_dataset *d = tu_blobs(10, 3, 1.0f, 1.0f), *f = NULL;
    crest_model *m = dense_model(4);
    recorder *r = calloc(1, sizeof *r);
    char cache[128];
    snprintf(cache, sizeof cache, "%s/cache", tu_fixture_dir);
    crest_extract_opts o = { .batch_size = 4, .cache_dir = cache, .progress = record,
                             .progress_user = r };
    stderr_begin();
    int rc = crest_extract(m, d, &o, &f);
    assert_int_equal(stderr_end(), 0);
    assert_int_equal(rc, CREST_OK);
    assert_int_equal(r->n, 3);
    assert_int_equal(r->count[CREST_PROGRESS_EXTRACT], 3);
    static const size_t done[3] = { 4, 8, 10 };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r->ev[i].done, done[i]);
        assert_int_equal(r->ev[i].total, 10);
        assert_true(r->ev[i].seconds >= 0);
    }
    crest_dataset_free(f);
    memset(r, 0, sizeof *r);
    crest_extract_stats st;
    o.stats = &st;
    stderr_begin();
    rc = crest_extract(m, d, &o, &f);
    assert_int_equal(stderr_end(), 0);
    assert_int_equal(rc, CREST_OK);
    assert_true(st.cache_hit);
    assert_int_equal(r->n, 0);
    free(r);
    crest_dataset_free(f);
    crest_model_free(m);
    crest_dataset_free(d);
}

/* ---- table fit ---------------------------------------------------------- */

/* 30 labelled rows (and one without a label, skipped) in chunks of 8: a
 * STEP per chunk (8, 16, 24, 30 rows), END with the epoch's 30 rows and
 * the history's metrics, validation included. */
static void test_table_fit_events(void **state)
{
    (void)state;
    char csv[4096];
    size_t k = (size_t)snprintf(csv, sizeof csv, "x,c,y\n");
    for (int i = 0; i < 30; i++)
        k += (size_t)snprintf(csv + k, sizeof csv - k, "%d.5,%s,%s\n", i % 7,
                              i % 3 ? "a" : "b", i % 2 ? "u" : "v");
    snprintf(csv + k, sizeof csv - k, "1,a,\n");
    tu_write(tu_fixture_dir, "t.csv", csv, strlen(csv));
    char path[128];
    snprintf(path, sizeof path, "%s/t.csv", tu_fixture_dir);
    crest_features *f = NULL;
    assert_int_equal(crest_features_parse(&f, "{\"label\": \"y\", \"features\": {\"x\": "
                                              "\"float_normalized\", \"c\": "
                                              "\"string_categorical\"}}"), CREST_OK);
    assert_int_equal(crest_features_adapt(f, path, NULL), CREST_OK);
    crest_dataset *val = NULL;
    assert_int_equal(crest_features_dataset(&val, f, path, NULL, true), CREST_OK);
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, crest_features_width(f))),
                     CREST_OK);
    crest_model_set_threads(m, 1);
    crest_add(m, crest_dense_features(f));
    crest_add(m, crest_dense(2, CREST_SOFTMAX));
    assert_int_equal(crest_compile(m, NULL), CREST_OK);
    recorder *r = calloc(1, sizeof *r);
    crest_history h;
    stderr_begin();
    int rc = crest_fit_table(m, f, path, NULL,
                             &(crest_fit_opts){ .epochs = 2, .batch_size = 4, .history = &h,
                                                .validation_data = val, .progress = record,
                                                .progress_user = r }, 8);
    assert_int_equal(stderr_end(), 0);
    assert_int_equal(rc, CREST_OK);
    assert_int_equal(r->count[CREST_PROGRESS_EPOCH_BEGIN], 2);
    assert_int_equal(r->count[CREST_PROGRESS_STEP], 8);   /* the chunks' own fits report nothing */
    assert_int_equal(r->count[CREST_PROGRESS_EPOCH_END], 2);
    assert_int_equal(r->n, 12);
    static const size_t rows[4] = { 8, 16, 24, 30 };
    for (int ep = 0; ep < 2; ep++) {
        const crest_progress *e = &r->ev[6 * ep];
        assert_int_equal(e[0].kind, CREST_PROGRESS_EPOCH_BEGIN);
        assert_int_equal(e[0].epoch, ep);
        assert_int_equal(e[0].epochs, 2);
        for (int s = 0; s < 4; s++) {
            assert_int_equal(e[1 + s].kind, CREST_PROGRESS_STEP);
            assert_int_equal(e[1 + s].step, s + 1);
            assert_int_equal(e[1 + s].samples, rows[s]);
        }
        assert_int_equal(e[5].kind, CREST_PROGRESS_EPOCH_END);
        assert_int_equal(e[5].samples, 30);
        assert_true(e[5].has_val);
        assert_true(fabs(e[5].loss - h.loss[ep]) < 1e-12 && e[5].val_loss == h.val_loss[ep]);
        assert_true(e[5].accuracy == h.accuracy[ep]);
    }
    free(r);
    crest_model_free(m);
    crest_dataset_free(val);
    crest_features_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_events),
        cmocka_unit_test(test_early_stop_and_resume),
        cmocka_unit_test(test_extract_events),
        cmocka_unit_test(test_table_fit_events),
    };
    return cmocka_run_group_tests(tests, tu_setup_dir, tu_teardown_dir);
}
