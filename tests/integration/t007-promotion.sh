#!/bin/bash
# Stages, criteria, approvals, waivers, holds, revokes and promotion through
# the mount, with the kernel's caches on: every change shows at once.
. "$(dirname "$0")/lib.sh"

SRC=$T/src
mkdir -p "$SRC"
echo x >"$SRC/f"
"$RELCTL" init "$STORE" >/dev/null
for v in 1 2; do
	"$RELCTL" publish "$STORE" "$SRC" --project fuel --version "$v" \
		--scenario os-nosdn-nofeature-ha >/dev/null
done
mount_store
S=$MNT/stages
A=$MNT/artifacts/fuel/1
B=$MNT/artifacts/fuel/2
pass() { echo PASS >"$1/results/$2"; }
fail() { echo FAIL >"$1/results/$2"; }
unmet() { jq -r --arg s "$2" '.stages[$s].unmet | map(.type + ":" + (.testcase // "")) | join(" ")' "$1/status.json"; }

check "mkdir stages/merge" mkdir "$S/merge"
check "mkdir stages/daily" mkdir "$S/daily"
check_errno "a stage that exists" EEXIST mkdir "$S/merge"
check_errno "mkdir of a bad stage name" EINVAL mkdir "$S/$(printf 'a\tb')"
check "merge criteria by echo" sh -c "echo '{\"require\": [{\"testcase\": \"vping_ssh\"}, {\"testcase\": \"tempest_*\"}]}' >'$S/merge/criteria.json'"
check "daily criteria by cp" cp /dev/stdin "$S/daily/criteria.json" <<<'{"after": "merge", "approvals": 1, "require": [{"testcase": "vping_ssh", "consecutive": 2}]}'
check_eq "criteria read back" "vping_ssh" "$(jq -r '.require[0].testcase' "$S/daily/criteria.json")"

# refused criteria: EINVAL at close, the old ones stay in force
before=$(sha256sum <"$S/merge/criteria.json")
echo '{bad' >"$T/c1"; echo '{"colour": 1}' >"$T/c2"
echo '{"after": "nope"}' >"$T/c3"; echo '{"after": "daily"}' >"$T/c4"
for c in c1 c2 c3 c4; do
	check_errno "bad criteria $c refused at close" EINVAL copy "$T/$c" "$S/merge/criteria.json"
done
check_log "the reasons are logged" "makes a cycle of stages"
check_eq "the old criteria stay in force" "$before" "$(sha256sum <"$S/merge/criteria.json")"
check_eq "still cycle 1: no history yet" "" "$(ls "$S/merge/criteria.history")"

# results promote
check_eq "not promoted without runs" "result-missing:vping_ssh result-missing:tempest_*" "$(unmet "$A" merge)"
pass "$A" vping_ssh
fail "$A" tempest_smoke
check_eq "a failing glob match blocks" "result-failed:tempest_smoke" "$(unmet "$A" merge)"
check_gone "not in the stage" "$S/merge/fuel/1"
ls "$S/merge" >/dev/null	# cached listing
pass "$A" tempest_smoke
check "promoted the moment close() returned" test -L "$S/merge/fuel/1"
check_eq "the link leads to the artifact" x "$(cat "$S/merge/fuel/1/files/f")"
check_eq "latest" 1 "$(readlink "$S/merge/fuel/latest")"
check_eq "daily waits for merge, runs and an approval" "not-enough-runs:vping_ssh approval-missing:" "$(unmet "$A" daily)"
pass "$A" vping_ssh
check_eq "two in a row: only the approval is missing" "approval-missing:" "$(unmet "$A" daily)"
check "approve by writing approvals/daily" sh -c "echo 'ship it' >'$A/approvals/daily'"
check "cascaded into daily" test -L "$S/daily/fuel/1"
check_eq "the approval is listed" "ship it" "$(cut -f3 "$A/approvals/daily")"
check_eq "status.json says promoted" "true true" "$(jq -r '[.stages.merge.promoted, .stages.daily.promoted] | map(tostring) | join(" ")' "$A/status.json")"
check "status for people" grep -q "daily: promoted at" "$A/status"
settle
check "a tag for each promotion" git --git-dir="$STORE/ledger.git" rev-parse -q --verify refs/tags/promote/daily/fuel/1
check "the tag holds the evidence" grep -q '"rule": "consecutive 2"' \
	<(git --git-dir="$STORE/ledger.git" cat-file -p promote/daily/fuel/1)
check "the tag names the criteria digest" grep -q "criteria: $(sha256sum <"$S/daily/criteria.json" | cut -c1-64)" \
	<(git --git-dir="$STORE/ledger.git" cat-file -p promote/daily/fuel/1)

# waivers
fail "$B" vping_ssh; pass "$B" tempest_smoke
check_eq "fuel 2 blocked by vping_ssh" "result-failed:vping_ssh" "$(unmet "$B" merge)"
check "waive vping_ssh" sh -c "echo 'known bug 42' >'$B/waivers/vping_ssh'"
check "a waiver promotes" test -L "$S/merge/fuel/2"
check_eq "latest moves to 2" 2 "$(readlink "$S/merge/fuel/latest")"
check "withdraw the waiver with rm" rm "$B/waivers/vping_ssh"
check_gone "the waiver is gone" "$B/waivers/vping_ssh"
echo '{"reason": "x", "expires": "not a time"}' >"$T/w"
check_errno "a waiver with a bad expiry is refused at close" EINVAL copy "$T/w" "$B/waivers/x"

# revoke, restore
check "revoke with rm" rm "$S/merge/fuel/2"
check_gone "revoked: gone from the stage" "$S/merge/fuel/2"
check_eq "latest falls back to 1" 1 "$(readlink "$S/merge/fuel/latest")"
check_eq "status says revoked (and why it failed)" "result-failed:vping_ssh revoked:" "$(unmet "$B" merge)"
pass "$B" vping_ssh
check_gone "not promoted again automatically" "$S/merge/fuel/2"
check "relctl restore" "$RELCTL" restore "$STORE" merge fuel 2
check "restored" test -L "$S/merge/fuel/2"
check_errno "latest cannot be removed" EROFS unlink "$S/merge/fuel/latest"

# hold
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 3 >/dev/null
C=$MNT/artifacts/fuel/3
check "hold the stage" sh -c "echo 'lab down' >'$S/merge/hold'"
pass "$C" vping_ssh; pass "$C" tempest_smoke
check_eq "held: nothing is promoted" "stage-held:" "$(unmet "$C" merge)"
check_gone "not in the held stage" "$S/merge/fuel/3"
check "release the hold with rm" rm "$S/merge/hold"
check "promoted when the hold is released" test -L "$S/merge/fuel/3"

# new criteria: a new cycle, the old ones in history
check "new merge criteria" sh -c "echo '{\"require\": [{\"testcase\": \"vping_ssh\", \"pass\": 2, \"of\": 3}]}' >'$S/merge/criteria.json'"
check_eq "history keeps cycle 1" "1.json" "$(ls "$S/merge/criteria.history" | xargs)"
check_eq "history says who set it" "$(id -un) tempest_*" \
	"$(jq -r '"\(.set_by) \(.criteria.require[1].testcase)"' "$S/merge/criteria.history/1.json")"
check_eq "fuel 3 keeps the cycle it was promoted in" 1 "$("$RELCTL" --json why "$STORE" fuel 3 merge | jq .cycle)"

# project criteria add to the stage's
check "mkdir stages/weekly" mkdir "$S/weekly"
echo '{"require": [{"testcase": "vping_ssh"}]}' >"$S/weekly/criteria.json"
check "project criteria" sh -c "echo '{\"require\": [{\"testcase\": \"healthcheck\"}]}' >'$MNT/projects/fuel/criteria/weekly.json'"
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 4 >/dev/null
D=$MNT/artifacts/fuel/4
pass "$D" vping_ssh
check_eq "both stage and project rules apply" "result-missing:healthcheck" "$(unmet "$D" weekly)"
pass "$D" healthcheck
check "promoted once both are met" test -L "$S/weekly/fuel/4"

# soak: the daemon wakes for it
check "mkdir stages/release" mkdir "$S/release"
echo '{"after": "weekly", "soak": "3s"}' >"$S/release/criteria.json"
check_eq "soaking" "soaking:" "$(unmet "$D" release)"
check "promoted when the soak ended, with no other input" eventually 10 test -L "$S/release/fuel/4"

"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 5 >/dev/null
fail "$MNT/artifacts/fuel/5" vping_ssh
# a stage promoted by hand
check "mkdir stages/manual" mkdir "$S/manual"
echo '{"automatic": false, "require": [{"testcase": "vping_ssh"}]}' >"$S/manual/criteria.json"
check_gone "not automatic: met but not promoted" "$S/manual/fuel/1"
check_eq "what is left is a typed reason, never an empty list" "manual-promotion:" \
	"$(unmet "$MNT/artifacts/fuel/1" manual)"
check_eq "relctl why says it" "fuel 1 is not promoted to manual:
  manual-promotion: criteria met; promote with relctl promote" \
	"$("$RELCTL" why "$STORE" fuel 1 manual)"
check_exit "relctl why exits 1 when it is not promoted" 1 "$RELCTL" why "$STORE" fuel 1 manual
check_exit "relctl status exits 1 when a stage has not taken it" 1 "$RELCTL" status "$STORE" fuel 1
check "relctl promote" "$RELCTL" promote "$STORE" manual fuel 1
check "promoted by hand" test -L "$S/manual/fuel/1"
check_exit "relctl why exits 0 when it is promoted" 0 "$RELCTL" why "$STORE" fuel 1 manual
check "relctl hold" "$RELCTL" hold "$STORE" manual "audit"
check_eq "the stage shows its hold" "audit" "$(cat "$S/manual/hold")"
check "relctl unhold ends it" "$RELCTL" unhold "$STORE" manual
check_gone "and the hold is gone" "$S/manual/hold"
check_refused "unhold of a stage not held" "relctl: stage 'manual' is not held" "$RELCTL" unhold "$STORE" manual

# a stage nothing depends on can be removed; one that was used cannot
check "mkdir stages/dialy (a typo)" mkdir "$S/dialy"
check_eq "it shows in every status" "criteria-missing:" "$(unmet "$MNT/artifacts/fuel/1" dialy)"
check "rmdir stages/dialy" rmdir "$S/dialy"
check_gone "gone" "$S/dialy"
check_eq "and from the status" "null" "$(jq -c '.stages.dialy' "$MNT/artifacts/fuel/1/status.json")"
check "recorded" grep -qx '[0-9]* remove stage dialy\|remove stage dialy' \
	<(settle; git --git-dir="$STORE/ledger.git" log -1 --format=%B)
check_errno "rmdir of a stage that has held artifacts" ENOTEMPTY rmdir "$S/merge"
check_log "says why" "has had artifacts promoted to it"
mkdir "$S/first" "$S/second"
echo '{"after": "first", "require": [{"testcase": "nothing"}]}' >"$S/second/criteria.json"
check_errno "rmdir of a stage another comes after" EBUSY rmdir "$S/first"
check_log "says which" "stage 'second' comes after 'first'"
check "the later one first" rmdir "$S/second"
check "then the earlier" rmdir "$S/first"
check_errno "rmdir of anything else stays EROFS" EROFS rmdir "$MNT/artifacts/fuel/1/runs"

# statuses list stages in pipeline order: after what they come after
mkdir "$S/zeta" "$S/alpha2"
echo '{"after": "zeta", "require": [{"testcase": "nothing"}]}' >"$S/alpha2/criteria.json"
order=$(jq -r '.order | join(" ")' "$MNT/artifacts/fuel/1/status.json")
check "status.json order: zeta before alpha2, which comes after it" \
	test "${order%%zeta*}" != "$order" -a "${order#*zeta}" != "${order#*zeta*alpha2}"
check_eq "merge comes before daily (after merge), though d < m" "merge daily" \
	"$(echo "$order" | tr ' ' '\n' | grep -x 'merge\|daily' | xargs)"
check_eq "the status text in the same order" "$order" \
	"$(grep -o '^  [a-z0-9_]*:' "$MNT/artifacts/fuel/1/status" | tr -d ' :' | xargs)"
rmdir "$S/alpha2" "$S/zeta"

# relctl gate: 0 promoted, 1 not (with the reasons), 2 error; --wait is
# woken by the change that promotes, not by a timer
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 7 >/dev/null
mkdir "$S/gated"
echo '{"require": [{"testcase": "vping_ssh"}, {"testcase": "tempest_smoke"}]}' >"$S/gated/criteria.json"
check_exit "gate: not promoted is 1" 1 "$RELCTL" gate "$STORE" fuel 7 gated
check_eq "with the reasons" "fuel 7 is not promoted to gated:" "$(head -1 "$T/out")"
check_exit "gate: an artifact that does not exist is 2" 2 "$RELCTL" gate "$STORE" fuel 99 gated
check_exit "gate: a stage that does not exist is 2" 2 "$RELCTL" gate "$STORE" fuel 7 nosuch
mkdir "$S/apexonly"
echo '{"projects": ["apex*"]}' >"$S/apexonly/criteria.json"
check_exit "gate: a stage for other projects is 2" 2 "$RELCTL" gate "$STORE" fuel 7 apexonly
check_eq "and says so, not that it does not exist" \
	"relctl: stage 'apexonly' is not for project 'fuel' (its criteria name other \"projects\")" \
	"$(head -1 "$T/out")"
check_exit "why: the same" 1 "$RELCTL" why "$STORE" fuel 7 apexonly
rmdir "$S/apexonly"
t0=$(date +%s)
"$RELCTL" gate "$STORE" fuel 7 gated --wait 30 >"$T/gate.out" 2>&1 &
gate=$!
sleep 0.5
pass "$MNT/artifacts/fuel/7" vping_ssh
pass "$MNT/artifacts/fuel/7" tempest_smoke
wait "$gate"; rc=$?
check_eq "gate --wait returns 0 once the change promotes" 0 "$rc"
check "within seconds of it, not at the end of the wait" test $(( $(date +%s) - t0 )) -lt 10
check "saying so" grep -q "^fuel 7 is promoted to gated" "$T/gate.out"
check_exit "gate --wait 1: still not promoted after it is 1" 1 "$RELCTL" gate "$STORE" fuel 7 manual --wait 1
check_exit "gate --json of a promoted artifact" 0 "$RELCTL" --json gate "$STORE" fuel 7 gated
check_eq "prints its stage's status" true "$(jq .promoted "$T/out")"
# an approval withdrawn by rm, or by relctl: evaluated again, recorded
mkdir "$S/signed"
echo '{"approvals": 1, "require": [{"testcase": "vping_ssh"}]}' >"$S/signed/criteria.json"
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 8 >/dev/null
pass "$MNT/artifacts/fuel/8" vping_ssh
echo 'not yet' >"$MNT/artifacts/fuel/8/approvals/daily"
check "rm approvals/daily withdraws my approval" rm "$MNT/artifacts/fuel/8/approvals/daily"
check_gone "and the file goes with the last one" "$MNT/artifacts/fuel/8/approvals/daily"
check_eq "recorded" "withdraw the approval of fuel/8 for daily by $(id -un)" \
	"$(settle; git --git-dir="$STORE/ledger.git" log -1 --format=%B | grep -o 'withdraw the approval.*' | tail -1)"
check_errno "rm of an approval that is not there" ENOENT unlink "$MNT/artifacts/fuel/8/approvals/daily"
"$RELCTL" approve "$STORE" fuel 8 signed "ok" >/dev/null
check "the approval promotes" test -L "$S/signed/fuel/8"
check_eq "relctl approve --withdraw --user" "approval withdrawn" \
	"$("$RELCTL" approve --withdraw --user "$(id -un)" "$STORE" fuel 8 signed)"
check "a promotion made stays until revoked" test -L "$S/signed/fuel/8"
check_refused "withdrawn twice" "relctl: $(id -un) has no approval of fuel/8 for signed" \
	"$RELCTL" approve --withdraw "$STORE" fuel 8 signed
# what if: relctl why --with/--criteria/--without-waivers/--now decides as
# if, and records nothing
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 9 >/dev/null
echo PASS >"$T/vping_ssh"; echo PASS >"$T/tempest_smoke"
echo '{"require": [{"testcase": "nothing"}]}' >"$T/other.json"
snap() {
	settle
	(find "$MNT/artifacts/fuel/9" | sort; "$RELCTL" --json ledger "$STORE";
	 git --git-dir="$STORE/ledger.git" rev-parse --all; "$RELCTL" events "$STORE" | wc -l)
}
snap >"$T/before.whatif"
check_exit "why --with: would be promoted, exit 0" 0 "$RELCTL" why "$STORE" fuel 9 gated --with "$T/vping_ssh" "$T/tempest_smoke"
check_eq "and says so" "fuel 9 would be promoted to gated (nothing was recorded)" "$(cat "$T/out")"
printf 'TAP version 13\nok 1 - vping_ssh\nok 2 - tempest_smoke\n' >"$T/both.tap"
check_exit "why --with a TAP file of both runs: exit 0" 0 "$RELCTL" why "$STORE" fuel 9 gated --with "$T/both.tap"
printf 'ok 1 - vping_ssh\nok 2 - tempest_smoke # SKIP\n' >"$T/skip.tap"
check_exit "and with one skipped: exit 1" 1 "$RELCTL" why "$STORE" fuel 9 gated --with "$T/skip.tap"
check_eq "a skip counts as no run" "fuel 9 would not be promoted to gated (nothing was recorded):
  result-missing tempest_smoke: no run of tempest_smoke counts for this rule" "$(cat "$T/out")"
check_exit "why --with one of two: exit 1" 1 "$RELCTL" why "$STORE" fuel 9 gated --with "$T/vping_ssh"
check_eq "with the reason" "fuel 9 would not be promoted to gated (nothing was recorded):
  result-missing tempest_smoke: no run of tempest_smoke counts for this rule" "$(cat "$T/out")"
check_exit "why --criteria: other criteria" 1 "$RELCTL" why "$STORE" fuel 9 gated --with "$T/vping_ssh" "$T/tempest_smoke" --criteria "$T/other.json"
check_exit "why --json --with" 0 "$RELCTL" --json why "$STORE" fuel 9 gated --with "$T/vping_ssh" "$T/tempest_smoke" --now 2027-01-01T00:00:00Z
check_eq "prints the decision" true "$(jq .promote "$T/out")"
check_exit "a result that is no result is 2" 2 "$RELCTL" why "$STORE" fuel 9 gated --with "$T/other.json"
snap >"$T/after.whatif"
check "nothing recorded: runs, ledger, refs, events" cmp "$T/before.whatif" "$T/after.whatif"
check_gone "and not promoted" "$S/gated/fuel/9"

# a revoke goes on down the stages that come after it
mkdir "$S/final"
echo '{"after": "gated", "require": [{"testcase": "vping_ssh"}]}' >"$S/final/criteria.json"
check "after gated: promoted at once" test -L "$S/final/fuel/7"
check "relctl revoke gated" "$RELCTL" revoke "$STORE" gated fuel 7
check_gone "it is gone from final too" "$S/final/fuel/7"
check_eq "each stage's revoke in the ledger, with the reason" \
	"revoke fuel 7 gated
revoke fuel 7 final (revoked from gated)" "$(settle; git --git-dir="$STORE/ledger.git" log -1 --format=%B | grep '^[0-9]* revoke' | cut -d' ' -f2-)"
check_eq "the record says why" "revoked from gated" \
	"$(git --git-dir="$STORE/ledger.git" show "HEAD:$(lpath promotions/final/fuel/7.json)" | jq -r .revoked.reason)"
check_eq "relctl promote refuses what does not meet the criteria" \
	"relctl: fuel 5 does not meet the criteria of manual (relctl why says what is missing)" \
	"$("$RELCTL" promote "$STORE" manual fuel 5 2>&1)"

# relctl why
check_eq "relctl why explains" "fuel 5 is not promoted to weekly:
  result-failed vping_ssh: the latest run (1) failed
  result-missing healthcheck: no run of healthcheck counts for this rule" \
	"$("$RELCTL" why "$STORE" fuel 5 weekly 2>&1)"
check "verify clean" "$RELCTL" verify "$STORE"

# a diamond: top, then left and right, then join after both of them
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 20 >/dev/null
D=$MNT/artifacts/fuel/20
mkdir "$S/dtop" "$S/dleft" "$S/dright" "$S/djoin"
echo '{"require": [{"testcase": "d1"}]}' >"$S/dtop/criteria.json"
echo '{"after": "dtop", "require": [{"testcase": "d2"}]}' >"$S/dright/criteria.json"
echo '{"after": "dtop", "require": [{"testcase": "d3"}]}' >"$S/dleft/criteria.json"
echo '{"after": ["dright", "dleft"], "require": [{"testcase": "d1"}]}' >"$S/djoin/criteria.json"
echo '{"after": ["djoin"]}' >"$T/cycle.json"
check_errno "a cycle through a list is refused" EINVAL copy "$T/cycle.json" "$S/dtop/criteria.json"
check_eq "pipeline order: top, its two (ties by name), then the join" "dtop dleft dright djoin" \
	"$(jq -r '.order | map(select(test("^d(top|left|right|join)$"))) | join(" ")' "$D/status.json")"
pass "$D" d1
pass "$D" d3
check "top and left take it" test -L "$S/dleft/fuel/20"
check_eq "the join waits for right" "previous-stage-missing:" "$(unmet "$D" djoin)"
pass "$D" d2
check "right takes it, and then the join" test -L "$S/djoin/fuel/20"
check "relctl revoke dtop" "$RELCTL" revoke "$STORE" dtop fuel 20
for s in dleft dright djoin; do check_gone "gone from $s too" "$S/$s/fuel/20"; done
check_eq "four revokes, each with its reason" "revoke fuel 20 dtop
revoke fuel 20 dleft (revoked from dtop)
revoke fuel 20 djoin (revoked from dtop)
revoke fuel 20 dright (revoked from dtop)" \
	"$(settle; git --git-dir="$STORE/ledger.git" log -1 --format=%B | grep '^[0-9]* revoke' | cut -d' ' -f2-)"
check "relctl restore dtop" "$RELCTL" restore "$STORE" dtop fuel 20
check "the later stages are evaluated again: all back" sh -c \
	"test -L '$S/dleft/fuel/20' && test -L '$S/dright/fuel/20' && test -L '$S/djoin/fuel/20'"

# the whole state comes back from the ledger
state() {
	(cd "$MNT" && find stages projects artifacts -path '*/files' -prune -o \
		-printf '%p %y %s %l\n' | sort
	for a in artifacts/fuel/*; do cat "$a/status.json" "$a/approvals/"* 2>/dev/null; done
	cat stages/*/criteria.json stages/*/criteria.history/*)
}
state >"$T/state.before"
unmount_store
check "rebuild" "$RELCTL" rebuild "$STORE"
mount_store
state >"$T/state.after"
check "stages, criteria, approvals, waivers and promotions are rebuilt" \
	diff "$T/state.before" "$T/state.after"
check "verify clean after rebuild" "$RELCTL" verify "$STORE"

# ERROR counts as a failure and says so; SKIP counts as neither
for v in 30 31; do "$RELCTL" publish "$STORE" "$SRC" --project fuel --version "$v" >/dev/null; done
check "mkdir stages/skiperr" mkdir "$S/skiperr"
echo '{"projects": ["fuel"], "require": [{"testcase": "odl", "consecutive": 2}]}' >"$S/skiperr/criteria.json"
echo PASS >"$MNT/artifacts/fuel/30/results/odl"
echo SKIP >"$MNT/artifacts/fuel/30/results/odl"
check_eq "after PASS, SKIP: one pass, not two" "fuel 30 is not promoted to skiperr:
  not-enough-runs odl: 1 passing runs in a row, 2 needed" "$("$RELCTL" why "$STORE" fuel 30 skiperr 2>&1)"
echo PASS >"$MNT/artifacts/fuel/30/results/odl"
check "PASS, SKIP, PASS: two in a row, promoted" test -L "$S/skiperr/fuel/30"
check_eq "the evidence leaves the skip out" "odl consecutive 2: 1 3" \
	"$(jq -r '.stages.skiperr.evidence[0] | "\(.testcase) \(.rule): \(.runs | map(tostring) | join(" "))"' "$MNT/artifacts/fuel/30/status.json")"
echo ERROR >"$MNT/artifacts/fuel/31/results/odl"
check_eq "an error is a failure, and named so" "fuel 31 is not promoted to skiperr:
  result-failed odl: a run among the last 1 ended in an error" "$("$RELCTL" why "$STORE" fuel 31 skiperr 2>&1)"
check_eq "the run shows the error" "ERROR" "$(jq -r .outcome "$MNT/artifacts/fuel/31/runs/odl/000001.json")"
finish
