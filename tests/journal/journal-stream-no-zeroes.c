/* A journal written in large batches (a first copy) is not written
 * twice: the preparation thread leaves its new segments' extents
 * unwritten instead of writing zeroes over them ahead of the records.
 * Counted in the bytes this process writes (/proc/self/io), so that
 * the test holds however fast the disk is: at most a chunk or two of
 * zeroes, from before the journal's first batch, on top of the records. */
#include "tests/journal/journal-test.h"

#define SEGMENT (32u << 20)
#define RECORD (4u << 20)
#define RECORDS 24                      /* 96 MiB: four segments */
#define ZERO_CHUNK (4u << 20)           /* journal/prep.c */

static uint64_t
written_bytes (void)
{
  FILE *f = fopen ("/proc/self/io", "r");
  char line[128];
  unsigned long long v = 0;
  bool found = false;

  cr_assert_not_null (f, "cannot read /proc/self/io");
  while (!found && fgets (line, sizeof line, f))
    found = sscanf (line, "write_bytes: %llu", &v) == 1;
  fclose (f);
  cr_assert (found, "no write_bytes in /proc/self/io");
  return v;
}

Test (journal, stream_no_zeroes)
{
  char *dir = make_tmpdir ();
  struct journal_options o = { .create = true, .segment_size = SEGMENT };
  struct journal *j;
  uint64_t before, wrote, payload = (uint64_t) RECORD * RECORDS;

  cr_assert_eq (journal_open (dir, &o, &j), 0);
  before = written_bytes ();
  for (uint64_t i = 1; i <= RECORDS; i++)
    cr_assert_eq (append_numbered (j, i, RECORD, NULL), 0);
  journal_close (j);
  wrote = written_bytes () - before;
  cr_log_info ("records %llu MiB, written %llu MiB",
               (unsigned long long) payload >> 20,
               (unsigned long long) wrote >> 20);
  cr_assert_geq (wrote, payload, "the records were written (%llu bytes)",
                 (unsigned long long) wrote);
  cr_assert_leq (wrote, payload + 3 * ZERO_CHUNK,
                 "%llu MiB written for %llu MiB of records",
                 (unsigned long long) wrote >> 20,
                 (unsigned long long) payload >> 20);
  remove_tree (dir);
  free (dir);
}
