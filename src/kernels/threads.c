/* threads.c - the thread pool (cr_pool): a small fixed set of workers, the
 * caller being one of them.
 *
 * A job is a count of tasks; every thread in it claims task numbers until
 * none are left, so a worker that the (virtual) machine has descheduled, or
 * that is still waking up, never holds up the job: the caller runs whatever
 * is left itself. The caller claims from the front of the range and the
 * workers from the back, so with two threads each takes one contiguous
 * half, and the same half in consecutive jobs: a layer mostly reads what
 * the same core wrote in the layer before, from its own cache (claiming
 * from one shared counter interleaved the halves, and the next layer then
 * pulled half its input across cores). A job is posted by bumping
 * a generation number. Workers join it by incrementing `state` unless the
 * caller has closed it (CLOSED bit); the caller, once out of tasks, closes
 * the job and waits only for workers that joined (they are running their
 * last task). So the caller never waits for a thread to be scheduled.
 * Idle workers poll the generation with pause instructions for SPIN_NS
 * (no sched_yield: on a loaded VM a yield gives the core away for a whole
 * time slice), then sleep on a condition variable and are woken; the
 * caller waiting for a joined worker likewise polls briefly, then sleeps
 * until the last worker out signals it. A wait longer than STALL_NS and
 * than the caller's own share of the job means the worker lost its CPU
 * mid-task (more runnable threads than cores): the next SERIAL_JOBS jobs
 * then run on the caller alone, so a loaded machine makes more threads no
 * slower than one; then threads are tried again.
 * Which thread runs a task never changes its result: tasks split outputs.
 * Denormals are flushed to zero (FTZ and DAZ in MXCSR) in every worker for
 * its whole life and in the caller while a job runs.
 */
#define _POSIX_C_SOURCE 200809L
#include "kernels.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#define SPIN_NS 300000L           /* an idle worker polls this long, then sleeps */
#define WAIT_SPINS 4096           /* caller: polls for joined workers, then sleeps */
#define CLOSED (1 << 30)          /* state bit: the job takes no more workers */
#define STALL_NS 500000L          /* a joined worker this late was descheduled... */
#define WORKER_STACK ((size_t)2 << 20)   /* bytes: see start_worker */
#define SERIAL_JOBS 128           /* ...so run this many jobs on the caller alone */

struct cr_pool {
    int n;                        /* threads in total, counting the caller */
    int started;                  /* worker threads running (ids 1..started) */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    /* atomics: */
    unsigned long gen;            /* job generation, bumped per job */
    int sleepers;                 /* workers asleep or about to sleep on go */
    int busy;                     /* a job is running: other calls run serially */
    int serial_left;              /* jobs to run on the caller alone (owner of busy) */
    int quit;
    int state;                    /* workers inside the job, | CLOSED */
    int waiting;                  /* the caller sleeps on done */
    _Alignas(64) uint64_t range;  /* tasks left to claim: [low 32 bits, high 32 bits) */
    /* the current job, written before the job opens: */
    _Alignas(64) int n_tasks, nth;
    cr_task_fn fn;
    void *ctx;
};

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
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
    unsigned long g;
    long t0 = now_ns();
    for (int i = 1;; i++) {
        g = __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
        if (g != seen || __atomic_load_n(&p->quit, __ATOMIC_ACQUIRE))
            return g;
        cpu_relax();
        if (i % 256 == 0 && now_ns() - t0 > SPIN_NS)
            break;
    }
    pthread_mutex_lock(&p->mu);
    __atomic_add_fetch(&p->sleepers, 1, __ATOMIC_SEQ_CST);
    while ((g = __atomic_load_n(&p->gen, __ATOMIC_SEQ_CST)) == seen &&
           !__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE))
        pthread_cond_wait(&p->go, &p->mu);
    __atomic_sub_fetch(&p->sleepers, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&p->mu);
    return g;
}

/* Claims the first (front) or the last task left; -1 when none is. */
static int claim(cr_pool *p, bool front)
{
    uint64_t r = __atomic_load_n(&p->range, __ATOMIC_RELAXED);
    for (;;) {
        uint32_t lo = (uint32_t)r, hi = (uint32_t)(r >> 32);
        if (lo >= hi)
            return -1;
        uint64_t next = front ? r + 1 : r - ((uint64_t)1 << 32);
        if (__atomic_compare_exchange_n(&p->range, &r, next, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return (int)(front ? lo : hi - 1);
    }
}

/* Claims and runs tasks of the current job until none are left. */
static void run_tasks(cr_pool *p, bool front)
{
    for (int i; (i = claim(p, front)) >= 0;)
        p->fn(p->ctx, i, p->nth);
}

/* Enters the current job unless it is closed. */
static bool join(cr_pool *p)
{
    int s = __atomic_load_n(&p->state, __ATOMIC_ACQUIRE);
    while (!(s & CLOSED))
        if (__atomic_compare_exchange_n(&p->state, &s, s + 1, true, __ATOMIC_ACQUIRE,
                                        __ATOMIC_ACQUIRE))
            return true;
    return false;
}

static void *worker(void *arg)
{
    worker_arg *w = arg;
    cr_pool *p = w->p;
    unsigned long seen = 0;
    free(w);
    flush_denormals();
    for (;;) {
        seen = wait_job(p, seen);
        if (__atomic_load_n(&p->quit, __ATOMIC_ACQUIRE))
            break;
        if (join(p)) {
            run_tasks(p, false);
            if (__atomic_sub_fetch(&p->state, 1, __ATOMIC_SEQ_CST) == CLOSED &&
                __atomic_load_n(&p->waiting, __ATOMIC_SEQ_CST)) {
                pthread_mutex_lock(&p->mu);          /* the last one out wakes the caller */
                pthread_cond_signal(&p->done);
                pthread_mutex_unlock(&p->mu);
            }
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
    /* the kernels keep tiles and panels on the stack (the int16 gemm up to
     * about 200 KB a worker): a stack of at least WORKER_STACK, whatever
     * the C library's default (musl's is 128 KB, glibc's 8 MB) */
    pthread_attr_t at;
    size_t sz = 0;
    bool attr = pthread_attr_init(&at) == 0;
    if (attr && pthread_attr_getstacksize(&at, &sz) == 0 && sz < WORKER_STACK)
        pthread_attr_setstacksize(&at, WORKER_STACK);
    int rc = pthread_create(&p->th[id], attr ? &at : NULL, worker, a);
    if (attr)
        pthread_attr_destroy(&at);
    if (rc != 0) {
        free(a);
        return -1;
    }
    return 0;
}

cr_pool *cr_pool_new(int n_threads)
{
    cr_pool *p = aligned_alloc(64, (sizeof(cr_pool) + 63) / 64 * 64);
    if (!p)
        return NULL;
    *p = (cr_pool){ .n = n_threads < 1 ? 1 : n_threads, .state = CLOSED };
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
    __atomic_store_n(&p->quit, 1, __ATOMIC_SEQ_CST);
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

/* After closing the job: waits until the workers that joined it are out.
 * They are running a last task, so poll briefly; if that is not enough (a
 * worker was descheduled mid-task on a loaded machine), sleep, so as not to
 * take the CPU the worker needs. */
static void wait_joined(cr_pool *p, long t_run)
{
    for (int i = 0; i < WAIT_SPINS; i++) {
        if (__atomic_load_n(&p->state, __ATOMIC_ACQUIRE) == CLOSED)
            return;
        cpu_relax();
    }
    long t0 = now_ns();
    pthread_mutex_lock(&p->mu);
    __atomic_store_n(&p->waiting, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) != CLOSED)
        pthread_cond_wait(&p->done, &p->mu);
    __atomic_store_n(&p->waiting, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&p->mu);
    long t_wait = now_ns() - t0;
    if (t_wait > STALL_NS && t_wait > t_run)    /* the machine is oversubscribed: back off */
        p->serial_left = SERIAL_JOBS;
}

/* Runs fn(ctx, i, nth) for i < n_tasks on the pool's threads. */
static void run_job(cr_pool *p, int n_tasks, int nth, cr_task_fn fn, void *ctx)
{
    unsigned old = flush_denormals();
    int idle = 0;
    if (!p || p->n == 1 || n_tasks <= 1 ||
        !__atomic_compare_exchange_n(&p->busy, &idle, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED)) {
        for (int i = 0; i < n_tasks; i++)   /* serial, also when nested or the pool is taken */
            fn(ctx, i, nth);
        restore_fp(old);
        return;
    }
    if (p->serial_left > 0) {
        p->serial_left--;
        for (int i = 0; i < n_tasks; i++)
            fn(ctx, i, nth);
        __atomic_store_n(&p->busy, 0, __ATOMIC_RELEASE);
        restore_fp(old);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    p->nth = nth;
    __atomic_store_n(&p->range, (uint64_t)(uint32_t)n_tasks << 32, __ATOMIC_RELAXED);
    __atomic_store_n(&p->state, 0, __ATOMIC_RELEASE);         /* open */
    __atomic_add_fetch(&p->gen, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&p->sleepers, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
    }
    long t0 = now_ns();
    run_tasks(p, true);
    __atomic_fetch_or(&p->state, CLOSED, __ATOMIC_ACQ_REL);
    wait_joined(p, now_ns() - t0);
    __atomic_store_n(&p->busy, 0, __ATOMIC_RELEASE);
    restore_fp(old);
}

void cr_pool_run(cr_pool *p, int n_tasks, cr_task_fn fn, void *ctx)
{
    int nth = n_tasks < cr_pool_size(p) ? n_tasks : cr_pool_size(p);
    if (nth < 1)
        nth = 1;
    run_job(p, nth, nth, fn, ctx);
}

void cr_pool_chunks(cr_pool *p, int n_chunks, cr_task_fn fn, void *ctx)
{
    if (n_chunks >= 1)
        run_job(p, n_chunks, n_chunks, fn, ctx);
}
