/* test_plan.c - the memory planner under its validator.
 *
 * cr_graph_plan runs cr_graph_check_layout on every plan in these builds
 * (no NDEBUG): every buffer inside the arena, no two buffers that are live
 * at the same step overlapping. Here:
 *   - the validator itself rejects broken layouts (so it can fail);
 *   - inference and training graphs with padding, concatenation, residual
 *     adds, batch norm, pooling and a loss are re-planned through every
 *     batch size 1..64 (up, down and shuffled) and run: every sample's
 *     output is the same whatever batch it is computed in;
 *   - the input's spatial shape changes between plans (re-planned from the
 *     data at hand) and results equal a graph traced for that shape;
 *   - the real MobileNetV2 inference graph is planned for 1..64, and its
 *     arena at batch 1 is within 2% of the largest set of buffers live at
 *     one step (no layout can be smaller);
 *   - crest_model_inference_only: the same bits after the weights are let
 *     go, their pages read as zeros (returned to the system), and every
 *     use that reads weights or traces anew refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"
#include "golden.h"

/* A small fully convolutional classifier over [h, w, 3] inputs:
 * pad -> conv3x3 s2 relu -> {depthwise 3x3 same, conv1x1} concat -> add with
 * a 1x1 projection -> batchnorm -> global avg pool -> dense -> softmax,
 * and a sparse CCE loss against a label input. */
typedef struct net { cr_graph *g; cr_node *x, *label, *out, *loss; } net;

static net net_new(bool training, int h, int w, uint64_t seed)
{
    net t = { 0 };
    t.g = cr_graph_new(NULL, training);
    cr_graph *g = t.g;
    cr_rng r;
    cr_rng_seed(&r, seed);
    t.x = cr_input(g, crest_shape(3, h, w, 3));
    cr_graph_mark_input(g, t.x);
    cr_node *p = cr_op_pad2d(g, t.x, 1, 2, 0, 1);
    cr_conv_opts s2 = { .sh = 2, .sw = 2, .act = CREST_RELU };
    cr_node *c1 = cr_op_conv2d(g, p, cr_example_var(g, &r, crest_shape(4, 3, 3, 3, 8), -.3f, .3f, 0),
                               cr_example_var(g, &r, crest_shape(1, 8), -.1f, .1f, 0), &s2);
    cr_conv_opts same = { .same = true };
    cr_node *dw = cr_op_depthwise2d(g, c1, cr_example_var(g, &r, crest_shape(4, 3, 3, 8, 1), -.3f, .3f, 0),
                                    NULL, &same);
    cr_node *pw = cr_op_conv2d(g, c1, cr_example_var(g, &r, crest_shape(4, 1, 1, 8, 4), -.3f, .3f, 0),
                               NULL, &same);
    cr_node *cat = crest_op_concat(g, (cr_node *[]){ dw, pw }, 2, -1);
    cr_node *proj = cr_op_conv2d(g, c1, cr_example_var(g, &r, crest_shape(4, 1, 1, 8, 12), -.3f, .3f, 0),
                                 NULL, &same);
    cr_node *sum = crest_op_add(g, cat, proj);
    cr_node *bn = cr_op_batchnorm(g, sum, cr_example_var(g, &r, crest_shape(1, 12), -.1f, .1f, 0),
                                  cr_example_var(g, &r, crest_shape(1, 12), .5f, 1.5f, 0),
                                  cr_example_var(g, &r, crest_shape(1, 12), .8f, 1.2f, 0),
                                  cr_example_var(g, &r, crest_shape(1, 12), -.1f, .1f, 0),
                                  1e-3f, 0.99f, false);
    cr_node *gp = cr_op_global_pool(g, bn, false, false);
    cr_node *logits = crest_op_matmul(g, gp, cr_example_var(g, &r, crest_shape(2, 12, 5), -.5f, .5f, 0));
    t.out = crest_op_activate(g, logits, CREST_SOFTMAX);
    /* labels come after the forward pass, as in evaluation graphs: a late
     * input must get a buffer of its own even when freed ones exist */
    t.label = cr_input(g, crest_shape(0));
    t.loss = cr_op_sparse_cce(g, logits, t.label, NULL, true);
    return t;
}

static float *samples(size_t n, int h, int w, uint64_t seed)
{
    float *x = malloc(n * (size_t)(h * w * 3) * sizeof *x);
    cr_rng r;
    cr_rng_seed(&r, seed);
    for (size_t i = 0; i < n * (size_t)(h * w * 3); i++)
        x[i] = (float)cr_rng_normal(&r);
    return x;
}

/* Runs samples [start, start + b) through t and copies the probabilities. */
static void run(net *t, const float *x, int per, size_t start, int b, float *probs)
{
    if (cr_graph_plan(t->g, b))
        fail_msg("batch %d: %s", b, crest_last_error());
    memcpy(t->x->val, x + start * (size_t)per, (size_t)b * (size_t)per * sizeof(float));
    if (t->label)
        for (int i = 0; i < b; i++)
            t->label->val[i] = (float)((start + (size_t)i) % 5);
    cr_ctx c = { .training = t->g->training };
    cr_graph_forward(t->g, &c);
    if (t->g->training)
        cr_graph_backward(t->g, t->loss, &c);
    memcpy(probs + start * 5, t->out->val, (size_t)b * 5 * sizeof(float));
}

/* Offsets of the planned buffers, read back from the node pointers. */
static void layout(const cr_graph *g, int64_t *v, int64_t *a, int64_t *gr)
{
    for (int i = 0; i < g->n; i++) {
        const cr_node *n = g->nodes[i];
        bool own = n->kind != CR_NODE_PARAM;
        v[i] = own && n->val ? n->val - g->arena : -1;
        a[i] = own && n->aux ? n->aux - g->arena : -1;
        gr[i] = own && n->grad ? n->grad - g->arena : -1;
    }
}

static void test_validator_rejects_bad_layouts(void **state)
{
    (void)state;
    for (int training = 0; training < 2; training++) {
        net t = net_new(training, 9, 7, 1);
        assert_int_equal(cr_graph_status(t.g), CREST_OK);
        assert_int_equal(cr_graph_plan(t.g, 3), CREST_OK);
        int n = t.g->n;
        int64_t *v = malloc(3 * (size_t)n * sizeof *v), *a = v + n, *gr = v + 2 * n;
        layout(t.g, v, a, gr);
        int64_t top = (int64_t)t.g->arena_cap;
        assert_int_equal(cr_graph_check_layout(t.g, v, a, gr, top), CREST_OK);
        /* the input and the pad that reads it share memory: both live */
        int64_t keep = v[t.x->id + 1];
        v[t.x->id + 1] = v[t.x->id];
        if (cr_graph_check_layout(t.g, v, a, gr, top) != CREST_E_INTERNAL)
            fail_msg("training %d: overlap of nodes %d and %d not seen", training, t.x->id,
                     t.x->id + 1);
        v[t.x->id + 1] = keep;
        /* a buffer reaching past the arena's end */
        v[t.out->id] = top - 1;
        assert_int_equal(cr_graph_check_layout(t.g, v, a, gr, top), CREST_E_INTERNAL);
        assert_non_null(strstr(crest_last_error(), "outside the arena"));
        /* a negative offset */
        v[t.out->id] = -7;
        assert_int_equal(cr_graph_check_layout(t.g, v, a, gr, top), CREST_E_INTERNAL);
        free(v);
        cr_graph_free(t.g);
    }
}

/* Every batch size 1..64, in three orders; each sample's probabilities must
 * not depend on the batch it was computed in. */
static void test_replan_every_batch_size(void **state)
{
    (void)state;
    enum { N = 64, H = 11, W = 9 };
    const int per = H * W * 3;
    float *x = samples(N, H, W, 2);
    float *ref = malloc(N * 5 * sizeof *ref), *got = malloc(N * 5 * sizeof *got);
    for (int training = 0; training < 2; training++) {
        net t = net_new(training, H, W, 3);
        assert_int_equal(cr_graph_status(t.g), CREST_OK);
        for (int i = 0; i < N; i++)
            run(&t, x, per, (size_t)i, 1, ref);
        int order[3 * N];
        for (int i = 0; i < N; i++) {
            order[i] = i + 1;
            order[N + i] = N - i;
        }
        cr_rng r;
        cr_rng_seed(&r, 4);
        for (int i = 0; i < N; i++)
            order[2 * N + i] = 1 + (int)(cr_rng_next(&r) % N);
        for (int k = 0; k < 3 * N; k++) {
            int b = order[k];
            memset(got, 0xff, N * 5 * sizeof *got);
            for (int s = 0; s + b <= N; s += b)
                run(&t, x, per, (size_t)s, b, got);
            size_t covered = (size_t)(N / b * b) * 5;
            double d = gd_max_diff(ref, got, covered);
            if (d > 1e-5)
                fail_msg("training %d, batch %d: max |diff| %g against batch 1", training, b, d);
        }
        cr_graph_free(t.g);
    }
    free(x);
    free(ref);
    free(got);
}

/* The input's spatial shape changes between plans: the same graph, re-planned
 * from the shape of the data at hand, gives what a graph traced for that
 * shape gives. */
static void test_replan_changing_input_shape(void **state)
{
    (void)state;
    static const int hw[][2] = { { 9, 7 }, { 32, 30 }, { 5, 5 }, { 17, 3 }, { 9, 7 }, { 64, 48 } };
    for (int training = 0; training < 2; training++) {
        net t = net_new(training, hw[0][0], hw[0][1], 5);
        for (size_t k = 0; k < sizeof hw / sizeof *hw; k++) {
            int h = hw[k][0], w = hw[k][1];
            assert_int_equal(cr_graph_reshape_input(t.g, 0, crest_shape(3, h, w, 3)), CREST_OK);
            net fresh = net_new(training, h, w, 5);
            float *x = samples(6, h, w, 6 + k);
            float a[30], b[30];
            for (int bs = 1; bs <= 6; bs += 5) {
                run(&t, x, h * w * 3, 0, bs, a);
                run(&fresh, x, h * w * 3, 0, bs, b);
                assert_memory_equal(a, b, (size_t)bs * 5 * sizeof(float));
            }
            free(x);
            cr_graph_free(fresh.g);
        }
        /* a shape the graph cannot take is an error, not a plan */
        assert_int_equal(cr_graph_reshape_input(t.g, 0, crest_shape(3, 0, 4, 3)), CREST_E_SHAPE);
        assert_int_equal(cr_graph_reshape_input(t.g, 1 + training, crest_shape(1, 4)), CREST_E_ARG);
        cr_graph_free(t.g);
    }
}

/* The real pretrained MobileNetV2, cut, frozen and headed as crest train
 * --base does: its fused inference graph and its evaluation graph (labels
 * and weights are inputs after the forward pass) planned for every batch
 * size 1..64. */
static void test_mobilenet_plans(void **state)
{
    (void)state;
    char p[1024];
    snprintf(p, sizeof p, "%s/models/mobilenet_v2", crest_data_dir());
    crest_model *m = NULL;
    if (crest_model_load(&m, p))
        fail_msg("%s (run tools/setup.sh): %s", p, crest_last_error());
    assert_int_equal(crest_model_cut(m, NULL, CREST_POOL_AVG), CREST_OK);
    assert_int_equal(crest_model_set_trainable(m, 0, -1, false), CREST_OK);
    crest_model *head = NULL;
    assert_int_equal(crest_sequential_new(&head, crest_shape(1, 1280)), CREST_OK);
    assert_int_equal(crest_add(head, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_model_append(m, head), CREST_OK);
    crest_model_free(head);
    assert_int_equal(crest_compile(m, NULL), CREST_OK);
    /* inference (predict, infer) and evaluation (crest evaluate) graphs */
    assert_int_equal(cr_model_build(m), CREST_OK);
    assert_int_equal(cr_model_build_eval(m), CREST_OK);
    cr_graph *gs[2] = { m->infer.g, m->eval.g };
    for (int k = 0; k < 2; k++) {
        for (int b = 1; b <= 64; b++)
            if (cr_graph_plan(gs[k], b))
                fail_msg("graph %d, batch %d: %s", k, b, crest_last_error());
        for (int b = 64; b >= 1; b -= 7)
            assert_int_equal(cr_graph_plan(gs[k], b), CREST_OK);
    }
    crest_model_free(m);
}

static crest_model *load_mobilenet(void)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/models/mobilenet_v2", crest_data_dir());
    crest_model *m = NULL;
    if (crest_model_load(&m, p))
        fail_msg("%s (run tools/setup.sh): %s", p, crest_last_error());
    return m;
}

/* The most floats live at one step of g's plan: values from their op to
 * their last consumer (inputs from the start, kept and unconsumed ones to
 * the end), aux during its op. */
static int64_t live_peak(const cr_graph *g)
{
    bool *consumed = calloc((size_t)g->n, sizeof *consumed);
    assert_non_null(consumed);
    for (int i = 0; i < g->n; i++)
        for (int j = 0; j < g->nodes[i]->n_in; j++)
            consumed[g->nodes[i]->in[j]->id] = true;
    int64_t peak = 0;
    for (int s = 0; s < g->n; s++) {
        int64_t live = 0;
        for (int i = 0; i < g->n; i++) {
            const cr_node *n = g->nodes[i];
            if (n->kind == CR_NODE_PARAM)
                continue;
            int birth = n->kind == CR_NODE_INPUT ? 0 : i;
            int death = n->kind != CR_NODE_OP || n->keep || !consumed[i] ? g->n : n->last_use;
            if (birth <= s && s <= death)
                live += (cr_dims_count(&n->shape) + 15) / 16 * 16;
            if (i == s && n->op && n->op->aux_size)
                live += (n->op->aux_size(n) + 15) / 16 * 16;
        }
        if (live > peak)
            peak = live;
    }
    free(consumed);
    return peak;
}

static void test_mobilenet_arena_tight(void **state)
{
    (void)state;
    crest_model *m = load_mobilenet();
    assert_int_equal(cr_model_build(m), CREST_OK);
    cr_graph *g = m->infer.g;
    assert_int_equal(cr_graph_plan(g, 1), CREST_OK);
    int64_t low = live_peak(g);
    print_message("MobileNetV2 batch 1: arena %.2f MB, largest live set %.2f MB\n",
                  (double)g->arena_used * 4 / 1048576, (double)low * 4 / 1048576);
    assert_true((int64_t)g->arena_used >= low);
    assert_true((double)g->arena_used <= 1.02 * (double)low);
    crest_model_free(m);
}

static void test_inference_only(void **state)
{
    (void)state;
    crest_model *m = load_mobilenet();
    size_t n = 3, per = 224 * 224 * 3;
    float *x = malloc(n * per * sizeof *x), *y0 = NULL, *y1 = NULL, *y2 = NULL;
    assert_non_null(x);
    for (size_t i = 0; i < n * per; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    crest_dims od;
    assert_int_equal(crest_infer(m, NULL, x, n, 1, &y0, &od), CREST_OK);
    /* the largest kernel, and a page wholly inside it */
    cr_weight *big = m->weights[0];
    for (int i = 0; i < m->n_weights; i++)
        if (m->weights[i]->size > big->size)
            big = m->weights[i];
    const float *mid = big->val + big->size / 2;
    float before = 0;
    for (int k = -1024; k < 1024; k++)
        before += fabsf(mid[k]);
    assert_true(before > 0);
    assert_int_equal(crest_model_inference_only(m), CREST_OK);
    float after = 0;
    for (int k = -1024; k < 1024; k++)
        after += fabsf(mid[k]);
    assert_true(after == 0);   /* its pages went back: they read as zeros */
    assert_int_equal(crest_infer(m, NULL, x, n, 1, &y1, &od), CREST_OK);
    assert_int_equal(crest_infer(m, NULL, x, n, 3, &y2, &od), CREST_OK);
    size_t ny = n * (size_t)crest_dims_count(od);
    assert_memory_equal(y0, y1, ny * sizeof *y0);
    assert_memory_equal(y0, y2, ny * sizeof *y0);
    assert_int_equal(crest_model_inference_only(m), CREST_OK);   /* again: nothing to do */
    /* everything that would read the zeros refuses */
    char dir[] = "/tmp/crest-io-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[1100];
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    assert_int_equal(crest_model_save(m, dir), CREST_E_STATE);
    assert_non_null(strstr(crest_last_error(), "inference only"));
    assert_int_equal(crest_model_save_onnx(m, path), CREST_E_STATE);
    float *y3 = NULL;
    assert_int_equal(crest_infer(m, "block_16_project", x, 1, 1, &y3, &od), CREST_E_STATE);
    assert_null(y3);
    assert_int_equal(cr_params_pack(m), CREST_E_STATE);
    assert_int_equal(rmdir(dir), 0);
    free(x);
    crest_free(y0);
    crest_free(y1);
    crest_free(y2);
    crest_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validator_rejects_bad_layouts),
        cmocka_unit_test(test_replan_every_batch_size),
        cmocka_unit_test(test_replan_changing_input_shape),
        cmocka_unit_test(test_mobilenet_plans),
        cmocka_unit_test(test_mobilenet_arena_tight),
        cmocka_unit_test(test_inference_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
