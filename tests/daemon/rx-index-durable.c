/* The receiver's index names durable records only: at an RPO above 0,
 * receiver_index_current leaves out the writes answered but not yet
 * durable (a power loss may still take them), and takes them in once a
 * FLUSH made them durable; receiver_durable_end follows it.  At RPO 0
 * it brings the index up to every write answered. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "tests/daemon/daemon-test.h"

#define SIZE (1u << 20)

static void
writes (struct nbd_handle *h, unsigned n)
{
  void *buf = dt_pattern (4096, n);

  for (unsigned i = 0; i < n; i++)
    cr_assert_eq (nbd_pwrite (h, buf, 4096, i * 4096, 0), 0, "%s",
                  nbd_get_error ());
  free (buf);
}

static void
check_end (struct dt *d, uint64_t want)
{
  struct journal_record rec;
  uint64_t seq;
  int64_t t;

  cr_assert_eq (index_last_seq (receiver_index (d->r)), want);
  receiver_durable_end (d->r, &seq, &t);
  cr_assert_eq (seq, want);
  if (want) {
    cr_assert (dt_record (d, want, &rec, NULL, 0));
    cr_assert_eq (t, rec.time_ns);
  }
}

Test (rx_index_durable, above_rpo_0, .timeout = 120)
{
  struct dt d;
  struct nbd_handle *h;
  struct journal *j;
  uint64_t durable;

  dt_setup (&d, SIZE, 1u << 20);
  cr_assert_eq (receiver_set_rpo (d.r, RPO_MAX_NS), 0);
  j = receiver_journal (d.r);
  h = dt_connect (&d);
  writes (h, 3);
  cr_assert_eq (nbd_flush (h, 0), 0, "%s", nbd_get_error ());
  durable = journal_last_seq (j);
  writes (h, 5);
  cr_assert_eq (journal_durable_seq (j), durable);
  receiver_index_current (d.r);
  check_end (&d, durable);
  cr_assert_eq (journal_durable_seq (j), durable,
                "making the index current made the journal sync");
  cr_assert_eq (nbd_flush (h, 0), 0, "%s", nbd_get_error ());
  cr_assert_eq (journal_last_seq (j), durable + 5);
  /* The receiver hears of the sync on the journal thread just after
   * the FLUSH is answered; of a write answered later on that thread,
   * after it.  That write is not durable: the index leaves it out. */
  writes (h, 1);
  receiver_index_current (d.r);
  check_end (&d, durable + 5);
  dt_disconnect (h);
  dt_teardown (&d);
}

Test (rx_index_durable, at_rpo_0, .timeout = 120)
{
  struct dt d;
  struct nbd_handle *h;

  dt_setup (&d, SIZE, 1u << 20);
  h = dt_connect (&d);
  check_end (&d, 0);
  writes (h, 7);
  receiver_index_current (d.r);
  check_end (&d, 7);
  dt_disconnect (h);
  dt_teardown (&d);
}
