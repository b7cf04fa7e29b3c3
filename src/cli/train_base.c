/* train_base.c - `crest train --base MODEL`: transfer learning.
 *
 *   1. load the backbone, cut it (include_top=False) and add global pooling;
 *      freeze it;
 *   2. open the data through the backbone's image transform (input size,
 *      grey/RGB, preprocessing): a folder, IDX set or image file, lazily, so
 *      samples are decoded a pass at a time;
 *   3. backbone features, once, in batches on every core (--cache: on disk);
 *   4. train the head (hidden Dense, Dropout, Dense softmax) on the features;
 *   5. append the head to the backbone: one model, saved with the class
 *      names and the image preprocessing so predict applies the same;
 *   6. --fine-tune N: unfreeze the backbone's last N layers and fit the whole
 *      model at lr / 10 (BatchNorm stays in inference mode).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

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

static int features(crest_model *m, const crest_dataset *d, const char *cache,
                    const char *what, crest_dataset **out)
{
    crest_extract_stats st;
    int rc = crest_extract(m, d, &(crest_extract_opts){ .batch_size = 32, .cache_dir = cache,
                                                        .progress = cli_progress_bar,
                                                        .stats = &st },
                           out);
    if (!rc)
        fprintf(stderr, "features (%s): %zu images in %.2f s (%.2f ms/image)%s\n", what,
                crest_dataset_size(d), st.seconds,
                1e3 * st.seconds / (double)(crest_dataset_size(d) ? crest_dataset_size(d) : 1),
                st.cache_hit ? ", from the cache" : "");
    return rc;
}

static crest_optimizer *make_opt(const train_opts *o, double lr)
{
    if (!o->optimizer || !strcmp(o->optimizer, "adam"))
        return crest_adam((float)lr);
    if (!strcmp(o->optimizer, "sgd"))
        return crest_sgd((float)lr, 0, false);
    return crest_rmsprop((float)lr);
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
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    int rc = s ? crest_model_set_metadata(m, s) : CREST_E_NOMEM;
    free(s);
    return rc;
}

int cmd_train_base(const train_opts *o)
{
    crest_model *m = NULL, *head = NULL;
    crest_dataset *ds = NULL, *val = NULL, *ft = NULL, *fv = NULL;
    crest_image_opts io = { 0 };
    char cut[128];
    int rc = EXIT_OK, err;
    crest_pooling pool = CREST_POOL_AVG;
    if (o->pooling && strcmp(o->pooling, "avg")) {
        if (strcmp(o->pooling, "max"))
            return cli_usage("train", "--pooling must be avg or max, not '%s'", o->pooling);
        pool = CREST_POOL_MAX;
    }
    if ((err = crest_model_load(&m, o->base)))
        goto fail;
    if (o->threads)
        crest_model_set_threads(m, (int)o->threads);
    crest_dims in = crest_model_input_shape(m);
    if ((in.ndim != 2 && in.ndim != 3) || (in.ndim == 3 && in.d[2] != 1 && in.d[2] != 3)) {
        fprintf(stderr, "crest train: %s: the backbone's input is not an image [H, W, 1|3] "
                        "or [H, W]\n", o->base);
        rc = EXIT_INPUT;
        goto out;
    }
    io = (crest_image_opts){ .height = (int)in.d[0], .width = (int)in.d[1],
                             .channels = in.ndim == 3 ? (int)in.d[2] : 1 };
    if ((err = base_preprocess(o, m, &io.preprocess)))
        goto fail;
    if (o->cut)
        snprintf(cut, sizeof cut, "%s", o->cut);
    else if ((err = crest_model_default_cut(m, cut, sizeof cut)))
        goto fail;
    if ((err = crest_model_cut(m, cut, pool)) ||
        (err = crest_model_set_trainable(m, 0, -1, false)))
        goto fail;
    int nb = crest_model_layer_count(m);
    fprintf(stderr, "backbone: %s cut after '%s', %s pooling, %lld features, %d layers frozen; "
                    "preprocessing %s\n", o->base, cut, pool == CREST_POOL_MAX ? "max" : "avg",
            (long long)crest_model_output_size(m), nb, crest_preprocess_name(io.preprocess));
    bool split = !o->val && o->val_split > 0;   /* seeded, stratified (cli_split_val) */
    if ((err = load_data(o, o->data, &io, o->limit, split, &ds, &val)) ||
        (o->val && (err = load_data(o, o->val, &io, o->limit > 0 ? o->limit / 2 : 0, false,
                                    &val, NULL))))
        goto fail;
    double t0 = now_s();
    if ((err = features(m, ds, o->cache, "train", &ft)) ||
        (val && (err = features(m, val, o->cache, "validation", &fv))))
        goto fail;
    double t_feat = now_s() - t0;

    int K = crest_dataset_classes(ds);
    if ((err = crest_sequential_new(&head, crest_dataset_sample_shape(ft))))
        goto fail;
    crest_model_set_seed(head, (uint64_t)o->seed);
    for (int i = 0; i < o->n_hidden; i++)
        crest_add(head, crest_dense(o->hidden[i], CREST_RELU));
    if (o->dropout > 0)
        crest_add(head, crest_dropout((float)o->dropout));
    if ((err = crest_add(head, crest_dense(K, CREST_SOFTMAX))) ||
        (err = crest_compile(head, &(crest_compile_opts){ .optimizer = make_opt(o, o->lr),
                                                          .loss = CREST_SPARSE_CCE,
                                                          .metrics = CREST_ACCURACY })))
        goto fail;
    crest_history hist;
    t0 = now_s();
    char ck[4096];
    crest_fit_opts fo = cli_fit_opts(o, cli_checkpoint_dir(o, ck, sizeof ck), "head");
    fo.validation_data = fv;
    fo.history = &hist;
    fo.on_epoch_end = NULL;   /* the head alone is no model to save: --checkpoint
                                 saves the whole model while fine-tuning */
    err = crest_fit(head, ft, &fo);
    if (err)
        goto fail;
    fprintf(stderr, "head training: %.2f s (features: %.2f s)\n", now_s() - t0, t_feat);
    if ((err = crest_model_append(m, head)) || (err = set_metadata(m, o, ds, &io, cut)))
        goto fail;

    if (o->fine_tune > 0) {
        int last = nb;   /* the global pooling layer added by the cut is not counted */
        const char *ln = crest_layer_name(crest_model_layer(m, nb - 1));
        if (ln && !strncmp(ln, "global_", 7))
            last = nb - 1;
        int n = o->fine_tune > last ? last : (int)o->fine_tune;
        if ((err = crest_model_set_trainable(m, last - n, n, true)))
            goto fail;
        fprintf(stderr, "fine-tuning the backbone's last %d layers at lr %g\n", n, o->lr / 10);
        t0 = now_s();
        err = crest_compile(m, &(crest_compile_opts){ .optimizer = make_opt(o, o->lr / 10),
                                                      .loss = CREST_SPARSE_CCE,
                                                      .metrics = CREST_ACCURACY });
        fo = cli_fit_opts(o, ck, "fine-tune");
        fo.epochs = o->fine_tune_epochs ? (int)o->fine_tune_epochs : 2;
        fo.early_stopping_patience = 0;
        fo.initial_epoch = 0;
        fo.validation_data = val;
        if (!err)
            err = crest_fit(m, ds, &fo);   /* lazy: inputs made a batch at a time */
        if (err)
            goto fail;
        fprintf(stderr, "fine-tuning: %.2f s\n", now_s() - t0);
    }
    if (!(o->fine_tune > 0 && cli_keep_best(o)) && (err = crest_model_save(m, o->out)))
        goto fail;
    cli_checkpoint_done(o);
    printf("saved: %s\n", o->out);
    goto out;
fail:
    rc = cli_fail("train", err);
out:
    crest_model_free(m);
    crest_model_free(head);
    crest_dataset_free(ds);
    crest_dataset_free(val);
    crest_dataset_free(ft);
    crest_dataset_free(fv);
    return rc;
}
