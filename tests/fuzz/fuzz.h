/* fuzz.h - shared helpers of the libFuzzer harnesses (header-only).
 *
 * Loaders that read files get the fuzz input written into a per-process
 * scratch folder (under $TMPDIR, default /dev/shm when it exists, so the
 * files stay in memory). Nothing here prints; a failed write aborts, since
 * the fuzzer cannot continue without its scratch folder. */
#ifndef CREST_FUZZ_H
#define CREST_FUZZ_H

#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crest.h"

char *mkdtemp(char *template);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scratch folder, created on first use and removed at exit. */
static char fz_dir_buf[512];

static void fz_cleanup(void)
{
    char cmd[600];
    if (fz_dir_buf[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir_buf);
        if (system(cmd) != 0)
            fz_dir_buf[0] = 0;
    }
}

static inline const char *fz_dir(void)
{
    if (!fz_dir_buf[0]) {
        const char *t = getenv("TMPDIR");
        struct stat st;
        if (!t || !*t)
            t = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
        snprintf(fz_dir_buf, sizeof fz_dir_buf, "%s/crest-fuzz-XXXXXX", t);
        if (!mkdtemp(fz_dir_buf))
            abort();
        atexit(fz_cleanup);
    }
    return fz_dir_buf;
}

/* Writes n bytes to the scratch folder's file name; its path into path. */
static inline void fz_write(const char *name, const void *p, size_t n, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", fz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n))
        abort();
    fclose(f);
}

/* The input as a NUL-terminated string (malloc'd). */
static inline char *fz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* Splits data at the first occurrence of sep: part 1 [0, *n1), part 2 from
 * *p2 for *n2 bytes (empty when sep is absent). */
static inline void fz_split(const uint8_t *data, size_t size, const char *sep, size_t *n1,
                            const uint8_t **p2, size_t *n2)
{
    size_t k = strlen(sep);
    *n1 = size;
    *p2 = data + size;
    *n2 = 0;
    for (size_t i = 0; i + k <= size; i++)
        if (!memcmp(data + i, sep, k)) {
            *n1 = i;
            *p2 = data + i + k;
            *n2 = size - i - k;
            return;
        }
}

/* Stops the run on a broken promise, saying which one and crest's message
 * (a bare trap leaves the log without the reason). */
static inline void fz_fail(const char *what)
{
    fprintf(stderr, "fuzz: %s: %s\n", what, crest_last_error());
    __builtin_trap();
}

/* A declared variable may legitimately hold hundreds of millions of floats
 * (W[_,8206,8206]: 1 GB with its gradient and optimizer slots), more than the
 * fuzzer's malloc limit: the expression harnesses skip inputs whose numbers
 * multiply to over 2e6, so the limit only catches allocations the text did
 * not ask for. */
static inline bool fz_big_numbers(const uint8_t *d, size_t n)
{
    double prod = 1, v = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && d[i] >= '0' && d[i] <= '9') {
            v = v * 10 + (d[i] - '0');
            continue;
        }
        if (v > 1)
            prod *= v;
        v = 0;
        if (prod > 2e6)
            return true;
    }
    return false;
}

/* ---- loaded models: what crest loads it must be able to use and save ---- */

#define FZ_MAX_VALUES 65536        /* inputs or outputs per sample run */
#define FZ_MAX_PARAMS (1 << 20)

/* One prediction on zeros (when the model is small enough) and summaries. */
static inline void fz_run_model(crest_model *m)
{
    crest_model_set_threads(m, 1);
    int64_t in = crest_dims_count(crest_model_input_shape(m));
    int64_t out = crest_model_output_size(m);
    if (in > 0 && in <= FZ_MAX_VALUES && out > 0 && out <= FZ_MAX_VALUES &&
        crest_model_param_count(m, false) <= FZ_MAX_PARAMS) {
        float *x = calloc((size_t)in, sizeof *x), *p = calloc((size_t)out, sizeof *p);
        if (!x || !p)
            abort();
        crest_predict(m, x, 1, p);
        free(x);
        free(p);
    }
    crest_free(crest_model_summary(m, false));
    crest_free(crest_model_summary(m, true));
}

/* The formats fz_save_reload writes besides a TF.js folder (.h5 and .keras
 * readers fork, which is slow in a fuzzer: only their own harnesses ask). */
enum { FZ_SAVE_H5 = 1, FZ_SAVE_KERAS = 2 };

static inline void fz_save_one(crest_model *m, const char *name,
                               int (*save)(crest_model *, const char *), const char *what)
{
    char path[600];
    crest_model *again = NULL;
    snprintf(path, sizeof path, "%s/%s", fz_dir(), name);
    if (save(m, path) == CREST_OK) {
        if (crest_model_load(&again, path) != CREST_OK)
            fz_fail(what);
        crest_model_free(again);
    }
}

/* Saves m in the scratch folder as a TF.js folder and in the formats asked
 * for, and loads each back: a save may be refused (a name too long for a
 * path), but what crest wrote it must read. */
static inline void fz_save_reload(crest_model *m, unsigned formats)
{
    if (crest_model_param_count(m, false) > FZ_MAX_PARAMS)
        return;
    fz_save_one(m, "saved", crest_model_save, "a TF.js folder crest saved does not load");
    if (formats & FZ_SAVE_H5)
        fz_save_one(m, "saved.h5", crest_model_save_h5, "an .h5 file crest saved does not load");
    if (formats & FZ_SAVE_KERAS)
        fz_save_one(m, "saved.keras", crest_model_save_keras,
                    "a .keras file crest saved does not load");
}

/* A model file at path through crest_model_load: a model that loads is run
 * on zeros, summarised, saved (formats) and loaded again; a failure must
 * leave no model and say why. */
static inline void fz_load_model(const char *path, unsigned formats)
{
    crest_model *m = NULL;
    if (crest_model_load(&m, path) == CREST_OK) {
        fz_run_model(m);
        fz_save_reload(m, formats);
        crest_model_free(m);
    } else if (m || !*crest_last_error()) {
        fz_fail("a failed load left a model or said nothing");
    }
}

/* The same file loaded as weights onto Dense(3) on 4 inputs named dense_1
 * (the seeds' architecture): refused or accepted, never a crash, and a
 * refusal says why. */
static inline void fz_load_as_weights(const char *path)
{
    crest_model *m = NULL;
    if (crest_sequential_new(&m, crest_shape(1, 4)) != CREST_OK)
        abort();
    crest_layer *d = crest_dense(3, CREST_SOFTMAX);
    crest_layer_set_name(d, "dense_1");
    crest_add(m, d);
    if (crest_model_load_weights(m, path) != CREST_OK && !*crest_last_error())
        fz_fail("a refused load_weights said nothing");
    crest_model_free(m);
}

#endif
