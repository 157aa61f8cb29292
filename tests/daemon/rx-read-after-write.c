/* A read of the receiver's export returns every write answered before
 * it, also at an RPO above 0, where the index holds durable records
 * only: the read has the journal made durable now rather than at its
 * next sync, and waits for the index to take the writes in. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/daemon/daemon-test.h"

#define SIZE (1u << 20)
#define LEN (64u << 10)

Test (rx_read_after_write, above_rpo_0, .timeout = 120)
{
  struct dt d;
  struct nbd_handle *h;
  struct journal *j;
  unsigned char *want = calloc (1, SIZE), *got = malloc (SIZE);

  dt_setup (&d, SIZE, 1u << 20);
  cr_assert_eq (receiver_set_rpo (d.r, RPO_MAX_NS), 0);
  j = receiver_journal (d.r);
  h = dt_connect (&d);
  for (unsigned i = 0; i < 6; i++) {
    void *buf = dt_pattern (LEN, i);
    uint64_t off = (uint64_t) (i * 5 % 16) * LEN;
    cr_assert_eq (nbd_pwrite (h, buf, LEN, off, 0), 0, "%s", nbd_get_error ());
    memcpy (want + off, buf, LEN);
    free (buf);
    cr_assert_lt (journal_durable_seq (j), journal_last_seq (j));
    for (uint64_t o = 0; o < SIZE; o += 128 << 10)
      cr_assert_eq (nbd_pread (h, got + o, 128 << 10, o, 0), 0, "%s",
                    nbd_get_error ());
    cr_assert_eq (memcmp (got, want, SIZE), 0,
                  "a read missed a write answered before it");
    cr_assert_geq (journal_durable_seq (j), journal_last_seq (j));
  }
  dt_disconnect (h);
  dt_teardown (&d);
  free (want);
  free (got);
}
