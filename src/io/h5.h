/* h5.h - Keras HDF5 (.h5) model and weight files.
 *
 * src/io/h5.c runs libhdf5 in a child process (src/io/h5_read.c) that
 * streams what it read back through a pipe; this process checks every
 * record before using it, so a damaged file that makes libhdf5 crash or
 * overrun its buffers costs only the child. */
#ifndef CR_H5_H
#define CR_H5_H

#include "internal.h"

#define CR_H5_MAX_RANK 8
#define CR_H5_MAX_VALUES (1u << 30)    /* floats in one dataset */

/* True when path is an HDF5 file (its signature at 0, or after a user block). */
bool cr_h5_is_hdf5(const char *path);
/* A whole model from a Keras .h5 file (config and weights); errors name the
 * file, the layer and the weight. */
int cr_h5_model_load(crest_model **out, const char *path);
/* Fills m's (built) weights from a Keras .h5 (whole model or weights only)
 * as Keras' load_weights does: the layers with weights, in order, take the
 * file's layers with weights, in order; within a layer, by weight name when
 * the names match, else in order. */
int cr_h5_load_weights(crest_model *m, const char *path);
/* The child's side: reads path with libhdf5 and writes its records to fd. */
void cr_h5_stream(const char *path, int fd);

#endif
