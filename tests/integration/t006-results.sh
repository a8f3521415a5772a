#!/bin/bash
# Results through the mount: every way scripts write files records a run,
# bad input is refused at close() with EINVAL and leaves nothing, runs stay
# readable in runs/ and the ledger, relctl import, kill -9 with 4 writers.
. "$(dirname "$0")/lib.sh"

SRC=$T/src
mkdir -p "$SRC" "$T/in"
echo x >"$SRC/f"
"$RELCTL" init "$STORE" >/dev/null
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 9 >/dev/null
mount_store
A=$MNT/artifacts/fuel/9
R=$A/results

opnfv() {	# CASE CRITERIA
	printf '{"case_name": "%s", "criteria": "%s", "pod_name": "ericsson-pod2", "installer": "fuel", "scenario": "os-nosdn-nofeature-ha", "build_tag": "jenkins-1"}\n' "$1" "$2"
}
opnfv vping_ssh PASS >"$T/in/vping.json"
echo '{"testcase": "tempest_smoke", "outcome": "FAIL"}' >"$T/in/tempest.json"
echo PASS >"$T/in/healthcheck.txt"

check "cp of an OPNFV record" cp "$T/in/vping.json" "$R/"
check_eq "run 1 of vping_ssh is there at once" "000001.json" "$(ls "$A/runs/vping_ssh")"
check_eq "the run says who, what and where" "vping_ssh PASS ericsson-pod2 $(id -un) vping.json" \
	"$(jq -r '"\(.testcase) \(.outcome) \(.pod) \(.user) \(.file)"' "$A/runs/vping_ssh/000001.json")"
check "cp -p of a simple record" cp -p "$T/in/tempest.json" "$R/"
check_eq "tempest_smoke FAIL recorded" FAIL "$(jq -r .outcome "$A/runs/tempest_smoke/000001.json")"
check "install of a bare word" install -m 0644 "$T/in/healthcheck.txt" "$R/"
check_eq "the test case is the file name without extension" PASS \
	"$(jq -r .outcome "$A/runs/healthcheck/000001.json")"
echo FAIL >"$R/healthcheck.txt"
check_eq "shell redirection adds run 2" "000001.json 000002.json" "$(ls "$A/runs/healthcheck" | xargs)"
check_eq "run 2 failed" FAIL "$(jq -r .outcome "$A/runs/healthcheck/000002.json")"
check_eq "run 1 is unchanged" PASS "$(jq -r .outcome "$A/runs/healthcheck/000001.json")"
mkdir -p "$T/rs"; opnfv rally_sanity PASS >"$T/rs/rally.json"
check "rsync (dot-file, then rename)" rsync -a "$T/rs/" "$R/"
check_eq "rsync recorded one run" "000001.json" "$(ls "$A/runs/rally_sanity" | xargs)"
check_eq "no rsync temporary file left" "" "$(ls -a "$R" | grep '^\.[^.]')"
mkdir -p "$MNT/incoming/tmp"
opnfv odl PASS >"$MNT/incoming/tmp/odl.json"
check "mv within the mount" mv "$MNT/incoming/tmp/odl.json" "$R/"
check_eq "mv recorded a run" PASS "$(jq -r .outcome "$A/runs/odl/000001.json")"
check "cp of the same record again" cp "$T/in/vping.json" "$R/"
check_eq "writing the same test case again adds a run" "000001.json 000002.json" \
	"$(ls "$A/runs/vping_ssh" | xargs)"
check_eq "results/ shows what was written" "healthcheck.txt odl.json rally.json tempest.json vping.json" \
	"$(ls "$R" | xargs)"
settle
# the newest commit holds the newest run: as its subject when it holds that
# run alone, as "<change> <what>" in its list when it holds several
check "every run is in the ledger's newest commit" grep -qx \
	-e 'run fuel/9 vping_ssh #2: PASS' -e '[0-9]* run fuel/9 vping_ssh #2: PASS' \
	<(git --git-dir="$STORE/ledger.git" log -1 --format=%B)
check_eq "a commit is the changes of one user in a row" "$(id -un)" \
	"$(git --git-dir="$STORE/ledger.git" log -1 --format=%an)"
check "the ledger holds the run" cmp <(git --git-dir="$STORE/ledger.git" show "HEAD:$(lpath runs/fuel/9/vping_ssh/000002.json)") \
	"$A/runs/vping_ssh/000002.json"

# refusals at close(), leaving nothing
before="$(ledger_commits) $(find "$A/runs" -type f | wc -l)"
printf '{"case_name": "x", ' >"$T/in/broken.json"
check_eq "invalid JSON: close fails with EINVAL" \
	"cp: failed to close '$R/broken.json': Invalid argument" "$(cp "$T/in/broken.json" "$R/" 2>&1)"
check_log "and the message says why" "broken.json' is not valid JSON"
check_gone "and the file is gone" "$R/broken.json"
echo '{"testcase": "t", "outcome": "MAYBE"}' >"$T/in/maybe.json"
check_errno "unknown outcome refused at close" EINVAL copy "$T/in/maybe.json" "$R/maybe.json"
check_log "unknown outcome explained" "unknown outcome 'MAYBE'"
echo '{"criteria": "PASS"}' >"$T/in/nocase.json"
check_errno "missing test case refused at close" EINVAL copy "$T/in/nocase.json" "$R/nocase.json"
head -c 1048577 /dev/zero | tr '\0' ' ' >"$T/in/big.json"
check_errno "over 1 MiB refused at close" EINVAL copy "$T/in/big.json" "$R/big.json"
check_log "size refusal explained" "larger than the limit"
check_errno "non-UTF-8 name refused" EINVAL write "$R/$(printf 'bad\377.json')"
check_errno "an artifact that does not exist" ENOENT write "$MNT/artifacts/fuel/10/results/x.json"
check_errno "a recorded result is never removed" EROFS unlink "$R/vping.json"
check_errno "no directories in results/" EINVAL mkdir "$R/sub"
check_eq "nothing recorded by the refusals" "$before" \
	"$(ledger_commits) $(find "$A/runs" -type f | wc -l)"

# a file of many runs: JUnit XML, TAP, JSON Lines, a JSON array; one run a
# test case, all or nothing; ERROR and SKIP
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version multi >/dev/null
M=$MNT/artifacts/fuel/multi
cat >"$T/in/suite.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="functest" tests="4">
    <testcase classname="healthcheck" name="vping_ssh" time="12.5"/>
    <testcase name="tempest"><failure message="2 tests failed" type="AssertionError">test_a
test_b</failure></testcase>
    <testcase name="rally"><error message="VM did not boot"/></testcase>
    <testcase name="odl"><skipped message="no ODL"/></testcase>
  </testsuite>
</testsuites>
XML
check "cp of a JUnit XML file" cp "$T/in/suite.xml" "$M/results/"
check_eq "one run a testcase, each its outcome" \
	"healthcheck.vping_ssh:PASS odl:SKIP rally:ERROR tempest:FAIL" \
	"$(for d in "$M"/runs/*; do printf '%s:%s\n' "$(basename "$d")" "$(jq -r .outcome "$d/000001.json")"; done | xargs)"
check_eq "the run keeps the testcase's record" "junit functest 2 tests failed suite.xml" \
	"$(jq -r '"\(.format) \(.record.suite) \(.record.message) \(.file)"' "$M/runs/tempest/000001.json")"
settle
check_eq "one ledger commit for the file, its runs counted" \
	"runs fuel/multi from suite.xml: 4 runs (1 PASS, 1 FAIL, 1 ERROR, 1 SKIP)" \
	"$(git --git-dir="$STORE/ledger.git" log -1 --format=%s)"
check_eq "each run its own file in the ledger" "4" \
	"$(git --git-dir="$STORE/ledger.git" show --name-only --format= HEAD | grep -c '/000001\.json$')"
printf 'TAP version 13\n1..3\nok 1 - vping_ssh\nnot ok 2 - tempest # 3 of 100 failed\n  ---\n  at: test_x\n  ...\nok 3 - odl # SKIP no ODL\n' >"$M/results/smoke.tap"
check_eq "TAP by redirection: a run a test line" "PASS FAIL SKIP" \
	"$(jq -r .outcome "$M/runs/vping_ssh/000001.json" "$M/runs/tempest/000002.json" "$M/runs/odl/000002.json" | xargs)"
check_eq "a TAP run keeps its line and diagnostics" "not ok 2 - tempest # 3 of 100 failed|  ---
  at: test_x
  ...
|" "$(jq -r '"\(.record.line)|\(.record.diagnostics)|"' "$M/runs/tempest/000002.json")"
printf '%s\n' '{"case_name": "vping_ssh", "criteria": "ERROR"}' '{"testcase": "rally", "outcome": "PASS"}' >"$T/in/more.jsonl"
check "cp of JSON Lines" cp "$T/in/more.jsonl" "$M/results/"
check_eq "a run a line" "ERROR PASS" "$(jq -r .outcome "$M/runs/vping_ssh/000002.json" "$M/runs/rally/000002.json" | xargs)"
echo '[{"testcase": "odl", "outcome": "PASS"}, {"testcase": "odl", "outcome": "FAIL"}]' >"$T/in/arr.json"
check "cp of a JSON array" cp "$T/in/arr.json" "$M/results/"
check_eq "a run a record, in order" "000001.json 000002.json 000003.json 000004.json" "$(ls "$M/runs/odl" | xargs)"
check_eq "the array's runs" "PASS FAIL" "$(jq -r .outcome "$M/runs/odl/000003.json" "$M/runs/odl/000004.json" | xargs)"
before="$(ledger_commits) $(find "$M/runs" -type f | wc -l) $(ls "$M/runs" | xargs)"
printf 'ok 1 - fine\nnot ok 2 - a/b\n' >"$T/in/bad.tap"
check_errno "one bad entry refuses the whole file" EINVAL copy "$T/in/bad.tap" "$M/results/bad.tap"
check_log "and the message names its line" "result 'bad.tap', line 2: invalid test case name 'a/b'"
printf '<testsuite><testcase name="ok"/><testcase name="x">\n' >"$T/in/cut.xml"
check_errno "XML cut short is refused" EINVAL copy "$T/in/cut.xml" "$M/results/cut.xml"
check_log "with expat's reason" "result 'cut.xml' is not valid XML (line 1: no element found)"
echo '[{"testcase": "fine", "outcome": "PASS"}, {"testcase": "y", "outcome": "MAYBE"}]' >"$T/in/badarr.json"
check_errno "an array with one bad record is refused" EINVAL copy "$T/in/badarr.json" "$M/results/badarr.json"
check_eq "none of their runs was recorded" "$before" \
	"$(ledger_commits) $(find "$M/runs" -type f | wc -l) $(ls "$M/runs" | xargs)"

# relctl result: the same files beside the mount, shown in it at once
printf 'ok 1 - vping_ssh\nok 2 - odl # SKIP later\n' >"$T/in/beside.tap"
check_eq "relctl result records a file as a cp would" "recorded $T/in/beside.tap" \
	"$("$RELCTL" result "$STORE" fuel multi "$T/in/beside.tap")"
check_eq "its runs are in the mount at once" "PASS SKIP" \
	"$(jq -r .outcome "$M/runs/vping_ssh/000003.json" "$M/runs/odl/000005.json" | xargs)"
check_eq "the run names the file" "beside.tap $(id -un)" "$(jq -r '"\(.file) \(.user)"' "$M/runs/odl/000005.json")"
check_exit "a refused file: exit 1, the others recorded" 1 "$RELCTL" result "$STORE" fuel multi "$T/in/bad.tap" "$T/in/beside.tap"
check_eq "and says which and why" "relctl: refused $T/in/bad.tap: result 'bad.tap', line 2: invalid test case name 'a/b': contains '/'
recorded $T/in/beside.tap" "$(cat "$T/out")"
check_refused "an artifact that does not exist" "relctl: artifact fuel nope does not exist" \
	"$RELCTL" result "$STORE" fuel nope "$T/in/beside.tap"

# relctl import
"$RELCTL" publish "$STORE" "$SRC" --project apex --version 2026-11-01-os-odl-sfc-noha >/dev/null
need_data
grep '"artifact": "apex/2026-11-01-os-odl-sfc-noha"' "$DATA" >"$T/apex.jsonl"
n=$(wc -l <"$T/apex.jsonl")
check "the data holds records of that artifact" test "$n" -gt 0
echo '{"artifact": "nope/1", "case_name": "x", "criteria": "PASS"}' >>"$T/apex.jsonl"
echo 'not json' >>"$T/apex.jsonl"
"$RELCTL" events --follow "$STORE" >"$T/import-events.log" &
FOL=$!
sleep 0.5
check_eq "import reports what it took and refused" "imported $n runs, refused 2 records" \
	"$("$RELCTL" import "$STORE" "$T/apex.jsonl" --quiet 2>/dev/null)"
for _ in $(seq 50); do grep -q runs.imported "$T/import-events.log" && break; sleep 0.1; done
kill $FOL; wait $FOL 2>/dev/null
check_eq "one runs.imported event for the artifact, its runs counted by test case" \
	"1 apex 2026-11-01-os-odl-sfc-noha $n 13 7 1 7" \
	"$(grep '"runs.imported"' "$T/import-events.log" | jq -rs 'length as $k | .[0] |
	"\($k) \(.project) \(.version) \(.runs) \(.testcases | length) \(.testcases.vping_ssh | .pass + .fail)
	\(.testcases.vping_ssh.first) \(.testcases.vping_ssh.last)"' | xargs)"
check_eq "no run.recorded event per imported run" "0" "$(grep -c '"run.recorded"' "$T/import-events.log")"
# the ledger: a file a test case (and bucket of 100 runs), the records as given
G() { git --git-dir="$STORE/ledger.git" "$@"; }
settle
vp=$(lpath runs/apex/2026-11-01-os-odl-sfc-noha/vping_ssh)
check_eq "the import's runs of a test case are one ledger file" "$vp/00/00/000001-000007.jsonl" \
	"$(G ls-tree -r --name-only HEAD -- "$vp/")"
check_eq "one file for each of the 13 test cases" "13" \
	"$(G ls-tree -r --name-only HEAD -- "$(dirname "$(dirname "$vp")")" | grep -c '/000001-[0-9]*\.jsonl$')"
check_eq "its first line: the runs it holds, who and when" "1 7 $(id -un) $(id -u)" \
	"$(G show "HEAD:$vp/00/00/000001-000007.jsonl" | head -1 | jq -r '"\(.first) \(.last) \(.user) \(.uid)"')"
check_eq "then the records, byte for byte as given" "$(grep '"case_name": "vping_ssh"' "$T/apex.jsonl")" \
	"$(G show "HEAD:$vp/00/00/000001-000007.jsonl" | tail -n +2)"
check_eq "git log of the test case names the import" "import $n runs from $T/apex.jsonl" \
	"$(G log --format=%s -- "$vp")"
check_eq "the mount shows each imported run as its own file" \
	"$(grep '"case_name": "vping_ssh"' "$T/apex.jsonl" | sed -n 3p | jq -S .)" \
	"$(jq -S .record "$MNT/artifacts/apex/2026-11-01-os-odl-sfc-noha/runs/vping_ssh/000003.json")"
check_eq "and its size is the size a read gives" \
	"$(wc -c <"$MNT/artifacts/apex/2026-11-01-os-odl-sfc-noha/runs/vping_ssh/000003.json")" \
	"$(stat -c %s "$MNT/artifacts/apex/2026-11-01-os-odl-sfc-noha/runs/vping_ssh/000003.json")"
# (the second import runs to its end before anything is counted: a grep -q
# reading its stderr through a pipe would leave it committing behind the count)
"$RELCTL" import "$STORE" "$T/apex.jsonl" --quiet >/dev/null 2>"$T/import.err"
check "import names the refused lines" grep -q "refused line $((n + 1)): artifact nope/1 does not exist" "$T/import.err"
check_eq "both imports' runs are readable in the mount" "$((2 * n))" \
	"$(find "$MNT/artifacts/apex/2026-11-01-os-odl-sfc-noha/runs" -type f | wc -l)"
settle
check_eq "the second import's runs follow the first's, in a file of their own" \
	"$vp/00/00/000001-000007.jsonl $vp/00/00/000008-000014.jsonl" \
	"$(G ls-tree -r --name-only HEAD -- "$vp/" | xargs)"
check "verify clean after import" "$RELCTL" verify "$STORE"
# a dump of one artifact's records that name none: --artifact names it
grep '"artifact": "apex/2026-11-01-os-odl-sfc-noha"' "$DATA" | sed 's/"artifact": "[^"]*", //' >"$T/noart.jsonl"
check_eq "records naming no artifact are refused without --artifact" \
	"imported 0 runs, refused $n records" "$("$RELCTL" import "$STORE" "$T/noart.jsonl" --quiet 2>"$T/noart.err")"
check "and say what to do" grep -q "refused line 1: the record names no \"artifact\" (relctl import --artifact P/V names one for all)" "$T/noart.err"
check_eq "with --artifact they are that artifact's" "imported $n runs, refused 0 records" \
	"$("$RELCTL" import "$STORE" "$T/noart.jsonl" --artifact apex/2026-11-01-os-odl-sfc-noha --quiet)"
check_eq "the third import's runs follow" "$vp/00/00/000015-000021.jsonl" \
	"$(settle; G ls-tree -r --name-only HEAD -- "$vp/" | tail -1)"
check_eq "each record as given, without an artifact" "$(grep '"case_name": "vping_ssh"' "$T/noart.jsonl" | head -1)" \
	"$(G show "HEAD:$vp/00/00/000015-000021.jsonl" | sed -n 2p)"
A2=$MNT/artifacts/apex/2026-11-01-os-odl-sfc-noha
# an import of more than a batch (20,000 runs): a commit each, the runs
# numbered on, and a bucket the batches share split between them
awk 'BEGIN { for (i = 1; i <= 20130; i++) printf "{\"artifact\": \"apex/2026-11-01-os-odl-sfc-noha\", \"case_name\": \"%s\", \"criteria\": \"PASS\", \"n\": %d}\n", i <= 50 ? "other" : "split", i }' >"$T/big.jsonl"
settle
before=$(G rev-parse HEAD)
check_eq "an import of 20,130 records" "imported 20130 runs, refused 0 records" \
	"$("$RELCTL" import "$STORE" "$T/big.jsonl" --quiet)"
settle
# (two changes of the ledger, in one commit when they fall in one second)
check_eq "is two changes of the ledger, the second continued" "import 130 runs from $T/big.jsonl (continued)
import 20000 runs from $T/big.jsonl" \
	"$(G log --format='%s%n%b' "$before..HEAD" | sed -E 's/^[0-9]+ //; s/ \(and [0-9]+ more changes?\)$//' |
	grep -F "runs from $T/big.jsonl" | sort -u)"
sp=$(lpath runs/apex/2026-11-01-os-odl-sfc-noha/split)
check_eq "the bucket the batches share is two files, then the next bucket" \
	"$sp/01/99/019900-019950.jsonl $sp/01/99/019951-019999.jsonl $sp/02/00/020000-020080.jsonl" \
	"$(G ls-tree -r --name-only HEAD -- "$sp/01/99" "$sp/02" | xargs)"
check_eq "the runs on both sides of the split, in order" "19950 20000 19951" \
	"$(jq -r .record.n "$A2/runs/split/019900.json" "$A2/runs/split/019950.json" | xargs) $(G show "HEAD:$sp/01/99/019951-019999.jsonl" | head -1 | jq .first)"
check_eq "every run of it in the mount" "20080" "$(ls "$A2/runs/split" | wc -l)"
check_eq "no import had to render its runs for their sizes" "0" \
	"$(grep -c "is not jansson's rendering" "$STORE/relfs.log")"

# kill -9 during four parallel writers: every confirmed run survives, and
# the promotions are those a re-evaluation gives
"$RELCTL" stage "$STORE" nightly <(echo '{"require": [{"testcase": "w*", "consecutive": 3}]}') >/dev/null
for w in 1 2 3 4; do
	(for i in $(seq 1 400); do
		echo PASS >"$T/w$w"
		cp "$T/w$w" "$R/w${w}_$i.txt" 2>/dev/null && echo "w${w}_$i" >>"$T/ok.$w"
	done) &
done
sleep 1.5
pkill -9 -f "relfs $STORE"
wait
fusermount3 -uz "$MNT" 2>/dev/null
mount_store
confirmed=$(cat "$T"/ok.* 2>/dev/null | wc -l)
missing=0
for tc in $(cat "$T"/ok.* 2>/dev/null); do
	[ -f "$A/runs/$tc/000001.json" ] || missing=$((missing + 1))
done
check "some writes were confirmed before the kill ($confirmed)" test "$confirmed" -gt 0
check_eq "every run whose close() returned 0 is there" 0 "$missing"
check "verify clean after the kill" "$RELCTL" verify "$STORE"
# consecutive 3 of every w* test case: never met by single runs
check_eq "no promotion from single runs" "false" "$(jq .stages.nightly.promoted "$A/status.json")"
check_gone "and no link" "$MNT/stages/nightly/fuel/9"
echo '{"require": [{"testcase": "w*"}]}' >"$MNT/stages/nightly/criteria.json"
check_eq "re-evaluated under new criteria: promoted" "true" "$(jq .stages.nightly.promoted "$A/status.json")"
check "and linked" test -L "$MNT/stages/nightly/fuel/9"

# every ledger batch is one pack; once the writers pause, the daemon merges
# the small ones (more than 16)
packs() { ls "$STORE/ledger.git/objects/pack" | grep -c '\.pack$'; }
for i in $(seq 1 20); do echo PASS >"$R/pace_$i.json"; sleep 0.3; done
settle
before=$(packs) commits=$(ledger_commits)
check "the pauses made more than 16 packs ($before)" test "$before" -gt 16
for _ in $(seq 100); do [ "$(packs)" -le 16 ] && break; sleep 0.1; done
check "a second without writes, and they are merged ($(packs) left)" test "$(packs)" -le 16
check "by the daemon's merge, beside the ledger (relfs.log)" \
	grep -Eq 'ledger: merged [0-9]+ packs \([0-9.]+ MiB\) in [0-9]+ ms, [0-9]+ ms of it holding the ledger$' "$STORE/relfs.log"
check_eq "every commit is still there" "$commits" "$(ledger_commits)"
check "verify (git fsck included) is clean" "$RELCTL" verify "$STORE"
finish
