/* tfjs_quant.c - the weights of a TF.js layers folder stored smaller, as
 * TF.js' converter writes them with --quantize_uint8 / _uint16 / _float16:
 * each float32 weight either as uint8 or uint16 codes with a per-tensor
 * {min, scale} (value = min + scale * q), or as IEEE half floats. TF.js and
 * crest_model_load decode them to float32.
 *
 * The affine range is the converter's (tensorflowjs/quantization.py): scale
 * = (max - min) / qmax over the tensor, and when the range covers 0 it is
 * moved ("nudged") so that 0 is exactly a code, min = -round(-min / scale) *
 * scale; codes are round((clip(v, min, min + qmax * scale) - min) / scale),
 * ties to even. A tensor of one value is all zero codes with min = that
 * value and scale 1. */
#include "../internal.h"
#include "json.h"
#include "tfjs_quant.h"

#include <math.h>
#include <string.h>

/* float32 -> IEEE half, round to nearest even; overflow is infinity (the
 * caller refuses it: TF.js would read infinity). */
static uint16_t float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    float a = fabsf(f);
    if (a >= 65520.0f)                        /* rounds past the largest half */
        return sign | 0x7c00;
    if (a < 6.103515625e-05f) {               /* subnormal half: a multiple of 2^-24 */
        float q = nearbyintf(a * 16777216.0f);
        return sign | (uint16_t)q;
    }
    memcpy(&x, &a, 4);
    uint32_t mant = x & 0x7fffff, e = (x >> 23) - 127 + 15;
    uint32_t h = e << 10 | mant >> 13, rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++;                                  /* may carry into the exponent: still right */
    return sign | (uint16_t)h;
}

static const char *dtype_name(crest_weight_quant q)
{
    return q == CREST_WQ_UINT8 ? "uint8" : q == CREST_WQ_UINT16 ? "uint16" : "float16";
}

/* The range of v[0, n) for qmax codes: *lo and *scale. */
static void affine_range(const float *v, int64_t n, double qmax, double *lo, double *scale)
{
    double mn = v[0], mx = v[0];
    for (int64_t i = 1; i < n; i++) {
        mn = v[i] < mn ? v[i] : mn;
        mx = v[i] > mx ? v[i] : mx;
    }
    if (mn == mx) {
        *lo = mn;
        *scale = 1.0;
        return;
    }
    *scale = (mx - mn) / qmax;
    *lo = mn <= 0 && 0 <= mx ? -nearbyint(-mn / *scale) * *scale : mn;
}

/* One weight's codes at out (1 or 2 bytes each, little-endian) and its
 * manifest entry's "quantization" object. */
static int encode(const cr_weight *w, crest_weight_quant q, unsigned char *out, cJSON *spec)
{
    int64_t n = w->size;
    cJSON *qo = cJSON_AddObjectToObject(spec, "quantization");
    if (q == CREST_WQ_FLOAT16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = float_to_half(w->val[i]);
            if ((h & 0x7c00) == 0x7c00)
                return cr_fail(CREST_E_UNSUPPORTED, "weight '%s' (layer '%s'): value %g does not fit "
                               "a float16", w->name, w->owner ? w->owner->name : "?",
                               (double)w->val[i]);
            out[2 * i] = (unsigned char)h;
            out[2 * i + 1] = (unsigned char)(h >> 8);
        }
        cJSON_AddStringToObject(qo, "dtype", "float16");
        return CREST_OK;
    }
    double qmax = q == CREST_WQ_UINT8 ? 255.0 : 65535.0, lo = 0, scale = 1;
    if (n > 0)
        affine_range(w->val, n, qmax, &lo, &scale);
    double hi = lo + qmax * scale;
    for (int64_t i = 0; i < n; i++) {
        double v = w->val[i] < lo ? lo : w->val[i] > hi ? hi : w->val[i];
        double code = nearbyint((v - lo) / scale);
        code = code < 0 ? 0 : code > qmax ? qmax : code;
        unsigned u = (unsigned)code;
        if (q == CREST_WQ_UINT8) {
            out[i] = (unsigned char)u;
        } else {
            out[2 * i] = (unsigned char)u;
            out[2 * i + 1] = (unsigned char)(u >> 8);
        }
    }
    cr_json_add_exact(qo, "min", lo);     /* exact: 0 decodes to 0 */
    cr_json_add_exact(qo, "scale", scale);
    cJSON_AddStringToObject(qo, "dtype", dtype_name(q));
    return CREST_OK;
}

int cr_tfjs_quantize(const crest_model *m, crest_weight_quant q, cJSON *specs,
                     unsigned char **bytes, size_t *len)
{
    size_t per = q == CREST_WQ_UINT8 ? 1 : 2, total = 0;
    for (int i = 0; i < m->n_weights; i++)
        total += (size_t)m->weights[i]->size * per;
    unsigned char *buf = cr_malloc(total ? total : 1);
    if (!buf)
        return cr_fail(CREST_E_NOMEM, "save: out of memory quantizing the weights");
    size_t off = 0;
    cJSON *spec = specs ? specs->child : NULL;
    int rc = CREST_OK;
    for (int i = 0; !rc && i < m->n_weights; i++, spec = spec ? spec->next : NULL) {
        if (!spec)
            rc = cr_fail(CREST_E_STATE, "save: the manifest lists fewer weights than the model");
        else
            rc = encode(m->weights[i], q, buf + off, spec);
        off += (size_t)m->weights[i]->size * per;
    }
    if (rc) {
        cr_free(buf);
        return rc;
    }
    *bytes = buf;
    *len = total;
    return CREST_OK;
}
