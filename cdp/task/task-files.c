/* cdp: can the files of a task that decide what is kept be read?
 *
 * cdp serve refuses a task whose locks, base point catalog or rapid
 * recovery state cannot be read (the other tasks keep running), and
 * `cdp status` names the file: taking any of them as empty would let
 * retention reclaim locked history, delete base point images, or start
 * a copy over a disk a recovery streams into.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/rapid/rapid.h"
#include "common/cleanup.h"
#include "common/jsonfile.h"

static int
explain (const struct task *t, const char *file, int e, const char *todo,
         char *why, size_t len)
{
  snprintf (why, len, "cannot read %s/%s: %s; %s", t->dir, file,
            jf_strerror (e), e == -EPROTONOSUPPORT
            ? "run a cdp that knows its format" : todo);
  return e;
}

int
task_files_check (const struct task *t, char *why, size_t len)
{
  lock_vector locks = empty_vector;
  struct base_catalog cat;
  struct rapid_state r;
  CLEANUP_FREE char *dir = task_path (t, "base");
  int e;

  e = locks_load (t, &locks);
  lock_vector_reset (&locks);
  if (e < 0)
    return explain (t, "locks.json", e, "restore it from a backup or repair "
                    "it (removing it unlocks every point)", why, len);
  e = -ENOMEM;
  if (dir) {
    e = catalog_load (dir, false, &cat);
    catalog_free (&cat);
  }
  if (e < 0)
    return explain (t, "base/catalog.json", e, "restore it from a backup "
                    "(removing it moves every base point image to "
                    "base/quarantine/)", why, len);
  e = rapid_state_load (t, &r);
  rapid_state_clear (&r);
  if (e < 0 && e != -ENOENT)
    return explain (t, "recover.json", e, "restore it from a backup, or "
                    "remove it if no rapid recovery of this task runs",
                    why, len);
  return 0;
}
