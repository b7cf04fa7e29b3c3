/* tflite_model.c - the building blocks of the TFLite writer (see
 * src/io/tflite_build.h): the model being built as growable arrays of
 * tensors, constant buffers and operators, and the arena every string and
 * array they point to lives in. src/io/tflite_ops.c fills them from a
 * traced graph; src/io/tflite.c serializes them. */
#include "tflite_build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool nomem(tl *t)
{
    if (!t->err)
        t->err = cr_fail(CREST_E_NOMEM, "out of memory writing TFLite");
    return false;
}

/* Room for one more element in a growable array of elem bytes. */
static bool room(tl *t, void **arr, int n, int *cap, size_t elem)
{
    if (t->err)
        return false;
    if (n < *cap)
        return true;
    int c = *cap ? 2 * *cap : 16;
    void *a = cr_realloc(*arr, (size_t)c * elem);
    if (!a)
        return nomem(t);
    *arr = a;
    *cap = c;
    return true;
}

void *cr_tl_alloc(tl *t, size_t n)
{
    if (!room(t, (void **)&t->mem, t->n_mem, &t->cap_mem, sizeof *t->mem))
        return NULL;
    void *p = cr_calloc(1, n ? n : 1);
    if (!p)
        return nomem(t), NULL;
    return t->mem[t->n_mem++] = p;
}

char *cr_tl_str(tl *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = k >= 0 ? cr_tl_alloc(t, (size_t)k + 1) : NULL;
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)k + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

int cr_tl_tensor(tl *t, const char *name, const int32_t *shape, int ndim, bool batched,
                 uint8_t type)
{
    if (!room(t, (void **)&t->t, t->n_t, &t->cap_t, sizeof *t->t) || !name)
        return -1;
    tl_tensor *x = &t->t[t->n_t];
    memset(x, 0, sizeof *x);
    memcpy(x->shape, shape, (size_t)ndim * sizeof *shape);
    x->ndim = ndim;
    x->batched = batched && ndim > 0;
    x->type = type;
    x->name = name;
    return t->n_t++;
}

int cr_tl_tensor_dims(tl *t, const char *name, const cr_dims *s)
{
    int32_t shape[CR_MAX_DIMS];
    for (int i = 0; i < s->ndim; i++)
        shape[i] = i == 0 ? 1 : (int32_t)s->d[i];
    return cr_tl_tensor(t, name, shape, s->ndim, true, TFL_FLOAT32);
}

int cr_tl_const(tl *t, const char *name, uint8_t type, const void *data, const int32_t *shape,
                int ndim)
{
    if (!room(t, (void **)&t->buf, t->n_buf, &t->cap_buf, sizeof *t->buf))
        return -1;
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= (size_t)shape[i];
    int k = cr_tl_tensor(t, name, shape, ndim, false, type);
    if (k < 0)
        return -1;
    t->buf[t->n_buf] = (tl_buffer){ .data = data, .count = count, .type = type };
    t->t[k].buffer = (uint32_t)t->n_buf++;
    return k;
}

int cr_tl_const_i32(tl *t, const char *name, const int32_t *v, int n)
{
    int32_t *copy = cr_tl_alloc(t, (size_t)n * sizeof *copy);
    if (!copy)
        return -1;
    memcpy(copy, v, (size_t)n * sizeof *copy);
    return cr_tl_const(t, name, TFL_INT32, copy, (int32_t[]){ n }, 1);
}

int cr_tl_scalar(tl *t, float v)
{
    float *p = cr_tl_alloc(t, sizeof *p);
    if (!p)
        return -1;
    *p = v;
    return cr_tl_const(t, cr_tl_str(t, "const_%d", t->n_t), TFL_FLOAT32, p, (int32_t[]){ 1 }, 1);
}

tl_opts cr_tl_opts(uint8_t type) { return (tl_opts){ .type = type, .vec_id = -1 }; }

static void opt(tl_opts *o, int id, uint8_t kind, int32_t i, float f)
{
    if (o->n_f < TL_MAX_FIELDS)
        o->f[o->n_f++] = (tl_field){ .id = (uint8_t)id, .kind = kind, .i = i, .f = f };
}

void cr_tl_opt_i(tl_opts *o, int id, int32_t v) { opt(o, id, 'i', v, 0); }
void cr_tl_opt_b(tl_opts *o, int id, int8_t v) { opt(o, id, 'b', v, 0); }
void cr_tl_opt_b1(tl_opts *o, int id, int8_t v) { opt(o, id, 'B', v, 0); }
void cr_tl_opt_f(tl_opts *o, int id, float v) { opt(o, id, 'f', 0, v); }

bool cr_tl_op(tl *t, int code, int version, const int *in, int n_in, int out, const tl_opts *o)
{
    for (int i = 0; i < n_in; i++)
        if (in[i] < -1 || in[i] >= t->n_t)
            return false;      /* a failed input: its error is recorded */
    if (out < 0 || !room(t, (void **)&t->op, t->n_op, &t->cap_op, sizeof *t->op))
        return false;
    int *copy = cr_tl_alloc(t, (size_t)(n_in ? n_in : 1) * sizeof *copy);
    if (!copy)
        return false;
    memcpy(copy, in, (size_t)n_in * sizeof *copy);
    t->op[t->n_op++] = (tl_op){ .code = code, .version = version,
                                .opts = o ? *o : cr_tl_opts(TFL_OPT_NONE),
                                .in = copy, .n_in = n_in, .out = out };
    return true;
}

void cr_tl_free(tl *t)
{
    for (int i = 0; i < t->n_mem; i++)
        cr_free(t->mem[i]);
    cr_free(t->mem);
    cr_free(t->t);
    cr_free(t->buf);
    cr_free(t->op);
    cr_free(t->w);
    cr_free(t->w_t);
}

bool cr_tl_start(tl *t)
{
    if (!room(t, (void **)&t->buf, t->n_buf, &t->cap_buf, sizeof *t->buf))
        return false;
    t->buf[t->n_buf++] = (tl_buffer){ 0 };     /* buffer 0: empty, as the schema asks */
    return true;
}
