/* test_image.c - JPEG/PNG decoding, resize against TF.js, crop, preprocessing,
 * folder-per-class data sets, and corrupt files. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>   /* before jpeglib.h, which uses FILE */
#include <jpeglib.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static const char *data_path(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", crest_data_dir(), rel);
    return buf;
}

static void *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc(*len + 1);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

/* ---- writers for on-the-fly test images -------------------------------- */

/* PNG of w x h with color type ct and bit depth bd; px: samples (big-endian
 * for 16 bit) row-major. Optional palette / tRNS. */
static void write_png(const char *path, int w, int h, int ct, int bd, const unsigned char *px,
                      const png_color *pal, int n_pal, const unsigned char *trns, int n_trns,
                      bool interlace)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    assert_true(p && info);
    if (setjmp(png_jmpbuf(p)))
        fail_msg("png write failed");
    png_init_io(p, f);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, bd, ct,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal)
        png_set_PLTE(p, info, pal, n_pal);
    if (trns)
        png_set_tRNS(p, info, trns, n_trns, NULL);
    png_write_info(p, info);
    int chans = ct == PNG_COLOR_TYPE_RGB ? 3 : ct == PNG_COLOR_TYPE_RGBA ? 4
              : ct == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t stride = ((size_t)w * (size_t)chans * (size_t)bd + 7) / 8;
    png_bytep *rows = malloc((size_t)h * sizeof *rows);
    for (int y = 0; y < h; y++)
        rows[y] = (png_bytep)px + (size_t)y * stride;
    png_write_image(p, rows);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    free(rows);
    fclose(f);
}

static void write_jpeg(const char *path, int w, int h, int comps, const unsigned char *px)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)px + (size_t)c.next_scanline * (size_t)w * (size_t)comps;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

/* A smooth RGB test pattern (JPEG-friendly). */
static unsigned char *pattern(int w, int h, int comps, int seed)
{
    unsigned char *p = malloc((size_t)w * (size_t)h * (size_t)comps);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < comps; c++)
                p[((size_t)y * w + x) * comps + c] =
                    (unsigned char)((x * 3 + y * 2 + c * 20 + seed * 7) % 230 + 10);
    return p;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* ---- real photos ------------------------------------------------------- */

static void test_real_jpegs(void **state)
{
    (void)state;
    char p[1024];
    const char *names[] = { "images/china.jpg", "images/flower.jpg" };
    for (int i = 0; i < 2; i++) {
        crest_image im, grey;
        assert_int_equal(crest_image_load(&im, data_path(p, sizeof p, names[i]), 0), CREST_OK);
        assert_int_equal(im.height, 427);
        assert_int_equal(im.width, 640);
        assert_int_equal(im.channels, 3);
        double sum = 0, lo = 255, hi = 0;
        for (size_t k = 0; k < 427 * 640 * 3; k++) {
            sum += im.data[k];
            lo = fmin(lo, im.data[k]);
            hi = fmax(hi, im.data[k]);
        }
        assert_true(lo >= 0 && hi <= 255 && hi - lo > 200);   /* a real, contrasty photo */
        assert_true(sum > 0);
        assert_int_equal(crest_image_load(&grey, p, 1), CREST_OK);
        assert_int_equal(grey.channels, 1);
        size_t c = 200 * 640 + 300;     /* luma of the RGB decode */
        double y = (299 * im.data[3 * c] + 587 * im.data[3 * c + 1] + 114 * im.data[3 * c + 2]) /
                   1000.0;
        assert_true(fabs(grey.data[c] - y) < 2.0);    /* libjpeg's own Y vs RGB->luma */
        crest_image_free(&im);
        crest_image_free(&grey);
    }
}

/* Our decode + resize + /255 against TF.js' input (jpeg-js decode): decoders
 * differ (IDCT, chroma upsampling), the pipeline must not. */
static void test_pipeline_close_to_tfjs_input(void **state)
{
    (void)state;
    char p[1024];
    const char *img[] = { "china", "flower" };
    crest_image_opts o = { .height = 224, .width = 224, .preprocess = CREST_PRE_RESCALE };
    size_t n = 224 * 224 * 3;
    float *x = malloc(n * sizeof *x);
    for (int i = 0; i < 2; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "images/%s.jpg", img[i]);
        assert_int_equal(crest_image_prepare(data_path(p, sizeof p, rel), &o, x), CREST_OK);
        snprintf(p, sizeof p, "tests/golden/mobilenet_v2/%s.input.f32", img[i]);
        size_t len;
        float *want = read_all(p, &len);
        assert_int_equal(len, n * sizeof(float));
        double mean = 0;
        for (size_t k = 0; k < n; k++)
            mean += fabs((double)x[k] - want[k]);
        mean /= (double)n;
        print_message("%s: libjpeg pipeline vs TF.js input: mean |diff| %.5f, max %.4f\n",
                      img[i], mean, max_diff(x, want, n));
        assert_true(mean < 1.0 / 255);
        assert_true(max_diff(x, want, n) < 8.0 / 255);
        free(want);
    }
    free(x);
}

/* On the very pixels TF.js resized (jpeg-js decode via node), our resize
 * reproduces tests/golden/mobilenet_v2/<img>.input.f32. Skipped without node. */
static void test_resize_full_photo_same_pixels(void **state)
{
    (void)state;
    char cmd[2048], raw[512], p[1024];
    snprintf(raw, sizeof raw, "%s/china.u8", tu_fixture_dir);
    snprintf(cmd, sizeof cmd,
             "NODE_PATH=tools/node_modules node tools/golden/image_resize.js --decode %s %s "
             ">/dev/null 2>&1", data_path(p, sizeof p, "images/china.jpg"), raw);
    if (system(cmd) != 0) {
        print_message("node / jpeg-js not available: skipped\n");
        skip();
    }
    size_t len, n = 224 * 224 * 3;
    unsigned char *px = read_all(raw, &len);
    assert_int_equal(len, 427 * 640 * 3);
    crest_image in = { 427, 640, 3, malloc(len * sizeof(float)) }, out;
    for (size_t k = 0; k < len; k++)
        in.data[k] = px[k];
    assert_int_equal(crest_image_resize(&out, &in, 224, 224, NULL), CREST_OK);
    assert_int_equal(crest_preprocess_apply(out.data, 224 * 224, 3, CREST_PRE_RESCALE), CREST_OK);
    float *want = read_all("tests/golden/mobilenet_v2/china.input.f32", &len);
    double d = max_diff(out.data, want, n);
    print_message("resize on jpeg-js pixels vs TF.js: max |diff| %.3g\n", d);
    assert_true(d <= 1e-6);
    free(want);
    free(px);
    free(in.data);
    crest_image_free(&out);
}

static void test_resize_modes_match_tfjs(void **state)
{
    (void)state;
    size_t len;
    unsigned char *px = read_all("tests/golden/images/china_crop.u8", &len);
    assert_int_equal(len, 47 * 61 * 3);
    crest_image in = { 47, 61, 3, malloc(len * sizeof(float)) };
    for (size_t k = 0; k < len; k++)
        in.data[k] = px[k];
    const char *modes[] = { "default", "align", "half" };
    const crest_resize_opts ro[] = { { false, false }, { true, false }, { false, true } };
    const int sizes[][2] = { { 50, 70 }, { 17, 23 }, { 1, 1 }, { 47, 30 } };
    for (int m = 0; m < 3; m++)
        for (int s = 0; s < 4; s++) {
            char p[256];
            snprintf(p, sizeof p, "tests/golden/images/china_crop.%s.%dx%d.f32", modes[m],
                     sizes[s][0], sizes[s][1]);
            float *want = read_all(p, &len);
            crest_image out;
            assert_int_equal(crest_image_resize(&out, &in, sizes[s][0], sizes[s][1], &ro[m]),
                             CREST_OK);
            assert_int_equal(len, (size_t)sizes[s][0] * sizes[s][1] * 3 * sizeof(float));
            double d = max_diff(out.data, want, len / sizeof(float));
            if (d > 1e-4)
                fail_msg("%s: max |diff| %g", p, d);
            crest_image_free(&out);
            free(want);
        }
    /* a resize must notice a broken convention: default != half */
    crest_image a, b;
    assert_int_equal(crest_image_resize(&a, &in, 17, 23, &ro[0]), CREST_OK);
    assert_int_equal(crest_image_resize(&b, &in, 17, 23, &ro[2]), CREST_OK);
    assert_true(max_diff(a.data, b.data, 17 * 23 * 3) > 1.0);
    crest_image_free(&a);
    crest_image_free(&b);
    free(in.data);
    free(px);
}

/* ---- PNG variants ------------------------------------------------------ */

static void load_png(const char *name, int channels, crest_image *im)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tu_fixture_dir, name);
    int rc = crest_image_load(im, p, channels);
    if (rc)
        fail_msg("%s: %s", name, crest_last_error());
}

static void test_png_variants(void **state)
{
    (void)state;
    char p[512];
    const int W = 5, H = 3;
    unsigned char g8[15], rgb[45], rgba[60], ga[30], g16[30], rgb16[90], pal_ix[15], g1[3];
    for (int i = 0; i < 15; i++) {
        g8[i] = (unsigned char)(i * 17);
        for (int c = 0; c < 3; c++)
            rgb[i * 3 + c] = (unsigned char)(i * 10 + c * 50);
        for (int c = 0; c < 4; c++)
            rgba[i * 4 + c] = (unsigned char)(c == 3 ? 7 : i * 10 + c * 50);
        ga[i * 2] = g8[i];
        ga[i * 2 + 1] = 99;
        unsigned v = (unsigned)i * 4000u + 3u;
        g16[i * 2] = (unsigned char)(v >> 8);
        g16[i * 2 + 1] = (unsigned char)v;
        for (int c = 0; c < 3; c++) {
            unsigned u = (unsigned)i * 4000u + (unsigned)c * 1000u;
            rgb16[i * 6 + c * 2] = (unsigned char)(u >> 8);
            rgb16[i * 6 + c * 2 + 1] = (unsigned char)u;
        }
        pal_ix[i] = (unsigned char)(i % 4);
    }
    g1[0] = 0xA8;   /* 1-bit grey, rows of 5 pixels padded to a byte: 10101 */
    g1[1] = 0x50;   /* 01010 */
    g1[2] = 0xF8;   /* 11111 */
    png_color pal[4] = { { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 }, { 10, 20, 30 } };
    unsigned char trns[4] = { 0, 128, 255, 255 };
    snprintf(p, sizeof p, "%s/g8.png", tu_fixture_dir);
    write_png(p, W, H, PNG_COLOR_TYPE_GRAY, 8, g8, NULL, 0, NULL, 0, false);
    snprintf(p, sizeof p, "%s/rgb.png", tu_fixture_dir);
    write_png(p, W, H, PNG_COLOR_TYPE_RGB, 8, rgb, NULL, 0, NULL, 0, true);   /* interlaced */
    snprintf(p, sizeof p, "%s/rgba.png", tu_fixture_dir);
    write_png(p, W, H, PNG_COLOR_TYPE_RGBA, 8, rgba, NULL, 0, NULL, 0, false);
    snprintf(p, sizeof p, "%s/ga.png", tu_fixture_dir);
    write_png(p, W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, NULL, 0, NULL, 0, false);
    snprintf(p, sizeof p, "%s/g16.png", tu_fixture_dir);
    write_png(p, W, H, PNG_COLOR_TYPE_GRAY, 16, g16, NULL, 0, NULL, 0, false);
    snprintf(p, sizeof p, "%s/rgb16.png", tu_fixture_dir);
    write_png(p, W, H, PNG_COLOR_TYPE_RGB, 16, rgb16, NULL, 0, NULL, 0, false);
    snprintf(p, sizeof p, "%s/pal.png", tu_fixture_dir);
    write_png(p, W, H, PNG_COLOR_TYPE_PALETTE, 8, pal_ix, pal, 4, trns, 4, false);
    snprintf(p, sizeof p, "%s/g1.png", tu_fixture_dir);
    write_png(p, W, H, PNG_COLOR_TYPE_GRAY, 1, g1, NULL, 0, NULL, 0, false);

    crest_image im;
    load_png("g8.png", 0, &im);
    assert_int_equal(im.channels, 1);
    for (int i = 0; i < 15; i++)
        assert_true(im.data[i] == g8[i]);
    crest_image_free(&im);
    load_png("g8.png", 3, &im);            /* grey -> RGB replicates */
    assert_int_equal(im.channels, 3);
    for (int i = 0; i < 15; i++)
        assert_true(im.data[3 * i] == g8[i] && im.data[3 * i + 2] == g8[i]);
    crest_image_free(&im);
    load_png("rgb.png", 0, &im);
    assert_int_equal(im.channels, 3);
    assert_int_equal(im.width, W);
    for (int i = 0; i < 45; i++)
        assert_true(im.data[i] == rgb[i]);
    crest_image_free(&im);
    load_png("rgb.png", 1, &im);           /* RGB -> luma */
    assert_true(fabs(im.data[4] - (299 * 40 + 587 * 90 + 114 * 140) / 1000.0) < 1e-3);
    crest_image_free(&im);
    load_png("rgba.png", 0, &im);          /* alpha dropped, not blended */
    assert_int_equal(im.channels, 3);
    for (int i = 0; i < 15; i++)
        for (int c = 0; c < 3; c++)
            assert_true(im.data[i * 3 + c] == rgba[i * 4 + c]);
    crest_image_free(&im);
    load_png("ga.png", 0, &im);
    assert_int_equal(im.channels, 1);
    assert_true(im.data[14] == g8[14]);
    crest_image_free(&im);
    load_png("g16.png", 0, &im);           /* 16 bit scaled to 0..255 */
    for (int i = 0; i < 15; i++)
        assert_true(fabs(im.data[i] - (i * 4000.0 + 3) * 255.0 / 65535.0) < 1e-3);
    crest_image_free(&im);
    load_png("rgb16.png", 0, &im);
    assert_true(fabs(im.data[3 * 7 + 2] - (7 * 4000.0 + 2000) * 255.0 / 65535.0) < 1e-3);
    crest_image_free(&im);
    load_png("pal.png", 0, &im);           /* palette expanded, tRNS ignored */
    assert_int_equal(im.channels, 3);
    for (int i = 0; i < 15; i++) {
        const png_color *c = &pal[i % 4];
        assert_true(im.data[3 * i] == c->red && im.data[3 * i + 1] == c->green &&
                    im.data[3 * i + 2] == c->blue);
    }
    crest_image_free(&im);
    load_png("g1.png", 0, &im);            /* 1-bit expanded to 0 / 255 */
    const int bits[15] = { 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1 };
    for (int i = 0; i < 15; i++)
        assert_true(im.data[i] == (bits[i] ? 255.0f : 0.0f));
    crest_image_free(&im);
}

static void test_jpeg_written_on_the_fly(void **state)
{
    (void)state;
    char p[512];
    unsigned char *rgb = pattern(40, 24, 3, 1), *g = pattern(40, 24, 1, 2);
    snprintf(p, sizeof p, "%s/rgb.jpg", tu_fixture_dir);
    write_jpeg(p, 40, 24, 3, rgb);
    crest_image im;
    assert_int_equal(crest_image_load(&im, p, 0), CREST_OK);
    assert_int_equal(im.width, 40);
    assert_int_equal(im.height, 24);
    assert_int_equal(im.channels, 3);
    double mean = 0;
    for (size_t i = 0; i < 40 * 24 * 3; i++)
        mean += fabs(im.data[i] - rgb[i]);
    print_message("RGB JPEG q100: mean |diff| %.3f\n", mean / (40 * 24 * 3));
    assert_true(mean / (40 * 24 * 3) < 3.0);     /* quality 100, lossy only a little */
    crest_image_free(&im);
    snprintf(p, sizeof p, "%s/g.jpg", tu_fixture_dir);
    write_jpeg(p, 40, 24, 1, g);
    assert_int_equal(crest_image_load(&im, p, 0), CREST_OK);
    assert_int_equal(im.channels, 1);
    mean = 0;
    for (size_t i = 0; i < 40 * 24; i++)
        mean += fabs(im.data[i] - g[i]);
    assert_true(mean / (40 * 24) < 2.0);
    crest_image_free(&im);
    free(rgb);
    free(g);
}

/* ---- corrupt input ----------------------------------------------------- */

static void expect_bad(const void *buf, size_t len, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tu_fixture_dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    crest_image im = { 1, 1, 1, NULL };
    int rc = crest_image_load(&im, p, 0);
    if (rc != CREST_E_FORMAT)
        fail_msg("%s (%zu bytes): rc %d (%s)", name, len, rc, crest_last_error());
    assert_non_null(strstr(crest_last_error(), name));     /* names the file */
    assert_null(im.data);
}

static void test_corrupt_and_truncated(void **state)
{
    (void)state;
    char p[1024];
    size_t len;
    unsigned char *jpg = read_all(data_path(p, sizeof p, "images/china.jpg"), &len);
    const size_t cuts[] = { 3, 4, 20, 200, 700, 5000, len / 2, len - 600 };
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++)
        expect_bad(jpg, cuts[i], "cut.jpg");
    /* garbage in the entropy-coded data or headers: an error or a clean decode,
     * never a crash (ASan) */
    cr_rng r;
    cr_rng_seed(&r, 3);
    for (int t = 0; t < 40; t++) {
        unsigned char *c = malloc(len);
        memcpy(c, jpg, len);
        for (int k = 0; k < 8; k++)
            c[cr_rng_below(&r, t < 20 ? 700 : len)] ^= (unsigned char)(1 + cr_rng_below(&r, 255));
        crest_image im;
        int rc = crest_image_decode(&im, c, len, "flipped.jpg", 0);
        assert_true(rc == CREST_OK || rc == CREST_E_FORMAT || rc == CREST_E_UNSUPPORTED);
        if (rc)
            assert_null(im.data);
        crest_image_free(&im);
        free(c);
    }
    free(jpg);

    unsigned char *rgb = pattern(64, 64, 3, 3);
    snprintf(p, sizeof p, "%s/ok.png", tu_fixture_dir);
    write_png(p, 64, 64, PNG_COLOR_TYPE_RGB, 8, rgb, NULL, 0, NULL, 0, false);
    free(rgb);
    unsigned char *png = read_all(p, &len);
    const size_t pcuts[] = { 8, 30, 60, len / 2, len - 13 };
    for (size_t i = 0; i < sizeof pcuts / sizeof *pcuts; i++)
        expect_bad(png, pcuts[i], "cut.png");
    png[40] ^= 0x55;          /* a bad CRC / corrupt chunk */
    expect_bad(png, len, "crc.png");
    free(png);
    expect_bad("hello, world", 12, "text.jpg");
    expect_bad("", 0, "empty.png");
    crest_image im;
    snprintf(p, sizeof p, "%s/missing.jpg", tu_fixture_dir);
    assert_int_equal(crest_image_load(&im, p, 0), CREST_E_IO);
    assert_non_null(strstr(crest_last_error(), "missing.jpg"));
    assert_int_equal(crest_image_load(&im, p, 2), CREST_E_IO);   /* file checked first */
    assert_int_equal(crest_image_decode(&im, "x", 1, "a", 2), CREST_E_ARG);
}

/* ---- crop, preprocessing ---------------------------------------------- */

static void test_crop_and_preprocess(void **state)
{
    (void)state;
    crest_image in = { 4, 6, 1, malloc(24 * sizeof(float)) }, out;
    for (int i = 0; i < 24; i++)
        in.data[i] = (float)i;
    assert_int_equal(crest_image_center_crop(&out, &in, 2, 3), CREST_OK);
    const float want[6] = { 7, 8, 9, 13, 14, 15 };   /* top 1, left 1 */
    assert_memory_equal(out.data, want, sizeof want);
    crest_image_free(&out);
    assert_int_equal(crest_image_center_crop(&out, &in, 5, 3), CREST_E_ARG);
    assert_null(out.data);
    free(in.data);

    float px[6] = { 0, 127.5f, 255, 10, 20, 30 }, x[6];
    memcpy(x, px, sizeof x);
    assert_int_equal(crest_preprocess_apply(x, 2, 3, CREST_PRE_RESCALE), CREST_OK);
    assert_true(x[1] == 0.5f && x[2] == 1.0f);
    memcpy(x, px, sizeof x);
    assert_int_equal(crest_preprocess_apply(x, 2, 3, CREST_PRE_TF), CREST_OK);
    assert_true(x[0] == -1.0f && x[1] == 0.0f && x[2] == 1.0f);
    memcpy(x, px, sizeof x);
    assert_int_equal(crest_preprocess_apply(x, 2, 3, CREST_PRE_TORCH), CREST_OK);
    assert_true(fabsf(x[0] - (0 - 0.485f) / 0.229f) < 1e-6f);
    assert_true(fabsf(x[5] - (30 / 255.0f - 0.406f) / 0.225f) < 1e-6f);
    memcpy(x, px, sizeof x);
    assert_int_equal(crest_preprocess_apply(x, 2, 3, CREST_PRE_CAFFE), CREST_OK);
    assert_true(fabsf(x[0] - (255 - 103.939f)) < 1e-4f);   /* B first */
    assert_true(fabsf(x[2] - (0 - 123.68f)) < 1e-4f);
    assert_true(fabsf(x[4] - (20 - 116.779f)) < 1e-4f);
    memcpy(x, px, sizeof x);
    assert_int_equal(crest_preprocess_apply(x, 6, 1, CREST_PRE_NONE), CREST_OK);
    assert_memory_equal(x, px, sizeof x);
    assert_int_equal(crest_preprocess_apply(x, 6, 1, CREST_PRE_CAFFE), CREST_E_ARG);
    crest_preprocess pp;
    assert_int_equal(crest_preprocess_parse("torch", &pp), CREST_OK);
    assert_int_equal(pp, CREST_PRE_TORCH);
    assert_int_equal(crest_preprocess_parse("x/255", &pp), CREST_OK);
    assert_int_equal(pp, CREST_PRE_RESCALE);
    assert_int_equal(crest_preprocess_parse("imagenet", &pp), CREST_E_ARG);

    crest_image_opts o = { .height = 7, .width = 9, .channels = 1, .preprocess = CREST_PRE_TF,
                           .crop_to_aspect = true, .resize = { .half_pixel_centers = true } },
                     back;
    char *j = crest_image_opts_json(&o);
    assert_non_null(j);
    assert_int_equal(crest_image_opts_parse(j, &back), CREST_OK);
    assert_memory_equal(&o, &back, sizeof o);
    crest_free(j);
    assert_int_equal(crest_image_opts_parse("{\"height\":7}", &back), CREST_E_FORMAT);
    assert_int_equal(crest_image_opts_parse("[1", &back), CREST_E_FORMAT);
}

/* crop_to_aspect: a wide image keeps its centre. */
static void test_to_input_crop_to_aspect(void **state)
{
    (void)state;
    crest_image in = { 2, 6, 1, malloc(12 * sizeof(float)) };
    for (int i = 0; i < 12; i++)
        in.data[i] = (float)(i % 6);
    float out[4];
    crest_image_opts o = { .height = 2, .width = 2, .channels = 1, .crop_to_aspect = true };
    assert_int_equal(crest_image_to_input(&in, &o, out), CREST_OK);
    assert_true(out[0] == 2 && out[1] == 3 && out[2] == 2 && out[3] == 3);
    o.crop_to_aspect = false;   /* squash: every other column */
    assert_int_equal(crest_image_to_input(&in, &o, out), CREST_OK);
    assert_true(out[0] == 0 && out[1] == 3);
    free(in.data);
}

/* ---- folders ----------------------------------------------------------- */

static void mk(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tu_fixture_dir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void test_folder_dataset(void **state)
{
    (void)state;
    char p[1024], root[512];
    snprintf(root, sizeof root, "%s/ds", tu_fixture_dir);
    mk("ds");
    mk("ds/zebra");
    mk("ds/ant");
    mk("ds/.hidden");
    unsigned char *a = pattern(30, 20, 3, 1), *b = pattern(16, 16, 1, 2);
    snprintf(p, sizeof p, "%s/zebra/z1.png", root);
    write_png(p, 30, 20, PNG_COLOR_TYPE_RGB, 8, a, NULL, 0, NULL, 0, false);
    snprintf(p, sizeof p, "%s/zebra/z0.jpg", root);
    write_jpeg(p, 30, 20, 3, a);
    snprintf(p, sizeof p, "%s/ant/a.jpeg", root);
    write_jpeg(p, 16, 16, 1, b);
    tu_write(root, "ant/notes.txt", "x", 1);
    crest_image_opts o = { .height = 8, .width = 10, .preprocess = CREST_PRE_RESCALE };
    crest_dataset *d = NULL;
    int rc = crest_image_folder_load(&d, root, &o);
    if (rc)
        fail_msg("%s", crest_last_error());
    assert_int_equal(crest_dataset_size(d), 3);
    assert_int_equal(crest_dataset_classes(d), 2);
    assert_string_equal(crest_dataset_class_name(d, 0), "ant");
    assert_string_equal(crest_dataset_class_name(d, 1), "zebra");
    assert_null(crest_dataset_class_name(d, 2));
    crest_dims s = crest_dataset_sample_shape(d);
    assert_int_equal(s.ndim, 3);
    assert_true(s.d[0] == 8 && s.d[1] == 10 && s.d[2] == 3);
    const int32_t *l = crest_dataset_labels(d);
    assert_true(l[0] == 0 && l[1] == 1 && l[2] == 1);
    const crest_image_opts *rec = crest_dataset_image_opts(d);
    assert_non_null(rec);
    assert_int_equal(rec->preprocess, CREST_PRE_RESCALE);
    /* sample 2 is z1.png: equals prepare() of that file */
    float x[240];
    snprintf(p, sizeof p, "%s/zebra/z1.png", root);
    assert_int_equal(crest_image_prepare(p, &o, x), CREST_OK);
    assert_memory_equal(crest_dataset_x(d) + 2 * 240, x, sizeof x);
    float hi = 0;
    for (int i = 0; i < 3 * 240; i++)
        hi = fmaxf(hi, crest_dataset_x(d)[i]);
    assert_true(hi <= 1.0f && hi > 0.5f);
    crest_dataset *sl = NULL;   /* slices keep class names and options */
    assert_int_equal(crest_dataset_slice(d, 1, 2, &sl), CREST_OK);
    assert_string_equal(crest_dataset_class_name(sl, 1), "zebra");
    assert_non_null(crest_dataset_image_opts(sl));
    crest_dataset_free(sl);
    crest_dataset_free(d);

    /* a corrupt file: an error naming it, nothing returned */
    tu_write(root, "zebra/z2.png", "\x89PNG\r\n\x1a\n\0\0", 10);
    assert_int_equal(crest_image_folder_load(&d, root, &o), CREST_E_FORMAT);
    assert_null(d);
    assert_non_null(strstr(crest_last_error(), "z2.png"));
    /* no classes, missing folder, bad options */
    mk("empty");
    snprintf(p, sizeof p, "%s/empty", tu_fixture_dir);
    assert_int_equal(crest_image_folder_load(&d, p, &o), CREST_E_FORMAT);
    snprintf(p, sizeof p, "%s/nope", tu_fixture_dir);
    assert_int_equal(crest_image_folder_load(&d, p, &o), CREST_E_IO);
    assert_int_equal(crest_image_folder_load(&d, root, &(crest_image_opts){ 0 }), CREST_E_ARG);
    free(a);
    free(b);
}

/* A lazy folder decoded over 2 threads gives the serial decode's bits, and
 * with two corrupt files the serial decode's error: the lower one's name. */
static void test_gather_threads(void **state)
{
    (void)state;
    char root[512], p[1024];
    snprintf(root, sizeof root, "%s/par", tu_fixture_dir);
    mk("par");
    mk("par/a");
    mk("par/b");
    for (int i = 0; i < 9; i++) {
        unsigned char *px = pattern(20 + i, 14, 3, 10 + i);
        snprintf(p, sizeof p, "%s/%s/%d.%s", root, i < 5 ? "a" : "b", i, i % 2 ? "png" : "jpg");
        if (i % 2)
            write_png(p, 20 + i, 14, PNG_COLOR_TYPE_RGB, 8, px, NULL, 0, NULL, 0, false);
        else
            write_jpeg(p, 20 + i, 14, 3, px);
        free(px);
    }
    crest_image_opts o = { .height = 12, .width = 16, .preprocess = CREST_PRE_RESCALE };
    crest_dataset *d = NULL;
    crest_folder_info info;
    assert_int_equal(crest_image_source_open(&d, root, &o, &info), CREST_OK);
    assert_int_equal(crest_dataset_size(d), 9);
    size_t per = 12 * 16 * 3;
    float *x1 = malloc(9 * per * sizeof *x1), *x2 = malloc(9 * per * sizeof *x2);
    cr_pool *pool = cr_pool_new(2);
    assert_true(x1 && x2 && pool);
    assert_int_equal(cr_dataset_gather(d, NULL, 0, 9, x1), CREST_OK);
    memset(x2, 0xff, 9 * per * sizeof *x2);
    assert_int_equal(cr_dataset_gather_on(d, NULL, 0, 9, x2, pool), CREST_OK);
    assert_memory_equal(x1, x2, 9 * per * sizeof *x1);
    size_t rows[4] = { 8, 0, 5, 3 };   /* a row list, in its order */
    assert_int_equal(cr_dataset_gather_on(d, rows, 1, 3, x2, pool), CREST_OK);
    assert_memory_equal(x2, x1, per * sizeof *x1);
    assert_memory_equal(x2 + 2 * per, x1 + 3 * per, per * sizeof *x1);
    /* sample 2 (a/2.jpg, task 0) and 7 (b/7.png, task 1) corrupt */
    snprintf(p, sizeof p, "%s/a/2.jpg", root);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("\xff\xd8\xff not a jpeg", f);
    fclose(f);
    tu_write(root, "b/7.png", "\x89PNG\r\n\x1a\n\0\0", 10);
    char serial[512];
    assert_int_not_equal(cr_dataset_gather(d, NULL, 0, 9, x1), CREST_OK);
    snprintf(serial, sizeof serial, "%s", crest_last_error());
    assert_non_null(strstr(serial, "2.jpg"));
    assert_int_not_equal(cr_dataset_gather_on(d, NULL, 0, 9, x2, pool), CREST_OK);
    assert_string_equal(crest_last_error(), serial);
    assert_int_not_equal(cr_dataset_gather_on(d, NULL, 4, 5, x2, pool), CREST_OK);
    assert_non_null(strstr(crest_last_error(), "7.png"));
    cr_pool_free(pool);
    free(x1);
    free(x2);
    crest_dataset_free(d);
}

/* Every allocation failure in decoding and loading is an error, not a leak. */
static void test_out_of_memory(void **state)
{
    (void)state;
    char root[512], p[1024];
    snprintf(root, sizeof root, "%s/oom", tu_fixture_dir);
    mk("oom");
    mk("oom/c");
    mk("oom/d");
    unsigned char *a = pattern(12, 9, 3, 4);
    snprintf(p, sizeof p, "%s/c/a.png", root);
    write_png(p, 12, 9, PNG_COLOR_TYPE_RGB, 8, a, NULL, 0, NULL, 0, true);
    snprintf(p, sizeof p, "%s/d/b.jpg", root);
    write_jpeg(p, 12, 9, 3, a);
    free(a);
    crest_image_opts o = { .height = 5, .width = 4, .crop_to_aspect = true };
    int ok = 0;
    for (long k = 0; k < 500 && !ok; k++) {
        crest_dataset *d = NULL;
        cr_alloc_fail_after(k);
        int rc = crest_image_folder_load(&d, root, &o);
        cr_alloc_fail_after(-1);
        if (rc)
            assert_int_equal(rc, CREST_E_NOMEM);
        ok = rc == 0;
        crest_dataset_free(d);
    }
    assert_true(ok);
    ok = 0;   /* the lazy path: open, split, gather */
    for (long k = 0; k < 500 && !ok; k++) {
        crest_dataset *d = NULL, *t = NULL, *v = NULL;
        crest_folder_info info;
        float x[2 * 5 * 4 * 3];
        cr_alloc_fail_after(k);
        int rc = crest_image_source_open(&d, root, &o, &info);
        if (!rc)
            rc = crest_dataset_split(d, 0.5, 1, &t, &v);
        if (!rc)
            rc = cr_dataset_gather(d, NULL, 0, 2, x);
        cr_alloc_fail_after(-1);
        if (rc)
            assert_int_equal(rc, CREST_E_NOMEM);
        ok = rc == 0;
        crest_dataset_free(d);
        crest_dataset_free(t);
        crest_dataset_free(v);
    }
    assert_true(ok);
}

/* ---- images too large to decode whole --------------------------------- */

/* A PNG over the cap is read row by row, f x f blocks averaged; a JPEG is
 * DCT-scaled; what cannot fit is an error naming the file. */
static void test_large_images_scaled(void **state)
{
    (void)state;
    char p[1024];
    int W = 100, H = 70;   /* RGB floats: 84,000 bytes */
    unsigned char *a = pattern(W, H, 3, 5);
    snprintf(p, sizeof p, "%s/big.png", tu_fixture_dir);
    write_png(p, W, H, PNG_COLOR_TYPE_RGB, 8, a, NULL, 0, NULL, 0, false);
    crest_image full, im;
    assert_int_equal(crest_image_load(&full, p, 3), CREST_OK);
    assert_true(full.width == W && full.height == H);
    cr_image_set_max_bytes(30000);   /* 1/2: 50x35x3x4 = 21,000 bytes */
    int rc = crest_image_load(&im, p, 3);
    if (rc)
        fail_msg("%s", crest_last_error());
    assert_true(im.width == 50 && im.height == 35 && im.channels == 3);
    for (int y = 0; y < 35; y++)
        for (int x = 0; x < 50; x++)
            for (int c = 0; c < 3; c++) {
                double sum = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        sum += full.data[((size_t)(2 * y + dy) * W + 2 * x + dx) * 3 + c];
                assert_float_equal(im.data[((size_t)y * 50 + x) * 3 + c], sum / 4, 1e-4);
            }
    crest_image_free(&im);
    cr_image_set_max_bytes(2000);    /* 1/8: 13x9 (edge blocks smaller) */
    assert_int_equal(crest_image_load(&im, p, 3), CREST_OK);
    assert_true(im.width == 13 && im.height == 9);
    double s = 0;                    /* bottom-right block: 4 columns x 6 rows */
    for (int y = 64; y < 70; y++)
        for (int x = 96; x < 100; x++)
            s += full.data[((size_t)y * W + x) * 3];
    assert_float_equal(im.data[(8 * 13 + 12) * 3], s / 24, 1e-3);
    crest_image_free(&im);
    /* JPEG: libjpeg's scale_denom */
    snprintf(p, sizeof p, "%s/big.jpg", tu_fixture_dir);
    write_jpeg(p, W, H, 3, a);
    cr_image_set_max_bytes(30000);
    assert_int_equal(crest_image_load(&im, p, 3), CREST_OK);
    assert_true(im.width == 50 && im.height == 35);
    crest_image_free(&im);
    cr_image_set_max_bytes(10);      /* nothing fits: an error naming the file */
    assert_int_equal(crest_image_load(&im, p, 3), CREST_E_FORMAT);
    assert_non_null(strstr(crest_last_error(), "big.jpg"));
    snprintf(p, sizeof p, "%s/big.png", tu_fixture_dir);
    assert_int_equal(crest_image_load(&im, p, 3), CREST_E_FORMAT);
    assert_non_null(strstr(crest_last_error(), "big.png"));
    /* interlaced: cannot be read by rows */
    snprintf(p, sizeof p, "%s/inter.png", tu_fixture_dir);
    write_png(p, W, H, PNG_COLOR_TYPE_RGB, 8, a, NULL, 0, NULL, 0, true);
    cr_image_set_max_bytes(30000);
    assert_int_equal(crest_image_load(&im, p, 3), CREST_E_FORMAT);
    assert_non_null(strstr(crest_last_error(), "inter.png"));
    assert_null(im.data);
    for (long k = 0; k < 40; k++) {  /* allocation failures while reading rows */
        snprintf(p, sizeof p, "%s/big.png", tu_fixture_dir);
        cr_alloc_fail_after(k);
        rc = crest_image_load(&im, p, 3);
        cr_alloc_fail_after(-1);
        assert_true(rc == CREST_OK || rc == CREST_E_NOMEM);
        crest_image_free(&im);
    }
    cr_image_set_max_bytes(0);
    crest_image_free(&full);
    free(a);
}

/* ---- image sources: folders walked as Keras does, IDX sets, files ------- */

static void put_jpeg(const char *rel, int w, int h, int seed)
{
    char p[1024];
    unsigned char *a = pattern(w, h, 3, seed);
    snprintf(p, sizeof p, "%s/%s", tu_fixture_dir, rel);
    write_jpeg(p, w, h, 3, a);
    free(a);
}

static void test_folder_source(void **state)
{
    (void)state;
    char root[512], p[1024];
    snprintf(root, sizeof root, "%s/src", tu_fixture_dir);
    mk("src");
    mk("src/cat");
    mk("src/dog");
    mk("src/dog/more");          /* nested: still the dog class */
    put_jpeg("src/cat/b.jpg", 20, 10, 1);
    put_jpeg("src/cat/a.JPG", 12, 12, 2);
    put_jpeg("src/dog/d.jpeg", 16, 9, 3);
    put_jpeg("src/dog/more/e.jpg", 9, 16, 4);
    tu_write(root, "cat/anim.gif", "GIF89a", 6);
    tu_write(root, "dog/pic.webp", "RIFF", 4);
    tu_write(root, "dog/.DS_Store", "x", 1);
    crest_image_opts o = { .height = 6, .width = 5, .preprocess = CREST_PRE_TF };
    crest_folder_info info;
    crest_dataset *d = NULL;
    unsigned long dec = cr_image_decodes();
    int rc = crest_image_source_open(&d, root, &o, &info);
    if (rc)
        fail_msg("%s", crest_last_error());
    assert_int_equal(cr_image_decodes(), dec);    /* listed, not decoded */
    assert_null(crest_dataset_x(d));
    assert_int_equal(info.images, 4);
    assert_int_equal(info.classes, 2);
    assert_int_equal(info.skipped, 2);
    assert_non_null(strstr(info.skipped_names, "cat/anim.gif\n"));
    assert_non_null(strstr(info.skipped_names, "dog/pic.webp\n"));
    assert_null(strstr(info.skipped_names, "DS_Store"));
    crest_free(info.skipped_names);
    const int32_t *l = crest_dataset_labels(d);
    assert_true(l[0] == 0 && l[1] == 0 && l[2] == 1 && l[3] == 1);
    assert_string_equal(crest_dataset_class_name(d, 1), "dog");
    /* a lazy sample is the file through o; the eager loader agrees */
    float x[4 * 90], want[90];
    assert_int_equal(cr_dataset_gather(d, NULL, 0, 4, x), CREST_OK);
    snprintf(p, sizeof p, "%s/dog/more/e.jpg", root);
    assert_int_equal(crest_image_prepare(p, &o, want), CREST_OK);
    assert_memory_equal(x + 3 * 90, want, sizeof want);
    crest_dataset *e = NULL;
    assert_int_equal(crest_image_folder_load(&e, root, &o), CREST_OK);
    assert_memory_equal(crest_dataset_x(e), x, sizeof x);
    crest_dataset_free(e);
    crest_dataset *sl = NULL;     /* slices of lazy sets stay lazy */
    assert_int_equal(crest_dataset_slice(d, 3, 1, &sl), CREST_OK);
    assert_null(crest_dataset_x(sl));
    assert_int_equal(cr_dataset_gather(sl, NULL, 0, 1, want), CREST_OK);
    assert_memory_equal(x + 3 * 90, want, sizeof want);
    /* crest_dataset_image: the file as stored (9x16 grey JPEG), not o's 6x5 */
    crest_image pic = { 0 }, file = { 0 };
    assert_int_equal(crest_dataset_image(sl, 0, &pic), CREST_OK);
    assert_int_equal(crest_image_load(&file, p, 0), CREST_OK);
    assert_true(pic.width == file.width && pic.height == file.height &&
                pic.channels == file.channels && pic.width == 9 && pic.height == 16);
    assert_memory_equal(pic.data, file.data, sizeof(float) * 9 * 16 * (size_t)pic.channels);
    crest_image_free(&pic);
    crest_image_free(&file);
    assert_int_equal(crest_dataset_image(sl, 1, &pic), CREST_E_ARG);   /* past the end */
    assert_null(pic.data);
    crest_dataset_free(sl);
    crest_dataset_free(d);
    /* one image file: one unlabeled sample */
    assert_int_equal(crest_image_source_open(&d, p, &o, NULL), CREST_OK);
    assert_int_equal(crest_dataset_size(d), 1);
    assert_null(crest_dataset_labels(d));
    crest_dataset_free(d);
    /* an empty class folder, one class: errors naming them */
    mk("src/empty");
    assert_int_equal(crest_image_source_open(&d, root, &o, &info), CREST_E_FORMAT);
    assert_non_null(strstr(crest_last_error(), "src/empty"));
    assert_int_equal(crest_image_folder_load(&d, root, &o), CREST_E_FORMAT);
    mk("one");
    mk("one/only");
    put_jpeg("one/only/a.jpg", 8, 8, 5);
    snprintf(p, sizeof p, "%s/one", tu_fixture_dir);
    assert_int_equal(crest_image_source_open(&d, p, &o, NULL), CREST_E_FORMAT);
    assert_non_null(strstr(crest_last_error(), p));
    assert_non_null(strstr(crest_last_error(), "only"));
    assert_null(d);
}

static void put_idx(const char *dir, const char *name, const unsigned char *head, size_t hn,
                    const unsigned char *data, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(head, 1, hn, f), hn);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* IDX pixels go through the same transform as a decoded file's. */
static void test_idx_source(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/idx", tu_fixture_dir);
    mk("idx");
    unsigned char px[3 * 4 * 5], lab[3] = { 0, 1, 1 };
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (unsigned char)(i * 37 % 256);
    const unsigned char ih[] = { 0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5 };
    const unsigned char lh[] = { 0, 0, 8, 1, 0, 0, 0, 3 };
    put_idx(dir, "train-images-idx3-ubyte", ih, sizeof ih, px, sizeof px);
    put_idx(dir, "train-labels-idx1-ubyte", lh, sizeof lh, lab, sizeof lab);
    crest_image_opts o = { .height = 8, .width = 10, .preprocess = CREST_PRE_RESCALE };
    crest_dataset *d = NULL;
    int rc = crest_image_source_open(&d, dir, &o, NULL);
    if (rc)
        fail_msg("%s", crest_last_error());
    crest_dims s = crest_dataset_sample_shape(d);
    assert_true(s.ndim == 3 && s.d[0] == 8 && s.d[1] == 10 && s.d[2] == 3);
    assert_int_equal(crest_dataset_labels(d)[2], 1);
    float got[240], want[240], raw[20];
    assert_int_equal(cr_dataset_gather(d, NULL, 2, 1, got), CREST_OK);
    for (int i = 0; i < 20; i++)
        raw[i] = px[40 + i];      /* 0..255, as a decoded grey file */
    crest_image img = { 4, 5, 1, raw };
    assert_int_equal(crest_image_to_input(&img, &o, want), CREST_OK);
    assert_memory_equal(got, want, sizeof want);
    /* crest_dataset_image: the raw 4x5 pixels on the 0..255 scale */
    crest_image pic = { 0 };
    assert_int_equal(crest_dataset_image(d, 2, &pic), CREST_OK);
    assert_true(pic.height == 4 && pic.width == 5 && pic.channels == 1);
    for (int i = 0; i < 20; i++)
        assert_float_equal(pic.data[i], raw[i], 1e-3);
    crest_image_free(&pic);
    crest_dataset_free(d);
    /* an in-memory set of [H, W] samples in [0, 1]: times 255 */
    float x01[2 * 6];
    for (int i = 0; i < 12; i++)
        x01[i] = (float)i / 11;
    assert_int_equal(crest_dataset_new(&d, 2, crest_shape(2, 2, 3), x01, (int32_t[]){ 0, 1 }, 2),
                     CREST_OK);
    assert_int_equal(crest_dataset_image(d, 1, &pic), CREST_OK);
    assert_true(pic.height == 2 && pic.width == 3 && pic.channels == 1);
    assert_float_equal(pic.data[5], 255, 1e-3);
    assert_float_equal(pic.data[0], 255.0 * 6 / 11, 1e-3);
    crest_image_free(&pic);
    crest_dataset_free(d);
    /* samples that are no picture: CREST_E_SHAPE */
    assert_int_equal(crest_dataset_new(&d, 3, crest_shape(1, 4), x01, (int32_t[]){ 0, 1, 0 }, 2),
                     CREST_OK);
    assert_int_equal(crest_dataset_image(d, 0, &pic), CREST_E_SHAPE);
    crest_dataset_free(d);
}

/* Features of a lazy folder set: the same as of the decoded folder; cached
 * by the files' contents, and a cache hit decodes nothing. Evaluate and
 * predict on the lazy set agree with the decoded set. */
static void test_folder_features_cache(void **state)
{
    (void)state;
    char root[512], cache[512];
    snprintf(root, sizeof root, "%s/feat", tu_fixture_dir);
    snprintf(cache, sizeof cache, "%s/feat-cache", tu_fixture_dir);
    mk("feat");
    mk("feat/a");
    mk("feat/b");
    char rel[64];
    for (int i = 0; i < 6; i++) {
        snprintf(rel, sizeof rel, "feat/%s/%d.jpg", i % 2 ? "b" : "a", i);
        put_jpeg(rel, 20 + i, 16, 10 * (i % 2) + i);
    }
    crest_model *m = NULL;
    assert_int_equal(crest_functional_new(&m, "tiny"), CREST_OK);
    crest_sym *in = crest_input(m, crest_shape(3, 6, 5, 3), NULL);
    crest_sym *y = crest_apply(m, crest_dense(2, CREST_SOFTMAX),
                               crest_apply(m, crest_flatten(), in));
    assert_int_equal(crest_functional_outputs(m, &in, 1, &y, 1), CREST_OK);
    crest_image_opts o = { .height = 6, .width = 5, .preprocess = CREST_PRE_RESCALE };
    crest_dataset *lazy = NULL, *eager = NULL, *f1 = NULL, *f2 = NULL, *f3 = NULL;
    assert_int_equal(crest_image_source_open(&lazy, root, &o, NULL), CREST_OK);
    assert_int_equal(crest_image_folder_load(&eager, root, &o), CREST_OK);
    crest_extract_stats st;
    crest_extract_opts fo = { .batch_size = 4, .cache_dir = cache, .stats = &st };
    assert_int_equal(crest_extract(m, lazy, &fo, &f1), CREST_OK);
    assert_false(st.cache_hit);
    assert_int_equal(crest_extract(m, eager, &(crest_extract_opts){ 0 }, &f2),
                     CREST_OK);
    assert_memory_equal(crest_dataset_x(f1), crest_dataset_x(f2), 6 * 2 * sizeof(float));
    assert_memory_equal(crest_dataset_labels(f1), crest_dataset_labels(eager),
                        6 * sizeof(int32_t));
    unsigned long dec = cr_image_decodes();
    assert_int_equal(crest_extract(m, lazy, &fo, &f3), CREST_OK);
    assert_true(st.cache_hit);
    assert_int_equal(cr_image_decodes(), dec);   /* a hit decodes no image */
    assert_memory_equal(crest_dataset_x(f1), crest_dataset_x(f3), 6 * 2 * sizeof(float));
    crest_dataset_free(f3);
    put_jpeg("feat/b/3.jpg", 23, 16, 99);       /* a changed file: a miss */
    assert_int_equal(crest_extract(m, lazy, &fo, &f3), CREST_OK);
    assert_false(st.cache_hit);
    crest_dataset_free(f3);
    /* evaluate / predict: lazy and decoded sets agree */
    crest_dataset_free(eager);
    assert_int_equal(crest_image_folder_load(&eager, root, &o), CREST_OK);
    assert_int_equal(crest_compile(m, &(crest_compile_opts){ .loss = CREST_SPARSE_CCE }),
                     CREST_OK);
    crest_metrics ma, mb;
    float pa[12], pb[12];
    assert_int_equal(crest_evaluate_probs(m, lazy, 0, &ma, pa), CREST_OK);
    assert_int_equal(crest_evaluate_probs(m, eager, 0, &mb, pb), CREST_OK);
    assert_true(ma.loss == mb.loss && ma.accuracy == mb.accuracy);
    assert_memory_equal(pa, pb, sizeof pa);
    assert_int_equal(crest_predict_dataset(m, lazy, pa), CREST_OK);
    assert_memory_equal(pa, pb, sizeof pa);
    /* fit reads lazy sets a batch at a time */
    assert_int_equal(crest_fit(m, lazy, &(crest_fit_opts){ .epochs = 1, .batch_size = 4 }),
                     CREST_OK);
    crest_dataset_free(f1);
    crest_dataset_free(f2);
    crest_dataset_free(lazy);
    crest_dataset_free(eager);
    crest_model_free(m);
}

/* Folder validation splits: per class the same fraction, chosen by the seed. */
static void test_split_stratified(void **state)
{
    (void)state;
    enum { N = 60 };
    float x[N];
    int32_t lab[N];
    for (int i = 0; i < N; i++) {   /* sorted by class, as a folder: 10, 20, 30 */
        lab[i] = i < 10 ? 0 : i < 30 ? 1 : 2;
        x[i] = (float)i;
    }
    crest_dataset *d = NULL, *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL;
    assert_int_equal(crest_dataset_new(&d, N, crest_shape(1, 1), x, lab, 3), CREST_OK);
    assert_int_equal(crest_dataset_split(d, 0.2, 7, &tr, &va), CREST_OK);
    assert_int_equal(crest_dataset_size(va), 12);
    assert_int_equal(crest_dataset_size(tr), 48);
    int cnt[3] = { 0 };
    for (size_t i = 0; i < 12; i++)
        cnt[crest_dataset_labels(va)[i]]++;
    assert_true(cnt[0] == 2 && cnt[1] == 4 && cnt[2] == 6);
    bool seen[N] = { 0 };           /* a partition, each part in d's order */
    for (int part = 0; part < 2; part++) {
        const crest_dataset *p = part ? va : tr;
        for (size_t i = 0; i < crest_dataset_size(p); i++) {
            int v = (int)crest_dataset_x(p)[i];
            assert_false(seen[v]);
            seen[v] = true;
            assert_int_equal(crest_dataset_labels(p)[i], lab[v]);
            if (i)
                assert_true(crest_dataset_x(p)[i - 1] < (float)v);
        }
    }
    assert_int_equal(crest_dataset_split(d, 0.2, 7, &tr2, &va2), CREST_OK);   /* seeded */
    assert_memory_equal(crest_dataset_x(va), crest_dataset_x(va2), 12 * sizeof(float));
    crest_dataset_free(tr2);
    crest_dataset_free(va2);
    assert_int_equal(crest_dataset_split(d, 0.2, 8, &tr2, &va2), CREST_OK);
    assert_memory_not_equal(crest_dataset_x(va), crest_dataset_x(va2), 12 * sizeof(float));
    crest_dataset_free(tr2);
    crest_dataset_free(va2);
    assert_int_equal(crest_dataset_split(d, 1.0, 7, &tr2, &va2), CREST_E_ARG);
    crest_dataset_free(tr);
    crest_dataset_free(va);
    crest_dataset_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_jpegs),
        cmocka_unit_test(test_pipeline_close_to_tfjs_input),
        cmocka_unit_test(test_resize_full_photo_same_pixels),
        cmocka_unit_test(test_resize_modes_match_tfjs),
        cmocka_unit_test(test_png_variants),
        cmocka_unit_test(test_jpeg_written_on_the_fly),
        cmocka_unit_test(test_corrupt_and_truncated),
        cmocka_unit_test(test_crop_and_preprocess),
        cmocka_unit_test(test_to_input_crop_to_aspect),
        cmocka_unit_test(test_folder_dataset),
        cmocka_unit_test(test_gather_threads),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_large_images_scaled),
        cmocka_unit_test(test_folder_source),
        cmocka_unit_test(test_idx_source),
        cmocka_unit_test(test_split_stratified),
        cmocka_unit_test(test_folder_features_cache),
    };
    return cmocka_run_group_tests(tests, tu_setup_dir, tu_teardown_dir);
}
