/* The child that parses guest data is sandboxed: nobody (when the test
 * runs as root), no capabilities, no new privileges, a seccomp filter,
 * only its socket and stderr open; and it still answers. */
#include <dirent.h>
#include <unistd.h>

#include "files-test.h"

static char *
status_field (int pid, const char *key)
{
  char path[64], line[512];
  static char value[512];
  FILE *f;

  snprintf (path, sizeof path, "/proc/%d/status", pid);
  f = fopen (path, "r");
  cr_assert_not_null (f);
  value[0] = 0;
  while (fgets (line, sizeof line, f))
    if (strncmp (line, key, strlen (key)) == 0 && line[strlen (key)] == ':') {
      snprintf (value, sizeof value, "%s", line + strlen (key) + 1 + strspn (line + strlen (key) + 1, " \t"));
      value[strcspn (value, "\n")] = 0;
    }
  fclose (f);
  return value;
}

Test (files, sandboxed_child)
{
  struct mem_disk d = { .size = 1 << 20 };
  struct files *f;
  files_entry_vector v = empty_vector;
  char fdpath[64];
  struct dirent *de;
  DIR *dir;
  int pid, nfds = 0;

  d.buf = calloc (1, d.size);
  f = attach (&d);
  pid = files_pid (f);
  cr_assert_gt (pid, 0);

  cr_assert_str_eq (status_field (pid, "NoNewPrivs"), "1");
  cr_assert_str_eq (status_field (pid, "Seccomp"), "2", "no seccomp filter");
  cr_assert_str_eq (status_field (pid, "CapEff"), "0000000000000000");
  cr_assert_str_eq (status_field (pid, "CapPrm"), "0000000000000000");
  if (geteuid () == 0)
    cr_assert_eq (strncmp (status_field (pid, "Uid"), "65534", 5), 0,
                  "the child runs as uid %s", status_field (pid, "Uid"));

  /* Open descriptors: stderr and the socket only. */
  snprintf (fdpath, sizeof fdpath, "/proc/%d/fd", pid);
  dir = opendir (fdpath);
  cr_assert_not_null (dir);
  while ((de = readdir (dir)))
    if (de->d_name[0] != '.') {
      cr_assert (strcmp (de->d_name, "2") == 0 || strcmp (de->d_name, "3") == 0,
                 "the child holds descriptor %s", de->d_name);
      nfds++;
    }
  closedir (dir);
  cr_assert_leq (nfds, 2);

  /* An all-zero disk: no file system, and the answer says so. */
  cr_assert_eq (files_list (f, "/", &v), -EMEDIUMTYPE);
  cr_assert (strstr (files_error (f), "the disk holds nothing"),
             "message: %s", files_error (f));
  d.buf[200000] = 1;                /* not empty: a file system cdp does not know */
  cr_assert_eq (files_list (f, "/", &v), -EMEDIUMTYPE, "the probe is remembered");
  files_entry_vector_clear (&v);
  files_stop (f);
  free (d.buf);
}
