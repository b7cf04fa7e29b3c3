/* json.h - small checked accessors over cJSON for Keras configs.
 * Each returns CREST_OK or CREST_E_FORMAT with a message naming the key. */
#ifndef CR_JSON_H
#define CR_JSON_H

#include "internal.h"
#include <cjson/cJSON.h>
#include <limits.h>

#define CR_JSON_REQUIRED INT_MIN   /* as a default: the key must be present */

int cr_json_int(const cJSON *o, const char *key, int lo, int hi, int def, int *out);
int cr_json_num(const cJSON *o, const char *key, double lo, double hi, double def,
                double *out);
int cr_json_bool(const cJSON *o, const char *key, bool def, bool *out);
/* A string, or def when missing/null; *out points into o. */
int cr_json_str(const cJSON *o, const char *key, const char *def, const char **out);
int cr_json_act(const cJSON *o, const char *key, crest_act *out);
/* {"class_name": "L1L2" | "L2", "config": {"l2": x}} or null: out = l2 factor. */
int cr_json_l2(const cJSON *o, const char *key, float *out);
/* An array of positive ints; skip_first drops a leading batch entry (null). */
int cr_json_dims(const cJSON *o, const char *key, bool skip_first, cr_dims *out);
/* A pair of ints, or one int meaning both (kernel_size, strides...). */
int cr_json_pair(const cJSON *o, const char *key, int def, int out[2]);

void cr_json_add_init(cJSON *o, const char *key, crest_init i);
void cr_json_add_l2(cJSON *o, const char *key, float l2);
void cr_json_add_dims(cJSON *o, const char *key, const cr_dims *d, bool batch_null);

#endif
