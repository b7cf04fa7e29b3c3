/* simd_x86.h - the x86 intrinsics for the files that build a SIMD level
 * with per-function target attributes: <immintrin.h> and CR_TARGET("isa").
 * Built with -DCR_X86_EMULATED (`make emu`, tests only), the intrinsics are
 * portable C instead (tests/emu/x86_emu.h) and CR_TARGET is nothing, so the
 * levels this CPU lacks run, slowly, and are checked. */
#ifndef CREST_SIMD_X86_H
#define CREST_SIMD_X86_H

#ifdef CR_X86_EMULATED
#include "x86_emu.h"
#define CR_TARGET(isa)
#else
#include <immintrin.h>
#define CR_TARGET(isa) __attribute__((target(isa)))
#endif

#endif
