/* cdp: the last error of the calling thread (see error.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

static __thread struct cdp_saved_error last;

int
cdp_set_errorv (int err, const char *fmt, va_list ap)
{
  char text[CDP_ERROR_MAX];

  /* Format aside: the arguments may point into last.msg itself. */
  vsnprintf (text, sizeof text, fmt, ap);
  memcpy (last.msg, text, sizeof text);
  last.errnum = err < 0 ? -err : err;
  return err;
}

int
cdp_set_error (int err, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  err = cdp_set_errorv (err, fmt, ap);
  va_end (ap);
  return err;
}

const char *
cdp_get_error (void)
{
  return last.msg;
}

int
cdp_get_errno (void)
{
  return last.errnum;
}

void
cdp_clear_error (void)
{
  last.errnum = 0;
  last.msg[0] = '\0';
}

void
cdp_save_error (struct cdp_saved_error *s)
{
  *s = last;
}

void
cdp_restore_error (const struct cdp_saved_error *s)
{
  last = *s;
}
