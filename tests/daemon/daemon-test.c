/* Helpers for the daemon's Criterion tests (daemon-test.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "common/timeutil.h"
#include "tests/daemon/daemon-test.h"
#include "cdp/hv/hv.h"

void
dt_task (struct dt *d, uint64_t size, uint32_t segment_size)
{
  struct task t = { .name = "t", .hv = hv_by_name ("manual") };
  struct task_disk disk = { .name = "disk0", .id = 0, .size = size };
  char tmpl[] = "/var/tmp/cdp-dtest-XXXXXX", *tasks;

  memset (d, 0, sizeof *d);
  cr_assert_not_null (mkdtemp (tmpl));
  snprintf (d->store, sizeof d->store, "%s", tmpl);
  snprintf (d->sock, sizeof d->sock, "%s/rx.sock", tmpl);
  policy_defaults (&t.policy);
  t.policy.segment_size = segment_size;
  t.created_ns = time_now_ns ();
  cr_assert_neq (asprintf (&t.listen, "unix:%s", d->sock), -1);
  t.disks.ptr = &disk;
  t.disks.len = 1;
  tasks = path_join (d->store, "tasks");
  t.dir = path_join (tasks, t.name);
  cr_assert_eq (mkdir_p (t.dir, 0700), 0);
  cr_assert_eq (task_save (&t), 0);
  free (t.dir);
  free (tasks);
  free (t.listen);
  cr_assert_eq (task_load (d->store, "t", &d->t), 0);
  cr_assert_eq (d->t->hv, hv_by_name ("manual"));
}

void
dt_start (struct dt *d)
{
  cr_assert_eq (receiver_start (d->t, &d->r), 0);
  cr_assert_str_eq (receiver_socket (d->r), d->sock);
}

void
dt_setup (struct dt *d, uint64_t size, uint32_t segment_size)
{
  dt_task (d, size, segment_size);
  dt_start (d);
}

void
dt_teardown (struct dt *d)
{
  char cmd[128];

  receiver_stop (d->r);
  d->r = NULL;
  task_free (d->t);
  d->t = NULL;
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", d->store);
  if (system (cmd) != 0)
    cr_log_warn ("could not remove %s", d->store);
}

void
dt_mount_tmpfs (const char *dir, const char *size)
{
  char opts[64];

  cr_assert_eq (unshare (CLONE_NEWNS), 0, "unshare: %s (needs root)",
                strerror (errno));
  cr_assert_eq (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0,
                "%s", strerror (errno));
  snprintf (opts, sizeof opts, "size=%s", size);
  cr_assert_eq (mount ("cdp-test", dir, "tmpfs", 0, opts), 0,
                "mounting a tmpfs needs root: %s", strerror (errno));
}

static struct nbd_handle *
connect_to (struct dt *d, bool strict)
{
  struct nbd_handle *h = nbd_create ();

  cr_assert_not_null (h);
  if (!strict)
    cr_assert_eq (nbd_set_strict_mode (h, 0), 0);
  cr_assert_eq (nbd_set_export_name (h, "disk0"), 0);
  cr_assert_eq (nbd_connect_unix (h, d->sock), 0, "%s", nbd_get_error ());
  return h;
}

struct nbd_handle *
dt_connect (struct dt *d)
{
  return connect_to (d, true);
}

struct nbd_handle *
dt_connect_lax (struct dt *d)
{
  return connect_to (d, false);
}

void
dt_disconnect (struct nbd_handle *h)
{
  cr_assert_eq (nbd_shutdown (h, 0), 0, "%s", nbd_get_error ());
  nbd_close (h);
}

bool
dt_record (struct dt *d, uint64_t seq, struct journal_record *rec,
           void *payload, size_t cap)
{
  char *dir = task_path (d->t, "journal");
  struct journal_reader *jr;
  struct journal_iter *it;
  struct journal_record full;
  bool found = false;
  void *buf;

  cr_assert_eq (journal_reader_open (dir, &jr), 0);
  free (dir);
  cr_assert_eq (journal_iter_new (jr, seq, &it), 0);
  if (journal_iter_next (it, rec) == 1 && rec->seq == seq) {
    found = true;
    buf = malloc (rec->payload_len + 1);
    cr_assert_not_null (buf);
    cr_assert_eq (journal_read_record (jr, rec->loc, &full, buf), 0,
                  "record %llu fails its check", (unsigned long long) seq);
    cr_assert_eq (full.seq, seq);
    if (payload)
      memcpy (payload, buf, rec->payload_len < cap ? rec->payload_len : cap);
    free (buf);
  }
  journal_iter_free (it);
  journal_reader_close (jr);
  return found;
}

uint64_t
dt_last_record (struct dt *d)
{
  char *dir = task_path (d->t, "journal");
  struct journal_reader *jr;
  struct journal_iter *it;
  struct journal_record rec;
  uint64_t last = 0;
  int e;

  cr_assert_eq (journal_reader_open (dir, &jr), 0);
  free (dir);
  cr_assert_eq (journal_iter_new (jr, 0, &it), 0);
  while ((e = journal_iter_next (it, &rec)) == 1)
    last = rec.seq;
  cr_assert_eq (e, 0);
  journal_iter_free (it);
  journal_reader_close (jr);
  return last;
}

void *
dt_pattern (size_t len, unsigned seed)
{
  unsigned char *p = malloc (len);

  cr_assert_not_null (p);
  for (size_t i = 0; i < len; i++)
    p[i] = (unsigned char) ((i + seed) % 251 + 1);
  return p;
}

void
dt_catalog_add (struct base_catalog *c, uint32_t disk, uint64_t seq,
                int64_t time_ns, const char *file, const char *parent)
{
  struct base_point bp = { .disk = disk, .seq = seq, .time_ns = time_ns };
  const struct base_point *p = *parent ? catalog_by_file (c, parent) : NULL;

  snprintf (bp.file, sizeof bp.file, "%s", file);
  snprintf (bp.parent, sizeof bp.parent, "%s", parent);
  bp.depth = p ? p->depth + 1 : 1;
  cr_assert_eq (catalog_add (c, &bp), 0);
}

void
dt_flag_raise (struct dt_flag *f)
{
  pthread_mutex_lock (&f->m);
  f->count++;
  pthread_cond_broadcast (&f->c);
  pthread_mutex_unlock (&f->m);
}

unsigned
dt_flag_wait (struct dt_flag *f, unsigned seen)
{
  unsigned n;

  pthread_mutex_lock (&f->m);
  while (f->count <= seen)
    pthread_cond_wait (&f->c, &f->m);
  n = f->count;
  pthread_mutex_unlock (&f->m);
  return n;
}
