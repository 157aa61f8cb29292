/* Out of memory makes path_join and task_path return NULL (they do not
 * abort), and task_load -ENOMEM: a child process limits its address
 * space (RLIMIT_AS) to a little more than it uses, then joins a name
 * larger than that limit leaves room for. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cdp/task/task.h"

#define HUGE_NAME (256u << 20)          /* 256 MiB */

/* The address space the process maps now, in bytes. */
static unsigned long long
mapped_now (void)
{
  unsigned long long pages = 0;
  FILE *f = fopen ("/proc/self/statm", "r");

  if (f == NULL || fscanf (f, "%llu", &pages) != 1)
    _exit (10);
  fclose (f);
  return pages * (unsigned long long) sysconf (_SC_PAGESIZE);
}

/* In the child: 0 when every call failed cleanly; else which did not. */
static int
child (void)
{
  char *huge = malloc (HUGE_NAME + 1);
  struct task t = { .dir = (char *) "/nonexistent/store/tasks/t" };
  struct task *loaded;
  struct rlimit rl;

  if (huge == NULL)
    return 11;
  memset (huge, 'a', HUGE_NAME);
  huge[HUGE_NAME] = 0;
  rl.rlim_cur = rl.rlim_max = mapped_now () + (64u << 20);
  if (setrlimit (RLIMIT_AS, &rl) < 0)
    return 12;
  if (path_join ("/store", huge) != NULL)
    return 1;
  if (task_path (&t, huge) != NULL)
    return 2;
  /* A store path no allocation can hold: task_load fails, -ENOMEM. */
  if (task_load (huge, "t", &loaded) != -ENOMEM)
    return 3;
  return 0;
}

Test (task_path_enomem, returns_null)
{
  int status;
  pid_t pid;

  fflush (NULL);
  pid = fork ();
  cr_assert_geq (pid, 0);
  if (pid == 0)
    _exit (child ());
  cr_assert_eq (waitpid (pid, &status, 0), pid);
  cr_assert (WIFEXITED (status), "the child did not exit (signal %d): an "
             "allocation that failed aborted",
             WIFSIGNALED (status) ? WTERMSIG (status) : 0);
  cr_assert_eq (WEXITSTATUS (status), 0, "check %d of the child failed",
                WEXITSTATUS (status));
}
