/* cairo_lazy.h - cairo and fontconfig, loaded when a report is drawn.
 *
 * Only `crest train`'s report draws, but a command linked against libcairo
 * maps it and the dozen libraries it needs (X11, xcb, pixman, freetype,
 * fontconfig, expat, ...) at every start: about 1.6 MB of every run's
 * memory and part of its start-up. So the command calls them through this
 * table, filled by cli_cairo_open from the shared libraries of Debian's
 * libcairo2 and libfontconfig1 on first use. report.c names each function
 * as cx.cairo_...; the prototypes are cairo's own (typeof of its headers). */
#ifndef CREST_CLI_CAIRO_LAZY_H
#define CREST_CLI_CAIRO_LAZY_H

#include <cairo-svg.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <stdbool.h>
#include <stddef.h>

#define CLI_CAIRO_FUNCS(X) X(cairo_arc) X(cairo_create) X(cairo_debug_reset_static_data) \
    X(cairo_destroy) X(cairo_fill) X(cairo_get_source) X(cairo_image_surface_create) \
    X(cairo_image_surface_get_data) X(cairo_image_surface_get_stride) X(cairo_line_to) \
    X(cairo_move_to) X(cairo_paint) X(cairo_pattern_set_filter) X(cairo_rectangle) \
    X(cairo_restore) X(cairo_rotate) X(cairo_save) X(cairo_scale) X(cairo_select_font_face) \
    X(cairo_set_dash) X(cairo_set_font_size) X(cairo_set_line_width) X(cairo_set_source_rgb) \
    X(cairo_set_source_rgba) X(cairo_set_source_surface) X(cairo_show_text) X(cairo_status) \
    X(cairo_status_to_string) X(cairo_stroke) X(cairo_surface_destroy) \
    X(cairo_surface_finish) X(cairo_surface_flush) X(cairo_surface_mark_dirty) \
    X(cairo_surface_status) X(cairo_surface_write_to_png_stream) \
    X(cairo_svg_surface_create_for_stream) X(cairo_text_extents) X(cairo_translate)
#define CLI_FC_FUNCS(X) X(FcFini)

#define CLI_CAIRO_PTR(f) __typeof__(f) *f;
typedef struct cli_cairo {
    CLI_CAIRO_FUNCS(CLI_CAIRO_PTR)
    CLI_FC_FUNCS(CLI_CAIRO_PTR)
} cli_cairo;
#undef CLI_CAIRO_PTR

extern cli_cairo cx;

/* Fills cx once (later calls return at once). False, with the reason in
 * err, when a library or one of its functions cannot be loaded. */
bool cli_cairo_open(char *err, size_t n);
/* Whether cx is filled. */
bool cli_cairo_ready(void);

#endif
