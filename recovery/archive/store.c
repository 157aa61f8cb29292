/* cdp archive: opening a location as a directory or an S3 bucket. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "recovery/archive/store-internal.h"

int
archive_location_is_s3 (const char *location)
{
  return strncmp (location, "s3://", 5) == 0;
}

int
archive_store_open (const char *location, struct archive_store **out)
{
  *out = NULL;
  if (location == NULL || *location == '\0')
    return cdp_set_error (-EINVAL, "archive location is empty");
  if (archive_location_is_s3 (location))
    return store_s3_open (location, out);
  if (strstr (location, "://"))
    return cdp_set_error (-EINVAL, "archive location '%s': only a directory "
                          "or s3://BUCKET/PREFIX is known", location);
  return store_dir_open (location, out);
}

void
archive_store_close (struct archive_store *s)
{
  if (s)
    s->ops->close (s);
}
