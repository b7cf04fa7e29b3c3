/* fuzz_h5.c - a Keras HDF5 model file (.h5) through crest_model_load.
 *
 * Input: the bytes of the file. A model that loads is run once on zeros,
 * summarised, saved (TF.js layers, then .h5) and loaded again. The same bytes are
 * then loaded as weights onto a small fixed model (Keras' weights-only
 * layout or a whole model's model_weights): refused or accepted, never a
 * crash. libhdf5 itself is not instrumented: coverage counts crest's code. */
#include "fuzz.h"

#define MAX_VALUES 65536
#define MAX_PARAMS (1 << 20)

static void run_once(crest_model *m)
{
    crest_model_set_threads(m, 1);
    int64_t in = crest_dims_count(crest_model_input_shape(m));
    int64_t out = crest_model_output_size(m);
    if (in > 0 && in <= MAX_VALUES && out > 0 && out <= MAX_VALUES &&
        crest_model_param_count(m, false) <= MAX_PARAMS) {
        float *x = calloc((size_t)in, sizeof *x), *p = calloc((size_t)out, sizeof *p);
        if (!x || !p)
            abort();
        crest_predict(m, x, 1, p);
        free(x);
        free(p);
    }
    crest_free(crest_model_summary(m, false));
}

static void save_and_reload(crest_model *m)
{
    if (crest_model_param_count(m, false) > MAX_PARAMS)
        return;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/saved", fz_dir());
    if (crest_model_save(m, dir) != CREST_OK)
        return;
    crest_model *again = NULL;
    if (crest_model_load(&again, dir) != CREST_OK)
        __builtin_trap();   /* crest wrote a model it cannot read back */
    crest_model_free(again);
    snprintf(dir, sizeof dir, "%s/saved.h5", fz_dir());
    if (crest_model_save_h5(m, dir) != CREST_OK)
        return;
    if (crest_model_load(&again, dir) != CREST_OK)
        __builtin_trap();   /* nor as .h5 */
    crest_model_free(again);
}

/* The seeds' architecture: Dense(3) on 4 inputs, named dense_1. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fz_write("model.h5", data, size, path, sizeof path);
    crest_model *m = NULL;
    if (crest_model_load(&m, path) == CREST_OK) {
        run_once(m);
        save_and_reload(m);
        crest_model_free(m);
    } else if (m || !*crest_last_error()) {
        __builtin_trap();   /* a failure must leave no model and say why */
    }
    load_as_weights(path);
    return 0;
}
