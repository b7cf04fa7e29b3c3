/* fuzz_h5.c - a Keras HDF5 model file (.h5) through crest_model_load.
 *
 * Input: the bytes of the file. A model that loads is run once on zeros,
 * summarised, saved (TF.js layers, then .h5) and loaded again. The same
 * bytes are then loaded as weights onto a small fixed model (Keras'
 * weights-only layout or a whole model's model_weights): refused or
 * accepted, never a crash. libhdf5 runs in a child process and is not
 * instrumented: coverage counts crest's code. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fz_write("model.h5", data, size, path, sizeof path);
    fz_load_model(path, FZ_SAVE_H5);
    fz_load_as_weights(path);
    return 0;
}
