/* Partition tables as the sandboxed reader sees them, built byte by byte:
 * MBR with an extended partition (and an EBR chain that loops), GPT with
 * a damaged primary header (the backup is used), with both headers
 * damaged (an error), with partitions past the end (clipped); a FAT
 * "superfloppy" whose boot sector ends in 55 AA is not a table; the
 * file system of each volume is named. */
#include <unistd.h>

#include "files-test.h"

#define MIB (1ull << 20)

static void
put32 (uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t) (v >> 8 * i);
}

static void
put64 (uint8_t *p, uint64_t v)
{
  put32 (p, (uint32_t) v);
  put32 (p + 4, (uint32_t) (v >> 32));
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

static void
mbr_entry (uint8_t *sector, int slot, uint8_t type, uint32_t lba, uint32_t count)
{
  uint8_t *e = sector + 446 + 16 * slot;

  e[4] = type;
  put32 (e + 8, lba);
  put32 (e + 12, count);
  sector[510] = 0x55;
  sector[511] = 0xaa;
}

/* "p1:fs:size p5:fs:size ..." of the root listing. */
static char *
roots (struct files *f)
{
  files_entry_vector v = empty_vector;
  static char out[1024];
  size_t n = 0;
  int r = files_list (f, "/", &v);

  cr_assert_eq (r, 0, "ls /: %s", files_error (f));
  out[0] = 0;
  for (size_t i = 0; i < v.len; i++)
    n += (size_t) snprintf (out + n, sizeof out - n, "%s%s:%s:%llu", i ? " " : "",
                            v.ptr[i].name, v.ptr[i].fs,
                            (unsigned long long) v.ptr[i].size);
  files_entry_vector_clear (&v);
  return out;
}

Test (tables, mbr_extended_with_a_loop)
{
  struct mem_disk d = { .size = 64 * MIB };
  struct files *f;

  d.buf = calloc (1, d.size);
  mbr_entry (d.buf, 0, 0x83, 2048, 8192);                 /* p1: 1..5 MiB */
  mbr_entry (d.buf, 1, 0x05, 16384, 65536);               /* extended 8..40 MiB */
  /* EBR 1 at 8 MiB: p5 at +1 MiB, 4 MiB; next EBR at +16 MiB. */
  mbr_entry (d.buf + 16384 * 512, 0, 0x83, 2048, 8192);
  mbr_entry (d.buf + 16384 * 512, 1, 0x05, 32768, 16384);
  /* EBR 2 at 24 MiB: p6 at +1 MiB, 2 MiB; next EBR back at the first. */
  mbr_entry (d.buf + 49152ull * 512, 0, 0x83, 2048, 4096);
  mbr_entry (d.buf + 49152ull * 512, 1, 0x05, 0, 16384);
  memcpy (d.buf + 9 * MIB, "XFSB", 4);                    /* p5 holds "xfs" */
  memcpy (d.buf + 1 * MIB + 4096, "data", 4);             /* p1: something */
  f = attach (&d);
  cr_assert_str_eq (roots (f), "p1:unknown:4194304 p5:xfs:4194304 p6:empty:2097152");

  files_entry_vector v = empty_vector;
  cr_assert_eq (files_list (f, "/p5/etc", &v), -ENOTSUP);
  cr_assert (strstr (files_error (f), "partition p5 holds xfs, which cdp does not read itself"),
             "message: %s", files_error (f));
  const struct files_volume *vol = files_unsupported (f);
  cr_assert_str_eq (vol->fs, "xfs");
  cr_assert_eq (vol->part, 5);
  cr_assert_eq (vol->off, 9 * MIB);
  cr_assert_eq (vol->size, 4 * MIB);
  cr_assert_str_eq (vol->rest, "/etc");
  cr_assert_eq (files_list (f, "/p2", &v), -ENOENT, "the extended container is listed");
  cr_assert_eq (files_list (f, "/p1", &v), -ENOTSUP);
  cr_assert (strstr (files_error (f), "no file system that cdp knows on partition p1"),
             "message: %s", files_error (f));
  cr_assert_eq (files_list (f, "/p6", &v), -EMEDIUMTYPE);
  cr_assert (strstr (files_error (f), "partition p6 holds nothing"),
             "message: %s", files_error (f));
  files_entry_vector_clear (&v);
  files_stop (f);
  free (d.buf);
}

/* A GPT at lba (primary: 1, backup: last) with its entries at elba. */
static void
gpt_header (uint8_t *disk, uint64_t disk_size, uint64_t lba, uint64_t elba,
            const uint8_t *entries, uint32_t n)
{
  uint8_t *h = disk + lba * 512;

  memset (h, 0, 512);
  memcpy (h, "EFI PART", 8);
  put32 (h + 8, 0x00010000);
  put32 (h + 12, 92);
  put64 (h + 24, lba);
  put64 (h + 32, lba == 1 ? disk_size / 512 - 1 : 1);
  put64 (h + 40, 34);
  put64 (h + 48, disk_size / 512 - 34);
  put64 (h + 72, elba);
  put32 (h + 80, n);
  put32 (h + 84, 128);
  memcpy (disk + elba * 512, entries, (size_t) n * 128);
  put32 (h + 88, crc32 (entries, (size_t) n * 128));
  put32 (h + 16, crc32 (h, 92));
}

static void
gpt_disk (struct mem_disk *d)
{
  static uint8_t entries[128 * 128];
  uint8_t *e;

  d->size = 64 * MIB;
  d->buf = calloc (1, d->size);
  mbr_entry (d->buf, 0, 0xee, 1, (uint32_t) (d->size / 512 - 1));
  memset (entries, 0, sizeof entries);
  e = entries;                                /* p1: 1 MiB at 1 MiB */
  memset (e, 0x11, 16);
  put64 (e + 32, 2048);
  put64 (e + 40, 4095);
  e = entries + 2 * 128;                      /* p3: 2 MiB at 4 MiB */
  memset (e, 0x22, 16);
  put64 (e + 32, 8192);
  put64 (e + 40, 12287);
  e = entries + 3 * 128;                      /* p4: past the end, clipped */
  memset (e, 0x33, 16);
  put64 (e + 32, 126976);
  put64 (e + 40, 200000);
  e = entries + 4 * 128;                      /* p5: wholly past the end */
  memset (e, 0x44, 16);
  put64 (e + 32, 300000);
  put64 (e + 40, 300100);
  gpt_header (d->buf, d->size, 1, 2, entries, 128);
  gpt_header (d->buf, d->size, d->size / 512 - 1, d->size / 512 - 33, entries, 128);
}

static const char gpt_roots[] =
  "p1:empty:1048576 p3:empty:2097152 p4:empty:2097152";

Test (tables, gpt)
{
  struct mem_disk d;
  struct files *f;

  gpt_disk (&d);
  f = attach (&d);
  cr_assert_str_eq (roots (f), gpt_roots);
  files_stop (f);
  free (d.buf);
}

Test (tables, gpt_damaged_primary_uses_backup)
{
  struct mem_disk d;
  struct files *f;

  gpt_disk (&d);
  d.buf[512 + 40] ^= 1;                       /* header CRC fails */
  f = attach (&d);
  cr_assert_str_eq (roots (f), gpt_roots);
  files_stop (f);
  free (d.buf);
  gpt_disk (&d);
  d.buf[2 * 512 + 32] ^= 1;                   /* entry array CRC fails */
  f = attach (&d);
  cr_assert_str_eq (roots (f), gpt_roots);
  files_stop (f);
  free (d.buf);
}

Test (tables, gpt_both_damaged)
{
  struct mem_disk d;
  files_entry_vector v = empty_vector;
  struct files *f;

  gpt_disk (&d);
  d.buf[512 + 40] ^= 1;
  d.buf[d.size - 512 + 40] ^= 1;
  f = attach (&d);
  cr_assert_eq (files_list (f, "/", &v), -EUCLEAN);
  cr_assert (strstr (files_error (f), "neither its header nor its backup"),
             "message: %s", files_error (f));
  files_stop (f);
  free (d.buf);
}

Test (tables, superfloppy_fat_is_no_table)
{
  struct mem_disk d;
  files_entry_vector v = empty_vector;
  struct files *f;
  char img[] = "/tmp/cdp-files-fat-XXXXXX";
  int fd = mkstemp (img);

  cr_assert_geq (fd, 0);
  close (fd);
  unlink (img);
  shell ("mkfs.vfat -C %s 8192 >/dev/null", img);
  load_disk (img, &d);
  unlink (img);
  cr_assert_eq (d.buf[510], 0x55);
  f = attach (&d);
  cr_assert_eq (files_list (f, "/", &v), -ENOTSUP);
  cr_assert (strstr (files_error (f), "the disk holds vfat"), "message: %s", files_error (f));
  cr_assert_eq (files_unsupported (f)->part, 0);
  files_stop (f);
  free (d.buf);
}
