#!/bin/bash
# at/<when>/: a scripted season (publish, results, criteria changes, a
# waiver, an approval, a revoke, a hold, a scenario and a release freeze)
# recorded at several moments (ls -lR, every status and status.json), then
# at/<each moment>/ by time, by commit id and by tag gives the same bytes.
# Writes under at/ are EROFS; an unknown commit or a time before the store
# is ENOENT; relctl status/why --at answer as the tree does.
. "$(dirname "$0")/lib.sh"

SRC=$T/src
mkdir -p "$SRC/bin"
echo deploy >"$SRC/bin/deploy.sh"
"$RELCTL" init "$STORE" >/dev/null
created=$(date -u +%s)
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 1 \
	--scenario os-nosdn-nofeature-ha >/dev/null
mount_store
M=$MNT
A=$M/artifacts/fuel/1

# What a moment shows: ls -lR of the tree (the staging area and results/,
# CI's inbox, are today's directories, not history: their lines are left
# out, and with them the column widths their sizes set) and every status,
# in one file per moment.
shot() {
	local root=$1
	(cd "$root" && LC_ALL=C ls -lR --time-style=+%FT%T . |
		awk '/^\.\/incoming(\/.*)?:$|\/results:$/ { skip = 1; next }
		     /^$/ && skip { skip = 0; next }
		     skip { next }
		     /^total / { next }
		     / incoming$| results$/ { next }
		     { print }' | tr -s ' '
	 find . -path ./incoming -prune -o \( -name status -o -name status.json \) \
		-print | LC_ALL=C sort | while read -r f; do
		echo "== $f"
		cat "$f"
	done)
}
declare -a WHEN ID
n=0
moment() {
	settle
	WHEN[n]=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	ID[n]=$(git --git-dir="$STORE/ledger.git" rev-parse HEAD)
	shot "$M" >"$T/moment.$n"
	n=$((n + 1))
	# the next change lands in a later second than this moment
	sleep 1.1
}

mkdir "$M/stages/daily" "$M/stages/weekly"
echo '{"require": [{"testcase": "smoke"}]}' >"$M/stages/daily/criteria.json"
echo '{"after": "daily", "approvals": 1}' >"$M/stages/weekly/criteria.json"
moment		# 0: stages, nothing promoted
echo PASS >"$A/results/smoke"
moment		# 1: fuel/1 in daily
mkdir -p "$M/incoming/fuel/2"
cp -r "$SRC/bin" "$M/incoming/fuel/2/"
mv "$M/incoming/fuel/2" "$M/artifacts/fuel/"
B=$M/artifacts/fuel/2
echo '{"require": [{"testcase": "smoke"}, {"testcase": "tempest"}]}' >"$M/stages/daily/criteria.json"
echo PASS >"$B/results/smoke"
echo FAIL >"$B/results/tempest"
moment		# 2: a new cycle; fuel/2 fails tempest
echo '{"reason": "known flake, bug 42"}' >"$B/waivers/tempest"
echo 'ship it' >"$A/approvals/weekly"
moment		# 3: fuel/2 waived into daily; fuel/1 approved into weekly
rm "$M/stages/daily/fuel/1"
echo 'lab move' >"$M/stages/weekly/hold"
moment		# 4: revoked from daily (and weekly with it); weekly held
# A release's directories in at/ take the time of its record's last
# change, where the live tree's take their last entry's (README, Known
# limits): the release and its freeze go in within one second, from the
# start of one.
sleep "$(echo "1 - $(date +%N) / 1000000000" | bc -l)"
mkdir "$M/scenarios/os-nosdn-nofeature-ha" "$M/releases/2027.1"
echo '{"target": "2099-01-01T00:00:00Z", "stage": "daily"}' >"$M/releases/2027.1/release.json"
echo 'owner: fuel' >"$M/releases/2027.1/participants/os-nosdn-nofeature-ha"
"$RELCTL" release freeze "$STORE" 2027.1 >/dev/null
moment		# 5: a scenario, a release frozen
echo PASS >"$A/results/smoke"
settle
head_now=$(git --git-dir="$STORE/ledger.git" rev-parse HEAD)
shot "$M" >"$T/now"
check "the live tree moved on since moment 5" sh -c "! cmp -s '$T/moment.5' '$T/now'"

for i in $(seq 0 $((n - 1))); do
	shot "$M/at/${WHEN[i]}" >"$T/at.$i"
	check "at/${WHEN[i]}/ is moment $i, byte for byte" diff "$T/moment.$i" "$T/at.$i"
	shot "$M/at/${ID[i]:0:12}" >"$T/id.$i"
	check "at/<its commit, 12 digits>/ is moment $i" diff "$T/moment.$i" "$T/id.$i"
done
check "the moments differ from each other" sh -c "! cmp -s '$T/moment.0' '$T/moment.1' && ! cmp -s '$T/moment.3' '$T/moment.4'"
check "at/<a full commit id>/" cmp "$T/moment.2" <(shot "$M/at/${ID[2]}")

# tags: a promotion's and the release's, each the state right after it
check_eq "ls at/" "promote release" "$(ls "$M/at" | xargs)"
check_eq "ls at/promote/" "daily weekly" "$(ls "$M/at/promote" | xargs)"
check_eq "ls at/promote/daily/fuel/" "1 2" "$(ls "$M/at/promote/daily/fuel" | xargs)"
ls -l "$M/at" "$M/at/promote" "$M/at/promote/weekly/fuel" >/dev/null	# cached
"$RELCTL" unhold "$STORE" weekly >/dev/null
"$RELCTL" approve "$STORE" fuel 2 weekly ok >/dev/null
check_eq "a new promotion's tag is listed at once" "1 2" "$(ls "$M/at/promote/weekly/fuel" | xargs)"
check "and opens" test -d "$M/at/promote/weekly/fuel/2/stages"
settle
head_now=$(git --git-dir="$STORE/ledger.git" rev-parse HEAD)
check "at/promote/daily/fuel/1/ is moment 1" cmp "$T/moment.1" <(shot "$M/at/promote/daily/fuel/1")
check "at/release/2027.1/ is moment 5" cmp "$T/moment.5" <(shot "$M/at/release/2027.1")
check "the frozen tree in the past" cmp "$M/releases/2027.1/frozen/excluded" \
	"$M/at/release/2027.1/releases/2027.1/frozen/excluded"
check_eq "the release did not exist at moment 4" "" "$(ls "$M/at/${WHEN[4]}/releases")"
check_eq "an artifact's bytes from the content store" deploy \
	"$(cat "$M/at/${WHEN[0]}/artifacts/fuel/1/files/bin/deploy.sh")"
check_gone "fuel/2 did not exist at moment 1" "$M/at/${WHEN[1]}/artifacts/fuel/2"
check_eq "criteria as they were (cycle 1)" smoke \
	"$(jq -r '[.require[].testcase] | join(" ")' "$M/at/${WHEN[1]}/stages/daily/criteria.json")"
check_eq "runs recorded up to then" "000001.json" "$(ls "$M/at/${WHEN[4]}/artifacts/fuel/1/runs/smoke" | xargs)"
check_eq "and now two" "000001.json 000002.json" "$(ls "$A/runs/smoke" | xargs)"

# four first looks at one commit at once: one view is built, all answer
c=$(git --git-dir="$STORE/ledger.git" rev-parse HEAD~1)
for i in 1 2 3 4; do (ls -R "$M/at/$c" >"$T/par.$i" 2>&1; echo $? >"$T/par.$i.rc") & done
wait
check_eq "all four listed it" "0 0 0 0" "$(cat "$T"/par.?.rc | xargs)"
check "the same listing" sh -c "cmp '$T/par.1' '$T/par.2' && cmp '$T/par.1' '$T/par.3' && cmp '$T/par.1' '$T/par.4'"
check_eq "one view of it on disk, no build left behind" "1-$c" \
	"$(ls -A "$STORE/views" | grep -e "$c" -e '^\.build' | xargs)"

# refusals
check_errno "HEAD is no name at/ takes" ENOENT stat "$M/at/HEAD"
check_errno "nor a tag of another kind" ENOENT stat "$M/at/refs"
check_errno "a commit that is not there" ENOENT stat "$M/at/0123456789abcdef0123456789abcdef01234567"
check_errno "a time before the store" ENOENT stat "$M/at/$(date -u -d @$((created - 3600)) +%Y-%m-%dT%H:%M:%SZ)"
check_errno "a time to come" ENOENT stat "$M/at/2099-01-01T00:00:00Z"
check_errno "a name that is no time, id or tag" ENOENT stat "$M/at/yesterday"
check_errno "a tag that is not there" ENOENT stat "$M/at/promote/daily/fuel/9"
P=$M/at/${WHEN[3]}
check_errno "write a file" EROFS write "$P/artifacts/fuel/1/approvals/daily"
check_errno "truncate" EROFS trunc "$P/stages/daily/criteria.json"
check_errno "mkdir" EROFS mkdir "$P/stages/new"
check_errno "rm a promotion" EROFS unlink "$P/stages/daily/fuel/2"
check_errno "rmdir a stage" EROFS rmdir "$P/stages/weekly"
check_errno "rename within" EROFS rename "$P/stages/daily" "$P/stages/x"
check_errno "rename out of it" EROFS rename "$P/stages/daily/criteria.json" "$M/stages/daily/x.json"
check_errno "chmod" EROFS chmod "$P/README"
check_errno "symlink" EROFS symlink x "$P/stages/l"
check_errno "results" EROFS write "$P/artifacts/fuel/1/results/smoke"
check_errno "mkdir at/x" EROFS mkdir "$M/at/x"
check_errno "rm at" EROFS rmdir "$M/at"
check_eq "at/ is not in the root's listing" "" "$(ls "$M" | grep -x at)"
settle
check_eq "nothing was recorded by any of it" "$head_now" \
	"$(git --git-dir="$STORE/ledger.git" rev-parse HEAD)"

# relctl status/why --at answer as the tree did
check_eq "relctl status --at (time)" "$(cat "$M/at/${WHEN[2]}/artifacts/fuel/2/status")" \
	"$("$RELCTL" status "$STORE" fuel 2 --at "${WHEN[2]}")"
check_exit "status --at exits 1: not promoted then" 1 "$RELCTL" status "$STORE" fuel 2 --at "${WHEN[2]}"
check_eq "relctl status --at (tag)" "$(cat "$M/at/promote/weekly/fuel/1/artifacts/fuel/1/status")" \
	"$("$RELCTL" status "$STORE" fuel 1 --at promote/weekly/fuel/1)"
check_exit "why --at: in daily at moment 1" 0 "$RELCTL" why "$STORE" fuel 1 daily --at "${WHEN[1]}"
check_exit "why --at: not in daily at moment 0" 1 "$RELCTL" why "$STORE" fuel 1 daily --at "${WHEN[0]}"
check "why --at names the reason of then" sh -c "'$RELCTL' why '$STORE' fuel 2 daily --at '${WHEN[2]}' | grep -q 'result-failed'"
check_exit "status --at an unknown commit" 1 "$RELCTL" status "$STORE" fuel 1 --at deadbeefdeadbeef
check_eq "its message" "relctl: at: 'deadbeefdeadbeef' names no commit of the ledger" \
	"$("$RELCTL" status "$STORE" fuel 1 --at deadbeefdeadbeef 2>&1)"

# a view survives a remount (kept in STORE/views), and is read the same
unmount_store
mount_store
check "after a remount" cmp "$T/moment.3" <(shot "$M/at/${WHEN[3]}")
check "git fsck" git --git-dir="$STORE/ledger.git" fsck --strict --no-progress
finish
