/* window.c - parse / save the options conv and pooling layers share. */
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
