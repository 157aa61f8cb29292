/* cdp archive: opening a location (a directory or S3) as an archive. */
#include <errno.h>
#include <sys/stat.h>

#include "common/error.h"
#include "recovery/archive/archive-internal.h"

int
archive_open (const char *location, bool create, struct archive **out)
{
  struct archive_store *s;
  struct stat st;
  int r;

  *out = NULL;
  /* Only a push makes a directory: a reader's typo makes none. */
  if (!create && location && *location && !archive_location_is_s3 (location)
      && stat (location, &st) < 0 && errno == ENOENT)
    return cdp_set_error (-ENOENT, "no archive at %s", location);
  r = archive_store_open (location, &s);
  return r < 0 ? r : archive_open_store (s, create, out);
}
