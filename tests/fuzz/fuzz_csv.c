/* fuzz_csv.c - the CSV table reader (see fuzz_table.h). */
#define FZ_EXT ".csv"
#include "fuzz_table.h"
