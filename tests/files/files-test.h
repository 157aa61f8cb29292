/* Helpers for the Criterion tests of the file-level reader: disks in
 * memory, images made by the real mkfs tools. */
#ifndef CDP_FILES_TEST_H
#define CDP_FILES_TEST_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "recovery/files/files.h"

struct mem_disk {
  uint8_t *buf;
  uint64_t size;
  uint64_t reads;
};

static inline int
mem_pread (void *h, void *buf, uint64_t off, uint64_t len)
{
  struct mem_disk *d = h;

  cr_assert (off <= d->size && len <= d->size - off,
             "the reader asked for [%llu, +%llu) of a %llu-byte disk",
             (unsigned long long) off, (unsigned long long) len,
             (unsigned long long) d->size);
  memcpy (buf, d->buf + off, len);
  d->reads++;
  return 0;
}

/* Run a shell command in dir; fail the test if it fails. */
static inline void
shell (const char *fmt, ...)
{
  char cmd[4096];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (cmd, sizeof cmd, fmt, ap);
  va_end (ap);
  cr_assert_eq (system (cmd), 0, "command failed: %s", cmd);
}

static inline void
load_disk (const char *path, struct mem_disk *d)
{
  FILE *f = fopen (path, "rb");
  struct stat st;

  cr_assert_not_null (f, "open %s", path);
  cr_assert_eq (fstat (fileno (f), &st), 0);
  d->size = (uint64_t) st.st_size;
  d->buf = malloc (d->size);
  cr_assert_not_null (d->buf);
  cr_assert_eq (fread (d->buf, 1, d->size, f), d->size);
  fclose (f);
}

/* A fresh reader attached to d. */
static inline struct files *
attach (struct mem_disk *d)
{
  struct files *f;

  cr_assert_eq (files_start (&f), 0);
  cr_assert_eq (files_attach (f, d->size, mem_pread, d), 0, "%s", files_error (f));
  return f;
}

#endif
