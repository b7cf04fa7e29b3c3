/* optim.c - SGD (momentum, Nesterov), Adam, RMSprop with Keras' update rules.
 * A step is one pass over the model's parameter block (src/params.c):
 * over each run of trainable weights that lie back to back, values,
 * gradients and state (velocity, moments: the block's slots, allocated on
 * the first step) updated elementwise; frozen weights are the runs
 * skipped, and their state stays zero. */
#include "internal.h"

#include <math.h>

typedef enum { OPT_SGD, OPT_ADAM, OPT_RMSPROP } opt_kind;

struct crest_optimizer {
    opt_kind kind;
    float lr, momentum, beta1, beta2, eps, rho;
    bool nesterov;
    int64_t t;                  /* steps taken */
    float rate;                 /* with has_rate: a schedule's rate for the next steps */
    bool has_rate;
};

/* A new optimizer holding proto's settings, if its learning rate is in range. */
static crest_optimizer *opt_new(crest_optimizer proto)
{
    if (!(proto.lr > 0 && proto.lr < 1e3)) {
        cr_fail(CREST_E_ARG, "learning rate %g is not in (0, 1000)", proto.lr);
        return NULL;
    }
    crest_optimizer *o = cr_calloc(1, sizeof *o);
    if (!o) {
        cr_fail(CREST_E_NOMEM, "out of memory creating an optimizer");
        return NULL;
    }
    *o = proto;
    return o;
}

static bool in_unit(float v) { return v >= 0 && v < 1; }

/* Adam's and RMSprop's check: two decay rates (named a and b) in [0, 1) and
 * a positive epsilon. */
static bool rates_ok(const char *opt, const char *a, float va, const char *b, float vb, float eps)
{
    if (in_unit(va) && in_unit(vb) && eps > 0)
        return true;
    cr_fail(CREST_E_ARG, "%s: %s %g, %s %g must be in [0, 1), epsilon %g > 0", opt, a, va, b, vb,
            eps);
    return false;
}

crest_optimizer *crest_sgd(float lr, float momentum, bool nesterov)
{
    if (!in_unit(momentum)) {
        cr_fail(CREST_E_ARG, "SGD momentum %g is not in [0, 1)", momentum);
        return NULL;
    }
    return opt_new((crest_optimizer){ .kind = OPT_SGD, .lr = lr, .momentum = momentum,
                                      .nesterov = nesterov });
}

crest_optimizer *crest_adam_ex(float lr, float beta1, float beta2, float eps)
{
    if (!rates_ok("Adam", "beta1", beta1, "beta2", beta2, eps))
        return NULL;
    return opt_new((crest_optimizer){ .kind = OPT_ADAM, .lr = lr, .beta1 = beta1,
                                      .beta2 = beta2, .eps = eps });
}

crest_optimizer *crest_adam(float lr) { return crest_adam_ex(lr, 0.9f, 0.999f, 1e-7f); }

crest_optimizer *crest_rmsprop_ex(float lr, float rho, float momentum, float eps)
{
    if (!rates_ok("RMSprop", "rho", rho, "momentum", momentum, eps))
        return NULL;
    return opt_new((crest_optimizer){ .kind = OPT_RMSPROP, .lr = lr, .rho = rho,
                                      .momentum = momentum, .eps = eps });
}

crest_optimizer *crest_rmsprop(float lr) { return crest_rmsprop_ex(lr, 0.9f, 0.0f, 1e-7f); }

void crest_optimizer_free(crest_optimizer *o) { cr_free(o); }

void cr_optimizer_set_rate(crest_optimizer *o, double lr)
{
    o->has_rate = lr >= 0;
    o->rate = (float)lr;
}

double cr_optimizer_lr(const crest_optimizer *o) { return o->lr; }

void cr_optimizer_reset(crest_optimizer *o)
{
    if (o)
        o->t = 0;
}

/* The update loops: elementwise, so any split over threads gives the same
 * bits; vectorized per target. */
CR_CLONES static void adam_span(float *restrict x, const float *restrict g, float *restrict m,
                                float *restrict v, int64_t n, float b1, float b2, float lr_t,
                                float eps)
{
    for (int64_t j = 0; j < n; j++) {
        float mj = b1 * m[j] + (1 - b1) * g[j];
        float vj = b2 * v[j] + (1 - b2) * g[j] * g[j];
        m[j] = mj;
        v[j] = vj;
        x[j] -= lr_t * mj / (sqrtf(vj) + eps);
    }
}

static void sgd_span(const crest_optimizer *o, float lr, float *restrict x,
                     const float *restrict g, float *restrict vel, int64_t n)
{
    if (o->momentum == 0) {
        for (int64_t j = 0; j < n; j++)
            x[j] -= lr * g[j];
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        float v = o->momentum * vel[j] - lr * g[j];
        vel[j] = v;
        x[j] += o->nesterov ? o->momentum * v - lr * g[j] : v;
    }
}

static void rmsprop_span(const crest_optimizer *o, float lr, float *restrict x,
                         const float *restrict g, float *restrict ms, float *restrict mom,
                         int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        float a = o->rho * ms[j] + (1 - o->rho) * g[j] * g[j];
        ms[j] = a;
        float step = lr * g[j] / (sqrtf(a) + o->eps);
        if (o->momentum > 0) {
            mom[j] = o->momentum * mom[j] + step;
            step = mom[j];
        }
        x[j] -= step;
    }
}

typedef struct span_job {
    const crest_optimizer *o;
    const cr_params *p;
    int64_t lo, n;                /* the run [lo, lo + n) of the block */
    float lr_t;                   /* the step's rate (Adam's bias-corrected one) */
} span_job;

static void span_task(void *ctx, int ith, int nth)
{
    span_job *j = ctx;
    const cr_params *p = j->p;
    int64_t a, b;
    cr_split(j->n, ith, nth, &a, &b);
    int64_t o = j->lo + a, n = b - a;
    float *s0 = p->slot[0] ? p->slot[0] + o : NULL, *s1 = p->slot[1] ? p->slot[1] + o : NULL;
    switch (j->o->kind) {
    case OPT_SGD: sgd_span(j->o, j->lr_t, p->val + o, p->grad + o, s0, n); break;
    case OPT_ADAM:
        adam_span(p->val + o, p->grad + o, s0, s1, n, j->o->beta1, j->o->beta2, j->lr_t,
                  j->o->eps);
        break;
    case OPT_RMSPROP: rmsprop_span(j->o, j->lr_t, p->val + o, p->grad + o, s0, s1, n); break;
    }
}

/* The slots o's rule keeps. */
static int slots_of(const crest_optimizer *o)
{
    switch (o->kind) {
    case OPT_SGD: return o->momentum > 0;
    case OPT_ADAM: return 2;
    default: return o->momentum > 0 ? 2 : 1;
    }
}

int cr_optimizer_step(crest_optimizer *o, crest_model *m, cr_pool *pool)
{
    int rc = cr_params_need(m, -1);
    for (int k = 0; k < slots_of(o) && !rc; k++)
        rc = cr_params_need(m, k);
    if (rc)
        return rc;
    o->t++;
    double t = (double)o->t;
    float lr = o->has_rate ? o->rate : o->lr;   /* the schedule's, else its own */
    /* Keras: lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t); eps added to sqrt(v) */
    float lr_t = o->kind == OPT_ADAM
                     ? (float)(lr * sqrt(1 - pow(o->beta2, t)) / (1 - pow(o->beta1, t)))
                     : lr;
    int64_t off = 0;
    for (int i = 0; i < m->n_weights;) {   /* runs of trainable weights */
        if (!cr_weight_trainable(m->weights[i])) {
            off += m->weights[i++]->size;
            continue;
        }
        int64_t lo = off;
        for (; i < m->n_weights && cr_weight_trainable(m->weights[i]); i++) {
            m->weights[i]->version++;
            off += m->weights[i]->size;
        }
        int64_t n = off - lo;
        cr_pool_run(pool, n >= (1 << 18) ? cr_pool_size(pool) : 1, span_task,
                    &(span_job){ o, &m->params, lo, n, lr_t });
    }
    return CREST_OK;
}

/* ---- state for checkpoints ----------------------------------------------
 * Layout: kind, the hyper-parameters, the step count, then for each weight
 * a mask of the slots it has and their values. */

typedef struct opt_head {
    int32_t kind, nesterov;
    float lr, momentum, beta1, beta2, eps, rho;
    int64_t t;
} opt_head;

static opt_head head_of(const crest_optimizer *o)
{
    opt_head h;
    memset(&h, 0, sizeof h);   /* no stray padding bytes in the file */
    h.kind = (int32_t)o->kind;
    h.nesterov = o->nesterov;
    h.lr = o->lr;
    h.momentum = o->momentum;
    h.beta1 = o->beta1;
    h.beta2 = o->beta2;
    h.eps = o->eps;
    h.rho = o->rho;
    h.t = o->t;
    return h;
}

void cr_optimizer_save(const crest_optimizer *o, const crest_model *m, cr_buf *b)
{
    cr_weight *const *ws = m->weights;
    int n = m->n_weights;
    opt_head h = head_of(o);
    cr_buf_put(b, &h, sizeof h);
    for (int i = 0; i < n; i++) {
        uint8_t mask = (uint8_t)((ws[i]->slot[0] ? 1 : 0) | (ws[i]->slot[1] ? 2 : 0));
        cr_buf_put(b, &mask, 1);
        for (int k = 0; k < 2; k++)
            if (ws[i]->slot[k])
                cr_buf_put(b, ws[i]->slot[k], (size_t)ws[i]->size * sizeof(float));
    }
}

int cr_optimizer_restore(crest_optimizer *o, crest_model *m, cr_buf *b)
{
    cr_weight **ws = m->weights;
    int n = m->n_weights;
    opt_head h, mine = head_of(o);
    int rc = cr_buf_get(b, &h, sizeof h);
    if (rc)
        return rc;
    mine.t = h.t;
    if (memcmp(&h, &mine, sizeof h) || h.t < 0)
        return cr_fail(CREST_E_STATE, "the optimizer (kind or settings) is not the one the "
                       "checkpoint was made with");
    /* first check and allocate everything, then copy: a failure leaves
     * only zeroed slots behind, which are a fresh optimizer's state */
    size_t start = b->pos;
    for (int i = 0; i < n && !rc; i++) {
        uint8_t mask;
        if ((rc = cr_buf_get(b, &mask, 1)))
            break;
        if (mask > 3)
            return cr_fail(CREST_E_FORMAT, "optimizer state of '%s': bad slot mask %u",
                           ws[i]->name, mask);
        for (int k = 0; k < 2 && !rc; k++)
            if (mask & (1 << k) && !(rc = cr_params_need(m, k)))
                rc = cr_buf_get(b, NULL, (size_t)ws[i]->size * sizeof(float));
    }
    if (rc)
        return rc;
    b->pos = start;
    for (int i = 0; i < n; i++) {
        uint8_t mask;
        cr_buf_get(b, &mask, 1);
        for (int k = 0; k < 2; k++) {
            if (mask & (1 << k))
                cr_buf_get(b, ws[i]->slot[k], (size_t)ws[i]->size * sizeof(float));
            else if (ws[i]->slot[k])   /* the run had none yet: as fresh */
                memset(ws[i]->slot[k], 0, (size_t)ws[i]->size * sizeof(float));
        }
    }
    o->t = h.t;
    return CREST_OK;
}
