/* cdp recovery: opening the index, adding records, catching up. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fileio.h"
#include "common/vector.h"
#include "recovery/history/index-internal.h"

#define MAP_SIZE (1ull << 40)       /* address space only; the file grows */
#define INDEX_VERSION 1

int
mdb_to_errno (int rc)
{
  int e;

  if (rc == 0)
    return 0;
  if (rc > 0 && rc < MDB_KEYEXIST)
    return -rc;                     /* a plain errno */
  switch (rc) {
  case MDB_NOTFOUND: e = -ENOENT; break;
  case MDB_MAP_FULL: e = -ENOSPC; break;
  case MDB_READERS_FULL: e = -EAGAIN; break;
  default: e = -EIO; break;
  }
  return cdp_set_error (e, "index: %s", mdb_strerror (rc));
}

void
put_be64 (uint8_t *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t) v;
}

uint64_t
get_be64 (const uint8_t *p)
{
  uint64_t v = 0;

  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

void
put_be32 (uint8_t *p, uint32_t v)
{
  for (int i = 3; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t) v;
}

uint32_t
get_be32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 |
    (uint32_t) p[2] << 8 | p[3];
}

void
ext_key_make (struct ext_key *k, uint32_t disk, uint64_t chunk, uint64_t seq)
{
  put_be32 (k->b, disk);
  put_be64 (k->b + 4, chunk);
  put_be64 (k->b + 12, ~seq);
}

void
ext_key_split (const void *key, uint32_t *disk, uint64_t *chunk, uint64_t *seq)
{
  const uint8_t *b = key;

  *disk = get_be32 (b);
  *chunk = get_be64 (b + 4);
  *seq = ~get_be64 (b + 12);
}

/* The format of the databases, in meta as "format_version".  An index
 * made before the key existed is version 1 and gets the key.  An older
 * format is -EIO (rebuilt from the journal, as a damaged index is); a
 * newer one is refused. */
static int
check_version (MDB_txn *txn, MDB_dbi meta)
{
  uint64_t v = meta_get (txn, meta, "format_version");

  if (v == 0)
    return mdb_to_errno (meta_put (txn, meta, "format_version", INDEX_VERSION));
  if (v > INDEX_VERSION)
    return cdp_set_error (-EPROTONOSUPPORT, "index format version %llu is "
                          "newer than this cdp reads (%d): run a cdp that "
                          "knows it", (unsigned long long) v, INDEX_VERSION);
  if (v < INDEX_VERSION)
    return cdp_set_error (-EIO, "index format version %llu is older than %d",
                          (unsigned long long) v, INDEX_VERSION);
  return 0;
}

static int
open_dbis (struct cdp_index *ix)
{
  MDB_txn *txn;
  int rc, r;

  rc = mdb_txn_begin (ix->env, NULL, 0, &txn);
  if (rc)
    return mdb_to_errno (rc);
  if ((rc = mdb_dbi_open (txn, "extents", MDB_CREATE, &ix->extents)) ||
      (rc = mdb_dbi_open (txn, "times", MDB_CREATE, &ix->times)) ||
      (rc = mdb_dbi_open (txn, "seconds", MDB_CREATE, &ix->seconds)) ||
      (rc = mdb_dbi_open (txn, "events", MDB_CREATE, &ix->events)) ||
      (rc = mdb_dbi_open (txn, "meta", MDB_CREATE, &ix->meta))) {
    mdb_txn_abort (txn);
    return mdb_to_errno (rc);
  }
  if ((r = check_version (txn, ix->meta)) < 0) {
    mdb_txn_abort (txn);
    return r;
  }
  return mdb_to_errno (mdb_txn_commit (txn));
}

int
index_open (const char *dir, struct cdp_index **ip)
{
  struct cdp_index *ix = calloc (1, sizeof *ix);
  int rc;

  cdp_clear_error ();
  if (ix == NULL)
    return -ENOMEM;
  rc = fio_mkdir (dir, 0700);
  if (rc < 0) {
    free (ix);
    return rc;
  }
  rc = mdb_env_create (&ix->env);
  if (rc == 0)
    rc = mdb_env_set_mapsize (ix->env, MAP_SIZE);
  if (rc == 0)
    rc = mdb_env_set_maxdbs (ix->env, 8);
  if (rc == 0)
    rc = mdb_env_set_maxreaders (ix->env, 1024);
  if (rc == 0)
    rc = mdb_env_open (ix->env, dir, MDB_NOTLS | MDB_NOMETASYNC, 0600);
  rc = mdb_to_errno (rc);
  if (rc == 0)
    rc = open_dbis (ix);
  if (rc < 0) {
    mdb_env_close (ix->env);
    free (ix);
    return rc;
  }
  *ip = ix;
  return 0;
}

void
index_close (struct cdp_index *ix)
{
  if (ix == NULL)
    return;
  mdb_env_close (ix->env);
  free (ix);
}

int
index_remove (const char *dir)
{
  char path[4096];

  snprintf (path, sizeof path, "%s/data.mdb", dir);
  if (unlink (path) < 0 && errno != ENOENT)
    return -errno;
  snprintf (path, sizeof path, "%s/lock.mdb", dir);
  if (unlink (path) < 0 && errno != ENOENT)
    return -errno;
  return 0;
}

uint64_t
meta_get (MDB_txn *txn, MDB_dbi dbi, const char *name)
{
  MDB_val k = { strlen (name), (void *) name }, v;
  uint64_t x = 0;

  if (mdb_get (txn, dbi, &k, &v) == 0 && v.mv_size == sizeof x)
    memcpy (&x, v.mv_data, sizeof x);
  return x;
}

int
meta_put (MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t x)
{
  MDB_val k = { strlen (name), (void *) name }, v = { sizeof x, &x };

  return mdb_put (txn, dbi, &k, &v, 0);
}

int
index_last_loc (struct cdp_index *ix, uint64_t *seq, struct journal_loc *loc)
{
  MDB_txn *txn;
  int rc = mdb_txn_begin (ix->env, NULL, MDB_RDONLY, &txn);

  if (rc)
    return mdb_to_errno (rc);
  *seq = meta_get (txn, ix->meta, "last_seq");
  loc->segment = meta_get (txn, ix->meta, "last_seg");
  loc->offset = (uint32_t) meta_get (txn, ix->meta, "last_off");
  mdb_txn_abort (txn);
  return 0;
}

uint64_t
index_last_seq (struct cdp_index *ix)
{
  MDB_txn *txn;
  uint64_t s = 0;

  if (mdb_txn_begin (ix->env, NULL, MDB_RDONLY, &txn) == 0) {
    s = meta_get (txn, ix->meta, "last_seq");
    mdb_txn_abort (txn);
  }
  return s;
}

uint64_t
index_first_seq (struct cdp_index *ix)
{
  MDB_txn *txn;
  uint64_t s = 0;

  if (mdb_txn_begin (ix->env, NULL, MDB_RDONLY, &txn) == 0) {
    s = meta_get (txn, ix->meta, "first_seq");
    mdb_txn_abort (txn);
  }
  return s;
}

/* ---- adding records --------------------------------------------------- */

struct ext_entry {
  struct ext_key key;
  struct ext_val val;
};
DEFINE_VECTOR_TYPE (ext_vector, struct ext_entry)

static int
cmp_ext (const void *a, const void *b)
{
  return memcmp (a, b, sizeof (struct ext_key));
}

static int
add_extents (ext_vector *v, const struct journal_record *r)
{
  uint64_t first, last;
  int e;

  if (r->length == 0)
    return 0;
  first = r->offset / INDEX_CHUNK;
  last = (r->offset + r->length - 1) / INDEX_CHUNK;
  for (uint64_t c = first; c <= last; c++) {
    struct ext_entry x = {
      .val = { .segment = r->loc.segment, .loc_off = r->loc.offset,
               .type = r->type, .off = r->offset, .len = r->length },
    };
    ext_key_make (&x.key, r->disk, c, r->seq);
    if ((e = ext_vector_append (v, x)) < 0)
      return e;
  }
  return 0;
}

static int
put_time (struct cdp_index *ix, MDB_txn *txn, const struct journal_record *r)
{
  uint8_t kb[16];
  struct time_val tv = { .disk = r->disk, .type = r->type,
                         .off = r->offset, .len = r->length };
  MDB_val k = { sizeof kb, kb }, v = { sizeof tv, &tv };
  int rc;

  put_be64 (kb, time_key (r->time_ns));
  put_be64 (kb + 8, r->seq);
  rc = mdb_put (txn, ix->times, &k, &v, MDB_APPEND);
  if (rc == MDB_KEYEXIST)         /* not in order (a clock oddity): insert */
    rc = mdb_put (txn, ix->times, &k, &v, 0);
  if (rc || r->type > JOURNAL_TRIM)
    return rc;
  /* seconds: (disk, second) -> last seq in that second */
  uint8_t sk[12];
  MDB_val skv = { sizeof sk, sk }, sv = { sizeof r->seq, (void *) &r->seq };
  int64_t sec = r->time_ns >= 0 ? r->time_ns / 1000000000
                                : -((-r->time_ns + 999999999) / 1000000000);
  put_be32 (sk, r->disk);
  put_be64 (sk + 4, time_key (sec));
  return mdb_put (txn, ix->seconds, &skv, &sv, 0);
}

/* When fidelity was lost: a gap journaled after the fact names the
 * earlier instant in its offset field. */
static int64_t
event_time (const struct journal_record *r)
{
  if (r->type == JOURNAL_GAP && r->offset != 0 && r->offset <= INT64_MAX &&
      (int64_t) r->offset < r->time_ns)
    return (int64_t) r->offset;
  return r->time_ns;
}

static int
put_event (struct cdp_index *ix, MDB_txn *txn, const struct journal_record *r,
           const char *label)
{
  struct index_event ev = { .seq = r->seq, .time_ns = event_time (r),
                            .type = r->type, .disk = r->disk };
  uint8_t kb[8];
  MDB_val k = { sizeof kb, kb }, v = { sizeof ev, &ev };

  if (label)
    snprintf (ev.label, sizeof ev.label, "%s", label);
  put_be64 (kb, r->seq);
  return mdb_put (txn, ix->events, &k, &v, 0);
}

static int
put_extents (struct cdp_index *ix, MDB_txn *txn, ext_vector *v)
{
  MDB_cursor *cur;
  int rc;

  if (v->len > 1)                   /* qsort (NULL, 0) is undefined */
    qsort (v->ptr, v->len, sizeof v->ptr[0], cmp_ext);
  rc = mdb_cursor_open (txn, ix->extents, &cur);
  for (size_t i = 0; rc == 0 && i < v->len; i++) {
    MDB_val k = { sizeof v->ptr[i].key, &v->ptr[i].key };
    MDB_val d = { sizeof v->ptr[i].val, &v->ptr[i].val };
    rc = mdb_cursor_put (cur, &k, &d, 0);
  }
  if (cur)
    mdb_cursor_close (cur);
  return rc;
}

static int
apply_txn (struct cdp_index *ix, MDB_txn *txn,
           const struct journal_record *recs, const char *const *labels,
           size_t n)
{
  uint64_t last = meta_get (txn, ix->meta, "last_seq");
  ext_vector v = empty_vector;
  int rc = 0;

  for (size_t i = 0; rc == 0 && i < n; i++) {
    const struct journal_record *r = &recs[i];
    if (r->seq <= last)
      continue;
    if (last != 0 && r->seq != last + 1) {
      cdp_set_error (EINVAL, "index: record %lu after %lu",
                     (unsigned long) r->seq, (unsigned long) last);
      rc = EINVAL;
      break;
    }
    if (r->type <= JOURNAL_TRIM)
      rc = add_extents (&v, r) < 0 ? ENOMEM : 0;
    else if (r->type <= JOURNAL_RESUME)
      rc = put_event (ix, txn, r, labels ? labels[i] : NULL);
    if (rc == 0)
      rc = put_time (ix, txn, r);
    last = r->seq;
  }
  if (rc == 0)
    rc = put_extents (ix, txn, &v);
  if (rc == 0)
    rc = meta_put (txn, ix->meta, "last_seq", last);
  /* Where the last record is, so that a catch-up starts there rather
   * than scan its segment from the top. */
  for (size_t i = n; rc == 0 && i-- > 0;)
    if (recs[i].seq == last) {
      rc = meta_put (txn, ix->meta, "last_seg", recs[i].loc.segment);
      if (rc == 0)
        rc = meta_put (txn, ix->meta, "last_off", recs[i].loc.offset);
      break;
    }
  ext_vector_reset (&v);
  return rc;
}

int
index_apply (struct cdp_index *ix, const struct journal_record *recs,
             const char *const *labels, size_t n)
{
  MDB_txn *txn;
  int rc;

  rc = mdb_txn_begin (ix->env, NULL, 0, &txn);
  if (rc)
    return mdb_to_errno (rc);
  rc = apply_txn (ix, txn, recs, labels, n);
  if (rc) {
    mdb_txn_abort (txn);            /* never reused after a failure */
    return mdb_to_errno (rc);
  }
  return mdb_to_errno (mdb_txn_commit (txn));
}
