/* fuzz_tfjs.c - a TF.js layers folder: model.json and one weights shard.
 *
 * Input: model.json text, then the separator "\n--shard--\n", then the
 * bytes of the shard, written as w0.bin (seeds name it in their manifest).
 * A model that loads is run once on zeros, summarised, saved and loaded
 * again: what crest loads it must also be able to use and save. */
#include "fuzz.h"

#define SEP "\n--shard--\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n1, n2;
    const uint8_t *p2;
    char path[600], shard[600];
    fz_split(data, size, SEP, &n1, &p2, &n2);
    fz_write("w0.bin", p2, n2, shard, sizeof shard);
    fz_write("model.json", data, n1, path, sizeof path);
    fz_load_model(path, 0);
    return 0;
}
