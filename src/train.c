/* train.c - compile, fit, evaluate, predict; progress goes to a callback. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int crest_compile(crest_model *m, const crest_compile_opts *o)
{
    crest_compile_opts d = { 0 };
    if (!m) {
        if (o)
            crest_optimizer_free(o->optimizer);
        return cr_fail(CREST_E_ARG, "compile: model is NULL");
    }
    if (!o)
        o = &d;
    crest_optimizer *opt = o->optimizer;
    int rc = CREST_OK;
    if (o->loss < CREST_SPARSE_CCE || o->loss > CREST_BCE)
        rc = cr_fail(CREST_E_ARG, "compile: unknown loss %d", (int)o->loss);
    else if (!(o->label_smoothing >= 0 && o->label_smoothing < 1))
        rc = cr_fail(CREST_E_ARG, "compile: label_smoothing %g is not in [0, 1)",
                     o->label_smoothing);
    else if (o->top_k < 0)
        rc = cr_fail(CREST_E_ARG, "compile: top_k %d", o->top_k);
    if (!rc && !opt && !(opt = crest_adam(1e-3f)))
        rc = CREST_E_NOMEM;
    if (!rc)
        rc = cr_model_build(m);
    if (rc) {
        crest_optimizer_free(opt);
        return rc;
    }
    crest_optimizer_free(m->opt);
    m->opt = opt;
    m->copts = *o;
    m->copts.optimizer = NULL;
    if (!m->copts.top_k)
        m->copts.top_k = 5;
    if (!m->copts.metrics)
        m->copts.metrics = CREST_ACCURACY;
    m->compiled = true;
    cr_model_drop_loss_graphs(m);
    return CREST_OK;
}

/* ---- batches ----------------------------------------------------------- */

/* Class labels score a vector of class scores per sample (or [1, 1, K]),
 * not an image or a sequence (Keras' sparse cross-entropy refuses the
 * shapes too). */
static int check_class_output(const crest_model *m, const char *what)
{
    crest_dims o = crest_model_output_shape(m);
    for (int i = 0; i + 1 < o.ndim; i++)
        if (o.d[i] != 1) {
            char a[96];
            return cr_fail(CREST_E_SHAPE,
                           "%s: model '%s' outputs %s per sample, not one score per class; "
                           "class labels need a vector",
                           what, m->name, cr_dims_str(&o, a, sizeof a));
        }
    return CREST_OK;
}

static int check_data(crest_model *m, const crest_dataset *d, const char *what)
{
    int rc = CREST_OK;
    if (!d)
        return cr_fail(CREST_E_ARG, "%s: data set is NULL", what);
    if (m->dynamic) {   /* unknown input dimensions: planned at the data's shape */
        rc = cr_model_bind(m, &d->shape);
        if (rc)
            return cr_wrap(rc, "%s", what);
    } else if (!cr_dims_eq(&d->shape, &m->in_shape) &&
        cr_dims_count(&d->shape) != cr_dims_count(&m->in_shape)) {
        char a[96], b[96];
        return cr_fail(CREST_E_SHAPE, "%s: samples are %s, model '%s' takes %s", what,
                       cr_dims_str(&d->shape, a, sizeof a), m->name,
                       cr_dims_str(&m->in_shape, b, sizeof b));
    }
    int64_t K = m->out_size;
    if (d->labels && !d->y && (rc = check_class_output(m, what)))
        return rc;
    if (m->copts.loss == CREST_SPARSE_CCE) {
        if (!d->labels)
            return cr_fail(CREST_E_ARG, "%s: the loss needs integer labels", what);
        for (size_t i = 0; i < d->n; i++)
            if (d->labels[i] < 0 || d->labels[i] >= K)
                return cr_fail(CREST_E_ARG,
                               "%s: label %d of sample %zu is out of range for %lld classes",
                               what, (int)d->labels[i], i, (long long)K);
    } else if (d->y ? d->n_classes != K : (m->copts.loss == CREST_BCE && K != 1)) {
        return cr_fail(CREST_E_SHAPE, "%s: targets have %d columns, the model outputs %lld",
                       what, d->n_classes, (long long)K);
    }
    return CREST_OK;
}

/* Target row r of the data set as the loss input wants it. */
static void fill_targets(const crest_model *m, const crest_dataset *d, size_t r, float *dst)
{
    int64_t K = m->out_size;
    if (m->copts.loss == CREST_SPARSE_CCE) {
        dst[0] = (float)d->labels[r];
    } else if (d->y) {
        memcpy(dst, d->y + r * (size_t)K, (size_t)K * sizeof(float));
    } else {             /* integer labels to one-hot (CCE) or 0/1 (BCE, K = 1) */
        for (int64_t k = 0; k < K; k++)
            dst[k] = K == 1 ? (float)d->labels[r] : (float)(d->labels[r] == k);
    }
}

/* Rows of d into the model inputs; a lazy set's are made for this pass. */
static int feed_rows(cr_graph *g, const crest_dataset *d, const size_t *idx, size_t start,
                     int64_t bs, cr_pool *pool)
{
    if (!cr_dataset_lazy(d)) {
        cr_graph_feed(g, d->x, d->stride, idx, start, bs);
        return CREST_OK;
    }
    float *x = cr_malloc((size_t)bs * (size_t)d->stride * sizeof *x);
    if (!x)
        return cr_fail(CREST_E_NOMEM, "out of memory for a pass of %lld samples",
                       (long long)bs);
    int rc = cr_dataset_gather_on(d, idx, start, bs, x, pool);
    if (!rc)
        cr_graph_feed(g, x, d->stride, NULL, 0, bs);
    cr_free(x);
    return rc;
}

static int load_batch(crest_model *m, const crest_dataset *d, const size_t *idx, size_t start,
                      int64_t bs, cr_graph *g, cr_node *labels, cr_node *sw, const float *cw)
{
    int64_t K = m->out_size, tw = m->copts.loss == CREST_SPARSE_CCE ? 1 : K;
    cr_pool *pool;
    int rc = cr_model_pool(m, &pool);
    if (!rc)
        rc = feed_rows(g, d, idx, start, bs, pool);
    if (rc)
        return rc;
    for (int64_t b = 0; b < bs; b++) {
        size_t r = idx ? idx[start + b] : start + b;
        if (labels)
            fill_targets(m, d, r, labels->val + b * tw);
        if (sw)
            sw->val[b] = cw && d->labels ? cw[d->labels[r]] : 1.0f;
    }
    return CREST_OK;
}

/* Correct predictions in the batch (top_k: label among the k best). */
static void count_hits(const crest_model *m, const crest_dataset *d, const size_t *idx,
                       size_t start, int64_t bs, const float *out, double *hits, double *topk)
{
    int64_t K = m->out_size;
    bool bce = m->copts.loss == CREST_BCE;
    float thr = m->copts.from_logits ? 0.0f : 0.5f;
    for (int64_t b = 0; b < bs; b++) {
        size_t r = idx ? idx[start + b] : start + b;
        const float *o = out + b * K;
        if (bce) {   /* binary accuracy, averaged over units */
            double ok = 0;
            for (int64_t k = 0; k < K; k++) {
                float y = d->y ? d->y[r * (size_t)K + k] : (float)d->labels[r];
                ok += (o[k] > thr) == (y > 0.5f);
            }
            *hits += ok / (double)K;
            continue;
        }
        int64_t label;
        if (d->labels) {
            label = d->labels[r];
        } else {
            label = 0;
            for (int64_t k = 1; k < K; k++)
                if (d->y[r * (size_t)K + k] > d->y[r * (size_t)K + label])
                    label = k;
        }
        int64_t best = 0, above = 0;
        for (int64_t k = 1; k < K; k++)
            if (o[k] > o[best])
                best = k;
        for (int64_t k = 0; k < K; k++)
            above += o[k] > o[label];
        *hits += best == label;
        *topk += above < m->copts.top_k;
    }
}

/* ---- fit ---------------------------------------------------------------- */

static int eval_range(crest_model *m, const crest_dataset *d, size_t start, size_t n, int bs,
                      crest_metrics *out, float *probs, const crest_fit_opts *shards);

static int fit_check(crest_model *m, const crest_dataset *train, const crest_fit_opts *o)
{
    if (!m)
        return cr_fail(CREST_E_ARG, "fit: model is NULL");
    if (!m->compiled)
        return cr_fail(CREST_E_STATE, "fit: model '%s' is not compiled", m->name);
    int epochs = o->epochs ? o->epochs : 1, bs = o->batch_size ? o->batch_size : 32;
    if (epochs < 0 || epochs > 1024 || bs < 1 || bs > (1 << 20))
        return cr_fail(CREST_E_ARG, "fit: epochs %d (1..1024), batch size %d", epochs, bs);
    if (o->initial_epoch < 0 || o->initial_epoch >= epochs)
        return cr_fail(CREST_E_ARG, "fit: initial_epoch %d is not in [0, epochs %d)",
                       o->initial_epoch, epochs);
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return cr_fail(CREST_E_ARG, "fit: validation_split %g is not in [0, 1)",
                       o->validation_split);
    if (o->resume && !o->checkpoint_dir && !o->resume_bytes)
        return cr_fail(CREST_E_ARG, "fit: resume needs a checkpoint_dir or resume_bytes");
    int rc = cr_model_build_train(m);
    if (!rc)
        rc = check_data(m, train, "fit");
    if (!rc && o->validation_data)
        rc = check_data(m, o->validation_data, "fit: validation data");
    if (!rc && o->class_weight && m->copts.loss != CREST_SPARSE_CCE && !train->labels)
        rc = cr_fail(CREST_E_ARG, "fit: class weights need integer labels");
    bool has_val = o->validation_split > 0 || o->validation_data;
    if (!rc)
        rc = cr_schedule_check(o->lr_schedule, has_val);
    if (!rc && o->best_model_dir) {
        crest_monitor b = cr_monitor_resolve(o->best_monitor, has_val);
        if (b < CREST_MONITOR_AUTO || b > CREST_MONITOR_ACCURACY)
            rc = cr_fail(CREST_E_ARG, "fit: best_monitor %d", (int)b);
        else if (!has_val && (b == CREST_MONITOR_VAL_LOSS || b == CREST_MONITOR_VAL_ACCURACY))
            rc = cr_fail(CREST_E_ARG, "fit: best_monitor %s needs validation data",
                         crest_monitor_name(b));
    }
    return rc;
}

/* The run's starting state: the split, the row order, early stopping, the
 * RNGs; then, with checkpoints, what a checkpoint to resume holds. */
static int fit_init(cr_fit *f, crest_model *m, const crest_dataset *train,
                    const crest_fit_opts *o)
{
    *f = (cr_fit){ .m = m, .train = train, .o = o, .n = train->n,
                   .epochs = o->epochs ? o->epochs : 1,
                   .bs = o->batch_size ? o->batch_size : 32,
                   .early = o->early_stopping_patience > 0,
                   .n_params = crest_model_param_count(m, false),
                   .best_loss = INFINITY, .best_epoch = -1, .epoch = o->initial_epoch };
    /* Keras: the validation split is the last fraction, taken before shuffling */
    if (o->validation_split > 0) {
        f->n_val = (size_t)((double)f->n * o->validation_split);
        f->n -= f->n_val;
    }
    if (f->n == 0)
        return cr_fail(CREST_E_ARG, "fit: no training samples");
    f->has_val = f->n_val > 0 || o->validation_data;
    f->steps = (int64_t)((f->n + (size_t)f->bs - 1) / (size_t)f->bs);
    f->idx = cr_malloc(f->n * sizeof *f->idx);
    if (f->early && !o->no_restore_best)
        f->best = cr_malloc((f->n_params ? f->n_params : 1) * sizeof *f->best);
    if (!f->idx || (f->early && !o->no_restore_best && !f->best))
        return cr_fail(CREST_E_NOMEM, "fit: out of memory");
    for (size_t i = 0; i < f->n; i++)
        f->idx[i] = i;
    cr_rng_seed(&f->shuffle, o->seed);
    cr_rng_seed(&f->drop, o->seed ^ 0x5851f42d4c957f2dULL);
    /* the schedule; its state (plateau) is the checkpoint's to restore */
    f->sched = o->lr_schedule && o->lr_schedule->kind != CREST_LR_CONSTANT ? o->lr_schedule
                                                                            : NULL;
    f->base_lr = f->lr = cr_optimizer_lr(m->opt);
    f->plateau_monitor = cr_monitor_resolve(f->sched ? f->sched->monitor : CREST_MONITOR_AUTO,
                                            f->has_val);
    f->best_monitor = cr_monitor_resolve(o->best_monitor, f->has_val);
    cr_plateau_init(&f->plateau, f->base_lr, cr_monitor_maximize(f->plateau_monitor));
    return o->checkpoint_dir || (o->resume && o->resume_bytes) ? cr_fit_checkpoint_open(f)
                                                                : CREST_OK;
}

/* The parameter block's values into buf (save) or back from it. */
static int copy_weights(crest_model *m, float *buf, bool save)
{
    int rc = cr_params_pack(m);
    if (rc)
        return rc;
    size_t bytes = (size_t)m->params.n * sizeof(float);
    memcpy(save ? buf : m->params.val, save ? m->params.val : buf, bytes);
    for (int i = 0; !save && i < m->n_weights; i++)
        m->weights[i]->version++;   /* prepared (packed) kernels follow */
    return CREST_OK;
}

/* The rate of update s of the current epoch, set on the optimizer. */
static void fit_rate(cr_fit *f, int64_t s)
{
    if (!f->sched)
        return;
    f->lr = f->sched->kind == CREST_LR_PLATEAU
                ? f->plateau.lr
                : crest_lr_at(f->sched, f->base_lr, (int64_t)f->epoch * f->steps + s, f->steps,
                              (int64_t)f->epochs * f->steps);
    cr_optimizer_set_rate(f->m->opt, f->lr);
}

/* Step s of the epoch, on the b rows from s * batch size of the shuffled
 * order: forward, loss, backward, update. Adds the batch's hits. */
static int train_step(cr_fit *f, cr_ctx *ctx, int64_t s, int64_t b, float *loss,
                      double *hits, double *topk)
{
    crest_model *m = f->m;
    cr_graph *g = m->train.g;
    size_t start = (size_t)s * (size_t)f->bs;
    int rc = cr_graph_plan(g, b);
    if (!rc)
        rc = load_batch(m, f->train, f->idx, start, b, g, m->train.label, m->train.sw,
                        f->o->class_weight);
    if (!rc && f->aug)   /* the batch's inputs augmented in place (the run's RNG) */
        rc = cr_augment_run(f->aug, f->aug_y, g->inputs[0]->val, b,
                            cr_dims_count(&g->inputs[0]->sample), ctx->rng, ctx->pool, NULL);
    if (rc)
        return rc;
    cr_graph_forward(g, ctx);
    if (!isfinite(*loss = m->train.loss->val[0]))
        return cr_fail(CREST_E_STATE, "fit: loss became %g at epoch %d step %lld (learning "
                       "rate too high?)", *loss, f->epoch + 1, (long long)s + 1);
    count_hits(m, f->train, f->idx, start, b, m->train.out->val, hits, topk);
    memset(m->params.grad, 0, (size_t)m->params.n * sizeof(float));
    cr_graph_backward(g, m->train.loss, ctx);
    fit_rate(f, s);
    return cr_optimizer_step(m->opt, m, ctx->pool);
}

/* ---- micro-shards (crest_fit_opts.micro_batch) --------------------------- */

void crest_shard_range(size_t n, int parts, int k, size_t *first, size_t *count)
{
    size_t p = parts > 0 ? (size_t)parts : 1, i = k > 0 ? (size_t)k : 0;
    if (i >= p)
        i = p - 1;
    size_t q = n / p, r = n % p;   /* the first r parts take one more */
    *first = i * q + (i < r ? i : r);
    *count = q + (i < r);
}

/* The gradients of the trainable weights only (a fine-tuned backbone's
 * frozen layers have none), in block order: what a micro-shard exchanges.
 * dir > 0 packs grad into row; dir < 0 adds w * row into grad. Returns the
 * floats packed. */
static size_t trainable_grads(const crest_model *m, float *grad, float *row, int dir, float w)
{
    size_t off = 0, at = 0;
    for (int i = 0; i < m->n_weights; i++) {
        size_t n = (size_t)m->weights[i]->size;
        if (cr_weight_trainable(m->weights[i])) {
            if (dir > 0)
                memcpy(row + at, grad + off, n * sizeof(float));
            else if (dir < 0)
                for (size_t k = 0; k < n; k++)
                    grad[off + k] += w * row[at + k];
            at += n;
        }
        off += n;
    }
    return at;
}

/* Floats per micro-shard row: the trainable gradient, loss, hits, top-k
 * hits, status. */
static size_t micro_row(const crest_model *m) { return trainable_grads(m, NULL, NULL, 0, 0) + 4; }

/* Micro-shard j (rows [js, js + jb) of the batch at start) into row: its
 * gradient and loss, dropout drawn from the seed, epoch, step and shard. */
static int micro_run(cr_fit *f, const cr_ctx *ctx, int64_t s, int64_t j, size_t start,
                     int64_t js, int64_t jb, float *row)
{
    crest_model *m = f->m;
    cr_graph *g = m->train.g;
    size_t P = (size_t)m->params.n, T;
    cr_rng r;
    cr_rng_seed(&r, f->o->seed ^ 0x2545f4914f6cdd1dULL ^ ((uint64_t)f->epoch << 44) ^
                        ((uint64_t)s << 20) ^ (uint64_t)j);
    cr_ctx c = *ctx;
    c.rng = &r;
    int rc = cr_graph_plan(g, jb);
    if (!rc)
        rc = load_batch(m, f->train, f->idx, start + (size_t)js, jb, g, m->train.label,
                        m->train.sw, f->o->class_weight);
    if (!rc && f->aug)
        rc = cr_augment_run(f->aug, f->aug_y, g->inputs[0]->val, jb,
                            cr_dims_count(&g->inputs[0]->sample), c.rng, c.pool, NULL);
    if (rc)
        return rc;
    cr_graph_forward(g, &c);
    double hits = 0, topk = 0;
    count_hits(m, f->train, f->idx, start + (size_t)js, jb, m->train.out->val, &hits, &topk);
    memset(m->params.grad, 0, P * sizeof(float));
    cr_graph_backward(g, m->train.loss, &c);
    T = trainable_grads(m, m->params.grad, row, 1, 0);
    row[T] = m->train.loss->val[0];
    row[T + 1] = (float)hits;
    row[T + 2] = (float)topk;
    row[T + 3] = 0;
    return CREST_OK;
}

/* Step s in micro-shards: this process's into f->micro, the others' by
 * allgather, then the sum in shard order, each weighted by its rows / b. */
static int micro_step(cr_fit *f, cr_ctx *ctx, int64_t s, int64_t b, float *loss,
                      double *hits, double *topk)
{
    crest_model *m = f->m;
    const crest_fit_opts *o = f->o;
    int64_t mb = o->micro_batch, nm = (b + mb - 1) / mb;
    size_t P = (size_t)m->params.n, row = micro_row(m), T = row - 4, first, count;
    size_t start = (size_t)s * (size_t)f->bs;
    int shards = o->n_shards > 1 ? o->n_shards : 1;
    crest_shard_range((size_t)nm, shards, o->shard, &first, &count);
    int rc = CREST_OK;
    for (size_t j = first; j < first + count && !rc; j++)
        rc = micro_run(f, ctx, s, (int64_t)j, start, (int64_t)j * mb,
                       b - (int64_t)j * mb < mb ? b - (int64_t)j * mb : mb, f->micro + j * row);
    for (size_t j = first; rc && j < first + count; j++)   /* the others fail with us */
        f->micro[j * row + T + 3] = 1;
    if (shards > 1 && o->allgather) {
        int grc = o->allgather(o->allgather_user, f->micro, (int)nm, row);
        if (grc && !rc)
            rc = cr_fail(grc, "fit: exchanging gradients at epoch %d step %lld", f->epoch + 1,
                         (long long)s + 1);
    }
    for (int64_t j = 0; j < nm && !rc; j++)
        if (f->micro[(size_t)j * row + T + 3] != 0)
            rc = cr_fail(CREST_E_STATE, "fit: micro-shard %lld of step %lld failed in "
                         "another process", (long long)j + 1, (long long)s + 1);
    if (rc)
        return rc;
    float *grad = m->params.grad, l = 0;
    memset(grad, 0, P * sizeof(float));
    for (int64_t j = 0; j < nm; j++) {   /* in shard order, whoever computed them */
        float *g = f->micro + (size_t)j * row;
        int64_t jb = b - j * mb < mb ? b - j * mb : mb;
        float w = (float)jb / (float)b;
        trainable_grads(m, grad, g, -1, w);
        l += w * g[T];
        *hits += g[T + 1];
        *topk += g[T + 2];
    }
    if (!isfinite(*loss = l))
        return cr_fail(CREST_E_STATE, "fit: loss became %g at epoch %d step %lld (learning "
                       "rate too high?)", *loss, f->epoch + 1, (long long)s + 1);
    fit_rate(f, s);
    return cr_optimizer_step(m->opt, m, ctx->pool);
}

/* One pass over the shuffled training rows: the epoch's loss and accuracy. */
static int fit_epoch(cr_fit *f, cr_ctx *ctx, double *loss, double *acc)
{
    size_t n = f->n, bs = (size_t)f->bs;
    if (!f->o->no_shuffle)
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)cr_rng_below(&f->shuffle, i + 1), t = f->idx[i];
            f->idx[i] = f->idx[j];
            f->idx[j] = t;
        }
    double loss_sum = 0, hits = 0, topk = 0;
    size_t seen = 0;
    int rc;
    for (int64_t s = 0; s < f->steps; s++) {
        size_t start = (size_t)s * bs;
        int64_t b = (int64_t)(n - start < bs ? n - start : bs);
        float l;
        if ((rc = f->micro ? micro_step(f, ctx, s, b, &l, &hits, &topk)
                           : train_step(f, ctx, s, b, &l, &hits, &topk)))
            return rc;
        loss_sum += (double)l * (double)b;
        seen += (size_t)b;
        cr_fit_progress(f->o, (crest_progress){ .kind = CREST_PROGRESS_STEP, .epoch = f->epoch,
            .epochs = f->epochs, .step = s + 1, .steps = f->steps, .samples = seen,
            .loss = loss_sum / (double)seen, .accuracy = hits / (double)seen,
            .seconds = cr_now() - f->t0, .lr = f->lr, .lr_scheduled = f->sched != NULL });
    }
    *loss = loss_sum / (double)seen;
    *acc = hits / (double)seen;
    return CREST_OK;
}

static int fit_validate(cr_fit *f, double val[2])
{
    const crest_fit_opts *o = f->o;
    crest_metrics vm;
    const crest_dataset *vd = o->validation_data ? o->validation_data : f->train;
    int rc = eval_range(f->m, vd, o->validation_data ? 0 : f->n,
                        o->validation_data ? vd->n : f->n_val, f->bs, &vm, NULL,
                        o->micro_batch > 0 && o->n_shards > 1 && o->allgather ? o : NULL);
    val[0] = vm.loss;
    val[1] = vm.accuracy;
    return rc;
}

/* Sharded (micro-shards over processes exchanged by allgather): whether
 * every process got through what only some do (the start, with a
 * checkpoint read or not; an epoch's saves), rc being this one's, so that
 * none goes on into the next exchange alone. */
static int fit_agree(const cr_fit *f, int rc, const char *what)
{
    const crest_fit_opts *o = f->o;
    if (!(o->micro_batch > 0 && o->n_shards > 1 && o->allgather) || o->shard < 0 ||
        o->shard >= o->n_shards)
        return rc;
    float st[256], *s = o->n_shards <= 256 ? st : cr_calloc((size_t)o->n_shards, sizeof *s);
    if (!s)   /* cannot take part: the others would wait */
        return cr_fail(CREST_E_NOMEM, "fit: out of memory for %d statuses", o->n_shards);
    s[o->shard] = rc != 0;
    int grc = o->allgather(o->allgather_user, s, o->n_shards, 1);
    for (int k = 0; !rc && k < o->n_shards; k++)
        if (s[k] != 0)
            rc = cr_fail(CREST_E_STATE, "fit: %s failed in process %d of %d", what, k,
                         o->n_shards);
    if (!rc && grc)
        rc = cr_fail(grc, "fit: exchanging statuses after %s", what);
    if (s != st)
        cr_free(s);
    return rc;
}

/* The epoch's END event: its metrics, the validation's if any. */
static void fit_report(const cr_fit *f, double loss, double acc, const double val[2])
{
    cr_fit_progress(f->o, (crest_progress){ .kind = CREST_PROGRESS_EPOCH_END,
        .epoch = f->epoch, .epochs = f->epochs, .step = f->steps, .steps = f->steps,
        .samples = f->n, .loss = loss, .accuracy = acc, .has_val = f->has_val,
        .val_loss = val[0], .val_accuracy = val[1], .seconds = cr_now() - f->t0,
        .lr = f->lr, .lr_scheduled = f->sched != NULL });
}

/* The epoch's history row and early stopping; the epoch counts as done. */
static void fit_record(cr_fit *f, double loss, double acc, const double val[2])
{
    const crest_fit_opts *o = f->o;
    int ep = f->epoch++;
    f->hist.epochs = f->epoch;
    f->hist.loss[ep] = loss;
    f->hist.accuracy[ep] = acc;
    f->hist.val_loss[ep] = val[0];
    f->hist.val_accuracy[ep] = val[1];
    f->hist.lr[ep] = f->lr;
    f->hist.time[ep] = cr_now() - f->t0;   /* training and validation */
    if (!f->early)
        return;
    double mon = f->has_val ? val[0] : loss;
    if (mon < f->best_loss - o->early_stopping_min_delta) {
        f->best_loss = mon;
        f->best_epoch = ep;
        f->wait = 0;
        if (f->best)
            (void)copy_weights(f->m, f->best, true);   /* packed when fit began */
    } else if (++f->wait >= o->early_stopping_patience) {
        f->stopped = true;
    }
}

/* ReduceLROnPlateau after epoch ep (recorded): the rate of the next epochs. */
static void fit_plateau(cr_fit *f, int ep)
{
    if (!f->sched || f->sched->kind != CREST_LR_PLATEAU)
        return;
    crest_monitor mon = f->plateau_monitor;
    double v = cr_monitor_value(mon, &f->hist, ep);
    if (cr_plateau_update(&f->plateau, f->sched, cr_monitor_maximize(mon), v))
        cr_fit_progress(f->o, (crest_progress){ .kind = CREST_PROGRESS_LR_REDUCED, .epoch = ep,
            .epochs = f->epochs, .lr = f->plateau.lr, .lr_scheduled = true,
            .monitor = crest_monitor_name(mon), .value = v });
}

/* ModelCheckpoint(save_best_only) after epoch ep: the model saved when the
 * monitored value beats every earlier epoch's of the run (the history is
 * the state, so a resumed run decides as the uninterrupted one). */
static int fit_save_best(cr_fit *f, int ep)
{
    const crest_fit_opts *o = f->o;
    if (!o->best_model_dir)
        return CREST_OK;
    crest_monitor mon = f->best_monitor;
    bool mx = cr_monitor_maximize(mon);
    double v = cr_monitor_value(mon, &f->hist, ep), best = mx ? -INFINITY : INFINITY;
    for (int e = o->initial_epoch; e < ep; e++) {
        double u = cr_monitor_value(mon, &f->hist, e);
        if (mx ? u > best : u < best)
            best = u;
    }
    if (!(mx ? v > best : v < best))
        return CREST_OK;
    int rc = crest_model_save(f->m, o->best_model_dir);
    if (!rc)
        cr_fit_progress(o, (crest_progress){ .kind = CREST_PROGRESS_BEST_SAVED, .epoch = ep,
            .epochs = f->epochs, .path = o->best_model_dir, .monitor = crest_monitor_name(mon),
            .value = v, .best = best, .lr = f->lr, .lr_scheduled = f->sched != NULL });
    return rc;
}

/* After the epoch just recorded: the best model, on_epoch_end, the
 * checkpoint; then, sharded, every process's word on them. */
static int fit_epoch_saves(cr_fit *f)
{
    const crest_fit_opts *o = f->o;
    int rc = fit_save_best(f, f->epoch - 1);
    if (!rc && o->on_epoch_end)
        rc = o->on_epoch_end(f->m, f->epoch - 1, &f->hist, o->user);
    if (!rc && f->ckpt)
        rc = cr_fit_checkpoint_save(f);
    char what[64];
    snprintf(what, sizeof what, "the end of epoch %d", f->epoch);
    return fit_agree(f, rc, what);
}

int crest_fit(crest_model *m, const crest_dataset *train, const crest_fit_opts *o)
{
    crest_fit_opts dflt = { 0 };
    if (!o)
        o = &dflt;
    int rc = fit_check(m, train, o);
    cr_pool *pool;
    if (rc || (rc = cr_model_pool(m, &pool)) || (rc = cr_params_need(m, -1)))
        return rc;
    cr_fit *f = cr_calloc(1, sizeof *f);
    if (!f)
        return cr_fail(CREST_E_NOMEM, "fit: out of memory");
    rc = fit_init(f, m, train, o);
    if (!rc && o->n_augment > 0 && m->train.g->n_inputs != 1)
        rc = cr_fail(CREST_E_ARG, "fit: augmentation needs a model of one input, not %d",
                     m->train.g->n_inputs);
    if (o->n_augment > 0 && !rc)
        rc = cr_augment_graph(o->augment, o->n_augment, m->train.g->inputs[0]->sample, true,
                              &f->aug, &f->aug_y);
    if (!rc && f->aug && !cr_dims_eq(&f->aug_y->shape, &f->aug->inputs[0]->shape))
        rc = cr_fail(CREST_E_SHAPE, "fit: the augmentation layers change the input's shape (a "
                     "RandomCrop goes in front of the model: crest_model_prepend)");
    if (!rc && o->micro_batch > 0) {   /* the rows of a batch's micro-shards */
        size_t nm = ((size_t)f->bs + (size_t)o->micro_batch - 1) / (size_t)o->micro_batch;
        if (o->n_shards < 0 || o->shard < 0 || (o->n_shards > 1 && o->shard >= o->n_shards))
            rc = cr_fail(CREST_E_ARG, "fit: shard %d of %d", o->shard, o->n_shards);
        else if (!(f->micro = cr_malloc(nm * micro_row(m) * sizeof(float))))
            rc = cr_fail(CREST_E_NOMEM, "fit: out of memory for %zu micro-shard gradients", nm);
    } else if (!rc && o->micro_batch < 0) {
        rc = cr_fail(CREST_E_ARG, "fit: micro_batch %d", o->micro_batch);
    }
    if ((rc = fit_agree(f, rc, "starting")))
        goto out;
    cr_ctx ctx = { .pool = pool, .rng = &f->drop, .training = true };
    while (f->epoch < f->epochs && !f->stopped) {
        f->t0 = cr_now();
        cr_fit_progress(o, (crest_progress){ .kind = CREST_PROGRESS_EPOCH_BEGIN,
            .epoch = f->epoch, .epochs = f->epochs, .steps = f->steps });
        double loss = 0, acc = 0, val[2] = { 0 };
        if ((rc = fit_epoch(f, &ctx, &loss, &acc)) ||
            (f->has_val && (rc = fit_validate(f, val))))
            goto out;
        fit_report(f, loss, acc, val);
        fit_record(f, loss, acc, val);
        fit_plateau(f, f->epoch - 1);
        f->hist.best_epoch = f->best_epoch;
        if (f->stopped)
            cr_fit_progress(o, (crest_progress){ .kind = CREST_PROGRESS_EARLY_STOP,
                .epoch = f->epoch - 1, .epochs = f->epochs, .best_epoch = f->best_epoch });
        if ((rc = fit_epoch_saves(f)))
            goto out;
    }
    if (f->best && f->best_epoch >= 0)
        rc = copy_weights(m, f->best, false);
out:
    cr_optimizer_set_rate(m->opt, -1);   /* the schedule was this run's */
    if (o->history) {
        *o->history = f->hist;
        o->history->best_epoch = f->best_epoch;
    }
    cr_graph_free(f->aug);
    cr_free(f->micro);
    cr_free(f->idx);
    cr_free(f->best);
    cr_free(f->ckpt);
    cr_free(f);
    return rc;
}

/* ---- evaluate / predict ------------------------------------------------ */

/* Samples per pass: bs if given, else cache-sized for g (at most 64). */
static int64_t pass_size(cr_graph *g, int64_t bs)
{
    return bs > 0 ? bs : cr_auto_batch(g);
}

/* A pass's sums as exchanged between processes: loss, hits and top-k hits
 * (doubles, their bytes in two floats each), then a status (0: it ran). */
enum { PASS_ROW = 7 };

static void pass_put(float *row, const double v[3], int status)
{
    memcpy(row, v, 3 * sizeof(double));
    row[6] = (float)status;
}

/* Passes [p0, p1) of P rows over rows [start, start + n) of d, each pass's
 * sums into its row of sums (probs: the outputs, if not NULL). */
static int eval_passes(crest_model *m, const crest_dataset *d, size_t start, size_t n,
                       int64_t P, size_t p0, size_t p1, float *sums, float *probs)
{
    cr_pool *pool;
    int rc = cr_model_pool(m, &pool);
    cr_ctx ctx = { .pool = pool, .training = false };
    for (size_t p = p0; p < p1 && !rc; p++) {
        size_t s = p * (size_t)P;
        int64_t b = (int64_t)(n - s < (size_t)P ? n - s : (size_t)P);
        if ((rc = cr_graph_plan(m->eval.g, b)) ||
            (rc = load_batch(m, d, NULL, start + s, b, m->eval.g, m->eval.label, m->eval.sw,
                             NULL)))
            break;
        cr_graph_forward(m->eval.g, &ctx);
        double v[3] = { (double)m->eval.loss->val[0] * (double)b, 0, 0 };
        count_hits(m, d, NULL, start + s, b, m->eval.out->val, &v[1], &v[2]);
        pass_put(sums + p * PASS_ROW, v, 0);
        if (probs)
            memcpy(probs + s * (size_t)m->out_size, m->eval.out->val,
                   (size_t)(b * m->out_size) * sizeof(float));
    }
    return rc;
}

/* Metrics over rows [start, start + n) of d in passes of bs (0: cache-sized)
 * rows, the loss the mean over samples; probs [n, K] written if not NULL.
 * With shards (fit's
 * micro-shard options), this process runs its crest_shard_range of the
 * passes and the others' sums come by shards->allgather; the sums are
 * added in pass order, so every process, and one alone, gets the same. */
static int eval_range(crest_model *m, const crest_dataset *d, size_t start, size_t n, int bs,
                      crest_metrics *out, float *probs, const crest_fit_opts *shards)
{
    int rc = cr_model_build_eval(m);
    if (rc)
        return rc;
    int64_t P = pass_size(m->eval.g, bs);
    if (P < 1)
        return cr_graph_status(m->eval.g) ? cr_graph_status(m->eval.g)
                                          : cr_fail(CREST_E_NOMEM, "evaluate: planning failed");
    size_t np = (n + (size_t)P - 1) / (size_t)P, p0 = 0, cnt = np;
    float *sums = cr_malloc((np ? np : 1) * PASS_ROW * sizeof(float));
    if (!sums)
        return cr_fail(CREST_E_NOMEM, "evaluate: out of memory for %zu passes", np);
    if (shards)
        crest_shard_range(np, shards->n_shards, shards->shard, &p0, &cnt);
    rc = eval_passes(m, d, start, n, P, p0, p0 + cnt, sums, probs);
    if (shards) {   /* every process takes part, a failed one with its status set */
        for (size_t p = p0; rc && p < p0 + cnt; p++)
            pass_put(sums + p * PASS_ROW, (double[3]){ 0, 0, 0 }, 1);
        int grc = shards->allgather(shards->allgather_user, sums, (int)np, PASS_ROW);
        for (size_t p = 0; !rc && p < np; p++)
            if (sums[p * PASS_ROW + 6] != 0)
                rc = cr_fail(CREST_E_STATE, "evaluate: pass %zu failed in another process",
                             p + 1);
        if (!rc && grc)
            rc = cr_fail(grc, "evaluate: exchanging the validation sums");
    }
    double loss = 0, hits = 0, topk = 0;
    for (size_t p = 0; !rc && p < np; p++) {   /* in pass order, whoever ran them */
        double v[3];
        memcpy(v, sums + p * PASS_ROW, sizeof v);
        loss += v[0];
        hits += v[1];
        topk += v[2];
    }
    cr_free(sums);
    if (rc)
        return rc;
    *out = (crest_metrics){ .n = n };
    if (n) {
        out->loss = loss / (double)n;
        out->accuracy = hits / (double)n;
        out->top_k_accuracy = topk / (double)n;
    }
    return CREST_OK;
}

int crest_evaluate_probs(crest_model *m, const crest_dataset *d, int batch_size,
                         crest_metrics *out, float *probs)
{
    if (!m || !out)
        return cr_fail(CREST_E_ARG, "evaluate: model or output is NULL");
    if (!m->compiled)
        return cr_fail(CREST_E_STATE, "evaluate: model '%s' is not compiled", m->name);
    int rc = cr_model_build(m);
    if (!rc)
        rc = check_data(m, d, "evaluate");
    if (rc)
        return rc;
    if (batch_size < 0 || batch_size > (1 << 20))
        return cr_fail(CREST_E_ARG, "evaluate: batch size %d", batch_size);
    return eval_range(m, d, 0, d->n, batch_size, out, probs, NULL);
}

int crest_evaluate(crest_model *m, const crest_dataset *d, int batch_size, crest_metrics *out)
{
    return crest_evaluate_probs(m, d, batch_size, out, NULL);
}

/* Output k of the inference graph for n samples: from x, or from d's rows. */
static int predict_rows(crest_model *m, int k, const float *x, const crest_dataset *d, size_t n,
                        float *out)
{
    cr_pool *pool;
    int rc = cr_model_build(m);
    if (!rc)
        rc = cr_model_bind(m, d ? &d->shape : NULL);
    if (!rc)
        rc = cr_model_pool(m, &pool);
    if (rc)
        return rc;
    cr_ctx ctx = { .pool = pool, .training = false };
    cr_graph *g = m->infer.g;
    if (k < 0 || k >= g->n_outputs)
        return cr_fail(CREST_E_ARG, "predict: model '%s' has no output %d", m->name, k);
    int64_t per = cr_dims_count(&m->feed), bs = pass_size(g, 0);
    if (bs < 1)
        return cr_graph_status(g) ? cr_graph_status(g)
                                  : cr_fail(CREST_E_NOMEM, "predict: planning failed");
    for (size_t s = 0; s < n; s += (size_t)bs) {
        int64_t b = (int64_t)(n - s < (size_t)bs ? n - s : (size_t)bs);
        if ((rc = cr_graph_plan(g, b)))
            return rc;
        if (s == 0 && !d) {   /* all of them on copies of g, if it can */
            int64_t w = cr_dims_count(&g->outputs[k]->shape) / b;
            if ((rc = cr_run_passes(m, pool, k, x, n, bs, out, w)))
                return rc < 0 ? rc : CREST_OK;
        }
        if (d && (rc = feed_rows(g, d, NULL, s, b, pool)))
            return rc;
        if (!d)
            cr_graph_feed(g, x, per, NULL, s, b);
        cr_graph_forward(g, &ctx);
        int64_t cnt = cr_dims_count(&g->outputs[k]->shape), w = cnt / b;
        memcpy(out + s * (size_t)w, g->outputs[k]->val, (size_t)cnt * sizeof(float));
    }
    return CREST_OK;
}

int cr_predict_node(crest_model *m, int k, const float *x, size_t n, float *out)
{
    if (!m || (!x && n) || (!out && n))
        return cr_fail(CREST_E_ARG, "predict: model, input or output is NULL");
    return predict_rows(m, k, x, NULL, n, out);
}

int crest_predict(crest_model *m, const float *x, size_t n, float *probs)
{
    return cr_predict_node(m, 0, x, n, probs);
}

int crest_predict_output(crest_model *m, int k, const float *x, size_t n, float *out)
{
    if (!m || k < 0 || k >= crest_model_output_count(m))
        return cr_fail(CREST_E_ARG, "predict_output: output %d does not exist", k);
    return cr_predict_node(m, k, x, n, out);
}

int crest_predict_dataset(crest_model *m, const crest_dataset *d, float *probs)
{
    if (!m || !d || (!probs && d->n))
        return cr_fail(CREST_E_ARG, "predict: model, data set or output is NULL");
    int rc = cr_model_build(m);
    if (!rc && m->dynamic)
        rc = cr_model_bind(m, &d->shape);
    else if (!rc && d->stride != cr_dims_count(&m->in_shape)) {
        char a[96], b[96];
        rc = cr_fail(CREST_E_SHAPE, "predict: samples are %s, model '%s' takes %s",
                     cr_dims_str(&d->shape, a, sizeof a), m->name,
                     cr_dims_str(&m->in_shape, b, sizeof b));
    }
    return rc ? rc : predict_rows(m, 0, NULL, d, d->n, probs);
}
