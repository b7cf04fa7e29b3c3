/* way5_lambda_head.c - the fifth way: a Lambda head with its own trainable
 * variables. The function composes ops: x @ W + b, W random-normal, b zeros,
 * both trainable, trained by fit like Dense's kernel and bias.
 *
 *   class Affine(keras.layers.Layer):      # Keras needs a Layer subclass for
 *       ...                                # a Lambda with variables
 *   model = Sequential([Flatten(input_shape=(28, 28)),
 *                       Dense(128, activation="relu"),
 *                       Affine(10), Activation("softmax")])
 *
 * The same head as plain data: crest_expr("W[_,10]: softmax(x @ W + b)").
 * Saved models store the function's registered name, its arguments and W, b;
 * loading needs crest_register_lambda("affine", affine) first.
 * Trained on Fashion-MNIST; the last line printed is "accuracy: 0.xxxx".
 * Usage: way5_lambda_head [EPOCHS [TRAIN_SAMPLES]]   (data: tools/setup.sh or $CREST_DATA)
 */
#include <crest.h>
#include "progress.h"
#include <stdio.h>
#include <stdlib.h>

typedef struct { int units; } affine_args;

/* x @ W + b, then softmax */
static crest_node *affine(crest_graph *g, crest_node *x, const void *args)
{
    const affine_args *a = args;
    crest_dims in = crest_node_shape(x);         /* [batch, features] */
    crest_node *w = crest_variable(g, "W", crest_shape(2, (int)in.d[in.ndim - 1], a->units),
                                   CREST_RANDOM_NORMAL, true);
    crest_node *b = crest_variable(g, "b", crest_shape(1, a->units), CREST_ZEROS, true);
    crest_node *y = crest_op_add(g, crest_op_matmul(g, x, w), b);
    return crest_op_activate(g, y, CREST_SOFTMAX);
}

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 5;
    long subset = argc > 2 ? atol(argv[2]) : 0;   /* 0: all 60000 training images */
    crest_dataset *train = NULL, *test = NULL;
    crest_model *m = NULL;
    crest_metrics res;

    int rc = crest_register_lambda("affine", affine);   /* only needed to load */
    if (rc == CREST_OK)
        rc = crest_dataset_load(&train, "fashion-mnist:train");
    if (rc == CREST_OK)
        rc = crest_dataset_load(&test, "fashion-mnist:test");
    if (rc == CREST_OK && subset > 0 && (size_t)subset < crest_dataset_size(train)) {
        crest_dataset *part = NULL;
        rc = crest_dataset_slice(train, 0, (size_t)subset, &part);
        crest_dataset_free(train);
        train = part;
    }
    if (rc == CREST_OK)
        rc = crest_sequential_new(&m, crest_shape(2, 28, 28));
    if (rc == CREST_OK) {
        crest_add(m, crest_flatten());
        crest_add(m, crest_dense(128, CREST_RELU));
        crest_add(m, crest_lambda("affine", affine, &(affine_args){ .units = 10 },
                                  sizeof(affine_args)));
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
        fprintf(stderr, "way5: %s\n", crest_last_error());
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
