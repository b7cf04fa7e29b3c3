/* fuzz_image.h - the body of the PNG and JPEG harnesses: crest's image path
 * as `crest predict M photo.jpg` walks it: decode from memory
 * (crest_image_decode), then crest_image_to_input (grey/RGB conversion,
 * optional center crop to the target aspect, bilinear resize, Keras
 * preprocessing) to a 24x32 sample.
 *
 * Decode size cap: crest itself accepts images up to IMG_MAX_PIXELS (2^28
 * pixels, 3 GiB of floats), so a 100-byte header can ask for gigabytes.
 * That is a bug of src/data/image.c (issue 8: decode large images scaled
 * down, cap what one image may cost), reported, not worked around here:
 * by default the harness skips inputs whose header declares more than
 * FZ_MAX_PIXELS pixels so that fuzzing can go on below the fuzzer's
 * -malloc_limit_mb. Set CREST_FUZZ_NO_CAP=1 to fuzz without the cap (then
 * the fuzzer finds the gigabyte requests at once). */
#include "fuzz.h"

#define FZ_MAX_PIXELS (4 << 20)

static uint32_t fz_be(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Pixels a PNG's IHDR declares (0 if there is none to read). */
static uint64_t png_pixels(const uint8_t *d, size_t n)
{
    if (n < 24 || memcmp(d + 12, "IHDR", 4))
        return 0;
    return (uint64_t)fz_be(d + 16, 4) * fz_be(d + 20, 4);
}

/* Largest pixel count any JPEG frame header (SOFn) in the data declares:
 * every 0xFF Cn byte pair is taken as a possible marker, as libjpeg skips
 * garbage between markers. */
static uint64_t jpeg_pixels(const uint8_t *d, size_t n)
{
    uint64_t most = 0;
    for (size_t i = 0; i + 9 <= n; i++) {
        int m = d[i + 1];
        if (d[i] == 0xFF && m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            uint64_t px = (uint64_t)fz_be(d + i + 5, 2) * fz_be(d + i + 7, 2);
            most = px > most ? px : most;
        }
    }
    return most;
}

static bool too_large(const uint8_t *d, size_t n)
{
    static int nocap = -1;
    if (nocap < 0)
        nocap = getenv("CREST_FUZZ_NO_CAP") && atoi(getenv("CREST_FUZZ_NO_CAP"));
    return !nocap && (png_pixels(d, n) > FZ_MAX_PIXELS || jpeg_pixels(d, n) > FZ_MAX_PIXELS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (too_large(data, size))
        return 0;
    static const int channels[3] = { 0, 1, 3 };
    crest_image img;
    if (crest_image_decode(&img, data, size, "fuzz", channels[size % 3]) != CREST_OK) {
        if (img.data || !*crest_last_error())
            __builtin_trap();   /* a failure must leave nothing and say why */
        return 0;
    }
    crest_image_opts o = { .height = 24, .width = 32, .channels = (size / 3) % 2 ? 1 : 0,
                           .preprocess = (crest_preprocess)(size / 6 % 5),
                           .crop_to_aspect = size / 24 % 2,
                           .resize = { .align_corners = size / 48 % 2,
                                       .half_pixel_centers = size / 96 % 2 } };
    float *x = malloc(24 * 32 * 3 * sizeof *x);
    if (!x)
        abort();
    crest_image_to_input(&img, &o, x);
    free(x);
    crest_image_free(&img);
    return 0;
}
