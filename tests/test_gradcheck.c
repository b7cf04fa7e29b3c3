/* test_gradcheck.c - finite-difference gradient check of every registered op
 * and every activation.
 *
 * For each op in cr_op_registry and each activation in cr_activations:
 * build its example (inputs are trainable variables), take L = sum(out * R)
 * for a fixed random R, get analytic gradients from backward, and compare
 * them with central differences of L (accumulated in double) at each input
 * element:
 *     |a - n| / max(1, |a|, |n|) <= the op's tolerance.
 * A new op added to the registry, or a new row of the activation table, is
 * checked without touching this file.
 * The checker itself is checked on an op with a wrong backward.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "gradcheck.h"

/* An op's example: the registry's own, or an activation's (arg: its row). */
typedef cr_node *(*example_fn)(cr_graph *g, cr_rng *r, const void *arg);

static cr_node *op_example(cr_graph *g, cr_rng *r, const void *def)
{
    return ((const cr_op_def *)def)->example(g, r);
}

static cr_node *act_example(cr_graph *g, cr_rng *r, const void *row)
{
    return cr_act_example(g, r, ((const cr_act_def *)row)->id);
}

/* Returns the worst relative error over all inputs; -1 if building failed. */
static double check(const cr_op_def *def, example_fn example, const void *arg)
{
    cr_rng rng;
    cr_rng_seed(&rng, 1234);
    cr_graph *g = cr_graph_new(NULL, true);
    cr_node *out = example(g, &rng, arg);
    if (!out || cr_graph_status(g)) {
        print_error("%s: example failed: %s\n", def->name, crest_last_error());
        cr_graph_free(g);
        return -1;
    }
    double worst = gc_worst(g, out, &rng, def->name, def->gc_tol);
    cr_graph_free(g);
    return worst;
}

static void test_every_op(void **state)
{
    (void)state;
    int failures = 0;
    for (int i = 0; i < cr_op_registry_count; i++) {
        const cr_op_def *def = cr_op_registry[i];
        if (!def->example) {
            print_error("op %s has no gradient-check example\n", def->name);
            failures++;
            continue;
        }
        double worst = check(def, op_example, def);
        print_message("gradcheck %-18s worst %.2e (tol %.0e)\n", def->name, worst, def->gc_tol);
        if (worst < 0 || worst > def->gc_tol)
            failures++;
    }
    assert_int_equal(failures, 0);
    assert_true(cr_op_registry_count >= 20);
}

/* Every row of the activation table, linear (the identity) included. */
static void test_every_activation(void **state)
{
    (void)state;
    int failures = 0;
    for (int i = 0; i < CREST_ACT_COUNT; i++) {
        const cr_act_def *a = &cr_activations[i];
        assert_non_null(a->op.name);      /* a row for every crest_act, at its index */
        assert_int_equal(a->id, i);
        double worst = check(&a->op, act_example, a);
        print_message("gradcheck %-18s worst %.2e (tol %.0e)\n", a->op.name, worst,
                      a->op.gc_tol);
        if (worst < 0 || worst > a->op.gc_tol)
            failures++;
    }
    assert_int_equal(failures, 0);
    assert_true(CREST_ACT_COUNT >= 17);
}

/* ---- the checker must catch a wrong backward --------------------------- */

static int same(cr_node *n)
{
    n->shape = n->in[0]->shape;
    return 0;
}
static void sq_fwd(cr_node *n, const cr_ctx *c)
{
    (void)c;
    for (int64_t i = 0; i < cr_dims_count(&n->shape); i++)
        n->val[i] = n->in[0]->val[i] * n->in[0]->val[i];
}
static void sq_bad_bwd(cr_node *n, const cr_ctx *c)   /* forgets the factor 2 */
{
    (void)c;
    for (int64_t i = 0; i < cr_dims_count(&n->shape); i++)
        n->in[0]->grad[i] += n->grad[i] * n->in[0]->val[i];
}
static const cr_op_def bad_def = { .name = "bad_square", .arity = 1, .shape = same,
    .forward = sq_fwd, .backward = sq_bad_bwd, .gc_tol = 1e-2 };
static cr_node *bad_ex(cr_graph *g, cr_rng *r, const void *arg)
{
    (void)arg;
    cr_node *x = cr_example_var(g, r, crest_shape(2, 3, 4), -2, 2, 0.2f);
    return cr_op(g, &bad_def, &x, 1, NULL, 0);
}

static void test_checker_catches_wrong_backward(void **state)
{
    (void)state;
    double worst = check(&bad_def, bad_ex, NULL);
    assert_true(worst > 0.1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op),
        cmocka_unit_test(test_every_activation),
        cmocka_unit_test(test_checker_catches_wrong_backward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
