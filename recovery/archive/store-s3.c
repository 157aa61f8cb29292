/* cdp archive: an S3 bucket (AWS, Ceph's radosgw) as a store (store.h).
 *
 * Requests are path-style, ENDPOINT/BUCKET/PREFIX/KEY, signed with AWS
 * Signature Version 4 by libcurl (CURLOPT_AWS_SIGV4).  The payload's
 * SHA-256 goes in x-amz-content-sha256 (signed; libcurl 7.88 does not
 * add it and S3 refuses a request without it).  S3 checks the body it
 * received against it (XAmzContentSHA256Mismatch), so a body damaged on
 * the way is refused, never stored; Content-MD5 would only cost a
 * second pass over the data.
 *
 * Threads: any number of calls at once.  Each call takes an easy handle
 * from the store's pool (or makes one) and gives it back, so that its
 * connection is kept alive for the next call; DNS and TLS sessions are
 * shared between the handles.
 *
 * Failures on the connection, 5xx answers and 503 SlowDown are retried
 * a bounded number of times with a growing, jittered delay; a request
 * that had no answer at all (low speed for LOW_SPEED_SECS) is retried
 * once.  Nothing waits forever: connect within CONNECT_SECS, then at
 * least LOW_SPEED_BPS every LOW_SPEED_SECS. */
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "recovery/archive/store-internal.h"

#define CONNECT_SECS 10
#define LOW_SPEED_BPS 1024
#define LOW_SPEED_SECS 30
#define ATTEMPTS 5                  /* connection failures, 5xx */
#define TIMEOUT_ATTEMPTS 2          /* no answer at all */
#define BACKOFF_MS 250
#define ERROR_BODY_MAX 16384
#define EMPTY_SHA256 \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_handle {
  CURL *curl;
  struct s3_handle *next;
};

struct s3 {
  struct archive_store s;
  char *endpoint;                   /* no trailing '/' */
  char *bucket;
  char *prefix;                     /* "" or "PREFIX/" */
  char *sigv4;                      /* "aws:amz:REGION:s3" */
  char *region;
  char *access_key, *secret_key;
  char *token_header;               /* "x-amz-security-token: ..." or NULL */
  CURLSH *share;
  pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
  pthread_mutex_t lock;             /* idle */
  struct s3_handle *idle;
  pthread_mutex_t bucket_lock;      /* bucket_made */
  bool bucket_made;
};

/* One request and its answer. */
struct s3_req {
  const char *method;               /* GET, PUT, HEAD, DELETE */
  const char *key;                  /* the store's key; NULL: the bucket */
  const char *query;                /* sorted, encoded; or NULL */
  const void *body;                 /* PUT */
  size_t body_len;
  const char *copy_source;          /* touch: "/BUCKET/OBJECT", encoded */
  bool ranged;
  uint64_t off;
  void *dst;                        /* ranged: the answer goes here */
  size_t dst_len;
  /* The answer. */
  long status;
  char *data;                       /* a 2xx answer's body (not ranged) */
  size_t len, cap;
  char ebody[ERROR_BODY_MAX];       /* a non-2xx answer's body */
  size_t elen;
  int64_t date_ns, last_modified_ns;
  uint64_t content_length;
  bool have_length, oom;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void
global_init (void)
{
  global_rc = curl_global_init (CURL_GLOBAL_DEFAULT);
  xmlInitParser ();
}

/* Percent-encode s the way Signature V4 canonicalises it (unreserved
 * characters kept, '/' kept when keep_slash); NULL when out of memory. */
static char *
uri_encode (const char *s, bool keep_slash)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen (s);
  char *out, *p;

  if (n > (SIZE_MAX - 1) / 3 || (out = malloc (n * 3 + 1)) == NULL)
    return NULL;
  for (p = out; *s; s++) {
    unsigned char c = *s;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~' || (keep_slash && c == '/'))
      *p++ = c;
    else {
      *p++ = '%';
      *p++ = hex[c >> 4];
      *p++ = hex[c & 15];
    }
  }
  *p = '\0';
  return out;
}

/* "/BUCKET" or "/BUCKET/PREFIXKEY", encoded. */
static char *
object_path (struct s3 *st, const char *key)
{
  CLEANUP_FREE char *b = uri_encode (st->bucket, false);
  CLEANUP_FREE char *name = NULL, *k = NULL;
  char *p;

  if (b == NULL)
    return NULL;
  if (key == NULL)
    return asprintf (&p, "/%s", b) < 0 ? NULL : p;
  if (asprintf (&name, "%s%s", st->prefix, key) < 0)
    return NULL;
  if ((k = uri_encode (name, true)) == NULL)
    return NULL;
  return asprintf (&p, "/%s/%s", b, k) < 0 ? NULL : p;
}

/* HTTP dates ("Mon, 07 Dec 2026 00:46:13 GMT") and ISO 8601 ones
 * ("2026-12-07T00:46:13.104Z") to ns since the epoch; -1 if neither. */
static int64_t
parse_http_date (const char *s)
{
  time_t t = curl_getdate (s, NULL);

  return t < 0 ? -1 : (int64_t) t * 1000000000;
}

static int64_t
parse_iso_date (const char *s)
{
  struct tm tm = { 0 };
  int64_t ns = 0, scale = 100000000;
  int n = 0;
  time_t t;

  if (sscanf (s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
              &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
    return -1;
  s += n;
  if (*s == '.')
    for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
      ns += (*s - '0') * scale;
  if (*s != 'Z' && *s != '\0')
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  if ((t = timegm (&tm)) == (time_t) -1)
    return -1;
  return (int64_t) t * 1000000000 + ns;
}

static size_t
on_header (char *p, size_t size, size_t n, void *opaque)
{
  struct s3_req *r = opaque;
  size_t len = size * n;
  char line[512], *v;

  if (len >= sizeof line)
    return len;
  memcpy (line, p, len);
  line[len] = '\0';
  line[strcspn (line, "\r\n")] = '\0';
  if (strncmp (line, "HTTP/", 5) == 0) {
    /* A new answer (after 100 Continue, say): forget the last one's. */
    v = strchr (line, ' ');
    r->status = v ? strtol (v + 1, NULL, 10) : 0;
    r->date_ns = r->last_modified_ns = -1;
    r->have_length = false;
    return len;
  }
  if ((v = strchr (line, ':')) == NULL)
    return len;
  *v++ = '\0';
  v += strspn (v, " \t");
  if (strcasecmp (line, "Date") == 0)
    r->date_ns = parse_http_date (v);
  else if (strcasecmp (line, "Last-Modified") == 0)
    r->last_modified_ns = parse_http_date (v);
  else if (strcasecmp (line, "Content-Length") == 0) {
    r->content_length = strtoull (v, NULL, 10);
    r->have_length = true;
  }
  return len;
}

static size_t
on_data (char *p, size_t size, size_t n, void *opaque)
{
  struct s3_req *r = opaque;
  size_t len = size * n, want;

  if (r->status < 200 || r->status > 299) {
    want = len < sizeof r->ebody - 1 - r->elen ? len
      : sizeof r->ebody - 1 - r->elen;
    memcpy (r->ebody + r->elen, p, want);
    r->elen += want;
    r->ebody[r->elen] = '\0';
    return len;
  }
  if (r->ranged) {
    if (len > r->dst_len - r->len)
      return 0;                     /* longer than asked: -EIO */
    memcpy ((char *) r->dst + r->len, p, len);
    r->len += len;
    return len;
  }
  if (len > r->cap - r->len) {
    size_t cap = r->cap ? r->cap : 65536;
    char *d;

    if (r->have_length && r->content_length >= r->len + len &&
        r->content_length < SIZE_MAX)
      cap = r->content_length;
    while (cap < r->len + len) {
      if (cap > SIZE_MAX / 2) {
        r->oom = true;
        return 0;
      }
      cap *= 2;
    }
    if ((d = realloc (r->data, cap)) == NULL) {
      r->oom = true;
      return 0;
    }
    r->data = d;
    r->cap = cap;
  }
  memcpy (r->data + r->len, p, len);
  r->len += len;
  return len;
}

static void
share_lock (CURL *h, curl_lock_data data, curl_lock_access a, void *opaque)
{
  struct s3 *st = opaque;

  (void) h; (void) a;
  pthread_mutex_lock (&st->share_lock[data]);
}

static void
share_unlock (CURL *h, curl_lock_data data, void *opaque)
{
  struct s3 *st = opaque;

  (void) h;
  pthread_mutex_unlock (&st->share_lock[data]);
}

static CURL *
handle_get (struct s3 *st, struct s3_handle **hp)
{
  struct s3_handle *h;

  pthread_mutex_lock (&st->lock);
  h = st->idle;
  if (h)
    st->idle = h->next;
  pthread_mutex_unlock (&st->lock);
  if (h == NULL) {
    if ((h = calloc (1, sizeof *h)) == NULL)
      return NULL;
    if ((h->curl = curl_easy_init ()) == NULL) {
      free (h);
      return NULL;
    }
  }
  *hp = h;
  return h->curl;
}

static void
handle_put (struct s3 *st, struct s3_handle *h)
{
  pthread_mutex_lock (&st->lock);
  h->next = st->idle;
  st->idle = h;
  pthread_mutex_unlock (&st->lock);
}

/* The payload's SHA-256 in hex. */
static int
payload_sha256 (const void *buf, size_t len, char sha[65])
{
  unsigned char d[32];
  int i;

  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, buf, len, d) < 0)
    return -EIO;
  for (i = 0; i < 32; i++)
    sprintf (sha + 2 * i, "%02x", d[i]);
  return 0;
}

/* Append "NAME: VALUE".  (Not "Expect:" to drop 100-continue: curl 7.88
 * signs the header it then leaves out, and S3 refuses the signature.) */
static struct curl_slist *
add_header (struct curl_slist *l, bool *oom, const char *name, const char *v)
{
  char line[256];
  struct curl_slist *n;

  snprintf (line, sizeof line, "%s:%s%s", name, *v ? " " : "", v);
  if ((n = curl_slist_append (l, line)) == NULL)
    *oom = true;
  return n ? n : l;
}

/* One attempt of r: the curl code, with r's answer filled in. */
static CURLcode
attempt (struct s3 *st, CURL *c, struct s3_req *r, const char *url,
         const char *sha)
{
  struct curl_slist *hd = NULL;
  bool oom = false;
  char range[64];
  CURLcode rc;

  r->status = 0;
  r->len = r->elen = 0;
  r->date_ns = r->last_modified_ns = -1;
  r->have_length = r->oom = false;
  curl_easy_reset (c);
  hd = add_header (hd, &oom, "x-amz-content-sha256", sha);
  if (st->token_header && (hd = curl_slist_append (hd, st->token_header)) == NULL)
    oom = true;
  if (r->copy_source) {
    if ((hd = curl_slist_append (hd, r->copy_source)) == NULL)
      oom = true;
    hd = add_header (hd, &oom, "x-amz-metadata-directive", "REPLACE");
  }
  if (r->ranged) {
    snprintf (range, sizeof range, "Range: bytes=%" PRIu64 "-%" PRIu64,
              r->off, r->off + r->dst_len - 1);
    if ((hd = curl_slist_append (hd, range)) == NULL)
      oom = true;
  }
  if (strcmp (r->method, "PUT") == 0)
    hd = add_header (hd, &oom, "Content-Type", "application/octet-stream");
  if (oom) {
    curl_slist_free_all (hd);
    r->oom = true;
    return CURLE_OUT_OF_MEMORY;
  }
  curl_easy_setopt (c, CURLOPT_URL, url);
  curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (c, CURLOPT_SHARE, st->share);
  curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT, (long) CONNECT_SECS);
  curl_easy_setopt (c, CURLOPT_LOW_SPEED_LIMIT, (long) LOW_SPEED_BPS);
  curl_easy_setopt (c, CURLOPT_LOW_SPEED_TIME, (long) LOW_SPEED_SECS);
  curl_easy_setopt (c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt (c, CURLOPT_AWS_SIGV4, st->sigv4);
  curl_easy_setopt (c, CURLOPT_USERNAME, st->access_key);
  curl_easy_setopt (c, CURLOPT_PASSWORD, st->secret_key);
  curl_easy_setopt (c, CURLOPT_HTTPHEADER, hd);
  curl_easy_setopt (c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt (c, CURLOPT_WRITEDATA, r);
  if (strcmp (r->method, "HEAD") == 0)
    curl_easy_setopt (c, CURLOPT_NOBODY, 1L);
  else if (strcmp (r->method, "PUT") == 0) {
    curl_easy_setopt (c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt (c, CURLOPT_POSTFIELDSIZE_LARGE,
                      (curl_off_t) r->body_len);
    curl_easy_setopt (c, CURLOPT_POSTFIELDS, r->body ? r->body : "");
  }
  else if (strcmp (r->method, "GET") != 0)
    curl_easy_setopt (c, CURLOPT_CUSTOMREQUEST, r->method);
  rc = curl_easy_perform (c);
  curl_slist_free_all (hd);
  return rc;
}

/* The <Code> and <Message> of an S3 error body (either may stay ""). */
static void
error_code (const char *body, size_t len, char *code, size_t codesz,
            char *msg, size_t msgsz)
{
  xmlDocPtr doc;
  xmlNodePtr n;

  *code = *msg = '\0';
  if (len == 0 ||
      (doc = xmlReadMemory (body, len, NULL, NULL, XML_PARSE_NONET |
                            XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) == NULL)
    return;
  n = xmlDocGetRootElement (doc);
  if (n && xmlStrcmp (n->name, BAD_CAST "Error") == 0)
    for (n = n->children; n; n = n->next) {
      xmlChar *t;

      if (n->type != XML_ELEMENT_NODE)
        continue;
      if (xmlStrcmp (n->name, BAD_CAST "Code") == 0 &&
          (t = xmlNodeGetContent (n))) {
        snprintf (code, codesz, "%s", (char *) t);
        xmlFree (t);
      }
      else if (xmlStrcmp (n->name, BAD_CAST "Message") == 0 &&
               (t = xmlNodeGetContent (n))) {
        snprintf (msg, msgsz, "%s", (char *) t);
        xmlFree (t);
      }
    }
  xmlFreeDoc (doc);
}

static bool
retryable_status (long status, const char *code)
{
  return status >= 500 || status == 429 ||
    (status == 400 && strcmp (code, "RequestTimeout") == 0);
}

static void
backoff (int n, bool slow)
{
  long ms = (long) BACKOFF_MS << n;
  struct timespec ts;
  unsigned seed = (unsigned) (uintptr_t) &ts ^ (unsigned) time (NULL);

  if (slow)
    ms *= 4;
  ms += rand_r (&seed) % (ms + 1);
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = ms % 1000 * 1000000;
  nanosleep (&ts, NULL);
}

static const char *
what (struct s3_req *r)
{
  return r->copy_source ? "touch" : r->method;
}

/* Run r with retries: 0 when answered (any status, in r->status), or
 * -errno with the error set when there was no usable answer. */
static int
perform (struct s3 *st, struct s3_req *r)
{
  CLEANUP_FREE char *path = object_path (st, r->key), *url = NULL;
  char sha[65], code[128], msg[256];
  bool with_body = strcmp (r->method, "PUT") == 0 && !r->copy_source;
  struct s3_handle *h;
  int n, timeouts = 0;
  CURLcode rc;
  CURL *c;

  if (path == NULL ||
      asprintf (&url, "%s%s%s%s", st->endpoint, path, r->query ? "?" : "",
                r->query ? r->query : "") < 0)
    return cdp_set_error (-ENOMEM, "out of memory");
  if (!with_body)
    strcpy (sha, EMPTY_SHA256);
  else if (payload_sha256 (r->body_len ? r->body : "", r->body_len, sha) < 0)
    return cdp_set_error (-EIO, "archive %s: hashing %s failed",
                          st->s.location, r->key ? r->key : "(bucket)");
  if ((c = handle_get (st, &h)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  for (n = 1;; n++) {
    rc = attempt (st, c, r, url, sha);
    if (r->oom) {
      handle_put (st, h);
      return cdp_set_error (-ENOMEM, "out of memory");
    }
    if (rc == CURLE_OK) {
      /* A copy may fail after its 200 with an <Error> body. */
      if (r->copy_source && r->status == 200 && r->len &&
          memmem (r->data, r->len, "<Error>", 7)) {
        memcpy (r->ebody, r->data, r->len < ERROR_BODY_MAX - 1 ? r->len
                : ERROR_BODY_MAX - 1);
        r->elen = r->len < ERROR_BODY_MAX - 1 ? r->len : ERROR_BODY_MAX - 1;
        r->ebody[r->elen] = '\0';
        r->status = 500;
      }
      error_code (r->ebody, r->elen, code, sizeof code, msg, sizeof msg);
      if (!retryable_status (r->status, code) || n >= ATTEMPTS)
        break;
      backoff (n - 1, strcmp (code, "SlowDown") == 0);
      continue;
    }
    if (rc == CURLE_WRITE_ERROR && r->ranged) {
      handle_put (st, h);
      return cdp_set_error (-EIO, "archive %s: %s %s: more than the %zu "
                            "bytes asked for", st->s.location, what (r),
                            r->key, r->dst_len);
    }
    if (rc == CURLE_OPERATION_TIMEDOUT)
      timeouts++;
    if (n >= ATTEMPTS || timeouts >= TIMEOUT_ATTEMPTS ||
        rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ||
        rc == CURLE_OUT_OF_MEMORY) {
      handle_put (st, h);
      return cdp_set_error (rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO,
                            "archive %s: %s %s: %s (%s, %d attempts)",
                            st->s.location, what (r),
                            r->key ? r->key : "(bucket)",
                            curl_easy_strerror (rc), st->endpoint, n);
    }
    backoff (n - 1, false);
  }
  handle_put (st, h);
  return 0;
}

/* The error of a request answered with a status that is not success. */
static int
fail_status (struct s3 *st, struct s3_req *r)
{
  char code[128], msg[256];
  int err;

  error_code (r->ebody, r->elen, code, sizeof code, msg, sizeof msg);
  switch (r->status) {
  case 404: err = -ENOENT; break;
  case 401: case 403: err = -EACCES; break;
  default: err = -EIO; break;
  }
  return cdp_set_error (err, "archive %s: %s %s: HTTP %ld%s%s%s%s%s",
                        st->s.location, what (r),
                        r->key ? r->key : "(bucket)", r->status,
                        *code ? " " : "", code, *msg ? ": " : "", msg,
                        err == -EACCES ? " (check AWS_ACCESS_KEY_ID, "
                        "AWS_SECRET_ACCESS_KEY and the bucket's policy)" : "");
}

static bool
no_such_bucket (struct s3_req *r)
{
  char code[128], msg[8];

  if (r->status != 404)
    return false;
  error_code (r->ebody, r->elen, code, sizeof code, msg, sizeof msg);
  return strcmp (code, "NoSuchBucket") == 0;
}

static int
s3_get (struct archive_store *s, const char *key, void **buf, size_t *len)
{
  struct s3 *st = (struct s3 *) s;
  struct s3_req *r;
  int err;

  if ((r = calloc (1, sizeof *r)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r->method = "GET";
  r->key = key;
  if ((err = perform (st, r)) == 0 && r->status != 200)
    err = fail_status (st, r);
  if (err == 0 && r->data == NULL && (r->data = malloc (1)) == NULL)
    err = cdp_set_error (-ENOMEM, "out of memory");
  if (err == 0) {
    *buf = r->data;
    *len = r->len;
    r->data = NULL;
  }
  free (r->data);
  free (r);
  return err;
}

static int s3_stat (struct archive_store *s, const char *key, uint64_t *size,
                    int64_t *mtime_ns);

static int
s3_get_range (struct archive_store *s, const char *key, void *buf,
              uint64_t off, size_t len)
{
  struct s3 *st = (struct s3 *) s;
  struct s3_req *r;
  uint64_t size;
  int err;

  if (len == 0 || off > UINT64_MAX - len) {
    if ((err = s3_stat (s, key, &size, NULL)) < 0)
      return err;
    if (off > size || len > size - off)
      return cdp_set_error (-EIO, "archive %s: %s is %" PRIu64 " bytes, "
                            "shorter than %" PRIu64 " + %zu", s->location,
                            key, size, off, len);
    return 0;
  }
  if ((r = calloc (1, sizeof *r)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r->method = "GET";
  r->key = key;
  r->ranged = true;
  r->off = off;
  r->dst = buf;
  r->dst_len = len;
  if ((err = perform (st, r)) == 0) {
    if (r->status == 416)
      err = cdp_set_error (-EIO, "archive %s: %s is shorter than %" PRIu64
                           " + %zu", s->location, key, off, len);
    else if (r->status != 206 && r->status != 200)
      err = fail_status (st, r);
    else if (r->len != len || (r->status == 200 && off != 0))
      err = cdp_set_error (-EIO, "archive %s: %s: %zu bytes at %" PRIu64
                           " asked for, %zu answered", s->location, key,
                           len, off, r->len);
  }
  free (r);
  return err;
}

/* Create the bucket, once per store (when a put finds it missing). */
static int
make_bucket (struct s3 *st)
{
  ACQUIRE_LOCK_FOR_CURRENT_SCOPE (&st->bucket_lock);
  CLEANUP_FREE char *conf = NULL;
  struct s3_req *r;
  char code[128], msg[8];
  int err;

  if (st->bucket_made)
    return 0;
  if (strcmp (st->region, "us-east-1") != 0 &&
      asprintf (&conf, "<CreateBucketConfiguration xmlns=\"http://s3."
                "amazonaws.com/doc/2006-03-01/\"><LocationConstraint>%s"
                "</LocationConstraint></CreateBucketConfiguration>",
                st->region) < 0)
    return cdp_set_error (-ENOMEM, "out of memory");
  if ((r = calloc (1, sizeof *r)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r->method = "PUT";
  r->body = conf;
  r->body_len = conf ? strlen (conf) : 0;
  if ((err = perform (st, r)) == 0) {
    error_code (r->ebody, r->elen, code, sizeof code, msg, sizeof msg);
    if (r->status == 200 ||
        (r->status == 409 && strcmp (code, "BucketAlreadyOwnedByYou") == 0))
      st->bucket_made = true;
    else
      err = fail_status (st, r);
  }
  free (r);
  return err;
}

static int
s3_put (struct archive_store *s, const char *key, const void *buf,
        size_t len)
{
  struct s3 *st = (struct s3 *) s;
  struct s3_req *r;
  int err, tries;

  if ((r = calloc (1, sizeof *r)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r->method = "PUT";
  r->key = key;
  r->body = buf;
  r->body_len = len;
  for (tries = 0;; tries++) {
    if ((err = perform (st, r)) < 0)
      break;
    if (r->status == 200)
      break;
    if (tries == 0 && no_such_bucket (r)) {
      if ((err = make_bucket (st)) < 0)
        break;
      continue;
    }
    err = fail_status (st, r);
    break;
  }
  free (r->data);
  free (r);
  return err;
}

static int
s3_stat (struct archive_store *s, const char *key, uint64_t *size,
         int64_t *mtime_ns)
{
  struct s3 *st = (struct s3 *) s;
  struct s3_req *r;
  int err;

  if ((r = calloc (1, sizeof *r)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r->method = "HEAD";
  r->key = key;
  if ((err = perform (st, r)) == 0) {
    if (r->status != 200)
      err = fail_status (st, r);
    else if (!r->have_length || r->last_modified_ns < 0)
      err = cdp_set_error (-EIO, "archive %s: HEAD %s: no Content-Length "
                           "or Last-Modified in the answer", s->location, key);
  }
  if (err == 0) {
    if (size)
      *size = r->content_length;
    if (mtime_ns)
      *mtime_ns = r->last_modified_ns;
  }
  free (r);
  return err;
}

static int
s3_touch (struct archive_store *s, const char *key)
{
  struct s3 *st = (struct s3 *) s;
  CLEANUP_FREE char *path = object_path (st, key), *src = NULL;
  struct s3_req *r;
  int err;

  if (path == NULL || asprintf (&src, "x-amz-copy-source: %s", path) < 0)
    return cdp_set_error (-ENOMEM, "out of memory");
  if ((r = calloc (1, sizeof *r)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r->method = "PUT";
  r->key = key;
  r->copy_source = src;
  if ((err = perform (st, r)) == 0 && r->status != 200)
    err = fail_status (st, r);
  free (r->data);
  free (r);
  return err;
}

static int
s3_del (struct archive_store *s, const char *key)
{
  struct s3 *st = (struct s3 *) s;
  struct s3_req *r;
  int err;

  if ((r = calloc (1, sizeof *r)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r->method = "DELETE";
  r->key = key;
  if ((err = perform (st, r)) == 0 && r->status != 204 &&
      r->status != 200 && r->status != 404)
    err = fail_status (st, r);
  free (r->data);
  free (r);
  return err;
}

/* The text of the child element name of n, or NULL (xmlFree it). */
static xmlChar *
child_text (xmlNodePtr n, const char *name)
{
  for (n = n->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE &&
        xmlStrcmp (n->name, BAD_CAST name) == 0)
      return xmlNodeGetContent (n);
  return NULL;
}

/* Call fn for every <Contents> of one ListObjectsV2 page; *token is
 * the next page's (NULL at the end). */
static int
list_page (struct s3 *st, struct s3_req *r, archive_list_fn fn,
           void *opaque, char **token)
{
  size_t plen = strlen (st->prefix);
  xmlDocPtr doc;
  xmlNodePtr root, n;
  xmlChar *t;
  int err = 0;

  *token = NULL;
  doc = xmlReadMemory (r->data ? r->data : "", r->len, NULL, NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR |
                       XML_PARSE_NOWARNING | XML_PARSE_HUGE);
  if (doc == NULL || (root = xmlDocGetRootElement (doc)) == NULL ||
      xmlStrcmp (root->name, BAD_CAST "ListBucketResult") != 0) {
    xmlFreeDoc (doc);
    return cdp_set_error (-EIO, "archive %s: the listing is not a "
                          "ListBucketResult", st->s.location);
  }
  for (n = root->children; n && err == 0; n = n->next) {
    xmlChar *key, *size, *lm;
    struct archive_obj o;

    if (n->type != XML_ELEMENT_NODE ||
        xmlStrcmp (n->name, BAD_CAST "Contents") != 0)
      continue;
    key = child_text (n, "Key");
    size = child_text (n, "Size");
    lm = child_text (n, "LastModified");
    if (key == NULL || size == NULL || lm == NULL ||
        strncmp ((char *) key, st->prefix, plen) != 0 ||
        (o.mtime_ns = parse_iso_date ((char *) lm)) < 0)
      err = cdp_set_error (-EIO, "archive %s: a listed object has no key, "
                           "size or time, or one outside the prefix",
                           st->s.location);
    else {
      o.key = (char *) key + plen;
      o.size = strtoull ((char *) size, NULL, 10);
      err = fn (opaque, &o);
    }
    xmlFree (key);
    xmlFree (size);
    xmlFree (lm);
  }
  if (err == 0 && (t = child_text (root, "IsTruncated")) != NULL) {
    if (xmlStrcmp (t, BAD_CAST "true") == 0) {
      xmlChar *next = child_text (root, "NextContinuationToken");

      if (next == NULL || *next == '\0')
        err = cdp_set_error (-EIO, "archive %s: a truncated listing without "
                             "NextContinuationToken", st->s.location);
      else if ((*token = strdup ((char *) next)) == NULL)
        err = cdp_set_error (-ENOMEM, "out of memory");
      xmlFree (next);
    }
    xmlFree (t);
  }
  xmlFreeDoc (doc);
  return err;
}

static int
s3_list (struct archive_store *s, const char *prefix, archive_list_fn fn,
         void *opaque)
{
  struct s3 *st = (struct s3 *) s;
  CLEANUP_FREE char *full = NULL, *enc = NULL;
  char *token = NULL, *etoken, *query;
  struct s3_req *r;
  int err = 0;

  if (asprintf (&full, "%s%s", st->prefix, prefix) < 0 ||
      (enc = uri_encode (full, false)) == NULL ||
      (r = calloc (1, sizeof *r)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r->method = "GET";
  do {
    /* The query's parameters in Signature V4's order (by name). */
    query = NULL;
    etoken = token ? uri_encode (token, false) : NULL;
    if ((token && etoken == NULL) ||
        asprintf (&query, "%s%s%slist-type=2&prefix=%s",
                  token ? "continuation-token=" : "", token ? etoken : "",
                  token ? "&" : "", enc) < 0) {
      free (etoken);
      err = cdp_set_error (-ENOMEM, "out of memory");
      break;
    }
    free (etoken);
    free (token);
    token = NULL;
    r->query = query;
    err = perform (st, r);
    if (err == 0 && r->status != 200)
      err = no_such_bucket (r) ? 0 : fail_status (st, r);
    else if (err == 0)
      err = list_page (st, r, fn, opaque, &token);
    free (query);
  } while (err == 0 && token);
  free (token);
  free (r->data);
  free (r);
  return err > 0 ? 0 : err;
}

static int
s3_now (struct archive_store *s, int64_t *ns)
{
  struct s3 *st = (struct s3 *) s;
  struct s3_req *r;
  int err;

  if ((r = calloc (1, sizeof *r)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r->method = "HEAD";
  if ((err = perform (st, r)) == 0) {
    if (r->status == 401 || r->status == 403 || r->status >= 500)
      err = fail_status (st, r);
    else if (r->date_ns < 0)
      err = cdp_set_error (-EIO, "archive %s: the answer has no Date",
                           s->location);
    else
      *ns = r->date_ns;
  }
  free (r);
  return err;
}

static void
s3_close (struct archive_store *s)
{
  struct s3 *st = (struct s3 *) s;
  struct s3_handle *h;
  int i;

  while ((h = st->idle) != NULL) {
    st->idle = h->next;
    curl_easy_cleanup (h->curl);
    free (h);
  }
  if (st->share)
    curl_share_cleanup (st->share);
  for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy (&st->share_lock[i]);
  pthread_mutex_destroy (&st->lock);
  pthread_mutex_destroy (&st->bucket_lock);
  free (st->endpoint);
  free (st->bucket);
  free (st->prefix);
  free (st->sigv4);
  free (st->region);
  free (st->access_key);
  free (st->secret_key);
  free (st->token_header);
  free (st->s.location);
  free (st);
}

static const struct archive_store_ops s3_ops = {
  .scheme = "s3",
  .get = s3_get,
  .get_range = s3_get_range,
  .put = s3_put,
  .stat = s3_stat,
  .touch = s3_touch,
  .del = s3_del,
  .list = s3_list,
  .now = s3_now,
  .close = s3_close,
};

static const char *
env (const char *name)
{
  const char *v = getenv (name);

  return v && *v ? v : NULL;
}

/* Read the profile's keys from an AWS credentials file: 0 (found or
 * not: the keys stay NULL), or -errno with the error set when the file
 * exists but cannot be read. */
static int
credentials_file (struct s3 *st, char **token)
{
  CLEANUP_FREE char *path = NULL, *line = NULL;
  const char *profile = env ("AWS_PROFILE") ? : "default";
  size_t cap = 0;
  bool in = false;
  FILE *f;

  if (env ("AWS_SHARED_CREDENTIALS_FILE"))
    path = strdup (env ("AWS_SHARED_CREDENTIALS_FILE"));
  else if (env ("HOME") && asprintf (&path, "%s/.aws/credentials",
                                      env ("HOME")) < 0)
    path = NULL;
  else if (!env ("HOME"))
    return 0;
  if (path == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  if ((f = fopen (path, "re")) == NULL) {
    if (errno == ENOENT)
      return 0;
    return cdp_set_error (-errno, "archive %s: %s: %s", st->s.location,
                          path, strerror (errno));
  }
  while (getline (&line, &cap, f) > 0) {
    char *p = line + strspn (line, " \t"), *v, *e;

    p[strcspn (p, "\r\n")] = '\0';
    if (*p == '[') {
      e = strchr (p, ']');
      in = e && (size_t) (e - p - 1) == strlen (profile) &&
        strncmp (p + 1, profile, e - p - 1) == 0;
      continue;
    }
    if (!in || *p == '#' || *p == ';' || (v = strchr (p, '=')) == NULL)
      continue;
    for (e = v; e > p && (e[-1] == ' ' || e[-1] == '\t'); e--)
      ;
    *e = '\0';
    v += 1 + strspn (v + 1, " \t");
    for (e = v + strlen (v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
      ;
    *e = '\0';
    char **dst = strcmp (p, "aws_access_key_id") == 0 ? &st->access_key
      : strcmp (p, "aws_secret_access_key") == 0 ? &st->secret_key
      : strcmp (p, "aws_session_token") == 0 ? token : NULL;
    if (dst) {
      free (*dst);
      if ((*dst = strdup (v)) == NULL) {
        fclose (f);
        return cdp_set_error (-ENOMEM, "out of memory");
      }
    }
  }
  if (ferror (f)) {
    fclose (f);
    return cdp_set_error (-EIO, "archive %s: reading %s failed",
                          st->s.location, path);
  }
  fclose (f);
  return 0;
}

static int
credentials (struct s3 *st)
{
  CLEANUP_FREE char *token = NULL;
  int err;

  if (env ("AWS_ACCESS_KEY_ID") && env ("AWS_SECRET_ACCESS_KEY")) {
    st->access_key = strdup (env ("AWS_ACCESS_KEY_ID"));
    st->secret_key = strdup (env ("AWS_SECRET_ACCESS_KEY"));
    if (env ("AWS_SESSION_TOKEN") &&
        (token = strdup (env ("AWS_SESSION_TOKEN"))) == NULL)
      return cdp_set_error (-ENOMEM, "out of memory");
  }
  else if ((err = credentials_file (st, &token)) < 0)
    return err;
  if (st->access_key == NULL || st->secret_key == NULL)
    return cdp_set_error (-EACCES, "archive %s: no S3 credentials: set "
                          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                          "write them in ~/.aws/credentials",
                          st->s.location);
  if (token &&
      asprintf (&st->token_header, "x-amz-security-token: %s", token) < 0) {
    st->token_header = NULL;
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  return 0;
}

/* "s3://BUCKET[/PREFIX]" into st->bucket and st->prefix ("" or
 * "PREFIX/"; no empty, "." or ".." parts). */
static int
parse_location (struct s3 *st, const char *location)
{
  const char *b = location + 5, *slash = strchr (b, '/'), *p;
  size_t blen = slash ? (size_t) (slash - b) : strlen (b), n;

  if (blen == 0 || strspn (b, "abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") < blen)
    return cdp_set_error (-EINVAL, "archive location '%s': the bucket "
                          "must be s3://BUCKET[/PREFIX] with a bucket name "
                          "of letters, digits, '.', '-' and '_'", location);
  if ((st->bucket = strndup (b, blen)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  p = slash ? slash + 1 : "";
  n = strlen (p);
  while (n > 0 && p[n - 1] == '/')
    n--;
  if (asprintf (&st->prefix, "%.*s%s", (int) n, p, n ? "/" : "") < 0) {
    st->prefix = NULL;
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  for (p = st->prefix; *p; p += n + 1) {
    n = strcspn (p, "/");
    if (n == 0 || (n == 1 && p[0] == '.') ||
        (n == 2 && p[0] == '.' && p[1] == '.'))
      return cdp_set_error (-EINVAL, "archive location '%s': the prefix "
                            "has an empty, '.' or '..' part", location);
  }
  return 0;
}

static int
setup (struct s3 *st, const char *location)
{
  const char *ep = env ("AWS_ENDPOINT_URL") ? : "https://s3.amazonaws.com";
  size_t n = strlen (ep);
  int err;

  if ((err = parse_location (st, location)) < 0)
    return err;
  if (strncmp (ep, "http://", 7) != 0 && strncmp (ep, "https://", 8) != 0)
    return cdp_set_error (-EINVAL, "AWS_ENDPOINT_URL '%s' is not an "
                          "http:// or https:// URL", ep);
  while (n > 0 && ep[n - 1] == '/')
    n--;
  if ((st->endpoint = strndup (ep, n)) == NULL ||
      (st->region = strdup (env ("AWS_REGION") ? :
                            env ("AWS_DEFAULT_REGION") ? : "us-east-1"))
      == NULL ||
      asprintf (&st->sigv4, "aws:amz:%s:s3", st->region) < 0) {
    st->sigv4 = NULL;
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  if ((err = credentials (st)) < 0)
    return err;
  if ((st->share = curl_share_init ()) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  curl_share_setopt (st->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt (st->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt (st->share, CURLSHOPT_USERDATA, st);
  curl_share_setopt (st->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt (st->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return 0;
}

int
store_s3_open (const char *location, struct archive_store **out)
{
  struct s3 *st;
  int err, i;

  *out = NULL;
  pthread_once (&global_once, global_init);
  if (global_rc != CURLE_OK)
    return cdp_set_error (-EIO, "archive %s: libcurl failed to start: %s",
                          location, curl_easy_strerror (global_rc));
  if ((st = calloc (1, sizeof *st)) == NULL ||
      (st->s.location = strdup (location)) == NULL) {
    free (st);
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  st->s.ops = &s3_ops;
  pthread_mutex_init (&st->lock, NULL);
  pthread_mutex_init (&st->bucket_lock, NULL);
  for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init (&st->share_lock[i], NULL);
  if ((err = setup (st, location)) < 0) {
    struct cdp_saved_error e;

    cdp_save_error (&e);
    s3_close (&st->s);
    cdp_restore_error (&e);
    return err;
  }
  *out = &st->s;
  return 0;
}
