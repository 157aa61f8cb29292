/* A qcow2 overlay written through the image writer holds what was
 * written over its backing file, zeroes where zeroes were written (also
 * where the backing holds data), the backing everywhere else; it passes
 * `qemu-img check`, keeps its backing file, and no qemu-nbd is left. */
#include "common/error.h"
#include "imgwrite-test.h"

#define SIZE (8 * MiB)

static void setup (void) { scratch_make (); }
static void teardown (void) { scratch_remove (); }
TestSuite (imgwrite_overlay, .init = setup, .fini = teardown, .timeout = 120);

/* Apply one write (data) or zero (NULL) to the writer and the model. */
static void
put (struct imgw *w, uint8_t *model, const uint8_t *data, uint64_t off,
     uint64_t len)
{
  int r;

  if (data) {
    r = imgw_write (w, data, off, len);
    memcpy (model + off, data, len);
  }
  else {
    r = imgw_zero (w, off, len);
    memset (model + off, 0, len);
  }
  cr_assert_eq (r, 0, "%s at %lu+%lu: %s", data ? "write" : "zero",
                (unsigned long) off, (unsigned long) len, cdp_get_error ());
}

Test (imgwrite_overlay, writes_and_zeroes_over_backing)
{
  char *base = in_scratch ("base.qcow2"), *ov = in_scratch ("ov:1.qcow2");
  uint8_t *model = malloc (SIZE), *data = malloc (6 * MiB), *got;
  struct imgw *w;

  /* Backing: 0x11 everywhere but a hole at [7M, 8M). */
  cr_assert_eq (sh ("qemu-img create -q -f qcow2 '%s' %u && "
                    "qemu-io -f qcow2 -c 'write -P 0x11 0 7M' '%s' >/dev/null",
                    base, SIZE, base), 0);
  memset (model, 0x11, 7 * MiB);
  memset (model + 7 * MiB, 0, MiB);
  fill_random (data, 6 * MiB, 7);

  cr_assert_eq (imgw_create (ov, "qcow2", SIZE, base, &w), 0, "%s",
                cdp_get_error ());
  cr_assert (qemu_nbd_running ());
  put (w, model, data, 512, 300 * 1024);            /* unaligned start */
  put (w, model, NULL, 3 * MiB, MiB);               /* whole clusters */
  put (w, model, NULL, 5 * MiB + 1000, 70000);      /* partial clusters */
  put (w, model, data + 100, 4 * MiB + 7, 5000);    /* inside one cluster */
  put (w, model, data, 1 * MiB, 6 * MiB - 4096);    /* several requests */
  put (w, model, NULL, 2 * MiB, 64 * 1024);         /* over what was just sent */
  put (w, model, data + 3, 6 * MiB + 12345, 1);     /* one byte */
  put (w, model, NULL, 7 * MiB + 4096, 4096);       /* over a backing hole */
  cr_assert_eq (imgw_finish (w), 0, "%s", cdp_get_error ());
  assert_no_helper ();

  cr_assert_eq (sh ("qemu-img check -q '%s'", ov), 0, "qemu-img check failed");
  cr_assert_eq (sh ("qemu-img info --output=json '%s' | grep -q "
                    "'\"backing-filename-format\": \"qcow2\"'", ov), 0,
                "the overlay lost its backing file");
  got = image_bytes (ov, "qcow2", SIZE);
  assert_same (got, model, SIZE);

  /* The backing file is untouched. */
  free (got);
  got = image_bytes (base, "qcow2", SIZE);
  for (size_t i = 0; i < SIZE; i++)
    cr_assert_eq (got[i], i < 7 * MiB ? 0x11 : 0, "backing byte %zu", i);
  free (got);
  free (data);
  free (model);
  free (ov);
  free (base);
}

/* Clusters nobody wrote stay unallocated in the overlay: it holds
 * only what changed. */
Test (imgwrite_overlay, only_changed_clusters)
{
  char *base = in_scratch ("base.qcow2"), *ov = in_scratch ("ov.qcow2");
  char *map = in_scratch ("map.json");
  uint8_t data[4096];
  struct imgw *w;

  cr_assert_eq (sh ("qemu-img create -q -f qcow2 '%s' %u && "
                    "qemu-io -f qcow2 -c 'write -P 0x11 0 8M' '%s' >/dev/null",
                    base, SIZE, base), 0);
  fill_random (data, sizeof data, 3);
  cr_assert_eq (imgw_create (ov, "qcow2", SIZE, base, &w), 0, "%s",
                cdp_get_error ());
  cr_assert_eq (imgw_write (w, data, 5 * MiB, sizeof data), 0);
  cr_assert_eq (imgw_finish (w), 0, "%s", cdp_get_error ());
  /* Depth 0 = in the overlay: one 64 KiB cluster, at 5M. */
  cr_assert_eq (sh ("qemu-img map --output=json '%s' > '%s'", ov, map), 0);
  cr_assert_eq (sh ("python3 -c '\n"
                    "import json, sys\n"
                    "m = [e for e in json.load(open(sys.argv[1])) if e[\"depth\"] == 0 and e[\"data\"]]\n"
                    "assert [(e[\"start\"], e[\"length\"]) for e in m] == [(5 << 20, 65536)], m\n"
                    "' '%s'", map), 0, "the overlay holds more than the changed cluster");
  assert_no_helper ();
  free (map);
  free (ov);
  free (base);
}
