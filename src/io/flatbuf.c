/* flatbuf.c - a FlatBuffers builder (see flatbuf.h for the format and why
 * it is ours). Positions are distances from the buffer's end, so growing
 * the buffer (the bytes move to the end of a bigger one) changes none. */
#include "flatbuf.h"

#include <stdint.h>
#include <string.h>

#define FB_MAX_SIZE ((size_t)INT32_MAX)     /* offsets are 32-bit */

void cr_fb_free(cr_fb *b)
{
    if (b) {
        cr_free(b->buf);
        memset(b, 0, sizeof *b);
    }
}

void cr_fb_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void cr_fb_put_f32(uint8_t *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    cr_fb_put_u32(p, u);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    cr_fb_put_u32(p, (uint32_t)v);
    cr_fb_put_u32(p + 4, (uint32_t)(v >> 32));
}

/* n more bytes in front of the written ones (zeroed); NULL on an error. */
static uint8_t *grow(cr_fb *b, size_t n)
{
    if (b->err)
        return NULL;
    if (n > FB_MAX_SIZE - b->used) {
        b->err = cr_fail(CREST_E_UNSUPPORTED, "a FlatBuffer holds at most 2 GB (offsets "
                         "are 32-bit); this one needs more");
        return NULL;
    }
    if (b->cap - b->used < n) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->used < n)
            cap = cap > FB_MAX_SIZE ? b->used + n : 2 * cap;
        uint8_t *nb = cr_malloc(cap);
        if (!nb) {
            b->err = cr_fail(CREST_E_NOMEM, "out of memory building a FlatBuffer (%zu bytes)",
                             cap);
            return NULL;
        }
        if (b->used)
            memcpy(nb + cap - b->used, b->buf + b->cap - b->used, b->used);
        cr_free(b->buf);
        b->buf = nb;
        b->cap = cap;
    }
    b->used += n;
    uint8_t *p = b->buf + b->cap - b->used;
    memset(p, 0, n);
    return p;
}

/* Zero bytes so that, once size more bytes are written, used is a multiple
 * of align (a power of two): those bytes then start at an aligned place. */
static void pad(cr_fb *b, size_t size, size_t align)
{
    if (align > b->minalign)
        b->minalign = align;
    size_t k = (align - (b->used + size) % align) % align;
    if (k)
        grow(b, k);
}

static bool no_table(cr_fb *b)
{
    if (b->in_table && !b->err)
        b->err = cr_fail(CREST_E_INTERNAL, "FlatBuffer: an object made inside a table");
    return !b->err;
}

cr_fb_ref cr_fb_vec(cr_fb *b, size_t elem_size, size_t n, size_t align, uint8_t **data)
{
    if (data)
        *data = NULL;
    if (!no_table(b))
        return 0;
    if (n > UINT32_MAX || (elem_size && n > FB_MAX_SIZE / elem_size)) {
        b->err = cr_fail(CREST_E_UNSUPPORTED, "a FlatBuffer vector of %zu elements is too long",
                         n);
        return 0;
    }
    size_t bytes = elem_size * n;
    pad(b, bytes, align > 4 ? align : 4);       /* the count before it: 4-aligned too */
    grow(b, bytes);
    uint8_t *c = grow(b, 4);             /* the elements follow it */
    if (!c)
        return 0;
    if (data)
        *data = bytes ? c + 4 : NULL;
    cr_fb_put_u32(c, (uint32_t)n);
    return (cr_fb_ref)b->used;
}

cr_fb_ref cr_fb_vec_i32(cr_fb *b, const int32_t *v, size_t n)
{
    uint8_t *p;
    cr_fb_ref r = cr_fb_vec(b, 4, n, 4, &p);
    for (size_t i = 0; r && i < n; i++)
        cr_fb_put_u32(p + 4 * i, (uint32_t)v[i]);
    return r;
}

cr_fb_ref cr_fb_vec_i64(cr_fb *b, const int64_t *v, size_t n)
{
    uint8_t *p;
    cr_fb_ref r = cr_fb_vec(b, 8, n, 8, &p);
    for (size_t i = 0; r && i < n; i++)
        put_u64(p + 8 * i, (uint64_t)v[i]);
    return r;
}

cr_fb_ref cr_fb_vec_f32(cr_fb *b, const float *v, size_t n)
{
    uint8_t *p;
    cr_fb_ref r = cr_fb_vec(b, 4, n, 4, &p);
    for (size_t i = 0; r && i < n; i++)
        cr_fb_put_f32(p + 4 * i, v[i]);
    return r;
}

cr_fb_ref cr_fb_vec_refs(cr_fb *b, const cr_fb_ref *v, size_t n)
{
    uint8_t *p;
    cr_fb_ref r = cr_fb_vec(b, 4, n, 4, &p);
    /* element i sits at distance r - 4 - 4 i from the end; it points to v[i] */
    for (size_t i = 0; r && i < n; i++) {
        size_t at = r - 4 - 4 * i;
        if (!v[i] || v[i] >= at) {
            b->err = cr_fail(CREST_E_INTERNAL, "FlatBuffer: a vector of objects holds one "
                             "made after it");
            return 0;
        }
        cr_fb_put_u32(p + 4 * i, (uint32_t)(at - v[i]));
    }
    return r;
}

cr_fb_ref cr_fb_string(cr_fb *b, const char *s)
{
    size_t n = strlen(s);
    if (!no_table(b))
        return 0;
    pad(b, n + 1, 4);
    grow(b, n + 1);                      /* the bytes and a NUL (zeroed) */
    uint8_t *c = grow(b, 4);
    if (!c)
        return 0;
    memcpy(c + 4, s, n);
    cr_fb_put_u32(c, (uint32_t)n);
    return (cr_fb_ref)b->used;
}

void cr_fb_start(cr_fb *b)
{
    if (!no_table(b))
        return;
    b->in_table = true;
    b->start = b->used;
    b->n_fields = 0;
    memset(b->field, 0, sizeof b->field);
}

/* Room for a field of size bytes (aligned to its size); NULL on an error. */
static uint8_t *field(cr_fb *b, int id, size_t size)
{
    if (b->err)
        return NULL;
    if (!b->in_table || id < 0 || id >= CR_FB_MAX_FIELDS || b->field[id]) {
        b->err = cr_fail(CREST_E_INTERNAL, "FlatBuffer: field %d added outside a table, "
                         "out of range or twice", id);
        return NULL;
    }
    pad(b, size, size);
    uint8_t *p = grow(b, size);
    if (!p)
        return NULL;
    b->field[id] = b->used;
    if (id + 1 > b->n_fields)
        b->n_fields = id + 1;
    return p;
}

void cr_fb_add_u8(cr_fb *b, int id, uint8_t v, uint8_t def)
{
    uint8_t *p = v != def ? field(b, id, 1) : NULL;
    if (p)
        *p = v;
}

void cr_fb_add_i32(cr_fb *b, int id, int32_t v, int32_t def)
{
    uint8_t *p = v != def ? field(b, id, 4) : NULL;
    if (p)
        cr_fb_put_u32(p, (uint32_t)v);
}

void cr_fb_add_u32(cr_fb *b, int id, uint32_t v, uint32_t def)
{
    uint8_t *p = v != def ? field(b, id, 4) : NULL;
    if (p)
        cr_fb_put_u32(p, v);
}

void cr_fb_add_f32(cr_fb *b, int id, float v, float def)
{
    uint8_t *p = memcmp(&v, &def, sizeof v) ? field(b, id, 4) : NULL;
    if (p)
        cr_fb_put_f32(p, v);
}

void cr_fb_add_ref(cr_fb *b, int id, cr_fb_ref r)
{
    if (!r)
        return;
    uint8_t *p = field(b, id, 4);
    if (p)   /* the offset sits at distance used; it points forward to r */
        cr_fb_put_u32(p, (uint32_t)(b->used - r));
}

cr_fb_ref cr_fb_end(cr_fb *b)
{
    if (b->err)
        return 0;
    if (!b->in_table) {
        b->err = cr_fail(CREST_E_INTERNAL, "FlatBuffer: a table ended that was not started");
        return 0;
    }
    pad(b, 4, 4);
    if (!grow(b, 4))                     /* the soffset, set once the vtable is in */
        return 0;
    size_t table = b->used;
    if (table - b->start > UINT16_MAX) {
        b->err = cr_fail(CREST_E_INTERNAL, "FlatBuffer: a table's fields exceed 64 kB");
        return 0;
    }
    size_t vt_size = 4 + 2 * (size_t)b->n_fields;
    uint8_t *vt = grow(b, vt_size);
    if (!vt)
        return 0;
    vt[0] = (uint8_t)vt_size;
    vt[1] = (uint8_t)(vt_size >> 8);
    vt[2] = (uint8_t)(table - b->start);
    vt[3] = (uint8_t)((table - b->start) >> 8);
    for (int i = 0; i < b->n_fields; i++) {
        size_t off = b->field[i] ? table - b->field[i] : 0;   /* from the table's start */
        vt[4 + 2 * i] = (uint8_t)off;
        vt[5 + 2 * i] = (uint8_t)(off >> 8);
    }
    /* table address minus vtable address: the vtable lies before the table */
    cr_fb_put_u32(b->buf + b->cap - table, (uint32_t)(b->used - table));
    b->in_table = false;
    return (cr_fb_ref)table;
}

int cr_fb_finish(cr_fb *b, cr_fb_ref root, const char *ident, const uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!b->err && (b->in_table || !root || strlen(ident) != 4))
        b->err = cr_fail(CREST_E_INTERNAL, "FlatBuffer: finished with a table open, no "
                         "root or an identifier not 4 bytes long");
    if (b->err)
        return b->err;
    pad(b, 8, b->minalign > 4 ? b->minalign : 4);
    grow(b, 4);
    uint8_t *ro = grow(b, 4);            /* the identifier follows it */
    if (!ro)
        return b->err;
    memcpy(ro + 4, ident, 4);
    cr_fb_put_u32(ro, (uint32_t)(b->used - root));
    *out = b->buf + b->cap - b->used;
    *len = b->used;
    return CREST_OK;
}
