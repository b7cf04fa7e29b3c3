/* train_opts.c - what every trainer of `crest train` shares (the plain one
 * in train.c, cli/train_base.c, cli/tabular.c): fit options, checkpoints,
 * the head, the optimizer, saving and the report's view of validation. It
 * sits below the trainers, so they never call back into train.c. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* --checkpoint every: the model saved after each epoch (best: the
 * library's best_model_dir, crest_fit_opts). */
static int save_epoch(crest_model *m, int epoch, const crest_history *h, void *user)
{
    (void)epoch;
    (void)h;
    const train_opts *o = user;
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
                             .on_epoch_end = o->checkpoint && !cli_keep_best(o) ? save_epoch
                                                                                : NULL,
                             .user = (void *)o, .lr_schedule = cli_schedule_of(o),
                             .best_model_dir = cli_keep_best(o) ? o->out : NULL,
                             .best_monitor = cli_monitor(o) };
}

bool cli_keep_best(const train_opts *o) { return o->checkpoint && !strcmp(o->checkpoint, "best"); }

int cli_save_trained(crest_model *m, const train_opts *o, bool best_saved)
{
    int err = best_saved ? CREST_OK : crest_model_save(m, o->out);
    if (!err) {
        cli_checkpoint_done(o);
        printf("saved: %s\n", o->out);
    }
    return err;
}

int cli_saved_model(const train_opts *o, crest_model *m, crest_model **saved)
{
    *saved = NULL;
    (void)m;
    if (!cli_keep_best(o))
        return CREST_OK;
    int err = crest_model_load(saved, o->out);
    if (!err && o->threads)
        err = crest_model_set_threads(*saved, (int)o->threads);
    if (!err)   /* the loss crest_evaluate reports: every train model's */
        err = crest_compile(*saved, &(crest_compile_opts){ .loss = CREST_SPARSE_CCE });
    return err;
}

const char *cli_val_what(const train_opts *o)
{
    static char s[600];
    if (o->val)
        snprintf(s, sizeof s, "--val %.500s", o->val);
    else if (o->val_split > 0)
        snprintf(s, sizeof s, "--val-split %g: that fraction of --data, held out (seeded, "
                 "stratified)", o->val_split);
    else if (o->holdout)   /* tables */
        snprintf(s, sizeof s, "none (give --val or --val-split): the scores below are on "
                 "the held-out rows (--holdout %ld: 1 row in %ld)", o->holdout, o->holdout);
    else
        snprintf(s, sizeof s, "none (give --val or --val-split): the scores below are on "
                 "the training data");
    return s;
}

int cli_add_head(crest_model *m, const train_opts *o, int classes)
{
    for (int i = 0; i < o->hidden.n; i++)
        crest_add(m, crest_dense(o->hidden.size[i], CREST_RELU));
    if (o->dropout > 0)
        crest_add(m, crest_dropout((float)o->dropout));
    return crest_add(m, crest_dense(classes, CREST_SOFTMAX));
}

crest_optimizer *cli_optimizer(const train_opts *o, double lr)
{
    if (!o->optimizer || !strcmp(o->optimizer, "adam"))
        return crest_adam((float)lr);
    if (!strcmp(o->optimizer, "sgd"))
        return crest_sgd((float)lr, 0, false);
    return crest_rmsprop((float)lr);
}
