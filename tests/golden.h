/* golden.h - what the tests that compare crest with reference files share
 * (static, header-only; include after cmocka.h, crest.h and testutil.h):
 * reading a float32 file, the largest difference of two arrays, and loading
 * a TF.js folder with one substitution in its model.json. */
#ifndef CREST_GOLDEN_H
#define CREST_GOLDEN_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* n little-endian floats from path (with whole: exactly n, nothing after),
 * or NULL with a message. */
static inline float *gd_read_f32(const char *path, size_t n, bool whole)
{
    FILE *f = fopen(path, "rb");
    float *b = malloc((n ? n : 1) * sizeof *b);
    if (!f || !b || fread(b, sizeof *b, n, f) != n || (whole && fgetc(f) != EOF)) {
        print_error("%s: cannot read %zu floats\n", path, n);
        if (f)
            fclose(f);
        free(b);
        return NULL;
    }
    fclose(f);
    return b;
}

/* The largest |a[i] - b[i]|; NaN if any difference is NaN. */
static inline double gd_max_diff(const float *a, const float *b, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        w = d > w || d != d ? d : w;
    }
    return w;
}

/* The TF.js folder dir (model.json, weights.bin) copied with from (which
 * must be in model.json) replaced by to, then loaded: load's code, and its
 * message in msg ("" when it loaded). */
static inline int gd_load_edited(const char *dir, const char *from, const char *to, char *msg,
                                 size_t size)
{
    char tmp[64];
    tu_tmpdir(tmp, sizeof tmp);
    char *json = tu_read(dir, "model.json");
    char *bin = tu_read(dir, "weights.bin");
    size_t nbin = tu_size(dir, "weights.bin");
    assert_non_null(strstr(json, from));
    char *edited = tu_replace(json, from, to);
    tu_write(tmp, "model.json", edited, strlen(edited));
    tu_write(tmp, "weights.bin", bin, nbin);
    crest_model *m = NULL;
    int rc = crest_model_load(&m, tmp);
    snprintf(msg, size, "%s", rc ? crest_last_error() : "");
    crest_model_free(m);
    free(json);
    free(bin);
    free(edited);
    tu_rmdir(tmp);
    return rc;
}

#endif
