/* weights.c - a weight (values, gradient, optimizer slots) and Keras'
 * initializers, by value and by name. */
#include "internal.h"

#include <cjson/cJSON.h>
#include <math.h>

/* ---- weights ----------------------------------------------------------- */

cr_weight *cr_weight_new(const char *name, cr_dims shape, bool trainable)
{
    int64_t size = cr_dims_count(&shape);
    if (shape.ndim < 0 || size < 0 || size > ((int64_t)1 << 32)) {
        cr_fail(CREST_E_SHAPE, "weight '%s': %lld values is not a sane size", name,
                (long long)size);
        return NULL;
    }
    cr_weight *w = cr_calloc(1, sizeof *w);
    if (!w)
        goto nomem;
    w->name = cr_strdup(name);
    w->val = cr_calloc((size_t)size, sizeof(float));
    if (!w->name || !w->val)
        goto nomem;
    w->shape = shape;
    w->size = size;
    w->trainable = trainable;
    return w;
nomem:
    cr_weight_free(w);
    cr_fail(CREST_E_NOMEM, "out of memory for weight '%s'", name);
    return NULL;
}

void cr_weight_free(cr_weight *w)
{
    if (!w)
        return;
    cr_free(w->name);
    if (!w->block) {   /* else views into a model's parameter block */
        cr_free(w->val);
        cr_free(w->grad);
        cr_free(w->slot[0]);
        cr_free(w->slot[1]);
    }
    cr_free(w);
}

/* Keras' fans: dense [in, out]; conv [kh, kw, in, out] -> in*kh*kw, out*kh*kw. */
static void fans(const cr_dims *s, double *fan_in, double *fan_out)
{
    if (s->ndim < 1) {
        *fan_in = *fan_out = 1;
    } else if (s->ndim == 1) {
        *fan_in = *fan_out = (double)s->d[0];
    } else if (s->ndim == 2) {
        *fan_in = (double)s->d[0];
        *fan_out = (double)s->d[1];
    } else {
        double rf = 1;
        for (int i = 0; i < s->ndim - 2; i++)
            rf *= (double)s->d[i];
        *fan_in = (double)s->d[s->ndim - 2] * rf;
        *fan_out = (double)s->d[s->ndim - 1] * rf;
    }
}

/* Normal truncated at two standard deviations, rescaled so its standard
 * deviation is stddev (Keras' VarianceScaling "truncated_normal"). */
static float trunc_normal(cr_rng *r, double stddev)
{
    double x;
    do
        x = cr_rng_normal(r);
    while (x < -2 || x > 2);
    return (float)(x * stddev / 0.87962566103423978);
}

void cr_weight_init(cr_weight *w, crest_init init, cr_rng *r)
{
    double fi, fo;
    fans(&w->shape, &fi, &fo);
    for (int64_t i = 0; i < w->size; i++) {
        float v = 0;
        switch (init) {
        case CREST_GLOROT_UNIFORM: {
            double lim = sqrt(6.0 / (fi + fo));
            v = (float)((cr_rng_uniform(r) * 2 - 1) * lim);
            break;
        }
        case CREST_GLOROT_NORMAL: v = trunc_normal(r, sqrt(2.0 / (fi + fo))); break;
        case CREST_HE_NORMAL: v = trunc_normal(r, sqrt(2.0 / fi)); break;
        case CREST_HE_UNIFORM: {
            double lim = sqrt(6.0 / fi);
            v = (float)((cr_rng_uniform(r) * 2 - 1) * lim);
            break;
        }
        case CREST_ONES: v = 1; break;
        case CREST_RANDOM_NORMAL: v = (float)(cr_rng_normal(r) * 0.05); break;
        case CREST_RANDOM_UNIFORM: v = (float)((cr_rng_uniform(r) * 2 - 1) * 0.05); break;
        default: v = 0; break;
        }
        w->val[i] = v;
    }
    w->version++;
}

static const char *const init_names[CREST_INIT_COUNT] = {
    [CREST_GLOROT_UNIFORM] = "GlorotUniform", [CREST_GLOROT_NORMAL] = "GlorotNormal",
    [CREST_HE_NORMAL] = "HeNormal",           [CREST_HE_UNIFORM] = "HeUniform",
    [CREST_ZEROS] = "Zeros",                  [CREST_ONES] = "Ones",
    [CREST_RANDOM_NORMAL] = "RandomNormal",   [CREST_RANDOM_UNIFORM] = "RandomUniform",
};

const char *cr_init_keras_name(crest_init i)
{
    return i > 0 && i < CREST_INIT_COUNT ? init_names[i] : "GlorotUniform";
}

int cr_init_parse(const cJSON *obj, crest_init *out)
{
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(obj, "class_name");
    if (!cJSON_IsString(cls))
        return CREST_OK;                    /* keep the layer's default */
    for (int i = 1; i < CREST_INIT_COUNT; i++)
        if (strcmp(cls->valuestring, init_names[i]) == 0) {
            *out = (crest_init)i;
            return CREST_OK;
        }
    /* Unknown initializers only matter for fresh weights; keep the default. */
    return CREST_OK;
}
