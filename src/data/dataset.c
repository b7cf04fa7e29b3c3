/* dataset.c - in-memory data sets, and IDX files (MNIST, Fashion-MNIST). */
#define _POSIX_C_SOURCE 200809L
#include "../internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int ds_alloc(crest_dataset **out, size_t n, crest_dims shape, int n_classes, bool dense)
{
    *out = NULL;
    if (shape.ndim < 1 || shape.ndim >= CREST_MAX_DIMS)
        return cr_fail(CREST_E_SHAPE, "data set: sample rank %d", shape.ndim);
    int64_t stride = cr_dims_count(&shape);
    if (stride < 1 || (n && (size_t)stride > SIZE_MAX / sizeof(float) / n))
        return cr_fail(CREST_E_SHAPE, "data set: %zu samples of %lld values", n,
                       (long long)stride);
    if (n_classes < 0)
        return cr_fail(CREST_E_ARG, "data set: %d classes", n_classes);
    crest_dataset *d = cr_calloc(1, sizeof *d);
    if (!d)
        return cr_fail(CREST_E_NOMEM, "data set: out of memory");
    d->n = n;
    d->shape = shape;
    d->stride = stride;
    d->n_classes = n_classes;
    d->x = cr_malloc((n ? n : 1) * (size_t)stride * sizeof(float));
    if (dense)
        d->y = cr_malloc((n ? n : 1) * (size_t)(n_classes ? n_classes : 1) * sizeof(float));
    else
        d->labels = cr_malloc((n ? n : 1) * sizeof(int32_t));
    if (!d->x || (dense ? !d->y : !d->labels)) {
        crest_dataset_free(d);
        return cr_fail(CREST_E_NOMEM, "data set: out of memory for %zu samples", n);
    }
    *out = d;
    return CREST_OK;
}

int crest_dataset_new(crest_dataset **out, size_t n, crest_dims shape, const float *x,
                      const int32_t *labels, int n_classes)
{
    if (!out || (!x && n))
        return cr_fail(CREST_E_ARG, "dataset_new: NULL argument");
    int rc = ds_alloc(out, n, shape, n_classes, false);
    if (rc)
        return rc;
    crest_dataset *d = *out;
    for (size_t i = 0; labels && i < n; i++)
        if (labels[i] < 0 || (n_classes && labels[i] >= n_classes)) {
            crest_dataset_free(d);
            *out = NULL;
            return cr_fail(CREST_E_ARG, "dataset_new: label %d of sample %zu is not in [0, %d)",
                           (int)labels[i], i, n_classes);
        }
    memcpy(d->x, x, n * (size_t)d->stride * sizeof(float));
    if (labels)
        memcpy(d->labels, labels, n * sizeof(int32_t));
    else {
        cr_free(d->labels);
        d->labels = NULL;
    }
    return CREST_OK;
}

int crest_dataset_new_dense(crest_dataset **out, size_t n, crest_dims shape, const float *x,
                            const float *y, int n_outputs)
{
    if (!out || ((!x || !y) && n) || n_outputs < 1)
        return cr_fail(CREST_E_ARG, "dataset_new_dense: NULL argument or no outputs");
    int rc = ds_alloc(out, n, shape, n_outputs, true);
    if (rc)
        return rc;
    memcpy((*out)->x, x, n * (size_t)(*out)->stride * sizeof(float));
    memcpy((*out)->y, y, n * (size_t)n_outputs * sizeof(float));
    return CREST_OK;
}

void crest_dataset_free(crest_dataset *d)
{
    if (!d)
        return;
    cr_free(d->x);
    cr_free(d->labels);
    cr_free(d->y);
    for (int i = 0; i < d->n_class_names; i++)
        cr_free(d->class_names[i]);
    cr_free(d->class_names);
    cr_free(d->image);
    for (size_t i = 0; d->files && i < d->n; i++)
        cr_free(d->files[i]);
    cr_free(d->files);
    crest_dataset_free(d->raw);
    cr_free(d);
}

/* Class names and image options carried over to a slice. */
static int copy_extras(const crest_dataset *d, crest_dataset *o)
{
    if (d->image) {
        o->image = cr_malloc(sizeof *o->image);
        if (!o->image)
            return cr_fail(CREST_E_NOMEM, "out of memory");
        *o->image = *d->image;
    }
    if (d->class_names) {
        o->class_names = cr_calloc((size_t)d->n_class_names, sizeof *o->class_names);
        if (!o->class_names)
            return cr_fail(CREST_E_NOMEM, "out of memory");
        o->n_class_names = d->n_class_names;
        for (int i = 0; i < d->n_class_names; i++)
            if (!(o->class_names[i] = cr_strdup(d->class_names[i])))
                return cr_fail(CREST_E_NOMEM, "out of memory");
    }
    return CREST_OK;
}

size_t crest_dataset_size(const crest_dataset *d) { return d ? d->n : 0; }
crest_dims crest_dataset_sample_shape(const crest_dataset *d)
{
    crest_dims s = { 0 };
    if (d)
        s = d->shape;
    return s;
}
int crest_dataset_classes(const crest_dataset *d) { return d ? d->n_classes : 0; }
const float *crest_dataset_x(const crest_dataset *d) { return d ? d->x : NULL; }
const int32_t *crest_dataset_labels(const crest_dataset *d) { return d ? d->labels : NULL; }

int cr_dataset_new_lazy(crest_dataset **out, size_t n, crest_dims shape, const int32_t *labels,
                        int n_classes)
{
    *out = NULL;
    int64_t stride = cr_dims_count(&shape);
    if (shape.ndim < 1 || shape.ndim >= CREST_MAX_DIMS || stride < 1)
        return cr_fail(CREST_E_SHAPE, "data set: sample rank %d", shape.ndim);
    crest_dataset *d = cr_calloc(1, sizeof *d);
    if (!d || (labels && !(d->labels = cr_malloc((n ? n : 1) * sizeof(int32_t))))) {
        cr_free(d);
        return cr_fail(CREST_E_NOMEM, "data set: out of memory for %zu samples", n);
    }
    d->n = n;
    d->shape = shape;
    d->stride = stride;
    d->n_classes = n_classes;
    if (labels)
        memcpy(d->labels, labels, n * sizeof(int32_t));
    *out = d;
    return CREST_OK;
}

/* Eager rows[0..n) of d: x, labels / targets copied. */
static int take_eager(const crest_dataset *d, const size_t *rows, size_t n, crest_dataset **out)
{
    int rc = ds_alloc(out, n, d->shape, d->n_classes, d->y != NULL);
    if (rc)
        return rc;
    crest_dataset *o = *out;
    size_t K = (size_t)d->n_classes;
    for (size_t i = 0; i < n; i++) {
        memcpy(o->x + i * (size_t)d->stride, d->x + rows[i] * (size_t)d->stride,
               (size_t)d->stride * sizeof(float));
        if (d->y)
            memcpy(o->y + i * K, d->y + rows[i] * K, K * sizeof(float));
        else if (d->labels)
            o->labels[i] = d->labels[rows[i]];
    }
    if (!d->y && !d->labels) {
        cr_free(o->labels);
        o->labels = NULL;
    }
    return CREST_OK;
}

/* Lazy rows[0..n) of d: the file names or raw rows they are made from. */
static int take_lazy(const crest_dataset *d, const size_t *rows, size_t n, crest_dataset **out)
{
    int32_t *lab = d->labels ? cr_malloc((n ? n : 1) * sizeof *lab) : NULL;
    if (d->labels && !lab)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    for (size_t i = 0; lab && i < n; i++)
        lab[i] = d->labels[rows[i]];
    int rc = cr_dataset_new_lazy(out, n, d->shape, lab, d->n_classes);
    cr_free(lab);
    if (rc)
        return rc;
    crest_dataset *o = *out;
    o->raw_scale = d->raw_scale;
    if (d->raw)
        return cr_dataset_take(d->raw, rows, n, &o->raw);
    if (!(o->files = cr_calloc(n ? n : 1, sizeof *o->files)))
        return cr_fail(CREST_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!(o->files[i] = cr_strdup(d->files[rows[i]])))
            return cr_fail(CREST_E_NOMEM, "out of memory");
    return CREST_OK;
}

int cr_dataset_take(const crest_dataset *d, const size_t *rows, size_t n, crest_dataset **out)
{
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= d->n)
            return cr_fail(CREST_E_ARG, "data set: row %zu of %zu", rows[i], d->n);
    int rc = cr_dataset_lazy(d) ? take_lazy(d, rows, n, out) : take_eager(d, rows, n, out);
    if (!rc)
        rc = copy_extras(d, *out);
    if (rc) {
        crest_dataset_free(*out);
        *out = NULL;
    }
    return rc;
}

int crest_dataset_slice(const crest_dataset *d, size_t start, size_t count, crest_dataset **out)
{
    if (!d || !out)
        return cr_fail(CREST_E_ARG, "dataset_slice: NULL argument");
    *out = NULL;
    if (start > d->n || count > d->n - start)
        return cr_fail(CREST_E_ARG, "dataset_slice: rows [%zu, %zu) of %zu", start,
                       start + count, d->n);
    size_t *rows = cr_malloc((count ? count : 1) * sizeof *rows);
    if (!rows)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++)
        rows[i] = start + i;
    int rc = cr_dataset_take(d, rows, count, out);
    cr_free(rows);
    return rc;
}

/* Sample r of a lazy set as a model input; tmp: raw->stride floats. */
static int lazy_sample(const crest_dataset *d, size_t r, float *tmp, float *dst)
{
    if (d->files)
        return crest_image_prepare(d->files[r], d->image, dst);
    const crest_dataset *raw = d->raw;
    const float *src = raw->x + r * (size_t)raw->stride;
    for (int64_t i = 0; i < raw->stride; i++)
        tmp[i] = src[i] * d->raw_scale;
    const cr_dims *s = &raw->shape;
    crest_image img = { (int)s->d[0], (int)s->d[1], s->ndim == 3 ? (int)s->d[2] : 1, tmp };
    return crest_image_to_input(&img, d->image, dst);
}

/* Lazy samples are decoded over the pool's threads: task ith makes a
 * contiguous run of the batch, in order, and stops at its first failure.
 * The batch fails with the failure of the lowest sample, so the message is
 * the one a serial decode gives, whatever the thread count. */
#define GATHER_MAX_TASKS 64

typedef struct {
    const crest_dataset *d;
    const size_t *rows;
    size_t start;
    int64_t b;
    float *dst;
    int rc[GATHER_MAX_TASKS];
    int64_t failed_at[GATHER_MAX_TASKS];
    char msg[GATHER_MAX_TASKS][256];
} gather_job;

static void gather_task(void *ctx, int ith, int nth)
{
    gather_job *j = ctx;
    const crest_dataset *d = j->d;
    int64_t lo, hi;
    cr_split(j->b, ith, nth, &lo, &hi);
    j->rc[ith] = CREST_OK;
    float *tmp = d->raw ? cr_malloc((size_t)d->raw->stride * sizeof *tmp) : NULL;
    if (d->raw && !tmp) {
        j->rc[ith] = cr_fail(CREST_E_NOMEM, "out of memory");
        j->failed_at[ith] = lo;
    }
    for (int64_t i = lo; i < hi && !j->rc[ith]; i++) {
        size_t r = j->rows ? j->rows[j->start + (size_t)i] : j->start + (size_t)i;
        j->rc[ith] = lazy_sample(d, r, tmp, j->dst + (size_t)i * (size_t)d->stride);
        j->failed_at[ith] = i;
    }
    if (j->rc[ith])
        snprintf(j->msg[ith], sizeof j->msg[ith], "%s", crest_last_error());
    cr_free(tmp);
}

int cr_dataset_gather_on(const crest_dataset *d, const size_t *rows, size_t start, int64_t b,
                         float *dst, cr_pool *pool)
{
    size_t per = (size_t)d->stride;
    if (!cr_dataset_lazy(d)) {
        for (int64_t i = 0; i < b; i++)
            memcpy(dst + (size_t)i * per,
                   d->x + (rows ? rows[start + (size_t)i] : start + (size_t)i) * per,
                   per * sizeof(float));
        return CREST_OK;
    }
    if (!d->image || (!d->files && !d->raw))
        return cr_fail(CREST_E_INTERNAL, "data set: lazy samples without a source");
    if (b <= 0)
        return CREST_OK;
    gather_job *j = cr_malloc(sizeof *j);
    if (!j)
        return cr_fail(CREST_E_NOMEM, "out of memory for a pass of %lld samples", (long long)b);
    *j = (gather_job){ .d = d, .rows = rows, .start = start, .b = b, .dst = dst };
    int size = cr_pool_size(pool), nth = b < size ? (int)b : size;
    if (nth > GATHER_MAX_TASKS)
        nth = GATHER_MAX_TASKS;
    if (nth > 1)
        cr_pool_run(pool, nth, gather_task, j);
    else
        gather_task(j, 0, 1);
    int rc = CREST_OK, first = -1;
    for (int t = 0; t < nth; t++)
        if (j->rc[t] && (first < 0 || j->failed_at[t] < j->failed_at[first]))
            first = t;
    if (first >= 0)
        rc = cr_fail(j->rc[first], "%s", j->msg[first]);
    cr_free(j);
    return rc;
}

int cr_dataset_gather(const crest_dataset *d, const size_t *rows, size_t start, int64_t b,
                      float *dst)
{
    return cr_dataset_gather_on(d, rows, start, b, dst, NULL);
}

/* ---- IDX --------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An IDX file of unsigned bytes: dims out, data pointer into *buf. */
static int idx_read(const char *path, int want_rank, char **buf, uint32_t *dims,
                    const unsigned char **data)
{
    size_t len;
    int rc = cr_read_file(path, (size_t)1 << 31, buf, &len);
    if (rc)
        return rc;
    const unsigned char *p = (const unsigned char *)*buf;
    if (len < 4 || p[0] || p[1] || p[2] != 0x08 || p[3] != want_rank)
        return cr_fail(CREST_E_FORMAT, "%s: not an IDX file of %d-D unsigned bytes", path,
                       want_rank);
    size_t head = 4 + 4 * (size_t)want_rank, count = 1;
    if (len < head)
        return cr_fail(CREST_E_FORMAT, "%s: truncated header", path);
    for (int i = 0; i < want_rank; i++) {
        dims[i] = be32(p + 4 + 4 * i);
        if (dims[i] == 0 || dims[i] > (1u << 28))
            return cr_fail(CREST_E_FORMAT, "%s: dimension %d is %u", path, i, dims[i]);
        count *= dims[i];
        if (count > ((size_t)1 << 34))
            return cr_fail(CREST_E_FORMAT, "%s: too large", path);
    }
    if (len != head + count)
        return cr_fail(CREST_E_FORMAT, "%s: %zu bytes, the header says %zu", path, len,
                       head + count);
    *data = p + head;
    return CREST_OK;
}

static int idx_pair(crest_dataset **out, const char *images, const char *labels)
{
    char *ib = NULL, *lb = NULL;
    uint32_t idim[3] = { 0 }, ldim[1] = { 0 };
    const unsigned char *ip = NULL, *lp = NULL;
    crest_dataset *d = NULL;
    int rc = idx_read(images, 3, &ib, idim, &ip);
    if (!rc)
        rc = idx_read(labels, 1, &lb, ldim, &lp);
    if (!rc && ldim[0] != idim[0])
        rc = cr_fail(CREST_E_FORMAT, "%s has %u labels for %u images in %s", labels, ldim[0],
                     idim[0], images);
    if (rc)
        goto out;
    int max = 0;
    for (uint32_t i = 0; i < ldim[0]; i++)
        max = lp[i] > max ? lp[i] : max;
    rc = ds_alloc(&d, idim[0], crest_shape(2, (int)idim[1], (int)idim[2]), max + 1, false);
    if (rc)
        goto out;
    size_t cnt = (size_t)idim[0] * idim[1] * idim[2];
    for (size_t i = 0; i < cnt; i++)
        d->x[i] = ip[i] / 255.0f;
    for (uint32_t i = 0; i < ldim[0]; i++)
        d->labels[i] = lp[i];
    /* the known sets have 10 classes even if a slice lacks the last ones */
    if (d->n_classes < 10)
        d->n_classes = 10;
    *out = d;
    d = NULL;
out:
    crest_dataset_free(d);
    cr_free(ib);
    cr_free(lb);
    return rc;
}

/* Fashion-MNIST's labels 0..9 by name (the data set's own documentation). */
static int fashion_names(crest_dataset *d)
{
    static const char *const names[10] = { "T-shirt/top", "Trouser", "Pullover", "Dress",
                                           "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                           "Ankle boot" };
    if (d->n_classes != 10)
        return CREST_OK;
    if (!(d->class_names = cr_calloc(10, sizeof *d->class_names)))
        return cr_fail(CREST_E_NOMEM, "out of memory");
    d->n_class_names = 10;
    for (int k = 0; k < 10; k++)
        if (!(d->class_names[k] = cr_strdup(names[k])))
            return cr_fail(CREST_E_NOMEM, "out of memory");
    return CREST_OK;
}

const char *crest_data_dir(void)
{
    const char *e = getenv("CREST_DATA");
    return e && *e ? e : "data";
}

int crest_dataset_load(crest_dataset **out, const char *spec)
{
    if (!out || !spec)
        return cr_fail(CREST_E_ARG, "dataset_load: NULL argument");
    *out = NULL;
    char name[512], part[32] = "train", dir[1024], img[1200], lab[1200];
    const char *colon = strrchr(spec, ':');
    size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (nlen >= sizeof name)
        return cr_fail(CREST_E_ARG, "data set name '%s' is too long", spec);
    memcpy(name, spec, nlen);
    name[nlen] = 0;
    if (colon) {
        if (strcmp(colon + 1, "train") && strcmp(colon + 1, "test"))
            return cr_fail(CREST_E_ARG, "data set '%s': part must be :train or :test", spec);
        snprintf(part, sizeof part, "%s", colon + 1);
    }
    struct stat st;
    if (strcmp(name, "fashion-mnist") == 0 || strcmp(name, "mnist") == 0)
        snprintf(dir, sizeof dir, "%s/%s", crest_data_dir(), name);
    else if (stat(name, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(dir, sizeof dir, "%s", name);
    else
        return cr_fail(CREST_E_ARG,
                       "data set '%s': not a built-in name (fashion-mnist, mnist) or a folder "
                       "of IDX files", spec);
    const char *pre = strcmp(part, "test") == 0 ? "t10k" : "train";
    snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte", dir, pre);
    snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte", dir, pre);
    int rc = idx_pair(out, img, lab);
    if (rc == CREST_E_IO && stat(img, &st) != 0)
        cr_wrap(rc, "data set '%s' is missing (run tools/setup.sh)", spec);
    if (!rc && !strcmp(name, "fashion-mnist"))
        rc = fashion_names(*out);
    if (rc) {
        crest_dataset_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- a sample as a picture --------------------------------------------- */

int crest_dataset_image(const crest_dataset *d, size_t i, crest_image *out)
{
    if (!d || !out)
        return cr_fail(CREST_E_ARG, "dataset_image: NULL argument");
    *out = (crest_image){ 0 };
    if (i >= d->n)
        return cr_fail(CREST_E_ARG, "dataset_image: sample %zu of %zu", i, d->n);
    if (cr_dataset_lazy(d) && d->files)
        return crest_image_load(out, d->files[i], 0);
    const crest_dataset *src = cr_dataset_lazy(d) ? d->raw : d;
    const cr_dims *s = src ? &src->shape : NULL;
    if (!src || !src->x || s->ndim < 2 || s->ndim > 3 || (s->ndim == 3 && s->d[2] != 1 &&
                                                          s->d[2] != 3))
        return cr_fail(CREST_E_SHAPE, "dataset_image: the samples are not images [H, W] or "
                                      "[H, W, 1|3]");
    size_t per = (size_t)src->stride;
    const float *x = src->x + i * per;
    float scale = cr_dataset_lazy(d) ? d->raw_scale : 255.0f;
    for (size_t k = 0; !cr_dataset_lazy(d) && k < per; k++)
        if (x[k] < 0 || x[k] > 1)
            scale = 1;   /* not in [0, 1]: taken as 0..255 already */
    float *px = cr_malloc(per * sizeof *px);
    if (!px)
        return cr_fail(CREST_E_NOMEM, "dataset_image: out of memory");
    for (size_t k = 0; k < per; k++)
        px[k] = x[k] * scale;
    *out = (crest_image){ (int)s->d[0], (int)s->d[1], s->ndim == 3 ? (int)s->d[2] : 1, px };
    return CREST_OK;
}
