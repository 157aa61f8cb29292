/* cdp journal: segment files, their names, headers and records. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/crc32c.h"
#include "journal/internal.h"

char *
seg_name (uint64_t number)
{
  char *s;

  if (asprintf (&s, "seg-%016" PRIx64 ".cdpj", number) < 0)
    return NULL;
  return s;
}

static bool
parse_seg_name (const char *name, uint64_t *number)
{
  char *end;

  if (strncmp (name, "seg-", 4) != 0 || strlen (name) != 4 + 16 + 5)
    return false;
  if (strcmp (name + 20, ".cdpj") != 0)
    return false;
  *number = strtoull (name + 4, &end, 16);
  return end == name + 20;
}

int
seg_read_hdr (int fd, struct seg_hdr *h)
{
  ssize_t r = pread (fd, h, sizeof *h, 0);

  if (r < 0)
    return -errno;
  if (r == (ssize_t) sizeof *h && seg_hdr_newer (h))
    return -EPROTONOSUPPORT;
  if (r != (ssize_t) sizeof *h || !seg_hdr_valid (h))
    return -EUCLEAN;
  return 0;
}

static int
cmp_seg (const void *a, const void *b)
{
  const struct seg_info *x = a, *y = b;

  return x->number < y->number ? -1 : x->number > y->number;
}

/* Read one directory entry's header into out; 0, or -errno. */
static int
add_segment (int dirfd, const char *name, uint64_t number, seg_vector *out,
             uint8_t uuid[16], bool *have_uuid)
{
  CLEANUP_CLOSE int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC);
  struct seg_hdr h;
  int r;

  if (fd < 0)
    return errno == ENOENT ? 0 : -errno;   /* reclaimed meanwhile */
  r = seg_read_hdr (fd, &h);
  if (r == -EPROTONOSUPPORT) {
    set_last_error (r, "segment %" PRIu64 ": format version %" PRIu32 " is "
                    "newer than this cdp reads (%d): run a cdp that knows it",
                    number, h.version, SEG_VERSION);
    return r;
  }
  if (r == -EUCLEAN || (r == 0 && h.segment != number))
    return set_last_error (-EUCLEAN, "segment %" PRIu64
                           ": bad segment header", number);
  if (r < 0)
    return r;
  if (*have_uuid && memcmp (uuid, h.uuid, 16) != 0)
    return set_last_error (-EUCLEAN, "segment %" PRIu64
                           ": belongs to another journal", number);
  memcpy (uuid, h.uuid, 16);
  *have_uuid = true;
  return seg_vector_append (out, (struct seg_info) {
      .number = number, .first_seq = h.first_seq, .prev_end = h.prev_end });
}

int
seg_list (int dirfd, seg_vector *out, uint8_t uuid[16], bool *have_uuid)
{
  int fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d;
  struct dirent *e;
  uint64_t number;
  int r = 0;

  if (fd < 0)
    return -errno;
  d = fdopendir (fd);
  if (d == NULL) {
    r = -errno;
    close (fd);
    return r;
  }
  out->len = 0;
  while (r == 0 && (e = readdir (d)) != NULL)
    if (parse_seg_name (e->d_name, &number))
      r = add_segment (dirfd, e->d_name, number, out, uuid, have_uuid);
  closedir (d);
  if (r == 0 && out->len > 1)
    qsort (out->ptr, out->len, sizeof out->ptr[0], cmp_seg);
  return r;
}

int
seg_read_record (int fd, uint64_t segment, uint32_t pos, uint32_t limit,
                 struct rec_hdr *h, void *payload)
{
  uint32_t crc = 0;
  ssize_t r;

  r = pread (fd, h, sizeof *h, pos);
  if (r < 0)
    return -errno;
  if (r != (ssize_t) sizeof *h || !rec_hdr_plausible (h, segment, pos, limit))
    return 0;
  if (h->type != REC_PAD && h->payload_len > 0) {
    if (payload == NULL)
      return 1;                 /* caller wants the header only */
    r = pread (fd, payload, h->payload_len, pos + REC_HDR_SIZE);
    if (r < 0)
      return -errno;
    if (r != (ssize_t) h->payload_len)
      return 0;
    crc = crc32c (payload, h->payload_len);
  }
  return rec_crc (h, crc) == h->crc;
}

int
seg_stale_or_corrupt (int fd, uint64_t number, uint32_t pos)
{
  struct seg_hdr h;

  if (seg_read_hdr (fd, &h) < 0 || h.segment != number)
    return -ESTALE;
  return set_last_error (-EUCLEAN, "segment %" PRIu64 " offset %" PRIu32
                         ": bad record", number, pos);
}
