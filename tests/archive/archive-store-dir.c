/* The directory store gives store.h's operations: put replaces an
 * object whole (a writer killed in the middle leaves the old object or
 * the new, and its temporary file only under tmp/); get and get_range
 * (-EIO when the object is shorter); stat; touch sets the time to the
 * store's now and fails with -ENOENT for a missing object; del is 0
 * for a missing one; list is recursive, matches a prefix that ends
 * inside a name, and never shows tmp/ under another prefix; bad keys
 * are refused. */
#include <signal.h>
#include <sys/wait.h>

#include "tests/archive/archive-test.h"

struct listed {
  int n;
  char keys[16][128];
};

static int
collect (void *opaque, const struct archive_obj *o)
{
  struct listed *l = opaque;

  cr_assert_lt (l->n, 16);
  snprintf (l->keys[l->n++], 128, "%s", o->key);
  return 0;
}

static bool
listed (const struct listed *l, const char *key)
{
  for (int i = 0; i < l->n; i++)
    if (strcmp (l->keys[i], key) == 0)
      return true;
  return false;
}

Test (archive_store_dir, operations)
{
  char *dir = tmp_dir ();
  struct archive_store *s;
  struct listed l = { 0 };
  uint64_t size;
  int64_t t1, t2, now;
  void *buf;
  size_t len;
  char part[4];

  cr_assert_eq (store_dir_open (dir, &s), 0);
  cr_assert_eq (s->ops->put (s, "a/b/c", "hello", 5), 0);
  cr_assert_eq (s->ops->put (s, "a/b/d", "x", 1), 0);
  cr_assert_eq (s->ops->put (s, "a/e", "yy", 2), 0);
  cr_assert_eq (s->ops->put (s, "top", "z", 1), 0);
  cr_assert_eq (s->ops->get (s, "a/b/c", &buf, &len), 0);
  cr_assert_eq (len, 5);
  cr_assert_eq (memcmp (buf, "hello", 5), 0);
  free (buf);
  cr_assert_eq (s->ops->get_range (s, "a/b/c", part, 1, 3), 0);
  cr_assert_eq (memcmp (part, "ell", 3), 0);
  cr_assert_eq (s->ops->get_range (s, "a/b/c", part, 3, 3), -EIO);
  cr_assert_eq (s->ops->get (s, "a/none", &buf, &len), -ENOENT);
  cr_assert_eq (s->ops->stat (s, "a/b/c", &size, &t1), 0);
  cr_assert_eq (size, 5);
  cr_assert_eq (s->ops->stat (s, "a/b", NULL, NULL), -ENOENT);

  /* touch: the store's now, which only goes forward. */
  cr_assert_eq (s->ops->now (s, &now), 0);
  cr_assert_geq (now, t1);
  do {
    cr_assert_eq (s->ops->touch (s, "a/b/c"), 0);
    cr_assert_eq (s->ops->stat (s, "a/b/c", NULL, &t2), 0);
  } while (t2 == t1);               /* the same tick of the file system */
  cr_assert_gt (t2, t1);
  cr_assert_eq (s->ops->touch (s, "a/none"), -ENOENT);

  cr_assert_eq (s->ops->list (s, "a/", collect, &l), 0);
  cr_assert_eq (l.n, 3);
  cr_assert (listed (&l, "a/b/c") && listed (&l, "a/b/d") && listed (&l, "a/e"));
  l.n = 0;
  cr_assert_eq (s->ops->list (s, "a/b/", collect, &l), 0);
  cr_assert_eq (l.n, 2);
  l.n = 0;
  cr_assert_eq (s->ops->list (s, "a/b/c", collect, &l), 0);
  cr_assert_eq (l.n, 1);
  l.n = 0;
  cr_assert_eq (s->ops->list (s, "t", collect, &l), 0);
  cr_assert_eq (l.n, 1, "tmp/ was listed under 't'");
  cr_assert (listed (&l, "top"));
  l.n = 0;
  cr_assert_eq (s->ops->list (s, "none/", collect, &l), 0);
  cr_assert_eq (l.n, 0);

  cr_assert_eq (s->ops->del (s, "a/b/c"), 0);
  cr_assert_eq (s->ops->del (s, "a/b/c"), 0);
  cr_assert_eq (s->ops->stat (s, "a/b/c", NULL, NULL), -ENOENT);
  cr_assert_eq (s->ops->put (s, "../x", "x", 1), -EINVAL);
  cr_assert_eq (s->ops->put (s, "a//x", "x", 1), -EINVAL);
  cr_assert_eq (s->ops->put (s, "/x", "x", 1), -EINVAL);
  cr_assert_eq (s->ops->put (s, "a/./x", "x", 1), -EINVAL);
  s->ops->close (s);
  rm_tree (dir);
}

#define BIG (3u << 20)

Test (archive_store_dir, killed_writer)
{
  char *dir = tmp_dir ();
  struct archive_store *s;
  uint8_t *a = malloc (BIG), *b = malloc (BIG);
  struct listed l = { 0 };
  int p[2], status;
  pid_t pid;
  char c;

  memset (a, 'a', BIG);
  memset (b, 'b', BIG);
  cr_assert_eq (store_dir_open (dir, &s), 0);
  cr_assert_eq (s->ops->put (s, "obj/x", a, BIG), 0);
  cr_assert_eq (pipe (p), 0);
  pid = fork ();
  cr_assert_geq (pid, 0);
  if (pid == 0) {
    for (unsigned i = 0;; i++)
      if (s->ops->put (s, "obj/x", i % 2 ? a : b, BIG) < 0
          || write (p[1], "x", 1) != 1)
        _exit (1);
  }
  close (p[1]);
  for (int round = 0; round < 3; round++)
    cr_assert_eq (read (p[0], &c, 1), 1, "the writer stopped");
  cr_assert_eq (kill (pid, SIGKILL), 0);
  cr_assert_eq (waitpid (pid, &status, 0), pid);
  close (p[0]);
  {
    void *buf;
    size_t len;
    cr_assert_eq (s->ops->get (s, "obj/x", &buf, &len), 0);
    cr_assert_eq (len, BIG);
    cr_assert (memcmp (buf, a, BIG) == 0 || memcmp (buf, b, BIG) == 0,
               "the object mixes two puts");
    free (buf);
  }
  cr_assert_eq (s->ops->list (s, "obj/", collect, &l), 0);
  cr_assert_eq (l.n, 1, "a temporary file is listed with the objects");
  s->ops->close (s);
  free (a);
  free (b);
  rm_tree (dir);
}
