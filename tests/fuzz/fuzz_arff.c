/* fuzz_arff.c - the ARFF table reader (see fuzz_table.h). */
#define FZ_EXT ".arff"
#include "fuzz_table.h"
