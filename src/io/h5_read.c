/* h5_read.c - the libhdf5 side of crest's Keras .h5 reader (src/io/h5.c).
 *
 * It runs in a child process (cr_h5_stream, called after fork): libhdf5 1.10
 * is not hardened against damaged files (fuzzing found heap overflows in its
 * attribute decoder and allocations sized from the file), so whatever it
 * does with a hostile file stays in a process that only reads that file.
 * It writes what it read to a pipe as records (src/io/h5.h), which the
 * parent checks before believing any of it:
 *   'M' u32 n, n bytes         crest's metadata JSON (files crest wrote)
 *   'C' u32 n, n bytes         the model_config JSON (whole-model files)
 *   'L' u32 n, name, u32 k, k x (u32 n, name)   a layer with k weights
 *   'W' u32 ndim, ndim x u64 dims, float32 values   the next weight's data
 *   'E' u32 n, message         an error (the stream ends)
 *   'D'                        the end
 * The layout it reads (Keras 2.x model.save / save_weights to .h5;
 * tools/h5/KERAS_FORMATS.md says where each fact comes from):
 *   /                attrs keras_version, backend, model_config,
 *                    training_config (not read)
 *   /model_weights   attr layer_names (model.layers order); one group per
 *                    layer, attr weight_names (the layer's order), each the
 *                    path of a dataset below that group ("dense_1/kernel:0")
 *   /optimizer_weights  not read
 * A weights-only file has layer_names and the layer groups at its root.
 * Attributes over HDF5's 64 KiB object-header limit are written in chunks
 * NAME0, NAME1, ... Datasets of any float type are read as float32.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "io/child.h"
#include "io/h5.h"

#include <hdf5.h>
#include <unistd.h>

#define H5_MAX_STRING (64u << 20)      /* one attribute's text */
#define H5_MAX_NAMES 100000            /* layer or weight names in one list */

/* ---- attributes ---------------------------------------------------------- */

/* A list of strings: data holds count NUL-terminated strings back to back. */
typedef struct h5_strings {
    char *data;
    size_t len;
    int count;
} h5_strings;

static void strings_free(h5_strings *s)
{
    cr_free(s->data);
    *s = (h5_strings){ 0 };
}

static int strings_add(h5_strings *s, const char *p, size_t n)
{
    if (s->count >= H5_MAX_NAMES || s->len + n + 1 > H5_MAX_STRING)
        return cr_fail(CREST_E_FORMAT, "too many or too long names");
    char *d = cr_realloc(s->data, s->len + n + 1);
    if (!d)
        return cr_fail(CREST_E_NOMEM, "out of memory reading names");
    memcpy(d + s->len, p, n);
    d[s->len + n] = 0;
    s->data = d;
    s->len += n + 1;
    s->count++;
    return CREST_OK;
}

/* Fixed-length strings: each element is size bytes, NUL- or space-padded. */
static int read_fixed(hid_t a, hid_t type, hssize_t n, h5_strings *s)
{
    size_t size = H5Tget_size(type);
    if (size == 0 || size > H5_MAX_STRING || (size_t)n > H5_MAX_STRING / size)
        return cr_fail(CREST_E_FORMAT, "string attribute is too large");
    char *buf = cr_malloc((size_t)n * size + 1);
    hid_t mt = H5Tcopy(H5T_C_S1);
    int rc = CREST_OK;
    if (!buf || mt < 0) {
        rc = cr_fail(CREST_E_NOMEM, "out of memory reading a string attribute");
        goto out;
    }
    if (H5Tset_size(mt, size) < 0 || H5Tset_strpad(mt, H5T_STR_NULLPAD) < 0 ||
        H5Tset_cset(mt, H5Tget_cset(type)) < 0 ||
        H5Aread(a, mt, buf) < 0) {
        rc = cr_fail(CREST_E_FORMAT, "string attribute cannot be read");
        goto out;
    }
    for (hssize_t i = 0; !rc && i < n; i++) {
        const char *p = buf + (size_t)i * size;
        size_t len = strnlen(p, size);
        rc = strings_add(s, p, len);
    }
out:
    if (mt >= 0)
        H5Tclose(mt);
    cr_free(buf);
    return rc;
}

/* Variable-length strings. */
static int read_variable(hid_t a, hid_t type, hssize_t n, h5_strings *s)
{
    if ((size_t)n > H5_MAX_NAMES)
        return cr_fail(CREST_E_FORMAT, "string attribute has too many elements");
    char **v = cr_calloc((size_t)n ? (size_t)n : 1, sizeof *v);
    hid_t mt = H5Tcopy(H5T_C_S1), space = H5Aget_space(a);
    int rc = CREST_OK;
    bool read = false;
    if (!v || mt < 0 || space < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 ||
        H5Tset_cset(mt, H5Tget_cset(type)) < 0) {
        rc = cr_fail(CREST_E_NOMEM, "out of memory reading a string attribute");
        goto out;
    }
    if (H5Aread(a, mt, v) < 0) {
        rc = cr_fail(CREST_E_FORMAT, "string attribute cannot be read");
        goto out;
    }
    read = true;
    for (hssize_t i = 0; !rc && i < n; i++)
        rc = strings_add(s, v[i] ? v[i] : "", v[i] ? strnlen(v[i], H5_MAX_STRING) : 0);
out:
    if (read)
        H5Dvlen_reclaim(mt, space, H5P_DEFAULT, v);
    if (space >= 0)
        H5Sclose(space);
    if (mt >= 0)
        H5Tclose(mt);
    cr_free(v);
    return rc;
}

/* Appends the strings of attribute `name` of obj (a string or an array of
 * strings); *found is false when obj has no such attribute. */
static int attr_strings_one(hid_t obj, const char *name, h5_strings *s, bool *found)
{
    *found = false;
    htri_t ex = H5Aexists(obj, name);
    if (ex <= 0)
        return ex < 0 ? cr_fail(CREST_E_FORMAT, "attribute '%s' cannot be read", name) : CREST_OK;
    *found = true;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t type = a >= 0 ? H5Aget_type(a) : -1, space = a >= 0 ? H5Aget_space(a) : -1;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    int rc;
    if (a < 0 || type < 0 || n < 0)
        rc = cr_fail(CREST_E_FORMAT, "attribute '%s' cannot be opened", name);
    else if (n == 0)
        rc = CREST_OK;                 /* numpy's empty list: any element type */
    else if (H5Tget_class(type) != H5T_STRING)
        rc = cr_fail(CREST_E_FORMAT, "attribute '%s' is not text", name);
    else if (H5Tis_variable_str(type) > 0)
        rc = read_variable(a, type, n, s);
    else
        rc = read_fixed(a, type, n, s);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (a >= 0)
        H5Aclose(a);
    return rc ? cr_wrap(rc, "attribute '%s'", name) : CREST_OK;
}

/* Attribute `name`, or its chunks name0, name1, ... as Keras writes an
 * attribute over the object-header limit. */
static int attr_strings(hid_t obj, const char *name, h5_strings *s, bool *found)
{
    int rc = attr_strings_one(obj, name, s, found);
    bool chunked = !rc && !*found;
    for (int i = 0; chunked && i < H5_MAX_NAMES; i++) {
        char chunk[256];
        bool got;
        snprintf(chunk, sizeof chunk, "%s%d", name, i);
        if ((rc = attr_strings_one(obj, chunk, s, &got)) || !got)
            break;
        *found = true;
    }
    if (!rc && *found && s->count == 0 && strcmp(name, "weight_names") != 0)
        rc = cr_fail(CREST_E_FORMAT, "attribute '%s' is empty", name);
    return rc;
}

static const char *strings_at(const h5_strings *s, int i)
{
    const char *p = s->data;
    while (i-- > 0)
        p += strlen(p) + 1;
    return p;
}


/* ---- the file ------------------------------------------------------------- */

static int send_config(hid_t file, cr_child_out *o)
{
    h5_strings s = { 0 };
    bool found;
    int rc = attr_strings(file, "crest_metadata", &s, &found);
    if (!rc && found && s.count == 1) {
        cr_child_put_tag(o, 'M');
        cr_child_put_str(o, s.data);
    }
    strings_free(&s);
    if (!rc)
        rc = attr_strings(file, "model_config", &s, &found);
    if (!rc && found && s.count != 1)
        rc = cr_fail(CREST_E_FORMAT, "model_config holds %d strings, not one", s.count);
    if (!rc && found) {
        cr_child_put_tag(o, 'C');
        cr_child_put_str(o, s.data);
    }
    strings_free(&s);
    return rc;
}

/* The group holding layer_names: model_weights, or the root. */
static hid_t weights_group(hid_t file)
{
    if (H5Lexists(file, "model_weights", H5P_DEFAULT) <= 0)
        return file;
    H5O_info_t info;
    if (H5Oget_info_by_name(file, "model_weights", &info, H5P_DEFAULT) < 0 ||
        info.type != H5O_TYPE_GROUP) {
        cr_fail(CREST_E_FORMAT, "model_weights is not a group");
        return -1;
    }
    hid_t g = H5Gopen2(file, "model_weights", H5P_DEFAULT);
    if (g < 0)
        cr_fail(CREST_E_FORMAT, "model_weights cannot be opened");
    return g;
}

int cr_h5_send_dataset(hid_t g, const char *wname, cr_child_out *o)
{
    hid_t d = H5Dopen2(g, wname, H5P_DEFAULT);
    hid_t space = d >= 0 ? H5Dget_space(d) : -1, type = d >= 0 ? H5Dget_type(d) : -1;
    int nd = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1, rc = CREST_OK;
    hsize_t dims[H5S_MAX_RANK];
    float *v = NULL;
    if (d < 0 || space < 0 || type < 0 || nd < 0 || nd > CR_H5_MAX_RANK ||
        H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        rc = cr_fail(CREST_E_FORMAT, "no readable dataset '%s'", wname);
        goto out;
    }
    if (H5Tget_class(type) != H5T_FLOAT) {
        rc = cr_fail(CREST_E_FORMAT, "dataset '%s' does not hold floating-point numbers", wname);
        goto out;
    }
    uint64_t count = 1;
    for (int i = 0; i < nd; i++) {
        count *= dims[i];
        if (dims[i] > CR_H5_MAX_VALUES || count > CR_H5_MAX_VALUES) {
            rc = cr_fail(CREST_E_FORMAT, "dataset '%s' is too large", wname);
            goto out;
        }
    }
    v = cr_malloc(count ? count * sizeof *v : 1);
    if (!v) {
        rc = cr_fail(CREST_E_NOMEM, "out of memory reading dataset '%s'", wname);
        goto out;
    }
    if (count && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        rc = cr_fail(CREST_E_FORMAT, "dataset '%s' cannot be read", wname);
        goto out;
    }
    cr_child_put_tag(o, 'W');
    cr_child_put_u32(o, (uint32_t)nd);
    for (int i = 0; i < nd; i++) {
        uint64_t di = dims[i];
        cr_child_put(o, &di, sizeof di);
    }
    cr_child_put(o, v, count * sizeof *v);
out:
    cr_free(v);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (d >= 0)
        H5Dclose(d);
    return rc;
}

/* A layer: its 'L' record, then each weight's 'W'. */
static int send_layer(hid_t wg, const char *lname, cr_child_out *o)
{
    if (H5Lexists(wg, lname, H5P_DEFAULT) <= 0)
        return cr_fail(CREST_E_FORMAT, "layer_names lists '%s', which has no group", lname);
    hid_t g = H5Gopen2(wg, lname, H5P_DEFAULT);
    if (g < 0)
        return cr_fail(CREST_E_FORMAT, "group '%s' cannot be opened", lname);
    h5_strings wn = { 0 };
    bool found;
    int rc = attr_strings(g, "weight_names", &wn, &found);
    if (!rc && !found)
        rc = cr_fail(CREST_E_FORMAT, "group '%s' has no weight_names", lname);
    if (!rc) {
        cr_child_put_tag(o, 'L');
        cr_child_put_str(o, lname);
        cr_child_put_u32(o, (uint32_t)wn.count);
        for (int j = 0; j < wn.count; j++)
            cr_child_put_str(o, strings_at(&wn, j));
    }
    for (int j = 0; !rc && j < wn.count; j++)
        rc = cr_h5_send_dataset(g, strings_at(&wn, j), o);
    strings_free(&wn);
    H5Gclose(g);
    return rc ? cr_wrap(rc, "layer '%s'", lname) : CREST_OK;
}

static int send_file(hid_t file, cr_child_out *o)
{
    hid_t wg = weights_group(file);
    if (wg < 0)
        return CREST_E_FORMAT;
    h5_strings names = { 0 };
    bool found;
    int rc = attr_strings(wg, "layer_names", &names, &found);
    if (!rc && !found)
        rc = cr_fail(CREST_E_FORMAT, "no layer_names: not a Keras model or weights file");
    if (!rc)
        rc = send_config(file, o);
    for (int i = 0; !rc && i < names.count && !o->broken; i++)
        rc = send_layer(wg, strings_at(&names, i), o);
    strings_free(&names);
    if (wg != file)
        H5Gclose(wg);
    return rc;
}

void cr_h5_stream(const char *path, const void *arg, int fd)
{
    (void)arg;
    cr_child_out o = { .fd = fd };
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = file < 0 ? cr_fail(CREST_E_FORMAT, "not an HDF5 file, or a damaged one")
                      : send_file(file, &o);
    if (file >= 0)
        H5Fclose(file);
    cr_child_put_end(&o, rc);
}
