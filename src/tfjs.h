/* tfjs.h - pieces of the TF.js layers-format reader/writer that other model
 * kinds (functional, custom) and the backbone importer reuse. */
#ifndef CR_TFJS_H
#define CR_TFJS_H

#include "internal.h"
#include <cjson/cJSON.h>

/* The modelTopology object of m ({class_name, config, ...}); NULL on error. */
cJSON *cr_topology_json(crest_model *m);
/* A layer from {"class_name", "config"}; unknown classes are an error naming them. */
int cr_layer_from_json(const cJSON *layer_json, crest_layer **out);
/* batch_input_shape / batch_shape in a layer config (found = false if neither). */
int cr_input_shape_json(const cJSON *cfg, cr_dims *out, bool *found);
/* A model from modelTopology (Sequential, Model / Functional). */
int cr_model_from_topology(const cJSON *topo, crest_model **out);
/* A functional model from the "config" of a Model / Functional topology. */
int cr_functional_from_json(const cJSON *config, crest_model **out);
/* {"class_name", "config"} of a layer; batch_input adds batch_input_shape. */
cJSON *cr_layer_json(const crest_layer *l, const cr_dims *batch_input);
/* Fills m's (built) weights from a weightsManifest whose shards are in dir. */
int cr_load_weights(crest_model *m, const cJSON *manifest, const char *dir);
/* dir/rel, refusing paths that leave dir. */
int cr_safe_join(const char *dir, const char *rel, char *out, size_t size);

/* CREST_E_STATE naming the first NaN or infinite weight (a diverged model
 * is never saved). */
int cr_check_finite(const crest_model *m);

#endif
