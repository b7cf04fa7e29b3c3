/* expr.c - expression layers: "W[_,10]: softmax(x @ W + b)" parsed (recursive
 * descent) into a small tree when the layer is made or loaded, and turned
 * into ops each time the graph is traced. Grammar and shape rules: crest.h.
 * The text is the whole saved form; variables are ordinary layer weights. */
#include "../internal.h"
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { E_NUM, E_X, E_VAR, E_NEG, E_ADD, E_SUB, E_MUL, E_DIV, E_MATMUL, E_MAXIMUM, E_MINIMUM,
       E_FUNC };

typedef struct enode {
    int kind;
    int a, b;                     /* operands (node indices), -1 if none */
    int c;                        /* clip's upper bound (node index); only for FN_CLIP */
    double num;                   /* E_NUM */
    int var;                      /* E_VAR: index in vars */
    int fn;                       /* E_FUNC: a crest_act or an FN_ */
    int axis;                     /* E_FUNC reductions: CR_AXIS_ALL or an axis;
                                     depth_to_space / space_to_depth: the block */
    int pos, len;                 /* where in the text (0-based), for errors */
    int depth;                    /* of the subtree: bounds build's recursion */
} enode;

#define MAX_DEPTH 200             /* nesting in the text and depth of the tree */

typedef struct evar {
    char name[128];
    bool declared, has_init;
    cr_dims shape;
    bool wild[CR_MAX_DIMS];       /* '_' dims, filled from use */
    crest_init init;
} evar;

typedef struct expr_cfg {
    char *text;
    enode *nodes;
    int n_nodes, root;
    evar *vars;
    int n_vars;
} expr_cfg;

/* Functions: every activation by its Keras names (cr_activations), and the
 * rest of the table below. An E_FUNC node's fn is a crest_act, or an FN_
 * (math functions: FN_MATH + a CR_MATH_ kind). maximum / minimum are
 * E_MAXIMUM / E_MINIMUM nodes, as binary operators. */
enum { FN_SUM = CREST_ACT_COUNT, FN_MEAN, FN_MAX, FN_MIN, FN_D2S, FN_S2D, FN_MATH,
       FN_POW = FN_MATH + CR_MATH_POW, FN_CLIP = FN_MATH + CR_MATH_CLIP,
       FN_MAXIMUM = FN_MATH + 100, FN_MINIMUM };

/* How a function's arguments after the first are read. */
enum { ARGS_ONE, ARGS_AXIS, ARGS_BLOCK, ARGS_NUMBER, ARGS_TENSOR, ARGS_BOUNDS };

static const struct { const char *name; int fn, args; const char *usage; } funcs[] = {
    { "sum", FN_SUM, ARGS_AXIS, "sum(x) or sum(x, axis)" },
    { "mean", FN_MEAN, ARGS_AXIS, "mean(x) or mean(x, axis)" },
    { "max", FN_MAX, ARGS_AXIS, "max(x) or max(x, axis)" },
    { "min", FN_MIN, ARGS_AXIS, "min(x) or min(x, axis)" },
    { "depth_to_space", FN_D2S, ARGS_BLOCK, "depth_to_space(x, block_size)" },
    { "space_to_depth", FN_S2D, ARGS_BLOCK, "space_to_depth(x, block_size)" },
    { "exp", CREST_EXPONENTIAL, ARGS_ONE, "exp(x)" },
    { "abs", FN_MATH + CR_MATH_ABS, ARGS_ONE, "abs(x)" },
    { "absolute", FN_MATH + CR_MATH_ABS, ARGS_ONE, "absolute(x)" },
    { "sign", FN_MATH + CR_MATH_SIGN, ARGS_ONE, "sign(x)" },
    { "sqrt", FN_MATH + CR_MATH_SQRT, ARGS_ONE, "sqrt(x)" },
    { "rsqrt", FN_MATH + CR_MATH_RSQRT, ARGS_ONE, "rsqrt(x)" },
    { "square", FN_MATH + CR_MATH_SQUARE, ARGS_ONE, "square(x)" },
    { "log", FN_MATH + CR_MATH_LOG, ARGS_ONE, "log(x)" },
    { "reciprocal", FN_MATH + CR_MATH_RECIPROCAL, ARGS_ONE, "reciprocal(x)" },
    { "pow", FN_POW, ARGS_NUMBER, "pow(x, exponent)" },
    { "power", FN_POW, ARGS_NUMBER, "power(x, exponent)" },
    { "clip", FN_CLIP, ARGS_BOUNDS, "clip(x, lo, hi)" },
    { "maximum", FN_MAXIMUM, ARGS_TENSOR, "maximum(a, b)" },
    { "minimum", FN_MINIMUM, ARGS_TENSOR, "minimum(a, b)" },
};
#define N_FUNCS ((int)(sizeof funcs / sizeof funcs[0]))

static const struct { const char *name; crest_init init; } inits[] = {
    { "zeros", CREST_ZEROS },           { "ones", CREST_ONES },
    { "random_normal", CREST_RANDOM_NORMAL }, { "random_uniform", CREST_RANDOM_UNIFORM },
    { "glorot_uniform", CREST_GLOROT_UNIFORM }, { "glorot_normal", CREST_GLOROT_NORMAL },
    { "he_normal", CREST_HE_NORMAL },   { "he_uniform", CREST_HE_UNIFORM },
};

/* ---- lexer ------------------------------------------------------------- */

enum { T_END, T_NUM, T_NAME, T_PUNCT, T_BAD };

typedef struct parser {
    const char *s;
    int pos, len, type;           /* current token */
    double num;
    expr_cfg *c;
    int err;
    int nest;                     /* open '(' / unary '-' / calls: bounds recursion */
    const cJSON *fields;          /* custom layer classes: the layer's config, whose
                                     numeric fields undeclared names are; or NULL */
    bool syntax;                  /* checking a custom class's syntax alone: any name
                                     may be a field */
} parser;

/* ASCII classes: <ctype.h> follows the locale (in Latin-1 'ä' is a letter),
 * and an expression must read the same everywhere. */
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static void next(parser *p)
{
    int i = p->pos + p->len;
    while (p->s[i] && is_space(p->s[i]))
        i++;
    p->pos = i;
    const char *t = p->s + i;
    if (!*t) {
        p->type = T_END;
        p->len = 0;
    } else if (is_digit(*t) || (*t == '.' && is_digit(t[1]))) {
        char *end;
        errno = 0;
        p->num = cr_strtod(t, &end);
        p->type = errno || !isfinite(p->num) ? T_BAD : T_NUM;
        p->len = (int)(end - t);
    } else if (is_alpha(*t) || *t == '_') {
        int k = 1;
        while (is_alpha(t[k]) || is_digit(t[k]) || t[k] == '_')
            k++;
        p->type = T_NAME;
        p->len = k;
    } else {
        p->type = strchr("@+-*/()[],:=", *t) ? T_PUNCT : T_BAD;
        p->len = 1;
    }
}

static bool is_punct(const parser *p, char ch)
{
    return p->type == T_PUNCT && p->s[p->pos] == ch;
}

static bool is_name(const parser *p, const char *name)
{
    return p->type == T_NAME && (size_t)p->len == strlen(name) &&
           strncmp(p->s + p->pos, name, (size_t)p->len) == 0;
}

/* Long texts and tokens are cut in messages (which hold 1 KiB). */
#define SHOWN(n) ((n) > 160 ? 160 : (n))
#define ELLIPSIS(n) ((n) > 160 ? "..." : "")

/* "expression 'TEXT': at 12 ('W'): what" (the first error sticks). */
static int perr(parser *p, int pos, int len, const char *what)
{
    if (p->err)
        return -1;
    int n = (int)strlen(p->s);
    if (len > 0)
        cr_fail(CREST_E_FORMAT, "expression '%.*s%s': at %d ('%.*s'): %s", SHOWN(n), p->s,
                ELLIPSIS(n), pos + 1, SHOWN(len), p->s + pos, what);
    else
        cr_fail(CREST_E_FORMAT, "expression '%.*s%s': at %d (end of expression): %s", SHOWN(n),
                p->s, ELLIPSIS(n), pos + 1, what);
    p->err = CREST_E_FORMAT;
    return -1;
}

static int add_node(parser *p, enode n)
{
    if (p->err)
        return -1;
    n.depth = 1;
    if (n.a >= 0 && p->c->nodes[n.a].depth >= n.depth)
        n.depth = p->c->nodes[n.a].depth + 1;
    if (n.b >= 0 && p->c->nodes[n.b].depth >= n.depth)
        n.depth = p->c->nodes[n.b].depth + 1;
    if (n.kind == E_FUNC && n.fn == FN_CLIP && n.c >= 0 && p->c->nodes[n.c].depth >= n.depth)
        n.depth = p->c->nodes[n.c].depth + 1;
    if (n.depth > MAX_DEPTH)
        return perr(p, n.pos, n.len, "expression nested too deeply (more than 200 levels)");
    enode *ns = cr_realloc(p->c->nodes, (size_t)(p->c->n_nodes + 1) * sizeof *ns);
    if (!ns) {
        p->err = cr_fail(CREST_E_NOMEM, "out of memory parsing an expression");
        return -1;
    }
    p->c->nodes = ns;
    ns[p->c->n_nodes] = n;
    return p->c->n_nodes++;
}

static int find_var(const expr_cfg *c, const char *s, int len)
{
    for (int i = 0; i < c->n_vars; i++)
        if ((size_t)len == strlen(c->vars[i].name) && strncmp(c->vars[i].name, s, (size_t)len) == 0)
            return i;
    return -1;
}

/* The variable named by the current token, added if new. */
static int var_of(parser *p)
{
    int v = find_var(p->c, p->s + p->pos, p->len);
    if (v >= 0)
        return v;
    if (p->len >= (int)sizeof p->c->vars[0].name)
        return perr(p, p->pos, p->len, "variable name too long");
    evar *vs = cr_realloc(p->c->vars, (size_t)(p->c->n_vars + 1) * sizeof *vs);
    if (!vs) {
        p->err = cr_fail(CREST_E_NOMEM, "out of memory parsing an expression");
        return -1;
    }
    p->c->vars = vs;
    memset(&vs[p->c->n_vars], 0, sizeof *vs);
    snprintf(vs[p->c->n_vars].name, sizeof vs[0].name, "%.*s", p->len, p->s + p->pos);
    return p->c->n_vars++;
}

/* The row of funcs[] the current token names; N_FUNCS + act for an
 * activation; -1 if neither. */
static int func_of(const parser *p)
{
    for (int i = 0; i < N_FUNCS; i++)
        if (is_name(p, funcs[i].name))
            return i;
    for (int i = 0; i < CREST_ACT_COUNT; i++) {
        const cr_act_def *a = &cr_activations[i];
        if (is_name(p, a->op.name) || (a->alias && is_name(p, a->alias)))
            return N_FUNCS + i;
    }
    return -1;
}

/* ---- parser ------------------------------------------------------------ */

static int parse_expr(parser *p);
static int parse_unary(parser *p);
static int parse_unary_inner(parser *p);
static int parse_call(parser *p, int f, int pos, int len);

/* The numeric config field the current name token names (booleans are 0 /
 * 1); false if there is none. */
static bool field_of(const parser *p, double *v)
{
    if (!p->fields || p->type != T_NAME)
        return false;
    char name[128];
    if (p->len >= (int)sizeof name)
        return false;
    snprintf(name, sizeof name, "%.*s", p->len, p->s + p->pos);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(p->fields, name);
    if (cJSON_IsNumber(f))
        *v = f->valuedouble;
    else if (cJSON_IsBool(f))
        *v = cJSON_IsTrue(f);
    else
        return false;
    return true;
}

static int parse_int(parser *p, long lo, long hi, const char *what)
{
    bool neg = is_punct(p, '-');
    int pos = p->pos;
    if (neg)
        next(p);
    double fv;
    if (p->syntax && p->type == T_NAME) {   /* some layer's field, checked per layer */
        next(p);
        return (int)lo;
    }
    bool field = field_of(p, &fv);
    if (!field && (p->type != T_NUM || p->num != floor(p->num)))
        return perr(p, p->pos, p->len, what), INT32_MIN;
    if (field && fv != floor(fv))
        return perr(p, p->pos, p->len, "this config field is not an integer"), INT32_MIN;
    double v = field ? (neg ? -fv : fv) : neg ? -p->num : p->num;
    if (v < (double)lo || v > (double)hi)
        return perr(p, pos, p->pos + p->len - pos, what), INT32_MIN;
    next(p);
    return (int)v;
}

/* The current token is followed by '(' */
static bool followed_by_paren(const parser *p)
{
    int i = p->pos + p->len;
    while (p->s[i] && is_space(p->s[i]))
        i++;
    return p->s[i] == '(';
}

static int parse_primary(parser *p)
{
    int pos = p->pos, len = p->len;
    if (p->type == T_NUM) {
        double v = p->num;
        next(p);
        return add_node(p, (enode){ .kind = E_NUM, .a = -1, .b = -1, .num = v, .pos = pos,
                                     .len = len });
    }
    if (is_punct(p, '(')) {
        next(p);
        int e = parse_expr(p);
        if (e >= 0 && !is_punct(p, ')'))
            return perr(p, p->pos, p->len, "expected ')'");
        next(p);
        return e;
    }
    if (p->type != T_NAME)
        return perr(p, pos, len, "expected a number, a name, a function or '('");
    int f = func_of(p);
    bool call = followed_by_paren(p);
    double fv;
    /* a config field named as a function ("max") when no call follows */
    if (f >= 0 && !call && (p->syntax || field_of(p, &fv)))
        f = -1;
    if (f < 0 && call)
        return perr(p, pos, len, "unknown function (see crest.h or the README for the list)");
    if (f < 0) {
        if (is_name(p, "x")) {
            next(p);
            return add_node(p, (enode){ .kind = E_X, .a = -1, .b = -1, .pos = pos, .len = len });
        }
        if (p->fields && find_var(p->c, p->s + p->pos, p->len) < 0) {   /* a config field */
            if (!field_of(p, &fv))
                return perr(p, pos, len, "names no numeric config field of the layer (nor "
                                         "x, a function or a declared variable)");
            next(p);
            if (is_punct(p, '('))
                return perr(p, pos, len, "unknown function");
            return add_node(p, (enode){ .kind = E_NUM, .a = -1, .b = -1, .num = fv, .pos = pos,
                                         .len = len });
        }
        int v = var_of(p);
        next(p);
        if (is_punct(p, '('))
            return perr(p, pos, len, "unknown function");
        return v < 0 ? -1 : add_node(p, (enode){ .kind = E_VAR, .a = -1, .b = -1, .var = v,
                                                 .pos = pos, .len = len });
    }
    return parse_call(p, f, pos, len);
}

/* ',' and the next argument of a call of row (its usage in the error) */
static bool want_comma(parser *p, int row)
{
    if (is_punct(p, ','))
        return next(p), true;
    char what[128];
    snprintf(what, sizeof what, "expected ',' and more arguments: %s", funcs[row].usage);
    perr(p, p->pos, p->len, what);
    return false;
}

/* FUNC '(' args ')', the name at [pos, pos + len); f a func_of() value */
static int parse_call(parser *p, int f, int pos, int len)
{
    next(p);
    if (!is_punct(p, '('))
        return perr(p, p->pos, p->len, "expected '(' after a function name");
    next(p);
    int args = f < N_FUNCS ? funcs[f].args : ARGS_ONE;
    enode n = { .kind = E_FUNC, .a = parse_expr(p), .b = -1, .c = -1, .axis = CR_AXIS_ALL,
                .fn = f < N_FUNCS ? funcs[f].fn : f - N_FUNCS, .pos = pos, .len = len };
    if (n.a < 0)
        return -1;
    if (args == ARGS_AXIS && is_punct(p, ',')) {
        next(p);
        n.axis = parse_int(p, -CR_MAX_DIMS, CR_MAX_DIMS - 1, "expected an axis (an integer)");
    } else if (args == ARGS_BLOCK && want_comma(p, f)) {
        n.axis = parse_int(p, 2, 4096, "expected a block size (an integer, 2 or more)");
    } else if ((args == ARGS_NUMBER || args == ARGS_TENSOR || args == ARGS_BOUNDS) &&
               want_comma(p, f)) {
        n.b = parse_expr(p);
        if (n.b >= 0 && args == ARGS_BOUNDS && want_comma(p, f))
            n.c = parse_expr(p);
    }
    if (p->err)
        return -1;
    if (is_punct(p, ',')) {
        char what[160];
        snprintf(what, sizeof what, "too many arguments: %s",
                 f < N_FUNCS ? funcs[f].usage : "an activation takes one argument, as relu(x)");
        return perr(p, p->pos, p->len, what);
    }
    if (!is_punct(p, ')'))
        return perr(p, p->pos, p->len, "expected ')'");
    next(p);
    if (n.fn == FN_MAXIMUM || n.fn == FN_MINIMUM)
        n.kind = n.fn == FN_MAXIMUM ? E_MAXIMUM : E_MINIMUM;
    return add_node(p, n);
}

static int parse_unary(parser *p)
{
    if (++p->nest > MAX_DEPTH) {
        p->nest--;
        return perr(p, p->pos, p->len, "expression nested too deeply (more than 200 levels)");
    }
    int r = parse_unary_inner(p);
    p->nest--;
    return r;
}

static int parse_unary_inner(parser *p)
{
    if (is_punct(p, '-')) {
        int pos = p->pos;
        next(p);
        int a = parse_unary(p);
        return a < 0 ? -1 : add_node(p, (enode){ .kind = E_NEG, .a = a, .b = -1, .pos = pos,
                                                 .len = 1 });
    }
    return parse_primary(p);
}

static int parse_term(parser *p)
{
    int a = parse_unary(p);
    while (a >= 0 && (is_punct(p, '@') || is_punct(p, '*') || is_punct(p, '/'))) {
        char op = p->s[p->pos];
        int pos = p->pos;
        next(p);
        int b = parse_unary(p);
        if (b < 0)
            return -1;
        a = add_node(p, (enode){ .kind = op == '@' ? E_MATMUL : op == '*' ? E_MUL : E_DIV,
                                 .a = a, .b = b, .pos = pos, .len = 1 });
    }
    return a;
}

static int parse_expr(parser *p)
{
    int a = parse_term(p);
    while (a >= 0 && (is_punct(p, '+') || is_punct(p, '-'))) {
        char op = p->s[p->pos];
        int pos = p->pos;
        next(p);
        int b = parse_term(p);
        if (b < 0)
            return -1;
        a = add_node(p, (enode){ .kind = op == '+' ? E_ADD : E_SUB, .a = a, .b = b, .pos = pos,
                                 .len = 1 });
    }
    return a;
}

/* NAME '[' dim (',' dim)* ']' ['=' INIT] */
static int parse_decl(parser *p)
{
    if (p->type != T_NAME || is_name(p, "x") || func_of(p) >= 0)
        return perr(p, p->pos, p->len, "expected a variable declaration such as W[_,10]");
    int npos = p->pos, nlen = p->len;
    if (find_var(p->c, p->s + p->pos, p->len) >= 0)
        return perr(p, npos, nlen, "variable declared twice");
    int v = var_of(p);
    if (v < 0)
        return -1;
    next(p);
    if (!is_punct(p, '['))
        return perr(p, p->pos, p->len, "expected '[' and the variable's shape");
    evar *e = &p->c->vars[v];
    e->declared = true;
    do {
        next(p);
        if (e->shape.ndim == CR_MAX_DIMS)
            return perr(p, p->pos, p->len, "too many dimensions");
        if (is_name(p, "_")) {
            e->wild[e->shape.ndim++] = true;
            next(p);
        } else {
            int d = parse_int(p, 1, 1 << 24, "expected a dimension (1 to 16777216) or '_'");
            if (p->err)
                return -1;
            e->shape.d[e->shape.ndim++] = d;
        }
    } while (is_punct(p, ','));
    if (!is_punct(p, ']'))
        return perr(p, p->pos, p->len, "expected ']'");
    next(p);
    if (is_punct(p, '=')) {
        next(p);
        int k = 0, n = (int)(sizeof inits / sizeof inits[0]);
        while (k < n && !is_name(p, inits[k].name))
            k++;
        if (k == n)
            return perr(p, p->pos, p->len, "expected an initializer (zeros, ones, "
                                           "random_normal, glorot_uniform, ...)");
        e->has_init = true;
        e->init = inits[k].init;
        next(p);
    }
    return 0;
}

static int parse_layer(parser *p)
{
    next(p);
    if (strchr(p->s, ':')) {
        while (!p->err && !is_punct(p, ':'))
            parse_decl(p);
        next(p);
    }
    int root = p->err ? -1 : parse_expr(p);
    if (root >= 0 && p->type != T_END)
        return perr(p, p->pos, p->len, "expected an operator or the end");
    return root;
}

static void expr_free_cfg(void *cfg)
{
    expr_cfg *c = cfg;
    cr_free(c->text);
    cr_free(c->nodes);
    cr_free(c->vars);
    memset(c, 0, sizeof *c);
}

/* Parses text into c (which it owns after, even on error); names other
 * than x, functions and declared variables are fields' numbers when fields. */
static int expr_compile(expr_cfg *c, const char *text, const cJSON *fields, bool syntax)
{
    if (strlen(text) > 65536)
        return cr_fail(CREST_E_ARG, "expression longer than 65536 characters");
    c->text = cr_strdup(text);
    if (!c->text)
        return cr_fail(CREST_E_NOMEM, "out of memory for an expression");
    parser p = { .s = c->text, .c = c, .fields = fields, .syntax = syntax };
    c->root = parse_layer(&p);
    if (p.err)
        return p.err;
    return c->root < 0 ? cr_fail(CREST_E_FORMAT, "expression '%s' is empty", text) : CREST_OK;
}

/* ---- build: the tree into ops ------------------------------------------- */

typedef struct val {
    cr_node *n;                   /* NULL: the constant c */
    double c;
} val;

typedef struct builder {
    cr_graph *g;
    const crest_layer *l;
    const expr_cfg *c;
    cr_node *x;                   /* the layer's input */
} builder;

enum { USE_ALONE, USE_MATMUL_RHS, USE_BESIDE };

static val bfail(builder *b, const enode *e, const char *what)
{
    int n = (int)strlen(b->c->text);
    cr_graph_fail(b->g, CREST_E_SHAPE, "layer '%s': expression '%.*s%s': at %d ('%.*s'): %s",
                  b->l->name, SHOWN(n), b->c->text, ELLIPSIS(n), e->pos + 1, SHOWN(e->len),
                  b->c->text + e->pos, what);
    return (val){ 0 };
}

/* A variable's node, its shape from the declaration and how it is used
 * beside partner (NULL when alone). */
static val var_node(builder *b, const enode *e, int use, const cr_node *partner)
{
    const evar *v = &b->c->vars[e->var];
    cr_dims s = v->shape;
    const cr_dims *ps = partner ? &partner->shape : NULL;
    if (!v->declared) {
        if (use != USE_BESIDE || ps->ndim < 1)
            return bfail(b, e, use == USE_MATMUL_RHS
                                   ? "declare the variable's shape, e.g. 'W[_,10]: ...'"
                                   : "declare the variable's shape, e.g. 'v[4]: ...'");
        s = crest_shape(1, (int)ps->d[ps->ndim - 1]);
    }
    for (int i = 0; i < s.ndim; i++) {
        if (!v->declared || !v->wild[i])
            continue;
        int k = use == USE_MATMUL_RHS ? (i == 0 ? ps->ndim - 1 : -1)
                : use == USE_BESIDE ? ps->ndim - s.ndim + i : -1;
        if (k < 0 || (k == 0 && partner->kind != CR_NODE_PARAM))
            return bfail(b, e, "cannot infer this '_' dimension from the variable's use");
        s.d[i] = ps->d[k];
    }
    crest_init init = v->has_init ? v->init : s.ndim >= 2 ? CREST_GLOROT_UNIFORM : CREST_ZEROS;
    return (val){ .n = cr_layer_var(b->g, v->name, s, init, true) };
}

static val build(builder *b, int i, int use, const cr_node *partner);
static val build_func(builder *b, const enode *e);

static val to_node_fail(builder *b, const enode *e)
{
    return bfail(b, e, "this operator needs a tensor operand, not only numbers");
}

/* A variable whose shape depends on its use. */
static bool needs_partner(const builder *b, int i)
{
    const enode *e = &b->c->nodes[i];
    if (e->kind != E_VAR)
        return false;
    const evar *v = &b->c->vars[e->var];
    bool wild = !v->declared;
    for (int k = 0; k < v->shape.ndim; k++)
        wild |= v->wild[k];
    return wild;
}

/* maximum / minimum; against a number: a clip with an open end */
static val minmax(builder *b, const enode *e, val x, val y)
{
    bool mx = e->kind == E_MAXIMUM;
    if (x.n && y.n)
        return (val){ .n = cr_op_minmax(b->g, x.n, y.n, mx) };
    cr_node *t = x.n ? x.n : y.n;
    float c = (float)(x.n ? y.c : x.c);
    return (val){ .n = cr_op_math(b->g, t, CR_MATH_CLIP, mx ? c : -INFINITY,
                                  mx ? INFINITY : c) };
}

static val binary(builder *b, const enode *e)
{
    cr_graph *g = b->g;
    int kind = e->kind;
    int beside = kind == E_MATMUL ? USE_MATMUL_RHS : USE_BESIDE;
    val x, y;
    if (kind != E_MATMUL && needs_partner(b, e->a) && !needs_partner(b, e->b)) {
        y = build(b, e->b, USE_ALONE, NULL);   /* `b + A`: b takes A's shape */
        x = y.n ? build(b, e->a, USE_BESIDE, y.n) : build(b, e->a, USE_ALONE, NULL);
    } else {
        x = build(b, e->a, USE_ALONE, NULL);
        y = x.n ? build(b, e->b, beside, x.n) : build(b, e->b, USE_ALONE, NULL);
    }
    if (g->err)
        return (val){ 0 };
    if (!x.n && !y.n) {   /* fold constants */
        switch (kind) {
        case E_ADD: return (val){ .c = x.c + y.c };
        case E_SUB: return (val){ .c = x.c - y.c };
        case E_MUL: return (val){ .c = x.c * y.c };
        case E_DIV: return (val){ .c = x.c / y.c };
        case E_MAXIMUM: return (val){ .c = fmax(x.c, y.c) };
        case E_MINIMUM: return (val){ .c = fmin(x.c, y.c) };
        default: return to_node_fail(b, e);
        }
    }
    switch (kind) {
    case E_ADD:
        if (!x.n || !y.n)
            return (val){ .n = crest_op_scale(g, x.n ? x.n : y.n, 1, (float)(x.n ? y.c : x.c)) };
        if (y.n->shape.ndim == 1 && x.n->shape.ndim >= 2 &&
            y.n->shape.d[0] == x.n->shape.d[x.n->shape.ndim - 1])   /* as Dense's bias */
            return (val){ .n = crest_op_bias_add(g, x.n, y.n) };
        if (x.n->shape.ndim == 1 && y.n->shape.ndim >= 2 &&
            x.n->shape.d[0] == y.n->shape.d[y.n->shape.ndim - 1])
            return (val){ .n = crest_op_bias_add(g, y.n, x.n) };
        return (val){ .n = crest_op_add(g, x.n, y.n) };
    case E_SUB:
        if (!y.n)
            return (val){ .n = crest_op_scale(g, x.n, 1, (float)-y.c) };
        if (!x.n)
            return (val){ .n = crest_op_scale(g, y.n, -1, (float)x.c) };
        return (val){ .n = crest_op_sub(g, x.n, y.n) };
    case E_MUL:
        if (!x.n || !y.n)
            return (val){ .n = crest_op_scale(g, x.n ? x.n : y.n, (float)(x.n ? y.c : x.c), 0) };
        return (val){ .n = crest_op_mul(g, x.n, y.n) };
    case E_DIV:
        if (y.n)
            return bfail(b, e, "'/' divides by a number only");
        if (y.c == 0)
            return bfail(b, e, "division by zero");
        return (val){ .n = crest_op_scale(g, x.n, (float)(1.0 / y.c), 0) };
    case E_MAXIMUM:
    case E_MINIMUM:
        return minmax(b, e, x, y);
    default:   /* E_MATMUL */
        if (!x.n || !y.n)
            return to_node_fail(b, e);
        return (val){ .n = crest_op_matmul(g, x.n, y.n) };
    }
}

/* pow's exponent, clip's bounds: numbers (or config fields) */
static bool number_arg(builder *b, const enode *e, int i, double *v)
{
    val a = build(b, i, USE_ALONE, NULL);
    if (b->g->err)
        return false;
    if (a.n) {
        bfail(b, &b->c->nodes[i], e->fn == FN_POW ? "pow's exponent must be a number"
                                                  : "clip's bounds must be numbers");
        return false;
    }
    *v = a.c;
    return true;
}

static val build_func(builder *b, const enode *e)
{
    val a = build(b, e->a, USE_ALONE, NULL);
    double k = 0, hi = 0;
    if (b->g->err)
        return (val){ 0 };
    if (!a.n)
        return to_node_fail(b, e);
    if (e->fn < FN_SUM)
        return (val){ .n = crest_op_activate(b->g, a.n, (crest_act)e->fn) };
    if (e->fn == FN_D2S || e->fn == FN_S2D) {
        if (a.n->shape.ndim != 4)
            return bfail(b, e, "needs an image tensor [batch, height, width, channels]");
        return (val){ .n = e->fn == FN_D2S ? cr_op_depth_to_space(b->g, a.n, e->axis)
                                           : cr_op_space_to_depth(b->g, a.n, e->axis) };
    }
    if (e->fn >= FN_MATH) {
        if ((e->fn == FN_POW || e->fn == FN_CLIP) && !number_arg(b, e, e->b, &k))
            return (val){ 0 };
        if (e->fn == FN_CLIP && !number_arg(b, e, e->c, &hi))
            return (val){ 0 };
        if (e->fn == FN_CLIP && !(k <= hi))
            return bfail(b, e, "clip's lower bound is above its upper bound");
        return (val){ .n = cr_op_math(b->g, a.n, e->fn - FN_MATH, (float)k, (float)hi) };
    }
    bool keep = e->axis != CR_AXIS_ALL;
    switch (e->fn) {
    case FN_MEAN: return (val){ .n = crest_op_mean(b->g, a.n, e->axis, keep) };
    case FN_SUM: return (val){ .n = crest_op_sum(b->g, a.n, e->axis, keep) };
    default: return (val){ .n = cr_op_reduce_extreme(b->g, a.n, e->axis, keep, e->fn == FN_MAX) };
    }
}

static val build(builder *b, int i, int use, const cr_node *partner)
{
    const enode *e = &b->c->nodes[i];
    if (b->g->err)
        return (val){ 0 };
    switch (e->kind) {
    case E_NUM: return (val){ .c = e->num };
    case E_X: return (val){ .n = b->x };
    case E_VAR: return var_node(b, e, use, partner);
    case E_NEG: {
        val a = build(b, e->a, USE_ALONE, NULL);
        if (!a.n)
            return (val){ .c = -a.c };
        return (val){ .n = crest_op_scale(b->g, a.n, -1, 0) };
    }
    case E_FUNC: return build_func(b, e);
    default: return binary(b, e);
    }
}

static cr_node *expr_build(crest_layer *l, cr_graph *g, cr_node **in, int n_in)
{
    const expr_cfg *c = l->cfg;
    if (n_in != 1)
        return cr_graph_fail(g, CREST_E_ARG, "layer '%s': an expression takes one input",
                             l->name);
    builder b = { .g = g, .l = l, .c = c, .x = in[0] };
    val r = build(&b, c->root, USE_ALONE, NULL);
    if (g->err)
        return NULL;
    if (!r.n)
        return cr_graph_fail(g, CREST_E_SHAPE, "layer '%s': expression '%.*s%s' is a "
                             "constant", l->name, SHOWN((int)strlen(c->text)), c->text,
                             ELLIPSIS((int)strlen(c->text)));
    return r.n;
}

static int expr_parse(crest_layer *l, const cJSON *cfg)
{
    const char *text = NULL;
    int rc = cr_json_str(cfg, "expression", NULL, &text);
    return rc ? rc : expr_compile(l->cfg, text, NULL, false);
}

static int expr_save(const crest_layer *l, cJSON *cfg)
{
    cJSON_AddStringToObject(cfg, "expression", ((const expr_cfg *)l->cfg)->text);
    return CREST_OK;
}

const cr_layer_def cr_expr_def = { .keras_class = "CrestExpr", .default_name = "expr",
    .cfg_size = sizeof(expr_cfg), .build = expr_build, .parse = expr_parse,
    .save = expr_save, .free_cfg = expr_free_cfg };

crest_layer *crest_expr(const char *expression)
{
    if (!expression) {
        cr_fail(CREST_E_ARG, "crest_expr: expression is NULL");
        return NULL;
    }
    crest_layer *l = cr_layer_new(&cr_expr_def, NULL);
    if (l && expr_compile(l->cfg, expression, NULL, false)) {
        crest_layer_free(l);
        return NULL;
    }
    return l;
}

crest_layer *cr_expr_with_fields(const char *expression, const cJSON *fields)
{
    crest_layer *l = cr_layer_new(&cr_expr_def, NULL);
    if (l && expr_compile(l->cfg, expression, fields, !fields)) {
        crest_layer_free(l);
        return NULL;
    }
    return l;
}
