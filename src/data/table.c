/* table.c - CSV (RFC 4180) and Weka ARFF, read as a stream of rows.
 *
 * The file is read in 64 KiB chunks, so only one row is ever in memory:
 * adapt() and the feature transform walk files larger than memory.
 * CSV: the first row is the header; fields are separated by the delimiter
 * (default ','); a field may be quoted with '"', holding delimiters, line
 * breaks and doubled quotes (""); CRLF or LF line ends; blank lines are
 * skipped. ARFF: '%' comments, @relation, @attribute NAME numeric | real |
 * integer | string | {v1, v2, ...}, then @data rows of comma-separated
 * values, quoted with ' or ". Sparse ARFF rows ({...}) and date/relational
 * attributes are reported as unsupported.
 * Every error names the file, the line and (where it applies) the column. */
#define _POSIX_C_SOURCE 200809L
#include "../features/features.h"
#include "../features/strmap.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define CHUNK 65536

bool cr_is_missing(const char *s)
{
    return !*s || !strcmp(s, "NA") || !strcmp(s, "?") || !strcmp(s, "NaN");
}

static int refill(cr_table *t)
{
    if (t->eof)
        return 0;
    t->len = fread(t->buf, 1, CHUNK, t->fp);
    t->pos = 0;
    if (t->len == 0) {
        t->eof = true;
        if (ferror(t->fp))
            return cr_fail(CREST_E_IO, "%s: read error near line %ld", t->path, t->line);
    }
    return (int)t->len;
}

/* Next byte, or -1 at the end of the file (or -2 on a read error). */
static int next_ch(cr_table *t)
{
    if (t->pos == t->len) {
        int rc = refill(t);
        if (rc < 0)
            return -2;
        if (rc == 0)
            return -1;
    }
    int c = (unsigned char)t->buf[t->pos++];
    if (c == '\n')
        t->line++;
    return c;
}

static int peek_ch(cr_table *t)
{
    if (t->pos == t->len) {
        int rc = refill(t);
        if (rc <= 0)
            return rc < 0 ? -2 : -1;
    }
    return (unsigned char)t->buf[t->pos];
}

static int put_byte(cr_table *t, char c)
{
    if (t->row_len == t->row_cap) {
        size_t cap = t->row_cap ? 2 * t->row_cap : 256;
        if (cap > ((size_t)1 << 30))
            return cr_fail(CREST_E_FORMAT, "%s line %ld: a row longer than 1 GiB", t->path,
                           t->row_line);
        char *r = cr_realloc(t->row, cap);
        if (!r)
            return cr_fail(CREST_E_NOMEM, "%s: out of memory reading a row", t->path);
        t->row = r;
        t->row_cap = cap;
    }
    t->row[t->row_len++] = c;
    return CREST_OK;
}

/* A byte of field `col` (1-based): a NUL would end the field's C string
 * early and silently, so it is refused. */
static int field_byte(cr_table *t, int c, int col)
{
    if (c == 0)
        return cr_fail(CREST_E_FORMAT, "%s line %ld column %d: a NUL byte in the field", t->path,
                       t->line, col);
    return put_byte(t, (char)c);
}

/* Length of the UTF-8 sequence at p (n bytes left), 0 if it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static int utf8_len(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    int len = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
    if (!len || p[0] > 0xF4 || (size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return len;
}

/* Tables are UTF-8 (names and categories go into model.json, which must
 * be): an invalid sequence is an error naming line and column (0: the
 * whole line). Fields are NUL-separated in row[0, len). */
static int check_utf8(const cr_table *t, const char *row, size_t len, bool fields)
{
    const unsigned char *p = (const unsigned char *)row;
    int col = 1;
    for (size_t i = 0; i < len;) {
        if (p[i] == 0 && fields)
            col++;
        int k = utf8_len(p + i, len - i);
        if (!k) {
            if (fields)
                return cr_fail(CREST_E_FORMAT, "%s line %ld column %d: byte 0x%02X is not "
                               "valid UTF-8", t->path, t->row_line, col, p[i]);
            return cr_fail(CREST_E_FORMAT, "%s line %ld: byte 0x%02X is not valid UTF-8",
                           t->path, t->row_line, p[i]);
        }
        i += (size_t)k;
    }
    return CREST_OK;
}

static int start_field(cr_table *t)
{
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        if (cap > 4 * CR_TABLE_MAX_COLS)
            return cr_fail(CREST_E_FORMAT, "%s line %ld: more than %d fields", t->path,
                           t->row_line, CR_TABLE_MAX_COLS);
        size_t *o = cr_realloc(t->off, (size_t)cap * sizeof *o);
        if (!o)
            return cr_fail(CREST_E_NOMEM, "%s: out of memory", t->path);
        t->off = o;
        t->cap = cap;
    }
    t->off[t->n++] = t->row_len;
    return CREST_OK;
}

/* Skips blank lines (and ARFF comments). Returns 1 before a record, 0 at
 * the end, or an error. */
static int skip_blank_lines(cr_table *t)
{
    for (;;) {
        int c = peek_ch(t);
        if (c == -2)
            return CREST_E_IO;
        if (c == -1)
            return 0;
        if (c == '\n' || c == '\r') {
            next_ch(t);
            continue;
        }
        if (t->arff && c == '%') {
            while ((c = next_ch(t)) >= 0 && c != '\n') {
            }
            continue;
        }
        return 1;
    }
}

/* Reads a quoted field whose opening quote q was just read, up to the
 * delimiter or line end that must follow the closing quote. A doubled
 * quote stands for one. */
static int read_quoted(cr_table *t, int q)
{
    long qline = t->line;
    int col = t->n, c, rc;
    for (;;) {
        c = next_ch(t);
        if (c < 0)
            return c == -2 ? CREST_E_IO
                           : cr_fail(CREST_E_FORMAT,
                                     "%s line %ld column %d: unterminated quoted field",
                                     t->path, qline, col);
        if (c == q) {
            if (peek_ch(t) != q)
                break;
            next_ch(t);
        }
        if ((rc = field_byte(t, c, col)))
            return rc;
    }
    while (t->arff && ((c = peek_ch(t)) == ' ' || c == '\t'))
        next_ch(t);
    c = peek_ch(t);
    if (c != t->delim && c != '\n' && c != '\r' && c != -1)
        return cr_fail(CREST_E_FORMAT, "%s line %ld column %d: '%c' after a closing quote",
                       t->path, t->line, col, c);
    return CREST_OK;
}

/* Trims trailing blanks of unquoted ARFF fields. */
static void trim_fields(cr_table *t)
{
    for (int i = 0; i < t->n; i++) {
        char *f = t->row + t->off[i];
        size_t k = strlen(f);
        while (k && (f[k - 1] == ' ' || f[k - 1] == '\t'))
            f[--k] = 0;
    }
}

/* Reads one record into row/off. Returns 1, 0 at the end, or an error.
 * CSV quotes with '"'; ARFF also with '\''. Surrounding spaces are trimmed
 * from unquoted ARFF fields. */
static int read_record(cr_table *t)
{
    int c, rc = skip_blank_lines(t);
    if (rc <= 0)
        return rc;
    t->row_len = 0;
    t->n = 0;
    t->row_line = t->line;
    if ((rc = start_field(t)))
        return rc;
    bool at_start = true;
    for (;;) {
        c = next_ch(t);
        if (c == -2)
            return CREST_E_IO;
        if (at_start && t->arff && (c == ' ' || c == '\t'))
            continue;
        if (at_start && (c == '"' || (t->arff && c == '\''))) {
            if ((rc = read_quoted(t, c)))
                return rc;
            at_start = false;
            continue;
        }
        at_start = false;
        if (c == t->delim) {
            if ((rc = put_byte(t, 0)) || (rc = start_field(t)))
                return rc;
            at_start = true;
            continue;
        }
        if (c == '\r' && peek_ch(t) == '\n')
            continue;
        if (c == '\n' || c == '\r' || c == -1)
            break;
        if ((rc = field_byte(t, c, t->n)))
            return rc;
    }
    if ((rc = put_byte(t, 0)) || (rc = check_utf8(t, t->row, t->row_len - 1, true)))
        return rc;
    if (t->arff)
        trim_fields(t);
    return 1;
}

static void free_names(cr_table *t)
{
    for (int i = 0; i < t->n_cols; i++) {
        cr_free(t->names ? t->names[i] : NULL);
        if (t->nominal && t->nominal[i]) {
            for (int k = 0; t->nominal[i][k]; k++)
                cr_free(t->nominal[i][k]);
            cr_free(t->nominal[i]);
        }
    }
    cr_free(t->names);
    cr_free(t->attr);
    cr_free(t->nominal);
    cr_free(t->n_nominal);
    t->names = NULL;
    t->attr = NULL;
    t->nominal = NULL;
    t->n_nominal = NULL;
}

void cr_table_close(cr_table *t)
{
    if (!t)
        return;
    if (t->fp)
        fclose(t->fp);
    free_names(t);
    cr_free(t->path);
    cr_free(t->buf);
    cr_free(t->row);
    cr_free(t->off);
    cr_free(t->ptrs);
    for (int i = 0; i < t->n_class_names; i++)
        cr_free(t->class_names[i]);
    cr_free(t->class_names);
    memset(t, 0, sizeof *t);
}

static int grow_cols(cr_table *t, int n)
{
    char **names = cr_realloc(t->names, (size_t)n * sizeof *names);
    if (names)
        t->names = names;
    int *attr = names ? cr_realloc(t->attr, (size_t)n * sizeof *attr) : NULL;
    if (attr)
        t->attr = attr;
    char ***nom = attr ? cr_realloc(t->nominal, (size_t)n * sizeof *nom) : NULL;
    if (nom)
        t->nominal = nom;
    int *nn = nom ? cr_realloc(t->n_nominal, (size_t)n * sizeof *nn) : NULL;
    if (nn)
        t->n_nominal = nn;
    const char **ptrs = nn ? cr_realloc(t->ptrs, (size_t)n * sizeof *ptrs) : NULL;
    if (!ptrs)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory for the header", t->path);
    t->ptrs = ptrs;
    return CREST_OK;
}

static int add_col(cr_table *t, const char *name, int kind)
{
    if (t->n_cols >= CR_TABLE_MAX_COLS)
        return cr_fail(CREST_E_FORMAT, "%s: more than %d columns", t->path, CR_TABLE_MAX_COLS);
    int rc = grow_cols(t, t->n_cols + 1);
    if (rc)
        return rc;
    int i = t->n_cols;
    t->attr[i] = kind;
    t->nominal[i] = NULL;
    t->n_nominal[i] = 0;
    t->names[i] = cr_strdup(*name ? name : "");
    if (!t->names[i])
        return cr_fail(CREST_E_NOMEM, "%s: out of memory", t->path);
    t->n_cols++;
    for (int k = 0; k < i; k++)
        if (*name && !strcmp(t->names[k], name))
            return cr_fail(CREST_E_FORMAT, "%s: column '%s' appears twice in the header",
                           t->path, name);
    return CREST_OK;
}

/* ARFF "{a, 'b c', d}" (fields of the current record, first one after '{').
 * A value listed twice is an error: the values become a vocabulary. */
static int arff_nominal(cr_table *t, int col, char *spec)
{
    /* spec is the text after '{' up to the matching '}' */
    int cap = 0, n = 0, rc = CREST_OK;
    char **vals = NULL;
    char *p = spec;
    cr_strmap seen = { 0 };
    while (*p && !rc) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        char *start, *end;
        if (*p == '\'' || *p == '"') {
            char q = *p++;
            start = p;
            while (*p && *p != q)
                p++;
            end = p;
            if (*p)
                p++;
        } else {
            start = p;
            while (*p && *p != ',')
                p++;
            end = p;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        }
        char *v = NULL, **grown = vals;
        bool added = false;
        if (n + 2 > cap) {
            cap = cap ? 2 * cap : 8;
            grown = cr_realloc(vals, (size_t)cap * sizeof *vals);
        }
        if (grown && (vals = grown) && (v = cr_malloc((size_t)(end - start) + 1))) {
            memcpy(v, start, (size_t)(end - start));
            v[end - start] = 0;
            vals[n++] = v;
            vals[n] = NULL;
        }
        if (!v || cr_strmap_add(&seen, v, n, 1, &added))
            rc = cr_fail(CREST_E_NOMEM, "%s: out of memory", t->path);
        else if (!added)
            rc = cr_fail(CREST_E_FORMAT, "%s line %ld: nominal attribute '%s' lists '%s' twice",
                         t->path, t->row_line, t->names[col], v);
    }
    if (!rc && !n)
        rc = cr_fail(CREST_E_FORMAT, "%s line %ld: nominal attribute '%s' has no values",
                     t->path, t->row_line, t->names[col]);
    cr_strmap_free(&seen);
    if (rc) {
        for (int k = 0; k < n; k++)
            cr_free(vals[k]);
        cr_free(vals);
        return rc;
    }
    t->nominal[col] = vals;
    t->n_nominal[col] = n;
    return CREST_OK;
}

/* Reads one raw line (no quoting) into row; 1, 0 at the end, or error. */
static int read_line(cr_table *t)
{
    int c, rc;
    t->row_len = 0;
    t->row_line = t->line;
    while ((c = next_ch(t)) >= 0 && c != '\n') {
        if (c == 0)
            return cr_fail(CREST_E_FORMAT, "%s line %ld: a NUL byte in the header", t->path,
                           t->row_line);
        if (c != '\r' && (rc = put_byte(t, (char)c)))
            return rc;
    }
    if (c == -2)
        return CREST_E_IO;
    if ((rc = put_byte(t, 0)) || (rc = check_utf8(t, t->row, t->row_len - 1, false)))
        return rc;
    return c == -1 && t->row_len == 1 ? 0 : 1;
}

/* NAME of "@attribute NAME TYPE": quoted with ' or " (blanks allowed), or
 * up to a blank or '{'. Moves *s past it, never past the line's end. */
static int arff_attr_name(cr_table *t, char **s, char *nm, size_t size)
{
    char *p = *s, *start, *end;
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        start = p;
        while (*p && *p != q)
            p++;
        if (!*p)
            return cr_fail(CREST_E_FORMAT, "%s line %ld: unterminated %c in an attribute name",
                           t->path, t->row_line, q);
        end = p++;
    } else {
        start = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '{')
            p++;
        end = p;
    }
    if (end == start)
        return cr_fail(CREST_E_FORMAT, "%s line %ld: an attribute has no name", t->path,
                       t->row_line);
    if ((size_t)(end - start) >= size)
        return cr_fail(CREST_E_FORMAT, "%s line %ld: an attribute name longer than %zu bytes",
                       t->path, t->row_line, size - 1);
    memcpy(nm, start, (size_t)(end - start));
    nm[end - start] = 0;
    *s = p;
    return CREST_OK;
}

/* The TYPE word at s: CR_ATTR_* or an error naming the attribute. */
static int arff_attr_type(cr_table *t, const char *s, const char *nm, int *kind)
{
    size_t n = 0;
    while (s[n] && s[n] != ' ' && s[n] != '\t')
        n++;
    if (*s == '{')
        *kind = CR_ATTR_NOMINAL;
    else if ((n == 7 && !strncasecmp(s, "numeric", 7)) || (n == 4 && !strncasecmp(s, "real", 4)) ||
             (n == 7 && !strncasecmp(s, "integer", 7)))
        *kind = CR_ATTR_NUMERIC;
    else if (n == 6 && !strncasecmp(s, "string", 6))
        *kind = CR_ATTR_STRING;
    else if (!n)
        return cr_fail(CREST_E_FORMAT, "%s line %ld: attribute '%s' has no type", t->path,
                       t->row_line, nm);
    else
        return cr_fail(CREST_E_UNSUPPORTED, "%s line %ld: attribute '%s' has type '%.40s' "
                       "(crest reads numeric, real, integer, string and {nominal})",
                       t->path, t->row_line, nm, s);
    return CREST_OK;
}

/* One "@attribute NAME TYPE" line (s is past "@attribute"). */
static int arff_attribute(cr_table *t, char *s)
{
    char nm[512];
    int kind = CR_ATTR_UNKNOWN, rc;
    while (*s == ' ' || *s == '\t')
        s++;
    if ((rc = arff_attr_name(t, &s, nm, sizeof nm)))
        return rc;
    while (*s == ' ' || *s == '\t')
        s++;
    if ((rc = arff_attr_type(t, s, nm, &kind)) || (rc = add_col(t, nm, kind)))
        return rc;
    if (kind != CR_ATTR_NOMINAL)
        return CREST_OK;
    char *close = strrchr(s, '}');
    if (!close)
        return cr_fail(CREST_E_FORMAT, "%s line %ld: '{' without '}' for '%s'", t->path,
                       t->row_line, nm);
    *close = 0;
    return arff_nominal(t, t->n_cols - 1, s + 1);
}

static int arff_header(cr_table *t)
{
    int rc;
    for (;;) {
        if ((rc = read_line(t)) <= 0)
            return rc < 0 ? rc
                          : cr_fail(CREST_E_FORMAT, "%s: no @data section", t->path);
        char *s = t->row;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '%')
            continue;
        if (!strncasecmp(s, "@relation", 9))
            continue;
        if (!strncasecmp(s, "@data", 5))
            break;
        if (strncasecmp(s, "@attribute", 10) || (s[10] != ' ' && s[10] != '\t'))
            return cr_fail(CREST_E_FORMAT, "%s line %ld: expected @attribute NAME TYPE or @data",
                           t->path, t->row_line);
        if ((rc = arff_attribute(t, s + 10)))
            return rc;
    }
    if (!t->n_cols)
        return cr_fail(CREST_E_FORMAT, "%s: no @attribute before @data", t->path);
    return CREST_OK;
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* If the first record reads "n_samples,n_features,name,name,..." and the
 * next has n_features + 1 fields, the file is one of scikit-learn's: name
 * the columns f0.. and target, keep the next row pending. Returns 1 if so,
 * 0 if not (the header is then the first record, untouched), or an error. */
/* The first record could be scikit-learn's header: two counts, then names
 * (no field a number). Returns the feature count, or 0. */
static long sklearn_features(const cr_table *t)
{
    if (t->n < 4 || !all_digits(t->row + t->off[0]) || !all_digits(t->row + t->off[1]))
        return 0;
    long nf = atol(t->row + t->off[1]);
    for (int i = 2; i < t->n; i++) {
        const char *f = t->row + t->off[i];
        char *end;
        (void)cr_strtod(f, &end);
        if (!*f || (end != f && !*end))
            return 0;
    }
    return nf >= 1 && nf < CR_TABLE_MAX_COLS ? nf : 0;
}

/* Not scikit-learn's layout after all: the saved first record (copy,
 * offs, n0 fields) names the columns; the record just read, if any
 * (have_next), stays pending. Returns 1 or an error. */
static int ordinary_header(cr_table *t, const char *copy, const size_t *offs, int n0,
                           bool have_next)
{
    char *row2 = NULL;
    size_t *off2 = NULL, len2 = t->row_len;
    int n2 = t->n, rc = CREST_OK;
    if (have_next) {
        row2 = cr_malloc(len2);
        off2 = cr_malloc((size_t)n2 * sizeof *off2);
        if (!row2 || !off2)
            rc = cr_fail(CREST_E_NOMEM, "%s: out of memory", t->path);
        else {
            memcpy(row2, t->row, len2);
            memcpy(off2, t->off, (size_t)n2 * sizeof *off2);
        }
    }
    for (int i = 0; !rc && i < n0; i++)
        rc = add_col(t, copy + offs[i], CR_ATTR_UNKNOWN);
    if (!rc && have_next) {
        memcpy(t->row, row2, len2);
        memcpy(t->off, off2, (size_t)n2 * sizeof *off2);
        t->row_len = len2;
        t->n = n2;
        t->pending = true;
    }
    cr_free(row2);
    cr_free(off2);
    return rc ? rc : 1;
}

static int sklearn_header(cr_table *t)
{
    long nf = sklearn_features(t);
    if (!nf)
        return 0;
    /* peek at the next record: keep the names first */
    int nc = t->n - 2, rc;
    char **names = cr_calloc((size_t)nc, sizeof *names);
    if (!names)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory", t->path);
    bool ok = true;
    for (int i = 0; i < nc; i++)
        ok &= (names[i] = cr_strdup(t->row + t->off[i + 2])) != NULL;
    char *copy = cr_malloc(t->row_len);
    size_t *offs = cr_malloc((size_t)t->n * sizeof *offs);
    int n0 = t->n;
    rc = ok && copy && offs ? CREST_OK : cr_fail(CREST_E_NOMEM, "%s: out of memory", t->path);
    if (!rc) {
        memcpy(copy, t->row, t->row_len);
        memcpy(offs, t->off, (size_t)n0 * sizeof *offs);
        rc = read_record(t);
    }
    if (rc == 1 && t->n == nf + 1) {   /* scikit-learn's layout */
        char nm[32];
        rc = CREST_OK;
        for (long i = 0; !rc && i <= nf; i++) {
            snprintf(nm, sizeof nm, i < nf ? "f%ld" : "target", i);
            rc = add_col(t, nm, CR_ATTR_UNKNOWN);
        }
        t->sklearn = t->pending = !rc;
        t->class_names = names;
        t->n_class_names = nc;
        names = NULL;
        rc = rc ? rc : 1;
    } else if (rc >= 0) {
        rc = ordinary_header(t, copy, offs, n0, rc == 1);
    }
    for (int i = 0; names && i < nc; i++)
        cr_free(names[i]);
    cr_free(names);
    cr_free(copy);
    cr_free(offs);
    return rc;
}

int cr_table_open(cr_table *t, const char *path, char delim)
{
    memset(t, 0, sizeof *t);
    t->line = 1;
    t->delim = delim ? delim : ',';
    if (!path)
        return cr_fail(CREST_E_ARG, "table: no file name");
    t->path = cr_strdup(path);
    t->buf = cr_malloc(CHUNK);
    if (!t->path || !t->buf)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory", path);
    t->fp = fopen(path, "rb");
    if (!t->fp)
        return cr_fail(CREST_E_IO, "%s: %s", path, strerror(errno));
    if (peek_ch(t) == 0xEF && t->len - t->pos >= 3 && !memcmp(t->buf + t->pos, "\xEF\xBB\xBF", 3))
        t->pos += 3;   /* a UTF-8 byte-order mark (Excel's "CSV UTF-8") is not text */
    t->arff = ends_with(path, ".arff");
    if (!t->arff) {   /* content sniff: '%' comments or @relation first */
        int c;
        while ((c = peek_ch(t)) == ' ' || c == '\n' || c == '\r' || c == '\t')
            next_ch(t);
        if (c == '@' || c == '%')
            t->arff = true;
    }
    int rc;
    if (t->arff) {
        t->delim = ',';
        return arff_header(t);
    }
    rc = read_record(t);
    if (rc == 0)
        return cr_fail(CREST_E_FORMAT, "%s: empty file (no header row)", path);
    if (rc < 0)
        return rc;
    if ((rc = sklearn_header(t)) != 0)
        return rc < 0 ? rc : CREST_OK;
    for (int i = 0; i < t->n; i++) {
        const char *nm = t->row + t->off[i];
        if (!*nm)
            return cr_fail(CREST_E_FORMAT, "%s line %ld column %d: empty column name", path,
                           t->row_line, i + 1);
        if ((rc = add_col(t, nm, CR_ATTR_UNKNOWN)))
            return rc;
    }
    return CREST_OK;
}

int cr_table_next(cr_table *t, const char ***fields)
{
    int rc = t->pending ? 1 : read_record(t);
    t->pending = false;
    if (rc <= 0)
        return rc == CREST_E_IO ? cr_fail(CREST_E_IO, "%s: read error", t->path) : rc;
    if (t->arff && t->row[0] == '{')
        return cr_fail(CREST_E_UNSUPPORTED, "%s line %ld: sparse ARFF rows are not supported",
                       t->path, t->row_line);
    if (t->n != t->n_cols)
        return cr_fail(CREST_E_FORMAT, "%s line %ld: %d fields, the header has %d columns",
                       t->path, t->row_line, t->n, t->n_cols);
    for (int i = 0; i < t->n; i++)
        t->ptrs[i] = t->row + t->off[i];
    if (t->sklearn) {   /* class codes read as the names of the first line */
        const char *c = t->ptrs[t->n - 1];
        long k = all_digits(c) ? atol(c) : -1;
        if (k >= 0 && k < t->n_class_names)
            t->ptrs[t->n - 1] = t->class_names[k];
    }
    *fields = t->ptrs;
    return 1;
}

int cr_table_col(const cr_table *t, const char *name)
{
    for (int i = 0; name && i < t->n_cols; i++)
        if (!strcmp(t->names[i], name))
            return i;
    return -1;
}
