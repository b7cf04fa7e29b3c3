/* checkpoint.c - crest_fit's checkpoints: the whole state of a run after an
 * epoch, so a killed run resumes and ends bit-identical to one never killed.
 *
 * One file, <checkpoint_dir>/<name>.ckpt (the folder is created by the
 * first save), written atomically (temp file, fsync, rename, fsync of the
 * folder), host byte order:
 *   "CRESTCK2", fingerprint u64,
 *   epoch i32, stopped i32, wait i32, best_epoch i32, best_loss f64,
 *   ReduceLROnPlateau: best f64, rate f32, wait i32, cooldown i32,
 *   shuffle RNG u64[4], dropout RNG u64[4],
 *   n u64, row order u64[n],
 *   history: 5 x f64 (loss, accuracy, val_loss, val_accuracy, lr) per epoch done,
 *   optimizer (src/optim.c: settings, step count, slots),
 *   weights: count i32, then each weight's size i64 and float32 values,
 *   best weights: flag u8, then n_params float32 if set,
 *   checksum u64 of everything before it.
 * The fingerprint hashes what must not change between the killed run and
 * its resumption: the model's weights (names, shapes, trainable), the loss,
 * the training and validation data, the fit options that shape training
 * (the learning-rate schedule and the augmentation layers too, fit's and
 * the model's own). */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#define CKPT_MAGIC "CRESTCK2"
#define CKPT_MAX ((size_t)16 << 30)

/* ---- fingerprint -------------------------------------------------------- */

static int hash_data(cr_hasher *h, const crest_dataset *d)
{
    if (!d) {
        cr_hash_str(h, "none");
        return CREST_OK;
    }
    uint64_t n = d->n;
    int64_t stride = d->stride;
    int32_t k = d->n_classes;
    cr_hash_bytes(h, &n, sizeof n);
    cr_hash_bytes(h, &stride, sizeof stride);
    cr_hash_bytes(h, &k, sizeof k);
    cr_hash_bytes(h, d->shape.d, (size_t)d->shape.ndim * sizeof d->shape.d[0]);
    int rc = CREST_OK;
    if (cr_dataset_lazy(d))   /* images made on demand: their files' bytes */
        rc = cr_hash_samples(h, d, NULL);
    else if (d->n)
        cr_hash_bytes(h, d->x, d->n * (size_t)d->stride * sizeof(float));
    if (d->labels)
        cr_hash_bytes(h, d->labels, d->n * sizeof *d->labels);
    if (d->y)
        cr_hash_bytes(h, d->y, d->n * (size_t)d->n_classes * sizeof *d->y);
    return rc;
}

static int fingerprint(const cr_fit *f, uint64_t *out)
{
    const crest_model *m = f->m;
    const crest_fit_opts *o = f->o;
    cr_hasher h = { 0x63726573746b7074ull };
    cr_hash_str(&h, "crest fit checkpoint 2");
    for (int i = 0; i < m->n_weights; i++) {
        const cr_weight *w = m->weights[i];
        uint8_t tr = w->trainable && (!w->owner || w->owner->trainable);
        cr_hash_str(&h, w->owner ? w->owner->name : "");
        cr_hash_str(&h, w->name);
        cr_hash_bytes(&h, w->shape.d, (size_t)w->shape.ndim * sizeof w->shape.d[0]);
        cr_hash_bytes(&h, &tr, 1);
    }
    int32_t c[3] = { (int32_t)m->copts.loss, m->copts.from_logits, f->bs };
    float fl[3] = { m->copts.label_smoothing, o->validation_split, o->early_stopping_min_delta };
    int32_t e[3] = { o->no_shuffle, o->early_stopping_patience, o->no_restore_best };
    cr_hash_bytes(&h, c, sizeof c);
    cr_hash_bytes(&h, fl, sizeof fl);
    cr_hash_bytes(&h, e, sizeof e);
    cr_hash_bytes(&h, &o->seed, sizeof o->seed);
    if (o->class_weight)
        cr_hash_bytes(&h, o->class_weight, (size_t)f->train->n_classes * sizeof(float));
    cr_schedule_hash(&h, f->sched);
    for (int i = 0; i < o->n_augment + m->n_layers; i++) {   /* augmentation layers' configs:
                                                                 * fit's, then the model's */
        const crest_layer *l = i < o->n_augment ? o->augment[i] : m->layers[i - o->n_augment];
        if (i >= o->n_augment && !cr_layer_is_augment(l))
            continue;
        cJSON *j = cr_layer_json(l, NULL);
        char *t = j ? cr_json_print(j, false) : NULL;
        cJSON_Delete(j);
        if (!t)
            return cr_fail(CREST_E_NOMEM, "out of memory hashing the augmentation");
        cr_hash_str(&h, t);
        cJSON_free(t);
    }
    int rc = hash_data(&h, f->train);
    if (!rc)
        rc = hash_data(&h, o->validation_data);
    *out = h.h;
    return rc;
}

/* ---- write -------------------------------------------------------------- */

static void put_u64(cr_buf *b, uint64_t v) { cr_buf_put(b, &v, sizeof v); }
static void put_i32(cr_buf *b, int32_t v) { cr_buf_put(b, &v, sizeof v); }

static void put_weights(cr_buf *b, const crest_model *m)
{
    put_i32(b, m->n_weights);
    for (int i = 0; i < m->n_weights; i++) {
        int64_t sz = m->weights[i]->size;
        cr_buf_put(b, &sz, sizeof sz);
        cr_buf_put(b, m->weights[i]->val, (size_t)sz * sizeof(float));
    }
}

int cr_fit_checkpoint_save(const cr_fit *f)
{
    cr_buf b = { 0 };
    cr_buf_put(&b, CKPT_MAGIC, 8);
    put_u64(&b, f->fingerprint);
    int32_t st[4] = { f->epoch, f->stopped, f->wait, f->best_epoch };
    cr_buf_put(&b, st, sizeof st);
    cr_buf_put(&b, &f->best_loss, sizeof f->best_loss);
    cr_buf_put(&b, &f->plateau.best, sizeof f->plateau.best);
    cr_buf_put(&b, &f->plateau.lr, sizeof f->plateau.lr);
    int32_t pl[2] = { f->plateau.wait, f->plateau.cooldown };
    cr_buf_put(&b, pl, sizeof pl);
    cr_buf_put(&b, f->shuffle.s, sizeof f->shuffle.s);
    cr_buf_put(&b, f->drop.s, sizeof f->drop.s);
    put_u64(&b, f->n);
    for (size_t i = 0; i < f->n; i++)
        put_u64(&b, f->idx[i]);
    for (int e = 0; e < f->epoch; e++) {
        double r[5] = { f->hist.loss[e], f->hist.accuracy[e], f->hist.val_loss[e],
                        f->hist.val_accuracy[e], f->hist.lr[e] };
        cr_buf_put(&b, r, sizeof r);
    }
    cr_optimizer_save(f->m->opt, f->m, &b);
    put_weights(&b, f->m);
    uint8_t has_best = f->best != NULL;
    cr_buf_put(&b, &has_best, 1);
    if (f->best)
        cr_buf_put(&b, f->best, f->n_params * sizeof(float));
    cr_hasher h = { 0 };
    if (!b.err)
        cr_hash_bytes(&h, b.p, b.len);
    put_u64(&b, h.h);
    int rc = b.err ? cr_wrap(b.err, "checkpoint %s", f->ckpt) : CREST_OK;
    /* the folder is made by the first save: a run that fails before its
     * first epoch ends leaves nothing behind */
    if (!rc && !cr_make_dirs(f->o->checkpoint_dir))
        rc = cr_fail(CREST_E_IO, "%s: cannot create the checkpoint folder (%s)",
                     f->o->checkpoint_dir, strerror(errno));
    if (!rc)
        rc = cr_write_file_atomic(f->ckpt, b.p, b.len);
    cr_free(b.p);
    return rc;
}

/* ---- read --------------------------------------------------------------- */

/* Checks the whole file before anything is restored: magic, checksum,
 * fingerprint. */
static int check_file(const cr_fit *f, cr_buf *b)
{
    uint64_t sum, fp;
    cr_hasher h = { 0 };
    if (b->len < 24 || memcmp(b->p, CKPT_MAGIC, 8))
        return cr_fail(CREST_E_FORMAT, "not a crest checkpoint");
    cr_hash_bytes(&h, b->p, b->len - 8);
    memcpy(&sum, b->p + b->len - 8, 8);
    if (sum != h.h)
        return cr_fail(CREST_E_FORMAT, "checksum mismatch (a damaged checkpoint)");
    b->len -= 8;
    b->pos = 8;
    cr_buf_get(b, &fp, sizeof fp);
    if (fp != f->fingerprint)
        return cr_fail(CREST_E_STATE, "made by another run (the model, the data or the fit "
                       "options differ): cannot resume it");
    return CREST_OK;
}

static int get_order(cr_fit *f, cr_buf *b)
{
    int32_t st[4], pl[2];
    uint64_t n;
    int rc = cr_buf_get(b, st, sizeof st);
    if (!rc)
        rc = cr_buf_get(b, &f->best_loss, sizeof f->best_loss);
    if (!rc)
        rc = cr_buf_get(b, &f->plateau.best, sizeof f->plateau.best);
    if (!rc)
        rc = cr_buf_get(b, &f->plateau.lr, sizeof f->plateau.lr);
    if (!rc)
        rc = cr_buf_get(b, pl, sizeof pl);
    if (!rc && (pl[0] < 0 || pl[1] < 0 || !(f->plateau.lr >= 0)))
        rc = cr_fail(CREST_E_FORMAT, "learning-rate schedule state: rate %g, wait %d, "
                     "cooldown %d", f->plateau.lr, (int)pl[0], (int)pl[1]);
    f->plateau.wait = pl[0];
    f->plateau.cooldown = pl[1];
    if (!rc)
        rc = cr_buf_get(b, f->shuffle.s, sizeof f->shuffle.s);
    if (!rc)
        rc = cr_buf_get(b, f->drop.s, sizeof f->drop.s);
    if (!rc)
        rc = cr_buf_get(b, &n, sizeof n);
    if (rc)
        return rc;
    if (st[0] < 1 || st[0] > 1024 || n != f->n || st[3] < -1 || st[3] >= st[0])
        return cr_fail(CREST_E_FORMAT, "epoch %d, %llu rows: not this run's state", (int)st[0],
                       (unsigned long long)n);
    if (st[0] > f->epochs)
        return cr_fail(CREST_E_ARG, "at epoch %d, past the %d epochs asked for", (int)st[0],
                       f->epochs);
    f->epoch = st[0];
    f->stopped = st[1] != 0;
    f->wait = st[2];
    f->best_epoch = st[3];
    for (size_t i = 0; i < f->n && !rc; i++) {
        uint64_t v;
        if (!(rc = cr_buf_get(b, &v, sizeof v)) && v >= f->n)
            rc = cr_fail(CREST_E_FORMAT, "row %llu out of range", (unsigned long long)v);
        f->idx[i] = (size_t)v;
    }
    for (int e = 0; e < f->epoch && !rc; e++) {
        double r[5];
        rc = cr_buf_get(b, r, sizeof r);
        f->hist.loss[e] = r[0];
        f->hist.accuracy[e] = r[1];
        f->hist.val_loss[e] = r[2];
        f->hist.val_accuracy[e] = r[3];
        f->hist.lr[e] = r[4];
    }
    f->hist.epochs = f->epoch;
    return rc;
}

/* Weights: sizes checked first, then copied (nothing half-restored). */
static int get_weights(cr_fit *f, cr_buf *b)
{
    crest_model *m = f->m;
    int32_t n;
    int rc = cr_buf_get(b, &n, sizeof n);
    if (!rc && n != m->n_weights)
        rc = cr_fail(CREST_E_FORMAT, "%d weights, the model has %d", (int)n, m->n_weights);
    size_t start = b->pos;
    for (int i = 0; i < m->n_weights && !rc; i++) {
        int64_t sz;
        if (!(rc = cr_buf_get(b, &sz, sizeof sz)) && sz != m->weights[i]->size)
            rc = cr_fail(CREST_E_FORMAT, "weight '%s' has %lld values, not %lld",
                         m->weights[i]->name, (long long)sz, (long long)m->weights[i]->size);
        if (!rc)
            rc = cr_buf_get(b, NULL, (size_t)sz * sizeof(float));
    }
    if (rc)
        return rc;
    b->pos = start;
    for (int i = 0; i < m->n_weights; i++) {
        cr_buf_get(b, NULL, sizeof(int64_t));
        cr_buf_get(b, m->weights[i]->val, (size_t)m->weights[i]->size * sizeof(float));
        m->weights[i]->version++;   /* prepared (packed) kernels follow */
    }
    return CREST_OK;
}

static int restore(cr_fit *f, cr_buf *b)
{
    int rc = check_file(f, b);
    if (!rc)
        rc = get_order(f, b);
    if (!rc)
        rc = cr_optimizer_restore(f->m->opt, f->m, b);
    if (!rc)
        rc = get_weights(f, b);
    uint8_t has_best = 0;
    if (!rc)
        rc = cr_buf_get(b, &has_best, 1);
    if (!rc && has_best != (f->best != NULL))
        rc = cr_fail(CREST_E_FORMAT, "best weights %s", has_best ? "unexpected" : "missing");
    if (!rc && f->best)
        rc = cr_buf_get(b, f->best, f->n_params * sizeof(float));
    if (!rc && b->pos != b->len)
        rc = cr_fail(CREST_E_FORMAT, "%zu bytes left over", b->len - b->pos);
    return rc;
}

static bool good_name(const char *s)
{
    if (!*s || strlen(s) > 100 || *s == '.')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

/* The checkpoint in b (from file, or o->resume_bytes) restored into f. */
static int resume_from(cr_fit *f, cr_buf *b, const char *what)
{
    int rc = restore(f, b);
    if (rc)
        return cr_wrap(rc, "fit: checkpoint %s", what);
    cr_fit_progress(f->o, (crest_progress){ .kind = CREST_PROGRESS_RESUME, .epoch = f->epoch,
                                            .epochs = f->epochs, .path = what });
    return CREST_OK;
}

int cr_fit_checkpoint_open(cr_fit *f)
{
    const crest_fit_opts *o = f->o;
    const char *name = o->checkpoint_name ? o->checkpoint_name : "fit";
    if ((o->checkpoint_dir && !*o->checkpoint_dir) || !good_name(name))
        return cr_fail(CREST_E_ARG, "fit: checkpoint folder '%s' / name '%s' (a name is "
                       "letters, digits, '-', '_', '.')", o->checkpoint_dir ? o->checkpoint_dir : "",
                       name);
    if (o->checkpoint_dir) {   /* this process writes the checkpoints */
        size_t len = strlen(o->checkpoint_dir) + strlen(name) + 8;
        if (!(f->ckpt = cr_malloc(len)))
            return cr_fail(CREST_E_NOMEM, "fit: out of memory");
        snprintf(f->ckpt, len, "%s/%s.ckpt", o->checkpoint_dir, name);
    }
    int rc = fingerprint(f, &f->fingerprint);
    if (rc || !o->resume)
        return rc;
    cr_buf b = { 0 };
    if (o->resume_bytes) {   /* read by another process: only read here */
        b.p = (unsigned char *)(uintptr_t)o->resume_bytes;
        b.len = o->resume_size;
        return resume_from(f, &b, f->ckpt ? f->ckpt : name);
    }
    struct stat st;
    if (!f->ckpt || stat(f->ckpt, &st) != 0)
        return CREST_OK;
    char *text = NULL;
    rc = cr_read_file(f->ckpt, CKPT_MAX, &text, &b.len);
    b.p = (unsigned char *)text;
    if (!rc)
        rc = resume_from(f, &b, f->ckpt);
    cr_free(b.p);
    return rc;
}
