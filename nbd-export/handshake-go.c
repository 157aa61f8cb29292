/* cdp NBD server: choosing an export (NBD_OPT_INFO, NBD_OPT_GO,
 * NBD_OPT_EXPORT_NAME) and listing exports (NBD_OPT_LIST). */
#include "nbd-export/internal.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

static bool
is_power_of_2 (uint32_t x)
{
  return x && (x & (x - 1)) == 0;
}

/* Fill in defaults and check what the backend said against the spec's
 * block size rules and the callbacks it provides. */
static int
check_info (const struct nbd_backend_ops *ops, struct nbd_export_info *i)
{
  if (i->min_block == 0)
    i->min_block = 1;
  if (i->pref_block == 0)
    i->pref_block = i->min_block > DEFAULT_PREF_BLOCK
      ? i->min_block : DEFAULT_PREF_BLOCK;
  if (i->max_block == 0)
    i->max_block = DEFAULT_MAX_BLOCK;
  if (!is_power_of_2 (i->min_block) || i->min_block > 65536 ||
      !is_power_of_2 (i->pref_block) || i->pref_block < 512 ||
      i->pref_block < i->min_block ||
      i->max_block % i->min_block || i->max_block > MAX_MAX_BLOCK ||
      (i->max_block < i->pref_block && i->max_block < i->size))
    return -EINVAL;
  if (i->description && strlen (i->description) > NBD_MAX_STRING)
    return -EINVAL;
  if (i->read_only)
    i->can_trim = i->can_zero = i->can_fast_zero = false;
  if ((!i->read_only && !ops->write) || (i->can_trim && !ops->trim) ||
      (i->can_zero && !ops->zero) || (i->can_flush && !ops->flush))
    return -EINVAL;
  if (!i->can_zero)
    i->can_fast_zero = false;
  return 0;
}

static uint16_t
export_flags (const struct connection *conn, const struct nbd_export_info *i)
{
  uint16_t f = NBD_FLAG_HAS_FLAGS;

  if (i->read_only)
    f |= NBD_FLAG_READ_ONLY;
  if (i->can_flush)
    f |= NBD_FLAG_SEND_FLUSH;
  if (i->can_fua)
    f |= NBD_FLAG_SEND_FUA;
  if (i->can_trim)
    f |= NBD_FLAG_SEND_TRIM;
  if (i->can_zero)
    f |= NBD_FLAG_SEND_WRITE_ZEROES;
  if (i->can_fast_zero)
    f |= NBD_FLAG_SEND_FAST_ZERO;
  if (i->can_multi_conn)
    f |= NBD_FLAG_CAN_MULTI_CONN;
  if (conn->structured)
    f |= NBD_FLAG_SEND_DF;
  return f;
}

/* Open name into conn->handle/info/eflags.  Returns 0 or -errno. */
static int
open_export (struct connection *conn, const char *name)
{
  const struct nbd_backend_ops *ops = &conn->srv->ops;
  struct nbd_export_info info = { 0 };
  void *handle = NULL;
  int r;

  r = ops->open (conn->srv->opaque, name, &handle, &info);
  if (r < 0)
    return r;
  r = check_info (ops, &info);
  if (r < 0) {
    conn_log (conn, NBD_LOG_ERROR, "export '%s': backend gave invalid "
              "block sizes or capabilities", name);
    if (ops->close)
      ops->close (handle);
    return -EIO;
  }
  conn->handle = handle;
  conn->info = info;
  conn->eflags = export_flags (conn, &info);
  conn->is_open = true;
  return 0;
}

static void
close_export (struct connection *conn)
{
  if (conn->is_open && conn->srv->ops.close)
    conn->srv->ops.close (conn->handle);
  conn->is_open = false;
}

static void
select_meta (struct connection *conn, const char *name)
{
  conn->base_allocation = conn->meta_selected &&
    strcmp (conn->meta_export, name) == 0;
}

int
option_export_name (struct connection *conn, const char *data, uint32_t len)
{
  struct nbd_export_name_reply rep = { 0 };
  CLEANUP_FREE char *name = NULL;
  size_t replen = conn->no_zeroes ? offsetof (struct nbd_export_name_reply,
                                              zeroes) : sizeof rep;
  int r;

  if (!valid_string (data, len))
    return -EPROTO;
  name = strndup (data, len);
  if (name == NULL)
    return -ENOMEM;
  r = open_export (conn, name);
  if (r < 0) {
    conn_log (conn, NBD_LOG_WARNING, "export '%s': %s", name, strerror (-r));
    return r;
  }
  select_meta (conn, name);
  rep.exportsize = htobe64 (conn->info.size);
  rep.eflags = htobe16 (conn->eflags);
  r = conn_send (conn, &rep, replen, false);
  return r < 0 ? r : HANDSHAKE_GO;
}

struct info_request {
  char *name;
  bool want_name, want_description;
};

/* Parse the NBD_OPT_INFO/GO payload; returns 0 or -EINVAL. */
static int
parse_info_request (const char *data, uint32_t len, struct info_request *q)
{
  uint32_t namelen;
  uint16_t nr, type;

  if (len < 6)
    return -EINVAL;
  memcpy (&namelen, data, 4);
  namelen = be32toh (namelen);
  if (namelen > len - 6 || !valid_string (data + 4, namelen))
    return -EINVAL;
  memcpy (&nr, data + 4 + namelen, 2);
  nr = be16toh (nr);
  if (len - 6 - namelen != 2u * nr)
    return -EINVAL;
  for (uint32_t i = 0; i < nr; i++) {
    memcpy (&type, data + 6 + namelen + 2 * i, 2);
    type = be16toh (type);
    q->want_name |= type == NBD_INFO_NAME;
    q->want_description |= type == NBD_INFO_DESCRIPTION;
  }
  q->name = strndup (data + 4, namelen);
  return q->name ? 0 : -ENOMEM;
}

static int
send_info_string (struct connection *conn, uint32_t option, uint16_t type,
                  const char *s)
{
  size_t len = strlen (s);
  CLEANUP_FREE char *buf = malloc (2 + len);
  uint16_t t = htobe16 (type);

  if (buf == NULL)
    return -ENOMEM;
  memcpy (buf, &t, 2);
  memcpy (buf + 2, s, len);
  return send_option_reply (conn, option, NBD_REP_INFO, buf, 2 + len);
}

static int
send_info (struct connection *conn, uint32_t option,
           const struct info_request *q)
{
  const struct nbd_export_info *i = &conn->info;
  struct nbd_info_export ex = {
    .info = htobe16 (NBD_INFO_EXPORT),
    .exportsize = htobe64 (i->size),
    .eflags = htobe16 (conn->eflags),
  };
  struct nbd_info_block_size bs = {
    .info = htobe16 (NBD_INFO_BLOCK_SIZE),
    .minimum = htobe32 (i->min_block),
    .preferred = htobe32 (i->pref_block),
    .maximum = htobe32 (i->max_block),
  };
  int r;

  r = send_option_reply (conn, option, NBD_REP_INFO, &ex, sizeof ex);
  if (r == 0)
    r = send_option_reply (conn, option, NBD_REP_INFO, &bs, sizeof bs);
  if (r == 0 && q->want_name)
    r = send_info_string (conn, option, NBD_INFO_NAME, q->name);
  if (r == 0 && q->want_description && i->description)
    r = send_info_string (conn, option, NBD_INFO_DESCRIPTION,
                          i->description);
  if (r == 0)
    r = send_option_reply (conn, option, NBD_REP_ACK, NULL, 0);
  return r;
}

static int
send_open_error (struct connection *conn, uint32_t option, const char *name,
                 int err)
{
  uint32_t reply = err == -ENOENT ? NBD_REP_ERR_UNKNOWN
    : err == -EACCES || err == -EPERM ? NBD_REP_ERR_POLICY
    : err == -ESHUTDOWN ? NBD_REP_ERR_SHUTDOWN
    : NBD_REP_ERR_INVALID;

  return send_option_error (conn, option, reply, "export '%s': %s",
                            name, strerror (-err));
}

int
option_info_go (struct connection *conn, uint32_t option,
                const char *data, uint32_t len)
{
  struct info_request q = { 0 };
  int r;

  r = parse_info_request (data, len, &q);
  if (r == -EINVAL)
    r = send_option_error (conn, option, NBD_REP_ERR_INVALID,
                           "malformed option");
  if (r < 0 || q.name == NULL)
    goto out;
  r = open_export (conn, q.name);
  if (r < 0) {
    r = send_open_error (conn, option, q.name, r);
    goto out;
  }
  r = send_info (conn, option, &q);
  if (r == 0 && option == NBD_OPT_GO) {
    select_meta (conn, q.name);
    r = HANDSHAKE_GO;
  } else {
    close_export (conn);
  }
 out:
  free (q.name);
  return r < 0 || r == HANDSHAKE_GO ? r : HANDSHAKE_CONTINUE;
}

static int
send_server_entry (struct connection *conn, const struct export_entry *x)
{
  size_t nlen = strlen (x->name);
  size_t dlen = x->description ? strlen (x->description) : 0;
  CLEANUP_FREE char *buf = malloc (4 + nlen + dlen);
  uint32_t n = htobe32 ((uint32_t) nlen);

  if (buf == NULL)
    return -ENOMEM;
  memcpy (buf, &n, 4);
  memcpy (buf + 4, x->name, nlen);
  if (dlen)
    memcpy (buf + 4 + nlen, x->description, dlen);
  return send_option_reply (conn, NBD_OPT_LIST, NBD_REP_SERVER, buf,
                            4 + nlen + dlen);
}

int
option_list (struct connection *conn, uint32_t len)
{
  const struct nbd_backend_ops *ops = &conn->srv->ops;
  struct nbd_export_list l = { .v = empty_vector };
  int r = 0;

  if (len != 0)
    return send_option_error (conn, NBD_OPT_LIST, NBD_REP_ERR_INVALID,
                              "unexpected option data");
  if (ops->list)
    r = ops->list (conn->srv->opaque, &l);
  if (r < 0) {
    r = send_option_error (conn, NBD_OPT_LIST, NBD_REP_ERR_POLICY,
                           "cannot list exports: %s", strerror (-r));
    goto out;
  }
  for (size_t i = 0; i < l.v.len && r == 0; i++)
    r = send_server_entry (conn, &l.v.ptr[i]);
  if (r == 0)
    r = send_option_reply (conn, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0);
 out:
  export_list_reset (&l);
  return r;
}
