/* test_transfer.c - include_top=False cuts, freezing, the feature cache, and
 * attaching a trained head. Small backbones built here; the MobileNetV2
 * recipe is tests/scripts/way3_pretrained.sh. */
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
#include "json.h"
#include "testutil.h"
#include "blobs.h"

static crest_dataset *blobs(size_t n, uint64_t seed) { return tu_blobs(n, seed, 0.7f, 1.5f); }

/* Input(8) -> Dense(16, relu) 'feat' -> Activation 'feat_act' -> Dropout -> Dense(3) 'top' */
static crest_model *backbone(void)
{
    crest_model *m = NULL;
    assert_int_equal(crest_functional_new(&m, "backbone"), CREST_OK);
    crest_model_set_seed(m, 5);
    crest_sym *in = crest_input(m, crest_shape(1, 8), "x");
    crest_layer *f = crest_dense(16, CREST_LINEAR), *a = crest_activation(CREST_RELU);
    crest_layer *top = crest_dense(3, CREST_SOFTMAX);
    crest_layer_set_name(f, "feat");
    crest_layer_set_name(a, "feat_act");
    crest_layer_set_name(top, "top");
    crest_sym *y = crest_apply(m, top, crest_apply(m, crest_dropout(0.2f),
                                                   crest_apply(m, a, crest_apply(m, f, in))));
    assert_int_equal(crest_functional_outputs(m, &in, 1, &y, 1), CREST_OK);
    return m;
}

static float *snapshot(crest_model *m, int first, int count, size_t *n)
{
    size_t total = 0;
    for (int i = first; i < first + count; i++)
        for (int k = 0; k < m->layers[i]->n_w; k++)
            total += (size_t)m->layers[i]->w[k]->size;
    float *s = malloc((total ? total : 1) * sizeof *s), *p = s;
    for (int i = first; i < first + count; i++)
        for (int k = 0; k < m->layers[i]->n_w; k++) {
            memcpy(p, m->layers[i]->w[k]->val, (size_t)m->layers[i]->w[k]->size * sizeof *p);
            p += m->layers[i]->w[k]->size;
        }
    *n = total;
    return s;
}

static void test_cut(void **state)
{
    (void)state;
    crest_model *m = backbone();
    char name[128];
    assert_int_equal(crest_model_default_cut(m, name, sizeof name), CREST_OK);
    assert_string_equal(name, "feat_act");
    assert_int_equal(crest_model_cut(m, "nope", CREST_POOL_AVG), CREST_E_ARG);
    assert_non_null(strstr(crest_last_error(), "nope"));
    assert_int_equal(crest_model_cut(m, NULL, CREST_POOL_AVG), CREST_OK);   /* 1-D: no pooling */
    assert_int_equal(crest_model_layer_count(m), 2);
    assert_null(crest_model_find_layer(m, "top"));
    assert_int_equal(crest_model_output_size(m), 16);
    assert_int_equal(crest_model_param_count(m, false), 8 * 16 + 16);
    /* the cut model predicts relu(x W + b) */
    float x[8] = { 1, -2, 3, 0.5f, 0, 1, -1, 2 }, y[16];
    assert_int_equal(crest_predict(m, x, 1, y), CREST_OK);
    const crest_layer *f = crest_model_find_layer(m, "feat");
    for (int j = 0; j < 16; j++) {
        double s = f->w[1]->val[j];
        for (int i = 0; i < 8; i++)
            s += x[i] * f->w[0]->val[i * 16 + j];
        assert_true(fabs(y[j] - fmax(s, 0)) < 1e-5);
    }
    /* cutting again, at an earlier layer, and saving / loading the cut model */
    assert_int_equal(crest_model_cut(m, "feat", CREST_POOL_NONE), CREST_OK);
    assert_int_equal(crest_model_layer_count(m), 1);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cut", tu_fixture_dir);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model *back = NULL;
    assert_int_equal(crest_model_load(&back, dir), CREST_OK);
    assert_int_equal(crest_model_output_size(back), 16);
    crest_model_free(back);
    crest_model_free(m);
    /* Sequential: default cut below the Dense/Dropout top, then a new head */
    crest_model *s = NULL, *head = NULL;
    assert_int_equal(crest_sequential_new(&s, crest_shape(1, 8)), CREST_OK);
    crest_add(s, crest_dense(6, CREST_LINEAR));
    crest_add(s, crest_activation(CREST_TANH));
    crest_add(s, crest_dropout(0.5f));
    assert_int_equal(crest_add(s, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_model_default_cut(s, name, sizeof name), CREST_OK);
    assert_string_equal(name, "activation");
    assert_int_equal(crest_model_cut(s, NULL, CREST_POOL_AVG), CREST_OK);
    assert_int_equal(crest_model_layer_count(s), 2);
    assert_int_equal(crest_model_output_size(s), 6);
    float feat[6], probs[2], want[2];
    assert_int_equal(crest_predict(s, x, 1, feat), CREST_OK);
    assert_int_equal(crest_sequential_new(&head, crest_shape(1, 6)), CREST_OK);
    assert_int_equal(crest_add(head, crest_dense(2, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_predict(head, feat, 1, want), CREST_OK);
    assert_int_equal(crest_model_append(s, head), CREST_OK);
    assert_int_equal(crest_model_layer_count(s), 3);
    assert_int_equal(crest_predict(s, x, 1, probs), CREST_OK);
    assert_true(fabsf(probs[0] - want[0]) < 1e-6f && fabsf(probs[1] - want[1]) < 1e-6f);
    crest_model_free(head);
    crest_model_free(s);
    /* an empty Sequential has nothing to cut */
    assert_int_equal(crest_sequential_new(&s, crest_shape(1, 4)), CREST_OK);
    assert_int_equal(crest_model_cut(s, NULL, CREST_POOL_AVG), CREST_E_ARG);
    crest_model_free(s);
}

static void test_feature_cache(void **state)
{
    (void)state;
    char cache[512];
    snprintf(cache, sizeof cache, "%s/cache", tu_fixture_dir);
    crest_model *m = backbone();
    assert_int_equal(crest_model_cut(m, NULL, CREST_POOL_AVG), CREST_OK);
    assert_int_equal(crest_model_set_trainable(m, 0, -1, false), CREST_OK);
    crest_dataset *d = blobs(100, 1), *f1 = NULL, *f2 = NULL, *f3 = NULL, *f0 = NULL;
    crest_extract_stats st;
    crest_extract_opts o = { .batch_size = 7, .cache_dir = cache, .stats = &st };
    assert_int_equal(crest_extract(m, d, &o, &f1), CREST_OK);
    assert_false(st.cache_hit);
    assert_int_equal(tu_count_files(cache), 1);
    assert_int_equal(crest_dataset_size(f1), 100);
    assert_int_equal(crest_dataset_sample_shape(f1).d[0], 16);
    assert_memory_equal(crest_dataset_labels(f1), crest_dataset_labels(d), 100 * sizeof(int32_t));
    /* same as an uncached pass, and as predict */
    assert_int_equal(crest_extract(m, d, &(crest_extract_opts){ .batch_size = 32 }, &f0),
                     CREST_OK);
    assert_memory_equal(crest_dataset_x(f0), crest_dataset_x(f1), 100 * 16 * sizeof(float));
    /* reused: a hit, identical values, no forward pass needed */
    assert_int_equal(crest_extract(m, d, &o, &f2), CREST_OK);
    assert_true(st.cache_hit);
    assert_memory_equal(crest_dataset_x(f2), crest_dataset_x(f1), 100 * 16 * sizeof(float));
    crest_dataset_free(f2);
    /* reused by a later run: a fresh model from the same weights */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bb", tu_fixture_dir);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model *again = NULL;
    assert_int_equal(crest_model_load(&again, dir), CREST_OK);
    assert_int_equal(crest_extract(again, d, &o, &f2), CREST_OK);
    assert_true(st.cache_hit);
    crest_dataset_free(f2);
    /* invalidated: other data */
    d->x[17] += 0.25f;
    assert_int_equal(crest_extract(m, d, &o, &f3), CREST_OK);
    assert_false(st.cache_hit);
    assert_int_equal(tu_count_files(cache), 2);
    d->x[17] -= 0.25f;
    /* invalidated: other weights */
    crest_model_find_layer(again, "feat")->w[0]->val[3] += 1e-3f;
    assert_int_equal(crest_extract(again, d, &o, &f2), CREST_OK);
    assert_false(st.cache_hit);
    crest_dataset_free(f2);
    /* a damaged cache file is recomputed, not trusted */
    FILE *fp = fopen(st.cache_file, "r+b");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fclose(fp);
    assert_int_equal(truncate(st.cache_file, len - 4), 0);
    assert_int_equal(crest_extract(again, d, &o, &f2), CREST_OK);
    assert_false(st.cache_hit);
    crest_dataset_free(f2);
    crest_model_free(again);
    crest_dataset_free(f0);
    crest_dataset_free(f1);
    crest_dataset_free(f3);
    crest_dataset_free(d);
    crest_model_free(m);
}

/* Input [4, 4, 3] -> Flatten -> Dense(5) 'feat' -> Dense(2) */
static crest_model *image_backbone(void)
{
    crest_model *m = NULL;
    assert_int_equal(crest_functional_new(&m, "imgnet"), CREST_OK);
    crest_sym *in = crest_input(m, crest_shape(3, 4, 4, 3), NULL);
    crest_layer *f = crest_dense(5, CREST_RELU);
    crest_layer_set_name(f, "feat");
    crest_sym *y = crest_apply(m, crest_dense(2, CREST_SOFTMAX),
                               crest_apply(m, f, crest_apply(m, crest_flatten(), in)));
    assert_int_equal(crest_functional_outputs(m, &in, 1, &y, 1), CREST_OK);
    return m;
}

static void test_feature_cache_input_transform(void **state)
{
    (void)state;
    char cache[512];
    snprintf(cache, sizeof cache, "%s/cache2", tu_fixture_dir);
    crest_model *m = image_backbone();
    assert_int_equal(crest_model_cut(m, "feat", CREST_POOL_AVG), CREST_OK);
    float x[6 * 4];   /* six grey 2x2 images, values 0..1 */
    int32_t y[6] = { 0, 1, 0, 1, 0, 1 };
    for (int i = 0; i < 24; i++)
        x[i] = (float)((i * 7) % 11) / 10.0f;
    crest_dataset *d = NULL, *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(crest_dataset_new(&d, 6, crest_shape(2, 2, 2), x, y, 2), CREST_OK);
    crest_image_opts t1 = { .height = 4, .width = 4 }, t2 = t1;
    t2.preprocess = CREST_PRE_TF;
    crest_extract_stats st;
    crest_extract_opts o = { .input = &t1, .cache_dir = cache, .stats = &st };
    assert_int_equal(crest_extract(m, d, &o, &a), CREST_OK);
    assert_false(st.cache_hit);
    /* feature 0 equals predict on the transformed image */
    float in[48], want[5];
    crest_image img = { 2, 2, 1, x };
    assert_int_equal(crest_image_to_input(&img, &t1, in), CREST_OK);
    assert_int_equal(crest_predict(m, in, 1, want), CREST_OK);
    assert_memory_equal(crest_dataset_x(a), want, sizeof want);
    assert_int_equal(crest_extract(m, d, &o, &b), CREST_OK);
    assert_true(st.cache_hit);
    crest_dataset_free(b);
    o.input = &t2;           /* other preprocessing: a miss, other features */
    assert_int_equal(crest_extract(m, d, &o, &b), CREST_OK);
    assert_false(st.cache_hit);
    assert_true(memcmp(crest_dataset_x(a), crest_dataset_x(b), 6 * 5 * sizeof(float)) != 0);
    o.input = NULL;          /* shapes do not fit without a transform */
    assert_int_equal(crest_extract(m, d, &o, &c), CREST_E_SHAPE);
    assert_null(c);
    crest_dataset_free(a);
    crest_dataset_free(b);
    crest_dataset_free(d);
    crest_model_free(m);
}

/* Train a head on features, append it: the whole model predicts what the
 * head predicts on the features; it saves and loads. */
static void test_head_on_features_then_append(void **state)
{
    (void)state;
    crest_model *m = backbone(), *head = NULL;
    assert_int_equal(crest_model_cut(m, NULL, CREST_POOL_AVG), CREST_OK);
    assert_int_equal(crest_model_set_trainable(m, 0, -1, false), CREST_OK);
    crest_dataset *d = blobs(300, 2), *f = NULL;
    assert_int_equal(crest_extract(m, d, NULL, &f), CREST_OK);
    assert_int_equal(crest_sequential_new(&head, crest_shape(1, 16)), CREST_OK);
    crest_add(head, crest_dropout(0.1f));
    assert_int_equal(crest_add(head, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_compile(head, &(crest_compile_opts){ .optimizer = crest_adam(1e-2f), .metrics = CREST_ACCURACY }),
                     CREST_OK);
    assert_int_equal(crest_fit(head, f, &(crest_fit_opts){ .epochs = 20, .seed = 3 }), CREST_OK);
    crest_metrics hm;
    assert_int_equal(crest_evaluate(head, f, 32, &hm), CREST_OK);
    print_message("head accuracy on features: %.3f\n", hm.accuracy);
    assert_true(hm.accuracy > 0.8);
    assert_int_equal(crest_model_append(m, head), CREST_OK);
    assert_int_equal(crest_model_output_size(m), 3);
    float *p1 = malloc(300 * 3 * sizeof *p1), *p2 = malloc(300 * 3 * sizeof *p2);
    assert_int_equal(crest_predict(m, crest_dataset_x(d), 300, p1), CREST_OK);
    assert_int_equal(crest_predict(head, crest_dataset_x(f), 300, p2), CREST_OK);
    for (int i = 0; i < 900; i++)
        assert_true(fabsf(p1[i] - p2[i]) < 1e-6f);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/full", tu_fixture_dir);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model *back = NULL;
    assert_int_equal(crest_model_load(&back, dir), CREST_OK);
    assert_int_equal(crest_predict(back, crest_dataset_x(d), 300, p2), CREST_OK);
    assert_memory_equal(p1, p2, 900 * sizeof(float));
    crest_model_free(back);
    free(p1);
    free(p2);
    crest_dataset_free(f);
    crest_dataset_free(d);
    crest_model_free(head);
    crest_model_free(m);
}

/* Frozen means frozen: fit the whole model; the backbone's weights are
 * bit-identical afterwards, the head's moved. Fine-tuning the last layer of
 * the backbone moves exactly that layer. */
static void test_frozen_means_frozen(void **state)
{
    (void)state;
    crest_model *m = NULL;
    assert_int_equal(crest_functional_new(&m, "deep"), CREST_OK);
    crest_sym *x = crest_input(m, crest_shape(1, 8), NULL);
    crest_sym *h = crest_apply(m, crest_dense(12, CREST_RELU), x);
    h = crest_apply(m, crest_dense(10, CREST_RELU), h);
    h = crest_apply(m, crest_dense(3, CREST_SOFTMAX), h);
    assert_int_equal(crest_functional_outputs(m, &x, 1, &h, 1), CREST_OK);
    assert_int_equal(crest_model_cut(m, "dense_1", CREST_POOL_AVG), CREST_OK);
    int nb = crest_model_layer_count(m);
    assert_int_equal(nb, 2);
    assert_int_equal(crest_model_set_trainable(m, 0, -1, false), CREST_OK);
    crest_model *head = NULL;
    assert_int_equal(crest_sequential_new(&head, crest_shape(1, 10)), CREST_OK);
    assert_int_equal(crest_add(head, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_model_append(m, head), CREST_OK);
    crest_model_free(head);
    assert_int_equal(crest_model_param_count(m, true), 10 * 3 + 3);
    size_t nbw, nhw, n2;
    float *bb = snapshot(m, 0, nb, &nbw), *hd = snapshot(m, nb, 1, &nhw);
    crest_dataset *d = blobs(200, 4);
    assert_int_equal(crest_compile(m, NULL), CREST_OK);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 3, .seed = 1 }), CREST_OK);
    float *bb2 = snapshot(m, 0, nb, &n2), *hd2 = snapshot(m, nb, 1, &n2);
    assert_memory_equal(bb, bb2, nbw * sizeof(float));      /* bit-identical */
    assert_true(memcmp(hd, hd2, nhw * sizeof(float)) != 0); /* the head learned */
    free(bb2);
    free(hd2);
    /* fine-tune the backbone's last layer */
    assert_int_equal(crest_model_set_trainable(m, nb - 1, 1, true), CREST_OK);
    size_t n0;
    float *first = snapshot(m, 0, 1, &n0), *last = snapshot(m, 1, 1, &n2);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(1e-4f) }),
                     CREST_OK);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 1, .seed = 1 }), CREST_OK);
    float *first2 = snapshot(m, 0, 1, &n0), *last2 = snapshot(m, 1, 1, &n2);
    assert_memory_equal(first, first2, n0 * sizeof(float));
    assert_true(memcmp(last, last2, n2 * sizeof(float)) != 0);
    free(first);
    free(first2);
    free(last);
    free(last2);
    free(bb);
    free(hd);
    crest_dataset_free(d);
    crest_model_free(m);
}

/* A convolutional backbone with BatchNorm (Keras JSON): after fit with the
 * backbone frozen, kernels and BatchNorm moving statistics are bit-identical. */
static const char *conv_topology =
    "{\"class_name\":\"Model\",\"config\":{\"name\":\"cnn\",\"layers\":["
    "{\"class_name\":\"InputLayer\",\"name\":\"img\",\"config\":{\"name\":\"img\","
    "\"batch_input_shape\":[null,6,6,2],\"dtype\":\"float32\"},\"inbound_nodes\":[]},"
    "{\"class_name\":\"Conv2D\",\"name\":\"conv\",\"config\":{\"name\":\"conv\",\"filters\":4,"
    "\"kernel_size\":[3,3],\"strides\":[1,1],\"padding\":\"same\",\"activation\":\"linear\","
    "\"use_bias\":false,\"data_format\":\"channels_last\",\"dilation_rate\":[1,1]},"
    "\"inbound_nodes\":[[[\"img\",0,0,{}]]]},"
    "{\"class_name\":\"BatchNormalization\",\"name\":\"bn\",\"config\":{\"name\":\"bn\","
    "\"axis\":-1,\"momentum\":0.9,\"epsilon\":0.001,\"center\":true,\"scale\":true},"
    "\"inbound_nodes\":[[[\"conv\",0,0,{}]]]},"
    "{\"class_name\":\"ReLU\",\"name\":\"out_relu\",\"config\":{\"name\":\"out_relu\","
    "\"max_value\":6.0},\"inbound_nodes\":[[[\"bn\",0,0,{}]]]},"
    "{\"class_name\":\"GlobalAveragePooling2D\",\"name\":\"gap\",\"config\":{\"name\":\"gap\","
    "\"data_format\":\"channels_last\"},\"inbound_nodes\":[[[\"out_relu\",0,0,{}]]]},"
    "{\"class_name\":\"Dense\",\"name\":\"preds\",\"config\":{\"name\":\"preds\",\"units\":5,"
    "\"activation\":\"softmax\",\"use_bias\":true},\"inbound_nodes\":[[[\"gap\",0,0,{}]]]}],"
    "\"input_layers\":[[\"img\",0,0]],\"output_layers\":[[\"preds\",0,0]]}}";

/* conv_topology as a model (untrained weights). */
static crest_model *conv_model(void)
{
    cJSON *topo = cJSON_Parse(conv_topology);
    assert_non_null(topo);
    crest_model *m = NULL;
    int rc = cr_model_from_topology(topo, &m);
    cJSON_Delete(topo);
    if (rc)
        fail_msg("%s", crest_last_error());
    return m;
}

static void test_frozen_batchnorm(void **state)
{
    (void)state;
    crest_model *m = conv_model();
    char cut[128];
    assert_int_equal(crest_model_default_cut(m, cut, sizeof cut), CREST_OK);
    assert_string_equal(cut, "out_relu");
    assert_int_equal(crest_model_cut(m, NULL, CREST_POOL_MAX), CREST_OK);
    assert_int_equal(crest_model_output_size(m), 4);
    /* give BatchNorm non-trivial statistics */
    crest_layer *bn = crest_model_find_layer(m, "bn");
    assert_non_null(bn);
    for (int k = 0; k < bn->n_w; k++)
        for (int64_t i = 0; i < bn->w[k]->size; i++)
            bn->w[k]->val[i] = 0.5f + 0.1f * (float)(k + i);
    int nb = crest_model_layer_count(m);
    assert_int_equal(crest_model_set_trainable(m, 0, -1, false), CREST_OK);
    crest_model *head = NULL;
    assert_int_equal(crest_sequential_new(&head, crest_shape(1, 4)), CREST_OK);
    assert_int_equal(crest_add(head, crest_dense(2, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_model_append(m, head), CREST_OK);
    crest_model_free(head);
    float *x = malloc(64 * 72 * sizeof *x);
    int32_t y[64];
    cr_rng r;
    cr_rng_seed(&r, 9);
    for (int i = 0; i < 64 * 72; i++)
        x[i] = (float)cr_rng_normal(&r);
    for (int i = 0; i < 64; i++)
        y[i] = i % 2;
    crest_dataset *d = NULL;
    assert_int_equal(crest_dataset_new(&d, 64, crest_shape(3, 6, 6, 2), x, y, 2), CREST_OK);
    size_t n1, n2;
    float *before = snapshot(m, 0, nb, &n1);
    assert_int_equal(crest_compile(m, NULL), CREST_OK);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 2, .batch_size = 16 }), CREST_OK);
    float *after = snapshot(m, 0, nb, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(before, after, n1 * sizeof(float));
    free(before);
    free(after);
    free(x);
    crest_dataset_free(d);
    crest_model_free(m);
}

/* Freeze, then unfreeze through crest_model_set_trainable (the --fine-tune
 * path): BatchNormalization stays in inference mode, so its moving
 * statistics do not move while the convolution and gamma/beta train. */
static void test_unfrozen_batchnorm_keeps_statistics(void **state)
{
    (void)state;
    crest_model *m = conv_model();
    int nl = crest_model_layer_count(m);
    assert_int_equal(crest_model_set_trainable(m, 0, -1, false), CREST_OK);
    assert_int_equal(crest_model_set_trainable(m, 0, nl, true), CREST_OK);
    crest_layer *bn = crest_model_find_layer(m, "bn");
    crest_layer *conv = crest_model_find_layer(m, "conv");
    assert_non_null(bn);
    assert_non_null(conv);
    cr_weight *mean = cr_layer_weight(bn, "moving_mean");
    cr_weight *var = cr_layer_weight(bn, "moving_variance");
    assert_non_null(mean);
    assert_non_null(var);
    float m0[4], v0[4], k0[72];
    memcpy(m0, mean->val, sizeof m0);
    memcpy(v0, var->val, sizeof v0);
    memcpy(k0, conv->w[0]->val, sizeof k0);
    float *x = malloc(64 * 72 * sizeof *x);
    int32_t y[64];
    cr_rng r;
    cr_rng_seed(&r, 3);
    for (int i = 0; i < 64 * 72; i++)
        x[i] = 2.0f + (float)cr_rng_normal(&r);   /* mean far from the moving mean 0 */
    for (int i = 0; i < 64; i++)
        y[i] = i % 5;
    crest_dataset *d = NULL;
    assert_int_equal(crest_dataset_new(&d, 64, crest_shape(3, 6, 6, 2), x, y, 5), CREST_OK);
    assert_int_equal(crest_compile(m, NULL), CREST_OK);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 1, .batch_size = 16 }), CREST_OK);
    assert_memory_equal(m0, mean->val, sizeof m0);
    assert_memory_equal(v0, var->val, sizeof v0);
    assert_true(memcmp(k0, conv->w[0]->val, sizeof k0) != 0);   /* the conv trained */
    free(x);
    crest_dataset_free(d);
    crest_model_free(m);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    char cache[512];
    snprintf(cache, sizeof cache, "%s/oomcache", tu_fixture_dir);
    crest_dataset *d = blobs(20, 5);
    int ok = 0;
    for (long k = 0; k < 3000 && !ok; k++) {
        crest_model *m = backbone();
        crest_dataset *f = NULL;
        cr_alloc_fail_after(k);
        int rc = crest_model_cut(m, NULL, CREST_POOL_AVG);
        if (!rc)
            rc = crest_extract(m, d, &(crest_extract_opts){ .cache_dir = cache }, &f);
        cr_alloc_fail_after(-1);
        if (rc)
            assert_true(rc == CREST_E_NOMEM);
        ok = rc == 0;
        crest_dataset_free(f);
        crest_model_free(m);
    }
    assert_true(ok);
    crest_dataset_free(d);
}

/* ---- evaluate and predict in cache-sized passes ------------------------ */

/* A model of large inputs ([512, 512], 1 MB a sample): its activations are
 * MBs per sample, so a pass of 32 or 64 samples would take 100+ MB. */
static crest_model *wide_model(void)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(2, 512, 512)), CREST_OK);
    crest_model_set_seed(m, 3);
    crest_add(m, crest_activation(CREST_RELU));
    crest_add(m, crest_activation(CREST_TANH));
    crest_add(m, crest_flatten());
    assert_int_equal(crest_add(m, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .loss = CREST_SPARSE_CCE }),
                     CREST_OK);
    return m;
}

static crest_dataset *wide_data(size_t n)
{
    size_t per = 512 * 512;
    float *x = malloc(n * per * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    cr_rng r;
    cr_rng_seed(&r, 9);
    for (size_t i = 0; i < n * per; i++)
        x[i] = (float)cr_rng_uniform(&r) - 0.5f;
    for (size_t i = 0; i < n; i++)
        y[i] = (int32_t)(i % 3);
    crest_dataset *d = NULL;
    assert_int_equal(crest_dataset_new(&d, n, crest_shape(2, 512, 512), x, y, 3), CREST_OK);
    free(x);
    free(y);
    return d;
}

static void test_evaluate_in_passes(void **state)
{
    (void)state;
    size_t arena[2];
    for (int t = 0; t < 2; t++) {
        size_t n = t ? 80 : 40;
        crest_model *m = wide_model();
        crest_dataset *d = wide_data(n);
        float *pa = malloc(n * 3 * sizeof *pa), *pb = malloc(n * 3 * sizeof *pb);
        crest_metrics a, b;
        assert_int_equal(crest_evaluate_probs(m, d, 0, &a, pa), CREST_OK);
        arena[t] = m->eval.g->arena_cap * sizeof(float);
        assert_true(arena[t] <= ((size_t)64 << 20));      /* cache-sized passes */
        assert_true(m->eval.g->batch < (int64_t)n);       /* so more than one */
        assert_int_equal(crest_predict(m, crest_dataset_x(d), n, pb), CREST_OK);
        assert_true(m->infer.g->arena_cap * sizeof(float) <= ((size_t)64 << 20));
        assert_memory_equal(pa, pb, n * 3 * sizeof *pa);  /* same outputs as predict */
        /* one pass of every sample: the same metrics and outputs */
        assert_int_equal(crest_evaluate_probs(m, d, (int)n, &b, pb), CREST_OK);
        assert_int_equal(a.n, n);
        assert_true(a.accuracy == b.accuracy);
        assert_float_equal(a.loss, b.loss, 1e-6 * fabs(b.loss));
        assert_memory_equal(pa, pb, n * 3 * sizeof *pa);
        crest_metrics c;
        assert_int_equal(crest_evaluate(m, d, 0, &c), CREST_OK);
        assert_true(c.loss == a.loss && c.accuracy == a.accuracy);
        free(pa);
        free(pb);
        crest_dataset_free(d);
        crest_model_free(m);
    }
    assert_int_equal(arena[0], arena[1]);   /* memory does not grow with the data */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_feature_cache),
        cmocka_unit_test(test_feature_cache_input_transform),
        cmocka_unit_test(test_head_on_features_then_append),
        cmocka_unit_test(test_frozen_means_frozen),
        cmocka_unit_test(test_frozen_batchnorm),
        cmocka_unit_test(test_unfrozen_batchnorm_keeps_statistics),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_evaluate_in_passes),
    };
    return cmocka_run_group_tests(tests, tu_setup_dir, tu_teardown_dir);
}
