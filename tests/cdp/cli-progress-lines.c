/* The --progress lines (cdp/cli/progress.h): with --json each is one
 * JSON object on stdout with "version" first, "event": "progress", the
 * phase, done, total (null when unknown) and unit; a phase writes a
 * line at its start (done 0) and at its end (its done), and between
 * them no more than one per CLI_PROGRESS_INTERVAL_NS; without
 * --progress nothing is written.  A SIGTERM sent to the process after
 * cli_cancel_init is seen by cli_cancelled and cli_cancel_wait, and
 * the process lives on. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <json-c/json_object_iterator.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli-internal.h"
#include "cdp/cli/progress.h"
#include "common/timeutil.h"

/* Run fn with stdout going to a file; return what it wrote. */
static char *
capture (void (*fn) (void *), void *arg)
{
  FILE *f = tmpfile ();
  int saved = dup (1);
  char *buf;
  long n;

  cr_assert_not_null (f);
  fflush (stdout);
  dup2 (fileno (f), 1);
  fn (arg);
  fflush (stdout);
  dup2 (saved, 1);
  close (saved);
  n = lseek (fileno (f), 0, SEEK_END);
  cr_assert_geq (n, 0);
  buf = calloc (1, (size_t) n + 1);
  cr_assert_eq (pread (fileno (f), buf, (size_t) n, 0), n);
  fclose (f);
  return buf;
}

struct run {
  bool on;
  uint64_t n;
  int64_t elapsed;
};

static void
phases (void *opaque)
{
  struct run *r = opaque;
  struct cli_progress pr;
  int64_t t0 = time_mono_ns ();

  cli_progress_init (&pr, "test", r->on, true);
  cli_progress_start (&pr, "copy", "bytes", (int64_t) r->n);
  for (uint64_t i = 1; i <= r->n; i++)
    cli_progress_update (&pr, i);
  cli_progress_end (&pr, r->n);
  cli_progress_start (&pr, "scan", "records", -1);
  cli_progress_end (&pr, 7);
  r->elapsed = time_mono_ns () - t0;
}

Test (cli_progress, json_lines_in_order)
{
  struct run r = { .on = true, .n = 3000000 };
  char *out = capture (phases, &r), *save = NULL;
  json_object *o, *first = NULL, *last = NULL;
  int64_t prev = -1;
  size_t lines = 0;

  for (char *l = strtok_r (out, "\n", &save); l; l = strtok_r (NULL, "\n", &save)) {
    o = json_tokener_parse (l);
    cr_assert_not_null (o, "not JSON: %s", l);
    struct json_object_iterator it = json_object_iter_begin (o);
    cr_assert_str_eq (json_object_iter_peek_name (&it), "version");
    cr_assert_eq (json_object_get_int (json_object_object_get (o, "version")),
                  CDP_JSON_VERSION);
    cr_assert_str_eq (json_object_get_string (json_object_object_get (o, "event")),
                      "progress");
    if (strcmp (json_object_get_string (json_object_object_get (o, "phase")),
                "copy") == 0) {
      int64_t done = json_object_get_int64 (json_object_object_get (o, "done"));
      cr_assert_geq (done, prev, "done went back: %s", l);
      prev = done;
      cr_assert_eq (json_object_get_int64 (json_object_object_get (o, "total")),
                    (int64_t) r.n);
      cr_assert_str_eq (json_object_get_string (json_object_object_get (o, "unit")),
                        "bytes");
    }
    if (first == NULL)
      first = o;
    else if (last != first)
      json_object_put (last);
    last = o;
    lines++;
  }
  cr_assert_eq (json_object_get_int64 (json_object_object_get (first, "done")), 0);
  /* start + end of each phase, and the updates the clock allowed */
  cr_assert_geq (lines, 4);
  cr_assert_leq (lines, 4 + (size_t) (r.elapsed / CLI_PROGRESS_INTERVAL_NS) + 1);
  cr_assert_eq (prev, (int64_t) r.n);
  cr_assert_str_eq (json_object_get_string (json_object_object_get (last, "phase")),
                    "scan");
  cr_assert (json_object_is_type (json_object_object_get (last, "total"),
                                  json_type_null));
  cr_assert (json_object_object_get_ex (last, "total", NULL));
  cr_assert_eq (json_object_get_int64 (json_object_object_get (last, "done")), 7);
  json_object_put (first);
  if (last != first)
    json_object_put (last);
  free (out);
}

Test (cli_progress, off_writes_nothing)
{
  struct run r = { .on = false, .n = 1000 };
  char *out = capture (phases, &r);

  cr_assert_str_eq (out, "");
  free (out);
}

Test (cli_progress, sigterm_cancels)
{
  cr_assert_eq (cli_cancel_init (), 0);
  cr_assert_geq (cli_cancel_fd (), 0);
  cr_assert_not (cli_cancelled ());
  cr_assert_not (cli_cancel_wait (1000000));
  kill (getpid (), SIGTERM);
  cr_assert (cli_cancel_wait (60 * 1000000000LL));
  cr_assert (cli_cancelled ());
}
