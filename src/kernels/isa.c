/* isa.c - which SIMD level the kernels use: the best one the CPU supports,
 * unless a test or benchmark asks for a lower one. */
#include "ukr.h"

#include <stdlib.h>
#include <strings.h>

/* -1 until first use; otherwise the cr_isa in force. Written only by
 * cr_isa_select (documented as not concurrent with kernels), read with
 * relaxed atomics so that racing first uses are harmless. */
static int selected = -1;

/* CREST_ISA's rank, read once: 0-4, or 5 when it is set but names no level. */
static int cap_read(void)
{
    static const char *const names[] = { "generic", "avx2", "avxvnni", "avx512", "avx512vnni" };
    static int cap = -1;
    int c = __atomic_load_n(&cap, __ATOMIC_RELAXED);
    if (c < 0) {
        const char *e = getenv("CREST_ISA");
        c = e && *e ? 5 : 4;
        for (int i = 0; e && i < 5; i++)
            if (!strcasecmp(e, names[i]))
                c = i;
        __atomic_store_n(&cap, c, __ATOMIC_RELAXED);
    }
    return c;
}

int cr_isa_cap(void)
{
    int c = cap_read();
    return c > 4 ? 4 : c;
}

bool cr_isa_cap_ignored(void)
{
    return cap_read() > 4;
}

static cr_isa hw_best(void)
{
#if defined(CR_HAVE_X86_UKR) && defined(CR_X86_EMULATED)
    return CR_ISA_AVX512; /* tests only (make emu): every level runs emulated */
#elif defined(CR_HAVE_X86_UKR)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return CR_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CR_ISA_AVX2;
#endif
    return CR_ISA_GENERIC;
}

cr_isa cr_isa_best(void)
{
    int cap = cr_isa_cap();
    cr_isa top = cap >= 3 ? CR_ISA_AVX512 : cap >= 1 ? CR_ISA_AVX2 : CR_ISA_GENERIC;
    cr_isa hw = hw_best();
    return hw < top ? hw : top;
}

cr_isa cr_isa_current(void)
{
    int s = __atomic_load_n(&selected, __ATOMIC_RELAXED);
    if (s < 0) {
        s = (int)cr_isa_best();
        __atomic_store_n(&selected, s, __ATOMIC_RELAXED);
    }
    return (cr_isa)s;
}

cr_isa cr_isa_select(cr_isa isa)
{
    cr_isa best = cr_isa_best();
    if ((int)isa > (int)best || (int)isa < 0)
        isa = best;
    __atomic_store_n(&selected, (int)isa, __ATOMIC_RELAXED);
    return isa;
}

const char *cr_isa_name(cr_isa isa)
{
    switch (isa) {
    case CR_ISA_AVX512: return "avx512";
    case CR_ISA_AVX2: return "avx2";
    default: return "generic";
    }
}

const cr_ukr *cr_ukr_get(void)
{
    switch (cr_isa_current()) {
#ifdef CR_HAVE_X86_UKR
    case CR_ISA_AVX512: return &cr_ukr_avx512;
    case CR_ISA_AVX2: return &cr_ukr_avx2;
#endif
    default: return &cr_ukr_generic;
    }
}
