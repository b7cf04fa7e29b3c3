/* pool.c - a small fixed thread pool. The caller is worker 0; the others
 * wait on a condition variable for the next job. Denormals are flushed to
 * zero in every worker and, while a job runs, in the caller. */
#define _POSIX_C_SOURCE 200809L
#include "kernels.h"

#include <pthread.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

struct cr_pool {
    int n;                        /* threads in total, counting the caller */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;            /* job generation */
    int pending;                  /* workers still running the job */
    int nth;                      /* tasks in the current job */
    cr_task_fn fn;
    void *ctx;
    int busy;                     /* a job is running (nested calls run serially) */
    int quit;
};

static unsigned flush_denormals(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040);     /* FTZ | DAZ */
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

typedef struct worker_arg { cr_pool *p; int id; } worker_arg;

static void *worker(void *arg)
{
    worker_arg *w = arg;
    cr_pool *p = w->p;
    int id = w->id;
    free(w);
    flush_denormals();
    unsigned long seen = 0;
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

cr_pool *cr_pool_new(int n)
{
    cr_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = n < 1 ? 1 : n;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if (p->n > 1) {
        p->th = calloc((size_t)p->n, sizeof *p->th);
        if (!p->th) {
            cr_pool_free(p);
            return NULL;
        }
        for (int i = 1; i < p->n; i++) {
            worker_arg *a = malloc(sizeof *a);
            if (!a || pthread_create(&p->th[i], NULL, worker, a ? (a->p = p, a->id = i, a) : NULL)) {
                free(a);
                p->n = i;          /* the ones that did start get joined */
                cr_pool_free(p);
                return NULL;
            }
        }
    }
    return p;
}

void cr_pool_free(cr_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; p->th && i < p->n; i++)
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
    bool serial = !p || nth == 1 || __atomic_load_n(&p->busy, __ATOMIC_ACQUIRE);
    if (serial) {
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
