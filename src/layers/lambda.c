/* lambda.c - Lambda layers: a user C function traced into the graph, with
 * variables of its own. Saved as its registered function name plus its
 * argument bytes (base64) and variables, never code; see crest.h. */
#include "../internal.h"
#include "json.h"

#include <stdio.h>

typedef struct lambda_cfg {
    char fn_name[128];
    crest_lambda_fn fn;
    unsigned char *args;          /* owned copy, or NULL */
    size_t n_args;
} lambda_cfg;

static cr_registry lambdas = { .mu = PTHREAD_MUTEX_INITIALIZER };

int crest_register_lambda(const char *name, crest_lambda_fn fn)
{
    return cr_registry_set(&lambdas, name, (void (*)(void))fn);
}

/* ---- base64 (RFC 4648, with padding) ------------------------------------ */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const unsigned char *p, size_t n)
{
    char *s = cr_malloc(4 * ((n + 2) / 3) + 1), *o = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? b64[v & 63] : '=';
    }
    *o = 0;
    return s;
}

static int b64_value(char c)
{
    const char *q = c ? strchr(b64, c) : NULL;
    return q ? (int)(q - b64) : -1;
}

/* Decodes s into a new buffer (*out NULL when empty). */
static int b64_decode(const char *s, unsigned char **out, size_t *n)
{
    size_t len = strlen(s);
    *out = NULL;
    *n = 0;
    if (len % 4)
        return cr_fail(CREST_E_FORMAT, "arguments: base64 length %zu is not a multiple of 4",
                       len);
    if (!len)
        return CREST_OK;
    unsigned char *b = cr_malloc(len / 4 * 3);
    if (!b)
        return cr_fail(CREST_E_NOMEM, "out of memory decoding arguments");
    size_t k = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            bool last = i + 4 == len;
            if (s[i + j] == '=' && last && j >= 2 && (j == 3 || s[i + 3] == '=')) {
                v[j] = 0;
                pad++;
            } else if ((v[j] = b64_value(s[i + j])) < 0 || pad) {
                cr_free(b);
                return cr_fail(CREST_E_FORMAT, "arguments: bad base64 at character %zu",
                               i + (size_t)j + 1);
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        b[k++] = (unsigned char)(w >> 16);
        if (pad < 2)
            b[k++] = (unsigned char)(w >> 8);
        if (pad < 1)
            b[k++] = (unsigned char)w;
    }
    *out = b;
    *n = k;
    return CREST_OK;
}

/* ---- the layer --------------------------------------------------------- */

static cr_node *lambda_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const lambda_cfg *c = l->cfg;
    if (n_in != 1)
        return cr_graph_fail(g, CREST_E_ARG, "layer '%s': a Lambda takes one input", l->name);
    cr_node *y = c->fn(g, in[0], c->args);
    if (!y && !g->err)
        cr_graph_fail(g, CREST_E_STATE, "layer '%s': function '%s' returned NULL", l->name,
                      c->fn_name);
    return y;
}

static int lambda_parse(crest_layer *l, const cJSON *cfg)
{
    lambda_cfg *c = l->cfg;
    const char *fn = NULL, *args = NULL;
    int rc = cr_json_str(cfg, "function", NULL, &fn);
    if (!rc)
        rc = cr_json_str(cfg, "arguments", "", &args);
    if (rc)
        return rc;
    if (!*fn || strlen(fn) >= sizeof c->fn_name)
        return cr_fail(CREST_E_FORMAT, "function name '%s' is empty or too long", fn);
    snprintf(c->fn_name, sizeof c->fn_name, "%s", fn);
    c->fn = (crest_lambda_fn)cr_registry_get(&lambdas, fn);
    if (!c->fn)
        return cr_fail(CREST_E_UNSUPPORTED,
                       "lambda function '%s' is not registered: call "
                       "crest_register_lambda(\"%s\", fn) before loading", fn, fn);
    return b64_decode(args, &c->args, &c->n_args);
}

static int lambda_save(const crest_layer *l, cJSON *cfg)
{
    const lambda_cfg *c = l->cfg;
    char *a = b64_encode(c->args, c->n_args);
    if (!a)
        return cr_fail(CREST_E_NOMEM, "out of memory saving layer '%s'", l->name);
    cJSON_AddStringToObject(cfg, "function", c->fn_name);
    cJSON_AddStringToObject(cfg, "arguments", a);
    cr_free(a);
    return CREST_OK;
}

static void lambda_free_cfg(void *cfg)
{
    cr_free(((lambda_cfg *)cfg)->args);
}

const cr_layer_def cr_lambda_def = { .keras_class = "CrestLambda", .default_name = "lambda",
    .cfg_size = sizeof(lambda_cfg), .build = lambda_build, .parse = lambda_parse,
    .save = lambda_save, .free_cfg = lambda_free_cfg };

crest_layer *crest_lambda(const char *fn_name, crest_lambda_fn fn, const void *args,
                          size_t args_size)
{
    lambda_cfg c = { .fn = fn, .n_args = args_size };
    if (!fn || !fn_name || !*fn_name || strlen(fn_name) >= sizeof c.fn_name ||
        (args_size && !args) || args_size > ((size_t)1 << 24)) {
        cr_fail(CREST_E_ARG, "lambda '%s': needs a function, a name of 1 to 127 characters "
                             "and args of at most 16 MiB", fn_name ? fn_name : "(null)");
        return NULL;
    }
    snprintf(c.fn_name, sizeof c.fn_name, "%s", fn_name);
    if (args_size) {
        if (!(c.args = cr_malloc(args_size))) {
            cr_fail(CREST_E_NOMEM, "out of memory for lambda '%s' arguments", fn_name);
            return NULL;
        }
        memcpy(c.args, args, args_size);
    }
    crest_layer *l = cr_layer_new(&cr_lambda_def, &c);
    if (!l)
        cr_free(c.args);
    return l;
}
