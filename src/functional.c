/* functional.c - the functional model kind: crest_functional_new and the
 * Keras JSON form of functional models (Keras 2 / TF.js `inbound_nodes`
 * arrays, Keras 3 `args` with `keras_history`), read and written. The
 * symbolic tensors themselves are src/functional_graph.c. */
#include "internal.h"
#include "functional_graph.h"
#include "json.h"

#include <stdio.h>

int crest_functional_new(crest_model **out, const char *name)
{
    if (!out)
        return cr_fail(CREST_E_ARG, "functional_new: out is NULL");
    return cr_functional_alloc(&cr_functional_kind, name && *name ? name : "model", false, out);
}

/* ---- Keras JSON: write ------------------------------------------------- */

static cJSON *history(const crest_sym *s)
{
    cJSON *a = cJSON_CreateArray();
    cr_json_push(a, cJSON_CreateString(s->layer ? s->layer->name : s->name));
    cr_json_push(a, cJSON_CreateNumber(s->layer ? s->call : 0));
    cr_json_push(a, cJSON_CreateNumber(0));
    return a;
}

/* The InputLayer entry of Input s. */
static cJSON *input_json(const crest_sym *s)
{
    cJSON *o = cJSON_CreateObject(), *c = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "class_name", "InputLayer");
    cJSON_AddStringToObject(c, "name", s->name);
    cr_json_add_shape(c, "batch_input_shape", &s->shape);
    cJSON_AddStringToObject(c, "dtype", "float32");
    cJSON_AddBoolToObject(c, "sparse", false);
    cr_json_put(o, "config", c);
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddArrayToObject(o, "inbound_nodes");
    return o;
}

/* The entry of layer l with its calls (inbound_nodes); NULL if l cannot be
 * saved. */
static cJSON *layer_calls_json(const fn_impl *f, const crest_layer *l)
{
    cJSON *o = cr_layer_json(l, NULL);
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", l->name);
    cJSON *calls = cJSON_AddArrayToObject(o, "inbound_nodes");
    for (int i = 0; i < f->n; i++) {
        crest_sym *s = f->syms[i];
        if (s->layer != l)
            continue;
        cJSON *call = cJSON_CreateArray();
        for (int k = 0; k < s->n_in; k++) {
            cJSON *h = history(s->in[k]);
            cr_json_push(h, cJSON_CreateObject());
            cr_json_push(call, h);
        }
        cr_json_push(calls, call);
    }
    return o;
}

static cJSON *fn_to_json(crest_model *m)
{
    fn_impl *f = m->impl;
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "name", m->name);
    cJSON *layers = cJSON_AddArrayToObject(cfg, "layers");
    for (int i = 0; i < f->n; i++)               /* Inputs */
        if (!f->syms[i]->layer && f->syms[i]->needed)
            cr_json_push(layers, input_json(f->syms[i]));
    for (int li = 0; li < m->n_layers; li++) {   /* layers, with their calls */
        cJSON *o = layer_calls_json(f, m->layers[li]);
        if (!o) {
            cJSON_Delete(cfg);
            return NULL;
        }
        cr_json_push(layers, o);
    }
    cJSON *ins = cJSON_AddArrayToObject(cfg, "input_layers");
    for (int i = 0; i < f->n_inputs; i++)
        cr_json_push(ins, history(f->inputs[i]));
    cJSON *outs = cJSON_AddArrayToObject(cfg, "output_layers");
    for (int i = 0; i < f->n_outputs; i++)
        cr_json_push(outs, history(f->outputs[i]));
    return cr_model_json_wrap("Model", cfg);
}

/* ---- Keras JSON: read -------------------------------------------------- */

typedef struct ref { const char *layer; int call, tensor; } ref;

/* A [name, node_index, tensor_index, ...] array. */
static int parse_ref(const cJSON *a, ref *r)
{
    const cJSON *n = cJSON_GetArrayItem(a, 0), *c = cJSON_GetArrayItem(a, 1),
                *t = cJSON_GetArrayItem(a, 2);
    if (!cJSON_IsArray(a) || !cJSON_IsString(n) || !cJSON_IsNumber(c) || c->valuedouble < 0 ||
        c->valuedouble > 1e6 ||
        (t && (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble > 1e6)))
        return cr_fail(CREST_E_FORMAT, "an inbound node reference is not [name, index, index]");
    r->layer = n->valuestring;
    r->call = (int)c->valuedouble;
    r->tensor = t ? (int)t->valuedouble : 0;
    return CREST_OK;
}

/* Keras 3: tensors inside args, as {"class_name": "__keras_tensor__",
 * "config": {"keras_history": [name, node, tensor]}}, possibly in lists. */
static int collect_k3(const cJSON *v, ref *refs, int *n)
{
    if (cJSON_IsArray(v)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            int rc = collect_k3(e, refs, n);
            if (rc)
                return rc;
        }
        return CREST_OK;
    }
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(v, "class_name");
    if (!cJSON_IsString(cls) || strcmp(cls->valuestring, "__keras_tensor__"))
        return CREST_OK;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(v, "config"),
                                                      "keras_history");
    if (*n == CR_MAX_IO)
        return cr_fail(CREST_E_FORMAT, "a layer call has more than %d inputs", CR_MAX_IO);
    return parse_ref(h, &refs[(*n)++]);
}

/* The inputs of one call, Keras 2 ([[name, node, tensor, kwargs], ...]) or
 * Keras 3 ({"args": [...], "kwargs": {...}}). */
static int call_refs(const cJSON *call, ref *refs, int *n)
{
    *n = 0;
    if (cJSON_IsObject(call))
        return collect_k3(cJSON_GetObjectItemCaseSensitive(call, "args"), refs, n);
    if (!cJSON_IsArray(call))
        return cr_fail(CREST_E_FORMAT, "an inbound node is neither a list nor an object");
    const cJSON *e;
    cJSON_ArrayForEach(e, call)
    {
        if (*n == CR_MAX_IO)
            return cr_fail(CREST_E_FORMAT, "a layer call has more than %d inputs", CR_MAX_IO);
        int rc = parse_ref(e, &refs[(*n)++]);
        if (rc)
            return rc;
    }
    return CREST_OK;
}

/* ---- nested models ------------------------------------------------------
 *
 * A model's "layers" may hold models (class Sequential, Model or Functional):
 * Keras' nested models. crest flattens them as it reads: each layer inside
 * a nested model becomes a layer of the outer model, applied to the outer
 * tensors the nested model was called on (each call of the nested model
 * applies its layers again, sharing their weights), so cutting, freezing,
 * summary and weights see every inner layer by its own name, as the
 * weights of TF.js and Keras files name them. An inner layer whose name the
 * outer model already uses is renamed "<nested model>_<layer>".
 *
 * Keras counts a nested model's own construction as its node 0 when it has
 * an Input (every Functional, a Sequential with an input shape), so the
 * outer references to its calls start at 1 (Keras 2's
 * _should_skip_first_node; TF.js writes the same). */

#define MAX_NEST_DEPTH 32

typedef struct nest nest;

typedef struct pending {
    const cJSON *json;            /* the layer entry */
    const char *name;
    crest_layer *layer;           /* a layer, or NULL */
    nest *sub;                    /* a nested model, or NULL */
    bool input;                   /* an InputLayer */
    crest_sym **out;              /* per call: `width` outputs */
    int width;                    /* 1, or CR_MAX_IO for nested models */
    int n_calls, done, skip;
    bool owned;                   /* pushed into the model */
} pending;

struct nest {
    const char *name;
    const cJSON *cfg;             /* the model's config */
    bool seq;                     /* a Sequential: a chain */
    pending *p;
    int nl;
    int depth;
    const nest *up;               /* the model holding it (cycle checks) */
};

static bool is_model_class(const char *c)
{
    return !strcmp(c, "Sequential") || !strcmp(c, "Model") || !strcmp(c, "Functional");
}

static void nest_free(nest *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->nl; i++) {
        if (!n->p[i].owned)
            crest_layer_free(n->p[i].layer);
        nest_free(n->p[i].sub);
        cr_free(n->p[i].out);
    }
    cr_free(n->p);
    cr_free(n);
}

/* The output `tensor` of call r->call (minus the entry's skip) of an entry. */
static crest_sym *lookup(nest *n, const ref *r)
{
    for (int i = 0; i < n->nl; i++) {
        pending *q = &n->p[i];
        if (strcmp(q->name, r->layer))
            continue;
        int c = r->call - q->skip;
        if (c < 0)       /* a file numbering a nested model's calls from 0 */
            c = r->call;
        return c < q->done && r->tensor < q->width ? q->out[c * q->width + r->tensor] : NULL;
    }
    return NULL;
}

static bool exists(nest *n, const ref *r)
{
    for (int i = 0; i < n->nl; i++)
        if (!strcmp(n->p[i].name, r->layer))
            return r->call < n->p[i].n_calls + n->p[i].skip && r->tensor < n->p[i].width;
    return false;
}

/* input_layers / output_layers: [[name, node, tensor], ...] or one triple. */
static int io_list(const cJSON *a, ref *refs, int *n, const char *what)
{
    *n = 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
        return cr_fail(CREST_E_FORMAT, "'%s' is missing or empty", what);
    if (cJSON_IsString(cJSON_GetArrayItem(a, 0))) {
        *n = 1;
        return parse_ref(a, refs);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (*n == CR_MAX_IO)
            return cr_fail(CREST_E_FORMAT, "'%s' has more than %d entries", what, CR_MAX_IO);
        int rc = parse_ref(e, &refs[(*n)++]);
        if (rc)
            return rc;
    }
    return CREST_OK;
}

static int nest_new(const cJSON *lj, int depth, const nest *up, crest_model *top, nest **out);

/* Whether a nested model entry has an Input of its own (then Keras counts
 * its construction as node 0). */
static bool has_own_input(const cJSON *lj)
{
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(lj, "class_name");
    if (cJSON_IsString(cls) && strcmp(cls->valuestring, "Sequential"))
        return true;
    cr_dims d;
    bool found = false;
    return cr_nest_input_shape(lj, &d, &found) == CREST_OK && found;
}

/* Step 1 for one entry of "layers": its name and number of calls; an
 * InputLayer becomes an Input of m when top (else it is bound at each call),
 * a model a nest, any other class a layer (not yet applied). i: the entry's
 * index (earlier entries are in n->p[0..i)). */
static int read_entry(crest_model *m, nest *n, int i, const cJSON *lj, bool top)
{
    pending *p = n->p, *q = &p[i];
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(lj, "class_name");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(lj, "config");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(lj, "name");
    const cJSON *calls = cJSON_GetObjectItemCaseSensitive(lj, "inbound_nodes");
    if (!cJSON_IsString(nm))
        nm = cJSON_GetObjectItemCaseSensitive(c, "name");
    if (!cJSON_IsString(cls) || !cJSON_IsObject(c) || !cJSON_IsString(nm) ||
        (calls && !cJSON_IsArray(calls)))
        return cr_fail(CREST_E_FORMAT, "layer %d: needs class_name, config, name and an "
                                       "inbound_nodes list", i);
    for (int k = 0; k < i; k++)
        if (!strcmp(p[k].name, nm->valuestring))
            return cr_fail(CREST_E_FORMAT, "layer name '%s' appears twice", nm->valuestring);
    q->json = lj;
    q->name = nm->valuestring;
    q->n_calls = calls ? cJSON_GetArraySize(calls) : 0;
    q->width = 1;
    int rc;
    if (is_model_class(cls->valuestring)) {
        if ((rc = nest_new(lj, n->depth + 1, n, m, &q->sub)))
            return rc;
        q->width = CR_MAX_IO;
        q->skip = has_own_input(lj);
    } else if (strcmp(cls->valuestring, "InputLayer")) {
        if ((rc = cr_layer_from_json(lj, &q->layer)))
            return rc;
    } else {
        q->input = true;
        q->n_calls = 1;
    }
    q->out = cr_calloc((size_t)(q->n_calls ? q->n_calls : 1) * (size_t)q->width, sizeof *q->out);
    if (!q->out)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    if (!q->input || !top)
        return CREST_OK;
    cr_dims shape;
    bool found;
    if ((rc = cr_input_shape_json(c, &shape, &found)) ||
        (!found && (rc = cr_fail(CREST_E_FORMAT, "no batch_input_shape"))))
        return cr_wrap(rc, "layer '%s'", q->name);
    if (!(q->out[0] = crest_input(m, shape, q->name)))
        return cr_wrap(m->err, "layer '%s'", q->name);
    q->done = 1;
    return CREST_OK;
}

static int nest_apply(crest_model *m, nest *n, crest_sym **in, int n_in, crest_sym **out,
                      int *n_out);

/* Applies layer q->layer (the first time: renamed if m already has a layer
 * of its name) or nested model q->sub to in[0..n_in), as q's next call. */
static int apply_one(crest_model *m, nest *n, pending *q, crest_sym **in, int n_in)
{
    crest_sym **o = &q->out[q->done * q->width];
    if (q->sub) {
        int no;
        int rc = nest_apply(m, q->sub, in, n_in, o, &no);
        if (rc)
            return rc;
        q->done++;
        return CREST_OK;
    }
    if (!q->owned && n->up && crest_model_find_layer(m, q->layer->name)) {
        char nm[sizeof q->layer->name];
        int len = snprintf(nm, sizeof nm, "%s_%s", n->name, q->layer->name);
        if (len < 0 || len >= (int)sizeof nm || crest_model_find_layer(m, nm))
            return cr_fail(CREST_E_FORMAT, "layer '%s' of nested model '%s': its name is "
                           "taken in model '%s'", q->layer->name, n->name, m->name);
        snprintf(q->layer->name, sizeof q->layer->name, "%s", nm);
    }
    o[0] = cr_functional_call(m, q->layer, in, n_in);
    q->owned = true;
    if (!o[0])
        return m->err;
    q->done++;
    return CREST_OK;
}

/* The inputs of q's next call into in[0..*n); *ready false if one of them is
 * not made yet. */
static int call_inputs(nest *n, pending *q, crest_sym **in, int *ni, bool *ready)
{
    const cJSON *call = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(q->json,
                                                                             "inbound_nodes"),
                                           q->done);
    ref refs[CR_MAX_IO];
    int rc = call_refs(call, refs, ni);
    if (rc)
        return cr_wrap(rc, "layer '%s'", q->name);
    *ready = *ni > 0;
    for (int k = 0; k < *ni && *ready; k++) {
        if (!exists(n, &refs[k]))
            return cr_fail(CREST_E_FORMAT, "layer '%s': input %s[%d][%d] does not exist",
                           q->name, refs[k].layer, refs[k].call, refs[k].tensor);
        *ready = (in[k] = lookup(n, &refs[k])) != NULL;
    }
    return CREST_OK;
}

/* Step 2: applies every call whose inputs exist, until all are done. */
static int apply_calls(crest_model *m, nest *n)
{
    for (bool progress = true; progress;) {
        progress = false;
        for (int i = 0; i < n->nl; i++) {
            pending *q = &n->p[i];
            while (!q->input && q->done < q->n_calls) {
                crest_sym *in[CR_MAX_IO];
                int ni;
                bool ready = false;
                int rc = call_inputs(n, q, in, &ni, &ready);
                if (rc || !ready) {
                    if (rc)
                        return rc;
                    break;
                }
                if ((rc = apply_one(m, n, q, in, ni)))
                    return rc;
                progress = true;
            }
        }
    }
    for (int i = 0; i < n->nl; i++)
        if (n->p[i].done < n->p[i].n_calls)
            return cr_fail(CREST_E_FORMAT, "layer '%s': its inputs never become available (a "
                                           "cycle or a missing layer)", n->p[i].name);
    return CREST_OK;
}

/* The tensors input_layers or output_layers of n's config name, after its
 * calls are applied. */
static int io_syms(nest *n, const char *key, crest_sym **s, int *ns)
{
    ref r[CR_MAX_IO];
    int rc = io_list(cJSON_GetObjectItemCaseSensitive(n->cfg, key), r, ns, key);
    for (int k = 0; !rc && k < *ns; k++)
        if (!(s[k] = lookup(n, &r[k])))
            rc = cr_fail(CREST_E_FORMAT, "%s: '%s' is not a layer output", key, r[k].layer);
    return rc;
}

/* Reads the entries of a model config ("layers") into n. */
static int nest_read(crest_model *m, nest *n, bool top)
{
    const cJSON *layers = cJSON_IsArray(n->cfg) ? n->cfg
                                                : cJSON_GetObjectItemCaseSensitive(n->cfg, "layers");
    if (!cJSON_IsArray(layers))
        return cr_fail(CREST_E_FORMAT, "model config has no layers");
    int nl = cJSON_GetArraySize(layers), i = 0, rc;
    if (nl < 1 || nl > 100000)
        return cr_fail(CREST_E_FORMAT, "model has %d layers", nl);
    if (!(n->p = cr_calloc((size_t)nl, sizeof *n->p)))
        return cr_fail(CREST_E_NOMEM, "out of memory reading a model");
    n->nl = nl;
    const cJSON *lj;
    cJSON_ArrayForEach(lj, layers)
    {
        if ((rc = read_entry(m, n, i++, lj, top)))
            return rc;
    }
    return CREST_OK;
}

static int nest_new(const cJSON *lj, int depth, const nest *up, crest_model *top, nest **out)
{
    *out = NULL;
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(lj, "config");
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(lj, "class_name");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(cfg, "name");
    if (!cJSON_IsString(nm))
        nm = cJSON_GetObjectItemCaseSensitive(lj, "name");
    const char *name = cJSON_IsString(nm) ? nm->valuestring : "model";
    if (depth > MAX_NEST_DEPTH)
        return cr_fail(CREST_E_FORMAT, "model '%s': models nested more than %d deep",
                       name, MAX_NEST_DEPTH);
    for (const nest *a = up; a; a = a->up)
        if (a->up && !strcmp(a->name, name))   /* the outermost may share a name */
            return cr_fail(CREST_E_FORMAT, "model '%s' is nested in itself (cyclic nesting)",
                           name);
    nest *n = cr_calloc(1, sizeof *n);
    if (!n)
        return cr_fail(CREST_E_NOMEM, "out of memory reading nested model '%s'", name);
    n->name = name;
    n->cfg = cfg;
    n->seq = cJSON_IsString(cls) && !strcmp(cls->valuestring, "Sequential");
    n->depth = depth;
    n->up = up;
    int rc = nest_read(top, n, false);
    if (rc) {
        nest_free(n);
        return cr_wrap(rc, "nested model '%s'", name);
    }
    *out = n;
    return CREST_OK;
}

/* A Sequential nest: its layers (and nested models) one after another. */
static int seq_apply(crest_model *m, nest *n, crest_sym *x, crest_sym **out)
{
    for (int i = 0; i < n->nl; i++) {
        pending *q = &n->p[i];
        if (q->input)
            continue;
        q->done = 0;
        q->n_calls = 1;
        int rc = apply_one(m, n, q, &x, 1);
        if (rc)
            return rc;
        x = q->out[0];
        if (!x || (q->sub && q->out[1]))
            return cr_fail(CREST_E_FORMAT, "layer '%s' of Sequential model '%s' does not have "
                           "one output", q->name, n->name);
    }
    *out = x;
    return CREST_OK;
}

/* One call of a nested model on in[0..n_in): its layers applied afresh
 * (weights shared with earlier calls); outputs into out[0..*n_out). */
static int nest_apply(crest_model *m, nest *n, crest_sym **in, int n_in, crest_sym **out,
                      int *n_out)
{
    int rc;
    memset(out, 0, CR_MAX_IO * sizeof *out);
    *n_out = 1;
    if (n->seq) {
        if (n_in != 1)
            rc = cr_fail(CREST_E_FORMAT, "called on %d tensors", n_in);
        else
            rc = seq_apply(m, n, in[0], out);
        return rc ? cr_wrap(rc, "nested model '%s'", n->name) : CREST_OK;
    }
    for (int i = 0; i < n->nl; i++) {
        n->p[i].done = 0;
        memset(n->p[i].out, 0, (size_t)n->p[i].width * sizeof *n->p[i].out);
    }
    ref r[CR_MAX_IO];
    int ni;
    if ((rc = io_list(cJSON_GetObjectItemCaseSensitive(n->cfg, "input_layers"), r, &ni,
                      "input_layers")))
        return cr_wrap(rc, "nested model '%s'", n->name);
    if (ni != n_in)
        return cr_fail(CREST_E_FORMAT, "nested model '%s' has %d inputs, called on %d",
                       n->name, ni, n_in);
    for (int k = 0; k < ni; k++) {
        pending *q = NULL;
        for (int i = 0; i < n->nl && !q; i++)
            if (!strcmp(n->p[i].name, r[k].layer) && n->p[i].input)
                q = &n->p[i];
        if (!q)
            return cr_fail(CREST_E_FORMAT, "nested model '%s': input '%s' is no InputLayer",
                           n->name, r[k].layer);
        q->out[0] = in[k];
        q->done = 1;
    }
    if (!(rc = apply_calls(m, n)))
        rc = io_syms(n, "output_layers", out, n_out);
    return rc ? cr_wrap(rc, "nested model '%s'", n->name) : CREST_OK;
}

int cr_nest_input_shape(const cJSON *lj, cr_dims *in, bool *found)
{
    *found = false;
    for (int depth = 0; depth <= MAX_NEST_DEPTH; depth++) {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(lj, "class_name");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(lj, "config");
        if (!cJSON_IsString(cls))
            return CREST_OK;
        if (!is_model_class(cls->valuestring))
            return cr_input_shape_json(c, in, found);
        const cJSON *layers = cJSON_IsArray(c) ? c : cJSON_GetObjectItemCaseSensitive(c, "layers");
        lj = cJSON_GetArrayItem(layers, 0);   /* Sequential: its first; Model: an Input */
        if (strcmp(cls->valuestring, "Sequential")) {
            const cJSON *e;
            cJSON_ArrayForEach(e, layers)
            {
                const cJSON *ec = cJSON_GetObjectItemCaseSensitive(e, "class_name");
                if (cJSON_IsString(ec) && !strcmp(ec->valuestring, "InputLayer")) {
                    lj = e;
                    break;
                }
            }
        }
    }
    return cr_fail(CREST_E_FORMAT, "models nested more than %d deep", MAX_NEST_DEPTH);
}

bool cr_nest_is_model(const cJSON *lj)
{
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(lj, "class_name");
    return cJSON_IsString(cls) && is_model_class(cls->valuestring);
}

int cr_nest_add(crest_model *m, const cJSON *lj)
{
    nest *n = NULL;
    crest_sym *in[CR_MAX_IO], *x = cr_functional_output(m, 0), *out[CR_MAX_IO];
    int no = 0, rc = nest_new(lj, 1, NULL, m, &n);
    if (!rc && (cr_functional_inputs(m, in) != 1 || !x))
        rc = cr_fail(CREST_E_STATE, "model '%s' is not a chain", m->name);
    if (!rc)
        rc = cr_functional_reopen(m);
    if (!rc)
        rc = nest_apply(m, n, &x, 1, out, &no);
    if (!rc && (no != 1 || !out[0]))
        rc = cr_fail(CREST_E_FORMAT, "nested model '%s' has %d outputs in a Sequential model",
                     n->name, no);
    if (!rc)
        rc = cr_functional_set_outputs(m, in, 1, out, 1, false);
    nest_free(n);
    return rc;
}

/* The functional kind's from_json: the "config" of a Model / Functional. */
static int fn_from_json(const char *class_name, const cJSON *cfg, crest_model **out)
{
    (void)class_name;
    *out = NULL;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(cfg, "name");
    crest_model *m = NULL;
    nest *n = cr_calloc(1, sizeof *n);
    crest_sym *si[CR_MAX_IO], *so[CR_MAX_IO];
    int ni, no, rc;
    if (!n)
        return cr_fail(CREST_E_NOMEM, "out of memory reading a functional model");
    n->name = cJSON_IsString(name) ? name->valuestring : "model";
    n->cfg = cfg;
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(cfg, "layers")))
        rc = cr_fail(CREST_E_FORMAT, "functional model config has no layers");
    else if (!(rc = crest_functional_new(&m, n->name)) && !(rc = nest_read(m, n, true)) &&
             !(rc = apply_calls(m, n)) && !(rc = io_syms(n, "input_layers", si, &ni)) &&
             !(rc = io_syms(n, "output_layers", so, &no)))
        rc = crest_functional_outputs(m, si, ni, so, no);
    nest_free(n);
    if (rc) {
        crest_model_free(m);
        return rc;
    }
    *out = m;
    return CREST_OK;
}

const cr_model_kind cr_functional_kind = {
    .class_name = "Model", .alias = "Functional", .from_json = fn_from_json,
    .to_json = fn_to_json, .trace = cr_functional_trace, .destroy = cr_functional_destroy,
};
