/* hash.c - the samples of a data set as part of a cache key (backbone
 * feature caches, checkpoint fingerprints). */
#include "../internal.h"

/* The samples' part of the cache key: their count and shape, then every
 * value (in-memory sets), or the bytes of every file (lazy folder sets: a
 * content hash, so a hit needs no decoding and a changed file misses), or
 * the raw images (lazy IDX sets); then the input transform. */
int cr_hash_samples(cr_hasher *h, const crest_dataset *d, const crest_image_opts *input)
{
    const crest_image_opts *tf = cr_dataset_lazy(d) ? d->image : input;
    cr_hash_bytes(h, &d->n, sizeof d->n);
    cr_hash_bytes(h, d->shape.d, (size_t)d->shape.ndim * sizeof d->shape.d[0]);
    if (!cr_dataset_lazy(d)) {
        cr_hash_bytes(h, d->x, d->n * (size_t)d->stride * sizeof(float));
    } else if (d->raw) {
        const crest_dataset *r = d->raw;
        cr_hash_str(h, "raw");
        cr_hash_bytes(h, r->shape.d, (size_t)r->shape.ndim * sizeof r->shape.d[0]);
        cr_hash_bytes(h, r->x, r->n * (size_t)r->stride * sizeof(float));
        cr_hash_bytes(h, &d->raw_scale, sizeof d->raw_scale);
    } else {
        cr_hash_str(h, "files");
        for (size_t i = 0; i < d->n; i++) {
            char *buf = NULL;
            size_t len = 0;
            int rc = cr_read_file(d->files[i], (size_t)1 << 30, &buf, &len);
            if (rc)
                return rc;
            cr_hash_bytes(h, buf, len);
            cr_free(buf);
        }
    }
    char *tj = tf ? crest_image_opts_json(tf) : NULL;
    if (tf && !tj)
        return CREST_E_NOMEM;
    cr_hash_str(h, tj ? tj : "identity");
    cr_free(tj);
    return CREST_OK;
}
