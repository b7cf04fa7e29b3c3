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

static inline simde__m512 crest_emu_mm512_cvtepi32_ps(simde__m512i a)
{
    int32_t x[16];
    float r[16];
    simde__m512 o;
    EMU_UNPACK(x, a);
    for (int i = 0; i < 16; i++)
        r[i] = (float)x[i];
    EMU_PACK(o, r);
    return o;
}

static inline simde__m512i crest_emu_mm512_cvtps_epi32(simde__m512 a)
{
    float x[16];
    int32_t r[16];
    simde__m512i o;
    EMU_UNPACK(x, a);
    for (int i = 0; i < 16; i++)
        r[i] = (isnan(x[i]) || x[i] >= 2147483648.0f || x[i] < -2147483648.0f)
                   ? INT32_MIN
                   : (int32_t)nearbyintf(x[i]);
    EMU_PACK(o, r);
    return o;
}

static inline simde__m512i crest_emu_mm512_cvtepu8_epi32(simde__m128i a)
{
    uint8_t x[16];
    int32_t r[16];
    simde__m512i o;
    EMU_UNPACK(x, a);
    for (int i = 0; i < 16; i++)
        r[i] = x[i];
    EMU_PACK(o, r);
    return o;
}

/* vpmovdb: the low byte of each lane. */
static inline simde__m128i crest_emu_mm512_cvtepi32_epi8(simde__m512i a)
{
    uint32_t x[16];
    uint8_t r[16];
    simde__m128i o;
    EMU_UNPACK(x, a);
    for (int i = 0; i < 16; i++)
        r[i] = (uint8_t)x[i];
    EMU_PACK(o, r);
    return o;
}

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
static inline void emu_dpbusd(int32_t *acc, const uint8_t *a, const int8_t *b, int lanes)
{
    for (int i = 0; i < lanes; i++) {
        uint32_t v = (uint32_t)acc[i];
        for (int j = 0; j < 4; j++)
            v += (uint32_t)((int32_t)a[4 * i + j] * (int32_t)b[4 * i + j]);
        acc[i] = (int32_t)v;
    }
}

static inline simde__m512i crest_emu_mm512_dpbusd_epi32(simde__m512i s, simde__m512i a,
                                                        simde__m512i b)
{
    int32_t acc[16];
    uint8_t x[64];
    int8_t y[64];
    EMU_UNPACK(acc, s);
    EMU_UNPACK(x, a);
    EMU_UNPACK(y, b);
    emu_dpbusd(acc, x, y, 16);
    EMU_PACK(s, acc);
    return s;
}

static inline simde__m256i crest_emu_mm256_dpbusd_epi32(simde__m256i s, simde__m256i a,
                                                        simde__m256i b)
{
    int32_t acc[8];
    uint8_t x[32];
    int8_t y[32];
    EMU_UNPACK(acc, s);
    EMU_UNPACK(x, a);
    EMU_UNPACK(y, b);
    emu_dpbusd(acc, x, y, 8);
    EMU_PACK(s, acc);
    return s;
}
#undef _mm512_dpbusd_epi32
#define _mm512_dpbusd_epi32(s, a, b) crest_emu_mm512_dpbusd_epi32(s, a, b)
#undef _mm256_dpbusd_epi32
#define _mm256_dpbusd_epi32(s, a, b) crest_emu_mm256_dpbusd_epi32(s, a, b)
/* AVX-VNNI's VEX form computes what AVX512-VL's does. */
#define _mm256_dpbusd_avx_epi32(s, a, b) crest_emu_mm256_dpbusd_epi32(s, a, b)

#endif
