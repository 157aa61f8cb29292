/* receiver_event journals a bookmark, gap or resume record and returns
 * once it is durable and in the index, also at an RPO above 0: the
 * index names it with its label and disk, a gap journaled after the
 * fact carries the instant fidelity was lost, and the history of the
 * disk is not exact from the gap until the resume. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/timeutil.h"
#include "tests/daemon/daemon-test.h"

struct found {
  uint64_t seq;
  struct index_event ev;
  bool have;
};

static int
find_event (void *opaque, const struct index_event *e)
{
  struct found *f = opaque;

  if (e->seq == f->seq) {
    f->ev = *e;
    f->have = true;
  }
  return 0;
}

/* receiver_event, then: the journal's newest record, durable, is the
 * event, and the index holds it.  Returns its seq. */
static uint64_t
event (struct dt *d, uint16_t type, uint32_t disk, const char *label,
       int64_t since)
{
  struct journal *j = receiver_journal (d->r);
  struct journal_record rec;
  struct found f = { 0 };
  char payload[256] = "";
  uint64_t seq;

  cr_assert_eq (receiver_event (d->r, type, disk, label, since), 0);
  seq = f.seq = journal_last_seq (j);
  cr_assert_geq (journal_durable_seq (j), seq, "event %s not durable", label);
  cr_assert_geq (index_last_seq (receiver_index (d->r)), seq,
                 "event %s not in the index", label);
  cr_assert (dt_record (d, seq, &rec, payload, sizeof payload - 1));
  cr_assert_eq (rec.type, type);
  cr_assert_eq (rec.disk, disk);
  cr_assert_str_eq (payload, label);
  cr_assert_eq (index_events (receiver_index (d->r), 0, UINT64_MAX,
                              find_event, &f), 0);
  cr_assert (f.have, "the index has no event at %llu", (unsigned long long) seq);
  cr_assert_eq (f.ev.type, type);
  cr_assert_eq (f.ev.disk, disk);
  cr_assert_str_eq (f.ev.label, label);
  if (since > 0)
    cr_assert_eq (f.ev.time_ns, since, "a gap after the fact is dated then");
  else
    cr_assert_eq (f.ev.time_ns, rec.time_ns);
  return seq;
}

/* Is the history of disk 0 exact at record seq (at its time)? */
static bool
faithful (struct dt *d, uint64_t seq)
{
  struct journal_record rec;
  bool f = false;

  cr_assert (dt_record (d, seq, &rec, NULL, 0));
  cr_assert_eq (index_faithful (receiver_index (d->r), 0, seq, rec.time_ns,
                                &f), 0);
  return f;
}

static void
events (int64_t rpo)
{
  struct dt d;
  struct nbd_handle *h;
  char buf[4096];
  uint64_t seq, gap;
  int64_t since;

  dt_setup (&d, 1u << 20, 1u << 20);
  cr_assert_eq (receiver_set_rpo (d.r, rpo), 0);
  h = dt_connect (&d);
  memset (buf, 0x11, sizeof buf);
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 0, 0), 0, "%s", nbd_get_error ());
  since = time_now_ns ();
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 4096, 0), 0, "%s", nbd_get_error ());

  event (&d, JOURNAL_BOOKMARK, 0, "before the upgrade", 0);
  event (&d, JOURNAL_BOOKMARK, UINT32_MAX, "every disk", 0);
  seq = journal_last_seq (receiver_journal (d.r));
  cr_assert (faithful (&d, seq));
  gap = event (&d, JOURNAL_GAP, 0, "writer lost", since);
  cr_assert_not (faithful (&d, gap));
  cr_assert_not (faithful (&d, seq), "a gap after the fact covers what came "
                 "after the instant it names");
  cr_assert (faithful (&d, 1), "a gap after the fact covers what came "
             "before the instant it names");
  cr_assert_eq (nbd_pwrite (h, buf, sizeof buf, 8192, 0), 0, "%s", nbd_get_error ());
  cr_assert_not (faithful (&d, journal_last_seq (receiver_journal (d.r))));
  seq = event (&d, JOURNAL_RESUME, 0, "writer back", 0);
  cr_assert (faithful (&d, seq));
  dt_disconnect (h);
  dt_teardown (&d);
}

Test (rx_events, durable_and_indexed, .timeout = 120)
{
  events (0);
}

Test (rx_events, durable_and_indexed_above_rpo_0, .timeout = 120)
{
  events (RPO_MAX_NS);
}
