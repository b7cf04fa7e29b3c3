/* crest.c - main() of the `crest` command (src/cli/main.c does the work).
 * Under mpirun (an MPI build, `make MPI=1`) MPI starts and ends here. */
#include "cli.h"
#include "dist.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    int rc = cli_dist_init(&argc, &argv);
    if (rc)
        return rc;
    if (cli_dist_size() > 1 && !(argc > 1 && !strcmp(argv[1], "train"))) {
        if (cli_dist_rank() == 0)   /* N copies of evaluate would print N times */
            fprintf(stderr, "crest: under mpirun with %d ranks only `crest train` runs (its "
                            "extraction and training are spread over the ranks); run '%s' "
                            "as one process\n", cli_dist_size(), argc > 1 ? argv[1] : "");
        rc = EXIT_USAGE;
    } else {
        rc = crest_cli_main(argc, argv);
    }
    cli_dist_finalize();
    return rc;
}
