/* cdp serve: a resize asked through the control socket (cdp resize),
 * handed from the control thread to the task's protector thread, which
 * owns the copy jobs that keep QEMU from resizing the disk (protect.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cdp/hv/hv.h"
#include "cdp/hv/protect.h"
#include "common/timeutil.h"

#define RESIZE_WAIT_NS (120 * 1000000000LL)

int
protect_resize (void *served, const char *disk, uint64_t size, char *msg,
                size_t len, uint64_t *old_size, uint64_t *seq)
{
  struct served *s = served;
  struct protect_resize *z = &s->resize;
  int64_t until = time_mono_ns () + RESIZE_WAIT_NS;
  int r = -ETIMEDOUT;

  if (!hv_of (s->t)->resize) {
    snprintf (msg, len, "a %s-mode task cannot be resized by cdp",
              hv_of (s->t)->name);
    return -ENOTSUP;
  }
  pthread_mutex_lock (&s->lock);
  if (z->asked && !z->answered) {
    pthread_mutex_unlock (&s->lock);
    snprintf (msg, len, "another resize of this task is in progress");
    return -EBUSY;
  }
  *z = (struct protect_resize) { .asked = true, .size = size };
  snprintf (z->disk, sizeof z->disk, "%s", disk);
  pthread_mutex_unlock (&s->lock);
  /* The protector looks at least every 200 ms; the answer comes once the
   * copy is ended and QEMU has resized the disk. */
  /* The answer comes before the protector asks serve to take the task
   * up again (which stops it): look for it first. */
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
            : "cdp serve did not resize the disk within 120 s");
  return r;
}

bool
protect_resize_asked (struct served *s, char *disk, size_t len,
                      uint64_t *size)
{
  bool asked;

  pthread_mutex_lock (&s->lock);
  asked = s->resize.asked && !s->resize.answered;
  if (asked) {
    snprintf (disk, len, "%s", s->resize.disk);
    *size = s->resize.size;
  }
  pthread_mutex_unlock (&s->lock);
  return asked;
}

void
protect_resize_answer (struct served *s, int result, const char *msg,
                       uint64_t old_size, uint64_t seq)
{
  pthread_mutex_lock (&s->lock);
  s->resize.answered = true;
  s->resize.result = result;
  snprintf (s->resize.msg, sizeof s->resize.msg, "%s", msg);
  s->resize.old_size = old_size;
  s->resize.seq = seq;
  pthread_mutex_unlock (&s->lock);
}
