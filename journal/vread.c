/* cdp journal: verified reads of record payloads, with a bounded cache.
 *
 * A record's CRC covers its whole payload (then its header), so a read
 * of part of a payload can be trusted only once all of it was checked.
 * A read of a whole payload goes straight into the caller's buffer and
 * is checked there.  A read of part of one loads the whole record once,
 * checks it, and keeps the checked payload in the reader's cache,
 * bounded in bytes (least recently used out first), so that reads of the
 * rest of it copy from memory instead of reading and checking it again.
 * A reader of a record another thread is loading waits for that load.
 * A record that fails its check is never kept: the read fails with
 * -EUCLEAN, journal_last_damage names the record, and the next read of
 * it checks it again.  A record that passed is remembered for a while
 * (vmemo.c): reads of it then read just their range.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/fileio.h"
#include "journal/internal.h"

#define NBUCKETS 1024u              /* a power of two */

struct vc_entry {
  uint64_t segment;
  uint32_t offset;
  struct rec_hdr h;                 /* as read, for damage reports */
  uint8_t *payload;                 /* h.payload_len bytes, checked */
  unsigned refs;
  bool loading;                     /* its loader has not finished */
  int err;                          /* the load failed: -EUCLEAN, -EIO.. */
  bool detached;                    /* out of the table: free at refs 0 */
  struct vc_entry *hnext;           /* bucket chain */
  struct vc_entry *prev, *next;     /* LRU list, newest first */
};

void
vc_init (struct vcache *c, size_t budget)
{
  pthread_mutex_init (&c->lock, NULL);
  pthread_cond_init (&c->loaded, NULL);
  c->buckets = NULL;
  c->head = c->tail = NULL;
  c->bytes = 0;
  c->budget = budget;
  vmemo_init (&c->memo, VMEMO_SETS);  /* without it: every read checks */
}

static size_t
entry_bytes (const struct vc_entry *e)
{
  return sizeof *e + e->h.payload_len;
}

static size_t
bucket_of (uint64_t segment, uint32_t offset)
{
  return (size_t) (((segment * 0x9e3779b97f4a7c15ull) ^ offset) *
                   0xff51afd7ed558ccdull >> 40) & (NBUCKETS - 1);
}

static void
entry_free (struct vc_entry *e)
{
  free (e->payload);
  free (e);
}

/* Lock held: take e out of the table and the LRU list; freed now, or by
 * its last user. */
static void
detach (struct vcache *c, struct vc_entry *e)
{
  struct vc_entry **pp = &c->buckets[bucket_of (e->segment, e->offset)];

  while (*pp != e)
    pp = &(*pp)->hnext;
  *pp = e->hnext;
  if (e->prev)
    e->prev->next = e->next;
  else
    c->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    c->tail = e->prev;
  c->bytes -= entry_bytes (e);
  e->detached = true;
  if (e->refs == 0)
    entry_free (e);
}

/* Lock held: make e the most recently used. */
static void
touch (struct vcache *c, struct vc_entry *e)
{
  if (c->head == e)
    return;
  e->prev->next = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    c->tail = e->prev;
  e->prev = NULL;
  e->next = c->head;
  c->head->prev = e;
  c->head = e;
}

/* Lock held: drop unused entries, oldest first, until within budget. */
static void
evict (struct vcache *c)
{
  struct vc_entry *e = c->tail, *prev;

  for (; e && c->bytes > c->budget; e = prev) {
    prev = e->prev;
    if (e->refs == 0 && !e->loading)
      detach (c, e);
  }
}

/* Lock held: give back one reference. */
static void
put (struct vcache *c, struct vc_entry *e)
{
  if (--e->refs == 0 && e->detached)
    entry_free (e);
  else
    evict (c);
}

void
vc_destroy (struct vcache *c)
{
  while (c->head)
    detach (c, c->head);
  free (c->buckets);
  vmemo_destroy (&c->memo);
  pthread_cond_destroy (&c->loaded);
  pthread_mutex_destroy (&c->lock);
}

void
vc_drop_segments (struct vcache *c, bool (*listed) (void *, uint64_t),
                  void *opaque)
{
  struct vc_entry *e, *next;

  pthread_mutex_lock (&c->lock);
  for (e = c->head; e; e = next) {
    next = e->next;
    if (!e->loading && !listed (opaque, e->segment))
      detach (c, e);
  }
  pthread_mutex_unlock (&c->lock);
}

/* The record at loc failed its CRC check: say which it is. */
static int
damaged (const struct rec_hdr *h, struct journal_loc loc)
{
  struct journal_damage d = {
    .loc = loc, .seq = h->seq, .time_ns = h->time_ns, .disk = h->disk,
    .offset = h->offset, .length = h->length,
  };

  set_last_damage (&d);
  return -EUCLEAN;
}

/* Read the payload of the record whose header h was read at loc into
 * buf (h->payload_len bytes) and check the record's CRC. */
static int
read_checked (int fd, struct journal_loc loc, const struct rec_hdr *h,
              void *buf)
{
  ssize_t n = fio_pread_all (fd, buf, h->payload_len,
                            (off_t) loc.offset + REC_HDR_SIZE);

  if (n < 0)
    return (int) n;
  if ((size_t) n < h->payload_len)  /* the record runs past the file */
    return damaged (h, loc);
  if (rec_crc (h, crc32c (buf, h->payload_len)) != h->crc)
    return damaged (h, loc);
  return 0;
}

/* Read [off, off+len) of the payload of a record checked lately (its
 * header h just read): no check of it again. */
static int
read_range (int fd, struct journal_loc loc, uint32_t off, void *buf,
            uint32_t len)
{
  ssize_t n = fio_pread_all (fd, buf, len,
                            (off_t) loc.offset + REC_HDR_SIZE + off);

  if (n < 0)
    return (int) n;
  return (size_t) n < len ? -EIO : 0;
}

/* Lock held: the entry for loc, with a reference; NULL if none. */
static struct vc_entry *
lookup (struct vcache *c, struct journal_loc loc)
{
  struct vc_entry *e;

  if (c->buckets == NULL)
    return NULL;
  for (e = c->buckets[bucket_of (loc.segment, loc.offset)]; e; e = e->hnext)
    if (e->segment == loc.segment && e->offset == loc.offset) {
      e->refs++;
      return e;
    }
  return NULL;
}

/* Lock held: a new entry for the record (header h) at loc, loading, with
 * a reference; NULL if out of memory. */
static struct vc_entry *
insert (struct vcache *c, struct journal_loc loc, const struct rec_hdr *h)
{
  struct vc_entry *e;
  size_t b = bucket_of (loc.segment, loc.offset);

  if (c->buckets == NULL &&
      (c->buckets = calloc (NBUCKETS, sizeof *c->buckets)) == NULL)
    return NULL;
  e = calloc (1, sizeof *e);
  if (e == NULL)
    return NULL;
  e->payload = malloc (h->payload_len ? h->payload_len : 1);
  if (e->payload == NULL) {
    free (e);
    return NULL;
  }
  e->segment = loc.segment;
  e->offset = loc.offset;
  e->h = *h;
  e->refs = 1;
  e->loading = true;
  e->hnext = c->buckets[b];
  c->buckets[b] = e;
  e->next = c->head;
  if (c->head)
    c->head->prev = e;
  c->head = e;
  if (c->tail == NULL)
    c->tail = e;
  c->bytes += entry_bytes (e);
  evict (c);
  return e;
}

/* Load the record of entry e (its header already read) and publish the
 * result to whoever waits. */
static int
load (struct vcache *c, int fd, struct journal_loc loc, struct vc_entry *e)
{
  int err = read_checked (fd, loc, &e->h, e->payload);

  pthread_mutex_lock (&c->lock);
  e->loading = false;
  e->err = err;
  if (err < 0)
    detach (c, e);                  /* never kept: checked again next time */
  pthread_cond_broadcast (&c->loaded);
  pthread_mutex_unlock (&c->lock);
  return err;
}

/* The whole record read and checked into a buffer of its own, for a
 * record larger than the cache. */
static int
read_uncached (int fd, struct journal_loc loc, const struct rec_hdr *h,
               uint32_t off, void *buf, uint32_t len)
{
  uint8_t *tmp = malloc (h->payload_len);
  int err;

  if (tmp == NULL)
    return -ENOMEM;
  err = read_checked (fd, loc, h, tmp);
  if (err == 0)
    memcpy (buf, tmp + off, len);
  free (tmp);
  return err;
}

/* Copy from entry e (with a reference taken under the lock), waiting
 * for its load first.  Gives the reference back. */
static int
vc_use (struct vcache *c, struct vc_entry *e, struct journal_loc loc,
        uint32_t off, void *buf, uint32_t len)
{
  int err;

  pthread_mutex_lock (&c->lock);
  while (e->loading)
    pthread_cond_wait (&c->loaded, &c->lock);
  err = e->err;
  if (err == 0 && !e->detached)
    touch (c, e);
  pthread_mutex_unlock (&c->lock);
  if (err == -EUCLEAN)
    damaged (&e->h, loc);
  else if (err == 0 && (uint64_t) off + len > e->h.payload_len)
    err = -EINVAL;
  else if (err == 0)
    memcpy (buf, e->payload + off, len);
  pthread_mutex_lock (&c->lock);
  put (c, e);
  pthread_mutex_unlock (&c->lock);
  return err;
}

/* A check of the record at loc ended with err: remember a pass. */
static int
remember (struct vcache *c, struct journal_loc loc, int err)
{
  if (err == 0)
    vmemo_add (&c->memo, loc);
  return err;
}

/* A miss: read the header, then the record (unless it was checked
 * lately).  Lock not held. */
static int
vc_miss (struct vcache *c, int fd, struct journal_loc loc, uint32_t off,
         void *buf, uint32_t len)
{
  struct rec_hdr h;
  struct vc_entry *e;
  ssize_t n = pread (fd, &h, sizeof h, loc.offset);
  bool mine = false;
  int err;

  if (n < 0)
    return -errno;
  if (n != sizeof h || !rec_hdr_plausible (&h, loc.segment, loc.offset,
                                           UINT32_MAX) || h.type == REC_PAD)
    return seg_stale_or_corrupt (fd, loc.segment, loc.offset);
  if ((uint64_t) off + len > h.payload_len)
    return -EINVAL;
  if (vmemo_fresh (&c->memo, loc))
    return read_range (fd, loc, off, buf, len);
  if (off == 0 && len == h.payload_len)
    return remember (c, loc, read_checked (fd, loc, &h, buf));
  if (sizeof (struct vc_entry) + h.payload_len > c->budget)
    return remember (c, loc, read_uncached (fd, loc, &h, off, buf, len));

  pthread_mutex_lock (&c->lock);
  e = lookup (c, loc);              /* loaded meanwhile? */
  if (e == NULL)
    mine = (e = insert (c, loc, &h)) != NULL;
  pthread_mutex_unlock (&c->lock);
  if (e == NULL)
    return read_uncached (fd, loc, &h, off, buf, len);
  if (mine) {
    err = remember (c, loc, load (c, fd, loc, e));
    if (err == 0)
      memcpy (buf, e->payload + off, len);
    pthread_mutex_lock (&c->lock);
    put (c, e);
    pthread_mutex_unlock (&c->lock);
    return err;
  }
  return vc_use (c, e, loc, off, buf, len);
}

int
vc_pread (struct vcache *c, int fd, struct journal_loc loc, uint32_t off,
          void *buf, uint32_t len)
{
  struct vc_entry *e;

  pthread_mutex_lock (&c->lock);
  e = lookup (c, loc);
  pthread_mutex_unlock (&c->lock);
  if (e)
    return vc_use (c, e, loc, off, buf, len);
  return vc_miss (c, fd, loc, off, buf, len);
}
