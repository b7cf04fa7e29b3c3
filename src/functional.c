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
