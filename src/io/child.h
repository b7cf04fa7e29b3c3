/* child.h - a reader in a child process: a library that is not hardened
 * against damaged files (libhdf5, libzip) runs after fork() with CPU, wall
 * clock and memory budgets and writes records to a pipe; the loader reads
 * the records with a bound on every length and trusts nothing further than
 * its own checks. A child that dies or overruns its budget fails the load
 * with a message naming the file.
 *
 * Records are a one-byte tag and a payload; the tag 'E' carries an error
 * message (u32 length, text) and ends the stream. */
#ifndef CR_CHILD_H
#define CR_CHILD_H

#include "internal.h"

#include <stdio.h>
#include <sys/types.h>

typedef struct cr_child {
    const char *path;             /* the file, for messages */
    const char *lib;              /* "libhdf5", for messages */
    pid_t pid;
    FILE *f;
    bool eof;                     /* the stream ended early */
} cr_child;

/* Runs work(path, arg, fd) in a child; its budget is CREST_H5_SECONDS
 * (1..86400) of CPU, default 120, and twice that of wall clock. */
int cr_child_spawn(cr_child *c, const char *path, const char *lib,
                   void (*work)(const char *path, const void *arg, int fd), const void *arg);
/* Ends the child (killed when rc is an error); turns a stream that stopped
 * early into an error saying how the child ended. Returns the final code. */
int cr_child_finish(cr_child *c, int rc);

/* The parent's reads: exactly n bytes, else c->eof and CREST_E_FORMAT. */
int cr_child_get(cr_child *c, void *p, size_t n);
int cr_child_get_u32(cr_child *c, uint32_t *v);
/* A string of at most max bytes into cr_malloc'd, NUL-terminated *out. */
int cr_child_get_str(cr_child *c, uint32_t max, char **out);
/* The next tag; an 'E' record becomes the error it carries. */
int cr_child_get_tag(cr_child *c, char *tag);

/* The child's writes; after the parent stops reading they do nothing. */
typedef struct cr_child_out {
    int fd;
    bool broken;
} cr_child_out;

void cr_child_put(cr_child_out *o, const void *p, size_t n);
void cr_child_put_u32(cr_child_out *o, uint32_t v);
void cr_child_put_str(cr_child_out *o, const char *s);
void cr_child_put_bytes(cr_child_out *o, const void *p, uint32_t n);   /* u32 n, bytes */
void cr_child_put_tag(cr_child_out *o, char tag);
/* The record stream's end: 'D' after success (rc 0), else 'E' and the error. */
void cr_child_put_end(cr_child_out *o, int rc);

#endif
