/* cdp recovery: the index's LMDB layout (shared by index-*.c). */
#ifndef CDP_INDEX_INTERNAL_H
#define CDP_INDEX_INTERNAL_H

#include <lmdb.h>
#include <stdint.h>

#include "recovery/history/index.h"

struct cdp_index {
  MDB_env *env;
  MDB_dbi extents, times, seconds, events, meta;
};

/* meta: "last_seq", the newest record the index holds, and "last_seg",
 * "last_off", where it is; "first_seq", the oldest it still holds every
 * record from (older ones were forgotten with the journal, or never read
 * because the journal had lost them); "format_version" (index.c). */
uint64_t meta_get (MDB_txn *txn, MDB_dbi dbi, const char *name);
int meta_put (MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t x);

/* extents key: disk, chunk, ~seq (big-endian, so that a cursor walks a
 * chunk's records newest first). */
struct ext_key {
  uint8_t b[20];
};

struct ext_val {
  uint64_t segment;
  uint32_t loc_off;
  uint16_t type;
  uint16_t reserved;
  uint64_t off;
  uint64_t len;
};

/* times value: what the record changed. */
struct time_val {
  uint32_t disk;
  uint16_t type;
  uint16_t reserved;
  uint64_t off;
  uint64_t len;
};

void ext_key_make (struct ext_key *k, uint32_t disk, uint64_t chunk,
                   uint64_t seq);
void ext_key_split (const void *k, uint32_t *disk, uint64_t *chunk,
                    uint64_t *seq);
void put_be64 (uint8_t *p, uint64_t v);
uint64_t get_be64 (const uint8_t *p);
void put_be32 (uint8_t *p, uint32_t v);
uint32_t get_be32 (const uint8_t *p);
/* time as an unsigned big-endian key that sorts like the signed value */
static inline uint64_t time_key (int64_t t) { return (uint64_t) t ^ (1ull << 63); }
static inline int64_t key_time (uint64_t k) { return (int64_t) (k ^ (1ull << 63)); }

int mdb_to_errno (int rc);

/* Walk all of dbi in a write transaction, deleting the entries for which
 * drop returns 1 (0: keep; -errno: stop with it).  An LMDB error code. */
typedef int (*dbi_drop_fn) (void *opaque, const MDB_val *k, const MDB_val *v);
int dbi_drop_where (MDB_txn *txn, MDB_dbi dbi, dbi_drop_fn drop,
                    void *opaque);

#endif
