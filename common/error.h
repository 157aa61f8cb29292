/* cdp: the last error of the calling thread, one for every library
 * (journal, index, fold, qcow2, imgwrite, qmp, libvirt), as libnbd's
 * nbd_get_error / nbd_get_errno.
 *
 * A function that fails returns -errno as always; where its header says
 * so, it has also set the thread's error: the errno and a line a person
 * can read, which says what failed, on what, and why.  The caller reads
 * it with cdp_get_error / cdp_get_errno and prints it (libraries never
 * print).  The error is per thread, so threads never see each other's;
 * it stays until the thread's next cdp_set_error or cdp_clear_error,
 * from any library: read it right after the call that failed, before
 * calling into another library.  A clean-up that may fail (and so set
 * the error) between the failure and the reading saves the error first
 * and restores it after (cdp_save_error, cdp_restore_error).
 *
 * Structured facts about a failure that a caller acts on (which journal
 * record failed its CRC, journal_last_damage; which base point cluster,
 * basesum_last_damage) are data, not messages: their modules keep them.
 *
 * Out of memory is an error like the others: a function whose allocation
 * fails undoes what it did and returns -ENOMEM (NULL where it returns a
 * pointer, as its header says), with the error "out of memory" where the
 * module sets errors; the caller fails that one operation (the CLI with
 * its one line and exit 1, the daemon by logging it and trying again
 * later).  Nothing aborts or exits for it: path_join and task_path
 * return NULL, and a JSON document is built with common/jsonfile.h's
 * jf_add / jf_append, which remember a failed allocation so that the
 * document is neither saved nor printed (docs/ARCHITECTURE.md, "Errors,
 * memory, files"). */
#ifndef CDP_ERROR_H
#define CDP_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/* Longest message kept, with its NUL; a longer one is truncated. */
#define CDP_ERROR_MAX 512

/* Make err (-errno or errno; kept as a positive errno) and the message
 * (printf-style) the calling thread's error.  The arguments may point
 * into the current message (cdp_get_error), to wrap it in context.
 * Returns err unchanged, for "return cdp_set_error (-EIO, ...)". */
int cdp_set_error (int err, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* The same with a va_list: for a library's own setter that does more
 * (the journal's forgets its damage record). */
int cdp_set_errorv (int err, const char *fmt, va_list ap)
  __attribute__ ((format (printf, 2, 0)));

/* The calling thread's message: "" when none was set (or it was
 * cleared).  Valid until the thread's next cdp_set_error or
 * cdp_clear_error. */
const char *cdp_get_error (void);

/* Its errno (positive), 0 when none was set. */
int cdp_get_errno (void);

/* Forget the calling thread's error: the message becomes "". */
void cdp_clear_error (void);

/* A copy of an error, to restore it after a clean-up that may set its
 * own (and must not replace the one being reported). */
struct cdp_saved_error {
  int errnum;
  char msg[CDP_ERROR_MAX];
};
void cdp_save_error (struct cdp_saved_error *s);
void cdp_restore_error (const struct cdp_saved_error *s);

#endif
