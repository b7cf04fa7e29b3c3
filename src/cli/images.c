/* images.c - image sources for every command (train --base, evaluate,
 * predict): one place that opens folders, IDX sets and image files through
 * the model's recorded image transform, and reports what a folder held. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

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

int cli_load_for_model(crest_model *m, const char *cmd, const char *spec, crest_dataset **out)
{
    crest_image_opts io;
    if (crest_model_image_opts(m, &io) == CREST_OK)   /* every image source, one transform */
        return cli_open_images(cmd, spec, &io, out);
    return crest_dataset_load(out, spec);
}
