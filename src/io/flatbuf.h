/* flatbuf.h - a FlatBuffers builder in C (private to src/io): enough of the
 * binary format to write any schema's tables, vectors and strings (the
 * TFLite writer, src/io/tflite.c, is its user).
 *
 * Why our own: the format is small and public (flatbuffers.dev, "FlatBuffers
 * internals"), Debian 12 has no C FlatBuffers library (libflatbuffers-dev and
 * flatc generate C++; flatcc is not packaged), and a schema compiled at build
 * time would need TFLite's schema.fbs, which no Debian package ships. The
 * field numbers and enum values of a schema stay with its user.
 *
 * The format, as written here (every number little-endian):
 *   - the file starts with a uoffset (uint32) to the root table, then the
 *     4-byte file identifier;
 *   - a uoffset points forward: the object is at the offset's own address
 *     plus its value, so children are written before (after, in the file)
 *     their parents: the buffer is built back to front, as the reference
 *     builders do, and objects are known by their distance from its end;
 *   - a table starts with an soffset (int32): table address minus the
 *     address of its vtable; the vtable is uint16s: its own size in bytes,
 *     the table's inline size, then each field's offset from the table's
 *     start (0: absent, the schema's default applies);
 *   - a vector is a uint32 count followed by its elements, each aligned to
 *     its size (vectors of tables and strings hold uoffsets); a string is a
 *     byte vector followed by a NUL;
 *   - every scalar is aligned to its size from the start of the file, which
 *     the builder keeps by aligning from the end and padding the start to
 *     the largest alignment used.
 * Errors stick: the first one (message set) is in b->err and later calls do
 * nothing and return 0. Every allocation goes through cr_malloc. */
#ifndef CR_FLATBUF_H
#define CR_FLATBUF_H

#include "../internal.h"

#include <stdint.h>

#define CR_FB_MAX_FIELDS 24       /* fields of one table (TFLite's widest: 9) */

typedef uint32_t cr_fb_ref;      /* an object: its distance from the end; 0 = none */

typedef struct cr_fb {
    uint8_t *buf;                /* the bytes are buf[cap - used, cap) */
    size_t cap, used, minalign;
    int err;
    /* the table being built: where it starts and where each field is */
    bool in_table;
    size_t start;
    size_t field[CR_FB_MAX_FIELDS];
    int n_fields;
} cr_fb;

void cr_fb_free(cr_fb *b);       /* b itself is the caller's; zero it to start */

/* A vector of n elements of elem_size bytes whose data starts at a multiple
 * of align (>= elem_size; the schema's force_align); *data (if not NULL) is
 * where the caller writes them, little-endian, before the next call. */
cr_fb_ref cr_fb_vec(cr_fb *b, size_t elem_size, size_t n, size_t align, uint8_t **data);
cr_fb_ref cr_fb_vec_i32(cr_fb *b, const int32_t *v, size_t n);
cr_fb_ref cr_fb_vec_i64(cr_fb *b, const int64_t *v, size_t n);
cr_fb_ref cr_fb_vec_f32(cr_fb *b, const float *v, size_t n);
/* A vector of objects (tables, strings, vectors), each a cr_fb_ref. */
cr_fb_ref cr_fb_vec_refs(cr_fb *b, const cr_fb_ref *v, size_t n);
cr_fb_ref cr_fb_string(cr_fb *b, const char *s);

/* A table: start, add its fields (any order; none twice), end. No other
 * object may be made while a table is open. A scalar equal to the schema's
 * default is left out, as the reference builders do (def). */
void cr_fb_start(cr_fb *b);
void cr_fb_add_u8(cr_fb *b, int field, uint8_t v, uint8_t def);
void cr_fb_add_i32(cr_fb *b, int field, int32_t v, int32_t def);
void cr_fb_add_u32(cr_fb *b, int field, uint32_t v, uint32_t def);
void cr_fb_add_f32(cr_fb *b, int field, float v, float def);
void cr_fb_add_ref(cr_fb *b, int field, cr_fb_ref r);    /* r == 0: left out */
cr_fb_ref cr_fb_end(cr_fb *b);

/* Writes the root offset and the identifier (4 characters); *out / *len:
 * the finished buffer, inside b (valid until cr_fb_free). */
int cr_fb_finish(cr_fb *b, cr_fb_ref root, const char *ident, const uint8_t **out, size_t *len);

/* Little-endian stores, for data written through cr_fb_vec's pointer. */
void cr_fb_put_u32(uint8_t *p, uint32_t v);
void cr_fb_put_f32(uint8_t *p, float v);

#endif
