/* keras.h - Keras 3 files: `.keras` zips (config.json, metadata.json,
 * model.weights.h5) and the weights files of Keras 3 save_weights
 * (`.weights.h5`, the same HDF5 layout without the zip).
 *
 * libzip and libhdf5 run in a child process (src/io/keras_read.c, through
 * src/io/child.h); src/io/keras.c builds the model from the config and
 * assigns the weights, checking every record. tools/h5/KERAS_FORMATS.md
 * says where each fact of the layout comes from. */
#ifndef CR_KERAS_H
#define CR_KERAS_H

#include "internal.h"

#define CR_KERAS_MAX_JSON (256u << 20)        /* config.json, metadata.json */
#define CR_KERAS_MAX_WEIGHTS ((size_t)8 << 30) /* model.weights.h5 */
#define CR_KERAS_MAX_DEPTH 16                 /* models nested in models */

/* True when path starts with a zip local-file header ("PK\3\4"). */
bool cr_keras_is_zip(const char *path);
/* A whole model from a .keras zip; errors name the file, the layer and the
 * weight. */
int cr_keras_model_load(crest_model **out, const char *path);
/* Fills m's weights from a .keras zip or a Keras 3 .weights.h5, by the
 * paths Keras gives each layer (layers/<class in snake case>[_N]/vars/<i>). */
int cr_keras_load_weights(crest_model *m, const char *path);

/* The child's side (keras_read.c): reads path (a zip when zip is true,
 * else a bare HDF5 weights file) and writes records to fd:
 *   'M' u32 n, n bytes      metadata.json
 *   'C' u32 n, n bytes      config.json
 *   'L' u32 n, path, u32 k  a group PATH/vars holding datasets "0".."k-1"
 *   'W' u32 ndim, ndim x u64 dims, float32 values   the next dataset
 *   'D'                     the end;   'E' u32 n, message: an error */
typedef struct cr_keras_src {
    bool zip;
} cr_keras_src;
void cr_keras_stream(const char *path, const void *src, int fd);

/* The Keras 3 name of a class in snake case, as keras.src.utils.naming's
 * to_snake_case makes it ("DepthwiseConv2D" -> "depthwise_conv2d"). */
void cr_keras_snake(const char *cls, char *out, size_t size);

/* Where each layer's weights go in a Keras 3 weights file. */
typedef struct cr_keras_path {
    const char *name;             /* the layer's name (borrowed) */
    char alt[300];                /* a nested model's layer: "outer_inner", the name
                                     flattening gives it on a clash; else "" */
    char path[300];               /* "layers/dense_1" */
    crest_layer *layer;           /* NULL: no layer of the model (an InputLayer) */
} cr_keras_path;

/* The paths of m's layers, in the order of the layer list of the config
 * top ({"class_name", "config": {"layers": [...]}}; Sequential's InputLayer
 * is not one of model.layers, a functional model's is; a nested model's
 * layers below its own path, "layers/sequential/layers/conv2d", counted
 * afresh in each list), then m's layers the list lacks (top NULL: m's own
 * order). *out has *n entries (cr_free). */
int cr_keras_layer_paths(crest_model *m, const cJSON *top, cr_keras_path **out, int *n);
/* Keras' variable order of layer l: its trainable variables, then the
 * others, each in creation order; order[i] is the index in l->w of
 * variable i (l->n_w entries). */
void cr_keras_order(const crest_layer *l, int *order);

#endif
