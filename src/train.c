/* train.c - compile, fit, evaluate, predict, and the progress bar. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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
    cr_graph_free(m->g_train);
    cr_graph_free(m->g_eval);
    m->g_train = m->g_eval = NULL;
    return CREST_OK;
}

/* ---- batches ----------------------------------------------------------- */

static int check_data(crest_model *m, const crest_dataset *d, const char *what)
{
    if (!d)
        return cr_fail(CREST_E_ARG, "%s: data set is NULL", what);
    if (!cr_dims_eq(&d->shape, &m->in_shape) &&
        cr_dims_count(&d->shape) != cr_dims_count(&m->in_shape)) {
        char a[96], b[96];
        return cr_fail(CREST_E_SHAPE, "%s: samples are %s, model '%s' takes %s", what,
                       cr_dims_str(&d->shape, a, sizeof a), m->name,
                       cr_dims_str(&m->in_shape, b, sizeof b));
    }
    int64_t K = m->out_size;
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
                     int64_t bs)
{
    if (!cr_dataset_lazy(d)) {
        cr_graph_feed(g, d->x, d->stride, idx, start, bs);
        return CREST_OK;
    }
    float *x = cr_malloc((size_t)bs * (size_t)d->stride * sizeof *x);
    if (!x)
        return cr_fail(CREST_E_NOMEM, "out of memory for a pass of %lld samples",
                       (long long)bs);
    int rc = cr_dataset_gather(d, idx, start, bs, x);
    if (!rc)
        cr_graph_feed(g, x, d->stride, NULL, 0, bs);
    cr_free(x);
    return rc;
}

static int load_batch(crest_model *m, const crest_dataset *d, const size_t *idx, size_t start,
                      int64_t bs, cr_graph *g, cr_node *labels, cr_node *sw, const float *cw)
{
    int64_t K = m->out_size, tw = m->copts.loss == CREST_SPARSE_CCE ? 1 : K;
    int rc = feed_rows(g, d, idx, start, bs);
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

/* ---- progress bar (Keras style) ---------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct progress {
    int verbose;
    bool tty;
    double t0, last;
    int64_t steps;
} progress;

static void fmt_time(char *buf, size_t n, double s)
{
    if (s >= 3600)
        snprintf(buf, n, "%d:%02d:%02d", (int)(s / 3600), (int)fmod(s / 60, 60), (int)fmod(s, 60));
    else if (s >= 60)
        snprintf(buf, n, "%d:%02d", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%.0fs", s);
}

static void progress_line(progress *p, int64_t step, double loss, double acc, bool has_acc,
                          const double *val, bool final)
{
    if (p->verbose != 1 && !(p->verbose == 2 && final))
        return;
    double t = now_s();
    if (!final && (!p->tty || t - p->last < 0.1))
        return;
    p->last = t;
    char bar[31] = { 0 }, tb[32];
    int w = (int)(30 * step / (p->steps ? p->steps : 1));
    for (int i = 0; i < 30; i++)
        bar[i] = i < w - 1 || (final && i < w) ? '=' : i == w - 1 ? '>' : '.';
    double el = t - p->t0;
    int digits = snprintf(NULL, 0, "%lld", (long long)p->steps);
    if (final) {
        fmt_time(tb, sizeof tb, el);
        double per = el / (double)(step ? step : 1);
        fprintf(stderr, "%s%*lld/%lld [%s] - %s %.0f%s/step - loss: %.4f", p->tty ? "\r" : "",
                digits, (long long)step, (long long)p->steps, bar, tb,
                per >= 1 ? per : per >= 1e-3 ? per * 1e3 : per * 1e6,
                per >= 1 ? "s" : per >= 1e-3 ? "ms" : "us", loss);
    } else {
        fmt_time(tb, sizeof tb, step ? el / (double)step * (double)(p->steps - step) : 0);
        fprintf(stderr, "\r%*lld/%lld [%s] - ETA: %s - loss: %.4f", digits, (long long)step,
                (long long)p->steps, bar, tb, loss);
    }
    if (has_acc)
        fprintf(stderr, " - accuracy: %.4f", acc);
    if (val)
        fprintf(stderr, " - val_loss: %.4f - val_accuracy: %.4f", val[0], val[1]);
    fprintf(stderr, final ? "\n" : "");
    fflush(stderr);
}

/* ---- fit ---------------------------------------------------------------- */

static int alloc_grads(crest_model *m)
{
    for (int i = 0; i < m->n_weights; i++) {
        cr_weight *w = m->weights[i];
        if (!w->grad && !(w->grad = cr_calloc((size_t)w->size, sizeof(float))))
            return cr_fail(CREST_E_NOMEM, "out of memory for gradients of '%s'", w->name);
    }
    /* the plan hands these pointers to param nodes: re-plan */
    if (m->g_train)
        m->g_train->planned = false;
    return CREST_OK;
}

static int eval_range(crest_model *m, const crest_dataset *d, size_t start, size_t n, int bs,
                      crest_metrics *out, float *probs);

int crest_fit(crest_model *m, const crest_dataset *train, const crest_fit_opts *o)
{
    crest_fit_opts dflt = { 0 };
    if (!o)
        o = &dflt;
    if (!m)
        return cr_fail(CREST_E_ARG, "fit: model is NULL");
    if (!m->compiled)
        return cr_fail(CREST_E_STATE, "fit: model '%s' is not compiled", m->name);
    int epochs = o->epochs ? o->epochs : 1, bs = o->batch_size ? o->batch_size : 32;
    if (epochs < 0 || epochs > 1024 || bs < 1 || bs > (1 << 20))
        return cr_fail(CREST_E_ARG, "fit: epochs %d (1..1024), batch size %d", epochs, bs);
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return cr_fail(CREST_E_ARG, "fit: validation_split %g is not in [0, 1)",
                       o->validation_split);
    int rc = cr_model_build_train(m);
    if (!rc)
        rc = check_data(m, train, "fit");
    if (!rc && o->validation_data)
        rc = check_data(m, o->validation_data, "fit: validation data");
    if (rc)
        return rc;
    if (o->class_weight && m->copts.loss != CREST_SPARSE_CCE && !train->labels)
        return cr_fail(CREST_E_ARG, "fit: class weights need integer labels");
    cr_pool *pool;
    if ((rc = cr_model_pool(m, &pool)) || (rc = alloc_grads(m)))
        return rc;

    /* Keras: the validation split is the last fraction, taken before shuffling */
    size_t n = train->n, n_val = 0;
    if (o->validation_split > 0) {
        n_val = (size_t)((double)n * o->validation_split);
        n -= n_val;
    }
    if (n == 0)
        return cr_fail(CREST_E_ARG, "fit: no training samples");
    bool has_val = n_val > 0 || o->validation_data;

    size_t *idx = cr_malloc(n * sizeof *idx);
    float *best = NULL;
    size_t n_params = crest_model_param_count(m, false);
    bool early = o->early_stopping_patience > 0;
    if (early && !o->no_restore_best)
        best = cr_malloc((n_params ? n_params : 1) * sizeof *best);
    if (!idx || (early && !o->no_restore_best && !best)) {
        rc = cr_fail(CREST_E_NOMEM, "fit: out of memory");
        goto out;
    }
    cr_rng shuffle, drop;
    cr_rng_seed(&shuffle, o->seed);
    cr_rng_seed(&drop, o->seed ^ 0x5851f42d4c957f2dULL);
    cr_ctx ctx = { .pool = pool, .rng = &drop, .training = true };
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    double best_loss = INFINITY;
    int wait = 0, best_epoch = -1;
    int64_t steps = (int64_t)((n + (size_t)bs - 1) / (size_t)bs);
    if (o->history)
        memset(o->history, 0, sizeof *o->history);

    for (int ep = 0; ep < epochs; ep++) {
        progress p = { .verbose = o->verbose, .tty = isatty(2), .t0 = now_s(), .steps = steps };
        if (o->verbose)
            fprintf(stderr, "Epoch %d/%d\n", ep + 1, epochs);
        if (!o->no_shuffle)
            for (size_t i = n - 1; i > 0; i--) {
                size_t j = (size_t)cr_rng_below(&shuffle, i + 1), t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
        double loss_sum = 0, hits = 0, topk = 0;
        size_t seen = 0;
        for (int64_t s = 0; s < steps; s++) {
            size_t start = (size_t)s * (size_t)bs;
            int64_t b = (int64_t)(n - start < (size_t)bs ? n - start : (size_t)bs);
            if ((rc = cr_graph_plan(m->g_train, b)))
                goto out;
            cr_graph *g = m->g_train;
            if ((rc = load_batch(m, train, idx, start, b, g, m->label_in, m->sw_in,
                                 o->class_weight)))
                goto out;
            cr_graph_forward(g, &ctx);
            float l = m->loss->val[0];
            if (!isfinite(l)) {
                rc = cr_fail(CREST_E_STATE,
                             "fit: loss became %g at epoch %d step %lld (learning rate too "
                             "high?)", l, ep + 1, (long long)s + 1);
                goto out;
            }
            loss_sum += (double)l * (double)b;
            seen += (size_t)b;
            count_hits(m, train, idx, start, b, m->out_train->val, &hits, &topk);
            for (int i = 0; i < m->n_weights; i++)
                memset(m->weights[i]->grad, 0, (size_t)m->weights[i]->size * sizeof(float));
            cr_graph_backward(g, m->loss, &ctx);
            if ((rc = cr_optimizer_step(m->opt, m->weights, m->n_weights, pool)))
                goto out;
            progress_line(&p, s + 1, loss_sum / (double)seen, hits / (double)seen, true, NULL,
                          false);
        }
        double ep_loss = loss_sum / (double)seen, ep_acc = hits / (double)seen, val[2] = { 0 };
        if (has_val) {
            crest_metrics vm;
            const crest_dataset *vd = o->validation_data ? o->validation_data : train;
            rc = eval_range(m, vd, o->validation_data ? 0 : n,
                            o->validation_data ? vd->n : n_val, bs, &vm, NULL);
            if (rc)
                goto out;
            val[0] = vm.loss;
            val[1] = vm.accuracy;
        }
        progress_line(&p, steps, ep_loss, ep_acc, true, has_val ? val : NULL, true);
        if (o->history && ep < 1024) {
            o->history->epochs = ep + 1;
            o->history->loss[ep] = ep_loss;
            o->history->accuracy[ep] = ep_acc;
            o->history->val_loss[ep] = val[0];
            o->history->val_accuracy[ep] = val[1];
        }
        if (early) {
            double mon = has_val ? val[0] : ep_loss;
            if (mon < best_loss - o->early_stopping_min_delta) {
                best_loss = mon;
                best_epoch = ep;
                wait = 0;
                if (best) {
                    size_t k = 0;
                    for (int i = 0; i < m->n_weights; i++) {
                        memcpy(best + k, m->weights[i]->val,
                               (size_t)m->weights[i]->size * sizeof(float));
                        k += (size_t)m->weights[i]->size;
                    }
                }
            } else if (++wait >= o->early_stopping_patience) {
                if (o->verbose)
                    fprintf(stderr, "Early stopping after epoch %d (best: %d)\n", ep + 1,
                            best_epoch + 1);
                break;
            }
        }
    }
    if (best && best_epoch >= 0) {
        size_t k = 0;
        for (int i = 0; i < m->n_weights; i++) {
            memcpy(m->weights[i]->val, best + k, (size_t)m->weights[i]->size * sizeof(float));
            k += (size_t)m->weights[i]->size;
        }
    }
    if (o->history)
        o->history->best_epoch = best_epoch;
out:
    cr_free(idx);
    cr_free(best);
    return rc;
}

/* ---- evaluate / predict ------------------------------------------------ */

/* Samples per pass: bs if given, else cache-sized for g (at most 64). */
static int64_t pass_size(cr_graph *g, int64_t bs)
{
    return bs > 0 ? bs : cr_auto_batch(g);
}

/* Metrics over rows [start, start + n) of d; probs [n, K] written if not NULL.
 * bs 0: cache-sized passes. The loss is the mean over samples. */
static int eval_range(crest_model *m, const crest_dataset *d, size_t start, size_t n, int bs,
                      crest_metrics *out, float *probs)
{
    cr_pool *pool;
    int rc = cr_model_build_eval(m);
    if (!rc)
        rc = cr_model_pool(m, &pool);
    if (rc)
        return rc;
    int64_t P = pass_size(m->g_eval, bs);
    if (P < 1)
        return cr_graph_status(m->g_eval) ? cr_graph_status(m->g_eval)
                                          : cr_fail(CREST_E_NOMEM, "evaluate: planning failed");
    cr_ctx ctx = { .pool = pool, .training = false };
    double loss = 0, hits = 0, topk = 0;
    for (size_t s = 0; s < n; s += (size_t)P) {
        int64_t b = (int64_t)(n - s < (size_t)P ? n - s : (size_t)P);
        if ((rc = cr_graph_plan(m->g_eval, b)) ||
            (rc = load_batch(m, d, NULL, start + s, b, m->g_eval, m->label_eval, m->sw_eval,
                             NULL)))
            return rc;
        cr_graph_forward(m->g_eval, &ctx);
        loss += (double)m->loss_eval->val[0] * (double)b;
        count_hits(m, d, NULL, start + s, b, m->out_eval->val, &hits, &topk);
        if (probs)
            memcpy(probs + s * (size_t)m->out_size, m->out_eval->val,
                   (size_t)(b * m->out_size) * sizeof(float));
    }
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
    return eval_range(m, d, 0, d->n, batch_size, out, probs);
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
        rc = cr_model_pool(m, &pool);
    if (rc)
        return rc;
    cr_ctx ctx = { .pool = pool, .training = false };
    cr_graph *g = m->g_infer;
    if (k < 0 || k >= g->n_outputs)
        return cr_fail(CREST_E_ARG, "predict: model '%s' has no output %d", m->name, k);
    int64_t per = cr_dims_count(&m->in_shape), bs = pass_size(g, 0);
    if (bs < 1)
        return cr_graph_status(g) ? cr_graph_status(g)
                                  : cr_fail(CREST_E_NOMEM, "predict: planning failed");
    for (size_t s = 0; s < n; s += (size_t)bs) {
        int64_t b = (int64_t)(n - s < (size_t)bs ? n - s : (size_t)bs);
        if ((rc = cr_graph_plan(g, b)))
            return rc;
        if (d && (rc = feed_rows(g, d, NULL, s, b)))
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

int crest_predict_dataset(crest_model *m, const crest_dataset *d, float *probs)
{
    if (!m || !d || (!probs && d->n))
        return cr_fail(CREST_E_ARG, "predict: model, data set or output is NULL");
    int rc = cr_model_build(m);
    if (!rc && d->stride != cr_dims_count(&m->in_shape)) {
        char a[96], b[96];
        rc = cr_fail(CREST_E_SHAPE, "predict: samples are %s, model '%s' takes %s",
                     cr_dims_str(&d->shape, a, sizeof a), m->name,
                     cr_dims_str(&m->in_shape, b, sizeof b));
    }
    return rc ? rc : predict_rows(m, 0, NULL, d, d->n, probs);
}
