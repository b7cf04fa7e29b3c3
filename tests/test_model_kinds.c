/* test_model_kinds.c - the model-kind table, and Sequential as a
 * chain-shaped functional model (one path for JSON, cut and head). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"
#include "testutil.h"

/* Input(8) -> Dense(8) -> Reshape(2,2,2) -> Activation -> Flatten -> Dense(3) */
static crest_model *chain(void)
{
    crest_model *m = NULL;
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 8)), CREST_OK);
    assert_int_equal(crest_model_set_seed(m, 3), CREST_OK);
    assert_int_equal(crest_add(m, crest_dense(8, CREST_RELU)), CREST_OK);
    assert_int_equal(crest_add(m, crest_reshape(crest_shape(3, 2, 2, 2))), CREST_OK);
    assert_int_equal(crest_add(m, crest_activation(CREST_TANH)), CREST_OK);
    assert_int_equal(crest_add(m, crest_flatten()), CREST_OK);
    assert_int_equal(crest_add(m, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    return m;
}

static char *topology_text(crest_model *m)
{
    cJSON *t = cr_model_to_json(m);
    assert_non_null(t);
    char *s = cr_json_print(t, false);
    cJSON_Delete(t);
    assert_non_null(s);
    return s;
}

static void predict8(crest_model *m, float *out)
{
    float x[2 * 8];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i % 5) * 0.25f - 0.5f;
    assert_int_equal(crest_predict(m, x, 2, out), CREST_OK);
}

static void test_kind_table(void **state)
{
    (void)state;
    assert_ptr_equal(cr_model_kind_find("Sequential"), &cr_sequential_kind);
    assert_ptr_equal(cr_model_kind_find("Model"), &cr_functional_kind);
    assert_ptr_equal(cr_model_kind_find("Functional"), &cr_functional_kind);
    assert_ptr_equal(cr_model_kind_find("TwoStage"), &cr_custom_kind);
    crest_model *m = NULL;
    cJSON *topo = cJSON_Parse("{\"class_name\":\"NoSuchModel\",\"config\":{}}");
    assert_int_equal(cr_model_from_topology(topo, &m), CREST_E_UNSUPPORTED);
    assert_null(m);
    assert_non_null(strstr(crest_last_error(), "NoSuchModel"));
    cJSON_Delete(topo);
}

static void test_sequential_is_a_chain(void **state)
{
    (void)state;
    crest_model *m = chain();
    assert_ptr_equal(m->kind, &cr_sequential_kind);
    assert_int_equal(crest_model_output_count(m), 1);
    crest_sym *out = cr_functional_output(m, 0);
    assert_ptr_equal(cr_sym_layer(out), crest_model_layer(m, 4));
    assert_ptr_equal(cr_sym_layer(cr_sym_in(out, 0)), crest_model_layer(m, 3));
    /* the functional API stays closed to Sequential models, without harm */
    crest_sym *y = crest_call(m, crest_dense(2, CREST_SOFTMAX), &out, 1);
    assert_null(y);
    assert_non_null(strstr(crest_last_error(), "not a functional model"));
    assert_int_equal(crest_add(m, crest_dropout(0.1f)), CREST_OK);
    assert_int_equal(crest_model_layer_count(m), 6);
    assert_int_equal(cr_model_build(m), CREST_OK);
    assert_int_equal(crest_model_output_size(m), 3);
    crest_model_free(m);
    /* and crest_add stays closed to functional ones */
    assert_int_equal(crest_functional_new(&m, "f"), CREST_OK);
    assert_int_equal(crest_add(m, crest_dense(2, CREST_RELU)), CREST_E_STATE);
    crest_model_free(m);
    /* an empty Sequential model does not build */
    assert_int_equal(crest_sequential_new(&m, crest_shape(1, 3)), CREST_OK);
    assert_int_equal(cr_model_build(m), CREST_E_STATE);
    assert_non_null(strstr(crest_last_error(), "has no layers"));
    crest_model_free(m);
}

static void test_sequential_json_roundtrip(void **state)
{
    (void)state;
    crest_model *m = chain(), *back = NULL;
    assert_int_equal(cr_model_build(m), CREST_OK);
    char *a = topology_text(m);
    assert_non_null(strstr(a, "{\"class_name\":\"Sequential\",\"config\":{\"name\":\"sequential\","
                              "\"layers\":[{\"class_name\":\"Dense\",\"config\":{\"name\":\"dense\","
                              "\"trainable\":true,\"batch_input_shape\":[null,8]"));
    cJSON *topo = cJSON_Parse(a);
    assert_int_equal(cr_model_from_topology(topo, &back), CREST_OK);
    cJSON_Delete(topo);
    assert_ptr_equal(back->kind, &cr_sequential_kind);
    char *b = topology_text(back);
    assert_string_equal(a, b);
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model *loaded = NULL;
    assert_int_equal(crest_model_load(&loaded, dir), CREST_OK);
    float p[6], q[6];
    predict8(m, p);
    predict8(loaded, q);
    assert_memory_equal(p, q, sizeof p);
    cr_free(a);
    cr_free(b);
    crest_model_free(m);
    crest_model_free(back);
    crest_model_free(loaded);
}

static void test_sequential_cut_and_head(void **state)
{
    (void)state;
    crest_model *m = chain(), *head = NULL;
    char cut[128];
    assert_int_equal(crest_model_default_cut(m, cut, sizeof cut), CREST_OK);
    assert_string_equal(cut, "activation");
    assert_int_equal(crest_model_cut(m, NULL, CREST_POOL_AVG), CREST_OK);
    assert_ptr_equal(m->kind, &cr_sequential_kind);
    assert_int_equal(crest_model_layer_count(m), 4);
    assert_string_equal(crest_layer_name(crest_model_layer(m, 3)), "global_average_pooling2d");
    assert_int_equal(crest_model_output_size(m), 2);
    assert_int_equal(crest_sequential_new(&head, crest_shape(1, 2)), CREST_OK);
    assert_int_equal(crest_add(head, crest_dense(3, CREST_SOFTMAX)), CREST_OK);
    assert_int_equal(crest_model_append(m, head), CREST_OK);
    assert_int_equal(crest_model_layer_count(m), 5);
    assert_string_equal(crest_layer_name(crest_model_layer(m, 4)), "dense_1");
    assert_int_equal(crest_model_output_size(m), 3);
    char *a = topology_text(m);
    assert_non_null(strstr(a, "{\"class_name\":\"Sequential\""));
    assert_null(strstr(a, "InputLayer"));
    char dir[256];
    tu_tmpdir(dir, sizeof dir);
    assert_int_equal(crest_model_save(m, dir), CREST_OK);
    crest_model *loaded = NULL;
    assert_int_equal(crest_model_load(&loaded, dir), CREST_OK);
    assert_ptr_equal(loaded->kind, &cr_sequential_kind);
    float p[6], q[6];
    predict8(m, p);
    predict8(loaded, q);
    assert_memory_equal(p, q, sizeof p);
    char *b = topology_text(loaded);
    assert_string_equal(a, b);
    cr_free(a);
    cr_free(b);
    crest_model_free(head);
    crest_model_free(m);
    crest_model_free(loaded);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_table),
        cmocka_unit_test(test_sequential_is_a_chain),
        cmocka_unit_test(test_sequential_json_roundtrip),
        cmocka_unit_test(test_sequential_cut_and_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
