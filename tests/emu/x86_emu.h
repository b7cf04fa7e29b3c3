/* x86_emu.h - tests only: the x86 intrinsics of crest's AVX-512 and
 * AVX-VNNI kernels in portable C, so that those kernels run (slowly) on a
 * CPU without them and are checked against the generic loops byte for byte.
 *
 * `make emu` (tests/scripts/emulated_isa.sh) builds the library with
 * -DCR_X86_EMULATED -Itests/emu: q8_avx512.c, q8_avx2.c and ukr_avx512.c
 * then include this header instead of <immintrin.h>, drop their target
 * attributes, and every level reports itself supported (isa.c, q8_isa.c).
 * The intrinsics come from SIMDe (Debian libsimde-dev) through its native
 * aliases; the few its 0.7.4 lacks are written below from Intel's
 * definitions: masked loads touch only the lanes their mask selects, and
 * conversions round by the current rounding mode (to nearest even), out of
 * range giving INT32_MIN as vcvtps2dq does.
 */
#ifndef CREST_X86_EMU_H
#define CREST_X86_EMU_H

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* SIMDe 0.7.4 aliases the vector types but not the mask types. */
#define __mmask8 simde__mmask8
#define __mmask16 simde__mmask16
#define __mmask32 simde__mmask32
#define __mmask64 simde__mmask64

/* Lanes in and out of SIMDe's vector types by value (memcpy: no aliasing). */
#define EMU_UNPACK(arr, v) memcpy(arr, &(v), sizeof arr)
#define EMU_PACK(v, arr) memcpy(&(v), arr, sizeof arr)

/* A conversion of 16 lanes: out type OT from in type IT, each lane by EXPR
 * of x (the input lane). */
#define EMU_CONVERT16(name, RT, OT, AT, IT, EXPR)                                    \
    static inline RT name(AT a)                                                      \
    {                                                                                \
        IT in[16];                                                                   \
        OT r[16];                                                                    \
        RT o;                                                                        \
        EMU_UNPACK(in, a);                                                           \
        for (int i = 0; i < 16; i++) {                                               \
            IT x = in[i];                                                            \
            r[i] = (EXPR);                                                           \
        }                                                                            \
        EMU_PACK(o, r);                                                              \
        return o;                                                                    \
    }

/* vcvtps2dq: out of range (or NaN) gives INT32_MIN. */
static inline int32_t emu_cvt_round(float x)
{
    return (isnan(x) || x >= 2147483648.0f || x < -2147483648.0f) ? INT32_MIN
                                                                   : (int32_t)nearbyintf(x);
}

EMU_CONVERT16(crest_emu_mm512_cvtepi32_ps, simde__m512, float, simde__m512i, int32_t, (float)x)
EMU_CONVERT16(crest_emu_mm512_cvtps_epi32, simde__m512i, int32_t, simde__m512, float, emu_cvt_round(x))
EMU_CONVERT16(crest_emu_mm512_cvtepu8_epi32, simde__m512i, int32_t, simde__m128i, uint8_t, x)
/* vpmovdb: the low byte of each lane. */
EMU_CONVERT16(crest_emu_mm512_cvtepi32_epi8, simde__m128i, uint8_t, simde__m512i, uint32_t, (uint8_t)x)

/* Masked loads and stores: lane i of `bytes`-byte lanes moves only when bit
 * i of the mask is set; unselected lanes load as zero. */
static inline void emu_mask_load(void *dst, const void *src, uint64_t k, int lanes, int bytes)
{
    memset(dst, 0, (size_t)lanes * (size_t)bytes);
    for (int i = 0; i < lanes; i++)
        if ((k >> i) & 1u)
            memcpy((char *)dst + i * bytes, (const char *)src + i * bytes, (size_t)bytes);
}

static inline void emu_mask_store(void *dst, const void *src, uint64_t k, int lanes, int bytes)
{
    for (int i = 0; i < lanes; i++)
        if ((k >> i) & 1u)
            memcpy((char *)dst + i * bytes, (const char *)src + i * bytes, (size_t)bytes);
}

static inline simde__m512 crest_emu_mm512_maskz_loadu_ps(simde__mmask16 k, const void *p)
{
    simde__m512 o;
    emu_mask_load(&o, p, k, 16, 4);
    return o;
}

static inline simde__m512i crest_emu_mm512_maskz_loadu_epi8(simde__mmask64 k, const void *p)
{
    simde__m512i o;
    emu_mask_load(&o, p, k, 64, 1);
    return o;
}

static inline simde__m256i crest_emu_mm256_maskz_loadu_epi8(simde__mmask32 k, const void *p)
{
    simde__m256i o;
    emu_mask_load(&o, p, k, 32, 1);
    return o;
}

static inline void crest_emu_mm512_mask_storeu_ps(void *p, simde__mmask16 k, simde__m512 v)
{
    emu_mask_store(p, &v, k, 16, 4);
}

static inline void crest_emu_mm512_mask_storeu_epi32(void *p, simde__mmask16 k, simde__m512i v)
{
    emu_mask_store(p, &v, k, 16, 4);
}

static inline void crest_emu_mm512_mask_storeu_epi8(void *p, simde__mmask64 k, simde__m512i v)
{
    emu_mask_store(p, &v, k, 64, 1);
}

static inline void crest_emu_mm256_mask_storeu_epi8(void *p, simde__mmask32 k, simde__m256i v)
{
    emu_mask_store(p, &v, k, 32, 1);
}

static inline void crest_emu_mm_mask_storeu_epi8(void *p, simde__mmask16 k, simde__m128i v)
{
    emu_mask_store(p, &v, k, 16, 1);
}

/* vmaskmovps: SIMDe's loads all 8 lanes, then masks (a read past the end
 * of the buffer that the instruction never makes). */
static inline simde__m256 crest_emu_mm256_maskload_ps(const float *p, simde__m256i m)
{
    uint32_t k[8];
    uint64_t bits = 0;
    simde__m256 o;
    memcpy(k, &m, sizeof k);
    for (int i = 0; i < 8; i++)
        bits |= (uint64_t)(k[i] >> 31) << i;
    emu_mask_load(&o, p, bits, 8, 4);
    return o;
}
#undef _mm256_maskload_ps
#define _mm256_maskload_ps(p, m) crest_emu_mm256_maskload_ps(p, m)

#ifndef _mm512_cvtepi32_ps
#define _mm512_cvtepi32_ps(a) crest_emu_mm512_cvtepi32_ps(a)
#endif
#ifndef _mm512_cvtps_epi32
#define _mm512_cvtps_epi32(a) crest_emu_mm512_cvtps_epi32(a)
#endif
#ifndef _mm512_cvtepu8_epi32
#define _mm512_cvtepu8_epi32(a) crest_emu_mm512_cvtepu8_epi32(a)
#endif
#ifndef _mm512_cvtepi32_epi8
#define _mm512_cvtepi32_epi8(a) crest_emu_mm512_cvtepi32_epi8(a)
#endif
#ifndef _mm512_maskz_loadu_ps
#define _mm512_maskz_loadu_ps(k, p) crest_emu_mm512_maskz_loadu_ps(k, p)
#endif
#ifndef _mm512_maskz_loadu_epi8
#define _mm512_maskz_loadu_epi8(k, p) crest_emu_mm512_maskz_loadu_epi8(k, p)
#endif
#ifndef _mm256_maskz_loadu_epi8
#define _mm256_maskz_loadu_epi8(k, p) crest_emu_mm256_maskz_loadu_epi8(k, p)
#endif
#ifndef _mm512_mask_storeu_ps
#define _mm512_mask_storeu_ps(p, k, v) crest_emu_mm512_mask_storeu_ps(p, k, v)
#endif
#ifndef _mm512_mask_storeu_epi32
#define _mm512_mask_storeu_epi32(p, k, v) crest_emu_mm512_mask_storeu_epi32(p, k, v)
#endif
#ifndef _mm512_mask_storeu_epi8
#define _mm512_mask_storeu_epi8(p, k, v) crest_emu_mm512_mask_storeu_epi8(p, k, v)
#endif
#ifndef _mm256_mask_storeu_epi8
#define _mm256_mask_storeu_epi8(p, k, v) crest_emu_mm256_mask_storeu_epi8(p, k, v)
#endif
#ifndef _mm_mask_storeu_epi8
#define _mm_mask_storeu_epi8(p, k, v) crest_emu_mm_mask_storeu_epi8(p, k, v)
#endif
/* vpdpbusd: each int32 lane plus four u8 x s8 products, wrapping as the
 * instruction does (SIMDe's adds in int, which UBSan rightly flags). */
static inline void emu_dpbusd(void *acc, const void *a, const void *b, int lanes)
{
    uint8_t x[64];
    int8_t y[64];
    memcpy(x, a, (size_t)lanes * 4);
    memcpy(y, b, (size_t)lanes * 4);
    for (int i = 0; i < lanes; i++) {
        uint32_t v;
        memcpy(&v, (char *)acc + 4 * i, 4);
        for (int j = 0; j < 4; j++)
            v += (uint32_t)((int32_t)x[4 * i + j] * (int32_t)y[4 * i + j]);
        memcpy((char *)acc + 4 * i, &v, 4);
    }
}

static inline simde__m512i crest_emu_mm512_dpbusd_epi32(simde__m512i s, simde__m512i a,
                                                        simde__m512i b)
{
    emu_dpbusd(&s, &a, &b, 16);
    return s;
}

static inline simde__m256i crest_emu_mm256_dpbusd_epi32(simde__m256i s, simde__m256i a,
                                                        simde__m256i b)
{
    emu_dpbusd(&s, &a, &b, 8);
    return s;
}
#undef _mm512_dpbusd_epi32
#define _mm512_dpbusd_epi32(s, a, b) crest_emu_mm512_dpbusd_epi32(s, a, b)
#undef _mm256_dpbusd_epi32
#define _mm256_dpbusd_epi32(s, a, b) crest_emu_mm256_dpbusd_epi32(s, a, b)
/* AVX-VNNI's VEX form computes what AVX512-VL's does. */
#define _mm256_dpbusd_avx_epi32(s, a, b) crest_emu_mm256_dpbusd_epi32(s, a, b)

#endif
