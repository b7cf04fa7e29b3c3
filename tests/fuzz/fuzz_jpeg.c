/* fuzz_jpeg.c - JPEG through the image path (see fuzz_image.h). */
#include "fuzz_image.h"
