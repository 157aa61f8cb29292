/* A push judges a collection's record "ended" from the collection's pid
 * only when the record is of this very host: same host name and same
 * boot.  A running collection on another host that has the same name
 * (cloned machines, containers), whose pid is no process here, is still
 * running; so is one whose record says no boot (it cannot be told). */
#include <limits.h>

#include "tests/archive/archive-test.h"

static bool
parse (const char *host, const char *boot)
{
  char body[512];
  bool running = false;
  int n;

  /* A pid no process has: above the kernel's pid_max (4194304). */
  n = snprintf (body, sizeof body, "{\"start\": 1, \"running\": true, "
                "\"host\": \"%s\", \"pid\": 2000000000%s%s%s}", host,
                boot ? ", \"boot\": \"" : "", boot ? boot : "",
                boot ? "\"" : "");
  cr_assert_eq (archive_gc_record_parse (body, (size_t) n, &running), 0);
  return running;
}

Test (archive_gc_record_host, same_name_other_host_runs)
{
  char host[HOST_NAME_MAX + 1] = "", *boot = NULL;
  size_t len;

  gethostname (host, sizeof host - 1);
  cr_assert_eq (fio_read ("/proc/sys/kernel/random/boot_id", &boot,
                               &len), 0);
  boot[strcspn (boot, "\n")] = '\0';
  /* This host, this boot, the pid gone: ended. */
  cr_assert (!parse (host, boot));
  /* The same name on another machine (another boot): running. */
  cr_assert (parse (host, "00000000-0000-0000-0000-000000000000"),
             "a collection of another host of the same name was judged "
             "ended from a pid of this one");
  cr_assert (parse (host, NULL));
  cr_assert (parse ("another-host", boot));
  free (boot);
}
