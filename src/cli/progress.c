/* progress.c - the command's progress on stderr, drawn from the library's
 * progress events (the library itself prints nothing): Keras' bar for fit,
 * a line per epoch for tables streamed in chunks, backbone extraction.
 * The terminal rule: on a terminal a line is redrawn in place with \r (at
 * most every 0.1 s; extraction every 0.5 s); otherwise only finished lines
 * are written, one per epoch, so logs stay readable. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

/* The command draws one thing at a time on its one stderr. */
static struct {
    int tty;                      /* -1: not asked yet */
    double last;                  /* event time of the last redraw (< 0: none yet) */
} bar = { -1, -1 };

static bool on_tty(void)
{
    if (bar.tty < 0)
        bar.tty = isatty(2);
    return bar.tty == 1;
}

static void fmt_time(char *buf, size_t n, double s)
{
    if (s >= 3600)
        snprintf(buf, n, "%d:%02d:%02d", (int)(s / 3600), (int)fmod(s / 60, 60), (int)fmod(s, 60));
    else if (s >= 60)
        snprintf(buf, n, "%d:%02d", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%.0fs", s);
}

/* "  7/63 [===>....] - ETA: 3s - loss: ..." while running; "63/63 [=====]
 * - 4s 61ms/step - loss: ... - val_accuracy: ..." when the epoch ends. */
static void bar_line(const crest_progress *e, bool final)
{
    char cells[31] = { 0 }, tb[32];
    int64_t steps = e->steps ? e->steps : 1;
    int w = (int)(30 * e->step / steps);
    for (int i = 0; i < 30; i++)
        cells[i] = i < w - 1 || (final && i < w) ? '=' : i == w - 1 ? '>' : '.';
    int digits = snprintf(NULL, 0, "%lld", (long long)e->steps);
    if (final) {
        fmt_time(tb, sizeof tb, e->seconds);
        double per = e->seconds / (double)(e->step ? e->step : 1);
        fprintf(stderr, "%s%*lld/%lld [%s] - %s %.0f%s/step - loss: %.4f", on_tty() ? "\r" : "",
                digits, (long long)e->step, (long long)e->steps, cells, tb,
                per >= 1 ? per : per >= 1e-3 ? per * 1e3 : per * 1e6,
                per >= 1 ? "s" : per >= 1e-3 ? "ms" : "us", e->loss);
    } else {
        fmt_time(tb, sizeof tb,
                 e->step ? e->seconds / (double)e->step * (double)(e->steps - e->step) : 0);
        fprintf(stderr, "\r%*lld/%lld [%s] - ETA: %s - loss: %.4f", digits, (long long)e->step,
                (long long)e->steps, cells, tb, e->loss);
    }
    fprintf(stderr, " - accuracy: %.4f", e->accuracy);
    if (final && e->has_val)
        fprintf(stderr, " - val_loss: %.4f - val_accuracy: %.4f", e->val_loss, e->val_accuracy);
    if (final && e->lr_scheduled)
        fprintf(stderr, " - learning_rate: %.4e", e->lr);
    fprintf(stderr, final ? "\n" : "");
    fflush(stderr);
}

/* Backbone extraction: "features: 640/2000 images, 12.3 ms/image". */
static void extract_line(const crest_progress *e)
{
    bool end = e->done >= e->total;
    double since = bar.last >= 0 ? bar.last : 0;   /* the extraction's start */
    if (!end && (!on_tty() || e->seconds - since <= 0.5))
        return;
    bar.last = end ? -1 : e->seconds;
    fprintf(stderr, "%sfeatures: %zu/%zu images, %.1f ms/image%s", on_tty() ? "\r" : "",
            e->done, e->total, 1e3 * e->seconds / (double)(e->done ? e->done : 1),
            end ? "\n" : "");
    fflush(stderr);
}

void cli_progress_bar(const crest_progress *e, void *user)
{
    (void)user;
    switch (e->kind) {
    case CREST_PROGRESS_EPOCH_BEGIN:
        bar.last = -1;
        fprintf(stderr, "Epoch %d/%d\n", e->epoch + 1, e->epochs);
        break;
    case CREST_PROGRESS_STEP:
        if (!on_tty() || (bar.last >= 0 && e->seconds - bar.last < 0.1))
            return;
        bar.last = e->seconds;
        bar_line(e, false);
        break;
    case CREST_PROGRESS_EPOCH_END:
        bar.last = -1;
        bar_line(e, true);
        break;
    case CREST_PROGRESS_EARLY_STOP:
        fprintf(stderr, "Early stopping after epoch %d (best: %d)\n", e->epoch + 1,
                e->best_epoch + 1);
        break;
    case CREST_PROGRESS_RESUME:
        fprintf(stderr, "Resuming from %s after epoch %d/%d\n", e->path, e->epoch, e->epochs);
        break;
    case CREST_PROGRESS_EXTRACT:
        extract_line(e);
        break;
    case CREST_PROGRESS_LR_REDUCED:   /* Keras' words */
        fprintf(stderr, "Epoch %d: ReduceLROnPlateau reducing learning rate to %g.\n",
                e->epoch + 1, e->lr);
        break;
    case CREST_PROGRESS_BEST_SAVED:
        fprintf(stderr, "Epoch %d: %s improved from %.5f to %.5f, saving the model to %s\n",
                e->epoch + 1, e->monitor, e->best, e->value, e->path);
        break;
    }
}

void cli_progress_rows(const crest_progress *e, void *user)
{
    (void)user;
    if (e->kind != CREST_PROGRESS_EPOCH_END)
        return;
    fprintf(stderr, "Epoch %d/%d - %zu rows - loss: %.4f - accuracy: %.4f", e->epoch + 1,
            e->epochs, e->samples, e->loss, e->accuracy);
    if (e->has_val)
        fprintf(stderr, " - val_loss: %.4f - val_accuracy: %.4f", e->val_loss, e->val_accuracy);
    fprintf(stderr, "\n");
}
