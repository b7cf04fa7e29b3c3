/* test_layers_golden.c - every Keras image layer against real TF.js.
 *
 * tests/golden/layers/<case>/ (made by tools/golden/layers.js with
 * @tensorflow/tfjs 4.22, cpu backend) holds a small model saved by TF.js,
 * an input x, TF.js's output, a random R, and the gradients of
 * sum(output * R) with respect to x and to every trainable weight. For each
 * case crest loads the model with crest_model_load and checks:
 *   - the inference forward pass (fused graph: BatchNorm folded into convs,
 *     relu6 epilogues) against the output, for inference-mode cases;
 *   - a gradient graph (unfused; layers in inference or training mode as
 *     the case says) whose output and gradients must match TF.js;
 *   - for training-mode cases, the moving statistics after that one pass;
 *   - for quantized files, the decoded weights bit for bit.
 * Each comparison is |crest - tfjs| <= atol + rtol * |tfjs| with the case's
 * tolerances from meta.json.
 * Then: BatchNormalization frozen once stays in inference mode after being
 * unfrozen (moving statistics bit-identical through fit), a trainable one
 * updates them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "testutil.h"
#include "golden.h"

#define GOLDEN "tests/golden/layers"

static float *read_f32(const char *dir, const char *name, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return gd_read_f32(p, n, true);
}

static cJSON *read_json(const char *dir, const char *name)
{
    char p[512], *text = NULL;
    size_t len;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (cr_read_file(p, 0, &text, &len))
        return NULL;
    cJSON *j = cJSON_ParseWithLength(text, len);
    cr_free(text);
    return j;
}

static size_t shape_count(const cJSON *a)
{
    size_t n = 1;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) n *= (size_t)e->valuedouble;
    return n;
}

typedef struct tol { double atol, rtol; } tol;

/* Worst |a - r| and number of elements outside atol + rtol |r|. */
static int compare(const char *cs, const char *what, const float *a, const float *r, size_t n,
                   tol t, double *worst)
{
    int bad = 0;
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - r[i]);
        if (!(d <= t.atol + t.rtol * fabs(r[i]))) {
            if (bad < 3)
                print_error("%s %s[%zu]: crest %.8g tfjs %.8g\n", cs, what, i, a[i], r[i]);
            bad++;
        }
        if (d > w || d != d)
            w = d;
    }
    if (w > *worst)
        *worst = w;
    return bad;
}

static cr_weight *weight_named(crest_model *m, const char *full)
{
    for (int i = 0; i < m->n_weights; i++) {
        cr_weight *w = m->weights[i];
        char name[300];
        snprintf(name, sizeof name, "%s/%s", w->owner ? w->owner->name : "", w->name);
        if (!strcmp(name, full))
            return w;
    }
    return NULL;
}

/* Output and gradients through an unfused gradient graph. */
static int check_grads(const char *cs, const char *dir, crest_model *m, const cJSON *meta,
                       const float *x, size_t n_in, const float *ref_out, size_t n_out,
                       tol ft, tol gt, double *wf, double *wg)
{
    bool training = cJSON_IsTrue(cJSON_GetObjectItem(meta, "training"));
    int64_t batch = (int64_t)cJSON_GetArrayItem(cJSON_GetObjectItem(meta, "input_shape"), 0)
                        ->valuedouble;
    int bad = 0;
    cr_graph *g = cr_graph_new(m, true);
    g->input_grads = true;
    g->inference_mode = !training;
    cr_node *out = cr_model_trace(m, g);
    assert_non_null(out);
    cr_dims rs = { .ndim = out->shape.ndim - 1 };
    for (int i = 1; i < out->shape.ndim; i++)
        rs.d[i - 1] = out->shape.d[i];
    cr_node *rn = cr_input(g, rs);
    cr_node *loss = crest_op_sum(g, crest_op_mul(g, out, rn), CR_AXIS_ALL, false);
    out->keep = true;
    assert_int_equal(cr_graph_status(g), 0);
    /* the gradients are the parameter block's (each weight's grad a view) */
    assert_int_equal(cr_params_need(m, -1), CREST_OK);
    for (int i = 0; i < m->n_weights; i++)
        memset(m->weights[i]->grad, 0, (size_t)m->weights[i]->size * sizeof(float));
    assert_int_equal(cr_graph_plan(g, batch), 0);
    float *r = read_f32(dir, "r.f32", n_out), *gx = read_f32(dir, "grad_input.f32", n_in);
    assert_non_null(r);
    assert_non_null(gx);
    cr_graph_feed(g, x, (int64_t)(n_in / (size_t)batch), NULL, 0, batch);
    memcpy(rn->val, r, n_out * sizeof(float));
    cr_ctx c = { .training = true };
    cr_graph_forward(g, &c);
    bad += compare(cs, "output (gradient graph)", out->val, ref_out, n_out, ft, wf);
    /* training mode: the moving statistics after exactly one forward pass */
    const cJSON *after = cJSON_GetObjectItem(meta, "after"), *e;
    cJSON_ArrayForEach(e, after)
    {
        cr_weight *w = weight_named(m, e->string);
        assert_non_null(w);
        float *v = read_f32(dir, e->valuestring, (size_t)w->size);
        assert_non_null(v);
        bad += compare(cs, e->string, w->val, v, (size_t)w->size, ft, wf);
        free(v);
    }
    cr_graph_backward(g, loss, &c);
    bad += compare(cs, "grad input", g->inputs[0]->grad, gx, n_in, gt, wg);
    const cJSON *wgs = cJSON_GetObjectItem(meta, "weight_grads");
    cJSON_ArrayForEach(e, wgs)
    {
        cr_weight *w = weight_named(m, e->string);
        assert_non_null(w);
        float *v = read_f32(dir, e->valuestring, (size_t)w->size);
        assert_non_null(v);
        char what[320];
        snprintf(what, sizeof what, "grad %s", e->string);
        bad += compare(cs, what, w->grad, v, (size_t)w->size, gt, wg);
        free(v);
    }
    free(r);
    free(gx);
    cr_graph_free(g);
    return bad;
}

static int run_case(const char *cs)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/%s", GOLDEN, cs);
    cJSON *meta = read_json(dir, "meta.json");
    assert_non_null(meta);
    tol ft = { cJSON_GetObjectItem(meta, "atol")->valuedouble,
               cJSON_GetObjectItem(meta, "rtol")->valuedouble };
    tol gt = { cJSON_GetObjectItem(meta, "grad_atol")->valuedouble,
               cJSON_GetObjectItem(meta, "grad_rtol")->valuedouble };
    size_t n_in = shape_count(cJSON_GetObjectItem(meta, "input_shape"));
    size_t n_out = shape_count(cJSON_GetObjectItem(meta, "output_shape"));
    size_t batch = (size_t)cJSON_GetArrayItem(cJSON_GetObjectItem(meta, "input_shape"), 0)
                       ->valuedouble;
    float *x = read_f32(dir, "input.f32", n_in), *ref = read_f32(dir, "output.f32", n_out);
    assert_non_null(x);
    assert_non_null(ref);
    crest_model *m = NULL;
    if (crest_model_load(&m, dir)) {
        print_error("%s: %s\n", cs, crest_last_error());
        fail();
    }
    int bad = 0;
    double wf = 0, wg = 0;
    /* quantized weights: decoded exactly as TF.js does, bit for bit */
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(meta, "decoded"))
    {
        cr_weight *w = weight_named(m, e->string);
        assert_non_null(w);
        float *v = read_f32(dir, e->valuestring, (size_t)w->size);
        assert_non_null(v);
        if (memcmp(v, w->val, (size_t)w->size * sizeof(float))) {
            print_error("%s: weight %s decodes differently from TF.js\n", cs, e->string);
            bad++;
        }
        free(v);
    }
    if (!cJSON_IsTrue(cJSON_GetObjectItem(meta, "training"))) {
        float *y = NULL;
        crest_dims od;
        assert_int_equal(crest_infer(m, NULL, x, batch, 0, &y, &od), 0);
        assert_int_equal((size_t)crest_dims_count(od) * batch, n_out);
        bad += compare(cs, "output (inference)", y, ref, n_out, ft, &wf);
        crest_free(y);
    }
    bad += check_grads(cs, dir, m, meta, x, n_in, ref, n_out, ft, gt, &wf, &wg);
    print_message("layers golden %-20s forward max |diff| %.2e, gradients %.2e%s\n", cs, wf, wg,
                  bad ? "  FAILED" : "");
    crest_model_free(m);
    cJSON_Delete(meta);
    free(x);
    free(ref);
    return bad;
}

static void test_every_case(void **state)
{
    (void)state;
    char *list = NULL;
    size_t len;
    assert_int_equal(cr_read_file(GOLDEN "/cases.txt", 0, &list, &len), 0);
    int cases = 0, failed = 0;
    for (char *s = strtok(list, "\n"); s; s = strtok(NULL, "\n")) {
        cases++;
        failed += run_case(s) != 0;
    }
    cr_free(list);
    print_message("%d cases, %d failed\n", cases, failed);
    assert_true(cases >= 30);
    assert_int_equal(failed, 0);
}

/* ---- frozen BatchNormalization ----------------------------------------- */

static crest_model *bn_model(crest_layer **bn)
{
    crest_model *m;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 4)), 0);
    *bn = crest_batch_normalization(0.5f, 0, true, true);
    assert_non_null(*bn);
    assert_int_equal(crest_add(m, *bn), 0);
    assert_int_equal(crest_add(m, crest_dense(3, CREST_SOFTMAX)), 0);
    crest_model_set_seed(m, 3);
    return m;
}

static void fit_some(crest_model *m)
{
    float x[64 * 4];
    int32_t y[64];
    cr_rng r;
    cr_rng_seed(&r, 5);
    for (int i = 0; i < 64; i++) {
        y[i] = i % 3;
        for (int k = 0; k < 4; k++)
            x[i * 4 + k] = (float)cr_rng_normal(&r) * 2 + (float)y[i] + 3;
    }
    crest_dataset *ds;
    assert_int_equal(crest_dataset_new(&ds, 64, crest_shape(1, 4), x, y, 3), 0);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.05f) }), 0);
    assert_int_equal(crest_fit(m, ds, &(crest_fit_opts){ .epochs = 2, .batch_size = 16 }), 0);
    crest_dataset_free(ds);
}

static void test_frozen_bn_stays_inference(void **state)
{
    (void)state;
    crest_layer *bn;
    crest_model *m = bn_model(&bn);
    assert_int_equal(cr_model_build(m), 0);
    /* frozen once, then unfrozen for fine-tuning */
    crest_layer_set_trainable(bn, false);
    crest_layer_set_trainable(bn, true);
    cr_weight *mean = cr_layer_weight(bn, "moving_mean"), *var = cr_layer_weight(bn, "moving_variance");
    cr_weight *gamma = cr_layer_weight(bn, "gamma");
    float m0[4], v0[4], g0[4];
    memcpy(m0, mean->val, sizeof m0);
    memcpy(v0, var->val, sizeof v0);
    memcpy(g0, gamma->val, sizeof g0);
    fit_some(m);
    assert_memory_equal(m0, mean->val, sizeof m0);   /* bit-identical */
    assert_memory_equal(v0, var->val, sizeof v0);
    assert_memory_not_equal(g0, gamma->val, sizeof g0);   /* gamma still trains */
    crest_model_free(m);

    /* never frozen: training mode, the moving statistics move */
    m = bn_model(&bn);
    assert_int_equal(cr_model_build(m), 0);
    mean = cr_layer_weight(bn, "moving_mean");
    memcpy(m0, mean->val, sizeof m0);
    fit_some(m);
    assert_memory_not_equal(m0, mean->val, sizeof m0);
    crest_model_free(m);
}

/* ---- frozen layers in a training graph ----------------------------------- */

static int count_op(const cr_graph *g, const cr_op_def *def)
{
    int k = 0;
    for (int i = 0; i < g->n; i++)
        k += g->nodes[i]->op == def;
    return k;
}

/* Eight samples for mobilenet_block, scaled copies of the two golden
 * inputs x, in three classes. */
static crest_dataset *block_samples(const float *x)
{
    float xs[8 * 243];
    int32_t ys[8];
    for (int i = 0; i < 8; i++) {
        for (int k = 0; k < 243; k++)
            xs[i * 243 + k] = x[(i % 2) * 243 + k] * (1.0f + 0.1f * (float)i);
        ys[i] = i % 3;
    }
    crest_dataset *ds;
    assert_int_equal(crest_dataset_new(&ds, 8, crest_shape(3, 9, 9, 3), xs, ys, 3), 0);
    return ds;
}

/* mobilenet_block with everything but the head 'fc' frozen, fit on a few
 * samples: the frozen part is fused in the training graph (no gradient
 * flows there) and gives the head the same training as the unfused graph;
 * frozen weights and BatchNorm statistics stay bit-identical. */
static void test_frozen_backbone_fit(void **state)
{
    (void)state;
    const char *dir = GOLDEN "/mobilenet_block";
    float *x = read_f32(dir, "input.f32", 2 * 9 * 9 * 3);
    assert_non_null(x);
    crest_dataset *ds = block_samples(x);
    float *fc[2];
    for (int fuse = 0; fuse < 2; fuse++) {
        crest_model *m;
        assert_int_equal(crest_model_load(&m, dir), 0);
        m->no_fuse = !fuse;
        for (int i = 0; i < m->n_layers; i++)
            crest_layer_set_trainable(m->layers[i], !strcmp(m->layers[i]->name, "fc"));
        size_t n_all = crest_model_param_count(m, false);
        float *before = malloc(n_all * sizeof *before);
        for (int i = 0, off = 0; i < m->n_weights; off += (int)m->weights[i]->size, i++)
            memcpy(before + off, m->weights[i]->val, (size_t)m->weights[i]->size * sizeof(float));
        assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.01f) }),
                         0);
        assert_int_equal(crest_fit(m, ds, &(crest_fit_opts){ .epochs = 3, .batch_size = 4,
                                                             .no_shuffle = true }), 0);
        assert_int_equal(count_op(m->train.g, &cr_op_batchnorm_def), fuse ? 0 : 3);
        cr_weight *k = weight_named(m, "fc/kernel");
        fc[fuse] = malloc((size_t)k->size * sizeof(float));
        memcpy(fc[fuse], k->val, (size_t)k->size * sizeof(float));
        for (int i = 0, off = 0; i < m->n_weights; off += (int)m->weights[i]->size, i++) {
            cr_weight *w = m->weights[i];
            bool frozen = strcmp(w->owner->name, "fc") != 0;
            int same = !memcmp(before + off, w->val, (size_t)w->size * sizeof(float));
            if (frozen != same)
                print_error("%s/%s: frozen %d, unchanged %d\n", w->owner->name, w->name, frozen,
                            same);
            assert_int_equal(frozen, same);
        }
        free(before);
        crest_model_free(m);
    }
    double d = 0;
    for (int i = 0; i < 4 * 3; i++)
        d = fmax(d, fabs((double)fc[0][i] - fc[1][i]));
    print_message("frozen backbone: head after fit, fused vs unfused training graph: max |diff| "
                  "%.2e\n", d);
    assert_true(d < 1e-5);
    free(fc[0]);
    free(fc[1]);
    free(x);
    crest_dataset_free(ds);
}

/* ---- weights prepared once follow the weights ------------------------------ */

/* Inference output of the mobilenet_block case on its two inputs. */
static float *block_out(crest_model *m, const float *x)
{
    float *y = NULL;
    crest_dims ys;
    assert_int_equal(crest_infer(m, NULL, x, 2, 0, &y, &ys), 0);
    return y;
}

/* A fresh copy of the case with m's current weights (nothing prepared yet). */
static float *fresh_out(crest_model *m, const float *x)
{
    crest_model *r;
    assert_int_equal(crest_model_load(&r, GOLDEN "/mobilenet_block"), 0);
    assert_int_equal(r->n_weights, m->n_weights);
    for (int i = 0; i < m->n_weights; i++)
        memcpy(r->weights[i]->val, m->weights[i]->val, (size_t)m->weights[i]->size * sizeof(float));
    float *y = block_out(r, x);
    crest_model_free(r);
    return y;
}

/* The fused inference graph keeps folded and packed kernels; training
 * (optimizer steps and the BatchNorms' moving statistics) and a change of
 * SIMD level must make it redo them: outputs equal a fresh model's bits. */
static void test_prepared_weights_follow(void **state)
{
    (void)state;
    const char *dir = GOLDEN "/mobilenet_block";
    float *x = read_f32(dir, "input.f32", 2 * 9 * 9 * 3);
    assert_non_null(x);
    crest_model *m;
    assert_int_equal(crest_model_load(&m, dir), 0);
    float *y0 = block_out(m, x), *yf = fresh_out(m, x);
    assert_memory_equal(y0, yf, 2 * 3 * sizeof(float));
    int pads = 0;
    for (int i = 0; i < m->infer.g->n; i++)      /* ZeroPadding2D folded into the conv */
        pads += m->infer.g->nodes[i]->kind == CR_NODE_OP &&
                !strcmp(m->infer.g->nodes[i]->op->name, "zero_pad2d");
    assert_int_equal(pads, 0);
    crest_dataset *ds = block_samples(x);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.05f) }), 0);
    assert_int_equal(crest_fit(m, ds, &(crest_fit_opts){ .epochs = 2, .batch_size = 4 }), 0);
    float *y1 = block_out(m, x), *y1f = fresh_out(m, x);
    assert_true(memcmp(y0, y1, 2 * 3 * sizeof(float)) != 0);
    assert_memory_equal(y1, y1f, 2 * 3 * sizeof(float));
    cr_isa_select(CR_ISA_GENERIC);
    float *y2 = block_out(m, x), *y2f = fresh_out(m, x);
    cr_isa_select(cr_isa_best());
    assert_memory_equal(y2, y2f, 2 * 3 * sizeof(float));
    crest_free(y0), crest_free(yf), crest_free(y1), crest_free(y1f), crest_free(y2);
    crest_free(y2f);
    crest_dataset_free(ds);
    crest_model_free(m);
    free(x);
}

/* ---- bad configs: clear errors naming the layer --------------------------- */

/* conv_valid's model with one substitution; returns load's code and message. */
static int load_edited(const char *from, const char *to, char *msg, size_t size)
{
    return gd_load_edited(GOLDEN "/conv_valid", from, to, msg, size);
}

static void test_bad_configs(void **state)
{
    (void)state;
    static const struct { const char *from, *to, *want; } cases[] = {
        { "\"class_name\":\"Conv2D\"", "\"class_name\":\"ConvLSTM2D\"", "class ConvLSTM2D" },
        { "\"padding\":\"valid\"", "\"padding\":\"causal\"", "causal" },
        { "\"data_format\":\"channels_last\"", "\"data_format\":\"channels_first\"",
          "channels_first" },
        { "\"kernel_size\":[3,3]", "\"kernel_size\":[3,-3]", "kernel_size" },
        { "\"kernel_size\":[3,3]", "\"kernel_size\":[30,3]", "does not fit" },
        { "\"strides\":[1,1]", "\"strides\":[0,1]", "strides" },
        { "\"filters\":4", "\"filters\":5", "shape" },
        { "\"kernel_size\":[3,3],\"strides\":[1,1],\"padding\":\"valid\"",
          "\"kernel_size\":[60000,60000],\"strides\":[1,1],\"padding\":\"same\"",
          "more than crest accepts" },
        { "\"kernel_size\":[3,3]", "\"kernel_size\":[3,3],\"groups\":2", "groups" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[1024];
        int rc = load_edited(cases[i].from, cases[i].to, msg, sizeof msg);
        print_message("%-28s -> %d: %s\n", cases[i].to, rc, msg);
        assert_true(rc < 0);
        assert_non_null(strstr(msg, cases[i].want));
        assert_non_null(strstr(msg, "conv"));   /* the layer's name */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_case),
        cmocka_unit_test(test_frozen_bn_stays_inference),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_frozen_backbone_fit),
        cmocka_unit_test(test_prepared_weights_follow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
