/* A push cancelled (by its progress callback, or by its cancel flag)
 * returns -ECANCELED and leaves no point and no lease; progress goes
 * up to the total of the disks' sizes; a rerun uploads only the chunks
 * the cancelled push had not. */
#include "tests/archive/archive-test.h"

#define T1 INT64_C(1765000000000000000)
#define NCHUNKS 10

struct prog {
  uint64_t last, total, stop_at;
  volatile int *flag;
  bool backwards;
};

static int
progress (void *opaque, uint64_t done, uint64_t total)
{
  struct prog *p = opaque;

  if (done < p->last)
    p->backwards = true;
  p->last = done;
  p->total = total;
  if (p->flag && done >= p->stop_at)
    *p->flag = 1;
  return !p->flag && done >= p->stop_at;
}

static int
push_with (struct archive *a, struct memdisk *m, struct prog *pr,
           volatile int *flag, struct archive_push_stats *st)
{
  struct point p;
  struct archive_push_disk d = { "vda", &p };
  struct archive_push o = {
    .task = "vm1", .time_ns = T1, .kind = "push", .store = "/store",
    .ndisks = 1, .disks = &d, .threads = 2, .progress = progress,
    .opaque = pr, .cancel = flag,
  };

  mem_point (m, &p);
  return archive_push (a, &o, st);
}

Test (archive_push_cancel, by_progress_and_by_flag)
{
  char *dir = tmp_dir ();
  struct archive *a = open_dir (dir, true);
  struct memdisk m;
  struct archive_push_stats st;
  struct prog pr = { .stop_at = 3 * (uint64_t) CS };
  volatile int flag = 0;
  uint64_t had;

  mem_init (&m, NCHUNKS * (uint64_t) CS, 8);
  cr_assert_eq (push_with (a, &m, &pr, NULL, &st), -ECANCELED);
  cr_assert (strstr (cdp_get_error (), "cancelled"), "%s", cdp_get_error ());
  cr_assert_eq (count_objects (a, "points/"), 0);
  cr_assert_eq (count_objects (a, "writers/"), 0, "the lease was left");
  had = count_objects (a, "chunks/");
  pr = (struct prog) { .stop_at = 6 * (uint64_t) CS, .flag = &flag };
  cr_assert_eq (push_with (a, &m, &pr, &flag, &st), -ECANCELED);
  cr_assert_eq (count_objects (a, "points/"), 0);
  cr_assert_geq (count_objects (a, "chunks/"), had);
  had = count_objects (a, "chunks/");

  pr = (struct prog) { .stop_at = UINT64_MAX };
  cr_assert_eq (push_with (a, &m, &pr, NULL, &st), 0, "%s", cdp_get_error ());
  cr_assert_eq (st.new_chunks, NCHUNKS - had);
  cr_assert_eq (pr.total, m.size);
  cr_assert_eq (pr.last, m.size);
  cr_assert (!pr.backwards);
  assert_reads_as (a, "vm1", T1, 0, &m);
  archive_close (a);
  mem_free (&m);
  rm_tree (dir);
}
