/* ukr_avx512.c - the inner loops for AVX-512F: 16 floats a vector, gemm
 * tiles of 8 x 32 (16 zmm accumulators). Built for plain x86-64 with
 * per-function target attributes; used only when the CPU has AVX-512F. */
#include "ukr.h"

#ifdef CR_HAVE_X86_UKR
#include "simd_x86.h"
#include <math.h>
#include <stdint.h>

#define TARGET CR_TARGET("avx512f")
#define V __m512
#define VW 16
#define VM __mmask16
#define UKR_MR 8
#define UKR_ISA CR_ISA_AVX512
#define UKR_TABLE cr_ukr_avx512

static inline TARGET __mmask16 tail(int n) { return (__mmask16)((1u << n) - 1); }

#define v_zero() _mm512_setzero_ps()
#define v_set1(f) _mm512_set1_ps(f)
#define v_load(p) _mm512_loadu_ps(p)
#define v_store(p, v) _mm512_storeu_ps(p, v)
#define v_loadn(p, n) _mm512_maskz_loadu_ps(tail(n), p)
#define v_storen(p, v, n) _mm512_mask_storeu_ps(p, tail(n), v)
#define v_fma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define v_add(a, b) _mm512_add_ps(a, b)
#define v_div(a, b) _mm512_div_ps(a, b)
#define v_max(a, b) _mm512_max_ps(a, b)
#define v_min(a, b) _mm512_min_ps(a, b)
#define m_none() ((__mmask16)0)
#define m_eq(a, b) _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ)
#define m_andnot(a, b) ((__mmask16)((a) & ~(b)))
#define m_or(a, b) ((__mmask16)((a) | (b)))
#define v_add_mask(a, b, m) _mm512_mask_add_ps(a, m, a, b)

#include "transpose8_avx.h"
#define UKR_TRANSPOSE8 1

#include "ukr_tmpl.h"
#endif
