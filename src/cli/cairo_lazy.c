/* cairo_lazy.c - see cairo_lazy.h. */
#define _POSIX_C_SOURCE 200809L
#include "cairo_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

cli_cairo cx;

static bool loaded;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Each symbol of lib into its slot (dlsym's object pointer stored through a
 * void * view of the function pointer, as POSIX specifies for dlsym). */
static bool load(const char *lib, const char *const *names, void **const *slots, int n, char *err,
                 size_t len)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, len, "the report's drawing library is missing (%s)", dlerror());
        return false;
    }
    for (int i = 0; i < n; i++) {
        void *p = dlsym(h, names[i]);
        if (!p) {
            snprintf(err, len, "%s has no %s (%s)", lib, names[i], dlerror());
            return false;   /* the handle stays: what was found may be in use */
        }
        *slots[i] = p;
    }
    return true;
}

#define NAME(f) #f,
#define SLOT(f) (void **)(void *)&cx.f,
static const char *const cairo_names[] = { CLI_CAIRO_FUNCS(NAME) };
static void **const cairo_slots[] = { CLI_CAIRO_FUNCS(SLOT) };
static const char *const fc_names[] = { CLI_FC_FUNCS(NAME) };
static void **const fc_slots[] = { CLI_FC_FUNCS(SLOT) };
#undef NAME
#undef SLOT

bool cli_cairo_open(char *err, size_t n)
{
    pthread_mutex_lock(&mu);
    if (!loaded)
        loaded = load("libcairo.so.2", cairo_names, cairo_slots,
                      (int)(sizeof cairo_names / sizeof *cairo_names), err, n) &&
                 load("libfontconfig.so.1", fc_names, fc_slots,
                      (int)(sizeof fc_names / sizeof *fc_names), err, n);
    bool ok = loaded;
    pthread_mutex_unlock(&mu);
    return ok;
}

bool cli_cairo_ready(void)
{
    pthread_mutex_lock(&mu);
    bool ok = loaded;
    pthread_mutex_unlock(&mu);
    return ok;
}
