/* fuzz_keras.c - a Keras 3 .keras file through crest_model_load.
 *
 * Input: the bytes of the file (a zip of config.json, metadata.json and
 * model.weights.h5). A model that loads is run once on zeros, saved (TF.js
 * layers, .h5, .keras) and loaded again. The same bytes are then loaded as
 * weights onto a small fixed model (Dense(3) on 4 inputs, whose weights a
 * .keras file keeps under layers/dense/vars): refused or accepted, never a
 * crash. libzip and libhdf5 run in a child process and are not
 * instrumented: coverage counts crest's code. Seeds: make_keras_seeds.py. */
#include "fuzz.h"

static void load_as_weights(const char *path)
{
    crest_model *m = NULL;
    if (crest_sequential_new(&m, crest_shape(1, 4)) != CREST_OK)
        abort();
    crest_layer *d = crest_dense(3, CREST_SOFTMAX);
    crest_layer_set_name(d, "dense_1");
    crest_add(m, d);
    int rc = crest_model_load_weights(m, path);
    if (rc != CREST_OK && !*crest_last_error())
        __builtin_trap();
    crest_model_free(m);
}

/* A model that loaded, saved as .keras and loaded again. */
static void keras_reload(crest_model *m)
{
    if (crest_model_param_count(m, false) > FZ_MAX_PARAMS)
        return;
    char path[600];
    crest_model *again = NULL;
    snprintf(path, sizeof path, "%s/saved.keras", fz_dir());
    if (crest_model_save_keras(m, path) == CREST_OK) {
        if (crest_model_load(&again, path) != CREST_OK)
            __builtin_trap();
        crest_model_free(again);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fz_write("model.keras", data, size, path, sizeof path);
    crest_model *m = NULL;
    if (crest_model_load(&m, path) == CREST_OK) {
        fz_run_model(m);
        fz_save_reload(m, true);
        keras_reload(m);
        crest_model_free(m);
    } else if (m || !*crest_last_error()) {
        fz_fail("a failed load left a model or said nothing");
    }
    load_as_weights(path);
    return 0;
}
