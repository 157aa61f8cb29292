/* cdp: the JSON files of the store (task.json, locks.json, catalog.json,
 * recover.json, run/state.json, run/space.json), read and written whole.
 *
 * Every file carries a format "version" (a positive integer).  A file
 * written before versions existed has none and is read as version 1.
 * A reader names the newest version it knows; a newer file is refused,
 * never guessed at.  Writes go through fio_replace: atomic, the file and
 * its directory synced.
 *
 * Return -errno, never print, share no state: thread-safe. */
#ifndef CDP_JSONFILE_H
#define CDP_JSONFILE_H

#include <sys/types.h>

struct json_object;

/* Read and parse the file at path: one JSON object and nothing after it.
 * *out is the object (json_object_put it), *version its format version
 * (version may be NULL).  Errors, *out NULL then:
 *   -ENOENT           the file does not exist (callers decide whether
 *                     that is allowed: an unreadable file never is)
 *   -EUCLEAN          not a JSON object (empty, truncated, damaged), or a
 *                     "version" that is not a positive integer
 *   -EPROTONOSUPPORT  version newer than max_version (*version tells it)
 *   -errno            the file cannot be read */
int jf_load (const char *path, int max_version, struct json_object **out,
             int *version);

/* Set o's "version" to version and replace path with o, pretty-printed,
 * atomically and durably (fio_replace), the file created with mode. */
int jf_save (const char *path, struct json_object *o, int version,
             mode_t mode);
/* The same with fio_replace_volatile: for snapshots, not for state. */
int jf_save_volatile (const char *path, struct json_object *o, int version,
                      mode_t mode);

/* What a jf_load error means to an operator: "not valid JSON (damaged or
 * truncated)", "written by a newer cdp", or strerror. */
const char *jf_strerror (int e);

#endif
