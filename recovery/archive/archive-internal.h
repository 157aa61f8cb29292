/* cdp archive: what the files of the archive share.  Not part of the
 * contract (archive.h), grouped by the file that defines it. */
#ifndef CDP_ARCHIVE_INTERNAL_H
#define CDP_ARCHIVE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recovery/archive/archive.h"
#include "recovery/archive/store.h"

struct archive {
  struct archive_store *s;
  uint32_t chunk_size;              /* the manifest's */
  bool manifest;                    /* the manifest exists */
};

/* The lease of a push is live while it was put again within this long
 * of a collection's start; a push that could not refresh it for half
 * of it touches its chunks again before putting its index. */
#define ARCHIVE_LEASE_LIVE_NS (INT64_C(600) * 1000000000)
#define ARCHIVE_LEASE_REFRESH_NS (INT64_C(60) * 1000000000)
#define ARCHIVE_LEASE_STALE_NS (INT64_C(300) * 1000000000)
/* Temporary files and dead leases are removed by gc after this long. */
#define ARCHIVE_LEFTOVER_NS (INT64_C(86400) * 1000000000)

#define ARCHIVE_CHUNK_MAGIC "CDPC"
#define ARCHIVE_INDEX_MAGIC "CDPAIDX\n"
#define ARCHIVE_CHUNK_HEADER 16
#define ARCHIVE_INDEX_HEADER 16
enum { ARCHIVE_CODEC_RAW = 0, ARCHIVE_CODEC_ZSTD = 1 };
#define ARCHIVE_ZSTD_LEVEL 2
/* "chunks/XXXX/" + 64 hex digits. */
#define ARCHIVE_CHUNK_KEY_MAX 80

/* archive.c */
/* An archive over an open store (which it then owns, also on failure). */
int archive_open_store (struct archive_store *s, bool create,
                        struct archive **out);
/* The keys of the indexes of task (NULL: all), sorted; free them with
 * archive_index_keys_free. */
int archive_index_keys (struct archive *a, const char *task,
                        string_vector *keys);
void archive_index_keys_free (string_vector *keys);
/* Load the index at key whole, checked: 0, -ENOENT, -EUCLEAN. */
int archive_index_load (struct archive *a, const char *key,
                        struct archive_point *out);
/* Put the manifest if it is not there yet. */
int archive_ensure_manifest (struct archive *a);

/* format.c */
void archive_sha256 (const void *buf, size_t len, uint8_t sum[32]);
bool archive_sum_is_zero (const uint8_t sum[32]);
void archive_hex (const uint8_t sum[32], char hex[65]);
int archive_unhex (const char *hex, uint8_t sum[32]);
void archive_chunk_key (const uint8_t sum[32], char key[ARCHIVE_CHUNK_KEY_MAX]);
/* Encode len bytes of raw data as a chunk object: *out malloc'd. */
int archive_chunk_encode (const void *raw, size_t len, void **out,
                          size_t *outlen);
/* Decode a chunk object into raw (cap bytes), checking its header and
 * that its SHA-256 is sum: 0 with *rawlen, -EUCLEAN (error names key). */
int archive_chunk_decode (const char *key, const uint8_t sum[32],
                          const void *obj, size_t objlen, void *raw,
                          size_t cap, size_t *rawlen);
/* Fetch and decode the chunk of sum into raw: 0, -ENOENT, -EUCLEAN. */
int archive_chunk_get (struct archive *a, const uint8_t sum[32], void *raw,
                       size_t cap, size_t *rawlen);
int archive_manifest_encode (uint32_t chunk_size, int64_t created,
                             char **out, size_t *len);
int archive_manifest_decode (const char *loc, const void *buf, size_t len,
                             uint32_t *chunk_size);
/* store_id: the first 12 hex digits of SHA-256("HOST:STORE"). */
void archive_store_id (const char *host, const char *store, char id[13]);
/* Is name usable as a task name in a key (no '/', not empty, ...)? */
bool archive_task_name_ok (const char *task);
/* "points/TASK/<time 20 digits>-<id>.idx", or "points/TASK/<time>-"
 * when id is NULL (the prefix of every store's index of the point). */
int archive_index_key (const char *task, int64_t time_ns, const char *id,
                       char *key, size_t len);
/* Parse an index key: 0, or -EINVAL when key is not one. */
int archive_index_key_parse (const char *key, char **task, int64_t *time_ns,
                             char id[13]);
/* The bytes of an index of p (with its disks and sums). */
int archive_index_encode (const struct archive_point *p, void **out,
                          size_t *len);
/* Parse an index (key, for errors and p->key): -EUCLEAN when damaged,
 * -EPROTO when newer.  With meta_only, buf holds the header and the
 * metadata only, no sums are read and nothing is checked beyond them. */
int archive_index_decode (const char *key, const void *buf, size_t len,
                          bool meta_only, struct archive_point *p);
/* The length of the metadata, from the first ARCHIVE_INDEX_HEADER bytes
 * of an index. */
int archive_index_meta_len (const char *key, const void *hdr, uint32_t *len);

/* gc.c */
/* The state of a collection's record gc/<host>-<pid>: 0, -EUCLEAN. */
int archive_gc_record_parse (const void *buf, size_t len, bool *running);

/* lease.c */
struct archive_lease;
/* Put writers/<store_id>-<task>-<pid> with its start (the store's now). */
int archive_lease_take (struct archive *a, const char *store_id,
                        const char *task, struct archive_lease **out);
/* Put it again when it is due; true in *stale when it could not be put
 * for ARCHIVE_LEASE_STALE_NS. */
void archive_lease_refresh (struct archive_lease *l, bool force);
bool archive_lease_stale (const struct archive_lease *l);
/* Tests only: put the lease (and gc's record) again every refresh_ns,
 * stale after stale_ns (ARCHIVE_LEASE_REFRESH_NS / 2 and
 * ARCHIVE_LEASE_STALE_NS). */
void archive_lease_timing (int64_t refresh_ns, int64_t stale_ns);
int64_t archive_lease_refresh_every (void);
int64_t archive_lease_stale_after (void);
/* The start it records (the store's clock). */
int64_t archive_lease_started (const struct archive_lease *l);
void archive_lease_drop (struct archive_lease *l);
/* The start recorded in a lease's body: 0, or -EUCLEAN. */
int archive_lease_start (const void *buf, size_t len, int64_t *start_ns);

#endif
