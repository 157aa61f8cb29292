/* Helpers shared by the journal tests. */
#ifndef CDP_JOURNAL_TEST_H
#define CDP_JOURNAL_TEST_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "common/error.h"
#include "journal/journal.h"

/* Deterministic payload for record number i (any size). */
static inline void
fill_payload (void *buf, size_t len, uint64_t i)
{
  uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
  uint8_t *p = buf;

  for (size_t k = 0; k < len; k++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    p[k] = (uint8_t) x;
  }
}

static inline char *
make_tmpdir (void)
{
  char tmpl[] = "/var/tmp/cdp-jtest-XXXXXX";
  char *d = mkdtemp (tmpl);

  cr_assert_not_null (d);
  return strdup (d);
}

static inline void
remove_tree (const char *dir)
{
  char cmd[512];

  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system (cmd) != 0)
    cr_log_warn ("could not remove %s", dir);
}

/* Synchronous append: waits for durability, returns err, seq in *seq. */
struct sync_done {
  pthread_mutex_t m;
  pthread_cond_t c;
  bool done;
  int err;
  struct journal_record rec;
};

static inline void
sync_cb (void *opaque, const struct journal_record *rec, int err)
{
  struct sync_done *s = opaque;

  pthread_mutex_lock (&s->m);
  s->done = true;
  s->err = err;
  s->rec = *rec;
  pthread_cond_signal (&s->c);
  pthread_mutex_unlock (&s->m);
}

static inline int
append_sync (struct journal *j, uint16_t type, uint32_t disk, uint64_t off,
             uint64_t len, const void *payload, uint32_t plen,
             struct journal_record *out)
{
  struct sync_done s = { .m = PTHREAD_MUTEX_INITIALIZER,
                         .c = PTHREAD_COND_INITIALIZER };
  struct journal_record e = {
    .type = type, .disk = disk, .offset = off, .length = len,
    .payload_len = plen,
  };
  int r = journal_append (j, &e, payload, sync_cb, &s);

  if (r < 0)
    return r;
  pthread_mutex_lock (&s.m);
  while (!s.done)
    pthread_cond_wait (&s.c, &s.m);
  pthread_mutex_unlock (&s.m);
  if (out)
    *out = s.rec;
  return s.err;
}

/* Append record i as a write of size len with payload fill_payload(i). */
static inline int
append_numbered (struct journal *j, uint64_t i, uint32_t len,
                 struct journal_record *out)
{
  void *buf = malloc (len);
  int r;

  fill_payload (buf, len, i);
  r = append_sync (j, JOURNAL_WRITE, 0, i * 4096, len, buf, len, out);
  free (buf);
  return r;
}

/* Check the record at rec has payload fill_payload(i). */
static inline void
check_payload (struct journal_reader *r, const struct journal_record *rec,
               uint64_t i)
{
  struct journal_record got;
  uint8_t *buf = malloc (rec->payload_len), *want = malloc (rec->payload_len);

  cr_assert_eq (journal_read_record (r, rec->loc, &got, buf), 0,
                "read_record seq %lu", (unsigned long) rec->seq);
  fill_payload (want, rec->payload_len, i);
  cr_assert_eq (memcmp (buf, want, rec->payload_len), 0,
                "payload of seq %lu", (unsigned long) rec->seq);
  free (buf);
  free (want);
}

static inline int64_t
count_records (const char *dir)
{
  struct journal_reader *r;
  int64_t n;

  cr_assert_eq (journal_reader_open (dir, &r), 0);
  n = journal_verify (r);
  journal_reader_close (r);
  return n;
}

#endif

/* Path of the newest segment file of dir (malloc'd). */
static inline char *
last_segment (const char *dir)
{
  char cmd[512], line[512];
  FILE *f;

  snprintf (cmd, sizeof cmd, "ls '%s'/seg-*.cdpj | tail -1", dir);
  f = popen (cmd, "r");
  cr_assert_not_null (f);
  cr_assert_not_null (fgets (line, sizeof line, f));
  pclose (f);
  line[strcspn (line, "\n")] = 0;
  return strdup (line);
}

/* Most batches the writer of segment file seg had in flight: the header
 * field at offset 68 (0 means 1). */
static inline uint32_t
window_of (const char *seg)
{
  uint32_t w = 0;
  FILE *f = fopen (seg, "rb");

  cr_assert_not_null (f);
  cr_assert_eq (fseek (f, 68, SEEK_SET), 0);
  cr_assert_eq (fread (&w, 4, 1, f), 1);
  fclose (f);
  return w ? w : 1;
}

static inline char *
copy_tree (const char *dir)
{
  char *copy = make_tmpdir ();
  char cmd[512];

  snprintf (cmd, sizeof cmd, "cp -a '%s'/. '%s'/", dir, copy);
  cr_assert_eq (system (cmd), 0);
  return copy;
}

/* Collect all records of dir into *recs (malloc'd); returns count. */
static inline size_t
all_records (const char *dir, struct journal_record **recs)
{
  struct journal_reader *r;
  struct journal_iter *it;
  size_t n = 0, cap = 1024;

  *recs = malloc (cap * sizeof **recs);
  cr_assert_eq (journal_reader_open (dir, &r), 0);
  cr_assert_eq (journal_iter_new (r, 0, &it), 0);
  for (;;) {
    if (n == cap)
      *recs = realloc (*recs, (cap *= 2) * sizeof **recs);
    int e = journal_iter_next (it, &(*recs)[n]);
    cr_assert_geq (e, 0, "iteration failed: %s", cdp_get_error ());
    if (e == 0)
      break;
    n++;
  }
  journal_iter_free (it);
  journal_reader_close (r);
  return n;
}

static inline uint32_t
rec_end (const struct journal_record *rec)
{
  return rec->loc.offset + 64 + ((rec->payload_len + 63) & ~63u);
}
