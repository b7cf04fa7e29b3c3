/* source.c - image sources as lazy data sets: folders of class sub-folders
 * (listed, not decoded), IDX sets transformed per sample, single image
 * files; the stratified split.
 *
 * A lazy set holds file names (or the small raw IDX images) and the image
 * options; cr_dataset_gather makes model inputs a pass at a time, so a
 * folder of 50,000 photos costs its file names, not 50,000 decoded images.
 */
#define _POSIX_C_SOURCE 200809L
#include "../internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_DEPTH 32
#define MAX_SKIPPED_NAMES 64

typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static void names_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        cr_free(l->v[i]);
    cr_free(l->v);
    *l = (name_list){ 0 };
}

static int names_push(name_list *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **v = cr_realloc(l->v, cap * sizeof *v);
        if (!v)
            return cr_fail(CREST_E_NOMEM, "out of memory listing files");
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = cr_strdup(s)))
        return cr_fail(CREST_E_NOMEM, "out of memory listing files");
    l->n++;
    return CREST_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_sort(name_list *l)
{
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, cmp_str);
}

static bool is_image_name(const char *n)
{
    const char *dot = strrchr(n, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
                   !strcasecmp(dot, ".png"));
}

/* What a folder walk found. */
typedef struct walk {
    name_list files, skipped;
    size_t n_skipped;
    int depth;                    /* of the folder being read */
} walk;

/* Calls fn for each visible entry of dir that stat() answers for (hidden
 * entries are ignored), with its path (NULL if longer than PATH_CAP), until
 * fn returns an error. */
#define PATH_CAP 4096
typedef int (*entry_fn)(void *ctx, const char *dir, const char *name, const char *path,
                        const struct stat *st);

static int each_entry(const char *dir, entry_fn fn, void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return cr_fail(CREST_E_IO, "%s: cannot open folder", dir);
    int rc = CREST_OK;
    char path[PATH_CAP];
    for (struct dirent *e; !rc && (e = readdir(d));) {
        struct stat st = { 0 };
        if (e->d_name[0] == '.')
            continue;
        bool fits = (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path;
        if (!fits || !stat(path, &st))
            rc = fn(ctx, dir, e->d_name, fits ? path : NULL, &st);
    }
    closedir(d);
    return rc;
}

static int walk_class(const char *dir, int depth, walk *w);

static int walk_entry(void *ctx, const char *dir, const char *name, const char *path,
                      const struct stat *st)
{
    walk *w = ctx;
    if (!path)
        return cr_fail(CREST_E_FORMAT, "%s/%s: path too long", dir, name);
    if (S_ISDIR(st->st_mode))
        return walk_class(path, w->depth + 1, w);
    if (S_ISREG(st->st_mode) && is_image_name(name))
        return names_push(&w->files, path);
    if (S_ISREG(st->st_mode) && w->n_skipped++ < MAX_SKIPPED_NAMES)
        return names_push(&w->skipped, path);
    return CREST_OK;
}

/* Images below dir (at any depth) into w->files; other regular files are
 * counted (the first few named) as skipped. Hidden entries are ignored. */
static int walk_class(const char *dir, int depth, walk *w)
{
    if (depth > MAX_DEPTH)
        return cr_fail(CREST_E_FORMAT, "%s: folders nested more than %d deep", dir, MAX_DEPTH);
    int saved = w->depth;
    w->depth = depth;
    int rc = each_entry(dir, walk_entry, w);
    w->depth = saved;
    return rc;
}

static int class_entry(void *ctx, const char *dir, const char *name, const char *path,
                       const struct stat *st)
{
    (void)dir;
    return path && S_ISDIR(st->st_mode) ? names_push(ctx, name) : CREST_OK;
}

/* Sorted class sub-folders of dir (hidden ones ignored). */
static int list_classes(const char *dir, name_list *cls)
{
    int rc = each_entry(dir, class_entry, cls);
    names_sort(cls);
    if (!rc && cls->n < 2)
        rc = cls->n ? cr_fail(CREST_E_FORMAT, "%s: one class sub-folder ('%s'); a classifier "
                                              "needs two or more", dir, cls->v[0])
                    : cr_fail(CREST_E_FORMAT, "%s: no class sub-folders", dir);
    if (!rc && cls->n > (1 << 20))
        rc = cr_fail(CREST_E_FORMAT, "%s: %zu class sub-folders", dir, cls->n);
    return rc;
}

static int push_label(int32_t **labels, size_t *cap, size_t n, int32_t k)
{
    if (n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        int32_t *l = cr_realloc(*labels, c * sizeof *l);
        if (!l)
            return cr_fail(CREST_E_NOMEM, "out of memory listing images");
        *labels = l;
        *cap = c;
    }
    (*labels)[n] = k;
    return CREST_OK;
}

/* Every class's images, in class order, each class sorted by path. */
static int walk_folder(const char *dir, const name_list *cls, walk *w, int32_t **labels)
{
    size_t cap = 0;
    char path[4096];
    for (size_t k = 0; k < cls->n; k++) {
        size_t first = w->files.n;
        snprintf(path, sizeof path, "%s/%s", dir, cls->v[k]);
        int rc = walk_class(path, 0, w);
        if (!rc && w->files.n == first)
            rc = cr_fail(CREST_E_FORMAT, "%s: class folder has no JPEG or PNG images", path);
        if (rc)
            return rc;
        qsort(w->files.v + first, w->files.n - first, sizeof *w->files.v, cmp_str);
        for (size_t i = first; i < w->files.n; i++)
            if ((rc = push_label(labels, &cap, i, (int32_t)k)))
                return rc;
    }
    return CREST_OK;
}

static int set_class_names(crest_dataset *d, const name_list *cls)
{
    d->class_names = cr_calloc(cls->n, sizeof *d->class_names);
    if (!d->class_names)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    d->n_class_names = (int)cls->n;
    for (size_t i = 0; i < cls->n; i++)
        if (!(d->class_names[i] = cr_strdup(cls->v[i])))
            return cr_fail(CREST_E_NOMEM, "out of memory");
    return CREST_OK;
}

static int set_image(crest_dataset *d, const crest_image_opts *o)
{
    if (!(d->image = cr_malloc(sizeof *d->image)))
        return cr_fail(CREST_E_NOMEM, "out of memory");
    *d->image = *o;
    return CREST_OK;
}

static crest_dims input_shape(const crest_image_opts *o)
{
    return crest_shape(3, o->height, o->width, o->channels ? o->channels : 3);
}

/* The skipped names as one string, one a line. */
static int skipped_text(const walk *w, crest_folder_info *info)
{
    size_t len = 1;
    for (size_t i = 0; i < w->skipped.n; i++)
        len += strlen(w->skipped.v[i]) + 1;
    if (w->n_skipped > w->skipped.n)
        len += 48;
    char *s = cr_malloc(len), *p = s;
    if (!s)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    for (size_t i = 0; i < w->skipped.n; i++)
        p += sprintf(p, "%s\n", w->skipped.v[i]);
    if (w->n_skipped > w->skipped.n)
        sprintf(p, "... and %zu more\n", w->n_skipped - w->skipped.n);
    info->skipped_names = s;
    return CREST_OK;
}

/* A folder of class sub-folders as a lazy set. */
static int open_folder(crest_dataset **out, const char *dir, const crest_image_opts *o,
                       crest_folder_info *info)
{
    name_list cls = { 0 };
    walk w = { 0 };
    int32_t *labels = NULL;
    crest_dataset *d = NULL;
    int rc = list_classes(dir, &cls);
    if (!rc)
        rc = walk_folder(dir, &cls, &w, &labels);
    if (!rc)
        rc = cr_dataset_new_lazy(&d, w.files.n, input_shape(o), labels, (int)cls.n);
    if (!rc) {
        d->files = w.files.v;       /* adopted */
        w.files = (name_list){ 0 };
        rc = set_class_names(d, &cls);
    }
    if (!rc)
        rc = set_image(d, o);
    if (!rc && info) {
        *info = (crest_folder_info){ .images = d->n, .classes = (int)cls.n,
                                     .skipped = w.n_skipped };
        if (w.n_skipped)
            rc = skipped_text(&w, info);
    }
    if (!rc) {
        *out = d;
        d = NULL;
    }
    crest_dataset_free(d);
    names_free(&cls);
    names_free(&w.files);
    names_free(&w.skipped);
    cr_free(labels);
    return rc;
}

/* One image file: a set of one unlabeled sample. */
static int open_file(crest_dataset **out, const char *path, const crest_image_opts *o)
{
    crest_dataset *d = NULL;
    int rc = cr_dataset_new_lazy(&d, 1, input_shape(o), NULL, 0);
    if (!rc && (!(d->files = cr_calloc(1, sizeof *d->files)) ||
                !(d->files[0] = cr_strdup(path))))
        rc = cr_fail(CREST_E_NOMEM, "out of memory");
    if (!rc)
        rc = set_image(d, o);
    if (rc)
        crest_dataset_free(d);
    else
        *out = d;
    return rc;
}

/* A crest_dataset_load set (pixels in [0, 1]) transformed per sample. */
static int open_raw(crest_dataset **out, const char *spec, const crest_image_opts *o)
{
    crest_dataset *raw = NULL, *d = NULL;
    int rc = crest_dataset_load(&raw, spec);
    if (rc)
        return rc;
    const cr_dims *s = &raw->shape;
    if (s->ndim < 2 || s->ndim > 3 || (s->ndim == 3 && s->d[2] != 1 && s->d[2] != 3)) {
        char b[96];
        crest_dataset_free(raw);
        return cr_fail(CREST_E_SHAPE, "%s: samples are %s, not images [H, W] or [H, W, 1|3]",
                       spec, cr_dims_str(s, b, sizeof b));
    }
    rc = cr_dataset_new_lazy(&d, raw->n, input_shape(o), raw->labels, raw->n_classes);
    if (!rc) {
        d->raw = raw;
        d->class_names = raw->class_names;   /* named labels (fashion-mnist) */
        d->n_class_names = raw->n_class_names;
        raw->class_names = NULL;
        raw->n_class_names = 0;
        raw = NULL;
        d->raw_scale = 255.0f;
        rc = set_image(d, o);
    }
    crest_dataset_free(raw);
    if (rc)
        crest_dataset_free(d);
    else
        *out = d;
    return rc;
}

bool crest_is_image_folder(const char *spec)
{
    struct stat st;
    char p[4096];
    if (!spec || stat(spec, &st) || !S_ISDIR(st.st_mode))
        return false;
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", spec);
    if (!stat(p, &st))
        return false;
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", spec);
    return stat(p, &st) != 0;
}

int crest_image_source_open(crest_dataset **out, const char *spec, const crest_image_opts *o,
                            crest_folder_info *info)
{
    if (info)
        *info = (crest_folder_info){ 0 };
    if (!out || !spec)
        return cr_fail(CREST_E_ARG, "image_source_open: NULL argument");
    *out = NULL;
    int rc = cr_image_check_opts(o);
    if (rc)
        return rc;
    struct stat st;
    if (crest_is_image_folder(spec))
        rc = open_folder(out, spec, o, info);
    else if (!stat(spec, &st) && S_ISREG(st.st_mode) && is_image_name(spec))
        rc = open_file(out, spec, o);
    else
        rc = open_raw(out, spec, o);
    if (!rc && info)
        info->images = (*out)->n;
    return rc;
}

int crest_image_folder_load(crest_dataset **out, const char *dir, const crest_image_opts *o)
{
    if (!out || !dir)
        return cr_fail(CREST_E_ARG, "image_folder_load: NULL argument");
    *out = NULL;
    int rc = cr_image_check_opts(o);
    if (rc)
        return rc;
    crest_dataset *lazy = NULL, *d = NULL;
    if ((rc = open_folder(&lazy, dir, o, NULL)))
        return rc;
    float one = 0;
    int32_t zero = 0;
    rc = crest_dataset_new(&d, 0, lazy->shape, &one, &zero, lazy->n_classes);
    if (!rc) {   /* decode every file straight into its row */
        cr_free(d->x);
        d->x = cr_malloc((lazy->n ? lazy->n : 1) * (size_t)d->stride * sizeof(float));
        if (!d->x)
            rc = cr_fail(CREST_E_NOMEM, "%s: out of memory for %zu images", dir, lazy->n);
    }
    if (!rc)
        rc = cr_dataset_gather(lazy, NULL, 0, (int64_t)lazy->n, d->x);
    if (!rc) {
        cr_free(d->labels);
        d->labels = lazy->labels;   /* adopted, with the names and options */
        lazy->labels = NULL;
        d->n = lazy->n;
        d->class_names = lazy->class_names;
        d->n_class_names = lazy->n_class_names;
        d->image = lazy->image;
        lazy->class_names = NULL;
        lazy->n_class_names = 0;
        lazy->image = NULL;
        *out = d;
        d = NULL;
    }
    crest_dataset_free(d);
    crest_dataset_free(lazy);
    return rc;
}

const char *crest_dataset_class_name(const crest_dataset *d, int k)
{
    return d && d->class_names && k >= 0 && k < d->n_class_names ? d->class_names[k] : NULL;
}

const crest_image_opts *crest_dataset_image_opts(const crest_dataset *d)
{
    return d ? d->image : NULL;
}

/* ---- the stratified split ---------------------------------------------- */

/* Marks, in every class, round(fraction * count) (at most count - 1) of its
 * samples as validation, chosen by a seeded shuffle of the class's rows. */
static int mark_val(const crest_dataset *d, double fraction, uint64_t seed, bool *is_val)
{
    size_t *rows = cr_malloc((d->n ? d->n : 1) * sizeof *rows);
    if (!rows)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    cr_rng r;
    cr_rng_seed(&r, seed);
    for (int k = 0; k < d->n_classes; k++) {
        size_t c = 0;
        for (size_t i = 0; i < d->n; i++)
            if (d->labels[i] == k)
                rows[c++] = i;
        size_t take = (size_t)(fraction * (double)c + 0.5);
        if (take >= c)
            take = c ? c - 1 : 0;
        for (size_t i = 0; i < take; i++) {   /* partial Fisher-Yates */
            size_t j = i + (size_t)cr_rng_below(&r, c - i), t = rows[i];
            rows[i] = rows[j];
            rows[j] = t;
            is_val[rows[i]] = true;
        }
    }
    cr_free(rows);
    return CREST_OK;
}

int crest_dataset_split(const crest_dataset *d, double fraction, uint64_t seed,
                        crest_dataset **train, crest_dataset **val)
{
    if (!d || !train || !val)
        return cr_fail(CREST_E_ARG, "dataset_split: NULL argument");
    *train = *val = NULL;
    if (!d->labels)
        return cr_fail(CREST_E_ARG, "dataset_split: a stratified split needs integer labels");
    if (!(fraction > 0 && fraction < 1))
        return cr_fail(CREST_E_ARG, "dataset_split: fraction %g is not in (0, 1)", fraction);
    bool *is_val = cr_calloc(d->n ? d->n : 1, sizeof *is_val);
    size_t *rows = cr_malloc((d->n ? d->n : 1) * sizeof *rows);
    int rc = is_val && rows ? mark_val(d, fraction, seed, is_val)
                            : cr_fail(CREST_E_NOMEM, "out of memory");
    for (int part = 0; part < 2 && !rc; part++) {
        size_t n = 0;
        for (size_t i = 0; i < d->n; i++)
            if (is_val[i] == (part == 1))
                rows[n++] = i;
        rc = cr_dataset_take(d, rows, n, part ? val : train);
    }
    if (rc) {
        crest_dataset_free(*train);
        *train = NULL;
    }
    cr_free(is_val);
    cr_free(rows);
    return rc;
}
