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

static int
save (const char *path, json_object *o, int version, mode_t mode,
      bool durable)
{
  const char *text;

  json_object_object_add (o, "version", json_object_new_int (version));
  text = json_object_to_json_string_ext (o, JSON_C_TO_STRING_PRETTY);
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
