/* way3_pretrained.c - the third way: a pretrained Keras backbone, its top cut
 * off and frozen, a new classification head trained on top.
 *
 * Keras equivalent:
 *   base = MobileNetV2(include_top=False, ...); base.trainable = False
 *   model = Sequential([base, GlobalAveragePooling2D(), Dense(10, softmax)])
 *   model.compile(Adam(1e-3), sparse_categorical_crossentropy, [accuracy])
 *   model.fit(x_train, y_train, batch_size=32, epochs=10)
 *
 * Data: Fashion-MNIST, the first N_TRAIN training and N_TEST test images;
 * each 28x28 grey image becomes RGB, is resized to 224x224 (bilinear, as
 * tf.image.resizeBilinear) and scaled x / 255, the backbone's own
 * preprocessing. The frozen backbone's features are computed once (cached
 * on disk under $CREST_CACHE, default /tmp/crest-cache), then the head trains
 * on them: the same computation as fitting the whole model, without the
 * backbone's forward pass in every epoch.
 *
 * usage: way3_pretrained [N_TRAIN [N_TEST [EPOCHS]]]     (default 2000 1000 10)
 * Prints `accuracy: 0.xxxx` (test accuracy) as its last line.
 */
#include "crest.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int subset(const char *spec, size_t n, crest_dataset **out)
{
    crest_dataset *all = NULL;
    int rc = crest_dataset_load(&all, spec);
    if (!rc)
        rc = crest_dataset_slice(all, 0, n < crest_dataset_size(all) ? n : crest_dataset_size(all),
                                 out);
    crest_dataset_free(all);
    return rc;
}

int main(int argc, char **argv)
{
    size_t n_train = argc > 1 ? (size_t)atol(argv[1]) : 2000;
    size_t n_test = argc > 2 ? (size_t)atol(argv[2]) : 1000;
    int epochs = argc > 3 ? atoi(argv[3]) : 10;
    const char *cache = getenv("CREST_CACHE") ? getenv("CREST_CACHE") : "/tmp/crest-cache";
    char model_dir[1024];
    snprintf(model_dir, sizeof model_dir, "%s/models/mobilenet_v2", crest_data_dir());

    crest_model *base = NULL, *head = NULL;
    crest_dataset *train = NULL, *test = NULL, *f_train = NULL, *f_test = NULL;
    crest_metrics res = { 0 };
    crest_extract_stats st1, st2;
    /* pixels in [0, 1] already (x / 255): grey -> RGB, resize, no further scaling */
    crest_image_opts input = { .height = 224, .width = 224, .channels = 3,
                               .preprocess = CREST_PRE_NONE };
    double t_train = 0;

    int rc = crest_model_load(&base, model_dir);
    if (!rc)   /* include_top=False: cut after out_relu, GlobalAveragePooling2D */
        rc = crest_model_cut(base, NULL, CREST_POOL_AVG);
    if (!rc)   /* base.trainable = False */
        rc = crest_model_set_trainable(base, 0, -1, false);
    if (!rc)
        rc = subset("fashion-mnist:train", n_train, &train);
    if (!rc)
        rc = subset("fashion-mnist:test", n_test, &test);
    if (!rc)
        rc = crest_extract(base, train, &(crest_extract_opts){ .input = &input,
                               .cache_dir = cache, .progress = example_progress,
                               .stats = &st1 }, &f_train);
    if (!rc)
        rc = crest_extract(base, test, &(crest_extract_opts){ .input = &input,
                               .cache_dir = cache, .progress = example_progress,
                               .stats = &st2 }, &f_test);
    if (!rc)
        rc = crest_sequential_new(&head, crest_dataset_sample_shape(f_train));
    if (!rc) {
        crest_model_set_seed(head, 1);
        rc = crest_add(head, crest_dense(10, CREST_SOFTMAX));
    }
    if (!rc)
        rc = crest_compile(head, &(crest_compile_opts){ .optimizer = crest_adam(1e-3f),
                                                        .loss = CREST_SPARSE_CCE,
                                                        .metrics = CREST_ACCURACY });
    if (!rc) {
        double t0 = now();
        rc = crest_fit(head, f_train, &(crest_fit_opts){ .epochs = epochs, .batch_size = 32,
                                                         .seed = 1,
                                                         .progress = example_progress });
        t_train = now() - t0;
    }
    if (!rc)
        rc = crest_evaluate(head, f_test, 32, &res);
    if (!rc)   /* one model: backbone + head, as Sequential([base, head]) */
        rc = crest_model_append(base, head);
    if (rc) {
        fprintf(stderr, "way3_pretrained: %s\n", crest_last_error());
    } else {
        printf("backbone features: %zu train images in %.1f s (%.1f ms/image)%s, "
               "%zu test in %.1f s%s\n",
               n_train, st1.seconds, 1e3 * st1.seconds / (double)n_train,
               st1.cache_hit ? " [cached]" : "", n_test, st2.seconds,
               st2.cache_hit ? " [cached]" : "");
        printf("head training: %d epochs in %.2f s\n", epochs, t_train);
        printf("accuracy: %.4f\n", res.accuracy);
    }
    crest_model_free(base);
    crest_model_free(head);
    crest_dataset_free(train);
    crest_dataset_free(test);
    crest_dataset_free(f_train);
    crest_dataset_free(f_test);
    return rc ? 1 : 0;
}
