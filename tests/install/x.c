/* x.c - a program built against an installed crest (tests/scripts/install.sh):
 * a Dense softmax head trained on two separable blobs, through the public
 * API only. Prints "crest VERSION: accuracy A" and exits 0 when A > 0.9. */
#include <crest.h>

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    enum { N = 200 };
    static float x[N * 2];
    static int32_t y[N];
    for (int i = 0; i < N; i++) {   /* class i % 2 around (+-1, +-1) */
        y[i] = i % 2;
        float s = y[i] ? 1.0f : -1.0f, j = (float)((i * 37) % 17) / 17.0f - 0.5f;
        x[2 * i] = s + 0.3f * j;
        x[2 * i + 1] = s - 0.3f * j;
    }
    crest_model *m = NULL;
    crest_dataset *d = NULL;
    crest_metrics met = { 0 };
    int rc = crest_dataset_new(&d, N, crest_shape(1, 2), x, y, 2);
    if (rc == CREST_OK)
        rc = crest_sequential_new(&m, crest_shape(1, 2));
    if (rc == CREST_OK) {
        crest_add(m, crest_dense(2, CREST_SOFTMAX));
        rc = crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(0.05f) });
    }
    if (rc == CREST_OK)
        rc = crest_fit(m, d, &(crest_fit_opts){ .epochs = 5, .batch_size = 16, .seed = 1 });
    if (rc == CREST_OK)
        rc = crest_evaluate(m, d, 0, &met);
    if (rc != CREST_OK)
        fprintf(stderr, "x: %s\n", crest_last_error());
    else
        printf("crest %s: accuracy %.3f\n", CREST_VERSION, met.accuracy);
    crest_model_free(m);
    crest_dataset_free(d);
    return rc == CREST_OK && met.accuracy > 0.9 ? 0 : 1;
}
