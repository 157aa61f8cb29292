/* A raw image from the image writer: a sparse file of the given size,
 * data where written, holes where zeroed or never written; writes past
 * the end are refused. */
#include "common/error.h"
#include "imgwrite-test.h"

#define SIZE (16 * MiB + 4096 + 100)     /* raw sizes need no alignment */

static void setup (void) { scratch_make (); }
static void teardown (void) { scratch_remove (); }
TestSuite (imgwrite_raw, .init = setup, .fini = teardown, .timeout = 60);

Test (imgwrite_raw, sparse_file_with_data_and_holes)
{
  char *img = in_scratch ("out.raw");
  uint8_t *model = calloc (1, SIZE), *data = malloc (8 * MiB), *got;
  struct stat st;
  struct imgw *w;

  fill_random (data, 8 * MiB, 11);
  cr_assert_eq (imgw_create (img, "raw", SIZE, NULL, &w), 0, "%s",
                cdp_get_error ());
  cr_assert_eq (imgw_write (w, data, MiB, 4 * MiB), 0, "%s", cdp_get_error ());
  memcpy (model + MiB, data, 4 * MiB);
  cr_assert_eq (imgw_zero (w, 2 * MiB, MiB), 0, "%s", cdp_get_error ());
  memset (model + 2 * MiB, 0, MiB);
  cr_assert_eq (imgw_write (w, data + 5, SIZE - 10, 10), 0);
  memcpy (model + SIZE - 10, data + 5, 10);
  cr_assert_eq (imgw_write (w, data, SIZE - 9, 10), -EINVAL);
  cr_assert (strstr (cdp_get_error (), "past the end"), "%s", cdp_get_error ());
  cr_assert_eq (imgw_finish (w), 0, "%s", cdp_get_error ());
  assert_no_helper ();

  cr_assert_eq (stat (img, &st), 0);
  cr_assert_eq (st.st_size, SIZE);
  cr_assert_eq (st.st_mode & 0777, 0600 & ~umask (022));
  cr_assert_lt (st.st_blocks * 512, 3 * MiB + 64 * 1024, "not sparse: %ld blocks",
                (long) st.st_blocks);
  got = image_bytes (img, "raw", SIZE);
  assert_same (got, model, SIZE);
  free (got);
  free (data);
  free (model);
  free (img);
}
