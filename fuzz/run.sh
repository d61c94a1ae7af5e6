#!/usr/bin/env bash
# fuzz/run.sh TARGET SECONDS — build the instrumented harness, fuzz one reader with AFL++ for SECONDS, then
# minimise the queue into fuzz/corpus/TARGET and copy every crash and hang into fuzz/crashes/TARGET (commit both:
# the replay tests run them). `fuzz/run.sh list` lists the targets. See fuzz/README.md.
#
# Environment: FUZZ_NO_BUILD=1 reuses the last build (fuzz/out/bin); FUZZ_TIMEOUT_MS (default 20000) is AFL++'s
# per-input time limit; FUZZ_NO_CMIN=1 leaves fuzz/corpus alone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$here/out"
bin="$out/bin"
harness="$bin/Mechanist.Fuzz.dll"
dotnet="$(command -v dotnet)"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE

build() {
  echo "== building the harness into $bin"
  rm -rf "$bin"
  dotnet publish "$here/Mechanist.Fuzz/Mechanist.Fuzz.csproj" -c Release -o "$bin" --nologo -v quiet
  local tool="$out/tools/sharpfuzz"
  if [ ! -x "$tool" ]; then
    dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$out/tools" >/dev/null
  fi
  # The readers under test; the harness, the targets and the framework stay uninstrumented. The publish step
  # hard-links files from the build output: copy each before SharpFuzz rewrites it in place.
  for dll in Mechanist.Abstractions Mechanist.Models Mechanist.Methods Mechanist.Host; do
    cp "$bin/$dll.dll" "$bin/$dll.dll.tmp" && mv -f "$bin/$dll.dll.tmp" "$bin/$dll.dll"
    "$tool" "$bin/$dll.dll"
    echo "instrumented $dll.dll"
  done
  touch "$bin/.instrumented"
}

if [ "${1:-}" = "list" ]; then
  [ -f "$harness" ] || build
  exec dotnet "$harness" list
fi
if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: fuzz/run.sh TARGET SECONDS   (fuzz/run.sh list: the targets)" >&2
  exit 2
fi
target="$1"; seconds="$2"
if ! command -v afl-fuzz >/dev/null; then
  echo "afl-fuzz not found: install AFL++ (Debian: apt-get install -y afl++)" >&2
  exit 2
fi
if [ "${FUZZ_NO_BUILD:-0}" != 1 ] || [ ! -f "$bin/.instrumented" ]; then build; fi
dotnet "$harness" list | awk '{print $1}' | grep -qx "$target" || { dotnet "$harness" list >&2; echo "unknown target '$target'" >&2; exit 2; }

# Inputs: the target's seeds (small ones: AFL++ works best on small files) and the committed corpus.
input="$out/input/$target"
rm -rf "$input" "$out/seeds/$target"
mkdir -p "$input"
dotnet "$harness" seeds "$target" "$out/seeds" >/dev/null
find "$out/seeds/$target" -type f -size -64k -exec cp {} "$input/" \;
if [ -d "$here/corpus/$target" ]; then cp "$here/corpus/$target"/* "$input/" 2>/dev/null || true; fi
dotnet "$harness" dict "$target" "$out/$target.dict"

findings="$out/findings/$target"
rm -rf "$findings"; mkdir -p "$out/findings"
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_FORKSRV_INIT_TMOUT=180000 AFL_SKIP_CRASHES=1
timeout_ms="${FUZZ_TIMEOUT_MS:-20000}"
echo "== fuzzing $target for $seconds s ($(ls "$input" | wc -l) inputs)"
afl-fuzz -i "$input" -o "$findings" -t "$timeout_ms" -m none -V "$seconds" -x "$out/$target.dict" \
  -- "$dotnet" "$harness" afl "$target" > "$out/$target.afl.log" 2>&1 || {
    echo "afl-fuzz failed; the end of its log ($out/$target.afl.log):" >&2; tail -n 30 "$out/$target.afl.log" >&2; exit 1; }

stats="$findings/default/fuzzer_stats"
stat() { sed -n "s/^$1 *: *//p" "$stats"; }
crashes="$(stat saved_crashes)"; hangs="$(stat saved_hangs)"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$(stat run_time)" "$(stat execs_done)" "$(stat corpus_count)" \
  "$crashes" "$hangs" "$(date -u +%FT%TZ)" >> "$out/campaigns.tsv"
echo "== $target: $(stat run_time) s, $(stat execs_done) executions, $(stat corpus_count) paths, $crashes crashes, $hangs hangs"

# Every crash and hang goes to fuzz/crashes/TARGET under a name from its content, and is replayed at once.
mkdir -p "$here/crashes/$target"
for f in "$findings"/default/crashes/id:* "$findings"/default/hangs/id:*; do
  [ -f "$f" ] || continue
  cp "$f" "$here/crashes/$target/$(sha1sum "$f" | cut -c1-16)"
done
if [ "$crashes" != 0 ] || [ "$hangs" != 0 ]; then
  echo "== replaying the crashes and hangs"
  dotnet "$harness" replay "$target" $(ls -d "$findings"/default/crashes/id:* "$findings"/default/hangs/id:* 2>/dev/null) | grep -v '^peak_rss' || true
fi

# The minimised corpus: the smallest set of queue entries that keeps every edge AFL++ saw.
if [ "${FUZZ_NO_CMIN:-0}" != 1 ]; then
  echo "== minimising the queue into fuzz/corpus/$target"
  rm -rf "$out/cmin/$target"
  afl-cmin -i "$findings/default/queue" -o "$out/cmin/$target" -t "$timeout_ms" -m none \
    -- "$dotnet" "$harness" afl "$target" > "$out/$target.cmin.log" 2>&1 || {
      echo "afl-cmin failed; the end of its log:" >&2; tail -n 20 "$out/$target.cmin.log" >&2; exit 1; }
  rm -rf "$here/corpus/$target"
  mkdir -p "$here/corpus/$target"
  for f in "$out/cmin/$target"/*; do cp "$f" "$here/corpus/$target/$(sha1sum "$f" | cut -c1-16)"; done
  echo "== fuzz/corpus/$target: $(ls "$here/corpus/$target" | wc -l) inputs, $(du -sh "$here/corpus/$target" | cut -f1)"
fi
