/* test_custom.c - custom models (vtable), Lambda layers and expression
 * layers: gradients by finite differences, equality with Dense, training
 * flags, save / load round trips, registries and error messages. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "oomutil.h"

#define NS 16        /* samples in the small data sets */
#define NIN 5        /* features per sample */
#define NCLS 3

static crest_dataset *small_data(uint64_t seed)
{
    cr_rng r;
    cr_rng_seed(&r, seed);
    float x[NS * NIN];
    int32_t y[NS];
    for (int i = 0; i < NS; i++) {
        y[i] = i % NCLS;
        for (int k = 0; k < NIN; k++)
            x[i * NIN + k] = (float)cr_rng_normal(&r) + (k == y[i] ? 1.5f : 0.0f);
    }
    crest_dataset *d = NULL;
    assert_int_equal(crest_dataset_new(&d, NS, crest_shape(1, NIN), x, y, NCLS), CREST_OK);
    return d;
}

/* ---- a custom model: Dense(6, tanh), times its own variable s, optional
 * Dropout, then Dense(3, softmax) ------------------------------------------ */

typedef struct small_net {
    crest_layer *hidden, *drop, *head;
    bool drop_follows_training;   /* false: the dropout is applied with training = false */
    int *destroyed;
} small_net;

static crest_node *sn_call(void *self, crest_graph *g, crest_node *x, bool training)
{
    small_net *s = self;
    x = crest_layer_apply(s->hidden, g, x, training);
    if (!x)
        return NULL;   /* the error sticks in g */
    crest_dims h = crest_node_shape(x);
    crest_node *sv = crest_variable(g, "s", crest_shape(1, (int)h.d[h.ndim - 1]),
                                    CREST_RANDOM_UNIFORM, true);
    x = crest_op_mul(g, x, crest_op_scale(g, sv, 1, 1));   /* x * (1 + s) */
    if (s->drop)
        x = crest_layer_apply(s->drop, g, x, s->drop_follows_training && training);
    return crest_layer_apply(s->head, g, x, training);
}

static void sn_destroy(void *self)
{
    small_net *s = self;
    if (s->destroyed)
        (*s->destroyed)++;
    crest_layer_free(s->hidden);
    crest_layer_free(s->drop);
    crest_layer_free(s->head);
    free(s);
}

static char *sn_config(void *self)
{
    small_net *s = self;
    char *t = malloc(64);
    snprintf(t, 64, "{\"dropout\": %s}", s->drop ? "true" : "false");
    return t;
}

static const crest_model_vtable sn_vt = { .name = "SmallNet", .call = sn_call,
                                          .destroy = sn_destroy, .get_config = sn_config };

static small_net *last_net;   /* the last one made, for tests that poke it */

static int small_net_new(crest_model **out, bool dropout, uint64_t seed)
{
    small_net *s = calloc(1, sizeof *s);
    last_net = s;
    s->hidden = crest_dense(6, CREST_TANH);
    s->head = crest_dense(NCLS, CREST_SOFTMAX);
    if (dropout) {
        s->drop = crest_dropout(0.5f);
        s->drop_follows_training = true;
    }
    int rc = crest_custom_new(out, &sn_vt, s, crest_shape(1, NIN));
    if (!rc)
        crest_model_set_seed(*out, seed);
    return rc;
}

static int sn_factory(crest_model **out, const char *config)
{
    return small_net_new(out, strstr(config, "\"dropout\":true") != NULL, 77);
}

/* ---- a lambda: tanh(x @ W + b) * g with arguments ------------------------ */

typedef struct { int units; float scale; } aff_args;

static crest_node *aff_tanh(crest_graph *g, crest_node *x, const void *args)
{
    const aff_args *a = args;
    crest_dims in = crest_node_shape(x);
    crest_node *w = crest_variable(g, "W", crest_shape(2, (int)in.d[1], a->units),
                                   CREST_RANDOM_NORMAL, true);
    crest_node *b = crest_variable(g, "b", crest_shape(1, a->units), CREST_RANDOM_UNIFORM, true);
    crest_node *s = crest_variable(g, "g", crest_shape(1, a->units), CREST_ONES, true);
    crest_node *y = crest_op_activate(g, crest_op_add(g, crest_op_matmul(g, x, w), b), CREST_TANH);
    return crest_op_scale(g, crest_op_mul(g, y, s), a->scale, 0);
}

/* the seed's example: softmax(x @ W + b), W random normal, b zeros */
static crest_node *aff_softmax(crest_graph *g, crest_node *x, const void *args)
{
    int units = *(const int *)args;
    crest_dims in = crest_node_shape(x);
    crest_node *w = crest_variable(g, "W", crest_shape(2, (int)in.d[1], units),
                                   CREST_RANDOM_NORMAL, true);
    crest_node *b = crest_variable(g, "b", crest_shape(1, units), CREST_ZEROS, true);
    return crest_op_activate(g, crest_op_add(g, crest_op_matmul(g, x, w), b), CREST_SOFTMAX);
}

static crest_model *lambda_model(uint64_t seed)
{
    crest_model *m = NULL;
    if (crest_sequential_new(&m, crest_shape(1, NIN)))
        return NULL;   /* out of memory (test_out_of_memory) */
    crest_model_set_seed(m, seed);
    crest_add(m, crest_lambda("aff_tanh", aff_tanh, &(aff_args){ 6, 0.5f }, sizeof(aff_args)));
    crest_add(m, crest_dense(NCLS, CREST_SOFTMAX));
    return m;
}

static const char *expr_text = "W[_,6]=random_normal g[6]=ones: "
                               "tanh(x @ W + b) * g - 0.5 * mean(x, -1) + -(x @ V) / 4";

static crest_model *expr_model(uint64_t seed)
{
    crest_model *m = NULL;
    if (crest_sequential_new(&m, crest_shape(1, NIN)))
        return NULL;   /* out of memory (test_out_of_memory) */
    crest_model_set_seed(m, seed);
    char text[256];
    /* V is declared through a second expression variable of the same shape */
    snprintf(text, sizeof text, "V[_,6]=glorot_normal %s", expr_text);
    crest_add(m, crest_expr(text));
    crest_add(m, crest_dense(NCLS, CREST_SOFTMAX));
    return m;
}

/* ---- helpers ------------------------------------------------------------ */

/* One forward + backward on the data set (one batch); gradients left in
 * w->grad. Returns the loss. */
static double loss_and_grads(crest_model *m, const crest_dataset *d)
{
    assert_int_equal(cr_model_build_train(m), CREST_OK);
    /* the gradients are the parameter block's (each weight's grad a view) */
    assert_int_equal(cr_params_need(m, -1), CREST_OK);
    for (int i = 0; i < m->n_weights; i++)
        memset(m->weights[i]->grad, 0, (size_t)m->weights[i]->size * sizeof(float));
    cr_graph *g = m->train.g;
    g->planned = false;
    assert_int_equal(cr_graph_plan(g, (int64_t)d->n), CREST_OK);
    cr_graph_feed(g, d->x, d->stride, NULL, 0, (int64_t)d->n);
    for (size_t b = 0; b < d->n; b++) {
        m->train.label->val[b] = (float)d->labels[b];
        m->train.sw->val[b] = 1;
    }
    cr_rng drop;
    cr_rng_seed(&drop, 5);
    cr_ctx c = { .rng = &drop, .training = true };
    cr_graph_forward(g, &c);
    double l = m->train.loss->val[0];
    cr_graph_backward(g, m->train.loss, &c);
    return l;
}

static double loss_only(crest_model *m, const crest_dataset *d)
{
    cr_graph *g = m->train.g;
    cr_graph_feed(g, d->x, d->stride, NULL, 0, (int64_t)d->n);
    cr_rng drop;
    cr_rng_seed(&drop, 5);
    cr_ctx c = { .rng = &drop, .training = true };
    cr_graph_forward(g, &c);
    return m->train.loss->val[0];
}

/* Worst |analytic - numeric| / max(1, |a|, |n|) over every weight element. */
static double gradcheck(crest_model *m, const crest_dataset *d)
{
    assert_int_equal(crest_compile(m, NULL), CREST_OK);
    loss_and_grads(m, d);
    double worst = 0;
    for (int i = 0; i < m->n_weights; i++) {
        cr_weight *w = m->weights[i];
        for (int64_t k = 0; k < w->size; k++) {
            float x0 = w->val[k], h = 1e-2f;
            w->val[k] = x0 + h;
            double lp = loss_only(m, d);
            w->val[k] = x0 - h;
            double lm = loss_only(m, d);
            w->val[k] = x0;
            double num = (lp - lm) / (2.0 * h), ana = w->grad[k];
            double err = fabs(num - ana) / fmax(1.0, fmax(fabs(num), fabs(ana)));
            if (err > worst)
                worst = err;
            if (err > 1e-3)
                print_message("  %s/%s[%lld]: analytic %.6g numeric %.6g\n",
                              w->owner ? w->owner->name : "", w->name, (long long)k, ana, num);
        }
    }
    return worst;
}

static bool has_op(const cr_graph *g, const char *op)
{
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i]->op && strcmp(g->nodes[i]->op->name, op) == 0)
            return true;
    return false;
}

static cr_weight *weight(crest_model *m, const char *layer, const char *name)
{
    for (int i = 0; i < m->n_weights; i++)
        if (m->weights[i]->owner && strcmp(m->weights[i]->owner->name, layer) == 0 &&
            strcmp(m->weights[i]->name, name) == 0)
            return m->weights[i];
    return NULL;
}

/* ---- gradients ----------------------------------------------------------- */

static void test_gradcheck_custom_lambda_expr(void **state)
{
    (void)state;
    crest_dataset *d = small_data(3);
    crest_model *ms[3] = { NULL, lambda_model(2), expr_model(2) };
    assert_int_equal(small_net_new(&ms[0], false, 2), CREST_OK);
    const int want_weights[3] = { 5, 5, 6 };   /* s + 2 Dense; W b g + Dense; W b g V + Dense */
    for (int i = 0; i < 3; i++) {
        double worst = gradcheck(ms[i], d);
        print_message("gradcheck %s: %d weights, worst %.2e\n", ms[i]->name,
                      ms[i]->n_weights, worst);
        assert_int_equal(ms[i]->n_weights, want_weights[i]);
        assert_true(worst < 2e-3);
        crest_model_free(ms[i]);
    }
    crest_dataset_free(d);
}

/* Dense(softmax), a C lambda softmax(x @ W + b) and crest_expr with the same
 * W and b: the same outputs and gradients, bit for bit. */
static void test_lambda_and_expr_equal_dense(void **state)
{
    (void)state;
    crest_dataset *d = small_data(4);
    crest_model *m[3];
    int units = NCLS;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(crest_sequential_new(&m[i], crest_shape(1, NIN)), CREST_OK);
        crest_model_set_seed(m[i], (uint64_t)i + 10);
    }
    crest_add(m[0], crest_dense(NCLS, CREST_SOFTMAX));
    crest_add(m[1], crest_lambda("aff_softmax", aff_softmax, &units, sizeof units));
    crest_add(m[2], crest_expr("W[_,3]: softmax(x @ W + b)"));
    for (int i = 0; i < 3; i++)
        assert_int_equal(crest_compile(m[i], NULL), CREST_OK);
    cr_weight *k = weight(m[0], "dense", "kernel"), *bias = weight(m[0], "dense", "bias");
    for (int i = 0; i < NCLS; i++)
        bias->val[i] = 0.1f * (float)(i + 1);        /* not zeros: b must matter */
    const char *lname[3] = { NULL, "lambda", "expr" };
    for (int i = 1; i < 3; i++) {
        cr_weight *w = weight(m[i], lname[i], "W"), *b = weight(m[i], lname[i], "b");
        assert_non_null(w);
        assert_non_null(b);
        assert_false(memcmp(w->val, k->val, sizeof(float) * (size_t)k->size) == 0);
        memcpy(w->val, k->val, sizeof(float) * (size_t)k->size);
        memcpy(b->val, bias->val, sizeof(float) * (size_t)bias->size);
    }
    float p[3][NS * NCLS];
    double l[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(crest_predict(m[i], d->x, NS, p[i]), CREST_OK);
        l[i] = loss_and_grads(m[i], d);
    }
    for (int i = 1; i < 3; i++) {
        assert_memory_equal(p[0], p[i], sizeof p[0]);
        assert_true(l[0] == l[i]);
        cr_weight *w = weight(m[i], lname[i], "W"), *b = weight(m[i], lname[i], "b");
        assert_memory_equal(k->grad, w->grad, sizeof(float) * (size_t)k->size);
        assert_memory_equal(bias->grad, b->grad, sizeof(float) * (size_t)bias->size);
    }
    float g0 = 0;
    for (int64_t i = 0; i < k->size; i++)
        g0 += fabsf(k->grad[i]);
    assert_true(g0 > 0);
    for (int i = 0; i < 3; i++)
        crest_model_free(m[i]);
    crest_dataset_free(d);
}

/* ---- custom models ------------------------------------------------------- */

static void test_custom_layers_summary_training(void **state)
{
    (void)state;
    crest_model *m = NULL;
    assert_int_equal(small_net_new(&m, true, 1), CREST_OK);
    char *s = crest_model_summary(m, false);
    assert_non_null(s);
    print_message("%s", s);
    assert_non_null(strstr(s, "Model: \"SmallNet\""));
    assert_non_null(strstr(s, "SmallNet (ModelVariables)"));   /* call's own variable s */
    assert_non_null(strstr(s, "dense (Dense)"));
    assert_non_null(strstr(s, "dropout (Dropout)"));
    assert_non_null(strstr(s, "dense_1 (Dense)"));
    assert_non_null(strstr(s, "Total params: 63"));           /* 6 + 36 + 21 */
    crest_free(s);
    assert_int_equal(crest_model_param_count(m, true), 63);
    /* training reaches Dropout: only in the training graph */
    assert_int_equal(crest_compile(m, NULL), CREST_OK);
    crest_dataset *d = small_data(5);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 2, .batch_size = 4 }),
                     CREST_OK);
    assert_false(has_op(m->infer.g, "dropout"));
    assert_true(has_op(m->train.g, "dropout"));
    assert_int_equal(cr_model_build_eval(m), CREST_OK);
    assert_false(has_op(m->eval.g, "dropout"));
    /* applied with training = false inside a training graph: no dropout */
    last_net->drop_follows_training = false;
    cr_model_invalidate(m);
    assert_int_equal(cr_model_build_train(m), CREST_OK);
    assert_false(has_op(m->train.g, "dropout"));
    crest_model_free(m);
    crest_dataset_free(d);
}

static int destroyed;

static void test_custom_ownership_and_errors(void **state)
{
    (void)state;
    crest_model *m = NULL;
    small_net *s = calloc(1, sizeof *s);
    s->hidden = crest_dense(2, CREST_RELU);
    s->head = crest_dense(2, CREST_SOFTMAX);
    s->destroyed = &destroyed;
    destroyed = 0;
    /* a bad input shape: the model still owns self and destroys it */
    assert_int_equal(crest_custom_new(&m, &sn_vt, s, crest_shape(0)), CREST_E_SHAPE);
    assert_null(m);
    assert_int_equal(destroyed, 1);
    /* destroyed exactly once, by crest_model_free */
    s = calloc(1, sizeof *s);
    s->hidden = crest_dense(2, CREST_RELU);
    s->head = crest_dense(2, CREST_SOFTMAX);
    s->destroyed = &destroyed;
    assert_int_equal(crest_custom_new(&m, &sn_vt, s, crest_shape(1, 3)), CREST_OK);
    assert_int_equal(cr_model_build(m), CREST_OK);
    assert_int_equal(destroyed, 1);
    crest_model_free(m);
    assert_int_equal(destroyed, 2);
    /* two layers with the same name */
    s = calloc(1, sizeof *s);
    s->hidden = crest_dense(2, CREST_RELU);
    s->head = crest_dense(2, CREST_SOFTMAX);
    crest_layer_set_name(s->hidden, "twin");
    crest_layer_set_name(s->head, "twin");
    assert_int_equal(crest_custom_new(&m, &sn_vt, s, crest_shape(1, 3)), CREST_OK);
    assert_int_equal(crest_compile(m, NULL), CREST_E_ARG);
    assert_non_null(strstr(crest_last_error(), "'twin'"));
    crest_model_free(m);
    /* missing vtable parts */
    static const crest_model_vtable no_call = { .name = "NoCall" };
    assert_int_equal(crest_custom_new(&m, &no_call, NULL, crest_shape(1, 3)), CREST_E_ARG);
}

/* A lambda whose function applies a layer (passed by pointer in its args). */
static crest_node *apply_inner(crest_graph *g, crest_node *x, const void *args)
{
    crest_layer *inner;
    memcpy(&inner, args, sizeof inner);
    return crest_layer_apply(inner, g, x, crest_graph_training(g));
}

typedef struct { crest_layer *lam, *inner, *head; } nested_net;

static crest_node *nn_call(void *self, crest_graph *g, crest_node *x, bool training)
{
    nested_net *s = self;
    x = crest_layer_apply(s->lam, g, x, training);
    return crest_layer_apply(s->head, g, x, training);
}

static void nn_destroy(void *self)
{
    nested_net *s = self;
    crest_layer_free(s->lam);
    crest_layer_free(s->inner);
    crest_layer_free(s->head);
    free(s);
}

/* Layers applied inside other layers: a custom model records and trains
 * them; a Sequential model, which cannot own them, refuses to build. */
static void test_nested_layers(void **state)
{
    (void)state;
    static const crest_model_vtable vt = { .name = "Nested", .call = nn_call,
                                           .destroy = nn_destroy };
    nested_net *s = calloc(1, sizeof *s);
    s->inner = crest_dense(4, CREST_TANH);
    s->lam = crest_lambda("apply_inner", apply_inner, &s->inner, sizeof s->inner);
    s->head = crest_dense(NCLS, CREST_SOFTMAX);
    crest_model *m = NULL;
    assert_int_equal(crest_custom_new(&m, &vt, s, crest_shape(1, NIN)), CREST_OK);
    crest_dataset *d = small_data(11);
    double worst = gradcheck(m, d);
    assert_int_equal(m->n_weights, 4);          /* the inner Dense's kernel and bias too */
    assert_true(worst < 2e-3);
    char *sum = crest_model_summary(m, false);
    assert_non_null(strstr(sum, "lambda (CrestLambda)"));
    assert_non_null(strstr(sum, "dense (Dense)"));
    crest_free(sum);
    crest_model_free(m);

    crest_layer *inner = crest_dense(4, CREST_TANH);
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, NIN)), CREST_OK);
    crest_add(m, crest_lambda("apply_inner", apply_inner, &inner, sizeof inner));
    assert_int_equal(cr_model_build(m), CREST_E_STATE);
    assert_non_null(strstr(crest_last_error(), "belongs to no layer of the model"));
    crest_model_free(m);
    crest_layer_free(inner);
    crest_dataset_free(d);
}

/* ---- save / load -------------------------------------------------------- */

static void predict_equal(crest_model *a, crest_model *b, const crest_dataset *d, bool equal)
{
    int64_t k = crest_model_output_size(a);
    float *p = malloc(sizeof(float) * d->n * (size_t)k), *q = malloc(sizeof(float) * d->n * (size_t)k);
    assert_int_equal(crest_predict(a, d->x, d->n, p), CREST_OK);
    assert_int_equal(crest_predict(b, d->x, d->n, q), CREST_OK);
    assert_int_equal(memcmp(p, q, sizeof(float) * d->n * (size_t)k) == 0, equal);
    free(p);
    free(q);
}

static void train_a_little(crest_model *m, const crest_dataset *d)
{
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.05f) }),
                     CREST_OK);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 3, .batch_size = 4 }), CREST_OK);
}

/* m trained a little on d and saved into a new temporary folder dir: its
 * model.json, which names class cls. */
static char *train_and_save(crest_model *m, const crest_dataset *d, const char *cls, char *dir,
                            size_t size)
{
    train_a_little(m, d);
    tu_tmpdir(dir, size);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    char *json = tu_read(dir, "model.json");
    char want[128];
    snprintf(want, sizeof want, "\"class_name\":\"%s\"", cls);
    assert_non_null(strstr(json, want));
    return json;
}

/* dir's model.json made json with from replaced by to: loading it fails with
 * code and a message holding needle. */
static void load_edited(const char *dir, const char *json, const char *from, const char *to,
                        int code, const char *needle)
{
    char *bad = tu_replace(json, from, to);
    tu_write(dir, "model.json", bad, strlen(bad));
    crest_model *l = NULL;
    assert_int_equal(crest_model_load(&l, dir), code);
    print_message("edited: %s\n", crest_last_error());
    assert_non_null(strstr(crest_last_error(), needle));
    crest_model_free(l);
    free(bad);
}

static void test_save_load_custom(void **state)
{
    (void)state;
    crest_dataset *d = small_data(6);
    crest_model *m = NULL, *l = NULL, *c = NULL;
    assert_int_equal(small_net_new(&m, true, 1), CREST_OK);
    char dir[256];
    char *json = train_and_save(m, d, "SmallNet", dir, sizeof dir);
    assert_non_null(strstr(json, "\"dropout\":true"));
    assert_non_null(strstr(json, "\"name\":\"SmallNet/s\""));
    assert_non_null(strstr(json, "\"name\":\"dense_1/kernel\""));
    free(json);
    /* the same model built in C, then its weights */
    assert_int_equal(small_net_new(&c, true, 99), CREST_OK);
    predict_equal(m, c, d, false);
    assert_int_equal(crest_model_load_weights(c, dir), CREST_OK);
    predict_equal(m, c, d, true);
    /* crest_model_load needs the class registered */
    assert_int_equal(crest_model_load(&l, dir), CREST_E_UNSUPPORTED);
    assert_null(l);
    print_message("unregistered: %s\n", crest_last_error());
    assert_non_null(strstr(crest_last_error(), "'SmallNet' is not registered"));
    assert_int_equal(crest_register_model("SmallNet", sn_factory), CREST_OK);
    assert_int_equal(crest_model_load(&l, dir), CREST_OK);
    predict_equal(m, l, d, true);
    assert_int_equal(crest_register_model("SmallNet", NULL), CREST_OK);
    /* weights of another architecture do not load */
    crest_model *other = lambda_model(1);
    assert_int_equal(crest_model_load_weights(other, dir), CREST_E_FORMAT);
    assert_non_null(strstr(crest_last_error(), "matches no layer weight"));
    crest_model_free(other);
    crest_model_free(l);
    crest_model_free(c);
    crest_model_free(m);
    crest_dataset_free(d);
    tu_rmdir(dir);
}

static void test_save_load_lambda(void **state)
{
    (void)state;
    crest_dataset *d = small_data(7);
    crest_model *m = lambda_model(3), *l = NULL;
    char dir[256];
    char *json = train_and_save(m, d, "CrestLambda", dir, sizeof dir);
    assert_non_null(strstr(json, "\"function\":\"aff_tanh\""));
    assert_non_null(strstr(json, "\"name\":\"lambda/W\""));
    free(json);
    /* not registered: a clear error naming the function, no crash */
    assert_int_equal(crest_register_lambda("aff_tanh", NULL), CREST_OK);
    assert_int_equal(crest_model_load(&l, dir), CREST_E_UNSUPPORTED);
    assert_null(l);
    print_message("unregistered: %s\n", crest_last_error());
    assert_non_null(strstr(crest_last_error(), "lambda function 'aff_tanh' is not registered"));
    /* registered: the same predictions, arguments included (scale 0.5) */
    assert_int_equal(crest_register_lambda("aff_tanh", aff_tanh), CREST_OK);
    assert_int_equal(crest_model_load(&l, dir), CREST_OK);
    predict_equal(m, l, d, true);
    crest_model_free(l);
    /* corrupt arguments are a format error */
    json = tu_read(dir, "model.json");
    char args[128];
    const char *a = strstr(json, "\"arguments\":\"");
    assert_non_null(a);
    snprintf(args, sizeof args, "%.*s", (int)(strchr(a + 13, '"') - a + 1), a);
    load_edited(dir, json, args, "\"arguments\":\"A*==\"", CREST_E_FORMAT, "base64");
    free(json);
    assert_int_equal(crest_register_lambda("", aff_tanh), CREST_E_ARG);
    assert_null(crest_lambda("x", NULL, NULL, 0));
    crest_model_free(m);
    crest_dataset_free(d);
    tu_rmdir(dir);
}

static void test_save_load_expr(void **state)
{
    (void)state;
    crest_dataset *d = small_data(8);
    crest_model *m = expr_model(4), *l = NULL;
    char dir[256];
    char *json = train_and_save(m, d, "CrestExpr", dir, sizeof dir);
    assert_non_null(strstr(json, "tanh(x @ W + b) * g"));
    free(json);
    assert_int_equal(crest_model_load(&l, dir), CREST_OK);   /* no C code needed */
    predict_equal(m, l, d, true);
    char *s = crest_model_summary(l, false);
    assert_non_null(strstr(s, "expr (CrestExpr)"));
    crest_free(s);
    crest_model_free(l);
    /* a broken expression in the file: an error naming the position */
    json = tu_read(dir, "model.json");
    load_edited(dir, json, "tanh(x @ W + b)", "tanh(x @ W + )", CREST_E_FORMAT, "(')')");
    free(json);
    crest_model_free(m);
    crest_dataset_free(d);
    tu_rmdir(dir);
}

/* ---- expression errors -------------------------------------------------- */

static void test_expr_errors(void **state)
{
    (void)state;
    static const struct { const char *text, *needle; } parse[] = {
        { "W[_,10]: softmax(x @ W +)", "at 25 (')')" },
        { "", "at 1 (end of expression)" },
        { "x @@ W", "at 4 ('@')" },
        { "W[_,10: x @ W", "at 7 (':')" },
        { "W[_,0]: x @ W", "at 5 ('0')" },
        { "foo(x)", "at 1 ('foo'): unknown function" },
        { "relu(x, 1)", "at 7 (',')" },
        { "x $ 2", "at 3 ('$')" },
        { "(x + 1", "at 7 (end of expression): expected ')'" },
        { "W[2] W[3]: x * W", "at 6 ('W'): variable declared twice" },
        { "W[_]=lecun: x * W", "at 6 ('lecun')" },
        { "sum(x, 1.5)", "at 8 ('1.5')" },
        { "x W", "at 3 ('W'): expected an operator" },
    };
    for (size_t i = 0; i < sizeof parse / sizeof parse[0]; i++) {
        crest_layer *l = crest_expr(parse[i].text);
        if (l || !strstr(crest_last_error(), parse[i].needle))
            print_error("'%s': %s\n", parse[i].text, l ? "parsed" : crest_last_error());
        assert_null(l);
        assert_non_null(strstr(crest_last_error(), parse[i].needle));
    }
    /* deep nesting is an error, not a stack overflow */
    char deep[4096];
    memset(deep, '(', 1500);
    snprintf(deep + 1500, sizeof deep - 1500, "x");
    assert_null(crest_expr(deep));
    assert_non_null(strstr(crest_last_error(), "nested too deeply"));
    memset(deep, '-', 3000);
    assert_null(crest_expr(deep));
    assert_non_null(strstr(crest_last_error(), "nested too deeply"));
    for (int i = 0; i < 1000; i++) {   /* x+x+...+x: a chain 1000 long */
        deep[2 * i] = 'x';
        deep[2 * i + 1] = '+';
    }
    snprintf(deep + 2000, 2, "x");
    assert_null(crest_expr(deep));
    assert_non_null(strstr(crest_last_error(), "nested too deeply"));
    /* errors found when the graph is built (shapes come from use) */
    static const struct { const char *text, *needle; } build[] = {
        { "softmax(x @ W)", "at 13 ('W'): declare the variable's shape" },
        { "2 * 3", "is a constant" },
        { "x / W", "at 3 ('/'): '/' divides by a number only" },
        { "W[3,_]: x @ W", "at 13 ('W'): cannot infer" },
        { "W[5,4]: x @ W @ W", "[5,4]" },
        /* outputs that ignore the batch: predict copied batch * units values
         * out of a smaller node (heap-buffer-overflow found by fuzz_expr,
         * its input kept as tests/fuzz/corpus/expr/crash-no-batch) */
        { "W[3,6]: sotmax8x +  W+d7m_unifgrmb ", "does not follow the batch" },
        { "W[1,4]: W * 2", "does not follow the batch" },
        { "sum(x, 0)", "does not follow the batch" },
    };
    for (size_t i = 0; i < sizeof build / sizeof build[0]; i++) {
        crest_model *m = NULL;
        assert_int_equal(crest_sequential_new(&m, crest_shape(1, NIN)), CREST_OK);
        assert_int_equal(crest_add(m, crest_expr(build[i].text)), CREST_OK);
        int rc = cr_model_build(m);
        if (rc == CREST_OK || !strstr(crest_last_error(), build[i].needle))
            print_error("'%s': %s\n", build[i].text, rc ? crest_last_error() : "built");
        assert_int_not_equal(rc, CREST_OK);
        assert_non_null(strstr(crest_last_error(), build[i].needle));
        crest_model_free(m);
    }
}

/* Expressions compute what they say (values checked against plain C). */
static void test_expr_values(void **state)
{
    (void)state;
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 4)), CREST_OK);
    crest_add(m, crest_expr("s[4]=ones: relu6(x * 2 - 1) + mean(x, -1) - sum(x, -1) / 4 + "
                            "-x * s + (x - 1) * (x + 1) + sigmoid(x) * 0"));
    float x[8] = { -1, 0.5f, 2, 5, 0.25f, 3, -2, 1 }, y[8];
    assert_int_equal(crest_predict(m, x, 2, y), CREST_OK);
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 4; k++) {
            float v = x[r * 4 + k], e = fminf(fmaxf(v * 2 - 1, 0), 6) - v + (v - 1) * (v + 1);
            assert_float_equal(y[r * 4 + k], e, 1e-5);
        }
    crest_model_free(m);
}

/* Every allocation failure in building, training, saving and loading each
 * kind returns an error and leaks nothing (ASan checks the leaks). */
static void test_out_of_memory(void **state)
{
    (void)state;
    crest_dataset *d = small_data(9);
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    assert_int_equal(crest_register_model("SmallNet", sn_factory), CREST_OK);
    assert_int_equal(crest_register_lambda("aff_tanh", aff_tanh), CREST_OK);
    for (int kind = 0; kind < 3; kind++) {
        int ok = 0;
        for (long k = 0; k < 4000 && !ok; k++) {
            crest_model *m = NULL, *l = NULL;
            cr_alloc_fail_after(k);
            int rc = kind == 0 ? small_net_new(&m, true, 1) : CREST_OK;
            if (kind == 1)
                m = lambda_model(1);
            else if (kind == 2)
                m = expr_model(1);
            if (!rc)
                rc = crest_compile(m, NULL);
            if (!rc)
                rc = crest_fit(m, d, &(crest_fit_opts){ .epochs = 1, .batch_size = 8 });
            if (!rc)
                rc = crest_model_save(m, dir);
            if (!rc)
                rc = crest_model_load(&l, dir);
            cr_alloc_fail_after(-1);
            /* (an out-of-memory while saving is CREST_E_NOMEM, not CREST_E_FORMAT) */
            if (rc && rc != CREST_E_NOMEM && rc != CREST_E_ARG)
                print_error("kind %d, k %ld: %s\n", kind, k, crest_last_error());
            if (rc)
                assert_true(rc == CREST_E_NOMEM || rc == CREST_E_ARG);
            ok = rc == 0;
            crest_model_free(l);
            crest_model_free(m);
        }
        assert_true(ok);
        /* save and load alone, failure by failure (tests/oomutil.h) */
        crest_model *m = NULL;
        if (kind == 0)
            assert_int_equal(small_net_new(&m, true, 1), CREST_OK);
        else
            m = kind == 1 ? lambda_model(1) : expr_model(1);
        assert_int_equal(crest_compile(m, NULL), CREST_OK);
        char sub[300];
        snprintf(sub, sizeof sub, "%s/oom%d", dir, kind);
        long saves, loads;
        tu_save_load_oom(m, d, sub, &saves, &loads);
        print_message("kind %d: save failed %ld times, load %ld times\n", kind, saves, loads);
        assert_true(saves > 20 && loads > 20);
        crest_model_free(m);
        tu_rmdir(sub);
    }
    assert_int_equal(crest_register_model("SmallNet", NULL), CREST_OK);
    crest_dataset_free(d);
    tu_rmdir(dir);
}

/* Variables made with CREST_RANDOM_NORMAL (the seed's W) follow Keras'
 * RandomNormal defaults, mean 0 and stddev 0.05; b stays zeros. */
static void test_random_normal_init(void **state)
{
    (void)state;
    crest_model *m = NULL;
    int units = 100;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 400)), CREST_OK);
    crest_add(m, crest_lambda("aff_softmax", aff_softmax, &units, sizeof units));
    crest_add(m, crest_expr("V[_,50]=random_normal: x @ V"));
    assert_int_equal(cr_model_build(m), CREST_OK);
    cr_weight *ws[2] = { weight(m, "lambda", "W"), weight(m, "expr", "V") };
    for (int k = 0; k < 2; k++) {
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < ws[k]->size; i++) {
            sum += ws[k]->val[i];
            sq += (double)ws[k]->val[i] * ws[k]->val[i];
        }
        double mean = sum / (double)ws[k]->size;
        double sd = sqrt(sq / (double)ws[k]->size - mean * mean);
        print_message("%s: mean %.5f, stddev %.5f over %lld\n", ws[k]->name, mean, sd,
                      (long long)ws[k]->size);
        assert_true(fabs(mean) < 0.002);
        assert_true(fabs(sd - 0.05) < 0.002);
    }
    cr_weight *b = weight(m, "lambda", "b");
    for (int64_t i = 0; i < b->size; i++)
        assert_true(b->val[i] == 0);
    crest_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_custom_lambda_expr),
        cmocka_unit_test(test_lambda_and_expr_equal_dense),
        cmocka_unit_test(test_custom_layers_summary_training),
        cmocka_unit_test(test_custom_ownership_and_errors),
        cmocka_unit_test(test_nested_layers),
        cmocka_unit_test(test_save_load_custom),
        cmocka_unit_test(test_save_load_lambda),
        cmocka_unit_test(test_save_load_expr),
        cmocka_unit_test(test_expr_errors),
        cmocka_unit_test(test_expr_values),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_random_normal_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
