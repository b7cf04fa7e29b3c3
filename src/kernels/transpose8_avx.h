/* transpose8_avx.h - an 8 x 8 float transpose with AVX (256-bit) shuffles,
 * shared by the AVX2 and AVX-512 microkernel files. Include it after
 * defining TARGET (the file's target attribute) and <immintrin.h>. */
/* Transposes the 8 x 8 block s (row stride ls) into d (row stride ld). */
static inline TARGET void transpose8(const float *s, int ls, float *d, int ld)
{
    __m256 r[8], t[8], u[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(s + (size_t)i * ls);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(d + (size_t)i * ld, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(d + (size_t)(i + 4) * ld, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}
