/* idx_to_folder.c - writes the first N images of an IDX pair as greyscale
 * JPEG files, one folder per class (FOLDER/<label>/<index>.jpg): the layout
 * `crest train --data FOLDER` reads. bench/folder_rss.sh uses it to make a
 * large real image folder.
 *
 *   build/bench/idx_to_folder IMAGES.idx LABELS.idx N FOLDER
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>          /* after stdio.h: it uses FILE and size_t */

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    long n;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    *len = (size_t)n;
out:
    if (f)
        fclose(f);
    return b;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int write_jpeg(const char *path, const unsigned char *px, int w, int h)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s IMAGES.idx LABELS.idx N FOLDER\n", argv[0]);
        return 2;
    }
    size_t ni = 0, nl = 0;
    unsigned char *img = read_all(argv[1], &ni), *lbl = read_all(argv[2], &nl);
    if (!img || !lbl || ni < 16 || nl < 8 || img[3] != 3 || lbl[3] != 1) {
        fprintf(stderr, "idx_to_folder: %s / %s are not an IDX image/label pair\n", argv[1], argv[2]);
        return 1;
    }
    uint32_t count = be32(img + 4), h = be32(img + 8), w = be32(img + 12);
    long n = strtol(argv[3], NULL, 10);
    if (n > (long)count)
        n = count;
    if (be32(lbl + 4) < (uint32_t)n || ni < 16 + (size_t)n * h * w || nl < 8 + (size_t)n) {
        fprintf(stderr, "idx_to_folder: files are shorter than their headers say\n");
        return 1;
    }
    char path[4096];
    if (mkdir(argv[4], 0755) != 0 && errno != EEXIST) {
        perror(argv[4]);
        return 1;
    }
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%u", argv[4], lbl[8 + i]);
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            perror(path);
            return 1;
        }
        snprintf(path, sizeof path, "%s/%u/%06ld.jpg", argv[4], lbl[8 + i], i);
        if (write_jpeg(path, img + 16 + (size_t)i * h * w, (int)w, (int)h) != 0) {
            perror(path);
            return 1;
        }
    }
    printf("wrote %ld images to %s\n", n, argv[4]);
    free(img);
    free(lbl);
    return 0;
}
