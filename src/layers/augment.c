/* augment.c - Keras' image augmentation layers: RandomFlip,
 * RandomRotation, RandomZoom, RandomTranslation (a random warp per sample,
 * src/ops/warp.c), RandomContrast and RandomBrightness (a random factor per
 * sample, src/ops/color.c). Each is the identity at inference; when the
 * graph trains, each sample gets its own draw from the model's seeded RNG.
 * Configs as Keras writes them:
 *   RandomFlip         mode: "horizontal_and_vertical" (default),
 *                      "horizontal", "vertical"
 *   RandomRotation     factor: f (turns in [-f, f]) or [lower, upper]
 *   RandomZoom         height_factor: f ([-f, f]) or [lower, upper], each
 *                      above -1 (positive: zoom out); width_factor: the
 *                      same, or null (keep the aspect: one draw for both)
 *   RandomTranslation  height_factor, width_factor: fractions of the size,
 *                      f ([-f, f]) or [lower, upper], within [-1, 1]
 *   and for the four above but RandomFlip: fill_mode reflect (default) |
 *   wrap | constant | nearest, interpolation bilinear (default) | nearest,
 *   fill_value 0.
 *   RandomContrast     factor: f (contrast in [1 - f, 1 + f]) or [lower,
 *                      upper] (in [1 - lower, 1 + upper]), each in [0, 1]
 *   RandomBrightness   factor: f ([-f, f]) or [lower, upper], within
 *                      [-1, 1]: the shift is that times the value range
 *   and for both value_range [lo, hi] (default [0, 255], Keras 3), which
 *   the output is clipped to.
 *   RandomCrop         height, width: a random window while training; at
 *                      inference Keras' smart_resize to that size
 * "seed" is kept (saved again) but the draws come from the model's seed,
 * so a run is reproducible from --seed alone; "value_range" and a
 * channels_last "data_format" (Keras 3) are accepted. */
#include "../internal.h"
#include "json.h"
#include "layers/window.h"

#include <math.h>

typedef struct aug_cfg {
    cr_warp_attr a;
    cr_color_attr col;
    bool color;               /* RandomContrast, RandomBrightness: col, not a */
    double lo[2], hi[2];      /* the factors as written (saved again as they were) */
    bool width_null;          /* RandomZoom: width_factor null */
    bool symmetric;           /* RandomContrast: factor was one number */
    bool has_seed;
    double seed;
} aug_cfg;

static cr_node *aug_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const aug_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    if (in[0]->shape.ndim != 4)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': %s needs images [height, width, "
                             "channels], got rank %d", l->name, l->def->keras_class,
                             in[0]->shape.ndim - 1);
    if (!crest_graph_training(g))
        return in[0];
    return c->color ? cr_op_color(g, in[0], &c->col) : cr_op_warp(g, in[0], &c->a);
}

/* A factor: f as [-f, f], or [lower, upper], each within [lo, hi]. */
static int factor_of(const cJSON *cfg, const char *key, double lo, double hi, bool required,
                     double *lower, double *upper, bool *is_null)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(cfg, key);
    *is_null = !f || cJSON_IsNull(f);
    *lower = *upper = 0;
    if (*is_null)
        return required ? cr_fail(CREST_E_FORMAT, "'%s' is required", key) : CREST_OK;
    double v[2];
    if (cJSON_IsNumber(f)) {
        if (!(f->valuedouble >= 0))
            return cr_fail(CREST_E_FORMAT, "'%s' %g: a single factor is a magnitude (>= 0)",
                           key, f->valuedouble);
        v[0] = -f->valuedouble;
        v[1] = f->valuedouble;
    } else if (cJSON_IsArray(f) && cJSON_GetArraySize(f) == 2 &&
               cJSON_IsNumber(cJSON_GetArrayItem(f, 0)) &&
               cJSON_IsNumber(cJSON_GetArrayItem(f, 1))) {
        v[0] = cJSON_GetArrayItem(f, 0)->valuedouble;
        v[1] = cJSON_GetArrayItem(f, 1)->valuedouble;
    } else {
        return cr_fail(CREST_E_FORMAT, "'%s' must be a number or [lower, upper]", key);
    }
    if (!(v[0] <= v[1] && v[0] >= lo && v[1] <= hi))
        return cr_fail(CREST_E_FORMAT, "'%s' [%g, %g] is not a range within [%g, %g]", key,
                       v[0], v[1], lo, hi);
    *lower = v[0];
    *upper = v[1];
    return CREST_OK;
}

static void factor_save(cJSON *cfg, const char *key, double lower, double upper)
{
    if (lower == -upper) {
        cJSON_AddNumberToObject(cfg, key, upper);
        return;
    }
    cJSON *a = cJSON_AddArrayToObject(cfg, key);
    if (a) {
        cJSON_AddItemToArray(a, cJSON_CreateNumber(lower));
        cJSON_AddItemToArray(a, cJSON_CreateNumber(upper));
    }
}

static const char *const fills[] = { "reflect", "wrap", "constant", "nearest" };

/* fill_mode, interpolation, fill_value, seed, value_range, data_format. */
static int common_parse(const cJSON *cfg, aug_cfg *c, bool warp)
{
    const char *fm = NULL, *ip = NULL;
    double fv = 0;
    int rc = cr_channels_last(cfg);
    if (!rc && warp)
        rc = cr_json_str(cfg, "fill_mode", "reflect", &fm);
    if (!rc && warp)
        rc = cr_json_str(cfg, "interpolation", "bilinear", &ip);
    if (!rc && warp)
        rc = cr_json_num(cfg, "fill_value", -1e30, 1e30, 0, &fv);
    c->a.fill = -1;
    for (int i = 0; !rc && warp && i < 4; i++)
        if (!strcmp(fm, fills[i]))
            c->a.fill = i;
    if (!rc && warp && c->a.fill < 0)
        rc = cr_fail(CREST_E_UNSUPPORTED, "fill_mode '%s' (reflect, wrap, constant or nearest)",
                     fm);
    if (!rc && warp && strcmp(ip, "bilinear") && strcmp(ip, "nearest"))
        rc = cr_fail(CREST_E_UNSUPPORTED, "interpolation '%s' (bilinear or nearest)", ip);
    c->a.bilinear = !rc && warp && !strcmp(ip, "bilinear");
    c->a.fill_value = (float)fv;
    for (int i = 0; i < 2; i++) {
        c->a.lo[i] = (float)c->lo[i];
        c->a.hi[i] = (float)c->hi[i];
    }
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(cfg, "seed");
    c->has_seed = cJSON_IsNumber(seed);
    c->seed = c->has_seed ? seed->valuedouble : 0;
    return rc;
}

static void common_save(const aug_cfg *c, cJSON *cfg, bool warp)
{
    if (warp) {
        cJSON_AddStringToObject(cfg, "fill_mode", fills[c->a.fill]);
        cJSON_AddStringToObject(cfg, "interpolation", c->a.bilinear ? "bilinear" : "nearest");
        cJSON_AddNumberToObject(cfg, "fill_value", c->a.fill_value);
    }
    if (c->has_seed)
        cJSON_AddNumberToObject(cfg, "seed", c->seed);
    else
        cJSON_AddNullToObject(cfg, "seed");
}

/* ---- RandomFlip ------------------------------------------------------------ */

static int flip_parse(crest_layer *l, const cJSON *cfg)
{
    aug_cfg *c = l->cfg;
    const char *mode = NULL;
    int rc = cr_json_str(cfg, "mode", "horizontal_and_vertical", &mode);
    c->a.kind = CR_WARP_FLIP;
    if (!rc && !strcmp(mode, "horizontal_and_vertical"))
        c->a.flags = CR_FLIP_HORIZONTAL | CR_FLIP_VERTICAL;
    else if (!rc && !strcmp(mode, "horizontal"))
        c->a.flags = CR_FLIP_HORIZONTAL;
    else if (!rc && !strcmp(mode, "vertical"))
        c->a.flags = CR_FLIP_VERTICAL;
    else if (!rc)
        rc = cr_fail(CREST_E_FORMAT, "mode '%s' (horizontal, vertical or "
                     "horizontal_and_vertical)", mode);
    if (!rc)
        rc = common_parse(cfg, c, false);
    c->a.fill = CR_FILL_REFLECT;
    return rc;
}

static int flip_save(const crest_layer *l, cJSON *cfg)
{
    const aug_cfg *c = l->cfg;
    int f = c->a.flags & (CR_FLIP_HORIZONTAL | CR_FLIP_VERTICAL);
    cJSON_AddStringToObject(cfg, "mode", f == CR_FLIP_HORIZONTAL ? "horizontal"
                                         : f == CR_FLIP_VERTICAL ? "vertical"
                                                                 : "horizontal_and_vertical");
    common_save(c, cfg, false);
    return CREST_OK;
}

/* ---- RandomRotation, RandomZoom, RandomTranslation --------------------------- */

static int rotation_parse(crest_layer *l, const cJSON *cfg)
{
    aug_cfg *c = l->cfg;
    bool null;
    c->a.kind = CR_WARP_ROTATE;
    int rc = factor_of(cfg, "factor", -1e6, 1e6, true, &c->lo[0], &c->hi[0], &null);
    return rc ? rc : common_parse(cfg, c, true);
}

static int rotation_save(const crest_layer *l, cJSON *cfg)
{
    const aug_cfg *c = l->cfg;
    factor_save(cfg, "factor", c->lo[0], c->hi[0]);
    common_save(c, cfg, true);
    return CREST_OK;
}

static int zoom_parse(crest_layer *l, const cJSON *cfg)
{
    aug_cfg *c = l->cfg;
    bool null;
    c->a.kind = CR_WARP_ZOOM;
    int rc = factor_of(cfg, "height_factor", -1 + 1e-6, 1e6, true, &c->lo[0], &c->hi[0],
                       &null);
    if (!rc)
        rc = factor_of(cfg, "width_factor", -1 + 1e-6, 1e6, false, &c->lo[1], &c->hi[1],
                       &c->width_null);
    if (c->width_null)
        c->a.flags |= CR_ZOOM_KEEP_ASPECT;
    return rc ? rc : common_parse(cfg, c, true);
}

static int zoom_save(const crest_layer *l, cJSON *cfg)
{
    const aug_cfg *c = l->cfg;
    factor_save(cfg, "height_factor", c->lo[0], c->hi[0]);
    if (c->width_null)
        cJSON_AddNullToObject(cfg, "width_factor");
    else
        factor_save(cfg, "width_factor", c->lo[1], c->hi[1]);
    common_save(c, cfg, true);
    return CREST_OK;
}

static int translation_parse(crest_layer *l, const cJSON *cfg)
{
    aug_cfg *c = l->cfg;
    bool null;
    c->a.kind = CR_WARP_TRANSLATE;
    int rc = factor_of(cfg, "height_factor", -1, 1, true, &c->lo[0], &c->hi[0], &null);
    if (!rc)
        rc = factor_of(cfg, "width_factor", -1, 1, true, &c->lo[1], &c->hi[1], &null);
    return rc ? rc : common_parse(cfg, c, true);
}

static int translation_save(const crest_layer *l, cJSON *cfg)
{
    const aug_cfg *c = l->cfg;
    factor_save(cfg, "height_factor", c->lo[0], c->hi[0]);
    factor_save(cfg, "width_factor", c->lo[1], c->hi[1]);
    common_save(c, cfg, true);
    return CREST_OK;
}

/* ---- RandomContrast, RandomBrightness ----------------------------------------- */

static int value_range_parse(const cJSON *cfg, aug_cfg *c)
{
    const cJSON *vr = cJSON_GetObjectItemCaseSensitive(cfg, "value_range");
    c->col.lo = 0;
    c->col.hi = 255;
    if (!vr || cJSON_IsNull(vr))
        return CREST_OK;
    if (!cJSON_IsArray(vr) || cJSON_GetArraySize(vr) != 2 ||
        !cJSON_IsNumber(cJSON_GetArrayItem(vr, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(vr, 1)) ||
        !(cJSON_GetArrayItem(vr, 0)->valuedouble < cJSON_GetArrayItem(vr, 1)->valuedouble) ||
        !isfinite(cJSON_GetArrayItem(vr, 1)->valuedouble - cJSON_GetArrayItem(vr, 0)->valuedouble))
        return cr_fail(CREST_E_FORMAT, "'value_range' must be [low, high], low < high");
    c->col.lo = (float)cJSON_GetArrayItem(vr, 0)->valuedouble;
    c->col.hi = (float)cJSON_GetArrayItem(vr, 1)->valuedouble;
    return CREST_OK;
}

static int color_parse(aug_cfg *c, const cJSON *cfg, bool brightness)
{
    c->color = true;
    c->col.brightness = brightness;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(cfg, "factor");
    int rc = CREST_OK;
    bool null;
    if (!brightness && cJSON_IsNumber(f)) {   /* contrast: f is both bounds */
        c->lo[0] = c->hi[0] = f->valuedouble;
        if (!(f->valuedouble >= 0 && f->valuedouble <= 1))
            rc = cr_fail(CREST_E_FORMAT, "'factor' %g is not within [0, 1]", f->valuedouble);
        c->symmetric = true;
    } else if (!brightness) {
        rc = factor_of(cfg, "factor", -1e30, 1e30, true, &c->lo[0], &c->hi[0], &null);
        if (!rc && !(c->lo[0] >= 0 && c->lo[0] <= 1 && c->hi[0] >= 0))
            rc = cr_fail(CREST_E_FORMAT, "'factor' [%g, %g]: lower in [0, 1], upper >= 0",
                         c->lo[0], c->hi[0]);
    } else {
        rc = factor_of(cfg, "factor", -1, 1, true, &c->lo[0], &c->hi[0], &null);
    }
    c->col.lower = (float)c->lo[0];
    c->col.upper = (float)c->hi[0];
    if (!rc)
        rc = value_range_parse(cfg, c);
    return rc ? rc : common_parse(cfg, c, false);
}

static int contrast_parse(crest_layer *l, const cJSON *cfg)
{
    return color_parse(l->cfg, cfg, false);
}
static int brightness_parse(crest_layer *l, const cJSON *cfg)
{
    return color_parse(l->cfg, cfg, true);
}

static int color_save(const crest_layer *l, cJSON *cfg)
{
    const aug_cfg *c = l->cfg;
    if (c->symmetric)
        cJSON_AddNumberToObject(cfg, "factor", c->hi[0]);
    else
        factor_save(cfg, "factor", c->lo[0], c->hi[0]);
    cJSON *vr = cJSON_AddArrayToObject(cfg, "value_range");
    if (vr) {
        cJSON_AddItemToArray(vr, cJSON_CreateNumber(c->col.lo));
        cJSON_AddItemToArray(vr, cJSON_CreateNumber(c->col.hi));
    }
    common_save(c, cfg, false);
    return CREST_OK;
}
static int contrast_save(const crest_layer *l, cJSON *cfg) { return color_save(l, cfg); }
static int brightness_save(const crest_layer *l, cJSON *cfg) { return color_save(l, cfg); }

/* ---- RandomCrop ------------------------------------------------------------- */

/* Training, on an image at least the window's size: a random window. At
 * inference (and for smaller images): Keras' smart_resize to the window,
 * its largest centred crop of that aspect ratio, resized bilinearly. */
static cr_node *crop_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const aug_cfg *c = l->cfg;
    if (n_in != 1 || in[0]->shape.ndim != 4)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': RandomCrop takes one image input",
                             l->name);
    if (crest_graph_training(g) && in[0]->shape.d[1] >= c->a.out_h &&
        in[0]->shape.d[2] >= c->a.out_w)
        return cr_op_warp(g, in[0], &c->a);
    return cr_smart_resize(g, in[0], c->a.out_h, c->a.out_w, false, true);
}

static int crop_parse(crest_layer *l, const cJSON *cfg)
{
    aug_cfg *c = l->cfg;
    c->a.kind = CR_WARP_CROP;
    int rc = cr_json_int(cfg, "height", 1, 1 << 16, CR_JSON_REQUIRED, &c->a.out_h);
    if (!rc)
        rc = cr_json_int(cfg, "width", 1, 1 << 16, CR_JSON_REQUIRED, &c->a.out_w);
    if (!rc)
        rc = common_parse(cfg, c, false);
    c->a.fill = CR_FILL_CONSTANT;   /* a window inside the image: never read */
    return rc;
}

static int crop_save(const crest_layer *l, cJSON *cfg)
{
    const aug_cfg *c = l->cfg;
    cJSON_AddNumberToObject(cfg, "height", c->a.out_h);
    cJSON_AddNumberToObject(cfg, "width", c->a.out_w);
    common_save(c, cfg, false);
    return CREST_OK;
}

const cr_layer_def cr_random_crop_def = { .keras_class = "RandomCrop",
    .default_name = "random_crop", .cfg_size = sizeof(aug_cfg), .build = crop_build,
    .parse = crop_parse, .save = crop_save };

#define AUG_LAYER(FN, CLASS, DEFAULT)                                                    \
    const cr_layer_def cr_##DEFAULT##_def = { .keras_class = CLASS, .default_name = #DEFAULT, \
        .cfg_size = sizeof(aug_cfg), .build = aug_build, .parse = FN##_parse,            \
        .save = FN##_save };

AUG_LAYER(flip, "RandomFlip", random_flip)
AUG_LAYER(rotation, "RandomRotation", random_rotation)
AUG_LAYER(zoom, "RandomZoom", random_zoom)
AUG_LAYER(translation, "RandomTranslation", random_translation)
AUG_LAYER(contrast, "RandomContrast", random_contrast)
AUG_LAYER(brightness, "RandomBrightness", random_brightness)

/* ---- augmentation before a model (crest_extract, crest_fit) ------------------- */

int cr_augment_graph(crest_layer *const *l, int n, cr_dims sample, bool training, cr_graph **g,
                     cr_node **y)
{
    *y = NULL;
    *g = cr_graph_new(NULL, training);
    if (!*g)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    cr_node *x = cr_input(*g, sample);
    cr_graph_mark_input(*g, x);
    *y = x;
    for (int i = 0; i < n && *y; i++)
        *y = cr_layer_apply(l[i], *g, y, 1);
    int rc = cr_graph_status(*g);
    return rc ? cr_wrap(rc, "augmentation") : CREST_OK;
}

int cr_augment_run(cr_graph *g, cr_node *y, float *x, int64_t nb, int64_t per, cr_rng *r,
                   cr_pool *pool, float *out)
{
    int rc = cr_graph_plan(g, nb);
    if (rc)
        return rc;
    cr_graph_feed(g, x, per, NULL, 0, nb);
    cr_graph_forward(g, &(cr_ctx){ .pool = pool, .rng = r, .training = g->training });
    memcpy(out ? out : x, y->val, (size_t)cr_dims_count(&y->shape) * sizeof *x);
    return CREST_OK;
}

bool cr_layer_inference_identity_augment(const crest_layer *l)
{
    const cr_layer_def *d = l ? l->def : NULL;
    return d && (d == &cr_random_flip_def || d == &cr_random_rotation_def ||
                 d == &cr_random_zoom_def || d == &cr_random_translation_def ||
                 d == &cr_random_contrast_def || d == &cr_random_brightness_def);
}

bool cr_layer_is_augment(const crest_layer *l)
{
    return cr_layer_inference_identity_augment(l) || (l && l->def == &cr_random_crop_def);
}
