/* cdp journal: encoding and checking of segment and record headers.
 *
 * All integers are stored little-endian; cdp runs on little-endian hosts
 * only (checked at build time below).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "journal/internal.h"

_Static_assert (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
                "the journal format is little-endian");

static __thread struct journal_damage last_damage;
static __thread bool have_damage;

int
set_last_error (int err, const char *fmt, ...)
{
  va_list ap;

  have_damage = false;
  va_start (ap, fmt);
  err = cdp_set_errorv (err, fmt, ap);
  va_end (ap);
  return err;
}

void
clear_last_error (void)
{
  cdp_clear_error ();
  have_damage = false;
}

void
set_last_damage (const struct journal_damage *d)
{
  set_last_error (-EUCLEAN, "segment %" PRIu64 " offset %" PRIu32
                  ": record %" PRIu64 " fails its CRC check",
                  d->loc.segment, d->loc.offset, d->seq);
  last_damage = *d;
  have_damage = true;
}

void
clear_last_damage (void)
{
  have_damage = false;
}

bool
journal_last_damage (struct journal_damage *d)
{
  if (have_damage && d)
    *d = last_damage;
  return have_damage;
}

void
seg_hdr_seal (struct seg_hdr *h)
{
  memcpy (h->magic, SEG_MAGIC, 8);
  h->version = SEG_VERSION;
  h->crc = 0;
  h->crc = crc32c (h, sizeof *h);
}

/* A whole header (its CRC holds) of a format newer than SEG_VERSION:
 * written by a newer cdp, to be refused rather than taken as damage. */
bool
seg_hdr_newer (const struct seg_hdr *h)
{
  struct seg_hdr copy = *h;

  if (memcmp (h->magic, SEG_MAGIC, 8) != 0 || h->version <= SEG_VERSION)
    return false;
  copy.crc = 0;
  return crc32c (&copy, sizeof copy) == h->crc;
}

bool
seg_hdr_valid (const struct seg_hdr *h)
{
  struct seg_hdr copy = *h;

  if (memcmp (h->magic, SEG_MAGIC, 8) != 0 || h->version != SEG_VERSION)
    return false;
  copy.crc = 0;
  return crc32c (&copy, sizeof copy) == h->crc;
}

uint32_t
rec_crc (const struct rec_hdr *h, uint32_t payload_crc)
{
  struct rec_hdr copy = *h;

  copy.crc = 0;
  return crc32c_extend (payload_crc, &copy, sizeof copy);
}

bool
rec_hdr_plausible (const struct rec_hdr *h, uint64_t segment,
                   uint32_t pos, uint32_t limit)
{
  uint64_t end;

  if (h->magic != REC_MAGIC || h->segment != segment)
    return false;
  if (h->payload_len > JOURNAL_MAX_PAYLOAD)
    return false;
  end = (uint64_t) pos + rec_disk_size (h->payload_len);
  if (end > limit || h->batch_start > pos)
    return false;
  if (h->type == REC_PAD)
    return h->seq == 0;
  return h->seq != 0 && h->type >= JOURNAL_WRITE && h->type <= JOURNAL_TYPE_MAX;
}

void
rec_to_record (const struct rec_hdr *h, uint64_t segment, uint32_t pos,
               struct journal_record *rec)
{
  rec->seq = h->seq;
  rec->time_ns = h->time_ns;
  rec->type = h->type;
  rec->flags = h->flags;
  rec->disk = h->disk;
  rec->offset = h->offset;
  rec->length = h->length;
  rec->payload_len = h->payload_len;
  rec->loc.segment = segment;
  rec->loc.offset = pos;
}
