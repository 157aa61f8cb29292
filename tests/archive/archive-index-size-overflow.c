/* An index whose metadata gives a disk a size near INT64_MAX is damaged:
 * its chunk count is checked without overflowing, also when only the
 * metadata is read (a listing, which checks no sum). */
#include <inttypes.h>

#include "tests/archive/archive-test.h"

static int
decode_with_size (int64_t size, int64_t chunks, bool meta_only)
{
  struct archive_point p;
  char meta[512];
  uint8_t *buf;
  size_t mlen, len;
  int r;

  mlen = (size_t) snprintf (meta, sizeof meta, "{\"task\":\"vm1\",\"time\":1,"
                            "\"kind\":\"push\",\"host\":\"h\",\"store\":\"/s\","
                            "\"store_id\":\"0123456789ab\",\"pushed\":1,"
                            "\"stored_bytes\":0,\"chunk_size\":%u,\"disks\":"
                            "[{\"name\":\"vda\",\"size\":%" PRId64 ","
                            "\"chunks\":%" PRId64 "}]}", CS, size, chunks);
  len = ARCHIVE_INDEX_HEADER + mlen + 32;
  buf = calloc (1, len);
  cr_assert_not_null (buf);
  memcpy (buf, ARCHIVE_INDEX_MAGIC, 8);
  buf[8] = ARCHIVE_FORMAT_VERSION;
  buf[12] = (uint8_t) mlen;
  buf[13] = (uint8_t) (mlen >> 8);
  memcpy (buf + ARCHIVE_INDEX_HEADER, meta, mlen);
  archive_sha256 (buf, len - 32, buf + len - 32);
  r = archive_index_decode ("points/vm1/x.idx", buf, len, meta_only, &p);
  if (r == 0)
    archive_point_free (&p);
  free (buf);
  return r;
}

Test (archive_index_size_overflow, size_near_int64_max)
{
  /* What size + chunk size - 1 wraps to, divided by the chunk size. */
  int64_t wrapped = (int64_t) ((uint64_t) INT64_MAX + CS - 1) / CS;

  cr_assert_eq (decode_with_size (INT64_MAX, wrapped, true), -EUCLEAN);
  cr_assert_eq (decode_with_size (INT64_MAX, wrapped, false), -EUCLEAN);
  cr_assert_eq (decode_with_size (INT64_MAX - 1, wrapped, true), -EUCLEAN);
  /* A sane one decodes. */
  cr_assert_eq (decode_with_size (5 * (int64_t) CS + 1, 6, true), 0, "%s",
                cdp_get_error ());
}
