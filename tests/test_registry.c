/* test_registry.c - tests that walk the registries, so a new layer class or
 * activation is covered without a new test.
 *
 *  - Every class of cr_layer_registry: a small instance, made from the Keras
 *    config in samples[] below (a class without one fails the test), is
 *    the layer of a functional model; the model is saved (TF.js layers
 *    format), loaded, saved again: both saves are byte-identical (model.json
 *    and the weights), and the saved and loaded models predict the same
 *    on a random input.
 *  - Every row of the activation table: its Keras name (and alias) parses
 *    into a Dense and an Activation layer that save back under the row's
 *    name, is a function of expressions, and a model with that Dense layer
 *    goes through the same save / load / save.
 *  - The activations TF.js lacks (exponential, leaky_relu) against their
 *    formulas; the others have TF.js goldens (tests/golden/layers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>

#include "internal.h"
#include "testutil.h"
#include "json.h"

/* ---- a layer in a model, saved, loaded, saved again -------------------- */

#define MAX_IN 2

typedef struct sample {
    const char *keras_class;
    const char *config;           /* the layer's Keras config (JSON), no name */
    int n_in;
    crest_dims in[MAX_IN];        /* input shapes, without the batch */
} sample;

/* The Lambda sample's function: x * w + 1, w a variable of x's last dim. */
static crest_node *rt_affine(crest_graph *g, crest_node *x, const void *args)
{
    (void)args;
    crest_dims s = crest_node_shape(x);
    crest_node *w = crest_variable(g, "w", crest_shape(1, (int)s.d[s.ndim - 1]),
                                   CREST_RANDOM_UNIFORM, true);
    return crest_op_scale(g, crest_op_mul(g, x, w), 1.0f, 1.0f);
}

/* An adapted feature spec as crest saves it: a normalized float, and a
 * string category (2 words + 1 out of vocabulary) in a 2-wide embedding;
 * rows of 2 values: the float, then the category's id. */
#define FEATURES_CONFIG \
    "{\"features\": {\"label\": \"y\", \"classes\": [\"n\", \"y\"], \"features\": {" \
    "\"a\": {\"type\": \"float_normalized\", \"mean\": 1, \"variance\": 2, " \
    "\"missing_indicator\": false}, \"c\": {\"type\": \"string_categorical\", " \
    "\"output_mode\": \"embedding\", \"embedding_dim\": 2, \"combiner\": \"mean\", " \
    "\"num_oov_indices\": 1, \"vocabulary\": [\"p\", \"q\"]}}}}"

#define S1(a) { .ndim = 1, .d = { a } }
#define S2(a, b) { .ndim = 2, .d = { a, b } }
#define S3(a, b, c) { .ndim = 3, .d = { a, b, c } }
#define S4(a, b, c, e) { .ndim = 4, .d = { a, b, c, e } }
#define D1(a) { S1(a) }
#define D3(a, b, c) { S3(a, b, c) }
#define D2(a, b) { { .ndim = 2, .d = { a, b } } }
static const sample samples[] = {
    { "Dense", "{\"units\": 3, \"activation\": \"tanh\"}", 1, D1(4) },
    { "Activation", "{\"activation\": \"gelu\"}", 1, D1(4) },
    { "Dropout", "{\"rate\": 0.25}", 1, D1(4) },
    { "Flatten", "{}", 1, D3(2, 2, 3) },
    { "Reshape", "{\"target_shape\": [3, 2]}", 1, D1(6) },
    { "Add", "{}", 2, { S1(4), S1(4) } },
    { "Multiply", "{}", 2, { S1(4), S1(4) } },
    { "Average", "{}", 2, { S1(4), S1(4) } },
    { "Concatenate", "{\"axis\": -1}", 2, { S1(4), S1(3) } },
    { "CrestLambda", "{\"function\": \"rt_affine\", \"arguments\": \"\"}", 1, D1(4) },
    { "CrestExpr", "{\"expression\": \"W[_,3]: softmax(relu(x) @ W + b)\"}", 1, D1(4) },
    { "Conv2D", "{\"filters\": 2, \"kernel_size\": [3, 3], \"padding\": \"same\", "
                "\"activation\": \"relu\"}", 1, D3(5, 5, 3) },
    { "DepthwiseConv2D", "{\"kernel_size\": [3, 3], \"depth_multiplier\": 2, "
                         "\"activation\": \"relu6\"}", 1, D3(5, 5, 3) },
    { "SeparableConv2D", "{\"filters\": 2, \"kernel_size\": [3, 3], \"strides\": [2, 2], "
                         "\"padding\": \"same\"}", 1, D3(5, 5, 3) },
    { "BatchNormalization", "{\"momentum\": 0.9, \"epsilon\": 0.001}", 1, D3(3, 3, 2) },
    { "MaxPooling2D", "{\"pool_size\": [2, 2]}", 1, D3(4, 4, 2) },
    { "AveragePooling2D", "{\"pool_size\": [3, 3], \"strides\": [2, 2], \"padding\": "
                          "\"same\"}", 1, D3(5, 5, 2) },
    { "GlobalAveragePooling2D", "{}", 1, D3(3, 3, 2) },
    { "GlobalMaxPooling2D", "{\"keepdims\": true}", 1, D3(3, 3, 2) },
    { "ZeroPadding2D", "{\"padding\": [[1, 0], [0, 2]]}", 1, D3(3, 3, 2) },
    { "Cropping2D", "{\"cropping\": [[1, 0], [0, 1]]}", 1, D3(4, 4, 2) },
    { "ReLU", "{\"max_value\": 6, \"negative_slope\": 0.1, \"threshold\": 0.5}", 1, D1(4) },
    { "LeakyReLU", "{\"alpha\": 0.2}", 1, D1(4) },
    { "Rescaling", "{\"scale\": 0.5, \"offset\": 0.1}", 1, D1(4) },
    { "DenseFeatures", FEATURES_CONFIG, 1, D1(2) },
#define D4(a, b, c, e) { { .ndim = 4, .d = { a, b, c, e } } }
    { "Conv3D", "{\"filters\": 2, \"kernel_size\": [3, 2, 3], \"strides\": [1, 2, 1], "
               "\"padding\": \"same\", \"dilation_rate\": [2, 1, 1], \"activation\": \"relu\"}",
      1, D4(4, 4, 3, 2) },
    { "Conv3DTranspose", "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, "
                        "\"padding\": \"same\", \"output_padding\": [1, 0, 1]}", 1, D4(2, 3, 2, 2) },
    { "MaxPooling3D", "{\"pool_size\": [2, 2, 2]}", 1, D4(4, 4, 3, 2) },
    { "AveragePooling3D", "{\"pool_size\": 3, \"strides\": 2, \"padding\": \"same\"}", 1,
      D4(5, 4, 3, 2) },
    { "GlobalAveragePooling3D", "{}", 1, D4(3, 2, 3, 2) },
    { "GlobalMaxPooling3D", "{\"keepdims\": true}", 1, D4(3, 2, 3, 2) },
    { "UpSampling3D", "{\"size\": [2, 1, 2]}", 1, D4(2, 3, 2, 2) },
    { "ZeroPadding3D", "{\"padding\": [[1, 0], [0, 2], 1]}", 1, D4(2, 2, 3, 2) },
    { "Cropping3D", "{\"cropping\": [[1, 0], [0, 1], [1, 1]]}", 1, D4(4, 4, 4, 2) },
    { "Conv1D", "{\"filters\": 2, \"kernel_size\": [3], \"padding\": \"causal\", "
               "\"dilation_rate\": 2, \"activation\": \"relu\"}", 1, D2(6, 3) },
    { "SeparableConv1D", "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 2, "
                        "\"depth_multiplier\": 2, \"padding\": \"same\"}", 1, D2(7, 3) },
    { "DepthwiseConv1D", "{\"kernel_size\": [2], \"depth_multiplier\": 2, "
                        "\"use_bias\": false}", 1, D2(5, 3) },
    { "MaxPooling1D", "{\"pool_size\": [2], \"strides\": null}", 1, D2(5, 2) },
    { "AveragePooling1D", "{\"pool_size\": 3, \"strides\": 2, \"padding\": \"same\"}", 1,
      D2(5, 2) },
    { "GlobalAveragePooling1D", "{\"keepdims\": true}", 1, D2(4, 3) },
    { "GlobalMaxPooling1D", "{}", 1, D2(4, 3) },
    { "UpSampling1D", "{\"size\": 3}", 1, D2(3, 2) },
    { "ZeroPadding1D", "{\"padding\": [2, 1]}", 1, D2(3, 2) },
    { "Cropping1D", "{\"cropping\": [0, 2]}", 1, D2(5, 2) },
    { "ELU", "{\"alpha\": 0.7}", 1, D1(4) },
    { "ThresholdedReLU", "{\"theta\": 0.3}", 1, D1(4) },
    { "Softmax", "{\"axis\": 1}", 1, D3(3, 2, 2) },
    { "PReLU", "{\"shared_axes\": [1, 2], \"alpha_initializer\": {\"class_name\": "
               "\"RandomUniform\", \"config\": {}}}", 1, D3(2, 3, 2) },
    { "Subtract", "{}", 2, { S1(4), S1(4) } },
    { "Maximum", "{}", 2, { S1(4), S1(4) } },
    { "Minimum", "{}", 2, { S1(4), S1(4) } },
    { "Dot", "{\"axes\": [2, 1], \"normalize\": true}", 2, { S2(3, 4), S2(4, 2) } },
    { "Permute", "{\"dims\": [2, 3, 1]}", 1, D3(2, 3, 4) },
    { "RepeatVector", "{\"n\": 3}", 1, D1(4) },
    { "SpatialDropout1D", "{\"rate\": 0.3}", 1, { S2(3, 4) } },
    { "SpatialDropout2D", "{\"rate\": 0.3}", 1, D3(2, 3, 4) },
    { "SpatialDropout3D", "{\"rate\": 0.3}", 1, { S4(2, 2, 3, 2) } },
    { "GaussianNoise", "{\"stddev\": 0.5}", 1, D1(4) },
    { "GaussianDropout", "{\"rate\": 0.2}", 1, D1(4) },
    { "AlphaDropout", "{\"rate\": 0.2}", 1, D1(4) },
    { "Resizing", "{\"height\": 3, \"width\": 5, \"interpolation\": \"bilinear\", "
                  "\"crop_to_aspect_ratio\": true}", 1, D3(4, 6, 2) },
    { "CenterCrop", "{\"height\": 2, \"width\": 3}", 1, D3(4, 6, 2) },
    { "Normalization", "{\"axis\": -1}", 1, D3(2, 2, 3) },
    { "LayerNormalization", "{\"axis\": [-2, -1], \"epsilon\": 0.01}", 1, D3(2, 3, 4) },
    { "Conv2DTranspose", "{\"filters\": 2, \"kernel_size\": [3, 3], \"strides\": [2, 2], "
                         "\"padding\": \"same\", \"activation\": \"relu\"}", 1, D3(3, 4, 3) },
    { "UpSampling2D", "{\"size\": [2, 3], \"interpolation\": \"bilinear\"}", 1, D3(3, 2, 2) },
    { "RandomFlip", "{\"mode\": \"horizontal\", \"seed\": 7}", 1, D3(3, 4, 2) },
    { "RandomRotation", "{\"factor\": [-0.1, 0.2], \"fill_mode\": \"wrap\"}", 1, D3(3, 4, 2) },
    { "RandomZoom", "{\"height_factor\": 0.2, \"width_factor\": null, "
                    "\"interpolation\": \"nearest\"}", 1, D3(3, 4, 2) },
    { "RandomTranslation", "{\"height_factor\": 0.1, \"width_factor\": [-0.2, 0.1], "
                           "\"fill_mode\": \"constant\", \"fill_value\": 0.5}", 1, D3(3, 4, 2) },
    { "RandomContrast", "{\"factor\": 0.3}", 1, D3(3, 4, 2) },
    { "RandomCrop", "{\"height\": 2, \"width\": 3}", 1, D3(3, 4, 2) },
    { "RandomBrightness", "{\"factor\": [-0.1, 0.3], \"value_range\": [0, 1]}", 1, D3(3, 4, 2) },
};
#define N_SAMPLES ((int)(sizeof samples / sizeof samples[0]))

static const sample *sample_of(const char *keras_class)
{
    for (int i = 0; i < N_SAMPLES; i++)
        if (strcmp(samples[i].keras_class, keras_class) == 0)
            return &samples[i];
    return NULL;
}

/* {"class_name": cls, "config": config + name} -> a layer (cr_layer_from_json). */
static crest_layer *layer_of(const char *cls, const char *config)
{
    cJSON *cfg = cJSON_Parse(config);
    assert_non_null(cfg);
    cJSON_AddStringToObject(cfg, "name", "probe");
    cJSON *lj = cJSON_CreateObject();
    cJSON_AddStringToObject(lj, "class_name", cls);
    cJSON_AddItemToObject(lj, "config", cfg);
    crest_layer *l = NULL;
    int rc = cr_layer_from_json(lj, &l);
    if (rc)
        print_error("%s: %s\n", cls, crest_last_error());
    assert_int_equal(rc, CREST_OK);
    cJSON_Delete(lj);
    return l;
}

/* A functional model: inputs -> l. Consumes l. */
static crest_model *model_of(crest_layer *l, const sample *s)
{
    crest_model *m = NULL;
    assert_int_equal(crest_functional_new(&m, "roundtrip"), CREST_OK);
    assert_int_equal(crest_model_set_seed(m, 5), CREST_OK);
    crest_sym *in[MAX_IN], *out;
    static const char *const names[MAX_IN] = { "in0", "in1" };
    for (int i = 0; i < s->n_in; i++)   /* named: unnamed inputs all get one name (main) */
        in[i] = crest_input(m, s->in[i], names[i]);
    out = crest_call(m, l, in, s->n_in);
    if (!out)
        print_error("%s: %s\n", s->keras_class, crest_last_error());
    assert_non_null(out);
    int rc = crest_functional_outputs(m, in, s->n_in, &out, 1);
    if (rc)
        print_error("%s: %s\n", s->keras_class, crest_last_error());
    assert_int_equal(rc, CREST_OK);
    return m;
}

/* Every file of a is in b with the same bytes, and b has no others. */
static void assert_same_folder(const char *a, const char *b, const char *what)
{
    assert_int_equal(tu_count_files(a), tu_count_files(b));
    DIR *d = opendir(a);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        size_t na = tu_size(a, e->d_name), nb = tu_size(b, e->d_name);
        char *fa = tu_read(a, e->d_name), *fb = tu_read(b, e->d_name);
        if (!fb || na != nb || memcmp(fa, fb, na) != 0)
            print_error("%s: %s differs after load + save\n", what, e->d_name);
        assert_non_null(fb);
        assert_int_equal(na, nb);
        assert_memory_equal(fa, fb, na);
        free(fa);
        free(fb);
    }
    closedir(d);
}

#define N_ROWS 2
#define OUT_CAP 4096              /* floats: more than any sample's output */

/* predictions of m on x (output 0); the buffer starts as a fixed pattern,
 * so two calls compare whole buffers */
static void predict(crest_model *m, const float *x, float *out, const char *what)
{
    memset(out, 0x5a, OUT_CAP * sizeof *out);
    int rc = crest_predict_output(m, 0, x, N_ROWS, out);
    if (rc)
        print_error("%s: %s\n", what, crest_last_error());
    assert_int_equal(rc, CREST_OK);
}

/* Saves m, loads it, saves that: identical saves, identical predictions. */
static void roundtrip(crest_model *m, const sample *s, const char *what)
{
    char d1[64], d2[64];
    tu_tmpdir(d1, sizeof d1);
    tu_tmpdir(d2, sizeof d2);
    int rc = crest_model_save(m, d1);
    if (rc)
        print_error("%s: save: %s\n", what, crest_last_error());
    assert_int_equal(rc, CREST_OK);
    crest_model *m2 = NULL;
    rc = crest_model_load(&m2, d1);
    if (rc)
        print_error("%s: load: %s\n", what, crest_last_error());
    assert_int_equal(rc, CREST_OK);
    assert_int_equal(crest_model_save(m2, d2), CREST_OK);
    assert_same_folder(d1, d2, what);

    int64_t n_x = 0;
    for (int i = 0; i < s->n_in; i++)
        n_x += crest_dims_count(s->in[i]);
    float *x = malloc((size_t)(N_ROWS * n_x) * sizeof *x);
    float *y1 = malloc(OUT_CAP * sizeof *y1), *y2 = malloc(OUT_CAP * sizeof *y2);
    cr_rng r;
    cr_rng_seed(&r, 17);
    bool ids = strcmp(s->keras_class, "DenseFeatures") == 0;   /* an id after 1 float */
    for (int64_t i = 0; i < N_ROWS * n_x; i++)
        x[i] = ids && i % n_x >= 1 ? (float)cr_rng_below(&r, 3)
                                   : (float)(cr_rng_uniform(&r) * 2 - 1);
    predict(m, x, y1, what);
    predict(m2, x, y2, what);
    assert_memory_equal(y1, y2, OUT_CAP * sizeof *y1);
    free(x);
    free(y1);
    free(y2);
    crest_model_free(m2);
    tu_rmdir(d1);
    tu_rmdir(d2);
}

static void test_every_layer_class(void **state)
{
    (void)state;
    assert_int_equal(crest_register_lambda("rt_affine", rt_affine), CREST_OK);
    int missing = 0;
    for (int i = 0; i < cr_layer_registry_count; i++) {
        const char *cls = cr_layer_registry[i]->keras_class;
        const sample *s = sample_of(cls);
        if (!s) {
            print_error("layer class %s has no sample in tests/test_registry.c\n", cls);
            missing++;
            continue;
        }
        print_message("round trip %s\n", cls);
        crest_model *m = model_of(layer_of(cls, s->config), s);
        roundtrip(m, s, cls);
        crest_model_free(m);
    }
    assert_int_equal(missing, 0);
    assert_true(cr_layer_registry_count >= 25);
    crest_register_lambda("rt_affine", NULL);
}

/* ---- the activation table ---------------------------------------------- */

/* cls with {"activation": name}: the saved config names `saved`. */
static void assert_act_saves(const char *cls, const char *extra, const char *name,
                             const char *saved)
{
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{%s\"activation\": \"%s\"}", extra, name);
    crest_layer *l = layer_of(cls, cfg);
    cJSON *j = cr_layer_json(l, NULL);
    assert_non_null(j);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j,
                                                                                       "config"),
                                                      "activation");
    assert_true(cJSON_IsString(a));
    assert_string_equal(a->valuestring, saved);
    cJSON_Delete(j);
    crest_layer_free(l);
}

static void test_every_activation_name(void **state)
{
    (void)state;
    for (int i = 0; i < CREST_ACT_COUNT; i++) {
        const cr_act_def *a = &cr_activations[i];
        const char *name = crest_act_name((crest_act)i);
        assert_string_equal(name, a->op.name);
        crest_act back = CREST_ACT_COUNT;
        assert_int_equal(crest_act_parse(name, &back), CREST_OK);
        assert_int_equal(back, i);
        assert_act_saves("Dense", "\"units\": 3, ", name, name);
        assert_act_saves("Activation", "", name, name);
        if (a->alias) {            /* read under its alias, saved under its name */
            assert_int_equal(crest_act_parse(a->alias, &back), CREST_OK);
            assert_int_equal(back, i);
            assert_act_saves("Dense", "\"units\": 3, ", a->alias, name);
        }
        /* a function of expressions under both names */
        char text[64];
        snprintf(text, sizeof text, "%s(x)", name);
        crest_layer *e = crest_expr(text);
        assert_non_null(e);
        crest_layer_free(e);
        if (a->alias) {
            snprintf(text, sizeof text, "%s(x)", a->alias);
            assert_non_null(e = crest_expr(text));
            crest_layer_free(e);
        }
        /* a Dense model with it, saved, loaded and saved again */
        char cfg[128], what[64];
        snprintf(cfg, sizeof cfg, "{\"units\": 3, \"activation\": \"%s\"}", name);
        snprintf(what, sizeof what, "Dense(activation=%s)", name);
        const sample *s = sample_of("Dense");
        crest_model *m = model_of(layer_of("Dense", cfg), s);
        if (i == CREST_HARD_SIGMOID_KERAS3) {   /* TF.js has no name for it: refused */
            char d[64];
            tu_tmpdir(d, sizeof d);
            assert_int_equal(crest_model_save(m, d), CREST_E_UNSUPPORTED);
            assert_non_null(strstr(crest_last_error(), "has no equivalent in TF.js"));
        } else {
            roundtrip(m, s, what);
        }
        crest_model_free(m);
    }
    crest_act out;
    assert_int_equal(crest_act_parse("no_such_act", &out), CREST_E_UNSUPPORTED);
    assert_non_null(strstr(crest_last_error(), "'no_such_act'"));
    assert_string_equal(crest_act_name(CREST_ACT_COUNT), "unknown");
}

/* Activations TF.js has no oracle for: their Keras formulas. */
static void test_activation_formulas(void **state)
{
    (void)state;
    static const float xs[] = { -3.0f, -1.0f, -0.25f, 0.5f, 2.0f };
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        float x = xs[i];
        const cr_act_def *e = &cr_activations[CREST_EXPONENTIAL];
        const cr_act_def *l = &cr_activations[CREST_LEAKY_RELU];
        assert_true(fabs(e->f(x) - exp(x)) <= 1e-6 * exp(x));
        assert_true(fabs(l->f(x) - (x > 0 ? x : 0.2 * x)) <= 1e-7);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_layer_class),
        cmocka_unit_test(test_every_activation_name),
        cmocka_unit_test(test_activation_formulas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
