/* mpi_exchange.c - the time of one gradient exchange of the head, for the
 * scaling estimate of `mpirun crest train` (bench/mpi.sh): MPI_Allreduce
 * (MPI_SUM) of P floats, and MPI_Allgatherv of a batch's M micro-shard rows
 * of P + 4 floats (what crest exchanges, src/cli/dist.c), median of ITERS
 * after warm-up. Built with mpicc by bench/mpi.sh (not by make: the plain
 * build has no MPI).
 * usage: mpirun -np N mpi_exchange P [M] [ITERS] -> one JSON line on rank 0 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median seconds of iters runs of op (0: allreduce, 1: allgatherv) */
static double median(int op, int iters, float *a, float *b, int p, int m, int rank, int size)
{
    double *t = malloc((size_t)iters * sizeof *t);
    int *counts = malloc(2 * (size_t)size * sizeof *counts), *displs = counts + size;
    MPI_Datatype row;
    MPI_Type_contiguous(p + 4, MPI_FLOAT, &row);
    MPI_Type_commit(&row);
    for (int r = 0; r < size; r++) {   /* rank r's share of the m rows */
        counts[r] = m / size + (r < m % size);
        displs[r] = r * (m / size) + (r < m % size ? r : m % size);
    }
    (void)rank;
    for (int i = -10; i < iters; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (op == 0)
            MPI_Allreduce(a, b, p, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        else
            MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, b, counts, displs, row,
                           MPI_COMM_WORLD);
        double dt = MPI_Wtime() - t0, worst;
        MPI_Allreduce(&dt, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (i >= 0)
            t[i] = worst;
    }
    qsort(t, (size_t)iters, sizeof *t, cmp);
    double med = t[iters / 2];
    MPI_Type_free(&row);
    free(counts);
    free(t);
    return med;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int p = argc > 1 ? atoi(argv[1]) : 12810, m = argc > 2 ? atoi(argv[2]) : 4;
    int iters = argc > 3 ? atoi(argv[3]) : 200;
    float *a = calloc((size_t)p, sizeof *a), *b = calloc((size_t)m * (size_t)(p + 4), sizeof *b);
    if (!a || !b || p < 1 || m < 1 || iters < 1) {
        fprintf(stderr, "usage: mpi_exchange P [M] [ITERS]\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    for (int i = 0; i < p; i++)
        a[i] = (float)i;
    double ar = median(0, iters, a, b, p, m, rank, size);
    double ag = median(1, iters, a, b, p, m, rank, size);
    if (rank == 0)
        printf("{\"ranks\": %d, \"floats\": %d, \"micro_shards\": %d, "
               "\"allreduce_us\": %.1f, \"allgatherv_us\": %.1f}\n",
               size, p, m, 1e6 * ar, 1e6 * ag);
    free(a);
    free(b);
    MPI_Finalize();
    return 0;
}
