/* scores.c - a model's scores on labelled data: the metrics, the confusion
 * matrix and per-class precision / recall / F1, for `crest evaluate` and
 * the training report (one implementation for both). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

int cli_class_output(crest_model *m, const char *cmd, const char *dir)
{
    crest_dims o = crest_model_output_shape(m);
    bool vector = true;
    for (int i = 0; i + 1 < o.ndim; i++)
        vector = vector && o.d[i] == 1;
    if (vector)
        return EXIT_OK;
    char s[160];
    fprintf(stderr, "crest %s: %s%sthe model's output per sample is %s, not class "
                    "probabilities; crest infer writes raw outputs\n", cmd, dir ? dir : "",
            dir ? ": " : "", crest_dims_str(o, s, sizeof s));
    return EXIT_INPUT;
}

int cli_score(crest_model *m, const crest_dataset *ds, bool keep_probs, cli_scores *s)
{
    *s = (cli_scores){ 0 };
    s->n = crest_dataset_size(ds);
    /* an input of unknown size: the output's size follows the data's */
    if (crest_dims_count(crest_model_input_shape(m)) < 0) {
        int err = crest_model_set_input_shape(m, crest_dataset_sample_shape(ds));
        if (err)
            return err;
    }
    int rc = cli_class_output(m, "evaluate", NULL);
    if (rc)
        return rc;
    s->K = (int)crest_model_output_size(m);
    size_t K = (size_t)s->K;
    float *probs = malloc((s->n ? s->n : 1) * K * sizeof *probs);
    s->conf = calloc(K * K, sizeof *s->conf);
    s->names = cli_class_names(m, s->K);
    if (!probs || !s->conf || !s->names) {
        free(probs);
        fprintf(stderr, "crest: out of memory scoring %zu samples\n", s->n);
        return EXIT_RUN;
    }
    /* one forward pass per cache-sized batch gives the metrics and the
     * probabilities the confusion matrix counts */
    int err = crest_evaluate_probs(m, ds, 0, &s->met, probs);
    const int32_t *labels = crest_dataset_labels(ds);
    for (size_t i = 0; !err && i < s->n; i++) {
        const float *p = probs + i * K;
        size_t best = 0;
        for (size_t k = 1; k < K; k++)
            if (p[k] > p[best])
                best = k;
        s->conf[(size_t)labels[i] * K + best]++;
    }
    if (keep_probs && !err)
        s->probs = probs;
    else
        free(probs);
    return err;
}

void cli_class_scores(const cli_scores *s, int k, double *p, double *r, double *f1,
                      long *support)
{
    size_t K = (size_t)s->K;
    long tp = s->conf[(size_t)k * K + (size_t)k], col = 0, row = 0;
    for (size_t j = 0; j < K; j++) {
        col += s->conf[j * K + (size_t)k];
        row += s->conf[(size_t)k * K + j];
    }
    *p = col ? (double)tp / col : 0;
    *r = row ? (double)tp / row : 0;
    *f1 = *p + *r > 0 ? 2 * *p * *r / (*p + *r) : 0;
    *support = row;
}

void cli_scores_free(cli_scores *s)
{
    free(s->conf);
    free(s->probs);
    cli_class_names_free(s->names);
    *s = (cli_scores){ 0 };
}
