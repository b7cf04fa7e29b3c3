/* child.c - readers in a child process (child.h), used by the .h5 and
 * .keras readers (src/io/h5.c, src/io/keras.c). The budget: CPU seconds from
 * CREST_H5_SECONDS or 120, twice that of wall clock, 16 GiB of address
 * space outside AddressSanitizer builds, and death with the loader
 * (PR_SET_PDEATHSIG). */
#define _POSIX_C_SOURCE 200809L
#include "io/child.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_SECONDS 120

#if defined(__SANITIZE_ADDRESS__)
#define CR_CHILD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CR_CHILD_ASAN 1
#endif
#endif

static unsigned child_seconds(void)
{
    const char *e = getenv("CREST_H5_SECONDS");
    char *end;
    long v = e ? strtol(e, &end, 10) : 0;
    return e && *e && !*end && v >= 1 && v <= 86400 ? (unsigned)v : CHILD_SECONDS;
}

int cr_child_spawn(cr_child *c, const char *path, const char *lib,
                   void (*work)(const char *path, const void *arg, int fd), const void *arg)
{
    int p[2];
    *c = (cr_child){ .path = path, .lib = lib, .pid = -1 };
    if (pipe(p) != 0)
        return cr_fail(CREST_E_IO, "%s: pipe: %s", path, strerror(errno));
    fflush(NULL);
    c->pid = fork();
    if (c->pid < 0) {
        close(p[0]);
        close(p[1]);
        return cr_fail(CREST_E_IO, "%s: fork: %s", path, strerror(errno));
    }
    if (c->pid == 0) {
        close(p[0]);
        signal(SIGPIPE, SIG_DFL);
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        unsigned secs = child_seconds();
        struct rlimit cpu = { secs, secs + 1 };
        setrlimit(RLIMIT_CPU, &cpu);
        alarm(2 * secs);
#ifndef CR_CHILD_ASAN
        struct rlimit lim = { (rlim_t)16 << 30, (rlim_t)16 << 30 };
        setrlimit(RLIMIT_AS, &lim);
#endif
        work(path, arg, p[1]);
        _exit(0);
    }
    close(p[1]);
    c->f = fdopen(p[0], "rb");
    if (!c->f) {
        close(p[0]);
        return cr_fail(CREST_E_NOMEM, "%s: out of memory", path);
    }
    return CREST_OK;
}

int cr_child_finish(cr_child *c, int rc)
{
    if (c->f)
        fclose(c->f);
    c->f = NULL;
    if (c->pid <= 0)
        return rc;
    if (rc)
        kill(c->pid, SIGKILL);
    int st = 0;
    while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
        ;
    c->pid = -1;
    if (c->eof && WIFSIGNALED(st) && (WTERMSIG(st) == SIGXCPU || WTERMSIG(st) == SIGALRM))
        rc = cr_fail(CREST_E_FORMAT, "%s: %s spent more than %u s reading it: the file is "
                     "damaged (CREST_H5_SECONDS sets the limit)", c->path, c->lib,
                     child_seconds());
    else if (c->eof && WIFSIGNALED(st))
        rc = cr_fail(CREST_E_FORMAT, "%s: %s stopped on signal %d reading it: the file is "
                     "damaged", c->path, c->lib, WTERMSIG(st));
    else if (c->eof)
        rc = cr_fail(CREST_E_FORMAT, "%s: %s failed reading it (exit %d): the file is damaged",
                     c->path, c->lib, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return rc;
}

/* A signal caught while the pipe is empty (a program's SIGALRM, SIGCHLD or
 * profiling timer, unless installed with SA_RESTART) makes read() fail with
 * EINTR, and fread return short with the error flag set; that is not the
 * end of the stream: clear the flag and read the rest. */
int cr_child_get(cr_child *c, void *p, size_t n)
{
    char *s = p;
    for (;;) {
        size_t k = fread(s, 1, n, c->f);
        s += k;
        n -= k;
        if (n == 0)
            return CREST_OK;
        if (!ferror(c->f) || errno != EINTR)
            break;
        clearerr(c->f);
    }
    c->eof = true;
    return CREST_E_FORMAT;             /* cr_child_finish says what happened */
}

int cr_child_get_u32(cr_child *c, uint32_t *v) { return cr_child_get(c, v, sizeof *v); }

int cr_child_get_str(cr_child *c, uint32_t max, char **out)
{
    uint32_t n;
    *out = NULL;
    int rc = cr_child_get_u32(c, &n);
    if (rc)
        return rc;
    if (n > max)
        return cr_fail(CREST_E_FORMAT, "%s: a record of %u bytes (at most %u)", c->path, n, max);
    if (!(*out = cr_malloc((size_t)n + 1)))
        return cr_fail(CREST_E_NOMEM, "%s: out of memory", c->path);
    (*out)[n] = 0;
    return cr_child_get(c, *out, n);
}

int cr_child_get_tag(cr_child *c, char *tag)
{
    int rc = cr_child_get(c, tag, 1);
    if (rc || *tag != 'E')
        return rc;
    char *msg = NULL;
    if (!(rc = cr_child_get_str(c, 4096, &msg)))
        rc = cr_fail(CREST_E_FORMAT, "%s: %s", c->path, msg);
    cr_free(msg);
    return rc;
}

void cr_child_put(cr_child_out *o, const void *p, size_t n)
{
    const char *s = p;
    while (!o->broken && n > 0) {
        ssize_t k = write(o->fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            o->broken = true;          /* the parent stopped reading */
            return;
        }
        s += k;
        n -= (size_t)k;
    }
}

void cr_child_put_u32(cr_child_out *o, uint32_t v) { cr_child_put(o, &v, sizeof v); }

void cr_child_put_bytes(cr_child_out *o, const void *p, uint32_t n)
{
    cr_child_put_u32(o, n);
    cr_child_put(o, p, n);
}

void cr_child_put_str(cr_child_out *o, const char *s)
{
    cr_child_put_bytes(o, s, (uint32_t)strlen(s));
}

void cr_child_put_tag(cr_child_out *o, char tag) { cr_child_put(o, &tag, 1); }

void cr_child_put_end(cr_child_out *o, int rc)
{
    cr_child_put_tag(o, rc ? 'E' : 'D');
    if (rc)
        cr_child_put_str(o, crest_last_error());
}
