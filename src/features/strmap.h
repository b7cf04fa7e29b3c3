/* strmap.h - string -> (id, count) map for vocabularies. */
#ifndef CR_STRMAP_H
#define CR_STRMAP_H
#include "features.h"

typedef struct cr_strmap {
    char **keys;                  /* owned copies; NULL = empty slot */
    int *vals;
    long *counts;
    size_t n, cap;                /* cap: a power of two */
} cr_strmap;

/* Adds key (val, count) or, if present, adds count to it. */
int cr_strmap_add(cr_strmap *m, const char *key, int val, long count, bool *added);
int cr_strmap_get(const cr_strmap *m, const char *key);   /* val, or -1 */
void cr_strmap_free(cr_strmap *m);

#endif
