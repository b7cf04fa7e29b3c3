/* way1_dense_head.c - the first way: a Dense softmax head on a Sequential
 * model, trained on Fashion-MNIST.
 *
 *   model = Sequential([Flatten(input_shape=(28, 28)),
 *                       Dense(128, activation="relu"),
 *                       Dense(10, activation="softmax")])
 *   model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
 *                 metrics=["accuracy"])
 *   model.fit(x_train, y_train, epochs=10)
 *   model.evaluate(x_test, y_test)
 *
 * Usage: way1_dense_head [EPOCHS]   (data from tools/setup.sh, or $CREST_DATA)
 */
#include <crest.h>
#include "progress.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 10;
    crest_dataset *train = NULL, *test = NULL;
    crest_model *m = NULL;
    crest_metrics res;

    int rc = crest_dataset_load(&train, "fashion-mnist:train");
    if (rc == CREST_OK)
        rc = crest_dataset_load(&test, "fashion-mnist:test");
    if (rc == CREST_OK)
        rc = crest_sequential_new(&m, crest_shape(2, 28, 28));
    if (rc == CREST_OK) {
        crest_add(m, crest_flatten());
        crest_add(m, crest_dense(128, CREST_RELU));
        crest_add(m, crest_dense(10, CREST_SOFTMAX));   /* errors stick to m */
        rc = crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(1e-3f),
                                                     .loss = CREST_SPARSE_CCE,
                                                     .metrics = CREST_ACCURACY });
    }
    if (rc == CREST_OK) {
        char *s = crest_model_summary(m, false);
        if (s)
            fputs(s, stdout);
        crest_free(s);
        rc = crest_fit(m, train, &(crest_fit_opts){ .epochs = epochs, .batch_size = 32,
                                                    .seed = 42,
                                                    .progress = example_progress });
    }
    if (rc == CREST_OK)
        rc = crest_evaluate(m, test, 256, &res);
    if (rc != CREST_OK) {
        fprintf(stderr, "way1: %s\n", crest_last_error());
        crest_model_free(m);
        crest_dataset_free(train);
        crest_dataset_free(test);
        return 1;
    }
    printf("test loss: %.4f\n", res.loss);
    printf("accuracy: %.4f\n", res.accuracy);
    crest_model_free(m);
    crest_dataset_free(train);
    crest_dataset_free(test);
    return 0;
}
