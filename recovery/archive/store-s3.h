/* cdp archive: what the S3 store's two files share: store-s3.c (the
 * store's operations, its location and credentials) and
 * store-s3-request.c (signed HTTP requests with retries, answers and
 * their errors).  Not part of the contract (store.h). */
#ifndef CDP_ARCHIVE_STORE_S3_H
#define CDP_ARCHIVE_STORE_S3_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "recovery/archive/store.h"

#define ERROR_BODY_MAX 16384

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

/* store-s3-request.c */
/* Start libcurl (once) and st's handle pool and share; 0 or -errno with
 * the error set.  s3_http_fini undoes it. */
int s3_http_init (struct s3 *st);
void s3_http_fini (struct s3 *st);
/* Run r with retries: 0 when answered (any status, in r->status), or
 * -errno with the error set when there was no usable answer. */
int s3_perform (struct s3 *st, struct s3_req *r);
/* The error (set, and returned) of an answer that is not a success:
 * 404 -ENOENT, 401/403 -EACCES, else -EIO. */
int s3_fail_status (struct s3 *st, struct s3_req *r);
/* Was r answered 404 NoSuchBucket? */
bool s3_no_such_bucket (struct s3_req *r);
/* The <Code> and <Message> of an S3 error body (either may stay ""). */
void s3_error_code (const char *body, size_t len, char *code, size_t codesz,
                    char *msg, size_t msgsz);
/* "/BUCKET" or "/BUCKET/PREFIXKEY", encoded (NULL: out of memory). */
char *s3_object_path (struct s3 *st, const char *key);
/* Percent-encoded as Signature V4 wants (NULL: out of memory). */
char *s3_uri_encode (const char *s, bool keep_slash);
/* An ISO 8601 time (a listing's LastModified) in ns; -1 if it is not. */
int64_t s3_parse_iso_date (const char *s);

#endif
