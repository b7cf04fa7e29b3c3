/* bench_finetune.c - time per fine-tuning step (forward, backward, update)
 * of a backbone with a Dense softmax head, as `crest train --base MODEL
 * --fine-tune N` runs it: the backbone cut at its default include_top=False
 * point, global average pooling, Dense(classes, softmax); every backbone
 * layer frozen, then its last N unfrozen (BatchNorm stays in inference
 * mode, gamma and beta train); Adam at 1e-4 (the CLI's lr / 10), sparse
 * categorical cross-entropy, batch B. Inputs are uniform in [-1, 1] (the
 * model's preprocessed range), labels random; seeded.
 *
 * One crest_fit epoch of S + W steps, unshuffled; the time of each step is
 * taken between progress events, the first W (planning, warm-up) dropped.
 * The whole prefix is recomputed every step, as Keras' fit does (no cache
 * of frozen features).
 *
 * usage: bench_finetune MODEL [--threads T] [--fine-tune N] [--batch B]
 *                             [--steps S] [--warmup W] [--classes K]
 * Prints one JSON line: median and min ms per step, and the first
 * trainable layer's name (the peer checks it unfreezes the same ones).
 */
#define _POSIX_C_SOURCE 200809L
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

typedef struct steps {
    double last;
    double *ms;
    int n, cap;
} steps;

static void on_progress(const crest_progress *e, void *user)
{
    steps *s = user;
    if (e->kind != CREST_PROGRESS_EPOCH_BEGIN && e->kind != CREST_PROGRESS_STEP)
        return;
    double t = now();
    if (e->kind == CREST_PROGRESS_STEP && s->n < s->cap)
        s->ms[s->n++] = 1e3 * (t - s->last);
    s->last = t;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench_opts {
    const char *model;
    int threads, fine_tune, batch, steps, warmup, classes;
} bench_opts;

/* The backbone cut, a Dense softmax head appended, its last N layers
 * trainable (the cut's pooling not counted, as the CLI does). */
static int build(const bench_opts *o, crest_model **out, const char **first)
{
    crest_model *m = NULL, *head = NULL;
    int rc = crest_model_load(&m, o->model);
    if (!rc)
        rc = crest_model_set_threads(m, o->threads);
    if (!rc)
        rc = crest_model_cut(m, NULL, CREST_POOL_AVG);
    if (!rc)
        rc = crest_model_set_trainable(m, 0, -1, false);
    int nb = rc ? 0 : crest_model_layer_count(m) - 1;   /* without the pooling */
    if (!rc)
        rc = crest_sequential_new(&head, crest_shape(1, crest_model_output_size(m)));
    if (!rc)
        rc = crest_add(head, crest_dense(o->classes, CREST_SOFTMAX));
    if (!rc)
        rc = crest_model_append(m, head);
    int n = o->fine_tune > nb ? nb : o->fine_tune;
    if (!rc && n > 0)
        rc = crest_model_set_trainable(m, nb - n, n, true);
    if (!rc)
        *first = crest_layer_name(crest_model_layer(m, n > 0 ? nb - n : nb + 1));
    if (!rc)
        rc = crest_compile(m, &(crest_compile_opts){ .optimizer = crest_adam(1e-4f),
                                                     .loss = CREST_SPARSE_CCE,
                                                     .metrics = CREST_ACCURACY });
    crest_model_free(head);
    if (rc)
        crest_model_free(m);
    else
        *out = m;
    return rc;
}

static int random_data(const crest_model *m, const bench_opts *o, crest_dataset **ds)
{
    crest_dims in = crest_model_input_shape(m);
    size_t per = 1, n = (size_t)o->batch * (size_t)(o->steps + o->warmup);
    for (int i = 0; i < in.ndim; i++)
        per *= (size_t)in.d[i];
    float *x = malloc(n * per * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    int rc = x && y ? CREST_OK : CREST_E_NOMEM;
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; !rc && i < n * per; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        x[i] = (float)((s >> 40) * (2.0 / 16777216.0) - 1.0);
    }
    for (size_t i = 0; !rc && i < n; i++)
        y[i] = (int32_t)(i * 7 % (size_t)o->classes);
    if (!rc)
        rc = crest_dataset_new(ds, n, in, x, y, o->classes);
    free(x);
    free(y);
    return rc;
}

static int parse(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){ .threads = 2, .fine_tune = 20, .batch = 32, .steps = 5, .warmup = 2,
                       .classes = 10 };
    if (argc < 2)
        return -1;
    o->model = argv[1];
    static const char *const names[] = { "--threads", "--fine-tune", "--batch", "--steps",
                                         "--warmup", "--classes" };
    int *dst[] = { &o->threads, &o->fine_tune, &o->batch, &o->steps, &o->warmup,
                   &o->classes };
    for (int i = 2; i + 1 < argc; i += 2) {
        size_t k = 0;
        while (k < 6 && strcmp(argv[i], names[k]))
            k++;
        if (k == 6)
            return -1;
        *dst[k] = atoi(argv[i + 1]);
    }
    return o->threads > 0 && o->fine_tune >= 0 && o->batch > 0 && o->steps > 0 &&
                   o->warmup >= 1 && o->classes > 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    bench_opts o;
    if (parse(argc, argv, &o)) {
        fprintf(stderr, "usage: bench_finetune MODEL [--threads T] [--fine-tune N] "
                        "[--batch B] [--steps S] [--warmup W] [--classes K]\n");
        return 2;
    }
    crest_model *m = NULL;
    crest_dataset *ds = NULL;
    const char *first = "";
    steps st = { .cap = o.steps + o.warmup };
    st.ms = calloc((size_t)st.cap, sizeof *st.ms);
    int rc = st.ms ? build(&o, &m, &first) : CREST_E_NOMEM;
    if (!rc)
        rc = random_data(m, &o, &ds);
    if (!rc)
        rc = crest_fit(m, ds, &(crest_fit_opts){ .epochs = 1, .batch_size = o.batch, .seed = 1,
                                                 .no_shuffle = true, .progress = on_progress,
                                                 .progress_user = &st });
    if (!rc && st.n != o.steps + o.warmup)
        fprintf(stderr, "bench_finetune: %d steps timed of %d\n", st.n, o.steps + o.warmup);
    if (rc || st.n <= o.warmup) {
        fprintf(stderr, "bench_finetune: %s\n", rc ? crest_last_error() : "no steps");
        return 1;
    }
    double *t = st.ms + o.warmup;
    int n = st.n - o.warmup;
    qsort(t, (size_t)n, sizeof *t, by_value);
    printf("{\"engine\": \"crest\", \"threads\": %d, \"batch\": %d, \"fine_tune\": %d, "
           "\"first_trainable\": \"%s\", \"steps\": %d, \"ms_per_step\": %.2f, "
           "\"min_ms\": %.2f}\n", o.threads, o.batch, o.fine_tune, first, n,
           n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t[0]);
    crest_model_free(m);
    crest_dataset_free(ds);
    free(st.ms);
    return 0;
}
