/* window.h - the window options that conv and pooling layers share:
 * kernel / pool size, strides, dilation, padding, data_format. */
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

#endif
