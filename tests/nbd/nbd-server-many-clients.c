/* Many clients at once, each writing and reading back its own region
 * with requests in flight, all see their own data. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "tests/nbd/test-helpers.h"

#define CLIENTS 16
#define REGION (256 * 1024)

static struct th t;

static void *
client (void *arg)
{
  int id = (int) (intptr_t) arg;
  struct nbd_handle *h = nbd_create ();
  static __thread char w[REGION], r[REGION];
  uint64_t base = (uint64_t) id * REGION;

  nbd_add_meta_context (h, LIBNBD_CONTEXT_BASE_ALLOCATION);
  if (nbd_connect_unix (h, t.sock) < 0)
    return (void *) 1;
  memset (w, id + 1, sizeof w);
  for (int i = 0; i < 16; i++)
    if (nbd_aio_pwrite (h, w + i * 16384, 16384, base + i * 16384,
                        NBD_NULL_COMPLETION, 0) < 0)
      return (void *) 2;
  while (nbd_aio_in_flight (h) > 0)
    if (nbd_poll (h, -1) < 0)
      return (void *) 3;
  if (nbd_pread (h, r, sizeof r, base, 0) < 0 || memcmp (w, r, sizeof r))
    return (void *) 4;
  nbd_shutdown (h, 0);
  nbd_close (h);
  return NULL;
}

Test (nbd_server, many_clients)
{
  struct tb_config cfg = { .fd = -1, .async = true };
  pthread_t thr[CLIENTS];
  void *ret;

  th_start (&t, &cfg, (uint64_t) CLIENTS * REGION);
  for (int i = 0; i < CLIENTS; i++)
    pthread_create (&thr[i], NULL, client, (void *) (intptr_t) i);
  for (int i = 0; i < CLIENTS; i++) {
    pthread_join (thr[i], &ret);
    cr_assert_null (ret, "client %d failed at step %p", i, ret);
  }
  th_stop (&t);
}
