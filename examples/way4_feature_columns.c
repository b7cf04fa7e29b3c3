/* way4_feature_columns.c - the fourth way: feature columns over a table.
 *
 * Columns are declared once (Keras FeatureSpace style), adapted on the
 * training rows of penguins.csv (means, variances, vocabularies, classes),
 * and a model DenseFeatures -> Dense(softmax) learns the species. Every 5th
 * row (rows 4, 9, 14, ...) is the fixed 20% hold-out. Rows with NA values
 * stay in: numbers take the adapted mean plus a missing indicator, unknown
 * or missing categories the OOV id. Prints the hold-out accuracy last.
 *
 *   build/examples/way4_feature_columns [penguins.csv] [saved-model-dir]
 */
#include <crest.h>

#include <stdio.h>
#include <stdlib.h>

static const char *const columns[][2] = {
    { "island", "string_categorical" },
    { "bill_length_mm", "float_normalized" },
    { "bill_depth_mm", "float_normalized" },
    { "flipper_length_mm", "float_normalized" },
    { "body_mass_g", "float_normalized" },
    { "sex", "{\"type\": \"string_categorical\", \"output_mode\": \"embedding\","
             " \"embedding_dim\": 2, \"combiner\": \"mean\"}" },
    { "year", "integer_categorical" },
};

int main(int argc, char **argv)
{
    char path[1024];
    if (argc > 1)
        snprintf(path, sizeof path, "%s", argv[1]);
    else
        snprintf(path, sizeof path, "%s/penguins/penguins.csv", crest_data_dir());
    crest_table_opts train_rows = { .rows = CREST_ROWS_TRAIN, .holdout_every = 5 };
    crest_table_opts test_rows = { .rows = CREST_ROWS_HOLDOUT, .holdout_every = 5 };
    crest_features *f = NULL;
    crest_dataset *train = NULL, *test = NULL;
    crest_model *m = NULL;
    crest_metrics met = { 0 };

    int rc = crest_features_new(&f, "species");
    for (size_t i = 0; !rc && i < sizeof columns / sizeof columns[0]; i++)
        rc = crest_features_add(f, columns[i][0], columns[i][1]);
    if (!rc)   /* a hashed cross of island and sex, one-hot in 8 bins */
        rc = crest_features_add(f, NULL, "{\"features\": [\"island\", \"sex\"], \"crossing_dim\": 8}");
    if (!rc)
        rc = crest_features_adapt(f, path, &train_rows);
    if (!rc)
        rc = crest_features_dataset(&train, f, path, &train_rows, true);
    if (!rc)
        rc = crest_features_dataset(&test, f, path, &test_rows, true);
    if (!rc)
        rc = crest_sequential_new(&m, crest_shape(1, crest_features_width(f)));
    if (!rc) {
        crest_model_set_seed(m, 1);
        crest_model_set_threads(m, 1);
        crest_add(m, crest_dense_features(f));
        crest_add(m, crest_dense(crest_features_classes(f), CREST_SOFTMAX));
        rc = crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.05f) });
    }
    if (!rc)
        rc = crest_fit(m, train, &(crest_fit_opts){ .epochs = 30, .batch_size = 16, .seed = 2 });
    if (!rc)
        rc = crest_evaluate(m, test, 64, &met);
    if (!rc && argc > 2)
        rc = crest_model_save(m, argv[2]);
    if (rc) {
        fprintf(stderr, "way4: %s\n", crest_last_error());
    } else {
        char *s = crest_model_summary(m, false);
        if (s)
            fputs(s, stdout);
        crest_free(s);
        printf("train rows: %zu, hold-out rows: %zu, input floats: %d\n",
               crest_dataset_size(train), crest_dataset_size(test), crest_features_width(f));
        printf("hold-out loss: %.4f\naccuracy: %.4f\n", met.loss, met.accuracy);
    }
    crest_model_free(m);
    crest_dataset_free(train);
    crest_dataset_free(test);
    crest_features_free(f);
    return rc ? 1 : 0;
}
