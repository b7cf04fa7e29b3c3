/* blobs.h - a learnable, deterministic data set needing no files: three
 * noisy blobs in 8-D (class k is shifted along every third axis from k).
 * Include after cmocka.h and internal.h. Header-only, static. */
#ifndef CREST_BLOBS_H
#define CREST_BLOBS_H

#include <stdlib.h>

static inline crest_dataset *tu_blobs(size_t n, uint64_t seed, float noise, float shift)
{
    cr_rng r;
    cr_rng_seed(&r, seed);
    float *x = malloc(n * 8 * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % 3);
        for (int k = 0; k < 8; k++)
            x[i * 8 + k] = (float)cr_rng_normal(&r) * noise + (k % 3 == y[i] ? shift : 0.0f);
    }
    crest_dataset *d = NULL;
    assert_int_equal(crest_dataset_new(&d, n, crest_shape(1, 8), x, y, 3), CREST_OK);
    free(x);
    free(y);
    return d;
}

#endif
