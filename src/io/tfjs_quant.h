/* tfjs_quant.h - TF.js' quantized weight storage (uint8, uint16, float16). */
#ifndef CREST_IO_TFJS_QUANT_H
#define CREST_IO_TFJS_QUANT_H

#include "internal.h"

/* m's weights (m->weights in order) quantized as q (not CREST_WQ_NONE)
 * into *bytes (*len bytes; free with cr_free); each spec of the array
 * specs (one per weight, in order) gets its "quantization" object. */
int cr_tfjs_quantize(const crest_model *m, crest_weight_quant q, cJSON *specs,
                     unsigned char **bytes, size_t *len);

#endif
