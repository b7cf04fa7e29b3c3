/* testutil.h - small file helpers for tests (static, header-only). */
#ifndef CREST_TESTUTIL_H
#define CREST_TESTUTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *mkdtemp(char *template);

static inline void tu_tmpdir(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/crest-test-XXXXXX");
    if (!mkdtemp(buf))
        abort();
}

static inline int tu_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static inline size_t tu_size(const char *dir, const char *name)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 ? (size_t)st.st_size : 0;
}

/* The whole file at path, NUL-terminated (its size in *n unless n is NULL),
 * or NULL if it does not open. */
static inline char *tu_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    size_t len = fstat(fileno(f), &st) == 0 ? (size_t)st.st_size : 0;
    char *b = malloc(len + 1);
    if (!b || fread(b, 1, len, f) != len)
        abort();
    b[len] = 0;
    fclose(f);
    if (n)
        *n = len;
    return b;
}

static inline char *tu_read(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return tu_read_file(p, NULL);
}

static inline void tu_write(const char *dir, const char *name, const void *data, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, n, f) != n)
        abort();
    fclose(f);
}

/* s with the first occurrence of from replaced by to (malloc'd). */
static inline char *tu_replace(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    if (!p)
        abort();
    size_t a = (size_t)(p - s), fl = strlen(from), tl = strlen(to), n = strlen(s);
    char *r = malloc(n - fl + tl + 1);
    memcpy(r, s, a);
    memcpy(r + a, to, tl);
    memcpy(r + a + tl, p + fl, n - a - fl + 1);
    return r;
}

static inline void tu_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[1024];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* A fresh temp folder per test (cmocka setup / teardown): tests that use
 * them name it tu_fixture_dir. */
static char tu_fixture_dir[64] __attribute__((unused));

static inline int tu_setup_dir(void **state)
{
    (void)state;
    tu_tmpdir(tu_fixture_dir, sizeof tu_fixture_dir);
    return 0;
}

static inline int tu_teardown_dir(void **state)
{
    (void)state;
    tu_rmdir(tu_fixture_dir);
    return 0;
}

#endif
