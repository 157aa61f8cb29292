/* Run the NBD fuzzer's entry point over files and directories given on
 * the command line (the seed corpus), as an ordinary program, so builds
 * without libFuzzer still exercise every seed session. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
run_file (const char *path)
{
  FILE *f = fopen (path, "rb");
  uint8_t *buf;
  long len;

  if (f == NULL || fseek (f, 0, SEEK_END) < 0 || (len = ftell (f)) < 0) {
    perror (path);
    return -1;
  }
  rewind (f);
  buf = malloc ((size_t) len + 1);
  if (buf == NULL || fread (buf, 1, (size_t) len, f) != (size_t) len) {
    perror (path);
    return -1;
  }
  fclose (f);
  LLVMFuzzerTestOneInput (buf, (size_t) len);
  free (buf);
  return 1;
}

static int
run_path (const char *path)
{
  struct stat st;
  struct dirent *e;
  DIR *d;
  char sub[4096];
  int n = 0, r;

  if (stat (path, &st) < 0) {
    perror (path);
    return -1;
  }
  if (!S_ISDIR (st.st_mode))
    return run_file (path);
  d = opendir (path);
  if (d == NULL) {
    perror (path);
    return -1;
  }
  while ((e = readdir (d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf (sub, sizeof sub, "%s/%s", path, e->d_name);
    r = run_path (sub);
    if (r < 0) {
      closedir (d);
      return r;
    }
    n += r;
  }
  closedir (d);
  return n;
}

int
main (int argc, char **argv)
{
  int n = 0, r;

  for (int i = 1; i < argc; i++) {
    r = run_path (argv[i]);
    if (r < 0)
      return 1;
    n += r;
  }
  printf ("replayed %d inputs\n", n);
  return n > 0 ? 0 : 1;
}
