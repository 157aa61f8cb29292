/* cdp/cli: the commands.  Each parses its arguments, does its work
 * through the other parts, and prints: one line on stderr when it fails. */
#ifndef CDP_CLI_H
#define CDP_CLI_H

#include "cdp/task/task.h"

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
int cmd_task_set (const char *store, int argc, char **argv); /* cmd-task-set.c */
int cmd_serve (const char *store, int argc, char **argv);
int cmd_status (const char *store, int argc, char **argv);
int cmd_points (const char *store, int argc, char **argv);
int cmd_export (const char *store, int argc, char **argv);
int cmd_restore (const char *store, int argc, char **argv);
int cmd_recover (const char *store, int argc, char **argv);
int cmd_mark (const char *store, int argc, char **argv);
int cmd_lock (const char *store, int argc, char **argv);
int cmd_fold (const char *store, int argc, char **argv);
int cmd_ls (const char *store, int argc, char **argv);
int cmd_cat (const char *store, int argc, char **argv);
int cmd_get (const char *store, int argc, char **argv);
int cmd_verify (const char *store, int argc, char **argv);  /* cmd-verify.c */

#endif
