/* test_custom_layers.c - custom Keras layer classes: one defined in C
 * (crest_register_layer, with a weight of its own) and one by an expression
 * over its config fields, read from a Keras topology, run, saved and loaded
 * back (the expression class through the saved metadata alone); errors
 * naming layer, class and field; the registry under allocation failures. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"

/* "ScaleBy": x * s + config "shift"; s a weight [channels] of the layer */
static crest_node *scale_by(crest_graph *g, crest_node *x, const char *config, void *user)
{
    (void)user;
    cJSON *c = cJSON_Parse(config);
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(c, "shift");
    float shift = cJSON_IsNumber(sh) ? (float)sh->valuedouble : 0;
    cJSON_Delete(c);
    crest_node *s = crest_variable(g, "s", crest_shape(1, 3), CREST_ONES, true);
    return crest_op_scale(g, crest_op_mul(g, x, s), 1, shift);
}

static const char topo[] =
    "{\"class_name\":\"Sequential\",\"config\":{\"name\":\"m\",\"layers\":["
    "{\"class_name\":\"ScaleBy\",\"config\":{\"name\":\"sb\",\"shift\":0.5,"
    "\"batch_input_shape\":[null,3],\"dtype\":\"float32\"}},"
    "{\"class_name\":\"TimesAlpha\",\"config\":{\"name\":\"ta\",\"alpha\":-2,\"on\":true}}]}}";

static int load_topo(crest_model **m)
{
    cJSON *t = cJSON_Parse(topo);
    int rc = cr_model_from_topology(t, m);
    cJSON_Delete(t);
    return rc;
}

static void test_c_and_expression_classes(void **state)
{
    (void)state;
    crest_model *m = NULL, *back = NULL;
    assert_int_not_equal(load_topo(&m), CREST_OK);
    assert_non_null(strstr(crest_last_error(), "layer 'sb': class ScaleBy is not supported"));
    assert_int_equal(crest_register_layer("ScaleBy", scale_by, NULL), CREST_OK);
    assert_int_not_equal(load_topo(&m), CREST_OK);
    assert_non_null(strstr(crest_last_error(), "class TimesAlpha"));
    assert_int_equal(crest_register_layer_expr("TimesAlpha", "x * alpha * on"), CREST_OK);
    assert_int_equal(load_topo(&m), CREST_OK);
    crest_layer *sb = crest_model_find_layer(m, "sb");
    assert_non_null(sb);
    float x[6] = { 1, 2, 3, -1, 0, 4 }, y[6], y2[6];
    assert_int_equal(crest_predict(m, x, 2, y), CREST_OK);
    for (int i = 0; i < 6; i++)
        assert_float_equal(y[i], (x[i] + 0.5f) * -2.0f, 1e-6);
    cr_weight *w = cr_model_find_weight(m, "sb/s");
    assert_non_null(w);
    w->val[1] = 3;
    w->version++;
    assert_int_equal(crest_predict(m, x, 2, y), CREST_OK);
    char dir[] = "/tmp/crest-cl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model_free(m);        /* no layer of a class may outlive a reset */
    cr_custom_layers_reset();   /* TimesAlpha comes back from the metadata; ScaleBy must not */
    assert_int_not_equal(crest_model_load(&back, dir), CREST_OK);
    assert_non_null(strstr(crest_last_error(), "class ScaleBy"));
    assert_int_equal(crest_register_layer("ScaleBy", scale_by, NULL), CREST_OK);
    assert_int_equal(crest_model_load(&back, dir), CREST_OK);
    assert_int_equal(crest_predict(back, x, 2, y2), CREST_OK);
    assert_memory_equal(y, y2, sizeof y);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    crest_model_free(back);
    cr_custom_layers_reset();
}

static void test_unknown_field(void **state)
{
    (void)state;
    crest_model *m = NULL;
    assert_int_equal(crest_register_layer("ScaleBy", scale_by, NULL), CREST_OK);
    assert_int_equal(crest_register_layer_expr("TimesAlpha", "x * gamma"), CREST_OK);
    assert_int_not_equal(load_topo(&m), CREST_OK);
    const char *e = crest_last_error();
    assert_non_null(strstr(e, "layer 'ta' (TimesAlpha)"));
    assert_non_null(strstr(e, "'gamma'"));
    assert_non_null(strstr(e, "names no numeric config field"));
    assert_int_not_equal(crest_register_layer_expr("TimesAlpha", "x *"), CREST_OK);
    assert_non_null(strstr(crest_last_error(), "custom layer class 'TimesAlpha'"));
    assert_int_not_equal(crest_register_layer_expr("Dense", "x"), CREST_OK);
    assert_int_not_equal(crest_register_layer("bad name", scale_by, NULL), CREST_OK);
    cr_custom_layers_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c_and_expression_classes),
        cmocka_unit_test(test_unknown_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
