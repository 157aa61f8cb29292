# median.awk: medians and paired ratios of the raw results of the
# benchmarks that source bench/functions.sh (POSIX awk).
#
# Input, one line per measurement:  CASE TOOL REP METRIC VALUE
# Variables:
#   mode=median  c, t, m: the median of VALUE over the repetitions
#   mode=range   c, t, m: "min-max"
#   mode=ratio   c, a, b, m: the median over repetitions of a's VALUE
#                divided by b's VALUE of the same repetition; with mb,
#                b's value is that of metric mb
# Prints nothing when there is no value.

function sort(arr, n,    i, j, x) {
  for (i = 2; i <= n; i++)
    for (j = i; j > 1 && arr[j - 1] > arr[j]; j--) {
      x = arr[j]; arr[j] = arr[j - 1]; arr[j - 1] = x
    }
}

function fmt(x) {
  return x >= 100 ? sprintf("%.0f", x) : sprintf("%.3g", x)
}

function median(arr, n) {
  sort(arr, n)
  return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}

BEGIN { if (mb == "") mb = m }

$1 == c && mode == "ratio" {
  if ($2 == a && $4 == m) va[$3] = $5 + 0
  if ($2 == b && $4 == mb) vb[$3] = $5 + 0
}

$1 == c && mode != "ratio" && $2 == t && $4 == m { v[++n] = $5 + 0 }

END {
  if (mode == "ratio") {
    for (r in va)
      if ((r in vb) && vb[r] > 0)
        v[++n] = va[r] / vb[r]
  }
  if (n == 0)
    exit
  if (mode == "range") {
    sort(v, n)
    printf "%s-%s\n", fmt(v[1]), fmt(v[n])
  } else
    printf "%.6g\n", median(v, n)
}
