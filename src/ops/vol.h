/* vol.h - the 3-D (volume) ops on NDHWC tensors [n,d,h,w,c] (src/ops/vol.c),
 * which the 3-D Keras layers (src/layers/vol.c) compose. Axes are ordered
 * depth, height, width everywhere; padding follows TensorFlow ('same':
 * out = ceil(in / s), the odd extra zero at the back / bottom / right). */
#ifndef CR_OPS_VOL_H
#define CR_OPS_VOL_H

#include "internal.h"

typedef struct cr_vol_opts {
    int s[3];                 /* strides (0: 1) */
    int dil[3];               /* dilation (0: 1) */
    bool same;                /* 'same' padding, else 'valid' */
    int out_pad[3];           /* transposed convolution: output_padding, -1: none */
} cr_vol_opts;

/* x [n,d,h,w,c], k [kd,kh,kw,c,oc], bias [oc] or NULL. */
cr_node *cr_op_conv3d(cr_graph *g, cr_node *x, cr_node *k, cr_node *bias, const cr_vol_opts *o);
/* Keras Conv3DTranspose: x [n,d,h,w,c], k [kd,kh,kw,filters,c], bias
 * [filters] or NULL; output sizes as Keras' deconv_output_length. */
cr_node *cr_op_conv3d_transpose(cr_graph *g, cr_node *x, cr_node *k, cr_node *bias,
                                const cr_vol_opts *o);
/* Max or average (over the valid cells) pooling with a k[0]xk[1]xk[2] window. */
cr_node *cr_op_pool3d(cr_graph *g, cr_node *x, bool max, const int k[3], const cr_vol_opts *o);
/* Over depth, height and width: [n,c], or [n,1,1,1,c] with keepdims. */
cr_node *cr_op_global_pool3d(cr_graph *g, cr_node *x, bool max, bool keepdims);
/* Nearest upsampling: every cell repeated size[a] times along axis a. */
cr_node *cr_op_upsample3d(cr_graph *g, cr_node *x, const int size[3]);
/* Zeros added (pad) or cells removed (crop): amounts[2a], amounts[2a + 1]
 * before and after along axis a (depth, height, width). */
cr_node *cr_op_pad3d(cr_graph *g, cr_node *x, const int amounts[6]);
cr_node *cr_op_crop3d(cr_graph *g, cr_node *x, const int amounts[6]);

#endif
