/* h5.h - Keras HDF5 (.h5) model and weight files.
 *
 * src/io/h5.c runs libhdf5 in a child process (src/io/h5_read.c) that
 * streams what it read back through a pipe; this process checks every
 * record before using it, so a damaged file that makes libhdf5 crash or
 * overrun its buffers costs only the child. */
#ifndef CR_H5_H
#define CR_H5_H

#include "internal.h"
#include "io/child.h"

#include <hdf5.h>

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
/* The child's side: reads path with libhdf5 and writes its records to fd
 * (arg is unused; the signature is cr_child_spawn's). */
void cr_h5_stream(const char *path, const void *arg, int fd);
/* The parent's side: the next 'W' record into w, whose shape it must have
 * (Keras' scalar as (1,) or ()); a record of another kind, rank or shape, or
 * a NaN or infinite value, fails with a message "FILE: what ...", what naming
 * the file's dataset. */
int cr_h5_get_dataset(cr_child *c, const char *what, cr_weight *w);
/* The child's side: dataset wname of group g as a 'W' record (u32 rank, rank
 * x u64 dims, float32 values): of rank at most CR_H5_MAX_RANK, at most
 * CR_H5_MAX_VALUES values, any floating-point type; shared with the .keras
 * reader (src/io/keras_read.c). */
int cr_h5_send_dataset(hid_t g, const char *wname, cr_child_out *o);

/* A fixed-length string attribute name of obj holding n strings, each padded
 * to the longest: with scalar and one string, of scalar shape (else a list);
 * with utf8, marked UTF-8 (h5py reads either). Shared with the .keras writer
 * (src/io/keras_write.c). */
int cr_h5_put_strings(hid_t obj, const char *name, const char *const *s, size_t n, bool scalar,
                      bool utf8);
#endif
