/* cdp: the JSON files of the store (task.json, locks.json, catalog.json,
 * recover.json, verify.json, run/state.json, run/space.json), read and
 * written whole, and the builder of every JSON document cdp writes or
 * prints.
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

#include <stdbool.h>
#include <sys/types.h>

struct json_object;

/* A path NULL (its allocation failed) is -ENOMEM for jf_load and jf_save,
 * so that a caller may pass a path it just built without a check. */

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

/* Building a document.  json-c's constructors return NULL when out of
 * memory, and json_object_object_add (o, key, NULL) would store a JSON
 * null in its place: every member and element of a document that is
 * saved or printed is added with these, which remember a failure in the
 * container (a value that is NULL or failed itself, or an add that could
 * not allocate), so that jf_save refuses the document and jf_text
 * gives no text instead of a wrong one.  They take v (it is freed when it
 * cannot be added: a caller that fills v after adding it checks the
 * return first) and return 0 or -ENOMEM; o NULL (a container whose
 * own allocation failed) only frees v: the failure is remembered where
 * that container is added.  A check after each add is not needed. */
int jf_add (struct json_object *o, const char *key, struct json_object *v);
int jf_append (struct json_object *arr, struct json_object *v);
/* An explicit JSON null member (jf_add counts NULL as a failure). */
int jf_add_null (struct json_object *o, const char *key);
/* Mark o failed: an allocation for one of its members failed before
 * it could be added.  Returns -ENOMEM. */
int jf_fail (struct json_object *o);
/* Did building o, or any object or array in it, fail?  True for NULL.
 * (A document read with jf_load and changed in place is checked whole.) */
bool jf_failed (const struct json_object *o);

/* o as text (json_object_to_json_string_ext's flags), valid as long as
 * o is; NULL when building o failed or printing it ran out of memory. */
const char *jf_text (struct json_object *o, int flags);

/* Set o's "version" to version and replace path with o, pretty-printed,
 * atomically and durably (fio_replace), the file created with mode.
 * -ENOMEM, the file untouched, when building o failed (jf_failed). */
int jf_save (const char *path, struct json_object *o, int version,
             mode_t mode);
/* The same with fio_replace_volatile: for snapshots, not for state. */
int jf_save_volatile (const char *path, struct json_object *o, int version,
                      mode_t mode);

/* What a jf_load error means to an operator: "not valid JSON (damaged or
 * truncated)", "written by a newer cdp", or strerror. */
const char *jf_strerror (int e);

#endif
