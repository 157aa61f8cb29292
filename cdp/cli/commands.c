/* The table of commands: what main.c dispatches through, what cdp
 * --help lists (by group, in this order), and the same for the
 * subcommands of cdp task. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cdp/task/task.h"
#include "cdp/cli/cli.h"
#include "cdp/cli/cli-internal.h"
#include "common/jsonfile.h"

#define LEN(a) (sizeof (a) / sizeof (a)[0])

static const struct cli_command task_commands[] = {
  { "create", cmd_task_create, "create a task (see 'cdp task create --help')",
    .args = "NAME ..." },
  { "list", cmd_task_list, "list the tasks of the store", .args = "[--json]" },
  { "show", cmd_task_show, "a task's disks and policies",
    .args = "NAME [--json]" },
  { "set", cmd_task_set, "change a task's policies, live if it is served",
    .args = "NAME [POLICY]... [--json]" },
  { "delete", cmd_task_delete, "delete a task and its history",
    .args = "NAME [--force] [--keep-archive] [--json]" },
};
const struct cli_commands cli_task_commands = { task_commands,
                                                LEN (task_commands) };

#define TASKS "Tasks"
#define POINTS "Points"
#define DATA "Data back"
#define FILES "Files"
static const struct cli_command commands[] = {
  { "task", cmd_task, "create, list, show, change and delete tasks",
    .group = TASKS, .sub = &cli_task_commands },
  { "serve", cmd_serve, "run the receivers of the tasks (the daemon)",
    .group = TASKS },
  { "status", cmd_status, "per disk: state, RPO lag, journal, base points",
    .group = TASKS },
  { "verify", cmd_verify, "check stored history for damage", .group = TASKS },
  { "resize", cmd_resize, "resize a protected disk, its history kept",
    .group = TASKS },
  { "detach", cmd_detach, "detach a protected disk, its history kept",
    .group = TASKS },
  { "points", cmd_points, "the recovery points of a disk", .group = POINTS },
  { "mark", cmd_mark, "bookmark now, with a label", .group = POINTS },
  { "lock", cmd_lock, "keep a point past every retention", .group = POINTS },
  { "unlock", cmd_lock, "let a locked point go", .group = POINTS },
  { "fold", cmd_fold, "make a base point of every disk now", .group = POINTS },
  { "archive", cmd_archive, "push, list and collect long-term archives",
    .group = POINTS, .sub = &cli_archive_commands },
  { "export", cmd_export, "serve a point over NBD", .group = DATA },
  { "restore", cmd_restore, "write a point to a standalone image",
    .group = DATA },
  { "recover", cmd_recover, "run a VM from a point while its data moves home",
    .group = DATA },
  { "ls", cmd_ls, "list a directory of a point", .group = FILES },
  { "cat", cmd_cat, "print a file of a point", .group = FILES },
  { "get", cmd_get, "copy files of a point out", .group = FILES },
};
const struct cli_commands cli_commands = { commands, LEN (commands) };

const struct cli_command *
cli_find (const struct cli_commands *table, const char *name)
{
  for (size_t i = 0; i < table->len; i++)
    if (strcmp (table->v[i].name, name) == 0)
      return &table->v[i];
  return NULL;
}

void
cli_names (const struct cli_commands *table, char *buf, size_t len)
{
  size_t n = 0;

  *buf = '\0';
  for (size_t i = 0; i < table->len && n < len; i++)
    n += (size_t) snprintf (buf + n, len - n, "%s%s", i ? "|" : "",
                            table->v[i].name);
}

/* The widest name in table, subcommands counted with their command's
 * name before them (prefix: its length and a space). */
static int
name_width (const struct cli_commands *table, int prefix)
{
  int widest = 0, w;

  for (size_t i = 0; i < table->len; i++) {
    const struct cli_command *c = &table->v[i];
    w = c->sub ? name_width (c->sub, prefix + (int) strlen (c->name) + 1)
               : prefix + (int) strlen (c->name);
    widest = w > widest ? w : widest;
  }
  return widest;
}

/* Each entry with its help under its group's heading; a command with
 * subcommands as one line each ("task create"). */
static void
print_rows (FILE *out, const struct cli_commands *table, const char *prefix,
            int width)
{
  char name[64];

  for (size_t i = 0; i < table->len; i++) {
    const struct cli_command *c = &table->v[i];
    if (c->group && (i == 0 || strcmp (c->group, table->v[i - 1].group) != 0))
      fprintf (out, "\n%s:\n", c->group);
    snprintf (name, sizeof name, "%s%s%s", prefix, c->name, c->sub ? " " : "");
    if (c->sub)
      print_rows (out, c->sub, name, width);
    else
      fprintf (out, "  %-*s  %s\n", width, name, c->help);
  }
}

void
cli_help (FILE *out)
{
  fputs ("usage: cdp [--store DIR] COMMAND ...\n"
         "       cdp --version [--json]\n", out);
  print_rows (out, &cli_commands, "", name_width (&cli_commands, 0));
  fputs ("\n"
         "The store (all tasks) is --store, else $CDP_STORE, else /var/lib/cdp.\n"
         "'cdp COMMAND --help' describes each command.\n", out);
}

void
cli_task_help (FILE *out)
{
  const struct cli_command *task = cli_find (&cli_commands, "task");
  char synopsis[128];

  fprintf (out, "usage: cdp task SUBCOMMAND ...\n%c%s:\n",
           toupper ((unsigned char) task->help[0]), task->help + 1);
  for (size_t i = 0; i < cli_task_commands.len; i++) {
    const struct cli_command *c = &cli_task_commands.v[i];
    snprintf (synopsis, sizeof synopsis, "%s %s", c->name, c->args);
    fprintf (out, "  %-24s  %s\n", synopsis, c->help);
  }
}

int
cli_run (const char *store, int argc, char **argv)
{
  const struct cli_command *c;

  if (argc < 1)
    return usage_error ("no command; see 'cdp --help'");
  if (strcmp (argv[0], "--help") == 0 || strcmp (argv[0], "help") == 0) {
    cli_help (stdout);
    return 0;
  }
  if (strcmp (argv[0], "--version") == 0) {
    if (argc > 1 && strcmp (argv[1], "--json") == 0)
    {
      json_object *o = json_object_new_object ();

      jf_add (o, "cdp", json_object_new_string (CDP_VERSION));
      return cli_print_json (o);
    }
    printf ("cdp %s\n", CDP_VERSION);
    return 0;
  }
  c = cli_find (&cli_commands, argv[0]);
  if (c == NULL)
    return usage_error ("unknown command '%s'; see 'cdp --help'", argv[0]);
  return c->run (store_path (store), argc, argv);
}
