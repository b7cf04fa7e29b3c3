/* q8_isa.c - which SIMD level the int8 kernels use: the best one the CPU
 * supports, unless a test or benchmark asks for another. */
#include "q8.h"

#ifdef CR_HAVE_X86_UKR
#include <cpuid.h>
#endif


/* -1 until first use; otherwise the cr_q8_isa in force (as for cr_isa). */
static int selected = -1;

bool cr_q8_isa_supported(cr_q8_isa isa)
{
    if (isa == CR_Q8_GENERIC)
        return true;
#if defined(CR_HAVE_X86_UKR) && defined(CR_X86_EMULATED)
    return isa == CR_Q8_AVX2 || isa == CR_Q8_AVXVNNI || isa == CR_Q8_AVX512VNNI; /* make emu */
#elif defined(CR_HAVE_X86_UKR)
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2");
    switch (isa) {
    case CR_Q8_AVX2:
        return avx2;
    case CR_Q8_AVXVNNI: {
        /* AVX-VNNI: CPUID leaf 7 subleaf 1, EAX bit 4 (older compilers'
         * __builtin_cpu_supports do not know it); the ymm state is the
         * operating system's if AVX2 is usable. */
        unsigned a, b, c, d;
        if (!avx2 || !__get_cpuid_count(7, 1, &a, &b, &c, &d))
            return false;
        return (a >> 4) & 1u;
    }
    case CR_Q8_AVX512VNNI:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    default:
        return false;
    }
#else
    return false;
#endif
}

cr_q8_isa cr_q8_isa_best(void)
{
    static const cr_q8_isa top[] = { CR_Q8_GENERIC, CR_Q8_AVX2, CR_Q8_AVXVNNI, CR_Q8_AVXVNNI,
                                     CR_Q8_AVX512VNNI };   /* by CREST_ISA (cr_isa_cap) */
    for (int i = top[cr_isa_cap()]; i > CR_Q8_GENERIC; i--)
        if (cr_q8_isa_supported((cr_q8_isa)i))
            return (cr_q8_isa)i;
    return CR_Q8_GENERIC;
}

cr_q8_isa cr_q8_isa_current(void)
{
    int s = __atomic_load_n(&selected, __ATOMIC_RELAXED);
    if (s < 0) {
        s = (int)cr_q8_isa_best();
        __atomic_store_n(&selected, s, __ATOMIC_RELAXED);
    }
    return (cr_q8_isa)s;
}

cr_q8_isa cr_q8_isa_select(cr_q8_isa isa)
{
    if ((int)isa < 0 || (int)isa > CR_Q8_AVX512VNNI || !cr_q8_isa_supported(isa))
        isa = cr_q8_isa_best();
    __atomic_store_n(&selected, (int)isa, __ATOMIC_RELAXED);
    return isa;
}

const char *cr_q8_isa_name(cr_q8_isa isa)
{
    switch (isa) {
    case CR_Q8_AVX512VNNI: return "avx512vnni";
    case CR_Q8_AVXVNNI: return "avxvnni";
    case CR_Q8_AVX2: return "avx2";
    default: return "generic";
    }
}

const cr_q8_ukr *cr_q8_ukr_get(void)
{
    switch (cr_q8_isa_current()) {
#ifdef CR_HAVE_X86_UKR
    case CR_Q8_AVX512VNNI: return &cr_q8_ukr_avx512;
    case CR_Q8_AVXVNNI: return &cr_q8_ukr_avxvnni;
    case CR_Q8_AVX2: return &cr_q8_ukr_avx2;
#endif
    default: return &cr_q8_ukr_generic;
    }
}
