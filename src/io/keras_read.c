/* keras_read.c - the child's side of the Keras 3 reader (src/io/keras.h):
 * libzip opens the .keras zip, libhdf5 the model.weights.h5 it holds, both
 * in a process that only reads this file (src/io/child.h).
 *
 * The layout (tools/h5/KERAS_FORMATS.md says where each fact comes from):
 *   config.json        {"module", "class_name", "config", "registered_name",
 *                       "build_config", "compile_config"} of the model
 *   metadata.json      {"keras_version", "date_saved"}
 *   model.weights.h5   a group per saveable object: "vars" at the root
 *                      (the model's own variables), "layers/<name>/vars"
 *                      per layer, where <name> is the layer's class in snake
 *                      case with _1, _2, ... for repeats; a nested model's
 *                      layers below "layers/<name>/layers/..."; datasets
 *                      "0", "1", ... in the layer's variable order;
 *                      "optimizer/vars" etc. (not read)
 * Keras 2.13 to 2.15 named the top group "_layer_checkpoint_dependencies".
 * The zip is opened with libzip's consistency checks; a member is read
 * whole (its CRC is checked at the end) and model.weights.h5 is opened
 * from memory by libhdf5's core driver. */
#define _POSIX_C_SOURCE 200809L
#include "io/child.h"
#include "io/h5.h"
#include "io/keras.h"

#include <hdf5.h>
#include <zip.h>

#define MAX_NAMES 100000              /* members of one group */

/* ---- the zip ------------------------------------------------------------- */

/* Member name of za into cr_malloc'd *out (*len bytes); *found false when
 * the zip has no such member. */
static int read_member(zip_t *za, const char *name, size_t max, char **out, size_t *len,
                       bool *found)
{
    zip_stat_t st;
    *out = NULL;
    *len = 0;
    *found = false;
    zip_stat_init(&st);
    if (zip_stat(za, name, 0, &st) != 0)
        return CREST_OK;
    *found = true;
    if (!(st.valid & ZIP_STAT_SIZE))
        return cr_fail(CREST_E_FORMAT, "member %s: no size", name);
    if (st.size > max)
        return cr_fail(CREST_E_FORMAT, "member %s holds %llu bytes (at most %zu)", name,
                       (unsigned long long)st.size, max);
    char *buf = cr_malloc((size_t)st.size + 1);
    zip_file_t *zf = buf ? zip_fopen(za, name, 0) : NULL;
    if (!buf) {
        return cr_fail(CREST_E_NOMEM, "out of memory for member %s", name);
    }
    if (!zf) {
        cr_free(buf);
        return cr_fail(CREST_E_FORMAT, "member %s cannot be opened: %s", name,
                       zip_strerror(za));
    }
    zip_uint64_t got = 0;
    int rc = CREST_OK;
    while (got < st.size) {
        zip_int64_t k = zip_fread(zf, buf + got, st.size - got);
        if (k <= 0) {
            rc = cr_fail(CREST_E_FORMAT, "member %s is damaged (%s)", name,
                         k < 0 ? zip_file_strerror(zf) : "shorter than its size");
            break;
        }
        got += (zip_uint64_t)k;
    }
    char extra;
    if (!rc && zip_fread(zf, &extra, 1) != 0)   /* the end: libzip checks the CRC */
        rc = cr_fail(CREST_E_FORMAT, "member %s is damaged (%s)", name, zip_file_strerror(zf));
    zip_fclose(zf);
    if (rc) {
        cr_free(buf);
        return rc;
    }
    buf[st.size] = 0;
    *out = buf;
    *len = (size_t)st.size;
    return CREST_OK;
}

/* ---- model.weights.h5 ------------------------------------------------------ */

typedef struct names {
    char **v;
    int n;
} names;

static void names_free(names *s)
{
    for (int i = 0; i < s->n; i++)
        cr_free(s->v[i]);
    cr_free(s->v);
    *s = (names){ 0 };
}

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g;
    (void)info;
    names *s = data;
    if (s->n >= MAX_NAMES)
        return -1;
    char **v = cr_realloc(s->v, (size_t)(s->n + 1) * sizeof *v);
    if (!v)
        return -1;
    s->v = v;
    if (!(s->v[s->n] = cr_malloc(strlen(name) + 1)))
        return -1;
    strcpy(s->v[s->n++], name);
    return 0;
}

static bool is_group(hid_t at, const char *name)
{
    H5O_info_t info;
    return H5Lexists(at, name, H5P_DEFAULT) > 0 &&
           H5Oget_info_by_name(at, name, &info, H5P_DEFAULT) >= 0 && info.type == H5O_TYPE_GROUP;
}

/* The group path/vars: an 'L' record, then each dataset "0".."k-1". */
static int send_vars(hid_t g, const char *path, cr_child_out *o)
{
    hid_t vars = H5Gopen2(g, "vars", H5P_DEFAULT);
    if (vars < 0)
        return cr_fail(CREST_E_FORMAT, "group '%s/vars' cannot be opened", path);
    H5G_info_t info;
    int rc = CREST_OK;
    if (H5Gget_info(vars, &info) < 0 || info.nlinks > MAX_NAMES) {
        rc = cr_fail(CREST_E_FORMAT, "group '%s/vars' cannot be read", path);
        goto out;
    }
    int k = (int)info.nlinks;
    for (int i = 0; !rc && i < k; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "%d", i);
        if (H5Lexists(vars, nm, H5P_DEFAULT) <= 0)
            rc = cr_fail(CREST_E_FORMAT, "group '%s/vars' holds %d members but no '%s' (Keras "
                         "numbers a layer's variables 0, 1, ...)", path, k, nm);
    }
    if (rc)
        goto out;
    cr_child_put_tag(o, 'L');
    cr_child_put_str(o, path);
    cr_child_put_u32(o, (uint32_t)k);
    for (int i = 0; !rc && i < k && !o->broken; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "%d", i);
        if ((rc = cr_h5_send_dataset(vars, nm, o)))
            cr_wrap(rc, "'%s/vars'", path);
    }
out:
    H5Gclose(vars);
    return rc;
}

/* Every member of the container group g (path prefix): its vars, and the
 * layers of a nested model below it. */
static int send_container(hid_t g, const char *prefix, int depth, cr_child_out *o)
{
    if (depth > CR_KERAS_MAX_DEPTH)
        return cr_fail(CREST_E_FORMAT, "'%s': models nested deeper than %d", prefix,
                       CR_KERAS_MAX_DEPTH);
    names s = { 0 };
    hsize_t idx = 0;
    int rc = CREST_OK;
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &s) < 0)
        rc = cr_fail(CREST_E_FORMAT, "group '%s' cannot be listed", prefix);
    for (int i = 0; !rc && i < s.n && !o->broken; i++) {
        if (!is_group(g, s.v[i]))
            continue;
        size_t len = strlen(prefix) + strlen(s.v[i]) + 2;
        char *path = cr_malloc(len);
        hid_t sub = path ? H5Gopen2(g, s.v[i], H5P_DEFAULT) : -1;
        if (!path || sub < 0) {
            cr_free(path);
            rc = cr_fail(CREST_E_FORMAT, "group '%s/%s' cannot be opened", prefix, s.v[i]);
            break;
        }
        snprintf(path, len, "%s/%s", prefix, s.v[i]);
        if (is_group(sub, "vars"))
            rc = send_vars(sub, path, o);
        if (!rc && is_group(sub, "layers")) {
            hid_t inner = H5Gopen2(sub, "layers", H5P_DEFAULT);
            size_t l2 = strlen(path) + 8;
            char *p2 = inner >= 0 ? cr_malloc(l2) : NULL;
            if (!p2)
                rc = cr_fail(CREST_E_FORMAT, "group '%s/layers' cannot be opened", path);
            else {
                snprintf(p2, l2, "%s/layers", path);
                rc = send_container(inner, p2, depth + 1, o);
            }
            cr_free(p2);
            if (inner >= 0)
                H5Gclose(inner);
        }
        H5Gclose(sub);
        cr_free(path);
    }
    names_free(&s);
    return rc;
}

static int send_weights_file(hid_t file, cr_child_out *o)
{
    const char *top = is_group(file, "layers") ? "layers"
                      : is_group(file, "_layer_checkpoint_dependencies")
                          ? "_layer_checkpoint_dependencies" : NULL;
    if (!top)
        return CREST_OK;               /* no layer has weights: the parent decides */
    hid_t g = H5Gopen2(file, top, H5P_DEFAULT);
    if (g < 0)
        return cr_fail(CREST_E_FORMAT, "group '%s' cannot be opened", top);
    int rc = send_container(g, "layers", 0, o);
    H5Gclose(g);
    return rc;
}

/* model.weights.h5 from memory (libhdf5's core driver, no backing file). */
static int send_weights_image(void *buf, size_t len, cr_child_out *o)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1;
    int rc;
    if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 16, 0) < 0 ||
        H5Pset_file_image(fapl, buf, len) < 0)
        rc = cr_fail(CREST_E_NOMEM, "model.weights.h5 cannot be opened in memory");
    else if ((file = H5Fopen("model.weights.h5", H5F_ACC_RDONLY, fapl)) < 0)
        rc = cr_fail(CREST_E_FORMAT, "model.weights.h5 is not an HDF5 file, or a damaged one");
    else
        rc = send_weights_file(file, o);
    if (file >= 0)
        H5Fclose(file);
    if (fapl >= 0)
        H5Pclose(fapl);
    return rc ? cr_wrap(rc, "model.weights.h5") : CREST_OK;
}

static int send_zip(const char *path, cr_child_out *o)
{
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        int rc = cr_fail(CREST_E_FORMAT, "not a .keras zip, or a damaged one (libzip: %s)",
                         zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return rc;
    }
    char *text = NULL;
    size_t len;
    bool found;
    int rc = read_member(za, "metadata.json", CR_KERAS_MAX_JSON, &text, &len, &found);
    if (!rc && found) {
        cr_child_put_tag(o, 'M');
        cr_child_put_bytes(o, text, (uint32_t)len);
    }
    cr_free(text);
    if (!rc)
        rc = read_member(za, "config.json", CR_KERAS_MAX_JSON, &text, &len, &found);
    if (!rc && !found)
        rc = cr_fail(CREST_E_FORMAT, "the zip has no member config.json (a .keras file holds "
                     "config.json, metadata.json and model.weights.h5)");
    if (!rc) {
        cr_child_put_tag(o, 'C');
        cr_child_put_bytes(o, text, (uint32_t)len);
    }
    cr_free(text);
    text = NULL;
    if (!rc)
        rc = read_member(za, "model.weights.h5", CR_KERAS_MAX_WEIGHTS, &text, &len, &found);
    if (!rc && !found) {
        zip_stat_t st;
        rc = zip_stat(za, "model.weights.npz", 0, &st) == 0
                 ? cr_fail(CREST_E_UNSUPPORTED, "weights saved as model.weights.npz are not "
                           "supported (save with weights_format='h5', Keras' default)")
                 : cr_fail(CREST_E_FORMAT, "the zip has no member model.weights.h5 (a .keras "
                           "file holds config.json, metadata.json and model.weights.h5)");
    }
    if (!rc)
        rc = send_weights_image(text, len, o);
    cr_free(text);
    zip_discard(za);
    return rc;
}

void cr_keras_stream(const char *path, const void *arg, int fd)
{
    const cr_keras_src *src = arg;
    cr_child_out o = { .fd = fd };
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc;
    if (src->zip) {
        rc = send_zip(path, &o);
    } else {
        hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        rc = file < 0 ? cr_fail(CREST_E_FORMAT, "not an HDF5 file, or a damaged one")
                      : send_weights_file(file, &o);
        if (file >= 0)
            H5Fclose(file);
    }
    cr_child_put_end(&o, rc);
}
