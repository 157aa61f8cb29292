/* cdp journal: records a reader checked lately.
 *
 * Checking a record costs reading all of it and its CRC, however little
 * of it a read wants.  A reader remembers, for VMEMO_TTL_S seconds, the
 * records whose check passed; a read of one of those within that time
 * reads just its range (after the header check every read makes), so
 * that re-reads of hot data and small reads scattered over large
 * records cost what they did before checking, while the window in
 * which bytes changed on disk after their check could be served stays
 * short.  A fixed table, 4-way set-associative, the oldest entry of a
 * set replaced: forgetting only costs another check.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/timeutil.h"
#include "journal/internal.h"

#define WAYS 4

struct vmemo_entry {
  uint64_t segment;                 /* 0: empty */
  uint32_t offset;
  uint32_t at;                      /* monotonic seconds of the check, +1 */
};

static uint32_t
now_s (void)
{
  return (uint32_t) (time_mono_ns () / 1000000000) + 1;
}

static struct vmemo_entry *
set_of (struct vmemo *m, struct journal_loc loc)
{
  uint64_t h = (loc.segment * 0x9e3779b97f4a7c15ull) ^ loc.offset;

  h *= 0xff51afd7ed558ccdull;
  return &m->table[((h >> 32) & (m->sets - 1)) * WAYS];
}

int
vmemo_init (struct vmemo *m, size_t sets)
{
  pthread_mutex_init (&m->lock, NULL);
  m->sets = sets;                   /* a power of two */
  m->table = calloc (sets * WAYS, sizeof *m->table);
  return m->table ? 0 : -ENOMEM;
}

void
vmemo_destroy (struct vmemo *m)
{
  free (m->table);
  pthread_mutex_destroy (&m->lock);
}

bool
vmemo_fresh (struct vmemo *m, struct journal_loc loc)
{
  struct vmemo_entry *s;
  uint32_t now = now_s ();
  bool fresh = false;

  if (m->table == NULL)
    return false;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&m->lock);
  s = set_of (m, loc);
  for (int i = 0; i < WAYS && !fresh; i++)
    fresh = s[i].segment == loc.segment && s[i].offset == loc.offset &&
            now - s[i].at < VMEMO_TTL_S;
  return fresh;
}

void
vmemo_add (struct vmemo *m, struct journal_loc loc)
{
  struct vmemo_entry *s, *victim;
  uint32_t now = now_s ();

  if (m->table == NULL)
    return;
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&m->lock);
  s = set_of (m, loc);
  victim = &s[0];
  for (int i = 0; i < WAYS; i++) {
    if (s[i].segment == loc.segment && s[i].offset == loc.offset) {
      victim = &s[i];
      break;
    }
    if (s[i].at < victim->at)
      victim = &s[i];
  }
  *victim = (struct vmemo_entry) { loc.segment, loc.offset, now };
}
