/* images.c - image sources for every command (train --base, evaluate,
 * predict, quantize): one place that opens folders, IDX sets and image
 * files through the model's recorded image transform (or the one
 * --preprocess / --image-size give a model that records none), and reports
 * what a folder held. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --preprocess MODE, as the library reads it (rescale is also "x/255"). */
int cli_preprocess_opt(const char *cmd, const cli_opt *opt, const char *v, void *dst)
{
    crest_preprocess pre;
    if (crest_preprocess_parse(v, &pre)) {
        fprintf(stderr, "crest %s: %s: %s\n", cmd, opt->name, crest_last_error());
        return EXIT_INPUT;
    }
    *(const char **)dst = v;
    return 0;
}

/* --image-size HxW (or one N for NxN): each side in [1, 8192]. */
int cli_image_size_opt(const char *cmd, const cli_opt *opt, const char *v, void *dst)
{
    int *hw = dst, n = 0;
    char tail;
    int k = sscanf(v, "%dx%d%c%n", &hw[0], &hw[1], &tail, &n);
    if (k == 1 && sscanf(v, "%d%c", &hw[0], &tail) == 1)
        hw[1] = hw[0];
    else if (k != 2)
        hw[0] = 0;
    if (hw[0] < 1 || hw[1] < 1 || hw[0] > 8192 || hw[1] > 8192) {
        fprintf(stderr, "crest %s: %s '%s' is not HxW (two sizes in 1..8192, e.g. 224x224)\n",
                cmd, opt->name, v);
        return EXIT_INPUT;
    }
    return 0;
}

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

const char *cli_images_hint(const crest_model *m)
{
    crest_dims in = crest_model_input_shape(m);
    crest_image_opts io;
    if (in.ndim != 3 || (in.d[2] != 1 && in.d[2] != 3) || !crest_model_image_opts(m, &io))
        return "";
    return in.d[0] == CREST_DIM_NONE || in.d[1] == CREST_DIM_NONE
               ? "; say how pixels become its inputs with --preprocess none|rescale|tf|torch|"
                 "caffe and --image-size HxW"
               : "; say how pixels become its inputs with --preprocess none|rescale|tf|torch|"
                 "caffe";
}

int cli_load_for_model(crest_model *m, const char *cmd, const char *spec, crest_dataset **out)
{
    crest_image_opts io;
    int err = crest_model_image_opts(m, &io);
    if (err && err != CREST_E_NOMEM && crest_is_image_folder(spec)) {   /* say why, not "missing" */
        fprintf(stderr, "crest %s: %s: the model takes no image files (%s)%s\n", cmd, spec,
                crest_last_error(), cli_images_hint(m));
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

/* The image transform of m with --preprocess pre and --image-size hw
 * applied: the recorded one, else one built from m's input [H, W, C]. */
static int override_opts(crest_model *m, const char *cmd, const char *pre, const int *hw,
                         crest_image_opts *io)
{
    crest_dims in = crest_model_input_shape(m);
    bool recorded = crest_model_image_opts(m, io) == CREST_OK;
    if (!recorded && (in.ndim != 3 || (in.d[2] != 1 && in.d[2] != 3))) {
        fprintf(stderr, "crest %s: --preprocess/--image-size: the model's input is not an "
                        "image [height, width, 1 or 3 channels]\n", cmd);
        return EXIT_INPUT;
    }
    if (!recorded)
        *io = (crest_image_opts){ .height = (int)in.d[0], .width = (int)in.d[1],
                                  .channels = (int)in.d[2] };
    for (int i = 0; hw[0] && i < 2; i++) {
        if (in.ndim == 3 && in.d[i] != CREST_DIM_NONE && in.d[i] != hw[i]) {
            fprintf(stderr, "crest %s: --image-size %dx%d: the model takes %lldx%lld images "
                            "only\n", cmd, hw[0], hw[1], (long long)in.d[0], (long long)in.d[1]);
            return EXIT_INPUT;
        }
        if (i)
            io->width = hw[i];
        else
            io->height = hw[i];
    }
    if (io->height < 1 || io->width < 1) {
        fprintf(stderr, "crest %s: the model's input size is unknown (None): give "
                        "--image-size HxW\n", cmd);
        return EXIT_INPUT;
    }
    if (pre && crest_preprocess_parse(pre, &io->preprocess))
        return cli_fail(cmd, CREST_E_ARG);
    return EXIT_OK;
}

int cli_model_images(crest_model *m, const char *cmd, const char *pre, const int *hw)
{
    if (!pre && !hw[0])
        return EXIT_OK;
    crest_image_opts io;
    int rc = override_opts(m, cmd, pre, hw, &io);
    if (rc)
        return rc;
    const char *meta = crest_model_metadata(m);
    cJSON *j = meta ? cJSON_Parse(meta) : cJSON_CreateObject();
    if (j && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        j = cJSON_CreateObject();
    }
    cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "crest");
    if (j && !cJSON_IsObject(c)) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "crest");
        c = cJSON_AddObjectToObject(j, "crest");
    }
    char *ij = crest_image_opts_json(&io), *text = NULL;
    cJSON *im = ij ? cJSON_Parse(ij) : NULL;
    crest_free(ij);
    if (c && im) {
        cJSON_DeleteItemFromObjectCaseSensitive(c, "image");
        cJSON_AddItemToObject(c, "image", im);
        im = NULL;
        text = cJSON_PrintUnformatted(j);
    }
    cJSON_Delete(im);
    cJSON_Delete(j);
    int err = text ? crest_model_set_metadata(m, text) : CREST_E_NOMEM;
    free(text);
    return err ? cli_fail(cmd, err) : EXIT_OK;
}
