/* cdp recover: streaming the point into the overlays, and the end.
 *
 * Under libvirt, one virDomainBlockPull per disk, one disk at a time;
 * every 500 ms the progress of each job is read and shown, and a disk is
 * done when no job runs and the live definition has no backing store
 * for it.  Without libvirt, the overlays' qcow2 headers are watched
 * until none names a backing file.  Then the export stops, the point's
 * lock goes and the recovery is recorded done.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>

#include "cdp/hv/libvirt/libvirt.h"
#include "cdp/rapid/rapid.h"
#include "common/error.h"
#include "common/timeutil.h"

/* Does the qcow2 file at path still name a backing file? */
static int
file_has_backing (const char *path)
{
  unsigned char h[16];
  FILE *f = fopen (path, "rb");
  uint64_t off = 0;
  size_t n = f ? fread (h, 1, sizeof h, f) : 0;

  if (f)
    fclose (f);
  if (n != sizeof h || memcmp (h, "QFI\xfb", 4) != 0)
    return -EIO;
  for (int i = 8; i < 16; i++)
    off = off << 8 | h[i];
  return off != 0;
}

/* ---- streaming -------------------------------------------------------------- */

static void
progress (struct rapid *c, double rate, bool final)
{
  static int64_t last;
  uint64_t done = 0, total = 0;
  int64_t now = time_now_ns ();

  for (size_t i = 0; i < c->r.disks.len; i++) {
    done += c->r.disks.ptr[i].done;
    total += c->r.disks.ptr[i].total;
  }
  if (c->progress) {
    c->progress (c->progress_opaque, done, total, final);
    return;
  }
  if (!c->tty && !final && now - last < 5000000000LL)
    return;
  last = now;
  fprintf (stderr, "%sstreaming into %s: %3.0f%%  %.1f/%.1f MiB  %.1f MiB/s%s",
           c->tty ? "\r" : "", c->r.disks.len > 1 ? "the overlays" : "the overlay",
           total ? 100.0 * (double) done / (double) total : 100.0,
           (double) done / 1048576, (double) total / 1048576, rate / 1048576,
           c->tty ? (final ? "\033[K\n" : "\033[K") : "\n");
}

/* Is disk i done (the live domain has it stand alone)?  Else, when it is
 * its turn, make sure a pull runs on it.  Returns 1 done, 0 streaming or
 * waiting, < 0 error. */
static int
check_disk (struct rapid *c, size_t i, int64_t *retry_ns, bool turn)
{
  struct rapid_disk *d = &c->r.disks.ptr[i];
  static const struct lv_dest none = { .export_name = "" };
  uint64_t cur, end;
  int type, r;
  bool ours;

  r = lv_job (c->l, d->disk, &none, &type, &cur, &end, &ours);
  if (r < 0)
    return r;
  if (r == 1 && type == VIR_DOMAIN_BLOCK_JOB_TYPE_PULL) {
    if (end > 0)
      d->done = (uint64_t) ((double) d->total * (double) cur / (double) end);
    return 0;
  }
  if (r == 1)
    return 0;                       /* another job: wait for it */
  r = lv_has_backing (c->l, d->disk, false);
  if (r <= 0) {
    if (r == 0)
      d->done = d->total;
    return r == 0 ? 1 : r;
  }
  /* No job and a backing store still: no pull ran yet (resume), or it
   * ended before its end, or libvirt has not taken its completion in yet
   * (retry_ns gives it a moment after each start). */
  if (!turn || time_now_ns () < *retry_ns)
    return 0;
  if (*retry_ns)
    log_msg ("disk %s: the stream stopped before the end; starting it again",
             d->disk);
  *retry_ns = time_now_ns () + 2000000000LL;
  if (lv_pull_start (c->l, d->disk, c->bandwidth) < 0)
    log_msg ("disk %s: %s", d->disk, cdp_get_error ());
  return 0;
}

/* Why the domain cannot go on streaming, or NULL. */
static const char *
domain_gone (struct rapid *c)
{
  const char *why;
  bool active;

  if (lv_domain_active (c->l, &active, &why) < 0)
    return cdp_get_error ();
  return active ? NULL : why;
}

static bool
signalled (struct rapid *c)
{
  struct timespec zero = { 0, 0 };

  return sigtimedwait (&c->sigs, NULL, &zero) > 0;
}

/* Step 5 under libvirt.  0 when every disk stands alone. */
static int
stream_libvirt (struct rapid *c)
{
  int64_t retry[8] = { 0 }, t0 = time_now_ns (), saved = 0;

  uint64_t done0 = 0;
  size_t left;
  struct lv_event ev;

  for (size_t i = 0; i < c->r.disks.len; i++)
    done0 += c->r.disks.ptr[i].done;
  for (;;) {
    const char *gone;
    uint64_t done = 0;
    left = 0;
    if ((gone = domain_gone (c)) != NULL) {
      rapid_state_save (c->t, &c->r);
      return fail ("domain %s stopped before its data was home (%s): start "
                   "it and run 'cdp recover %s --resume'", c->r.domain, gone,
                   c->t->name);
    }
    /* One disk at a time: QEMU 7.2 has crashed with two streams at once. */
    for (size_t i = 0; i < c->r.disks.len && i < 8; i++) {
      int r = check_disk (c, i, &retry[i], left == 0);
      if (r < 0)
        return fail ("%s", cdp_get_error ());
      left += r == 0;
      done += c->r.disks.ptr[i].done;
    }
    double dt = rapid_secs (time_now_ns () - t0);
    progress (c, dt > 0 ? (double) (done - done0) / dt : 0, left == 0);
    if (left == 0)
      return 0;
    if (time_now_ns () - saved > 2000000000LL) {
      rapid_state_save (c->t, &c->r);
      saved = time_now_ns ();
    }
    if (signalled (c)) {
      rapid_state_save (c->t, &c->r);
      if (c->tty && c->progress == NULL)
        fputc ('\n', stderr);
      return fail ("cancelled: %s still reads from the store; run 'cdp recover "
                   "%s --resume' to finish", c->r.domain, c->t->name);
    }
    while (lv_next_event (c->l, 500, &ev) == 1)
      if (ev.kind == LV_EV_CLOSED)
        return fail ("the connection to libvirt was lost: run 'cdp recover "
                     "%s --resume'", c->t->name);
  }
}

/* Step 5 without libvirt: someone runs block-stream; wait until every
 * overlay stands alone. */
static int
stream_qmp (struct rapid *c)
{
  for (;;) {
    size_t left = 0;
    for (size_t i = 0; i < c->r.disks.len; i++) {
      struct rapid_disk *d = &c->r.disks.ptr[i];
      int r = file_has_backing (d->overlay);
      if (r < 0)
        return fail ("cannot read %s: not a qcow2 image any more",
                     d->overlay);
      left += r;
      d->done = r ? 0 : d->total;   /* the job's own progress is not seen */
    }
    if (c->progress)
      progress (c, 0, left == 0);
    if (left == 0)
      return 0;
    struct timespec wait = { 0, 500000000L };
    if (sigtimedwait (&c->sigs, NULL, &wait) > 0)
      return fail ("cancelled: the VM still reads from the store; run 'cdp "
                   "recover %s --resume' to serve it again", c->t->name);
  }
}

/* The instructions for a task without libvirt. */
void
rapid_print_qmp_howto (struct rapid *c)
{
  FILE *out = c->json ? stderr : stdout;

  fprintf (out, "The point of %s is served at:\n", c->t->name);
  for (size_t i = 0; i < c->r.disks.len; i++) {
    char *uri = rapid_uri (c, c->r.disks.ptr[i].disk);
    fprintf (out, "  %s\n", uri ? uri : "(its URI: out of memory)");
    free (uri);
  }
  fprintf (out, "Overlays (qcow2, backed by the export; the VM writes here):\n");
  for (size_t i = 0; i < c->r.disks.len; i++)
    fprintf (out, "  %s\n", c->r.disks.ptr[i].overlay);
  fprintf (out, "Boot the VM on them, with its usual arguments and, for each disk:\n");
  for (size_t i = 0; i < c->r.disks.len; i++) {
    const struct rapid_disk *d = &c->r.disks.ptr[i];
    fprintf (out, "  -blockdev '{\"node-name\":\"rec-%s-base\",\"driver\":\"nbd\","
            "\"server\":{\"type\":\"unix\",\"path\":\"%s\"},\"export\":\"%s\","
            "\"reconnect-delay\":60,\"read-only\":true}'\n"
            "  -blockdev '{\"node-name\":\"rec-%s\",\"driver\":\"qcow2\","
            "\"file\":{\"driver\":\"file\",\"filename\":\"%s\"},"
            "\"backing\":\"rec-%s-base\"}' -device virtio-blk-pci,drive=rec-%s\n",
            d->disk, c->r.socket, d->disk, d->disk, d->overlay, d->disk, d->disk);
  }
  fprintf (out, "Then move the data in, on its QMP monitor:\n");
  for (size_t i = 0; i < c->r.disks.len; i++)
    fprintf (out, "  {\"execute\":\"block-stream\",\"arguments\":{\"job-id\":"
            "\"rec-%s\",\"device\":\"rec-%s\"}}\n", c->r.disks.ptr[i].disk,
            c->r.disks.ptr[i].disk);
  fprintf (out, "cdp serves the point until every overlay stands alone (or "
          "SIGINT/SIGTERM).\n");
  fflush (out);
}

/* Steps 5 and 6. */
int
rapid_finish (struct rapid *c)
{
  int r = c->l ? stream_libvirt (c) : stream_qmp (c);

  if (r != 0)
    return EXIT_FAIL;
  for (size_t i = 0; c->l && i < c->r.disks.len; i++)
    if (lv_has_backing (c->l, c->r.disks.ptr[i].disk, true) == 1)
      log_msg ("disk %s: the domain's persistent definition still names the "
               "export as its backing store: edit it (virsh edit %s)",
               c->r.disks.ptr[i].disk, c->r.domain);
  rapid_stop_export (c);
  rapid_unlock_point (c);
  free (c->r.state);
  c->r.state = strdup ("done");
  c->r.done_ns = time_now_ns ();
  rapid_save (c);
  if (!c->json)
    printf ("done: %s no longer depends on the store (%s streamed in %.1f s)\n",
            c->r.domain ? c->r.domain : "the VM",
            c->r.disks.len > 1 ? "its disks" : "its disk",
            rapid_secs (c->r.done_ns - (c->r.ready_ns ? c->r.ready_ns : c->t0)));
  return EXIT_OK;
}

