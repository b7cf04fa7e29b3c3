/* registry.c - every layer type, one line each: Keras class name -> def. */
#include "../internal.h"

#define LAYERS(X)                                                                  \
    X(dense) X(activation) X(dropout) X(flatten) X(reshape)                        \
    X(add) X(multiply) X(average) X(concatenate)                                 \
    X(lambda) X(expr)

#define DECLARE(name) extern const cr_layer_def cr_##name##_def;
LAYERS(DECLARE)
#define ENTRY(name) &cr_##name##_def,
const cr_layer_def *const cr_layer_registry[] = { LAYERS(ENTRY) };
const int cr_layer_registry_count =
    (int)(sizeof cr_layer_registry / sizeof cr_layer_registry[0]);
