/* fuzz_png.c - PNG through the image path (see fuzz_image.h). */
#include "fuzz_image.h"
