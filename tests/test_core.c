/* test_core.c - models, fit determinism, save/load, and bad input. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "oomutil.h"
#include "blobs.h"

static crest_dataset *blobs(size_t n, uint64_t seed) { return tu_blobs(n, seed, 0.7f, 1.5f); }

static crest_model *mlp(uint64_t seed, int threads, crest_optimizer *opt, float dropout)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 8)), CREST_OK);
    crest_model_set_seed(m, seed);
    crest_model_set_threads(m, threads);
    crest_add(m, crest_dense(16, CREST_RELU));
    if (dropout > 0)
        crest_add(m, crest_dropout(dropout));
    assert_int_equal(crest_add(m, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .optimizer = opt ? opt : crest_adam(1e-2f) }),
                     CREST_OK);
    return m;
}

/* crest_dims_str: Keras' None for unknown dimensions, truncation to fit. */
static void test_dims_str(void **state)
{
    (void)state;
    char b[64];
    crest_dims d = crest_shape(4, CREST_DIM_NONE, 224, 224, 3);
    assert_string_equal(crest_dims_str(d, b, sizeof b), "[None,224,224,3]");
    assert_string_equal(crest_dims_str(crest_shape(1, 10), b, sizeof b), "[10]");
    assert_string_equal(crest_dims_str(crest_shape(0), b, sizeof b), "[]");
    assert_string_equal(crest_dims_str(d, b, 8), "[None,2");
    b[0] = 'x';
    assert_ptr_equal(crest_dims_str(d, b, 0), b);
    assert_int_equal(b[0], 'x');
}

static void test_fit_learns_and_is_deterministic(void **state)
{
    (void)state;
    crest_dataset *d = blobs(600, 1);
    crest_history h[3];
    crest_model *m[3];
    for (int i = 0; i < 3; i++) {
        /* runs 0 and 1: same seed, 1 thread; run 2: same seed, 2 threads */
        m[i] = mlp(7, i == 2 ? 2 : 1, NULL, 0.2f);
        assert_int_equal(crest_fit(m[i], d, &(crest_fit_opts){ .epochs = 5, .batch_size = 16,
                                                               .seed = 3, .history = &h[i] }),
                         CREST_OK);
    }
    assert_true(h[0].loss[4] < h[0].loss[0]);
    assert_true(h[0].accuracy[4] > 0.9);
    for (int i = 1; i < 3; i++) {
        for (int e = 0; e < 5; e++)
            assert_memory_equal(&h[0].loss[e], &h[i].loss[e], sizeof(double));
        assert_int_equal(m[0]->n_weights, m[i]->n_weights);
        for (int w = 0; w < m[0]->n_weights; w++)
            assert_memory_equal(m[0]->weights[w]->val, m[i]->weights[w]->val,
                                (size_t)m[0]->weights[w]->size * sizeof(float));
    }
    /* the saved weights are bit-identical too (1 thread vs 2 threads) */
    char d0[256], d2[256];
    tu_tmpdir(d0, sizeof d0);
    tu_tmpdir(d2, sizeof d2);
    assert_int_equal(crest_model_save(m[0], d0), CREST_OK);
    assert_int_equal(crest_model_save(m[2], d2), CREST_OK);
    char *j0 = tu_read(d0, "model.json"), *j2 = tu_read(d2, "model.json");
    assert_string_equal(j0, j2);                 /* names the same content hash */
    const char *shard = strstr(j0, "weights.");
    char name[64] = { 0 };
    memcpy(name, shard, strcspn(shard, "\""));
    size_t n0 = tu_size(d0, name);
    assert_true(n0 > 0 && n0 == tu_size(d2, name));
    char *b0 = tu_read(d0, name), *b2 = tu_read(d2, name);
    assert_memory_equal(b0, b2, n0);
    free(j0);
    free(j2);
    free(b0);
    free(b2);
    tu_rmdir(d0);
    tu_rmdir(d2);
    /* a different seed gives a different run */
    crest_model *other = mlp(8, 1, NULL, 0.2f);
    crest_history ho;
    assert_int_equal(crest_fit(other, d, &(crest_fit_opts){ .epochs = 1, .batch_size = 16,
                                                            .seed = 3, .history = &ho }),
                     CREST_OK);
    assert_true(ho.loss[0] != h[0].loss[0]);
    for (int i = 0; i < 3; i++)
        crest_model_free(m[i]);
    crest_model_free(other);
    crest_dataset_free(d);
}

static void test_optimizers_train(void **state)
{
    (void)state;
    crest_dataset *d = blobs(600, 2);
    crest_optimizer *opts[] = { crest_sgd(0.05f, 0, false), crest_sgd(0.05f, 0.9f, false),
                                crest_sgd(0.05f, 0.9f, true), crest_adam(1e-2f),
                                crest_rmsprop(1e-2f) };
    for (int i = 0; i < 5; i++) {
        crest_model *m = mlp(1, 1, opts[i], 0);
        crest_history h;
        assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 4, .seed = 1, .history = &h }),
                         CREST_OK);
        print_message("optimizer %d: loss %.4f -> %.4f acc %.3f\n", i, h.loss[0], h.loss[3],
                      h.accuracy[3]);
        assert_true(h.loss[3] < h.loss[0]);
        assert_true(h.accuracy[3] > 0.85);
        crest_model_free(m);
    }
    crest_dataset_free(d);
}

/* Keras' Adam: after one step every weight moved by about lr (the first
 * bias-corrected step is lr * g / (|g| + eps)). */
static void test_adam_first_step_is_lr(void **state)
{
    (void)state;
    crest_dataset *d = blobs(32, 3);
    crest_model *m = mlp(1, 1, crest_adam(1e-3f), 0);
    float before[8 * 16];
    memcpy(before, m->weights[0]->val, sizeof before);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 1, .batch_size = 32 }), CREST_OK);
    int moved = 0;
    for (int i = 0; i < 8 * 16; i++) {
        float dlt = fabsf(m->weights[0]->val[i] - before[i]);
        if (dlt > 0) {
            assert_true(fabsf(dlt - 1e-3f) < 2e-5f);
            moved++;
        }
    }
    assert_true(moved > 8 * 16 / 2);
    crest_model_free(m);
    crest_dataset_free(d);
}

static void test_validation_and_early_stopping(void **state)
{
    (void)state;
    crest_dataset *d = blobs(400, 4);
    crest_model *m = mlp(1, 1, crest_adam(0.05f), 0);
    crest_history h;
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 60, .validation_split = 0.25f,
                                                        .early_stopping_patience = 2,
                                                        .history = &h }),
                     CREST_OK);
    assert_true(h.epochs < 60);                /* it stopped */
    assert_true(h.val_accuracy[0] > 0.5);
    /* restore-best: evaluating the held-out part reproduces the best val loss */
    crest_dataset *val = NULL;
    assert_int_equal(crest_dataset_slice(d, 300, 100, &val), CREST_OK);
    crest_metrics mt;
    assert_int_equal(crest_evaluate(m, val, 32, &mt), CREST_OK);
    assert_true(fabs(mt.loss - h.val_loss[h.best_epoch]) < 1e-6);
    crest_dataset_free(val);
    crest_model_free(m);
    crest_dataset_free(d);
}

static void test_class_weights_and_losses(void **state)
{
    (void)state;
    crest_dataset *d = blobs(300, 5);
    /* CCE with one-hot targets from integer labels, label smoothing, from_logits */
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 8)), CREST_OK);
    crest_add(m, crest_dense(3, CREST_LINEAR));
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .loss = CREST_CCE, .from_logits = true,
                                                             .label_smoothing = 0.1f,
                                                             .metrics = CREST_ACCURACY | CREST_TOP_K,
                                                             .top_k = 2,
                                                             .optimizer = crest_adam(0.02f) }),
                     CREST_OK);
    float cw[3] = { 1, 2, 0.5f };
    crest_history h;
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 5, .class_weight = cw,
                                                        .history = &h }),
                     CREST_OK);
    assert_true(h.accuracy[4] > 0.85);
    crest_metrics mt;
    assert_int_equal(crest_evaluate(m, d, 0, &mt), CREST_OK);
    assert_true(mt.top_k_accuracy >= mt.accuracy);
    crest_model_free(m);
    crest_dataset_free(d);
}

static void test_bad_input_errors(void **state)
{
    (void)state;
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 8)), CREST_OK);
    assert_int_equal(crest_add(m, crest_dense(0, CREST_RELU)), CREST_E_ARG);
    assert_non_null(strstr(crest_last_error(), "units"));
    /* sticky: later adds report the first error */
    assert_int_equal(crest_add(m, crest_dense(3, CREST_SOFTMAX)), CREST_E_ARG);
    crest_model_free(m);

    m = mlp(1, 1, NULL, 0);
    crest_dataset *d = NULL;
    float x[2 * 5] = { 0 };
    int32_t y[2] = { 0, 1 };
    assert_int_equal(crest_dataset_new(&d, 2, crest_shape(1, 5), x, y, 2), CREST_OK);
    assert_int_equal(crest_fit(m, d, NULL), CREST_E_SHAPE);
    assert_non_null(strstr(crest_last_error(), "[5]"));
    crest_dataset_free(d);
    float x8[2 * 8] = { 0 };
    int32_t bad[2] = { 0, 7 };
    assert_int_equal(crest_dataset_new(&d, 2, crest_shape(1, 8), x8, bad, 0), CREST_OK);
    assert_int_equal(crest_fit(m, d, NULL), CREST_E_ARG);
    assert_non_null(strstr(crest_last_error(), "label 7"));
    crest_dataset_free(d);
    assert_int_equal(crest_dataset_new(&d, 2, crest_shape(1, 8), x8, bad, 3), CREST_E_ARG);
    crest_model_free(m);

    crest_model *nc = NULL;
    assert_int_equal(crest_sequential_new(&nc, crest_shape(1, 8)), CREST_OK);
    crest_add(nc, crest_dense(3, CREST_SOFTMAX));
    d = blobs(10, 1);
    assert_int_equal(crest_fit(nc, d, NULL), CREST_E_STATE);   /* not compiled */
    crest_dataset_free(d);
    crest_model_free(nc);

    assert_int_equal(crest_dataset_load(&d, "no-such-dataset"), CREST_E_ARG);
    setenv("CREST_DATA", "/nonexistent", 1);
    assert_int_equal(crest_dataset_load(&d, "fashion-mnist:test"), CREST_E_IO);
    assert_non_null(strstr(crest_last_error(), "t10k-images-idx3-ubyte"));
    unsetenv("CREST_DATA");
}

static void test_save_load_roundtrip(void **state)
{
    (void)state;
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    crest_dataset *d = blobs(200, 6);
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 8)), CREST_OK);
    crest_add(m, crest_dense_ex(&(crest_dense_opts){ .units = 6, .activation = CREST_TANH,
                                                    .l2 = 0.01f, .name = "hidden" }));
    crest_add(m, crest_dropout(0.3f));
    crest_add(m, crest_dense(3, CREST_SOFTMAX));
    assert_int_equal(crest_compile(m, NULL), CREST_OK);
    assert_int_equal(crest_fit(m, d, &(crest_fit_opts){ .epochs = 2 }), CREST_OK);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);      /* again: still one shard */
    assert_int_equal(tu_count_files(dir), 2);

    crest_model *l = NULL;
    assert_int_equal(crest_model_load(&l, dir), CREST_OK);
    float p1[200 * 3], p2[200 * 3];
    assert_int_equal(crest_predict(m, crest_dataset_x(d), 200, p1), CREST_OK);
    assert_int_equal(crest_predict(l, crest_dataset_x(d), 200, p2), CREST_OK);
    assert_memory_equal(p1, p2, sizeof p1);
    char *s1 = crest_model_summary(m, true), *s2 = crest_model_summary(l, true);
    assert_string_equal(s1, s2);
    assert_non_null(strstr(s1, "\"name\":\"hidden\""));
    assert_non_null(strstr(s1, "\"total_params\":75"));
    crest_free(s1);
    crest_free(s2);
    char *t = crest_model_summary(l, false);
    assert_non_null(strstr(t, "hidden (Dense)"));
    assert_non_null(strstr(t, "Total params: 75"));
    crest_free(t);
    crest_model_free(l);
    crest_model_free(m);
    crest_dataset_free(d);
    tu_rmdir(dir);
}

/* Corrupt model folders: each is an error naming the culprit, never a crash. */
static void test_corrupt_models(void **state)
{
    (void)state;
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    crest_model *m = mlp(1, 1, NULL, 0);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model_free(m);
    char *json = tu_read(dir, "model.json");
    char shard[64] = { 0 };
    const char *sp = strstr(json, "weights.");
    memcpy(shard, sp, strcspn(sp, "\""));
    char *bin = tu_read(dir, shard);
    size_t bin_len = tu_size(dir, shard);

    struct { const char *what, *from, *to; int code; const char *needle; } cases[] = {
        { "truncated json", NULL, NULL, CREST_E_FORMAT, "not valid JSON" },
        { "unknown layer", "\"Dense\"", "\"Wobble\"", CREST_E_UNSUPPORTED, "Wobble" },
        { "bad units", "\"units\":16", "\"units\":-4", CREST_E_FORMAT, "units" },
        { "shape mismatch", "[16,3]", "[17,3]", CREST_E_SHAPE, "dense_1/kernel" },
        { "escaping shard", "\"weights.", "\"../weights.", CREST_E_FORMAT, "leaves the model folder" },
        { "absurd shape", "[8,16]", "[800000,1600000]", CREST_E_FORMAT, "dense/kernel" },
        { "renamed weight", "\"dense/bias\"", "\"dense/bias2\"", CREST_E_FORMAT, "dense/bias2" },
        { "bad dtype", "[8,16],\"dtype\":\"float32\"", "[8,16],\"dtype\":\"complex64\"", CREST_E_UNSUPPORTED, "complex64" },
        /* a NUL would cut the key to "un" (units then missing or misread) */
        { "NUL in a key", "\"units\":16", "\"un\\u0000its\":16", CREST_E_FORMAT, "NUL" },
        { "NUL in a name", "\"dense_1/kernel\"", "\"dense_1\\u0000/kernel\"", CREST_E_FORMAT, "NUL" },
        { "zero quantization scale", "[8,16],\"dtype\":\"float32\"",
          "[8,16],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"uint8\",\"min\":-1,\"scale\":0}",
          CREST_E_FORMAT, "'dense/kernel': quantization scale 0" },
        { "negative quantization scale", "[8,16],\"dtype\":\"float32\"",
          "[8,16],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"uint16\",\"min\":-1,\"scale\":-1e-3}",
          CREST_E_FORMAT, "'dense/kernel': quantization scale" },
        { "infinite quantization scale", "[8,16],\"dtype\":\"float32\"",
          "[8,16],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"uint8\",\"min\":0,\"scale\":1e999}",
          CREST_E_FORMAT, "'dense/kernel' quantization" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *txt;
        if (!cases[i].from) {
            txt = strdup(json);
            txt[strlen(txt) / 2] = 0;
        } else {
            txt = tu_replace(json, cases[i].from, cases[i].to);
        }
        tu_write(dir, "model.json", txt, strlen(txt));
        free(txt);
        crest_model *l = NULL;
        int rc = crest_model_load(&l, dir);
        print_message("%s: %d %s\n", cases[i].what, rc, crest_last_error());
        assert_int_equal(rc, cases[i].code);
        assert_null(l);
        assert_non_null(strstr(crest_last_error(), cases[i].needle));
    }
    /* a raw NUL byte inside a key */
    char *nul = tu_replace(json, "\"units\":16", "\"un_its\":16");
    size_t nlen = strlen(nul);
    strstr(nul, "un_its")[2] = 0;
    tu_write(dir, "model.json", nul, nlen);
    free(nul);
    crest_model *l = NULL;
    assert_int_equal(crest_model_load(&l, dir), CREST_E_FORMAT);
    print_message("raw NUL: %s\n", crest_last_error());
    assert_non_null(strstr(crest_last_error(), "NUL byte"));
    assert_non_null(strstr(crest_last_error(), "model.json"));
    tu_write(dir, "model.json", json, strlen(json));
    /* NaN and Inf weights: refused at load, naming the weight and its layer */
    const struct { size_t at; float v; const char *needle; } bad[] = {
        { 5, NAN, "weight 'dense/kernel' (layer 'dense'): value 5 of 128 is NaN" },
        { 8 * 16 + 3, INFINITY, "weight 'dense/bias' (layer 'dense'): value 3 of 16 is infinite" },
        { 8 * 16 + 16 + 47, -INFINITY, "'dense_1/kernel' (layer 'dense_1'): value 47" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *b2 = malloc(bin_len);
        memcpy(b2, bin, bin_len);
        memcpy(b2 + bad[i].at * 4, &bad[i].v, 4);
        tu_write(dir, shard, b2, bin_len);
        free(b2);
        assert_int_equal(crest_model_load(&l, dir), CREST_E_FORMAT);
        print_message("bad weight: %s\n", crest_last_error());
        assert_null(l);
        assert_non_null(strstr(crest_last_error(), bad[i].needle));
    }
    tu_write(dir, shard, bin, bin_len);
    assert_int_equal(crest_model_load(&l, dir), CREST_OK);
    /* nor are they written: a diverged model is refused at save, the old one stays */
    l->weights[1]->val[2] = NAN;
    assert_int_equal(crest_model_save(l, dir), CREST_E_STATE);
    print_message("NaN at save: %s\n", crest_last_error());
    assert_non_null(strstr(crest_last_error(), "weight 'dense/bias' (layer 'dense'): value 2 is NaN"));
    char *json2 = tu_read(dir, "model.json");
    assert_string_equal(json2, json);
    free(json2);
    crest_model_free(l);
    l = NULL;
    /* truncated weights, extra bytes, missing shard */
    tu_write(dir, shard, bin, bin_len - 4);
    assert_int_equal(crest_model_load(&l, dir), CREST_E_FORMAT);
    assert_non_null(strstr(crest_last_error(), "bytes"));
    tu_write(dir, shard, bin, bin_len);
    tu_write(dir, shard, bin, bin_len);
    snprintf(path, sizeof path, "%s/%s", dir, shard);
    unlink(path);
    assert_int_equal(crest_model_load(&l, dir), CREST_E_IO);
    assert_non_null(strstr(crest_last_error(), shard));
    assert_int_equal(crest_model_load(&l, "/nonexistent/model"), CREST_E_IO);
    free(json);
    free(bin);
    tu_rmdir(dir);
}

/* A save killed between writing its temp file and renaming it leaves
 * "<file>.tmp.<pid>" behind; the next save removes those of dead processes. */
static void test_stale_temp_files(void **state)
{
    (void)state;
    char dir[256], name[128];
    tu_tmpdir(dir, sizeof dir);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    assert_true(dead > 0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);   /* reaped: that pid is gone */
    const char *junk = "half a shard";
    snprintf(name, sizeof name, "weights.0123456789abcdef.bin.tmp.%ld", (long)dead);
    tu_write(dir, name, junk, strlen(junk));
    snprintf(name, sizeof name, "model.json.tmp.%ld", (long)dead);
    tu_write(dir, name, junk, strlen(junk));
    /* a save under way in a live process, and files of other names, stay */
    char live[128];
    snprintf(live, sizeof live, "weights.fedcba9876543210.bin.tmp.%ld", (long)getppid());
    tu_write(dir, live, junk, strlen(junk));
    tu_write(dir, "notes.tmp.1", junk, strlen(junk));
    tu_write(dir, "weights.bin.tmp.x", junk, strlen(junk));
    crest_model *m = mlp(1, 1, NULL, 0);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model_free(m);
    snprintf(name, sizeof name, "weights.0123456789abcdef.bin.tmp.%ld", (long)dead);
    assert_int_equal(tu_size(dir, name), 0);
    snprintf(name, sizeof name, "model.json.tmp.%ld", (long)dead);
    assert_int_equal(tu_size(dir, name), 0);
    assert_int_equal(tu_size(dir, live), strlen(junk));
    assert_int_equal(tu_size(dir, "notes.tmp.1"), strlen(junk));
    assert_int_equal(tu_size(dir, "weights.bin.tmp.x"), strlen(junk));
    /* model.json, its shard and the three kept files */
    assert_int_equal(tu_count_files(dir), 5);
    tu_rmdir(dir);
}

/* Save and load under every allocation failure (tests/oomutil.h); the
 * metadata goes through cJSON both ways. */
static void test_save_load_out_of_memory(void **state)
{
    (void)state;
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    crest_dataset *d = blobs(64, 3);
    crest_model *m = mlp(2, 1, NULL, 0.25f), *l = NULL;
    assert_int_equal(crest_model_set_metadata(m, "{\"note\": \"r\u00e9sum\u00e9\", \"k\": 0.5}"),
                     CREST_OK);
    long saves, loads;
    tu_save_load_oom(m, d, dir, &saves, &loads);
    print_message("save failed %ld times, load %ld times before succeeding\n", saves, loads);
    assert_true(saves > 50 && loads > 50);
    assert_int_equal(tu_count_files(dir), 2);
    assert_int_equal(crest_model_load(&l, dir), CREST_OK);
    assert_string_equal(crest_model_metadata(l), "{\"note\":\"r\xc3\xa9sum\xc3\xa9\",\"k\":0.5}");
    crest_model_free(l);
    crest_model_free(m);
    crest_dataset_free(d);
    tu_rmdir(dir);
}

/* Every allocation failure is an error, never a crash or a leak (ASan). */
static void test_out_of_memory(void **state)
{
    (void)state;
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    crest_dataset *d = blobs(64, 7);
    int ok = 0;
    for (long k = 0; k < 2000 && !ok; k++) {
        crest_model *m = NULL;
        cr_alloc_fail_after(k);
        int rc = crest_sequential_new(&m, crest_shape(1, 8));
        if (!rc) {
            crest_add(m, crest_dense(4, CREST_RELU));
            crest_add(m, crest_dense(3, CREST_SOFTMAX));
            rc = crest_compile(m, NULL);
        }
        if (!rc)
            rc = crest_fit(m, d, &(crest_fit_opts){ .epochs = 1 });
        if (!rc)
            rc = crest_model_save(m, dir);
        cr_alloc_fail_after(-1);
        if (rc)
            assert_true(rc == CREST_E_NOMEM || rc == CREST_E_ARG);
        ok = rc == 0;
        crest_model_free(m);
    }
    assert_true(ok);
    crest_dataset_free(d);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dims_str),
        cmocka_unit_test(test_fit_learns_and_is_deterministic),
        cmocka_unit_test(test_optimizers_train),
        cmocka_unit_test(test_adam_first_step_is_lr),
        cmocka_unit_test(test_validation_and_early_stopping),
        cmocka_unit_test(test_class_weights_and_losses),
        cmocka_unit_test(test_bad_input_errors),
        cmocka_unit_test(test_save_load_roundtrip),
        cmocka_unit_test(test_corrupt_models),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_stale_temp_files),
        cmocka_unit_test(test_save_load_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
