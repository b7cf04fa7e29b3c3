/* fuzz_table.h - the body of the CSV and ARFF harnesses: the input is
 * written as a table file (extension FZ_EXT) and goes through what `crest
 * train --data FILE` does with it: the spec is inferred (table reader,
 * statistics), then the table is transformed into a data set and the spec
 * written as JSON and parsed back. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fz_write("t" FZ_EXT, data, size, path, sizeof path);
    crest_features *f = NULL;
    /* with the seeds' label column if there is one, else unsupervised */
    if (crest_features_infer(&f, path, "label", NULL) == CREST_OK ||
        crest_features_infer(&f, path, NULL, NULL) == CREST_OK) {
        crest_dataset *d = NULL;
        if (crest_features_dataset(&d, f, path, NULL, false) == CREST_OK)
            crest_dataset_free(d);
        char *js = crest_features_json(f, false);
        crest_features *back = NULL;
        if (!js || crest_features_parse(&back, js) != CREST_OK)
            __builtin_trap();   /* an inferred spec must round-trip */
        crest_features_free(back);
        crest_free(js);
        crest_features_free(f);
    }
    return 0;
}
