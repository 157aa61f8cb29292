/* cdp archive: the bytes of its objects — chunks, indexes, the manifest
 * — and the names they go by (docs/ARCHITECTURE.md, "The archive").
 *
 * A chunk: a 16-byte header, "CDPC", format version (1 byte), codec (1:
 * 0 raw, 1 zstd), 2 zero bytes, raw length (u32 LE), payload length
 * (u32 LE); then the payload.  Named by the SHA-256 of the raw data.
 *
 * An index: "CDPAIDX\n", format version (u32 LE), metadata length (u32
 * LE); the metadata (a JSON object); per disk, in the metadata's order,
 * 32 bytes per chunk (its SHA-256, all zero for a zero chunk); and the
 * SHA-256 of every byte before it. */
#include <errno.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/error.h"
#include "common/jsonfile.h"
#include "recovery/archive/archive-internal.h"

void
archive_sha256 (const void *buf, size_t len, uint8_t sum[32])
{
  /* gnutls_hash_fast: SHA-NI where the CPU has it (2.1 GB/s here, nettle
   * 1.8 GB/s); it fails only for an unknown algorithm. */
  int r = gnutls_hash_fast (GNUTLS_DIG_SHA256, buf, len, sum);

  (void) r;
}

bool
archive_sum_is_zero (const uint8_t sum[32])
{
  static const uint8_t zero[32];

  return memcmp (sum, zero, 32) == 0;
}

void
archive_hex (const uint8_t sum[32], char hex[65])
{
  static const char digits[] = "0123456789abcdef";

  for (int i = 0; i < 32; i++) {
    hex[2 * i] = digits[sum[i] >> 4];
    hex[2 * i + 1] = digits[sum[i] & 15];
  }
  hex[64] = '\0';
}

static int
unhex1 (char c)
{
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
    : -1;
}

int
archive_unhex (const char *hex, uint8_t sum[32])
{
  for (int i = 0; i < 32; i++) {
    int hi = unhex1 (hex[2 * i]), lo = hi < 0 ? -1 : unhex1 (hex[2 * i + 1]);
    if (lo < 0)
      return -EINVAL;
    sum[i] = (uint8_t) (hi << 4 | lo);
  }
  return hex[64] == '\0' ? 0 : -EINVAL;
}

void
archive_chunk_key (const uint8_t sum[32], char key[ARCHIVE_CHUNK_KEY_MAX])
{
  char hex[65];

  archive_hex (sum, hex);
  snprintf (key, ARCHIVE_CHUNK_KEY_MAX, "chunks/%.4s/%s", hex, hex);
}

static void
put32 (uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t
get32 (const uint8_t *p)
{
  return p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
    | (uint32_t) p[3] << 24;
}

int
archive_chunk_encode (const void *raw, size_t len, void **out, size_t *outlen)
{
  size_t bound = ZSTD_compressBound (len), n;
  uint8_t *obj;

  *out = NULL;
  if (len > UINT32_MAX || bound > SIZE_MAX - ARCHIVE_CHUNK_HEADER)
    return -EINVAL;
  obj = malloc (ARCHIVE_CHUNK_HEADER + (bound > len ? bound : len));
  if (obj == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  memcpy (obj, ARCHIVE_CHUNK_MAGIC, 4);
  obj[4] = ARCHIVE_FORMAT_VERSION;
  obj[6] = obj[7] = 0;
  put32 (obj + 8, (uint32_t) len);
  /* Level 2: nearly level 3's size at a quarter more CPU than level 1
   * (docs/ARCHITECTURE.md, "The archive"). */
  n = ZSTD_compress (obj + ARCHIVE_CHUNK_HEADER, bound, raw, len,
                     ARCHIVE_ZSTD_LEVEL);
  if (!ZSTD_isError (n) && n < len)
    obj[5] = ARCHIVE_CODEC_ZSTD;
  else {
    obj[5] = ARCHIVE_CODEC_RAW;
    memcpy (obj + ARCHIVE_CHUNK_HEADER, raw, len);
    n = len;
  }
  put32 (obj + 12, (uint32_t) n);
  *out = obj;
  *outlen = ARCHIVE_CHUNK_HEADER + n;
  return 0;
}

static int
damaged (const char *key, const char *why)
{
  return cdp_set_error (-EUCLEAN, "archive chunk %s is damaged: %s", key, why);
}

int
archive_chunk_decode (const char *key, const uint8_t sum[32], const void *obj,
                      size_t objlen, void *raw, size_t cap, size_t *rawlen)
{
  const uint8_t *o = obj;
  uint32_t rlen, plen;
  uint8_t got[32];

  if (objlen < ARCHIVE_CHUNK_HEADER || memcmp (o, ARCHIVE_CHUNK_MAGIC, 4) != 0
      || o[4] != ARCHIVE_FORMAT_VERSION || o[6] || o[7])
    return damaged (key, "no chunk header");
  rlen = get32 (o + 8);
  plen = get32 (o + 12);
  if (rlen > cap || plen != objlen - ARCHIVE_CHUNK_HEADER)
    return damaged (key, "its lengths are wrong");
  if (o[5] == ARCHIVE_CODEC_RAW && plen == rlen)
    memcpy (raw, o + ARCHIVE_CHUNK_HEADER, rlen);
  else if (o[5] == ARCHIVE_CODEC_ZSTD) {
    size_t n = ZSTD_decompress (raw, rlen, o + ARCHIVE_CHUNK_HEADER, plen);
    if (ZSTD_isError (n) || n != rlen)
      return damaged (key, "it does not decompress");
  }
  else
    return damaged (key, "unknown codec");
  archive_sha256 (raw, rlen, got);
  if (memcmp (got, sum, 32) != 0)
    return damaged (key, "its SHA-256 is not its name");
  *rawlen = rlen;
  return 0;
}

int
archive_chunk_get (struct archive *a, const uint8_t sum[32], void *raw,
                   size_t cap, size_t *rawlen)
{
  char key[ARCHIVE_CHUNK_KEY_MAX];
  void *obj;
  size_t len;
  int r;

  archive_chunk_key (sum, key);
  r = a->s->ops->get (a->s, key, &obj, &len);
  if (r < 0)
    return r;
  r = archive_chunk_decode (key, sum, obj, len, raw, cap, rawlen);
  free (obj);
  return r;
}

/* ---- manifest ----------------------------------------------------------- */

int
archive_manifest_encode (uint32_t chunk_size, int64_t created, char **out,
                         size_t *len)
{
  int n = asprintf (out, "{\n  \"format\": %d,\n  \"chunk_size\": %" PRIu32
                    ",\n  \"created\": %" PRId64 "\n}\n",
                    ARCHIVE_FORMAT_VERSION, chunk_size, created);

  if (n < 0) {
    *out = NULL;
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  *len = (size_t) n;
  return 0;
}

static bool
chunk_size_ok (int64_t n)
{
  return n >= 4096 && n <= (64 << 20) && (n & (n - 1)) == 0;
}

int
archive_manifest_decode (const char *loc, const void *buf, size_t len,
                         uint32_t *chunk_size)
{
  struct json_tokener *tok = json_tokener_new ();
  struct json_object *o = NULL, *f, *c;
  int r = -EUCLEAN;

  if (tok == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  if (len <= INT32_MAX)
    o = json_tokener_parse_ex (tok, buf, (int) len);
  if (o && json_object_is_type (o, json_type_object)
      && json_object_object_get_ex (o, "format", &f)
      && json_object_is_type (f, json_type_int)
      && json_object_object_get_ex (o, "chunk_size", &c)
      && json_object_is_type (c, json_type_int)) {
    if (json_object_get_int64 (f) > ARCHIVE_FORMAT_VERSION)
      r = cdp_set_error (-EPROTO, "archive %s is of format %" PRId64
                         ", newer than this cdp's %d", loc,
                         json_object_get_int64 (f), ARCHIVE_FORMAT_VERSION);
    else if (json_object_get_int64 (f) >= 1
             && chunk_size_ok (json_object_get_int64 (c))) {
      *chunk_size = (uint32_t) json_object_get_int64 (c);
      r = 0;
    }
  }
  if (r == -EUCLEAN)
    cdp_set_error (r, "archive %s: cdp-archive.json is damaged", loc);
  json_object_put (o);
  json_tokener_free (tok);
  return r;
}

/* ---- names -------------------------------------------------------------- */

void
archive_store_id (const char *host, const char *store, char id[13])
{
  char *s = NULL;
  uint8_t sum[32];
  char hex[65];
  int n = asprintf (&s, "%s:%s", host, store);

  archive_sha256 (n < 0 ? "" : s, n < 0 ? 0 : (size_t) n, sum);
  free (s);
  archive_hex (sum, hex);
  memcpy (id, hex, 12);
  id[12] = '\0';
}

bool
archive_task_name_ok (const char *task)
{
  size_t n = task ? strlen (task) : 0;

  return n > 0 && n < 128 && strchr (task, '/') == NULL && task[0] != '.';
}

int
archive_index_key (const char *task, int64_t time_ns, const char *id,
                   char *key, size_t len)
{
  int n;

  if (!archive_task_name_ok (task) || time_ns < 0)
    return -EINVAL;
  n = id ? snprintf (key, len, "points/%s/%020" PRId64 "-%s.idx", task,
                     time_ns, id)
    : snprintf (key, len, "points/%s/%020" PRId64 "-", task, time_ns);
  return n < 0 || (size_t) n >= len ? -ENAMETOOLONG : 0;
}

int
archive_index_key_parse (const char *key, char **task, int64_t *time_ns,
                         char id[13])
{
  const char *t, *slash, *name;
  int64_t ns = 0;

  if (strncmp (key, "points/", 7) != 0)
    return -EINVAL;
  t = key + 7;
  slash = strchr (t, '/');
  if (slash == NULL || slash == t)
    return -EINVAL;
  name = slash + 1;
  if (strlen (name) != 20 + 1 + 12 + 4 || name[20] != '-'
      || strcmp (name + 33, ".idx") != 0)
    return -EINVAL;
  for (int i = 0; i < 20; i++) {
    if (name[i] < '0' || name[i] > '9'
        || __builtin_mul_overflow (ns, 10, &ns)
        || __builtin_add_overflow (ns, name[i] - '0', &ns))
      return -EINVAL;
  }
  for (int i = 21; i < 33; i++)
    if (unhex1 (name[i]) < 0)
      return -EINVAL;
  if (task && (*task = strndup (t, (size_t) (slash - t))) == NULL)
    return -ENOMEM;
  *time_ns = ns;
  memcpy (id, name + 21, 12);
  id[12] = '\0';
  return 0;
}

/* ---- index -------------------------------------------------------------- */

static struct json_object *
index_meta (const struct archive_point *p)
{
  struct json_object *o = json_object_new_object (), *disks;

  jf_add (o, "task", json_object_new_string (p->task));
  jf_add (o, "time", json_object_new_int64 (p->time_ns));
  jf_add (o, "kind", json_object_new_string (p->kind));
  if (p->label)
    jf_add (o, "label", json_object_new_string (p->label));
  jf_add (o, "host", json_object_new_string (p->host));
  jf_add (o, "store", json_object_new_string (p->store));
  jf_add (o, "store_id", json_object_new_string (p->store_id));
  jf_add (o, "pushed", json_object_new_int64 (p->pushed_ns));
  jf_add (o, "stored_bytes", json_object_new_uint64 (p->stored_bytes));
  jf_add (o, "chunk_size", json_object_new_int64 (p->chunk_size));
  jf_add (o, "disks", disks = json_object_new_array ());
  for (size_t i = 0; disks && i < p->ndisks; i++) {
    struct json_object *d = json_object_new_object ();
    jf_add (d, "name", json_object_new_string (p->disks[i].name));
    jf_add (d, "size", json_object_new_uint64 (p->disks[i].size));
    jf_add (d, "chunks", json_object_new_int64 (p->disks[i].nchunks));
    jf_append (disks, d);
  }
  return o;
}

int
archive_index_encode (const struct archive_point *p, void **out, size_t *len)
{
  struct json_object *meta = index_meta (p);
  const char *text = jf_text (meta, JSON_C_TO_STRING_PLAIN);
  size_t mlen = text ? strlen (text) : 0, total = ARCHIVE_INDEX_HEADER + mlen;
  uint8_t *buf = NULL, *at;
  int r = -ENOMEM;

  *out = NULL;
  for (size_t i = 0; text && i < p->ndisks; i++)
    if (__builtin_add_overflow (total, (size_t) p->disks[i].nchunks * 32,
                                &total))
      goto out;
  if (text == NULL || mlen > UINT32_MAX
      || __builtin_add_overflow (total, 32, &total)
      || (buf = malloc (total)) == NULL)
    goto out;
  memcpy (buf, ARCHIVE_INDEX_MAGIC, 8);
  put32 (buf + 8, ARCHIVE_FORMAT_VERSION);
  put32 (buf + 12, (uint32_t) mlen);
  memcpy (buf + ARCHIVE_INDEX_HEADER, text, mlen);
  at = buf + ARCHIVE_INDEX_HEADER + mlen;
  for (size_t i = 0; i < p->ndisks; i++) {
    memcpy (at, p->disks[i].sums, (size_t) p->disks[i].nchunks * 32);
    at += (size_t) p->disks[i].nchunks * 32;
  }
  archive_sha256 (buf, total - 32, at);
  *out = buf;
  *len = total;
  r = 0;
 out:
  json_object_put (meta);
  return r < 0 ? cdp_set_error (r, "out of memory") : 0;
}

int
archive_index_meta_len (const char *key, const void *hdr, uint32_t *len)
{
  const uint8_t *h = hdr;

  if (memcmp (h, ARCHIVE_INDEX_MAGIC, 8) != 0)
    return cdp_set_error (-EUCLEAN, "archive index %s is damaged: no header",
                          key);
  if (get32 (h + 8) != ARCHIVE_FORMAT_VERSION)
    return cdp_set_error (-EPROTO, "archive index %s is of format %" PRIu32
                          ", not %d", key, get32 (h + 8),
                          ARCHIVE_FORMAT_VERSION);
  *len = get32 (h + 12);
  return 0;
}

static const char *
get_str (struct json_object *o, const char *name, bool *ok)
{
  struct json_object *v;

  if (!json_object_object_get_ex (o, name, &v)
      || !json_object_is_type (v, json_type_string)) {
    *ok = false;
    return NULL;
  }
  return json_object_get_string (v);
}

static int64_t
get_int (struct json_object *o, const char *name, bool *ok)
{
  struct json_object *v;

  if (!json_object_object_get_ex (o, name, &v)
      || !json_object_is_type (v, json_type_int)) {
    *ok = false;
    return 0;
  }
  return json_object_get_int64 (v);
}

static char *
dup_or_fail (const char *s, bool *ok)
{
  char *d = s ? strdup (s) : NULL;

  if (s && d == NULL)
    *ok = false;
  return d;
}

/* Fill p's members but key and sums from the metadata. */
static bool
parse_meta (struct json_object *o, struct archive_point *p)
{
  bool ok = json_object_is_type (o, json_type_object);
  struct json_object *disks, *label;
  int64_t cs;

  if (!ok)
    return false;
  p->task = dup_or_fail (get_str (o, "task", &ok), &ok);
  p->time_ns = get_int (o, "time", &ok);
  p->kind = dup_or_fail (get_str (o, "kind", &ok), &ok);
  if (json_object_object_get_ex (o, "label", &label))
    p->label = dup_or_fail (get_str (o, "label", &ok), &ok);
  p->host = dup_or_fail (get_str (o, "host", &ok), &ok);
  p->store = dup_or_fail (get_str (o, "store", &ok), &ok);
  p->store_id = dup_or_fail (get_str (o, "store_id", &ok), &ok);
  p->pushed_ns = get_int (o, "pushed", &ok);
  p->stored_bytes = (uint64_t) get_int (o, "stored_bytes", &ok);
  cs = get_int (o, "chunk_size", &ok);
  if (!ok || !chunk_size_ok (cs) || !json_object_object_get_ex (o, "disks", &disks)
      || !json_object_is_type (disks, json_type_array))
    return false;
  p->chunk_size = (uint32_t) cs;
  p->ndisks = json_object_array_length (disks);
  if (p->ndisks > 1024)
    return false;
  p->disks = calloc (p->ndisks ? p->ndisks : 1, sizeof *p->disks);
  if (p->disks == NULL)
    return false;
  for (size_t i = 0; i < p->ndisks; i++) {
    struct json_object *d = json_object_array_get_idx (disks, i);
    struct archive_disk *ad = &p->disks[i];
    int64_t size, n;

    if (!json_object_is_type (d, json_type_object))
      return false;
    ad->name = dup_or_fail (get_str (d, "name", &ok), &ok);
    size = get_int (d, "size", &ok);
    n = get_int (d, "chunks", &ok);
    if (!ok || size < 0 || size > INT64_MAX - cs
        || n != (size + cs - 1) / cs || n > UINT32_MAX)
      return false;
    ad->size = (uint64_t) size;
    ad->nchunks = (uint32_t) n;
  }
  return true;
}

int
archive_index_decode (const char *key, const void *buf, size_t len,
                      bool meta_only, struct archive_point *p)
{
  const uint8_t *b = buf;
  struct json_tokener *tok = NULL;
  struct json_object *o = NULL;
  uint32_t mlen;
  size_t total, at;
  uint8_t sum[32];
  int r;

  memset (p, 0, sizeof *p);
  if (len < ARCHIVE_INDEX_HEADER)
    goto damaged;
  if ((r = archive_index_meta_len (key, buf, &mlen)) < 0)
    return r;
  if (mlen > len - ARCHIVE_INDEX_HEADER)
    goto damaged;
  if (!meta_only) {
    if (len < 32)
      goto damaged;
    archive_sha256 (buf, len - 32, sum);
    if (memcmp (sum, b + len - 32, 32) != 0)
      goto damaged;
  }
  tok = json_tokener_new ();
  if (tok == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  o = json_tokener_parse_ex (tok, (const char *) b + ARCHIVE_INDEX_HEADER,
                             (int) mlen);
  if (o == NULL || !parse_meta (o, p) || (p->key = strdup (key)) == NULL)
    goto damaged;
  total = ARCHIVE_INDEX_HEADER + (size_t) mlen + 32;
  for (size_t i = 0; i < p->ndisks; i++)
    total += (size_t) p->disks[i].nchunks * 32;
  if (!meta_only && total != len)
    goto damaged;
  at = ARCHIVE_INDEX_HEADER + mlen;
  for (size_t i = 0; !meta_only && i < p->ndisks; i++) {
    struct archive_disk *d = &p->disks[i];
    d->sums = malloc ((size_t) d->nchunks * 32 + 1);
    if (d->sums == NULL) {
      r = cdp_set_error (-ENOMEM, "out of memory");
      goto err;
    }
    memcpy (d->sums, b + at, (size_t) d->nchunks * 32);
    at += (size_t) d->nchunks * 32;
  }
  json_object_put (o);
  json_tokener_free (tok);
  return 0;
 damaged:
  r = cdp_set_error (-EUCLEAN, "archive index %s is damaged (it fails its "
                     "checksum or cannot be parsed)", key);
 err:
  json_object_put (o);
  if (tok)
    json_tokener_free (tok);
  archive_point_free (p);
  return r;
}
