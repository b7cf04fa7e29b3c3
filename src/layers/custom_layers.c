/* custom_layers.c - Keras layer classes crest does not know, defined at run
 * time: from C (crest_register_layer: a function that builds the layer's
 * ops from its input and its Keras config), or with no C code by an
 * expression in crest's expression language (src/layers/expr.c) over the
 * input x and the layer's numeric config fields by name
 * ({"MultiplyBeta": "x * beta"}: crest_register_layer_expr, or a JSON file
 * of them, crest_custom_layers_load, `--custom-layers FILE`).
 *
 * A layer of such a class keeps its Keras config as it was read and saves it
 * back unchanged under its class name, so TF.js or Keras load it with their
 * own registered class. Models holding expression classes save the
 * definitions in their metadata ("crest_custom_layers": {class: text}), and
 * loading a model registers the definitions it carries (those registered
 * already win), so a saved model loads without the file. */
#include "../internal.h"
#include "../json.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct cl_class {
    cr_layer_def def;             /* first; def.keras_class is name */
    char name[128];
    char *expr;                   /* expression classes: the text; else NULL */
    char source[256];             /* where the definition came from (messages) */
    crest_layer_fn fn;            /* C classes */
    void *user;
    struct cl_class *retired;     /* next replaced class (kept alive: layers may use it) */
} cl_class;

/* Registered classes live as long as the process (as crest_register_lambda's). */
static cl_class *classes[CR_REGISTRY_MAX];
static int n_classes;
static cl_class *retired;         /* replaced classes, still reachable */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct cl_cfg {
    const cl_class *cls;
    cJSON *config;                /* the layer's Keras config, as read */
    char *config_text;            /* C classes: config as text for fn */
    crest_layer *expr;            /* expression classes: the compiled expression */
} cl_cfg;

static const cl_class *class_of(const crest_layer *l)
{
    return (const cl_class *)(const void *)l->def;
}

static void cl_free_cfg(void *cfg)
{
    cl_cfg *c = cfg;
    cJSON_Delete(c->config);
    cr_free(c->config_text);
    crest_layer_free(c->expr);
    memset(c, 0, sizeof *c);
}

static int cl_parse(crest_layer *l, const cJSON *config)
{
    cl_cfg *c = l->cfg;
    const cl_class *k = class_of(l);
    c->cls = k;
    if (!(c->config = cJSON_Duplicate(config, true)))
        return cr_fail(CREST_E_NOMEM, "out of memory copying the config");
    if (!k->expr) {
        c->config_text = cr_json_print(config, false);
        return c->config_text ? CREST_OK : cr_fail(CREST_E_NOMEM, "out of memory");
    }
    if (!(c->expr = cr_expr_with_fields(k->expr, config)))
        return cr_wrap(CREST_E_FORMAT, "custom layer class '%s' (defined in %s)", k->name,
                       k->source);
    snprintf(c->expr->name, sizeof c->expr->name, "%s", l->name);
    return CREST_OK;
}

static int cl_save(const crest_layer *l, cJSON *config)
{
    const cl_cfg *c = l->cfg;
    const cJSON *f;
    cJSON_ArrayForEach(f, c->config)
    {
        if (!f->string || !strcmp(f->string, "name") || !strcmp(f->string, "trainable") ||
            cJSON_GetObjectItemCaseSensitive(config, f->string))
            continue;
        cJSON *d = cJSON_Duplicate(f, true);
        if (!d)
            return CREST_E_NOMEM;
        cJSON_AddItemToObject(config, f->string, d);
    }
    return CREST_OK;
}

/* An expression's build error, "layer 'NAME': what", made to name the
 * class and where it was defined too. */
static void name_class(cr_graph *g, const crest_layer *l)
{
    const cl_cfg *c = l->cfg;
    char head[300], msg[sizeof g->errmsg];
    snprintf(head, sizeof head, "layer '%s': ", l->name);
    const char *what = g->errmsg;
    if (strncmp(what, head, strlen(head)) == 0)
        what += strlen(head);
    int n = snprintf(msg, sizeof msg, "layer '%s' (%s): custom layer class '%s' (defined in "
                     "%s): %s", l->name, c->cls->name, c->cls->name, c->cls->source, what);
    if (n < 0)
        return;   /* keeps the message as it was */
    snprintf(g->errmsg, sizeof g->errmsg, "%s", msg);
    cr_fail(g->err, "%s", g->errmsg);
}

static cr_node *cl_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const cl_cfg *c = l->cfg;
    if (n_in != 1)
        return cr_graph_fail(g, CREST_E_ARG, "layer '%s' (%s): custom layers take one input",
                             l->name, c->cls->name);
    if (c->expr) {
        snprintf(c->expr->name, sizeof c->expr->name, "%s", l->name);
        bool ok_before = !g->err;
        cr_node *y = cr_expr_def.build(c->expr, g, in, n_in);   /* variables: g->layer, l's */
        if (ok_before && g->err)
            name_class(g, l);
        return y;
    }
    cr_node *y = c->cls->fn(g, in[0], c->config_text, c->cls->user);
    if (!y && !g->err)
        return cr_graph_fail(g, CREST_E_STATE, "layer '%s': custom class %s built nothing",
                             l->name, c->cls->name);
    return y;
}

static bool valid_name(const char *s)
{
    if (!s || !*s || strlen(s) >= 128)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '>' || *s == '-'))
            return false;
    return true;
}

/* Registers (replace: or replaces) a class; expr or fn. Checks an
 * expression parses (with no fields, unknown names are variables then). */
static int add_class(const char *name, const char *expr, crest_layer_fn fn, void *user,
                     const char *source, bool replace)
{
    if (!valid_name(name))
        return cr_fail(CREST_E_ARG, "%s: custom layer class name '%s' is empty, too long or "
                       "not a Keras class name", source, name ? name : "(null)");
    if (cr_layer_def_find(name) || !strcmp(name, "Sequential") || !strcmp(name, "Model") ||
        !strcmp(name, "Functional") || !strcmp(name, "InputLayer"))
        return cr_fail(CREST_E_ARG, "%s: custom layer class '%s' is a built-in class", source,
                       name);
    if (expr) {   /* syntax, once (with no fields, any name is allowed) */
        crest_layer *t = cr_expr_with_fields(expr, NULL);
        if (!t)
            return cr_wrap(CREST_E_FORMAT, "%s: custom layer class '%s'", source, name);
        crest_layer_free(t);
    }
    cl_class *k = calloc(1, sizeof *k);
    char *text = expr ? malloc(strlen(expr) + 1) : NULL;
    if (text)
        memcpy(text, expr, strlen(expr) + 1);
    if (!k || (expr && !text)) {
        free(k);
        free(text);
        return cr_fail(CREST_E_NOMEM, "out of memory registering class '%s'", name);
    }
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(k->source, sizeof k->source, "%s", source);
    k->expr = text;
    k->fn = fn;
    k->user = user;
    k->def = (cr_layer_def){ .keras_class = k->name, .default_name = "custom",
                             .cfg_size = sizeof(cl_cfg), .build = cl_build, .parse = cl_parse,
                             .save = cl_save, .free_cfg = cl_free_cfg };
    int rc = CREST_OK;
    pthread_mutex_lock(&mu);
    int i = 0;
    while (i < n_classes && strcmp(classes[i]->name, name))
        i++;
    if (i < n_classes && !replace) {
        free(k->expr);   /* kept: the one registered first */
        free(k);
    } else if (i < n_classes) {
        /* layers made from the old definition may still point at it: keep
         * it alive (a handful of bytes per re-registration) */
        classes[i]->retired = retired;
        retired = classes[i];
        classes[i] = k;
    } else if (n_classes == CR_REGISTRY_MAX) {
        free(k->expr);
        free(k);
        rc = cr_fail(CREST_E_ARG, "more than %d custom layer classes", CR_REGISTRY_MAX);
    } else {
        classes[n_classes++] = k;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

int crest_register_layer(const char *class_name, crest_layer_fn fn, void *user)
{
    if (!fn)
        return cr_fail(CREST_E_ARG, "crest_register_layer: fn is NULL");
    return add_class(class_name, NULL, fn, user, "crest_register_layer", true);
}

int crest_register_layer_expr(const char *class_name, const char *expression)
{
    if (!expression)
        return cr_fail(CREST_E_ARG, "crest_register_layer_expr: expression is NULL");
    return add_class(class_name, expression, NULL, NULL, "crest_register_layer_expr", true);
}

int cr_custom_layers_from_json(const cJSON *defs, const char *source, bool replace)
{
    if (!cJSON_IsObject(defs))
        return cr_fail(CREST_E_FORMAT, "%s: custom layers must be a JSON object mapping class "
                       "names to expressions, e.g. {\"MultiplyBeta\": \"x * beta\"}", source);
    const cJSON *e;
    cJSON_ArrayForEach(e, defs)
    {
        if (!cJSON_IsString(e))
            return cr_fail(CREST_E_FORMAT, "%s: custom layer class '%s': its definition is not "
                           "an expression string", source, e->string ? e->string : "");
        int rc = add_class(e->string, e->valuestring, NULL, NULL, source, replace);
        if (rc)
            return rc;
    }
    return CREST_OK;
}

int crest_custom_layers_load(const char *path)
{
    if (!path)
        return cr_fail(CREST_E_ARG, "custom layers: path is NULL");
    char *text = NULL;
    size_t len = 0;
    cJSON *j = NULL;
    int rc = cr_read_file(path, 1 << 24, &text, &len);
    if (!rc)
        rc = cr_json_parse(text, len, path, &j);
    if (!rc)
        rc = cr_custom_layers_from_json(j, path, true);
    cr_free(text);
    cJSON_Delete(j);
    return rc;
}

const cr_layer_def *cr_custom_layer_def(const char *class_name)
{
    const cr_layer_def *d = NULL;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_classes && !d; i++)
        if (!strcmp(classes[i]->name, class_name))
            d = &classes[i]->def;
    pthread_mutex_unlock(&mu);
    return d;
}

int cr_custom_layers_meta(const crest_model *m, char **out)
{
    *out = NULL;
    cJSON *meta = NULL, *defs = NULL;
    int rc = m->meta_json ? cr_json_parse(m->meta_json, 0, "metadata", &meta) : CREST_OK;
    for (int i = 0; !rc && i < m->n_layers; i++) {
        const crest_layer *l = m->layers[i];
        if (l->def->build != cl_build || !class_of(l)->expr)
            continue;
        if (!meta && !(meta = cJSON_CreateObject()))
            rc = CREST_E_NOMEM;
        if (!rc && !defs) {
            cJSON_DeleteItemFromObjectCaseSensitive(meta, "crest_custom_layers");
            if (!(defs = cJSON_AddObjectToObject(meta, "crest_custom_layers")))
                rc = CREST_E_NOMEM;
        }
        if (!rc && !cJSON_GetObjectItemCaseSensitive(defs, class_of(l)->name) &&
            !cJSON_AddStringToObject(defs, class_of(l)->name, class_of(l)->expr))
            rc = CREST_E_NOMEM;
    }
    if (!rc && meta && !(*out = cr_json_print(meta, false)))
        rc = CREST_E_NOMEM;
    cJSON_Delete(meta);
    return rc == CREST_E_NOMEM ? cr_fail(rc, "out of memory saving metadata") : rc;
}

int cr_custom_layers_from_meta(const cJSON *meta, const char *source)
{
    const cJSON *defs = cJSON_GetObjectItemCaseSensitive(meta, "crest_custom_layers");
    return defs ? cr_custom_layers_from_json(defs, source, false) : CREST_OK;
}

void cr_custom_layers_reset(void)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_classes; i++) {
        free(classes[i]->expr);
        free(classes[i]);
    }
    n_classes = 0;
    while (retired) {
        cl_class *k = retired;
        retired = k->retired;
        free(k->expr);
        free(k);
    }
    pthread_mutex_unlock(&mu);
}
