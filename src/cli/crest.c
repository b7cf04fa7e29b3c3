/* crest.c - main() of the `crest` command (src/cli/main.c does the work). */
#include "cli.h"

int main(int argc, char **argv)
{
    return crest_cli_main(argc, argv);
}
