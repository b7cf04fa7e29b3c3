/* train.c - `crest train`: a Dense head (optionally hidden layers) on a data set. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *help =
    "usage: crest train --data SPEC --out DIR [options]\n"
    "  --data SPEC          fashion-mnist[:train|:test], mnist[:train|:test], IDX folder,\n"
    "                       a table (.csv with a header row, .arff) or penguins\n"
    "  --out DIR            where the trained model goes (TF.js layers format)\n"
    "  --hidden 256[,128]   hidden Dense(relu) layers (default none: Dense softmax only)\n"
    "  --dropout P          dropout before the final Dense\n"
    "  --epochs E --batch B --lr LR --optimizer adam|sgd|rmsprop --seed S\n"
    "  --val SPEC | --val-split F   validation data, reported each epoch\n"
    "  --early-stop PATIENCE        stop when val loss stops improving; restore best\n"
    "  --resume DIR         continue the killed run whose --out was DIR from its last\n"
    "                       checkpoint (DIR/checkpoint/, written atomically after every\n"
    "                       epoch and removed once the model is saved); the other\n"
    "                       options must be the same; it ends bit-identical\n"
    "  --initial-epoch E    start counting at epoch E (Keras' initial_epoch)\n"
    "  --checkpoint every|best  also save the model to --out after every epoch (best:\n"
    "                       when val loss, else loss, improved; DIR then ends with the\n"
    "                       best epoch's model); with --base, while fine-tuning\n"
    "  --threads T\n"
    "  tables: --label COL (required), --columns SPEC.json (default: inferred and\n"
    "  printed), --holdout N (every Nth row held out and scored; default none),\n"
    "  --delimiter C, --chunk ROWS (stream the table from disk ROWS at a time,\n"
    "  for files larger than memory); defaults there: --epochs 30 --lr 0.01\n"
    "transfer learning (a pretrained backbone, its top cut off, frozen):\n"
    "  --base MODEL         Keras TF.js layers folder (or model.json) of the backbone\n"
    "  --cut LAYER          drop everything after LAYER (default: before the backbone's\n"
    "                       own pooling / classifier, as include_top=False)\n"
    "  --pooling avg|max    global pooling on the cut backbone (default avg)\n"
    "  --fine-tune N        then also train the backbone's last N layers, at lr/10\n"
    "  --fine-tune-epochs E epochs of that second phase (default 2)\n"
    "  --cache DIR          cache backbone features on disk; reused when valid\n"
    "  --preprocess MODE    none|rescale|tf|torch|caffe (default: the model's\n"
    "                       recorded preprocessing, else rescale = x/255)\n"
    "  --limit N            use the first N training samples (and N/2 validation)\n"
    "  SPEC may also be a folder with one sub-folder of images per class.\n";


static int parse_hidden(const char *s, train_opts *o)
{
    o->n_hidden = 0;
    for (const char *p = s;; p++) {   /* "256,128": no empty sizes, at most 8 */
        char t[32];
        size_t n = strcspn(p, ",");
        long v;
        if (o->n_hidden == 8 || n >= sizeof t) {
            fprintf(stderr, "crest train: --hidden '%s': at most 8 sizes\n", s);
            return EXIT_INPUT;
        }
        memcpy(t, p, n);
        t[n] = 0;
        if (cli_int("train", "--hidden", t, 1, 1 << 20, &v))
            return EXIT_INPUT;
        o->hidden[o->n_hidden++] = (int)v;
        p += n;
        if (!*p)
            return 0;
    }
}

/* Options that mean nothing for this data are errors, not silently ignored. */
static int check_combination(const train_opts *o)
{
    const char *base_only = o->cut ? "--cut" : o->pooling ? "--pooling" : o->cache ? "--cache"
                            : o->preprocess ? "--preprocess" : o->fine_tune ? "--fine-tune"
                            : o->fine_tune_epochs ? "--fine-tune-epochs" : NULL;
    if (base_only && !o->base)
        return cli_usage("train", "%s needs --base MODEL", base_only);
    bool table = cli_is_table(o->data);
    const char *table_only = o->label ? "--label" : o->columns ? "--columns"
                             : o->holdout ? "--holdout" : o->chunk ? "--chunk"
                             : o->delimiter ? "--delimiter" : NULL;
    if (table_only && !table)
        return cli_usage("train", "%s is for tables (.csv, .arff, penguins), not %s",
                         table_only, o->data);
    if (!o->base && cli_is_image_folder(o->data))
        return cli_usage("train", "%s is a folder of images: train on it with --base MODEL "
                         "(a pretrained backbone, e.g. data/models/mobilenet_v2)", o->data);
    if (table && (o->base || o->limit))
        return cli_usage("train", "%s is not for tables", o->base ? "--base" : "--limit");
    if (o->val && o->val_split > 0)
        return cli_usage("train", "give --val or --val-split, not both");
    if (o->patience && !o->val && !(o->val_split > 0))
        return cli_usage("train", "--early-stop needs validation data (--val or --val-split)");
    if (o->pooling && strcmp(o->pooling, "avg") && strcmp(o->pooling, "max"))
        return cli_usage("train", "--pooling must be avg or max, not '%s'", o->pooling);
    crest_preprocess pre;
    if (o->preprocess && crest_preprocess_parse(o->preprocess, &pre))
        return cli_fail("train", CREST_E_ARG);
    return 0;
}

static int parse(int argc, char **argv, train_opts *o)
{
    cli_args a = { argc, 0, argv, "train" };
    const char *name, *val;
    bool inl;
    int rc = 0;
    while (!rc && cli_next(&a, &name, &val, &inl)) {
        const char *v = NULL;
        if (!name)
            return cli_usage("train", "unexpected argument '%s'", val);
        if (!strcmp(name, "--help")) {
            fputs(help, stdout);
            exit(EXIT_OK);
        }
        if ((rc = cli_value(&a, name, val, &v)))
            return rc;
        long l;
        if (!strcmp(name, "--data")) o->data = v;
        else if (!strcmp(name, "--out")) o->out = v;
        else if (!strcmp(name, "--val")) o->val = v;
        else if (!strcmp(name, "--optimizer")) o->optimizer = v;
        else if (!strcmp(name, "--label")) o->label = v;
        else if (!strcmp(name, "--columns")) o->columns = v;
        else if (!strcmp(name, "--delimiter")) rc = cli_delimiter("train", v, &o->delimiter);
        else if (!strcmp(name, "--holdout")) rc = cli_int("train", name, v, 2, 1000, &o->holdout);
        else if (!strcmp(name, "--chunk")) rc = cli_int("train", name, v, 1, 1L << 24, &o->chunk);
        else if (!strcmp(name, "--hidden")) rc = parse_hidden(v, o);
        else if (!strcmp(name, "--dropout")) rc = cli_float("train", name, v, 0, 0.99, &o->dropout);
        else if (!strcmp(name, "--lr")) rc = cli_float("train", name, v, 1e-9, 100, &o->lr);
        else if (!strcmp(name, "--val-split")) rc = cli_float("train", name, v, 0, 0.99, &o->val_split);
        else if (!strcmp(name, "--epochs")) rc = cli_int("train", name, v, 1, 1024, &o->epochs);
        else if (!strcmp(name, "--batch")) rc = cli_int("train", name, v, 1, 1 << 20, &o->batch);
        else if (!strcmp(name, "--seed")) rc = cli_int("train", name, v, 0, 1L << 62, &o->seed);
        else if (!strcmp(name, "--early-stop")) rc = cli_int("train", name, v, 1, 1000, &o->patience);
        else if (!strcmp(name, "--threads")) rc = cli_int("train", name, v, 1, 256, &l), o->threads = l;
        else if (!strcmp(name, "--base")) o->base = v;
        else if (!strcmp(name, "--cut")) o->cut = v;
        else if (!strcmp(name, "--pooling")) o->pooling = v;
        else if (!strcmp(name, "--cache")) o->cache = v;
        else if (!strcmp(name, "--preprocess")) o->preprocess = v;
        else if (!strcmp(name, "--fine-tune")) rc = cli_int("train", name, v, 0, 100000, &o->fine_tune);
        else if (!strcmp(name, "--fine-tune-epochs")) rc = cli_int("train", name, v, 1, 1024, &o->fine_tune_epochs);
        else if (!strcmp(name, "--limit")) rc = cli_int("train", name, v, 1, 1L << 40, &o->limit);
        else if (!strcmp(name, "--resume")) o->resume = v;
        else if (!strcmp(name, "--checkpoint")) o->checkpoint = v;
        else if (!strcmp(name, "--initial-epoch")) rc = cli_int("train", name, v, 0, 1023, &o->initial_epoch);
        else return cli_usage("train", "unknown option %s", name);
    }
    if (rc)
        return rc;
    if (o->resume && !o->out)
        o->out = o->resume;
    if (o->resume && strcmp(o->resume, o->out))
        return cli_usage("train", "--resume %s continues the run whose --out was that folder, "
                         "not --out %s", o->resume, o->out);
    if (!o->data || !o->out)
        return cli_usage("train", "--data and --out are required");
    if (o->checkpoint && strcmp(o->checkpoint, "every") && strcmp(o->checkpoint, "best")) {
        fprintf(stderr, "crest train: --checkpoint '%s' is not every or best\n", o->checkpoint);
        return EXIT_INPUT;
    }
    if ((rc = check_combination(o)))
        return rc;
    if (o->optimizer && strcmp(o->optimizer, "adam") && strcmp(o->optimizer, "sgd") &&
        strcmp(o->optimizer, "rmsprop")) {
        fprintf(stderr, "crest train: --optimizer '%s' is not adam, sgd or rmsprop\n",
                o->optimizer);
        return EXIT_INPUT;
    }
    return 0;
}

const char *cli_checkpoint_dir(const train_opts *o, char *buf, size_t size)
{
    snprintf(buf, size, "%s/checkpoint", o->out);
    return buf;
}

void cli_checkpoint_done(const train_opts *o)
{
    char dir[4096], p[4096 + 260];
    cli_checkpoint_dir(o, dir, sizeof dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".ckpt")) {   /* *.ckpt and their temp files */
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* The loss --checkpoint best watches at epoch e: val_loss with validation. */
static double monitored(const train_opts *o, const crest_history *h, int e)
{
    return o->val || o->val_split > 0 ? h->val_loss[e] : h->loss[e];
}

static int save_epoch(crest_model *m, int epoch, const crest_history *h, void *user)
{
    const train_opts *o = user;
    if (!strcmp(o->checkpoint, "best")) {
        int prev = -1;
        for (int e = o->initial_epoch; e < epoch; e++)
            if (prev < 0 || monitored(o, h, e) < monitored(o, h, prev))
                prev = e;
        if (prev >= 0 && !(monitored(o, h, epoch) < monitored(o, h, prev)))
            return CREST_OK;
        fprintf(stderr, "Epoch %d: %s %s %.5f, saving the model to %s\n", epoch + 1,
                o->val || o->val_split > 0 ? "val_loss" : "loss",
                prev < 0 ? "is" : "improved to", monitored(o, h, epoch), o->out);
    }
    return crest_model_save(m, o->out);
}

crest_fit_opts cli_fit_opts(const train_opts *o, const char *ckdir, const char *name)
{
    char p[4200];
    struct stat st;
    bool have = ckdir && snprintf(p, sizeof p, "%s/%s.ckpt", ckdir, name) < (int)sizeof p &&
                stat(p, &st) == 0;
    if (have && !o->resume)
        fprintf(stderr, "crest train: %s holds a checkpoint of an earlier run: starting over "
                "(--resume %s would continue it)\n", p, o->out);
    if (ckdir && !have && o->resume)
        fprintf(stderr, "crest train: no checkpoint %s to resume: starting from the first "
                "epoch\n", p);
    return (crest_fit_opts){ .epochs = (int)o->epochs, .batch_size = (int)o->batch,
                             .seed = (uint64_t)o->seed,   /* --val-split: cli_split_val */
                             .early_stopping_patience = (int)o->patience,
                             .progress = cli_progress_bar,
                             .checkpoint_dir = ckdir, .checkpoint_name = name,
                             .resume = o->resume != NULL, .initial_epoch = (int)o->initial_epoch,
                             .on_epoch_end = o->checkpoint ? save_epoch : NULL,
                             .user = (void *)o };
}

bool cli_keep_best(const train_opts *o) { return o->checkpoint && !strcmp(o->checkpoint, "best"); }

/* Flatten, hidden Dense(relu) layers, Dropout, Dense softmax: compiled,
 * with the metadata the saved model carries. */
static int build_mlp(const train_opts *o, const crest_dataset *ds, crest_model **out)
{
    crest_model *m = NULL;
    int K = crest_dataset_classes(ds);
    int err = crest_sequential_new(&m, crest_dataset_sample_shape(ds));
    if (!err) {
        crest_model_set_seed(m, (uint64_t)o->seed);
        if (o->threads)
            crest_model_set_threads(m, (int)o->threads);
        crest_add(m, crest_flatten());
        for (int i = 0; i < o->n_hidden; i++)
            crest_add(m, crest_dense(o->hidden[i], CREST_RELU));
        if (o->dropout > 0)
            crest_add(m, crest_dropout((float)o->dropout));
        err = crest_add(m, crest_dense(K, CREST_SOFTMAX));
    }
    if (!err) {
        crest_optimizer *opt = !o->optimizer || !strcmp(o->optimizer, "adam")
                                   ? crest_adam((float)o->lr)
                               : !strcmp(o->optimizer, "sgd") ? crest_sgd((float)o->lr, 0, false)
                                                              : crest_rmsprop((float)o->lr);
        err = opt ? crest_compile(m, &(crest_compile_opts){ .optimizer = opt,
                                                            .loss = CREST_SPARSE_CCE,
                                                            .metrics = CREST_ACCURACY })
                  : CREST_E_ARG;
    }
    if (!err) {
        char meta[512];
        snprintf(meta, sizeof meta,
                 "{\"crest\":{\"loss\":\"sparse_categorical_crossentropy\",\"data\":\"%s\","
                 "\"classes\":%d,\"preprocessing\":\"x/255\"}}",
                 strchr(o->data, '"') ? "?" : o->data, K);
        err = crest_model_set_metadata(m, meta);
    }
    if (err) {
        crest_model_free(m);
        m = NULL;
    }
    *out = m;
    return err;
}

int cmd_train(int argc, char **argv)
{
    train_opts o = { .batch = 32 };
    int rc = parse(argc, argv, &o);
    if (!rc)
        rc = cli_check_out_dir("train", o.out);   /* before any work */
    if (rc)
        return rc;
    if (cli_is_table(o.data))   /* tabular data: feature columns (cli/tabular.c) */
        return cli_train_table(&o);
    if (!o.epochs)
        o.epochs = 5;
    if (!o.lr)
        o.lr = 1e-3;
    if (o.base)                 /* transfer learning (cli/train_base.c) */
        return cmd_train_base(&o);
    /* A folder of photos has no input size of its own, and a Dense head on
     * raw pixels is no model for photos: folders are for transfer learning. */
    const char *folder = crest_is_image_folder(o.data) ? o.data
                         : o.val && crest_is_image_folder(o.val) ? o.val : NULL;
    if (folder)
        return cli_usage("train", "%s is a folder of images: train on it with a pretrained "
                         "backbone, --base MODEL (e.g. data/models/mobilenet_v2)", folder);
    crest_dataset *ds = NULL, *val = NULL;
    crest_model *m = NULL;
    int err = crest_dataset_load(&ds, o.data);
    if (!err)
        err = cli_dataset_limit(&ds, o.limit);
    if (!err && o.val)
        err = crest_dataset_load(&val, o.val);
    if (!err && o.val)
        err = cli_dataset_limit(&val, o.limit > 0 ? (o.limit + 1) / 2 : 0);
    if (!err)
        err = cli_split_val(&o, &ds, &val);
    if (err) {
        rc = cli_fail("train", err);
        goto out;
    }
    err = build_mlp(&o, ds, &m);
    if (!err) {
        char *s = crest_model_summary(m, false);
        if (s)
            fputs(s, stdout);
        crest_free(s);
        char ck[4096];
        crest_fit_opts fo = cli_fit_opts(&o, cli_checkpoint_dir(&o, ck, sizeof ck), "fit");
        fo.validation_data = val;
        err = crest_fit(m, ds, &fo);
    }
    if (!err && !cli_keep_best(&o))
        err = crest_model_save(m, o.out);
    if (err) {
        rc = cli_fail("train", err);
        goto out;
    }
    cli_checkpoint_done(&o);
    printf("saved: %s\n", o.out);
out:
    crest_model_free(m);
    crest_dataset_free(ds);
    crest_dataset_free(val);
    return rc;
}
