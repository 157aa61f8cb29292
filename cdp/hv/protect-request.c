/* cdp serve: what cdp resize and cdp detach ask through the control
 * socket, handed from the control thread to the task's protector thread,
 * which owns the copy jobs that keep QEMU from resizing a disk and
 * libvirt from detaching it (protect.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cdp/hv/hv.h"
#include "cdp/hv/protect.h"
#include "common/timeutil.h"

#define REQUEST_WAIT_NS (120 * 1000000000LL)

int
protect_request (void *served, const char *op, const char *disk,
                 uint64_t size, char *msg, size_t len, uint64_t *old_size,
                 uint64_t *seq)
{
  struct served *s = served;
  struct protect_request *z = &s->req;
  int64_t until = time_mono_ns () + REQUEST_WAIT_NS;
  enum protect_op o;
  int r = -ETIMEDOUT;

  if (strcmp (op, "resize") == 0)
    o = PROTECT_RESIZE;
  else if (strcmp (op, "detach") == 0)
    o = PROTECT_DETACH;
  else
    return snprintf (msg, len, "unknown request"), -EINVAL;
  if (!hv_of (s->t)->disk_requests)
    return snprintf (msg, len, "cdp cannot %s the disks of a %s-mode task",
                     op, hv_of (s->t)->name), -ENOTSUP;
  pthread_mutex_lock (&s->lock);
  if (z->asked && !z->answered) {
    pthread_mutex_unlock (&s->lock);
    snprintf (msg, len, "another resize or detach of this task is in "
              "progress");
    return -EBUSY;
  }
  *z = (struct protect_request) { .asked = true, .op = o, .size = size };
  snprintf (z->disk, sizeof z->disk, "%s", disk);
  pthread_mutex_unlock (&s->lock);
  /* The protector looks at least every 200 ms.  Its answer comes before
   * it asks serve to take the task up again (which stops it): look for
   * the answer first. */
  while (time_mono_ns () < until) {
    pthread_mutex_lock (&s->lock);
    if (z->answered) {
      r = z->result;
      snprintf (msg, len, "%s", z->msg);
      *old_size = z->old_size;
      *seq = z->seq;
      pthread_mutex_unlock (&s->lock);
      return r;
    }
    pthread_mutex_unlock (&s->lock);
    if (serve_stopping (s))
      break;
    usleep (50000);
  }
  pthread_mutex_lock (&s->lock);
  z->answered = true;               /* the protector no longer takes it */
  pthread_mutex_unlock (&s->lock);
  snprintf (msg, len, serve_stopping (s) ? "cdp serve is letting the task go"
            : "cdp serve did not answer within 120 s");
  return r;
}

bool
protect_asked (struct served *s, struct protect_request *r)
{
  bool asked;

  pthread_mutex_lock (&s->lock);
  asked = s->req.asked && !s->req.answered;
  if (asked)
    *r = s->req;
  pthread_mutex_unlock (&s->lock);
  return asked;
}

void
protect_answer (struct served *s, int result, const char *msg,
                uint64_t old_size, uint64_t seq)
{
  pthread_mutex_lock (&s->lock);
  s->req.answered = true;
  s->req.result = result;
  snprintf (s->req.msg, sizeof s->req.msg, "%s", msg);
  s->req.old_size = old_size;
  s->req.seq = seq;
  pthread_mutex_unlock (&s->lock);
}
