/* profile.c - crest_model_profile: time per layer of the inference graph,
 * run in the passes crest_infer uses, so `crest bench --profile` shows
 * where a forward pass spends its time. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KIND_LEN 32

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static bool is_op(const cr_node *n, const cr_op_def *def)
{
    return n->kind == CR_NODE_OP && n->op == def;
}

/* Multiply-adds count two; an op's own count (cr_op_def.flops), else
 * convolutions and matmul, others 0. */
static double node_flops(const cr_node *n)
{
    if (n->kind == CR_NODE_OP && n->op->flops)
        return n->op->flops(n);
    double out = (double)cr_dims_count(&n->shape);
    const cr_dims *k = n->n_in > 1 ? &n->in[1]->shape : NULL;
    if (is_op(n, &cr_op_conv2d_def))
        return 2.0 * out * (double)(k->d[0] * k->d[1] * k->d[2]);
    if (is_op(n, &cr_op_depthwise2d_def))
        return 2.0 * out * (double)(k->d[0] * k->d[1]);
    if (n->kind == CR_NODE_OP && !strcmp(n->op->name, "matmul")) {
        const cr_dims *a = &n->in[0]->shape;
        return 2.0 * out * (double)a->d[a->ndim - 1];
    }
    return 0;
}

static void node_kind(const cr_node *n, char *buf)
{
    const cr_dims *k = n->n_in > 1 ? &n->in[1]->shape : NULL;
    if (is_op(n, &cr_op_conv2d_def) || is_op(n, &cr_op_depthwise2d_def))
        snprintf(buf, KIND_LEN, "%s %lldx%lld", n->op == &cr_op_conv2d_def ? "conv2d" : "depthwise",
                 (long long)k->d[0], (long long)k->d[1]);
    else
        snprintf(buf, KIND_LEN, "%s", n->op->name);
}

/* Entry of every op node up to `last` (-1 for others): consecutive ops of
 * one layer share one. Fills kinds and flops (for the planned batch) of
 * res. Returns the number of entries. */
static int map_entries(const cr_graph *g, int last, int *ent, crest_profile_entry *res,
                       char *kinds)
{
    int ne = 0;
    const char *prev = NULL;
    for (int i = 0; i <= last; i++) {
        const cr_node *n = g->nodes[i];
        ent[i] = -1;
        if (n->kind != CR_NODE_OP)
            continue;
        const char *name = n->layer ? n->layer : n->op->name;
        if (!ne || !prev || strcmp(prev, name)) {
            res[ne] = (crest_profile_entry){ .layer = name, .kind = kinds + ne * KIND_LEN };
            node_kind(n, kinds + ne * KIND_LEN);
            ne++;
        } else if (node_flops(n) > 0 && res[ne - 1].flops == 0) {
            node_kind(n, kinds + (ne - 1) * KIND_LEN);    /* a Dense: matmul, not bias_add */
        }
        prev = name;
        ent[i] = ne - 1;
        res[ne - 1].flops += node_flops(n);
    }
    return ne;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One run over the n samples in passes of bs, adding each op's ms to t[entry]. */
static int timed_run(cr_graph *g, const cr_node *y, const int *ent, const float *x, size_t n,
                     int64_t bs, const cr_ctx *ctx, double *t)
{
    int64_t per_in = cr_dims_count(&g->model->feed);
    for (size_t s = 0; s < n; s += (size_t)bs) {
        int64_t b = (int64_t)(n - s < (size_t)bs ? n - s : (size_t)bs);
        int rc = cr_graph_plan(g, b);
        if (rc)
            return rc;
        cr_graph_feed(g, x, per_in, NULL, s, b);
        for (int i = 0; i <= y->id; i++) {
            if (ent[i] < 0)
                continue;
            double t0 = now_ms();
            g->nodes[i]->op->forward(g->nodes[i], ctx);
            t[ent[i]] += now_ms() - t0;
        }
    }
    return CREST_OK;
}

int crest_model_profile(crest_model *m, const float *x, size_t n, int iters,
                        crest_profile_entry **out, int *n_out)
{
    if (!m || !x || !out || !n_out || n == 0 || iters < 1)
        return cr_fail(CREST_E_ARG, "profile: NULL argument, no samples or no iterations");
    *out = NULL;
    *n_out = 0;
    cr_pool *pool;
    int rc = cr_model_build(m);
    if (!rc)
        rc = cr_model_ready(m);
    if (!rc)
        rc = cr_model_pool(m, &pool);
    if (rc)
        return rc;
    cr_graph *g = m->infer.g;
    const cr_node *y = m->infer.out;
    int64_t bs = cr_auto_batch(g);
    if (!bs)
        return cr_graph_status(g) ? cr_graph_status(g) : cr_fail(CREST_E_NOMEM, "profile: planning failed");
    int *ent = cr_malloc((size_t)g->n * sizeof *ent);
    crest_profile_entry *res = cr_calloc((size_t)g->n, sizeof *res + KIND_LEN);
    double *t = cr_calloc((size_t)iters * (size_t)g->n, sizeof *t);
    if (!ent || !res || !t) {
        rc = cr_fail(CREST_E_NOMEM, "profile: out of memory");
        goto out;
    }
    /* the kind strings live after the entries, in the same block; the
     * graph is planned for one sample here (cr_auto_batch) */
    int ne = map_entries(g, y->id, ent, res, (char *)(res + g->n));
    double per = 1.0 / (double)g->batch;
    cr_ctx ctx = { .pool = pool, .training = false };
    for (int it = 0; it < iters && !rc; it++)
        rc = timed_run(g, y, ent, x, n, bs, &ctx, t + (size_t)it * ne);
    for (int e = 0; e < ne && !rc; e++) {
        double *col = cr_malloc((size_t)iters * sizeof *col);
        if (!col) {
            rc = cr_fail(CREST_E_NOMEM, "profile: out of memory");
            break;
        }
        for (int it = 0; it < iters; it++)
            col[it] = t[(size_t)it * ne + e];
        qsort(col, (size_t)iters, sizeof *col, cmp_double);
        res[e].ms = iters % 2 ? col[iters / 2] : (col[iters / 2 - 1] + col[iters / 2]) / 2;
        res[e].flops *= per * (double)n;
        cr_free(col);
    }
    if (!rc) {
        *out = res;
        *n_out = ne;
        res = NULL;
    }
out:
    cr_free(ent);
    cr_free(res);
    cr_free(t);
    return rc;
}
