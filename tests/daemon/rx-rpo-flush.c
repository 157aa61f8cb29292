/* At an RPO above 0 the receiver answers a write once the kernel has
 * its record, before it is durable; a FLUSH is answered only once
 * every write answered before it is durable, and a FUA write only once
 * it is durable itself.  (The RPO is an hour: nothing else makes the
 * journal sync while the test runs.) */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/daemon/daemon-test.h"

#define SIZE (4u << 20)
#define RPO RPO_MAX_NS

/* Write len bytes at off; the seq of its record, answered not durable. */
static uint64_t
write_acked (struct dt *d, struct nbd_handle *h, uint64_t off, uint64_t len,
             unsigned seed)
{
  struct journal *j = receiver_journal (d->r);
  void *buf = dt_pattern (len, seed);
  uint64_t seq;

  cr_assert_eq (nbd_pwrite (h, buf, len, off, 0), 0, "%s", nbd_get_error ());
  seq = journal_last_seq (j);
  cr_assert_lt (journal_durable_seq (j), seq,
                "at an RPO above 0 a write is answered before it is durable");
  free (buf);
  return seq;
}

static void
check_record (struct dt *d, uint64_t seq, uint64_t off, uint64_t len,
              unsigned seed)
{
  struct journal_record rec;
  void *want = dt_pattern (len, seed), *got = malloc (len);

  cr_assert (dt_record (d, seq, &rec, got, len));
  cr_assert_eq (rec.type, JOURNAL_WRITE);
  cr_assert_eq (rec.offset, off);
  cr_assert_eq (rec.length, len);
  cr_assert_eq (memcmp (got, want, len), 0);
  free (want);
  free (got);
}

Test (rx_rpo_flush, flush_answers_once_everything_before_is_durable,
      .timeout = 120)
{
  struct dt d;
  struct nbd_handle *h;
  uint64_t seq[8];

  dt_setup (&d, SIZE, 1u << 20);
  cr_assert_eq (receiver_set_rpo (d.r, RPO), 0);
  h = dt_connect (&d);
  for (unsigned i = 0; i < 8; i++)
    seq[i] = write_acked (&d, h, i * 65536, 4096 * (i + 1), i);
  cr_assert_eq (nbd_flush (h, 0), 0, "%s", nbd_get_error ());
  cr_assert_geq (journal_durable_seq (receiver_journal (d.r)), seq[7],
                 "FLUSH answered before the writes it covers were durable");
  for (unsigned i = 0; i < 8; i++)
    check_record (&d, seq[i], i * 65536, 4096 * (i + 1), i);
  /* And again: writes after the FLUSH are not durable until the next. */
  seq[0] = write_acked (&d, h, 0, 512, 99);
  cr_assert_eq (nbd_flush (h, 0), 0, "%s", nbd_get_error ());
  cr_assert_geq (journal_durable_seq (receiver_journal (d.r)), seq[0]);
  dt_disconnect (h);
  dt_teardown (&d);
}

Test (rx_rpo_flush, fua_write_answers_once_durable, .timeout = 120)
{
  struct dt d;
  struct nbd_handle *h;
  struct journal *j;
  uint64_t before, seq;
  void *buf = dt_pattern (8192, 7);

  dt_setup (&d, SIZE, 1u << 20);
  cr_assert_eq (receiver_set_rpo (d.r, RPO), 0);
  j = receiver_journal (d.r);
  h = dt_connect (&d);
  before = write_acked (&d, h, 0, 4096, 1);
  cr_assert_eq (nbd_pwrite (h, buf, 8192, 1 << 20, LIBNBD_CMD_FLAG_FUA), 0,
                "%s", nbd_get_error ());
  seq = journal_last_seq (j);
  cr_assert_gt (seq, before);
  cr_assert_geq (journal_durable_seq (j), seq,
                 "a FUA write answered before it was durable");
  check_record (&d, seq, 1 << 20, 8192, 7);
  check_record (&d, before, 0, 4096, 1);
  free (buf);
  dt_disconnect (h);
  dt_teardown (&d);
}
