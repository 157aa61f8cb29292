/* journal_pread_payload checks the record's CRC before any byte of it is
 * returned: a flipped payload byte fails every read of the record, whole
 * or in part, naming it; the records around it read as written, also
 * from the reader's cache and past its limit, from many threads. */
#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "journal-test.h"

#define NREC 8
#define BIG (1u << 20)

static char *
build (struct journal_record *recs)
{
  char *dir = make_tmpdir ();
  struct journal_record *all;
  struct journal *j;
  struct journal_options o = { .segment_size = 16 << 20, .create = true };

  cr_assert_eq (journal_open (dir, &o, &j), 0);
  for (int i = 1; i <= NREC; i++)
    cr_assert_eq (append_numbered (j, i, i % 2 ? BIG : 8192, NULL), 0);
  journal_close (j);
  cr_assert_eq (all_records (dir, &all), NREC);
  memcpy (recs, all, NREC * sizeof *recs);
  free (all);
  return dir;
}

static void
flip (const char *dir, const struct journal_record *rec, uint32_t at)
{
  char path[512];
  uint8_t b;
  int fd;

  snprintf (path, sizeof path, "%s/seg-%016lx.cdpj", dir,
            (unsigned long) rec->loc.segment);
  fd = open (path, O_RDWR);
  cr_assert_geq (fd, 0, "%s", path);
  cr_assert_eq (pread (fd, &b, 1, rec->loc.offset + 64 + at), 1);
  b ^= 0x01;
  cr_assert_eq (pwrite (fd, &b, 1, rec->loc.offset + 64 + at), 1);
  close (fd);
}

/* Read [off, off+len) of record i's payload and compare. */
static void
check_part (struct journal_reader *r, const struct journal_record *rec,
            uint64_t i, uint32_t off, uint32_t len)
{
  uint8_t *want = malloc (rec->payload_len), *got = malloc (len);

  fill_payload (want, rec->payload_len, i);
  cr_assert_eq (journal_pread_payload (r, rec->loc, off, got, len), 0,
                "seq %lu: %s", (unsigned long) rec->seq, cdp_get_error ());
  cr_assert_eq (memcmp (got, want + off, len), 0, "seq %lu bytes %u+%u",
                (unsigned long) rec->seq, off, len);
  free (want);
  free (got);
}

static void
check_damaged (struct journal_reader *r, const struct journal_record *rec,
               uint32_t off, uint32_t len)
{
  struct journal_damage d;
  uint8_t *buf = malloc (len);
  char want[128];

  cr_assert_eq (journal_pread_payload (r, rec->loc, off, buf, len), -EUCLEAN,
                "a read of %u+%u of the damaged record", off, len);
  cr_assert (journal_last_damage (&d));
  cr_assert_eq (d.loc.segment, rec->loc.segment);
  cr_assert_eq (d.loc.offset, rec->loc.offset);
  cr_assert_eq (d.seq, rec->seq);
  cr_assert_eq (d.time_ns, rec->time_ns);
  cr_assert_eq (d.offset, rec->offset);
  cr_assert_eq (d.length, rec->length);
  snprintf (want, sizeof want, "segment %lu offset %u",
            (unsigned long) rec->loc.segment, rec->loc.offset);
  cr_assert_not_null (strstr (cdp_get_error (), want), "%s",
                      cdp_get_error ());
  free (buf);
}

Test (journal_verified_read, flipped_payload_byte_fails_every_read)
{
  struct journal_record recs[NREC];
  char *dir = build (recs);
  struct journal_reader *r;

  flip (dir, &recs[2], BIG - 7);         /* record 3: 1 MiB */
  flip (dir, &recs[3], 5);               /* record 4: 8 KiB */
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  for (int pass = 0; pass < 2; pass++) {   /* the second: nothing cached */
    check_damaged (r, &recs[2], 0, BIG);
    check_damaged (r, &recs[2], 0, 4096);  /* far from the flipped byte */
    check_damaged (r, &recs[2], 65536, 65536);
    check_damaged (r, &recs[3], 0, 8192);
    check_damaged (r, &recs[3], 4096, 512);
  }
  for (int i = 0; i < NREC; i++)
    if (i != 2 && i != 3) {
      check_part (r, &recs[i], i + 1, 0, recs[i].payload_len);
      check_part (r, &recs[i], i + 1, 512, 4096);
      check_part (r, &recs[i], i + 1, recs[i].payload_len - 100, 100);
    }
  journal_reader_close (r);
  remove_tree (dir);
  free (dir);
}

Test (journal_verified_read, partial_reads_from_cache_and_past_its_limit)
{
  struct journal_record recs[NREC];
  char *dir = build (recs);
  struct journal_reader *r;

  cr_assert_eq (journal_reader_open (dir, &r), 0);
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < NREC; i++)
      for (uint32_t off = 0; off < recs[i].payload_len; off += 4096 * 7)
        check_part (r, &recs[i], i + 1, off,
                    recs[i].payload_len - off < 4096 ? recs[i].payload_len - off
                                                     : 4096);
  journal_reader_cache_limit (r, 64 << 10);   /* smaller than a record */
  for (int i = 0; i < NREC; i++)
    check_part (r, &recs[i], i + 1, 1000, 3000);
  journal_reader_cache_limit (r, 0);
  check_part (r, &recs[0], 1, 4096, 4096);
  journal_reader_close (r);
  remove_tree (dir);
  free (dir);
}

/* The record was read whole and cached before the byte flipped: reads
 * go on returning what was checked, never the damaged bytes. */
Test (journal_verified_read, cached_payload_is_the_checked_one)
{
  struct journal_record recs[NREC];
  char *dir = build (recs);
  struct journal_reader *r;

  cr_assert_eq (journal_reader_open (dir, &r), 0);
  check_part (r, &recs[0], 1, 4096, 4096);
  flip (dir, &recs[0], 4096 + 10);
  check_part (r, &recs[0], 1, 4096, 4096);
  journal_reader_close (r);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  check_damaged (r, &recs[0], 4096, 4096);
  journal_reader_close (r);
  remove_tree (dir);
  free (dir);
}

struct worker {
  struct journal_reader *r;
  struct journal_record *recs;
  int id;
};

static void *
work (void *opaque)
{
  struct worker *w = opaque;

  for (int round = 0; round < 4; round++)
    for (int i = 0; i < NREC; i += 2)       /* the 1 MiB ones */
      for (uint32_t off = (uint32_t) w->id * 4096; off < BIG; off += 8 * 4096)
        check_part (w->r, &w->recs[i], i + 1, off, 4096);
  return NULL;
}

Test (journal_verified_read, threads_share_one_load)
{
  struct journal_record recs[NREC];
  char *dir = build (recs);
  struct journal_reader *r;
  struct worker w[8];
  pthread_t th[8];

  cr_assert_eq (journal_reader_open (dir, &r), 0);
  journal_reader_cache_limit (r, 2 * BIG + 4096);   /* evictions too */
  for (int k = 0; k < 8; k++) {
    w[k] = (struct worker) { r, recs, k };
    cr_assert_eq (pthread_create (&th[k], NULL, work, &w[k]), 0);
  }
  for (int k = 0; k < 8; k++)
    pthread_join (th[k], NULL);
  journal_reader_close (r);
  remove_tree (dir);
  free (dir);
}
