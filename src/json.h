/* json.h - small checked accessors over cJSON for Keras configs.
 * Each returns CREST_OK or CREST_E_FORMAT with a message naming the key. */
#ifndef CR_JSON_H
#define CR_JSON_H

#include "internal.h"
#include <cjson/cJSON.h>
#include <limits.h>

#define CR_JSON_REQUIRED INT_MIN   /* as a default: the key must be present */

/* cJSON through crest: its allocations go through cr_malloc / cr_free
 * (cJSON_InitHooks, installed once by the first of these calls), so the
 * allocation-failure tests reach it, and numbers are read and written in the
 * "C" locale.
 *
 * Building: a writer takes mark = cr_json_mark() first, makes its tree with
 * cJSON_Create* / cJSON_Add* unchecked, and cr_json_check(mark, what) at the
 * end: CREST_E_NOMEM if any cJSON allocation on this thread failed since
 * the mark (so a tree missing an item is never written). */
unsigned long cr_json_mark(void);
int cr_json_check(unsigned long mark, const char *what);
/* Counts an out-of-memory of a writer outside cJSON (a layer's save). */
void cr_json_note_oom(void);
/* cJSON_AddItemToObject / ToArray that never leak: when the add fails (a
 * NULL parent, or no memory for the key) item is deleted and the failure
 * counted, so cr_json_check reports it. */
bool cr_json_put(cJSON *obj, const char *key, cJSON *item);
bool cr_json_push(cJSON *arr, cJSON *item);
/* Parses text[0, len) (len 0: strlen). A leading UTF-8 byte-order mark is
 * skipped; a NUL byte or a \u0000 escape anywhere is refused. Errors name
 * `what` (a file name, or NULL for "JSON") and the line: CREST_E_FORMAT, or
 * CREST_E_NOMEM when cJSON ran out of memory. */
int cr_json_parse(const char *text, size_t len, const char *what, cJSON **out);
/* cJSON_Print / PrintUnformatted in the "C" locale; NULL with the message
 * set when out of memory. Free with cJSON_free (or cr_free). */
char *cr_json_print(const cJSON *root, bool pretty);

int cr_json_int(const cJSON *o, const char *key, int lo, int hi, int def, int *out);
int cr_json_num(const cJSON *o, const char *key, double lo, double hi, double def,
                double *out);
int cr_json_bool(const cJSON *o, const char *key, bool def, bool *out);
/* A string, or def when missing/null; *out points into o. */
int cr_json_str(const cJSON *o, const char *key, const char *def, const char **out);
/* An array of positive ints; skip_first drops a leading batch entry (null). */
int cr_json_dims(const cJSON *o, const char *key, bool skip_first, cr_dims *out);
/* A pair of ints, or one int meaning both (kernel_size, strides...). */
int cr_json_pair(const cJSON *o, const char *key, int def, int out[2]);

void cr_json_add_dims(cJSON *o, const char *key, const cr_dims *d, bool batch_null);
/* o[key] = v written with as many digits as reading it back to the same
 * double takes (up to 17; cJSON itself writes 15 and may lose the last
 * bit), '.' whatever the locale. A finite v; failures show in cr_json_check. */
void cr_json_add_exact(cJSON *o, const char *key, double v);
/* Keras shapes with the batch first ([null, 28, 28, 1]): null stands for
 * an unknown dimension (CREST_DIM_NONE) as in batch_input_shape
 * [null, null, null, 3] or an output shape (None, None, None, 64). */
int cr_json_shape(const cJSON *o, const char *key, cr_dims *out);
void cr_json_add_shape(cJSON *o, const char *key, const cr_dims *d);

/* Keras layer-config values: activations, regularizers, initializers
 * (src/layers/config.c). */
int cr_json_act(const cJSON *o, const char *key, crest_act *out);
/* "hard_sigmoid" means clip(0.2 x + 0.5, 0, 1) in Keras 2 and TF.js and
 * relu6(x + 3) / 6 in Keras 3 (crest's "hard_sigmoid_keras3"). Loading a
 * Keras 3 file: every activation (a key ending in "activation") named
 * "hard_sigmoid" in topo is renamed "hard_sigmoid_keras3" (CREST_E_NOMEM
 * if out of memory). */
int cr_acts_from_keras3(cJSON *topo);
/* Saving crest's Keras JSON topo as Keras 3 (keras3: "hard_sigmoid_keras3"
 * becomes "hard_sigmoid", and a Keras 2 "hard_sigmoid" is an error) or as
 * TF.js / Keras 2 (a "hard_sigmoid_keras3" is an error); errors name the
 * layer and say why. */
int cr_acts_for_format(cJSON *topo, bool keras3);
/* {"class_name": "L1L2" | "L2", "config": {"l2": x}} or null: out = l2 factor. */
int cr_json_l2(const cJSON *o, const char *key, float *out);
void cr_json_add_init(cJSON *o, const char *key, crest_init i);
/* An initializer config at key (missing or null: def) into *out. */
int cr_json_init(const cJSON *o, const char *key, crest_init def, crest_init *out);
/* An int or a list of ints, each in [lo, hi] (axes, dims): *n of them into
 * out[0..max); *n = -1 when the key is missing or null. */
int cr_json_ints(const cJSON *o, const char *key, int lo, int hi, int *out, int max, int *n);
/* A list of n ints (n 0: null) under key. */
void cr_json_add_ints(cJSON *o, const char *key, const int *v, int n);
void cr_json_add_l2(cJSON *o, const char *key, float l2);

#endif
