/* summary.c - crest_model_summary: Keras' model.summary() table, or JSON. */
#include "internal.h"

#include "json.h"
#include <stdio.h>

static void group_digits(char *buf, size_t size, size_t v)
{
    char raw[32];
    int n = snprintf(raw, sizeof raw, "%zu", v), k = 0;
    for (int i = 0; i < n && (size_t)k + 2 < size; i++) {
        if (i && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = raw[i];
    }
    buf[k] = 0;
}

static size_t layer_params(const crest_layer *l)
{
    size_t n = 0;
    for (int i = 0; i < l->n_w; i++)
        n += (size_t)l->w[i]->size;
    return n;
}

static void shape_text(const cr_dims *d, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "(None");
    for (int i = 0; i < d->ndim && k < size; i++)
        k += d->d[i] == CREST_DIM_NONE ? (size_t)snprintf(buf + k, size - k, ", None")
                                       : (size_t)snprintf(buf + k, size - k, ", %lld",
                                                          (long long)d->d[i]);
    if (k < size)
        snprintf(buf + k, size - k, ")");
}

typedef struct sbuf { char *p; size_t n, cap; bool bad; } sbuf;

static void sb_printf(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *s, const char *fmt, ...)
{
    if (s->bad)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(s->p ? s->p + s->n : NULL, s->p ? s->cap - s->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            s->bad = true;
            return;
        }
        if (s->p && s->n + (size_t)w < s->cap) {
            s->n += (size_t)w;
            return;
        }
        size_t cap = (s->cap + (size_t)w + 1) * 2;
        char *p = cr_realloc(s->p, cap);
        if (!p) {
            s->bad = true;
            return;
        }
        s->p = p;
        s->cap = cap;
    }
}

char *crest_model_summary(crest_model *m, bool json)
{
    if (cr_model_build(m))
        return NULL;
    size_t total = crest_model_param_count(m, false), train = crest_model_param_count(m, true);
    if (json) {
        unsigned long mark = cr_json_mark();
        cJSON *root = cJSON_CreateObject(), *layers = cJSON_AddArrayToObject(root, "layers");
        for (int i = 0; i < m->n_layers; i++) {
            const crest_layer *l = m->layers[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", l->name);
            cJSON_AddStringToObject(o, "class", l->def->keras_class);
            cr_json_add_shape(o, "output_shape", &l->out_shape);
            cJSON_AddNumberToObject(o, "params", (double)layer_params(l));
            cJSON_AddBoolToObject(o, "trainable", l->trainable);
            cr_json_push(layers, o);
        }
        cJSON_AddNumberToObject(root, "total_params", (double)total);
        cJSON_AddNumberToObject(root, "trainable_params", (double)train);
        cJSON_AddNumberToObject(root, "non_trainable_params", (double)(total - train));
        char *s = cr_json_check(mark, "summary") ? NULL : cr_json_print(root, false);
        cJSON_Delete(root);
        if (!s)
            cr_fail(CREST_E_NOMEM, "out of memory writing the summary");
        return s;
    }
    sbuf s = { 0 };
    /* Keras' widths (28, 26, 10), widened for long names (backbones) */
    int nw = 28, sw = 26;
    for (int i = 0; i < m->n_layers; i++) {
        const crest_layer *l = m->layers[i];
        char shape[128];
        shape_text(&l->out_shape, shape, sizeof shape);
        int n = (int)(strlen(l->name) + strlen(l->def->keras_class)) + 4, k = (int)strlen(shape) + 1;
        nw = n > nw ? (n < 120 ? n : 120) : nw;
        sw = k > sw ? k : sw;
    }
    char rule[256], dbl[256];
    int width = 1 + nw + sw + 10;
    memset(rule, '_', (size_t)width);
    memset(dbl, '=', (size_t)width);
    rule[width] = dbl[width] = 0;
    sb_printf(&s, "Model: \"%s\"\n%s\n %-*s%-*s%-10s\n%s\n", m->name, rule, nw, "Layer (type)", sw,
              "Output Shape", "Param #", dbl);
    for (int i = 0; i < m->n_layers; i++) {
        const crest_layer *l = m->layers[i];
        char name[256], shape[128];
        snprintf(name, sizeof name, "%s (%s)", l->name, l->def->keras_class);
        shape_text(&l->out_shape, shape, sizeof shape);
        sb_printf(&s, " %-*s%-*s%-10zu\n", nw, name, sw, shape, layer_params(l));
        if (i + 1 < m->n_layers)
            sb_printf(&s, "\n");
    }
    char a[40], b[40], c[40];
    group_digits(a, sizeof a, total);
    group_digits(b, sizeof b, train);
    group_digits(c, sizeof c, total - train);
    sb_printf(&s, "%s\nTotal params: %s\nTrainable params: %s\nNon-trainable params: %s\n%s\n",
              dbl, a, b, c, rule);
    if (s.bad) {
        cr_free(s.p);
        cr_fail(CREST_E_NOMEM, "out of memory writing the summary");
        return NULL;
    }
    return s.p;
}
