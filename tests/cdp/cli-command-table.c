/* The table of commands (cdp/cli/commands.c): every entry has a name, a
 * handler and a one-line help; names are unique in each table; cdp
 * --help and cdp task --help list every entry; an unknown command or
 * task subcommand is a usage error (exit 2, one line on stderr). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"

static void
check_entries (const struct cli_commands *table, bool top)
{
  cr_assert_gt (table->len, 0);
  for (size_t i = 0; i < table->len; i++) {
    const struct cli_command *c = &table->v[i];
    cr_assert (c->name && *c->name, "entry %zu has no name", i);
    cr_assert (c->run, "%s has no handler", c->name);
    cr_assert (c->help && *c->help, "%s has no help line", c->name);
    cr_assert_null (strchr (c->help, '\n'), "%s: help is one line", c->name);
    cr_assert (!top || (c->group && *c->group), "%s has no group", c->name);
    cr_assert (top || (c->args && *c->args), "%s has no arguments", c->name);
    for (size_t k = 0; k < i; k++)
      cr_assert_str_neq (table->v[k].name, c->name, "%s is in the table twice",
                         c->name);
    cr_assert_eq (cli_find (table, c->name), c);
  }
}

Test (cli_table, entries_complete_and_unique)
{
  check_entries (&cli_commands, true);
  check_entries (&cli_task_commands, false);
  cr_assert_eq (cli_find (&cli_commands, "task")->sub, &cli_task_commands);
}

/* What fn prints, as a string (malloc'd). */
static char *
printed (void (*fn) (FILE *))
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);

  cr_assert_not_null (f);
  fn (f);
  fclose (f);
  return buf;
}

/* Is there a line "  name  ..." (the name, then spaces) in text? */
static bool
lists (const char *text, const char *name)
{
  size_t n = strlen (name);

  for (const char *p = text; (p = strstr (p, name)) != NULL; p++)
    if (p >= text + 2 && p[-1] == ' ' && p[-2] == ' ' &&
        (p == text + 2 || p[-3] == '\n') && p[n] == ' ')
      return true;
  return false;
}

Test (cli_table, help_lists_every_command)
{
  char *help = printed (cli_help), *task_help = printed (cli_task_help);
  char name[64];

  for (size_t i = 0; i < cli_commands.len; i++) {
    const struct cli_command *c = &cli_commands.v[i];
    cr_assert (strstr (help, c->group), "cdp --help lacks group %s", c->group);
    if (c->sub)
      continue;
    cr_assert (lists (help, c->name), "cdp --help does not list %s:\n%s",
               c->name, help);
  }
  for (size_t i = 0; i < cli_task_commands.len; i++) {
    const char *sub = cli_task_commands.v[i].name;
    snprintf (name, sizeof name, "task %s", sub);
    cr_assert (lists (help, name), "cdp --help does not list %s", name);
    cr_assert (lists (task_help, sub), "cdp task --help does not list %s:\n%s",
               sub, task_help);
  }
  free (help);
  free (task_help);
}

Test (cli_table, unknown_command_is_usage_error, .init = cr_redirect_stderr)
{
  char *argv[] = { "nosuch", NULL };

  cr_assert_eq (cli_run ("/nonexistent", 1, argv), EXIT_USAGE);
  fflush (stderr);
  cr_assert_stderr_eq_str ("cdp: unknown command 'nosuch'; see 'cdp --help'\n");
}

Test (cli_table, unknown_task_subcommand_is_usage_error,
      .init = cr_redirect_stderr)
{
  char *argv[] = { "task", "nosuch", NULL };

  cr_assert_eq (cli_run ("/nonexistent", 2, argv), EXIT_USAGE);
  fflush (stderr);
  cr_assert_stderr_eq_str ("cdp: unknown task command 'nosuch'\n");
}

Test (cli_table, no_command_is_usage_error, .init = cr_redirect_stderr)
{
  char *argv[] = { NULL };

  cr_assert_eq (cli_run (NULL, 0, argv), EXIT_USAGE);
}
