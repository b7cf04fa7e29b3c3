/* functional_graph.h - the symbolic tensors of functional and Sequential
 * models, shared by src/functional_graph.c (which owns them) and
 * src/functional.c (which writes them as Keras JSON). Private. */
#ifndef CR_FUNCTIONAL_GRAPH_H
#define CR_FUNCTIONAL_GRAPH_H

#include "internal.h"

struct crest_sym {
    int id;                       /* index in fn->syms */
    crest_layer *layer;           /* NULL: an Input */
    int call;                     /* which application of layer (Keras node_index) */
    int n_in;
    crest_sym **in;
    cr_dims shape;                /* Inputs: shape without the batch */
    char name[128];               /* Inputs: the InputLayer's name */
    bool needed;                  /* reachable from the outputs */
};

/* What a functional or Sequential model keeps in m->impl. */
typedef struct fn_impl {
    crest_sym **syms;
    int n, cap;
    crest_sym *inputs[CR_MAX_IO], *outputs[CR_MAX_IO];
    int n_inputs, n_outputs;
    bool done;                    /* outputs set */
    bool chain;                   /* Sequential: grows by crest_add only */
} fn_impl;

#endif
