/* window.c - parse / save the options conv and pooling layers share (window.h). */
#include "../internal.h"
#include "json.h"
#include "layers/window.h"

int cr_channels_last(const cJSON *cfg)
{
    const char *df = NULL;
    int rc = cr_json_str(cfg, "data_format", "channels_last", &df);
    if (!rc && strcmp(df, "channels_last") != 0)
        rc = cr_fail(CREST_E_UNSUPPORTED, "data_format %s is not supported (channels_last only)",
                     df);
    return rc;
}

static int positive_pair(const cJSON *cfg, const char *key, int def, int out[2])
{
    int rc = cr_json_pair(cfg, key, def, out);
    if (!rc && (out[0] < 1 || out[1] < 1))
        rc = cr_fail(CREST_E_FORMAT, "'%s' must be positive, is %d,%d", key, out[0], out[1]);
    return rc;
}

int cr_window_parse(const cJSON *cfg, const char *size_key, bool pool, cr_window *w)
{
    memset(w, 0, sizeof *w);
    w->pool = pool;
    int rc = positive_pair(cfg, size_key, pool ? 2 : CR_JSON_REQUIRED, w->k);
    if (!rc)   /* pooling: strides null means pool_size */
        rc = positive_pair(cfg, "strides", pool ? w->k[0] : 1, w->s);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(cfg, "strides");
    if (!rc && pool && (!st || cJSON_IsNull(st)))
        w->s[1] = w->k[1];
    if (!rc)
        rc = positive_pair(cfg, "dilation_rate", 1, w->d);
    if (!rc && pool && (w->d[0] != 1 || w->d[1] != 1))
        rc = cr_fail(CREST_E_FORMAT, "pooling has no dilation_rate");
    const char *pad = NULL;
    if (!rc)
        rc = cr_json_str(cfg, "padding", "valid", &pad);
    if (!rc) {
        if (!strcmp(pad, "same") || !strcmp(pad, "SAME"))
            w->same = true;
        else if (strcmp(pad, "valid") && strcmp(pad, "VALID"))
            rc = cr_fail(CREST_E_UNSUPPORTED, "padding '%s' is not supported (valid, same)", pad);
    }
    if (!rc)
        rc = cr_channels_last(cfg);
    return rc;
}

void cr_window_save(cJSON *cfg, const char *size_key, const cr_window *w)
{
    cr_json_put(cfg, size_key, cJSON_CreateIntArray(w->k, 2));
    cr_json_put(cfg, "strides", cJSON_CreateIntArray(w->s, 2));
    cJSON_AddStringToObject(cfg, "padding", w->same ? "same" : "valid");
    cJSON_AddStringToObject(cfg, "data_format", "channels_last");
    if (!w->pool)
        cr_json_put(cfg, "dilation_rate", cJSON_CreateIntArray(w->d, 2));
}

int cr_conv_params_parse(const cJSON *cfg, cr_conv_kind kind, cr_conv_params *p)
{
    bool dw = kind == CR_CONV_DEPTHWISE || kind == CR_CONV_SEPARABLE;
    int groups = 1, rc = CREST_OK;
    memset(p, 0, sizeof *p);
    p->dm = 1;
    if (kind != CR_CONV_DEPTHWISE)
        rc = cr_json_int(cfg, "filters", 1, 1 << 20, CR_JSON_REQUIRED, &p->filters);
    if (!rc && dw)
        rc = cr_json_int(cfg, "depth_multiplier", 1, 1 << 16, 1, &p->dm);
    if (!rc && kind == CR_CONV)
        rc = cr_json_int(cfg, "groups", 1, 1 << 20, 1, &groups);
    if (!rc && groups != 1)   /* TF.js 4.22 has no groups either */
        rc = cr_fail(CREST_E_UNSUPPORTED, "grouped convolution (groups %d) is not supported",
                     groups);
    if (!rc)
        rc = cr_json_act(cfg, "activation", &p->act);
    if (!rc)
        rc = cr_json_bool(cfg, "use_bias", true, &p->use_bias);
    if (!rc)
        rc = cr_json_init(cfg, dw ? "depthwise_initializer" : "kernel_initializer",
                     CREST_GLOROT_UNIFORM, &p->kinit);
    if (!rc)
        rc = cr_json_init(cfg, "pointwise_initializer", CREST_GLOROT_UNIFORM, &p->pinit);
    if (!rc)
        rc = cr_json_init(cfg, "bias_initializer", CREST_ZEROS, &p->binit);
    if (!rc && !dw)
        rc = cr_json_l2(cfg, "kernel_regularizer", &p->l2);
    return rc;
}

void cr_conv_params_save(cJSON *cfg, cr_conv_kind kind, const cr_conv_params *p)
{
    bool dw = kind == CR_CONV_DEPTHWISE || kind == CR_CONV_SEPARABLE;
    if (dw)
        cJSON_AddNumberToObject(cfg, "depth_multiplier", p->dm);
    cJSON_AddStringToObject(cfg, "activation", crest_act_name(p->act));
    cJSON_AddBoolToObject(cfg, "use_bias", p->use_bias);
    cr_json_add_init(cfg, dw ? "depthwise_initializer" : "kernel_initializer", p->kinit);
    if (kind == CR_CONV_SEPARABLE)
        cr_json_add_init(cfg, "pointwise_initializer", p->pinit);
    cr_json_add_init(cfg, "bias_initializer", p->binit);
    if (!dw)
        cr_json_add_l2(cfg, "kernel_regularizer", p->l2);
}
