/* Every way out of the image writer leaves nothing behind: abort
 * removes the file, failures name the cause (QEMU's own message) and
 * remove the file, and no qemu-nbd or zombie is left — also when
 * qemu-nbd dies under the writer. */
#include <signal.h>

#include "common/error.h"
#include "imgwrite-test.h"

static void setup (void) { scratch_make (); }
static void teardown (void) { scratch_remove (); }
TestSuite (imgwrite_cleanup, .init = setup, .fini = teardown, .timeout = 60);

static bool
exists (const char *path)
{
  return access (path, F_OK) == 0;
}

Test (imgwrite_cleanup, abort_removes_file_and_process)
{
  char *img = in_scratch ("a.qcow2");
  uint8_t data[65536];
  struct imgw *w;

  fill_random (data, sizeof data, 5);
  cr_assert_eq (imgw_create (img, "qcow2", 4 * MiB, NULL, &w), 0, "%s",
                cdp_get_error ());
  for (int i = 0; i < 64; i++)
    cr_assert_eq (imgw_write (w, data, (uint64_t) i * sizeof data, sizeof data), 0);
  imgw_abort (w);
  cr_assert_not (exists (img));
  assert_no_helper ();
  free (img);
}

Test (imgwrite_cleanup, missing_backing_says_why)
{
  char *img = in_scratch ("b.qcow2"), *nosuch = in_scratch ("nosuch.qcow2");
  struct imgw *w = NULL;

  cr_assert_eq (imgw_create (img, "qcow2", 4 * MiB, nosuch, &w), -EIO);
  cr_assert (strstr (cdp_get_error (), "qemu-img create") &&
             strstr (cdp_get_error (), "nosuch.qcow2"), "%s", cdp_get_error ());
  cr_assert_not (exists (img));
  assert_no_helper ();
  free (nosuch);
  free (img);
}

Test (imgwrite_cleanup, refused_arguments)
{
  char *img = in_scratch ("c.img"), *base = in_scratch ("base.qcow2");
  struct imgw *w = NULL;

  cr_assert_eq (imgw_create (img, "vmdk", MiB, NULL, &w), -EINVAL);
  cr_assert (strstr (cdp_get_error (), "vmdk"));
  cr_assert_eq (imgw_create (img, "qcow2", MiB + 1, NULL, &w), -EINVAL);
  cr_assert_eq (imgw_create (img, "raw", 0, NULL, &w), -EINVAL);
  cr_assert_eq (imgw_create (img, "raw", MiB, base, &w), -EINVAL);
  cr_assert_eq (imgw_create (scratch, "raw", MiB, NULL, &w), -EISDIR);
  cr_assert_not (exists (img));
  assert_no_helper ();
  free (base);
  free (img);
}

Test (imgwrite_cleanup, tools_missing)
{
  char *img = in_scratch ("d.qcow2");
  char *path = strdup (getenv ("PATH"));
  struct imgw *w = NULL;
  int r;

  setenv ("PATH", scratch, 1);
  r = imgw_create (img, "qcow2", MiB, NULL, &w);
  setenv ("PATH", path, 1);
  free (path);
  cr_assert_eq (r, -ENOENT);
  cr_assert (strstr (cdp_get_error (), "qemu-img"), "%s", cdp_get_error ());
  cr_assert_not (exists (img));
  assert_no_helper ();
  free (img);
}

/* qemu-nbd that fails at start: its words reach the error. */
Test (imgwrite_cleanup, qemu_nbd_fails_to_start)
{
  char *img = in_scratch ("g.qcow2"), *fake = in_scratch ("qemu-nbd");
  char *path = strdup (getenv ("PATH")), *newpath;
  struct imgw *w = NULL;
  int r;

  cr_assert_eq (sh ("printf '#!/bin/sh\\necho \"qemu-nbd: no luck today\" >&2\\nexit 1\\n' "
                    "> '%s' && chmod +x '%s'", fake, fake), 0);
  cr_assert (asprintf (&newpath, "%s:%s", scratch, path) > 0);
  setenv ("PATH", newpath, 1);
  r = imgw_create (img, "qcow2", MiB, NULL, &w);
  setenv ("PATH", path, 1);
  cr_assert_eq (r, -EIO, "%d %s", r, cdp_get_error ());
  cr_assert (strstr (cdp_get_error (), "no luck today"), "%s", cdp_get_error ());
  cr_assert_not (exists (img));
  assert_no_helper ();
  free (newpath);
  free (path);
  free (fake);
  free (img);
}

Test (imgwrite_cleanup, stale_file_replaced)
{
  char *img = in_scratch ("e.qcow2");
  struct imgw *w;

  cr_assert_eq (sh ("echo stale > '%s'", img), 0);
  cr_assert_eq (imgw_create (img, "qcow2", MiB, NULL, &w), 0, "%s",
                cdp_get_error ());
  cr_assert_eq (imgw_finish (w), 0, "%s", cdp_get_error ());
  cr_assert_eq (sh ("qemu-img check -q '%s'", img), 0);
  assert_no_helper ();
  free (img);
}

/* pid of the qemu-nbd serving a file in the scratch directory. */
static pid_t
our_qemu_nbd (void)
{
  char cmd[256];
  FILE *f;
  int pid = 0;

  snprintf (cmd, sizeof cmd, "ps --ppid %d -o pid=,comm= | awk '$2 == \"qemu-nbd\" { print $1 }'",
            (int) getpid ());
  f = popen (cmd, "r");
  cr_assert_not_null (f);
  cr_assert_eq (fscanf (f, "%d", &pid), 1);
  pclose (f);
  return pid;
}

Test (imgwrite_cleanup, qemu_nbd_dies_under_writer)
{
  char *img = in_scratch ("f.qcow2");
  uint8_t *data = malloc (MiB);
  struct imgw *w;
  int r = 0;

  fill_random (data, MiB, 9);
  cr_assert_eq (imgw_create (img, "qcow2", 64 * MiB, NULL, &w), 0, "%s",
                cdp_get_error ());
  cr_assert_eq (kill (our_qemu_nbd (), SIGKILL), 0);
  for (int i = 0; r == 0 && i < 64; i++)
    r = imgw_write (w, data, (uint64_t) i * MiB, MiB);
  if (r == 0)
    r = imgw_finish (w);
  else {
    cr_assert_eq (imgw_write (w, data, 0, 512), r, "the error is not sticky");
    cr_assert_eq (imgw_finish (w), r);
  }
  cr_assert_lt (r, 0);
  cr_assert (strstr (cdp_get_error (), "f.qcow2"), "%s", cdp_get_error ());
  cr_assert_not (exists (img));
  assert_no_helper ();
  free (data);
  free (img);
}
