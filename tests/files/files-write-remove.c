/* files_writer_remove (what a cancelled cdp get does): the partial tree
 * a walk wrote is removed whole, and nothing a symlink in it points to
 * is touched; a DEST that was never created leaves its directory as it
 * was. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "recovery/files/files.h"

static char dir[] = "/tmp/cdp-remove-XXXXXX";

static void
setup (void)
{
  cr_assert_not_null (mkdtemp (dir));
}

static void
teardown (void)
{
  char cmd[128];

  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  (void) !system (cmd);
}

static struct files_entry
ent (const char *name, uint32_t mode, const char *target, uint64_t size)
{
  return (struct files_entry) { .name = (char *) name, .target = (char *) target,
                                .mode = mode, .size = size, .nlink = 1,
                                .mtime_ns = 1000000000 };
}

static void
path (char *buf, const char *rel)
{
  snprintf (buf, 4096, "%s/%s", dir, rel);
}

TestSuite (remove, .init = setup, .fini = teardown);

Test (remove, partial_tree_gone_link_targets_kept)
{
  const struct files_walk_ops *ops = &files_writer_ops;
  struct files_writer *w;
  struct files_entry e;
  char dest[4096], outside[4096], kept[4096];

  path (outside, "outside");
  path (kept, "outside/kept");
  cr_assert_eq (mkdir (outside, 0755), 0);
  FILE *f = fopen (kept, "w");
  cr_assert_not_null (f);
  fputs ("keep me\n", f);
  fclose (f);

  path (dest, "dest");
  cr_assert_eq (files_writer_new (dest, "/top", &w), 0);
  cr_assert_eq (ops->enter (w, (e = ent ("top", S_IFDIR | 0555, NULL, 0), &e)), 0);
  cr_assert_eq (ops->symlink (w, (e = ent ("out", S_IFLNK | 0777, outside, 0), &e)), 0);
  cr_assert_eq (ops->enter (w, (e = ent ("done", S_IFDIR | 0500, NULL, 0), &e)), 0);
  cr_assert_eq (ops->file (w, (e = ent ("whole", S_IFREG | 0400, NULL, 3), &e)), 0);
  cr_assert_eq (ops->sink.data (w, "abc", 3), 0);
  cr_assert_eq (ops->file_end (w, NULL), 0);
  cr_assert_eq (ops->leave (w, NULL), 0);           /* read-only from now */
  cr_assert_eq (ops->enter (w, (e = ent ("sub", S_IFDIR | 0500, NULL, 0), &e)), 0);
  cr_assert_eq (ops->file (w, (e = ent ("half", S_IFREG | 0400, NULL, 100), &e)), 0);
  cr_assert_eq (ops->sink.data (w, "0123456789", 10), 0);
  /* cancelled here: inside sub, in the middle of half */
  cr_assert_eq (files_writer_remove (w), 0);
  files_writer_free (w);

  struct stat st;
  cr_assert_eq (lstat (dest, &st), -1, "the partial tree is gone");
  cr_assert_eq (stat (kept, &st), 0, "what a symlink in it pointed to is kept");
  cr_assert_eq (st.st_size, 8);
}

Test (remove, nothing_created_nothing_removed)
{
  struct files_writer *w;
  char dest[4096], cmd[4200];

  path (dest, "existing");
  cr_assert_eq (mkdir (dest, 0755), 0);
  /* DEST exists as a directory: the walk would go to DEST/top. */
  cr_assert_eq (files_writer_new (dest, "/top", &w), 0);
  cr_assert_eq (files_writer_remove (w), 0);
  files_writer_free (w);
  snprintf (cmd, sizeof cmd, "test -d %s", dest);
  cr_assert_eq (system (cmd), 0, "DEST itself is kept");
}
