/* Which base points retention removes (maint_retention_drops), and
 * which a store low on space deletes outright (maint_leaf_deletable):
 * only those older than the retention; never the newest of a disk, a
 * locked point or a bookmark, nor the base the journal's oldest records
 * stand on; a leaf is deleted only when nothing stands on it.  The
 * retention loop is run here as maint.c runs it, over a catalog held in
 * memory. */
#include <criterion/criterion.h>
#include <string.h>

#include "cdp/daemon/maint-policy.h"
#include "tests/daemon/daemon-test.h"

/* Disk 0: a <- b <- c <- d (seq 10, 20, 30, 40); disk 1: x <- y (15, 45). */
static void
chain (struct base_catalog *c)
{
  memset (c, 0, sizeof *c);
  dt_catalog_add (c, 0, 10, 100, "a", "");
  dt_catalog_add (c, 0, 20, 200, "b", "a");
  dt_catalog_add (c, 0, 30, 300, "c", "b");
  dt_catalog_add (c, 0, 40, 400, "d", "c");
  dt_catalog_add (c, 1, 15, 150, "x", "");
  dt_catalog_add (c, 1, 45, 450, "y", "x");
}

static bool
drops (const struct base_catalog *c, const char *file, int64_t before,
       const kept_vector *k, uint64_t first)
{
  const struct base_point *p = catalog_by_file (c, file);

  cr_assert_not_null (p, "%s", file);
  return maint_retention_drops (c, (size_t) (p - c->v.ptr), before, k, first);
}

/* base_retention: drop what may go, starting over after each drop (a
 * drop rebases the children onto the parent); what is left, as
 * "a b ..." in catalog order. */
static void
retention (struct base_catalog *c, int64_t before, const kept_vector *k,
           uint64_t first, char *left, size_t len)
{
  for (size_t i = 0; i < c->v.len;) {
    if (maint_retention_drops (c, i, before, k, first)) {
      struct base_point p = c->v.ptr[i];
      for (size_t n = 0; n < c->v.len; n++)
        if (strcmp (c->v.ptr[n].parent, p.file) == 0)
          snprintf (c->v.ptr[n].parent, sizeof c->v.ptr[n].parent, "%s",
                    p.parent);
      catalog_remove (c, p.file);
      i = 0;
    }
    else
      i++;
  }
  *left = 0;
  for (size_t i = 0; i < c->v.len; i++)
    snprintf (left + strlen (left), len - strlen (left), "%s%s",
              i ? " " : "", c->v.ptr[i].file);
}

Test (maint_retention_drops, old_unkept_not_newest)
{
  struct base_catalog c;
  kept_vector k = empty_vector;

  chain (&c);
  cr_assert (drops (&c, "a", 1000, &k, 100));
  cr_assert (drops (&c, "b", 1000, &k, 100));
  cr_assert (drops (&c, "x", 1000, &k, 100));
  cr_assert_not (drops (&c, "d", 1000, &k, 100), "the newest of disk 0");
  cr_assert_not (drops (&c, "y", 1000, &k, 100), "the newest of disk 1");
  cr_assert_not (drops (&c, "b", 200, &k, 100), "not older than retention");
  cr_assert (drops (&c, "b", 201, &k, 100));
  catalog_free (&c);
}

Test (maint_retention_drops, journal_base_stays)
{
  struct base_catalog c;
  kept_vector k = empty_vector;

  chain (&c);
  /* The journal starts at 35: its oldest records stand on c. */
  cr_assert_not (drops (&c, "c", 1000, &k, 35));
  cr_assert (drops (&c, "b", 1000, &k, 35));
  /* Starting right after a base point: that one is still the base. */
  cr_assert_not (drops (&c, "b", 1000, &k, 21));
  cr_assert_not (drops (&c, "b", 1000, &k, 20));
  cr_assert (drops (&c, "b", 1000, &k, 31));
  cr_assert_not (drops (&c, "c", 1000, &k, 31));
  catalog_free (&c);
}

Test (maint_retention_drops, locks_and_bookmarks_stay)
{
  struct base_catalog c;
  kept_vector k = empty_vector;
  char left[64];

  chain (&c);
  kept_vector_append (&k, (struct kept) { 20, 200, UINT32_MAX });  /* lock */
  kept_vector_append (&k, (struct kept) { 15, 150, 1 });           /* bookmark */
  cr_assert (maint_is_kept (&k, 20));
  cr_assert_not (maint_is_kept (&k, 30));
  cr_assert_not (drops (&c, "b", 1000, &k, 100));
  cr_assert_not (drops (&c, "x", 1000, &k, 100));
  cr_assert (drops (&c, "a", 1000, &k, 100));
  retention (&c, 1000, &k, 100, left, sizeof left);
  cr_assert_str_eq (left, "b d x y");
  cr_assert_str_eq (catalog_by_file (&c, "d")->parent, "b");
  catalog_free (&c);

  chain (&c);
  retention (&c, 1000, &k, 35, left, sizeof left);
  cr_assert_str_eq (left, "b c d x y");
  catalog_free (&c);

  chain (&c);
  k.len = 0;
  retention (&c, 250, &k, 100, left, sizeof left);
  cr_assert_str_eq (left, "c d y");
  catalog_free (&c);
  kept_vector_reset (&k);
}

Test (maint_retention_drops, space_deletes_leaves_only)
{
  struct base_catalog c;
  kept_vector k = empty_vector;
  const struct base_point *p;

  chain (&c);
  dt_catalog_add (&c, 0, 25, 250, "e", "b");        /* a branch off b */
  for (size_t i = 0; i < c.v.len; i++) {
    p = &c.v.ptr[i];
    cr_assert_eq (maint_leaf_deletable (&c, i, &k), strcmp (p->file, "e") == 0,
                  "%s", p->file);
  }
  kept_vector_append (&k, (struct kept) { 25, 250, 0 });
  p = catalog_by_file (&c, "e");
  cr_assert_not (maint_leaf_deletable (&c, (size_t) (p - c.v.ptr), &k));
  catalog_free (&c);
  kept_vector_reset (&k);
}
