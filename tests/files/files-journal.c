/* A file system that needs recovery is read with its journal replayed,
 * as a kernel mount would: committed transactions (written into the
 * journal of an image by debugfs's journal_write) are seen, a revoked
 * block keeps its place's contents, an uncommitted transaction is not
 * seen.  debugfs without recovery sees the old contents, so the test
 * does depend on the replay. */
#include <unistd.h>

#include "files-test.h"

static char dir[] = "/tmp/cdp-files-journal-XXXXXX";

static int
into_buf (void *o, const void *buf, size_t len)
{
  char *b = o;
  size_t have = strlen (b);

  cr_assert_lt (have + len, 4096);
  memcpy (b + have, buf, len);
  b[have + len] = 0;
  return 0;
}

static char *
cat (struct files *f, const char *path)
{
  static char buf[4096];
  struct files_sink sink = { .data = into_buf };
  int r;

  buf[0] = 0;
  r = files_read (f, path, &sink, buf, NULL);
  cr_assert_eq (r, 0, "cat %s: %s", path, files_error (f));
  return buf;
}

/* A.img: /a is "old"; B.img: A changed by debugfs (a rewritten, b and c
 * new); every 4 KiB block that differs goes into one transaction in
 * A's journal. */
static void
make_images (void)
{
  cr_assert_not_null (mkdtemp (dir));
  shell ("cd %s && mkdir src && echo old > src/a && "
         "mkfs.ext4 -q -F -b 4096 -d src A.img 32M && cp A.img B.img && "
         "echo new > newa && echo bee > newb && head -c 20000 /dev/urandom > newc && "
         "printf 'rm a\\nwrite newa a\\nwrite newb b\\nmkdir d\\nwrite newc d/c\\n' | "
         "debugfs -w -f - B.img >/dev/null 2>&1", dir);
  shell ("cd %s && python3 -c '"
         "a = open(\"A.img\", \"rb\").read(); b = open(\"B.img\", \"rb\").read()\n"
         "n = [i for i in range(len(a) // 4096) if a[i*4096:(i+1)*4096] != b[i*4096:(i+1)*4096]]\n"
         "open(\"blocks\", \"w\").write(\",\".join(map(str, n)))\n"
         "open(\"data\", \"wb\").write(b\"\".join(b[i*4096:(i+1)*4096] for i in n))'", dir);
  shell ("cd %s && printf 'jo\\njw -b %%s data\\njc\\n' \"$(cat blocks)\" | "
         "debugfs -w -f - A.img >/dev/null 2>&1", dir);
  /* Without replay the change is not there. */
  shell ("cd %s && test \"$(debugfs -R 'cat /a' A.img 2>/dev/null)\" = old", dir);
  shell ("cd %s && dumpe2fs -h A.img 2>/dev/null | grep -q needs_recovery", dir);
}

Test (journal, committed_transaction_is_replayed)
{
  struct mem_disk d;
  char path[128];
  files_entry_vector v = empty_vector;
  struct files *f;

  make_images ();
  snprintf (path, sizeof path, "%s/A.img", dir);
  load_disk (path, &d);
  f = attach (&d);
  cr_assert_str_eq (cat (f, "/a"), "new\n");
  cr_assert_str_eq (cat (f, "/b"), "bee\n");
  cr_assert_eq (files_list (f, "/d", &v), 0, "%s", files_error (f));
  cr_assert_eq (v.len, 1);
  cr_assert_str_eq (v.ptr[0].name, "c");
  cr_assert_eq (v.ptr[0].size, 20000);
  files_entry_vector_clear (&v);
  files_stop (f);
  free (d.buf);
  shell ("rm -rf %s", dir);
}

Test (journal, revoked_and_uncommitted_blocks_are_not_replayed)
{
  struct mem_disk d;
  char path[128];
  struct files *f;

  cr_assert_not_null (mkdtemp (dir));
  /* /a's data block gets garbage in transaction 1, which transaction 2
   * revokes; /b's gets garbage in a transaction never committed. */
  shell ("cd %s && mkdir src && echo keep-a > src/a && echo keep-b > src/b && "
         "mkfs.ext4 -q -F -b 4096 -d src A.img 32M && head -c 4096 /dev/urandom > junk && "
         "A=$(debugfs -R 'bmap /a 0' A.img 2>/dev/null) && "
         "B=$(debugfs -R 'bmap /b 0' A.img 2>/dev/null) && "
         "printf 'jo\\njw -b %%s junk\\njw -r %%s junk\\njw -c -b %%s junk\\njc\\n' $A $A $B | "
         "debugfs -w -f - A.img >/dev/null 2>&1 && "
         "dumpe2fs -h A.img 2>/dev/null | grep -q needs_recovery", dir);
  snprintf (path, sizeof path, "%s/A.img", dir);
  load_disk (path, &d);
  f = attach (&d);
  cr_assert_str_eq (cat (f, "/a"), "keep-a\n");
  cr_assert_str_eq (cat (f, "/b"), "keep-b\n");
  files_stop (f);
  free (d.buf);
  shell ("rm -rf %s", dir);
}
