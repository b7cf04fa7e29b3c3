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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fz_write("model.keras", data, size, path, sizeof path);
    fz_load_model(path, FZ_SAVE_H5 | FZ_SAVE_KERAS);
    fz_load_as_weights(path);
    return 0;
}
