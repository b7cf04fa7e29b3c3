/* functional_graph.c - the symbolic tensors of functional and Sequential
 * models: Inputs, layers applied to them, outputs; tracing them into graphs;
 * and the edits transfer learning makes (reopen, prune). The functional
 * kind itself (constructor, Keras JSON) is src/functional.c, the
 * Sequential one src/sequential.c.
 *
 * A model records each application of a layer as a symbolic tensor (sym);
 * tracing walks the syms in creation order (a topological order: a sym's
 * inputs always exist before it) and applies the layers to graph nodes, so
 * the same executor, planner and fit serve functional models too.
 */
#include "internal.h"
#include "functional_graph.h"

#include <stdio.h>

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

int cr_functional_alloc(const cr_model_kind *kind, const char *name, bool chain,
                        crest_model **out)
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
    ((fn_impl *)m->impl)->chain = chain;
    *out = m;
    return CREST_OK;
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
    if (!*f || (public && (*f)->chain))
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
        if ((shape.d[i] < 1 && shape.d[i] != CREST_DIM_NONE) || shape.d[i] > (1 << 24)) {
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
    char auto_name[32];
    for (int k = 1; !name; k++) {      /* Keras: input_1, input_2, ... (before s exists:
                                        * name_used must not find s itself) */
        snprintf(auto_name, sizeof auto_name, "input_%d", k);
        if (!name_used(m, f, auto_name) || k > 100000)
            name = auto_name;
    }
    crest_sym *s = sym_new(m, f);
    if (!s)
        return NULL;
    s->shape = shape;
    snprintf(s->name, sizeof s->name, "%s", name);
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
        for (int i = 0; i < n_inputs; i++) {
            if (cr_dims_unknown(&inputs[i]->shape))
                return cr_model_fail(m, cr_fail(CREST_E_UNSUPPORTED, "model '%s': Input '%s' "
                                                "has unknown dimensions (None), which crest "
                                                "supports on single-input models only",
                                                m->name, inputs[i]->name));
            total += cr_dims_count(&inputs[i]->shape);
        }
        m->in_shape = (cr_dims){ .ndim = 1, .d = { total } };
    }
    cr_model_set_declared(m);
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
        v[f->inputs[i]->id] = cr_input(g, cr_model_trace_shape(m, &f->inputs[i]->shape));
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

static crest_sym *find_exact(crest_model *m, const char *layer)
{
    fn_impl *f = impl_of(m);
    for (int i = f ? f->n - 1 : -1; i >= 0; i--) {   /* the last application */
        crest_sym *s = f->syms[i];
        if (!strcmp(s->layer ? s->layer->name : s->name, layer))
            return s;
    }
    return NULL;
}

static void *sym_named(void *m, const char *layer) { return find_exact(m, layer); }

crest_sym *cr_functional_find(crest_model *m, const char *layer)
{
    return cr_find_by_path(layer, sym_named, m);
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

/* ---- layers put in front of a model, or bypassed ------------------------ */

/* Moves the last n syms to just after sym `at`, the last n layers to the
 * front, and renumbers (creation order stays a topological order when the
 * moved syms depend on `at` only). */
static void move_front(crest_model *m, fn_impl *f, const crest_sym *at, int n)
{
    crest_sym *moved[64];
    memcpy(moved, f->syms + f->n - n, (size_t)n * sizeof *moved);
    int pos = at->id + 1;
    memmove(f->syms + pos + n, f->syms + pos, (size_t)(f->n - n - pos) * sizeof *f->syms);
    memcpy(f->syms + pos, moved, (size_t)n * sizeof *moved);
    for (int i = 0; i < f->n; i++)
        f->syms[i]->id = i;
    crest_layer *ml[64];
    memcpy(ml, m->layers + m->n_layers - n, (size_t)n * sizeof *ml);
    memmove(m->layers + n, m->layers, (size_t)(m->n_layers - n) * sizeof *m->layers);
    memcpy(m->layers, ml, (size_t)n * sizeof *ml);
}

int crest_model_prepend(crest_model *m, crest_layer *const *layers, int n,
                        const crest_dims *input_shape)
{
    fn_impl *f = impl_of(m);
    int rc = CREST_OK;
    if (!f || !f->done || f->n_inputs != 1 || m->err || n < 1 || n > 64 || !layers)
        rc = cr_fail(CREST_E_ARG, "prepend: needs a complete model of one input and 1 to 64 "
                                  "layers");
    for (int i = 0; !rc && i < n; i++)
        if (!layers[i])
            rc = cr_fail(CREST_E_ARG, "prepend: layer %d is NULL", i);
    if (rc) {
        for (int i = 0; layers && i < n && i < 64; i++)
            crest_layer_free(layers[i]);
        return rc;
    }
    crest_sym *in = f->inputs[0], *outs[CR_MAX_IO];
    int n_out = f->n_outputs, first = f->n;
    memcpy(outs, f->outputs, (size_t)n_out * sizeof *outs);
    cr_dims old = in->shape;
    rc = cr_functional_reopen(m);
    crest_sym *x = in;
    for (int i = 0; i < n; i++) {
        if (rc || !(x = cr_functional_call(m, layers[i], &x, 1))) {   /* consumes layers[i] */
            rc = rc ? rc : cr_fail(m->err, "%s", m->errmsg);
            for (int k = i + 1; k < n; k++)
                crest_layer_free(layers[k]);
            return cr_wrap(rc, "prepend to '%s'", m->name);   /* m->err is sticky */
        }
    }
    for (int i = 0; i < first; i++)   /* the model's uses of its input take x */
        for (int k = 0; k < f->syms[i]->n_in; k++)
            if (f->syms[i]->in[k] == in)
                f->syms[i]->in[k] = x;
    for (int k = 0; k < n_out; k++)
        if (outs[k] == in)
            outs[k] = x;
    move_front(m, f, in, n);
    if (input_shape)
        in->shape = *input_shape;
    rc = cr_functional_set_outputs(m, &in, 1, outs, n_out, true);
    if (rc && input_shape)
        in->shape = old;
    return rc ? cr_wrap(rc, "prepend to '%s'", m->name) : CREST_OK;
}

int cr_functional_bypass(crest_model *m, bool (*drop)(const crest_layer *l, void *ctx), void *ctx,
                         int *n_dropped)
{
    fn_impl *f = impl_of(m);
    *n_dropped = 0;
    if (!f || !f->done || m->err)
        return cr_fail(CREST_E_ARG, "model '%s' is not a complete functional model",
                       m ? m->name : "(null)");
    crest_sym *ins[CR_MAX_IO], *outs[CR_MAX_IO];
    int n_in = f->n_inputs, n_out = f->n_outputs;
    memcpy(ins, f->inputs, (size_t)n_in * sizeof *ins);
    memcpy(outs, f->outputs, (size_t)n_out * sizeof *outs);
    for (int i = 0; i < f->n; i++) {
        crest_sym *s = f->syms[i];
        if (!s->layer || s->n_in != 1 || !drop(s->layer, ctx))
            continue;
        (*n_dropped)++;
        for (int j = i + 1; j < f->n; j++)   /* later uses read s's input instead */
            for (int k = 0; k < f->syms[j]->n_in; k++)
                if (f->syms[j]->in[k] == s)
                    f->syms[j]->in[k] = s->in[0];
        for (int k = 0; k < n_out; k++)
            if (outs[k] == s)
                outs[k] = s->in[0];
    }
    if (!*n_dropped)
        return CREST_OK;
    int rc = cr_functional_reopen(m);
    if (!rc)
        rc = cr_functional_set_outputs(m, ins, n_in, outs, n_out, false);
    return rc ? rc : cr_functional_prune(m);
}

static bool identity_augment(const crest_layer *l, void *ctx)
{
    (void)ctx;
    return cr_layer_inference_identity_augment(l);
}

int crest_model_strip_augmentation(crest_model *m)
{
    int n = 0, rc = cr_functional_bypass(m, identity_augment, NULL, &n);
    return rc ? cr_wrap(rc, "taking the augmentation layers out of '%s'", m ? m->name : "")
              : n;
}
