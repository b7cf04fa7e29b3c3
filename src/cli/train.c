/* train.c - `crest train`: a Dense head (optionally hidden layers) on a data set. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "dist.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The modes of `crest train`, by its data: each option applies to some. */
enum { TRAIN_PLAIN = 1,     /* IDX sets and built-in names: a Dense head on the inputs */
       TRAIN_BASE = 2,      /* --base MODEL: transfer learning (cli/train_base.c) */
       TRAIN_TABLE = 4 };   /* .csv, .arff, penguins: feature columns (cli/tabular.c) */

/* --hidden 256,128: no empty sizes, at most 8. */
static int parse_hidden(const char *cmd, const cli_opt *opt, const char *s, void *dst)
{
    cli_sizes *h = dst;
    h->n = 0;
    for (const char *p = s;; p++) {
        char t[32];
        size_t n = strcspn(p, ",");
        long v;
        if (h->n == 8 || n >= sizeof t) {
            fprintf(stderr, "crest %s: %s '%s': at most 8 sizes\n", cmd, opt->name, s);
            return EXIT_INPUT;
        }
        memcpy(t, p, n);
        t[n] = 0;
        if (cli_int(cmd, opt->name, t, 1, 1 << 20, &v))
            return EXIT_INPUT;
        h->size[h->n++] = (int)v;
        p += n;
        if (!*p)
            return 0;
    }
}

#define T train_opts
static const cli_opt train_options[] = {
    { CLI_STR_OPT(T, "--data", data), .arg = "SPEC",
      .help = "fashion-mnist[:train|:test], mnist[:train|:test], IDX folder,\n"
              "a table (.csv with a header row, .arff) or penguins" },
    { CLI_STR_OPT(T, "--out", out), .arg = "DIR",
      .help = "where the trained model goes (TF.js layers format)" },
    { CLI_CUSTOM_OPT(T, "--hidden", hidden, parse_hidden), .arg = "256[,128]",
      .help = "hidden Dense(relu) layers (default none: Dense softmax only)" },
    { CLI_FLOAT_OPT(T, "--dropout", dropout, 0, 0.99), .arg = "P",
      .help = "dropout before the final Dense" },
    { CLI_INT_OPT(T, "--epochs", epochs, 1, 1024), .arg = "E",
      .help = "epochs (default 5; tables 30)" },
    { CLI_INT_OPT(T, "--batch", batch, 1, 1 << 20), .arg = "B", .help = "batch size (default 32)" },
    { CLI_FLOAT_OPT(T, "--lr", lr, 1e-9, 100), .arg = "LR",
      .help = "learning rate (default 0.001; tables 0.01)" },
    { CLI_ENUM_OPT(T, "--optimizer", optimizer, "adam|sgd|rmsprop"),
      .help = "the optimizer (default adam)" },
    { CLI_INT_OPT(T, "--seed", seed, 0, 1L << 62), .arg = "S",
      .help = "seed of initialization, shuffling and dropout" },
    { CLI_STR_OPT(T, "--val", val), .arg = "SPEC", .help = "validation data, reported each epoch" },
    { CLI_FLOAT_OPT(T, "--val-split", val_split, 0, 0.99), .arg = "F",
      .help = "or this fraction of --data (seeded, stratified)" },
    { CLI_INT_OPT(T, "--early-stop", patience, 1, 1000), .arg = "PATIENCE",
      .help = "stop when val loss stops improving; restore best" },
    { CLI_STR_OPT(T, "--resume", resume), .arg = "DIR",
      .help = "continue the killed run whose --out was DIR from its last\n"
              "checkpoint (DIR/checkpoint/, written atomically after every\n"
              "epoch and removed once the model is saved); the other\n"
              "options must be the same; it ends bit-identical" },
    { CLI_INT_OPT(T, "--initial-epoch", initial_epoch, 0, 1023), .arg = "E",
      .help = "start counting at epoch E (Keras' initial_epoch)" },
    { CLI_ENUM_OPT(T, "--checkpoint", checkpoint, "every|best"),
      .help = "also save the model to --out after every epoch (best:\n"
              "when --monitor improved; DIR then ends with the best\n"
              "epoch's model); with --base, while fine-tuning" },
    { CLI_CUSTOM_OPT(T, "--lr-schedule", schedule, cli_parse_schedule), .arg = "SPEC",
      .help = "the learning rate of each update, from --lr (Keras' schedules):\n"
              "cosine[:warmup=E][:alpha=A]: E epochs of linear warmup from 0,\n"
              "  then cosine decay to alpha * lr at the end of the run;\n"
              "exponential:RATE: times RATE per epoch (smoothly, per step);\n"
              "step:E:RATE: times RATE every E epochs;\n"
              "piecewise:E1,E2..:LR0,LR1,LR2..: LR0 up to epoch E1, then LR1...;\n"
              "plateau:PATIENCE[:factor=F][:min_lr=LR][:cooldown=E][:min_delta=D]:\n"
              "  ReduceLROnPlateau on --monitor (factor 0.1, min_delta 1e-4)" },
    { CLI_ENUM_OPT(T, "--monitor", monitor, "val_loss|val_accuracy|loss|accuracy"),
      .help = "what --checkpoint best and --lr-schedule plateau watch\n"
              "(default: val_loss with validation data, else loss)" },
    { CLI_STR_OPT(T, "--class-weight", class_weight), .arg = "balanced|FILE",
      .help = "weigh each sample's loss by its class: balanced =\n"
              "n_samples / (n_classes * count of the class), or a JSON\n"
              "file {\"class name\": weight, ...} (classes left out: 1)" },
    { CLI_FLOAT_OPT(T, "--label-smoothing", label_smoothing, 0, 0.99), .arg = "E",
      .help = "train on (1 - E) * one_hot + E / classes (Keras)" },
    { CLI_INT_OPT(T, "--threads", threads, 1, 256), .arg = "T",
      .help = "worker threads (default: the cores)" },
    { CLI_STR_OPT(T, "--report", report), .arg = "DIR",
      .help = "also write the training report into DIR (it is always\n"
              "written beside the model, to <--out>/report/: index.html,\n"
              "history.json/.csv, curves and confusion matrix as SVG and PNG)" },
    { CLI_STR_OPT(T, "--label", label), .arg = "COL", .modes = TRAIN_TABLE,
      .help = "the label column (required)",
      .section = "tables (.csv, .arff, penguins; defaults there: --epochs 30 --lr 0.01):" },
    { CLI_STR_OPT(T, "--columns", columns), .arg = "SPEC.json", .modes = TRAIN_TABLE,
      .help = "feature columns (default: inferred and printed)" },
    { CLI_INT_OPT(T, "--holdout", holdout, 2, 1000), .arg = "N", .modes = TRAIN_TABLE,
      .help = "every Nth row held out and scored (default none)" },
    { CLI_CUSTOM_OPT(T, "--delimiter", delimiter, cli_delimiter), .arg = "C",
      .modes = TRAIN_TABLE, .help = "one character, or \\t (default ,)" },
    { CLI_INT_OPT(T, "--chunk", chunk, 1, 1L << 24), .arg = "ROWS", .modes = TRAIN_TABLE,
      .help = "stream the table from disk ROWS at a time,\nfor files larger than memory" },
    { CLI_STR_OPT(T, "--base", base), .arg = "MODEL", .modes = TRAIN_PLAIN | TRAIN_BASE,
      .help = "Keras TF.js layers folder (or model.json) of the backbone",
      .section = "transfer learning (a pretrained backbone, its top cut off, frozen):" },
    { CLI_STR_OPT(T, "--cut", cut), .arg = "LAYER", .modes = TRAIN_BASE,
      .help = "drop everything after LAYER (default: before the backbone's\n"
              "own pooling / classifier, as include_top=False)" },
    { CLI_ENUM_OPT(T, "--pooling", pooling, "avg|max"), .bad_exit = EXIT_USAGE,
      .modes = TRAIN_BASE, .help = "global pooling on the cut backbone (default avg)" },
    { CLI_INT_OPT(T, "--fine-tune", fine_tune, 0, 100000), .arg = "N", .modes = TRAIN_BASE,
      .help = "then also train the backbone's last N layers, at lr/10" },
    { CLI_INT_OPT(T, "--fine-tune-epochs", fine_tune_epochs, 1, 1024), .arg = "E",
      .modes = TRAIN_BASE, .help = "epochs of that second phase (default 2)" },
    { CLI_STR_OPT(T, "--cache", cache), .arg = "DIR", .modes = TRAIN_BASE,
      .help = "cache backbone features on disk; reused when valid" },
    { CLI_CUSTOM_LAYERS_OPT(T, custom_layers), .modes = TRAIN_BASE },
    { CLI_CUSTOM_OPT(T, "--preprocess", preprocess, cli_preprocess_opt), .arg = "MODE",
      .modes = TRAIN_BASE, .help = "none|rescale|tf|torch|caffe (default: the model's\n"
                                   "recorded preprocessing, else rescale = x/255)" },
    { CLI_CUSTOM_OPT(T, "--image-size", image_size, cli_image_size_opt), .arg = "HxW",
      .modes = TRAIN_BASE, .help = "the size images are resized to, for a backbone whose input\n"
                                   "size is unknown (None, fully convolutional; default 256x256,\n"
                                   "Keras' image_dataset_from_directory); a backbone of fixed\n"
                                   "size takes only its own" },
    { CLI_STR_OPT(T, "--augment", augment), .arg = "SPEC", .modes = TRAIN_BASE,
      .help = "augment the training images, seeded (Keras' layers, comma-separated):\n"
              "flip[=horizontal|vertical] (default both: RandomFlip), rotate=F\n"
              "(RandomRotation, F of a full turn), zoom=F (RandomZoom),\n"
              "translate=F (RandomTranslation, F of the size), contrast=F,\n"
              "brightness=F, crop[=F] (RandomCrop: images loaded at the\n"
              "backbone's size / F, default 0.875 (256 for 224), a random window\n"
              "of the backbone's size while training, the whole image resized\n"
              "to it at inference). The layers are saved as the model's first,\n"
              "inactive at inference; with the frozen backbone, --augment-copies\n"
              "copies of each image's features are extracted and cached; while\n"
              "fine-tuning they draw afresh every step" },
    { CLI_INT_OPT(T, "--augment-copies", augment_copies, 1, 1000), .arg = "K",
      .modes = TRAIN_BASE, .help = "augmented copies of each training image (default 4)" },
    { CLI_INT_OPT(T, "--limit", limit, 1, 1L << 40), .arg = "N",
      .modes = TRAIN_PLAIN | TRAIN_BASE,
      .help = "use the first N training samples (and N/2 validation)" },
};
#undef T

/* An option given where it does not apply, by the modes above. */
static const cli_rule train_rules[] = {
    { TRAIN_BASE, "needs --base MODEL", false },
    { TRAIN_TABLE, "is for tables (.csv, .arff, penguins), not", true },
    { TRAIN_PLAIN | TRAIN_BASE, "is not for tables", false },
};

const cli_command train_cmd = {
    .name = "train", .usage = "crest train --data SPEC --out DIR [options]",
    CLI_OPTS(train_options),
    .rules = train_rules, .n_rules = sizeof train_rules / sizeof *train_rules,
    .more = "  SPEC may also be a folder with one sub-folder of images per class.\n",
};

/* Under mpirun with N > 1 ranks (src/cli/dist.c): --base training (the
 * head, --fine-tune), a head on the inputs and tables are spread over the
 * ranks, with --checkpoint and --resume; --chunk is not (see below), so it
 * is refused, not done N times over. */
static int check_ranks(const train_opts *o)
{
    int n = cli_dist_size();
    if (n < 2 || !o->chunk)
        return 0;
    /* Streaming trains on each chunk as it is read (shuffled within it):
     * spread over ranks, every rank would still read and parse the whole
     * file (each step's micro-shards draw on the whole chunk), which is
     * what streaming costs, and a table's head is too small for its
     * data-parallel steps to pay for their exchanges (README). */
    return cli_usage("train", "--chunk is not spread over MPI ranks (here %d): streaming "
                     "trains on each chunk as it is read, so every rank would still read "
                     "and parse the whole file, and a table's head is too small for "
                     "data-parallel steps to gain; run it as one process, or drop --chunk "
                     "(each rank then reads its share of the rows)", n);
}

/* Options that mean nothing for this data are errors, not silently ignored. */
static int check_combination(train_opts *o, const cli_parsed *p)
{
    if (o->resume && !o->out)
        o->out = o->resume;
    if (o->resume && strcmp(o->resume, o->out))
        return cli_usage("train", "--resume %s continues the run whose --out was that folder, "
                         "not --out %s", o->resume, o->out);
    if (!o->data || !o->out)
        return cli_usage("train", "--data and --out are required");
    unsigned mode = cli_is_table(o->data) ? TRAIN_TABLE : o->base ? TRAIN_BASE : TRAIN_PLAIN;
    int rc = cli_check_modes(&train_cmd, p, mode, o->data);
    if (rc)
        return rc;
    if (!o->base && cli_is_image_folder(o->data))
        return cli_usage("train", "%s is a folder of images: train on it with --base MODEL "
                         "(a pretrained backbone, e.g. data/models/mobilenet_v2)", o->data);
    if (o->val && o->val_split > 0)
        return cli_usage("train", "give --val or --val-split, not both");
    if (o->patience && !o->val && !(o->val_split > 0))
        return cli_usage("train", "--early-stop needs validation data (--val or --val-split)");
    if (o->monitor && !strncmp(o->monitor, "val_", 4) && !o->val && !(o->val_split > 0))
        return cli_usage("train", "--monitor %s needs validation data (--val or --val-split)",
                         o->monitor);
    if (o->monitor && !cli_keep_best(o) && o->schedule.s.kind != CREST_LR_PLATEAU)
        return cli_usage("train", "--monitor is for --checkpoint best and --lr-schedule "
                         "plateau");
    if (o->chunk && (cli_schedule_of(o) || o->class_weight))
        return cli_usage("train", "--chunk streams the table: no --lr-schedule nor "
                         "--class-weight");
    return check_ranks(o);
}

/* What the saved model carries: the loss, the data, its classes (with their
 * names when the data has them: fashion-mnist's), the preprocessing. */
static int set_mlp_metadata(crest_model *m, const train_opts *o, const crest_dataset *ds)
{
    int K = crest_dataset_classes(ds);
    cJSON *root = cJSON_CreateObject(), *c = cJSON_AddObjectToObject(root, "crest");
    cJSON_AddStringToObject(c, "loss", "sparse_categorical_crossentropy");
    cJSON_AddStringToObject(c, "data", o->data);
    cJSON_AddNumberToObject(c, "classes", K);
    if (crest_dataset_class_name(ds, 0)) {
        cJSON *names = cJSON_AddArrayToObject(c, "class_names");
        for (int k = 0; k < K; k++)
            cJSON_AddItemToArray(names, cJSON_CreateString(crest_dataset_class_name(ds, k)));
    }
    cJSON_AddStringToObject(c, "preprocessing", "x/255");
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    int rc = s ? crest_model_set_metadata(m, s) : CREST_E_NOMEM;
    free(s);
    return rc;
}

/* Flatten, the head: compiled, with the metadata the saved model carries. */
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
        err = cli_add_head(m, o, K);
    }
    if (!err) {
        crest_optimizer *opt = cli_optimizer(o, o->lr);
        err = opt ? crest_compile(m, &(crest_compile_opts){ .optimizer = opt,
                                 .loss = CREST_SPARSE_CCE, .metrics = CREST_ACCURACY,
                                 .label_smoothing = (float)o->label_smoothing })
                  : CREST_E_ARG;
    }
    if (!err)
        err = set_mlp_metadata(m, o, ds);
    if (err) {
        crest_model_free(m);
        m = NULL;
    }
    *out = m;
    return err;
}

/* --data and --val (the first --limit samples, half as many for
 * validation), or the seeded, stratified --val-split of --data. */
static int load_mlp_data(const train_opts *o, crest_dataset **ds, crest_dataset **val)
{
    int err = crest_dataset_load(ds, o->data);
    if (!err)
        err = cli_dataset_limit(ds, o->limit);
    if (!err && o->val)
        err = crest_dataset_load(val, o->val);
    if (!err && o->val)
        err = cli_dataset_limit(val, o->limit > 0 ? (o->limit + 1) / 2 : 0);
    if (!err)
        err = cli_split_val(o, ds, val);
    return err;
}

/* The model's summary, then fit with checkpoints and validation. */
static int fit_mlp(const train_opts *o, crest_model *m, const crest_dataset *ds,
                   const crest_dataset *val, crest_history *hist)
{
    char *s = crest_model_summary(m, false);
    if (s)
        fputs(s, stdout);
    crest_free(s);
    char ck[4096];
    crest_fit_opts fo = cli_fit_opts(o, cli_checkpoint_dir(o, ck, sizeof ck), "fit");
    fo.validation_data = val;
    fo.history = hist;
    /* an MPI build takes micro-shards of 8 rows summed in order: the same
     * bits over any number of ranks (each computes its part of every
     * batch); the plain build keeps whole batches, about twice as fast for
     * the small heads on raw inputs (small micro-shard matmuls) */
    int rc = cli_dist_fit_opts(&fo, true);
    if (!cli_dist_built())
        fo.micro_batch = 0;
    float *cw = NULL;
    if (!rc)
        rc = cli_class_weight(o, m, ds, &cw);
    fo.class_weight = cw;
    if (!rc)
        rc = crest_fit(m, ds, &fo);
    free(cw);
    return rc;
}

/* IDX sets and built-in names: Flatten and the head on the inputs. */
static int train_mlp(const train_opts *o)
{
    crest_dataset *ds = NULL, *val = NULL;
    crest_model *m = NULL, *saved = NULL;
    crest_history *hist = calloc(1, sizeof *hist);
    int err = hist ? load_mlp_data(o, &ds, &val) : CREST_E_NOMEM;
    if (!err)
        err = build_mlp(o, ds, &m);
    bool many = cli_dist_size() > 1;   /* every rank reads the data and trains its part */
    if (many)
        err = cli_dist_check("train", err);
    if (!err)
        err = fit_mlp(o, m, ds, val, hist);
    if (many)   /* then rank 0 alone saves and reports */
        err = cli_dist_check("train", err);
    bool here = !err && cli_dist_rank() == 0;
    if (here)
        err = cli_save_trained(m, o, cli_keep_best(o));
    if (here && !err && !(err = cli_saved_model(o, m, &saved)))
        err = cli_train_report(&(cli_report){ .o = o, .kind = "a Dense head on the inputs",
            .n_phases = 1, .hist = { hist }, .phase = { "fit" }, .first = { (int)o->initial_epoch },
            .has_val = val != NULL, .scored = saved ? saved : m, .eval = val ? val : ds,
            .val_is_eval = val != NULL, .pics = val ? val : ds, .val_what = cli_val_what(o) });
    if (many)   /* the ranks end with rank 0's word */
        err = cli_dist_check("train", err);
    free(hist);
    crest_model_free(saved);
    crest_model_free(m);
    crest_dataset_free(ds);
    crest_dataset_free(val);
    return err > 0 ? err : err ? cli_fail("train", err) : EXIT_OK;   /* > 0: reported */
}

int cmd_train(int argc, char **argv)
{
    train_opts o = { .batch = 32 };
    cli_parsed p;
    int rc;
    if (!cli_parse(&train_cmd, argc, argv, &o, &p, &rc))
        return rc;
    if ((rc = check_combination(&o, &p)))
        return rc;
    if (cli_dist_rank() == 0) {   /* the rank that writes them */
        rc = cli_check_out_dir("train", o.out);
        if (!rc && o.report)
            rc = cli_check_dir_opt("train", "--report", o.report);
    }
    if (cli_dist_size() > 1)    /* every rank goes on, or none */
        rc = cli_dist_check("train", rc);
    if (rc)
        return rc;              /* before any work */
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
    return train_mlp(&o);
}
