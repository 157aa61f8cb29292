/* A directory store's put works while another writer of the same
 * directory (another host on NFS, another container) has a temporary
 * file of the name this process would make from its pid, thread id and
 * counter: the put neither fails nor removes that writer's file. */
#include <fcntl.h>

#include "tests/archive/archive-test.h"

Test (archive_store_dir_tmp_name, another_writers_tmp_file)
{
  char *dir = tmp_dir (), path[512], *back = NULL;
  struct archive_store *s;
  void *buf;
  size_t len;
  int fd;

  cr_assert_eq (store_dir_open (dir, &s), 0, "%s", cdp_get_error ());
  /* What this process's first put would name its temporary file. */
  snprintf (path, sizeof path, "%s/tmp/%ld-%ld-0", dir, (long) getpid (),
            (long) gettid ());
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  cr_assert_geq (fd, 0, "%s", path);
  cr_assert_eq (fio_write_all (fd, "another writer's", 16), 0);
  close (fd);

  cr_assert_eq (s->ops->put (s, "points/vm1/x", "data", 4), 0, "%s",
                cdp_get_error ());
  cr_assert_eq (s->ops->get (s, "points/vm1/x", &buf, &len), 0);
  cr_assert_eq (len, 4);
  cr_assert_eq (memcmp (buf, "data", 4), 0);
  free (buf);
  cr_assert_eq (fio_read (path, &back, &len), 0,
                "the other writer's temporary file was removed");
  cr_assert_eq (len, 16);
  free (back);
  archive_store_close (s);
  rm_tree (dir);
}
