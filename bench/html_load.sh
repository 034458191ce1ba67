#!/usr/bin/env bash
# How fast a browser opens leaktop's --html report of 10,000 stacks: headless
# chromium (offline) loads it ROUNDS times, alternating with a small report
# (the exact target's dozen stacks); the page records when it is drawn
# (<body data-drawn-ms>: since the navigation began, reading and parsing
# included).  Medians and their ratio from this one run; not a test.
# Usage: sudo bench/html_load.sh   (PATHS=10000 ROUNDS=5 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
paths=${PATHS:-10000}
rounds=${ROUNDS:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# The big report: the stacks target's PATHS distinct stacks, written at exit.
./leaktop -i 1 --quiet --max-stacks $((paths * 13 / 10)) --html "$dir/big.html" \
  -- build/bench/stacks "$paths" 1 > "$dir/out" 2> "$dir/err" &
tracer=$!
for _ in $(seq 600); do grep -q '^ready' "$dir/out" && break; sleep 0.1; done
sleep 3 # every stack named, a few intervals of history
kill -INT "$tracer"
wait "$tracer"
./leaktop -i 0.3 -c 3 --quiet --html "$dir/small.html" -- build/targets/exact > /dev/null 2>&1

stacks() { # the stacks embedded in a report
  python3 -c 'import json, sys; t = open(sys.argv[1]).read(); print(len(json.loads(t.split("id=\"leaktop-data\">", 1)[1].split("</script>")[0])["stacks"]))' "$1"
}
drawn_ms() { # one load of a report -> its data-drawn-ms
  local profile
  profile=$(mktemp -d -p "$dir")
  chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --proxy-server=127.0.0.1:9 --user-data-dir="$profile" --window-size=1280,1600 --dump-dom \
    "file://$1" 2> /dev/null | grep -o 'data-drawn-ms="[0-9.]*"' | grep -o '[0-9.]*'
  rm -rf "$profile"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

big= small=
for ((r = 1; r <= rounds; r++)); do
  big+="$(drawn_ms "$dir/big.html") "
  small+="$(drawn_ms "$dir/small.html") "
done
b=$(echo "$big" | median) s=$(echo "$small" | median)
printf '%-8s %8s %10s %12s\n' report stacks bytes "drawn (ms)"
printf '%-8s %8s %10s %12s\n' big "$(stacks "$dir/big.html")" "$(stat -c %s "$dir/big.html")" "$b"
printf '%-8s %8s %10s %12s\n' small "$(stacks "$dir/small.html")" "$(stat -c %s "$dir/small.html")" "$s"
awk -v b="$b" -v s="$s" 'BEGIN { printf "big / small: %.2f\n", b / s }'
echo "(median of $rounds alternating loads each; headless $(chromium --version 2>/dev/null | head -c 40); $(nproc) CPUs)"
