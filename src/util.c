/* util.c - errors, allocation, random numbers, shapes, files. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------ */

static _Thread_local char err_msg[1024];

const char *crest_last_error(void) { return err_msg; }

const char *crest_strerror(int code)
{
    switch (code) {
    case CREST_OK: return "ok";
    case CREST_E_NOMEM: return "out of memory";
    case CREST_E_IO: return "i/o error";
    case CREST_E_FORMAT: return "bad format";
    case CREST_E_SHAPE: return "shape mismatch";
    case CREST_E_ARG: return "bad argument";
    case CREST_E_STATE: return "bad state";
    case CREST_E_UNSUPPORTED: return "unsupported";
    case CREST_E_INTERNAL: return "internal error";
    default: return "unknown error";
    }
}

/* Messages are written in the "C" locale too: "[1, 1.5]", never "[1, 1,5]". */
static void format_c(char *buf, size_t size, const char *fmt, va_list ap)
{
    void *saved = cr_locale_push_c();
    vsnprintf(buf, size, fmt, ap);
    cr_locale_pop(saved);
}

int cr_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    format_c(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    return code;
}

int cr_wrap(int code, const char *fmt, ...)
{
    char prefix[512], old[sizeof err_msg];
    va_list ap;
    va_start(ap, fmt);
    format_c(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err_msg, sizeof old);
    size_t k = strlen(prefix);
    if (k > sizeof err_msg - 3)
        k = sizeof err_msg - 3;
    memcpy(err_msg, prefix, k);
    memcpy(err_msg + k, ": ", 2);
    size_t rest = sizeof err_msg - k - 3, ol = strlen(old);
    if (ol > rest)
        ol = rest;
    memcpy(err_msg + k + 2, old, ol);
    err_msg[k + 2 + ol] = 0;
    return code;
}

/* ---- memory ------------------------------------------------------------ */

static _Thread_local long fail_countdown = -1;

void cr_alloc_fail_after(long k) { fail_countdown = k; }

static bool should_fail(void)
{
    if (fail_countdown < 0)
        return false;
    if (fail_countdown == 0) {
        fail_countdown = -1;
        return true;
    }
    fail_countdown--;
    return false;
}

void *cr_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *cr_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *cr_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

char *cr_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cr_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void cr_free(void *p) { free(p); }
void crest_free(void *p) { free(p); }

/* ---- numbers, whatever the host's locale ------------------------------- */

/* A program may have called setlocale(LC_ALL, "de_DE.UTF-8"), where strtod
 * reads "39,1" and printf writes it; crest's files always use '.'. The
 * calling thread switches to a "C" locale object (POSIX 2008 uselocale)
 * around each conversion and back, so other threads and the host's own
 * printing are untouched. */
static locale_t c_locale = (locale_t)0;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_make(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

void *cr_locale_push_c(void)
{
    pthread_once(&c_locale_once, c_locale_make);
    if (!c_locale)   /* newlocale failed (out of memory): the global locale stays */
        return NULL;
    return (void *)uselocale(c_locale);
}

double cr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cr_locale_pop(void *saved)
{
    if (saved)
        uselocale((locale_t)saved);
}

double cr_strtod(const char *s, char **end)
{
    void *saved = cr_locale_push_c();
    double v = strtod(s, end);
    int e = errno;
    cr_locale_pop(saved);
    errno = e;
    return v;
}

int cr_snprintf_c(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    void *saved = cr_locale_push_c();
    int k = vsnprintf(buf, n, fmt, ap);
    cr_locale_pop(saved);
    va_end(ap);
    return k;
}

/* ---- random numbers ---------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cr_rng_seed(cr_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t cr_rng_next(cr_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double cr_rng_uniform(cr_rng *r) { return (cr_rng_next(r) >> 11) * 0x1.0p-53; }

double cr_rng_normal(cr_rng *r)
{
    /* Box-Muller; one value per call keeps the stream simple to reason about */
    double u1 = cr_rng_uniform(r), u2 = cr_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t cr_rng_below(cr_rng *r, uint64_t n)
{
    /* rejection sampling: unbiased */
    if (n == 0)
        return 0;
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
    do
        x = cr_rng_next(r);
    while (x >= lim);
    return x % n;
}

/* ---- shapes ------------------------------------------------------------ */

crest_dims crest_shape(int ndim, ...)
{
    crest_dims s = { 0 };
    va_list ap;
    if (ndim < 0 || ndim > CREST_MAX_DIMS) {
        s.ndim = -1;
        return s;
    }
    s.ndim = ndim;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++)
        s.d[i] = va_arg(ap, int);
    va_end(ap);
    return s;
}

int64_t cr_dims_count(const cr_dims *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->d[i];
    return n;
}

int64_t crest_dims_count(crest_dims s)
{
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] == CREST_DIM_NONE)
            return -1;
    return cr_dims_count(&s);
}

bool cr_dims_eq(const cr_dims *a, const cr_dims *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i])
            return false;
    return true;
}

char *cr_dims_str(const cr_dims *s, char *buf, size_t size)
{
    size_t k = 0;
    if (!size)
        return buf;
    k += snprintf(buf + k, size - k, "[");
    for (int i = 0; i < s->ndim && k < size; i++)
        k += s->d[i] == CREST_DIM_NONE ? snprintf(buf + k, size - k, i ? ",None" : "None")
                                       : snprintf(buf + k, size - k, i ? ",%lld" : "%lld",
                                                  (long long)s->d[i]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
    return buf;
}

char *crest_dims_str(crest_dims s, char *buf, size_t size)
{
    return cr_dims_str(&s, buf, size);
}

/* ---- files ------------------------------------------------------------- */

int cr_read_file(const char *path, size_t max, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cr_fail(CREST_E_IO, "%s: %s", path, strerror(errno));
    int rc = CREST_OK;
    char *buf = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = cr_fail(CREST_E_IO, "%s: not a regular file", path);
        goto out;
    }
    if (max && (size_t)st.st_size > max) {
        rc = cr_fail(CREST_E_FORMAT, "%s: %lld bytes, more than the %zu allowed", path,
                     (long long)st.st_size, max);
        goto out;
    }
    buf = cr_malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = cr_fail(CREST_E_NOMEM, "%s: out of memory reading %lld bytes", path,
                     (long long)st.st_size);
        goto out;
    }
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    if (got != (size_t)st.st_size) {
        rc = cr_fail(CREST_E_IO, "%s: short read (%zu of %lld bytes)", path, got,
                     (long long)st.st_size);
        goto out;
    }
    buf[got] = 0;
    *out = buf;
    *len = got;
    buf = NULL;
out:
    cr_free(buf);
    fclose(f);
    return rc;
}

/* The folder part of path ("." when there is none) into buf. */
static void dir_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (slash && n == 0)
        n = 1;                                     /* "/file" */
    if (!slash || n >= size)
        snprintf(buf, size, ".");
    else
        snprintf(buf, size, "%.*s", (int)n, path);
}

/* PID of a temp file of crest's own, "<target>.tmp.<pid>" where target is
 * a .json, .bin, .ckpt or .h5 file; else 0. */
static long temp_pid(const char *name)
{
    const char *t = strstr(name, ".tmp."), *kinds[] = { ".json", ".bin", ".ckpt", ".h5", ".keras" };
    while (t && strstr(t + 1, ".tmp."))
        t = strstr(t + 1, ".tmp.");
    if (!t || !t[5] || t[5] == '-' || t[5] == '+')
        return 0;
    bool ours = false;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t n = strlen(kinds[k]);
        ours |= (size_t)(t - name) > n && !strncmp(t - n, kinds[k], n);
    }
    char *end;
    long pid = strtol(t + 5, &end, 10);
    return !ours || *end || pid <= 0 ? 0 : pid;
}

int cr_remove_dead_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = temp_pid(e->d_name);
        if (!pid || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char p[4096];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p && unlink(p) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int cr_sync_dir_of(const char *path)
{
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return cr_fail(CREST_E_IO, "%s: %s", dir, strerror(errno));
    int rc = CREST_OK;
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        rc = cr_fail(CREST_E_IO, "%s: fsync: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

int cr_write_file_atomic(const char *path, const void *data, size_t len)
{
    size_t n = strlen(path) + 32;
    char *tmp = cr_malloc(n);
    if (!tmp)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory", path);
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    cr_remove_dead_temps(dir);   /* what earlier killed writers left */
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int rc = CREST_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        rc = cr_fail(CREST_E_IO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = cr_fail(CREST_E_IO, "%s: %s", tmp, strerror(errno));
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (rc == CREST_OK && fsync(fd) != 0)
        rc = cr_fail(CREST_E_IO, "%s: fsync: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == CREST_OK)
        rc = cr_fail(CREST_E_IO, "%s: close: %s", tmp, strerror(errno));
    if (rc == CREST_OK && rename(tmp, path) != 0)
        rc = cr_fail(CREST_E_IO, "%s: rename: %s", path, strerror(errno));
    else if (rc == CREST_OK)
        rc = cr_sync_dir_of(path);
    if (rc != CREST_OK)
        unlink(tmp);
out:
    cr_free(tmp);
    return rc;
}

bool cr_make_dirs(const char *dir)
{
    char p[4096];
    struct stat st;
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof p)
        return false;
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0)
            continue;
        char c = p[i];
        p[i] = 0;
        if (stat(p, &st) != 0) {
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return false;
            cr_sync_dir_of(p);   /* the new folder's entry is durable */
        }
        p[i] = c;
    }
    if (stat(dir, &st) != 0)
        return false;
    if (!S_ISDIR(st.st_mode))
        errno = ENOTDIR;   /* a file there: say so, not a stale errno */
    return S_ISDIR(st.st_mode);
}

/* ---- hashing ----------------------------------------------------------- */

void cr_hash_bytes(cr_hasher *s, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = s->h;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {    /* word at a time: fast on big data sets */
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ b[i]) * 0x100000001B3ull;
    h = (h ^ n) * 0xBF58476D1CE4E5B9ull;
    s->h = h ^ (h >> 31);
}

void cr_hash_str(cr_hasher *s, const char *str) { cr_hash_bytes(s, str, strlen(str) + 1); }

/* ---- byte buffers ------------------------------------------------------ */

void cr_buf_put(cr_buf *b, const void *src, size_t n)
{
    if (b->err)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = cr_realloc(b->p, cap);
        if (!p) {
            b->err = cr_fail(CREST_E_NOMEM, "out of memory for %zu bytes", cap);
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

int cr_buf_get(cr_buf *b, void *dst, size_t n)
{
    if (b->err)
        return b->err;
    if (n > b->len - b->pos)
        return b->err = cr_fail(CREST_E_FORMAT, "truncated: %zu bytes wanted at offset %zu of %zu",
                                n, b->pos, b->len);
    if (dst && n)
        memcpy(dst, b->p + b->pos, n);
    b->pos += n;
    return CREST_OK;
}
