/* base:allocation is listed for an empty query, "base:" and its own
 * name, selected by NBD_OPT_SET_META_CONTEXT, and refused before
 * structured replies; BLOCK_STATUS needs the selection to name the
 * export that is opened. */
#include <criterion/criterion.h>
#include <errno.h>
#include <endian.h>
#include <string.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

static int
count (void *opaque, const char *name)
{
  cr_assert_str_eq (name, "base:allocation");
  ++*(int *) opaque;
  return 0;
}

/* Meta-context option payload: export name, then queries. */
static uint32_t
meta_payload (char *buf, const char *export, const char *query)
{
  uint32_t n = 0, be;

  be = htobe32 ((uint32_t) strlen (export));
  memcpy (buf, &be, 4);
  memcpy (buf + 4, export, strlen (export));
  n = 4 + (uint32_t) strlen (export);
  be = htobe32 (query ? 1 : 0);
  memcpy (buf + n, &be, 4);
  n += 4;
  if (query) {
    be = htobe32 ((uint32_t) strlen (query));
    memcpy (buf + n, &be, 4);
    memcpy (buf + n + 4, query, strlen (query));
    n += 4 + (uint32_t) strlen (query);
  }
  return n;
}

Test (nbd_handshake, meta_context)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  char buf[256];
  uint32_t len, id, err;
  uint16_t flags;
  uint64_t cookie;
  int n = 0, fd;

  th_start (&t, &cfg, 1 << 20);
  h = nbd_create ();
  nbd_set_opt_mode (h, true);
  cr_assert_eq (nbd_connect_unix (h, t.sock), 0);
  cr_assert_eq (nbd_opt_list_meta_context (h, (nbd_context_callback) {
        .callback = count, .user_data = &n }), 1);
  nbd_add_meta_context (h, "base:");
  nbd_add_meta_context (h, "qemu:dirty-bitmap:x");
  cr_assert_eq (nbd_opt_list_meta_context (h, (nbd_context_callback) {
        .callback = count, .user_data = &n }), 1);
  nbd_close (h);
  cr_assert_eq (n, 2);

  /* Before NBD_OPT_STRUCTURED_REPLY: invalid. */
  fd = th_raw_connect (&t, false);
  len = meta_payload (buf, "", "base:allocation");
  th_raw_option (fd, NBD_OPT_SET_META_CONTEXT, buf, len);
  cr_assert_eq (th_raw_option_reply (fd, NBD_OPT_SET_META_CONTEXT, NULL, 0,
                                     NULL), NBD_REP_ERR_INVALID);
  th_raw_option (fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
  th_raw_option_reply (fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0, NULL);
  /* A truncated query is malformed. */
  len = meta_payload (buf, "other", "base:allocation");
  th_raw_option (fd, NBD_OPT_SET_META_CONTEXT, buf, len - 1);
  cr_assert_eq (th_raw_option_reply (fd, NBD_OPT_SET_META_CONTEXT, NULL, 0,
                                     NULL), NBD_REP_ERR_INVALID);
  /* Selected for export "other", then GO to "": no block status. */
  th_raw_option (fd, NBD_OPT_SET_META_CONTEXT, buf, len);
  cr_assert_eq (th_raw_option_reply (fd, NBD_OPT_SET_META_CONTEXT, &id, 4,
                                     NULL), NBD_REP_META_CONTEXT);
  cr_assert_neq (id, 0);
  cr_assert_eq (th_raw_option_reply (fd, NBD_OPT_SET_META_CONTEXT, NULL, 0,
                                     NULL), NBD_REP_ACK);
  th_raw_go (fd, false);
  th_raw_request (fd, 0, NBD_CMD_BLOCK_STATUS, 1, 0, 4096);
  cr_assert_eq (th_raw_chunk (fd, &flags, &cookie, &len),
                NBD_REPLY_TYPE_ERROR);
  cr_assert_eq (flags, NBD_REPLY_FLAG_DONE);
  cr_assert_eq (cookie, 1);
  cr_assert_eq (len, 6);
  th_read_all (fd, &err, 4);
  th_read_all (fd, buf, 2);
  cr_assert_eq (be32toh (err), NBD_EINVAL);
  close (fd);
  th_stop (&t);
}
