/* cdp journal: scanning a segment, and telling a torn tail from
 * corruption.
 *
 * The writer keeps at most W batches in flight (W is in the segment
 * header, 1 for segments written before it was), submits a batch only
 * when fewer than W are unretired, and retires them in order: when batch
 * k is submitted, every batch before k - W + 1 is durable.  A crash can
 * therefore damage only the last W batches of the last segment, and a
 * torn batch can be followed by at most W - 1 later batches, whole or in
 * part, none of whose records was ever reported durable.  So when a scan
 * meets an invalid record at P, it is a torn tail if fewer than W later
 * batches begin after P: the tail is cut at P.  If the first records of
 * W later batches are valid, P was durable once: that is corruption.
 *
 * A segment written through the page cache (SEG_INFLIGHT_BUFFERED) may
 * have lost any part past its last sync when the host went down, in no
 * order: while the marker file says so (sync.c), whatever follows an
 * invalid record is its torn tail.  Once the marker is gone, every
 * record of it was made durable, and it was written one batch at a
 * time: one valid later batch makes an invalid record corruption.
 *
 * A batch's first record is the one whose batch_start is its own
 * offset; batches begin on the segment's alignment.  Records in the
 * middle of a batch and stale records of the file's previous life
 * (another segment number) never count as a later batch.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "journal/internal.h"

uint32_t
seg_tail_window (const struct seg_hdr *h, bool marker)
{
  if (h->inflight != SEG_INFLIGHT_BUFFERED)
    return seg_hdr_inflight (h);
  return marker ? SEG_INFLIGHT_BUFFERED : 1;
}

int
later_batches (struct seg_window *w, uint64_t number, uint32_t bad,
               uint32_t align, uint32_t limit, uint32_t want, uint32_t *found)
{
  uint32_t pos = (bad / align + 1) * align, n = 0;
  struct rec_hdr h;
  const uint8_t *payload;
  int r;

  /* A page cache segment may have lost any part past its last sync:
   * whatever follows an invalid record is its torn tail. */
  if (want == SEG_INFLIGHT_BUFFERED)
    return 0;
  for (; n < want && (uint64_t) pos + REC_HDR_SIZE <= limit; pos += align) {
    r = win_record (w, number, pos, limit, &h, &payload);
    if (r < 0)
      return r;
    if (r == 1 && h.batch_start == pos) {
      *found = pos;
      n++;
    }
  }
  return (int) n;
}

int
seg_scan_ex (int fd, uint64_t number, uint64_t expect_seq, uint32_t limit,
             uint32_t align, uint32_t inflight, struct seg_scan *out)
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
    r = later_batches (&w, number, pos, align, limit, inflight, &later);
    if (r >= 0 && (uint32_t) r >= inflight) {
      out->corrupt = true;
      set_last_error (-EUCLEAN, "segment %" PRIu64 " offset %" PRIu32
                      ": invalid record before valid records of %" PRIu32
                      " later batches (the last at %" PRIu32 ")",
                      number, pos, inflight, later);
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
  return seg_scan_ex (fd, number, expect_seq, limit, 0, 1, out);
}
