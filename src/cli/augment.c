/* augment.c - `crest train --augment SPEC`: the spec's items as Keras'
 * augmentation layers (src/layers/augment.c), made with
 * crest_layer_from_keras from the configs Keras itself would save:
 *   flip[=horizontal|vertical|horizontal_and_vertical]   RandomFlip (default
 *                                                        mode: both, as Keras)
 *   rotate=F      RandomRotation(factor=F): F of a full turn either way
 *   zoom=F        RandomZoom(height_factor=F): in or out by up to F
 *   translate=F   RandomTranslation(F, F): up to F of the height and width
 *   contrast=F    RandomContrast(F)
 *   brightness=F  RandomBrightness(F)
 *   crop[=F]      RandomCrop(H, W), H x W the backbone's input: images are
 *                 loaded at H/F x W/F (F default 0.875: 256 for 224, the
 *                 classic recipe) and a random H x W window of each is
 *                 taken while training; at inference Keras' RandomCrop
 *                 resizes (smart_resize) the whole image to H x W. It goes
 *                 first, whatever its place in the spec.
 * The layers run on the model's inputs, after the image preprocessing, so
 * contrast and brightness get that preprocessing's value range (x/255:
 * [0, 1]; tf: [-1, 1]; none: [0, 255]); torch and caffe normalize each
 * channel on its own, where a brightness shift is not Keras' one: refused. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct aug_item {
    const char *key, *cls, *fmt;   /* fmt: the config, from the value */
    double lo, hi;                 /* the value's range (fmt with %g) */
    bool ranged;                   /* needs the value range */
} aug_item;

static const aug_item items[] = {
    { "rotate", "RandomRotation", "{\"factor\": %.17g}", 0, 1, false },
    { "zoom", "RandomZoom", "{\"height_factor\": %.17g}", 0, 0.99, false },
    { "translate", "RandomTranslation", "{\"height_factor\": %.17g, \"width_factor\": %.17g}",
      0, 1, false },
    { "contrast", "RandomContrast", "{\"factor\": %.17g, \"value_range\": [%g, %g]}", 0, 1,
      true },
    { "brightness", "RandomBrightness", "{\"factor\": %.17g, \"value_range\": [%g, %g]}", 0, 1,
      true },
};

void cli_augment_free(crest_layer **l, int n)
{
    for (int i = 0; l && i < n; i++)
        crest_layer_free(l[i]);
    free(l);
}

/* Class cls from config cfg (a JSON object, room for the seed), with Keras'
 * "seed": the run's --seed (crest draws from the model's seeded RNG). */
static int from_keras(const char *cls, char *cfg, size_t size, long long seed,
                      crest_layer **out)
{
    size_t n = strlen(cfg);
    snprintf(cfg + n - 1, size - n + 1, ", \"seed\": %lld}", seed);
    return crest_layer_from_keras(cls, cfg, out);
}

/* The F of "crop[=F]": the window's share of each side, in [0.5, 1). */
static int crop_fraction(const char *eq, double *f)
{
    char *end;
    *f = eq ? strtod(eq + 1, &end) : 0.875;
    if (eq && (end == eq + 1 || *end || !(*f >= 0.5 && *f < 1)))
        return cli_usage("train", "--augment: crop=%s: the window's share of each side, in "
                         "[0.5, 1) (default 0.875: a 224 window of 256)", eq + 1);
    return 0;
}

double cli_augment_crop(const char *spec)
{
    double f = 0;
    for (const char *p = spec; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n >= 4 && !strncmp(p, "crop", 4) && (n == 4 || p[4] == '=')) {
            char item[64];
            snprintf(item, sizeof item, "%.*s", (int)(n < 63 ? n : 63), p);
            const char *eq = strchr(item, '=');
            char *end;
            f = eq ? strtod(eq + 1, &end) : 0.875;
        }
        p += n + (p[n] == ',');
    }
    return f;
}

/* One item "key[=value]" into a layer; crop's window is h x w. */
static int item_layer(const char *it, crest_preprocess pp, long long seed, int h, int w,
                      crest_layer **out)
{
    char key[32] = "", val[64] = "", cfg[256];
    const char *eq = strchr(it, '=');
    size_t kn = eq ? (size_t)(eq - it) : strlen(it);
    if (kn == 0 || kn >= sizeof key || (eq && strlen(eq + 1) >= sizeof val))
        return cli_usage("train", "--augment: bad item '%s'", it);
    memcpy(key, it, kn);
    if (eq)
        strcpy(val, eq + 1);
    if (!strcmp(key, "crop")) {
        double f;
        int rc = crop_fraction(eq, &f);
        if (rc)
            return rc;
        snprintf(cfg, sizeof cfg, "{\"height\": %d, \"width\": %d}", h, w);
        return from_keras("RandomCrop", cfg, sizeof cfg, seed, out)
                   ? cli_usage("train", "--augment: %s", crest_last_error()) : 0;
    }
    if (!strcmp(key, "flip")) {
        const char *mode = !eq ? "horizontal_and_vertical" : val;
        if (strcmp(mode, "horizontal") && strcmp(mode, "vertical") &&
            strcmp(mode, "horizontal_and_vertical"))
            return cli_usage("train", "--augment: flip=%s (horizontal, vertical or "
                             "horizontal_and_vertical)", val);
        snprintf(cfg, sizeof cfg, "{\"mode\": \"%s\"}", mode);
        return from_keras("RandomFlip", cfg, sizeof cfg, seed, out)
                   ? cli_usage("train", "--augment: %s", crest_last_error()) : 0;
    }
    for (size_t i = 0; i < sizeof items / sizeof *items; i++) {
        if (strcmp(key, items[i].key))
            continue;
        char *end;
        double f = eq ? strtod(val, &end) : NAN;
        if (!eq || end == val || *end || !(f > items[i].lo && f <= items[i].hi))
            return cli_usage("train", "--augment: %s needs a value in (%g, %g], got '%s'",
                             key, items[i].lo, items[i].hi, eq ? val : "");
        double vlo = pp == CREST_PRE_TF ? -1 : 0, vhi = pp == CREST_PRE_NONE ? 255 : 1;
        if (items[i].ranged && (pp == CREST_PRE_TORCH || pp == CREST_PRE_CAFFE))
            return cli_usage("train", "--augment: %s on %s-preprocessed inputs (each channel "
                             "normalized on its own) is not supported", key,
                             crest_preprocess_name(pp));
        if (!strcmp(key, "translate"))
            snprintf(cfg, sizeof cfg, items[i].fmt, f, f);
        else
            snprintf(cfg, sizeof cfg, items[i].fmt, f, vlo, vhi);
        return from_keras(items[i].cls, cfg, sizeof cfg, seed, out)
                   ? cli_usage("train", "--augment: %s", crest_last_error()) : 0;
    }
    return cli_usage("train", "--augment: unknown item '%s' (flip, rotate, zoom, translate, "
                     "contrast, brightness, crop)", key);
}

int cli_augment_layers(const char *spec, crest_preprocess pp, long long seed, int h, int w,
                       crest_layer ***out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    char buf[512];
    if (strlen(spec) >= sizeof buf)
        return cli_usage("train", "--augment: the spec is too long");
    strcpy(buf, spec);
    crest_layer **l = calloc(16, sizeof *l);
    if (!l)
        return cli_usage("train", "--augment: out of memory");
    int n = 0, rc = 0;
    for (char *save = NULL, *it = strtok_r(buf, ",", &save); it && !rc;
         it = strtok_r(NULL, ",", &save)) {
        if (n == 16)
            rc = cli_usage("train", "--augment: more than 16 items");
        else
            rc = item_layer(it, pp, seed, h, w, &l[n++]);
        const char *cls = rc ? NULL : crest_layer_class(l[n - 1]);
        if (cls && !strcmp(cls, "RandomCrop")) {   /* first: the others see its window */
            crest_layer *c = l[n - 1];
            for (int k = n - 1; k > 0; k--)
                l[k] = l[k - 1];
            l[0] = c;
            if (n > 1 && !strcmp(crest_layer_class(l[1]), "RandomCrop"))
                rc = cli_usage("train", "--augment: crop twice");
        }
    }
    if (!rc && n == 0)
        rc = cli_usage("train", "--augment: no items");
    if (rc) {
        cli_augment_free(l, n);
        return rc;
    }
    *out = l;
    *n_out = n;
    return 0;
}
