/* fuzz_h5.c - a Keras HDF5 model file (.h5) through crest_model_load.
 *
 * Input: the bytes of the file. A model that loads is run once on zeros,
 * summarised, saved (TF.js layers, then .h5) and loaded again. The same bytes are
 * then loaded as weights onto a small fixed model (Keras' weights-only
 * layout or a whole model's model_weights): refused or accepted, never a
 * crash. libhdf5 itself is not instrumented: coverage counts crest's code. */
#include "fuzz.h"


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
        fz_run_model(m);
        fz_save_reload(m, true);
        crest_model_free(m);
    } else if (m || !*crest_last_error()) {
        fz_fail("a failed load left a model or said nothing");
    }
    load_as_weights(path);
    return 0;
}
