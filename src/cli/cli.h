/* cli.h - shared pieces of the `crest` command. Exit codes per CLI.md. */
#ifndef CREST_CLI_H
#define CREST_CLI_H

#include "crest.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_RUN = 1, EXIT_USAGE = 2, EXIT_INPUT = 3 };

/* Maps a library error to an exit code, printing "crest CMD: message". */
int cli_fail(const char *cmd, int rc);
/* The exit code of a library error (< 0), as cli_fail maps it. */
int cli_exit_code(int rc);
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- options: one declarative table per command (src/cli/options.c) ----
 *
 * A command describes each of its options once, in a cli_opt: the name, the
 * kind of value (with its range or its choices), the field of the command's
 * options struct that receives it, the modes it applies to and its line of
 * --help. cli_parse reads argv by that table (--name value, --name=value,
 * --flag), checks every value as it goes and records which options were
 * given; cli_check_modes turns an option given where it does not apply into
 * a usage error; cli_help prints --help from the same table.
 *
 * Messages and exit codes (../shared/CLI.md):
 *   crest CMD: unknown option --x (see crest CMD --help)             exit 2
 *   crest CMD: --x needs a value (see crest CMD --help)              exit 2
 *   crest CMD: --x takes no value (see crest CMD --help)             exit 2
 *   crest CMD: unexpected argument 'y' (see crest CMD --help)        exit 2
 *   crest CMD: --x 'v' is not an integer in [lo, hi]                 exit 3
 *   crest CMD: --x 'v' is not a number in [lo, hi]                   exit 3
 *   crest CMD: --x 'v' is not a, b or c                              exit 3 (or 2) */
typedef enum cli_type {
    CLI_FLAG,     /* bool, given without a value */
    CLI_STR,      /* const char *, any text */
    CLI_INT,      /* long in [min, max] */
    CLI_FLOAT,    /* double in [fmin, fmax], finite */
    CLI_ENUM,     /* const char *, one of choices ("adam|sgd|rmsprop") */
    CLI_CUSTOM,   /* parse() reads the value into the field */
} cli_type;

typedef struct cli_opt cli_opt;
struct cli_opt {
    const char *name;       /* "--epochs" */
    cli_type type;
    size_t at;              /* the field: its offset in the command's options struct */
    long min, max;          /* CLI_INT */
    double fmin, fmax;      /* CLI_FLOAT */
    const char *choices;    /* CLI_ENUM: the values, '|'-separated */
    int bad_exit;           /* CLI_ENUM: exit code of a bad value (0: EXIT_INPUT) */
    /* CLI_CUSTOM: reads v into dst, or prints why not and returns an exit code */
    int (*parse)(const char *cmd, const cli_opt *o, const char *v, void *dst);
    unsigned modes;         /* the modes it applies to (cli_check_modes); 0: every mode */
    const char *arg;        /* the value in --help ("E"); NULL for a flag */
    const char *help;       /* its --help text; '\n' starts an indented line */
    const char *section;    /* a heading --help prints before this option */
};

/* The field of T an option fills, checked at compile time to be of type C. */
#define CLI_FIELD(T, f, C) (offsetof(T, f) + 0 * sizeof(_Generic(((T *)0)->f, C: 1)))
#define CLI_FLAG_OPT(T, nm, f) .name = nm, .type = CLI_FLAG, .at = CLI_FIELD(T, f, bool)
#define CLI_STR_OPT(T, nm, f) .name = nm, .type = CLI_STR, .at = CLI_FIELD(T, f, const char *)
#define CLI_ENUM_OPT(T, nm, f, ch) \
    .name = nm, .type = CLI_ENUM, .at = CLI_FIELD(T, f, const char *), .choices = ch
#define CLI_INT_OPT(T, nm, f, lo, hi) \
    .name = nm, .type = CLI_INT, .at = CLI_FIELD(T, f, long), .min = lo, .max = hi
#define CLI_FLOAT_OPT(T, nm, f, lo, hi) \
    .name = nm, .type = CLI_FLOAT, .at = CLI_FIELD(T, f, double), .fmin = lo, .fmax = hi
#define CLI_CUSTOM_OPT(T, nm, f, fn) \
    .name = nm, .type = CLI_CUSTOM, .at = offsetof(T, f), .parse = fn

/* An option given in a mode it does not apply to: when its modes are
 * exactly `modes`, the usage error reads "NAME why", and with subject "NAME
 * why SUBJECT" (e.g. "--label is for tables (.csv, .arff, penguins), not fm"). */
typedef struct cli_rule {
    unsigned modes;
    const char *why;
    bool subject;
} cli_rule;

typedef struct cli_command {
    const char *name;       /* "train" */
    const char *usage;      /* after "usage: ": "crest train --data SPEC --out DIR [options]" */
    const char *about;      /* --help's text after the usage line, or NULL */
    const char *more;       /* --help's text after the options, or NULL */
    const cli_opt *opts;
    int n_opts;             /* at most CLI_MAX_OPTS; CLI_OPTS(table) sets both */
    int max_pos;            /* positional arguments it takes, at most CLI_MAX_POS */
    const char *too_many;   /* the usage error past max_pos (NULL: "unexpected argument 'X'") */
    const cli_rule *rules;  /* cli_check_modes' messages; the last one is the default */
    int n_rules;
} cli_command;

/* --custom-layers FILE (every command that loads a model): the file's
 * custom layer classes are registered as the option is parsed, before any
 * model loads; the field (const char *) gets the path. A table's entry:
 * { CLI_CUSTOM_LAYERS_OPT(T, f) } */
int cli_custom_layers(const char *cmd, const cli_opt *o, const char *v, void *dst);
#define CLI_CUSTOM_LAYERS_HELP                                                             \
    .arg = "FILE", .help = "custom Keras layer classes: JSON {\"Class\": \"expression over x and\n"    \
                "the layer's config fields\"}, e.g. {\"MultiplyBeta\": \"x * beta\"}"
#define CLI_CUSTOM_LAYERS_OPT(T, f) \
    CLI_CUSTOM_OPT(T, "--custom-layers", f, cli_custom_layers), CLI_CUSTOM_LAYERS_HELP

/* A command's .opts and .n_opts from its table of options. */
#define CLI_OPTS(table) .opts = table, .n_opts = (int)(sizeof table / sizeof *table)

#define CLI_MAX_OPTS 64
#define CLI_MAX_POS 257

/* What cli_parse found besides the values it stored. */
typedef struct cli_parsed {
    const char *pos[CLI_MAX_POS];   /* positional arguments, in order */
    int n_pos;
    bool given[CLI_MAX_OPTS];       /* given[i]: c->opts[i] was on the command line */
} cli_parsed;

/* Parses argv (the arguments after the command's name) by c's table into
 * opts, whose fields keep their values unless given. Arguments are "--name
 * value", "--name=value", "--flag" and positionals ("-" and "--" are
 * positionals; any other argument that starts with '-' is an option).
 * --help prints cli_help to stdout. True to go on; false when the command
 * is done, with *exit_code EXIT_OK after --help, else the error's (printed). */
bool cli_parse(const cli_command *c, int argc, char **argv, void *opts, cli_parsed *p,
               int *exit_code);
/* The first option (in table order) given although it does not apply in
 * mode (cli_opt.modes), as a usage error with its cli_rule; else 0. */
int cli_check_modes(const cli_command *c, const cli_parsed *p, unsigned mode, const char *subject);
/* --help from the table: usage, about, each option with its value, range or
 * choices, sections, more. */
void cli_help(const cli_command *c, FILE *f);

int cli_int(const char *cmd, const char *name, const char *s, long lo, long hi, long *out);

/* Outputs, checked before any work starts (CLI.md): --out DIR of a model
 * (an existing folder, or a new one in an existing folder) and --out FILE;
 * crest must be able to create files there. An exit code, message printed. */
int cli_check_out_dir(const char *cmd, const char *dir);
/* The same for the folder option opt (e.g. "--report"). */
int cli_check_dir_opt(const char *cmd, const char *opt, const char *dir);
int cli_check_out_file(const char *cmd, const char *path);

/* --shape N,D1,D2,...: N samples of shape [D1, D2, ...] (crest infer's
 * --input and quantize's --calibrate X.f32). cli_shape_opt is its cli_opt
 * parser: positive integers, 1 to CREST_MAX_DIMS - 1 dimensions after N, at
 * most 2^40 values in all. */
typedef struct cli_shape {
    const char *text;       /* as given; NULL if not given */
    size_t n;
    crest_dims d;
} cli_shape;
int cli_shape_opt(const char *cmd, const cli_opt *o, const char *s, void *dst);
/* The file at path: exactly want little-endian float32 values, malloc'd;
 * NULL with *rc set (message printed) if it cannot be read or its size
 * differs. */
float *cli_read_f32(const char *cmd, const char *path, size_t want, int *rc);
/* Writes path atomically: a temporary file, fsync, rename, its folder
 * synced (devices and pipes are written in place). 0, or -1 with err set
 * ("path: why"). */
int cli_put_file(const char *path, const void *data, size_t len, char *err, size_t esz);
/* The same for a command: 0, or EXIT_RUN having printed why. */
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

/* `crest train` options (src/cli/train.c: their table and parsing). */
typedef struct cli_sizes { int n, size[8]; } cli_sizes;   /* --hidden 256,128 */
/* --lr-schedule: the schedule and the piecewise boundaries (epochs) and values
 * it points to. */
typedef struct cli_schedule { crest_lr_schedule s; float bounds[16], values[17]; } cli_schedule;
typedef struct train_opts {
    const char *data, *out, *val, *optimizer;
    cli_sizes hidden;
    double dropout, lr, val_split;    /* lr 0: the default */
    long epochs, batch, seed, patience, threads;   /* epochs 0: the default */
    const char *label, *columns;      /* tables */
    char delimiter;
    long holdout, chunk;              /* chunk > 0: stream the table in chunks */
    /* transfer learning (--base): src/cli/train_base.c */
    const char *base, *cut, *pooling, *cache, *preprocess;
    long fine_tune, fine_tune_epochs, limit;
    int image_size[2];                /* --image-size HxW: 0 = the backbone's own */
    /* checkpoints: <out>/checkpoint/ after every epoch; --resume DIR */
    const char *resume;
    long initial_epoch;
    const char *checkpoint;           /* --checkpoint every|best: DIR saved per epoch */
    /* training control (src/cli/control.c) */
    cli_schedule schedule;            /* --lr-schedule; kind CONSTANT: none */
    const char *monitor;              /* --monitor (NULL: auto) */
    const char *class_weight;         /* --class-weight balanced|FILE */
    double label_smoothing;
    const char *custom_layers;        /* --custom-layers FILE (registered when parsed) */
    const char *augment;              /* --augment SPEC (src/cli/augment.c) */
    long augment_copies;              /* --augment-copies K (0: the default, 4) */
    const char *report;               /* --report DIR: the report there too */
} train_opts;

/* --augment SPEC ("flip,rotate=0.1,zoom=0.2,..."), checked: Keras' augmentation
 * layers for images preprocessed by pp (contrast and brightness clip to its
 * value range), each with Keras' "seed" set to seed; crop's window is h x
 * w. *out (n_out layers) is freed with cli_augment_free. Returns 0,
 * or EXIT_USAGE having said what is wrong. */
int cli_augment_layers(const char *spec, crest_preprocess pp, long long seed, int h, int w,
                       crest_layer ***out, int *n_out);
/* The F of the spec's crop[=F] item (0.875 without a value), 0 without one:
 * images are loaded at the backbone's size / F and RandomCrop(h, w), the
 * backbone's size, goes in front (cli_augment_layers puts it first). */
double cli_augment_crop(const char *spec);
void cli_augment_free(crest_layer **l, int n);

/* --lr-schedule SPEC (a cli_opt parser) into a cli_schedule. */
int cli_parse_schedule(const char *cmd, const cli_opt *o, const char *v, void *dst);
/* The run's schedule, or NULL. */
const crest_lr_schedule *cli_schedule_of(const train_opts *o);
crest_monitor cli_monitor(const train_opts *o);
/* --class-weight: the weights of ds's classes into *out (malloc'd; NULL
 * without the option), named by ds's class names, else named's (a model);
 * printed. 0, or an exit code (message printed). */
int cli_class_weight(const train_opts *o, const crest_model *named, const crest_dataset *ds,
                     float **out);

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
/* The end of every `crest train` path: the model saved to --out (unless
 * best_saved: --checkpoint best left the best epoch's model there), the
 * run's checkpoints removed, "saved: DIR" printed. */
int cli_save_trained(crest_model *m, const train_opts *o, bool best_saved);
/* The head every `crest train` path puts on its features: --hidden
 * Dense(relu) layers, Dropout (--dropout), Dense(classes) softmax; the last
 * crest_add's result (errors stick to m). */
int cli_add_head(crest_model *m, const train_opts *o, int classes);
/* --optimizer at learning rate lr (NULL when out of memory). */
crest_optimizer *cli_optimizer(const train_opts *o, double lr);

/* Tabular data (src/cli/tabular.c): .csv / .arff files and "penguins". */
bool cli_is_table(const char *data);
/* "penguins" -> $CREST_DATA/penguins/penguins.csv; else data itself. */
const char *cli_table_path(const char *data, char *buf, size_t size);
/* --delimiter C (a cli_opt parser): one character, or \t / tab; into a char. */
int cli_delimiter(const char *cmd, const cli_opt *o, const char *v, void *dst);
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
/* --preprocess MODE (as crest_preprocess_parse reads it; the string is
 * kept) and --image-size HxW (or N; into int[2], each in [1, 8192]): cli_opt
 * parsers shared by train, predict, evaluate and quantize. */
int cli_preprocess_opt(const char *cmd, const cli_opt *opt, const char *v, void *dst);
int cli_image_size_opt(const char *cmd, const cli_opt *opt, const char *v, void *dst);
/* How images become m's inputs for predict, evaluate and quantize: pre
 * (--preprocess, or NULL) and hw (--image-size, or {0, 0}) replace those of
 * the recorded image transform, or make one from m's input [H, W, 1|3] when
 * none is recorded (a Keras model crest did not train); it is written into
 * m's metadata, so the command and a model it saves use it. Exit code. */
int cli_model_images(crest_model *m, const char *cmd, const char *pre, const int *hw);
/* For an error about a model that records no image transform: "" unless its
 * input is an image [H, W, 1|3], then a hint naming --preprocess. */
const char *cli_images_hint(const crest_model *m);
#define CLI_IMAGE_OPTS(T, pre, hw, md)                                                      \
    { CLI_CUSTOM_OPT(T, "--preprocess", pre, cli_preprocess_opt), .arg = "MODE", .modes = md, \
      .help = "none|rescale|tf|torch|caffe: how image pixels become inputs (default:\n"      \
              "the model's recorded preprocessing; needed for a model that records none)" },  \
    { CLI_CUSTOM_OPT(T, "--image-size", hw, cli_image_size_opt), .arg = "HxW", .modes = md,   \
      .help = "the size images are resized to, for a model whose input size is unknown" }

/* The model's K class names (src/cli/labels.c): recorded by train, a table
 * model's classes, else "0".."K-1"; NULL-terminated, NULL when out of memory. */
char **cli_class_names(const crest_model *m, int K);
void cli_class_names_free(char **names);

/* A model's scores on labelled data (src/cli/scores.c): `crest evaluate`'s
 * and the training report's. */
typedef struct cli_scores {
    size_t n;
    int K;
    crest_metrics met;
    long *conf;        /* K x K: rows the true class, columns the predicted one */
    char **names;      /* the K class names (cli_class_names) */
    float *probs;      /* [n, K] when cli_score was asked to keep them, else NULL */
} cli_scores;
/* One pass over ds: 0, a library error (< 0) or an exit code (> 0, printed).
 * ds needs integer labels. */
/* EXIT_OK when m's output per sample is a vector of class scores (or
 * [1, 1, K]); else EXIT_INPUT, the shape printed (after dir, if not
 * NULL) and crest infer named. */
int cli_class_output(crest_model *m, const char *cmd, const char *dir);
int cli_score(crest_model *m, const crest_dataset *ds, bool keep_probs, cli_scores *s);
/* Class k's precision, recall, F1 and support (true samples). */
void cli_class_scores(const cli_scores *s, int k, double *p, double *r, double *f1,
                      long *support);
void cli_scores_free(cli_scores *s);

/* The training report (src/cli/report.c): <out>/report/ and --report DIR
 * get history.json, history.csv, curves and confusion matrix as SVG and PNG,
 * wrong/NN.png and index.html. */
typedef struct cli_report {
    const train_opts *o;
    const char *kind;                 /* what was trained, e.g. "a Dense head" */
    int n_phases;                     /* 1, or 2 with fine-tuning */
    const crest_history *hist[2];
    const char *phase[2];             /* "fit", "head", "fine-tune" */
    int first[2];                     /* each phase's first epoch (--initial-epoch) */
    bool has_val;                     /* the history has validation columns */
    crest_model *scored;              /* run on eval (may be the head on features) */
    const crest_model *named;         /* whose class names label it (NULL: scored's) */
    const crest_dataset *eval;        /* labelled model inputs, or NULL (no matrix) */
    bool val_is_eval;                 /* eval is the validation data, not the training */
    const char *eval_on;              /* eval in a word when it is neither ("held-out") */
    const crest_dataset *pics;        /* eval's samples as pictures, or NULL (tables) */
    const char *val_what;             /* the validation data, in words */
    const char *no_eval_why;          /* without eval: why not */
} cli_report;
/* The model to score for the report: NULL (score m itself), or with
 * --checkpoint best the best epoch's, loaded back from --out (freed by the
 * caller). */
int cli_saved_model(const train_opts *o, crest_model *m, crest_model **saved);
/* The run's validation data, in words (a static buffer). */
const char *cli_val_what(const train_opts *o);
/* After the model is saved: 0, or EXIT_RUN having said that the model is
 * saved but the report is not, and why. */
int cli_train_report(const cli_report *r);

/* The commands: each one's name, line in `crest --help`, entry point and
 * option table (also the manual page's source). */
typedef struct cli_entry {
    const char *name, *what;
    int (*run)(int, char **);
    const struct cli_command *table;
} cli_entry;
extern const cli_command train_cmd, evaluate_cmd, predict_cmd, summary_cmd, infer_cmd,
    bench_cmd, export_cmd, quantize_cmd;
/* crest(1) in roff from the tables (src/cli/man.c): `crest help --man`. */
void cli_man(FILE *f, const cli_entry *cmds, int n);

/* The whole command (src/cli/crest.c's main calls it; tests/crest_examples.c
 * calls it with the examples' model classes registered). */
int crest_cli_main(int argc, char **argv);

int cmd_train(int argc, char **argv);
int cmd_train_base(const train_opts *o);
int cmd_evaluate(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_infer(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

#endif
