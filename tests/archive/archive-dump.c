/* archive-dump LOCATION TASK TIME DISK OUT: the disk DISK of the point
 * of TASK at TIME (RFC 3339, as 'cdp archive list' prints it) in the
 * archive at LOCATION, written to OUT as a raw image through the
 * archive's reader (every chunk checked against its name).  For the
 * end-to-end tests, which compare it with what was written.  Exit 0, or
 * 1 with one line on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/timeutil.h"
#include "recovery/archive/archive.h"

#define BUF (1u << 20)

static int
die (const char *what, int e)
{
  fprintf (stderr, "archive-dump: %s: %s\n", what,
           *cdp_get_error () ? cdp_get_error () : strerror (-e));
  return 1;
}

int
main (int argc, char **argv)
{
  struct archive *a;
  struct archive_point pt = { 0 };
  struct archive_reader *r;
  struct point p;
  int64_t t;
  size_t d;
  uint8_t *buf = malloc (BUF);
  int fd, e;

  if (argc != 6 || buf == NULL) {
    fprintf (stderr, "usage: archive-dump LOCATION TASK TIME DISK OUT\n");
    return 2;
  }
  if (parse_time (argv[3], time_now_ns (), &t) < 0)
    return die ("not a time", -EINVAL);
  if ((e = archive_open (argv[1], false, &a)) < 0)
    return die (argv[1], e);
  if ((e = archive_point_load (a, argv[2], t, &pt)) < 0)
    return die ("the point", e);
  for (d = 0; d < pt.ndisks && strcmp (pt.disks[d].name, argv[4]); d++)
    ;
  if (d == pt.ndisks)
    return die ("no such disk", -ENOENT);
  if ((e = archive_reader_open (a, &pt, d, &r)) < 0)
    return die ("the reader", e);
  archive_reader_point (r, &p);
  fd = open (argv[5], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    return die (argv[5], -errno);
  for (uint64_t off = 0; off < p.size; off += BUF) {
    size_t n = p.size - off < BUF ? (size_t) (p.size - off) : BUF;
    if ((e = point_pread (&p, buf, off, n, NULL)) < 0)
      return die ("a read", e);
    if (pwrite (fd, buf, n, (off_t) off) != (ssize_t) n)
      return die (argv[5], -errno);
  }
  if (ftruncate (fd, (off_t) p.size) < 0 || close (fd) < 0)
    return die (argv[5], -errno);
  archive_reader_close (r);
  archive_point_free (&pt);
  archive_close (a);
  free (buf);
  return 0;
}
