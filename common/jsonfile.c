/* cdp: versioned JSON files of the store. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/jsonfile.h"

static int
parse_whole (const char *text, size_t len, json_object **out)
{
  json_tokener *tok = json_tokener_new ();
  json_object *o;
  size_t end;

  if (tok == NULL)
    return -ENOMEM;
  o = json_tokener_parse_ex (tok, text, (int) len);
  end = json_tokener_get_parse_end (tok);
  if (o && json_tokener_get_error (tok) != json_tokener_success) {
    json_object_put (o);
    o = NULL;
  }
  json_tokener_free (tok);
  while (o && end < len && isspace ((unsigned char) text[end]))
    end++;
  if (o == NULL || end != len || !json_object_is_type (o, json_type_object)) {
    json_object_put (o);
    return -EUCLEAN;
  }
  *out = o;
  return 0;
}

static int
file_version (json_object *o, int *version)
{
  json_object *v;
  int64_t n;

  if (!json_object_object_get_ex (o, "version", &v)) {
    *version = 1;                       /* written before versions */
    return 0;
  }
  if (!json_object_is_type (v, json_type_int))
    return -EUCLEAN;
  n = json_object_get_int64 (v);
  if (n < 1 || n > 1000000)
    return -EUCLEAN;
  *version = (int) n;
  return 0;
}

int
jf_load (const char *path, int max_version, json_object **out, int *version)
{
  char *text;
  size_t len;
  int r, ver = 0;

  *out = NULL;
  if (version)
    *version = 0;
  if (path == NULL)
    return -ENOMEM;
  r = fio_read (path, &text, &len);
  if (r < 0)
    return r;
  if (len > (size_t) 1 << 30 || strlen (text) != len)
    r = -EUCLEAN;                       /* NUL bytes: not text */
  if (r == 0)
    r = parse_whole (text, len, out);
  free (text);
  if (r == 0)
    r = file_version (*out, &ver);
  if (r == 0 && ver > max_version)
    r = -EPROTONOSUPPORT;
  if (version)
    *version = ver;
  if (r < 0) {
    json_object_put (*out);
    *out = NULL;
  }
  return r;
}

/* The mark of a document whose building failed: o's user data (json-c
 * uses it for custom serializers too: the one document member that has
 * one, the timeline's counts (cdp/cli/points-timeline.c), holds nothing
 * and is never marked). */
static char failed_mark;

int
jf_fail (json_object *o)
{
  if (o)
    json_object_set_userdata (o, &failed_mark, NULL);
  return -ENOMEM;
}

/* o NULL or marked itself (not what it holds). */
static bool
marked (json_object *o)
{
  return o == NULL || json_object_get_userdata (o) == &failed_mark;
}

bool
jf_failed (const json_object *co)
{
  json_object *o = (json_object *) co;

  if (marked (o))
    return true;
  if (json_object_is_type (o, json_type_object)) {
    json_object_object_foreach (o, key, v) {
      (void) key;
      if (v && jf_failed (v))
        return true;
    }
  }
  else if (json_object_is_type (o, json_type_array)) {
    for (size_t i = 0; i < json_object_array_length (o); i++) {
      json_object *v = json_object_array_get_idx (o, i);
      if (v && jf_failed (v))
        return true;
    }
  }
  return false;
}

int
jf_add (json_object *o, const char *key, json_object *v)
{
  if (o == NULL || marked (v) ||
      json_object_object_add (o, key, v) < 0) {
    json_object_put (v);
    return jf_fail (o);
  }
  return 0;
}

int
jf_append (json_object *arr, json_object *v)
{
  if (arr == NULL || marked (v) || json_object_array_add (arr, v) < 0) {
    json_object_put (v);
    return jf_fail (arr);
  }
  return 0;
}

int
jf_add_null (json_object *o, const char *key)
{
  if (o == NULL || json_object_object_add (o, key, NULL) < 0)
    return jf_fail (o);
  return 0;
}

const char *
jf_text (json_object *o, int flags)
{
  if (jf_failed (o))
    return NULL;
  return json_object_to_json_string_ext (o, flags);
}

static int
save (const char *path, json_object *o, int version, mode_t mode,
      bool durable)
{
  const char *text;

  if (path == NULL || jf_failed (o))
    return -ENOMEM;
  jf_add (o, "version", json_object_new_int (version));
  text = jf_text (o, JSON_C_TO_STRING_PRETTY);
  if (text == NULL)
    return -ENOMEM;
  return durable ? fio_replace (path, text, strlen (text), mode)
                 : fio_replace_volatile (path, text, strlen (text), mode);
}

int
jf_save (const char *path, json_object *o, int version, mode_t mode)
{
  return save (path, o, version, mode, true);
}

int
jf_save_volatile (const char *path, json_object *o, int version, mode_t mode)
{
  return save (path, o, version, mode, false);
}

const char *
jf_strerror (int e)
{
  switch (e) {
  case -EUCLEAN: return "not valid JSON (damaged or truncated)";
  case -EPROTONOSUPPORT:
    return "written by a newer cdp (unknown format version)";
  default: return strerror (-e);
  }
}
