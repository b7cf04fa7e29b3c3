/* transfer.c - transfer learning: include_top=False cuts, freezing, feature
 * extraction with an on-disk cache, and attaching a trained head.
 *
 * The pipeline (crest train --base, examples/way3_pretrained.c):
 *   backbone = load(MODEL); cut(backbone, LAYER, pooling); freeze it;
 *   features = extract(backbone, data)      once, cached on disk by a hash of
 *                                           model + data + input transform;
 *   head = Sequential([Input(F), Dropout?, Dense(K, softmax)]) fit on features;
 *   append(backbone, head) -> one model, saved and used by predict.
 * With a frozen backbone (BatchNorm in inference mode, no augmentation) the
 * head sees exactly the features the whole model would compute, so training
 * it on cached features is the same computation as fitting the whole model,
 * minus the backbone's forward pass in every epoch.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <errno.h>
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

/* ---- freezing ---------------------------------------------------------- */

int crest_model_set_trainable(crest_model *m, int first, int count, bool trainable)
{
    if (!m)
        return cr_fail(CREST_E_ARG, "set_trainable: model is NULL");
    if (count < 0)
        count = m->n_layers - first;
    if (first < 0 || count < 0 || first > m->n_layers - count)
        return cr_fail(CREST_E_ARG, "set_trainable: layers [%d, %d) of %d", first,
                       first + count, m->n_layers);
    for (int i = first; i < first + count; i++)   /* the layer's own rule (BatchNorm) */
        crest_layer_set_trainable(m->layers[i], trainable);
    cr_model_invalidate(m);   /* which weights get gradients is decided when tracing */
    return CREST_OK;
}

/* ---- include_top=False ------------------------------------------------- */

/* Layer classes that make up a classifier top (Keras' include_top part). */
static bool is_top_class(const char *cls)
{
    static const char *const top[] = { "Dense", "Dropout", "Flatten", "GlobalAveragePooling2D",
                                       "GlobalMaxPooling2D", "AveragePooling2D", "Reshape",
                                       "Softmax", "GlobalAveragePooling1D",
                                       "GlobalMaxPooling1D" };
    for (size_t i = 0; i < sizeof top / sizeof *top; i++)
        if (!strcmp(cls, top[i]))
            return true;
    return false;
}

/* Every model kind that can be cut or given a head is a functional model
 * (Sequential ones are chains), so each of these has one path. */

int crest_model_default_cut(crest_model *m, char *name, size_t size)
{
    crest_sym *s = cr_functional_output(m, 0);
    if (!s || !name || !size)
        return cr_fail(CREST_E_ARG, "default cut: not a complete functional model");
    while (cr_sym_layer(s) && cr_sym_n_in(s) == 1 && is_top_class(cr_sym_layer(s)->def->keras_class))
        s = cr_sym_in(s, 0);
    const crest_layer *l = cr_sym_layer(s);
    if (!l)
        return cr_fail(CREST_E_ARG, "model '%s': nothing is left below its classifier top",
                       m->name);
    snprintf(name, size, "%s", l->name);
    return CREST_OK;
}

int crest_model_cut(crest_model *m, const char *cut, crest_pooling pooling)
{
    char def[128];
    crest_sym *in[CR_MAX_IO];
    if (m && m->quant)   /* its kernels are int8 codes and its norms folded */
        return cr_quant_refuse(m, "cut into a backbone to train on");
    int n_in = cr_functional_inputs(m, in), rc;
    if (!n_in)
        return cr_fail(CREST_E_ARG, "cut: '%s' is not a complete Sequential or functional model",
                       m ? m->name : "(null)");
    if (!cut) {
        if ((rc = crest_model_default_cut(m, def, sizeof def)))
            return rc;
        cut = def;
    }
    crest_sym *at = cr_functional_find(m, cut);
    if (!at || !cr_sym_layer(at))
        return cr_fail(CREST_E_ARG, "cut: model '%s' has no layer '%s'", m->name, cut);
    if ((rc = cr_model_build(m)))   /* the layers' output shapes */
        return rc;
    crest_layer *pool = NULL;
    int rank = cr_sym_layer(at)->out_shape.ndim;   /* without batch */
    if (pooling != CREST_POOL_NONE && (rank == 3 || rank == 2) &&   /* [h,w,c] or [steps,c] */
        !(pool = rank == 3 ? crest_global_pooling2d(pooling == CREST_POOL_MAX, false)
                           : cr_global_pooling1d(pooling == CREST_POOL_MAX)))
        return cr_wrap(CREST_E_NOMEM, "cut: global pooling");
    if ((rc = cr_functional_reopen(m))) {
        crest_layer_free(pool);
        return rc;
    }
    crest_sym *out = pool ? cr_functional_call(m, pool, &at, 1) : at;   /* consumes pool */
    rc = out ? cr_functional_set_outputs(m, in, n_in, &out, 1, true)
             : cr_fail(m->err, "%s", m->errmsg);
    if (!rc)
        rc = cr_functional_prune(m);
    return rc ? cr_wrap(rc, "cut '%s' after '%s'", m->name, cut) : CREST_OK;
}

/* ---- head -------------------------------------------------------------- */

/* A copy of l (config by its Keras JSON), unnamed if the name is taken in m. */
static int clone_layer(crest_model *m, const crest_layer *l, crest_layer **out)
{
    int rc = cr_layer_clone(l, out);
    if (!rc && crest_model_find_layer(m, (*out)->name))
        (*out)->named = false;    /* renamed Keras-style when added */
    return rc;
}

/* Copies the weights of head's layers into their clones added[], the last
 * layers of m: the tail of m's parameter block is head's block. */
static int copy_head_weights(crest_model *m, crest_layer **added, int n_added,
                             crest_model *head)
{
    int k = 0;
    for (int i = 0; i < n_added; i++) {
        const crest_layer *src = head->layers[i];
        if (added[i]->n_w != src->n_w)
            return cr_fail(CREST_E_SHAPE, "append: layer '%s' has %d weights, its copy %d",
                           src->name, src->n_w, added[i]->n_w);
        for (int j = 0; j < src->n_w; j++)
            if (added[i]->w[j]->size != src->w[j]->size)
                return cr_fail(CREST_E_SHAPE, "append: weight %s/%s does not fit the model",
                               src->name, src->w[j]->name);
        k += src->n_w;
    }
    int rc = cr_model_build(m);
    if (rc || (rc = cr_params_pack(m)) || (rc = cr_params_pack(head)))
        return rc;
    int64_t n = head->params.n, at = m->params.n - n;
    bool tail = k == head->n_weights && k <= m->n_weights && at >= 0;
    for (int i = 0, t = m->n_weights - k; tail && i < n_added; i++)
        for (int j = 0; tail && j < added[i]->n_w; j++)
            tail = m->weights[t++] == added[i]->w[j];
    if (!tail)
        return cr_fail(CREST_E_STATE, "append: the head's weights are not the last of '%s'",
                       m->name);
    memcpy(m->params.val + at, head->params.val, (size_t)n * sizeof(float));
    for (int i = m->n_weights - k; i < m->n_weights; i++)
        m->weights[i]->version++;
    return CREST_OK;
}

int crest_model_append(crest_model *m, crest_model *head)
{
    if (m && head && head->n_layers > 256)
        return cr_fail(CREST_E_ARG, "append: head has %d layers", head->n_layers);
    crest_sym *in[CR_MAX_IO];
    int n_in = cr_functional_inputs(m, in), rc;
    crest_sym *x = cr_functional_output(m, 0);
    if (!n_in || !x || !head)
        return cr_fail(CREST_E_ARG, "append: needs a complete functional model and a head");
    if ((rc = cr_model_build(head)))
        return rc;
    crest_layer *added[256];
    int n_added = 0;
    if ((rc = cr_functional_reopen(m)))
        return rc;
    for (int i = 0; i < head->n_layers && !rc; i++) {
        crest_layer *l = NULL;
        if ((rc = clone_layer(m, head->layers[i], &l)))
            break;
        added[n_added++] = l;
        if (!(x = cr_functional_call(m, l, &x, 1)))
            rc = cr_fail(m->err, "%s", m->errmsg);
    }
    if (!rc)
        rc = cr_functional_set_outputs(m, in, n_in, &x, 1, true);
    if (!rc)   /* the clones now have weights: copy the head's, in order */
        rc = copy_head_weights(m, added, n_added, head);
    return rc ? cr_wrap(rc, "appending a head to '%s'", m->name) : CREST_OK;
}

/* ---- hashing (cache keys) ---------------------------------------------- */

typedef cr_hasher hasher;
static void hash_bytes(hasher *s, const void *p, size_t n) { cr_hash_bytes(s, p, n); }
static void hash_str(hasher *s, const char *str) { cr_hash_str(s, str); }

static int hash_model(hasher *s, crest_model *m)
{
    int rc = cr_model_build(m);
    if (rc)
        return rc;
    unsigned long mark = cr_json_mark();
    cJSON *topo = cr_model_to_json(m);   /* a tree missing an item would hash wrong */
    char *text = topo && !cr_json_check(mark, "model hash") ? cr_json_print(topo, false) : NULL;
    cJSON_Delete(topo);
    if (!text)
        return cr_fail(CREST_E_NOMEM, "out of memory hashing model '%s'", m->name);
    /* trainable flags do not change features: hash the topology without them */
    for (char *t = strstr(text, "\"trainable\":"); t; t = strstr(t + 1, "\"trainable\":"))
        memset(t + 12, ' ', strncmp(t + 12, "true", 4) ? 5 : 4);
    hash_str(s, text);
    cJSON_free(text);
    for (int i = 0; i < m->n_weights; i++) {
        const cr_weight *w = m->weights[i];
        hash_str(s, w->owner ? w->owner->name : "");
        hash_str(s, w->name);
        hash_bytes(s, &w->size, sizeof w->size);
    }
    if ((rc = cr_params_pack(m)))
        return rc;
    hash_bytes(s, m->params.val, (size_t)m->params.n * sizeof(float));
    return CREST_OK;
}

/* ---- backbone extraction ------------------------------------------------ */

#define CACHE_MAGIC "CRFEAT01"

typedef struct cache_head {
    char magic[8];
    uint64_t key, n, dim;
} cache_head;

/* Reads n x dim floats from path if its header matches; false on any mismatch. */
static bool cache_read(const char *path, uint64_t key, size_t n, int64_t dim, float *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    cache_head h;
    bool ok = fread(&h, sizeof h, 1, f) == 1 && !memcmp(h.magic, CACHE_MAGIC, 8) &&
              h.key == key && h.n == n && h.dim == (uint64_t)dim &&
              fread(out, sizeof(float) * (size_t)dim, n, f) == n && fgetc(f) == EOF;
    fclose(f);
    return ok;
}

static bool make_dirs(const char *dir) { return cr_make_dirs(dir); }

/* buf: room for the header, then n x dim features. */
static int cache_write(const char *dir, const char *path, uint64_t key, size_t n, int64_t dim,
                       char *buf)
{
    if (!make_dirs(dir))
        return cr_fail(CREST_E_IO, "%s: cannot create the feature cache folder (%s)", dir,
                       strerror(errno));
    cache_head h = { .key = key, .n = n, .dim = (uint64_t)dim };
    memcpy(h.magic, CACHE_MAGIC, 8);
    memcpy(buf, &h, sizeof h);
    return cr_write_file_atomic(path, buf, sizeof h + n * (size_t)dim * sizeof(float));
}

/* Samples [s, s + nb) of d as the model's inputs (resized etc. per o->input;
 * a lazy set's made by its own transform). */
static int batch_to_input(const crest_dataset *d, size_t s, size_t nb,
                          const crest_extract_opts *o, int64_t in_size, float *dst, cr_pool *pool)
{
    if (!o->input)
        return cr_dataset_gather_on(d, NULL, s, (int64_t)nb, dst, pool);
    const cr_dims *sh = &d->shape;
    int rc = CREST_OK;
    for (size_t i = 0; i < nb && !rc; i++) {
        crest_image img = { (int)sh->d[0], (int)sh->d[1], sh->ndim == 3 ? (int)sh->d[2] : 1,
                            d->x + (s + i) * (size_t)d->stride };
        rc = crest_image_to_input(&img, o->input, dst + i * (size_t)in_size);
    }
    return rc;
}

/* The shape of d's samples as the model (or the augmentation before it)
 * gets them: the input transform's for an in-memory set. */
static cr_dims data_shape(const crest_dataset *d, const crest_extract_opts *o)
{
    if (o->input && !cr_dataset_lazy(d))
        return crest_shape(3, o->input->height, o->input->width,
                           o->input->channels ? o->input->channels : 3);
    return d->shape;
}

/* aug_out: the augmentation's output shape (NULL: none); *in_size: floats
 * per model input, *d_size: per sample of d as made. */
static int check_input(crest_model *m, const crest_dataset *d, const crest_extract_opts *o,
                       const cr_dims *aug_out, int64_t *in_size, int64_t *d_size)
{
    cr_dims ds = data_shape(d, o);
    if (m->dynamic) {   /* unknown input dimensions: the transform's or the data's shape */
        cr_dims at = aug_out ? *aug_out : ds;
        int rc = cr_model_bind(m, &at);
        if (rc)
            return cr_wrap(rc, "features");
    }
    crest_dims want = crest_model_feed_shape(m);
    *in_size = cr_dims_count(&want);
    *d_size = o->input ? cr_dims_count(&ds) : d->stride;
    if (o->input && cr_dataset_lazy(d))
        return cr_fail(CREST_E_ARG, "features: a lazy image set already has its transform "
                                    "(give no input transform)");
    if (o->input) {
        const cr_dims *s = &d->shape;
        if (s->ndim < 2 || s->ndim > 3 || (s->ndim == 3 && s->d[2] != 1 && s->d[2] != 3))
            return cr_fail(CREST_E_SHAPE, "features: samples are not images (HxW or HxWxC)");
    }
    int64_t got = aug_out ? cr_dims_count(aug_out) : *d_size;
    if (got != *in_size)
        return cr_fail(CREST_E_SHAPE, "features: %s %lld values per sample, the model takes "
                                      "%lld%s", aug_out ? "the augmentation layers give"
                                                : o->input ? "the input transform gives"
                                                           : "samples have",
                       (long long)got, (long long)*in_size,
                       aug_out || o->input ? "" : " (give an input transform)");
    return CREST_OK;
}

/* Forward passes over d in batches, each copy in turn, through the
 * augmentation graph g (output y; NULL: none); feat: [copies, n, dim]. */
static int run_backbone(crest_model *m, const crest_dataset *d, const crest_extract_opts *o,
                        cr_graph *g, cr_node *y, int64_t d_size, int64_t in_size, int64_t dim,
                        float *feat)
{
    size_t B = o->batch_size > 0 ? (size_t)o->batch_size : 32;
    int copies = o->copies > 1 ? o->copies : 1;
    bool resized = g && d_size != in_size;
    float *x = cr_malloc(B * (size_t)d_size * sizeof(float));
    float *xa = resized ? cr_malloc(B * (size_t)in_size * sizeof(float)) : x;
    int rc = x && xa ? CREST_OK
                     : cr_fail(CREST_E_NOMEM, "out of memory for a batch of %zu inputs", B);
    cr_pool *pool = NULL;
    if (!rc)
        rc = cr_model_pool(m, &pool);
    double t0 = cr_now();
    size_t total = d->n * (size_t)copies;
    for (int k = 0; k < copies && !rc; k++)
        for (size_t s = 0; s < d->n && !rc; s += B) {
            size_t nb = d->n - s < B ? d->n - s : B;
            rc = batch_to_input(d, s, nb, o, d_size, x, pool);
            cr_rng ar;   /* copy k's draws for the batch at s */
            cr_rng_seed(&ar, o->augment_seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(k + 1)) ^
                                 ((uint64_t)(o->sample_offset + s) << 20));
            if (!rc && g)
                rc = cr_augment_run(g, y, x, (int64_t)nb, d_size, &ar, NULL,
                                    resized ? xa : NULL);
            if (!rc)
                rc = crest_predict(m, xa, nb, feat + ((size_t)k * d->n + s) * (size_t)dim);
            if (!rc && o->progress)
                o->progress(&(crest_progress){ .kind = CREST_PROGRESS_EXTRACT,
                                               .done = (size_t)k * d->n + s + nb,
                                               .total = total, .seconds = cr_now() - t0 },
                            o->progress_user);
        }
    if (resized)
        cr_free(xa);
    cr_free(x);
    return rc;
}

/* The features as a data set with d's labels or targets; consumes buf (the
 * cache file image: header, then the features). */
static int features_dataset(const crest_dataset *d, int copies, char *buf, int64_t dim,
                            crest_dataset **out)
{
    size_t n = d->n * (size_t)copies, bytes = n * (size_t)dim * sizeof(float);
    memmove(buf, buf + sizeof(cache_head), bytes);
    float *x = cr_realloc(buf, bytes ? bytes : 1);
    if (!x)
        x = (float *)buf;
    int rc = cr_dataset_new_lazy(out, n, crest_shape(1, dim), NULL, d->n_classes);
    if (!rc && d->labels && !((*out)->labels = cr_malloc((n ? n : 1) * sizeof(int32_t))))
        rc = cr_fail(CREST_E_NOMEM, "out of memory for %zu labels", n);
    if (!rc && d->y && !((*out)->y = cr_malloc((n ? n : 1) * (size_t)d->n_classes *
                                               sizeof(float))))
        rc = cr_fail(CREST_E_NOMEM, "out of memory for %zu targets", n);
    if (rc) {
        cr_free(x);
        crest_dataset_free(*out);
        *out = NULL;
        return rc;
    }
    for (int k = 0; k < copies; k++) {   /* copy k of sample i is row k * n + i */
        if (d->labels)
            memcpy((*out)->labels + (size_t)k * d->n, d->labels, d->n * sizeof(int32_t));
        if (d->y)
            memcpy((*out)->y + (size_t)k * d->n * (size_t)d->n_classes, d->y,
                   d->n * (size_t)d->n_classes * sizeof(float));
    }
    (*out)->x = x;
    return CREST_OK;
}

/* The augmentation's part of the cache key: each layer's Keras JSON (its
 * name dropped: a renamed layer draws the same), the seed, the copies. */
static int hash_augment(hasher *h, const crest_extract_opts *o, int copies)
{
    for (int i = 0; i < o->n_augment; i++) {
        cJSON *j = o->augment[i] ? cr_layer_json(o->augment[i], NULL) : NULL;
        cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "config"),
                                                "name");
        char *text = j ? cr_json_print(j, false) : NULL;
        cJSON_Delete(j);
        if (!text)
            return cr_fail(CREST_E_NOMEM, "out of memory hashing augmentation layer %d", i);
        hash_str(h, text);
        cJSON_free(text);
    }
    hash_bytes(h, &o->augment_seed, sizeof o->augment_seed);
    hash_bytes(h, &copies, sizeof copies);
    uint8_t inference = o->augment_inference;
    hash_bytes(h, &inference, 1);
    if (o->sample_offset) {   /* a shard's draws depend on where it starts */
        uint64_t off = o->sample_offset;
        hash_bytes(h, &off, sizeof off);
    }
    return CREST_OK;
}

int crest_extract(crest_model *m, const crest_dataset *d, const crest_extract_opts *opts,
                  crest_dataset **out)
{
    crest_extract_opts o = opts ? *opts : (crest_extract_opts){ 0 };
    if (!m || !d || !out)
        return cr_fail(CREST_E_ARG, "extract: NULL argument");
    *out = NULL;
    if (o.stats)
        *o.stats = (crest_extract_stats){ 0 };
    int64_t in_size = 0, d_size = 0;
    if (o.n_augment < 0 || (o.n_augment && !o.augment))
        return cr_fail(CREST_E_ARG, "extract: %d augmentation layers", o.n_augment);
    cr_graph *g = NULL;
    cr_node *y = NULL;
    int rc = cr_model_build(m);
    if (!rc && o.n_augment > 0)
        rc = cr_augment_graph(o.augment, o.n_augment, data_shape(d, &o), !o.augment_inference,
                              &g, &y);
    cr_dims aug_out = y ? crest_shape(3, y->shape.d[1], y->shape.d[2], y->shape.d[3])
                        : (cr_dims){ 0 };
    if (!rc)
        rc = check_input(m, d, &o, y ? &aug_out : NULL, &in_size, &d_size);
    if (rc) {
        cr_graph_free(g);
        return rc;
    }
    int64_t dim = crest_model_output_size(m);
    int copies = o.copies > 1 ? o.copies : 1;
    size_t n = d->n * (size_t)copies;
    if (o.copies < 0 || o.copies > 1000) {
        cr_graph_free(g);
        return cr_fail(CREST_E_ARG, "extract: copies %d (0..1000)", o.copies);
    }
    double t0 = cr_now();
    char path[1200] = "";
    uint64_t key = 0;
    if (o.cache_dir) {
        hasher h = { 0x6372657374ull };
        if ((rc = hash_model(&h, m)) || (rc = cr_hash_samples(&h, d, o.input)) ||
            ((o.n_augment || copies > 1) && (rc = hash_augment(&h, &o, copies)))) {
            cr_graph_free(g);
            return rc;
        }
        key = h.h;
        snprintf(path, sizeof path, "%s/features-%016llx.bin", o.cache_dir,
                 (unsigned long long)key);
    }
    char *buf = cr_malloc(sizeof(cache_head) + (n ? n : 1) * (size_t)dim * sizeof(float));
    if (!buf)
        cr_graph_free(g);
    if (!buf)
        return cr_fail(CREST_E_NOMEM, "out of memory for %zu x %lld features", n,
                       (long long)dim);
    float *feat = (float *)(buf + sizeof(cache_head));
    bool hit = o.cache_dir && cache_read(path, key, n, dim, feat);
    if (!hit) {
        rc = run_backbone(m, d, &o, g, y, d_size, in_size, dim, feat);
        if (!rc && o.cache_dir)
            rc = cache_write(o.cache_dir, path, key, n, dim, buf);
    }
    cr_graph_free(g);
    if (!rc)
        rc = features_dataset(d, copies, buf, dim, out);
    else
        cr_free(buf);
    if (o.stats) {
        o.stats->cache_hit = hit;
        o.stats->seconds = cr_now() - t0;
        o.stats->key = key;
        snprintf(o.stats->cache_file, sizeof o.stats->cache_file, "%s", path);
    }
    return rc;
}
