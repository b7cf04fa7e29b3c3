/* image.c - images: JPEG (libjpeg-turbo) and PNG (libpng) decoding, bilinear
 * resize, center crop and Keras preprocessing modes (folder data sets: source.c).
 *
 * Pixels are float32 HWC with values on the 0..255 scale (16-bit PNGs are
 * scaled by 255/65535), as Keras' img_to_array gives them. Both decoders
 * report errors by longjmp; every allocation a decode makes lives in a
 * context struct outside the function that calls setjmp, so nothing leaks
 * and no local is clobbered. Corrupt-data warnings (a truncated JPEG) are
 * errors here: a short file must not silently decode to grey.
 */
#define _POSIX_C_SOURCE 200809L
#include "../internal.h"
#include "../json.h"

#include <jpeglib.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define IMG_MAX_SIDE 32768
#define IMG_MAX_PIXELS ((int64_t)1 << 28)
#define PNG_MAX_SHRINK 64         /* PNG box-average factors 2, 4, .. 64 */

static size_t max_bytes = CREST_IMAGE_MAX_BYTES;
static _Atomic unsigned long decodes;

void cr_image_set_max_bytes(size_t n) { max_bytes = n ? n : CREST_IMAGE_MAX_BYTES; }
unsigned long cr_image_decodes(void) { return decodes; }


/* Bytes of an h x w x c float image. */
static double img_cost(int64_t h, int64_t w, int c)
{
    return (double)h * (double)w * (double)c * (double)sizeof(float);
}

/* The smallest power of two f <= max_f that brings an h x w x c image under
 * the cap (1 if it fits already), or 0 if none does. */
static int shrink_factor(int64_t h, int64_t w, int c, int max_f)
{
    for (int f = 1; f <= max_f; f *= 2)
        if (img_cost((h + f - 1) / f, (w + f - 1) / f, c) <= (double)max_bytes)
            return f;
    return 0;
}

static int too_large(const char *name, int64_t w, int64_t h, int c, const char *why)
{
    return cr_fail(CREST_E_FORMAT, "%s: a %lldx%lld image would take %.0f MB decoded, more "
                                   "than the %g MB one image may take (%s)", name,
                   (long long)w, (long long)h, img_cost(h, w, c) / 1048576.0,
                   (double)max_bytes / 1048576.0, why);
}

/* ---- images ------------------------------------------------------------ */

static int img_alloc(crest_image *im, int h, int w, int c, const char *name)
{
    im->data = NULL;
    if (h < 1 || w < 1 || h > IMG_MAX_SIDE || w > IMG_MAX_SIDE || (int64_t)h * w > IMG_MAX_PIXELS)
        return cr_fail(CREST_E_FORMAT, "%s: image size %dx%d is out of range", name, w, h);
    im->height = h;
    im->width = w;
    im->channels = c;
    im->data = cr_malloc((size_t)h * (size_t)w * (size_t)c * sizeof(float));
    if (!im->data)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory for a %dx%d image", name, w, h);
    return CREST_OK;
}

void crest_image_free(crest_image *im)
{
    if (!im)
        return;
    cr_free(im->data);
    *im = (crest_image){ 0 };
}

/* Converts n pixels of `from` 8- or 16-bit channels into float `to` channels.
 * RGB -> grey uses ITU-R 601 luma, as PIL's convert('L'). */
static void to_float(const unsigned char *src, int from, int bytes, float *dst, int to,
                     size_t n)
{
    const float s16 = 255.0f / 65535.0f;
    for (size_t i = 0; i < n; i++) {
        float v[3] = { 0, 0, 0 };
        for (int k = 0; k < from && k < 3; k++) {
            const unsigned char *p = src + (i * (size_t)from + (size_t)k) * (size_t)bytes;
            v[k] = bytes == 2 ? (float)(p[0] << 8 | p[1]) * s16 : (float)p[0];
        }
        if (to == 1)
            dst[i] = from == 1 ? v[0] : (299 * v[0] + 587 * v[1] + 114 * v[2]) / 1000.0f;
        else
            for (int k = 0; k < 3; k++)
                dst[i * 3 + (size_t)k] = v[from == 1 ? 0 : k];
    }
}

/* ---- JPEG -------------------------------------------------------------- */

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

typedef struct jpeg_job {         /* lives outside the setjmp frame */
    const unsigned char *buf;
    size_t len;
    const char *name;
    int channels;
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    unsigned char *row;
    crest_image *out;
} jpeg_job;

static void jpeg_on_error(j_common_ptr c)
{
    jpeg_err *e = (jpeg_err *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

static void jpeg_on_message(j_common_ptr c, int level)
{
    if (level < 0)   /* a warning: corrupt or truncated data */
        jpeg_on_error(c);
}

static int jpeg_run(jpeg_job *j)
{
    j->cinfo.err = jpeg_std_error(&j->err.pub);
    j->err.pub.error_exit = jpeg_on_error;
    j->err.pub.emit_message = jpeg_on_message;
    if (setjmp(j->err.jb)) {
        jpeg_destroy_decompress(&j->cinfo);
        return cr_fail(CREST_E_FORMAT, "%s: bad JPEG: %s", j->name, j->err.msg);
    }
    jpeg_create_decompress(&j->cinfo);
    jpeg_mem_src(&j->cinfo, j->buf, (unsigned long)j->len);
    jpeg_read_header(&j->cinfo, TRUE);
    J_COLOR_SPACE cs = j->cinfo.jpeg_color_space;
    if (cs == JCS_CMYK || cs == JCS_YCCK) {
        jpeg_destroy_decompress(&j->cinfo);
        return cr_fail(CREST_E_UNSUPPORTED, "%s: CMYK JPEGs are not supported", j->name);
    }
    int want = j->channels ? j->channels : (cs == JCS_GRAYSCALE ? 1 : 3);
    j->cinfo.out_color_space = want == 1 ? JCS_GRAYSCALE : JCS_RGB;
    int64_t fh = j->cinfo.image_height, fw = j->cinfo.image_width;
    int f = shrink_factor(fh, fw, want, 8);   /* libjpeg's DCT scaling: 1/2 .. 1/8 */
    if (!f) {
        jpeg_destroy_decompress(&j->cinfo);
        return too_large(j->name, fw, fh, want, "even decoded at 1/8");
    }
    j->cinfo.scale_num = 1;
    j->cinfo.scale_denom = (unsigned)f;
    jpeg_start_decompress(&j->cinfo);
    int h = (int)j->cinfo.output_height, w = (int)j->cinfo.output_width;
    int rc = img_alloc(j->out, h, w, want, j->name);
    if (!rc) {
        j->row = cr_malloc((size_t)w * (size_t)j->cinfo.output_components);
        if (!j->row)
            rc = cr_fail(CREST_E_NOMEM, "%s: out of memory", j->name);
    }
    if (rc) {
        jpeg_destroy_decompress(&j->cinfo);
        return rc;
    }
    while (j->cinfo.output_scanline < j->cinfo.output_height) {
        JSAMPROW r = j->row;
        size_t y = j->cinfo.output_scanline;
        jpeg_read_scanlines(&j->cinfo, &r, 1);
        to_float(j->row, j->cinfo.output_components, 1,
                 j->out->data + y * (size_t)w * (size_t)want, want, (size_t)w);
    }
    jpeg_finish_decompress(&j->cinfo);
    jpeg_destroy_decompress(&j->cinfo);
    return CREST_OK;
}

static int decode_jpeg(crest_image *out, const unsigned char *buf, size_t len, const char *name,
                       int channels)
{
    jpeg_job *j = cr_calloc(1, sizeof *j);
    if (!j)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory", name);
    *j = (jpeg_job){ .buf = buf, .len = len, .name = name, .channels = channels, .out = out };
    int rc = jpeg_run(j);
    cr_free(j->row);
    cr_free(j);
    if (rc)
        crest_image_free(out);
    return rc;
}

/* ---- PNG --------------------------------------------------------------- */

typedef struct png_job {          /* lives outside the setjmp frame */
    const unsigned char *buf;
    size_t len, pos;
    const char *name;
    int channels;
    png_structp png;
    png_infop info;
    unsigned char *pix;
    png_bytep *rows;
    float *frow;
    char msg[256];
    crest_image *out;
} png_job;

static void png_on_error(png_structp p, png_const_charp msg)
{
    png_job *j = png_get_error_ptr(p);
    snprintf(j->msg, sizeof j->msg, "%s", msg);
    png_longjmp(p, 1);
}

static void png_on_warning(png_structp p, png_const_charp msg)
{
    (void)p;
    (void)msg;   /* benign (e.g. an unknown chunk); errors are what matter */
}

static void png_read_mem(png_structp p, png_bytep dst, png_size_t n)
{
    png_job *j = png_get_io_ptr(p);
    if (n > j->len - j->pos)
        png_error(p, "file is truncated");
    memcpy(dst, j->buf + j->pos, n);
    j->pos += n;
}

/* Adds an input row to its output row (sums of f x f blocks); on a block's
 * last row, divides each sum by its block's size (edge blocks are smaller). */
static void box_row(float *o, const float *in, int y, int h, int w, int c, int f)
{
    int ow = (w + f - 1) / f;
    for (int x = 0; x < w; x++)
        for (int k = 0; k < c; k++)
            o[(size_t)(x / f) * (size_t)c + (size_t)k] += in[(size_t)x * (size_t)c + (size_t)k];
    if ((y + 1) % f && y != h - 1)
        return;
    int rows = y % f + 1;
    for (int x = 0; x < ow; x++) {
        int cols = w - x * f < f ? w - x * f : f;
        for (int k = 0; k < c; k++)
            o[(size_t)x * (size_t)c + (size_t)k] /= (float)(rows * cols);
    }
}

/* A PNG too large to decode whole, read row by row and averaged over f x f
 * blocks on the fly: memory holds one input row and the small output. */
static int png_read_scaled(png_job *j, int h, int w, int from, int bytes, int want, int f)
{
    int oh = (h + f - 1) / f, ow = (w + f - 1) / f;
    int rc = img_alloc(j->out, oh, ow, want, j->name);
    if (rc)
        return rc;
    memset(j->out->data, 0, (size_t)oh * (size_t)ow * (size_t)want * sizeof(float));
    j->pix = cr_malloc((size_t)w * (size_t)from * (size_t)bytes);
    j->frow = cr_malloc((size_t)w * (size_t)want * sizeof(float));
    if (!j->pix || !j->frow)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory", j->name);
    for (int y = 0; y < h; y++) {
        png_read_row(j->png, j->pix, NULL);
        to_float(j->pix, from, bytes, j->frow, want, (size_t)w);
        box_row(j->out->data + (size_t)(y / f) * (size_t)ow * (size_t)want, j->frow, y, h, w,
                want, f);
    }
    return CREST_OK;
}

static int png_run(png_job *j)
{
    j->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, j, png_on_error, png_on_warning);
    j->info = j->png ? png_create_info_struct(j->png) : NULL;
    if (!j->info)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory", j->name);
    if (setjmp(png_jmpbuf(j->png)))
        return cr_fail(CREST_E_FORMAT, "%s: bad PNG: %s", j->name, j->msg);
    png_set_read_fn(j->png, j, png_read_mem);
    png_set_user_limits(j->png, IMG_MAX_SIDE, IMG_MAX_SIDE);
    /* Metadata chunks are skipped unread: libpng allocates a text, ICC or
     * palette-suggestion chunk's declared length before reading it, so a
     * 60-byte file asked for 1.7 GB (found by fuzz_png). None of them
     * changes the pixels crest decodes (no gamma or colour management). */
    static const png_byte meta[] = "tEXt\0zTXt\0iTXt\0iCCP\0sPLT\0eXIf\0pCAL\0hIST\0sCAL\0tIME";
    png_set_keep_unknown_chunks(j->png, PNG_HANDLE_CHUNK_NEVER, meta, (int)sizeof meta / 5);
    png_read_info(j->png, j->info);
    png_set_palette_to_rgb(j->png);
    png_set_expand_gray_1_2_4_to_8(j->png);
    png_set_strip_alpha(j->png);          /* as PIL's convert: alpha dropped, not blended */
    png_set_interlace_handling(j->png);
    png_read_update_info(j->png, j->info);
    int h = (int)png_get_image_height(j->png, j->info);
    int w = (int)png_get_image_width(j->png, j->info);
    int from = png_get_channels(j->png, j->info);
    int bytes = png_get_bit_depth(j->png, j->info) == 16 ? 2 : 1;
    if (from != 1 && from != 3)
        return cr_fail(CREST_E_FORMAT, "%s: %d channels after expansion", j->name, from);
    int want = j->channels ? j->channels : from;
    size_t stride = png_get_rowbytes(j->png, j->info);
    if (stride != (size_t)w * (size_t)from * (size_t)bytes)
        return cr_fail(CREST_E_FORMAT, "%s: unexpected PNG row size", j->name);
    int f = shrink_factor(h, w, want, PNG_MAX_SHRINK);
    if (f != 1 && png_get_interlace_type(j->png, j->info) != PNG_INTERLACE_NONE)
        return too_large(j->name, w, h, want, "an interlaced PNG cannot be read scaled");
    if (f != 1)
        return f ? png_read_scaled(j, h, w, from, bytes, want, f)
                 : too_large(j->name, w, h, want, "even read at 1/64");
    int rc = img_alloc(j->out, h, w, want, j->name);
    if (rc)
        return rc;
    j->pix = cr_malloc(stride * (size_t)h);
    j->rows = cr_malloc((size_t)h * sizeof *j->rows);
    if (!j->pix || !j->rows)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory", j->name);
    for (int y = 0; y < h; y++)
        j->rows[y] = j->pix + (size_t)y * stride;
    png_read_image(j->png, j->rows);
    to_float(j->pix, from, bytes, j->out->data, want, (size_t)h * (size_t)w);
    return CREST_OK;
}

static int decode_png(crest_image *out, const unsigned char *buf, size_t len, const char *name,
                      int channels)
{
    png_job *j = cr_calloc(1, sizeof *j);
    if (!j)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory", name);
    *j = (png_job){ .buf = buf, .len = len, .name = name, .channels = channels, .out = out };
    int rc = png_run(j);
    if (j->png)
        png_destroy_read_struct(&j->png, j->info ? &j->info : NULL, NULL);
    cr_free(j->pix);
    cr_free(j->rows);
    cr_free(j->frow);
    cr_free(j);
    if (rc)
        crest_image_free(out);
    return rc;
}

/* ---- public decode ----------------------------------------------------- */

int crest_image_decode(crest_image *out, const void *data, size_t len, const char *name,
                       int channels)
{
    if (!out)
        return cr_fail(CREST_E_ARG, "image_decode: out is NULL");
    *out = (crest_image){ 0 };
    name = name ? name : "image";
    if (!data && len)
        return cr_fail(CREST_E_ARG, "%s: NULL data", name);
    if (channels != 0 && channels != 1 && channels != 3)
        return cr_fail(CREST_E_ARG, "%s: channels must be 0 (as stored), 1 or 3, not %d", name,
                       channels);
    const unsigned char *p = data;
    decodes++;
    if (len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        return decode_jpeg(out, p, len, name, channels);
    if (len >= 8 && !png_sig_cmp(p, 0, 8))
        return decode_png(out, p, len, name, channels);
    return cr_fail(CREST_E_FORMAT, "%s: not a JPEG or PNG file", name);
}

int crest_image_load(crest_image *out, const char *path, int channels)
{
    if (!out || !path)
        return cr_fail(CREST_E_ARG, "image_load: NULL argument");
    *out = (crest_image){ 0 };
    char *buf = NULL;
    size_t len = 0;
    int rc = cr_read_file(path, (size_t)1 << 30, &buf, &len);
    if (!rc)
        rc = crest_image_decode(out, buf, len, path, channels);
    cr_free(buf);
    return rc;
}

/* ---- resize, crop ------------------------------------------------------ */

/* Source coordinate of output index i, as tf.image.resizeBilinear (TF.js cpu). */
static void src_coord(int i, double ratio, bool half, int in, int *lo, int *hi, double *frac)
{
    double s = half ? ratio * (i + 0.5) - 0.5 : ratio * i;
    double f = floor(s);
    *lo = f < 0 ? 0 : (int)f;
    *frac = s - *lo;
    double c = ceil(s);
    *hi = c > in - 1 ? in - 1 : (int)c;
    if (*lo > in - 1)
        *lo = in - 1;
}

int crest_image_resize(crest_image *out, const crest_image *in, int height, int width,
                       const crest_resize_opts *o)
{
    if (!out || !in || !in->data)
        return cr_fail(CREST_E_ARG, "image_resize: NULL argument");
    *out = (crest_image){ 0 };
    crest_resize_opts opt = o ? *o : (crest_resize_opts){ 0 };
    int rc = img_alloc(out, height, width, in->channels, "resize");
    if (rc)
        return rc;
    int C = in->channels;
    bool ac = opt.align_corners;
    double ry = (double)(ac && height > 1 ? in->height - 1 : in->height) /
                (ac && height > 1 ? height - 1 : height);
    double rx = (double)(ac && width > 1 ? in->width - 1 : in->width) /
                (ac && width > 1 ? width - 1 : width);
    float *dst = out->data;
    for (int y = 0; y < height; y++) {
        int y0, y1;
        double fy;
        src_coord(y, ry, opt.half_pixel_centers, in->height, &y0, &y1, &fy);
        const float *top = in->data + (size_t)y0 * (size_t)in->width * (size_t)C;
        const float *bot = in->data + (size_t)y1 * (size_t)in->width * (size_t)C;
        for (int x = 0; x < width; x++) {
            int x0, x1;
            double fx;
            src_coord(x, rx, opt.half_pixel_centers, in->width, &x0, &x1, &fx);
            for (int c = 0; c < C; c++) {
                double tl = top[(size_t)x0 * C + c], tr = top[(size_t)x1 * C + c];
                double bl = bot[(size_t)x0 * C + c], br = bot[(size_t)x1 * C + c];
                double t = tl + (tr - tl) * fx, b = bl + (br - bl) * fx;
                *dst++ = (float)(t + (b - t) * fy);
            }
        }
    }
    return CREST_OK;
}

int crest_image_crop(crest_image *out, const crest_image *in, int top, int left, int height,
                     int width)
{
    if (!out || !in || !in->data)
        return cr_fail(CREST_E_ARG, "image_crop: NULL argument");
    *out = (crest_image){ 0 };
    if (top < 0 || left < 0 || height < 1 || width < 1 || top > in->height - height ||
        left > in->width - width)
        return cr_fail(CREST_E_ARG, "image_crop: box %dx%d at (%d,%d) is outside the %dx%d image",
                       width, height, left, top, in->width, in->height);
    int rc = img_alloc(out, height, width, in->channels, "crop");
    if (rc)
        return rc;
    size_t row = (size_t)width * (size_t)in->channels;
    for (int y = 0; y < height; y++)
        memcpy(out->data + (size_t)y * row,
               in->data + ((size_t)(top + y) * (size_t)in->width + (size_t)left) *
                              (size_t)in->channels,
               row * sizeof(float));
    return CREST_OK;
}

int crest_image_center_crop(crest_image *out, const crest_image *in, int height, int width)
{
    if (!in)
        return cr_fail(CREST_E_ARG, "image_center_crop: NULL argument");
    return crest_image_crop(out, in, (in->height - height) / 2, (in->width - width) / 2, height,
                            width);
}

/* ---- preprocessing ----------------------------------------------------- */

static const char *const pre_names[] = { "none", "rescale", "tf", "torch", "caffe" };

const char *crest_preprocess_name(crest_preprocess p)
{
    return (unsigned)p < sizeof pre_names / sizeof *pre_names ? pre_names[p] : "?";
}

int crest_preprocess_parse(const char *name, crest_preprocess *out)
{
    for (unsigned i = 0; name && i < sizeof pre_names / sizeof *pre_names; i++)
        if (!strcmp(name, pre_names[i])) {
            *out = (crest_preprocess)i;
            return CREST_OK;
        }
    if (name && !strcmp(name, "x/255")) {
        *out = CREST_PRE_RESCALE;
        return CREST_OK;
    }
    return cr_fail(CREST_E_ARG, "preprocessing '%s' is not none, rescale, tf, torch or caffe",
                   name ? name : "(null)");
}

int crest_preprocess_apply(float *x, size_t n_pixels, int channels, crest_preprocess p)
{
    static const float mean_t[3] = { 0.485f, 0.456f, 0.406f }, std_t[3] = { 0.229f, 0.224f, 0.225f };
    static const float mean_bgr[3] = { 103.939f, 116.779f, 123.68f };
    if ((p == CREST_PRE_TORCH || p == CREST_PRE_CAFFE) && channels != 3)
        return cr_fail(CREST_E_ARG, "preprocessing '%s' needs 3 channels (RGB), not %d",
                       crest_preprocess_name(p), channels);
    if ((unsigned)p > CREST_PRE_CAFFE || !x)
        return cr_fail(CREST_E_ARG, "preprocess_apply: bad arguments");
    size_t n = n_pixels * (size_t)channels;
    switch (p) {
    case CREST_PRE_NONE:
        break;
    case CREST_PRE_RESCALE:
        for (size_t i = 0; i < n; i++)
            x[i] /= 255.0f;
        break;
    case CREST_PRE_TF:   /* Keras 'tf': x / 127.5 - 1 */
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] / 127.5f - 1.0f;
        break;
    case CREST_PRE_TORCH:
        for (size_t i = 0; i < n; i++)
            x[i] = (x[i] / 255.0f - mean_t[i % 3]) / std_t[i % 3];
        break;
    case CREST_PRE_CAFFE:   /* RGB -> BGR, then the ImageNet BGR mean */
        for (size_t i = 0; i < n; i += 3) {
            float r = x[i], b = x[i + 2];
            x[i] = b - mean_bgr[0];
            x[i + 1] -= mean_bgr[1];
            x[i + 2] = r - mean_bgr[2];
        }
        break;
    }
    return CREST_OK;
}

/* ---- one image to a model input ---------------------------------------- */

int cr_image_check_opts(const crest_image_opts *o)
{
    if (!o || o->height < 1 || o->width < 1 || o->height > IMG_MAX_SIDE ||
        o->width > IMG_MAX_SIDE)
        return cr_fail(CREST_E_ARG, "image options: target size %dx%d", o ? o->width : 0,
                       o ? o->height : 0);
    if (o->channels != 0 && o->channels != 1 && o->channels != 3)
        return cr_fail(CREST_E_ARG, "image options: channels %d (1 or 3)", o->channels);
    if ((unsigned)o->preprocess > CREST_PRE_CAFFE)
        return cr_fail(CREST_E_ARG, "image options: preprocessing %d", (int)o->preprocess);
    return CREST_OK;
}

int crest_image_to_input(const crest_image *img, const crest_image_opts *o, float *out)
{
    int rc = cr_image_check_opts(o);
    if (rc)
        return rc;
    if (!img || !img->data || !out)
        return cr_fail(CREST_E_ARG, "image_to_input: NULL argument");
    int C = o->channels ? o->channels : 3;
    crest_image conv = { 0 }, crop = { 0 }, sized = { 0 };
    const crest_image *cur = img;
    if (img->channels != C) {       /* grey <-> RGB */
        rc = img_alloc(&conv, img->height, img->width, C, "image");
        if (rc)
            goto out;
        for (size_t i = 0; i < (size_t)img->height * (size_t)img->width; i++) {
            const float *s = img->data + i * (size_t)img->channels;
            if (C == 1)
                conv.data[i] = (299 * s[0] + 587 * s[1] + 114 * s[2]) / 1000.0f;
            else
                conv.data[3 * i] = conv.data[3 * i + 1] = conv.data[3 * i + 2] = s[0];
        }
        cur = &conv;
    }
    if (o->crop_to_aspect) {        /* largest centered box of the target aspect ratio */
        int64_t ch = cur->height, cw = (int64_t)cur->height * o->width / o->height;
        if (cw > cur->width) {
            cw = cur->width;
            ch = (int64_t)cur->width * o->height / o->width;
        }
        rc = crest_image_center_crop(&crop, cur, ch < 1 ? 1 : (int)ch, cw < 1 ? 1 : (int)cw);
        if (rc)
            goto out;
        cur = &crop;
    }
    if (cur->height != o->height || cur->width != o->width) {
        rc = crest_image_resize(&sized, cur, o->height, o->width, &o->resize);
        if (rc)
            goto out;
        cur = &sized;
    }
    size_t n = (size_t)o->height * (size_t)o->width;
    memcpy(out, cur->data, n * (size_t)C * sizeof(float));
    rc = crest_preprocess_apply(out, n, C, o->preprocess);
out:
    crest_image_free(&conv);
    crest_image_free(&crop);
    crest_image_free(&sized);
    return rc;
}

int crest_image_prepare(const char *path, const crest_image_opts *o, float *out)
{
    int rc = cr_image_check_opts(o);
    if (rc)
        return rc;
    crest_image img;
    rc = crest_image_load(&img, path, o->channels ? o->channels : 3);
    if (!rc)
        rc = crest_image_to_input(&img, o, out);
    crest_image_free(&img);
    return rc;
}

/* ---- options as JSON (recorded in saved models) ------------------------ */

char *crest_image_opts_json(const crest_image_opts *o)
{
    if (cr_image_check_opts(o))
        return NULL;
    char buf[320];
    snprintf(buf, sizeof buf,
             "{\"height\":%d,\"width\":%d,\"channels\":%d,\"preprocess\":\"%s\","
             "\"crop_to_aspect\":%s,\"resize\":\"bilinear\",\"align_corners\":%s,"
             "\"half_pixel_centers\":%s}",
             o->height, o->width, o->channels ? o->channels : 3,
             crest_preprocess_name(o->preprocess), o->crop_to_aspect ? "true" : "false",
             o->resize.align_corners ? "true" : "false",
             o->resize.half_pixel_centers ? "true" : "false");
    char *s = cr_strdup(buf);
    if (!s)
        cr_fail(CREST_E_NOMEM, "out of memory");
    return s;
}

static bool jbool(const cJSON *o, const char *k)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int jint(const cJSON *o, const char *k, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) > 1e9)
        return cr_fail(CREST_E_FORMAT, "image options: \"%s\" is not an integer", k);
    *out = (int)v->valuedouble;
    return CREST_OK;
}

int cr_image_opts_from_cjson(const cJSON *j, crest_image_opts *out)
{
    crest_image_opts o = { 0 };
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "preprocess");
    int rc = cJSON_IsObject(j) ? CREST_OK
                               : cr_fail(CREST_E_FORMAT, "image options: not a JSON object");
    if (!rc)
        rc = jint(j, "height", &o.height);
    if (!rc)
        rc = jint(j, "width", &o.width);
    if (!rc)
        rc = jint(j, "channels", &o.channels);
    if (!rc)
        rc = cJSON_IsString(p) ? crest_preprocess_parse(p->valuestring, &o.preprocess)
                               : cr_fail(CREST_E_FORMAT, "image options: no \"preprocess\"");
    if (rc)
        return rc;
    o.crop_to_aspect = jbool(j, "crop_to_aspect");
    o.resize.align_corners = jbool(j, "align_corners");
    o.resize.half_pixel_centers = jbool(j, "half_pixel_centers");
    if ((rc = cr_image_check_opts(&o)))
        return rc;
    *out = o;
    return CREST_OK;
}

int crest_image_opts_parse(const char *json, crest_image_opts *out)
{
    if (!json || !out)
        return cr_fail(CREST_E_ARG, "image_opts_parse: NULL argument");
    cJSON *j = cJSON_Parse(json);
    if (!j)
        return cr_fail(CREST_E_FORMAT, "image options: bad JSON");
    int rc = cr_image_opts_from_cjson(j, out);
    cJSON_Delete(j);
    return rc;
}

int crest_model_image_opts(const crest_model *m, crest_image_opts *out)
{
    const char *meta = crest_model_metadata(m);
    if (!meta || !out)
        return cr_fail(CREST_E_ARG, "model has no image preprocessing recorded");
    cJSON *j = cJSON_Parse(meta);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "crest");
    const cJSON *im = cJSON_GetObjectItemCaseSensitive(c, "image");
    int rc = im ? cr_image_opts_from_cjson(im, out)
                : cr_fail(CREST_E_ARG, "model has no image preprocessing recorded");
    cJSON_Delete(j);
    return rc;
}
