/* train_base.c - `crest train --base MODEL`: transfer learning.
 *
 *   1. load the backbone, cut it (include_top=False) and add global pooling;
 *      freeze it;
 *   2. open the data through the backbone's image transform (input size,
 *      grey/RGB, preprocessing): a folder, IDX set or image file, lazily, so
 *      samples are decoded a pass at a time;
 *   3. backbone features, once, in batches on every core (--cache: on disk);
 *      with --augment, K augmented copies of each training image's
 *      features (--augment-copies, default 4), each with its own draws;
 *   4. train the head (hidden Dense, Dropout, Dense softmax) on the features;
 *   5. append the head to the backbone and put --augment's layers in
 *      front of it, as Keras users build it (inputs -> augmentation ->
 *      backbone -> pooling -> head): one model, saved with the class names
 *      and the image preprocessing so predict applies the same; the layers
 *      are the identity at inference;
 *   6. --fine-tune N: unfreeze the backbone's last N layers and fit the whole
 *      model at lr / 10 (BatchNorm stays in inference mode); the model's
 *      augmentation layers draw afresh at every step.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "dist.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The backbone's preprocessing: --preprocess, else what its metadata records
 * ({"crest":{"image":{...}}} or {"crest":{"preprocessing":"x/255"}}), else x/255. */
static int base_preprocess(const train_opts *o, crest_model *m, crest_preprocess *out)
{
    *out = CREST_PRE_RESCALE;
    if (o->preprocess)
        return crest_preprocess_parse(o->preprocess, out);
    crest_image_opts io;
    if (crest_model_image_opts(m, &io) == CREST_OK) {
        *out = io.preprocess;
        return CREST_OK;
    }
    const char *meta = crest_model_metadata(m);
    cJSON *j = meta ? cJSON_Parse(meta) : NULL;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "crest"),
                                                     "preprocessing");
    int rc = cJSON_IsString(p) ? crest_preprocess_parse(p->valuestring, out) : CREST_OK;
    cJSON_Delete(j);
    return rc;
}

/* SPEC as model inputs for the backbone (lazy: decoded a pass at a time),
 * the first --limit samples; split: the seeded, stratified --val-split goes
 * to *val. */
static int load_data(const train_opts *o, const char *spec, const crest_image_opts *io,
                     long limit, bool split, crest_dataset **out, crest_dataset **val)
{
    int rc = cli_open_images("train", spec, io, out);
    if (!rc && limit > 0 && (size_t)limit < crest_dataset_size(*out)) {
        crest_dataset *s = NULL;
        rc = crest_dataset_slice(*out, 0, (size_t)limit, &s);
        crest_dataset_free(*out);
        *out = rc ? NULL : s;
    }
    if (!rc && split)
        rc = cli_split_val(o, out, val);
    return rc;
}

/* d's features as every rank's shares gathered: d's samples with copies
 * (copy-major) and d's labels, on every rank if the head trains
 * data-parallel, else on rank 0 (*out stays NULL elsewhere); mine: this
 * rank's share's (NULL if empty). */
static int gather_features(const crest_dataset *d, const crest_dataset *mine, int copies,
                           int64_t dim, crest_dataset **out)
{
    size_t n = crest_dataset_size(d), first, count, rows = (size_t)copies * n;
    cli_dist_share(n, 32, &first, &count);
    bool to_all = cli_dist_head_parallel(), here = to_all || cli_dist_rank() == 0;
    const int32_t *lab = crest_dataset_labels(d);
    float *x = here ? malloc((rows ? rows : 1) * (size_t)dim * sizeof *x) : NULL;
    int32_t *labels = here ? malloc((rows ? rows : 1) * sizeof *labels) : NULL;
    int err = !here || (x && labels && lab) ? EXIT_OK : EXIT_RUN;
    if (err)
        fprintf(stderr, "crest train: %s gathering %zu x %lld features\n",
                lab ? "out of memory" : "no integer labels", rows, (long long)dim);
    err = cli_dist_check("train", err);   /* all ranks gather, or none */
    static const float none[1];
    if (!err)
        err = cli_dist_gather_rows(mine ? crest_dataset_x(mine) : none, count, (size_t)dim,
                                   copies, x, n, to_all);
    for (int k = 0; !err && here && k < copies; k++)
        memcpy(labels + (size_t)k * n, lab, n * sizeof *lab);
    if (!err && here)
        err = crest_dataset_new(out, rows, crest_shape(1, dim), x, labels,
                                crest_dataset_classes(d));
    free(x);
    free(labels);
    return err;
}

/* Backbone features of d; aug (n_aug layers, copies each): augmented
 * copies, seeded by seed. Under mpirun each rank extracts (and caches) its
 * share, contiguous in whole batches of 32, which the ranks then gather;
 * session: a number per call (the progress messages' own). */
static int features(crest_model *m, const crest_dataset *d, const char *cache,
                    const char *what, crest_layer *const *aug, int n_aug, int copies,
                    uint64_t seed, bool inference, int session, crest_dataset **out)
{
    enum { BATCH = 32 };   /* the share's cut: the batches a single process runs */
    size_t n = crest_dataset_size(d), first = 0, count = n;
    int ranks = cli_dist_size();
    if (ranks > 1)
        cli_dist_share(n, BATCH, &first, &count);
    int k = n_aug ? copies : 1;
    crest_dataset *part = NULL, *mine = NULL;
    crest_extract_stats st = { 0 };
    cli_dist_progress pr;
    double t0 = cli_dist_now();
    int err = cli_dist_progress_begin(&pr, n * (size_t)k, session);
    if (!err && ranks > 1 && count)
        err = crest_dataset_slice(d, first, count, &part);
    if (!err && count)
        err = crest_extract(m, part ? part : d, &(crest_extract_opts){ .batch_size = BATCH,
                                .cache_dir = cache, .progress = cli_dist_progress_fn,
                                .progress_user = &pr, .stats = &st, .augment = aug,
                                .n_augment = n_aug, .copies = k, .augment_seed = seed,
                                .augment_inference = inference, .sample_offset = first },
                            &mine);
    crest_dataset_free(part);
    err = cli_dist_check("train", err);   /* every rank: a file failing anywhere ends all */
    cli_dist_progress_end(&pr, !err);
    long busy = err ? 0 : cli_dist_sum(count > 0);   /* ranks with a share */
    long hits = err ? 0 : cli_dist_sum(st.cache_hit && count);
    if (!err && ranks > 1)
        err = gather_features(d, mine, k, crest_model_output_size(m), out);
    else if (!err)
        *out = mine, mine = NULL;
    crest_dataset_free(mine);
    double secs = cli_dist_now() - t0;
    size_t nf = n * (size_t)k;
    char on[64] = "", from[64] = "";
    if (ranks > 1)
        snprintf(on, sizeof on, " on %d ranks", ranks);
    if (hits && hits == busy)
        snprintf(from, sizeof from, ", from the cache");
    else if (hits)
        snprintf(from, sizeof from, ", from the cache on %ld of %ld ranks", hits, busy);
    if (!err)
        fprintf(stderr, "features (%s): %zu images%s%s in %.2f s (%.2f ms/image)%s\n", what,
                nf, n_aug && !inference ? " (augmented copies)" : "", on, secs,
                1e3 * secs / (double)(nf ? nf : 1), from);
    return err;
}

static int set_metadata(crest_model *m, const train_opts *o, const crest_dataset *ds,
                        const crest_image_opts *io, const char *cut)
{
    cJSON *root = cJSON_CreateObject(), *c = cJSON_AddObjectToObject(root, "crest");
    cJSON_AddStringToObject(c, "loss", "sparse_categorical_crossentropy");
    cJSON_AddStringToObject(c, "data", o->data);
    cJSON_AddNumberToObject(c, "classes", crest_dataset_classes(ds));
    if (crest_dataset_class_name(ds, 0)) {
        cJSON *names = cJSON_AddArrayToObject(c, "class_names");
        for (int k = 0; k < crest_dataset_classes(ds); k++)
            cJSON_AddItemToArray(names, cJSON_CreateString(crest_dataset_class_name(ds, k)));
    }
    cJSON_AddStringToObject(c, "preprocessing", crest_preprocess_name(io->preprocess));
    char *ij = crest_image_opts_json(io);
    cJSON_AddItemToObject(c, "image", ij ? cJSON_Parse(ij) : cJSON_CreateNull());
    crest_free(ij);
    cJSON_AddStringToObject(c, "base", o->base);
    cJSON_AddStringToObject(c, "cut", cut);
    if (o->augment) {   /* a summary of how the head was trained: the layers
                           themselves are the model's first ones */
        cJSON_AddStringToObject(c, "augment", o->augment);
        cJSON_AddNumberToObject(c, "augment_copies", o->augment_copies ? o->augment_copies : 4);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    int rc = s ? crest_model_set_metadata(m, s) : CREST_E_NOMEM;
    free(s);
    return rc;
}

/* One `crest train --base` run: what its steps make and the last frees. */
typedef struct base_run {
    const train_opts *o;
    crest_model *m, *head;            /* the backbone (then the whole model); the head */
    crest_dataset *ds, *val, *ft, *fv;   /* images; their backbone features */
    crest_image_opts io;              /* the backbone's image transform */
    char cut[128];                    /* the layer the backbone ends at */
    int nb;                           /* backbone layers, with the cut's pooling */
    double t_feat;                    /* seconds of feature extraction */
    float *cw;                        /* --class-weight, or NULL */
    crest_layer **aug;                /* --augment's layers (n_aug), or NULL */
    int n_aug;
    int n_front;                      /* layers put in front of the backbone */
    int crop_h, crop_w;               /* --augment crop: the window (the backbone's
                                         input); io is then the larger loaded size */
    bool dynamic;                     /* the backbone's input size is unknown */
    crest_history *hist;              /* [2]: the head's fit, fine-tuning's */
} base_run;

/* Steps return 0, a library error (< 0, reported by cmd_train_base) or an
 * exit code (> 0, reported). */

/* The backbone's input as an image transform: [H, W, 1|3] or [H, W]. */
static int backbone_input(base_run *r)
{
    crest_dims in = crest_model_input_shape(r->m);
    if ((in.ndim != 2 && in.ndim != 3) || (in.ndim == 3 && in.d[2] != 1 && in.d[2] != 3)) {
        fprintf(stderr, "crest train: %s: the backbone's input is not an image [H, W, 1|3] "
                        "or [H, W]\n", r->o->base);
        return EXIT_INPUT;
    }
    /* an unknown size (None) takes --image-size, else Keras'
     * image_dataset_from_directory default, 256x256; a fixed one its own */
    const int *want = r->o->image_size;
    for (int i = 0; i < 2; i++) {
        if (in.d[i] == CREST_DIM_NONE) {
            in.d[i] = want[0] ? want[i] : 256;
        } else if (want[0] && in.d[i] != want[i]) {
            fprintf(stderr, "crest train: --image-size %dx%d: backbone %s takes %lldx%lld "
                            "images only\n", want[0], want[1], r->o->base,
                    (long long)in.d[0], (long long)in.d[1]);
            return EXIT_INPUT;
        }
    }
    r->io = (crest_image_opts){ .height = (int)in.d[0], .width = (int)in.d[1],
                                .channels = in.ndim == 3 ? (int)in.d[2] : 1 };
    r->dynamic = crest_model_input_shape(r->m).d[0] == CREST_DIM_NONE;
    r->crop_h = r->io.height;
    r->crop_w = r->io.width;
    double f = r->o->augment ? cli_augment_crop(r->o->augment) : 0;
    if (f > 0) {   /* --augment crop=F: images loaded larger, a window taken */
        r->io.height = (int)(r->crop_h / f + 0.5);
        r->io.width = (int)(r->crop_w / f + 0.5);
    }
    return base_preprocess(r->o, r->m, &r->io.preprocess);
}

/* Step 1: --base loaded, cut (include_top=False) with global pooling, frozen. */
static int load_backbone(base_run *r)
{
    const train_opts *o = r->o;
    crest_pooling pool = o->pooling && !strcmp(o->pooling, "max") ? CREST_POOL_MAX
                                                                  : CREST_POOL_AVG;
    int err = crest_model_load(&r->m, o->base);
    if (!err && o->threads)
        crest_model_set_threads(r->m, (int)o->threads);
    if (!err)
        err = backbone_input(r);
    if (!err && o->cut)
        snprintf(r->cut, sizeof r->cut, "%s", o->cut);
    else if (!err)
        err = crest_model_default_cut(r->m, r->cut, sizeof r->cut);
    if (!err)
        err = crest_model_cut(r->m, r->cut, pool);
    if (!err)
        err = crest_model_set_trainable(r->m, 0, -1, false);
    if (err)
        return err;
    r->nb = crest_model_layer_count(r->m);
    fprintf(stderr, "backbone: %s cut after '%s', %s pooling, %lld features, %d layers frozen; "
                    "preprocessing %s\n", o->base, r->cut, pool == CREST_POOL_MAX ? "max" : "avg",
            (long long)crest_model_output_size(r->m), r->nb,
            crest_preprocess_name(r->io.preprocess));
    return CREST_OK;
}

/* Steps 2 and 3: the images through the backbone's transform, and their
 * features (--cache: on disk). */
static int extract(base_run *r, int err)
{
    const train_opts *o = r->o;
    bool split = !o->val && o->val_split > 0;   /* seeded, stratified (cli_split_val) */
    if (!err)
        err = load_data(o, o->data, &r->io, o->limit, split, &r->ds, &r->val);
    if (!err && o->val)
        err = load_data(o, o->val, &r->io, o->limit > 0 ? o->limit / 2 : 0, false, &r->val,
                        NULL);
    int copies = o->augment_copies ? (int)o->augment_copies : 4;
    if (!err && o->augment)
        err = cli_augment_layers(o->augment, r->io.preprocess, o->seed, r->crop_h, r->crop_w,
                                 &r->aug, &r->n_aug);
    if (!err && o->augment)
        fprintf(stderr, "augmentation: %s, %d copies of each training image%s\n", o->augment,
                copies, o->fine_tune > 0 ? "; while fine-tuning, new draws every step" : "");
    bool crop = r->io.height != r->crop_h || r->io.width != r->crop_w;
    if (!err && crop)
        fprintf(stderr, "random crop: images loaded at %dx%d, a %dx%d window while training, "
                        "resized to it at inference\n", r->io.height, r->io.width, r->crop_h,
                r->crop_w);
    double t0 = now_s();
    if (!err)
        err = features(r->m, r->ds, o->cache, "train", r->aug, r->n_aug, copies,
                       (uint64_t)o->seed, false, 0, &r->ft);
    else   /* the other ranks wait for this one's word (cli_dist_check) */
        err = cli_dist_check("train", err);
    if (!err && r->val)   /* a crop in front: resized to the window, as at predict */
        err = features(r->m, r->val, o->cache, "validation", crop ? r->aug : NULL,
                       crop ? r->n_aug : 0, 1, 0, true, 1, &r->fv);
    r->t_feat = now_s() - t0;
    return err;
}

/* Step 4: the head, trained on the features. */
static int train_head(base_run *r)
{
    const train_opts *o = r->o;
    int err = crest_sequential_new(&r->head, crest_dataset_sample_shape(r->ft));
    if (err)
        return err;
    crest_model_set_seed(r->head, (uint64_t)o->seed);
    if ((err = cli_add_head(r->head, o, crest_dataset_classes(r->ds))) ||
        (err = crest_compile(r->head, &(crest_compile_opts){ .optimizer = cli_optimizer(o, o->lr),
                                 .loss = CREST_SPARSE_CCE, .metrics = CREST_ACCURACY,
                                 .label_smoothing = (float)o->label_smoothing })) ||
        (err = cli_class_weight(o, r->m, r->ds, &r->cw)))
        return err;
    double t0 = now_s();
    char ck[4096];
    crest_fit_opts fo = cli_fit_opts(o, cli_checkpoint_dir(o, ck, sizeof ck), "head");
    fo.validation_data = r->fv;
    fo.history = &r->hist[0];
    fo.on_epoch_end = NULL;   /* the head alone is no model to save: --checkpoint
                                 saves the whole model while fine-tuning */
    fo.best_model_dir = NULL;
    fo.class_weight = r->cw;
    /* micro-shards of 8 rows, summed in order: the same bits from any number
     * of ranks (each computes its part of every batch), and from the plain
     * build, which takes the same steps */
    if ((err = cli_dist_fit_opts(&fo, cli_dist_head_parallel())) ||
        (err = crest_fit(r->head, r->ft, &fo)))
        return err;
    fprintf(stderr, "head training: %.2f s (features: %.2f s)\n", now_s() - t0, r->t_feat);
    return CREST_OK;
}

/* Step 6: --fine-tune N: the backbone's last N layers trained with the head
 * at lr / 10 (BatchNorm stays in inference mode). */
static int fine_tune(base_run *r)
{
    const train_opts *o = r->o;
    int last = r->nb;   /* the global pooling layer added by the cut is not counted */
    const char *ln = crest_layer_name(crest_model_layer(r->m, r->n_front + r->nb - 1));
    if (ln && !strncmp(ln, "global_", 7))
        last = r->nb - 1;
    int n = o->fine_tune > last ? last : (int)o->fine_tune;
    int err = crest_model_set_trainable(r->m, r->n_front + last - n, n, true);
    if (err)
        return err;
    fprintf(stderr, "fine-tuning the backbone's last %d layers at lr %g\n", n, o->lr / 10);
    double t0 = now_s();
    err = crest_compile(r->m, &(crest_compile_opts){ .optimizer = cli_optimizer(o, o->lr / 10),
                                                     .loss = CREST_SPARSE_CCE,
                                                     .metrics = CREST_ACCURACY,
                                                     .label_smoothing =
                                                         (float)o->label_smoothing });
    char ck[4096];
    crest_fit_opts fo = cli_fit_opts(o, cli_checkpoint_dir(o, ck, sizeof ck), "fine-tune");
    fo.epochs = o->fine_tune_epochs ? (int)o->fine_tune_epochs : 2;
    fo.early_stopping_patience = 0;
    fo.initial_epoch = 0;
    fo.validation_data = r->val;
    fo.class_weight = r->cw;
    /* --augment: the model's own first layers draw at every step, per
     * micro-shard; under mpirun every rank computes its part of each
     * batch's micro-shards (the same bits as one process, as the head's) */
    fo.history = &r->hist[1];
    if (!err)
        err = cli_dist_fit_opts(&fo, cli_dist_size() > 1);
    if (!err)
        err = crest_fit(r->m, r->ds, &fo);   /* lazy: inputs made a batch at a time */
    if (!err)
        fprintf(stderr, "fine-tuning: %.2f s\n", now_s() - t0);
    return err;
}

/* Step 5's front: --augment's layers become the model's first (consumed). */
static int prepend_augment(base_run *r)
{
    crest_dims in = crest_model_input_shape(r->m);   /* a crop takes larger images */
    in.d[0] = r->io.height;
    in.d[1] = r->io.width;
    int err = crest_model_prepend(r->m, r->aug, r->n_aug, r->dynamic ? NULL : &in);
    r->n_front = r->n_aug;
    free(r->aug);   /* the layers are the model's now (or freed) */
    r->aug = NULL;
    r->n_aug = 0;
    return err;
}

/* Steps 5 and 6: one model, with what predict needs to read images; then
 * --fine-tune. */
static int assemble(base_run *r)
{
    int err = crest_model_append(r->m, r->head);
    if (!err && r->n_aug)
        err = prepend_augment(r);
    if (!err)
        err = set_metadata(r->m, r->o, r->ds, &r->io, r->cut);
    if (!err && r->o->fine_tune > 0)
        err = fine_tune(r);
    return err;
}

/* A backbone that carries augmentation layers of its own (a model crest
 * train --augment wrote): they stay, and augment its fine-tuning; a second
 * set from --augment would augment twice. */
static int check_base_augment(const base_run *r)
{
    for (int i = 0; i < crest_model_layer_count(r->m); i++) {
        const char *cls = crest_layer_class(crest_model_layer(r->m, i));
        if (cls && !strncmp(cls, "Random", 6) && r->o->augment) {
            fprintf(stderr, "crest train: --augment: backbone %s already has augmentation "
                            "layer '%s' (%s); train without --augment to keep its own\n",
                    r->o->base, crest_layer_name(crest_model_layer(r->m, i)), cls);
            return EXIT_USAGE;
        }
    }
    return 0;
}

/* The report: scored on the validation images (else the training ones);
 * the head on their features when those are the model's inputs as they
 * are (no fine-tuning; training features without augmented copies). */
static int base_report(base_run *r)
{
    const train_opts *o = r->o;
    crest_model *saved = NULL;
    int err = cli_saved_model(o, r->m, &saved);
    if (err)
        return err;
    bool ft = o->fine_tune > 0;
    const crest_dataset *imgs = r->val ? r->val : r->ds, *feats = r->val ? r->fv : r->ft;
    bool on_feats = !ft && (r->val || !r->n_front);   /* no augmented copies */
    if (!ft && !on_feats && !saved)   /* the whole model, compiled only to fine-tune */
        err = crest_compile(r->m, &(crest_compile_opts){ .loss = CREST_SPARSE_CCE });
    if (err)
        return err;
    char kind[700];
    snprintf(kind, sizeof kind, "transfer learning: a Dense head on %.300s cut after '%s'%s",
             o->base, r->cut, ft ? ", then fine-tuned" : "");
    err = cli_train_report(&(cli_report){ .o = o, .kind = kind, .n_phases = ft ? 2 : 1,
        .hist = { &r->hist[0], &r->hist[1] }, .phase = { "head", "fine-tune" },
        .first = { (int)o->initial_epoch, 0 }, .has_val = r->val != NULL,
        .scored = saved ? saved : on_feats ? r->head : r->m, .named = r->m,
        .eval = on_feats && !saved ? feats : imgs, .val_is_eval = r->val != NULL, .pics = imgs,
        .val_what = cli_val_what(o) });
    crest_model_free(saved);
    return err;
}

int cmd_train_base(const train_opts *o)
{
    base_run r = { .o = o };
    int err = 0;
    if (o->augment) {   /* the spec checked before any work (value ranges come later) */
        err = cli_augment_layers(o->augment, CREST_PRE_RESCALE, o->seed, 224, 224, &r.aug,
                                 &r.n_aug);
        cli_augment_free(r.aug, r.n_aug);
        r.aug = NULL;
        r.n_aug = 0;
        if (err)
            return err;
    }
    r.hist = calloc(2, sizeof *r.hist);
    err = r.hist ? load_backbone(&r) : CREST_E_NOMEM;
    if (!err)
        err = check_base_augment(&r);
    /* fine-tuning over the ranks: each needs the head, so each trains it */
    bool all_tune = o->fine_tune > 0 && cli_dist_size() > 1;
    if (all_tune)
        cli_dist_force_parallel();
    err = extract(&r, err);   /* every rank, whatever happened: it checks with the others */
    bool parallel = cli_dist_head_parallel();   /* else the head trains on rank 0 */
    if (!err && parallel)
        err = cli_dist_check("train", train_head(&r));
    if (!err && all_tune)   /* every rank, its part of each step */
        err = cli_dist_check("train", assemble(&r));
    bool solo = !err && cli_dist_size() > 1;   /* rank 0's part, the others waiting */
    if (solo && cli_dist_rank() > 0)   /* rank 0 alone writes the model and the report */
        goto out;
    if (!err && !parallel)
        err = train_head(&r);
    if (!err && !all_tune)
        err = assemble(&r);
    if (!err)   /* --checkpoint best saves while fine-tuning only */
        err = cli_save_trained(r.m, o, o->fine_tune > 0 && cli_keep_best(o));
    if (!err)
        err = base_report(&r);
out:
    if (solo)   /* the ranks end with rank 0's word */
        err = cli_dist_check("train", err);
    crest_model_free(r.m);
    crest_model_free(r.head);
    crest_dataset_free(r.ds);
    crest_dataset_free(r.val);
    crest_dataset_free(r.ft);
    crest_dataset_free(r.fv);
    free(r.cw);
    cli_augment_free(r.aug, r.n_aug);
    free(r.hist);
    return err > 0 ? err : err ? cli_fail("train", err) : EXIT_OK;
}
