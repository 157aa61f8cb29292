# journal-vs-fio.awk: the report of journal-vs-fio.sh (POSIX awk).
#
# Input, one line per measurement:
#   mode size qd tool rep mib_s iops p50_us p99_us overhead_pct
# Variables: mode (the one to report), sizes, qds (space-separated).
# Prints a Markdown table of medians (MiB/s with min-max over the
# repetitions), cdp/fio ratios, and the goals with PASS/FAIL.  A ratio is
# the median of the ratios of paired runs (cdp and fio of the same
# repetition ran back to back), which cancels most of the drift of a
# shared host; with one repetition it is the plain ratio.  Lines of tool
# "old" (journal-vs-fio.sh -B: an older journal in the same runs) add
# its MiB/s and ratio to the table and to the bandwidth goals.

function median(key,    n, i, j, t, a) {
  n = cnt[key]
  for (i = 1; i <= n; i++)
    a[i] = val[key, i] + 0
  for (i = 2; i <= n; i++)          # insertion sort: n is small
    for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
      t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
    }
  lo[key] = a[1]
  hi[key] = a[n]
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}

function m(size, qd, tool, metric) {
  return med[size SUBSEP qd SUBSEP tool SUBSEP metric]
}

function range(size, qd, tool,    k) {
  k = size SUBSEP qd SUBSEP tool SUBSEP "mib"
  return cnt[k] > 1 ? sprintf(" (%.0f-%.0f)", lo[k], hi[k]) : ""
}

function ratio(a, b) {
  return b > 0 ? a / b : 0
}

# Median over repetitions of cdp/fio for one metric.
function pratio(size, qd, metric) {
  return tratio("cdp", size, qd, metric)
}

# The same for tool (cdp or old).
function tratio(tool, size, qd, metric,    r, key, c, f) {
  key = "ratio" SUBSEP tool SUBSEP size SUBSEP qd SUBSEP metric
  cnt[key] = 0
  for (r = 1; r <= maxrep; r++) {
    c = size SUBSEP qd SUBSEP tool SUBSEP metric SUBSEP r
    f = size SUBSEP qd SUBSEP "fio" SUBSEP metric SUBSEP r
    if ((c in byrep) && (f in byrep) && byrep[f] > 0)
      val[key, ++cnt[key]] = byrep[c] / byrep[f]
  }
  return cnt[key] ? median(key) : 0
}

function verdict(ok) {
  return ok ? "PASS" : "FAIL"
}

$1 == mode {
  split("mib iops p50 p99 ovh", names, " ")
  for (i = 1; i <= 5; i++) {
    key = $2 SUBSEP $3 SUBSEP $4 SUBSEP names[i]
    val[key, ++cnt[key]] = $(i + 5)
    byrep[key, $5] = $(i + 5)
  }
  if ($5 > maxrep)
    maxrep = $5
  if ($4 == "old")
    hasold = 1
  seen = 1
}

END {
  if (!seen)
    exit
  for (key in cnt)
    med[key] = median(key)
  # med[] is filled: pratio() may now add its own keys to cnt[].
  ns = split(sizes, S, " ")
  nq = split(qds, Q, " ")

  printf "\n### %s state\n\n", mode
  print "| size | QD | cdp MiB/s | fio MiB/s | MiB/s cdp/fio |" \
        (hasold ? " old MiB/s | MiB/s old/fio |" : "") \
        " cdp IOPS | fio IOPS |" \
        " p50 µs cdp | p50 µs fio | p50 cdp/fio | p99 µs cdp | p99 µs fio |" \
        " p99 cdp/fio | cdp overhead |"
  print "|---|--:|--:|--:|--:|" (hasold ? "--:|--:|" : "") \
        "--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  for (i = 1; i <= ns; i++)
    for (j = 1; j <= nq; j++) {
      s = S[i]; q = Q[j]
      oldcols = hasold ? sprintf(" %.0f%s | %.2f |", m(s, q, "old", "mib"),
                                 range(s, q, "old"), tratio("old", s, q, "mib")) : ""
      printf "| %s | %s | %.0f%s | %.0f%s | %.2f |%s %.0f | %.0f | %.0f | %.0f | %.2f" \
             " | %.0f | %.0f | %.2f | %.2f%% |\n",
        s, q, m(s, q, "cdp", "mib"), range(s, q, "cdp"),
        m(s, q, "fio", "mib"), range(s, q, "fio"),
        pratio(s, q, "mib"), oldcols,
        m(s, q, "cdp", "iops"), m(s, q, "fio", "iops"),
        m(s, q, "cdp", "p50"), m(s, q, "fio", "p50"), pratio(s, q, "p50"),
        m(s, q, "cdp", "p99"), m(s, q, "fio", "p99"), pratio(s, q, "p99"),
        m(s, q, "cdp", "ovh")
    }

  printf "\nGoals (%s state):\n\n", mode
  for (i = 1; i <= ns; i++) {
    s = S[i]
    if (s != "64k" && s != "1m")
      continue
    for (j = 1; j <= nq; j++) {
      q = Q[j]
      r = pratio(s, q, "mib")
      printf "- bandwidth %s QD%s >= 90%% of fio: %.0f%% %s%s\n",
        s, q, 100 * r, verdict(r >= 0.90),
        hasold ? sprintf(" (old: %.0f%%)", 100 * tratio("old", s, q, "mib")) : ""
    }
  }
  r = ratio(m("4k", 32, "cdp", "iops"), m("4k", 1, "fio", "iops"))
  printf "- 4k QD32 durable IOPS >= 10x fio 4k QD1 fdatasync IOPS:" \
         " %.0f / %.0f = %.1fx %s%s\n",
    m("4k", 32, "cdp", "iops"), m("4k", 1, "fio", "iops"), r, verdict(r >= 10),
    hasold ? sprintf(" (old: %.1fx)",
                     ratio(m("4k", 32, "old", "iops"), m("4k", 1, "fio", "iops"))) : ""
  for (j = 1; j <= nq; j++) {
    q = Q[j]
    printf "- space overhead 64k QD%s <= 3%%: %.2f%% %s (4k QD%s: %.2f%%)\n",
      q, m("64k", q, "cdp", "ovh"), verdict(m("64k", q, "cdp", "ovh") <= 3),
      q, m("4k", q, "cdp", "ovh")
  }
}
