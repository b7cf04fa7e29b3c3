/* labels.c - a trained model's class names, for evaluate and predict. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names recorded by train ({"crest":{"class_names":[...]}} for image
 * folders), else a table model's classes, else the index as text. */
char **cli_class_names(const crest_model *m, int K)
{
    char **names = calloc(K > 0 ? (size_t)K + 1 : 1, sizeof *names);   /* NULL-ended */
    if (!names)
        return NULL;
    const char *meta = crest_model_metadata(m);
    cJSON *j = meta ? cJSON_Parse(meta) : NULL;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "crest"), "class_names");
    if (cJSON_GetArraySize(arr) != K)
        arr = NULL;
    const crest_features *f = crest_model_features(m);
    bool ok = true;
    for (int k = 0; k < K && ok; k++) {
        const cJSON *s = arr ? cJSON_GetArrayItem(arr, k) : NULL;
        const char *nm = cJSON_IsString(s) ? s->valuestring
                         : f ? crest_features_class_name(f, k) : NULL;
        char num[16];
        snprintf(num, sizeof num, "%d", k);
        names[k] = strdup(nm && *nm ? nm : num);
        ok = names[k] != NULL;
    }
    cJSON_Delete(j);
    if (!ok) {
        cli_class_names_free(names);
        return NULL;
    }
    return names;
}

void cli_class_names_free(char **names)
{
    for (int k = 0; names && names[k]; k++)
        free(names[k]);
    free(names);
}
