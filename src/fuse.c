/* fuse.c - inference-graph rewrites that save whole passes over memory:
 *  - Conv2D / DepthwiseConv2D followed by BatchNormalization in inference
 *    mode: the norm's statistics fold into the conv's kernel and bias;
 *  - relu / relu6 right after a conv: applied in the conv's epilogue;
 *  - ZeroPadding2D feeding a 'valid' conv: the conv skips the taps that
 *    fall in the padding, so the padded image is never materialized.
 * A rewrite needs the conv's output to feed only the node fused in, and
 * that node not to be kept, an output or the probe. The fused node's
 * consumers are redirected to the conv; dead nodes leave the graph and the
 * remaining ones are renumbered (creation order stays topological).
 * Fused nodes have no backward, so in training graphs only nodes no
 * gradient flows through are fused (a frozen backbone under a new head).
 */
#include "internal.h"

static bool pinned(const cr_graph *g, const cr_node *n)
{
    if (n->keep || n == g->probe_out)
        return true;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == n)
            return true;
    return false;
}

static int consumers(const cr_graph *g, const cr_node *n, const bool *dead)
{
    int k = 0;
    for (int i = n->id + 1; i < g->n; i++)
        if (!dead[i])
            for (int j = 0; j < g->nodes[i]->n_in; j++)
            k += g->nodes[i]->in[j] == n;
    return k;
}

/* Every use of `from` now reads `to`; from is marked dead. */
static void redirect(cr_graph *g, cr_node *from, cr_node *to, bool *dead)
{
    for (int i = from->id + 1; i < g->n; i++)
        for (int j = 0; j < g->nodes[i]->n_in; j++)
            if (g->nodes[i]->in[j] == from)
                g->nodes[i]->in[j] = to;
    dead[from->id] = true;
}

static int act_of(const cr_node *n)
{
    const cr_act_def *a = n->n_in == 1 ? cr_act_of(n) : NULL;
    return a && a->kernel != CR_ACT_NONE ? (int)a->id : -1;
}

int cr_graph_fuse_inference(cr_graph *g)
{
    int rc = cr_graph_status(g);
    if (rc)
        return rc;
    bool *dead = cr_calloc((size_t)(g->n ? g->n : 1), sizeof *dead);
    if (!dead)
        return cr_fail(CREST_E_NOMEM, "out of memory optimizing the graph");
    for (int i = 0; i < g->n && !rc; i++) {
        cr_node *n = g->nodes[i], *mean, *var, *gamma, *beta;
        float eps;
        int pt, pb, pl, pr;
        if (dead[i] || n->kind != CR_NODE_OP || n->n_in < 1 || pinned(g, n))
            continue;
        cr_node *c = n->in[0];
        if (pinned(g, c) || consumers(g, c, dead) != 1 ||
            (g->training && (n->needs_grad || c->needs_grad)))
            continue;
        if (cr_bn_parts(n, &mean, &var, &gamma, &beta, &eps) && cr_conv_can_fold(c)) {
            if ((rc = cr_conv_fold_bn(c, mean, var, gamma, beta, eps)))
                break;
            redirect(g, n, c, dead);
        } else if (act_of(n) >= 0 && cr_conv_fuse_act(c, act_of(n))) {
            redirect(g, n, c, dead);
        } else if (cr_pad_parts(c, &pt, &pb, &pl, &pr) && cr_conv_fuse_pad(n, pt, pb, pl, pr)) {
            n->in[0] = c->in[0];          /* the conv reads the unpadded image */
            dead[c->id] = true;
        }
    }
    int k = 0;
    for (int i = 0; i < g->n; i++) {
        cr_node *n = g->nodes[i];
        if (dead[i]) {
            if (n->op && n->op->release)
                n->op->release(n);
            cr_free(n->in);
            cr_free(n->attr);
            cr_free(n);
            continue;
        }
        n->id = k;
        g->nodes[k++] = n;
    }
    g->n = k;
    g->planned = false;
    cr_free(dead);
    return rc;
}
