/* registry.c - every op, one line each. Tests iterate this list, so a new
 * op here is gradient-checked without writing a new test. Activations are
 * ops too, one row each in their own table (cr_activations, activation.c),
 * which the gradient check walks as well. */
#include "../internal.h"

#define OPS(X)                                                                     \
    X(add) X(sub) X(mul) X(scale) X(matmul) X(bias_add)                            \
    X(reshape) X(flatten) X(concat) X(sum) X(mean)                                 \
    X(dropout) X(l2)                                                               \
    X(conv2d) X(depthwise2d) X(maxpool2d) X(avgpool2d) X(global_avgpool)          \
    X(global_maxpool) X(zero_pad2d) X(crop2d) X(batchnorm) X(batchnorm_train)      \
    X(relu_ex) X(embedding_bag) X(slice_cols)                                      \
    X(depth_to_space) X(space_to_depth)                                          \
    X(conv2d_transpose) X(upsample2d)                                            \
    X(sparse_cce) X(sparse_cce_probs) X(cce) X(cce_probs) X(bce) X(bce_probs)     \
    X(conv3d) X(conv3d_transpose) X(maxpool3d) X(avgpool3d) X(global_avgpool3d)   \
    X(global_maxpool3d) X(upsample3d) X(zero_pad3d) X(crop3d)                    \
    X(elu_alpha) X(softmax_axis) X(maximum) X(minimum) X(noise) X(batch_dot)       \
    X(l2_normalize) X(transpose) X(repeat) X(layernorm) X(normalize) X(resize)    \
    X(channel_affine) X(warp) X(color)                                            \
    X(abs) X(sign) X(sqrt) X(rsqrt) X(square) X(log) X(reciprocal) X(pow) X(clip)   \
    X(reduce_max) X(reduce_min)

#define DECLARE(name) extern const cr_op_def cr_op_##name##_def;
OPS(DECLARE)
#define ENTRY(name) &cr_op_##name##_def,
const cr_op_def *const cr_op_registry[] = { OPS(ENTRY) };
const int cr_op_registry_count = (int)(sizeof cr_op_registry / sizeof cr_op_registry[0]);
