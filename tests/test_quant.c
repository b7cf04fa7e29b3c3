/* test_quant.c - post-training int8 quantization (crest_quantize): batch
 * norms folded, the int8 graph close to the float one, bit-identical after
 * save and load and for 1 and 2 threads, the int8 codes on disk, and the
 * refusals (training, Keras formats, bad calibration data). The accuracy
 * figures on real data are tests/scripts/quantize.sh's. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"
#include "testutil.h"

#define H 8
#define W 8
#define CIN 3
#define CLASSES 4

/* A small MobileNetV2-like block: conv + BN + relu6, depthwise + BN + relu,
 * 1x1 conv + BN, a residual add, max and average pooling, global average
 * pooling, a hidden Dense(relu) and the softmax classifier. */
static const char *topology =
    "{\"class_name\":\"Model\",\"config\":{\"name\":\"qnet\",\"layers\":["
    "{\"class_name\":\"InputLayer\",\"name\":\"img\",\"config\":{\"name\":\"img\","
    "\"batch_input_shape\":[null,8,8,3],\"dtype\":\"float32\"},\"inbound_nodes\":[]},"
    "{\"class_name\":\"Conv2D\",\"name\":\"c1\",\"config\":{\"name\":\"c1\",\"filters\":8,"
    "\"kernel_size\":[3,3],\"strides\":[1,1],\"padding\":\"same\",\"activation\":\"linear\","
    "\"use_bias\":false},\"inbound_nodes\":[[[\"img\",0,0,{}]]]},"
    "{\"class_name\":\"BatchNormalization\",\"name\":\"bn1\",\"config\":{\"name\":\"bn1\","
    "\"epsilon\":0.001},\"inbound_nodes\":[[[\"c1\",0,0,{}]]]},"
    "{\"class_name\":\"ReLU\",\"name\":\"r1\",\"config\":{\"name\":\"r1\",\"max_value\":6.0},"
    "\"inbound_nodes\":[[[\"bn1\",0,0,{}]]]},"
    "{\"class_name\":\"DepthwiseConv2D\",\"name\":\"dw\",\"config\":{\"name\":\"dw\","
    "\"kernel_size\":[3,3],\"strides\":[1,1],\"padding\":\"same\",\"depth_multiplier\":1,"
    "\"activation\":\"linear\",\"use_bias\":false},\"inbound_nodes\":[[[\"r1\",0,0,{}]]]},"
    "{\"class_name\":\"BatchNormalization\",\"name\":\"bn2\",\"config\":{\"name\":\"bn2\","
    "\"epsilon\":0.001},\"inbound_nodes\":[[[\"dw\",0,0,{}]]]},"
    "{\"class_name\":\"ReLU\",\"name\":\"r2\",\"config\":{\"name\":\"r2\"},"
    "\"inbound_nodes\":[[[\"bn2\",0,0,{}]]]},"
    "{\"class_name\":\"Conv2D\",\"name\":\"pw\",\"config\":{\"name\":\"pw\",\"filters\":8,"
    "\"kernel_size\":[1,1],\"padding\":\"valid\",\"activation\":\"linear\",\"use_bias\":true},"
    "\"inbound_nodes\":[[[\"r2\",0,0,{}]]]},"
    "{\"class_name\":\"BatchNormalization\",\"name\":\"bn3\",\"config\":{\"name\":\"bn3\","
    "\"epsilon\":0.001},\"inbound_nodes\":[[[\"pw\",0,0,{}]]]},"
    "{\"class_name\":\"Add\",\"name\":\"res\",\"config\":{\"name\":\"res\"},"
    "\"inbound_nodes\":[[[\"bn3\",0,0,{}],[\"r1\",0,0,{}]]]},"
    "{\"class_name\":\"MaxPooling2D\",\"name\":\"mp\",\"config\":{\"name\":\"mp\","
    "\"pool_size\":[2,2]},\"inbound_nodes\":[[[\"res\",0,0,{}]]]},"
    "{\"class_name\":\"AveragePooling2D\",\"name\":\"ap\",\"config\":{\"name\":\"ap\","
    "\"pool_size\":[2,2]},\"inbound_nodes\":[[[\"mp\",0,0,{}]]]},"
    "{\"class_name\":\"GlobalAveragePooling2D\",\"name\":\"gap\",\"config\":{\"name\":\"gap\"},"
    "\"inbound_nodes\":[[[\"ap\",0,0,{}]]]},"
    "{\"class_name\":\"Dense\",\"name\":\"hidden\",\"config\":{\"name\":\"hidden\",\"units\":16,"
    "\"activation\":\"relu\"},\"inbound_nodes\":[[[\"gap\",0,0,{}]]]},"
    "{\"class_name\":\"Dense\",\"name\":\"preds\",\"config\":{\"name\":\"preds\",\"units\":4,"
    "\"activation\":\"softmax\"},\"inbound_nodes\":[[[\"hidden\",0,0,{}]]]}],"
    "\"input_layers\":[[\"img\",0,0]],\"output_layers\":[[\"preds\",0,0]]}}";

/* qnet with seeded weights and batch norms with non-trivial statistics. */
static crest_model *qnet(void)
{
    cJSON *topo = cJSON_Parse(topology);
    assert_non_null(topo);
    crest_model *m = NULL;
    int rc = cr_model_from_topology(topo, &m);
    cJSON_Delete(topo);
    if (rc)
        fail_msg("%s", crest_last_error());
    assert_int_equal(cr_model_build(m), CREST_OK);
    cr_rng r;
    cr_rng_seed(&r, 11);
    const char *bns[] = { "bn1", "bn2", "bn3" };
    for (int b = 0; b < 3; b++) {
        char name[64];
        const char *part[] = { "gamma", "beta", "moving_mean", "moving_variance" };
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "%s/%s", bns[b], part[k]);
            cr_weight *w = cr_model_find_weight(m, name);
            assert_non_null(w);
            for (int64_t i = 0; i < w->size; i++) {
                double u = cr_rng_uniform(&r);
                w->val[i] = (float)(k == 0 ? 0.5 + u : k == 1 ? u - 0.5 : k == 2 ? 0.4 * (u - 0.5)
                                                                                : 0.2 + u);
            }
            w->version++;
        }
    }
    /* the classifier decisive enough that the top class is stable */
    cr_weight *k = cr_model_find_weight(m, "preds/kernel");
    for (int64_t i = 0; i < k->size; i++)
        k->val[i] *= 4;
    k->version++;
    return m;
}

static float *images(size_t n, uint64_t seed)
{
    cr_rng r;
    cr_rng_seed(&r, seed);
    float *x = malloc(n * H * W * CIN * sizeof *x);
    for (size_t i = 0; i < n * H * W * CIN; i++)
        x[i] = (float)cr_rng_uniform(&r) * 2 - 1;
    return x;
}

static crest_dataset *image_set(size_t n, uint64_t seed)
{
    float *x = images(n, seed);
    int32_t *y = calloc(n, sizeof *y);
    crest_dataset *d = NULL;
    assert_int_equal(crest_dataset_new(&d, n, crest_shape(3, H, W, CIN), x, y, CLASSES),
                     CREST_OK);
    free(x);
    free(y);
    return d;
}

static int top(const float *p)
{
    int b = 0;
    for (int k = 1; k < CLASSES; k++)
        if (p[k] > p[b])
            b = k;
    return b;
}

/* The operations crest_model_profile counts over 2 samples. */
static double profile_flops(crest_model *m, const float *x)
{
    crest_profile_entry *e = NULL;
    int ne = 0;
    assert_int_equal(crest_model_profile(m, x, 2, 1, &e, &ne), CREST_OK);
    double f = 0;
    for (int i = 0; i < ne; i++)
        f += e[i].flops;
    crest_free(e);
    return f;
}

static void test_quantize_close_and_reloads_bit_identical(void **state)
{
    (void)state;
    enum { N = 300 };
    crest_model *m = qnet();
    float *x = images(N, 5);
    float *pf = malloc(N * CLASSES * sizeof *pf), *pq = malloc(N * CLASSES * sizeof *pq);
    float *pl = malloc(N * CLASSES * sizeof *pl), *p1 = malloc(N * CLASSES * sizeof *p1);
    assert_int_equal(crest_predict(m, x, N, pf), CREST_OK);
    size_t params = crest_model_param_count(m, false);

    double flops_f = profile_flops(m, x), flops_q;
    crest_dataset *cal = image_set(200, 9);
    assert_int_equal(crest_quantize(m, cal, &(crest_quant_opts){ .samples = 200 }), CREST_OK);
    assert_true(crest_model_quantized(m));
    /* the profile counts the int8 convolutions' and Dense layers' operations
     * as the float ones' (all of them are int8 here) */
    flops_q = profile_flops(m, x);
    assert_true(flops_f > 0);
    assert_true(flops_q == flops_f);
    crest_quant_info qi;
    assert_int_equal(crest_quant_info_get(m, &qi), CREST_OK);
    assert_int_equal(qi.folded_bn, 3);
    assert_int_equal(qi.activations, CREST_QACT_UINT8);
    assert_int_equal(qi.int8_weights, 5);   /* c1, dw, pw, hidden, preds */
    /* conv, depthwise, 1x1 conv, add, max pool, average pool, global pool,
     * two Dense: all int8; the softmax stays float */
    assert_int_equal(qi.int8_nodes, 9);
    assert_int_equal(qi.float_nodes, 1);
    assert_null(crest_model_find_layer(m, "bn1"));
    assert_true(crest_model_param_count(m, false) < params);

    assert_int_equal(crest_model_set_threads(m, 2), CREST_OK);
    assert_int_equal(crest_predict(m, x, N, pq), CREST_OK);
    int agree = 0;
    double worst = 0;
    for (int i = 0; i < N; i++) {
        agree += top(pf + i * CLASSES) == top(pq + i * CLASSES);
        for (int k = 0; k < CLASSES; k++)
            worst = fmax(worst, fabs(pf[i * CLASSES + k] - pq[i * CLASSES + k]));
    }
    print_message("int8 vs float: top-1 agreement %d/%d, max |dp| %.4f\n", agree, N, worst);
    assert_true(agree >= N * 95 / 100);
    assert_true(worst < 0.02);   /* seen: 0.004 */

    /* one thread: the same bits */
    assert_int_equal(crest_model_set_threads(m, 1), CREST_OK);
    assert_int_equal(crest_predict(m, x, N, p1), CREST_OK);
    assert_memory_equal(pq, p1, N * CLASSES * sizeof *pq);

    /* saved: 1 byte per kernel weight; loaded: the same bits */
    char dir[64];
    tu_tmpdir(dir, sizeof dir);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model *l = NULL;
    if (crest_model_load(&l, dir))
        fail_msg("%s", crest_last_error());
    assert_true(crest_model_quantized(l));
    assert_int_equal(crest_predict(l, x, N, pl), CREST_OK);
    assert_memory_equal(pq, pl, N * CLASSES * sizeof *pq);
    /* and saved again: the same files */
    char dir2[64];
    tu_tmpdir(dir2, sizeof dir2);
    assert_int_equal(crest_model_save(l, dir2), CREST_OK);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cmp -s %s/model.json %s/model.json", dir, dir2);
    assert_int_equal(system(cmd), 0);

    /* refusals: training, Keras formats, TF.js weight quantization, twice */
    char path[128];
    snprintf(path, sizeof path, "%s/m.h5", dir);
    assert_int_equal(crest_model_save_h5(l, path), CREST_E_UNSUPPORTED);
    assert_non_null(strstr(crest_last_error(), "int8-quantized"));
    assert_non_null(strstr(crest_last_error(), "qnet"));
    snprintf(path, sizeof path, "%s/m.keras", dir);
    assert_int_equal(crest_model_save_keras(l, path), CREST_E_UNSUPPORTED);
    assert_int_equal(crest_model_save_quantized(l, dir2, CREST_WQ_UINT8), CREST_E_UNSUPPORTED);
    assert_int_equal(crest_quantize(l, cal, NULL), CREST_E_STATE);
    assert_int_equal(crest_compile(l, &(crest_compile_opts){ .optimizer = crest_adam(1e-3f),
                                                             .loss = CREST_SPARSE_CCE }),
                     CREST_OK);
    assert_int_equal(crest_fit(l, cal, &(crest_fit_opts){ .epochs = 1 }), CREST_E_UNSUPPORTED);
    assert_non_null(strstr(crest_last_error(), "cannot be trained"));
    /* evaluate runs the int8 graph (its loss graph is rewritten too) */
    crest_metrics met;
    assert_int_equal(crest_evaluate(l, cal, 0, &met), CREST_OK);
    assert_int_equal((int)met.n, 200);

    snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, dir2);
    assert_int_equal(system(cmd), 0);
    crest_model_free(l);
    crest_dataset_free(cal);
    crest_model_free(m);
    free(x);
    free(pf);
    free(pq);
    free(pl);
    free(p1);
}

/* int16 activations (TFLite's 16x8): the same ops run integer (none falls
 * back to float), much closer to the float model than uint8 on the same
 * calibration; the type is saved, reload and 1 / 2 threads give the same
 * bits; exports refuse it (not written yet). */
static double max_gap(const float *a, const float *b, int n)
{
    double w = 0;
    for (int i = 0; i < n; i++)
        w = fmax(w, fabs(a[i] - b[i]));
    return w;
}

static double mean_gap(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += fabs(a[i] - b[i]);
    return s / n;
}

/* m's kernels on per-channel int8 grids already (quantize keeps them
 * exact), so that only the activations' rounding is left. */
static void grid_kernels(crest_model *m)
{
    for (int i = 0; i < m->n_weights; i++) {
        cr_weight *w = m->weights[i];
        if (!strstr(w->name, "kernel"))
            continue;
        int oc = cr_kernel_channels(w);
        for (int o = 0; o < oc; o++) {
            float mx = 0;
            for (int64_t r = o; r < w->size; r += oc)
                mx = fmaxf(mx, fabsf(w->val[r]));
            for (int64_t r = o; mx > 0 && r < w->size; r += oc)
                w->val[r] = nearbyintf(w->val[r] / (mx / 127)) * (mx / 127);
        }
        w->version++;
    }
}

static void test_int16_activations(void **state)
{
    (void)state;
    enum { N = 300 };
    crest_model *m = qnet(), *m8 = qnet();
    grid_kernels(m);
    grid_kernels(m8);
    float *x = images(N, 5);
    float *pf = malloc(N * CLASSES * sizeof *pf), *p8 = malloc(N * CLASSES * sizeof *p8);
    float *p16 = malloc(N * CLASSES * sizeof *p16), *pl = malloc(N * CLASSES * sizeof *pl);
    assert_int_equal(crest_predict(m, x, N, pf), CREST_OK);
    crest_dataset *cal = image_set(200, 9);
    assert_int_equal(crest_quantize(m8, cal, &(crest_quant_opts){ .samples = 200 }), CREST_OK);
    assert_int_equal(crest_quantize(m, cal, &(crest_quant_opts){ .samples = 200,
                                                                .activations = CREST_QACT_INT16 }),
                     CREST_OK);
    crest_quant_info qi;
    assert_int_equal(crest_quant_info_get(m, &qi), CREST_OK);
    assert_int_equal(qi.int8_nodes, 9);   /* as with uint8: every op but the softmax */
    assert_int_equal(qi.float_nodes, 1);
    assert_int_equal(qi.activations, CREST_QACT_INT16);
    assert_true(m->quant->act16);
    for (int i = 0; i < m->quant->n_act; i++)
        assert_int_equal(m->quant->act[i].z, 0);
    assert_int_equal(crest_model_set_threads(m, 2), CREST_OK);
    assert_int_equal(crest_predict(m, x, N, p16), CREST_OK);
    assert_int_equal(crest_predict(m8, x, N, p8), CREST_OK);
    /* the largest gaps are inputs past the calibrated ranges (clipped alike
     * in both); the mean gap is the rounding's */
    double w8 = max_gap(pf, p8, N * CLASSES), w16 = max_gap(pf, p16, N * CLASSES);
    double a8 = mean_gap(pf, p8, N * CLASSES), a16 = mean_gap(pf, p16, N * CLASSES);
    print_message("|dp| vs float: uint8 max %.5f mean %.6f, int16 max %.5f mean %.6f\n", w8, a8,
                  w16, a16);
    assert_true(w16 < 0.01);
    assert_true(a16 * 10 < a8);
    assert_int_equal(crest_model_set_threads(m, 1), CREST_OK);
    assert_int_equal(crest_predict(m, x, N, pl), CREST_OK);
    assert_memory_equal(p16, pl, N * CLASSES * sizeof *pl);

    char dir[64], cmd[256], path[128];
    tu_tmpdir(dir, sizeof dir);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    snprintf(cmd, sizeof cmd, "grep -q '\"activations_dtype\":\"int16\"' %s/model.json", dir);
    assert_int_equal(system(cmd), 0);
    crest_model *l = NULL;
    if (crest_model_load(&l, dir))
        fail_msg("%s", crest_last_error());
    assert_true(l->quant->act16);

    memset(pl, 0, N * CLASSES * sizeof *pl);
    assert_int_equal(crest_predict(l, x, N, pl), CREST_OK);
    assert_memory_equal(p16, pl, N * CLASSES * sizeof *pl);
    crest_metrics met;   /* evaluate runs the int16 graph (its loss graph rewritten too) */
    assert_int_equal(crest_compile(l, &(crest_compile_opts){ .optimizer = crest_adam(1e-3f),
                                                             .loss = CREST_SPARSE_CCE }),
                     CREST_OK);
    if (crest_evaluate(l, cal, 0, &met))
        fail_msg("%s", crest_last_error());
    assert_int_equal((int)met.n, 200);
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    assert_int_equal(crest_model_save_onnx(l, path), CREST_E_UNSUPPORTED);
    assert_non_null(strstr(crest_last_error(), "int16 activations"));
    snprintf(path, sizeof path, "%s/m.tflite", dir);   /* TFLite's 16x8 (quantized16_export.sh) */
    if (crest_model_save_tflite(l, path))
        fail_msg("%s", crest_last_error());
    /* a zero point in an int16 section is refused on load */
    snprintf(cmd, sizeof cmd, "sed -i 's/\\(\"activations\":{\"[^\"]*\":\\[[^,]*,\\)0/\\17/' "
             "%s/model.json && grep -q '\"activations\":{\"[^\"]*\":\\[[^,]*,7' %s/model.json",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    crest_model *bad = NULL;
    assert_int_equal(crest_model_load(&bad, dir), CREST_E_FORMAT);
    assert_non_null(strstr(crest_last_error(), "0 for int16"));
    crest_model *fresh = qnet();
    assert_int_equal(crest_quantize(fresh, cal,
                                    &(crest_quant_opts){ .activations = (crest_quant_act)7 }),
                     CREST_E_ARG);
    crest_model_free(fresh);

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    crest_model_free(l);
    crest_model_free(m);
    crest_model_free(m8);
    crest_dataset_free(cal);
    free(x);
    free(pf);
    free(p8);
    free(p16);
    free(pl);
}

/* The shard holds int8 codes for the kernels (1 byte each) and float32 for
 * the rest; the codes decode to the weights in memory. */
static void test_int8_shard(void **state)
{
    (void)state;
    crest_model *m = qnet();
    crest_dataset *cal = image_set(64, 3);
    assert_int_equal(crest_quantize(m, cal, &(crest_quant_opts){ .method = CREST_CALIB_PERCENTILE,
                                                                 .percentile = 99.9 }),
                     CREST_OK);
    size_t kernels = 0, rest = 0;
    for (int i = 0; i < m->n_weights; i++)
        if (cr_quant_weight(m->quant, m->weights[i]))
            kernels += (size_t)m->weights[i]->size;
        else
            rest += (size_t)m->weights[i]->size;
    assert_int_equal(kernels, 3 * 3 * 3 * 8 + 3 * 3 * 8 + 8 * 8 + 8 * 16 + 16 * 4);
    char dir[64];
    tu_tmpdir(dir, sizeof dir);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    char *text = NULL;
    size_t len;
    char path[128];
    snprintf(path, sizeof path, "%s/model.json", dir);
    assert_int_equal(cr_read_file(path, 0, &text, &len), CREST_OK);
    assert_non_null(strstr(text, "\"crestQuantization\""));
    assert_non_null(strstr(text, "\"calibration\":\"percentile\""));
    assert_non_null(strstr(text, "\"dtype\":\"int8\""));
    const char *sh = strstr(text, "weights.");
    assert_non_null(sh);
    char shard[64];
    snprintf(shard, sizeof shard, "%.28s", sh);
    assert_int_equal(tu_size(dir, shard), kernels + 4 * rest);
    cr_free(text);
    /* every kernel value is scale[c] * q, q in [-127, 127] */
    const cr_qweight *qw = NULL;
    for (int i = 0; i < m->n_weights; i++)
        if ((qw = cr_quant_weight(m->quant, m->weights[i]))) {
            const cr_weight *w = m->weights[i];
            for (int64_t k = 0; k < w->size; k++) {
                float q = w->val[k] / qw->scale[k % qw->oc];
                assert_true(fabsf(q - nearbyintf(q)) < 1e-3f && fabsf(q) <= 127.001f);
            }
        }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    crest_dataset_free(cal);
    crest_model_free(m);
}

/* A kernel whose columns already lie on grids through 0 (weights quantized
 * before, as TF.js uint8 models and QAT models give them) keeps exactly its
 * values: the int8 scale is the grid's step, not max / 127. Columns off any
 * grid are rounded to max / 127 as before. */
static void test_grid_weights_kept(void **state)
{
    (void)state;
    crest_model *m = qnet();
    cr_weight *k = cr_model_find_weight(m, "hidden/kernel");   /* [8, 16] */
    assert_non_null(k);
    enum { OC = 16, ON_GRID = 12 };
    assert_int_equal(k->size, 8 * OC);
    cr_rng r;
    cr_rng_seed(&r, 21);
    for (int64_t i = 0; i < k->size; i++) {
        int o = (int)(i % OC);
        double u = cr_rng_uniform(&r);
        if (o < ON_GRID) {
            int q = (int)(u * 241) - 120;   /* |q| <= 120: max / 127 is not the step */
            if (o == 0 && q > -3 && q < 3)
                q = 5;   /* the smallest |q| is not the step */
            k->val[i] = (float)(q * 0.01 * (1 + 0.37 * o));
        } else {
            k->val[i] = (float)(u - 0.5);
        }
    }
    k->version++;
    float *w0 = malloc((size_t)k->size * sizeof *w0);
    memcpy(w0, k->val, (size_t)k->size * sizeof *w0);
    crest_dataset *cal = image_set(64, 4);
    assert_int_equal(crest_quantize(m, cal, NULL), CREST_OK);
    const cr_qweight *qw = cr_quant_weight(m->quant, k);
    assert_non_null(qw);
    double moved = 0;
    for (int64_t i = 0; i < k->size; i++) {
        int o = (int)(i % OC);
        double d = fabs((double)k->val[i] - w0[i]);
        if (o < ON_GRID)
            assert_true(d <= 1e-6 * fabs(w0[i]));
        else
            assert_true(d <= qw->scale[o] * 0.5001);
        moved = o >= ON_GRID ? fmax(moved, d) : moved;
    }
    assert_true(moved > 0);   /* off the grid: rounded */
    crest_dataset_free(cal);
    crest_model_free(m);
    free(w0);
}

/* Layers named to stay float keep float kernels (no int8 scales), also
 * after a save and a load; names that are no layer, or a layer without a
 * kernel, are refused and leave the model float. */
/* The saved folder dir (c1 and hidden kept float) with its keep_float list
 * edited: loads that fail naming the fault, and a valid edit that loads. */
static void keep_float_tampered(const char *dir)
{
    static const struct {
        const char *to, *msg;
    } edits[] = {
        { "\"keep_float\":\"c1\"", "keep_float is not an array" },
        { "\"keep_float\":[\"c1\",7]", "keep_float holds a non-string" },
        { "\"keep_float\":[\"c1\",\"nope\"]", "'nope', which is not a layer" },
        { "\"keep_float\":[\"c1\",\"pw\"]", "weight 'pw/kernel' has int8 scales" },
        { "\"keep_float\":[\"c1\"]", NULL },
    };
    char *orig = tu_read(dir, "model.json");
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        char *t = tu_replace(orig, "\"keep_float\":[\"c1\",\"hidden\"]", edits[i].to);
        tu_write(dir, "model.json", t, strlen(t));
        free(t);
        crest_model *l = NULL;
        int rc = crest_model_load(&l, dir);
        if (!edits[i].msg) {
            assert_int_equal(rc, CREST_OK);
            crest_model_free(l);
            continue;
        }
        assert_int_equal(rc, CREST_E_FORMAT);
        assert_null(l);
        if (!strstr(crest_last_error(), edits[i].msg))
            fail_msg("edit %zu: %s", i, crest_last_error());
    }
    tu_write(dir, "model.json", orig, strlen(orig));
    free(orig);
}

static void test_keep_float(void **state)
{
    (void)state;
    enum { N = 50 };
    crest_model *m = qnet();
    crest_dataset *cal = image_set(64, 6);
    const char *bad[] = { "nope" }, *nokernel[] = { "c1", "res" }, *keep[] = { "c1", "hidden" };
    assert_int_equal(crest_quantize(m, cal, &(crest_quant_opts){ .keep_float = bad,
                                                                 .n_keep_float = 1 }),
                     CREST_E_ARG);
    assert_non_null(strstr(crest_last_error(), "no layer 'nope'"));
    assert_int_equal(crest_quantize(m, cal, &(crest_quant_opts){ .keep_float = nokernel,
                                                                 .n_keep_float = 2 }),
                     CREST_E_ARG);
    assert_non_null(strstr(crest_last_error(), "layer 'res' has no kernel"));
    assert_int_equal(crest_quantize(m, cal, &(crest_quant_opts){ .n_keep_float = 1 }),
                     CREST_E_ARG);
    assert_false(crest_model_quantized(m));

    assert_int_equal(crest_quantize(m, cal, &(crest_quant_opts){ .keep_float = keep,
                                                                 .n_keep_float = 2 }),
                     CREST_OK);
    crest_quant_info qi;
    assert_int_equal(crest_quant_info_get(m, &qi), CREST_OK);
    assert_int_equal(qi.int8_weights, 3);   /* dw, pw, preds */
    assert_null(cr_quant_weight(m->quant, cr_model_find_weight(m, "c1/kernel")));
    assert_null(cr_quant_weight(m->quant, cr_model_find_weight(m, "hidden/kernel")));
    assert_non_null(cr_quant_weight(m->quant, cr_model_find_weight(m, "dw/depthwise_kernel")));
    assert_true(qi.float_nodes > 1);
    float *x = images(N, 8), *p = malloc(N * CLASSES * sizeof *p), *pl = malloc(N * CLASSES * sizeof *pl);
    assert_int_equal(crest_predict(m, x, N, p), CREST_OK);

    char dir[64], path[128], *text = NULL;
    size_t len;
    tu_tmpdir(dir, sizeof dir);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    snprintf(path, sizeof path, "%s/model.json", dir);
    assert_int_equal(cr_read_file(path, 0, &text, &len), CREST_OK);
    assert_non_null(strstr(text, "\"keep_float\":[\"c1\",\"hidden\"]"));
    cr_free(text);
    crest_model *l = NULL;
    if (crest_model_load(&l, dir))
        fail_msg("%s", crest_last_error());
    crest_quant_info li;
    assert_int_equal(crest_quant_info_get(l, &li), CREST_OK);
    assert_int_equal(li.int8_weights, 3);
    assert_int_equal(crest_predict(l, x, N, pl), CREST_OK);
    assert_memory_equal(p, pl, N * CLASSES * sizeof *p);
    crest_model_free(l);
    keep_float_tampered(dir);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    crest_dataset_free(cal);
    crest_model_free(m);
    free(x);
    free(p);
    free(pl);
}

/* Calibration data of the wrong shape, none, or bad options: errors that
 * say so, and the model is left as it was. */
static void test_bad_calibration(void **state)
{
    (void)state;
    crest_model *m = qnet();
    float x[10 * 5] = { 0 };
    int32_t y[10] = { 0 };
    crest_dataset *d = NULL;
    assert_int_equal(crest_dataset_new(&d, 10, crest_shape(1, 5), x, y, 2), CREST_OK);
    assert_int_equal(crest_quantize(m, d, NULL), CREST_E_SHAPE);
    assert_non_null(strstr(crest_last_error(), "calibration samples are [5]"));
    assert_false(crest_model_quantized(m));
    crest_dataset_free(d);
    crest_dataset *cal = image_set(8, 1);
    assert_int_equal(crest_quantize(m, cal, &(crest_quant_opts){ .method = CREST_CALIB_PERCENTILE,
                                                                 .percentile = 20 }),
                     CREST_E_ARG);
    assert_int_equal(crest_quantize(m, NULL, NULL), CREST_E_ARG);
    assert_false(crest_model_quantized(m));
    crest_dataset_free(cal);
    crest_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_close_and_reloads_bit_identical),
        cmocka_unit_test(test_int8_shard),
        cmocka_unit_test(test_int16_activations),
        cmocka_unit_test(test_grid_weights_kept),
        cmocka_unit_test(test_keep_float),
        cmocka_unit_test(test_bad_calibration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
