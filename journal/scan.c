/* cdp journal: scanning a segment, and telling a torn tail from
 * corruption.
 *
 * The writer has at most one batch in flight and a batch is written only
 * after the previous one is durable.  So when a scan meets an invalid
 * record at P, the damage is a torn tail if nothing after P belongs to a
 * later batch; a valid record whose batch began after P proves that P
 * was once durable, and that is corruption.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "journal/internal.h"

/* Is there a valid first record of a batch that starts after bad? */
int
later_batch_exists (struct seg_window *w, uint64_t number, uint32_t bad,
                    uint32_t align, uint32_t limit, uint32_t *found)
{
  uint32_t pos = (bad / align + 1) * align;
  struct rec_hdr h;
  const uint8_t *payload;
  int r;

  for (; (uint64_t) pos + REC_HDR_SIZE <= limit; pos += align) {
    r = win_record (w, number, pos, limit, &h, &payload);
    if (r < 0)
      return r;
    if (r == 1 && h.batch_start == pos) {
      *found = pos;
      return 1;
    }
  }
  return 0;
}

int
seg_scan_ex (int fd, uint64_t number, uint64_t expect_seq, uint32_t limit,
             uint32_t align, struct seg_scan *out)
{
  struct seg_window w;
  struct rec_hdr h;
  const uint8_t *payload;
  uint32_t pos = SEG_HDR_SIZE, later;
  int r;

  memset (out, 0, sizeof *out);
  win_init (&w, fd);
  for (;;) {
    r = win_record (&w, number, pos, limit, &h, &payload);
    if (r < 0)
      goto out;
    if (r == 0 || (h.type != REC_PAD && expect_seq && h.seq != expect_seq))
      break;
    if (h.type != REC_PAD) {
      out->last_seq = h.seq;
      out->last_time = h.time_ns;
      expect_seq = h.seq + 1;
    }
    pos += rec_disk_size (h.payload_len);
  }
  out->end = pos;
  out->bad_pos = pos;
  r = 0;
  if (align) {
    r = later_batch_exists (&w, number, pos, align, limit, &later);
    if (r == 1) {
      out->corrupt = true;
      set_last_error ("segment %" PRIu64 " offset %" PRIu32
                      ": invalid record before valid records (at %" PRIu32 ")",
                      number, pos, later);
    }
  }
 out:
  win_free (&w);
  return r < 0 ? r : 0;
}

int
seg_scan (int fd, uint64_t number, uint64_t expect_seq, uint32_t limit,
          struct seg_scan *out)
{
  return seg_scan_ex (fd, number, expect_seq, limit, 0, out);
}
