/* report.c - the training report `crest train` writes beside the model
 * (<out>/report/) and, with --report DIR, into DIR too:
 *
 *   history.json, history.csv   per epoch: epoch (1-based, counted on through
 *                               the phases), phase, loss, accuracy, val_loss,
 *                               val_accuracy (when validating), lr, time (s);
 *                               numbers with 17 significant digits (they
 *                               round-trip); JSON null / CSV "nan" for a
 *                               non-finite value
 *   curves.svg, curves.png      loss and accuracy per epoch, training and
 *                               validation
 *   confusion.svg, .png         the confusion matrix, labelled, with counts
 *   wrong/NN.png                the most confidently wrong validation images
 *   index.html                  all of it, with per-class precision, recall, F1
 *
 * The pictures are drawn by cairo, once per picture by one function, on an
 * SVG surface and on an image surface (PNG). cairo's SVG draws text as glyph
 * outlines, so each SVG also gets a <title> and a <desc> naming its text
 * (title, axis labels, class names) for search and screen readers.
 * Every file is written to a temporary name, synced and renamed, index.html
 * last: a report folder holds either the previous report or the new one's
 * files, and a killed run never leaves a half-written file. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "cairo_lazy.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_WRONG 24    /* thumbnails in the grid */
#define THUMB 96        /* their longer side, in pixels */
#define PI 3.14159265358979323846

/* A growing byte buffer (cairo streams, SVG text, the HTML). */
typedef struct buf {
    char *p;
    size_t n, cap;
    bool oom;
} buf;

static void buf_add(buf *b, const void *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        buf_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf_add(b, big, (size_t)n);
    free(big);
}

/* Text for HTML and XML: & < > " escaped. */
static void buf_esc(buf *b, const char *s)
{
    for (; *s; s++) {
        const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
                        : *s == '"' ? "&quot;" : NULL;
        if (e)
            buf_add(b, e, strlen(e));
        else
            buf_add(b, s, 1);
    }
}

static cairo_status_t buf_write(void *closure, const unsigned char *data, unsigned int n)
{
    buf *b = closure;
    buf_add(b, data, n);
    return b->oom ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

/* dir/name written atomically (cli_put_file). 0, or -1 with err set. */
static int write_file(const char *dir, const char *name, const buf *b, char *err, size_t esz)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (b->oom) {
        snprintf(err, esz, "%s: out of memory", path);
        return -1;
    }
    return cli_put_file(path, b->p ? b->p : "", b->n, err, esz);
}

/* The report's files, made in memory once and written to each folder. */
typedef struct file_set {
    char name[8 + MAX_WRONG][24];
    buf data[8 + MAX_WRONG];
    int n;
} file_set;

/* A new file of the set (NULL when full). */
static buf *add_file(file_set *f, const char *name)
{
    if (f->n == 8 + MAX_WRONG)
        return NULL;
    snprintf(f->name[f->n], sizeof f->name[0], "%s", name);
    return &f->data[f->n++];
}

/* mkdir -p */
static int make_dir(const char *dir, char *err, size_t esz)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1;; s++) {
        bool end = !*s;
        if (*s == '/' || end) {
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                snprintf(err, esz, "%s: %s", p, strerror(errno));
                return -1;
            }
            struct stat st;
            if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
                snprintf(err, esz, "%s: not a folder", p);
                return -1;
            }
            if (end)
                return 0;
            *s = '/';
        }
    }
}

/* ---- the history ---------------------------------------------------------- */

/* The report's rows: every phase's epochs from its first, numbered on. */
typedef struct row {
    int epoch;
    const char *phase;
    double v[6];   /* loss, accuracy, val_loss, val_accuracy, lr, time */
} row;

static const char *const col_names[6] = { "loss", "accuracy", "val_loss", "val_accuracy",
                                          "lr", "time" };

static row *history_rows(const cli_report *r, int *n)
{
    int total = 0;
    for (int p = 0; p < r->n_phases; p++)
        total += r->hist[p]->epochs > r->first[p] ? r->hist[p]->epochs - r->first[p] : 0;
    row *rows = calloc(total ? (size_t)total : 1, sizeof *rows);
    *n = 0;
    for (int p = 0; rows && p < r->n_phases; p++) {
        const crest_history *h = r->hist[p];
        for (int e = r->first[p]; e < h->epochs && e < 1024; e++) {
            row *w = &rows[(*n)++];
            w->epoch = *n + r->first[0];
            w->phase = r->phase[p];
            double v[6] = { h->loss[e], h->accuracy[e], h->val_loss[e], h->val_accuracy[e],
                            h->lr[e], h->time[e] };
            memcpy(w->v, v, sizeof v);
        }
    }
    return rows;
}

static bool col_on(const cli_report *r, int c) { return r->has_val || (c != 2 && c != 3); }

static void put_num(buf *b, double v, const char *nonfinite)
{
    if (isfinite(v))
        bprintf(b, "%.17g", v);
    else
        bprintf(b, "%s", nonfinite);
}

/* history.json: Keras' History.history (a list per metric) with epoch,
 * phase and time; history.csv: one line per epoch. */
static void history_text(const cli_report *r, const row *rows, int n, buf *js, buf *csv)
{
    bprintf(js, "{\n  \"epoch\": [");
    for (int i = 0; i < n; i++)
        bprintf(js, "%s%d", i ? ", " : "", rows[i].epoch);
    bprintf(js, "],\n  \"phase\": [");
    for (int i = 0; i < n; i++)
        bprintf(js, "%s\"%s\"", i ? ", " : "", rows[i].phase);
    bprintf(js, "]");
    bprintf(csv, "epoch,phase");
    for (int c = 0; c < 6; c++) {
        if (!col_on(r, c))
            continue;
        bprintf(js, ",\n  \"%s\": [", col_names[c]);
        for (int i = 0; i < n; i++) {
            bprintf(js, "%s", i ? ", " : "");
            put_num(js, rows[i].v[c], "null");
        }
        bprintf(js, "]");
        bprintf(csv, ",%s", col_names[c]);
    }
    bprintf(js, "\n}\n");
    bprintf(csv, "\n");
    for (int i = 0; i < n; i++) {
        bprintf(csv, "%d,%s", rows[i].epoch, rows[i].phase);
        for (int c = 0; c < 6; c++)
            if (col_on(r, c)) {
                bprintf(csv, ",");
                put_num(csv, rows[i].v[c], "nan");
            }
        bprintf(csv, "\n");
    }
}

/* ---- drawing (one function per picture, on any cairo surface) ------------- */

typedef struct picture {
    const char *title;
    buf desc;                     /* the picture's text, for the SVG's <desc> */
    int w, h;
    void (*draw)(cairo_t *cr, const struct picture *p, const void *data);
    const void *data;
} picture;

static void text_at(cairo_t *cr, double x, double y, double ax, double ay, const char *s)
{
    cairo_text_extents_t te;
    cx.cairo_text_extents(cr, s, &te);
    cx.cairo_move_to(cr, x - te.x_bearing - ax * te.width, y - te.y_bearing - ay * te.height);
    cx.cairo_show_text(cr, s);
}

/* A step of about (hi - lo) / 5 from 1, 2, 5 times a power of ten. */
static double nice_step(double lo, double hi)
{
    double raw = (hi - lo) / 5, p = pow(10, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

typedef struct curves {
    const row *rows;
    int n;
    bool has_val;
    int phase_start;              /* the first row of the second phase, or 0 */
} curves;

typedef struct panel {
    double x, y, w, h;            /* the plot area */
    double x0, x1, y0, y1;        /* its data range */
} panel;

static double px(const panel *p, double x) { return p->x + (x - p->x0) / (p->x1 - p->x0) * p->w; }
static double py(const panel *p, double y) { return p->y + p->h - (y - p->y0) / (p->y1 - p->y0) * p->h; }

/* Axes, grid and ticks of a panel, its labels and title. */
static void draw_axes(cairo_t *cr, const panel *p, const char *title, const char *ylabel)
{
    cx.cairo_set_line_width(cr, 1);
    double ys = nice_step(p->y0, p->y1);
    cx.cairo_set_font_size(cr, 11);
    for (double t = ceil(p->y0 / ys) * ys; t <= p->y1 + ys * 1e-9; t += ys) {
        char s[32];
        snprintf(s, sizeof s, "%g", fabs(t) < ys * 1e-6 ? 0 : t);
        cx.cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cx.cairo_move_to(cr, p->x, floor(py(p, t)) + 0.5);
        cx.cairo_line_to(cr, p->x + p->w, floor(py(p, t)) + 0.5);
        cx.cairo_stroke(cr);
        cx.cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        text_at(cr, p->x - 6, py(p, t), 1, 0.5, s);
    }
    int xs = (int)ceil(nice_step(p->x0, p->x1));
    for (int t = xs < 1 ? 1 : xs; t <= (int)p->x1; t += xs < 1 ? 1 : xs) {
        char s[16];
        snprintf(s, sizeof s, "%d", t);
        cx.cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cx.cairo_move_to(cr, floor(px(p, t)) + 0.5, p->y + p->h);
        cx.cairo_line_to(cr, floor(px(p, t)) + 0.5, p->y + p->h + 4);
        cx.cairo_stroke(cr);
        text_at(cr, px(p, t), p->y + p->h + 7, 0.5, 0, s);
    }
    cx.cairo_rectangle(cr, p->x + 0.5, p->y + 0.5, p->w, p->h);
    cx.cairo_stroke(cr);
    cx.cairo_set_font_size(cr, 12);
    text_at(cr, p->x + p->w / 2, p->y + p->h + 24, 0.5, 0, "epoch");
    cx.cairo_save(cr);
    cx.cairo_translate(cr, p->x - 44, p->y + p->h / 2);
    cx.cairo_rotate(cr, -PI / 2);
    text_at(cr, 0, 0, 0.5, 0.5, ylabel);
    cx.cairo_restore(cr);
    cx.cairo_set_font_size(cr, 14);
    text_at(cr, p->x + p->w / 2, p->y - 22, 0.5, 0, title);
}

/* One series: a line with a dot per epoch (a one-epoch run shows its dot). */
static void draw_series(cairo_t *cr, const panel *p, const curves *c, int col, double r,
                        double g, double b, bool dashed)
{
    cx.cairo_set_source_rgb(cr, r, g, b);
    cx.cairo_set_line_width(cr, 2);
    double dash[] = { 6, 4 };
    cx.cairo_set_dash(cr, dash, dashed ? 2 : 0, 0);
    for (int i = 0; i < c->n; i++) {
        double v = c->rows[i].v[col];
        if (!isfinite(v))
            continue;
        if (i == 0 || !isfinite(c->rows[i - 1].v[col]))
            cx.cairo_move_to(cr, px(p, c->rows[i].epoch), py(p, v));
        else
            cx.cairo_line_to(cr, px(p, c->rows[i].epoch), py(p, v));
    }
    cx.cairo_stroke(cr);
    cx.cairo_set_dash(cr, dash, 0, 0);
    for (int i = 0; i < c->n; i++)
        if (isfinite(c->rows[i].v[col])) {
            cx.cairo_arc(cr, px(p, c->rows[i].epoch), py(p, c->rows[i].v[col]), 3, 0, 2 * PI);
            cx.cairo_fill(cr);
        }
}

/* The legend on a white box, at the top right of the panel (bottom: at
 * its bottom right, under rising curves). */
static void draw_legend(cairo_t *cr, const panel *p, bool has_val, bool bottom)
{
    const char *names[2] = { "training", "validation" };
    int n = has_val ? 2 : 1;
    double top = bottom ? p->y + p->h - 12 - 16 * n : p->y + 6;
    cx.cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cx.cairo_rectangle(cr, p->x + p->w - 118, top, 110, 16 * n + 4);
    cx.cairo_fill(cr);
    cx.cairo_set_line_width(cr, 2);
    cx.cairo_set_font_size(cr, 11);
    for (int k = 0; k < n; k++) {
        double y = top + 10 + 16 * k, x = p->x + p->w - 110;
        cx.cairo_set_source_rgb(cr, k ? 0.85 : 0.12, k ? 0.37 : 0.47, k ? 0.01 : 0.71);
        double dash[] = { 6, 4 };
        cx.cairo_set_dash(cr, dash, k ? 2 : 0, 0);
        cx.cairo_move_to(cr, x, y);
        cx.cairo_line_to(cr, x + 24, y);
        cx.cairo_stroke(cr);
        cx.cairo_set_dash(cr, dash, 0, 0);
        cx.cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text_at(cr, x + 30, y, 0, 0.5, names[k]);
    }
}

/* The data range of a metric (train and, if any, validation), padded. */
static void value_range(const curves *c, int col, double *lo, double *hi, bool unit)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < c->n; i++)
        for (int k = 0; k < (c->has_val ? 2 : 1); k++) {
            double v = c->rows[i].v[col + 2 * k];
            if (isfinite(v)) {
                *lo = v < *lo ? v : *lo;
                *hi = v > *hi ? v : *hi;
            }
        }
    if (!(*lo <= *hi))
        *lo = 0, *hi = 1;
    if (unit) {   /* accuracy: within [0, 1] */
        *lo = fmax(0, floor(*lo * 10 - 0.5) / 10);
        *hi = fmin(1, ceil(*hi * 10 + 0.5) / 10);
    } else {
        double pad = (*hi - *lo) * 0.08 + 1e-3 * fabs(*hi) + 1e-9;
        *lo = fmax(0, *lo - pad);
        *hi += pad;
    }
}

static void draw_curves(cairo_t *cr, const picture *pic, const void *data)
{
    const curves *c = data;
    cx.cairo_set_source_rgb(cr, 1, 1, 1);
    cx.cairo_paint(cr);
    cx.cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    const char *titles[2] = { "Loss", "Accuracy" }, *ylab[2] = { "loss", "accuracy" };
    double pw = (pic->w - 2 * 80 - 40) / 2.0;
    for (int k = 0; k < 2; k++) {
        panel p = { .x = 70 + k * (pw + 100), .y = 50, .w = pw, .h = pic->h - 110, .x0 = 0.5,
                    .x1 = c->rows[c->n - 1].epoch + 0.5 };
        value_range(c, k, &p.y0, &p.y1, k == 1);
        draw_axes(cr, &p, titles[k], ylab[k]);
        if (c->phase_start > 0) {   /* where fine-tuning begins */
            double x = px(&p, c->rows[c->phase_start].epoch - 0.5);
            cx.cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
            cx.cairo_move_to(cr, x, p.y);
            cx.cairo_line_to(cr, x, p.y + p.h);
            cx.cairo_stroke(cr);
            cx.cairo_set_font_size(cr, 10);
            text_at(cr, x + 4, k ? p.y + 10 : p.y + p.h - 10, 0, 0.5, "fine-tuning");
        }
        draw_series(cr, &p, c, k, 0.12, 0.47, 0.71, false);
        if (c->has_val)
            draw_series(cr, &p, c, k + 2, 0.85, 0.37, 0.01, true);
        draw_legend(cr, &p, c->has_val, k == 1);
    }
}

typedef struct confusion {
    const cli_scores *s;
    int cell, left, top;          /* layout, in pixels */
    const char *what;             /* "validation data" / "training data" */
} confusion;

static void draw_confusion(cairo_t *cr, const picture *pic, const void *data)
{
    const confusion *c = data;
    const cli_scores *s = c->s;
    cx.cairo_set_source_rgb(cr, 1, 1, 1);
    cx.cairo_paint(cr);
    cx.cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    size_t K = (size_t)s->K;
    double fs = c->cell >= 30 ? 12 : c->cell * 0.4;
    for (size_t t = 0; t < K; t++) {
        long total = 0;
        for (size_t j = 0; j < K; j++)
            total += s->conf[t * K + j];
        for (size_t j = 0; j < K; j++) {   /* shade: the fraction of the true class */
            double f = total ? (double)s->conf[t * K + j] / (double)total : 0;
            double x = c->left + (double)j * c->cell, y = c->top + (double)t * c->cell;
            cx.cairo_set_source_rgb(cr, 1 - 0.92 * f, 1 - 0.6 * f, 1 - 0.25 * f);
            cx.cairo_rectangle(cr, x, y, c->cell, c->cell);
            cx.cairo_fill(cr);
            char num[24];
            snprintf(num, sizeof num, "%ld", s->conf[t * K + j]);
            cx.cairo_set_source_rgb(cr, f > 0.55 ? 1 : 0.1, f > 0.55 ? 1 : 0.1, f > 0.55 ? 1 : 0.1);
            cx.cairo_set_font_size(cr, fs);
            if (c->cell >= 12)
                text_at(cr, x + c->cell / 2.0, y + c->cell / 2.0, 0.5, 0.5, num);
        }
    }
    cx.cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cx.cairo_set_font_size(cr, fs > 11 ? 11 : fs);
    for (size_t k = 0; k < K; k++) {
        text_at(cr, c->left - 6, c->top + ((double)k + 0.5) * c->cell, 1, 0.5, s->names[k]);
        cx.cairo_save(cr);   /* predicted classes: written upwards under the columns */
        cx.cairo_translate(cr, c->left + ((double)k + 0.5) * c->cell, c->top + (double)K * c->cell + 6);
        cx.cairo_rotate(cr, -PI / 2);
        text_at(cr, 0, 0, 1, 0.5, s->names[k]);
        cx.cairo_restore(cr);
    }
    cx.cairo_set_font_size(cr, 13);
    text_at(cr, c->left + (double)K * c->cell / 2, pic->h - 20, 0.5, 0, "predicted class");
    cx.cairo_save(cr);
    cx.cairo_translate(cr, 16, c->top + (double)K * c->cell / 2);
    cx.cairo_rotate(cr, -PI / 2);
    text_at(cr, 0, 0, 0.5, 0.5, "true class");
    cx.cairo_restore(cr);
    cx.cairo_set_font_size(cr, 14);
    text_at(cr, pic->w / 2.0, 12, 0.5, 0, pic->title);
}

/* The SVG with <title> and <desc> after its opening tag. */
static void svg_label(buf *out, const buf *svg, const picture *pic)
{
    const char *open = svg->p ? strstr(svg->p, "<svg") : NULL;
    const char *end = open ? strchr(open, '>') : NULL;
    if (!end) {
        buf_add(out, svg->p ? svg->p : "", svg->n);
        return;
    }
    buf_add(out, svg->p, (size_t)(end + 1 - svg->p));
    bprintf(out, "\n<title>");
    buf_esc(out, pic->title);
    bprintf(out, "</title>\n<desc>");
    buf_esc(out, pic->desc.p ? pic->desc.p : "");
    bprintf(out, "</desc>");
    buf_add(out, end + 1, svg->n - (size_t)(end + 1 - svg->p));
}

/* NAME.svg and NAME.png of one picture, drawn by the same function. */
static int render(file_set *fs, const char *name, const picture *pic, char *err, size_t esz)
{
    char file[24];
    snprintf(file, sizeof file, "%s.svg", name);
    buf svg = { 0 }, *labelled = add_file(fs, file);
    snprintf(file, sizeof file, "%s.png", name);
    buf *png = add_file(fs, file);
    cairo_surface_t *s = cx.cairo_svg_surface_create_for_stream(buf_write, &svg, pic->w, pic->h);
    cairo_t *cr = cx.cairo_create(s);
    pic->draw(cr, pic, pic->data);
    cairo_status_t st = cx.cairo_status(cr);
    cx.cairo_destroy(cr);
    cx.cairo_surface_finish(s);
    st = st ? st : cx.cairo_surface_status(s);
    cx.cairo_surface_destroy(s);
    s = cx.cairo_image_surface_create(CAIRO_FORMAT_RGB24, pic->w, pic->h);
    cr = cx.cairo_create(s);
    pic->draw(cr, pic, pic->data);
    st = st ? st : cx.cairo_status(cr);
    cx.cairo_destroy(cr);
    st = st ? st : cx.cairo_surface_write_to_png_stream(s, buf_write, png);
    cx.cairo_surface_destroy(s);
    if (!st)
        svg_label(labelled, &svg, pic);
    free(svg.p);
    if (st)
        snprintf(err, esz, "%s: cairo: %s", name, cx.cairo_status_to_string(st));
    return st ? -1 : 0;
}

/* ---- the most confidently wrong ------------------------------------------- */

typedef struct wrong {
    size_t i;
    int truth, pred;
    float conf;
} wrong;

static int by_confidence(const void *a, const void *b)
{
    const wrong *x = a, *y = b;
    return x->conf > y->conf ? -1 : x->conf < y->conf ? 1 : x->i < y->i ? -1 : x->i > y->i;
}

/* The wrongly predicted samples, the most confident first (at most MAX_WRONG). */
static int find_wrong(const cli_scores *s, const int32_t *labels, wrong *w)
{
    size_t K = (size_t)s->K, n = 0, cap = 0;
    wrong *all = NULL;
    for (size_t i = 0; i < s->n; i++) {
        const float *p = s->probs + i * K;
        size_t best = 0;
        for (size_t k = 1; k < K; k++)
            best = p[k] > p[best] ? k : best;
        if ((int)best == labels[i])
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            wrong *q = realloc(all, cap * sizeof *all);
            if (!q)
                break;
            all = q;
        }
        all[n++] = (wrong){ i, labels[i], (int)best, p[best] };
    }
    if (n)
        qsort(all, n, sizeof *all, by_confidence);
    int m = n < MAX_WRONG ? (int)n : MAX_WRONG;
    if (m)
        memcpy(w, all, (size_t)m * sizeof *w);
    free(all);
    return m;
}

/* A thumbnail of a 0..255 picture, its longer side THUMB, as PNG. */
static int thumbnail(const crest_image *im, buf *png)
{
    cairo_surface_t *src = cx.cairo_image_surface_create(CAIRO_FORMAT_RGB24, im->width, im->height);
    if (cx.cairo_surface_status(src)) {
        cx.cairo_surface_destroy(src);
        return -1;
    }
    cx.cairo_surface_flush(src);
    unsigned char *d = cx.cairo_image_surface_get_data(src);
    int stride = cx.cairo_image_surface_get_stride(src);
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++) {
            const float *p = im->data + ((size_t)y * (size_t)im->width + (size_t)x) * (size_t)im->channels;
            uint32_t c[3];
            for (int k = 0; k < 3; k++) {
                float v = p[im->channels == 3 ? k : 0];
                c[k] = v <= 0 ? 0 : v >= 255 ? 255 : (uint32_t)lrintf(v);
            }
            ((uint32_t *)(d + (size_t)y * (size_t)stride))[x] = c[0] << 16 | c[1] << 8 | c[2];
        }
    cx.cairo_surface_mark_dirty(src);
    double sc = (double)THUMB / (im->width > im->height ? im->width : im->height);
    int w = (int)lround(im->width * sc), h = (int)lround(im->height * sc);
    cairo_surface_t *dst = cx.cairo_image_surface_create(CAIRO_FORMAT_RGB24, w < 1 ? 1 : w, h < 1 ? 1 : h);
    cairo_t *cr = cx.cairo_create(dst);
    cx.cairo_scale(cr, sc, sc);
    cx.cairo_set_source_surface(cr, src, 0, 0);
    cx.cairo_pattern_set_filter(cx.cairo_get_source(cr), sc > 1 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
    cx.cairo_paint(cr);
    cairo_status_t st = cx.cairo_status(cr);
    cx.cairo_destroy(cr);
    st = st ? st : cx.cairo_surface_write_to_png_stream(dst, buf_write, png);
    cx.cairo_surface_destroy(dst);
    cx.cairo_surface_destroy(src);
    return st ? -1 : 0;
}

/* Removes dir/wrong/NN.png files an earlier report left. */
static void clear_wrong(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/wrong", dir);
    DIR *d = opendir(p);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && !strcmp(e->d_name + n - 4, ".png")) {
            char f[4500];
            snprintf(f, sizeof f, "%s/%s", p, e->d_name);
            unlink(f);
        }
    }
    if (d)
        closedir(d);
}

/* wrong/NN.png for each of w[0..n) (image data), and their HTML grid. */
static void wrong_grid(file_set *fs, const cli_report *r, const cli_scores *s, const wrong *w,
                       int n, buf *html)
{
    bprintf(html, "<div class=\"grid\">\n");
    for (int k = 0; k < n; k++) {
        bprintf(html, "<figure>");
        crest_image im = { 0 };
        char name[24];
        snprintf(name, sizeof name, "wrong/%02d.png", k);
        if (r->pics && crest_dataset_image(r->pics, w[k].i, &im) == CREST_OK) {
            buf *png = add_file(fs, name);
            if (png && thumbnail(&im, png) == 0) {
                bprintf(html, "<img src=\"%s\" alt=\"sample %zu\">", name, w[k].i);
            } else if (png) {   /* no picture: the caption alone */
                free(png->p);
                *png = (buf){ 0 };
                fs->n--;
            }
        }
        crest_image_free(&im);
        bprintf(html, "<figcaption>#%zu<br>true: <b>", w[k].i);
        buf_esc(html, s->names[w[k].truth]);
        bprintf(html, "</b><br>predicted: <b>");
        buf_esc(html, s->names[w[k].pred]);
        bprintf(html, "</b><br>confidence %.4f</figcaption></figure>\n", (double)w[k].conf);
    }
    bprintf(html, "</div>\n");
}

/* What the scores are on, in a word: "validation", "held-out", "training". */
static const char *eval_on(const cli_report *r)
{
    return r->val_is_eval ? "validation" : r->eval_on ? r->eval_on : "training";
}

/* ---- index.html ------------------------------------------------------------ */

static void html_head(buf *h, const cli_report *r, const row *rows, int n)
{
    bprintf(h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<title>crest training report: ");
    buf_esc(h, r->o->out);
    bprintf(h, "</title>\n<style>\nbody{font-family:sans-serif;margin:24px;color:#222;"
               "max-width:1100px}\ntable{border-collapse:collapse;margin:8px 0}\n"
               "td,th{border:1px solid #ccc;padding:3px 10px;text-align:right}\n"
               "th{background:#eef3f8}\ntd:first-child,th:first-child{text-align:left}\n"
               "table.summary td{text-align:left}\n"
               "img.plot{max-width:100%%;border:1px solid #ddd}\n"
               ".grid{display:flex;flex-wrap:wrap;gap:10px}\n"
               "figure{margin:0;width:140px;font-size:12px;border:1px solid #ddd;padding:6px;"
               "background:#fafafa}\nfigure img{display:block;margin:0 auto 4px;"
               "image-rendering:pixelated}\n</style>\n</head>\n<body>\n"
               "<h1>Training report</h1>\n<table class=\"summary\">\n<tr><th>model</th><td>");
    buf_esc(h, r->o->out);
    bprintf(h, " (%s)</td></tr>\n<tr><th>data</th><td>", r->kind);
    buf_esc(h, r->o->data);
    bprintf(h, "</td></tr>\n<tr><th>validation</th><td>");
    buf_esc(h, r->val_what);
    bprintf(h, "</td></tr>\n<tr><th>epochs</th><td>%d</td></tr>\n", n);
    if (n > 0) {
        const row *l = &rows[n - 1];
        bprintf(h, "<tr><th>final loss / accuracy</th><td>%.4f / %.4f</td></tr>\n", l->v[0], l->v[1]);
        if (r->has_val)
            bprintf(h, "<tr><th>final val_loss / val_accuracy</th><td>%.4f / %.4f</td></tr>\n",
                    l->v[2], l->v[3]);
    }
    double t = 0;
    for (int i = 0; i < n; i++)
        t += rows[i].v[5];
    bprintf(h, "<tr><th>time in fit</th><td>%.2f s</td></tr>\n</table>\n"
               "<p>The numbers per epoch: <a href=\"history.json\">history.json</a>, "
               "<a href=\"history.csv\">history.csv</a>.</p>\n"
               "<h2>Training curves</h2>\n<p><a href=\"curves.svg\"><img class=\"plot\" "
               "src=\"curves.png\" alt=\"loss and accuracy per epoch\"></a><br>"
               "<a href=\"curves.svg\">curves.svg</a> · <a href=\"curves.png\">curves.png</a></p>\n",
            t);
}

static void html_scores(buf *h, const cli_scores *s, const char *on)
{
    bprintf(h, "<h2>Confusion matrix</h2>\n<p>On the %s: %zu samples, loss %.4f, accuracy "
               "%.4f.</p>\n<p><a href=\"confusion.svg\"><img class=\"plot\" src=\"confusion.png\" "
               "alt=\"confusion matrix\"></a><br><a href=\"confusion.svg\">confusion.svg</a> · "
               "<a href=\"confusion.png\">confusion.png</a></p>\n<h2>Per class</h2>\n"
               "<table id=\"per-class\">\n<tr><th>class</th><th>precision</th><th>recall</th>"
               "<th>f1</th><th>support</th></tr>\n", on, s->n, s->met.loss, s->met.accuracy);
    for (int k = 0; k < s->K; k++) {
        double p, rc, f1;
        long support;
        cli_class_scores(s, k, &p, &rc, &f1, &support);
        bprintf(h, "<tr><td>");
        buf_esc(h, s->names[k]);
        bprintf(h, "</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%ld</td></tr>\n", p, rc, f1,
                support);
    }
    bprintf(h, "</table>\n");
}

/* ---- the whole report into one folder --------------------------------------- */

static void picture_desc(picture *p, const char *first, char *const *names, int K)
{
    bprintf(&p->desc, "%s", first);
    for (int k = 0; names && k < K; k++)
        bprintf(&p->desc, "%s%s", k ? ", " : "", names[k]);
}

/* The curves, the confusion matrix and its section of index.html. */
static int pictures(file_set *fs, const cli_report *r, const row *rows, int n,
                    const cli_scores *s, buf *html, char *err, size_t esz)
{
    int ps = 0;
    for (int i = 1; i < n; i++)
        ps = !ps && rows[i].phase != rows[0].phase ? i : ps;
    curves cv = { rows, n, r->has_val, ps };
    picture pc = { .title = "Loss and accuracy per epoch", .w = 1000, .h = 380,
                   .draw = draw_curves, .data = &cv };
    picture_desc(&pc, r->has_val ? "Loss and accuracy per epoch, training and validation. "
                                   "Panels: Loss (y: loss), Accuracy (y: accuracy); x: epoch."
                                 : "Loss and accuracy per epoch, training. Panels: Loss "
                                   "(y: loss), Accuracy (y: accuracy); x: epoch.", NULL, 0);
    int rc = n > 0 ? render(fs, "curves", &pc, err, esz) : 0;
    free(pc.desc.p);
    if (rc || !s)
        return rc;
    int longest = 0;
    for (int k = 0; k < s->K; k++)
        longest = (int)strlen(s->names[k]) > longest ? (int)strlen(s->names[k]) : longest;
    int cell = s->K <= 10 ? 48 : s->K <= 30 ? 480 / s->K : 16;
    int lab = 20 + 7 * (longest > 40 ? 40 : longest);
    char what[40];
    snprintf(what, sizeof what, "%s data", eval_on(r));
    confusion cf = { s, cell, 40 + lab, 40, what };
    char title[96];
    snprintf(title, sizeof title, "Confusion matrix (%s)", cf.what);
    picture pm = { .title = title, .w = cf.left + s->K * cell + 40,
                   .h = cf.top + s->K * cell + lab + 34, .draw = draw_confusion, .data = &cf };
    pm.w = pm.w < 360 ? 360 : pm.w;
    picture_desc(&pm, "Rows: true class; columns: predicted class. Classes: ", s->names, s->K);
    rc = render(fs, "confusion", &pm, err, esz);
    free(pm.desc.p);
    html_scores(html, s, cf.what);
    return rc;
}

/* Every file of the report, in memory; index.html last. */
static int make_report(file_set *fs, const cli_report *r, const row *rows, int n,
                       const cli_scores *s, char *err, size_t esz)
{
    history_text(r, rows, n, add_file(fs, "history.json"), add_file(fs, "history.csv"));
    buf html = { 0 };
    html_head(&html, r, rows, n);
    int rc = pictures(fs, r, rows, n, s, &html, err, esz);
    if (!rc && !s)
        bprintf(&html, "<h2>Confusion matrix</h2>\n<p>Not drawn: %s.</p>\n", r->no_eval_why);
    if (!rc && s) {
        wrong w[MAX_WRONG];
        int nw = s->probs ? find_wrong(s, crest_dataset_labels(r->eval), w) : 0;
        const char *on = eval_on(r);
        bprintf(&html, "<h2>Most confidently wrong</h2>\n<p>");
        if (!r->val_is_eval)
            bprintf(&html, "There is no validation data: these are %s samples. ", on);
        bprintf(&html, "%d of the %zu %s samples predicted wrongly, the most confident first "
                       "(#: the sample's place in the %s data%s).</p>\n", nw, s->n, on, on,
                r->pics ? "" : "; table rows have no picture");
        wrong_grid(fs, r, s, w, nw, &html);
    }
    bprintf(&html, "<p style=\"color:#777\">Written by crest %s.</p>\n</body>\n</html>\n",
            CREST_VERSION);
    buf *index = add_file(fs, "index.html");
    if (index)
        *index = html;
    else
        free(html.p);
    return rc;
}

/* The set into dir (and dir/wrong/), each file atomically, index.html last. */
static int write_set(const char *dir, const file_set *fs, char *err, size_t esz)
{
    char wd[4200];
    snprintf(wd, sizeof wd, "%s/wrong", dir);
    int rc = make_dir(dir, err, esz);
    if (!rc)
        clear_wrong(dir);
    for (int k = 0; !rc && k < fs->n; k++)
        if (!strncmp(fs->name[k], "wrong/", 6) && !(rc = make_dir(wd, err, esz)))
            break;
    for (int k = 0; !rc && k < fs->n; k++)
        rc = write_file(dir, fs->name[k], &fs->data[k], err, esz);
    return rc;
}

int cli_train_report(const cli_report *r)
{
    int n = 0, rc = 0;
    row *rows = history_rows(r, &n);
    cli_scores s = { 0 };
    char err[4400] = "out of memory";
    if (!rows) {
        rc = -1;
    } else if (r->eval && r->scored) {
        int e = cli_score(r->scored, r->eval, true, &s);
        if (e) {
            snprintf(err, sizeof err, "scoring the %s data: %s", eval_on(r),
                     e < 0 ? crest_last_error() : "out of memory");
            rc = -1;
        } else if (r->named) {   /* the saved model's names (the scored one may be the head) */
            char **nm = cli_class_names(r->named, s.K);
            if (nm) {
                cli_class_names_free(s.names);
                s.names = nm;
            }
        }
    }
    if (!rc && !cli_cairo_open(err, sizeof err))
        rc = -1;
    file_set *fs = rc ? NULL : calloc(1, sizeof *fs);
    if (!rc && !fs)
        rc = -1;
    if (!rc)
        rc = make_report(fs, r, rows, n, r->eval && r->scored ? &s : NULL, err, sizeof err);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/report", r->o->out);
    const char *dirs[2] = { dir, r->o->report };
    for (int k = 0; !rc && k < 2; k++) {
        if (!dirs[k])
            continue;
        rc = write_set(dirs[k], fs, err, sizeof err);
        if (!rc)
            printf("report: %s/index.html\n", dirs[k]);
    }
    for (int k = 0; fs && k < fs->n; k++)
        free(fs->data[k].p);
    free(fs);
    if (cli_cairo_ready()) {
        cx.cairo_debug_reset_static_data();   /* no cairo object is left: its font caches go, */
        cx.FcFini();                          /* then fontconfig's (leak checkers see none) */
    }
    if (rc)
        fprintf(stderr, "crest train: the model is saved in %s, but its report is not: %s\n",
                r->o->out, err);
    free(rows);
    cli_scores_free(&s);
    return rc ? EXIT_RUN : 0;
}
