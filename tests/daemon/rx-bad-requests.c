/* Requests the receiver's export refuses: a write or zeroes past the
 * disk's end (ENOSPC), a trim past it (EINVAL), a write larger than the
 * largest request it advertises for its journal's segment size
 * (EINVAL), an export the task does not have.  None of them journals
 * anything, the connection goes on, and what was written before reads
 * back as written, from the export and from the journal. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/daemon/daemon-test.h"

#define SIZE (1u << 20)

static void
refused (struct dt *d, int ret, struct nbd_handle *h, int err, const char *what)
{
  (void) d;
  cr_assert_eq (ret, -1, "%s was accepted", what);
  cr_assert_eq (nbd_get_errno (), err, "%s: %s, not %s", what,
                strerror (nbd_get_errno ()), strerror (err));
}

Test (rx_bad_requests, refused_and_nothing_lost, .timeout = 120)
{
  struct dt d;
  struct nbd_handle *h, *other;
  struct journal *j;
  struct journal_record rec;
  unsigned char *a = dt_pattern (128 << 10, 3), *big = dt_pattern (256 << 10, 4);
  unsigned char *got = malloc (SIZE), *want = calloc (1, SIZE);
  uint64_t seq;

  dt_setup (&d, SIZE, 1u << 20);
  j = receiver_journal (d.r);
  h = dt_connect_lax (&d);
  cr_assert_eq (nbd_get_size (h), SIZE);
  /* An eighth of a 1 MiB segment. */
  cr_assert_eq (nbd_get_block_size (h, LIBNBD_SIZE_MAXIMUM), 128 << 10);

  cr_assert_eq (nbd_pwrite (h, a, 128 << 10, SIZE - (128 << 10), 0), 0, "%s",
                nbd_get_error ());              /* up to the end: fine */
  memcpy (want + SIZE - (128 << 10), a, 128 << 10);
  cr_assert_eq (nbd_pwrite (h, a, 4096, 8192, 0), 0, "%s", nbd_get_error ());
  memcpy (want + 8192, a, 4096);
  seq = journal_last_seq (j);
  cr_assert_eq (seq, 2);

  refused (&d, nbd_pwrite (h, a, 4096, SIZE - 512, 0), h, ENOSPC,
           "a write across the end");
  refused (&d, nbd_pwrite (h, a, 512, SIZE, 0), h, ENOSPC,
           "a write at the end");
  refused (&d, nbd_pwrite (h, a, 512, UINT64_MAX - 511, 0), h, ENOSPC,
           "a write whose end overflows");
  refused (&d, nbd_zero (h, 8192, SIZE - 4096, 0), h, ENOSPC,
           "zeroes across the end");
  refused (&d, nbd_trim (h, 8192, SIZE - 4096, 0), h, EINVAL,
           "a trim across the end");
  refused (&d, nbd_pwrite (h, big, 256 << 10, 0, 0), h, EINVAL,
           "a write larger than the largest request");
  cr_assert_eq (journal_last_seq (j), seq, "a refused request was journaled");
  cr_assert_eq (dt_last_record (&d), seq);

  /* An export the task does not have. */
  other = nbd_create ();
  cr_assert_not_null (other);
  cr_assert_eq (nbd_set_export_name (other, "disk1"), 0);
  cr_assert_eq (nbd_connect_unix (other, d.sock), -1,
                "an export that is not the task's disk was served");
  nbd_close (other);

  /* The connection goes on; what was written is there. */
  for (uint64_t off = 0; off < SIZE; off += 128 << 10)
    cr_assert_eq (nbd_pread (h, got + off, 128 << 10, off, 0), 0, "%s",
                  nbd_get_error ());
  cr_assert_eq (memcmp (got, want, SIZE), 0, "the disk reads otherwise");
  cr_assert (dt_record (&d, 1, &rec, got, SIZE));
  cr_assert_eq (rec.offset, SIZE - (128 << 10));
  cr_assert_eq (memcmp (got, a, 128 << 10), 0);
  cr_assert (dt_record (&d, 2, &rec, got, SIZE));
  cr_assert_eq (rec.offset, 8192);
  cr_assert_eq (memcmp (got, a, 4096), 0);
  cr_assert_eq (nbd_pwrite (h, a, 512, 0, 0), 0, "%s", nbd_get_error ());
  cr_assert_eq (journal_last_seq (j), seq + 1);
  dt_disconnect (h);
  dt_teardown (&d);
  free (a);
  free (big);
  free (got);
  free (want);
}

/* The largest request follows the segment size: an eighth of it, a
 * power of two, at most 32 MiB; a request that large is one record. */
Test (rx_bad_requests, largest_request_by_segment_size, .timeout = 120)
{
  static const struct { uint32_t seg, max; } cases[] = {
    { 1u << 20, 128u << 10 }, { 3u << 20, 256u << 10 },
    { 8u << 20, 1u << 20 }, { 512u << 20, 32u << 20 },
  };

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct dt d;
    struct nbd_handle *h;
    struct journal_record rec;
    unsigned char *buf = dt_pattern (cases[i].max, (unsigned) i);

    dt_setup (&d, 64u << 20, cases[i].seg);
    h = dt_connect (&d);
    cr_assert_eq (nbd_get_block_size (h, LIBNBD_SIZE_MAXIMUM), cases[i].max,
                  "segments of %u bytes", cases[i].seg);
    cr_assert_eq (nbd_pwrite (h, buf, cases[i].max, 0, 0), 0, "%s",
                  nbd_get_error ());
    cr_assert_eq (journal_last_seq (receiver_journal (d.r)), 1);
    cr_assert (dt_record (&d, 1, &rec, NULL, 0));
    cr_assert_eq (rec.length, cases[i].max);
    dt_disconnect (h);
    dt_teardown (&d);
    free (buf);
  }
}
