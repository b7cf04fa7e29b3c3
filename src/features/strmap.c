/* strmap.c - a string -> (id, count) hash map (open addressing), for
 * vocabularies: counting tokens during adapt, looking them up after. */
#include "strmap.h"

static uint64_t key_hash(const char *s) { return cr_fingerprint64(s, strlen(s)); }

void cr_strmap_free(cr_strmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        cr_free(m->keys ? m->keys[i] : NULL);
    cr_free(m->keys);
    cr_free(m->vals);
    cr_free(m->counts);
    memset(m, 0, sizeof *m);
}

static int rehash(cr_strmap *m, size_t cap)
{
    char **keys = cr_calloc(cap, sizeof *keys);
    int *vals = cr_calloc(cap, sizeof *vals);
    long *counts = cr_calloc(cap, sizeof *counts);
    if (!keys || !vals || !counts) {
        cr_free(keys);
        cr_free(vals);
        cr_free(counts);
        return cr_fail(CREST_E_NOMEM, "out of memory for a vocabulary");
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = key_hash(m->keys[i]) & (cap - 1);
            while (keys[j])
                j = (j + 1) & (cap - 1);
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
            counts[j] = m->counts[i];
        }
    cr_free(m->keys);
    cr_free(m->vals);
    cr_free(m->counts);
    m->keys = keys;
    m->vals = vals;
    m->counts = counts;
    m->cap = cap;
    return CREST_OK;
}

static size_t slot_of(const cr_strmap *m, const char *key)
{
    size_t j = key_hash(key) & (m->cap - 1);
    while (m->keys[j] && strcmp(m->keys[j], key))
        j = (j + 1) & (m->cap - 1);
    return j;
}

int cr_strmap_get(const cr_strmap *m, const char *key)
{
    if (!m->cap)
        return -1;
    size_t j = slot_of(m, key);
    return m->keys[j] ? m->vals[j] : -1;
}

int cr_strmap_add(cr_strmap *m, const char *key, int val, long count, bool *added)
{
    if (added)
        *added = false;
    if ((m->n + 1) * 2 > m->cap) {
        int rc = rehash(m, m->cap ? 2 * m->cap : 64);
        if (rc)
            return rc;
    }
    size_t j = slot_of(m, key);
    if (m->keys[j]) {
        m->counts[j] += count;
        return CREST_OK;
    }
    if (!(m->keys[j] = cr_strdup(key)))
        return cr_fail(CREST_E_NOMEM, "out of memory for a vocabulary");
    m->vals[j] = val;
    m->counts[j] = count;
    m->n++;
    if (added)
        *added = true;
    return CREST_OK;
}
