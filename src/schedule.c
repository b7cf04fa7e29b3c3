/* schedule.c - learning-rate schedules (Keras' CosineDecay with warmup,
 * ExponentialDecay, PiecewiseConstantDecay), ReduceLROnPlateau's epoch
 * rule, the metrics callbacks monitor, and "balanced" class weights. fit
 * (train.c) asks for the rate of every update here. */
#include "internal.h"

#include <math.h>

static const char *const monitor_names[] = { "auto", "val_loss", "loss", "val_accuracy",
                                             "accuracy" };

const char *crest_monitor_name(crest_monitor m)
{
    return m >= CREST_MONITOR_AUTO && m <= CREST_MONITOR_ACCURACY ? monitor_names[m] : "?";
}

int crest_monitor_parse(const char *s, crest_monitor *out)
{
    for (int i = 0; s && i <= CREST_MONITOR_ACCURACY; i++)
        if (!strcmp(s, monitor_names[i])) {
            *out = (crest_monitor)i;
            return CREST_OK;
        }
    return cr_fail(CREST_E_ARG, "monitor '%s' is not auto, val_loss, loss, val_accuracy or "
                   "accuracy", s ? s : "(null)");
}

crest_monitor cr_monitor_resolve(crest_monitor m, bool has_val)
{
    if (m == CREST_MONITOR_AUTO)
        return has_val ? CREST_MONITOR_VAL_LOSS : CREST_MONITOR_LOSS;
    return m;
}

bool cr_monitor_maximize(crest_monitor m)
{
    return m == CREST_MONITOR_VAL_ACCURACY || m == CREST_MONITOR_ACCURACY;
}

double cr_monitor_value(crest_monitor m, const crest_history *h, int epoch)
{
    switch (m) {
    case CREST_MONITOR_VAL_LOSS:
        return h->val_loss[epoch];
    case CREST_MONITOR_VAL_ACCURACY:
        return h->val_accuracy[epoch];
    case CREST_MONITOR_ACCURACY:
        return h->accuracy[epoch];
    default:
        return h->loss[epoch];
    }
}

/* A duration in steps: the steps if given, else epochs times steps per epoch. */
static int64_t steps_of(int64_t steps, float epochs, int64_t per_epoch)
{
    return steps > 0 ? steps : (int64_t)llround((double)epochs * (double)per_epoch);
}

int cr_schedule_check(const crest_lr_schedule *s, bool has_val)
{
    if (!s)
        return CREST_OK;
    switch (s->kind) {
    case CREST_LR_CONSTANT:
        return CREST_OK;
    case CREST_LR_COSINE:
        if (s->decay_steps < 0 || s->decay_epochs < 0 || s->warmup_steps < 0 ||
            !(s->warmup_epochs >= 0) || !(s->alpha >= 0 && s->alpha <= 1))
            return cr_fail(CREST_E_ARG, "lr schedule cosine: decay %lld steps / %g epochs, "
                           "warmup %lld steps / %g epochs, alpha %g (in [0, 1])",
                           (long long)s->decay_steps, s->decay_epochs,
                           (long long)s->warmup_steps, s->warmup_epochs, s->alpha);
        return CREST_OK;
    case CREST_LR_EXPONENTIAL:
        if (!(s->decay_rate > 0) || !isfinite(s->decay_rate) ||
            (s->decay_steps <= 0 && !(s->decay_epochs > 0)))
            return cr_fail(CREST_E_ARG, "lr schedule exponential: decay_rate %g must be > 0 "
                           "and the decay period (decay_steps or decay_epochs) set",
                           s->decay_rate);
        return CREST_OK;
    case CREST_LR_PIECEWISE:
        if (s->n_boundaries < 1 || s->n_boundaries > 1000 || !s->values ||
            (!s->boundaries && !s->boundary_epochs))
            return cr_fail(CREST_E_ARG, "lr schedule piecewise: %d boundaries (1..1000) and "
                           "their values needed", s->n_boundaries);
        for (int i = 0; i <= s->n_boundaries; i++)
            if (!(s->values[i] > 0 && s->values[i] < 1e3))
                return cr_fail(CREST_E_ARG, "lr schedule piecewise: value %d is %g", i,
                               s->values[i]);
        for (int i = 1; i < s->n_boundaries; i++)
            if (s->boundaries ? s->boundaries[i] <= s->boundaries[i - 1]
                              : !(s->boundary_epochs[i] > s->boundary_epochs[i - 1]))
                return cr_fail(CREST_E_ARG, "lr schedule piecewise: boundaries must increase");
        return CREST_OK;
    case CREST_LR_PLATEAU: {
        crest_monitor m = cr_monitor_resolve(s->monitor, has_val);
        if (!(s->factor >= 0 && s->factor < 1) || s->patience < 0 || s->cooldown < 0 ||
            !(s->min_lr >= 0) || !isfinite(s->min_delta) || m < CREST_MONITOR_AUTO ||
            m > CREST_MONITOR_ACCURACY)
            return cr_fail(CREST_E_ARG, "lr schedule plateau: factor %g (in (0, 1)), patience "
                           "%d, cooldown %d, min_lr %g", s->factor, s->patience, s->cooldown,
                           s->min_lr);
        if (!has_val && (m == CREST_MONITOR_VAL_LOSS || m == CREST_MONITOR_VAL_ACCURACY))
            return cr_fail(CREST_E_ARG, "lr schedule plateau: monitor %s needs validation data",
                           crest_monitor_name(m));
        return CREST_OK;
    }
    }
    return cr_fail(CREST_E_ARG, "lr schedule: unknown kind %d", (int)s->kind);
}

double crest_lr_at(const crest_lr_schedule *s, double lr, int64_t step, int64_t per_epoch,
                   int64_t total)
{
    if (!s || s->kind == CREST_LR_CONSTANT || s->kind == CREST_LR_PLATEAU)
        return lr;
    if (cr_schedule_check(s, true) || step < 0 || per_epoch < 1)
        return -1;
    switch (s->kind) {
    case CREST_LR_COSINE: {
        int64_t w = steps_of(s->warmup_steps, s->warmup_epochs, per_epoch);
        if (step < w)
            return lr * (double)step / (double)w;
        int64_t d = steps_of(s->decay_steps, s->decay_epochs, per_epoch);
        if (d <= 0)
            d = total - w;
        if (d <= 0)
            return lr;
        double t = (double)(step - w < d ? step - w : d) / (double)d;
        double cosine = 0.5 * (1 + cos(3.14159265358979323846 * t));
        return lr * ((1 - s->alpha) * cosine + s->alpha);
    }
    case CREST_LR_EXPONENTIAL: {
        double p = (double)step / (double)steps_of(s->decay_steps, s->decay_epochs, per_epoch);
        return lr * pow(s->decay_rate, s->staircase ? floor(p) : p);
    }
    case CREST_LR_PIECEWISE: {
        int i = 0;
        while (i < s->n_boundaries &&
               step > (s->boundaries ? s->boundaries[i]
                                     : steps_of(0, s->boundary_epochs[i], per_epoch)))
            i++;
        return s->values[i];
    }
    default:
        return lr;
    }
}

void cr_plateau_init(cr_plateau *p, double lr, bool maximize)
{
    *p = (cr_plateau){ .best = maximize ? -INFINITY : INFINITY, .lr = (float)lr };
}

bool cr_plateau_update(cr_plateau *p, const crest_lr_schedule *s, bool maximize, double current)
{
    double min_delta = s->min_delta < 0 ? 0 : s->min_delta > 0 ? s->min_delta : 1e-4;
    double factor = s->factor > 0 ? s->factor : 0.1;
    int patience = s->patience > 0 ? s->patience : 10;
    if (p->cooldown > 0) {      /* in cooldown: counts down, never waits */
        p->cooldown--;
        p->wait = 0;
    }
    bool better = maximize ? current > p->best + min_delta : current < p->best - min_delta;
    if (better) {
        p->best = current;
        p->wait = 0;
        return false;
    }
    if (p->cooldown > 0 || ++p->wait < patience || !(p->lr > s->min_lr))
        return false;   /* at min_lr: no cut, and the wait goes on (as Keras) */
    double next = (double)p->lr * factor;
    p->lr = (float)(next > s->min_lr ? next : s->min_lr);
    p->cooldown = s->cooldown;
    p->wait = 0;
    return true;
}

void cr_schedule_hash(cr_hasher *h, const crest_lr_schedule *s)
{
    if (!s || s->kind == CREST_LR_CONSTANT) {
        cr_hash_str(h, "lr constant");
        return;
    }
    int32_t i[6] = { (int32_t)s->kind, s->staircase, s->n_boundaries, (int32_t)s->monitor,
                     s->patience, s->cooldown };
    int64_t l[2] = { s->decay_steps, s->warmup_steps };
    float f[7] = { s->decay_epochs, s->warmup_epochs, s->alpha, s->decay_rate, s->factor,
                   s->min_delta, s->min_lr };
    cr_hash_bytes(h, i, sizeof i);
    cr_hash_bytes(h, l, sizeof l);
    cr_hash_bytes(h, f, sizeof f);
    if (s->kind == CREST_LR_PIECEWISE) {
        if (s->boundaries)
            cr_hash_bytes(h, s->boundaries, (size_t)s->n_boundaries * sizeof *s->boundaries);
        else
            cr_hash_bytes(h, s->boundary_epochs, (size_t)s->n_boundaries * sizeof(float));
        cr_hash_bytes(h, s->values, (size_t)(s->n_boundaries + 1) * sizeof *s->values);
    }
}

int crest_class_weight_balanced(const crest_dataset *d, float *w)
{
    if (!d || !w || !d->labels || d->n_classes < 1)
        return cr_fail(CREST_E_ARG, "class_weight_balanced: a data set with integer labels "
                       "and an output array are needed");
    int K = d->n_classes;
    size_t *count = cr_calloc((size_t)K, sizeof *count);
    if (!count)
        return cr_fail(CREST_E_NOMEM, "class_weight_balanced: out of memory");
    for (size_t i = 0; i < d->n; i++) {
        if (d->labels[i] < 0 || d->labels[i] >= K) {
            cr_free(count);
            return cr_fail(CREST_E_ARG, "class_weight_balanced: label %d of sample %zu is out "
                           "of range for %d classes", (int)d->labels[i], i, K);
        }
        count[d->labels[i]]++;
    }
    for (int k = 0; k < K; k++)
        w[k] = count[k] ? (float)((double)d->n / ((double)K * (double)count[k])) : 0.0f;
    cr_free(count);
    return CREST_OK;
}
