/* cdp archive: opening a location (a directory or S3) as an archive. */
#include "recovery/archive/archive-internal.h"

int
archive_open (const char *location, bool create, struct archive **out)
{
  struct archive_store *s;
  int r;

  *out = NULL;
  r = archive_store_open (location, &s);
  return r < 0 ? r : archive_open_store (s, create, out);
}
