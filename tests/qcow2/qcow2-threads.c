/* Many threads read one chain at once, through L2 caches far smaller
 * than the chain's L2 tables (512-byte clusters: a 4 KiB slice covers
 * 32 KiB), and every read equals what QEMU reads. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tests/qcow2/qcow2-test.h"

#define SIZE (64ull << 20)
#define THREADS 8
#define READS 3000

static struct qcow2_chain *chain;
static const uint8_t *ref;

static void *
reader (void *arg)
{
  unsigned seed = (unsigned) (uintptr_t) arg;
  uint8_t *buf = malloc (1 << 20);

  for (int i = 0; i < READS; i++) {
    uint64_t len = 1 + rand_r (&seed) % (rand_r (&seed) % 4 ? 8192 : 1 << 20);
    uint64_t off = ((uint64_t) rand_r (&seed) << 16 ^ rand_r (&seed)) %
                   (SIZE - len + 1);

    if (qcow2_pread (chain, buf, off, len) != 0 ||
        memcmp (buf, ref + off, len) != 0) {
      free (buf);
      return (void *) (uintptr_t) (off + 1);
    }
  }
  free (buf);
  return NULL;
}

Test (qcow2, threads)
{
  struct qt t;
  const char *base, *mid, *top;
  pthread_t th[THREADS];
  uint64_t size;

  qt_init (&t);
  base = qt_path (&t, "base.qcow2");
  mid = qt_path (&t, "mid.qcow2");
  top = qt_path (&t, "top.qcow2");
  qt_sh ("qemu-img create -q -f qcow2 -o cluster_size=4k '%s' %llu",
         base, SIZE);
  qt_random_ops (&t, base, "qcow2", SIZE, 400, 1);
  qt_sh ("qemu-img create -q -f qcow2 -o cluster_size=64k -b base.qcow2 "
         "-F qcow2 '%s'", mid);
  qt_random_ops (&t, mid, "qcow2", SIZE, 400, 2);
  qt_sh ("qemu-img create -q -f qcow2 -o cluster_size=512 -b mid.qcow2 "
         "-F qcow2 '%s'", top);
  qt_random_ops (&t, top, "qcow2", SIZE, 3000, 3);
  ref = qt_qemu_read (&t, top, &size);
  cr_assert_eq (size, SIZE);
  cr_assert_eq (qcow2_open (top, &chain), 0, "%s", cdp_get_error ());
  for (int i = 0; i < THREADS; i++)
    cr_assert_eq (pthread_create (&th[i], NULL, reader,
                                  (void *) (uintptr_t) (i + 1)), 0);
  for (int i = 0; i < THREADS; i++) {
    void *res;
    cr_assert_eq (pthread_join (th[i], &res), 0);
    cr_assert_null (res, "thread %d: wrong read at %#" PRIxPTR, i,
                    (uintptr_t) res - 1);
  }
  qcow2_close (chain);
  free ((void *) ref);
  qt_cleanup (&t);
}
