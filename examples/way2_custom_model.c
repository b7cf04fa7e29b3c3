/* way2_custom_model.c - the second way: a custom model, the C form of
 * subclassing keras.Model. A struct holds the layers, a vtable's `call`
 * composes them; crest traces `call`, finds the layers and their weights,
 * and compile / fit / evaluate / summary / save work as for Sequential.
 *
 *   class TwoStage(keras.Model):
 *       def __init__(self, backbone, n_classes):
 *           super().__init__()
 *           self.features = backbone
 *           self.head = layers.Dense(n_classes, activation="softmax")
 *       def call(self, x, training=False):
 *           x = self.features(layers.Flatten()(x), training=training)
 *           return self.head(x, training=training)
 *
 * Trained on Fashion-MNIST; the last line printed is "accuracy: 0.xxxx".
 * Usage: way2_custom_model [EPOCHS [TRAIN_SAMPLES]]   (data: tools/setup.sh or $CREST_DATA)
 */
#include <crest.h>
#include "progress.h"
#include <stdio.h>
#include <stdlib.h>

typedef struct { crest_layer *features, *head; } two_stage;

static crest_node *ts_call(void *self, crest_graph *g, crest_node *x, bool training)
{
    two_stage *s = self;
    x = crest_op_flatten(g, x);                  /* [batch, 28, 28] -> [batch, 784] */
    x = crest_layer_apply(s->features, g, x, training);
    return crest_layer_apply(s->head, g, x, training);
}

static void ts_destroy(void *self)               /* the model calls it once, last */
{
    two_stage *s = self;
    crest_layer_free(s->features);
    crest_layer_free(s->head);
    free(s);
}

static const crest_model_vtable ts_vt = { .name = "TwoStage",
                                          .call = ts_call, .destroy = ts_destroy };

static int two_stage_new(crest_model **out, crest_layer *backbone, int n_classes)
{                                        /* owns backbone in every case */
    two_stage *s = calloc(1, sizeof *s);
    if (!s) { crest_layer_free(backbone); return CREST_E_NOMEM; }
    s->features = backbone;
    s->head = crest_dense(n_classes, CREST_SOFTMAX);
    return crest_custom_new(out, &ts_vt, s, crest_shape(2, 28, 28));  /* on failure: ts_destroy(s) */
}

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 5;
    long subset = argc > 2 ? atol(argv[2]) : 0;   /* 0: all 60000 training images */
    crest_dataset *train = NULL, *test = NULL;
    crest_model *m = NULL;
    crest_metrics res;

    int rc = crest_dataset_load(&train, "fashion-mnist:train");
    if (rc == CREST_OK)
        rc = crest_dataset_load(&test, "fashion-mnist:test");
    if (rc == CREST_OK && subset > 0 && (size_t)subset < crest_dataset_size(train)) {
        crest_dataset *part = NULL;
        rc = crest_dataset_slice(train, 0, (size_t)subset, &part);
        crest_dataset_free(train);
        train = part;
    }
    if (rc == CREST_OK)
        rc = two_stage_new(&m, crest_dense(128, CREST_RELU), 10);
    if (rc == CREST_OK)
        rc = crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(1e-3f),
                                                     .loss = CREST_SPARSE_CCE,
                                                     .metrics = CREST_ACCURACY });
    if (rc == CREST_OK) {
        char *s = crest_model_summary(m, false);   /* lists dense and dense_1 */
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
        fprintf(stderr, "way2: %s\n", crest_last_error());
        crest_model_free(m);
        crest_dataset_free(train);
        crest_dataset_free(test);
        return 1;
    }
    printf("test loss: %.4f\n", res.loss);
    printf("accuracy: %.4f\n", res.accuracy);
    crest_model_free(m);                          /* calls ts_destroy */
    crest_dataset_free(train);
    crest_dataset_free(test);
    return 0;
}
