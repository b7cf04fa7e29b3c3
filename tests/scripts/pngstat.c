/* pngstat.c - decodes a PNG with libpng (report.sh) and prints
 *   WIDTH HEIGHT DISTINCT_COLOURS NON_WHITE_FRACTION
 * over the whole image or the box X Y W H given after the file (clipped).
 * Exits 1 if the file does not decode. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u32(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 6) {
        fprintf(stderr, "usage: pngstat FILE [X Y W H]\n");
        return 2;
    }
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, argv[1])) {
        fprintf(stderr, "pngstat: %s: %s\n", argv[1], im.message);
        return 1;
    }
    im.format = PNG_FORMAT_RGB;
    unsigned char *px = malloc(PNG_IMAGE_SIZE(im));
    if (!px || !png_image_finish_read(&im, NULL, px, 0, NULL)) {
        fprintf(stderr, "pngstat: %s: %s\n", argv[1], im.message);
        return 1;
    }
    long x0 = 0, y0 = 0, w = im.width, h = im.height;
    if (argc == 6) {
        x0 = atol(argv[2]), y0 = atol(argv[3]), w = atol(argv[4]), h = atol(argv[5]);
        if (x0 + w > (long)im.width)
            w = (long)im.width - x0;
        if (y0 + h > (long)im.height)
            h = (long)im.height - y0;
    }
    size_t n = w > 0 && h > 0 ? (size_t)(w * h) : 0, nonwhite = 0, distinct = 0;
    unsigned *c = malloc((n ? n : 1) * sizeof *c);
    for (long y = 0; c && y < h; y++)
        for (long x = 0; x < w; x++) {
            const unsigned char *p = px + 3 * ((size_t)(y0 + y) * im.width + (size_t)(x0 + x));
            c[y * w + x] = (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
            nonwhite += p[0] < 245 || p[1] < 245 || p[2] < 245;
        }
    if (c && n) {
        qsort(c, n, sizeof *c, cmp_u32);
        for (size_t i = 0; i < n; i++)
            distinct += i == 0 || c[i] != c[i - 1];
    }
    printf("%u %u %zu %.6f\n", im.width, im.height, distinct, n ? (double)nonwhite / n : 0.0);
    free(c);
    free(px);
    return 0;
}
