/* The tar header encoding of cdp get --tar (files_tar_header): ustar
 * fields, the prefix/name split, and the pax records for what ustar
 * cannot hold (long names and link targets, sizes of 8 GiB and more,
 * large owners, times before 1970 or with nanoseconds), each record's
 * length counting its own digits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "recovery/files/files.h"

static char buf[16384];

static struct files_entry
entry (uint32_t mode)
{
  return (struct files_entry) { .mode = mode, .uid = 1000, .gid = 100,
                                .mtime_ns = 1700000000LL * 1000000000 };
}

static unsigned long long
field (const char *h, size_t off, size_t len)
{
  char tmp[16] = { 0 };

  memcpy (tmp, h + off, len);
  return strtoull (tmp, NULL, 8);
}

static void
check_sum (const char *h)
{
  unsigned sum = 0;

  for (int i = 0; i < 512; i++)
    sum += (unsigned char) (i >= 148 && i < 156 ? ' ' : h[i]);
  cr_assert_eq (field (h, 148, 7), sum, "checksum");
  cr_assert_eq (h[154], 0);
  cr_assert_eq (h[155], ' ');
}

static void
check_ustar (const char *h, char type)
{
  cr_assert_eq (h[156], type);
  cr_assert_eq (memcmp (h + 257, "ustar\0" "00", 8), 0, "magic and version");
  check_sum (h);
}

/* The pax records of the 'x' header at h: each "LEN key=value\n" whose
 * LEN is its whole length; the value of key, or NULL. */
static char *
pax_value (const char *h, const char *key)
{
  size_t size = field (h, 124, 11), at = 0, klen = strlen (key);
  const char *p = h + 512;
  char *found = NULL;

  check_ustar (h, 'x');
  while (at < size) {
    char *end;
    unsigned long n = strtoul (p + at, &end, 10);
    cr_assert (n > 0 && at + n <= size, "record at %zu", at);
    cr_assert_eq (p[at + n - 1], '\n', "record length %lu", n);
    const char *kv = end + 1;
    if (strncmp (kv, key, klen) == 0 && kv[klen] == '=')
      found = strndup (kv + klen + 1, (size_t) (p + at + n - 1 - (kv + klen + 1)));
    at += n;
  }
  return found;
}

Test (tar, short_name_is_one_ustar_block)
{
  struct files_entry e = entry (S_IFREG | 0644);
  ssize_t n = files_tar_header (&e, "etc/fstab", '0', NULL, 1234, buf, sizeof buf);

  cr_assert_eq (n, 512);
  cr_assert_str_eq (buf, "etc/fstab");
  cr_assert_eq (memcmp (buf + 100, "0000644", 8), 0);
  cr_assert_eq (field (buf, 108, 7), 1000);
  cr_assert_eq (field (buf, 116, 7), 100);
  cr_assert_eq (field (buf, 124, 11), 1234);
  cr_assert_eq (field (buf, 136, 11), 1700000000);
  check_ustar (buf, '0');
}

Test (tar, set_user_id_dropped)
{
  struct files_entry e = entry (S_IFREG | 06755);

  cr_assert_eq (files_tar_header (&e, "su", '0', NULL, 0, buf, sizeof buf), 512);
  cr_assert_eq (field (buf, 100, 7), 0755);
  e.mode = S_IFDIR | 01777;
  cr_assert_eq (files_tar_header (&e, "tmp/", '5', NULL, 0, buf, sizeof buf), 512);
  cr_assert_eq (field (buf, 100, 7), 01777, "the sticky bit stays");
}

Test (tar, name_over_100_split_into_prefix)
{
  struct files_entry e = entry (S_IFREG | 0600);
  char name[200];

  memset (name, 'a', 120);
  name[120] = '/';
  memset (name + 121, 'b', 60);
  name[181] = 0;
  cr_assert_eq (files_tar_header (&e, name, '0', NULL, 0, buf, sizeof buf), 512);
  cr_assert_eq (strnlen (buf + 345, 155), 120, "prefix");
  cr_assert_eq (memcmp (buf + 345, name, 120), 0);
  cr_assert_eq (strnlen (buf, 100), 60, "name");
  cr_assert_eq (memcmp (buf, name + 121, 60), 0);
  check_ustar (buf, '0');
}

Test (tar, name_of_exactly_100_needs_no_pax)
{
  struct files_entry e = entry (S_IFREG | 0600);
  char name[101];

  memset (name, 'n', 100);
  name[100] = 0;
  cr_assert_eq (files_tar_header (&e, name, '0', NULL, 0, buf, sizeof buf), 512);
  cr_assert_eq (memcmp (buf, name, 100), 0);
  check_ustar (buf, '0');
}

Test (tar, path_over_255_in_pax)
{
  struct files_entry e = entry (S_IFREG | 0644);
  char name[400];
  ssize_t n;

  memset (name, 'p', 300);
  name[150] = '/';
  memcpy (name + 300, "/\xff" "raw", 6);
  n = files_tar_header (&e, name, '0', NULL, 5, buf, sizeof buf);
  cr_assert_eq (n, 512 + 512 + 512, "x header, records, ustar: %zd", n);
  char *path = pax_value (buf, "path");
  cr_assert_not_null (path);
  cr_assert_str_eq (path, name, "the bytes as they are");
  free (path);
  cr_assert_eq (strncmp (buf, "PaxHeaders/", 11), 0);
  check_ustar (buf + 1024, '0');
  cr_assert_eq (field (buf + 1024, 124, 11), 5);
}

Test (tar, long_link_target_in_pax)
{
  struct files_entry e = entry (S_IFLNK | 0777);
  char target[200];

  memset (target, 't', 150);
  target[150] = 0;
  cr_assert_eq (files_tar_header (&e, "l", '2', target, 0, buf, sizeof buf), 1536);
  char *v = pax_value (buf, "linkpath");
  cr_assert_str_eq (v, target);
  free (v);
  cr_assert_null (pax_value (buf, "path"));
  check_ustar (buf + 1024, '2');
  cr_assert_eq (memcmp (buf + 1024 + 157, target, 100), 0);
}

Test (tar, record_length_counts_its_own_digits)
{
  struct files_entry e = entry (S_IFLNK | 0777);
  char target[1000];

  /* "linkpath=" + 986 bytes + " \n" is 997 bytes: with 3 digits 1000,
   * which has 4, so the record is 1001 bytes long. */
  memset (target, 'x', 986);
  target[986] = 0;
  cr_assert_gt (files_tar_header (&e, "l", '2', target, 0, buf, sizeof buf), 0);
  cr_assert_eq (strncmp (buf + 512, "1001 linkpath=", 14), 0, "%.20s", buf + 512);
  cr_assert_eq (field (buf, 124, 11), 1001);
  free (pax_value (buf, "linkpath"));
}

Test (tar, size_of_8_gib_in_pax)
{
  struct files_entry e = entry (S_IFREG | 0644);
  uint64_t max = 077777777777ull;

  cr_assert_eq (files_tar_header (&e, "big", '0', NULL, max, buf, sizeof buf), 512,
                "8 GiB - 1 fits ustar");
  cr_assert_eq (field (buf, 124, 11), max);
  cr_assert_eq (files_tar_header (&e, "big", '0', NULL, max + 1, buf, sizeof buf), 1536);
  char *v = pax_value (buf, "size");
  cr_assert_str_eq (v, "8589934592");
  free (v);
  cr_assert_eq (field (buf + 1024, 124, 11), 0);
}

Test (tar, large_owner_in_pax)
{
  struct files_entry e = entry (S_IFREG | 0644);

  e.uid = 07777777;
  cr_assert_eq (files_tar_header (&e, "f", '0', NULL, 0, buf, sizeof buf), 512);
  e.uid = 4000000000u;
  e.gid = 3000000000u;
  cr_assert_eq (files_tar_header (&e, "f", '0', NULL, 0, buf, sizeof buf), 1536);
  char *u = pax_value (buf, "uid"), *g = pax_value (buf, "gid");
  cr_assert_str_eq (u, "4000000000");
  cr_assert_str_eq (g, "3000000000");
  free (u);
  free (g);
}

Test (tar, times_with_nanoseconds_or_before_1970)
{
  struct files_entry e = entry (S_IFREG | 0644);
  char *v;

  e.mtime_ns = 1623053350LL * 1000000000 + 123456789;
  cr_assert_eq (files_tar_header (&e, "f", '0', NULL, 0, buf, sizeof buf), 1536);
  cr_assert_str_eq (v = pax_value (buf, "mtime"), "1623053350.123456789");
  free (v);
  cr_assert_eq (field (buf + 1024, 136, 11), 1623053350);

  e.mtime_ns = -315619199500000000LL;           /* 1960, and a half second */
  cr_assert_eq (files_tar_header (&e, "f", '0', NULL, 0, buf, sizeof buf), 1536);
  cr_assert_str_eq (v = pax_value (buf, "mtime"), "-315619199.500000000");
  free (v);
  cr_assert_eq (field (buf + 1024, 136, 11), 0, "ustar holds no negative time");
}

Test (tar, small_buffer_and_bad_input)
{
  struct files_entry e = entry (S_IFREG | 0644);
  char name[300];

  memset (name, 'q', 299);
  name[299] = 0;
  memset (buf, 0x5a, sizeof buf);
  cr_assert_eq (files_tar_header (&e, name, '0', NULL, 0, buf, 1000), 1536,
                "the length needed");
  cr_assert_eq (buf[0], 0x5a, "nothing written");
  cr_assert_eq (files_tar_header (&e, "", '0', NULL, 0, buf, sizeof buf), -EINVAL);
  cr_assert_eq (files_tar_header (&e, "f", '0', NULL, (uint64_t) INT64_MAX + 1, buf,
                                  sizeof buf), -EINVAL);
}
