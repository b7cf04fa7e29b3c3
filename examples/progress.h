/* progress.h - progress for the example programs: the library prints
 * nothing, so each example hands this callback to fit and extraction
 * (.progress = example_progress). One line per epoch in the style of
 * Keras' verbose=2, and a line when backbone extraction finishes. The
 * `crest` command draws Keras' full bar instead (src/cli/progress.c). */
#ifndef CREST_EXAMPLES_PROGRESS_H
#define CREST_EXAMPLES_PROGRESS_H

#include <crest.h>
#include <stdio.h>

static void example_progress(const crest_progress *e, void *user)
{
    (void)user;
    switch (e->kind) {
    case CREST_PROGRESS_EPOCH_END:
        fprintf(stderr, "Epoch %d/%d - %lld steps - %.1fs - loss: %.4f - accuracy: %.4f",
                e->epoch + 1, e->epochs, (long long)e->steps, e->seconds, e->loss,
                e->accuracy);
        if (e->has_val)
            fprintf(stderr, " - val_loss: %.4f - val_accuracy: %.4f", e->val_loss,
                    e->val_accuracy);
        fputc('\n', stderr);
        break;
    case CREST_PROGRESS_EXTRACT:
        if (e->done == e->total)
            fprintf(stderr, "features: %zu images, %.1f ms/image\n", e->total,
                    1e3 * e->seconds / (double)(e->total ? e->total : 1));
        break;
    case CREST_PROGRESS_EARLY_STOP:
        fprintf(stderr, "Early stopping after epoch %d (best: %d)\n", e->epoch + 1,
                e->best_epoch + 1);
        break;
    default:
        break;
    }
}

#endif
