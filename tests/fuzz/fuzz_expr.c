/* fuzz_expr.c - the expression layer's parser (src/layers/expr.c).
 *
 * The input is the expression text. One that parses becomes the only layer
 * of a model over an input shape picked from the input's length ([4], [2,3]
 * or [3,2,2]) and is run on two zero samples; the model is then saved and
 * loaded back (the expression is saved as text and parsed again). */
#include "fuzz.h"
#include "internal.h"

#define MAX_PARAMS (1 << 20)
#define MAX_OUT 65536

static void run(crest_model *m)
{
    crest_model_set_threads(m, 1);
    if (cr_model_build(m) != CREST_OK)   /* the graph is traced here */
        return;
    int64_t in = crest_dims_count(crest_model_input_shape(m));
    float x[2 * 12] = { 0 };
    float *p = NULL;
    if (crest_model_output_size(m) > 0 && crest_model_output_size(m) <= MAX_OUT && in <= 12 &&
        crest_model_param_count(m, false) <= MAX_PARAMS &&
        (p = malloc(2 * (size_t)crest_model_output_size(m) * sizeof *p)) &&
        crest_predict(m, x, 2, p) == CREST_OK) {
        char dir[600];
        crest_model *again = NULL;
        snprintf(dir, sizeof dir, "%s/saved", fz_dir());
        if (crest_model_save(m, dir) == CREST_OK) {
            if (crest_model_load(&again, dir) != CREST_OK)
                __builtin_trap();   /* a saved expression must load */
            crest_model_free(again);
        }
    }
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fz_big_numbers(data, size))
        return 0;
    char *text = fz_str(data, size);
    crest_layer *l = crest_expr(text);
    free(text);
    if (!l) {
        if (!*crest_last_error())
            __builtin_trap();
        return 0;
    }
    static const int shapes[3][4] = { { 1, 4 }, { 2, 2, 3 }, { 3, 3, 2, 2 } };
    const int *s = shapes[size % 3];
    crest_dims dims = s[0] == 1 ? crest_shape(1, s[1])
                    : s[0] == 2 ? crest_shape(2, s[1], s[2])
                                : crest_shape(3, s[1], s[2], s[3]);
    crest_model *m = NULL;
    if (crest_sequential_new(&m, dims) != CREST_OK) {
        crest_layer_free(l);
        return 0;
    }
    if (crest_add(m, l) == CREST_OK)
        run(m);
    crest_model_free(m);
    return 0;
}
