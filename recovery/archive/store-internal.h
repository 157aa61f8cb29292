/* cdp archive: what the stores' files share.  Not part of the contract
 * (store.h). */
#ifndef CDP_ARCHIVE_STORE_INTERNAL_H
#define CDP_ARCHIVE_STORE_INTERNAL_H

#include "recovery/archive/store.h"

/* A directory (store-dir.c) and an S3 bucket (store-s3.c); location is
 * the operator's text, kept in (*out)->location.  0 or -errno with the
 * error set. */
int store_dir_open (const char *location, struct archive_store **out);
int store_s3_open (const char *location, struct archive_store **out);

#endif
