/* dist.h - `crest train` over MPI ranks (src/cli/dist.c, the one file that
 * calls MPI; built with `make MPI=1`). In the plain build every function
 * is that of a job of one rank, so callers need no #ifdef.
 *
 * The scheme (`mpirun -np N crest train --base MODEL --data SPEC ...`):
 *   - every rank opens the same data set (a listing of files: cheap) and
 *     takes its share, contiguous and balanced in whole extraction batches
 *     (cli_dist_share), so each rank runs exactly the batches a single
 *     process would have run on those samples, and caches its share;
 *   - the features are gathered in file order onto every rank;
 *   - the head is trained in micro-shards (crest_fit_opts.micro_batch):
 *     each rank computes its part of every batch's micro-shards, the rows
 *     are exchanged (MPI_Allgatherv, cli_dist_allgather) and every rank
 *     sums them in the same fixed order, so the weights are the same bits
 *     for any N, and the same as the plain build's;
 *   - rank 0 alone prints progress, writes the model and the report, and
 *     the checkpoints; on --resume it reads the checkpoint and sends its
 *     bytes to every rank, which resume from them (cli_dist_fit_opts);
 *   - a failure on any rank (a file that does not load) reaches every rank
 *     at the next check (cli_dist_check): the failing rank names itself and
 *     the file, all ranks exit with its code; nobody waits forever. */
#ifndef CREST_CLI_DIST_H
#define CREST_CLI_DIST_H

#include "crest.h"
#include <stdbool.h>
#include <stddef.h>

/* MPI_Init (MPI build, under a launcher), before anything else; 0 or an
 * exit code. Ranks > 0 then write nothing on stdout and stderr but their
 * own failures. Functions below return 0 or an exit code (reported) unless
 * they say otherwise. */
int cli_dist_init(int *argc, char ***argv);
/* MPI_Finalize (MPI build). */
void cli_dist_finalize(void);
bool cli_dist_built(void);   /* built with MPI */
int cli_dist_rank(void);     /* 0 in the plain build */
int cli_dist_size(void);     /* 1 in the plain build */

/* This rank's share of n samples: contiguous, cut at multiples of block
 * (the extraction batch), balanced to within one block. */
void cli_dist_share(size_t n, size_t block, size_t *first, size_t *count);

/* After a phase every rank runs: err is this rank's result (0, a library
 * error < 0, or an exit code > 0 already reported). Returns 0 if every
 * rank succeeded, else on every rank the exit code of the lowest failing
 * rank, which alone prints (library errors: "crest CMD: rank R of N:
 * message"); the others print nothing. Plain build: cli_fail's result. */
int cli_dist_check(const char *cmd, int err);

/* Rows (row_floats each) this rank holds at mine, in rank order into all
 * (every rank's rows: n_rows in total) on every rank (to_all), or on rank 0
 * only (all may then be NULL elsewhere). copies > 1: mine is copy-major
 * [copies][rows], all too ([copies][n_rows]). */
int cli_dist_gather_rows(const float *mine, size_t rows, size_t row_floats, int copies,
                         float *all, size_t n_rows, bool to_all);

/* Whether the head trains data-parallel (every rank computes its part of
 * each batch's micro-shards, exchanged by cli_dist_allgather) or on rank 0
 * alone (the default: faster for the heads crest trains, see the README),
 * as CREST_MPI_HEAD=parallel|rank0 asks. The same bits either way. */
bool cli_dist_head_parallel(void);
/* From now on the head trains data-parallel whatever CREST_MPI_HEAD says:
 * fine-tuning follows, and every rank needs the head for it. */
void cli_dist_force_parallel(void);

/* fo set for micro-shard steps (micro_batch 8: the same steps in the plain
 * build, so the same bits), spread over the ranks (each computes its part
 * of every batch's micro-shards, exchanged by cli_dist_allgather) when
 * parallel; ranks > 0 neither print progress nor write checkpoints (rank 0
 * does). With fo->resume, parallel: rank 0 reads the checkpoint and sends
 * its bytes to every rank, which resumes from them (resume_bytes, valid
 * until the next call or cli_dist_finalize): the ranks need not share a
 * file system. Every rank calls it when parallel (a collective then);
 * 0 or an exit code, reported. */
int cli_dist_fit_opts(crest_fit_opts *fo, bool parallel);

/* crest_fit_opts.allgather: rows of a batch's micro-shards, rank k's
 * crest_shard_range(n_rows, N, k), filled in place on every rank. */
int cli_dist_allgather(void *user, float *rows, int n_rows, size_t row_floats);

/* The extraction progress of every rank, drawn on rank 0 with the global
 * counts: crest_extract_opts.progress = cli_dist_progress_fn with a
 * cli_dist_progress as its user, begun with the samples (copies
 * included) of all ranks, session a number of its own (train 0,
 * validation 1). cli_dist_progress_end on every rank after cli_dist_check,
 * with whether it passed (it is then a collective: the exact end line). */
typedef struct cli_dist_progress {
    size_t total;       /* samples (with copies) of all ranks */
    size_t *done;       /* rank 0: per rank */
    size_t mine;        /* this rank's */
    double seconds, last;
    int tag;
} cli_dist_progress;
int cli_dist_progress_begin(cli_dist_progress *p, size_t total, int session);
void cli_dist_progress_fn(const crest_progress *e, void *user);
void cli_dist_progress_end(cli_dist_progress *p, bool all_ok);

/* Wall seconds (MPI_Wtime, or a monotonic clock). */
double cli_dist_now(void);
/* The maximum of v over ranks (v elsewhere). */
double cli_dist_max(double v);
/* The sum of v over ranks. */
long cli_dist_sum(long v);

#endif
