/* cdp/hv: the table of hypervisor drivers, the one place a mode is
 * chosen, and what task create does with the drivers' options. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/hv/hv.h"
#include "common/cleanup.h"

/* The drivers, in the order task create --help lists them.  A new one
 * is a folder of its own and an entry here. */
extern const struct hv_driver hv_manual, hv_qmp, hv_libvirt;
static const struct hv_driver *const drivers[] = {
  &hv_manual,
  &hv_qmp,
  &hv_libvirt,
};
#define N_DRIVERS (sizeof drivers / sizeof drivers[0])

const struct hv_driver *
hv_nth (size_t n)
{
  return n < N_DRIVERS ? drivers[n] : NULL;
}

const struct hv_driver *
hv_by_name (const char *name)
{
  for (size_t i = 0; i < N_DRIVERS; i++)
    if (strcmp (drivers[i]->name, name) == 0)
      return drivers[i];
  return NULL;
}

const struct hv_driver *
hv_of (const struct task *t)
{
  assert (t->hv != NULL);           /* task_load checked the name */
  return t->hv;
}

char *
hv_socket_path (const struct task *t, const char *leaf)
{
  CLEANUP_FREE char *dir = task_path (t, hv_of (t)->socket_dir);

  return dir ? path_join (dir, leaf) : NULL;
}

/* ---- task create -------------------------------------------------------- */

int
hv_add_disk (struct task *t, const char *name, uint64_t size)
{
  struct task_disk d = { .name = strdup (name), .id = (uint32_t) t->disks.len,
                         .size = size };

  if (d.name == NULL || task_disk_vector_append (&t->disks, d) < 0) {
    free (d.name);
    return fail ("task create: %s", strerror (ENOMEM));
  }
  return 0;
}

const char *
hv_create_arg (const struct hv_create *c, const char *name)
{
  const char *v = NULL;

  for (size_t i = 0; i < c->given.len; i++)
    if (strcmp (c->given.ptr[i].name, name) == 0)
      v = c->given.ptr[i].arg;
  return v;
}

int
hv_create_args (const struct hv_create *c, const char *name,
                string_vector *out)
{
  for (size_t i = 0; i < c->given.len; i++)
    if (strcmp (c->given.ptr[i].name, name) == 0 &&
        string_vector_append (out, c->given.ptr[i].arg) < 0)
      return -ENOMEM;
  return 0;
}

static size_t
count_options (const struct option *o)
{
  size_t n = 0;

  while (o && o[n].name)
    n++;
  return n;
}

/* Is --name among the options o (ending { 0 })? */
static bool
takes (const struct option *o, const char *name)
{
  for (; o && o->name; o++)
    if (strcmp (o->name, name) == 0)
      return true;
  return false;
}

/* Does a driver before the i-th take --name too? */
static bool
taken_before (size_t i, const char *name)
{
  for (size_t j = 0; j < i; j++)
    if (takes (drivers[j]->create_options, name))
      return true;
  return false;
}

/* The m-th option of the drivers, one that several take counted once. */
static const struct option *
nth_option (int m)
{
  int k = 0;

  for (size_t i = 0; i < N_DRIVERS; i++)
    for (const struct option *d = drivers[i]->create_options; d && d->name; d++)
      if (!taken_before (i, d->name) && k++ == m)
        return d;
  return NULL;
}

struct option *
hv_create_options (const struct option *shared)
{
  size_t n = count_options (shared), k = 0;
  const struct option *d;
  struct option *o;

  for (size_t i = 0; i < N_DRIVERS; i++)
    n += count_options (drivers[i]->create_options);
  o = calloc (n + 1, sizeof *o);
  if (o == NULL)
    return NULL;
  for (const struct option *s = shared; s && s->name; s++)
    o[k++] = *s;
  for (int m = 0; (d = nth_option (m)) != NULL; m++)
    if (!takes (o, d->name))             /* o ends in zeroes */
      o[k++] = (struct option) { d->name, d->has_arg, NULL, HV_OPT_BASE + m };
  return o;
}

int
hv_create_opt (struct hv_create *c, int val, const char *arg)
{
  const struct option *o = val >= HV_OPT_BASE ? nth_option (val - HV_OPT_BASE)
                                              : NULL;
  char *copy = arg ? strdup (arg) : NULL;
  int r = 0;

  if (o == NULL) {
    free (copy);
    return -ENOENT;
  }
  if ((arg && copy == NULL) ||
      hv_arg_vector_append (&c->given, (struct hv_arg) { o->name, copy }) < 0) {
    free (copy);
    return fail ("task create: %s", strerror (ENOMEM));
  }
  for (size_t i = 0; r == 0 && i < N_DRIVERS; i++)
    if (drivers[i]->create_opt && takes (drivers[i]->create_options, o->name))
      r = drivers[i]->create_opt (c, o->name, arg);
  return r;
}

int
hv_create_check (const char *store, const struct hv_create *c)
{
  int r = 0;

  for (size_t i = 0; r == 0 && i < N_DRIVERS; i++)
    if (drivers[i]->create_check)
      r = drivers[i]->create_check (store, c);
  return r;
}

int
hv_create_disks (struct hv_create *c)
{
  char needs[512] = "";
  size_t len = 0;

  for (size_t i = N_DRIVERS; i-- > 0; )
    if (drivers[i]->create_wanted (c)) {
      c->t->hv = drivers[i];
      return drivers[i]->create_disks (c);
    }
  for (size_t i = 0; i < N_DRIVERS && len < sizeof needs; i++)
    len += (size_t) snprintf (needs + len, sizeof needs - len, "%s%s",
                              i == 0 ? "" : i + 1 < N_DRIVERS ? ", " : ", or ",
                              drivers[i]->create_needs);
  return usage_error ("task create needs %s", needs);
}

void
hv_create_usage (FILE *f)
{
  for (size_t i = 0; i < N_DRIVERS; i++)
    fprintf (f, "%s cdp task create NAME %s\n", i == 0 ? "usage:" : "      ",
             drivers[i]->create_usage);
  for (size_t i = 0; i < N_DRIVERS; i++)
    if (drivers[i]->create_help)
      fputs (drivers[i]->create_help, f);
}

void
hv_create_free (struct hv_create *c)
{
  for (size_t i = 0; i < c->given.len; i++)
    free (c->given.ptr[i].arg);
  hv_arg_vector_reset (&c->given);
}
