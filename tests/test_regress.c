/* test_regress.c - regressions for what the fuzzers (tests/fuzz/) found in
 * loaders whose own test files other work is rewriting; each case names the
 * harness and the corpus file that keeps its input. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crest.h"
#include "testutil.h"

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return ~c;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Appends a chunk (length, type, data, CRC) at buf + *n. */
static void chunk(unsigned char *buf, size_t *n, const char *type, const unsigned char *data,
                  size_t len)
{
    put32(buf + *n, (uint32_t)len);
    memcpy(buf + *n + 4, type, 4);
    if (len)
        memcpy(buf + *n + 8, data, len);
    put32(buf + *n + 8 + len, crc32_of(buf + *n + 4, len + 4));
    *n += len + 12;
}

/* A valid 2x2 grey PNG with a tEXt chunk of `text` bytes before its pixels
 * (one stored deflate block). Returns the file in a malloc'd buffer. */
static unsigned char *png_with_text(size_t text, size_t *len)
{
    static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };
    static const unsigned char ihdr[13] = { 0, 0, 0, 2, 0, 0, 0, 2, 8, 0, 0, 0, 0 };
    static const unsigned char rows[6] = { 0, 10, 20, 0, 30, 40 };   /* filter byte, 2 pixels */
    unsigned char idat[2 + 5 + 6 + 4] = { 0x78, 0x01, 0x01, 6, 0, 0xF9, 0xFF };
    uint32_t a = 1, b = 0;
    for (int i = 0; i < 6; i++) {
        a = (a + rows[i]) % 65521;
        b = (b + a) % 65521;
    }
    memcpy(idat + 7, rows, 6);
    put32(idat + 13, b << 16 | a);
    unsigned char *buf = malloc(text + 128), *t = malloc(text);
    assert_non_null(buf);
    assert_non_null(t);
    memset(t, 'v', text);
    t[0] = 'k';
    t[1] = 0;   /* keyword "k", then the text */
    size_t n = 8;
    memcpy(buf, sig, 8);
    chunk(buf, &n, "IHDR", ihdr, sizeof ihdr);
    chunk(buf, &n, "tEXt", t, text);
    chunk(buf, &n, "IDAT", idat, sizeof idat);
    chunk(buf, &n, "IEND", NULL, 0);
    free(t);
    *len = n;
    return buf;
}

/* VmHWM or VmRSS of this process in kB, from /proc/self/status. */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t k = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, k) && line[k] == ':')
            v = atol(line + k + 1);
    if (f)
        fclose(f);
    return v;
}

/* Resets the peak (VmHWM) to the current resident size. */
static void reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    assert_non_null(f);
    assert_int_equal(fputs("5", f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* fuzz_png (tests/fuzz/corpus/png/crash-ztxt-1.7gb.png): libpng allocated a
 * metadata chunk's declared length before reading it, so a 60-byte file
 * asked for 1.7 GB. Chunks beyond 8 MB are now skipped unread: a valid
 * image carrying 40 MB of text decodes, and the decode raises the peak
 * resident memory by far less than 40 MB (it copied the text before). */
static void test_png_chunk_length_is_capped(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = png_with_text((size_t)40 << 20, &len);
    crest_image im;
    reset_peak();
    long before = status_kb("VmRSS");
    assert_int_equal(crest_image_decode(&im, buf, len, "text.png", 0), CREST_OK);
    long grew = status_kb("VmHWM") - before;
    print_message("  decoding a PNG with 40 MB of text: peak +%ld kB\n", grew);
    assert_true(before > 0 && grew >= 0);
    assert_true(grew < (16 << 10));
    assert_int_equal(im.width, 2);
    assert_int_equal(im.height, 2);
    assert_true(im.data[3] == 40.0f);
    crest_image_free(&im);
    free(buf);
    /* the fuzzer's file: a zTXt chunk declaring 1.7 GB is a truncated file */
    unsigned char small[96];
    unsigned char *v = png_with_text(16, &len);
    memcpy(small, v, 33);   /* signature and IHDR */
    memcpy(small + 33, "\x66\x63\x54\x4czTXtk\0\0xxxxxxxxxxxx", 23);
    free(v);
    assert_int_equal(crest_image_decode(&im, small, 56, "ztxt.png", 0), CREST_E_FORMAT);
    assert_non_null(strstr(crest_last_error(), "truncated"));
}

/* fuzz_tfjs (tests/fuzz/corpus/tfjs/crash-tensor-index-3e24): a tensor
 * index of 3e24 in an inbound node reference was converted to int
 * (undefined behaviour, UBSan: "outside the range of representable values").
 * Indices are bounded like the node index: the reference is refused. */
static void test_functional_tensor_index_bounded(void **state)
{
    (void)state;
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    crest_model *m = NULL;
    assert_int_equal(crest_functional_new(&m, "fz"), CREST_OK);
    crest_sym *a = crest_input(m, crest_shape(1, 3), "a");
    crest_sym *o = crest_apply(m, crest_dense(2, CREST_SOFTMAX), a);
    assert_int_equal(crest_functional_outputs(m, &a, 1, &o, 1), CREST_OK);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model_free(m);
    char *js = tu_read(dir, "model.json");
    assert_non_null(js);
    char *bad = tu_replace(js, "[\"a\",0,0,{}]", "[\"a\",0,3e24,{}]");
    tu_write(dir, "model.json", bad, strlen(bad));
    m = NULL;
    assert_int_equal(crest_model_load(&m, dir), CREST_E_FORMAT);
    assert_null(m);
    assert_non_null(strstr(crest_last_error(), "inbound node reference"));
    free(bad);
    free(js);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_chunk_length_is_capped),
        cmocka_unit_test(test_functional_tensor_index_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
