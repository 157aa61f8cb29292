/* cdp/hv: the hypervisor drivers.  A task's mode (task.json "mode")
 * names the driver that knows its hypervisor: which options `task
 * create` takes and how it finds the disks, what watches protection
 * while `cdp serve` runs, where the receiver's socket lives, whether the
 * guest's file systems can be frozen for a bookmark, and what rapid
 * recovery does with the VM.  The rest of cdp asks the task's driver
 * (hv_of); nothing outside cdp/hv tests the mode.
 *
 *   manual/   an NBD writer cdp does not see (--size, --listen)
 *   qmp/      QEMU's monitor: blockdev-mirror jobs (--qmp, --node)
 *   libvirt/  a libvirt domain: block copy jobs (--domain)
 *
 * protect.h is the other half of the contract: what a protector thread
 * reports to the daemon.  A driver is a constant table; hv.c lists them.
 * Thread rules: the tables never change; hv_create belongs to the
 * thread running task create.
 */
#ifndef CDP_HV_H
#define CDP_HV_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/vector.h"
#include "cdp/task/task.h"

/* ---- task create, as the drivers see it -------------------------------- */

/* One option of a driver as `task create` was given it. */
struct hv_arg {
  const char *name;         /* the long option, borrowed from its driver */
  char *arg;                /* its value (malloc'd), or NULL */
};
DEFINE_VECTOR_TYPE (hv_arg_vector, struct hv_arg)

/* A task being created: the options every mode shares are in t (name,
 * dir, listen, lo, policy); the drivers' own are in given, whichever
 * mode is chosen in the end. */
struct hv_create {
  struct task *t;
  hv_arg_vector given;
};

/* A driver's create_disks: add disk name of size bytes to t, its id
 * the next.  EXIT_OK, or EXIT_FAIL said (out of memory). */
int hv_add_disk (struct task *t, const char *name, uint64_t size);
/* The last value given for --name, or NULL (not given). */
const char *hv_create_arg (const struct hv_create *c, const char *name);
/* Every value given for --name, in order: borrowed strings appended to
 * out.  0, or -ENOMEM. */
int hv_create_args (const struct hv_create *c, const char *name,
                     string_vector *out);

struct hv_frozen;                   /* a driver's frozen guest */
struct rapid;                       /* cdp/rapid/rapid.h */

/* What rapid recovery does with the VM in a mode where cdp starts it on
 * the point itself: `cdp recover` takes one of --as NEW and --in-place,
 * and recover.json says "as" or "in-place".  (A mode without this leaves
 * the VM to the operator: no --as or --in-place, recover.json says
 * "qmp", and cdp serves the point and prints how to boot and stream
 * it.)  Each returns EXIT_OK, or EXIT_FAIL having said why in one line
 * (start: having recorded the recovery failed). */
struct hv_recover {
  /* A new recovery, before anything is made: record in c->r.domain the
   * VM it will run (as, or the task's own), and refuse an as taken. */
  int (*plan) (struct rapid *c, const char *as);
  /* Step 4: serve the point (rapid_start_export), create the overlays
   * (rapid_create_overlays) and start the VM on them; c->l is the VM. */
  int (*start) (struct rapid *c, const char *as);
  /* --resume: serve the point again (rapid_start_export) and start the
   * recorded VM if it is off; c->l is the VM. */
  int (*resume) (struct rapid *c);
};

struct hv_driver {
  const char *name;                 /* task.json "mode", task show */

  /* ---- cdp task create ---- */
  /* After "cdp task create NAME ": its form of the command (lines after
   * the first start with 28 spaces); help: lines said after every
   * mode's form, or NULL. */
  const char *create_usage, *create_help;
  /* Its own options, ending { 0 }: name and has_arg only (task create
   * numbers them); an option several drivers take is given to each. */
  const struct option *create_options;
  /* One of its options as getopt_long gives it: check the value, keep
   * in c->t what the task keeps whatever the mode.  EXIT_OK, or
   * EXIT_USAGE said.  May be NULL. */
  int (*create_opt) (struct hv_create *c, const char *name, const char *arg);
  /* Before anything is asked of a hypervisor, whichever mode is chosen:
   * its options, as far as they were given, make sense.  EXIT_OK, or
   * EXIT_USAGE said.  May be NULL. */
  int (*create_check) (const char *store, const struct hv_create *c);
  /* Do the options given ask for this mode?  What it wants, for the
   * error when no mode is asked for: "--qmp and --node". */
  bool (*create_wanted) (const struct hv_create *c);
  const char *create_needs;
  /* The mode is chosen: fill c->t's disks (and what the task keeps of
   * the hypervisor).  EXIT_OK, or EXIT_USAGE / EXIT_FAIL said. */
  int (*create_disks) (struct hv_create *c);

  /* ---- cdp serve ---- */
  /* What a disk shows until something happens: "starting" while its
   * protector has not begun, "listening" when none will. */
  const char *initial_state;
  /* The protector thread (arg: the struct served of protect.h), which
   * starts and watches each disk's copy job and reports through
   * protect.h; NULL: nothing watches, every write is history. */
  void *(*protector) (void *served);
  /* Protection begins with the job's full copy of each disk, and
   * begins again so after any gap: the first base point holds that
   * copy and the journal before it is reclaimed at once (maint.c); a
   * gap, a lost journal tail too, ends at the next copy's READY.
   * false: the writer's writes are the history from the start, and
   * after a lost tail the writer is told to write again (a RESUME at
   * once, receiver.c). */
  bool initial_copy;
  /* The task's directory for the unix sockets QEMU connects to (the
   * receiver's, rapid recovery's export): "run" when QEMU runs as root
   * or as cdp's user, "qemu" when it runs as a user of its own: that
   * directory alone is opened to QEMU's group (socket_grant; the
   * protector and cdp recover grant it, knowing QEMU's user). */
  const char *socket_dir;

  /* cdp resize and cdp detach: the protector takes them (protect.h
   * protect_request): it ends the disk's copy and has the hypervisor
   * resize the disk (recording its size from then on in task.json, and
   * copying it again) or detach it (its history stays). */
  bool disk_requests;

  /* ---- cdp task show ---- */
  const char *show_note;            /* the "note:" line, or NULL */

  /* ---- cdp mark --freeze; NULL: the mode cannot ---- */
  /* Freeze the guest's file systems for a consistent bookmark: the
   * handle to thaw with, msg saying what was frozen ("froze 2 file
   * systems of web"); or NULL, msg saying why not ("not frozen: ..."). */
  struct hv_frozen *(*freeze) (const struct task *t, char *msg, size_t len);
  /* Thaw and free f: 0, or -errno with msg saying why. */
  int (*thaw) (struct hv_frozen *f, char *msg, size_t len);

  /* ---- cdp recover; NULL: the operator boots the VM ---- */
  const struct hv_recover *recover;
};

/* ---- hv.c: the table ---------------------------------------------------- */

/* The driver of a mode's name (NULL: no such mode), of a task. */
const struct hv_driver *hv_by_name (const char *name);
const struct hv_driver *hv_of (const struct task *t);
/* The n-th driver (n from 0), or NULL past the last: in the order task
 * create --help lists them. */
const struct hv_driver *hv_nth (size_t n);

/* TASK/<socket_dir>/leaf of t's driver (malloc'd; NULL: out of memory). */
char *hv_socket_path (const struct task *t, const char *leaf);

/* task create.  hv_create_options: shared (ending { 0 }) followed by
 * every driver's options, numbered from HV_OPT_BASE (malloc'd, ending
 * { 0 }; NULL: out of memory).  hv_create_opt: take option val
 * (getopt_long's return): EXIT_OK, EXIT_USAGE or EXIT_FAIL said, or
 * -ENOENT (not a driver's option).
 * hv_create_check: every driver's create_check.  hv_create_disks:
 * choose the mode (the last driver in the table whose options ask for
 * it: --domain over --qmp over --size), set c->t->hv and fill the
 * disks; EXIT_USAGE said when none is asked for.  hv_create_usage: each
 * mode's form of the command and its help lines, for --help. */
#define HV_OPT_BASE 0x1200
struct option *hv_create_options (const struct option *shared);
int hv_create_opt (struct hv_create *c, int val, const char *arg);
int hv_create_check (const char *store, const struct hv_create *c);
int hv_create_disks (struct hv_create *c);
void hv_create_usage (FILE *f);
void hv_create_free (struct hv_create *c);

#endif
