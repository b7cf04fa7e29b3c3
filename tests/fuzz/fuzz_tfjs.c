/* fuzz_tfjs.c - a TF.js layers folder: model.json and one weights shard.
 *
 * Input: model.json text, then the separator "\n--shard--\n", then the
 * bytes of the shard, written as w0.bin (seeds name it in their manifest).
 * A model that loads is run once on zeros, summarised, saved and loaded
 * again: what crest loads it must also be able to use and save. */
#include "fuzz.h"

#define SEP "\n--shard--\n"
#define MAX_VALUES 65536        /* inputs or outputs per sample run */
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
    crest_free(crest_model_summary(m, true));
}

static void save_and_reload(crest_model *m)
{
    if (crest_model_param_count(m, false) > MAX_PARAMS)
        return;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/saved", fz_dir());
    if (crest_model_save(m, dir) != CREST_OK)
        return;   /* e.g. a name too long for a path: refused, not a crash */
    crest_model *again = NULL;
    if (crest_model_load(&again, dir) != CREST_OK)
        __builtin_trap();   /* crest wrote a model it cannot read back */
    crest_model_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n1, n2;
    const uint8_t *p2;
    char path[600], shard[600];
    fz_split(data, size, SEP, &n1, &p2, &n2);
    fz_write("w0.bin", p2, n2, shard, sizeof shard);
    fz_write("model.json", data, n1, path, sizeof path);
    crest_model *m = NULL;
    if (crest_model_load(&m, path) == CREST_OK) {
        run_once(m);
        save_and_reload(m);
        crest_model_free(m);
    } else if (m || !*crest_last_error()) {
        __builtin_trap();   /* a failure must leave no model and say why */
    }
    return 0;
}
