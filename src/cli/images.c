/* images.c - image sources for every command (train --base, evaluate,
 * predict): one place that opens folders, IDX sets and image files through
 * the model's recorded image transform, and reports what a folder held. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

int cli_open_images(const char *cmd, const char *spec, const crest_image_opts *io,
                    crest_dataset **out)
{
    crest_folder_info info;
    int err = crest_image_source_open(out, spec, io, &info);
    if (err)
        return err;
    if (info.skipped) {
        fprintf(stderr, "crest %s: skipped %zu file%s that %s not JPEG or PNG:\n", cmd,
                info.skipped, info.skipped == 1 ? "" : "s", info.skipped == 1 ? "is" : "are");
        fputs(info.skipped_names ? info.skipped_names : "", stderr);
    }
    if (info.classes)   /* as Keras' image_dataset_from_directory */
        fprintf(stderr, "Found %zu images belonging to %d classes.\n", info.images,
                info.classes);
    crest_free(info.skipped_names);
    return CREST_OK;
}

/* A folder's classes must be the model's (label k means the model's class
 * k): exit code, naming the first difference. */
static int check_classes(crest_model *m, const char *cmd, const char *spec,
                         const crest_dataset *d)
{
    const char *meta = crest_model_metadata(m);
    cJSON *j = meta ? cJSON_Parse(meta) : NULL;
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "crest"), "class_names");
    int rc = EXIT_OK, K = crest_dataset_classes(d), n = cJSON_GetArraySize(names);
    for (int k = 0; cJSON_IsArray(names) && !rc && k < (K > n ? K : n); k++) {
        const cJSON *want = cJSON_GetArrayItem(names, k);
        const char *got = crest_dataset_class_name(d, k);
        if (!cJSON_IsString(want) || !got || strcmp(want->valuestring, got)) {
            fprintf(stderr, "crest %s: %s: class %d is '%s', the model's class %d is '%s' "
                            "(a folder needs the model's class sub-folders)\n", cmd, spec, k,
                    got ? got : "(none)", k, cJSON_IsString(want) ? want->valuestring : "(none)");
            rc = EXIT_INPUT;
        }
    }
    cJSON_Delete(j);
    return rc;
}

int cli_load_for_model(crest_model *m, const char *cmd, const char *spec, crest_dataset **out)
{
    crest_image_opts io;
    int err = crest_model_image_opts(m, &io);
    if (err && err != CREST_E_NOMEM && crest_is_image_folder(spec)) {   /* say why, not "missing" */
        fprintf(stderr, "crest %s: %s: the model takes no image files (%s)\n", cmd, spec,
                crest_last_error());
        *out = NULL;
        return EXIT_INPUT;
    }
    int rc = err ? crest_dataset_load(out, spec)
                 : cli_open_images(cmd, spec, &io, out);   /* every image source, one transform */
    if (rc)
        return cli_fail(cmd, rc);
    if (crest_dataset_class_name(*out, 0) && (rc = check_classes(m, cmd, spec, *out))) {
        crest_dataset_free(*out);
        *out = NULL;
    }
    return rc;
}
