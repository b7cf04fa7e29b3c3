/* quant_io.c - a quantized model on disk (TF.js layers folder + crest's
 * int8 storage, src/io/tfjs.c calls these): kernels quantized to int8 go
 * into the shard as 1-byte codes, their per-channel scales into the
 * manifest entry's "quantization" ({"dtype": "int8", "scales": [...]});
 * the activation ranges, calibration method and samples into model.json's
 * "crestQuantization" section, keyed as the int8 rewrite finds them. */
#include "internal.h"
#include "json.h"

#include <math.h>
#include <stdio.h>

/* ---- on disk: int8 codes in the shard, the rest in model.json ----------- */

/* A float as the shortest of %.6g .. %.9g that reads back to it (floats
 * need at most 9 digits; cJSON's own numbers take 15 to 17). */
static cJSON *float_json(float v)
{
    char buf[32];
    for (int digits = 6; digits <= 9; digits++) {
        cr_snprintf_c(buf, sizeof buf, "%.*g", digits, (double)v);
        if ((float)cr_strtod(buf, NULL) == v)
            break;
    }
    return cJSON_CreateRaw(buf);
}

int cr_quant_shard(const crest_model *m, cJSON *specs, unsigned char **bytes, size_t *len)
{
    const cr_quant *q = m->quant;
    size_t total = 0;
    for (int i = 0; i < m->n_weights; i++)
        total += (size_t)m->weights[i]->size * (cr_quant_weight(q, m->weights[i]) ? 1 : 4);
    unsigned char *b = cr_malloc(total + 1), *p = b;
    if (!b)
        return cr_fail(CREST_E_NOMEM, "save: out of memory for the int8 shard");
    cJSON *spec = specs ? specs->child : NULL;
    for (int i = 0; i < m->n_weights; i++, spec = spec ? spec->next : NULL) {
        const cr_weight *w = m->weights[i];
        const cr_qweight *qw = cr_quant_weight(q, w);
        if (!qw) {
            memcpy(p, w->val, (size_t)w->size * sizeof(float));
            p += (size_t)w->size * sizeof(float);
            continue;
        }
        for (int64_t k = 0; k < w->size; k++) {
            float c = nearbyintf(w->val[k] / qw->scale[k % qw->oc]);
            *p++ = (unsigned char)(int8_t)(c > 127 ? 127 : c < -127 ? -127 : c);
        }
        cJSON *qz = cJSON_CreateObject(), *sc = cJSON_CreateArray();
        cJSON_AddStringToObject(qz, "dtype", "int8");
        for (int o = 0; o < qw->oc; o++)
            cr_json_push(sc, float_json(qw->scale[o]));
        cr_json_put(qz, "scales", sc);
        cr_json_put(spec, "quantization", qz);
    }
    *bytes = b;
    *len = total;
    return CREST_OK;
}

cJSON *cr_quant_json(const crest_model *m)
{
    const cr_quant *q = m->quant;
    static const char *const methods[] = { "minmax", "percentile" };
    cJSON *o = cJSON_CreateObject(), *acts = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddStringToObject(o, "activations_dtype", q->act16 ? "int16" : "uint8");
    cJSON_AddStringToObject(o, "weights_dtype", "int8 per channel");
    cJSON_AddStringToObject(o, "calibration", methods[q->method == CREST_CALIB_PERCENTILE]);
    if (q->method == CREST_CALIB_PERCENTILE)
        cJSON_AddNumberToObject(o, "percentile", q->percentile);
    cJSON_AddNumberToObject(o, "samples", (double)q->samples);
    cJSON_AddBoolToObject(o, "float_head", q->float_head);
    if (q->n_keep) {
        cJSON *k = cJSON_AddArrayToObject(o, "keep_float");
        for (int i = 0; i < q->n_keep; i++)
            cr_json_push(k, cJSON_CreateString(q->keep[i]));
    }
    for (int i = 0; i < q->n_act; i++) {
        cJSON *a = cJSON_CreateArray();
        cr_json_push(a, float_json(q->act[i].s));
        cr_json_push(a, cJSON_CreateNumber(q->act[i].z));
        cr_json_push(a, float_json(q->act[i].lo));
        cr_json_push(a, float_json(q->act[i].hi));
        cr_json_put(acts, q->act[i].key, a);
    }
    cr_json_put(o, "activations", acts);
    return o;
}

/* One "KEY": [s, z, lo, hi] entry. */
static int read_act(const cJSON *a, bool i16, cr_qact *out)
{
    double v[4];
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 4)
        return cr_fail(CREST_E_FORMAT, "crestQuantization: activation '%s' is not [scale, "
                       "zero, lo, hi]", a->string ? a->string : "?");
    for (int k = 0; k < 4; k++) {
        const cJSON *x = cJSON_GetArrayItem(a, k);
        v[k] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
    }
    if (!(v[0] > 0 && v[0] < 1e30) || !(v[1] >= 0 && v[1] <= 255 && v[1] == floor(v[1])) ||
        (i16 && v[1] != 0) ||
        !isfinite(v[2]) || !isfinite(v[3]) || strlen(a->string) >= sizeof out->key)
        return cr_fail(CREST_E_FORMAT, "crestQuantization: activation '%s': scale %g, zero "
                       "point %g (a scale > 0 and an integer zero in [0, 255], 0 for int16)",
                       a->string, v[0], v[1]);
    *out = (cr_qact){ .s = (float)v[0], .z = (int32_t)v[1], .lo = (float)v[2],
                      .hi = (float)v[3] };
    snprintf(out->key, sizeof out->key, "%s", a->string);
    return CREST_OK;
}

/* The int8 specs of the manifest: each one's per-channel scales. */
static int read_weight_scales(cr_quant *q, const cJSON *manifest)
{
    const cJSON *grp, *spec;
    cJSON_ArrayForEach(grp, manifest)
    {
        cJSON_ArrayForEach(spec, cJSON_GetObjectItemCaseSensitive(grp, "weights"))
        {
            const cJSON *qz = cJSON_GetObjectItemCaseSensitive(spec, "quantization");
            const cJSON *dt = cJSON_GetObjectItemCaseSensitive(qz, "dtype");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(spec, "name");
            if (!cJSON_IsString(dt) || strcmp(dt->valuestring, "int8") || !cJSON_IsString(name))
                continue;
            const cJSON *sc = cJSON_GetObjectItemCaseSensitive(qz, "scales");
            int oc = cJSON_GetArraySize(sc);
            cr_qweight *w = cr_realloc(q->w, (size_t)(q->n_w + 1) * sizeof *w);
            if (!w)
                return cr_fail(CREST_E_NOMEM, "out of memory reading int8 scales");
            q->w = w;
            w = &q->w[q->n_w];
            *w = (cr_qweight){ .oc = oc, .scale = cr_malloc((size_t)(oc ? oc : 1) * sizeof(float)) };
            if (!w->scale)
                return cr_fail(CREST_E_NOMEM, "out of memory reading int8 scales");
            q->n_w++;
            snprintf(w->name, sizeof w->name, "%s", name->valuestring);
            int k = 0;
            const cJSON *x;
            cJSON_ArrayForEach(x, sc) w->scale[k++] = cJSON_IsNumber(x) ? (float)x->valuedouble : 0;
        }
    }
    return CREST_OK;
}

/* The layers quantize kept float ("keep_float": names; informative, as
 * their kernels have no int8 scales), so that a saved model saves again the
 * same. */
static int read_keep(cr_quant *q, const cJSON *keep)
{
    if (!keep)
        return CREST_OK;
    if (!cJSON_IsArray(keep))
        return cr_fail(CREST_E_FORMAT, "crestQuantization: keep_float is not an array of names");
    int n = cJSON_GetArraySize(keep);
    if (!(q->keep = cr_calloc((size_t)n + 1, sizeof *q->keep)))
        return cr_fail(CREST_E_NOMEM, "out of memory reading crestQuantization");
    const cJSON *k;
    cJSON_ArrayForEach(k, keep)
    {
        if (!cJSON_IsString(k))
            return cr_fail(CREST_E_FORMAT, "crestQuantization: keep_float holds a non-string");
        if (!(q->keep[q->n_keep] = cr_strdup(k->valuestring)))
            return cr_fail(CREST_E_NOMEM, "out of memory reading crestQuantization");
        q->n_keep++;
    }
    return CREST_OK;
}

/* The layers keep_float names are layers of m whose kernels have no int8
 * scales (a hand-edited folder could say otherwise). */
static int check_keep(crest_model *m, const cr_quant *q)
{
    for (int i = 0; i < q->n_keep; i++) {
        const char *name = q->keep[i];
        size_t len = strlen(name);
        if (!crest_model_find_layer(m, name))
            return cr_fail(CREST_E_FORMAT, "crestQuantization: keep_float names '%s', which is "
                           "not a layer of model '%s'", name, m->name);
        for (int j = 0; j < q->n_w; j++)
            if (!strncmp(q->w[j].name, name, len) && q->w[j].name[len] == '/')
                return cr_fail(CREST_E_FORMAT, "crestQuantization: layer '%s' is kept float "
                               "(keep_float) but its weight '%s' has int8 scales", name,
                               q->w[j].name);
    }
    return CREST_OK;
}

int cr_quant_from_json(crest_model *m, const cJSON *section, const cJSON *manifest)
{
    if (!section)
        return CREST_OK;
    const cJSON *acts = cJSON_GetObjectItemCaseSensitive(section, "activations");
    const char *method = NULL, *adt = NULL;
    double version, pct, samples;
    int rc;
    if ((rc = cr_json_num(section, "version", 1, 1, CR_JSON_REQUIRED, &version)))
        return cr_wrap(rc, "crestQuantization (this crest reads version 1)");
    if ((rc = cr_json_str(section, "calibration", "minmax", &method)) ||
        (rc = cr_json_num(section, "percentile", 0, 100, 0, &pct)) ||
        (rc = cr_json_num(section, "samples", 0, 1e15, 0, &samples)) ||
        (rc = cr_json_str(section, "activations_dtype", "uint8", &adt)))
        return cr_wrap(rc, "crestQuantization");
    if (strcmp(adt, "uint8") && strcmp(adt, "int16"))
        return cr_fail(CREST_E_FORMAT, "crestQuantization: activations_dtype '%s' (this crest "
                       "reads uint8 and int16)", adt);
    if (!cJSON_IsObject(acts))
        return cr_fail(CREST_E_FORMAT, "crestQuantization: no activations object");
    cr_quant *q = cr_calloc(1, sizeof *q);
    if (!q || !(q->act = cr_calloc((size_t)cJSON_GetArraySize(acts) + 1, sizeof *q->act))) {
        cr_free(q);
        return cr_fail(CREST_E_NOMEM, "out of memory reading crestQuantization");
    }
    q->method = !strcmp(method, "percentile") ? CREST_CALIB_PERCENTILE : CREST_CALIB_MINMAX;
    q->percentile = pct;
    q->samples = (int64_t)samples;
    const cJSON *fh = cJSON_GetObjectItemCaseSensitive(section, "float_head");
    q->float_head = cJSON_IsTrue(fh);
    q->act16 = !strcmp(adt, "int16");
    const cJSON *a;
    cJSON_ArrayForEach(a, acts)
    {
        if ((rc = read_act(a, q->act16, &q->act[q->n_act])))
            break;
        q->n_act++;
    }
    if (!rc)
        rc = read_keep(q, cJSON_GetObjectItemCaseSensitive(section, "keep_float"));
    if (!rc)
        rc = read_weight_scales(q, manifest);
    if (!rc)
        rc = check_keep(m, q);
    for (int i = 0; !rc && i < q->n_w; i++) {
        cr_weight *w = cr_model_find_weight(m, q->w[i].name);
        if (!w || cr_kernel_channels(w) != q->w[i].oc)
            rc = cr_fail(CREST_E_FORMAT, "int8 weight '%s': %d scales, not one per output "
                         "channel", q->w[i].name, q->w[i].oc);
    }
    if (rc) {
        cr_quant_free(q);
        return rc;
    }
    m->quant = q;
    cr_model_invalidate(m);
    return CREST_OK;
}
