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

#endif
