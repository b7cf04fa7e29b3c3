/* json.c - cJSON through crest's allocator and the "C" locale, and checked
 * accessors (numbers, strings, shapes) over it. */
#include "json.h"

#include <math.h>

/* ---- cJSON through crest's allocator and the "C" locale ---------------- */

static _Thread_local unsigned long json_oom;   /* failed cJSON allocations */
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void *json_malloc(size_t n)
{
    void *p = cr_malloc(n);
    if (!p)
        json_oom++;
    return p;
}

static void hooks_install(void)
{
    cJSON_Hooks h = { .malloc_fn = json_malloc, .free_fn = cr_free };
    cJSON_InitHooks(&h);
}

unsigned long cr_json_mark(void)
{
    pthread_once(&hooks_once, hooks_install);
    return json_oom;
}

void cr_json_note_oom(void) { json_oom++; }

int cr_json_check(unsigned long mark, const char *what)
{
    if (json_oom != mark)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory writing JSON", what);
    return CREST_OK;
}

bool cr_json_put(cJSON *obj, const char *key, cJSON *item)
{
    if (obj && item && cJSON_AddItemToObject(obj, key, item))
        return true;
    cJSON_Delete(item);
    json_oom++;
    return false;
}

bool cr_json_push(cJSON *arr, cJSON *item)
{
    if (arr && item && cJSON_AddItemToArray(arr, item))
        return true;
    cJSON_Delete(item);
    json_oom++;
    return false;
}

static long line_at(const char *text, size_t off)
{
    long line = 1;
    for (size_t i = 0; i < off; i++)
        line += text[i] == '\n';
    return line;
}

/* A NUL byte, or a \u0000 escape inside a string, would cut a key or a
 * value short without a word from cJSON: refuse both. */
static int check_nul(const char *text, size_t len, const char *what)
{
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == 0)
            return cr_fail(CREST_E_FORMAT, "%s line %ld: a NUL byte (byte %zu)", what,
                           line_at(text, i), i);
        if (c == '"')
            in_str = !in_str;
        else if (in_str && c == '\\' && i + 1 < len) {
            if (text[i + 1] == 'u' && i + 5 < len && !strncmp(text + i + 2, "0000", 4))
                return cr_fail(CREST_E_FORMAT, "%s line %ld: a NUL character (\\u0000) in a "
                               "key or string (byte %zu)", what, line_at(text, i), i);
            i++;   /* the escaped character, '"' included */
        }
    }
    return CREST_OK;
}

int cr_json_parse(const char *text, size_t len, const char *what, cJSON **out)
{
    *out = NULL;
    if (!what)
        what = "JSON";
    if (!text)
        return cr_fail(CREST_E_ARG, "%s: no text", what);
    if (!len)
        len = strlen(text);
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {   /* byte-order mark */
        text += 3;
        len -= 3;
    }
    int rc = check_nul(text, len, what);
    if (rc)
        return rc;
    unsigned long mark = cr_json_mark();
    const char *end = NULL;
    void *saved = cr_locale_push_c();
    *out = cJSON_ParseWithLengthOpts(text, len, &end, false);
    cr_locale_pop(saved);
    if (*out)
        return CREST_OK;
    if (json_oom != mark)
        return cr_fail(CREST_E_NOMEM, "%s: out of memory parsing JSON", what);
    size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
    return cr_fail(CREST_E_FORMAT, "%s: not valid JSON (line %ld, byte %zu)", what,
                   line_at(text, off), off);
}

char *cr_json_print(const cJSON *root, bool pretty)
{
    (void)cr_json_mark();
    void *saved = cr_locale_push_c();
    char *s = root ? (pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root)) : NULL;
    cr_locale_pop(saved);
    if (!s)
        cr_fail(CREST_E_NOMEM, "out of memory writing JSON");
    return s;
}

int cr_json_num(const cJSON *o, const char *key, double lo, double hi, double def, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (def == (double)CR_JSON_REQUIRED)
            return cr_fail(CREST_E_FORMAT, "'%s' is missing", key);
        *out = def;
        return CREST_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return cr_fail(CREST_E_FORMAT, "'%s' is not a number", key);
    if (v->valuedouble < lo || v->valuedouble > hi)
        return cr_fail(CREST_E_FORMAT, "'%s' = %g is outside [%g, %g]", key, v->valuedouble,
                       lo, hi);
    *out = v->valuedouble;
    return CREST_OK;
}

int cr_json_int(const cJSON *o, const char *key, int lo, int hi, int def, int *out)
{
    double d;
    int rc = cr_json_num(o, key, lo, hi, def == CR_JSON_REQUIRED ? (double)CR_JSON_REQUIRED : def,
                         &d);
    if (rc)
        return rc;
    if (d != floor(d))
        return cr_fail(CREST_E_FORMAT, "'%s' = %g is not an integer", key, d);
    *out = (int)d;
    return CREST_OK;
}

int cr_json_bool(const cJSON *o, const char *key, bool def, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return CREST_OK;
    }
    if (!cJSON_IsBool(v))
        return cr_fail(CREST_E_FORMAT, "'%s' is not true or false", key);
    *out = cJSON_IsTrue(v);
    return CREST_OK;
}

int cr_json_str(const cJSON *o, const char *key, const char *def, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (!def)
            return cr_fail(CREST_E_FORMAT, "'%s' is missing", key);
        *out = def;
        return CREST_OK;
    }
    if (!cJSON_IsString(v))
        return cr_fail(CREST_E_FORMAT, "'%s' is not a string", key);
    *out = v->valuestring;
    return CREST_OK;
}

int cr_json_dims(const cJSON *o, const char *key, bool skip_first, cr_dims *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(v))
        return cr_fail(CREST_E_FORMAT, "'%s' is not an array", key);
    int n = cJSON_GetArraySize(v), k = 0;
    if (n - (skip_first ? 1 : 0) > CR_MAX_DIMS - 1 || n - (skip_first ? 1 : 0) < 0)
        return cr_fail(CREST_E_FORMAT, "'%s' has %d entries", key, n);
    cr_dims d = { 0 };
    for (int i = skip_first ? 1 : 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) ||
            (e->valuedouble < 1 && e->valuedouble != -1) || e->valuedouble > (1 << 24))
            return cr_fail(CREST_E_FORMAT, "'%s'[%d] is not a positive dimension", key, i);
        d.d[k++] = (int64_t)e->valuedouble;
    }
    d.ndim = k;
    *out = d;
    return CREST_OK;
}

int cr_json_shape(const cJSON *o, const char *key, cr_dims *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(v))
        return cr_fail(CREST_E_FORMAT, "'%s' is not an array", key);
    int n = cJSON_GetArraySize(v);
    if (n < 1 || n > CR_MAX_DIMS)
        return cr_fail(CREST_E_FORMAT, "'%s' has %d entries", key, n);
    cr_dims d = { .ndim = n - 1 };
    for (int i = 1; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (cJSON_IsNull(e)) {
            d.d[i - 1] = CREST_DIM_NONE;
            continue;
        }
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) ||
            e->valuedouble < 1 || e->valuedouble > (1 << 24))
            return cr_fail(CREST_E_FORMAT, "'%s'[%d] is neither a positive dimension nor null",
                           key, i);
        d.d[i - 1] = (int64_t)e->valuedouble;
    }
    *out = d;
    return CREST_OK;
}

void cr_json_add_shape(cJSON *o, const char *key, const cr_dims *d)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    if (!a)
        return;
    cr_json_push(a, cJSON_CreateNull());
    for (int i = 0; i < d->ndim; i++)
        cr_json_push(a, d->d[i] == CREST_DIM_NONE ? cJSON_CreateNull()
                                                   : cJSON_CreateNumber((double)d->d[i]));
}

int cr_json_pair(const cJSON *o, const char *key, int def, int out[2])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (def == CR_JSON_REQUIRED)
            return cr_fail(CREST_E_FORMAT, "'%s' is missing", key);
        out[0] = out[1] = def;
        return CREST_OK;
    }
    if (cJSON_IsNumber(v)) {
        int x;
        int rc = cr_json_int(o, key, 0, 1 << 16, def, &x);
        out[0] = out[1] = x;
        return rc;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
        return cr_fail(CREST_E_FORMAT, "'%s' is not a pair of integers", key);
    for (int i = 0; i < 2; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) ||
            e->valuedouble < 0 || e->valuedouble > (1 << 16))
            return cr_fail(CREST_E_FORMAT, "'%s'[%d] is not a small integer", key, i);
        out[i] = (int)e->valuedouble;
    }
    return CREST_OK;
}

void cr_json_add_dims(cJSON *o, const char *key, const cr_dims *d, bool batch_null)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    if (!a)
        return;
    if (batch_null)
        cr_json_push(a, cJSON_CreateNull());
    for (int i = 0; i < d->ndim; i++)
        cr_json_push(a, cJSON_CreateNumber((double)d->d[i]));
}

void cr_json_add_exact(cJSON *o, const char *key, double v)
{
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        void *saved = cr_locale_push_c();
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        cr_locale_pop(saved);
        if (cr_strtod(buf, NULL) == v)
            break;
    }
    cJSON_AddRawToObject(o, key, buf);
}
