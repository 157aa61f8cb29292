/* When what the caller writes to fails in the middle of a file (the
 * reader of cdp get --tar's standard output went away: -EPIPE), the
 * walk or read ends with that error at once: the sandboxed child, which
 * waits for its next request, is killed, not waited for as if its own
 * socket had ended; and the next call says the reader is gone. */
#include <signal.h>
#include <unistd.h>

#include "files-test.h"

static char dir[] = "/tmp/cdp-files-epipe-XXXXXX";
static struct mem_disk disk;

static void
setup (void)
{
  char img[64];

  cr_assert_not_null (mkdtemp (dir));
  shell ("cd %s && mkdir -p src/d && head -c 3000000 /dev/urandom > src/d/big && "
         "echo after > src/d/zz && mkfs.ext4 -q -F -b 4096 -d src fs.img 16M", dir);
  snprintf (img, sizeof img, "%s/fs.img", dir);
  load_disk (img, &disk);
}

static void
teardown (void)
{
  shell ("rm -rf %s", dir);
  free (disk.buf);
}

static int
broken_pipe (void *o, const void *buf, size_t len)
{
  (*(int *) o)++;
  return -EPIPE;
}

static int ok_entry (void *o, const struct files_entry *e) { return 0; }
static int ok_hole (void *o, uint64_t len) { return 0; }

TestSuite (epipe, .init = setup, .fini = teardown, .timeout = 60);

Test (epipe, walk_ends_with_the_sinks_error)
{
  struct files_walk_ops ops = {
    .enter = ok_entry, .leave = ok_entry, .file = ok_entry, .file_end = ok_entry,
    .hardlink = ok_entry, .symlink = ok_entry, .special = ok_entry,
    .sink = { .data = broken_pipe, .hole = ok_hole },
  };
  struct files *f = attach (&disk);
  int calls = 0, pid = files_pid (f);

  cr_assert_eq (files_walk (f, "/d", &ops, &calls), -EPIPE, "%s", files_error (f));
  cr_assert_eq (calls, 1, "the walk went on after the error");
  cr_assert_eq (kill (pid, 0), -1, "the child is still there");
  cr_assert_eq (files_list (f, "/d", &(files_entry_vector) empty_vector), -EPROTO);
  files_stop (f);
}

Test (epipe, read_ends_with_the_sinks_error)
{
  struct files_sink sink = { .data = broken_pipe };
  struct files *f = attach (&disk);
  int calls = 0;

  cr_assert_eq (files_read (f, "/d/big", &sink, &calls, NULL), -EPIPE, "%s",
                files_error (f));
  cr_assert_eq (calls, 1);
  files_stop (f);
}
