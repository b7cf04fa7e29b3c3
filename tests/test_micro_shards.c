/* test_micro_shards.c - crest_fit in micro-shards (crest_fit_opts.micro_batch),
 * as `mpirun crest train` runs it, with no MPI: N threads stand for N
 * processes, each with its own model, exchanging micro-shard rows through
 * a shared buffer and a barrier (what MPI_Allgatherv does for the command).
 * The weights are the same bits for N = 1, 2, 3, 5 (dropout, a partial
 * last batch, more shards than a batch has); a failed shard fails every
 * process instead of leaving them waiting, and so does a failure at an
 * epoch's end in one (its saves); a checkpoint's bytes handed to every
 * process resume the run on any number of them, the bits of one process
 * never stopped; crest_shard_range cuts contiguous, balanced parts. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "blobs.h"

static void test_shard_range(void **state)
{
    (void)state;
    for (size_t n = 0; n < 40; n++)
        for (int parts = 1; parts <= 7; parts++) {
            size_t next = 0, lo = n, hi = 0;
            for (int k = 0; k < parts; k++) {
                size_t f, c;
                crest_shard_range(n, parts, k, &f, &c);
                assert_int_equal(f, next);   /* contiguous, in order */
                next = f + c;
                lo = c < lo ? c : lo;
                hi = c > hi ? c : hi;
            }
            assert_int_equal(next, n);       /* all of them */
            assert_true(hi - lo <= 1);       /* balanced */
        }
}

/* A Dense-ReLU-Dropout-Dense softmax model on the blobs, compiled. */
static crest_model *model(void)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 8)), CREST_OK);
    crest_model_set_seed(m, 7);
    crest_model_set_threads(m, 1);
    crest_add(m, crest_dense(16, CREST_RELU));
    crest_add(m, crest_dropout(0.3f));
    crest_add(m, crest_dense(3, CREST_SOFTMAX));
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.01f),
                                       .loss = CREST_SPARSE_CCE }), CREST_OK);
    return m;
}

/* The processes' exchange: each copies its rows in, all copy every row out. */
typedef struct exchange {
    pthread_barrier_t bar;
    float *rows;          /* room for a batch's micro-shards */
    int n;                /* processes */
    int fail_shard;       /* this process marks its rows failed (-1: none) */
} exchange;

typedef struct proc {
    exchange *x;
    int k;
    const crest_dataset *d;
    crest_model *m;
    int rc;
    char msg[256];        /* crest_last_error is per thread */
    crest_history *h;     /* the run's history, validation metrics included */
} proc;

static int allgather(void *user, float *rows, int n_rows, size_t row_floats)
{
    proc *p = user;
    size_t f, c;
    crest_shard_range((size_t)n_rows, p->x->n, p->k, &f, &c);
    if (p->k == p->x->fail_shard && row_floats > 1)   /* micro-shard rows, not statuses */
        for (size_t j = f; j < f + c; j++)
            rows[j * row_floats + row_floats - 1] = 1;   /* the row's status */
    memcpy(p->x->rows + f * row_floats, rows + f * row_floats, c * row_floats * sizeof *rows);
    pthread_barrier_wait(&p->x->bar);
    memcpy(rows, p->x->rows, (size_t)n_rows * row_floats * sizeof *rows);
    pthread_barrier_wait(&p->x->bar);   /* nobody writes the next batch's rows early */
    return CREST_OK;
}

/* What the runs of a test do besides fitting 3 epochs (zero: nothing). */
static struct {
    int epochs;
    const char *ckdir;     /* process 0 writes checkpoints there */
    const void *bytes;     /* every process resumes from these */
    size_t n_bytes;
    bool fail_end;         /* process 0's on_epoch_end fails */
} extra;

static int failing_end(crest_model *m, int epoch, const crest_history *h, void *user)
{
    (void)m;
    (void)epoch;
    (void)h;
    (void)user;
    return CREST_E_IO;
}

static void *run(void *arg)
{
    proc *p = arg;
    p->m = model();
    p->rc = crest_fit(p->m, p->d, &(crest_fit_opts){ .epochs = extra.epochs ? extra.epochs : 3,
                                                     .batch_size = 16, .seed = 5,
                                                     .validation_split = 0.4, .history = p->h,
                                                     .micro_batch = 4, .n_shards = p->x->n,
                                                     .shard = p->k, .allgather = allgather,
                                                     .allgather_user = p,
                                                     .checkpoint_dir = p->k ? NULL : extra.ckdir,
                                                     .resume = extra.bytes != NULL,
                                                     .resume_bytes = extra.bytes,
                                                     .resume_size = extra.n_bytes,
                                                     .on_epoch_end = extra.fail_end && !p->k
                                                                         ? failing_end : NULL });
    snprintf(p->msg, sizeof p->msg, "%s", p->rc ? crest_last_error() : "");
    return NULL;
}

/* N processes fit d; their weights (all the same) into w and their history
 * (validation too: sharded over the processes, the same in all) into h, or
 * their codes. */
static void fit_in(int n, int fail_shard, const crest_dataset *d, float *w, int64_t nw,
                   int *codes, char (*msgs)[256], crest_history *h)
{
    exchange x = { .n = n, .fail_shard = fail_shard,
                   .rows = calloc(4 * (size_t)(nw + 4), sizeof(float)) };
    pthread_barrier_init(&x.bar, NULL, (unsigned)n);
    proc p[8];
    pthread_t t[8];
    for (int k = 0; k < n; k++) {
        p[k] = (proc){ .x = &x, .k = k, .d = d, .h = calloc(1, sizeof(crest_history)) };
        assert_non_null(p[k].h);
        assert_int_equal(pthread_create(&t[k], NULL, run, &p[k]), 0);
    }
    for (int k = 0; k < n; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < n; k++) {
        codes[k] = p[k].rc;
        if (msgs)
            memcpy(msgs[k], p[k].msg, sizeof p[k].msg);
        if (!p[k].rc) {
            assert_int_equal(cr_params_pack(p[k].m), CREST_OK);
            assert_int_equal(p[k].m->params.n, nw);
            if (k == 0)
                memcpy(w, p[k].m->params.val, (size_t)nw * sizeof *w);
            else   /* every process took the same steps */
                assert_memory_equal(w, p[k].m->params.val, (size_t)nw * sizeof *w);
            if (k == 0 && h)
                *h = *p[k].h;
            else if (h)   /* and saw the same validation metrics */
                assert_memory_equal(h->val_loss, p[k].h->val_loss, sizeof h->val_loss);
        }
        free(p[k].h);
        crest_model_free(p[k].m);
    }
    pthread_barrier_destroy(&x.bar);
    free(x.rows);
}

static void test_same_bits_any_processes(void **state)
{
    (void)state;
    crest_dataset *d = tu_blobs(75, 3, 0.8f, 1.5f);   /* batches of 16: the last 11 */
    crest_model *m = model();
    assert_int_equal(cr_params_pack(m), CREST_OK);
    int64_t nw = m->params.n;
    crest_model_free(m);
    float *one = malloc((size_t)nw * sizeof *one), *w = malloc((size_t)nw * sizeof *w);
    int codes[8];
    crest_history *h1 = calloc(1, sizeof *h1), *hn = calloc(1, sizeof *hn);
    assert_true(h1 && hn);
    fit_in(1, -1, d, one, nw, codes, NULL, h1);
    assert_int_equal(codes[0], CREST_OK);
    assert_int_equal(h1->epochs, 3);
    assert_true(h1->val_loss[2] > 0 && h1->val_accuracy[2] > 0);   /* 30 samples: 2 passes */
    static const int ns[] = { 2, 3, 5 };   /* 5: more processes than a batch's 4 shards */
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        fit_in(ns[i], -1, d, w, nw, codes, NULL, hn);
        for (int k = 0; k < ns[i]; k++)
            assert_int_equal(codes[k], CREST_OK);
        assert_memory_equal(one, w, (size_t)nw * sizeof *w);
        assert_memory_equal(h1->val_loss, hn->val_loss, sizeof h1->val_loss);
        assert_memory_equal(h1->val_accuracy, hn->val_accuracy, sizeof h1->val_accuracy);
    }
    free(h1);
    free(hn);
    m = model();   /* and the runs trained: the weights moved from the initial ones */
    assert_int_equal(cr_params_pack(m), CREST_OK);
    assert_memory_not_equal(one, m->params.val, (size_t)nw * sizeof *w);
    crest_model_free(m);
    free(one);
    free(w);
    crest_dataset_free(d);
}

/* The blobs set of the failure tests, and room for the model's weights
 * (*nw of them). */
static crest_dataset *blobs_and_room(float **w, int64_t *nw)
{
    crest_model *m = model();
    assert_int_equal(cr_params_pack(m), CREST_OK);
    *nw = m->params.n;
    crest_model_free(m);
    *w = malloc((size_t)*nw * sizeof **w);
    return tu_blobs(40, 3, 0.8f, 1.5f);
}

static void test_failed_shard_fails_all(void **state)
{
    (void)state;
    float *w;
    int64_t nw;
    crest_dataset *d = blobs_and_room(&w, &nw);
    int codes[8];
    char msgs[8][256];
    fit_in(3, 1, d, w, nw, codes, msgs, NULL);   /* process 1 (shard 3 of 4) fails at step 1 */
    for (int k = 0; k < 3; k++) {
        assert_int_equal(codes[k], CREST_E_STATE);
        assert_non_null(strstr(msgs[k], "micro-shard 3 of step 1 failed in another process"));
    }
    free(w);
    crest_dataset_free(d);
}

/* A checkpoint written by process 0 of 2 after epoch 1, its bytes handed
 * to each of 3 processes (as the command's rank 0 broadcasts them): they
 * resume and end with the bits of one process never stopped. */
static void test_resume_bytes_any_processes(void **state)
{
    (void)state;
    crest_dataset *d = tu_blobs(75, 3, 0.8f, 1.5f);
    crest_model *m = model();
    assert_int_equal(cr_params_pack(m), CREST_OK);
    int64_t nw = m->params.n;
    crest_model_free(m);
    float *one = malloc((size_t)nw * sizeof *one), *w = malloc((size_t)nw * sizeof *w);
    int codes[8];
    fit_in(1, -1, d, one, nw, codes, NULL, NULL);
    assert_int_equal(codes[0], CREST_OK);
    char dir[] = "/tmp/crest_micro_ckXXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    extra.epochs = 1;   /* a run stopped after its first epoch's checkpoint */
    extra.ckdir = dir;
    fit_in(2, -1, d, w, nw, codes, NULL, NULL);
    assert_true(codes[0] == CREST_OK && codes[1] == CREST_OK);
    snprintf(path, sizeof path, "%s/fit.ckpt", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char bytes[1 << 16];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof bytes);
    extra.epochs = 3;
    extra.bytes = bytes;
    extra.n_bytes = n;
    fit_in(3, -1, d, w, nw, codes, NULL, NULL);
    for (int k = 0; k < 3; k++)
        assert_int_equal(codes[k], CREST_OK);
    assert_memory_equal(one, w, (size_t)nw * sizeof *w);
    bytes[n / 2] ^= 1;   /* damaged: every process refuses it */
    char msgs[8][256];
    fit_in(2, -1, d, w, nw, codes, msgs, NULL);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(codes[k], CREST_E_FORMAT);
        assert_non_null(strstr(msgs[k], "checksum"));
    }
    memset(&extra, 0, sizeof extra);
    remove(path);
    rmdir(dir);
    free(one);
    free(w);
    crest_dataset_free(d);
}

/* What only process 0 does at an epoch's end (here its on_epoch_end)
 * failing ends every process then, not at the next exchange. */
static void test_epoch_end_failure_fails_all(void **state)
{
    (void)state;
    float *w;
    int64_t nw;
    crest_dataset *d = blobs_and_room(&w, &nw);
    int codes[8];
    char msgs[8][256];
    extra.fail_end = true;
    fit_in(3, -1, d, w, nw, codes, msgs, NULL);
    memset(&extra, 0, sizeof extra);
    assert_int_equal(codes[0], CREST_E_IO);
    for (int k = 1; k < 3; k++) {
        assert_int_equal(codes[k], CREST_E_STATE);
        assert_non_null(strstr(msgs[k], "the end of epoch 1 failed in process 0 of 3"));
    }
    free(w);
    crest_dataset_free(d);
}

static void test_bad_options(void **state)
{
    (void)state;
    crest_dataset *d = tu_blobs(20, 3, 0.8f, 1.5f);
    crest_model *m = model();
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .micro_batch = -1 }), CREST_E_ARG);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .micro_batch = 4, .n_shards = 2,
                                                        .shard = 2 }), CREST_E_ARG);
    assert_non_null(strstr(crest_last_error(), "shard 2 of 2"));
    crest_model_free(m);
    crest_dataset_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_range),
        cmocka_unit_test(test_same_bits_any_processes),
        cmocka_unit_test(test_failed_shard_fails_all),
        cmocka_unit_test(test_resume_bytes_any_processes),
        cmocka_unit_test(test_epoch_end_failure_fails_all),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
