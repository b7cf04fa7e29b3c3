/* h5_write.c - a model as a Keras 2.x HDF5 file (.h5), through libhdf5.
 *
 * The layout h5_read.c reads (tools/h5/KERAS_FORMATS.md): root attributes
 * keras_version, backend, model_config; group model_weights with
 * layer_names, one group per layer with weight_names ("dense/kernel:0") and
 * a float32 dataset per weight. String attributes are fixed-length bytes
 * as Keras writes them, split into NAME0, NAME1, ... past HDF5's 64,512-
 * byte object-header limit, as Keras does. keras_version says "2.4.0": the
 * layout is that version's, and Keras' loader converts weights only for
 * files it takes for Keras 1. crest's own extras (class names, input
 * transform) go in a root attribute crest_metadata.
 *
 * libhdf5 writes "<path>.tmp.<pid>", which is synced and renamed onto path,
 * so a save that dies leaves the old file or the new.
 * libhdf5 is not thread-safe: the whole build holds one mutex. Only the
 * model's own data goes through libhdf5 here; reading untrusted files runs
 * in a child process (h5.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "json.h"
#include "io/h5.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define HEADER_LIMIT 64512             /* Keras' HDF5_OBJECT_HEADER_LIMIT */

static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;

int cr_h5_put_strings(hid_t obj, const char *name, const char *const *s, size_t n, bool scalar,
                      bool utf8)
{
    size_t w = 1;
    for (size_t i = 0; i < n; i++)
        w = strlen(s[i]) > w ? strlen(s[i]) : w;
    char *buf = cr_calloc(n ? n : 1, w);
    hid_t t = H5Tcopy(H5T_C_S1), sp = -1, a = -1;
    hsize_t dim = n;
    int rc = CREST_OK;
    if (!buf || t < 0) {
        rc = cr_fail(CREST_E_NOMEM, "out of memory writing attribute '%s'", name);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(buf + i * w, s[i], strlen(s[i]));
    sp = scalar && n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    if (H5Tset_size(t, w) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 || sp < 0 ||
        (utf8 && H5Tset_cset(t, H5T_CSET_UTF8) < 0) || (a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(a, t, buf) < 0)
        rc = cr_fail(CREST_E_IO, "cannot write attribute '%s'", name);
out:
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    cr_free(buf);
    return rc;
}

/* A fixed-length string attribute of n strings (Keras' model_config: a scalar). */
static int put_attr(hid_t obj, const char *name, const char *const *s, size_t n)
{
    return cr_h5_put_strings(obj, name, s, n, strcmp(name, "model_config") == 0, false);
}

/* A list attribute, in chunks NAME0, NAME1, ... when it is too large for one
 * object header (each chunk as numpy.array_split would cut it). */
static int put_list(hid_t obj, const char *name, const char *const *s, size_t n)
{
    size_t w = 1;
    for (size_t i = 0; i < n; i++)
        w = strlen(s[i]) > w ? strlen(s[i]) : w;
    size_t chunks = 1;
    while ((n + chunks - 1) / chunks * w > HEADER_LIMIT && chunks < n)
        chunks++;
    if (chunks == 1)
        return put_attr(obj, name, s, n);
    int rc = CREST_OK;
    for (size_t c = 0, at = 0; !rc && c < chunks; c++) {
        size_t len = n / chunks + (c < n % chunks);
        char cname[256];
        snprintf(cname, sizeof cname, "%s%zu", name, c);
        rc = put_attr(obj, cname, s + at, len);
        at += len;
    }
    return rc;
}

/* One layer's group: weight_names and a dataset per weight. */
static int put_layer(hid_t mw, const crest_layer *l)
{
    hid_t g = H5Gcreate2(mw, l->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    char **names = cr_calloc((size_t)l->n_w + 1, sizeof *names);
    int rc = CREST_OK;
    if (g < 0 || lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0 || !names) {
        rc = cr_fail(CREST_E_NOMEM, "cannot create the group of layer '%s'", l->name);
        goto out;
    }
    for (int j = 0; !rc && j < l->n_w; j++) {
        const cr_weight *w = l->w[j];
        size_t len = strlen(l->name) + strlen(w->name) + 4;
        if (!(names[j] = cr_malloc(len))) {
            rc = cr_fail(CREST_E_NOMEM, "out of memory");
            break;
        }
        snprintf(names[j], len, "%s/%s:0", l->name, w->name);
        hsize_t dims[CR_MAX_DIMS];
        for (int i = 0; i < w->shape.ndim; i++)
            dims[i] = (hsize_t)w->shape.d[i];
        hid_t sp = w->shape.ndim ? H5Screate_simple(w->shape.ndim, dims, NULL)
                                 : H5Screate(H5S_SCALAR);
        hid_t d = sp >= 0 ? H5Dcreate2(g, names[j], H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT,
                                       H5P_DEFAULT) : -1;
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->val) < 0)
            rc = cr_fail(CREST_E_IO, "cannot write weight '%s'", names[j]);
        if (d >= 0)
            H5Dclose(d);
        if (sp >= 0)
            H5Sclose(sp);
    }
    if (!rc)
        rc = put_list(g, "weight_names", (const char *const *)names, (size_t)l->n_w);
out:
    for (int j = 0; names && j < l->n_w; j++)
        cr_free(names[j]);
    cr_free(names);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (g >= 0)
        H5Gclose(g);
    return rc ? cr_wrap(rc, "layer '%s'", l->name) : CREST_OK;
}

static int put_weights(hid_t file, const crest_model *m)
{
    hid_t mw = H5Gcreate2(file, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char **names = cr_calloc((size_t)m->n_layers + 1, sizeof *names);
    const char *ver = "2.4.0", *be = "tensorflow";
    int rc = mw < 0 || !names ? cr_fail(CREST_E_NOMEM, "cannot create model_weights") : 0;
    for (int i = 0; !rc && i < m->n_layers; i++)
        names[i] = m->layers[i]->name;
    if (!rc && !(rc = put_list(mw, "layer_names", names, (size_t)m->n_layers)) &&
        !(rc = put_attr(mw, "keras_version", &ver, 1)))
        rc = put_attr(mw, "backend", &be, 1);
    for (int i = 0; !rc && i < m->n_layers; i++)
        rc = put_layer(mw, m->layers[i]);
    cr_free(names);
    if (mw >= 0)
        H5Gclose(mw);
    return rc;
}

/* {"class_name", "config"} of m as text (Keras' model_config). */
static int model_config(crest_model *m, char **out)
{
    *out = NULL;
    unsigned long mark = cr_json_mark();
    cJSON *top = cr_model_to_json(m);
    int rc = cr_json_check(mark, "save");
    if (!top)
        return rc ? rc : CREST_E_FORMAT;
    cJSON_DeleteItemFromObjectCaseSensitive(top, "keras_version");
    cJSON_DeleteItemFromObjectCaseSensitive(top, "backend");
    if (!rc)
        rc = cr_acts_for_format(top, false);
    if (!rc && !(*out = cr_json_print(top, false)))
        rc = cr_fail(CREST_E_NOMEM, "out of memory writing model_config");
    cJSON_Delete(top);
    return rc;
}

/* The whole file at tmp (libhdf5 writes it; closed on return). */
static int write_file(crest_model *m, const char *config, const char *tmp)
{
    const char *ver = "2.4.0", *be = "tensorflow", *gen = "crest " CREST_VERSION;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1;
    int rc = CREST_OK;
    char *meta = NULL;   /* crest's metadata, with custom layer classes' definitions */
    /* object headers of HDF5 1.8: an attribute over 64 KiB (model_config of
     * a deep model) then goes to dense storage instead of failing */
    if (fapl < 0 || H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0 ||
        (file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0) {
        rc = cr_fail(CREST_E_IO, "cannot create %s", tmp);
        goto out;
    }
    if ((rc = put_attr(file, "keras_version", &ver, 1)) || (rc = put_attr(file, "backend", &be, 1)) ||
        (rc = put_attr(file, "model_config", &config, 1)) ||
        (rc = put_attr(file, "crest_version", &gen, 1)) ||
        (rc = cr_custom_layers_meta(m, &meta)) ||
        (meta && (rc = put_attr(file, "crest_metadata", (const char *const *)&meta, 1))))
        goto out;
    rc = put_weights(file, m);
out:
    if (file >= 0 && H5Fclose(file) < 0 && !rc)
        rc = cr_fail(CREST_E_IO, "cannot write %s", tmp);
    if (fapl >= 0)
        H5Pclose(fapl);
    cr_free(meta);
    return rc;
}

/* fsync(path): the data is on disk before the rename makes it the file. */
static int sync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    int rc = fd < 0 || fsync(fd) != 0 ? cr_fail(CREST_E_IO, "%s: %s", path, strerror(errno))
                                      : CREST_OK;
    if (fd >= 0)
        close(fd);
    return rc;
}

int crest_model_save_h5(crest_model *m, const char *path)
{
    if (!m || !path || !*path)
        return cr_fail(CREST_E_ARG, "save_h5: model or path is NULL");
    if (m->quant)
        return cr_quant_refuse(m, "saved as Keras .h5 (Keras has no int8 layers)");
    char *config = NULL, tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return cr_fail(CREST_E_ARG, "%s: path too long", path);
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
             slash ? path : ".");
    cr_remove_dead_temps(dir);         /* what earlier killed saves left */
    int rc = cr_model_build(m);
    if (!rc)
        rc = cr_check_finite(m);
    if (!rc)
        rc = model_config(m, &config);
    if (!rc) {
        pthread_mutex_lock(&write_mu);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        rc = write_file(m, config, tmp);
        pthread_mutex_unlock(&write_mu);
    }
    if (!rc && !(rc = sync_file(tmp)) && rename(tmp, path) != 0)
        rc = cr_fail(CREST_E_IO, "rename to %s: %s", path, strerror(errno));
    if (!rc)
        rc = cr_sync_dir_of(path);
    else
        unlink(tmp);
    cJSON_free(config);
    return rc ? cr_wrap(rc, "%s", path) : CREST_OK;
}
