/* farmhash.c - FarmHash Fingerprint64 (farmhashna::Hash64), the string
 * fingerprint behind Keras' Hashing layer, tf.strings.to_hash_bucket_fast
 * and TF.js' stringToHashBucketFast. Written from the published algorithm
 * (Google's FarmHash, "na" variant); checked against TF.js on strings of
 * every length class (tests/golden/farmhash.json) and against Keras'
 * documented Hashing example. Little-endian loads, as the reference. */
#include "features.h"

static const uint64_t k0 = 0xc3a5c85c97cb3127ULL;
static const uint64_t k1 = 0xb492b66fbe98f273ULL;
static const uint64_t k2 = 0x9ae16a3b2f90404fULL;

static uint64_t ld64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t ld32(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

static uint64_t ror(uint64_t v, int s) { return (v >> s) | (v << (64 - s)); }
static uint64_t shift_mix(uint64_t v) { return v ^ (v >> 47); }

static uint64_t mix16(uint64_t u, uint64_t v, uint64_t mul)
{
    uint64_t a = (u ^ v) * mul;
    a ^= a >> 47;
    uint64_t b = (v ^ a) * mul;
    b ^= b >> 47;
    return b * mul;
}

static uint64_t len0to16(const unsigned char *s, size_t len)
{
    if (len >= 8) {
        uint64_t mul = k2 + len * 2, a = ld64(s) + k2, b = ld64(s + len - 8);
        uint64_t c = ror(b, 37) * mul + a, d = (ror(a, 25) + b) * mul;
        return mix16(c, d, mul);
    }
    if (len >= 4) {
        uint64_t mul = k2 + len * 2, a = ld32(s);
        return mix16(len + (a << 3), ld32(s + len - 4), mul);
    }
    if (len > 0) {
        uint32_t a = s[0], b = s[len >> 1], c = s[len - 1];
        uint32_t y = a + (b << 8), z = (uint32_t)len + (c << 2);
        return shift_mix(y * k2 ^ z * k0) * k2;
    }
    return k2;
}

static uint64_t len17to32(const unsigned char *s, size_t len)
{
    uint64_t mul = k2 + len * 2, a = ld64(s) * k1, b = ld64(s + 8);
    uint64_t c = ld64(s + len - 8) * mul, d = ld64(s + len - 16) * k2;
    return mix16(ror(a + b, 43) + ror(c, 30) + d, a + ror(b + k2, 18) + c, mul);
}

static uint64_t len33to64(const unsigned char *s, size_t len)
{
    uint64_t mul = k2 + len * 2, a = ld64(s) * k2, b = ld64(s + 8);
    uint64_t c = ld64(s + len - 8) * mul, d = ld64(s + len - 16) * k2;
    uint64_t y = ror(a + b, 43) + ror(c, 30) + d;
    uint64_t z = mix16(y, a + ror(b + k2, 18) + c, mul);
    uint64_t e = ld64(s + 16) * mul, f = ld64(s + 24);
    uint64_t g = (y + ld64(s + len - 32)) * mul, h = (z + ld64(s + len - 24)) * mul;
    return mix16(ror(e + f, 43) + ror(g, 30) + h, e + ror(f + a, 18) + g, mul);
}

typedef struct pair64 { uint64_t a, b; } pair64;

/* Two 64-bit mixes of 32 bytes with seeds x, y. */
static pair64 weak32(const unsigned char *s, uint64_t x, uint64_t y)
{
    uint64_t w = ld64(s), p = ld64(s + 8), q = ld64(s + 16), z = ld64(s + 24);
    x += w;
    y = ror(y + x + z, 21);
    uint64_t c = x;
    x += p;
    x += q;
    y += ror(x, 44);
    return (pair64){ x + z, y + c };
}

uint64_t cr_fingerprint64(const void *data, size_t len)
{
    const unsigned char *s = data;
    if (len <= 16)
        return len0to16(s, len);
    if (len <= 32)
        return len17to32(s, len);
    if (len <= 64)
        return len33to64(s, len);
    /* 64-byte blocks, then the last 64 bytes (overlapping) */
    const uint64_t seed = 81;
    uint64_t x = seed, y = seed * k1 + 113, z = shift_mix(y * k2 + 113) * k2, t;
    pair64 v = { 0, 0 }, w = { 0, 0 };
    x = x * k2 + ld64(s);
    const unsigned char *end = s + ((len - 1) / 64) * 64;
    const unsigned char *last64 = end + ((len - 1) & 63) - 63;
    do {
        x = ror(x + y + v.a + ld64(s + 8), 37) * k1;
        y = ror(y + v.b + ld64(s + 48), 42) * k1;
        x ^= w.b;
        y += v.a + ld64(s + 40);
        z = ror(z + w.a, 33) * k1;
        v = weak32(s, v.b * k1, x + w.a);
        w = weak32(s + 32, z + w.b, y + ld64(s + 16));
        t = z, z = x, x = t;
        s += 64;
    } while (s != end);
    uint64_t mul = k1 + ((z & 0xff) << 1);
    s = last64;
    w.a += (len - 1) & 63;
    v.a += w.a;
    w.a += v.a;
    x = ror(x + y + v.a + ld64(s + 8), 37) * mul;
    y = ror(y + v.b + ld64(s + 48), 42) * mul;
    x ^= w.b * 9;
    y += v.a * 9 + ld64(s + 40);
    z = ror(z + w.a, 33) * mul;
    v = weak32(s, v.b * mul, x + w.a);
    w = weak32(s + 32, z + w.b, y + ld64(s + 16));
    t = z, z = x, x = t;
    return mix16(mix16(v.a, w.a, mul) + shift_mix(y) * k0 + z, mix16(v.b, w.b, mul) + x, mul);
}
