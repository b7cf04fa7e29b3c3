/* dist.c - `crest train` over MPI ranks: the one file that calls MPI (see
 * dist.h for the scheme). Built with MPI when CREST_MPI is defined (`make
 * MPI=1`, mpicc); otherwise each function is that of a job of one rank. */
#define _POSIX_C_SOURCE 200809L
#include "dist.h"
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef CREST_MPI
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <mpi.h>
#endif

static struct {
    bool on;          /* MPI_Init was called */
    int rank, size;
    FILE *err;        /* where this rank's own failures go (NULL: stderr) */
} dist = { false, 0, 1, NULL };

#ifdef CREST_MPI
/* The checkpoint a resumed data-parallel fit starts from, as rank 0 read
 * it and sent it (kept until the next fit's, or the end). */
static struct {
    unsigned char *p;
    size_t len;
} resume_buf;
#endif

static FILE *err_out(void) { return dist.err ? dist.err : stderr; }

/* "crest train: rank R of N: message" (an exit code: reported). */
__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(err_out(), "crest train: rank %d of %d: ", dist.rank, dist.size);
    va_start(ap, fmt);
    vfprintf(err_out(), fmt, ap);
    va_end(ap);
    fputc('\n', err_out());
    fflush(err_out());
    return EXIT_RUN;
}

bool cli_dist_built(void)
{
#ifdef CREST_MPI
    return true;
#else
    return false;
#endif
}

int cli_dist_rank(void) { return dist.rank; }
int cli_dist_size(void) { return dist.size; }

int cli_dist_init(int *argc, char ***argv)
{
#ifdef CREST_MPI
    /* Only under a launcher (mpirun, mpiexec, srun): Open MPI's singleton
     * start runs a daemon, which a plain `crest` needs not pay for. */
    static const char *const launched[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                            "PMI_RANK" };
    bool under = false;
    for (size_t i = 0; i < sizeof launched / sizeof *launched; i++)
        under = under || getenv(launched[i]);
    if (!under)
        return EXIT_OK;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "crest: MPI_Init failed\n");
        return EXIT_RUN;
    }
    dist.on = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &dist.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &dist.size);
    if (dist.rank > 0) {   /* rank 0 speaks for the job; the others only of their
                              own failures (cli_dist_check), on the stderr kept here */
        int fd = dup(2), null = open("/dev/null", O_WRONLY);
        dist.err = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (null >= 0) {
            fflush(stdout);
            dup2(null, 1);
            dup2(null, 2);
            close(null);
        }
    }
#else
    (void)argc;
    (void)argv;
#endif
    return EXIT_OK;
}

void cli_dist_finalize(void)
{
#ifdef CREST_MPI
    if (dist.on)
        MPI_Finalize();
    dist.on = false;
    if (dist.err)
        fclose(dist.err);
    dist.err = NULL;
    free(resume_buf.p);
    resume_buf.p = NULL;
    resume_buf.len = 0;
#endif
}

void cli_dist_share(size_t n, size_t block, size_t *first, size_t *count)
{
    size_t b = block ? block : 1, blocks = (n + b - 1) / b, f, c;
    crest_shard_range(blocks, dist.size, dist.rank, &f, &c);
    *first = f * b < n ? f * b : n;
    size_t end = (f + c) * b < n ? (f + c) * b : n;
    *count = end - *first;
}

int cli_dist_check(const char *cmd, int err)
{
    if (!dist.on)
        return err > 0 ? err : err ? cli_fail(cmd, err) : EXIT_OK;
#ifdef CREST_MPI
    /* The ranks arrive far apart (one still extracting, rank 0 writing the
     * model): they wait asleep, not spinning on a core the others need. */
    MPI_Request rq;
    int done = 0;
    MPI_Ibarrier(MPI_COMM_WORLD, &rq);
    while (MPI_Test(&rq, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done)
        nanosleep(&(struct timespec){ .tv_nsec = 200000 }, NULL);
    int me = err ? dist.rank : dist.size, first = dist.size, code = 0;
    MPI_Allreduce(&me, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == dist.size)
        return EXIT_OK;
    if (dist.rank == first) {
        code = err > 0 ? err : cli_exit_code(err);
        if (err > 0 && dist.rank > 0)   /* its own words went to its muted stderr */
            fprintf(err_out(), "crest %s: rank %d of %d failed (exit code %d) where rank 0 "
                               "did not\n", cmd, dist.rank, dist.size, err);
        else if (err < 0 && dist.size > 1)
            fprintf(err_out(), "crest %s: rank %d of %d: %s\n", cmd, dist.rank, dist.size,
                    crest_last_error());
        else if (err < 0)
            fprintf(err_out(), "crest %s: %s\n", cmd, crest_last_error());
        fflush(err_out());
    }
    MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD);
    return code;
#else
    return EXIT_RUN;
#endif
}

#ifdef CREST_MPI
/* A datatype of one row (MPI counts are ints: rows, not floats). */
static MPI_Datatype row_type(size_t row_floats)
{
    MPI_Datatype t;
    MPI_Type_contiguous((int)row_floats, MPI_FLOAT, &t);
    MPI_Type_commit(&t);
    return t;
}
#endif

int cli_dist_gather_rows(const float *mine, size_t rows, size_t row_floats, int copies,
                         float *all, size_t n_rows, bool to_all)
{
    int k = copies > 1 ? copies : 1;
    (void)to_all;
    if (!dist.on || dist.size == 1) {
        if (rows != n_rows)
            return fail("gathering features: %zu rows of %zu", rows, n_rows);
        if (all != mine)
            memcpy(all, mine, (size_t)k * rows * row_floats * sizeof(float));
        return CREST_OK;
    }
#ifdef CREST_MPI
    if (row_floats > (size_t)1 << 30 || n_rows > (size_t)1 << 30)
        return fail("gathering features: %zu rows of %zu floats", n_rows, row_floats);
    int *counts = malloc(2 * (size_t)dist.size * sizeof *counts), mine_n = (int)rows;
    if (!counts)   /* the others would wait for this rank: nothing to do but end */
        MPI_Abort(MPI_COMM_WORLD, EXIT_RUN);
    int *displs = counts + dist.size;
    MPI_Allgather(&mine_n, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    size_t at = 0;
    for (int r = 0; r < dist.size; r++) {
        displs[r] = (int)at;
        at += (size_t)counts[r];
    }
    int rc = CREST_OK;
    if (at != n_rows) {
        rc = fail("gathering features: the ranks hold %zu rows, not %zu", at, n_rows);
    } else {
        MPI_Datatype t = row_type(row_floats);
        for (int c = 0; c < k; c++) {   /* copy c of every rank's samples, in rank order */
            const float *src = mine + (size_t)c * rows * row_floats;
            float *dst = all ? all + (size_t)c * n_rows * row_floats : NULL;
            if (to_all)
                MPI_Allgatherv(src, mine_n, t, dst, counts, displs, t, MPI_COMM_WORLD);
            else
                MPI_Gatherv(src, mine_n, t, dst, counts, displs, t, 0, MPI_COMM_WORLD);
        }
        MPI_Type_free(&t);
    }
    free(counts);
    return rc;
#else
    return CREST_OK;
#endif
}

static bool forced_parallel;

void cli_dist_force_parallel(void) { forced_parallel = true; }

bool cli_dist_head_parallel(void)
{
    const char *e = getenv("CREST_MPI_HEAD");
    return dist.size > 1 && (forced_parallel || (e && !strcmp(e, "parallel")));
}

#ifdef CREST_MPI
/* Bytes from rank 0 to every rank, in pieces MPI's int counts take. */
static void bcast_bytes(unsigned char *p, size_t len)
{
    for (size_t at = 0; at < len; at += (size_t)1 << 30) {
        size_t n = len - at < (size_t)1 << 30 ? len - at : (size_t)1 << 30;
        MPI_Bcast(p + at, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
    }
}

/* Rank 0: path's bytes into resume_buf (none if there is no such file).
 * 0 or an exit code, reported. */
static int read_checkpoint(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? EXIT_OK
                               : fail("cannot open checkpoint %s: %s", path, strerror(errno));
    long end = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    size_t len = end > 0 ? (size_t)end : 0;
    int rc = end < 0 ? fail("cannot read checkpoint %s: %s", path, strerror(errno)) : EXIT_OK;
    if (!rc && len && !(resume_buf.p = malloc(len)))
        rc = fail("out of memory for checkpoint %s (%zu bytes)", path, len);
    rewind(f);
    if (!rc && len && fread(resume_buf.p, 1, len, f) != len)
        rc = fail("cannot read checkpoint %s: %s", path, ferror(f) ? strerror(errno)
                                                                   : "shorter than it was");
    fclose(f);
    resume_buf.len = rc ? 0 : len;
    return rc;
}

/* --resume, data-parallel: rank 0 reads the fit's checkpoint and every rank
 * gets its bytes (the ranks need not share a file system); a fit resumes
 * from them everywhere (crest_fit_opts.resume_bytes). */
static int share_checkpoint(crest_fit_opts *fo)
{
    char path[4200];
    int rc = EXIT_OK;
    free(resume_buf.p);
    resume_buf.p = NULL;
    resume_buf.len = 0;
    snprintf(path, sizeof path, "%s/%s.ckpt", fo->checkpoint_dir,
             fo->checkpoint_name ? fo->checkpoint_name : "fit");
    if (dist.rank == 0)
        rc = read_checkpoint(path);
    if ((rc = cli_dist_check("train", rc)))
        return rc;
    unsigned long long len = resume_buf.len;
    MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (dist.rank > 0 && len && !(resume_buf.p = malloc((size_t)len)))
        rc = fail("out of memory for checkpoint %s (%llu bytes)", path, len);
    if ((rc = cli_dist_check("train", rc)))
        return rc;
    resume_buf.len = (size_t)len;
    bcast_bytes(resume_buf.p, resume_buf.len);
    fo->resume_bytes = resume_buf.p;   /* none: every rank starts afresh */
    fo->resume_size = resume_buf.len;
    return EXIT_OK;
}
#endif

int cli_dist_fit_opts(crest_fit_opts *fo, bool parallel)
{
    fo->micro_batch = 8;
    if (parallel && dist.size > 1) {   /* else this rank computes every micro-shard */
        fo->n_shards = dist.size;
        fo->shard = dist.rank;
        fo->allgather = cli_dist_allgather;
#ifdef CREST_MPI
        int rc = fo->resume && fo->checkpoint_dir ? share_checkpoint(fo) : EXIT_OK;
        if (rc)
            return rc;
#endif
    }
    if (dist.rank > 0) {   /* rank 0 speaks and keeps the checkpoints */
        fo->progress = NULL;
        fo->checkpoint_dir = NULL;
        fo->best_model_dir = NULL;
        fo->on_epoch_end = NULL;
        fo->resume = fo->resume && fo->resume_bytes;
    }
    return EXIT_OK;
}

int cli_dist_allgather(void *user, float *rows, int n_rows, size_t row_floats)
{
    (void)user;
    if (!dist.on || dist.size == 1)
        return CREST_OK;
#ifdef CREST_MPI
    int counts[256], displs[256], *c = counts, *d = displs;
    if (dist.size > 256 && !(c = malloc(2 * (size_t)dist.size * sizeof *c)))
        return CREST_E_NOMEM;
    if (c != counts)
        d = c + dist.size;
    for (int r = 0; r < dist.size; r++) {
        size_t f, n;
        crest_shard_range((size_t)n_rows, dist.size, r, &f, &n);
        c[r] = (int)n;
        d[r] = (int)f;
    }
    MPI_Datatype t = row_type(row_floats);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rows, c, d, t, MPI_COMM_WORLD);
    MPI_Type_free(&t);
    if (c != counts)
        free(c);
#else
    (void)rows;
    (void)n_rows;
    (void)row_floats;
#endif
    return CREST_OK;
}

/* ---- progress with the global counts ------------------------------------ */

/* Ranks > 0 send their counts to rank 0 (at most every 0.2 s, tag 7100 +
 * session); rank 0 draws the sums as it goes, and the exact total once
 * every rank is done (a reduction, cli_dist_progress_end). */
enum { TAG_DONE = 7100 };

int cli_dist_progress_begin(cli_dist_progress *p, size_t total, int session)
{
    *p = (cli_dist_progress){ .total = total, .tag = TAG_DONE + session };
    if (dist.rank == 0 && !(p->done = calloc((size_t)dist.size, sizeof *p->done)))
        return fail("out of memory for progress");
    return EXIT_OK;
}

#ifdef CREST_MPI
/* Rank 0: the counts the others sent so far. */
static void drain(cli_dist_progress *p)
{
    int flag = 1;
    while (flag) {
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, p->tag, MPI_COMM_WORLD, &flag, &st);
        if (flag) {
            unsigned long v;
            MPI_Recv(&v, 1, MPI_UNSIGNED_LONG, st.MPI_SOURCE, p->tag, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            p->done[st.MPI_SOURCE] = v;
        }
    }
}
#endif

/* Rank 0 draws e with the counts summed over ranks. */
static void draw(const cli_dist_progress *p, const crest_progress *e)
{
    crest_progress g = *e;
    g.done = 0;
    for (int r = 0; r < dist.size; r++)
        g.done += p->done[r];
    g.total = p->total;
    cli_progress_bar(&g, NULL);
}

void cli_dist_progress_fn(const crest_progress *e, void *user)
{
    cli_dist_progress *p = user;
    if (e->kind != CREST_PROGRESS_EXTRACT)
        return;
    p->mine = e->done;
    p->seconds = e->seconds;
    if (dist.rank == 0) {
        p->done[0] = e->done;
#ifdef CREST_MPI
        if (dist.on)
            drain(p);
#endif
        if (dist.size == 1 || e->done < e->total)   /* the end: cli_dist_progress_end */
            draw(p, e);
        return;
    }
#ifdef CREST_MPI
    double t = cli_dist_now();
    if (p->last > 0 && t - p->last < 0.2)
        return;
    p->last = t;
    unsigned long v = e->done;
    MPI_Send(&v, 1, MPI_UNSIGNED_LONG, 0, p->tag, MPI_COMM_WORLD);
#endif
}

void cli_dist_progress_end(cli_dist_progress *p, bool all_ok)
{
#ifdef CREST_MPI
    if (all_ok && dist.on && dist.size > 1) {
        unsigned long mine = p->mine, sum = 0;
        double secs = cli_dist_max(p->seconds);
        MPI_Reduce(&mine, &sum, 1, MPI_UNSIGNED_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
        if (dist.rank == 0) {
            drain(p);   /* what is left of this session's messages */
            if (sum)   /* every rank's last count: the exact end */
                cli_progress_bar(&(crest_progress){ .kind = CREST_PROGRESS_EXTRACT,
                                                    .done = sum, .total = sum,
                                                    .seconds = secs }, NULL);
        }
    }
#else
    (void)all_ok;
#endif
    free(p->done);
    p->done = NULL;
}

double cli_dist_now(void)
{
#ifdef CREST_MPI
    if (dist.on)
        return MPI_Wtime();
#endif
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double cli_dist_max(double v)
{
#ifdef CREST_MPI
    double m = v;
    if (dist.on)
        MPI_Allreduce(&v, &m, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return m;
#else
    return v;
#endif
}

long cli_dist_sum(long v)
{
#ifdef CREST_MPI
    long s = v;
    if (dist.on)
        MPI_Allreduce(&v, &s, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    return s;
#else
    return v;
#endif
}
