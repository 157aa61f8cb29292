/* cdp archive: the S3 store's requests (store-s3.h): path-style URLs,
 * Signature V4 by libcurl, retries, answers and their errors.
 *
 * Every request carries the SHA-256 of its payload in
 * x-amz-content-sha256 (signed; libcurl 7.88 does not add it and S3
 * refuses a request without it).  S3 checks the body it received
 * against it (XAmzContentSHA256Mismatch), so a body damaged on the way
 * is refused, never stored; Content-MD5 would only cost a second pass
 * over the data.
 *
 * Threads: any number of requests at once.  Each takes an easy handle
 * from the store's pool (or makes one) and gives it back, so that its
 * connection is kept alive for the next request; DNS and TLS sessions
 * are shared between the handles.
 *
 * Failures on the connection, 5xx answers and 503 SlowDown are retried
 * a bounded number of times with a growing, jittered delay; a request
 * that had no answer at all (low speed for LOW_SPEED_SECS) is retried
 * once.  Nothing waits forever: connect within CONNECT_SECS, then at
 * least LOW_SPEED_BPS every LOW_SPEED_SECS. */
#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "recovery/archive/archive-internal.h"
#include "recovery/archive/store-s3.h"

#define CONNECT_SECS 10
#define LOW_SPEED_BPS 1024
#define LOW_SPEED_SECS 30
#define ATTEMPTS 5                  /* connection failures, 5xx */
#define TIMEOUT_ATTEMPTS 2          /* no answer at all */
#define BACKOFF_MS 250
#define EMPTY_SHA256 \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

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
char *
s3_uri_encode (const char *s, bool keep_slash)
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
char *
s3_object_path (struct s3 *st, const char *key)
{
  CLEANUP_FREE char *b = s3_uri_encode (st->bucket, false);
  CLEANUP_FREE char *name = NULL, *k = NULL;
  char *p;

  if (b == NULL)
    return NULL;
  if (key == NULL)
    return asprintf (&p, "/%s", b) < 0 ? NULL : p;
  if (asprintf (&name, "%s%s", st->prefix, key) < 0)
    return NULL;
  if ((k = s3_uri_encode (name, true)) == NULL)
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

int64_t
s3_parse_iso_date (const char *s)
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
void
s3_error_code (const char *body, size_t len, char *code, size_t codesz,
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
int
s3_perform (struct s3 *st, struct s3_req *r)
{
  CLEANUP_FREE char *path = s3_object_path (st, r->key), *url = NULL;
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
  else {
    uint8_t d[32];
    archive_sha256 (r->body_len ? r->body : "", r->body_len, d);
    archive_hex (d, sha);
  }
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
      s3_error_code (r->ebody, r->elen, code, sizeof code, msg, sizeof msg);
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
int
s3_fail_status (struct s3 *st, struct s3_req *r)
{
  char code[128], msg[256];
  int err;

  s3_error_code (r->ebody, r->elen, code, sizeof code, msg, sizeof msg);
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

bool
s3_no_such_bucket (struct s3_req *r)
{
  char code[128], msg[8];

  if (r->status != 404)
    return false;
  s3_error_code (r->ebody, r->elen, code, sizeof code, msg, sizeof msg);
  return strcmp (code, "NoSuchBucket") == 0;
}

int
s3_http_init (struct s3 *st)
{
  int i;

  pthread_once (&global_once, global_init);
  if (global_rc != CURLE_OK)
    return cdp_set_error (-EIO, "archive %s: libcurl failed to start: %s",
                          st->s.location, curl_easy_strerror (global_rc));
  if ((st->share = curl_share_init ()) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  pthread_mutex_init (&st->lock, NULL);
  pthread_mutex_init (&st->bucket_lock, NULL);
  for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init (&st->share_lock[i], NULL);
  curl_share_setopt (st->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt (st->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt (st->share, CURLSHOPT_USERDATA, st);
  curl_share_setopt (st->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt (st->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return 0;
}

void
s3_http_fini (struct s3 *st)
{
  struct s3_handle *h;
  int i;

  while ((h = st->idle) != NULL) {
    st->idle = h->next;
    curl_easy_cleanup (h->curl);
    free (h);
  }
  curl_share_cleanup (st->share);
  for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy (&st->share_lock[i]);
  pthread_mutex_destroy (&st->lock);
  pthread_mutex_destroy (&st->bucket_lock);
}
