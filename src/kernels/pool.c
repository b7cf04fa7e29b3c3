/* pool.c - a small fixed thread pool. The caller is task 0; the workers
 * sleep on a condition variable until the next job's generation number is
 * posted, run their task, and the last one to finish wakes the caller.
 * Denormals are flushed to zero (FTZ and DAZ in MXCSR) in every worker for
 * its whole life and in the caller while a job runs.
 */
#define _POSIX_C_SOURCE 200809L
#include "kernels.h"

#include <pthread.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

struct cr_pool {
    int n;                        /* threads in total, counting the caller */
    int started;                  /* worker threads running (ids 1..started) */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;            /* job generation, bumped per job */
    int pending;                  /* workers yet to finish the current job */
    int nth;                      /* tasks in the current job */
    cr_task_fn fn;
    void *ctx;
    int busy;                     /* a job is running: nested calls run serially */
    int quit;
};

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

static void *worker(void *arg)
{
    worker_arg *w = arg;
    cr_pool *p = w->p;
    int id = w->id;
    unsigned long seen = 0;
    free(w);
    flush_denormals();
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->gen == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit)
            break;
        seen = p->gen;
        int nth = p->nth;
        cr_task_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        if (id < nth)
            fn(ctx, id, nth);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
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
    p->quit = 1;
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
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->busy, 1, __ATOMIC_RELEASE);
    p->fn = fn;
    p->ctx = ctx;
    p->nth = nth;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, nth);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    __atomic_store_n(&p->busy, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&p->mu);
    restore_fp(old);
}
