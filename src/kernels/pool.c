/* pool.c - a small fixed thread pool. The caller is task 0. A job is
 * posted by bumping a generation number; workers that finished the previous
 * job are still polling it for a short while (a few pauses, then a few
 * hundred sched_yield calls) and start at once, otherwise they sleep on a condition
 * variable and are woken. The caller likewise polls the count of pending
 * workers before sleeping. So kernels issued back to back (a training step)
 * hand off in well under a microsecond, and an idle pool sleeps.
 * Denormals are flushed to zero (FTZ and DAZ in MXCSR) in every worker for
 * its whole life and in the caller while a job runs.
 */
#define _POSIX_C_SOURCE 200809L
#include "kernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#define SPIN_ROUNDS 100           /* polls with a pause, then... */
#define YIELD_ROUNDS 200          /* ...polls with sched_yield, then sleep */

struct cr_pool {
    int n;                        /* threads in total, counting the caller */
    int started;                  /* worker threads running (ids 1..started) */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int sleepers;                 /* workers waiting on go (under mu) */
    /* atomics: */
    unsigned long gen;            /* job generation, bumped per job */
    int pending;                  /* workers yet to finish the current job */
    int busy;                     /* a job is running: nested calls run serially */
    int quit;
    /* the current job, written before gen is bumped: */
    int nth;
    cr_task_fn fn;
    void *ctx;
};

/* Between polls: a pause for the first rounds, then give the core to any
 * other runnable thread (spinning must not starve the threads it waits
 * for when the machine has more runnable threads than cores). */
static void backoff(int round)
{
    if (round >= SPIN_ROUNDS)
        sched_yield();
#if defined(__x86_64__) || defined(__i386__)
    else
        __builtin_ia32_pause();
#endif
}

typedef struct worker_arg {
    cr_pool *p;
    int id;
} worker_arg;

static unsigned flush_denormals(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040);     /* FTZ (bit 15) | DAZ (bit 6) */
    return old;
#else
    return 0;
#endif
}

static void restore_fp(unsigned old)
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(old);
#else
    (void)old;
#endif
}

/* Waits for a generation other than `seen` (or quit): polls, then sleeps. */
static unsigned long wait_job(cr_pool *p, unsigned long seen)
{
    unsigned long g = seen;
    for (int i = 0; i < SPIN_ROUNDS + YIELD_ROUNDS; i++) {
        g = __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
        if (g != seen || __atomic_load_n(&p->quit, __ATOMIC_ACQUIRE))
            return g;
        backoff(i);
    }
    pthread_mutex_lock(&p->mu);
    p->sleepers++;
    while ((g = __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE)) == seen &&
           !__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE))
        pthread_cond_wait(&p->go, &p->mu);
    p->sleepers--;
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker(void *arg)
{
    worker_arg *w = arg;
    cr_pool *p = w->p;
    int id = w->id;
    unsigned long seen = 0;
    free(w);
    flush_denormals();
    for (;;) {
        seen = wait_job(p, seen);
        if (__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE))
            break;
        if (id < p->nth)
            p->fn(p->ctx, id, p->nth);
        if (__atomic_sub_fetch(&p->pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&p->mu);           /* the caller may be asleep */
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

static int start_worker(cr_pool *p, int id)
{
    worker_arg *a = malloc(sizeof *a);
    if (!a)
        return -1;
    a->p = p;
    a->id = id;
    if (pthread_create(&p->th[id], NULL, worker, a) != 0) {
        free(a);
        return -1;
    }
    return 0;
}

cr_pool *cr_pool_new(int n_threads)
{
    cr_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = n_threads < 1 ? 1 : n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if (p->n > 1) {
        p->th = calloc((size_t)p->n, sizeof *p->th);
        if (!p->th)
            goto fail;
        for (int i = 1; i < p->n; i++) {
            if (start_worker(p, i) != 0)
                goto fail;
            p->started = i;
        }
    }
    return p;
fail:
    cr_pool_free(p);
    return NULL;
}

void cr_pool_free(cr_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->quit, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i <= p->started; i++)
        pthread_join(p->th[i], NULL);
    free(p->th);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p);
}

int cr_pool_size(const cr_pool *p) { return p ? p->n : 1; }

void cr_pool_run(cr_pool *p, int n_tasks, cr_task_fn fn, void *ctx)
{
    unsigned old = flush_denormals();
    int nth = n_tasks < cr_pool_size(p) ? n_tasks : cr_pool_size(p);
    if (nth < 1)
        nth = 1;
    if (!p || nth == 1 || __atomic_load_n(&p->busy, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < nth; i++)
            fn(ctx, i, nth);
        restore_fp(old);
        return;
    }
    __atomic_store_n(&p->busy, 1, __ATOMIC_RELAXED);
    p->fn = fn;
    p->ctx = ctx;
    p->nth = nth;
    __atomic_store_n(&p->pending, p->n - 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&p->mu);
    __atomic_add_fetch(&p->gen, 1, __ATOMIC_RELEASE);
    if (p->sleepers > 0)
        pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, nth);
    for (int i = 0; i < SPIN_ROUNDS + YIELD_ROUNDS; i++) {
        if (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) == 0)
            break;
        backoff(i);
    }
    if (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) > 0) {
        pthread_mutex_lock(&p->mu);
        while (__atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    __atomic_store_n(&p->busy, 0, __ATOMIC_RELEASE);
    restore_fp(old);
}
