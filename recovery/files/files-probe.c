/* cdp recovery, file-level browse: what a volume holds, by its magic
 * numbers (runs in the sandboxed child).  Only to choose a reader and to
 * name the file system in messages; the reader validates for itself.
 * probe_is_fs() recognizes the file systems whose boot sector ends in
 * 55 AA like an MBR (FAT, NTFS, exFAT), so that such a disk without a
 * partition table is not taken for one; any other file system at the
 * start of a disk leaves sector 0 free, and a valid MBR there wins. */
#include <string.h>

#include "recovery/files/files-internal.h"

struct magic {
  const char *name;
  uint64_t off;
  const char *bytes;
  size_t len;
};

/* Checked in order, first match wins. */
static const struct magic magics[] = {
  { "xfs", 0, "XFSB", 4 },
  { "btrfs", 65536 + 64, "_BHRfS_M", 8 },
  { "ntfs", 3, "NTFS    ", 8 },
  { "exfat", 3, "EXFAT   ", 8 },
  { "luks", 0, "LUKS\xba\xbe", 6 },
  { "lvm2", 512 + 24, "LVM2 001", 8 },
  { "lvm2", 24, "LVM2 001", 8 },
  { "f2fs", 1024, "\x10\x20\xf5\xf2", 4 },
  { "iso9660", 32769, "CD001", 5 },
  { "swap", 4096 - 10, "SWAPSPACE2", 10 },
  { "swap", 4096 - 10, "SWAP-SPACE", 10 },
  { "linux_raid", 4096, "\xfc\x4e\x2b\xa9", 4 },
  { "zfs_member", 0x21000 + 0x3c0, "\x0c\xb1\xba\0\0\0\0\0", 8 },
};

static bool
has (uint64_t off, uint64_t size, const struct magic *m)
{
  char buf[16];

  if (m->off + m->len > size)
    return false;
  return child_pread (buf, off + m->off, m->len) == 0 &&
         memcmp (buf, m->bytes, m->len) == 0;
}

/* A FAT boot sector: jump, sane BPB, 55 AA, a FAT type string. */
static bool
is_vfat (const uint8_t *s)
{
  unsigned bps = s[11] | s[12] << 8, spc = s[13];

  if (s[510] != 0x55 || s[511] != 0xaa || (s[0] != 0xeb && s[0] != 0xe9))
    return false;
  if (bps < 512 || bps > 4096 || (bps & (bps - 1)) || spc == 0 || (spc & (spc - 1)))
    return false;
  return memcmp (s + 54, "FAT", 3) == 0 || memcmp (s + 82, "FAT32", 5) == 0 ||
         memcmp (s + 3, "MSDOS", 5) == 0 || memcmp (s + 3, "mkfs.fat", 8) == 0 ||
         memcmp (s + 3, "MSWIN", 5) == 0;
}

static const char *
probe_ext (uint64_t off, uint64_t size)
{
  uint8_t sb[1024];
  const char *name = NULL;

  if (size < 2048 || child_pread (sb, off + 1024, sizeof sb) < 0)
    return NULL;
  return ext_probe (sb, &name) ? name : NULL;
}

/* The first 128 KiB (where every file system known here keeps its
 * signature) are zeros: nothing was ever made there. */
static bool
starts_empty (uint64_t off, uint64_t size)
{
  uint8_t b[4096];
  uint64_t n = size < 128 * 1024 ? size : 128 * 1024;

  for (uint64_t at = 0; at < n; at += sizeof b) {
    uint64_t len = n - at < sizeof b ? n - at : sizeof b;
    if (child_pread (b, off + at, len) < 0)
      return false;
    for (size_t i = 0; i < len; i++)
      if (b[i])
        return false;
  }
  return true;
}

const char *
probe_fs (uint64_t off, uint64_t size)
{
  uint8_t s[512];
  const char *ext = probe_ext (off, size);

  if (ext)
    return ext;
  for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
    if (has (off, size, &magics[i]))
      return magics[i].name;
  if (size >= 512 && child_pread (s, off, sizeof s) == 0 && is_vfat (s))
    return "vfat";
  return starts_empty (off, size) ? "empty" : "unknown";
}

bool
probe_is_fs (uint64_t off, uint64_t size)
{
  uint8_t s[512];

  if (size < 512 || child_pread (s, off, sizeof s) < 0)
    return false;
  return is_vfat (s) || memcmp (s + 3, "NTFS    ", 8) == 0 ||
         memcmp (s + 3, "EXFAT   ", 8) == 0;
}
