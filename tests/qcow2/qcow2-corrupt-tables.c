/* Damaged L1 and L2 tables give -EUCLEAN, at open (L1) or when a read
 * or a map meets the entry (L2), never a read outside the file: tables
 * and clusters past the end of the file, misaligned entries, a zero
 * cluster flag in a version 2 image.  The rest of the image still
 * reads. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tests/qcow2/qcow2-test.h"

static struct qt t;
static const char *img;

/* 64 KiB clusters; guest 0..128 KiB written; v3 unless compat=0.10. */
static void
make (const char *opts)
{
  qt_sh ("cd %s && rm -f top.qcow2 && "
         "qemu-img create -q -f qcow2 -o %s top.qcow2 4M && "
         "qemu-io -c 'write -P 1 0 128k' top.qcow2 > /dev/null", t.dir, opts);
}

static void
setup (void)
{
  qt_init (&t);
  img = qt_path (&t, "top.qcow2");
  make ("compat=1.1");
}

static void
teardown (void)
{
  qt_cleanup (&t);
}

TestSuite (qcow2_tables, .init = setup, .fini = teardown);

static uint64_t
l1_off (void)
{
  return qt_peek_be64 (img, 40);
}

static uint64_t
l2_off (void)
{
  return qt_peek_be64 (img, l1_off ()) & 0x00fffffffffffe00ull;
}

static int
ignore (void *opaque, const struct qcow2_extent *e)
{
  return 0;
}

/* Cluster 0 of the image is bad; cluster 1 still reads. */
static void
bad_first_cluster (void)
{
  struct qcow2_chain *c;
  uint8_t *buf = malloc (128 << 10);

  cr_assert_eq (qcow2_open (img, &c), 0, "%s", cdp_get_error ());
  cr_assert_eq (qcow2_pread (c, buf, 0, 4096), -EUCLEAN);
  cr_assert_neq (cdp_get_error ()[0], '\0');
  cr_assert_eq (qcow2_pread (c, buf, 60000, 10000), -EUCLEAN);
  cr_assert_eq (qcow2_map (c, 0, 1 << 20, ignore, NULL), -EUCLEAN);
  cr_assert (!qcow2_is_hole (c, 0, 1));
  cr_assert_eq (qcow2_pread (c, buf, 64 << 10, 64 << 10), 0);
  for (int i = 0; i < 64 << 10; i++)
    cr_assert_eq (buf[i], 1);
  free (buf);
  qcow2_close (c);
}

Test (qcow2_tables, l1_offset)
{
  qt_poke_be64 (img, 40, 1ull << 40);     /* past the end of the file */
  qt_open_fails (img, -EUCLEAN);
  qt_poke_be64 (img, 40, UINT64_MAX - 7); /* overflows */
  qt_open_fails (img, -EUCLEAN);
  qt_poke_be64 (img, 40, 0x30200);        /* misaligned */
  qt_open_fails (img, -EUCLEAN);
}

Test (qcow2_tables, l1_entry)
{
  uint64_t l1 = l1_off ();

  qt_poke_be64 (img, l1, 1ull << 50);     /* L2 table past the end */
  qt_open_fails (img, -EUCLEAN);
  qt_poke_be64 (img, l1, 0x30200);        /* misaligned */
  qt_open_fails (img, -EUCLEAN);
}

Test (qcow2_tables, l2_entry_past_eof)
{
  qt_poke_be64 (img, l2_off (), (1ull << 63) | (1ull << 45));
  bad_first_cluster ();
}

Test (qcow2_tables, l2_entry_misaligned)
{
  uint64_t l2 = l2_off ();

  qt_poke_be64 (img, l2, qt_peek_be64 (img, l2) + 512);
  bad_first_cluster ();
}

Test (qcow2_tables, l2_entry_all_ones)
{
  qt_poke_be64 (img, l2_off (), UINT64_MAX & ~(1ull << 62));
  bad_first_cluster ();
}

Test (qcow2_tables, zero_flag_in_v2)
{
  uint64_t l2;

  make ("compat=0.10");
  l2 = l2_off ();
  qt_poke_be64 (img, l2, qt_peek_be64 (img, l2) | 1);
  bad_first_cluster ();
}

Test (qcow2_tables, l2_table_past_eof_file_shrunk)
{
  /* the file loses its tail after the L2 table: data clusters past the
   * new end are refused */
  struct qcow2_chain *c;
  uint8_t buf[512];
  uint64_t l2 = l2_off ();
  uint64_t data = qt_peek_be64 (img, l2) & 0x00fffffffffffe00ull;

  cr_assert_gt (data, l2);
  qt_sh ("truncate -s %llu %s", (unsigned long long) data, img);
  cr_assert_eq (qcow2_open (img, &c), 0, "%s", cdp_get_error ());
  cr_assert_eq (qcow2_pread (c, buf, 0, sizeof buf), -EUCLEAN);
  qcow2_close (c);
}
