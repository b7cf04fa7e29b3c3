/* registry.c - every layer type, one line each: Keras class name -> def,
 * and the lookup by class name. Above every layer: no layer file calls in. */
#include "../internal.h"

#include <string.h>

#define LAYERS(X)                                                                  \
    X(dense) X(activation) X(dropout) X(flatten) X(reshape)                        \
    X(add) X(multiply) X(average) X(concatenate)                                 \
    X(lambda) X(expr)                                                            \
    X(conv2d) X(depthwise_conv2d) X(separable_conv2d) X(batch_normalization)     \
    X(max_pooling2d) X(average_pooling2d) X(global_average_pooling2d)           \
    X(global_max_pooling2d) X(zero_padding2d) X(cropping2d) X(relu) X(leaky_relu) \
    X(rescaling) X(dense_features)                                                \
    X(conv3d) X(conv3d_transpose) X(max_pooling3d) X(average_pooling3d)          \
    X(global_average_pooling3d) X(global_max_pooling3d) X(up_sampling3d)         \
    X(zero_padding3d) X(cropping3d)                                              \
    X(conv1d) X(separable_conv1d) X(depthwise_conv1d) X(max_pooling1d)          \
    X(average_pooling1d) X(global_average_pooling1d) X(global_max_pooling1d)     \
    X(up_sampling1d) X(zero_padding1d) X(cropping1d)                             \
    X(elu) X(thresholded_relu) X(softmax) X(prelu)                                \
    X(subtract) X(maximum) X(minimum) X(dot) X(permute) X(repeat_vector)          \
    X(spatial_dropout1d) X(spatial_dropout2d) X(spatial_dropout3d)                \
    X(gaussian_noise) X(gaussian_dropout) X(alpha_dropout)                        \
    X(resizing) X(center_crop) X(normalization) X(layer_normalization) \
    X(conv2d_transpose) X(up_sampling2d)                                          \
    X(random_flip) X(random_rotation) X(random_zoom) X(random_translation)          \
    X(random_contrast) X(random_brightness) X(random_crop)

#define DECLARE(name) extern const cr_layer_def cr_##name##_def;
LAYERS(DECLARE)
#define ENTRY(name) &cr_##name##_def,
const cr_layer_def *const cr_layer_registry[] = { LAYERS(ENTRY) };
const int cr_layer_registry_count =
    (int)(sizeof cr_layer_registry / sizeof cr_layer_registry[0]);

const cr_layer_def *cr_layer_def_find(const char *keras_class)
{
    for (int i = 0; i < cr_layer_registry_count; i++)
        if (strcmp(cr_layer_registry[i]->keras_class, keras_class) == 0)
            return cr_layer_registry[i];
    return NULL;
}
