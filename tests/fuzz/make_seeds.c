/* make_seeds.c - writes the seeds crest itself makes for the fuzzers:
 * tiny models saved by crest (tfjs/), and PNG/JPEG images cut from
 * data/images/china.jpg by crest's own decode and resize, encoded with
 * libpng/libjpeg in every layout the decoders branch on (png/, jpeg/).
 * Run by tests/fuzz/make_seeds.sh:  make_seeds OUT_CORPUS_DIR DATA_DIR */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "crest.h"

#define SEP "\n--shard--\n"

static const char *out_dir;

static void die(const char *what)
{
    fprintf(stderr, "make_seeds: %s: %s\n", what, crest_last_error());
    exit(1);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    char *b = malloc(*n + 1);
    if (!b || fread(b, 1, *n, f) != *n)
        die(path);
    b[*n] = 0;
    fclose(f);
    return b;
}

/* Saves m, then writes model.json (its shard renamed w0.bin) SEP shard. */
static void tfjs_seed(crest_model *m, const char *name)
{
    char dir[] = "/tmp/crest-seed-XXXXXX", path[1200];
    if (!mkdtemp(dir) || crest_model_save(m, dir) != CREST_OK)
        die(name);
    size_t n, sn;
    snprintf(path, sizeof path, "%s/model.json", dir);
    char *js = slurp(path, &n), *w = strstr(js, "weights."), shard[64] = { 0 };
    if (!w)
        die("no shard in model.json");
    memcpy(shard, w, strcspn(w, "\""));
    snprintf(path, sizeof path, "%s/%s", dir, shard);
    char *bin = slurp(path, &sn);
    snprintf(path, sizeof path, "%s/tfjs/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path);
    fwrite(js, 1, (size_t)(w - js), f);
    fputs("w0.bin", f);
    fputs(w + strlen(shard), f);
    fputs(SEP, f);
    fwrite(bin, 1, sn, f);
    fclose(f);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    if (system(path) != 0)
        die("rm");
    free(js);
    free(bin);
    crest_model_free(m);
}

/* m quantized (crest_quantize) on n random inputs in [-1, 1), keeping the
 * layers in keep (NULL-terminated) float, then saved as a seed. */
static void quant_seed(crest_model *m, const char *name, const char *const *keep)
{
    crest_dims s = crest_model_input_shape(m);
    size_t n = 16, len = 1;
    for (int i = 0; i < s.ndim; i++)
        len *= (size_t)s.d[i];
    float *x = malloc(n * len * sizeof *x);
    int32_t *y = calloc(n, sizeof *y);
    if (!x || !y)
        die("out of memory");
    for (size_t i = 0; i < n * len; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    crest_dataset *d = NULL;
    int nk = 0;
    while (keep && keep[nk])
        nk++;
    if (crest_dataset_new(&d, n, s, x, y, 2) ||
        crest_quantize(m, d, &(crest_quant_opts){ .keep_float = keep, .n_keep_float = nk }))
        die(name);
    crest_dataset_free(d);
    free(x);
    free(y);
    tfjs_seed(m, name);
}

/* Quantized models: their model.json carries crestQuantization (the
 * activation ranges, keep_float) and the weights int8 codes with scales. */
static void quant_seeds(void)
{
    crest_model *m = NULL;
    if (crest_model_load(&m, "tests/golden/layers/conv_valid"))
        die("conv_valid");
    quant_seed(m, "quant_conv", NULL);

    m = NULL;
    if (crest_sequential_new(&m, crest_shape(1, 6)) ||
        crest_add(m, crest_dense(5, CREST_RELU)) || crest_add(m, crest_dense(4, CREST_RELU)) ||
        crest_add(m, crest_dense(3, CREST_SOFTMAX)))
        die("mlp");
    const char *keep[] = { crest_layer_name(crest_model_layer(m, 1)), NULL };
    quant_seed(m, "quant_mlp_keep_float", keep);
}

static void tfjs_seeds(void)
{
    crest_model *m = NULL;
    if (crest_functional_new(&m, "fz"))
        die("functional");
    crest_sym *a = crest_input(m, crest_shape(1, 5), "a");
    crest_sym *b = crest_input(m, crest_shape(2, 2, 2), "b");
    crest_sym *ab[2] = { crest_apply(m, crest_dense(4, CREST_RELU), a),
                         crest_apply(m, crest_dense(4, CREST_TANH),
                                     crest_apply(m, crest_flatten(), b)) };
    crest_sym *o = crest_apply(m, crest_dense(3, CREST_SOFTMAX),
                               crest_call(m, crest_concatenate(-1), ab, 2));
    crest_sym *ins[2] = { a, b };
    if (crest_functional_outputs(m, ins, 2, &o, 1))
        die("outputs");
    tfjs_seed(m, "functional_two_inputs");

    m = NULL;
    if (crest_sequential_new(&m, crest_shape(3, 4, 4, 2)) ||
        crest_add(m, crest_batch_normalization(0, 0, true, true)) ||
        crest_add(m, crest_global_pooling2d(false, false)) ||
        crest_add(m, crest_expr("W[_,3]: softmax(x @ W + b)")))
        die("sequential");
    tfjs_seed(m, "bn_gap_expr");

    crest_features *f = NULL;
    m = NULL;
    if (crest_features_parse(&f, "{\"label\":\"y\",\"classes\":[\"n\",\"y\"],\"features\":{"
                             "\"a\":{\"type\":\"float_normalized\",\"mean\":1,\"variance\":2,\"missing_indicator\":false},"
                             "\"c\":{\"type\":\"string_categorical\",\"vocabulary\":[\"p\",\"q\"],"
                             "\"output_mode\":\"embedding\",\"embedding_dim\":2}}}") ||
        crest_sequential_new(&m, crest_shape(1, crest_features_width(f))) ||
        crest_add(m, crest_dense_features(f)) || crest_add(m, crest_dense(2, CREST_SOFTMAX)))
        die("dense features");
    crest_features_free(f);
    tfjs_seed(m, "dense_features");
    quant_seeds();
}

/* ---- images ------------------------------------------------------------ */

#define W 8
#define H 6

/* Byte k (0..2 of RGB, 3: alpha) of pixel i of the 8x6 RGB source. */
static unsigned px(const crest_image *im, int i, int k)
{
    float v = k < 3 ? im->data[i * 3 + k] : (float)(i * 40 % 256);
    return v < 0 ? 0 : v > 255 ? 255 : (unsigned)(v + 0.5f);
}

static unsigned grey(const crest_image *im, int i)
{
    return (299 * px(im, i, 0) + 587 * px(im, i, 1) + 114 * px(im, i, 2)) / 1000;
}

static void png_seed(const crest_image *im, const char *name, int type, int depth, int interlace)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/png/%s.png", out_dir, name);
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (!f || !info || setjmp(png_jmpbuf(p)))
        die(path);
    png_init_io(p, f);
    png_set_IHDR(p, info, W, H, depth, type, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_color pal[16];
    for (int k = 0; k < 16; k++)
        pal[k] = (png_color){ (png_byte)(k * 17), (png_byte)(255 - k * 17), (png_byte)(k * 9) };
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_PLTE(p, info, pal, 16);
    png_write_info(p, info);
    int ch = type == PNG_COLOR_TYPE_RGB ? 3 : type == PNG_COLOR_TYPE_RGBA ? 4
           : type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    int bytes = depth == 16 ? 2 : 1;
    unsigned char rows[H][W * 4 * 2];
    png_bytep rp[H];
    memset(rows, 0, sizeof rows);
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            int i = y * W + x;
            for (int k = 0; k < ch; k++) {
                unsigned v = ch == 1 || (ch == 2 && k == 0) ? grey(im, i)
                           : px(im, i, ch == 2 ? 3 : k);
                if (type == PNG_COLOR_TYPE_PALETTE)
                    v >>= 4;
                if (depth < 8) {   /* packed: 8 / depth pixels a byte, high bits first */
                    int per = 8 / depth;
                    rows[y][x / per] |= (unsigned char)((v >> (8 - depth)) << (8 - depth * (x % per + 1)));
                } else if (bytes == 2) {
                    rows[y][(x * ch + k) * 2] = (unsigned char)v;
                    rows[y][(x * ch + k) * 2 + 1] = (unsigned char)(v * 7);
                } else {
                    rows[y][x * ch + k] = (unsigned char)v;
                }
            }
        }
        rp[y] = rows[y];
    }
    png_write_image(p, rp);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    fclose(f);
}

static void jpeg_seed(const crest_image *im, const char *name, int grey_out, int progressive)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/jpeg/%s.jpg", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = W;
    c.image_height = H;
    c.input_components = grey_out ? 1 : 3;
    c.in_color_space = grey_out ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 60, TRUE);
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char row[W * 3];
    while (c.next_scanline < H) {
        int y = (int)c.next_scanline;
        for (int x = 0; x < W; x++)
            for (int k = 0; k < c.input_components; k++)
                row[x * c.input_components + k] =
                    (unsigned char)(grey_out ? grey(im, y * W + x) : px(im, y * W + x, k));
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

static void image_seeds(const char *data_dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/images/china.jpg", data_dir);
    crest_image full, small;
    if (crest_image_load(&full, path, 3) || crest_image_resize(&small, &full, H, W, NULL))
        die(path);
    png_seed(&small, "rgb8", PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE);
    png_seed(&small, "grey8", PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE);
    png_seed(&small, "grey1", PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE);
    png_seed(&small, "rgb16", PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_NONE);
    png_seed(&small, "palette4", PNG_COLOR_TYPE_PALETTE, 4, PNG_INTERLACE_NONE);
    png_seed(&small, "grey_alpha", PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE);
    png_seed(&small, "rgba_adam7", PNG_COLOR_TYPE_RGBA, 8, PNG_INTERLACE_ADAM7);
    jpeg_seed(&small, "rgb", 0, 0);
    jpeg_seed(&small, "grey", 1, 0);
    jpeg_seed(&small, "rgb_progressive", 0, 1);
    crest_image_free(&full);
    crest_image_free(&small);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: make_seeds OUT_CORPUS_DIR DATA_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    tfjs_seeds();
    image_seeds(argv[2]);
    return 0;
}
