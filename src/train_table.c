/* train_table.c - fit and predict on tables through a feature spec: the
 * model side of feature columns, beside the rest of training (train.c).
 * Rows come from src/features/ (cr_rows: a table read through a binding
 * of the spec on this stack); the model sees plain data sets. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "features/column.h"

#include <stdlib.h>

int crest_predict_table(crest_model *m, const char *path, const crest_table_opts *o,
                        float **probs, size_t *n)
{
    if (!m || !path || !probs || !n)
        return cr_fail(CREST_E_ARG, "predict_table: NULL argument");
    *probs = NULL;
    *n = 0;
    const crest_features *fs = crest_model_features(m);
    if (!fs)
        return cr_fail(CREST_E_ARG, "model '%s' has no DenseFeatures layer: it does not read "
                       "tables", m->name);
    crest_dataset *d = NULL;
    int rc = crest_features_dataset(&d, fs, path, o, false);
    if (rc)
        return rc;
    rc = cr_model_build(m);
    size_t K = (size_t)m->out_size;
    float *p = rc ? NULL : cr_malloc((d->n ? d->n : 1) * K * sizeof *p);
    if (!rc && !p)
        rc = cr_fail(CREST_E_NOMEM, "out of memory");
    if (!rc)
        rc = crest_predict(m, d->x, d->n, p);
    if (!rc) {
        *probs = p;
        *n = d->n;
        p = NULL;
    }
    cr_free(p);
    crest_dataset_free(d);
    return rc;
}

/* ---- training straight from a table, in chunks ---------------------------- */

/* One crest_fit_table run: what every epoch reads and trains with. */
typedef struct table_fit {
    crest_model *m;
    const crest_features *fs;
    const char *path;
    const crest_table_opts *o;
    const crest_fit_opts *fo;
    int epoch, epochs;
    size_t cap;                   /* rows per chunk */
    float *x;                     /* [cap, width] */
    int32_t *y;                   /* [cap] */
    double t0;                    /* when the epoch began */
} table_fit;

/* One pass of crest_fit over n rows of the chunk, shuffled within it. */
static int fit_chunk(const table_fit *t, uint64_t chunk, size_t n, crest_history *h)
{
    crest_dataset *d = NULL;
    int rc = crest_dataset_new(&d, n, crest_shape(1, t->fs->width), t->x, t->y,
                               t->fs->n_classes);
    crest_fit_opts one = *t->fo;
    one.epochs = 1;
    one.seed = t->fo->seed + (uint64_t)t->epoch * 1000003u + chunk;
    one.progress = NULL;          /* the table's epochs report, not each chunk's fit */
    one.validation_data = NULL;
    one.history = h;
    if (!rc)
        rc = crest_fit(t->m, d, &one);
    crest_dataset_free(d);
    return rc;
}

/* Streams the table once, a chunk at a time: the epoch's mean loss and
 * accuracy over the rows trained on (*seen). */
static int table_epoch(const table_fit *t, double *loss, double *acc, size_t *seen)
{
    cr_rows r;
    int rc = cr_rows_open(&r, t->fs, t->path, t->o, true);
    double l = 0, a = 0;
    *seen = 0;
    for (uint64_t chunk = 0; !rc; chunk++) {
        size_t n;
        crest_history h;
        if ((rc = cr_rows_read(&r, t->x, t->y, t->cap, &n)) || n == 0 ||
            (rc = fit_chunk(t, chunk, n, &h)))
            break;
        l += h.loss[0] * (double)n;
        a += h.accuracy[0] * (double)n;
        *seen += n;
        cr_fit_progress(t->fo, (crest_progress){ .kind = CREST_PROGRESS_STEP,
            .epoch = t->epoch, .epochs = t->epochs, .step = (int64_t)chunk + 1,
            .samples = *seen, .loss = l / (double)*seen, .accuracy = a / (double)*seen,
            .seconds = cr_now() - t->t0 });
    }
    cr_rows_close(&r);
    if (!rc && !*seen)
        rc = cr_fail(CREST_E_FORMAT, "%s: no labelled rows to train on", t->path);
    *loss = *seen ? l / (double)*seen : 0;
    *acc = *seen ? a / (double)*seen : 0;
    return rc;
}

/* One epoch: train, validate, history row, END event. */
static int table_fit_epoch(table_fit *t)
{
    const crest_fit_opts *fo = t->fo;
    double loss, acc;
    size_t seen;
    crest_metrics vm = { 0 };
    t->t0 = cr_now();
    cr_fit_progress(fo, (crest_progress){ .kind = CREST_PROGRESS_EPOCH_BEGIN,
                                          .epoch = t->epoch, .epochs = t->epochs });
    int rc = table_epoch(t, &loss, &acc, &seen);
    if (!rc && fo->validation_data)
        rc = crest_evaluate(t->m, fo->validation_data, 256, &vm);
    if (rc)
        return rc;
    int ep = t->epoch;
    if (fo->history && ep < 1024) {
        fo->history->epochs = ep + 1;
        fo->history->loss[ep] = loss;
        fo->history->accuracy[ep] = acc;
        fo->history->val_loss[ep] = vm.loss;
        fo->history->val_accuracy[ep] = vm.accuracy;
        fo->history->lr[ep] = cr_optimizer_lr(t->m->opt);   /* no schedules here */
        fo->history->time[ep] = cr_now() - t->t0;
    }
    cr_fit_progress(fo, (crest_progress){ .kind = CREST_PROGRESS_EPOCH_END, .epoch = ep,
        .epochs = t->epochs, .samples = seen, .loss = loss, .accuracy = acc,
        .has_val = fo->validation_data != NULL, .val_loss = vm.loss,
        .val_accuracy = vm.accuracy, .seconds = cr_now() - t->t0 });
    return CREST_OK;
}

int crest_fit_table(crest_model *m, const crest_features *fs, const char *path,
                    const crest_table_opts *o, const crest_fit_opts *fo, int chunk_rows)
{
    crest_fit_opts fdflt = { 0 };
    if (!fo)
        fo = &fdflt;
    if (!m || !fs || !path)
        return cr_fail(CREST_E_ARG, "fit_table: NULL argument");
    if (fo->validation_split > 0 || fo->early_stopping_patience > 0 || fo->class_weight ||
        fo->checkpoint_dir || fo->initial_epoch || fo->on_epoch_end ||
        (fo->lr_schedule && fo->lr_schedule->kind != CREST_LR_CONSTANT) || fo->best_model_dir)
        return cr_fail(CREST_E_UNSUPPORTED, "fit_table: validation_split, early stopping, "
                       "class weights, checkpoints, learning-rate schedules, best-model "
                       "saves and epoch callbacks need the data set in memory (crest_fit)");
    if (!fs->laid_out)
        return cr_fail(CREST_E_STATE, "fit_table: the spec is not adapted");
    table_fit t = { .m = m, .fs = fs, .path = path, .o = o, .fo = fo,
                    .epochs = fo->epochs ? fo->epochs : 1,
                    .cap = chunk_rows > 0 ? (size_t)chunk_rows : 65536 };
    t.x = cr_malloc(t.cap * (size_t)fs->width * sizeof *t.x);
    t.y = cr_malloc(t.cap * sizeof *t.y);
    int rc = t.x && t.y ? CREST_OK
                        : cr_fail(CREST_E_NOMEM, "fit_table: out of memory for %zu rows", t.cap);
    if (!rc && fo->history)
        memset(fo->history, 0, sizeof *fo->history);
    for (; !rc && t.epoch < t.epochs; t.epoch++)
        rc = table_fit_epoch(&t);
    cr_free(t.x);
    cr_free(t.y);
    return rc;
}
