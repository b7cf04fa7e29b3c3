/* bench_mlp.c - MLP training throughput (samples/s), the issue-2 figure.
 *
 * Flatten - Dense(128, relu) - Dense(10, softmax), Adam 1e-3, sparse CCE,
 * batch 32, Fashion-MNIST train (60,000). One warm-up epoch on the first
 * 3,200 samples, then E timed epochs over the whole set (shuffled, as fit
 * does). Prints one JSON line.
 *
 * usage: bench_mlp [--threads T] [--epochs E]
 */
#include "crest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    int threads = 1, epochs = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs"))
            epochs = atoi(argv[i + 1]);
    }
    crest_dataset *ds = NULL, *warm = NULL;
    crest_model *m = NULL;
    int rc = crest_dataset_load(&ds, "fashion-mnist:train");
    if (!rc)
        rc = crest_dataset_slice(ds, 0, 3200, &warm);
    if (!rc)
        rc = crest_sequential_new(&m, crest_dataset_sample_shape(ds));
    if (!rc) {
        crest_model_set_threads(m, threads);
        crest_add(m, crest_flatten());
        crest_add(m, crest_dense(128, CREST_RELU));
        rc = crest_add(m, crest_dense(10, CREST_SOFTMAX));
    }
    if (!rc)
        rc = crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(1e-3f),
                                                     .loss = CREST_SPARSE_CCE,
                                                     .metrics = CREST_ACCURACY });
    if (!rc)
        rc = crest_fit(m, warm, &(crest_fit_opts){ .epochs = 1, .batch_size = 32, .seed = 1 });
    double t0 = now();
    if (!rc)
        rc = crest_fit(m, ds, &(crest_fit_opts){ .epochs = epochs, .batch_size = 32, .seed = 1 });
    double dt = now() - t0;
    if (rc) {
        fprintf(stderr, "bench_mlp: %s\n", crest_last_error());
        return 1;
    }
    size_t n = crest_dataset_size(ds) * (size_t)epochs;
    printf("{\"engine\": \"crest\", \"threads\": %d, \"batch\": 32, \"samples\": %zu, "
           "\"seconds\": %.3f, \"samples_per_s\": %.0f}\n", threads, n, dt, (double)n / dt);
    crest_model_free(m);
    crest_dataset_free(ds);
    crest_dataset_free(warm);
    return 0;
}
