/* fuzz_idx.c - an IDX data set folder (src/data/dataset.c), as
 * `--data FOLDER` of Fashion-MNIST-style files reads it.
 *
 * Input: the images file (idx3-ubyte), the separator "--labels--", the
 * labels file (idx1-ubyte); written as train-images-idx3-ubyte and
 * train-labels-idx1-ubyte of a folder that is then loaded and sliced. */
#include "fuzz.h"

#define SEP "--labels--"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[600];
    char path[700];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/idx", fz_dir());
        if (mkdir(dir, 0700) != 0)
            abort();
    }
    size_t n1, n2;
    const uint8_t *p2;
    fz_split(data, size, SEP, &n1, &p2, &n2);
    fz_write("idx/train-images-idx3-ubyte", data, n1, path, sizeof path);
    fz_write("idx/train-labels-idx1-ubyte", p2, n2, path, sizeof path);
    crest_dataset *d = NULL;
    if (crest_dataset_load(&d, dir) == CREST_OK) {
        size_t n = crest_dataset_size(d);
        crest_dataset *s = NULL;
        if (crest_dataset_slice(d, n / 2, n - n / 2, &s) == CREST_OK)
            crest_dataset_free(s);
        crest_dataset_free(d);
    } else if (d || !*crest_last_error()) {
        __builtin_trap();
    }
    return 0;
}
