/* With structured replies, zero blocks of a read come back as
 * NBD_REPLY_TYPE_OFFSET_HOLE chunks and data as OFFSET_DATA; with
 * NBD_CMD_FLAG_DF the whole read is one data chunk. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tests/nbd/test-helpers.h"

struct chunks {
  int data, holes;
  uint64_t covered;
};

/* The disk: data (0x77) at 16K-24K and 40K-44K, zeroes elsewhere. */
static char
expected (uint64_t off)
{
  return (off >= 16384 && off < 24576) || (off >= 40960 && off < 45056)
    ? 0x77 : 0;
}

static int
chunk (void *opaque, const void *subbuf, size_t count, uint64_t offset,
       unsigned status, int *error)
{
  struct chunks *c = opaque;
  const char *p = subbuf;

  cr_assert_eq (*error, 0);
  if (status == LIBNBD_READ_HOLE)
    c->holes++;
  else
    c->data++;
  for (size_t i = 0; i < count; i++)
    cr_assert_eq (p[i], expected (offset + i));
  c->covered += count;
  return 0;
}

Test (nbd_cmd, read_holes)
{
  struct tb_config cfg = { .fd = -1 };
  struct th t;
  struct nbd_handle *h;
  char buf[65536];
  struct chunks c = { 0 };

  th_start (&t, &cfg, 1 << 20);
  memset (buf, 0x77, 8192);
  cr_assert_eq (pwrite (tb_fd (t.disk), buf, 8192, 16384), 8192);
  cr_assert_eq (pwrite (tb_fd (t.disk), buf, 4096, 40960), 4096);

  h = th_connect (&t);
  /* 0-16K hole, 16K-24K data, 24K-40K hole, 40K-44K data, rest hole. */
  cr_assert_eq (nbd_pread_structured (h, buf, sizeof buf, 0,
                  (nbd_chunk_callback) { .callback = chunk, .user_data = &c },
                  0), 0);
  cr_assert_eq (c.covered, sizeof buf);
  cr_assert_eq (c.data, 2);
  cr_assert_eq (c.holes, 3);

  memset (&c, 0, sizeof c);
  memset (buf, 1, sizeof buf);
  cr_assert_eq (nbd_pread_structured (h, buf, 8192, 12288,
                  (nbd_chunk_callback) { .callback = chunk, .user_data = &c },
                  LIBNBD_CMD_FLAG_DF), 0);
  cr_assert_eq (c.data, 1);
  cr_assert_eq (c.holes, 0);
  nbd_close (h);
  th_stop (&t);
}
