/* ukr_avx2.c - the inner loops for AVX2+FMA: 8 floats a vector, gemm tiles
 * of 6 x 16 (12 ymm accumulators). Built for plain x86-64 with per-function
 * target attributes; used only when the CPU has AVX2 and FMA. */
#include "ukr.h"

#ifdef CR_HAVE_X86_UKR
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#define TARGET __attribute__((target("avx2,fma")))
#define V __m256
#define VW 8
#define VM __m256
#define UKR_MR 6
#define UKR_ISA CR_ISA_AVX2
#define UKR_TABLE cr_ukr_avx2

static inline TARGET __m256i tail(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define v_zero() _mm256_setzero_ps()
#define v_set1(f) _mm256_set1_ps(f)
#define v_load(p) _mm256_loadu_ps(p)
#define v_store(p, v) _mm256_storeu_ps(p, v)
#define v_loadn(p, n) _mm256_maskload_ps(p, tail(n))
#define v_storen(p, v, n) _mm256_maskstore_ps(p, tail(n), v)
#define v_fma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define v_add(a, b) _mm256_add_ps(a, b)
#define v_div(a, b) _mm256_div_ps(a, b)
#define v_max(a, b) _mm256_max_ps(a, b)
#define v_min(a, b) _mm256_min_ps(a, b)
#define m_none() _mm256_setzero_ps()
#define m_eq(a, b) _mm256_cmp_ps(a, b, _CMP_EQ_OQ)
#define m_andnot(a, b) _mm256_andnot_ps(b, a)
#define m_or(a, b) _mm256_or_ps(a, b)
#define v_add_mask(a, b, m) _mm256_blendv_ps(a, _mm256_add_ps(a, b), m)

#include "transpose8_avx.h"
#define UKR_TRANSPOSE8 1

#include "ukr_tmpl.h"
#endif
