/* h5.c - Keras HDF5 files (.h5): models and weights.
 *
 * libhdf5 runs in a child process (src/io/child.c runs it; h5_read.c is
 * what it runs, and describes the file layout and the record stream); this
 * side reads the records with a bound on every length, builds the model from
 * the config, and assigns the weights as Keras' load_weights does. A child
 * that dies, spends more than its budget (120 s of CPU, twice that of wall
 * clock; the environment variable CREST_H5_SECONDS sets another) or sends
 * anything malformed makes the load fail with a message naming the file;
 * nothing it sent is trusted further than the model's own shapes.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "json.h"
#include "io/child.h"
#include "io/h5.h"

#include <math.h>
#include <stdio.h>

#define MAX_NAME 4096
#define MAX_CONFIG (256u << 20)

bool cr_h5_is_hdf5(const char *path)
{
    static const unsigned char sig[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
    unsigned char b[8];
    FILE *f = fopen(path, "rb");
    bool yes = false;
    if (f) {
        /* the superblock sits at 0 or, after a user block, at 512, 1024, ... */
        for (long off = 0; !yes && off <= (1L << 20); off = off ? off * 2 : 512)
            yes = fseek(f, off, SEEK_SET) == 0 && fread(b, 1, 8, f) == 8 &&
                  memcmp(b, sig, 8) == 0;
        fclose(f);
    }
    return yes;
}

/* ---- weights ------------------------------------------------------------------ */

/* The names of a layer's weights ('L' record after its tag). */
typedef struct h5_layer {
    char *name;
    char **w;
    uint32_t n;
} h5_layer;

static void layer_free(h5_layer *l)
{
    for (uint32_t i = 0; l->w && i < l->n; i++)
        cr_free(l->w[i]);
    cr_free(l->w);
    cr_free(l->name);
    *l = (h5_layer){ 0 };
}

static int get_layer(cr_child *in, h5_layer *l)
{
    int rc = cr_child_get_str(in, MAX_NAME, &l->name);
    if (!rc)
        rc = cr_child_get_u32(in, &l->n);
    if (!rc && l->n > 4096)
        rc = cr_fail(CREST_E_FORMAT, "%s: layer '%s' has %u weights", in->path, l->name, l->n);
    if (!rc && !(l->w = cr_calloc(l->n + 1, sizeof *l->w)))
        rc = cr_fail(CREST_E_NOMEM, "%s: out of memory", in->path);
    for (uint32_t i = 0; !rc && i < l->n; i++)
        rc = cr_child_get_str(in, MAX_NAME, &l->w[i]);
    return rc;
}

/* The layer weight a file weight name ("dense_1/kernel:0") names by its
 * last component, if it is one not taken yet; -1 otherwise. */
static int weight_by_name(const crest_layer *l, const char *wname, const bool *taken)
{
    const char *base = strrchr(wname, '/');
    base = base ? base + 1 : wname;
    size_t n = strcspn(base, ":");
    for (int j = 0; j < l->n_w; j++)
        if (!taken[j] && strlen(l->w[j]->name) == n && strncmp(l->w[j]->name, base, n) == 0)
            return j;
    return -1;
}

/* Which layer weight each file weight goes to: by name when every file
 * weight names a distinct weight of the layer, else in order (Keras). */
static void match_weights(const crest_layer *l, const h5_layer *fl, int *to)
{
    bool taken[64] = { false }, named = l->n_w <= 64;
    for (uint32_t j = 0; named && j < fl->n; j++) {
        to[j] = weight_by_name(l, fl->w[j], taken);
        named = to[j] >= 0;
        if (named)
            taken[to[j]] = true;
    }
    for (uint32_t j = 0; !named && j < fl->n; j++)
        to[j] = (int)j;
}

int cr_h5_get_dataset(cr_child *c, const char *what, cr_weight *w)
{
    char tag;
    uint32_t nd;
    uint64_t dims[CR_H5_MAX_RANK];
    int rc = cr_child_get_tag(c, &tag);
    if (!rc && tag != 'W')
        rc = cr_fail(CREST_E_FORMAT, "%s: %s: unexpected record", c->path, what);
    if (!rc && !(rc = cr_child_get_u32(c, &nd)) && nd > CR_H5_MAX_RANK)
        rc = cr_fail(CREST_E_FORMAT, "%s: %s has rank %u", c->path, what, nd);
    if (!rc)
        rc = cr_child_get(c, dims, nd * sizeof *dims);
    if (rc)
        return rc;
    /* Keras stores a scalar weight with shape (1,) or () */
    bool same = (int)nd == w->shape.ndim || (w->shape.ndim == 0 && nd == 1 && dims[0] == 1);
    for (int i = 0; same && i < (int)nd && i < w->shape.ndim; i++)
        same = dims[i] == (uint64_t)w->shape.d[i];
    if (!same) {
        char got[160] = "[", want[96];
        for (uint32_t i = 0; i < nd; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", i ? "," : "",
                     (unsigned long long)dims[i]);
        snprintf(got + strlen(got), sizeof got - strlen(got), "]");
        return cr_fail(CREST_E_SHAPE, "%s: %s has shape %s, the layer's weight '%s' is %s",
                       c->path, what, got, w->name, cr_dims_str(&w->shape, want, sizeof want));
    }
    if ((rc = cr_child_get(c, w->val, (size_t)w->size * sizeof *w->val)))
        return rc;
    for (int64_t i = 0; i < w->size; i++)
        if (!isfinite(w->val[i]))
            return cr_fail(CREST_E_FORMAT, "%s: %s: value %lld of %lld is %s", c->path, what,
                           (long long)i, (long long)w->size,
                           isnan(w->val[i]) ? "NaN" : "infinite");
    w->version++;
    return CREST_OK;
}

/* The next 'W' record, file weight wname, into w. */
static int get_weight(cr_child *in, const char *wname, cr_weight *w)
{
    char what[MAX_NAME + 16];
    snprintf(what, sizeof what, "dataset '%s'", wname);
    return cr_h5_get_dataset(in, what, w);
}

/* A file layer's weights into model layer l. */
static int assign_layer(cr_child *in, const h5_layer *fl, crest_layer *l)
{
    if ((int)fl->n != l->n_w)
        return cr_fail(CREST_E_FORMAT, "%s: file layer '%s' has %u weights, model layer '%s' "
                       "has %d", in->path, fl->name, fl->n, l->name, l->n_w);
    int *to = cr_malloc((size_t)fl->n * sizeof *to + 1), rc = CREST_OK;
    if (!to)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory", in->path);
    match_weights(l, fl, to);
    for (uint32_t j = 0; !rc && j < fl->n; j++)
        rc = get_weight(in, fl->w[j], l->w[to[j]]);
    cr_free(to);
    return rc && !in->eof ? cr_wrap(rc, "layer '%s'", l->name) : rc;
}

/* The model layer and weight a nested model's file weight names
 * ("base/conv/kernel:0" or "conv/kernel:0" in group "base": layer "conv",
 * or "base_conv" if crest renamed it; weight "kernel"), or NULL. */
static cr_weight *nested_weight(crest_model *m, const char *group, const char *wname)
{
    const char *slash = strrchr(wname, '/'), *ls = slash;
    if (!slash)
        return NULL;
    while (ls > wname && ls[-1] != '/')
        ls--;
    char lname[300], full[600];
    size_t ln = (size_t)(slash - ls), vn = strcspn(slash + 1, ":");
    if (ln == 0 || ln >= sizeof lname || vn >= 200)
        return NULL;
    memcpy(lname, ls, ln);
    lname[ln] = 0;
    crest_layer *l = crest_model_find_layer(m, lname);
    if (!l) {
        snprintf(full, sizeof full, "%s_%s", group, lname);
        l = crest_model_find_layer(m, full);
    }
    for (int j = 0; l && j < l->n_w; j++)
        if (strlen(l->w[j]->name) == vn && strncmp(l->w[j]->name, slash + 1, vn) == 0)
            return l->w[j];
    return NULL;
}

/* Whether file layer fl is a nested model's group: no model layer has its
 * name and each of its weights names a distinct model layer weight. */
static bool nested_group(crest_model *m, const h5_layer *fl)
{
    if (crest_model_find_layer(m, fl->name))
        return false;
    for (uint32_t j = 0; j < fl->n; j++) {
        cr_weight *w = nested_weight(m, fl->name, fl->w[j]);
        if (!w)
            return false;
        for (uint32_t i = 0; i < j; i++)
            if (nested_weight(m, fl->name, fl->w[i]) == w)
                return false;
    }
    return true;
}

/* A nested model's group: each weight by its name (Keras writes a nested
 * model's trainable weights, then the others: not the layers' order);
 * *layers gets how many model layers it filled. */
static int assign_nested(cr_child *in, crest_model *m, const h5_layer *fl, int *layers)
{
    *layers = 0;
    int rc = CREST_OK;
    const crest_layer *seen[256];
    int n_seen = 0;
    for (uint32_t j = 0; !rc && j < fl->n; j++) {
        cr_weight *w = nested_weight(m, fl->name, fl->w[j]);
        rc = get_weight(in, fl->w[j], w);
        bool known = false;
        for (int i = 0; i < n_seen && !known; i++)
            known = seen[i] == w->owner;
        if (!known && n_seen < 256)
            seen[n_seen++] = w->owner;
        *layers += !known;
    }
    return rc && !in->eof ? cr_wrap(rc, "nested model '%s'", fl->name) : rc;
}

/* The layer records after the config, up to 'D', into m's weighted layers. */
static int assign_all(cr_child *in, crest_model *m, char tag)
{
    int k = 0, rc = CREST_OK;
    for (int i = 0; i < m->n_layers; i++)
        k += m->layers[i]->n_w > 0;
    int n_ls = k;
    k = 0;
    for (int i = 0; !rc && tag != 'D'; i++) {
        h5_layer fl = { 0 };
        if (tag != 'L')
            rc = cr_fail(CREST_E_FORMAT, "%s: unexpected record '%c'", in->path, tag);
        else
            rc = get_layer(in, &fl);
        crest_layer *l = NULL;
        int filled = 0;
        bool nested = !rc && fl.n > 0 && nested_group(m, &fl);
        if (nested) {
            rc = assign_nested(in, m, &fl, &filled);
            k += filled;
        }
        for (int j = 0, seen = 0; !rc && !nested && fl.n > 0 && j < m->n_layers && !l; j++)
            if (m->layers[j]->n_w > 0 && seen++ == k)
                l = m->layers[j];
        if (!rc && !nested && fl.n > 0 && !l)
            rc = cr_fail(CREST_E_FORMAT, "%s: the file has weights for more layers than the "
                         "model's %d (first extra: '%s')", in->path, n_ls, fl.name);
        if (!rc && !nested && fl.n > 0) {
            rc = assign_layer(in, &fl, l);
            k++;
        }
        layer_free(&fl);
        if (!rc)
            rc = cr_child_get_tag(in, &tag);
    }
    if (!rc && k < n_ls)
        rc = cr_fail(CREST_E_FORMAT, "%s: the file has weights for %d layers, the model for %d",
                     in->path, k, n_ls);
    return rc;
}

/* ---- models --------------------------------------------------------------------- */

/* The 'M' and 'C' records: metadata text (*meta, may stay NULL) and the
 * parsed config; tag gets the record after them. */
static int get_config(cr_child *in, char **meta, cJSON **cfg, char *tag)
{
    char *text = NULL;
    int rc = cr_child_get_tag(in, tag);
    if (!rc && *tag == 'M' && !(rc = cr_child_get_str(in, MAX_CONFIG, meta)))
        rc = cr_child_get_tag(in, tag);
    if (!rc && *tag != 'C')
        return cr_fail(CREST_E_FORMAT, "%s: no model_config: a weights-only file (load it "
                       "onto a model with crest_model_load_weights)", in->path);
    if (!rc)
        rc = cr_child_get_str(in, MAX_CONFIG, &text);
    if (!rc)
        rc = cr_json_parse(text, strlen(text), in->path, cfg);
    cr_free(text);
    return rc ? rc : cr_child_get_tag(in, tag);
}

int cr_h5_model_load(crest_model **out, const char *path)
{
    cr_child in;
    cJSON *cfg = NULL, *mj = NULL;
    crest_model *m = NULL;
    char tag = 0, *meta = NULL;
    *out = NULL;
    int rc = cr_child_spawn(&in, path, "libhdf5", cr_h5_stream, NULL);
    if (!rc)
        rc = get_config(&in, &meta, &cfg, &tag);
    if (!rc && meta && (rc = cr_json_parse(meta, strlen(meta), "crest_metadata", &mj)))
        cr_wrap(rc, "%s", path);       /* checked here: it is saved as it is */
    if (!rc && mj && (rc = cr_custom_layers_from_meta(mj, path)))
        cr_wrap(rc, "%s", path);
    if (!rc && ((rc = cr_model_from_topology(cfg, &m)) || (rc = cr_model_build(m))))
        cr_wrap(rc, "%s", path);
    if (!rc)
        rc = assign_all(&in, m, tag);
    rc = cr_child_finish(&in, rc);
    if (!rc) {
        m->meta_json = meta;
        meta = NULL;
        *out = m;
        m = NULL;
    }
    crest_model_free(m);
    cJSON_Delete(cfg);
    cJSON_Delete(mj);
    cr_free(meta);
    return rc;
}

int cr_h5_load_weights(crest_model *m, const char *path)
{
    cr_child in;
    char tag = 0;
    int rc = cr_child_spawn(&in, path, "libhdf5", cr_h5_stream, NULL);
    if (!rc)
        rc = cr_child_get_tag(&in, &tag);
    while (!rc && (tag == 'M' || tag == 'C')) {   /* a whole model's file: weights only */
        char *text = NULL;
        rc = cr_child_get_str(&in, MAX_CONFIG, &text);
        cr_free(text);
        if (!rc)
            rc = cr_child_get_tag(&in, &tag);
    }
    if (!rc)
        rc = assign_all(&in, m, tag);
    return cr_child_finish(&in, rc);
}
