/* fuzz_custom_layers.c - the custom layers JSON loader (--custom-layers FILE,
 * src/layers/custom_layers.c) and the expressions it compiles over a
 * layer's config fields (src/layers/expr.c).
 *
 * The input is the file's text. It is loaded from a file as the command
 * does; when it defines the classes, a fixed Sequential model [4,4,8] ->
 * Custom1 (config beta, scale, flag, name) -> Custom2 is read through the
 * model-kind table, run on two zero samples, saved (the definitions go into
 * its metadata) and loaded back with the registry emptied, which must
 * succeed. The registry is emptied after each input. */
#include "fuzz.h"
#include "internal.h"
#include "json.h"

static const char topology[] =
    "{\"class_name\":\"Sequential\",\"config\":{\"name\":\"m\",\"layers\":["
    "{\"class_name\":\"Custom1\",\"config\":{\"name\":\"c1\",\"beta\":0.5,\"scale\":2,"
    "\"flag\":true,\"batch_input_shape\":[null,4,4,8],\"dtype\":\"float32\"}},"
    "{\"class_name\":\"Custom2\",\"config\":{\"name\":\"c2\",\"k\":-1.25}}]}}";

static void run(void)
{
    cJSON *topo = NULL;
    crest_model *m = NULL, *again = NULL;
    if (cr_json_parse(topology, 0, "topology", &topo) != CREST_OK)
        __builtin_trap();
    if (cr_model_from_topology(topo, &m) == CREST_OK) {
        crest_model_set_threads(m, 1);
        int64_t out = cr_model_build(m) == CREST_OK ? crest_model_output_size(m) : 0;
        float x[2 * 128] = { 0 }, *p = NULL;
        if (out > 0 && out <= 65536 && crest_model_param_count(m, false) <= (1 << 20) &&
            (p = malloc(2 * (size_t)out * sizeof *p)) && crest_predict(m, x, 2, p) == CREST_OK) {
            char dir[600];
            snprintf(dir, sizeof dir, "%s/saved", fz_dir());
            if (crest_model_save(m, dir) == CREST_OK) {
                crest_model_free(m);
                m = NULL;
                cr_custom_layers_reset();   /* the saved model carries its classes */
                if (crest_model_load(&again, dir) != CREST_OK)
                    __builtin_trap();
                crest_model_free(again);
            }
        }
        free(p);
    } else if (!*crest_last_error()) {
        __builtin_trap();
    }
    crest_model_free(m);
    cJSON_Delete(topo);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fz_big_numbers(data, size))
        return 0;
    char path[600];
    fz_write("defs.json", data, size, path, sizeof path);
    if (crest_custom_layers_load(path) == CREST_OK)
        run();
    else if (!*crest_last_error())
        __builtin_trap();
    cr_custom_layers_reset();
    return 0;
}
