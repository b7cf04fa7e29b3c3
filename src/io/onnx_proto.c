/* onnx_proto.c - the ONNX writer's building blocks (src/io/onnx_build.h):
 * the arena every part of the message is allocated in, value names, nodes
 * and their attributes, initializers and constants, as the protobuf-c
 * structs of build/gen/onnx.pb-c.h. */
#include "onnx_build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *cr_ox_alloc(ox *o, size_t n)
{
    if (o->err)
        return NULL;
    if (o->n_mem == o->cap_mem) {
        size_t cap = o->cap_mem ? 2 * o->cap_mem : 256;
        void **m = cr_realloc(o->mem, cap * sizeof *m);
        if (!m) {
            o->err = cr_fail(CREST_E_NOMEM, "out of memory writing ONNX");
            return NULL;
        }
        o->mem = m;
        o->cap_mem = cap;
    }
    void *p = cr_calloc(1, n ? n : 1);
    if (!p) {
        o->err = cr_fail(CREST_E_NOMEM, "out of memory writing ONNX");
        return NULL;
    }
    o->mem[o->n_mem++] = p;
    return p;
}

char *cr_ox_str(ox *o, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *s = cr_ox_alloc(o, strlen(buf) + 1);
    if (s)
        memcpy(s, buf, strlen(buf) + 1);
    return s;
}

char *cr_ox_fresh(ox *o, const char *what) { return cr_ox_str(o, "%s_%d", what, o->tmp++); }

/* Appends p to a growable array of pointers (arrays live outside o->mem:
 * they are realloc'ed; freed by ox_free). */
bool cr_ox_push(ox *o, void ***arr, size_t *n, size_t *cap, void *p)
{
    if (o->err || !p)
        return false;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        void **a = cr_realloc(*arr, c * sizeof *a);
        if (!a) {
            o->err = cr_fail(CREST_E_NOMEM, "out of memory writing ONNX");
            return false;
        }
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = p;
    return true;
}

/* A node op_type(in...) -> out; in entries may be "" (an omitted input). */
Onnx__NodeProto *cr_ox_node(ox *o, const char *op_type, const char *const *in, int n_in,
                                const char *out)
{
    Onnx__NodeProto *n = cr_ox_alloc(o, sizeof *n);
    char **ins = cr_ox_alloc(o, (size_t)(n_in > 0 ? n_in : 1) * sizeof *ins);
    char **outs = cr_ox_alloc(o, sizeof *outs);
    if (!n || !ins || !outs || !out)
        return NULL;
    onnx__node_proto__init(n);
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) {
            o->err = cr_fail(CREST_E_INTERNAL, "ONNX: an input of %s has no value", op_type);
            return NULL;
        }
        ins[i] = (char *)in[i];
    }
    n->n_input = (size_t)n_in;
    n->input = ins;
    outs[0] = (char *)out;
    n->n_output = 1;
    n->output = outs;
    n->op_type = (char *)op_type;
    n->name = cr_ox_str(o, "%s_%zu", op_type, o->g->n_node);
    if (!cr_ox_push(o, (void ***)&o->g->node, &o->g->n_node, &o->cap_node, n))
        return NULL;
    return n;
}

Onnx__AttributeProto *cr_ox_attr(ox *o, Onnx__NodeProto *n, const char *name,
                                     Onnx__AttributeProto__AttributeType type)
{
    if (!n)
        return NULL;
    Onnx__AttributeProto *a = cr_ox_alloc(o, sizeof *a);
    Onnx__AttributeProto **arr = cr_ox_alloc(o, (n->n_attribute + 1) * sizeof *arr);
    if (!a || !arr)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = true;
    a->type = type;
    if (n->n_attribute)
        memcpy(arr, n->attribute, n->n_attribute * sizeof *arr);
    arr[n->n_attribute++] = a;
    n->attribute = arr;
    return a;
}

void cr_ox_attr_i(ox *o, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = cr_ox_attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) {
        a->has_i = true;
        a->i = v;
    }
}

void cr_ox_attr_s(ox *o, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = cr_ox_attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    if (a) {
        a->has_s = true;
        a->s.data = (uint8_t *)v;
        a->s.len = strlen(v);
    }
}

void cr_ox_attr_f(ox *o, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = cr_ox_attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) {
        a->has_f = true;
        a->f = v;
    }
}

void cr_ox_attr_ints(ox *o, Onnx__NodeProto *n, const char *name, const int64_t *v, int k)
{
    Onnx__AttributeProto *a = cr_ox_attr(o, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *c = cr_ox_alloc(o, (size_t)k * sizeof *c);
    if (a && c) {
        memcpy(c, v, (size_t)k * sizeof *c);
        a->n_ints = (size_t)k;
        a->ints = c;
    }
}

/* An initializer: raw little-endian data (not copied: it must outlive the
 * pack), dims[0..nd). Returns its name. */
char *cr_ox_init(ox *o, char *name, int32_t dtype, const void *data, size_t bytes,
                     const int64_t *dims, int nd)
{
    Onnx__TensorProto *t = cr_ox_alloc(o, sizeof *t);
    int64_t *d = cr_ox_alloc(o, (size_t)(nd > 0 ? nd : 1) * sizeof *d);
    if (!t || !d || !name)
        return NULL;
    onnx__tensor_proto__init(t);
    if (nd > 0)         /* scalars: dims is NULL */
        memcpy(d, dims, (size_t)nd * sizeof *d);
    t->n_dims = (size_t)nd;
    t->dims = d;
    t->has_data_type = true;
    t->data_type = dtype;
    t->name = name;
    t->has_raw_data = true;
    t->raw_data.data = (uint8_t *)data;
    t->raw_data.len = bytes;
    if (!cr_ox_push(o, (void ***)&o->g->initializer, &o->g->n_initializer, &o->cap_init, t))
        return NULL;
    return name;
}

char *cr_ox_const_i64(ox *o, const char *what, const int64_t *v, int k)
{
    int64_t *c = cr_ox_alloc(o, (size_t)k * sizeof *c);
    if (!c)
        return NULL;
    memcpy(c, v, (size_t)k * sizeof *c);
    return cr_ox_init(o, cr_ox_fresh(o, what), ONNX__TENSOR_PROTO__DATA_TYPE__INT64, c,
                   (size_t)k * sizeof *c, (int64_t[]){ k }, 1);
}

/* A float constant of shape dims (copied). */
char *cr_ox_const_f32(ox *o, const char *what, const float *v, int64_t count,
                       const int64_t *dims, int nd)
{
    float *c = cr_ox_alloc(o, (size_t)count * sizeof *c);
    if (!c)
        return NULL;
    memcpy(c, v, (size_t)count * sizeof *c);
    return cr_ox_init(o, cr_ox_fresh(o, what), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, c,
                   (size_t)count * sizeof *c, dims, nd);
}

/* A float scalar; one initializer per distinct value. */
char *cr_ox_scalar_f32(ox *o, float v)
{
    for (size_t i = 0; i < o->g->n_initializer; i++) {
        const Onnx__TensorProto *t = o->g->initializer[i];
        if (t->n_dims == 0 && t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT &&
            t->raw_data.len == sizeof v && !memcmp(t->raw_data.data, &v, sizeof v))
            return t->name;
    }
    return cr_ox_const_f32(o, "c", &v, 1, NULL, 0);
}

char *cr_ox_unary(ox *o, const char *op_type, const char *x, const char *out)
{
    return cr_ox_node(o, op_type, &x, 1, out) ? (char *)out : NULL;
}

char *cr_ox_binary(ox *o, const char *op_type, const char *a, const char *b, const char *out)
{
    return cr_ox_node(o, op_type, (const char *[]){ a, b }, 2, out) ? (char *)out : NULL;
}

void cr_ox_free(ox *o)
{
    for (size_t i = 0; i < o->n_mem; i++)
        cr_free(o->mem[i]);
    cr_free(o->mem);
    if (o->g) {
        cr_free(o->g->node);
        cr_free(o->g->initializer);
    }
    cr_free(o->w_done);
    cr_free(o->w_name);
}
