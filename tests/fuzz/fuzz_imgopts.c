/* fuzz_imgopts.c - the image options a saved model records
 * (crest_image_opts_parse, read back by predict/evaluate on image files):
 * parsed, written back as JSON and parsed again, which must give the same
 * options (channels 0 is written as its meaning, 3). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fz_str(data, size);
    crest_image_opts o, back;
    if (crest_image_opts_parse(text, &o) == CREST_OK) {
        char *js = crest_image_opts_json(&o);
        if (!o.channels)
            o.channels = 3;
        if (!js || crest_image_opts_parse(js, &back) != CREST_OK ||
            memcmp(&o, &back, sizeof o) != 0)
            __builtin_trap();   /* what crest writes it must read back the same */
        crest_free(js);
    }
    free(text);
    return 0;
}
