/* cdp archive: an S3 bucket (AWS, Ceph's radosgw) as a store (store.h):
 * the operations, each one or a few requests (store-s3-request.c), and
 * the location, endpoint and credentials a store is opened with.
 *
 * get is a GET, get_range a GET with Range, put a PUT (atomic in S3),
 * stat a HEAD, touch a copy of the object onto itself with
 * x-amz-metadata-directive REPLACE (no data is sent; the object gets a
 * new Last-Modified), del a DELETE (404 is success), list ListObjectsV2
 * pages followed by their continuation tokens, now the Date of an
 * answer.  A missing bucket reads as empty; the first put that finds
 * it missing creates it. */
#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "recovery/archive/store-internal.h"
#include "recovery/archive/store-s3.h"

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
  if ((err = s3_perform (st, r)) == 0 && r->status != 200)
    err = s3_fail_status (st, r);
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
  if ((err = s3_perform (st, r)) == 0) {
    if (r->status == 416)
      err = cdp_set_error (-EIO, "archive %s: %s is shorter than %" PRIu64
                           " + %zu", s->location, key, off, len);
    else if (r->status != 206 && r->status != 200)
      err = s3_fail_status (st, r);
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
  if ((err = s3_perform (st, r)) == 0) {
    s3_error_code (r->ebody, r->elen, code, sizeof code, msg, sizeof msg);
    if (r->status == 200 ||
        (r->status == 409 && strcmp (code, "BucketAlreadyOwnedByYou") == 0))
      st->bucket_made = true;
    else
      err = s3_fail_status (st, r);
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
    if ((err = s3_perform (st, r)) < 0)
      break;
    if (r->status == 200)
      break;
    if (tries == 0 && s3_no_such_bucket (r)) {
      if ((err = make_bucket (st)) < 0)
        break;
      continue;
    }
    err = s3_fail_status (st, r);
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
  if ((err = s3_perform (st, r)) == 0) {
    if (r->status != 200)
      err = s3_fail_status (st, r);
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
  CLEANUP_FREE char *path = s3_object_path (st, key), *src = NULL;
  struct s3_req *r;
  int err;

  if (path == NULL || asprintf (&src, "x-amz-copy-source: %s", path) < 0)
    return cdp_set_error (-ENOMEM, "out of memory");
  if ((r = calloc (1, sizeof *r)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r->method = "PUT";
  r->key = key;
  r->copy_source = src;
  if ((err = s3_perform (st, r)) == 0 && r->status != 200)
    err = s3_fail_status (st, r);
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
  if ((err = s3_perform (st, r)) == 0 && r->status != 204 &&
      r->status != 200 && r->status != 404)
    err = s3_fail_status (st, r);
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
        (o.mtime_ns = s3_parse_iso_date ((char *) lm)) < 0)
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
      (enc = s3_uri_encode (full, false)) == NULL ||
      (r = calloc (1, sizeof *r)) == NULL)
    return cdp_set_error (-ENOMEM, "out of memory");
  r->method = "GET";
  do {
    /* The query's parameters in Signature V4's order (by name). */
    query = NULL;
    etoken = token ? s3_uri_encode (token, false) : NULL;
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
    err = s3_perform (st, r);
    if (err == 0 && r->status != 200)
      err = s3_no_such_bucket (r) ? 0 : s3_fail_status (st, r);
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
  if ((err = s3_perform (st, r)) == 0) {
    if (r->status == 401 || r->status == 403 || r->status >= 500)
      err = s3_fail_status (st, r);
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

  s3_http_fini (st);
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
  return credentials (st);
}

int
store_s3_open (const char *location, struct archive_store **out)
{
  struct s3 *st;
  int err;

  *out = NULL;
  if ((st = calloc (1, sizeof *st)) == NULL ||
      (st->s.location = strdup (location)) == NULL) {
    free (st);
    return cdp_set_error (-ENOMEM, "out of memory");
  }
  st->s.ops = &s3_ops;
  if ((err = s3_http_init (st)) < 0) {
    free (st->s.location);
    free (st);
    return err;
  }
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
