/* cdp/cli: the commands.  Each parses its arguments, does its work
 * through the other parts, and prints: one line on stderr when it fails.
 * main.c runs them through the table in commands.c. */
#ifndef CDP_CLI_H
#define CDP_CLI_H

#include <stdio.h>

#include "cdp/task/task.h"

/* ---- commands.c: the table of commands ------------------------------------ */

struct cli_commands;
/* One command (or one subcommand of cdp task).  run gets the command's
 * own arguments (argv[0] is its name), prints its own --help, and
 * returns the exit code: 0, 1 (runtime failure) or 2 (usage error). */
struct cli_command {
  const char *name;
  int (*run) (const char *store, int argc, char **argv);
  const char *help;               /* one line, for cdp --help */
  const char *group;              /* heading it is listed under */
  const char *args;               /* its arguments, in cdp task --help */
  const struct cli_commands *sub; /* its subcommands (cdp task), or NULL */
};
struct cli_commands {
  const struct cli_command *v;
  size_t len;
};
extern const struct cli_commands cli_commands;      /* cdp COMMAND */
extern const struct cli_commands cli_task_commands; /* cdp task SUBCOMMAND */
extern const struct cli_commands cli_archive_commands; /* cdp archive ... */

/* The entry named name, or NULL. */
const struct cli_command *cli_find (const struct cli_commands *table,
                                    const char *name);
/* cdp --help, cdp task --help: generated from the tables. */
void cli_help (FILE *out);
void cli_task_help (FILE *out);
/* The names of the table's entries: "create|list|show|set|delete". */
void cli_names (const struct cli_commands *table, char *buf, size_t len);
/* Run argv[0] (after --store: store, not yet defaulted) with its
 * arguments: the exit code.  --help and help print cli_help; an
 * unknown command is a usage error. */
int cli_run (const char *store, int argc, char **argv);

/* ---- status-rpo.c: RPO setting and durability lag in cdp status -------- */

/* Add a line to the status object's "warnings" (made when first needed). */
void status_warning (struct json_object *status, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* Add "rpo_s" to a task's status object (what serve runs by, if served;
 * else task.json's), and to each of its disks "durability_lag_s" from
 * the heartbeat state (null with "durability_lag_reason" when no live
 * serve reports it); a lag over the RPO is a warning (cmd-status.c
 * prints them). */
void rpo_status (const struct task *t, struct json_object *status,
                 struct json_object *state, bool served);

/* ---- commands ------------------------------------------------------------ */
int cmd_task (const char *store, int argc, char **argv);
int cmd_task_create (const char *store, int argc, char **argv);
int cmd_task_list (const char *store, int argc, char **argv);
int cmd_task_show (const char *store, int argc, char **argv);
int cmd_task_delete (const char *store, int argc, char **argv);
int cmd_task_set (const char *store, int argc, char **argv); /* cmd-task-set.c */
int cmd_serve (const char *store, int argc, char **argv);   /* cmd-serve.c */
int cmd_status (const char *store, int argc, char **argv);
int cmd_points (const char *store, int argc, char **argv);
int cmd_export (const char *store, int argc, char **argv);
int cmd_restore (const char *store, int argc, char **argv);
int cmd_recover (const char *store, int argc, char **argv);
int cmd_mark (const char *store, int argc, char **argv);
int cmd_resize (const char *store, int argc, char **argv);
int cmd_detach (const char *store, int argc, char **argv);
int cmd_lock (const char *store, int argc, char **argv);
int cmd_fold (const char *store, int argc, char **argv);
int cmd_ls (const char *store, int argc, char **argv);
int cmd_cat (const char *store, int argc, char **argv);
int cmd_get (const char *store, int argc, char **argv);
int cmd_verify (const char *store, int argc, char **argv);  /* cmd-verify.c */
int cmd_archive (const char *store, int argc, char **argv); /* cmd-archive.c */

#endif
