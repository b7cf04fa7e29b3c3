/* test_train_control.c - training control in crest_fit: learning-rate
 * schedules against their closed forms (and the rate fit really uses),
 * ReduceLROnPlateau on a synthetic loss sequence, ModelCheckpoint's
 * best-only saves by a monitored metric, label smoothing's loss and
 * gradient by hand and by finite differences, balanced class weights, and
 * resumed runs with a schedule ending bit-identical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"
#include "blobs.h"

static void close_to(double a, double b, double tol)
{
    if (!(fabs(a - b) <= tol * (1 + fabs(b)))) {
        print_error("%.9g != %.9g (tol %g)\n", a, b, tol);
        fail();
    }
}

/* ---- schedules vs closed forms ------------------------------------------ */

static void test_cosine(void **state)
{
    (void)state;
    const double PI = 3.14159265358979323846, lr = 0.01;
    crest_lr_schedule s = { .kind = CREST_LR_COSINE, .warmup_steps = 10, .decay_steps = 90,
                            .alpha = 0.1f };
    close_to(crest_lr_at(&s, lr, 0, 5, 100), 0, 1e-12);           /* warmup from 0 */
    close_to(crest_lr_at(&s, lr, 4, 5, 100), lr * 0.4, 1e-12);
    close_to(crest_lr_at(&s, lr, 10, 5, 100), lr, 1e-6);           /* the peak */
    for (int64_t st = 10; st <= 120; st += 7) {
        double t = (double)(st - 10 < 90 ? st - 10 : 90) / 90;
        double want = lr * (0.9 * 0.5 * (1 + cos(PI * t)) + 0.1);
        close_to(crest_lr_at(&s, lr, st, 5, 100), want, 1e-6);
    }
    close_to(crest_lr_at(&s, lr, 1000, 5, 100), lr * 0.1, 1e-6);  /* floor: alpha * lr */
    /* in epochs, decay to the end of the run: warmup 2 epochs of 5 steps, 50 steps */
    crest_lr_schedule e = { .kind = CREST_LR_COSINE, .warmup_epochs = 2 };
    close_to(crest_lr_at(&e, lr, 5, 5, 50), lr * 0.5, 1e-12);
    close_to(crest_lr_at(&e, lr, 30, 5, 50), lr * 0.5 * (1 + cos(PI * 20 / 40)), 1e-6);
    close_to(crest_lr_at(&e, lr, 50, 5, 50), 0, 1e-9);
}

static void test_exponential_step_piecewise(void **state)
{
    (void)state;
    const double lr = 0.1;
    crest_lr_schedule x = { .kind = CREST_LR_EXPONENTIAL, .decay_steps = 10,
                            .decay_rate = 0.5f };
    for (int64_t st = 0; st < 40; st += 3)
        close_to(crest_lr_at(&x, lr, st, 7, 40), lr * pow(0.5, st / 10.0), 1e-6);
    x.staircase = true;   /* step decay */
    for (int64_t st = 0; st < 40; st += 3)
        close_to(crest_lr_at(&x, lr, st, 7, 40), lr * pow(0.5, floor(st / 10.0)), 1e-6);
    crest_lr_schedule se = { .kind = CREST_LR_EXPONENTIAL, .decay_epochs = 2,
                             .decay_rate = 0.1f, .staircase = true };   /* step:2:0.1 */
    close_to(crest_lr_at(&se, lr, 19, 10, 100), lr, 1e-9);
    close_to(crest_lr_at(&se, lr, 20, 10, 100), lr * 0.1, 1e-6);
    close_to(crest_lr_at(&se, lr, 45, 10, 100), lr * 0.01, 1e-6);
    int64_t b[2] = { 10, 20 };
    float v[3] = { 0.3f, 0.2f, 0.1f };
    crest_lr_schedule p = { .kind = CREST_LR_PIECEWISE, .n_boundaries = 2, .boundaries = b,
                            .values = v };
    close_to(crest_lr_at(&p, lr, 0, 5, 40), 0.3, 1e-6);
    close_to(crest_lr_at(&p, lr, 10, 5, 40), 0.3, 1e-6);   /* step <= boundary */
    close_to(crest_lr_at(&p, lr, 11, 5, 40), 0.2, 1e-6);
    close_to(crest_lr_at(&p, lr, 21, 5, 40), 0.1, 1e-6);
    float be[2] = { 2, 4 };
    crest_lr_schedule pe = { .kind = CREST_LR_PIECEWISE, .n_boundaries = 2,
                             .boundary_epochs = be, .values = v };
    close_to(crest_lr_at(&pe, lr, 10, 5, 40), 0.3, 1e-6);
    close_to(crest_lr_at(&pe, lr, 11, 5, 40), 0.2, 1e-6);
    /* constant and plateau: the rate itself; bad settings: negative */
    close_to(crest_lr_at(&(crest_lr_schedule){ 0 }, lr, 7, 5, 40), lr, 0);
    close_to(crest_lr_at(&(crest_lr_schedule){ .kind = CREST_LR_PLATEAU }, lr, 7, 5, 40), lr, 0);
    assert_true(crest_lr_at(&(crest_lr_schedule){ .kind = CREST_LR_EXPONENTIAL }, lr, 1, 5,
                            40) < 0);
    assert_true(crest_lr_at(&(crest_lr_schedule){ .kind = CREST_LR_COSINE, .alpha = 2 }, lr,
                            1, 5, 40) < 0);
}

/* ---- ReduceLROnPlateau on a synthetic sequence -------------------------- */

static void test_plateau_sequence(void **state)
{
    (void)state;
    /* patience 2, factor 0.5, cooldown 1, min_lr 0.02, min_delta 0.01 */
    crest_lr_schedule s = { .kind = CREST_LR_PLATEAU, .patience = 2, .factor = 0.5f,
                            .cooldown = 1, .min_lr = 0.02f, .min_delta = 0.01f };
    const double loss[] = { 1.0, 0.9, 0.895, 0.9, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89,
                            0.9, 0.91, 0.92, 0.93 };
    /* by hand, Keras' rule: epoch 0 best 1.0; 1 best 0.9; 2 (0.895: not by 0.01)
     * wait 1; 3 wait 2 -> 0.1 * 0.5 = 0.05, cooldown 1; 4 in cooldown (counter
     * 1 -> 0, wait 0), 0.8 improves; 5 wait 1; 6 wait 2 -> 0.025, cooldown 1;
     * 7 the counter goes 1 -> 0, so it counts again: wait 1; 8 wait 2 ->
     * max(0.0125, min_lr 0.02) = 0.02; 9 wait 1; 10 wait 2 but the rate is
     * at min_lr: no cut (and wait is not reset); 11.. the same. */
    const double want[] = { 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02,
                            0.02, 0.02, 0.02, 0.02 };
    const bool cut[] = { 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0 };
    cr_plateau p;
    cr_plateau_init(&p, 0.1, false);
    for (int e = 0; e < 14; e++) {
        bool c = cr_plateau_update(&p, &s, false, loss[e]);
        assert_int_equal(c, cut[e]);
        close_to(p.lr, want[e], 1e-6);
    }
    /* maximizing (accuracy): rising values never cut; a flat run does */
    cr_plateau_init(&p, 0.1, true);
    crest_lr_schedule m = { .kind = CREST_LR_PLATEAU, .patience = 1 };
    assert_false(cr_plateau_update(&p, &m, true, 0.5));
    assert_false(cr_plateau_update(&p, &m, true, 0.6));
    assert_true(cr_plateau_update(&p, &m, true, 0.6));   /* default factor 0.1 */
    close_to(p.lr, 0.01, 1e-6);
}

/* ---- fit with schedules ------------------------------------------------- */

static crest_model *small_model(crest_optimizer *opt, float smoothing)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 8)), CREST_OK);
    crest_model_set_seed(m, 3);
    crest_model_set_threads(m, 1);
    crest_add(m, crest_dense(6, CREST_RELU));
    assert_int_equal(crest_add(m, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = opt,
                                                            .label_smoothing = smoothing }),
                     CREST_OK);
    return m;
}

typedef struct events {
    int reduced[64], n_reduced;
    int saved[64], n_saved;
    double step_lr[512];
    int n_steps;
} events;

static void on_progress(const crest_progress *e, void *user)
{
    events *ev = user;
    if (e->kind == CREST_PROGRESS_LR_REDUCED && ev->n_reduced < 64)
        ev->reduced[ev->n_reduced++] = e->epoch;
    if (e->kind == CREST_PROGRESS_BEST_SAVED && ev->n_saved < 64)
        ev->saved[ev->n_saved++] = e->epoch;
    if (e->kind == CREST_PROGRESS_STEP && ev->n_steps < 512)
        ev->step_lr[ev->n_steps++] = e->lr;
}

/* The rate of every update is the schedule's, the history records the last
 * one of each epoch, and --initial-epoch starts on the same curve. */
static void test_fit_uses_schedule(void **state)
{
    (void)state;
    crest_dataset *d = tu_blobs(120, 1, 0.5f, 2.0f);
    crest_lr_schedule s = { .kind = CREST_LR_COSINE, .warmup_epochs = 1, .alpha = 0.05f };
    crest_history h;
    events ev = { 0 };
    crest_model *m = small_model(crest_adam(0.01f), 0);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 4, .batch_size = 32,
                         .seed = 1, .lr_schedule = &s, .history = &h,
                         .progress = on_progress, .progress_user = &ev }), CREST_OK);
    assert_int_equal(ev.n_steps, 16);   /* 4 steps of 32 rows an epoch */
    for (int i = 0; i < 16; i++)
        close_to(ev.step_lr[i], (float)crest_lr_at(&s, 0.01, i, 4, 16), 1e-7);
    for (int e = 0; e < 4; e++)
        close_to(h.lr[e], (float)crest_lr_at(&s, 0.01, 4 * e + 3, 4, 16), 1e-7);
    crest_model_free(m);
    /* initial_epoch 2: the run's first update is step 8 of the curve */
    ev = (events){ 0 };
    m = small_model(crest_adam(0.01f), 0);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 4, .batch_size = 32,
                         .seed = 1, .lr_schedule = &s, .initial_epoch = 2,
                         .progress = on_progress, .progress_user = &ev }), CREST_OK);
    assert_int_equal(ev.n_steps, 8);
    close_to(ev.step_lr[0], (float)crest_lr_at(&s, 0.01, 8, 4, 16), 1e-7);
    crest_model_free(m);
    /* the rate really moves the weights: SGD under piecewise {0.5} equals SGD(0.5) */
    int64_t b[1] = { 1000 };
    float v[2] = { 0.5f, 0.5f };
    crest_lr_schedule p = { .kind = CREST_LR_PIECEWISE, .n_boundaries = 1, .boundaries = b,
                            .values = v };
    crest_model *a = small_model(crest_sgd(0.01f, 0, false), 0);
    crest_model *c = small_model(crest_sgd(0.5f, 0, false), 0);
    assert_int_equal(crest_fit(a, d, &(crest_fit_opts){ .epochs = 2, .seed = 1,
                                                        .lr_schedule = &p }), CREST_OK);
    assert_int_equal(crest_fit(c, d, &(crest_fit_opts){ .epochs = 2, .seed = 1 }), CREST_OK);
    for (int i = 0; i < a->n_weights; i++)
        assert_memory_equal(a->weights[i]->val, c->weights[i]->val,
                            (size_t)a->weights[i]->size * sizeof(float));
    crest_model_free(a);
    crest_model_free(c);
    /* a bad schedule and a val monitor without validation are refused */
    m = small_model(NULL, 0);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .lr_schedule = &(crest_lr_schedule){
                         .kind = CREST_LR_EXPONENTIAL } }), CREST_E_ARG);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .lr_schedule = &(crest_lr_schedule){
                         .kind = CREST_LR_PLATEAU, .monitor = CREST_MONITOR_VAL_LOSS } }),
                     CREST_E_ARG);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .best_model_dir = "/tmp/x",
                         .best_monitor = CREST_MONITOR_VAL_ACCURACY }), CREST_E_ARG);
    crest_model_free(m);
    crest_dataset_free(d);
}

/* ReduceLROnPlateau inside fit follows the rule on fit's own history. */
static void test_fit_plateau(void **state)
{
    (void)state;
    crest_dataset *d = tu_blobs(90, 2, 3.0f, 0.3f);   /* hard: val loss stalls */
    crest_dataset *v = tu_blobs(60, 9, 3.0f, 0.3f);
    crest_lr_schedule s = { .kind = CREST_LR_PLATEAU, .patience = 1, .factor = 0.5f };
    crest_history h;
    events ev = { 0 };
    crest_model *m = small_model(crest_adam(0.05f), 0);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 12, .seed = 1,
                         .validation_data = v, .lr_schedule = &s, .history = &h,
                         .progress = on_progress, .progress_user = &ev }), CREST_OK);
    cr_plateau p;
    cr_plateau_init(&p, 0.05, false);
    int n = 0;
    for (int e = 0; e < 12; e++) {
        close_to(h.lr[e], p.lr, 0);   /* the epoch ran at the rate before its update */
        if (cr_plateau_update(&p, &s, false, h.val_loss[e])) {
            assert_true(n < ev.n_reduced);
            assert_int_equal(ev.reduced[n++], e);
        }
    }
    assert_int_equal(n, ev.n_reduced);
    assert_true(n >= 1);
    crest_model_free(m);
    crest_dataset_free(d);
    crest_dataset_free(v);
}

/* ModelCheckpoint(save_best_only) by val_accuracy: saves exactly when it
 * beats every earlier epoch; the folder ends with the best epoch's model. */
static void test_best_checkpoint(void **state)
{
    (void)state;
    char dir[64];
    tu_tmpdir(dir, sizeof dir);
    crest_dataset *d = tu_blobs(90, 4, 1.5f, 1.0f), *v = tu_blobs(60, 5, 1.5f, 1.0f);
    crest_history h;
    events ev = { 0 };
    crest_model *m = small_model(crest_adam(0.02f), 0);
    crest_model_set_metadata(m, "{\"crest\":{}}");
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 8, .seed = 1,
                         .validation_data = v, .history = &h, .best_model_dir = dir,
                         .best_monitor = CREST_MONITOR_VAL_ACCURACY,
                         .progress = on_progress, .progress_user = &ev }), CREST_OK);
    double best = -1;
    int n = 0, last = -1;
    for (int e = 0; e < 8; e++)
        if (h.val_accuracy[e] > best) {
            best = h.val_accuracy[e];
            assert_true(n < ev.n_saved);
            assert_int_equal(ev.saved[n++], e);
            last = e;
        }
    assert_int_equal(n, ev.n_saved);
    crest_metrics met;
    crest_model *b = NULL;
    assert_int_equal(crest_model_load(&b, dir), CREST_OK);
    assert_int_equal(crest_compile(b, NULL), CREST_OK);
    assert_int_equal(crest_evaluate(b, v, 0, &met), CREST_OK);
    close_to(met.accuracy, h.val_accuracy[last], 1e-9);
    crest_model_free(b);
    crest_model_free(m);
    crest_dataset_free(d);
    crest_dataset_free(v);
    tu_rmdir(dir);
}

/* ---- label smoothing ---------------------------------------------------- */

/* Dense(3, softmax) with a zero kernel: every row's probabilities are
 * softmax(bias). */
static crest_model *bias_model(float eps, float lr)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 2)), CREST_OK);
    assert_int_equal(crest_add(m, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){
                         .optimizer = crest_sgd(lr, 0, false), .label_smoothing = eps }),
                     CREST_OK);
    cr_weight *k = m->weights[0]->size == 6 ? m->weights[0] : m->weights[1];
    cr_weight *bias = m->weights[0]->size == 3 ? m->weights[0] : m->weights[1];
    memset(k->val, 0, 6 * sizeof(float));
    bias->val[0] = 0.5f;
    bias->val[1] = -0.25f;
    bias->val[2] = 1.0f;
    k->version++;
    bias->version++;
    return m;
}

static float *bias_of(crest_model *m)
{
    return (m->weights[0]->size == 3 ? m->weights[0] : m->weights[1])->val;
}

static void test_label_smoothing(void **state)
{
    (void)state;
    const float eps = 0.2f;
    const float x[8] = { 1, 0, 0, 1, 1, 1, 0, 0 };
    const int32_t y[4] = { 0, 2, 1, 2 };
    crest_dataset *d = NULL;
    assert_int_equal(crest_dataset_new(&d, 4, crest_shape(1, 2), x, y, 3), CREST_OK);
    /* by hand: p = softmax(0.5, -0.25, 1); t = (1 - eps) one_hot + eps / 3 */
    double z[3] = { 0.5, -0.25, 1.0 }, s = 0, p[3], loss = 0, g[3] = { 0 };
    for (int k = 0; k < 3; k++)
        s += exp(z[k]);
    for (int k = 0; k < 3; k++)
        p[k] = exp(z[k]) / s;
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++) {
            double t = (1 - eps) * (y[i] == k) + eps / 3;
            loss -= t * log(p[k]) / 4;
            g[k] += (p[k] - t) / 4;   /* d loss / d bias_k */
        }
    crest_model *m = bias_model(eps, 1.0f);
    crest_metrics met;
    assert_int_equal(crest_evaluate(m, d, 0, &met), CREST_OK);
    close_to(met.loss, loss, 1e-6);
    /* without smoothing the loss differs: the option is really on */
    crest_model *m0 = bias_model(0, 1.0f);
    crest_metrics met0;
    assert_int_equal(crest_evaluate(m0, d, 0, &met0), CREST_OK);
    assert_true(fabs(met0.loss - loss) > 1e-3);
    /* finite differences of the loss in each bias, against the hand gradient */
    for (int k = 0; k < 3; k++) {
        const float hstep = 1e-2f;
        crest_metrics up, dn;
        float *b = bias_of(m);
        float keep = b[k];
        b[k] = keep + hstep;
        m->weights[0]->version++;
        m->weights[1]->version++;
        assert_int_equal(crest_evaluate(m, d, 0, &up), CREST_OK);
        b[k] = keep - hstep;
        m->weights[0]->version++;
        m->weights[1]->version++;
        assert_int_equal(crest_evaluate(m, d, 0, &dn), CREST_OK);
        b[k] = keep;
        m->weights[0]->version++;
        m->weights[1]->version++;
        close_to((up.loss - dn.loss) / (2 * hstep), g[k], 2e-3);
    }
    /* the gradient fit applies: one SGD step (lr 1, one batch) moves the bias by -g */
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 1, .batch_size = 4,
                                                        .no_shuffle = true }), CREST_OK);
    for (int k = 0; k < 3; k++)
        close_to(bias_of(m)[k], z[k] - g[k], 1e-5);
    crest_model_free(m);
    crest_model_free(m0);
    crest_dataset_free(d);
}

/* ---- class weights ------------------------------------------------------ */

static void test_balanced_weights(void **state)
{
    (void)state;
    const float x[10] = { 0 };
    const int32_t y[10] = { 0, 0, 0, 0, 0, 0, 1, 1, 1, 0 };   /* 7, 3, and none of class 2 */
    crest_dataset *d = NULL;
    float w[3];
    assert_int_equal(crest_dataset_new(&d, 10, crest_shape(1, 1), x, y, 3), CREST_OK);
    assert_int_equal(crest_class_weight_balanced(d, w), CREST_OK);
    close_to(w[0], 10.0 / (3 * 7), 1e-6);
    close_to(w[1], 10.0 / (3 * 3), 1e-6);
    close_to(w[2], 0, 0);
    assert_int_equal(crest_class_weight_balanced(NULL, w), CREST_E_ARG);
    crest_dataset_free(d);
}

/* ---- resume with schedules: bit-identical ------------------------------- */

static int kill_at_3(crest_model *m, int epoch, const crest_history *h, void *user)
{
    (void)m, (void)h, (void)user;
    return epoch == 3 ? -100 : 0;
}

static void run_resumed(const crest_lr_schedule *s, bool val)
{
    char dir[64];
    tu_tmpdir(dir, sizeof dir);
    crest_dataset *d = tu_blobs(96, 7, 2.0f, 0.5f), *v = val ? tu_blobs(48, 8, 2.0f, 0.5f) : NULL;
    crest_history ha, hb;
    crest_fit_opts fo = { .epochs = 7, .batch_size = 16, .seed = 5, .validation_data = v,
                          .lr_schedule = s, .history = &ha };
    crest_model *a = small_model(crest_adam(0.03f), 0.1f);
    assert_int_equal(crest_fit(a, d, &fo), CREST_OK);
    /* the same run killed in its fourth epoch (after epoch 3's callback, before
     * its checkpoint), then resumed in a fresh model */
    crest_model *b = small_model(crest_adam(0.03f), 0.1f);
    crest_fit_opts fb = fo;
    fb.history = &hb;
    fb.checkpoint_dir = dir;
    fb.on_epoch_end = kill_at_3;
    assert_int_equal(crest_fit(b, d, &fb), -100);
    crest_model_free(b);
    b = small_model(crest_adam(0.03f), 0.1f);
    fb.on_epoch_end = NULL;
    fb.resume = true;
    assert_int_equal(crest_fit(b, d, &fb), CREST_OK);
    for (int i = 0; i < a->n_weights; i++)
        assert_memory_equal(a->weights[i]->val, b->weights[i]->val,
                            (size_t)a->weights[i]->size * sizeof(float));
    assert_memory_equal(ha.lr, hb.lr, 7 * sizeof(double));
    assert_memory_equal(ha.loss, hb.loss, 7 * sizeof(double));
    /* another schedule cannot resume this run */
    crest_lr_schedule other = { .kind = CREST_LR_EXPONENTIAL, .decay_steps = 3,
                                .decay_rate = 0.9f };
    crest_model_free(b);
    b = small_model(crest_adam(0.03f), 0.1f);
    fb.lr_schedule = s && s->kind == CREST_LR_EXPONENTIAL ? NULL : &other;
    assert_int_equal(crest_fit(b, d, &fb), CREST_E_STATE);
    crest_model_free(a);
    crest_model_free(b);
    crest_dataset_free(d);
    crest_dataset_free(v);
    tu_rmdir(dir);
}

static void test_resume_with_schedules(void **state)
{
    (void)state;
    run_resumed(&(crest_lr_schedule){ .kind = CREST_LR_COSINE, .warmup_epochs = 2 }, false);
    run_resumed(&(crest_lr_schedule){ .kind = CREST_LR_PLATEAU, .patience = 1,
                                      .factor = 0.5f, .cooldown = 1 }, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cosine),
        cmocka_unit_test(test_exponential_step_piecewise),
        cmocka_unit_test(test_plateau_sequence),
        cmocka_unit_test(test_fit_uses_schedule),
        cmocka_unit_test(test_fit_plateau),
        cmocka_unit_test(test_best_checkpoint),
        cmocka_unit_test(test_label_smoothing),
        cmocka_unit_test(test_balanced_weights),
        cmocka_unit_test(test_resume_with_schedules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
