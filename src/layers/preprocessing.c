/* preprocessing.c - Keras' preprocessing layers crest runs in the graph:
 * Rescaling (x * scale + offset), Resizing, CenterCrop, Normalization. */
#include "../internal.h"
#include "json.h"
#include "layers/window.h"

#include <math.h>

/* ---- Rescaling --------------------------------------------------------- */

/* scale and offset: numbers, or lists over the last axis (Keras broadcasts
 * them; EfficientNet saves one scale per RGB channel); n > 0: v holds n
 * scales then n offsets. */
typedef struct { float scale, offset; int n; float *v; } rescale_cfg;

static cr_node *rescale_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const rescale_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    if (c->n)
        return cr_op_channel_affine(g, in[0], c->v, c->v + c->n, c->n);
    return crest_op_scale(g, in[0], c->scale, c->offset);
}

/* A number or a list of numbers; *n = 0 for a number. */
static int num_or_list(const cJSON *cfg, const char *key, double def, double *one,
                       const cJSON **list, int *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    *list = NULL;
    *n = 0;
    if (!cJSON_IsArray(v))
        return cr_json_num(cfg, key, -1e30, 1e30, def, one);
    *n = cJSON_GetArraySize(v);
    *list = v;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
        return cr_fail(CREST_E_FORMAT, "'%s' holds a value that is not a number", key);
    if (*n < 1 || *n > 1 << 16)
        return cr_fail(CREST_E_FORMAT, "'%s' is a list of %d values", key, *n);
    return CREST_OK;
}

static int rescale_parse(crest_layer *l, const cJSON *cfg)
{
    rescale_cfg *c = l->cfg;
    double s = 1, o = 0;
    const cJSON *sl, *ol;
    int ns, no;
    int rc = num_or_list(cfg, "scale", CR_JSON_REQUIRED, &s, &sl, &ns);
    if (!rc)
        rc = num_or_list(cfg, "offset", 0, &o, &ol, &no);
    if (!rc && ns && no && ns != no)
        rc = cr_fail(CREST_E_FORMAT, "'scale' has %d values and 'offset' %d", ns, no);
    if (rc)
        return rc;
    *c = (rescale_cfg){ (float)s, (float)o, ns ? ns : no, NULL };
    if (!c->n)
        return CREST_OK;
    c->v = cr_malloc(2 * (size_t)c->n * sizeof(float));
    if (!c->v)
        return cr_fail(CREST_E_NOMEM, "out of memory");
    for (int i = 0; i < c->n; i++) {
        c->v[i] = sl ? (float)cJSON_GetArrayItem(sl, i)->valuedouble : (float)s;
        c->v[c->n + i] = ol ? (float)cJSON_GetArrayItem(ol, i)->valuedouble : (float)o;
    }
    return CREST_OK;
}

static int rescale_save(const crest_layer *l, cJSON *cfg)
{
    const rescale_cfg *c = l->cfg;
    if (!c->n) {
        cJSON_AddNumberToObject(cfg, "scale", c->scale);
        cJSON_AddNumberToObject(cfg, "offset", c->offset);
        return CREST_OK;
    }
    cr_json_put(cfg, "scale", cJSON_CreateFloatArray(c->v, c->n));
    cr_json_put(cfg, "offset", cJSON_CreateFloatArray(c->v + c->n, c->n));
    return CREST_OK;
}

static void rescale_free(void *cfg) { cr_free(((rescale_cfg *)cfg)->v); }

const cr_layer_def cr_rescaling_def = { .keras_class = "Rescaling", .default_name = "rescaling",
    .cfg_size = sizeof(rescale_cfg), .build = rescale_build, .parse = rescale_parse,
    .save = rescale_save, .free_cfg = rescale_free };

/* ---- Resizing, CenterCrop ---------------------------------------------- */

typedef struct { int h, w; bool nearest, crop; } resize_cfg;

/* Keras' smart_resize: crop the largest centred window of the target's
 * aspect ratio (if crop), then resize (tf.image.resize, half-pixel). */
cr_node *cr_smart_resize(cr_graph *g, cr_node *x, int th, int tw, bool nearest, bool crop)
{
    if (crop) {
        int64_t H = x->shape.d[1], W = x->shape.d[2];
        int64_t ch = (int64_t)((double)(W * th) / tw), cw = (int64_t)((double)(H * tw) / th);
        ch = ch < H ? ch : H;
        cw = cw < W ? cw : W;
        int top = (int)((H - ch) / 2), left = (int)((W - cw) / 2);
        if (ch != H || cw != W)
            x = cr_op_crop2d(g, x, top, (int)(H - ch - top), left, (int)(W - cw - left));
    }
    return cr_op_resize(g, x, th, tw, nearest);
}

static cr_node *resize_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const resize_cfg *c = l->cfg;
    if (n_in != 1 || in[0]->shape.ndim != 4)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': %s takes one [batch, h, w, c] "
                             "input", l->name, l->def->keras_class);
    return cr_smart_resize(g, in[0], c->h, c->w, c->nearest, c->crop);
}

static int size_parse(resize_cfg *c, const cJSON *cfg)
{
    int rc = cr_json_int(cfg, "height", 1, 1 << 16, CR_JSON_REQUIRED, &c->h);
    if (!rc)
        rc = cr_json_int(cfg, "width", 1, 1 << 16, CR_JSON_REQUIRED, &c->w);
    if (!rc)
        rc = cr_channels_last(cfg);
    return rc;
}

static int resize_parse(crest_layer *l, const cJSON *cfg)
{
    resize_cfg *c = l->cfg;
    const char *interp = NULL;
    int rc = size_parse(c, cfg);
    if (!rc)
        rc = cr_json_str(cfg, "interpolation", "bilinear", &interp);
    if (!rc && strcmp(interp, "bilinear") && strcmp(interp, "nearest"))
        rc = cr_fail(CREST_E_UNSUPPORTED, "interpolation '%s' is not supported (bilinear, "
                     "nearest)", interp);
    if (!rc)
        rc = cr_json_bool(cfg, "crop_to_aspect_ratio", false, &c->crop);
    if (!rc)
        c->nearest = strcmp(interp, "nearest") == 0;
    return rc;
}

static int resize_save(const crest_layer *l, cJSON *cfg)
{
    const resize_cfg *c = l->cfg;
    cJSON_AddNumberToObject(cfg, "height", c->h);
    cJSON_AddNumberToObject(cfg, "width", c->w);
    cJSON_AddStringToObject(cfg, "interpolation", c->nearest ? "nearest" : "bilinear");
    cJSON_AddBoolToObject(cfg, "crop_to_aspect_ratio", c->crop);
    return CREST_OK;
}

const cr_layer_def cr_resizing_def = { .keras_class = "Resizing", .default_name = "resizing",
    .cfg_size = sizeof(resize_cfg), .build = resize_build, .parse = resize_parse,
    .save = resize_save };

/* CenterCrop (Keras 2.9+): the centred height x width window, starting at
 * floor(diff / 2); an input smaller than that on either side is
 * smart-resized (aspect-ratio crop, bilinear) to the size instead. */
static cr_node *ccrop_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const resize_cfg *c = l->cfg;
    if (n_in != 1 || in[0]->shape.ndim != 4)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': CenterCrop takes one [batch, h, "
                             "w, c] input", l->name);
    int64_t dh = in[0]->shape.d[1] - c->h, dw = in[0]->shape.d[2] - c->w;
    if (dh < 0 || dw < 0)
        return cr_smart_resize(g, in[0], c->h, c->w, false, true);
    return cr_op_crop2d(g, in[0], (int)(dh / 2), (int)(dh - dh / 2), (int)(dw / 2),
                        (int)(dw - dw / 2));
}

static int ccrop_parse(crest_layer *l, const cJSON *cfg) { return size_parse(l->cfg, cfg); }

static int ccrop_save(const crest_layer *l, cJSON *cfg)
{
    const resize_cfg *c = l->cfg;
    cJSON_AddNumberToObject(cfg, "height", c->h);
    cJSON_AddNumberToObject(cfg, "width", c->w);
    return CREST_OK;
}

const cr_layer_def cr_center_crop_def = { .keras_class = "CenterCrop",
    .default_name = "center_crop", .cfg_size = sizeof(resize_cfg), .build = ccrop_build,
    .parse = ccrop_parse, .save = ccrop_save };

/* ---- Normalization ----------------------------------------------------- */

/* (x - mean) / max(sqrt(variance), 1e-7), or with invert x * max(...) +
 * mean, Keras' definition. The statistics are the layer's non-trainable
 * weights mean, variance and count, as adapt() leaves them (EfficientNet);
 * their shape is the input's dims along the kept axes (axis: -1 by
 * default, a list, or null for one scalar pair), which must be the last
 * axes. Statistics given in the config itself are not supported. */
typedef struct { int axes[CR_MAX_DIMS], n_axes; bool invert; } normz_cfg;

static cr_node *normz_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const normz_cfg *c = l->cfg;
    if (!cr_one_input(g, l, n_in))
        return NULL;
    cr_node *x = in[0];
    int nd = x->shape.ndim;
    bool on[CR_MAX_DIMS] = { false };
    for (int i = 0; i < c->n_axes; i++) {
        int a = c->axes[i] < 0 ? c->axes[i] + nd : c->axes[i];
        if (a < 1 || a >= nd)
            return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': Normalization axis %d of a "
                                 "rank-%d input", l->name, c->axes[i], nd - 1);
        on[a] = true;
    }
    cr_dims s = { .ndim = 0 };
    for (int a = 1; a < nd; a++)
        if (on[a])
            s.d[s.ndim++] = x->shape.d[a];
    for (int a = nd - s.ndim; a < nd; a++)
        if (!on[a])
            return cr_graph_fail(g, CREST_E_UNSUPPORTED, "layer '%s': Normalization over axes "
                                 "that are not the last ones (supported: trailing axes)",
                                 l->name);
    cr_node *mean = cr_layer_var(g, "mean", s, CREST_ZEROS, false);
    cr_node *var = cr_layer_var(g, "variance", s, CREST_ONES, false);
    cr_layer_var(g, "count", (cr_dims){ .ndim = 0 }, CREST_ZEROS, false);
    return cr_op_normalize(g, x, mean, var, 1e-7f, c->invert);
}

static int normz_parse(crest_layer *l, const cJSON *cfg)
{
    normz_cfg *c = l->cfg;
    const cJSON *ax = cJSON_GetObjectItemCaseSensitive(cfg, "axis");
    int rc = CREST_OK;
    if (!ax) {
        c->axes[0] = -1;
        c->n_axes = 1;
    } else {
        rc = cr_json_ints(cfg, "axis", -CR_MAX_DIMS, CR_MAX_DIMS - 1, c->axes, CR_MAX_DIMS - 1,
                          &c->n_axes);
        if (c->n_axes < 0)
            c->n_axes = 0;   /* null: one mean and variance for everything */
    }
    const char *given[] = { "mean", "variance" };
    for (int i = 0; !rc && i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, given[i]);
        if (v && !cJSON_IsNull(v))
            rc = cr_fail(CREST_E_UNSUPPORTED, "'%s' given in the config is not supported "
                         "(adapted statistics, stored as weights, are)", given[i]);
    }
    if (!rc)
        rc = cr_json_bool(cfg, "invert", false, &c->invert);
    return rc;
}

static int normz_save(const crest_layer *l, cJSON *cfg)
{
    const normz_cfg *c = l->cfg;
    if (c->n_axes == 0)
        cJSON_AddNullToObject(cfg, "axis");
    else
        cr_json_add_ints(cfg, "axis", c->axes, c->n_axes);
    cJSON_AddNullToObject(cfg, "mean");
    cJSON_AddNullToObject(cfg, "variance");
    if (c->invert)
        cJSON_AddBoolToObject(cfg, "invert", true);
    return CREST_OK;
}

const cr_layer_def cr_normalization_def = { .keras_class = "Normalization",
    .default_name = "normalization", .cfg_size = sizeof(normz_cfg), .build = normz_build,
    .parse = normz_parse, .save = normz_save };
