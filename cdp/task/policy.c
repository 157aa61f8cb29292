/* cdp: a task's policies — the flags that set them (task create and
 * task set share them), and their values while cdp serve runs the task.
 *
 * The policies of a served task change while it runs (task set asks
 * serve to read task.json again): the control thread stores the new
 * values while the maintenance and verification threads and the main
 * thread read them.  Each field is read and written whole, atomically
 * (relaxed: the fields are independent, and a thread that sees one
 * change a cycle later does no harm).
 */
#include <stdlib.h>

#include "cdp/task/task.h"
#include "common/timeutil.h"

#define NS 1000000000LL

void
policy_defaults (struct task_policy *p)
{
  *p = (struct task_policy) {
    .bp_interval = 20 * 60 * NS, .journal_retention = 24 * 3600 * NS,
    .bp_retention = 7 * 86400 * NS, .max_chain = 16,
    .verify_interval = VERIFY_INTERVAL_DEFAULT, .rpo = 0 };
}

static int
parse_rpo (const char *arg, int64_t *rpo)
{
  int64_t d;

  if (parse_duration (arg, &d) < 0 ||
      (d != 0 && (d < RPO_MIN_NS || d > RPO_MAX_NS)))
    return usage_error ("--rpo takes 0 (a write completes once durable) or a "
                        "duration from 10ms to 1h, not '%s'", arg);
  *rpo = d;
  return 0;
}

int
policy_opt (int c, const char *arg, struct task_policy *p)
{
  int64_t *dst;
  char *end;
  long n;

  switch (c) {
  case POLICY_OPT_MAX_CHAIN:
    n = strtol (arg, &end, 10);
    if (end == arg || *end || n < 1 || n > 1000)
      return usage_error ("--max-chain takes a number from 1 to 1000, not '%s'",
                          arg);
    p->max_chain = (unsigned) n;
    return 0;
  case POLICY_OPT_RPO:
    return parse_rpo (arg, &p->rpo);
  case POLICY_OPT_BP_INTERVAL: dst = &p->bp_interval; break;
  case POLICY_OPT_JOURNAL_RETENTION: dst = &p->journal_retention; break;
  case POLICY_OPT_BP_RETENTION: dst = &p->bp_retention; break;
  case POLICY_OPT_VERIFY_INTERVAL: dst = &p->verify_interval; break;
  default:
    abort ();                   /* only the POLICY_OPT_* come here */
  }
  if (parse_duration (arg, dst) < 0 || *dst <= 0)
    return usage_error ("'%s' is not a duration (90s, 5m, 2h, 7d)", arg);
  return 0;
}

void
policy_format_rpo (int64_t rpo, char *buf, size_t len)
{
  if (rpo == 0)
    snprintf (buf, len, "0");
  else if (rpo % NS)
    snprintf (buf, len, "%lldms", (long long) (rpo / 1000000));
  else
    format_duration (rpo, buf, len);
}

#define LOAD(f) __atomic_load_n (&t->policy.f, __ATOMIC_RELAXED)
#define STORE(f) __atomic_store_n (&t->policy.f, p->f, __ATOMIC_RELAXED)

struct task_policy
task_policy (const struct task *t)
{
  return (struct task_policy) {
    .bp_interval = LOAD (bp_interval),
    .journal_retention = LOAD (journal_retention),
    .bp_retention = LOAD (bp_retention), .max_chain = LOAD (max_chain),
    .segment_size = LOAD (segment_size),
    .verify_interval = LOAD (verify_interval), .rpo = LOAD (rpo) };
}

void
task_policy_set (struct task *t, const struct task_policy *p)
{
  STORE (bp_interval);
  STORE (journal_retention);
  STORE (bp_retention);
  STORE (max_chain);
  STORE (verify_interval);
  STORE (rpo);
}
