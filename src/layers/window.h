/* window.h - the options that conv and pooling layers share: the window
 * (kernel / pool size, strides, dilation, padding, data_format) and, for
 * every convolution of any rank, what it has besides its window (filters,
 * activation, bias, initializers, regularizer). */
#ifndef CR_LAYERS_WINDOW_H
#define CR_LAYERS_WINDOW_H

#include "internal.h"
#include <cjson/cJSON.h>

typedef struct cr_window {
    int k[2], s[2], d[2];
    bool same;                /* padding 'same', else 'valid' */
    bool pool;                /* pooling: pool_size, strides default to it, no dilation */
} cr_window;

/* size_key "kernel_size" (required) or "pool_size" (pooling, default 2x2). */
int cr_window_parse(const cJSON *cfg, const char *size_key, bool pool, cr_window *w);
void cr_window_save(cJSON *cfg, const char *size_key, const cr_window *w);
/* data_format must be channels_last (or absent). */
int cr_channels_last(const cJSON *cfg);

/* The kinds of convolution, as Keras names their options. */
typedef enum cr_conv_kind {
    CR_CONV,                  /* Conv1D/2D/3D: groups must be 1 */
    CR_CONV_DEPTHWISE,        /* no filters; depth_multiplier, depthwise_initializer */
    CR_CONV_SEPARABLE,        /* filters, depth_multiplier, depthwise_ and pointwise_initializer */
    CR_CONV_TRANSPOSE,        /* Conv2DTranspose, Conv3DTranspose */
} cr_conv_kind;

typedef struct cr_conv_params {
    int filters;              /* all kinds but depthwise */
    int dm;                   /* depth multiplier: depthwise, separable */
    crest_act act;
    bool use_bias;
    crest_init kinit;         /* kernel_initializer; depthwise_initializer for those kinds */
    crest_init pinit;         /* pointwise_initializer: separable */
    crest_init binit;
    float l2;                 /* kernel_regularizer (L2): CR_CONV and CR_CONV_TRANSPOSE */
} cr_conv_params;

/* Reads the options of kind from a layer config, with Keras' defaults. */
int cr_conv_params_parse(const cJSON *cfg, cr_conv_kind kind, cr_conv_params *p);
/* Writes them, all but "filters", which Keras puts first (before the
 * window): the layer writes it. */
void cr_conv_params_save(cJSON *cfg, cr_conv_kind kind, const cr_conv_params *p);

#endif
