/* crest.h - classification heads on neural networks, trained in C.
 *
 * The only header users include. Conventions:
 *   - Functions return CREST_OK (0) or a negative CREST_E_* code, or NULL;
 *     crest_last_error() then names the file, layer or column at fault.
 *     The message is thread-local and valid until the next failing call.
 *   - Options structs treat zero as "the default": pass
 *     &(crest_fit_opts){ .epochs = 5 } and leave the rest out.
 *   - Ownership: X_new / X_free pairs; X_free(NULL) is a no-op. A call that
 *     "consumes" an argument owns it even when it fails.
 *   - Nothing in the library prints: progress goes to a callback
 *     (crest_progress_fn in the options of fit, table fit and extraction).
 */
#ifndef CREST_H
#define CREST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CREST_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------ */

enum {
    CREST_OK = 0,
    CREST_E_NOMEM = -1,       /* out of memory */
    CREST_E_IO = -2,          /* a file could not be read or written */
    CREST_E_FORMAT = -3,      /* a file or value is malformed */
    CREST_E_SHAPE = -4,       /* shapes do not fit together */
    CREST_E_ARG = -5,         /* a bad argument or option value */
    CREST_E_STATE = -6,       /* call out of order (e.g. fit before compile) */
    CREST_E_UNSUPPORTED = -7, /* a valid request crest does not implement */
    CREST_E_INTERNAL = -8,    /* one of crest's own invariants failed (a bug) */
};

const char *crest_last_error(void);
const char *crest_strerror(int code);

/* ---- shapes ------------------------------------------------------------ */

#define CREST_MAX_DIMS 6

/* A shape without the batch dimension, as Keras' input_shape. In a model's
 * input shape a dimension may be unknown, CREST_DIM_NONE (Keras' None,
 * null in model files): [None, None, 3] images of any size for fully
 * convolutional models, [None, C] sequences of any length. Such a model runs
 * at the shape of the data at hand (see crest_model_set_input_shape). */
#define CREST_DIM_NONE (-1)
typedef struct crest_dims {
    int ndim;
    int64_t d[CREST_MAX_DIMS];
} crest_dims;

crest_dims crest_shape(int ndim, ...);      /* crest_shape(3, 28, 28, 1) */
int64_t crest_dims_count(crest_dims s);     /* product of the dims; -1 if one is
                                               CREST_DIM_NONE */
/* "[None,224,224,3]" into buf (size bytes, truncated to fit); returns buf. */
char *crest_dims_str(crest_dims s, char *buf, size_t size);

/* ---- activations and initializers -------------------------------------- */

/* Keras' activations (the formulas: src/ops/activation.c). HARD_SIGMOID is
 * Keras 2's and TF.js' clip(0.2 x + 0.5, 0, 1); HARD_SIGMOID_KERAS3 is Keras
 * 3's relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1): what "hard_sigmoid" means
 * in a Keras 3 .keras file (keras_version 3.x), named "hard_sigmoid_keras3"
 * by crest elsewhere (saving it to a TF.js folder or an .h5 file, whose
 * "hard_sigmoid" is Keras 2's, is an error naming the layer, as is saving
 * HARD_SIGMOID to a .keras file); ELU alpha 1; GELU exact (erf); LEAKY_RELU
 * negative slope 0.2 (Keras 3's activation); HARD_SILU (Keras 3, also read
 * as "hard_swish") x * relu6(x + 3) / 6. */
typedef enum crest_act {
    CREST_LINEAR = 0, CREST_RELU, CREST_RELU6, CREST_SIGMOID, CREST_TANH,
    CREST_SOFTMAX, CREST_LOG_SOFTMAX, CREST_SWISH, CREST_HARD_SIGMOID,
    CREST_ELU, CREST_SELU, CREST_SOFTPLUS, CREST_SOFTSIGN, CREST_GELU, CREST_EXPONENTIAL,
    CREST_LEAKY_RELU, CREST_MISH, CREST_HARD_SILU, CREST_HARD_SIGMOID_KERAS3,
    CREST_ACT_COUNT
} crest_act;

typedef enum crest_init {
    CREST_INIT_DEFAULT = 0,   /* the layer's Keras default */
    CREST_GLOROT_UNIFORM, CREST_GLOROT_NORMAL, CREST_HE_NORMAL, CREST_HE_UNIFORM,
    CREST_ZEROS, CREST_ONES, CREST_RANDOM_NORMAL, CREST_RANDOM_UNIFORM,
    CREST_INIT_COUNT
} crest_init;

const char *crest_act_name(crest_act a);          /* Keras spelling: "relu" */
int crest_act_parse(const char *name, crest_act *out);   /* also "silu" (swish) */

/* ---- graphs: what layers, custom models and lambdas are made of --------- */

typedef struct crest_graph crest_graph;   /* a graph being traced; owned by its model */
typedef struct crest_node crest_node;     /* a value in it; owned by the graph */

/* Ops. Each returns NULL after an error; the first error sticks in the graph
 * and every later op returns NULL, so a builder checks once at the end.
 * Shapes include the batch dimension first. */
crest_node *crest_op_matmul(crest_graph *g, crest_node *a, crest_node *b);
crest_node *crest_op_add(crest_graph *g, crest_node *a, crest_node *b);  /* broadcasting */
crest_node *crest_op_sub(crest_graph *g, crest_node *a, crest_node *b);
crest_node *crest_op_mul(crest_graph *g, crest_node *a, crest_node *b);
crest_node *crest_op_bias_add(crest_graph *g, crest_node *x, crest_node *bias);
crest_node *crest_op_scale(crest_graph *g, crest_node *x, float mul, float add);
crest_node *crest_op_activate(crest_graph *g, crest_node *x, crest_act act);
crest_node *crest_op_dropout(crest_graph *g, crest_node *x, float rate, bool training);
crest_node *crest_op_reshape(crest_graph *g, crest_node *x, crest_dims per_sample);
crest_node *crest_op_flatten(crest_graph *g, crest_node *x);
crest_node *crest_op_sum(crest_graph *g, crest_node *x, int axis, bool keepdims);  /* axis -1.. */
crest_node *crest_op_mean(crest_graph *g, crest_node *x, int axis, bool keepdims);
crest_node *crest_op_concat(crest_graph *g, crest_node **xs, int n, int axis);

/* A trainable variable owned by the layer being built (a Lambda's or a
 * custom layer's). Created and initialized on first use, found by name after. */
crest_node *crest_variable(crest_graph *g, const char *name, crest_dims shape,
                           crest_init init, bool trainable);
crest_dims crest_node_shape(const crest_node *x);   /* with the batch dim (as traced) */
/* True while tracing a training graph (and not inside a layer applied with
 * training = false). */
bool crest_graph_training(const crest_graph *g);

/* ---- layers ------------------------------------------------------------ */

typedef struct crest_layer crest_layer;

typedef struct crest_dense_opts {
    int units;
    crest_act activation;
    bool no_bias;                 /* use_bias = !no_bias */
    crest_init kernel_init;       /* default glorot_uniform */
    crest_init bias_init;         /* default zeros */
    float l2;                     /* kernel L2 regularizer factor, 0 = none */
    const char *name;             /* default "dense", "dense_1", ... */
} crest_dense_opts;

crest_layer *crest_dense(int units, crest_act activation);
crest_layer *crest_dense_ex(const crest_dense_opts *o);
crest_layer *crest_activation(crest_act activation);
crest_layer *crest_dropout(float rate);
crest_layer *crest_flatten(void);
crest_layer *crest_reshape(crest_dims target);
void crest_layer_free(crest_layer *l);
int crest_layer_set_name(crest_layer *l, const char *name);
/* Any layer crest knows, as Keras configures it: class_name ("RandomFlip",
 * "Conv2D", ...) and its config as JSON text ("{\"mode\": \"horizontal\"}";
 * NULL = "{}", Keras' defaults), as it stands in a saved model. For example
 * the augmentation layers RandomFlip, RandomRotation, RandomZoom and
 * RandomTranslation (the identity at inference; seeded random warps while
 * the model trains). Errors name the class and the config field. */
int crest_layer_from_keras(const char *class_name, const char *config_json, crest_layer **out);
const char *crest_layer_name(const crest_layer *l);
/* The layer's Keras class name ("Dense", "RandomFlip"...), or NULL. */
const char *crest_layer_class(const crest_layer *l);
void crest_layer_set_trainable(crest_layer *l, bool trainable);

/* Apply a layer inside a graph being traced (custom models, lambdas), as
 * Keras' layer(x, training=training): with training false, Dropout (and any
 * layer that asks crest_graph_training) runs in inference mode even in a
 * training graph; with training true it follows the graph. The caller keeps
 * ownership of l (see "custom models" below). */
crest_node *crest_layer_apply(crest_layer *l, crest_graph *g, crest_node *x, bool training);

/* ---- models ------------------------------------------------------------ */

typedef struct crest_model crest_model;

int crest_sequential_new(crest_model **out, crest_dims input_shape);
int crest_add(crest_model *m, crest_layer *l);     /* consumes l, even on failure */
void crest_model_free(crest_model *m);

/* Number of classes / width of the model's output (0 before it is built). */
int64_t crest_model_output_size(const crest_model *m);
/* The output's shape without the batch (Keras' model.output_shape[1:]):
 * rank 0 before the model is built, CREST_DIM_NONE where it follows an
 * unknown input dimension not yet set by crest_model_set_input_shape. */
crest_dims crest_model_output_shape(const crest_model *m);
/* The input shape as declared (Keras' model.input_shape without the batch):
 * CREST_DIM_NONE where it is unknown. Several inputs: [total values]. */
crest_dims crest_model_input_shape(const crest_model *m);
/* Unknown input dimensions. A model whose input has CREST_DIM_NONE
 * dimensions is planned from the shape of the data at hand: data sets
 * (fit, evaluate, predict_dataset, extract) give it their sample shape, and
 * raw calls (crest_infer, crest_predict, crest_predict_output,
 * crest_model_profile) use the shape set here, until it is set again.
 * `sample` has the declared rank and agrees with every known dimension.
 * Every layer's shape rule is run at once, so a shape the model cannot take
 * is CREST_E_SHAPE naming the first layer that refuses it (a 'valid' window
 * larger than the image, Add of mismatched sizes...). A change re-plans the
 * same traced graphs: one arena, grown to the largest shape seen (planning
 * is linear in the graph, far below one forward pass). Then
 * crest_model_output_size is the output's size for that shape (0 while an
 * output that follows an unknown dimension has no shape set). On a model
 * with no unknown dimensions it only checks that sample is its shape. */
int crest_model_set_input_shape(crest_model *m, crest_dims sample);
/* The shape raw calls feed: the declared one, with unknown dimensions as set
 * by crest_model_set_input_shape (CREST_DIM_NONE while not set). */
crest_dims crest_model_feed_shape(const crest_model *m);
size_t crest_model_param_count(const crest_model *m, bool trainable_only);

/* Keras-style summary. Returns a malloc'd string (free with crest_free),
 * a table or, with json, one JSON object; NULL on error. */
char *crest_model_summary(crest_model *m, bool json);
void crest_free(void *p);

/* Threads used by this model's kernels (default: the number of cores).
 * The calling thread runs a share of the work: the kernels keep tiles on
 * the stack, up to about 250 KB, so call crest from a thread with at least
 * 1 MB of stack (a main thread has 8 MB on Linux; crest's own workers are
 * made with 2 MB whatever the C library's default, musl's being 128 KB). */
int crest_model_set_threads(crest_model *m, int n_threads);
/* Threads the model's kernels use (starts the pool if needed). */
int crest_model_threads(crest_model *m);
/* The instruction-set levels the kernels run at in this process, chosen
 * at first use from what the CPU has: "float32 avx512, int8 avx512vnni,
 * int16 avx2" (float32: avx512, avx2 or generic; int8: avx512vnni,
 * avxvnni, avx2 or generic; int16: avx2 or generic). The string is the
 * calling thread's, valid until its next call.
 * The environment variable CREST_ISA, read at first use, caps them:
 * generic, avx2, avxvnni, avx512 or avx512vnni, in any case (each kind takes
 * its highest level at or under it; another value caps nothing, and the
 * string above then ends "(CREST_ISA names no level: ignored)"). int8 and int16
 * results are the same bits at every level; float32 ones may differ in the
 * last bits between levels, so CREST_ISA=avx2 gives the same float32 bits on
 * an AVX-512 machine as on an AVX2 one. */
const char *crest_kernels(void);

/* ---- functional models (Keras' functional API) ------------------------- */

/* A symbolic tensor of a functional model under construction: an Input, or
 * the output of a layer applied to symbolic tensors. Owned by its model;
 * valid until the model is freed. */
typedef struct crest_sym crest_sym;

/* An empty functional model: declare inputs, apply layers, then set outputs. */
int crest_functional_new(crest_model **out, const char *name);
/* keras.Input(shape=..., name=...): shape without the batch; name may be NULL. */
crest_sym *crest_input(crest_model *m, crest_dims shape, const char *name);
/* layer(inputs): the model takes ownership of l (even on failure). Applying a
 * layer the model already owns applies it again with the same weights
 * (shared layers). NULL after an error, which sticks to m. */
crest_sym *crest_call(crest_model *m, crest_layer *l, crest_sym **inputs, int n_inputs);
crest_sym *crest_apply(crest_model *m, crest_layer *l, crest_sym *x);   /* one input */
/* keras.Model(inputs, outputs). The inputs are fed from each sample of a
 * data set in this order: a sample holds input 0's values, then input 1's...
 * fit / evaluate / predict train and report output 0; the others are traced
 * and saved, and crest_predict_output reads them. */
int crest_functional_outputs(crest_model *m, crest_sym **inputs, int n_inputs,
                             crest_sym **outputs, int n_outputs);
int crest_model_output_count(const crest_model *m);
/* out: [n, size of output k per sample]. */
int crest_predict_output(crest_model *m, int k, const float *x, size_t n, float *out);

/* Merge layers (Keras Add, Multiply, Average, Concatenate). */
crest_layer *crest_merge_add(void);
crest_layer *crest_merge_multiply(void);
crest_layer *crest_merge_average(void);
crest_layer *crest_concatenate(int axis);    /* axis counts the batch: -1 = last */

/* ---- compile ----------------------------------------------------------- */

typedef struct crest_optimizer crest_optimizer;
crest_optimizer *crest_sgd(float lr, float momentum, bool nesterov);
crest_optimizer *crest_adam(float lr);
crest_optimizer *crest_adam_ex(float lr, float beta1, float beta2, float epsilon);
crest_optimizer *crest_rmsprop(float lr);
crest_optimizer *crest_rmsprop_ex(float lr, float rho, float momentum, float epsilon);
void crest_optimizer_free(crest_optimizer *o);

typedef enum crest_loss {
    CREST_SPARSE_CCE = 0,   /* integer labels */
    CREST_CCE,              /* one-hot (or soft) labels */
    CREST_BCE,              /* binary: labels 0/1 per output unit */
} crest_loss;

enum { CREST_ACCURACY = 1, CREST_TOP_K = 2 };

typedef struct crest_compile_opts {
    crest_optimizer *optimizer;   /* consumed; default adam(1e-3) */
    crest_loss loss;
    bool from_logits;             /* outputs are logits, not probabilities */
    float label_smoothing;        /* as Keras' CategoricalCrossentropy (sparse labels:
                                   * on their one-hot rows) and BinaryCrossentropy */
    int metrics;                  /* CREST_ACCURACY | CREST_TOP_K */
    int top_k;                    /* default 5 */
} crest_compile_opts;

int crest_compile(crest_model *m, const crest_compile_opts *o);

/* ---- data -------------------------------------------------------------- */

typedef struct crest_dataset crest_dataset;

/* n samples of sample_shape floats each, with integer labels in
 * [0, n_classes) (labels may be NULL for unlabeled data). Copies x, labels. */
int crest_dataset_new(crest_dataset **out, size_t n, crest_dims sample_shape,
                      const float *x, const int32_t *labels, int n_classes);
/* Same, for one-hot / soft / multi-label targets: y is [n, n_outputs]. */
int crest_dataset_new_dense(crest_dataset **out, size_t n, crest_dims sample_shape,
                            const float *x, const float *y, int n_outputs);
/* A built-in or on-disk data set: "fashion-mnist", "fashion-mnist:test",
 * "mnist:train", or a folder of IDX files. Pixels are scaled to [0, 1]. */
int crest_dataset_load(crest_dataset **out, const char *spec);
void crest_dataset_free(crest_dataset *d);
size_t crest_dataset_size(const crest_dataset *d);
crest_dims crest_dataset_sample_shape(const crest_dataset *d);
int crest_dataset_classes(const crest_dataset *d);
const float *crest_dataset_x(const crest_dataset *d);   /* NULL for lazy sets */
const int32_t *crest_dataset_labels(const crest_dataset *d);   /* NULL if dense targets */
/* Rows [start, start+count) as a new data set. */
int crest_dataset_slice(const crest_dataset *d, size_t start, size_t count,
                        crest_dataset **out);
/* Where built-in data sets live: $CREST_DATA, else "data" beside the
 * working directory. Returns the folder (static storage). */
const char *crest_data_dir(void);

/* ---- progress ---------------------------------------------------------- */

/* What fit, table fit and backbone extraction report while they run. The
 * library never prints: it hands each event to the callback in its options
 * (crest_fit_opts.progress, crest_extract_opts.progress), which may draw a
 * bar (the `crest` command draws Keras' one), log, or do nothing. */
typedef enum crest_progress_kind {
    CREST_PROGRESS_EPOCH_BEGIN = 0, /* epoch, epochs; steps (table fit: 0, unknown) */
    CREST_PROGRESS_STEP,            /* a batch trained (table fit: a chunk): step,
                                     * samples, loss and accuracy so far this epoch */
    CREST_PROGRESS_EPOCH_END,       /* the epoch's loss, accuracy, val metrics */
    CREST_PROGRESS_EARLY_STOP,      /* after epoch's END: early stopping ends the
                                     * run; best_epoch will be restored */
    CREST_PROGRESS_RESUME,          /* a checkpoint was resumed: epoch = epochs it
                                     * finished (the next to run), path = its file */
    CREST_PROGRESS_EXTRACT,         /* extraction: done of total samples run */
    CREST_PROGRESS_LR_REDUCED,      /* after epoch's END: ReduceLROnPlateau cut the
                                     * rate to lr (monitor, value: what stalled) */
    CREST_PROGRESS_BEST_SAVED,      /* after epoch's END: the monitored metric
                                     * improved (from best, +-inf at first) to
                                     * value; the model was saved to path */
} crest_progress_kind;

typedef struct crest_progress {
    crest_progress_kind kind;
    int epoch;                    /* 0-based epoch the event belongs to */
    int epochs;                   /* epochs of the run */
    int64_t step, steps;          /* batches (table fit: chunks) done; per epoch */
    size_t samples;               /* samples (table rows) trained on this epoch so far */
    double loss, accuracy;        /* this epoch so far (STEP) or the epoch's (END) */
    bool has_val;                 /* EPOCH_END: validation ran */
    double val_loss, val_accuracy;
    int best_epoch;               /* EARLY_STOP: 0-based */
    size_t done, total;           /* EXTRACT: samples run, samples in all */
    double seconds;               /* since the epoch (extraction) began */
    const char *path;             /* RESUME: the checkpoint file, BEST_SAVED: the model
                                   * folder (valid during the call) */
    double lr;                    /* STEP, EPOCH_END: the learning rate of the last
                                   * update; LR_REDUCED: the new rate */
    bool lr_scheduled;            /* a schedule (crest_fit_opts.lr_schedule) is on */
    const char *monitor;          /* LR_REDUCED, BEST_SAVED: "val_loss", ... */
    double value, best;           /* LR_REDUCED, BEST_SAVED: the monitored value;
                                   * BEST_SAVED: the best before it */
} crest_progress;

/* Called on the thread that runs fit or extraction, between batches; it
 * must not call back into the same model. */
typedef void (*crest_progress_fn)(const crest_progress *e, void *user);

/* ---- fit / evaluate / predict ----------------------------------------- */

typedef struct crest_history {
    int epochs;                  /* epochs run */
    int best_epoch;              /* with early stopping: the restored one (0-based) */
    double loss[1024], accuracy[1024], val_loss[1024], val_accuracy[1024];
    double lr[1024];             /* the learning rate of the epoch's last update */
    /* Seconds the epoch took (its training and validation), by the
     * monotonic clock; 0 for epochs a resumed run restored from its
     * checkpoint. Appended last in 0.x: code built against the older,
     * shorter struct must be rebuilt (the struct is the caller's). */
    double time[1024];
} crest_history;

/* What ReduceLROnPlateau and ModelCheckpoint(save_best_only) watch. AUTO:
 * val_loss when fit validates, else loss. Losses must fall, accuracies rise
 * (Keras' mode "auto"). */
typedef enum crest_monitor {
    CREST_MONITOR_AUTO = 0,
    CREST_MONITOR_VAL_LOSS,
    CREST_MONITOR_LOSS,
    CREST_MONITOR_VAL_ACCURACY,
    CREST_MONITOR_ACCURACY,
} crest_monitor;
/* "val_loss", "loss", "val_accuracy", "accuracy" (AUTO: "auto"). */
const char *crest_monitor_name(crest_monitor m);
/* The inverse, CREST_E_ARG for any other text. */
int crest_monitor_parse(const char *s, crest_monitor *out);

/* Learning-rate schedules, as Keras' keras.optimizers.schedules and its
 * ReduceLROnPlateau callback, on the optimizer's rate lr (its initial rate).
 * A run's updates are counted from epoch 0: the update of batch b in epoch
 * e is step e * steps_per_epoch + b, so a run started at initial_epoch, or
 * resumed from a checkpoint, is at the same point of the curve as the run
 * from scratch. Durations are in steps; the _epochs fields, when the steps
 * are 0, give them in epochs (times steps per epoch, rounded). */
typedef enum crest_lr_kind {
    CREST_LR_CONSTANT = 0,
    /* CosineDecay with linear warmup (initial_learning_rate 0, warmup_target
     * lr): step < W: lr * step / W; then, with t = min(step - W, D),
     * lr * ((1 - alpha) * (1 + cos(pi * t / D)) / 2 + alpha). W: warmup
     * steps (0: none, Keras' CosineDecay(lr, D, alpha)); D: decay steps (0:
     * the rest of the run). */
    CREST_LR_COSINE,
    /* ExponentialDecay: lr * decay_rate ^ (step / D), the exponent floored
     * with staircase (step decay: every D steps, times decay_rate). */
    CREST_LR_EXPONENTIAL,
    /* PiecewiseConstantDecay: values[0] while step <= boundaries[0],
     * values[i] while step <= boundaries[i], then values[n_boundaries]. */
    CREST_LR_PIECEWISE,
    /* ReduceLROnPlateau, after each epoch: when monitor has not improved by
     * more than min_delta for patience epochs (outside cooldown), the rate
     * becomes max(rate * factor, min_lr) (if above min_lr), then cooldown
     * epochs pass before counting again. */
    CREST_LR_PLATEAU,
} crest_lr_kind;

typedef struct crest_lr_schedule {
    crest_lr_kind kind;
    int64_t decay_steps;          /* cosine, exponential: D */
    float decay_epochs;
    int64_t warmup_steps;         /* cosine: W */
    float warmup_epochs;
    float alpha;                  /* cosine: the floor, a fraction of lr */
    float decay_rate;             /* exponential */
    bool staircase;               /* exponential */
    int n_boundaries;             /* piecewise: boundaries[n], values[n + 1] */
    const int64_t *boundaries;    /* in steps (or, when NULL, boundary_epochs) */
    const float *boundary_epochs;
    const float *values;
    crest_monitor monitor;        /* plateau */
    float factor;                 /* plateau: in (0, 1); default 0.1 */
    int patience;                 /* plateau: epochs; default 10 */
    float min_delta;              /* plateau: default 1e-4 (negative: 0) */
    int cooldown;                 /* plateau: epochs; default 0 */
    float min_lr;                 /* plateau: default 0 */
} crest_lr_schedule;

/* The rate at step of a run of total_steps updates, steps_per_epoch per
 * epoch, with initial rate lr; not for CREST_LR_PLATEAU, whose rate depends
 * on the run (it returns lr). Negative for a schedule with bad values. */
double crest_lr_at(const crest_lr_schedule *s, double lr, int64_t step,
                   int64_t steps_per_epoch, int64_t total_steps);
/* Class weights as Keras' users compute them with scikit-learn's "balanced":
 * n_samples / (n_classes * count of class c), into w [classes of d]; a class
 * without samples gets 0. d needs integer labels. */
int crest_class_weight_balanced(const crest_dataset *d, float *w);

typedef struct crest_fit_opts {
    int epochs;                  /* default 1 */
    int batch_size;              /* default 32 */
    uint64_t seed;               /* shuffling and dropout (init uses the model seed) */
    bool no_shuffle;
    float validation_split;      /* last fraction of the data, as Keras */
    const crest_dataset *validation_data;
    const float *class_weight;   /* [n_classes] or NULL: each sample's loss times
                                  * its class's weight (Keras' class_weight) */
    int early_stopping_patience; /* 0 = off; monitors val_loss (loss without val) */
    float early_stopping_min_delta;
    bool no_restore_best;        /* with early stopping: keep the last weights */
    /* Progress events (epoch begin and end, every batch, early stopping,
     * resume), with progress_user; NULL: none. Replaces the old verbose
     * flag: the library prints nothing, the caller draws what it likes. */
    crest_progress_fn progress;
    void *progress_user;
    crest_history *history;      /* filled if not NULL */
    /* Checkpoints (as Keras' BackupAndRestore, but bit-exact): with
     * checkpoint_dir set (created if missing), after every epoch the whole
     * state of the run is written atomically (temp file, fsync, rename) to
     * <checkpoint_dir>/<checkpoint_name>.ckpt: every weight (BatchNorm's
     * moving statistics too), the optimizer's step count and slots, the
     * shuffling and dropout RNGs, the row order, the epoch, the history and
     * the early-stopping state (best value, best weights, patience count).
     * With resume also set and that file present, fit continues the run it
     * holds after its last finished epoch and ends exactly (bit for bit, on
     * the same number of threads) as the uninterrupted run would have;
     * without the file it starts afresh. To resume, build and compile the
     * model as before (same seed), then call crest_fit with the same data
     * and options; the checkpoint overwrites the fresh weights.
     * A checkpoint holds a fingerprint of the model (weight names, shapes,
     * trainable flags), the loss, the training and validation data (every
     * value), and the options that shape training (batch size, seed,
     * shuffling, validation split, class weights, early stopping); resuming
     * with any of them changed, or another optimizer, fails with
     * CREST_E_STATE (a damaged file: CREST_E_FORMAT); epochs may grow on
     * resume (a checkpoint past epochs: CREST_E_ARG). A run killed at any
     * moment resumes from its last finished epoch; one that early stopping
     * ended only restores its best weights. crest_fit never deletes the
     * file: remove it once the result is saved. */
    const char *checkpoint_dir;
    const char *checkpoint_name; /* default "fit" (letters, digits, '-', '_', '.') */
    bool resume;
    /* Keras' initial_epoch: run epochs [initial_epoch, epochs) (history
     * rows are indexed by epoch; earlier ones stay zero). Ignored when a
     * checkpoint is resumed (its epoch counts). */
    int initial_epoch;
    /* Keras' on_epoch_end: called after every epoch with its history so far
     * (the weights are the epoch's, before any early-stopping restore), and
     * before that epoch's checkpoint is written, so a run killed in between
     * calls it again for that epoch on resume. A non-zero return stops fit,
     * which returns it. */
    int (*on_epoch_end)(crest_model *m, int epoch, const crest_history *h, void *user);
    void *user;
    /* The learning rate per update (NULL: the optimizer's, constant). Its
     * state (ReduceLROnPlateau's) is part of the checkpoints, and its
     * settings of their fingerprint. */
    const crest_lr_schedule *lr_schedule;
    /* Keras' ModelCheckpoint(save_best_only=True): with best_model_dir set,
     * after each epoch whose best_monitor value beats every earlier one of
     * the run, the model is saved there (crest_model_save: atomic), before
     * on_epoch_end and the epoch's checkpoint. The model's metadata must be
     * set before fit. */
    const char *best_model_dir;
    crest_monitor best_monitor;
    /* Augmentation at every step: layers such as RandomFlip
     * (crest_layer_from_keras; the caller keeps them) run in training mode
     * on each batch's inputs before the model (single-input models), with
     * draws from the run's seed; not applied to validation data. */
    crest_layer *const *augment;
    int n_augment;
    /* Micro-shards (data-parallel steps that give the same bits in any
     * number of processes): micro_batch > 0 cuts every batch into
     * micro-shards of micro_batch rows whose gradients are computed
     * independently (dropout drawn per micro-shard from the seed, the
     * epoch, the step and the shard) and summed in micro-shard order, each
     * weighted by its share of the batch, so the update does not depend on
     * which process computed which shard. Of each batch's micro-shards this
     * process computes its part, crest_shard_range(n_micro, n_shards,
     * shard), into rows of a buffer (a row: the shard's gradient, then its
     * loss, hits, top-k hits and a status, 0 when it ran); allgather must
     * then fill every other process's rows in place (process k's rows are
     * its crest_shard_range), so all processes sum the same buffer and
     * take the same step. A process whose shard failed still takes part,
     * with a non-zero status, so the others fail too instead of waiting.
     * n_shards 0 or 1: this process computes every micro-shard and
     * allgather is not called. Validation is sharded the same way: this
     * process evaluates its crest_shard_range of the validation passes and
     * allgather brings the others' sums (rows of 7 floats), added in pass
     * order. */
    int micro_batch;
    int n_shards, shard;
    int (*allgather)(void *user, float *rows, int n_rows, size_t row_floats);
    void *allgather_user;
    /* With resume: a checkpoint's bytes (a .ckpt file's whole content, as
     * another process read it: under mpirun rank 0 reads it and sends it to
     * every rank) to resume from, instead of the file in checkpoint_dir;
     * checked as the file would be (checksum, fingerprint). checkpoint_dir
     * may then be NULL: this process writes no checkpoint (another does).
     * Sharded (n_shards > 1 with allgather), the processes also agree once
     * the run has started and after every epoch's saves (checkpoint,
     * best_model_dir, on_epoch_end), which only some of them may do: one
     * failing there ends them all (a status row each, by allgather). */
    const void *resume_bytes;
    size_t resume_size;
} crest_fit_opts;

int crest_fit(crest_model *m, const crest_dataset *train, const crest_fit_opts *o);

/* Part k of n items cut into parts contiguous, balanced pieces (their
 * sizes differ by at most one): items [*first, *first + *count). */
void crest_shard_range(size_t n, int parts, int k, size_t *first, size_t *count);

typedef struct crest_metrics {
    double loss, accuracy, top_k_accuracy;
    size_t n;
} crest_metrics;

/* batch_size 0: passes sized so their activations stay cache-sized (as
 * crest_infer's), so memory does not grow with the model's input size; the
 * loss is the mean over samples whatever the passes. */
int crest_evaluate(crest_model *m, const crest_dataset *d, int batch_size,
                   crest_metrics *out);
/* Same, also writing the model's outputs to probs [n, output size] (if not
 * NULL) from the same forward passes. */
int crest_evaluate_probs(crest_model *m, const crest_dataset *d, int batch_size,
                         crest_metrics *out, float *probs);
/* probs: [n, crest_model_output_size(m)], written. x: [n, input shape].
 * In cache-sized passes (at most 64 samples). */
int crest_predict(crest_model *m, const float *x, size_t n, float *probs);
/* The same over a data set (lazy sets decoded a pass at a time). */
int crest_predict_dataset(crest_model *m, const crest_dataset *d, float *probs);

/* Free-form JSON saved with the model (TF.js userDefinedMetadata): crest keeps
 * {"crest": {...}} there (loss, class names, preprocessing). */
int crest_model_set_metadata(crest_model *m, const char *json);
const char *crest_model_metadata(const crest_model *m);   /* NULL if none */

/* Model seed for weight initialization (default 0); set before the first build. */
int crest_model_set_seed(crest_model *m, uint64_t seed);

/* ---- save / load ------------------------------------------------------- */

/* crest reads and writes JSON with the system cJSON library, whose
 * allocation hooks are global: on first use crest installs its own
 * (cJSON_InitHooks with malloc-compatible functions). A program that uses
 * cJSON with other hooks of its own must install them after crest's first
 * JSON call and keep them malloc-compatible. */

/* A folder in Keras' TF.js layers format: model.json + weights.bin,
 * loadable by tf.loadLayersModel. Written atomically: any failure (out of
 * memory is CREST_E_NOMEM) leaves the model saved before intact. Temp files
 * of saves that were killed ("<file>.tmp.<pid>" of a process that is gone)
 * are removed. Numbers are written with '.' whatever the host's locale. A
 * NaN or infinite weight (training diverged) is CREST_E_STATE, naming it. */
int crest_model_save(crest_model *m, const char *dir);
/* How crest_model_save_quantized stores the weights, as TF.js' converter
 * does with --quantize_uint8 / _uint16 / _float16: per tensor, uint8 or
 * uint16 codes with {min, scale} (value = min + scale * code; the range is
 * moved so that 0 is exactly a code when it covers 0), or IEEE half floats.
 * TF.js and crest_model_load read them back as float32: the saved model
 * computes with the rounded weights. */
typedef enum crest_weight_quant {
    CREST_WQ_NONE,      /* float32, as crest_model_save */
    CREST_WQ_UINT8,     /* 1 byte per weight: error up to scale / 2 = range / 510 */
    CREST_WQ_UINT16,    /* 2 bytes: range / 131070 */
    CREST_WQ_FLOAT16,   /* 2 bytes: 11 significant bits; |w| >= 65520 is refused */
} crest_weight_quant;
/* crest_model_save with the weights stored as q. The model in memory keeps
 * its float32 weights. */
int crest_model_save_quantized(crest_model *m, const char *dir, crest_weight_quant q);
/* The model as a Keras 2.x HDF5 file (model.save("m.h5")'s layout:
 * model_config, model_weights; crest's metadata in crest_metadata), written
 * atomically like crest_model_save. crest_model_load reads it back. */
int crest_model_save_h5(crest_model *m, const char *path);
/* The model as an ONNX file (float32, opset 13; protobuf-c with Debian's
 * onnx.proto), written atomically: its inference graph op by op, inputs
 * and outputs NHWC as crest's, NCHW inside (one Transpose where the layout
 * changes), batch dynamic, other sizes as traced. A layer with no ONNX
 * form (DenseFeatures' feature columns, a folded batch norm, ...) is
 * CREST_E_UNSUPPORTED naming it; nothing is written then. */
int crest_model_save_onnx(crest_model *m, const char *path);
/* The model as a TFLite file (float32, schema version 3, a FlatBuffer
 * written by crest's own small builder), written atomically: its inference
 * graph as TFLite builtin operators (a batch norm after a convolution folded
 * into it, bias adds and ReLU / ReLU6 fused into the convolution or
 * fully connected op before them), NHWC as crest's, batch dynamic
 * (shape_signature -1; shapes say 1), other sizes as traced. A layer with no
 * TFLite form (DenseFeatures' feature columns, a padding SAME and VALID
 * cannot express on a pooling, ...) is CREST_E_UNSUPPORTED naming it;
 * nothing is written then. A quantized model (crest_quantize) is written
 * int8 where crest runs it int8 (TFLite int8 = crest's uint8 - 128, kernels
 * per output channel, int32 biases), with QUANTIZE / DEQUANTIZE where float
 * ops meet int8 ones; its input and output stay float. One quantized with
 * int16 activations (CREST_QACT_INT16) is written as TFLite's 16x8: int16
 * tensors (crest's scales, zero point 0), the same int8 kernels, int64
 * biases, ADD with pot_scale_int16 false, global average pooling as
 * AVERAGE_POOL_2D (the input's scale). */
int crest_model_save_tflite(crest_model *m, const char *path);
/* The model as a Keras 3 .keras file (model.save("m.keras")'s layout: a zip
 * of config.json in Keras 3's schema, metadata.json with crest's metadata
 * under "crest", and model.weights.h5 with each layer's weights under
 * layers/<class in snake case>[_N]/vars), written atomically like
 * crest_model_save. Sequential and functional models; crest_model_load
 * reads it back. */
int crest_model_save_keras(crest_model *m, const char *path);
/* ---- post-training int8 quantization (src/quant.c) --------------------- */

/* How crest_quantize sets each activation's range from the calibration run. */
typedef enum crest_calibration {
    CREST_CALIB_MINMAX = 0,      /* the observed minimum and maximum */
    CREST_CALIB_PERCENTILE,      /* ends clipped at a percentile of the values seen */
} crest_calibration;

/* The activations' number type. */
typedef enum crest_quant_act {
    CREST_QACT_UINT8 = 0,        /* per-tensor asymmetric uint8 */
    CREST_QACT_INT16,            /* per-tensor symmetric int16, zero point 0 (TFLite's
                                    "16x8": int64 biases, fixed-point requantization) */
} crest_quant_act;

typedef struct crest_quant_opts {
    crest_calibration method;
    double percentile;           /* CREST_CALIB_PERCENTILE: 0 = 99.99 (in (50, 100]) */
    size_t samples;              /* calibration samples used (0: 500; at most the set's) */
    int batch_size;              /* calibration passes (0: 32) */
    bool float_head;             /* keep the last Dense layer (the classifier) float */
    const char *const *keep_float;   /* layers whose kernels stay float (convolutions, */
    int n_keep_float;                /* Dense), by name; NULL / 0: none */
    crest_quant_act activations;     /* 0: uint8 */
} crest_quant_opts;

/* Quantizes m in place for int8 inference, calibrated on real inputs
 * (o->samples of calib spread over it, model inputs as
 * crest_predict_dataset takes): every BatchNormalization that follows a
 * Conv2D, DepthwiseConv2D, SeparableConv2D or Dense layer (linear, used
 * once) is folded into it first (the BN layers leave the model; the conv
 * gets a bias); then the kernels of convolutions, depthwise convolutions
 * and Dense layers become per-output-channel symmetric int8 (real =
 * scale[c] * q, q in [-127, 127]; scale[c] the step of the grid the
 * channel's weights lie on if they were quantized before, else max / 127;
 * the float weights are replaced by those values) and every tensor between them gets a per-tensor asymmetric
 * uint8 scale and zero point (real = s * (q - z), 0 exact), or with
 * o->activations = CREST_QACT_INT16 a symmetric int16 scale (real = s * q,
 * s = max(|min|, |max|) / 32767; biases int64, accumulators exact in int64,
 * TFLite's 16x8 fixed-point requantization; average pooling keeps its
 * input's scale, as TFLite's int16 AVERAGE_POOL_2D); last, the
 * int8 model runs 64 of the samples layer after layer and each kernel's
 * bias takes back the gap between its int8 output's mean and the float
 * model's (the float biases change). Layers named in o->keep_float (or the
 * classifier, o->float_head) keep float kernels and run float (a name that
 * is no layer with a kernel: CREST_E_ARG, m unchanged). Inference (predict,
 * evaluate, infer, bench) then runs int8 kernels for Conv2D / DepthwiseConv2D / Dense (with
 * bias and relu / relu6), Add, max / average and global average pooling,
 * reshapes and relu; any other op runs in float between dequantize and
 * quantize nodes. crest_model_save writes the int8 codes (1 byte per
 * weight) and the scales; crest_model_load reads them back. A quantized
 * model cannot be trained, nor saved as .h5 / .keras
 * (CREST_E_UNSUPPORTED); crest_model_save_onnx writes it as int8 QDQ
 * (int16 activations: refused for now) and crest_model_save_tflite as int8
 * or, with int16 activations, TFLite's 16x8. Errors
 * name the bad calibration input. */
int crest_quantize(crest_model *m, const crest_dataset *calib, const crest_quant_opts *o);
/* Whether m is quantized (crest_quantize, or loaded from such a folder). */
bool crest_model_quantized(const crest_model *m);
/* What crest_quantize did (or a loaded model holds): batch norms folded
 * (0 when loaded), kernels stored int8, activation ranges, and the op
 * nodes of the inference graph that run int8 and float (after a build). */
/* int8_nodes counts the ops that run integer (on int16 activations when
 * activations is CREST_QACT_INT16); int8_weights the kernels stored int8. */
typedef struct crest_quant_info {
    int folded_bn, int8_weights, ranges, int8_nodes, float_nodes;
    crest_quant_act activations;
} crest_quant_info;
int crest_quant_info_get(crest_model *m, crest_quant_info *out);

/* A TF.js layers folder, a model.json path, a Keras .h5 file or a Keras 3
 * .keras file (libhdf5 and libzip read them in a child process, so a
 * damaged file fails the load instead of crashing). Refused (CREST_E_FORMAT,
 * naming the weight and its layer): NaN or infinite weights, a quantization
 * scale <= 0, and NUL characters in model.json. */
int crest_model_load(crest_model **out, const char *path);

/* ---- image layers and raw inference ----------------------------------- */

/* Keras GlobalAveragePooling2D / GlobalMaxPooling2D (max = true). */
crest_layer *crest_global_pooling2d(bool max, bool keepdims);
/* Keras BatchNormalization over the last axis (0 momentum / epsilon: Keras'
 * 0.99 / 1e-3). Once frozen (crest_layer_set_trainable false, or
 * trainable false in a model file) it stays in inference mode for good:
 * moving statistics normalize and are never updated, as Keras 2 does for
 * frozen backbones being fine-tuned. */
crest_layer *crest_batch_normalization(float momentum, float epsilon, bool center, bool scale);

/* Inference-mode forward pass of n samples (x: [n, input shape]) in
 * passes of batch_size samples (0: chosen so a pass's activations stay
 * cache-sized), to the model's output or, if layer is not
 * NULL, to that layer's output. *out is allocated ([n, *out_shape]); free it
 * with crest_free. */
int crest_infer(crest_model *m, const char *layer, const float *x, size_t n, int batch_size,
                float **out, crest_dims *out_shape);

/* For a process that only runs m forward from now on (a service, a device):
 * prepares every convolution's weights now (batch norm folded, packed for
 * the kernels) and returns the memory of the originals to the system as
 * each one is prepared, as ONNX Runtime does after prepacking. This saves
 * about the weights' size (10 MB of MobileNetV2's 43 MB peak at batch 1).
 * Afterwards crest_infer and crest_predict run as before, to the model's
 * output (layer NULL); everything that reads the weights or traces the
 * model again (save, export, fit, evaluate, crest_infer to a layer, a new
 * input shape) fails with CREST_E_STATE. Custom models (their layers are
 * the caller's) and models of unknown input size are CREST_E_UNSUPPORTED.
 * If preparing fails (CREST_E_NOMEM), the model still infers correctly. */
int crest_model_inference_only(crest_model *m);

/* Where crest_infer's time goes: runs the n samples x the way crest_infer
 * does (same passes) `iters` times and times every op. One entry per layer
 * of the inference graph, in execution order (ops fused into a convolution
 * count as its layer): the median over iters of the layer's ms for all n
 * samples, and its floating-point operations (multiply-adds count two).
 * *out is allocated (free with crest_free); names stay valid while m lives. */
typedef struct crest_profile_entry {
    const char *layer;     /* layer name */
    const char *kind;      /* "conv2d 3x3", "conv2d 1x1", "depthwise 3x3", "add", ... */
    double ms;
    double flops;
} crest_profile_entry;
int crest_model_profile(crest_model *m, const float *x, size_t n, int iters,
                        crest_profile_entry **out, int *n_out);

/* ---- custom models (the C form of subclassing keras.Model) ------------- */

/* A custom model is a user struct (self) plus a vtable. crest traces `call`
 * once per graph it needs (inference, training, evaluation; again after
 * crest_compile), with training = crest_graph_training(g). `call` composes
 * layers (crest_layer_apply) and ops (crest_op_*), and may create variables
 * of its own with crest_variable (they belong to a layer named after the
 * model, owned by the model). Every distinct layer applied while `call`
 * runs (also one applied inside another layer, such as a Lambda's function)
 * is recorded in first-use order: it shows in the summary, its
 * weights are trained by fit and saved as "<layer>/<weight>", and unnamed
 * layers get Keras-style unique names (dense, dense_1, ...) on first use.
 *
 * Ownership: the model owns self from crest_custom_new on (even when it
 * fails) and calls vt->destroy(self) exactly once, from crest_model_free.
 * The layers `call` applies stay the user's: the model never frees them, so
 * destroy frees them (after the model is done with them: destroy runs last).
 * A layer must not be freed or applied by another model while this one
 * lives. The vtable and its strings must outlive the model (a static). */
typedef struct crest_model_vtable {
    const char *name;        /* class name saved in model.json, e.g. "TwoStage" */
    crest_node *(*call)(void *self, crest_graph *g, crest_node *x, bool training);
    void (*destroy)(void *self);                  /* may be NULL */
    /* Optional: the model's config as a JSON object, malloc'd (crest calls
     * free); saved as the topology's config and handed to the factory
     * registered for vt->name when the model is loaded. NULL: {}. */
    char *(*get_config)(void *self);
} crest_model_vtable;

/* input_shape: one sample, without the batch (as Sequential). */
int crest_custom_new(crest_model **out, const crest_model_vtable *vt, void *self,
                     crest_dims input_shape);

/* Loading custom models. crest_model_save writes the weights and a topology
 * {"class_name": vt->name, "config": {"name", "batch_input_shape", "layers"
 * (the recorded sub-layers, for reading only), ...get_config's keys}}.
 * Either build the same model in C and load the weights into it
 * (crest_model_load_weights), or register a factory for the class name, so
 * crest_model_load can rebuild it: the factory gets the saved "config"
 * object as JSON text (valid during the call) and must create the model as
 * crest_custom_new does. Loading an unregistered class fails naming it.
 * Registering a name again replaces it; factory NULL removes it. Thread-safe;
 * at most 256 names. */
typedef int (*crest_model_factory)(crest_model **out, const char *config_json);
int crest_register_model(const char *class_name, crest_model_factory factory);

/* Weights from a saved model (a folder or a model.json path) into m, matched
 * by "<layer>/<weight>" name and shape; every weight of m must be present and
 * every saved weight must match one of m's. Any model kind. */
int crest_model_load_weights(crest_model *m, const char *path);

/* ---- lambda layers ----------------------------------------------------- */

/* A Lambda layer runs a user function while the graph is traced. The
 * function composes crest_op_* and may create trainable variables with
 * crest_variable(g, "W", shape, init, true): they belong to the layer (named
 * "<layer>/W" in saved weights) and fit trains them like Dense's. `args`
 * points to the layer's own copy of the bytes given to crest_lambda (NULL
 * when args_size is 0). Return NULL (or any op's NULL) on error. A layer the
 * function applies is part of a custom model (recorded like its own layers),
 * but of no Sequential or functional model: building those fails, naming
 * the weight; use crest_variable there. */
typedef crest_node *(*crest_lambda_fn)(crest_graph *g, crest_node *x, const void *args);

/* fn_name names the function in saved models (the layer itself is named
 * "lambda", "lambda_1", ... unless crest_layer_set_name is called). args are
 * copied. The layer calls fn directly; registering is only needed to load.
 *
 * Saved form (TF.js cannot run C code, so the class is crest's own, and
 * tf.loadLayersModel reports "Unknown layer: CrestLambda" unless a JS class
 * of that name is registered with tf.serialization.registerClass):
 *   {"class_name": "CrestLambda", "config": {"name": "lambda", "trainable": true,
 *    "function": "<fn_name>", "arguments": "<args as base64, bytes as given,
 *    so in this host's byte order>"}}
 * and the variables in the weights manifest. Never code. */
crest_layer *crest_lambda(const char *fn_name, crest_lambda_fn fn, const void *args,
                          size_t args_size);
/* Makes fn loadable under name (up to 127 characters). Loading a model whose
 * lambda function is not registered fails with a message naming it.
 * Registering a name again replaces it; fn NULL removes it. Thread-safe; at
 * most 256 names. */
int crest_register_lambda(const char *name, crest_lambda_fn fn);

/* ---- custom Keras layer classes ----------------------------------------- */

/* A Keras layer class crest does not know (a custom layer of the model's
 * author) is an error when loading, naming the layer and class, unless it
 * is defined in one of two ways before loading:
 *
 * From C: fn builds the layer's output from its input x with ops
 * (crest_op_*) and variables (crest_variable: the layer's weights, by the
 * names the file's weights use), given the layer's Keras config as JSON
 * text (valid during the call). user is handed back. */
typedef crest_node *(*crest_layer_fn)(crest_graph *g, crest_node *x, const char *config_json,
                                      void *user);
int crest_register_layer(const char *class_name, crest_layer_fn fn, void *user);

/* With no C code: an expression (the language of crest_expr) over the input
 * x and the layer's numeric or boolean config fields by name, e.g.
 * ("MultiplyBeta", "x * beta") or ("PixelShuffle2x", "depth_to_space(x, scale)").
 * A name that is not x, a function, a declared variable nor a numeric field
 * of the layer is an error naming the layer, class and where the definition
 * came from. Models holding such layers save the definitions in their
 * metadata ("crest_custom_layers") and load anywhere without them; the layer
 * saves its Keras config unchanged under its class name. */
int crest_register_layer_expr(const char *class_name, const char *expression);
/* A JSON file {"Class": "expression", ...} of such definitions (crest's
 * --custom-layers FILE). Errors name the file and the class. Registering a
 * class again replaces it; classes are process-wide, at most 256. */
int crest_custom_layers_load(const char *path);

/* ---- expression layers (beyond Keras) ---------------------------------- */

/* A head written as an expression, parsed into ops, saved and loaded as plain
 * data (the text) with no C code:
 *
 *     crest_expr("W[_,10]: softmax(x @ W + b)")
 *
 * Grammar (whitespace is free):
 *   layer   := [decl+ ':'] expr
 *   decl    := NAME '[' dim (',' dim)* ']' ['=' INIT]       dim := INT | '_'
 *   expr    := term (('+' | '-') term)*
 *   term    := unary (('@' | '*' | '/') unary)*               (left to right)
 *   unary   := '-' unary | primary
 *   primary := NUMBER | NAME | FUNC '(' expr (',' arg)* ')' | '(' expr ')'
 * FUNC, named as Keras' ops and TF.js:
 *  - every activation by its Keras name (crest_act_name: relu relu6 sigmoid
 *    tanh softmax log_softmax swish silu hard_sigmoid elu selu softplus
 *    softsign gelu exponential leaky_relu mish hard_silu linear), and exp
 *    (= exponential); one argument;
 *  - elementwise math, one argument: abs (absolute) sign sqrt rsqrt square
 *    log reciprocal; pow(x, k) (power): k a number (or an expression of
 *    numbers and config fields); clip(x, lo, hi): lo <= hi numbers;
 *    maximum(a, b), minimum(a, b): two tensors (broadcast as +), or a
 *    tensor and a number. As TensorFlow: sqrt / log of a negative number is
 *    NaN, log(0) -inf, reciprocal(0) inf; pow of a negative base is exact
 *    for a whole k (pow(-2, 3) = -8) and NaN otherwise. Gradients as
 *    TensorFlow's (abs' and sign's are 0 at 0; clip passes it where
 *    lo <= x <= hi; maximum / minimum send a tie's to the first argument);
 *  - reductions sum mean max min (an optional axis counting the batch, e.g.
 *    -1: that axis is reduced and kept with size 1, so `x - mean(x, -1)`
 *    broadcasts; without an axis: a scalar over everything, batch
 *    included); max / min share a tie's gradient equally, as TensorFlow;
 *  - depth_to_space(x, block), space_to_depth(x, block): NHWC, block >= 2.
 * A wrong number of arguments or an unknown function is a parse error
 * naming the position. `/` takes a number on its right. Operators
 * broadcast as crest_op_add does.
 * Names: x is the layer's input; every other name is a trainable variable of
 * the layer (saved as "<layer>/<name>"), created on first use with a shape:
 *  - declared: its declaration, where '_' means "as the use needs": in
 *    `A @ W` W's first dim is A's last; in `A + b` (- *) b's dims are A's
 *    trailing dims;
 *  - undeclared: only beside + - * (either side), where it takes A's last
 *    dim: a bias or scale of shape [A's last dim]. `A @ W` needs W declared
 *    (the number of units is only known from the declaration).
 * INIT: zeros ones random_normal (mean 0, stddev 0.05) random_uniform
 * glorot_uniform glorot_normal he_normal he_uniform; the default is
 * glorot_uniform for 2+ dimensions and zeros for 1, as Dense's kernel and bias.
 * Limits: 65536 characters, 200 levels of nesting (each operator of a chain
 * such as a + b + c counts as one).
 * Parse errors (here, and when loading) give the 1-based character position
 * and the token found there. Saved as {"class_name": "CrestExpr", "config":
 * {"name": "expr", "trainable": true, "expression": "<text>"}}. */
crest_layer *crest_expr(const char *expression);

/* ---- images (src/data/image.c) ------------------------------------------ */

/* A decoded image: height x width x channels floats, row-major HWC, values on
 * the 0..255 scale (16-bit PNGs scaled by 255/65535). data is owned: free
 * with crest_image_free. */
typedef struct crest_image {
    int height, width, channels;  /* channels 1 (grey) or 3 (RGB) */
    float *data;
} crest_image;

/* JPEG or PNG by content. channels: 0 = as stored (grey stays 1, everything
 * else 3), 1 = grey (ITU-R 601 luma), 3 = RGB. Palette and 1/2/4/16-bit PNGs
 * are expanded; alpha is dropped (not blended), as PIL's convert('RGB').
 * Corrupt or truncated files are CREST_E_FORMAT errors naming the file.
 * What one image may cost is capped: an image whose floats would take more
 * than CREST_IMAGE_MAX_BYTES (256 MiB, ~22 megapixels RGB) is decoded scaled
 * down by the smallest power of two that fits (JPEG: libjpeg's DCT scaling,
 * 1/2 to 1/8; PNG: read row by row, f x f blocks averaged on the fly, f up
 * to 64), so *out is then smaller than the file says; one that cannot fit
 * (beyond those factors, or an interlaced PNG) is a CREST_E_FORMAT error
 * naming the file. A 249 KB 16000x16000 PNG costs 192 MB, not 3 GB. */
#define CREST_IMAGE_MAX_BYTES ((size_t)256 << 20)
int crest_image_load(crest_image *out, const char *path, int channels);
int crest_image_decode(crest_image *out, const void *data, size_t len, const char *name,
                       int channels);
void crest_image_free(crest_image *img);      /* frees img->data, zeroes img */

/* Bilinear resize with TF's conventions. The default (zeros) is
 * tf.image.resizeBilinear(align_corners=false, half_pixel_centers=false), the
 * legacy TF / TF.js / Keras 2 behaviour: source = dst * in/out, no half-pixel
 * offset; half_pixel_centers gives TF2's tf.image.resize behaviour. Values are
 * interpolated in double and rounded once to float32, as TF.js' cpu backend. */
typedef struct crest_resize_opts {
    bool align_corners;
    bool half_pixel_centers;
} crest_resize_opts;
int crest_image_resize(crest_image *out, const crest_image *in, int height, int width,
                       const crest_resize_opts *o);   /* o may be NULL */
int crest_image_crop(crest_image *out, const crest_image *in, int top, int left, int height,
                     int width);
/* Centered box (offsets rounded down, as Keras' CenterCrop). */
int crest_image_center_crop(crest_image *out, const crest_image *in, int height, int width);

/* Preprocessing applied to 0..255 pixels:
 *   none     x
 *   rescale  x / 255                                   (nsfwjs' MobileNetV2)
 *   tf       x / 127.5 - 1                             (Keras preprocess_input 'tf')
 *   torch    (x / 255 - [0.485,0.456,0.406]) / [0.229,0.224,0.225]   ('torch', RGB)
 *   caffe    RGB -> BGR, then - [103.939,116.779,123.68]             ('caffe') */
typedef enum crest_preprocess {
    CREST_PRE_NONE = 0, CREST_PRE_RESCALE, CREST_PRE_TF, CREST_PRE_TORCH, CREST_PRE_CAFFE
} crest_preprocess;
const char *crest_preprocess_name(crest_preprocess p);          /* "rescale" */
int crest_preprocess_parse(const char *name, crest_preprocess *out);   /* also "x/255" */
/* In place on n_pixels x channels values (torch and caffe need 3 channels). */
int crest_preprocess_apply(float *x, size_t n_pixels, int channels, crest_preprocess p);

/* How an image file becomes a model input. */
typedef struct crest_image_opts {
    int height, width;            /* target size (required) */
    int channels;                 /* 0 = 3 (RGB); 1 = grey */
    crest_preprocess preprocess;  /* default none */
    bool crop_to_aspect;          /* center-crop to the target aspect ratio first */
    crest_resize_opts resize;
} crest_image_opts;

/* Decoded image or file -> out[height * width * channels] (NHWC sample). */
int crest_image_to_input(const crest_image *img, const crest_image_opts *o, float *out);
int crest_image_prepare(const char *path, const crest_image_opts *o, float *out);
/* The options as one JSON object (malloc'd, free with crest_free), and back. */
char *crest_image_opts_json(const crest_image_opts *o);
int crest_image_opts_parse(const char *json, crest_image_opts *out);
/* The image options recorded in a model's metadata ({"crest":{"image":{...}}}),
 * so predict applies what training used. */
int crest_model_image_opts(const crest_model *m, crest_image_opts *out);

/* A folder with one sub-folder of images per class, as Keras'
 * image_dataset_from_directory: class k is the k-th sub-folder name in sorted
 * (strcmp) order; a class's images are the .jpg/.jpeg/.png files (any case)
 * at any depth below its folder (nested folders belong to the class, as
 * Keras walks them), in sorted path order. Other files are skipped and
 * reported in info (hidden names, starting with '.', are ignored). Errors
 * (CREST_E_FORMAT, naming the folder): fewer than two classes (a classifier
 * needs two), a class folder without any image. Samples are [height, width,
 * channels] after o. This loader decodes every image into memory; for large
 * folders use crest_image_source_open, which decodes in passes. */
int crest_image_folder_load(crest_dataset **out, const char *dir, const crest_image_opts *o);

/* What an image source held (crest_image_source_open). */
typedef struct crest_folder_info {
    size_t images;                /* samples */
    int classes;                  /* folders: class sub-folders; else 0 */
    size_t skipped;               /* folders: files skipped (not JPEG or PNG by name) */
    char *skipped_names;          /* their paths, one a line, malloc'd (free with
                                   * crest_free), or NULL */
} crest_folder_info;

/* Any image source as model inputs made through o (grey <-> RGB, resize,
 * crop, preprocessing), at one place for every command:
 *   - a folder of class sub-folders (as crest_image_folder_load);
 *   - a JPEG or PNG file: one sample without a label;
 *   - anything crest_dataset_load reads (IDX, "fashion-mnist:test"): its
 *     pixels, scaled back to 0..255, go through o like a decoded file's.
 * The set is lazy: samples are decoded / transformed when used, a pass at a
 * time (crest_dataset_x() is NULL), so memory holds file names or the small
 * raw images, never every model input. fit, evaluate, crest_predict_dataset,
 * crest_extract, slice and split read it. info may be NULL. */
int crest_image_source_open(crest_dataset **out, const char *spec, const crest_image_opts *o,
                            crest_folder_info *info);
/* True if path is a folder crest_image_source_open reads as class
 * sub-folders (a folder, but not one of IDX files). */
bool crest_is_image_folder(const char *path);
/* A seeded, stratified split: in every class, round(fraction * count)
 * samples (at most count - 1) chosen by the seed go to *val, the rest to
 * *train; both keep d's order. Needs integer labels; fraction in (0, 1). */
int crest_dataset_split(const crest_dataset *d, double fraction, uint64_t seed,
                        crest_dataset **train, crest_dataset **val);
/* Class name k of a folder data set (NULL if none); valid while d lives. */
const char *crest_dataset_class_name(const crest_dataset *d, int k);
/* The image options a folder data set was made with, or NULL. */
const crest_image_opts *crest_dataset_image_opts(const crest_dataset *d);
/* Sample i as a picture on the 0..255 scale, before any resize or
 * preprocessing, e.g. for thumbnails: an image source's file decoded as
 * stored, or its raw pixels; an in-memory set of [H, W] or [H, W, 1|3]
 * samples gives its values, times 255 when they all lie in [0, 1].
 * CREST_E_SHAPE for samples of other shapes. Free with crest_image_free. */
int crest_dataset_image(const crest_dataset *d, size_t i, crest_image *out);


/* ---- feature columns over tabular data (src/features/, src/data/table.c) -
 *
 * Tables: CSV with a header row (RFC 4180 quoting with '"', CRLF or LF,
 * delimiter ',' or as given) or Weka ARFF (numeric / real / integer,
 * string, {nominal} attributes). Missing values are written "", "NA", "?"
 * or "NaN". Numbers use '.' whatever the host's locale (tables, specs,
 * expressions); a leading UTF-8 byte-order mark is skipped; a NUL byte is
 * an error naming the line and column. Files are read in 64 KiB chunks, one row at a time, so adapt
 * and the transform stream through files larger than memory:
 * crest_features_adapt keeps only statistics (vocabularies, a bounded
 * sample for quantiles), crest_fit_table keeps one chunk of transformed
 * rows; crest_features_dataset holds all transformed rows (width floats
 * each). Errors name the file, the line and the column.
 *
 * A feature spec (JSON, in the spirit of Keras' FeatureSpace):
 *   {"label": "species",                        (optional; the target column)
 *    "classes": ["Adelie", ...],                 (optional; else learned, sorted)
 *    "features": {"island": "string_categorical",   (a type name, or an object:)
 *                 "bill_length_mm": {"type": "float_normalized"}, ...},
 *    "crosses": [{"features": ["island", "sex"], "crossing_dim": 16}]}
 * Types and their options (Keras names):
 *   float               the value as is
 *   float_normalized    (x - mean) / max(sqrt(variance), 1e-7); mean and
 *                       population variance from adapt, or given
 *   float_rescaled      x * scale + offset (defaults 1, 0)
 *   float_discretized   bucket index: bin_boundaries [b0 < b1 ...] (x < b0 ->
 *                       0, b0 <= x < b1 -> 1, ...), or num_bins quantile bins
 *                       from adapt (exact on up to 65,536 sampled values)
 *   integer_categorical / string_categorical   Keras IntegerLookup /
 *                       StringLookup: ids [0, num_oov_indices) are OOV (a
 *                       token goes to fingerprint64(token) mod num_oov_indices),
 *                       vocabulary ids follow. vocabulary [..] or
 *                       vocabulary_file (one token a line) or learned by
 *                       adapt (most frequent first, ties in byte order,
 *                       max_tokens counting the OOV ids). num_oov_indices
 *                       (alias num_oov_buckets) default 1; with 0, unseen
 *                       tokens take default_value (-1: dropped, all zeros)
 *   integer_hashed / string_hashed   Keras Hashing: FarmHash Fingerprint64
 *                       of the token (integers as decimal text) mod num_bins
 *   identity            categorical_column_with_identity: the integer itself,
 *                       in [0, num_buckets), else default_value (-1: dropped)
 *   crosses             hashed cross: fingerprint64 of the tokens joined by
 *                       "_X_" mod crossing_dim (not Keras' HashedCrossing
 *                       bit pattern)
 * Categorical outputs (output_mode): "one_hot" (default; indicator column),
 * "multi_hot" (0/1 per id), "count", "int" (the id as one float), or
 * "embedding" (embedding_dim, default 8; combiner "mean" (default), "sum",
 * "sqrtn"): a trainable table in the DenseFeatures layer. A field may hold
 * several tokens with "separator": "|" (up to max_values, default 4) for
 * multi-hot / multivalent embeddings. "weight_feature": "col" makes a
 * weighted categorical column: each id weighs that numeric column's value
 * (one-hot cells hold the weight; embeddings combine with it).
 * float_discretized takes output_mode too (default one_hot).
 *
 * Missing values (the policy):
 *   numeric types       replaced by the adapted mean (before normalizing,
 *                       rescaling or bucketizing), plus a 0/1 "missing"
 *                       indicator column after the value when
 *                       missing_indicator is true (default: true when adapt
 *                       saw a missing value in that column)
 *   categorical, hashed, identity, crosses   the token is OOV: id 0 of the
 *                       OOV range for lookups (default_value when there is
 *                       none), dropped (all zeros) for identity, hashed as
 *                       the empty string "" for hashed and crossed columns
 *   absent columns      a column of the spec that a table (or a row given to
 *                       crest_features_transform) lacks is missing in every
 *                       row; crest_features_absent names them. Adapt needs
 *                       every column it computes statistics of.
 *   label               rows with a missing label are skipped (counted);
 *                       a label not among the classes is an error naming the
 *                       file, line and value
 * Adapt fills only what the spec leaves out (mean/variance, vocabulary,
 * quantile boundaries, classes, missing_indicator); the result, saved with
 * the model, is the spec with every statistic written in.
 *
 * Model input: each row becomes crest_features_width floats: the dense part
 * (numeric values, one-hot blocks, in spec order) and then, for each
 * embedding column, its ids (and weights) as floats. The DenseFeatures layer
 * looks the ids up in its trainable tables and outputs the dense part
 * followed by the combined embeddings. */
typedef struct crest_features crest_features;

/* Which rows of a table to use: all, or a fixed hold-out split where every
 * holdout_every-th data row (rows holdout_every-1, 2*holdout_every-1, ...,
 * counted from 0 in file order) is held out. */
typedef enum crest_rows { CREST_ROWS_ALL = 0, CREST_ROWS_TRAIN, CREST_ROWS_HOLDOUT } crest_rows;
typedef struct crest_table_opts {
    char delimiter;               /* CSV field separator; default ',' */
    crest_rows rows;
    int holdout_every;            /* default 5 (a 20% hold-out) */
    /* A range of the selected rows (counted in file order, those without a
     * label included, as crest_table_count_rows counts them): skip_rows
     * first ones left out, then at most max_rows (0: all the rest) read;
     * a process's share of a table (crest_shard_range). */
    size_t skip_rows, max_rows;
} crest_table_opts;

/* The data rows of a table that o selects (all, or its hold-out part), with
 * or without a label; o's row range is not applied. */
int crest_table_count_rows(const char *path, const crest_table_opts *o, size_t *n);

int crest_features_parse(crest_features **out, const char *spec_json);
int crest_features_load(crest_features **out, const char *spec_path);
/* Adds one feature to a spec being declared in C: config is a type name or
 * a JSON object as in "features" (or, for name NULL, a cross object). */
int crest_features_new(crest_features **out, const char *label);
int crest_features_add(crest_features *f, const char *name, const char *config_json);
/* Infers a spec from a table (label: the target column, or NULL) and adapts
 * it: CSV columns of numbers that are all integers with at most 10 distinct
 * values -> integer_categorical, other numbers (and ARFF numeric
 * attributes) -> float_normalized; text
 * columns with at most 1000 distinct values -> string_categorical, else
 * string_hashed with 64 bins; ARFF nominal -> string_categorical with the
 * declared values. */
int crest_features_infer(crest_features **out, const char *path, const char *label,
                         const crest_table_opts *o);
/* Computes the statistics the spec leaves out, streaming the table once.
 * On failure the spec is left as it was. */
int crest_features_adapt(crest_features *f, const char *path, const crest_table_opts *o);
/* The spec with its statistics as JSON (malloc'd; free with crest_free). */
char *crest_features_json(const crest_features *f, bool pretty);
int crest_features_width(const crest_features *f);       /* model input floats per row */
int crest_features_classes(const crest_features *f);     /* label classes */
const char *crest_features_class_name(const crest_features *f, int k);
/* Transforms a table into a data set of model inputs and label ids (rows
 * with a missing label skipped). need_label false: the label column is
 * ignored (present or not) and the data set has no labels: every row is
 * kept, as for prediction. */
int crest_features_dataset(crest_dataset **out, const crest_features *f, const char *path,
                           const crest_table_opts *o, bool need_label);
/* Trains on a table too large for memory: each epoch streams the file again
 * and trains on chunk_rows rows at a time (default 65,536; rows shuffled
 * within a chunk, seeded by fo->seed, the epoch and the chunk), so memory
 * holds one chunk of model inputs, never the table. Rows with a missing
 * label are skipped. fo as crest_fit's, without validation_split, early
 * stopping or class weights (CREST_E_UNSUPPORTED); validation_data is
 * evaluated after each epoch. Progress: EPOCH_BEGIN, a STEP per chunk
 * (samples: rows so far) and EPOCH_END (samples: the epoch's rows). */
int crest_fit_table(crest_model *m, const crest_features *f, const char *path,
                    const crest_table_opts *o, const crest_fit_opts *fo, int chunk_rows);
/* One raw row: n (column name, value text) pairs -> out[width]. Columns the
 * spec needs but the row lacks count as missing. */
int crest_features_transform(const crest_features *f, const char *const *names,
                             const char *const *values, int n, float *out);
/* The spec's columns (features, crossed and weight columns) that the last
 * table or row transformed through f lacked: each of its rows read them as
 * missing values, per the policy above. Writes up to max names (valid while
 * f lives; names may be NULL) and returns how many there are.
 * Threads: transforms (crest_features_transform, crest_features_dataset,
 * crest_fit_table, crest_predict_table) only read an adapted spec (each binds
 * the table's columns on its own stack), so threads may share one const spec;
 * the record read here is kept under a lock ("last": the last to bind). */
int crest_features_absent(const crest_features *f, const char **names, int max);
void crest_features_free(crest_features *f);

/* The DenseFeatures layer: the first layer of a model over
 * crest_features_width inputs (copies f). Saved in model.json as
 * {"class_name": "DenseFeatures", "config": {"name", "trainable",
 * "features": <the spec with statistics>}} and its embedding tables as
 * "<layer>/<feature>_embedding" weights, so a loaded model re-applies the
 * same transform to raw rows. (TF.js has no such class: such a model loads
 * in crest, not in tf.loadLayersModel.) */
crest_layer *crest_dense_features(const crest_features *f);
/* The feature spec of a model whose first layer is DenseFeatures, or NULL.
 * Valid while the model lives. */
const crest_features *crest_model_features(const crest_model *m);
/* Predictions for every row of a table through the model's DenseFeatures
 * spec: *probs is malloc'd [*n, output size] (free with crest_free). */
int crest_predict_table(crest_model *m, const char *path, const crest_table_opts *o,
                        float **probs, size_t *n);

/* ---- transfer learning (src/transfer.c) --------------------------------- */

int crest_model_layer_count(const crest_model *m);
crest_layer *crest_model_layer(crest_model *m, int i);             /* borrowed */
crest_layer *crest_model_find_layer(crest_model *m, const char *name);   /* or NULL */
/* Sets trainable on layers [first, first + count) (count -1: to the end).
 * Freeze a backbone: crest_model_set_trainable(m, 0, -1, false); fine-tune
 * its last N layers: crest_model_set_trainable(m, n_layers - N, N, true).
 * Frozen weights are never updated by fit; BatchNorm layers run in inference
 * mode when frozen. */
int crest_model_set_trainable(crest_model *m, int first, int count, bool trainable);

typedef enum crest_pooling {
    CREST_POOL_AVG = 0, CREST_POOL_MAX, CREST_POOL_NONE
} crest_pooling;

/* The default include_top=False cut of a functional model: walking back from
 * its output over its classifier top (Dense, Dropout, Flatten, Reshape,
 * Softmax, AveragePooling2D and global pooling layers), the first other layer
 * (MobileNetV2: out_relu; InceptionV3: mixed10). Writes its name. */
int crest_model_default_cut(crest_model *m, char *name, size_t size);
/* include_top=False, in place: the output of layer `cut` (NULL: the default
 * cut) becomes the model's only output, every layer it does not need is
 * dropped (and freed), and global pooling (GlobalAveragePooling2D or
 * GlobalMaxPooling2D) is appended when that output is [H, W, C]
 * (GlobalAveragePooling1D or GlobalMaxPooling1D when it is [steps, channels]). */
int crest_model_cut(crest_model *m, const char *cut, crest_pooling pooling);
/* Keras' Sequential([m, head]) for a functional m: head's layers are copied
 * (config and weights, names made unique) onto m's output. head is not
 * consumed. */
int crest_model_append(crest_model *m, crest_model *head);
/* Keras' Sequential([augmentation, m]) for a functional or Sequential m of
 * one input: layers[0..n) (1 to 64; consumed, even on failure) are applied
 * in order to m's input, and everything m did with its input takes their
 * output instead; in m->layers (summary, saving) they come first. The
 * input's shape becomes *input_shape when it is not NULL (a RandomCrop in
 * front takes larger images than m did). Augmentation layers put there
 * (crest_layer_from_keras: RandomFlip...) are the identity at inference
 * (RandomCrop: Keras' smart_resize) and augment every step of crest_fit. */
int crest_model_prepend(crest_model *m, crest_layer *const *layers, int n,
                        const crest_dims *input_shape);
/* The inverse for inference-only runtimes: every RandomFlip, RandomRotation,
 * RandomZoom, RandomTranslation, RandomContrast and RandomBrightness of m
 * (the identity at inference) is taken out, wherever it is, and freed; what
 * read its output reads its input. RandomCrop stays (at inference it
 * resizes). Returns how many were taken out (>= 0) or an error. */
int crest_model_strip_augmentation(crest_model *m);

/* Backbone extraction: m (a cut, frozen backbone) run in inference mode
 * over every sample, in batches, on the model's threads; its outputs (the
 * backbone's features, not to be confused with the feature columns of
 * crest_features_*) become a data set. */
typedef struct crest_extract_stats {
    bool cache_hit;               /* read from the cache, no forward pass */
    double seconds;               /* wall time of the whole call */
    uint64_t key;                 /* cache key */
    char cache_file[1200];
} crest_extract_stats;

typedef struct crest_extract_opts {
    int batch_size;               /* default 32 */
    /* Optional transform from each sample (an image [H, W] or [H, W, C],
     * values on any scale) to the model input: channel conversion, resize,
     * crop and preprocessing per crest_image_to_input. NULL: samples are
     * already model inputs. */
    const crest_image_opts *input;
    /* Folder of the on-disk cache (created if missing), or NULL. The key
     * hashes the model (topology and every weight), the samples (all values,
     * shape; for a lazy folder set the bytes of every file, in order, so a
     * hit reads the files but decodes none, and an edited file misses even
     * with its size and time kept) and the input transform, so a change to
     * any of them misses. Lazy sets carry their own transform: input must
     * be NULL for them. */
    const char *cache_dir;
    /* An EXTRACT event after every batch run (none on a cache hit), with
     * progress_user; NULL: none. */
    crest_progress_fn progress;
    void *progress_user;
    crest_extract_stats *stats;   /* filled if not NULL */
    /* Augmentation before the model: layers such as RandomFlip or
     * RandomRotation (crest_layer_from_keras; the caller keeps them) run on
     * each input in training mode, copies times (default 1) per sample, each
     * copy with its own draws from augment_seed. out then holds copies * n
     * samples, copy-major (copy k of sample i at k * n + i), and the cache
     * key covers the layers' configs, the seed and copies. */
    crest_layer *const *augment;
    int n_augment;
    int copies;
    uint64_t augment_seed;
    /* Run the augmentation layers as at inference instead (RandomCrop:
     * Keras' smart_resize; the others: the identity), as a model with them
     * in front does at predict: for validation images. The layers may
     * change the shape (RandomCrop): samples are of the layers' input
     * shape, and their output is the model's input. */
    bool augment_inference;
    /* The index of d's first sample in the whole data set when d is a
     * shard of it (one process's share): the augmentation's draws for a
     * batch are seeded by the batch's index in the whole set, so shards
     * cut at multiples of batch_size draw as the whole set does. */
    size_t sample_offset;
} crest_extract_opts;

/* out: n samples of [output size] with d's labels (or dense targets). */
int crest_extract(crest_model *m, const crest_dataset *d, const crest_extract_opts *o,
                  crest_dataset **out);

#ifdef __cplusplus
}
#endif
#endif
