/* cdp journal: the file offset alignment O_DIRECT needs on a file.
 * Kept apart because <linux/stat.h> and glibc's <sys/stat.h> clash. */
#include <fcntl.h>
#include <linux/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <stdint.h>

uint32_t dio_align (int fd);

/* 512..4096 as the file system reports it; 4096 where it does not say. */
uint32_t
dio_align (int fd)
{
  struct statx st = { 0 };

  if (syscall (SYS_statx, fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st) == 0 &&
      (st.stx_mask & STATX_DIOALIGN) && st.stx_dio_offset_align >= 512 &&
      st.stx_dio_offset_align <= 4096 && st.stx_dio_mem_align <= 4096)
    return st.stx_dio_offset_align;
  return 4096;
}
