/* journal_record_limit says what one record may carry in segments of a
 * given size, whatever the file system's O_DIRECT alignment, which is
 * what the receiver's advertised maximum request rests on: in journals
 * of 1, 4 and 8 MiB segments a record of exactly the limit is stored and
 * read back whole, one that cannot fit with any alignment is refused
 * (-EINVAL), and the limit never exceeds JOURNAL_MAX_PAYLOAD. */
#include "journal-test.h"

Test (journal_record_limit, largest_record_fits, .timeout = 120)
{
  static const uint32_t sizes[] = { 1u << 20, 4u << 20, 8u << 20 };

  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    char *dir = make_tmpdir (), jdir[512];
    struct journal_options o = { .segment_size = sizes[k], .create = true };
    uint32_t lim = journal_record_limit (sizes[k]);
    struct journal_record rec = { 0 };
    struct journal_reader *r;
    struct journal *j;

    cr_assert_gt (lim, sizes[k] / 2, "limit %u for segments of %u", lim, sizes[k]);
    cr_assert_eq (lim % 64, 0);
    snprintf (jdir, sizeof jdir, "%s/j", dir);
    cr_assert_eq (journal_open (jdir, &o, &j), 0);
    /* A small record first: the big one must start a segment of its own. */
    cr_assert_eq (append_numbered (j, 1, 4096, &rec), 0);
    cr_assert_eq (append_numbered (j, 2, lim, &rec), 0,
                  "a record of the limit %u in segments of %u", lim, sizes[k]);
    cr_assert_eq (append_numbered (j, 3, sizes[k] - 4096 - 512, NULL), -EINVAL);
    cr_assert_eq (append_numbered (j, 4, lim, NULL), 0);
    journal_close (j);
    cr_assert_eq (journal_reader_open (jdir, &r), 0);
    check_payload (r, &rec, 2);
    cr_assert_eq (journal_verify (r), 3);
    journal_reader_close (r);
    remove_tree (dir);
    free (dir);
  }
  cr_assert_leq (journal_record_limit (1u << 31), JOURNAL_MAX_PAYLOAD);
  cr_assert_eq (journal_record_limit (4096), 0);
}
