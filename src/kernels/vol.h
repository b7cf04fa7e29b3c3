/* vol.h - hot loops of the 3-D (volume) ops: NDHWC tensors, kernels
 * [kd,kh,kw,in,out] as Keras keeps them. Same rules as kernels.h: plain
 * float arrays, no error paths, work split over outputs only (results are
 * bit-identical for any thread count).
 *
 * One geometry serves convolution, transposed convolution and pooling: the
 * "big" side is a convolution's input [n,d,h,w,c], the "small" side its
 * output [n,od,oh,ow,oc]. Output cell (z, y, x) reads input depth
 * z*s[0] - p[0] + i*dil[0] (and likewise for height and width), skipping
 * taps outside the volume (zero padding).
 */
#ifndef CR_KERNELS_VOL_H
#define CR_KERNELS_VOL_H

#include "kernels.h"

typedef struct cr_vol_geom {
    int n, d, h, w, c;         /* big side: [n,d,h,w,c] */
    int od, oh, ow, oc;        /* small side: [n,od,oh,ow,oc] */
    int k[3], s[3], dil[3];    /* window, strides, dilation (depth, height, width) */
    int p[3];                  /* zeros before (front, top, left) */
} cr_vol_geom;

/* Floats of scratch the convolution kernels below take (bounded, about
 * 4 MB, whatever the volume). */
size_t cr_conv3d_scratch(const cr_vol_geom *g);
/* y[P, oc] = (add ? y : 0) + patches(x) k (+ bias[oc], or NULL), P the
 * small side's cells; k [kd*kh*kw*c, oc]. */
void cr_conv3d(cr_pool *p, const cr_vol_geom *g, const float *x, const float *k,
               const float *bias, bool add, float *y, float *scratch);
/* dx (big side) += the patches of dy k^T scattered back (col2im). */
void cr_conv3d_backward_data(cr_pool *p, const cr_vol_geom *g, const float *dy, const float *k,
                             float *dx, float *scratch);
/* dk += patches(x)^T dy. */
void cr_conv3d_backward_filter(cr_pool *p, const cr_vol_geom *g, const float *x,
                               const float *dy, float *dk, float *scratch);
/* dst[c] += sum over rows of src[r*C + c]. */
void cr_vol_colsum(const float *src, int64_t rows, int C, float *dst);

/* Max (NaN ignored; no valid cell: -inf) or average (over the valid cells)
 * pooling, oc == c. Backward accumulates into dx; max sends each gradient
 * to the first cell in window order that equals y. */
void cr_pool3d(cr_pool *p, const cr_vol_geom *g, const float *x, float *y, bool max);
void cr_pool3d_backward(cr_pool *p, const cr_vol_geom *g, const float *x, const float *y,
                        const float *dy, float *dx, bool max);

#endif
