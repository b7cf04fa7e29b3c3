/* levels.c - crest_kernels: the levels both kinds of kernels run at (above
 * isa.c and q8_isa.c, which each choose their own). */
#include "q8.h"

#include "crest.h"
#include <stdio.h>

const char *crest_kernels(void)
{
    static _Thread_local char buf[128];
    cr_q8_isa q = cr_q8_isa_current();
    int n = snprintf(buf, sizeof buf, "float32 %s, int8 %s, int16 %s", cr_isa_name(cr_isa_current()),
                     cr_q8_isa_name(q), q >= CR_Q8_AVX2 ? "avx2" : "generic");
    if (cr_isa_cap_ignored() && n > 0 && (size_t)n < sizeof buf)
        snprintf(buf + n, sizeof buf - (size_t)n, " (CREST_ISA names no level: ignored)");
    return buf;
}
