/* registry.c - every layer type, one line each: Keras class name -> def. */
#include "../internal.h"

#define LAYERS(X)                                                                  \
    X(dense) X(activation) X(dropout) X(flatten) X(reshape)                        \
    X(add) X(multiply) X(average) X(concatenate)                                 \
    X(lambda) X(expr)                                                            \
    X(conv2d) X(depthwise_conv2d) X(separable_conv2d) X(batch_normalization)     \
    X(max_pooling2d) X(average_pooling2d) X(global_average_pooling2d)           \
    X(global_max_pooling2d) X(zero_padding2d) X(cropping2d) X(relu) X(leaky_relu) \
    X(rescaling) X(dense_features) X(conv2d_transpose) X(up_sampling2d)

#define DECLARE(name) extern const cr_layer_def cr_##name##_def;
LAYERS(DECLARE)
#define ENTRY(name) &cr_##name##_def,
const cr_layer_def *const cr_layer_registry[] = { LAYERS(ENTRY) };
const int cr_layer_registry_count =
    (int)(sizeof cr_layer_registry / sizeof cr_layer_registry[0]);
