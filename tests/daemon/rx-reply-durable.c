/* At RPO 0 the receiver answers a write only once its record is
 * durable: when nbd_pwrite (or zeroes, trim) returns, the journal's
 * durable seq covers the record, and a reader of its own finds it with
 * the data written: one record per request, in order. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/daemon/daemon-test.h"

#define SIZE (4u << 20)

static void
check_durable (struct dt *d, uint64_t seq, uint16_t type, uint64_t off,
               uint64_t len, const void *data)
{
  struct journal *j = receiver_journal (d->r);
  struct journal_record rec;
  void *got = malloc (len);

  cr_assert_eq (journal_last_seq (j), seq, "one record per request");
  cr_assert_geq (journal_durable_seq (j), seq,
                 "record %llu answered before it was durable",
                 (unsigned long long) seq);
  cr_assert (dt_record (d, seq, &rec, got, len), "record %llu not in the "
             "journal", (unsigned long long) seq);
  cr_assert_eq (rec.type, type);
  cr_assert_eq (rec.disk, 0);
  cr_assert_eq (rec.offset, off);
  cr_assert_eq (rec.length, len);
  if (data) {
    cr_assert_eq (rec.payload_len, len);
    cr_assert_eq (memcmp (got, data, len), 0, "record %llu holds other data",
                  (unsigned long long) seq);
  }
  else
    cr_assert_eq (rec.payload_len, 0);
  free (got);
}

Test (rx_reply_durable, each_reply_after_its_record_is_durable, .timeout = 120)
{
  struct dt d;
  struct nbd_handle *h;
  uint64_t seq;

  dt_setup (&d, SIZE, 1u << 20);
  h = dt_connect (&d);
  seq = journal_last_seq (receiver_journal (d.r));
  for (unsigned i = 0; i < 40; i++) {
    uint64_t len = 512 * (1 + (i * 37) % 256);          /* up to 128 KiB */
    uint64_t off = 512 * ((i * 7919) % ((SIZE - len) / 512));
    void *buf = dt_pattern (len, i);

    cr_assert_eq (nbd_pwrite (h, buf, len, off, 0), 0, "%s", nbd_get_error ());
    check_durable (&d, ++seq, JOURNAL_WRITE, off, len, buf);
    free (buf);
    if (i % 10 == 9) {
      cr_assert_eq (nbd_zero (h, 65536, off, 0), 0, "%s", nbd_get_error ());
      check_durable (&d, ++seq, JOURNAL_WRITE_ZEROES, off, 65536, NULL);
      cr_assert_eq (nbd_trim (h, 4096, off, 0), 0, "%s", nbd_get_error ());
      check_durable (&d, ++seq, JOURNAL_TRIM, off, 4096, NULL);
    }
  }
  dt_disconnect (h);
  dt_teardown (&d);
}
