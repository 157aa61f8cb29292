/* The archive's byte formats round trip: a chunk that compresses is
 * stored zstd and smaller, one that does not is stored raw, both decode
 * to the same bytes and only under their own name; an index decodes to
 * the point it was made of; keys and store ids are as the format says. */
#include <gnutls/crypto.h>

#include "tests/archive/archive-test.h"

static void
roundtrip (const uint8_t *raw, size_t len, int codec)
{
  uint8_t sum[32], *back = malloc (CS);
  char key[ARCHIVE_CHUNK_KEY_MAX];
  void *obj;
  size_t olen, blen;

  archive_sha256 (raw, len, sum);
  archive_chunk_key (sum, key);
  cr_assert_eq (archive_chunk_encode (raw, len, &obj, &olen), 0);
  cr_assert_eq (((uint8_t *) obj)[5], codec);
  if (codec == ARCHIVE_CODEC_ZSTD)
    cr_assert_lt (olen, len);
  else
    cr_assert_eq (olen, len + ARCHIVE_CHUNK_HEADER);
  cr_assert_eq (archive_chunk_decode (key, sum, obj, olen, back, CS, &blen), 0,
                "%s", cdp_get_error ());
  cr_assert_eq (blen, len);
  cr_assert_eq (memcmp (back, raw, len), 0);
  sum[31] ^= 1;                     /* another name: refused */
  cr_assert_eq (archive_chunk_decode (key, sum, obj, olen, back, CS, &blen),
                -EUCLEAN);
  free (obj);
  free (back);
}

Test (archive_format_roundtrip, chunks)
{
  uint8_t *raw = malloc (CS);

  for (size_t i = 0; i < CS; i++)
    raw[i] = (uint8_t) (i % 251 < 20 ? i : 0);
  roundtrip (raw, CS, ARCHIVE_CODEC_ZSTD);
  roundtrip (raw, 12345, ARCHIVE_CODEC_ZSTD);
  cr_assert_eq (gnutls_rnd (GNUTLS_RND_NONCE, raw, CS), 0);
  roundtrip (raw, CS, ARCHIVE_CODEC_RAW);
  free (raw);
}

Test (archive_format_roundtrip, index)
{
  uint8_t sums[3][32] = { { 1, 2, 3 }, { 0 }, { 9 } }, sums2[1][32] = { { 7 } };
  struct archive_disk disks[2] = {
    { .name = "vda", .size = 2 * (uint64_t) CS + 5, .nchunks = 3, .sums = sums },
    { .name = "vdb", .size = 4096, .nchunks = 1, .sums = sums2 },
  };
  struct archive_point p = {
    .task = "vm1", .time_ns = 1765000000123456789, .kind = "bookmark",
    .label = "before \"upgrade\"", .host = "h1", .store = "/var/lib/cdp",
    .store_id = "0123456789ab", .pushed_ns = 1765000000999999999,
    .stored_bytes = 777, .chunk_size = CS, .ndisks = 2, .disks = disks,
  }, q;
  void *buf;
  size_t len;

  cr_assert_eq (archive_index_encode (&p, &buf, &len), 0);
  cr_assert_eq (archive_index_decode ("k", buf, len, false, &q), 0, "%s",
                cdp_get_error ());
  cr_assert_str_eq (q.key, "k");
  cr_assert_str_eq (q.task, "vm1");
  cr_assert_eq (q.time_ns, p.time_ns);
  cr_assert_str_eq (q.kind, "bookmark");
  cr_assert_str_eq (q.label, p.label);
  cr_assert_str_eq (q.host, "h1");
  cr_assert_str_eq (q.store, "/var/lib/cdp");
  cr_assert_str_eq (q.store_id, "0123456789ab");
  cr_assert_eq (q.pushed_ns, p.pushed_ns);
  cr_assert_eq (q.stored_bytes, 777);
  cr_assert_eq (q.chunk_size, CS);
  cr_assert_eq (q.ndisks, 2);
  cr_assert_str_eq (q.disks[1].name, "vdb");
  cr_assert_eq (q.disks[0].size, p.disks[0].size);
  cr_assert_eq (q.disks[0].nchunks, 3);
  cr_assert_eq (memcmp (q.disks[0].sums, sums, sizeof sums), 0);
  cr_assert_eq (memcmp (q.disks[1].sums, sums2, sizeof sums2), 0);
  archive_point_free (&q);
  free (buf);
}

Test (archive_format_roundtrip, names)
{
  char key[300], id[13], *task;
  uint8_t sum[32] = { 0xab, 0xcd, 0xef };
  int64_t t;

  archive_chunk_key (sum, key);
  cr_assert_eq (strncmp (key, "chunks/abcd/abcdef00", 20), 0, "%s", key);
  cr_assert_eq (strlen (key), 7 + 5 + 64);
  archive_store_id ("host", "/var/lib/cdp", id);
  cr_assert_eq (strlen (id), 12);
  /* The first 12 hex digits of SHA-256 ("host:/var/lib/cdp"). */
  archive_sha256 ("host:/var/lib/cdp", 17, sum);
  archive_hex (sum, key);
  cr_assert_eq (strncmp (key, id, 12), 0);
  cr_assert_eq (archive_index_key ("vm1", 42, id, key, sizeof key), 0);
  cr_assert_str_eq (key + strlen (key) - 4, ".idx");
  cr_assert_eq (strncmp (key, "points/vm1/00000000000000000042-", 32), 0);
  cr_assert_eq (archive_index_key_parse (key, &task, &t, id), 0);
  cr_assert_str_eq (task, "vm1");
  cr_assert_eq (t, 42);
  free (task);
  cr_assert_eq (archive_index_key ("a/b", 42, id, key, sizeof key), -EINVAL);
  cr_assert_eq (archive_index_key_parse ("points/vm1/42-x.idx", NULL, &t, id),
                -EINVAL);
}
