/* functional.c - Keras' functional API: Inputs, layers applied to symbolic
 * tensors, models from inputs to outputs; and the Keras JSON form of such
 * models (Keras 2 / TF.js `inbound_nodes` arrays, Keras 3 `args` with
 * `keras_history`), read and written.
 *
 * A model records each application of a layer as a symbolic tensor (sym);
 * tracing walks the syms in creation order (a topological order: a sym's
 * inputs always exist before it) and applies the layers to graph nodes, so
 * the same executor, planner and fit serve functional models too.
 */
#include "internal.h"
#include "json.h"

#include <stdio.h>

struct crest_sym {
    int id;                       /* index in fn->syms */
    crest_layer *layer;           /* NULL: an Input */
    int call;                     /* which application of layer (Keras node_index) */
    int n_in;
    crest_sym **in;
    cr_dims shape;                /* Inputs: shape without the batch */
    char name[128];               /* Inputs: the InputLayer's name */
    bool needed;                  /* reachable from the outputs */
};

typedef struct fn_impl {
    crest_sym **syms;
    int n, cap;
    crest_sym *inputs[CR_MAX_IO], *outputs[CR_MAX_IO];
    int n_inputs, n_outputs;
    bool done;                    /* outputs set */
} fn_impl;

/* Functional and Sequential models (they share the destroy). */
static fn_impl *impl_of(const crest_model *m)
{
    return m && m->kind && m->kind->destroy == cr_functional_destroy ? m->impl : NULL;
}

void cr_functional_destroy(crest_model *m)
{
    fn_impl *f = m->impl;
    if (!f)
        return;
    for (int i = 0; i < f->n; i++) {
        cr_free(f->syms[i]->in);
        cr_free(f->syms[i]);
    }
    cr_free(f->syms);
    cr_free(f);
    m->impl = NULL;
}

int cr_functional_alloc(const cr_model_kind *kind, const char *name, crest_model **out)
{
    *out = NULL;
    crest_model *m = cr_model_alloc(kind, name);
    if (!m)
        return CREST_E_NOMEM;
    m->impl = cr_calloc(1, sizeof(fn_impl));
    if (!m->impl) {
        crest_model_free(m);
        return cr_fail(CREST_E_NOMEM, "out of memory creating a functional model");
    }
    *out = m;
    return CREST_OK;
}

int crest_functional_new(crest_model **out, const char *name)
{
    if (!out)
        return cr_fail(CREST_E_ARG, "functional_new: out is NULL");
    return cr_functional_alloc(&cr_functional_kind, name && *name ? name : "model", out);
}

static crest_sym *sym_new(crest_model *m, fn_impl *f)
{
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 32;
        crest_sym **s = cr_realloc(f->syms, (size_t)cap * sizeof *s);
        if (!s)
            goto nomem;
        f->syms = s;
        f->cap = cap;
    }
    crest_sym *s = cr_calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->id = f->n;
    f->syms[f->n++] = s;
    return s;
nomem:
    cr_model_fail(m, cr_fail(CREST_E_NOMEM, "out of memory building model '%s'", m->name));
    return NULL;
}

static bool name_used(const crest_model *m, const fn_impl *f, const char *name)
{
    for (int i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i]->name, name))
            return true;
    for (int i = 0; i < f->n; i++)
        if (!f->syms[i]->layer && !strcmp(f->syms[i]->name, name))
            return true;
    return false;
}

/* m takes new tensors; public: only through the functional API (a
 * Sequential model grows by crest_add). */
static int usable(crest_model *m, fn_impl **f, bool public)
{
    *f = impl_of(m);
    if (!*f || (public && m->kind != &cr_functional_kind))
        return cr_fail(CREST_E_ARG, "not a functional model");
    if (m->err)
        return cr_fail(m->err, "%s", m->errmsg);
    if ((*f)->done)
        return cr_model_fail(m, cr_fail(CREST_E_STATE, "model '%s' is complete: its outputs "
                                                        "are set", m->name));
    return CREST_OK;
}

static crest_sym *input(crest_model *m, crest_dims shape, const char *name, bool public)
{
    fn_impl *f;
    if (usable(m, &f, public))
        return NULL;
    if (shape.ndim < 1 || shape.ndim >= CREST_MAX_DIMS) {
        cr_model_fail(m, cr_fail(CREST_E_SHAPE, "Input: rank %d", shape.ndim));
        return NULL;
    }
    for (int i = 0; i < shape.ndim; i++)
        if (shape.d[i] < 1 || shape.d[i] > (1 << 24)) {
            cr_model_fail(m, cr_fail(CREST_E_SHAPE, "Input: dimension %d is %lld", i,
                                     (long long)shape.d[i]));
            return NULL;
        }
    if (name && (!*name || strlen(name) >= sizeof ((crest_sym *)0)->name || strchr(name, '/') ||
                 name_used(m, f, name))) {
        cr_model_fail(m, cr_fail(CREST_E_ARG, "Input name '%s' is empty, too long or taken",
                                 name));
        return NULL;
    }
    crest_sym *s = sym_new(m, f);
    if (!s)
        return NULL;
    s->shape = shape;
    if (name) {
        snprintf(s->name, sizeof s->name, "%s", name);
    } else {   /* Keras: input_1, input_2, ... */
        for (int k = 1;; k++) {
            snprintf(s->name, sizeof s->name, "input_%d", k);
            if (!name_used(m, f, s->name) || k > 100000)
                break;
        }
    }
    return s;
}

static bool owns(const crest_model *m, const crest_layer *l)
{
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i] == l)
            return true;
    return false;
}

crest_sym *crest_input(crest_model *m, crest_dims shape, const char *name)
{
    return input(m, shape, name, true);
}

crest_sym *cr_functional_input(crest_model *m, crest_dims shape, const char *name)
{
    return input(m, shape, name, false);
}

static crest_sym *call(crest_model *m, crest_layer *l, crest_sym **in, int n_in, bool public)
{
    fn_impl *f;
    int rc = usable(m, &f, public);
    if (rc) {
        if (m && !owns(m, l))
            crest_layer_free(l);
        return NULL;
    }
    if (!l) {
        cr_model_fail(m, cr_wrap(CREST_E_ARG, "applying a layer that failed to be created"));
        return NULL;
    }
    bool known = owns(m, l);
    if (!known && (rc = cr_model_push_layer(m, l))) {   /* consumes l */
        cr_model_fail(m, rc);
        return NULL;
    }
    if (n_in < 1 || n_in > CR_MAX_IO) {
        cr_model_fail(m, cr_fail(CREST_E_ARG, "layer '%s': %d inputs", l->name, n_in));
        return NULL;
    }
    for (int i = 0; i < n_in; i++)
        if (!in[i] || in[i]->id >= f->n || f->syms[in[i]->id] != in[i]) {
            cr_model_fail(m, cr_fail(CREST_E_ARG, "layer '%s': input %d is not a tensor of "
                                                   "model '%s'", l->name, i, m->name));
            return NULL;
        }
    crest_sym *s = sym_new(m, f);
    if (!s)
        return NULL;
    s->in = cr_malloc((size_t)n_in * sizeof *s->in);
    if (!s->in) {
        cr_model_fail(m, cr_fail(CREST_E_NOMEM, "out of memory"));
        return NULL;
    }
    memcpy(s->in, in, (size_t)n_in * sizeof *s->in);
    s->n_in = n_in;
    s->layer = l;
    for (int i = 0; i < f->n - 1; i++)
        s->call += f->syms[i]->layer == l;
    return s;
}

crest_sym *crest_call(crest_model *m, crest_layer *l, crest_sym **in, int n_in)
{
    return call(m, l, in, n_in, true);
}

crest_sym *cr_functional_call(crest_model *m, crest_layer *l, crest_sym **in, int n_in)
{
    return call(m, l, in, n_in, false);
}

crest_sym *crest_apply(crest_model *m, crest_layer *l, crest_sym *x)
{
    return crest_call(m, l, &x, 1);
}

static void mark_needed(crest_sym *s)
{
    if (s->needed)
        return;
    s->needed = true;
    for (int i = 0; i < s->n_in; i++)
        mark_needed(s->in[i]);
}

static int set_outputs(crest_model *m, crest_sym **inputs, int n_inputs, crest_sym **outputs,
                       int n_outputs, bool build, bool public)
{
    fn_impl *f;
    int rc = usable(m, &f, public);
    if (rc)
        return rc;
    if (n_inputs < 1 || n_inputs > CR_MAX_IO || n_outputs < 1 || n_outputs > CR_MAX_IO)
        return cr_model_fail(m, cr_fail(CREST_E_ARG, "model '%s': %d inputs, %d outputs "
                                                      "(1 to %d each)", m->name, n_inputs,
                                        n_outputs, CR_MAX_IO));
    for (int i = 0; i < n_inputs + n_outputs; i++) {
        crest_sym *s = i < n_inputs ? inputs[i] : outputs[i - n_inputs];
        if (!s || s->id >= f->n || f->syms[s->id] != s)
            return cr_model_fail(m, cr_fail(CREST_E_ARG, "model '%s': %s %d is not one of its "
                                                          "tensors", m->name,
                                            i < n_inputs ? "input" : "output",
                                            i < n_inputs ? i : i - n_inputs));
        if (i < n_inputs && s->layer)
            return cr_model_fail(m, cr_fail(CREST_E_ARG, "model '%s': input %d is not an Input",
                                            m->name, i));
    }
    for (int i = 0; i < n_outputs; i++)
        mark_needed(outputs[i]);
    for (int i = 0; i < f->n; i++) {
        crest_sym *s = f->syms[i];
        bool listed = false;
        for (int k = 0; k < n_inputs; k++)
            listed |= inputs[k] == s;
        if (!s->layer && s->needed && !listed)
            return cr_model_fail(m, cr_fail(CREST_E_ARG, "model '%s': the outputs depend on "
                                                          "Input '%s', which is not among the "
                                                          "model's inputs", m->name, s->name));
    }
    memcpy(f->inputs, inputs, (size_t)n_inputs * sizeof *inputs);
    memcpy(f->outputs, outputs, (size_t)n_outputs * sizeof *outputs);
    f->n_inputs = n_inputs;
    f->n_outputs = n_outputs;
    f->done = true;
    if (n_inputs == 1) {
        m->in_shape = inputs[0]->shape;
    } else {
        int64_t total = 0;
        for (int i = 0; i < n_inputs; i++)
            total += cr_dims_count(&inputs[i]->shape);
        m->in_shape = (cr_dims){ .ndim = 1, .d = { total } };
    }
    rc = build ? cr_model_build(m) : CREST_OK;
    return rc ? cr_model_fail(m, rc) : CREST_OK;
}

int crest_functional_outputs(crest_model *m, crest_sym **inputs, int n_inputs,
                             crest_sym **outputs, int n_outputs)
{
    return set_outputs(m, inputs, n_inputs, outputs, n_outputs, true, true);
}

int cr_functional_set_outputs(crest_model *m, crest_sym **inputs, int n_inputs,
                              crest_sym **outputs, int n_outputs, bool build)
{
    return set_outputs(m, inputs, n_inputs, outputs, n_outputs, build, false);
}

cr_node *cr_functional_trace(crest_model *m, cr_graph *g)
{
    fn_impl *f = m->impl;
    if (!f->done)
        return cr_graph_fail(g, CREST_E_STATE, "model '%s': outputs are not set", m->name);
    cr_node **v = cr_calloc((size_t)f->n, sizeof *v);
    if (!v)
        return cr_graph_fail(g, CREST_E_NOMEM, "out of memory tracing '%s'", m->name);
    for (int i = 0; i < f->n_inputs; i++) {
        v[f->inputs[i]->id] = cr_input(g, f->inputs[i]->shape);
        cr_graph_mark_input(g, v[f->inputs[i]->id]);
    }
    for (int i = 0; i < f->n && !g->err; i++) {
        crest_sym *s = f->syms[i];
        if (!s->layer || !s->needed)
            continue;
        cr_node *in[CR_MAX_IO];
        for (int k = 0; k < s->n_in; k++)
            in[k] = v[s->in[k]->id];
        v[i] = cr_layer_apply(s->layer, g, in, s->n_in);
    }
    cr_node *out = g->err ? NULL : v[f->outputs[0]->id];
    for (int i = 1; i < f->n_outputs && !g->err; i++)
        if (v[f->outputs[i]->id])
            v[f->outputs[i]->id]->keep = true;
    for (int i = 0; i < f->n_outputs && !g->err; i++)
        g->outputs[g->n_outputs++] = v[f->outputs[i]->id];
    cr_free(v);
    return out;
}

int crest_model_output_count(const crest_model *m)
{
    const fn_impl *f = impl_of(m);
    return f ? f->n_outputs : m ? 1 : 0;
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
    cr_json_add_dims(c, "batch_input_shape", &s->shape, true);
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

typedef struct pending {
    const cJSON *json;            /* the layer entry */
    const char *name;
    crest_layer *layer;           /* NULL for InputLayer */
    crest_sym **out;              /* one per call (inputs: one) */
    int n_calls, done;
    bool owned;                   /* pushed into the model */
} pending;

static crest_sym *lookup(pending *p, int n, const ref *r)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(p[i].name, r->layer))
            return r->call < p[i].done ? p[i].out[r->call] : NULL;
    return NULL;
}

static bool exists(pending *p, int n, const ref *r)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(p[i].name, r->layer))
            return r->call < p[i].n_calls;
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

/* Step 1 for one entry of "layers": its name and number of calls; an
 * InputLayer becomes an Input of m, any other class a layer (not yet
 * applied). i: the entry's index (earlier entries are in p[0..i)). */
static int read_entry(crest_model *m, pending *p, int i, const cJSON *lj)
{
    pending *q = &p[i];
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
    int rc;
    if (strcmp(cls->valuestring, "InputLayer")) {
        if ((rc = cr_layer_from_json(lj, &q->layer)))
            return rc;
        q->out = cr_calloc((size_t)(q->n_calls ? q->n_calls : 1), sizeof *q->out);
        return q->out ? CREST_OK : cr_fail(CREST_E_NOMEM, "out of memory");
    }
    cr_dims shape;
    bool found;
    if ((rc = cr_input_shape_json(c, &shape, &found)) ||
        (!found && (rc = cr_fail(CREST_E_FORMAT, "no batch_input_shape"))))
        return cr_wrap(rc, "layer '%s'", q->name);
    q->n_calls = 1;
    q->out = cr_calloc(1, sizeof *q->out);
    if (!q->out || !(q->out[0] = crest_input(m, shape, q->name))) {
        rc = q->out ? m->err : cr_fail(CREST_E_NOMEM, "out of memory");
        return cr_wrap(rc, "layer '%s'", q->name);
    }
    q->done = 1;
    return CREST_OK;
}

/* The inputs of q's next call into in[0..*n); *ready false if one of them is
 * not made yet. */
static int call_inputs(pending *p, int nl, pending *q, crest_sym **in, int *n, bool *ready)
{
    const cJSON *call = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(q->json,
                                                                             "inbound_nodes"),
                                           q->done);
    ref refs[CR_MAX_IO];
    int rc = call_refs(call, refs, n);
    if (rc)
        return cr_wrap(rc, "layer '%s'", q->name);
    *ready = *n > 0;
    for (int k = 0; k < *n && *ready; k++) {
        if (refs[k].tensor != 0 || !exists(p, nl, &refs[k]))
            return cr_fail(CREST_E_FORMAT, "layer '%s': input %s[%d][%d] does not exist",
                           q->name, refs[k].layer, refs[k].call, refs[k].tensor);
        *ready = (in[k] = lookup(p, nl, &refs[k])) != NULL;
    }
    return CREST_OK;
}

/* Step 2: applies every call whose inputs exist, until all are done. */
static int apply_calls(crest_model *m, pending *p, int nl)
{
    for (bool progress = true; progress;) {
        progress = false;
        for (int i = 0; i < nl; i++) {
            pending *q = &p[i];
            while (q->layer && q->done < q->n_calls) {
                crest_sym *in[CR_MAX_IO];
                int n;
                bool ready = false;
                int rc = call_inputs(p, nl, q, in, &n, &ready);
                if (rc || !ready) {
                    if (rc)
                        return rc;
                    break;
                }
                q->out[q->done] = crest_call(m, q->layer, in, n);
                q->owned = true;
                if (!q->out[q->done])
                    return m->err;
                q->done++;
                progress = true;
            }
        }
    }
    for (int i = 0; i < nl; i++)
        if (p[i].done < p[i].n_calls)
            return cr_fail(CREST_E_FORMAT, "layer '%s': its inputs never become available (a "
                                           "cycle or a missing layer)", p[i].name);
    return CREST_OK;
}

/* Step 3: the model's inputs and outputs (input_layers, output_layers). */
static int set_model_io(crest_model *m, const cJSON *cfg, pending *p, int nl)
{
    ref ri[CR_MAX_IO], ro[CR_MAX_IO];
    int ni, no, rc;
    crest_sym *si[CR_MAX_IO], *so[CR_MAX_IO];
    if ((rc = io_list(cJSON_GetObjectItemCaseSensitive(cfg, "input_layers"), ri, &ni,
                      "input_layers")) ||
        (rc = io_list(cJSON_GetObjectItemCaseSensitive(cfg, "output_layers"), ro, &no,
                      "output_layers")))
        return rc;
    for (int k = 0; k < ni + no; k++) {
        ref *r = k < ni ? &ri[k] : &ro[k - ni];
        crest_sym *s = r->tensor == 0 ? lookup(p, nl, r) : NULL;
        if (!s)
            return cr_fail(CREST_E_FORMAT, "%s '%s' is not a layer output",
                           k < ni ? "input" : "output", r->layer);
        if (k < ni)
            si[k] = s;
        else
            so[k - ni] = s;
    }
    return crest_functional_outputs(m, si, ni, so, no);
}

/* The functional kind's from_json: the "config" of a Model / Functional. */
static int fn_from_json(const char *class_name, const cJSON *cfg, crest_model **out)
{
    (void)class_name;
    *out = NULL;
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(cfg, "layers");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(cfg, "name");
    if (!cJSON_IsArray(layers))
        return cr_fail(CREST_E_FORMAT, "functional model config has no layers");
    int nl = cJSON_GetArraySize(layers), rc, i = 0;
    if (nl < 1 || nl > 100000)
        return cr_fail(CREST_E_FORMAT, "functional model has %d layers", nl);
    crest_model *m = NULL;
    pending *p = cr_calloc((size_t)nl, sizeof *p);
    if (!p)
        return cr_fail(CREST_E_NOMEM, "out of memory reading a functional model");
    if ((rc = crest_functional_new(&m, cJSON_IsString(name) ? name->valuestring : "model")))
        goto out;
    const cJSON *lj;
    cJSON_ArrayForEach(lj, layers)
    {
        if ((rc = read_entry(m, p, i++, lj)))
            goto out;
    }
    if (!(rc = apply_calls(m, p, nl)))
        rc = set_model_io(m, cfg, p, nl);
out:
    for (i = 0; i < nl; i++) {
        if (!p[i].owned)
            crest_layer_free(p[i].layer);
        cr_free(p[i].out);
    }
    cr_free(p);
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

/* ---- predict: any output ------------------------------------------------ */

int crest_predict_output(crest_model *m, int k, const float *x, size_t n, float *out)
{
    if (!m || k < 0 || k >= crest_model_output_count(m))
        return cr_fail(CREST_E_ARG, "predict_output: output %d does not exist", k);
    return cr_predict_node(m, k, x, n, out);
}

/* ---- transfer learning support (used by src/transfer.c) ---------------- */

crest_sym *cr_functional_output(crest_model *m, int k)
{
    fn_impl *f = impl_of(m);
    return f && f->done && k >= 0 && k < f->n_outputs ? f->outputs[k] : NULL;
}

int cr_functional_inputs(crest_model *m, crest_sym **inputs)
{
    fn_impl *f = impl_of(m);
    if (!f || !f->done)
        return 0;
    memcpy(inputs, f->inputs, (size_t)f->n_inputs * sizeof *inputs);
    return f->n_inputs;
}

crest_sym *cr_functional_find(crest_model *m, const char *layer)
{
    fn_impl *f = impl_of(m);
    for (int i = f ? f->n - 1 : -1; i >= 0; i--) {   /* the last application */
        crest_sym *s = f->syms[i];
        if (!strcmp(s->layer ? s->layer->name : s->name, layer))
            return s;
    }
    return NULL;
}

crest_layer *cr_sym_layer(const crest_sym *s) { return s ? s->layer : NULL; }
int cr_sym_n_in(const crest_sym *s) { return s ? s->n_in : 0; }
crest_sym *cr_sym_in(const crest_sym *s, int i) { return s && i < s->n_in ? s->in[i] : NULL; }

int cr_functional_reopen(crest_model *m)
{
    fn_impl *f = impl_of(m);
    if (!f || m->err)
        return cr_fail(CREST_E_ARG, "model '%s' is not a complete functional model",
                       m ? m->name : "(null)");
    f->done = false;
    for (int i = 0; i < f->n; i++)
        f->syms[i]->needed = false;
    cr_model_invalidate(m);
    return CREST_OK;
}

/* Drops every tensor and layer the outputs do not depend on (a cut), then
 * rebuilds. Inputs listed by the model stay. */
int cr_functional_prune(crest_model *m)
{
    fn_impl *f = impl_of(m);
    if (!f || !f->done)
        return cr_fail(CREST_E_STATE, "prune: model outputs are not set");
    int n = 0;
    for (int i = 0; i < f->n; i++) {
        crest_sym *s = f->syms[i];
        bool keep = s->needed;
        for (int k = 0; k < f->n_inputs; k++)
            keep |= f->inputs[k] == s;
        if (!keep) {
            cr_free(s->in);
            cr_free(s);
            continue;
        }
        s->id = n;
        s->call = 0;
        for (int j = 0; j < n; j++)
            s->call += s->layer && f->syms[j]->layer == s->layer;
        f->syms[n++] = s;
    }
    f->n = n;
    int nl = 0;
    for (int li = 0; li < m->n_layers; li++) {
        crest_layer *l = m->layers[li];
        bool used = false;
        for (int i = 0; i < f->n && !used; i++)
            used = f->syms[i]->layer == l;
        if (used)
            m->layers[nl++] = l;
        else
            crest_layer_free(l);
    }
    m->n_layers = nl;
    cr_model_invalidate(m);
    m->n_weights = 0;
    return cr_model_build(m);
}
