/* test_checkpoint.c - crest_fit's checkpoints: a run stopped after any epoch
 * and resumed ends bit-identical to the uninterrupted run; checkpoints of
 * another run, damaged ones and leftovers of killed writers are handled. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"
#include "blobs.h"

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static crest_dataset *blobs(size_t n, uint64_t seed) { return tu_blobs(n, seed, 1.2f, 1.0f); }

enum { OPT_ADAM, OPT_RMSPROP, OPT_SGD, N_OPT };

static crest_optimizer *make_opt(int kind)
{
    return kind == OPT_ADAM ? crest_adam(1e-2f)
           : kind == OPT_RMSPROP ? crest_rmsprop_ex(5e-3f, 0.9f, 0.5f, 1e-7f)
                                 : crest_sgd(5e-2f, 0.9f, true);
}

/* Dense, BatchNorm (moving statistics are state too), Dropout, Dense. */
static crest_model *model(int opt)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 8)), CREST_OK);
    crest_model_set_seed(m, 5);
    crest_model_set_threads(m, 1);
    crest_add(m, crest_dense(16, CREST_RELU));
    crest_add(m, crest_batch_normalization(0, 0, true, true));
    crest_add(m, crest_dropout(0.3f));
    assert_int_equal(crest_add(m, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = make_opt(opt) }),
                     CREST_OK);
    return m;
}

static void assert_same_weights(const crest_model *a, const crest_model *b)
{
    assert_int_equal(a->n_weights, b->n_weights);
    for (int i = 0; i < a->n_weights; i++) {
        assert_int_equal(a->weights[i]->size, b->weights[i]->size);
        assert_memory_equal(a->weights[i]->val, b->weights[i]->val,
                            (size_t)a->weights[i]->size * sizeof(float));
    }
}

static void assert_same_history(const crest_history *a, const crest_history *b)
{
    assert_int_equal(a->epochs, b->epochs);
    assert_int_equal(a->best_epoch, b->best_epoch);
    size_t n = (size_t)a->epochs * sizeof(double);
    assert_memory_equal(a->loss, b->loss, n);
    assert_memory_equal(a->accuracy, b->accuracy, n);
    assert_memory_equal(a->val_loss, b->val_loss, n);
    assert_memory_equal(a->val_accuracy, b->val_accuracy, n);
}

static crest_fit_opts opts(int epochs, const char *dir, bool resume, crest_history *h,
                           int patience)
{
    return (crest_fit_opts){ .epochs = epochs, .batch_size = 16, .seed = 11,
                             .validation_split = 0.2f, .early_stopping_patience = patience,
                             .history = h, .checkpoint_dir = dir, .resume = resume };
}

/* Stopped after epoch k (a run of k epochs: what a checkpoint after epoch k
 * holds does not depend on the total), then resumed to E in a fresh model:
 * the same weights and history bit for bit as E epochs in one go. With
 * early stopping (patience 2 over many epochs) the stop, the patience count
 * and the best weights carry over too. */
static void test_resume_is_bit_identical(void **state)
{
    (void)state;
    char dir[256], ck[300];
    tu_tmpdir(dir, sizeof dir);
    snprintf(ck, sizeof ck, "%s/checkpoint", dir);
    crest_dataset *d = blobs(300, 3);
    for (int opt = 0; opt < N_OPT; opt++) {
        for (int patience = 0; patience <= 2; patience += 2) {
            int E = patience ? 40 : 6;
            crest_history ha, hc;
            crest_model *a = model(opt);
            assert_int_equal(crest_fit(a, d, &(crest_fit_opts){ .epochs = E, .batch_size = 16,
                                                                .seed = 11,
                                                                .validation_split = 0.2f,
                                                                .early_stopping_patience = patience,
                                                                .history = &ha }),
                             CREST_OK);
            if (patience)
                assert_true(ha.epochs < E);   /* early stopping did stop it */
            int ks[3] = { 1, 3, patience ? ha.epochs : 5 };
            for (int t = 0; t < 3; t++) {
                crest_model *b = model(opt), *c = model(opt);
                crest_fit_opts ob = opts(ks[t], ck, false, NULL, patience);
                assert_int_equal(crest_fit(b, d, &ob), CREST_OK);
                crest_fit_opts oc = opts(E, ck, true, &hc, patience);
                assert_int_equal(crest_fit(c, d, &oc), CREST_OK);
                assert_same_weights(a, c);
                assert_same_history(&ha, &hc);
                crest_model_free(b);
                crest_model_free(c);
            }
            crest_model_free(a);
        }
    }
    crest_dataset_free(d);
    rm_rf(dir);
}

/* resume without a checkpoint starts afresh; initial_epoch skips epochs. */
static void test_resume_without_checkpoint_and_initial_epoch(void **state)
{
    (void)state;
    char dir[256], ck[300];
    tu_tmpdir(dir, sizeof dir);
    snprintf(ck, sizeof ck, "%s/none/yet", dir);
    crest_dataset *d = blobs(120, 4);
    crest_model *a = model(OPT_ADAM), *b = model(OPT_ADAM), *c = model(OPT_ADAM);
    crest_history ha, hb, hc;
    assert_int_equal(crest_fit(a, d, &(crest_fit_opts){ .epochs = 3, .seed = 2, .history = &ha }),
                     CREST_OK);
    assert_int_equal(crest_fit(b, d, &(crest_fit_opts){ .epochs = 3, .seed = 2, .history = &hb,
                                                        .checkpoint_dir = ck, .resume = true }),
                     CREST_OK);
    assert_same_weights(a, b);
    assert_same_history(&ha, &hb);
    assert_true(tu_size(ck, "fit.ckpt") > 0);
    assert_int_equal(crest_fit(c, d, &(crest_fit_opts){ .epochs = 5, .initial_epoch = 3,
                                                        .history = &hc }), CREST_OK);
    assert_int_equal(hc.epochs, 5);
    assert_true(hc.loss[0] == 0 && hc.loss[2] == 0 && hc.loss[3] > 0 && hc.loss[4] > 0);
    assert_int_equal(crest_fit(c, d, &(crest_fit_opts){ .epochs = 2, .initial_epoch = 2 }),
                     CREST_E_ARG);
    assert_int_equal(crest_fit(c, d, &(crest_fit_opts){ .resume = true }), CREST_E_ARG);
    assert_int_equal(crest_fit(c, d, &(crest_fit_opts){ .checkpoint_dir = ck,
                                                        .checkpoint_name = "../x" }),
                     CREST_E_ARG);
    crest_model_free(a);
    crest_model_free(b);
    crest_model_free(c);
    crest_dataset_free(d);
    rm_rf(dir);
}

/* A checkpoint of another run (seed, data, optimizer, frozen layers,
 * batch size) is refused, and so is a damaged one; neither touches the
 * model. A checkpoint past the requested epochs is an error too. */
static void test_refuses_other_runs_and_damage(void **state)
{
    (void)state;
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    crest_dataset *d = blobs(120, 4), *d2 = blobs(120, 5);
    crest_model *a = model(OPT_ADAM);
    assert_int_equal(crest_fit(a, d, &(crest_fit_opts){ .epochs = 2, .seed = 1,
                                                        .checkpoint_dir = dir }), CREST_OK);
    crest_model *b = model(OPT_ADAM), *ref = model(OPT_ADAM);
    crest_fit_opts o = { .epochs = 4, .seed = 1, .checkpoint_dir = dir, .resume = true };
    o.seed = 2;
    assert_int_equal(crest_fit(b, d, &o), CREST_E_STATE);
    assert_non_null(strstr(crest_last_error(), "another run"));
    o.seed = 1;
    assert_int_equal(crest_fit(b, d2, &o), CREST_E_STATE);
    o.batch_size = 8;
    assert_int_equal(crest_fit(b, d, &o), CREST_E_STATE);
    o.batch_size = 0;
    crest_layer_set_trainable(crest_model_layer(b, 0), false);
    assert_int_equal(crest_fit(b, d, &o), CREST_E_STATE);
    crest_layer_set_trainable(crest_model_layer(b, 0), true);
    assert_same_weights(b, ref);
    crest_model *s = model(OPT_SGD);
    assert_int_equal(crest_fit(s, d, &o), CREST_E_STATE);
    assert_non_null(strstr(crest_last_error(), "optimizer"));
    crest_model_free(s);
    o.epochs = 1;
    assert_int_equal(crest_fit(b, d, &o), CREST_E_ARG);   /* at epoch 2, past 1 */
    o.epochs = 4;
    /* damage: a flipped byte, then a truncated file */
    size_t n = tu_size(dir, "fit.ckpt");
    char *bytes = tu_read(dir, "fit.ckpt");
    bytes[n / 2] ^= 0x10;
    tu_write(dir, "fit.ckpt", bytes, n);
    assert_int_equal(crest_fit(b, d, &o), CREST_E_FORMAT);
    assert_non_null(strstr(crest_last_error(), "fit.ckpt"));
    bytes[n / 2] ^= 0x10;
    tu_write(dir, "fit.ckpt", bytes, n / 3);
    assert_int_equal(crest_fit(b, d, &o), CREST_E_FORMAT);
    assert_same_weights(b, ref);
    tu_write(dir, "fit.ckpt", bytes, n);   /* whole again: resumes */
    assert_int_equal(crest_fit(b, d, &o), CREST_OK);
    free(bytes);
    crest_model_free(a);
    crest_model_free(b);
    crest_model_free(ref);
    crest_dataset_free(d);
    crest_dataset_free(d2);
    rm_rf(dir);
}

/* The pid of a process that has exited (and been reaped). */
static pid_t dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    assert_true(p > 0);
    assert_int_equal(waitpid(p, NULL, 0), p);
    return p;
}

/* Temp files of killed writers ("<file>.tmp.<pid>", pid gone) are removed
 * by the next atomic write into that folder; a live process's are kept. */
static void test_dead_writers_temps_are_cleaned(void **state)
{
    (void)state;
    char dir[256], name[64], live[64], other[64];
    tu_tmpdir(dir, sizeof dir);
    pid_t dead = dead_pid();
    snprintf(name, sizeof name, "weights.0123456789abcdef.bin.tmp.%ld", (long)dead);
    snprintf(other, sizeof other, "model.json.tmp.%ld", (long)dead);
    snprintf(live, sizeof live, "model.json.tmp.%ld", (long)getppid());
    tu_write(dir, name, "x", 1);
    tu_write(dir, other, "x", 1);
    tu_write(dir, live, "x", 1);
    tu_write(dir, "notes.tmp.txt", "x", 1);
    char csv[64];
    snprintf(csv, sizeof csv, "data.csv.tmp.%ld", (long)dead);   /* not crest's */
    tu_write(dir, csv, "x", 1);
    crest_dataset *d = blobs(60, 4);
    crest_model *m = model(OPT_ADAM);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    assert_int_equal(tu_size(dir, name), 0);
    assert_int_equal(tu_size(dir, other), 0);
    assert_int_equal(tu_size(dir, live), 1);
    assert_int_equal(tu_size(dir, "notes.tmp.txt"), 1);
    assert_int_equal(tu_size(dir, csv), 1);
    snprintf(name, sizeof name, "fit.ckpt.tmp.%ld", (long)dead);
    tu_write(dir, name, "x", 1);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .checkpoint_dir = dir }), CREST_OK);
    assert_int_equal(tu_size(dir, name), 0);
    assert_true(tu_size(dir, "fit.ckpt") > 0);
    crest_model_free(m);
    crest_dataset_free(d);
    rm_rf(dir);
}

/* Every allocation failure while checkpointing or resuming is an error,
 * never a crash or a leak; a resume that succeeds is still exact. */
static void test_out_of_memory(void **state)
{
    (void)state;
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    crest_dataset *d = blobs(60, 4);
    crest_model *a = model(OPT_ADAM), *b = model(OPT_ADAM);
    assert_int_equal(crest_fit(a, d, &(crest_fit_opts){ .epochs = 3 }), CREST_OK);
    assert_int_equal(crest_fit(b, d, &(crest_fit_opts){ .epochs = 1, .checkpoint_dir = dir }),
                     CREST_OK);
    size_t n = tu_size(dir, "fit.ckpt");
    char *after1 = tu_read(dir, "fit.ckpt");
    int ok = 0;
    for (long k = 0; k < 1000 && !ok; k++) {
        crest_model *c = model(OPT_ADAM);
        cr_alloc_fail_after(k);
        int rc = crest_fit(c, d, &(crest_fit_opts){ .epochs = 3, .checkpoint_dir = dir,
                                                    .resume = true });
        cr_alloc_fail_after(-1);
        if (rc)
            assert_int_equal(rc, CREST_E_NOMEM);
        else
            assert_same_weights(a, c);
        ok = rc == 0;
        crest_model_free(c);
        tu_write(dir, "fit.ckpt", after1, n);   /* a failed run may have gone further */
    }
    free(after1);
    assert_true(ok);
    crest_model_free(a);
    crest_model_free(b);
    crest_dataset_free(d);
    rm_rf(dir);
}

/* on_epoch_end sees every epoch, before its checkpoint: a run stopped by
 * the callback at epoch k resumes at epoch k (called again), and ends as
 * the run never stopped. */
typedef struct calls {
    int n, epochs[16], stop_at;
    double loss[16];
} calls;

static int on_epoch(crest_model *m, int epoch, const crest_history *h, void *user)
{
    calls *c = user;
    assert_non_null(m);
    assert_int_equal(h->epochs, epoch + 1);
    c->epochs[c->n] = epoch;
    c->loss[c->n++] = h->loss[epoch];
    return epoch == c->stop_at ? CREST_E_IO : CREST_OK;
}

static void test_epoch_callback(void **state)
{
    (void)state;
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    crest_dataset *d = blobs(90, 4);
    crest_model *a = model(OPT_RMSPROP), *b = model(OPT_RMSPROP);
    calls ca = { .stop_at = -1 }, cb = { .stop_at = 2 };
    crest_fit_opts o = { .epochs = 5, .seed = 3, .on_epoch_end = on_epoch, .user = &ca };
    assert_int_equal(crest_fit(a, d, &o), CREST_OK);
    assert_int_equal(ca.n, 5);
    o.user = &cb;
    o.checkpoint_dir = dir;
    o.resume = true;
    assert_int_equal(crest_fit(b, d, &o), CREST_E_IO);   /* stopped at epoch 2 */
    assert_int_equal(cb.n, 3);
    cb.stop_at = -1;
    crest_model_free(b);
    b = model(OPT_RMSPROP);
    assert_int_equal(crest_fit(b, d, &o), CREST_OK);
    int want[6] = { 0, 1, 2, 2, 3, 4 };
    assert_int_equal(cb.n, 6);
    assert_memory_equal(cb.epochs, want, sizeof want);
    assert_true(cb.loss[2] == cb.loss[3] && cb.loss[5] == ca.loss[4]);
    assert_same_weights(a, b);
    crest_model_free(a);
    crest_model_free(b);
    crest_dataset_free(d);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_is_bit_identical),
        cmocka_unit_test(test_resume_without_checkpoint_and_initial_epoch),
        cmocka_unit_test(test_refuses_other_runs_and_damage),
        cmocka_unit_test(test_epoch_callback),
        cmocka_unit_test(test_dead_writers_temps_are_cleaned),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
