/* common.c - what the `crest` commands share: exit codes from errors,
 * usage messages, output paths, data-set limits and the validation split.
 * Below every command: it calls none. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_fail(const char *cmd, int rc)
{
    fprintf(stderr, "crest %s: %s\n", cmd, crest_last_error());
    return cli_exit_code(rc);
}

int cli_exit_code(int rc)
{
    switch (rc) {
    case CREST_E_FORMAT: case CREST_E_SHAPE: case CREST_E_ARG: case CREST_E_IO:
    case CREST_E_UNSUPPORTED:
        return EXIT_INPUT;
    default:
        return EXIT_RUN;
    }
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "crest %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see crest %s --help)\n", cmd);
    return EXIT_USAGE;
}

bool cli_is_image_folder(const char *spec)
{
    struct stat st;
    char p[4200];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", spec);
    return stat(spec, &st) == 0 && S_ISDIR(st.st_mode) && stat(p, &st) != 0;
}

int cli_dataset_limit(crest_dataset **d, long limit)
{
    if (limit <= 0 || (size_t)limit >= crest_dataset_size(*d))
        return CREST_OK;
    crest_dataset *s = NULL;
    int rc = crest_dataset_slice(*d, 0, (size_t)limit, &s);
    if (!rc) {
        crest_dataset_free(*d);
        *d = s;
    }
    return rc;
}

/* "validation split (seed 3, stratified): 4 samples: 2 cat, 2 dog" */
static void print_split(const crest_dataset *val, uint64_t seed)
{
    int K = crest_dataset_classes(val);
    size_t n = crest_dataset_size(val);
    const int32_t *l = crest_dataset_labels(val);
    fprintf(stderr, "validation split (seed %llu, stratified): %zu samples:",
            (unsigned long long)seed, n);
    for (int k = 0; k < K; k++) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
            c += l[i] == k;
        const char *nm = crest_dataset_class_name(val, k);
        if (nm)
            fprintf(stderr, "%s %zu %s", k ? "," : "", c, nm);
        else
            fprintf(stderr, "%s %zu of class %d", k ? "," : "", c, k);
    }
    fputc('\n', stderr);
}

int cli_split_val(const train_opts *o, crest_dataset **ds, crest_dataset **val)
{
    if (o->val || !(o->val_split > 0) || !crest_dataset_labels(*ds))
        return CREST_OK;
    crest_dataset *t = NULL;
    int rc = crest_dataset_split(*ds, o->val_split, (uint64_t)o->seed, &t, val);
    if (!rc) {
        crest_dataset_free(*ds);
        *ds = t;
        print_split(*val, (uint64_t)o->seed);
    }
    return rc;
}

/* The folder a path is in ("." for a bare name), trailing slashes ignored. */
static void parent_of(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash)
        snprintf(buf, size, ".");
    else if (slash == buf)
        buf[1] = 0;
    else
        *slash = 0;
}

/* Creates and removes a file in dir: permission bits do not tell (root
 * writes anywhere they allow, but not in /proc or on a read-only mount). */
static int probe_dir(const char *cmd, const char *opt, const char *target, const char *dir)
{
    char p[4200];
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "crest %s: %s %s: folder %s does not exist\n", cmd, opt, target, dir);
        return EXIT_INPUT;
    }
    snprintf(p, sizeof p, "%s/.crest-probe.%ld", dir, (long)getpid());
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        fprintf(stderr, "crest %s: %s %s: cannot write in %s: %s\n", cmd, opt, target, dir,
                strerror(errno));
        return EXIT_INPUT;
    }
    close(fd);
    unlink(p);
    return 0;
}

int cli_check_dir_opt(const char *cmd, const char *opt, const char *dir)
{
    struct stat st;
    char parent[4096];
    if (!*dir || strlen(dir) >= 4000) {
        fprintf(stderr, "crest %s: %s '%s' is not a usable folder name\n", cmd, opt, dir);
        return EXIT_INPUT;
    }
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "crest %s: %s %s exists and is not a folder\n", cmd, opt, dir);
            return EXIT_INPUT;
        }
        return probe_dir(cmd, opt, dir, dir);
    }
    if (errno != ENOENT) {
        fprintf(stderr, "crest %s: %s %s: %s\n", cmd, opt, dir, strerror(errno));
        return EXIT_INPUT;
    }
    parent_of(dir, parent, sizeof parent);
    return probe_dir(cmd, opt, dir, parent);
}

int cli_check_out_dir(const char *cmd, const char *dir)
{
    return cli_check_dir_opt(cmd, "--out", dir);
}

int cli_check_out_file(const char *cmd, const char *path)
{
    struct stat st;
    char parent[4096];
    if (!*path || strlen(path) >= 4000) {
        fprintf(stderr, "crest %s: --out '%s' is not a usable file name\n", cmd, path);
        return EXIT_INPUT;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "crest %s: --out %s is a folder\n", cmd, path);
        return EXIT_INPUT;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return 0;   /* a device or a pipe: written in place */
    parent_of(path, parent, sizeof parent);
    return probe_dir(cmd, "--out", path, parent);
}

/* Regular files (or new ones) go through a temporary file and a rename, so
 * a failed or killed run leaves the old file or the new one. */
int cli_put_file(const char *path, const void *data, size_t len, char *err, size_t esz)
{
    struct stat st;
    char tmp[4200];
    bool in_place = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    const char *w = in_place ? path : tmp;
    int fd = open(w, O_WRONLY | O_CREAT | (in_place ? 0 : O_TRUNC), 0644);
    const char *p = data;
    size_t left = len;
    bool ok = fd >= 0;
    while (ok && left) {
        ssize_t k = write(fd, p, left);
        if (k < 0 && errno == EINTR)
            continue;
        ok = k > 0;
        p += ok ? k : 0;
        left -= ok ? (size_t)k : 0;
    }
    ok = ok && (in_place || fsync(fd) == 0);
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && !in_place && rename(tmp, path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        if (!in_place)
            unlink(tmp);
        snprintf(err, esz, "%s: %s", path, strerror(e));
        return -1;
    }
    if (in_place)
        return 0;
    char dir[4200];   /* the rename made durable: its folder synced */
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    int dfd = open(slash ? (*dir ? dir : "/") : ".", O_RDONLY | O_DIRECTORY);
    ok = dfd >= 0 && (fsync(dfd) == 0 || errno == EINVAL || errno == EROFS);
    e = errno;
    if (dfd >= 0)
        close(dfd);
    if (!ok)
        snprintf(err, esz, "%s: %s", slash ? dir : ".", strerror(e));
    return ok ? 0 : -1;
}

int cli_write_file(const char *cmd, const char *path, const void *data, size_t len)
{
    char err[4400];
    if (cli_put_file(path, data, len, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "crest %s: %s\n", cmd, err);
    return EXIT_RUN;
}

int cli_shape_opt(const char *cmd, const cli_opt *o, const char *s, void *dst)
{
    cli_shape *sh = dst;
    long v[CREST_MAX_DIMS + 1];
    int k = 0;
    double total = 1;
    const char *p = s;
    while (*p && k <= CREST_MAX_DIMS) {
        char *end;
        errno = 0;
        v[k] = strtol(p, &end, 10);
        if (errno || end == p || v[k] < 1 || v[k] > (1L << 24) || (*end && *end != ','))
            break;
        total *= (double)v[k++];
        p = *end ? end + 1 : end;
    }
    if (*p || k < 2 || k > CREST_MAX_DIMS) {
        fprintf(stderr, "crest %s: %s '%s' is not N,D1,D2,... of positive integers\n", cmd,
                o->name, s);
        return EXIT_INPUT;
    }
    if (total > 0x1p40) {
        fprintf(stderr, "crest %s: %s '%s': %.3g values, more than 2^40\n", cmd, o->name, s, total);
        return EXIT_INPUT;
    }
    sh->text = s;
    sh->n = (size_t)v[0];
    sh->d.ndim = k - 1;
    for (int i = 1; i < k; i++)
        sh->d.d[i - 1] = v[i];
    return 0;
}

float *cli_read_f32(const char *cmd, const char *path, size_t want, int *rc)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "crest %s: %s: %s\n", cmd, path, strerror(errno));
        *rc = EXIT_INPUT;
        return NULL;
    }
    float *x = malloc(want ? want * sizeof(float) : 1);
    size_t got = x ? fread(x, sizeof(float), want, f) : 0;
    int extra = fgetc(f);
    fclose(f);
    if (!x) {
        fprintf(stderr, "crest %s: %s: out of memory for %zu float32 values\n", cmd, path, want);
        *rc = EXIT_RUN;
        return NULL;
    }
    if (got != want || extra != EOF) {
        fprintf(stderr, "crest %s: %s: expected exactly %zu float32 values (%zu bytes)\n", cmd,
                path, want, want * sizeof(float));
        free(x);
        *rc = EXIT_INPUT;
        return NULL;
    }
    return x;
}
