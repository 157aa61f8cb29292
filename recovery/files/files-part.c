/* cdp recovery, file-level browse: partition tables (runs in the
 * sandboxed child).
 *
 * MBR: four primary slots (p1..p4) and, in an extended partition, the
 * chain of EBRs whose logical partitions are p5, p6, ... in chain order,
 * as Linux numbers them.  The extended container itself holds no file
 * system and is not listed.  GPT (found through the protective MBR's
 * 0xEE entry, 512- or 4096-byte sectors): the primary header and its
 * entry array, both CRC-checked, else the backup at the last LBA;
 * entry i is p(i+1).  A disk whose sector 0 is a file system's boot
 * sector (a "superfloppy" FAT or NTFS, which also end in 55 AA) has no
 * table.  Partitions are clipped to the disk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "recovery/files/files-internal.h"

#define MAX_EBR 256
#define MAX_GPT_ENTRIES 4096
#define MAX_GPT_ARRAY (1u << 20)

static uint32_t
le32 (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
         (uint32_t) p[3] << 24;
}

static uint64_t
le64 (const uint8_t *p)
{
  return le32 (p) | (uint64_t) le32 (p + 4) << 32;
}

static uint32_t
crc32 (const uint8_t *p, size_t len)
{
  uint32_t c = 0xffffffff;

  while (len--) {
    c ^= *p++;
    for (int k = 0; k < 8; k++)
      c = c >> 1 ^ (0xEDB88320 & -(c & 1));
  }
  return ~c;
}

/* Add partition part at [lba, lba+count) sectors of ss bytes. */
static int
add (fvol_vector *v, uint64_t disk_size, unsigned part, uint64_t lba,
     uint64_t count, unsigned ss)
{
  uint64_t off, size;

  if (count == 0 || lba > disk_size / ss)
    return 0;                       /* empty, or wholly past the end */
  off = lba * ss;
  size = count > (disk_size - off) / ss ? disk_size - off : count * ss;
  return size ? fvol_vector_append (v, (struct fvol) { part, off, size }) : 0;
}

/* ---- MBR ------------------------------------------------------------------ */

static bool
is_extended (uint8_t type)
{
  return type == 0x05 || type == 0x0f || type == 0x85;
}

static int
scan_ebr_chain (uint64_t disk_size, uint64_t base, uint64_t count, fvol_vector *v)
{
  uint8_t s[512];
  uint64_t ebr = base;
  unsigned part = 5;
  int r;

  for (int hops = 0; hops < MAX_EBR; hops++) {
    if (ebr > disk_size / 512 - 1 || (r = child_pread (s, ebr * 512, 512)) < 0)
      break;                        /* a chain running off the disk ends */
    if (s[510] != 0x55 || s[511] != 0xaa)
      break;
    const uint8_t *e1 = s + 446, *e2 = s + 462;
    if (e1[4] != 0 && !is_extended (e1[4]) &&
        (r = add (v, disk_size, part++, ebr + le32 (e1 + 8), le32 (e1 + 12), 512)) < 0)
      return r;
    uint64_t next = base + le32 (e2 + 8);
    if (!is_extended (e2[4]) || next <= ebr || next >= base + count)
      break;                        /* the end, or a loop */
    ebr = next;
  }
  return 0;
}

static int
scan_mbr (const uint8_t *s, uint64_t disk_size, fvol_vector *v)
{
  int r;

  for (unsigned i = 0; i < 4; i++) {
    const uint8_t *e = s + 446 + 16 * i;
    uint64_t lba = le32 (e + 8), count = le32 (e + 12);
    if (e[4] == 0)
      continue;
    if (is_extended (e[4]))
      r = scan_ebr_chain (disk_size, lba, count, v);
    else
      r = add (v, disk_size, i + 1, lba, count, 512);
    if (r < 0)
      return r;
  }
  return 0;
}

/* Four entries with a boot flag of 0 or 0x80 and at least one type. */
static bool
mbr_valid (const uint8_t *s)
{
  bool any = false;

  if (s[510] != 0x55 || s[511] != 0xaa)
    return false;
  for (unsigned i = 0; i < 4; i++) {
    const uint8_t *e = s + 446 + 16 * i;
    if (e[0] != 0 && e[0] != 0x80)
      return false;
    any |= e[4] != 0;
  }
  return any;
}

/* ---- GPT ------------------------------------------------------------------- */

static int
gpt_entries (const uint8_t *h, uint64_t disk_size, unsigned ss, fvol_vector *v)
{
  uint64_t lba = le64 (h + 72);
  uint32_t n = le32 (h + 80), esz = le32 (h + 84);
  uint8_t *a;
  int r;

  if (n == 0 || n > MAX_GPT_ENTRIES || esz < 128 || esz % 8 || esz > 4096 ||
      (uint64_t) n * esz > MAX_GPT_ARRAY || lba > disk_size / ss ||
      (uint64_t) n * esz > disk_size - lba * ss)
    return -EUCLEAN;
  if ((a = malloc ((size_t) n * esz)) == NULL)
    return -ENOMEM;
  r = child_pread (a, lba * ss, (uint64_t) n * esz);
  if (r == 0 && crc32 (a, (size_t) n * esz) != le32 (h + 88))
    r = -EUCLEAN;
  for (uint32_t i = 0; r == 0 && i < n; i++) {
    const uint8_t *e = a + (size_t) i * esz;
    static const uint8_t unused[16];
    uint64_t first = le64 (e + 32), last = le64 (e + 40);
    if (memcmp (e, unused, 16) == 0 || last < first)
      continue;
    r = add (v, disk_size, i + 1, first, last - first + 1, ss);
  }
  free (a);
  return r;
}

/* The GPT header at lba, if valid: 0 and its entries in v. */
static int
gpt_at (uint64_t lba, uint64_t disk_size, unsigned ss, fvol_vector *v)
{
  uint8_t h[4096];
  uint32_t hsz, crc;
  int r;

  if (lba > disk_size / ss - 1 || (r = child_pread (h, lba * ss, ss)) < 0)
    return -EUCLEAN;
  hsz = le32 (h + 12);
  if (memcmp (h, "EFI PART", 8) != 0 || hsz < 92 || hsz > ss)
    return -EUCLEAN;
  crc = le32 (h + 16);
  memset (h + 16, 0, 4);
  if (crc32 (h, hsz) != crc || le64 (h + 24) != lba)
    return -EUCLEAN;
  v->len = 0;
  return gpt_entries (h, disk_size, ss, v);
}

static int
scan_gpt (uint64_t disk_size, fvol_vector *v)
{
  static const unsigned sizes[] = { 512, 4096 };

  for (unsigned i = 0; i < 2; i++) {
    unsigned ss = sizes[i];
    if (disk_size < 3 * (uint64_t) ss)
      continue;
    int r = gpt_at (1, disk_size, ss, v);
    if (r == -EUCLEAN)
      r = gpt_at (disk_size / ss - 1, disk_size, ss, v);
    if (r != -EUCLEAN)
      return r;
  }
  v->len = 0;
  child_error ("the disk has a GPT partition table, but neither its header nor "
               "its backup is intact");
  return -EUCLEAN;
}

int
part_scan (uint64_t disk_size, fvol_vector *v)
{
  uint8_t s[512];
  bool gpt = false;
  int r;

  v->len = 0;
  if (disk_size < 2048)
    return 0;
  if ((r = child_pread (s, 0, sizeof s)) < 0)
    return r;
  if (!mbr_valid (s) || probe_is_fs (0, disk_size))
    return 0;
  for (unsigned i = 0; i < 4; i++)
    gpt |= s[446 + 16 * i + 4] == 0xee;
  return gpt ? scan_gpt (disk_size, v) : scan_mbr (s, disk_size, v);
}
