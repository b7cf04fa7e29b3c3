/* cli.h - shared pieces of the `crest` command. Exit codes per CLI.md. */
#ifndef CREST_CLI_H
#define CREST_CLI_H

#include "crest.h"
#include <stdbool.h>

enum { EXIT_OK = 0, EXIT_RUN = 1, EXIT_USAGE = 2, EXIT_INPUT = 3 };

/* Maps a library error to an exit code, printing "crest CMD: message". */
int cli_fail(const char *cmd, int rc);
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option parsing: --name value / --name=value / --flag. */
typedef struct cli_args {
    int argc, i;
    char **argv;
    const char *cmd;
} cli_args;

/* Next argument: *name is "--x" option or NULL for a positional (in *val). */
bool cli_next(cli_args *a, const char **name, const char **val, bool *has_inline);
int cli_value(cli_args *a, const char *name, const char *inl, const char **out);
int cli_int(const char *cmd, const char *name, const char *s, long lo, long hi, long *out);
int cli_float(const char *cmd, const char *name, const char *s, double lo, double hi,
              double *out);

/* Outputs, checked before any work starts (CLI.md): --out DIR of a model
 * (an existing folder, or a new one in an existing folder) and --out FILE;
 * crest must be able to create files there. An exit code, message printed. */
int cli_check_out_dir(const char *cmd, const char *dir);
int cli_check_out_file(const char *cmd, const char *path);
/* Writes path atomically (temp file + rename; devices and pipes in place). */
int cli_write_file(const char *cmd, const char *path, const void *data, size_t len);

/* A folder that is not an IDX data set: images, one sub-folder per class. */
bool cli_is_image_folder(const char *spec);
/* The first limit samples of *d (limit <= 0: all). */
int cli_dataset_limit(crest_dataset **d, long limit);

/* Progress on stderr from the library's events (src/cli/progress.c), per
 * the terminal rule (redrawn on a terminal, finished lines otherwise):
 * Keras' bar for fit (also resume, early stopping, extraction), and one
 * line per epoch for tables streamed in chunks. user is unused. */
void cli_progress_bar(const crest_progress *e, void *user);
void cli_progress_rows(const crest_progress *e, void *user);

/* `crest train` options (src/cli/train.c parses them). */
typedef struct train_opts {
    const char *data, *out, *val, *optimizer;
    int hidden[8], n_hidden;
    double dropout, lr, val_split;    /* lr 0: the default */
    long epochs, batch, seed, patience, threads;   /* epochs 0: the default */
    const char *label, *columns;      /* tables */
    char delimiter;
    long holdout, chunk;              /* chunk > 0: stream the table in chunks */
    /* transfer learning (--base): src/cli/train_base.c */
    const char *base, *cut, *pooling, *cache, *preprocess;
    long fine_tune, fine_tune_epochs, limit;
    /* checkpoints: <out>/checkpoint/ after every epoch; --resume DIR */
    const char *resume;
    long initial_epoch;
    const char *checkpoint;           /* --checkpoint every|best: DIR saved per epoch */
} train_opts;

/* The checkpoint folder of a run: <out>/checkpoint. */
const char *cli_checkpoint_dir(const train_opts *o, char *buf, size_t size);
/* Once the model is saved: the run's checkpoints are removed. */
void cli_checkpoint_done(const train_opts *o);
/* fit options every `crest train` path shares: epochs, batch, seed,
 * validation, early stopping, progress, checkpoints (name: the phase), and
 * with --checkpoint every|best the model saved to --out after every epoch
 * (best: when the monitored loss improved); the model's metadata must be
 * set before fit. */
crest_fit_opts cli_fit_opts(const train_opts *o, const char *ckdir, const char *name);
/* --val-split as the CLI does it for every kind of data: seeded (--seed) and
 * stratified (every class gives the same fraction), printed; Keras' own
 * validation_split takes the unshuffled tail, which for files sorted by
 * class (most CSVs, every image folder) is one class. No-op without
 * --val-split, with --val, or for data without integer labels. */
int cli_split_val(const train_opts *o, crest_dataset **ds, crest_dataset **val);
/* After fit: with --checkpoint best the model in --out is the best epoch's,
 * so it is not saved again. */
bool cli_keep_best(const train_opts *o);

/* Tabular data (src/cli/tabular.c): .csv / .arff files and "penguins". */
bool cli_is_table(const char *data);
/* "penguins" -> $CREST_DATA/penguins/penguins.csv; else data itself. */
const char *cli_table_path(const char *data, char *buf, size_t size);
int cli_delimiter(const char *cmd, const char *v, char *out);
int cli_train_table(const train_opts *o);
/* The labelled rows of a table through the model's feature spec (label: the
 * column, checked against the spec's; holdout > 0: only the held-out rows). */
int cli_table_dataset(crest_model *m, const char *data, const char *label, long holdout,
                      char delimiter, crest_dataset **out);

/* Prints the top classes of each row of a table (or adds them to arr); the
 * first limit rows (limit < 0: all). */
struct cJSON;
int cli_predict_table(crest_model *m, const char *path, int top, long limit, struct cJSON *arr);

/* Image sources (src/cli/images.c). SPEC for a trained model: with an image
 * transform recorded (train --base), any image source (folder, IDX set,
 * image file) goes through it, lazily; else per crest_dataset_load. */
int cli_load_for_model(crest_model *m, const char *cmd, const char *spec, crest_dataset **out);
/* crest_image_source_open, printing the skipped files and "Found N images
 * belonging to K classes." (folders) on stderr. */
int cli_open_images(const char *cmd, const char *spec, const crest_image_opts *io,
                    crest_dataset **out);

/* The model's K class names (src/cli/labels.c): recorded by train, a table
 * model's classes, else "0".."K-1"; NULL-terminated, NULL when out of memory. */
char **cli_class_names(const crest_model *m, int K);
void cli_class_names_free(char **names);

/* The whole command (src/cli/crest.c's main calls it; tests/crest_examples.c
 * calls it with the examples' model classes registered). */
int crest_cli_main(int argc, char **argv);

int cmd_train(int argc, char **argv);
int cmd_train_base(const train_opts *o);
int cmd_evaluate(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_infer(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
