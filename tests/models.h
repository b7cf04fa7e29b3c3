/* models.h - small models more than one test builds (static, header-only;
 * include after cmocka.h and crest.h). */
#ifndef CREST_TEST_MODELS_H
#define CREST_TEST_MODELS_H

/* A functional model of two inputs: "pixels" [h, w] flattened into
 * dense(img_units, relu), "table" [tab] into dense(tab_units, relu), the two
 * concatenated into dense(classes, softmax). */
typedef struct tm_two_inputs {
    const char *name;
    int seed, h, w, tab, img_units, tab_units, classes;
} tm_two_inputs;

static inline crest_model *tm_two_input_model(const tm_two_inputs *s)
{
    crest_model *m = NULL;
    assert_int_equal(crest_functional_new(&m, s->name), CREST_OK);
    crest_model_set_seed(m, s->seed);
    crest_sym *img = crest_input(m, crest_shape(2, s->h, s->w), "pixels");
    crest_sym *tab = crest_input(m, crest_shape(1, s->tab), "table");
    crest_sym *a = crest_apply(m, crest_flatten(), img);
    a = crest_apply(m, crest_dense(s->img_units, CREST_RELU), a);
    crest_sym *b = crest_apply(m, crest_dense(s->tab_units, CREST_RELU), tab);
    crest_sym *both[2] = { a, b };
    crest_sym *c = crest_call(m, crest_concatenate(-1), both, 2);
    crest_sym *out = crest_apply(m, crest_dense(s->classes, CREST_SOFTMAX), c);
    crest_sym *ins[2] = { img, tab };
    assert_int_equal(crest_functional_outputs(m, ins, 2, &out, 1), CREST_OK);
    return m;
}

#endif
