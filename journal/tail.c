/* cdp journal: finding where the journal ends when the writer opens it.
 *
 * Every segment but the last ends where its successor's header says
 * (prev_end); those are checked when read.  The last segment is scanned
 * record by record: a torn tail is cut at the last valid record, and
 * damage followed by as many later batches as the writer had in flight
 * is reported as corruption (scan.c says why).  Writing
 * then continues in a new segment, so whatever lies past the cut is
 * never read again; the old segment is truncated to give the space back.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "journal/internal.h"

static int
init_empty (struct journal *j)
{
  if (!j->opts.create) {
    return set_last_error (-ENOENT, "%s: no journal here", j->dir);
  }
  if (getrandom (j->uuid, sizeof j->uuid, 0) != sizeof j->uuid)
    return -EIO;
  j->next_seq = 1;
  j->seg_number = 0;
  j->tail = 0;
  j->last_time = 0;
  return 0;
}

/* Scan the last segment and set next_seq, tail, last_time from it. */
static int
scan_last_segment (struct journal *j, const struct seg_info *last)
{
  CLEANUP_FREE char *name = seg_name (last->number);
  CLEANUP_CLOSE int fd = -1;
  struct seg_hdr h;
  struct seg_scan sc;
  off_t size;
  int r;

  if (name == NULL)
    return -ENOMEM;
  fd = openat (j->dirfd, name, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  r = seg_read_hdr (fd, &h);
  if (r < 0)
    return r;
  size = lseek (fd, 0, SEEK_END);
  if (size < 0)
    return -errno;
  r = seg_scan_ex (fd, last->number, last->first_seq,
                   size > UINT32_MAX ? UINT32_MAX : (uint32_t) size,
                   h.align ? h.align : 512,
                   seg_tail_window (&h, sync_marker_present (j->dirfd)), &sc);
  if (r < 0)
    return r;
  if (sc.corrupt)
    return -EUCLEAN;
  j->seg_number = last->number;
  j->tail = sc.end;
  j->next_seq = sc.last_seq ? sc.last_seq + 1 : last->first_seq;
  j->last_time = sc.last_seq ? sc.last_time : h.prev_last_time;
  if (h.align > j->align)
    j->align = h.align;
  /* Give back the space past the valid records; the cut-off tail held
   * nothing that was reported durable. */
  if (ftruncate (fd, (sc.end + 4095) & ~4095u) < 0 || fdatasync (fd) < 0)
    return -errno;
  return 0;
}

int
journal_find_tail (struct journal *j)
{
  seg_vector segs = empty_vector;
  bool have_uuid = false;
  int r;

  r = seg_list (j->dirfd, &segs, j->uuid, &have_uuid);
  if (r < 0)
    goto out;
  if (segs.len == 0) {
    r = init_empty (j);
    if (r == 0)
      r = sync_check_marker (j);
    goto out;
  }
  r = scan_last_segment (j, &segs.ptr[segs.len - 1]);
  if (r == 0)
    r = sync_check_marker (j);
  if (r < 0)
    goto out;
  j->segs = segs;
  segs = (seg_vector) empty_vector;
  atomic_store (&j->durable_seq, j->next_seq - 1);
  atomic_store (&j->acked_seq, j->next_seq - 1);
  j->written_seq = j->next_seq - 1;
  atomic_store (&j->oldest_seq, j->segs.ptr[0].first_seq);
 out:
  seg_vector_reset (&segs);
  return r;
}
