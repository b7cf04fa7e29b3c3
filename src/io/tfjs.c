/* tfjs.c - Keras models in TF.js layers format: model.json + weight shards.
 *
 * Save writes model.json (format "layers-model", modelTopology in Keras'
 * JSON form, weightsManifest) and one float32 shard whose name carries a
 * hash of its bytes. Both are written atomically (temp, fsync, rename,
 * fsync of the folder), shard first, so model.json always names a
 * complete shard: a run killed at any moment leaves either the old model
 * or the new one (tests/scripts/kill_resume.sh kills at every write,
 * fsync, rename and unlink of a save). Stale shards go last; temp files
 * of killed saves are removed by the next save.
 *
 * Load reads model.json, hands its modelTopology to the model-kind table
 * (cr_model_from_topology: Sequential, functional, registered custom
 * classes; layers parse their own configs), builds the model, then fills
 * its weights from the weights manifest by Keras name (cr_model_find_weight):
 * float32 / int32, and quantized uint8 / uint16 (min + scale * q) and
 * float16. Shard paths must stay inside the model's folder. This file
 * knows files and the format; nothing about model kinds or layers.
 */
#define _XOPEN_SOURCE 700
#include "../internal.h"
#include "json.h"
#include "io/h5.h"
#include "io/keras.h"
#include "io/tfjs_quant.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_JSON ((size_t)256 << 20)
#define MAX_SHARDS_BYTES ((size_t)4 << 30)

/* ---- save -------------------------------------------------------------- */

static uint64_t fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static int ensure_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? CREST_OK
                                   : cr_fail(CREST_E_IO, "%s: exists and is not a folder", dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return cr_fail(CREST_E_IO, "%s: %s", dir, strerror(errno));
    return cr_sync_dir_of(dir);   /* the new folder survives a crash too */
}

/* A temp file of cr_write_file_atomic ("<file>.tmp.<pid>", file model.json
 * or weights.*.bin) left by a save that was killed: its process is gone (or
 * it is this process, which has no write under way while it saves here). */
static bool stale_tmp(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t || (strncmp(name, "weights.", 8) && strncmp(name, "model.json.tmp.", 15)))
        return false;
    if (strncmp(name, "model.json", 10) && (t - name < 12 || strncmp(t - 4, ".bin", 4)))
        return false;
    char *end;
    errno = 0;
    long pid = strtol(t + 5, &end, 10);
    if (*end || end == t + 5 || pid <= 0 || errno)
        return false;
    if (pid == (long)getpid())
        return true;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Removes weights.*.bin files in dir other than keep (keep NULL: none), and
 * stale temp files of killed saves. */
static void remove_stale(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        bool old_shard = keep && strncmp(e->d_name, "weights.", 8) == 0 && n > 12 &&
                         strcmp(e->d_name + n - 4, ".bin") == 0 && strcmp(e->d_name, keep) != 0;
        if (old_shard || stale_tmp(e->d_name)) {
            char p[PATH_MAX];
            if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p)
                unlink(p);
        }
    }
    closedir(d);
}

/* The weights manifest of m (one group) into root: a spec per weight,
 * m->weights in order, float32 (crest_model_save_quantized adds each one's
 * "quantization"); its weights array, or NULL with failures left for
 * cr_json_check. */
static cJSON *add_manifest(cJSON *root, crest_model *m)
{
    cJSON *man = cJSON_AddArrayToObject(root, "weightsManifest");
    cJSON *grp = cJSON_CreateObject();
    cJSON_AddArrayToObject(grp, "paths");
    cJSON *specs = cJSON_AddArrayToObject(grp, "weights");
    for (int i = 0; i < m->n_weights; i++) {
        cr_weight *w = m->weights[i];
        char name[300];
        snprintf(name, sizeof name, "%s/%s", w->owner ? w->owner->name : "", w->name);
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "name", name);
        cr_json_add_dims(s, "shape", &w->shape, false);
        cJSON_AddStringToObject(s, "dtype", "float32");
        cr_json_push(specs, s);
    }
    cr_json_push(man, grp);   /* last: grp is gone if this fails */
    return specs;
}

/* The one shard's name, a hash of its bytes bin[0, total), into shard and
 * the manifest's paths. The shard is the model's parameter block as it is
 * (little-endian float32, as TF.js reads them on x86 and ARM) or its
 * quantized codes. */
static void name_shard(cJSON *root, const char *bin, size_t total, char shard[64])
{
    snprintf(shard, 64, "weights.%016llx.bin", (unsigned long long)fnv1a(bin, total));
    cJSON *grp = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "weightsManifest"), 0);
    cJSON *paths = cJSON_GetObjectItem(grp, "paths");
    if (paths)
        cr_json_push(paths, cJSON_CreateString(shard));
}

/* Every activation means in TF.js what it means in m (checked before the
 * folder is made). */
static int acts_ok(crest_model *m)
{
    unsigned long mark = cr_json_mark();
    cJSON *top = cr_model_to_json(m);
    int rc = cr_json_check(mark, "save");
    if (!rc)
        rc = top ? cr_acts_for_format(top, false) : CREST_E_FORMAT;
    cJSON_Delete(top);
    return rc;
}

int crest_model_save(crest_model *m, const char *dir)
{
    return crest_model_save_quantized(m, dir, CREST_WQ_NONE);
}

int crest_model_save_quantized(crest_model *m, const char *dir, crest_weight_quant q)
{
    if (!m || !dir || !*dir)
        return cr_fail(CREST_E_ARG, "save: model or folder is NULL");
    if ((int)q < (int)CREST_WQ_NONE || (int)q > (int)CREST_WQ_FLOAT16)
        return cr_fail(CREST_E_ARG, "save: unknown weight quantization %d", (int)q);
    if (q != CREST_WQ_NONE && m->quant)
        return cr_quant_refuse(m, "saved with TF.js' weight quantization (its kernels are int8 "
                               "already)");
    int rc = cr_model_build(m);
    if (rc || (rc = cr_params_pack(m)) || (rc = cr_check_finite(m)) || (rc = acts_ok(m)) ||
        (rc = ensure_dir(dir)))
        return rc;
    remove_stale(dir, NULL);   /* temp files of killed saves first: they may fill the disk */
    unsigned long mark = cr_json_mark();
    size_t total = (size_t)m->params.n * sizeof(float);
    const char *bin = (const char *)m->params.val;
    unsigned char *codes = NULL;   /* the quantized shard, if q */
    char *text = NULL, shard[64], path[PATH_MAX];
    cJSON *root = cJSON_CreateObject(), *top = NULL;
    if (!root) {
        rc = cr_fail(CREST_E_NOMEM, "save: out of memory");
        goto out;
    }
    cJSON_AddStringToObject(root, "format", "layers-model");
    cJSON_AddStringToObject(root, "generatedBy", "crest " CREST_VERSION);
    cJSON_AddNullToObject(root, "convertedBy");
    if (!(top = cr_model_to_json(m))) {   /* out of memory, or a layer that cannot be saved */
        if (!(rc = cr_json_check(mark, "save")))
            rc = CREST_E_FORMAT;
        goto out;
    }
    cr_json_put(root, "modelTopology", top);
    cJSON *specs = add_manifest(root, m);
    if (m->quant) {   /* int8 kernels as 1-byte codes, the ranges beside */
        if ((rc = cr_json_check(mark, "save")) ||
            (rc = cr_quant_shard(m, specs, &codes, &total)))
            goto out;
        bin = (const char *)codes;
        cr_json_put(root, "crestQuantization", cr_quant_json(m));
    } else if (q != CREST_WQ_NONE) {
        if ((rc = cr_json_check(mark, "save")) || (rc = cr_tfjs_quantize(m, q, specs, &codes, &total)))
            goto out;
        bin = (const char *)codes;
    }
    name_shard(root, bin, total, shard);
    char *meta_text = NULL;   /* with the definitions of custom layer classes */
    if ((rc = cr_custom_layers_meta(m, &meta_text)))
        goto out;
    if (meta_text) {
        cJSON *meta = NULL;
        rc = cr_json_parse(meta_text, 0, "metadata", &meta);
        cr_free(meta_text);
        if (rc)
            goto out;
        cr_json_put(root, "userDefinedMetadata", meta);
    }
    /* one check for every cJSON_Add* / Create* above and in the layers' save */
    if ((rc = cr_json_check(mark, "save")) || !(text = cr_json_print(root, false))) {
        rc = rc ? rc : CREST_E_NOMEM;
        goto out;
    }
    if (snprintf(path, sizeof path, "%s/%s", dir, shard) >= (int)sizeof path) {
        rc = cr_fail(CREST_E_ARG, "save: folder name too long");
        goto out;
    }
    if ((rc = cr_write_file_atomic(path, bin, total)))
        goto out;
    snprintf(path, sizeof path, "%s/model.json", dir);
    if ((rc = cr_write_file_atomic(path, text, strlen(text))))
        goto out;
    remove_stale(dir, shard);
out:
    cJSON_Delete(root);
    cJSON_free(text);
    cr_free(codes);
    return rc;
}

/* ---- load: topology ---------------------------------------------------- */

/* ---- load: weights ----------------------------------------------------- */

/* dir/rel, refusing absolute paths and anything that leaves dir. */
static int safe_join(const char *dir, const char *rel, char *out, size_t size)
{
    if (!*rel || rel[0] == '/' || strstr(rel, ".."))
        return cr_fail(CREST_E_FORMAT, "shard path '%s' leaves the model folder", rel);
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    if (snprintf(out, size, "%s/%s", dir, rel) >= (int)size)
        return cr_fail(CREST_E_FORMAT, "shard path '%s' is too long", rel);
    char rd[PATH_MAX], rp[PATH_MAX];
    if (!realpath(dir, rd))
        return cr_fail(CREST_E_IO, "%s: %s", dir, strerror(errno));
    if (!realpath(out, rp))
        return cr_fail(CREST_E_IO, "%s: %s (weights shard missing)", out, strerror(errno));
    size_t n = strlen(rd);
    if (strncmp(rp, rd, n) != 0 || rp[n] != '/')
        return cr_fail(CREST_E_FORMAT, "shard path '%s' leaves the model folder", rel);
    return CREST_OK;
}

static float half_to_float(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, f = h & 1023;
    float v;
    if (e == 0)
        v = ldexpf((float)f, -24);
    else if (e == 31)
        v = f ? NAN : INFINITY;
    else
        v = ldexpf((float)(f | 1024), e - 25);
    return s ? -v : v;
}

#define CR_MAX_SCALES 16384

/* crest's int8 weights (crest quantize): "scales", one positive number per
 * output channel (the shape's last axis); real = scale[c] * code. */
static int int8_scales(const cJSON *q, const cr_dims *shape, const char *name,
                       const cJSON **out)
{
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(q, "scales"), *x;
    int64_t oc = shape->ndim ? shape->d[shape->ndim - 1] : 1, n = cJSON_GetArraySize(sc);
    if (!cJSON_IsArray(sc) ||
        (n != oc && (shape->ndim < 2 || n != oc * shape->d[shape->ndim - 2])))
        return cr_fail(CREST_E_FORMAT, "weight '%s': int8 quantization needs \"scales\", one "
                       "per output channel (%lld)", name, (long long)oc);
    cJSON_ArrayForEach(x, sc) if (!cJSON_IsNumber(x) || !(x->valuedouble > 0) ||
                                  !(x->valuedouble < 1e30))
        return cr_fail(CREST_E_FORMAT, "weight '%s': int8 scale %s is not a positive number",
                       name, cJSON_IsNumber(x) ? "<= 0" : "not a number");
    *out = sc;
    return CREST_OK;
}

/* count int8 codes at p into w: code * scale[i % scales]. */
static int decode_int8(const unsigned char *p, int64_t count, const cJSON *scales, cr_weight *w,
                       const char *name)
{
    float sc[CR_MAX_SCALES];
    int noc = cJSON_GetArraySize(scales), k = 0;
    if (noc > CR_MAX_SCALES)
        return cr_fail(CREST_E_UNSUPPORTED, "weight '%s': %d int8 channels (at most %d)", name,
                       noc, CR_MAX_SCALES);
    const cJSON *sj;
    cJSON_ArrayForEach(sj, scales) sc[k++] = (float)sj->valuedouble;
    for (int64_t i = 0; i < count; i++)
        w->val[i] = (float)(int8_t)p[i] * sc[i % noc];
    return CREST_OK;
}

/* Decodes one weight spec at bytes[*off..]; stores into w (or skips if NULL). */
static int decode_weight(const cJSON *spec, const unsigned char *bytes, size_t len, size_t *off,
                         cr_weight *w, const char *name)
{
    cr_dims shape;
    int rc = cr_json_dims(spec, "shape", false, &shape);
    if (rc)
        return cr_wrap(rc, "weight '%s'", name);
    /* scalars are shape [] */
    int64_t count = cr_dims_count(&shape);
    const char *dtype = NULL;
    if ((rc = cr_json_str(spec, "dtype", "float32", &dtype)))
        return cr_wrap(rc, "weight '%s'", name);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(spec, "quantization");
    const char *qd = NULL;
    double qmin = 0, qscale = 1;
    const cJSON *scales = NULL;   /* crest's int8: one per output channel (last axis) */
    if (q && !cJSON_IsNull(q)) {
        if ((rc = cr_json_str(q, "dtype", NULL, &qd)))
            return cr_wrap(rc, "weight '%s' quantization", name);
        if (!strcmp(qd, "int8") && (rc = int8_scales(q, &shape, name, &scales)))
            return rc;
        if (strcmp(qd, "float16") != 0 && !scales &&
            ((rc = cr_json_num(q, "min", -1e30, 1e30, CR_JSON_REQUIRED, &qmin)) ||
             (rc = cr_json_num(q, "scale", -1e30, 1e30, CR_JSON_REQUIRED, &qscale))))
            return cr_wrap(rc, "weight '%s' quantization", name);
        if (strcmp(qd, "float16") != 0 && !scales && !(qscale > 0))
            return cr_fail(CREST_E_FORMAT, "weight '%s': quantization scale %g is not positive "
                           "(every value would be the same)", name, qscale);
    }
    size_t esize;
    if (qd)
        esize = strcmp(qd, "uint8") == 0 || scales ? 1 : strcmp(qd, "uint16") == 0 || strcmp(qd, "float16") == 0 ? 2 : 0;
    else
        esize = strcmp(dtype, "float32") == 0 || strcmp(dtype, "int32") == 0 ? 4 : 0;
    if (!esize)
        return cr_fail(CREST_E_UNSUPPORTED, "weight '%s': dtype %s is not supported", name,
                       qd ? qd : dtype);
    if (count < 0 || (size_t)count > (len - *off) / esize)
        return cr_fail(CREST_E_FORMAT,
                       "weight '%s': needs %lld bytes at offset %zu, the shards have %zu",
                       name, (long long)count * (long long)esize, *off, len);
    if (w) {
        if (!cr_dims_eq(&shape, &w->shape)) {
            char a[96], b[96];
            return cr_fail(CREST_E_SHAPE, "weight '%s': file has shape %s, the layer needs %s",
                           name, cr_dims_str(&shape, a, sizeof a),
                           cr_dims_str(&w->shape, b, sizeof b));
        }
        const unsigned char *p = bytes + *off;
        if (scales && (rc = decode_int8(p, count, scales, w, name)))
            return rc;
        for (int64_t i = 0; i < count && !scales; i++, p += esize) {
            float v;
            if (qd && esize == 1) {
                v = (float)(qmin + qscale * p[0]);
            } else if (qd && strcmp(qd, "uint16") == 0) {
                uint16_t u = (uint16_t)(p[0] | p[1] << 8);
                v = (float)(qmin + qscale * u);
            } else if (qd) {
                v = half_to_float((uint16_t)(p[0] | p[1] << 8));
            } else if (strcmp(dtype, "int32") == 0) {
                int32_t x;
                memcpy(&x, p, 4);
                v = (float)x;
            } else {
                memcpy(&v, p, 4);
            }
            if (!isfinite(v))
                return cr_fail(CREST_E_FORMAT, "weight '%s' (layer '%s'): value %lld of %lld is "
                               "%s", name, w->owner ? w->owner->name : "?", (long long)i,
                               (long long)count, isnan(v) ? "NaN" : "infinite");
            w->val[i] = v;
        }
        w->version++;
    }
    *off += (size_t)count * esize;
    return CREST_OK;
}

/* The shards of one manifest group (its "paths", in order) concatenated into
 * *bytes (*len bytes; caller frees). */
static int read_shards(const cJSON *paths, const char *dir, unsigned char **bytes, size_t *len)
{
    *bytes = NULL;
    *len = 0;
    const cJSON *pj;
    cJSON_ArrayForEach(pj, paths)
    {
        char path[PATH_MAX], *buf = NULL;
        size_t n;
        int rc;
        if (!cJSON_IsString(pj))
            return cr_fail(CREST_E_FORMAT, "weightsManifest path is not a string");
        if ((rc = safe_join(dir, pj->valuestring, path, sizeof path)) ||
            (rc = cr_read_file(path, MAX_SHARDS_BYTES, &buf, &n)))
            return rc;
        unsigned char *nb = *len + n <= MAX_SHARDS_BYTES ? cr_realloc(*bytes, *len + n + 1) : NULL;
        if (!nb) {
            cr_free(buf);
            return cr_fail(CREST_E_NOMEM, "%s: out of memory or shards too large", path);
        }
        *bytes = nb;
        memcpy(*bytes + *len, buf, n);
        *len += n;
        cr_free(buf);
    }
    return CREST_OK;
}

/* One manifest group: its shards, and each weight spec in order decoded into
 * the model weight of that name (seen[i] counts weight i's). */
static int load_group(crest_model *m, const cJSON *grp, const char *dir, int *seen)
{
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(grp, "paths");
    const cJSON *specs = cJSON_GetObjectItemCaseSensitive(grp, "weights");
    if (!cJSON_IsArray(paths) || !cJSON_IsArray(specs))
        return cr_fail(CREST_E_FORMAT, "weightsManifest group lacks paths or weights");
    unsigned char *bytes;
    size_t len, off = 0;
    int rc = read_shards(paths, dir, &bytes, &len);
    const cJSON *spec;
    cJSON_ArrayForEach(spec, specs)
    {
        const char *name = NULL;
        if (rc || (rc = cr_json_str(spec, "name", NULL, &name)))
            break;
        cr_weight *w = cr_model_find_weight(m, name);
        if (!w) {
            rc = cr_fail(CREST_E_FORMAT, "weight '%s' in the manifest matches no layer weight",
                         name);
            break;
        }
        if ((rc = decode_weight(spec, bytes, len, &off, w, name)))
            break;
        for (int i = 0; i < m->n_weights; i++)
            if (m->weights[i] == w)
                seen[i]++;
    }
    if (!rc && off != len)
        rc = cr_fail(CREST_E_FORMAT, "weight shards hold %zu bytes, the manifest uses %zu", len,
                     off);
    cr_free(bytes);
    return rc;
}

/* Fills m's (built) weights from a weightsManifest whose shards are in dir. */
static int load_weights(crest_model *m, const cJSON *manifest, const char *dir)
{
    if (!cJSON_IsArray(manifest))
        return cr_fail(CREST_E_FORMAT, "weightsManifest is not an array");
    int rc = CREST_OK;
    int *seen = cr_calloc((size_t)(m->n_weights ? m->n_weights : 1), sizeof *seen);
    if (!seen)
        return cr_fail(CREST_E_NOMEM, "out of memory loading weights");
    const cJSON *grp;
    cJSON_ArrayForEach(grp, manifest)
    {
        if ((rc = load_group(m, grp, dir, seen)))
            break;
    }
    for (int i = 0; !rc && i < m->n_weights; i++)
        if (!seen[i])
            rc = cr_fail(CREST_E_FORMAT, "weight '%s/%s' is missing from the weights manifest",
                         m->weights[i]->owner ? m->weights[i]->owner->name : "",
                         m->weights[i]->name);
    cr_free(seen);
    return rc;
}

/* Reads and parses model.json of a folder or a model.json path; dir gets the
 * folder the shards are relative to. *root is freed with cJSON_Delete. */
static int read_model_json(const char *path, char *dir, size_t dir_size, char *file,
                           size_t file_size, cJSON **root)
{
    struct stat st;
    *root = NULL;
    if (stat(path, &st) != 0)
        return cr_fail(CREST_E_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        snprintf(dir, dir_size, "%s", path);
        if (snprintf(file, file_size, "%s/model.json", path) >= (int)file_size)
            return cr_fail(CREST_E_ARG, "%s: path too long", path);
    } else {
        snprintf(file, file_size, "%s", path);
        snprintf(dir, dir_size, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, dir_size, ".");
    }
    char *text = NULL;
    size_t len;
    int rc = cr_read_file(file, MAX_JSON, &text, &len);
    if (rc)
        return rc;
    rc = cr_json_parse(text, len, file, root);
    cr_free(text);
    if (rc)
        return rc;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(*root, "format");
    if (cJSON_IsString(fmt) && strcmp(fmt->valuestring, "layers-model") != 0)
        rc = cr_fail(CREST_E_UNSUPPORTED, "%s: format '%s' is not a Keras layers model", file,
                     fmt->valuestring);
    if (rc) {
        cJSON_Delete(*root);
        *root = NULL;
    }
    return rc;
}

int crest_model_load(crest_model **out, const char *path)
{
    if (!out || !path)
        return cr_fail(CREST_E_ARG, "load: NULL argument");
    *out = NULL;
    if (cr_h5_is_hdf5(path))
        return cr_h5_model_load(out, path);
    const char *ext = strrchr(path, '.');
    if (ext && (strcmp(ext, ".h5") == 0 || strcmp(ext, ".hdf5") == 0))
        return cr_fail(CREST_E_FORMAT, "%s: not an HDF5 file (no HDF5 signature)", path);
    if (cr_keras_is_zip(path))
        return cr_keras_model_load(out, path);
    if (ext && strcmp(ext, ".keras") == 0)
        return cr_fail(access(path, R_OK) == 0 ? CREST_E_FORMAT : CREST_E_IO,
                       "%s: %s", path, access(path, R_OK) == 0 ? "not a .keras file (no zip "
                       "signature)" : strerror(errno));
    char dir[PATH_MAX], file[PATH_MAX];
    cJSON *root = NULL;
    crest_model *m = NULL;
    int rc = read_model_json(path, dir, sizeof dir, file, sizeof file, &root);
    if (rc)
        return rc;
    const cJSON *topo = cJSON_GetObjectItemCaseSensitive(root, "modelTopology");
    if (!cJSON_IsObject(topo)) {
        rc = cr_fail(CREST_E_FORMAT, "no modelTopology");
        goto out;
    }
    if ((rc = cr_custom_layers_from_meta(cJSON_GetObjectItemCaseSensitive(root,
                                                                          "userDefinedMetadata"),
                                         file)) ||
        (rc = cr_model_from_topology(topo, &m)) || (rc = cr_model_build(m)) ||
        (rc = load_weights(m, cJSON_GetObjectItemCaseSensitive(root, "weightsManifest"), dir)) ||
        (rc = cr_quant_from_json(m, cJSON_GetObjectItemCaseSensitive(root, "crestQuantization"),
                                 cJSON_GetObjectItemCaseSensitive(root, "weightsManifest"))))
        goto out;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "userDefinedMetadata");
    if (meta && !(m->meta_json = cr_json_print(meta, false))) {
        rc = CREST_E_NOMEM;
        goto out;
    }
    *out = m;
    m = NULL;
out:
    if (rc)
        cr_wrap(rc, "%s", file);
    crest_model_free(m);
    cJSON_Delete(root);
    return rc;
}

int crest_model_load_weights(crest_model *m, const char *path)
{
    if (!m || !path)
        return cr_fail(CREST_E_ARG, "load_weights: NULL argument");
    char dir[PATH_MAX], file[PATH_MAX];
    cJSON *root = NULL;
    int rc = cr_model_build(m);
    if (!rc && cr_h5_is_hdf5(path)) {
        rc = cr_h5_load_weights(m, path);   /* Keras 2's layout, with layer_names */
        if (rc == CREST_E_FORMAT && strstr(crest_last_error(), "no layer_names"))
            rc = cr_keras_load_weights(m, path);   /* Keras 3's .weights.h5 */
        return rc;
    }
    if (!rc && cr_keras_is_zip(path))
        return cr_keras_load_weights(m, path);
    if (!rc)
        rc = read_model_json(path, dir, sizeof dir, file, sizeof file, &root);
    if (!rc)
        rc = load_weights(m, cJSON_GetObjectItemCaseSensitive(root, "weightsManifest"), dir);
    if (rc && root)
        cr_wrap(rc, "%s", file);
    cJSON_Delete(root);
    return rc;
}
