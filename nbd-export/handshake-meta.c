/* cdp NBD server: NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT.
 * The only context is base:allocation. */
#include "nbd-export/internal.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BASE_ALLOCATION "base:allocation"

static uint32_t
get_be32 (const char *p)
{
  uint32_t v;

  memcpy (&v, p, 4);
  return be32toh (v);
}

static bool
query_matches (uint32_t option, const char *q, uint32_t len)
{
  if (len == strlen (BASE_ALLOCATION) && memcmp (q, BASE_ALLOCATION, len) == 0)
    return true;
  /* "base:" lists every base context but selects none. */
  return option == NBD_OPT_LIST_META_CONTEXT && len == 5 &&
    memcmp (q, "base:", 5) == 0;
}

/* Parse the option; set *name (pointer into data, namelen bytes) and
 * *match.  Returns 0 or -EINVAL (malformed). */
static int
parse_meta (uint32_t option, const char *data, uint32_t len,
            uint32_t *namelen, bool *match)
{
  uint32_t nr, pos, qlen;

  if (len < 8)
    return -EINVAL;
  *namelen = get_be32 (data);
  if (*namelen > len - 8 || !valid_string (data + 4, *namelen))
    return -EINVAL;
  nr = get_be32 (data + 4 + *namelen);
  pos = 8 + *namelen;
  *match = nr == 0 && option == NBD_OPT_LIST_META_CONTEXT;
  for (uint32_t i = 0; i < nr; i++) {
    if (len - pos < 4)
      return -EINVAL;
    qlen = get_be32 (data + pos);
    pos += 4;
    if (qlen > len - pos || !valid_string (data + pos, qlen))
      return -EINVAL;
    *match |= query_matches (option, data + pos, qlen);
    pos += qlen;
  }
  return pos == len ? 0 : -EINVAL;
}

static int
send_context (struct connection *conn, uint32_t option, uint32_t id)
{
  char buf[4 + sizeof BASE_ALLOCATION];
  uint32_t beid = htobe32 (id);

  memcpy (buf, &beid, 4);
  memcpy (buf + 4, BASE_ALLOCATION, strlen (BASE_ALLOCATION));
  return send_option_reply (conn, option, NBD_REP_META_CONTEXT, buf,
                            4 + strlen (BASE_ALLOCATION));
}

static int
select_context (struct connection *conn, const char *name, uint32_t len)
{
  conn->meta_export = strndup (name, len);
  if (conn->meta_export == NULL)
    return -ENOMEM;
  conn->meta_selected = true;
  return 0;
}

int
option_meta_context (struct connection *conn, uint32_t option,
                     const char *data, uint32_t len)
{
  bool set = option == NBD_OPT_SET_META_CONTEXT;
  uint32_t namelen;
  bool match;
  int r;

  if (set) {
    /* Replaces the selection, even when the option fails. */
    conn->meta_selected = false;
    free (conn->meta_export);
    conn->meta_export = NULL;
  }
  if (!conn->structured)
    return send_option_error (conn, option, NBD_REP_ERR_INVALID,
                              "structured replies not negotiated");
  if (parse_meta (option, data, len, &namelen, &match) < 0)
    return send_option_error (conn, option, NBD_REP_ERR_INVALID,
                              "malformed option");
  if (match && set) {
    r = select_context (conn, data + 4, namelen);
    if (r < 0)
      return r;
  }
  if (match) {
    r = send_context (conn, option, set ? BASE_ALLOCATION_ID : 0);
    if (r < 0)
      return r;
  }
  return send_option_reply (conn, option, NBD_REP_ACK, NULL, 0);
}
