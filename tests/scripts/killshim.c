/* killshim.c - LD_PRELOAD fault injection for tests/scripts/kill_resume.sh:
 * SIGKILL at an exact moment of a save. It counts the calls that change
 * files (write to a regular file other than stdin/stdout/stderr, fsync,
 * rename, unlink); with KILL_AT=N the process kills itself at call N, and
 * with KILL_ON=OP:TEXT:N at the N-th call OP (write, fsync, rename,
 * unlink) on a path containing TEXT (a write first writes half its bytes,
 * so the file is left torn). KILL_COUNT names a file that receives the
 * number of calls at exit; KILL_LOG one that gets a line "OP PATH" per call. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long calls, matches;

static void log_call(const char *op, const char *path)
{
    static FILE *log;
    const char *f = getenv("KILL_LOG");
    if (f && !log)
        log = fopen(f, "w");
    if (log) {
        fprintf(log, "%s %s\n", op, path ? path : "?");
        fflush(log);
    }
}

static int at_kill_point(const char *op, const char *path)
{
    const char *e = getenv("KILL_AT"), *on = getenv("KILL_ON");
    log_call(op, path);
    if (e && ++calls == atol(e))
        return 1;
    char want[256];
    const char *a = on ? strchr(on, ':') : NULL, *b = a ? strrchr(on, ':') : NULL;
    if (!b || b == a || (size_t)(a - on) != strlen(op) || strncmp(on, op, strlen(op)))
        return 0;
    snprintf(want, sizeof want, "%.*s", (int)(b - a - 1), a + 1);
    return path && strstr(path, want) && ++matches == atol(b + 1);
}

static const char *fd_path(int fd, char *buf, size_t n)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, buf, n - 1);
    buf[k > 0 ? k : 0] = 0;
    return buf;
}

static void *real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f)
        abort();
    return f;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    ssize_t (*w)(int, const void *, size_t) = (ssize_t (*)(int, const void *, size_t))real("write");
    struct stat st;
    char p[4096];
    if (fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        at_kill_point("write", fd_path(fd, p, sizeof p))) {
        w(fd, buf, n / 2);
        raise(SIGKILL);
    }
    return w(fd, buf, n);
}

int fsync(int fd)
{
    char p[4096];
    if (at_kill_point("fsync", fd_path(fd, p, sizeof p)))
        raise(SIGKILL);
    return ((int (*)(int))real("fsync"))(fd);
}

int rename(const char *from, const char *to)
{
    if (at_kill_point("rename", to))
        raise(SIGKILL);
    return ((int (*)(const char *, const char *))real("rename"))(from, to);
}

int unlink(const char *path)
{
    if (at_kill_point("unlink", path))
        raise(SIGKILL);
    return ((int (*)(const char *))real("unlink"))(path);
}

__attribute__((destructor)) static void report(void)
{
    const char *f = getenv("KILL_COUNT");
    FILE *o = f ? fopen(f, "w") : NULL;
    if (o) {
        fprintf(o, "%ld\n", calls);
        fclose(o);
    }
}
