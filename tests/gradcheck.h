/* gradcheck.h - the finite-difference gradient check the op tests share
 * (static, header-only; include after cmocka.h and internal.h).
 *
 * Takes L = sum(out * R) for a fixed random R, gets analytic gradients from
 * backward, and compares them with central differences of L (accumulated in
 * double) at each element of every trainable variable:
 *     |a - n| / max(1, |a|, |n|)
 * with a step of 1e-3 (scaled by |x| where |x| > 1). */
#ifndef CREST_GRADCHECK_H
#define CREST_GRADCHECK_H

#include <math.h>

static double gc_loss(cr_graph *g, const cr_node *out, const float *r, const cr_ctx *c)
{
    cr_rng_seed(c->rng, 99);     /* the same dropout / noise draws on every pass */
    cr_graph_forward(g, c);
    double s = 0;
    int64_t n = cr_dims_count(&out->shape);
    for (int64_t i = 0; i < n; i++)
        s += (double)out->val[i] * r[i];
    return s;
}

/* The worst relative error over every trainable variable of g (built, out
 * its output; R drawn from rng); elements over report_tol are printed,
 * naming what (report_tol <= 0: none). -1 if planning failed (the message
 * is printed). g stays the caller's. */
static double gc_worst(cr_graph *g, cr_node *out, cr_rng *rng, const char *what,
                       double report_tol)
{
    cr_rng drop;
    cr_node *rn = cr_example_var(g, rng, out->shape, -1, 1, 0);
    rn->w->trainable = false;
    rn->needs_grad = false;
    cr_node *l = crest_op_sum(g, crest_op_mul(g, out, rn), CR_AXIS_ALL, false);
    for (int i = 0; i < g->n_own_w; i++)
        g->own_w[i]->grad = cr_calloc((size_t)g->own_w[i]->size, sizeof(float));
    g->planned = false;
    if (!l || cr_graph_plan(g, 1)) {
        print_error("%s: plan failed: %s\n", what, crest_last_error());
        return -1;
    }
    cr_ctx c = { .rng = &drop, .training = true };
    gc_loss(g, out, rn->val, &c);
    cr_graph_backward(g, l, &c);
    double worst = 0;
    for (int i = 0; i < g->n_own_w; i++) {
        cr_weight *w = g->own_w[i];
        for (int64_t k = 0; w->trainable && k < w->size; k++) {
            float x0 = w->val[k], h = 1e-3f * (fabsf(x0) > 1 ? fabsf(x0) : 1.0f);
            w->val[k] = x0 + h;
            double lp = gc_loss(g, out, rn->val, &c);
            w->val[k] = x0 - h;
            double lm = gc_loss(g, out, rn->val, &c);
            w->val[k] = x0;
            double num = (lp - lm) / (2.0 * (double)h), ana = w->grad[k];
            double err = fabs(num - ana) / fmax(1.0, fmax(fabs(num), fabs(ana)));
            if (report_tol > 0 && err > report_tol)
                print_message("  %s: variable %d [%lld]: analytic %.6g numeric %.6g\n", what, i,
                              (long long)k, ana, num);
            worst = fmax(worst, err);
        }
    }
    return worst;
}

#endif
