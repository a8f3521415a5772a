#!/bin/bash
# Scenarios and an umbrella release through the mount: two scenarios with
# two projects each, results over time, one ready and one not, the freeze,
# the frozen tree read back, the ledger tag, EROFS after it, and the
# automatic freeze at a target a few seconds ahead.
. "$(dirname "$0")/lib.sh"

SRC=$T/src
mkdir -p "$SRC/bin"
printf '#!/bin/sh\necho deploy\n' >"$SRC/bin/deploy.sh"
SHA=$(printf 'img' | sha256sum | cut -c1-64)
printf 'centos\t7\t%s\thttp://127.0.0.1:1/c.img\n' "$SHA" >"$SRC/pins"
"$RELCTL" init "$STORE" >/dev/null
allow_pins
pub() {	# PROJECT VERSION SCENARIO
	"$RELCTL" publish "$STORE" "$SRC" --project "$1" --version "$2" --scenario "$3" >/dev/null
}
pub fuel 1 os-nosdn-nofeature-ha
pub functest 1 os-nosdn-nofeature-ha
pub apex 1 os-odl-sfc-noha
pub functest 2 os-odl-sfc-noha
mount_store
M=$MNT
mkdir "$M/stages/daily"
echo '{"require": [{"testcase": "healthcheck"}]}' >"$M/stages/daily/criteria.json"

# scenarios
check "mkdir scenarios/os-nosdn-nofeature-ha" mkdir "$M/scenarios/os-nosdn-nofeature-ha"
check "mkdir scenarios/os-odl-sfc-noha" mkdir "$M/scenarios/os-odl-sfc-noha"
check "scenario.json" sh -c "echo '{\"installer\": \"fuel\", \"projects\": [\"fuel\", \"functest\"], \"description\": \"no SDN, HA\"}' >'$M/scenarios/os-nosdn-nofeature-ha/scenario.json'"
check "scenario.json of the second" sh -c "echo '{\"installers\": [\"apex\"], \"projects\": [\"apex\", \"functest\"]}' >'$M/scenarios/os-odl-sfc-noha/scenario.json'"
echo '{"installer": "fuel"}' >"$T/noproj.json"
check_errno "a scenario without projects is refused at close" EINVAL copy "$T/noproj.json" "$M/scenarios/os-odl-sfc-noha/scenario.json"
check_log "the reason is logged" "must list its projects"
check "scenario criteria" sh -c "echo '{\"require\": [{\"testcase\": \"vping_ssh\"}]}' >'$M/scenarios/os-nosdn-nofeature-ha/criteria/daily.json'"

N=$M/artifacts
echo PASS >"$N/fuel/1/results/healthcheck"
check_gone "the scenario's rule holds fuel back" "$M/stages/daily/fuel/1"
check_eq "status names the scenario rule" "result-missing:vping_ssh" \
	"$(jq -r '.stages.daily.unmet | map(.type + ":" + (.testcase // "")) | join(" ")' "$N/fuel/1/status.json")"
echo PASS >"$N/fuel/1/results/vping_ssh"
check "promoted once the scenario rule is met" test -L "$M/stages/daily/fuel/1"
check_eq "scenarios/<s>/<stage>/<project> follows it" "../../../artifacts/fuel/1" \
	"$(readlink "$M/scenarios/os-nosdn-nofeature-ha/daily/fuel")"
# a scenario made after its artifact's promotion links it at once (as a
# rebuild would)
pub compass 1 os-late
echo PASS >"$N/compass/1/results/healthcheck"
check "compass promoted, its scenario not made yet" test -L "$M/stages/daily/compass/1"
check "mkdir scenarios/os-late" mkdir "$M/scenarios/os-late"
check_eq "the earlier promotion is linked" "../../../artifacts/compass/1" \
	"$(readlink "$M/scenarios/os-late/daily/compass")"
check_eq "and reads through" deploy "$(sh "$M/scenarios/os-nosdn-nofeature-ha/daily/fuel/files/bin/deploy.sh")"
for a in functest/1; do echo PASS >"$N/$a/results/healthcheck"; echo PASS >"$N/$a/results/vping_ssh"; done
echo PASS >"$N/apex/1/results/healthcheck"
check_eq "scenario status: both projects of the first scenario" "1 1" \
	"$(jq -r '.stages.daily | [.fuel.version, .functest.version] | join(" ")' "$M/scenarios/os-nosdn-nofeature-ha/status.json")"
check_eq "scores: vping_ssh passed once per artifact (2 passes)" 2 \
	"$(jq .scores.vping_ssh "$M/scenarios/os-nosdn-nofeature-ha/status.json")"
for i in 1 2 3 4; do echo FAIL >"$N/apex/1/results/tempest"; done
check_eq "score 0: never passed" 0 "$(jq .scores.tempest "$M/scenarios/os-odl-sfc-noha/status.json")"
for i in 1 2 3 4; do echo PASS >"$N/apex/1/results/tempest"; done
check_eq "score 3: the last 4 passed" 3 "$(jq .scores.tempest "$M/scenarios/os-odl-sfc-noha/status.json")"
check "scenario status for people" grep -q "tempest: 3" "$M/scenarios/os-odl-sfc-noha/status"

# a release
check "mkdir releases/2027.1" mkdir "$M/releases/2027.1"
R=$M/releases/2027.1
echo '{"target": "2027-05-01T00:00:00Z"}' >"$T/nostage.json"
check_errno "a release without stage is refused at close" EINVAL copy "$T/nostage.json" "$R/release.json"
echo '{"stage": "nope"}' >"$T/badstage.json"
check_errno "a release with an unknown stage is refused at close" EINVAL copy "$T/badstage.json" "$R/release.json"
echo '{"stage": "daily", "target": "soon"}' >"$T/badtarget.json"
check_errno "a target that is not a time is refused at close" EINVAL copy "$T/badtarget.json" "$R/release.json"
check "release.json" sh -c "echo '{\"target\": \"2099-01-01T00:00:00Z\", \"stage\": \"daily\", \"require\": [{\"testcase\": \"healthcheck\"}]}' >'$R/release.json'"
check_errno "an unknown scenario cannot take part" EINVAL write "$R/participants/os-nope"
check "a scenario commits" sh -c "echo 'owner: fuel team' >'$R/participants/os-nosdn-nofeature-ha'"
check "another commits" sh -c "echo 'owner: apex team' >'$R/participants/os-odl-sfc-noha'"
check "and a third commits, then withdraws" sh -c "mkdir '$M/scenarios/k8-nosdn-nofeature-noha' && echo x >'$R/participants/k8-nosdn-nofeature-noha' && rm '$R/participants/k8-nosdn-nofeature-noha'"
check_eq "participants" "os-nosdn-nofeature-ha os-odl-sfc-noha" "$(ls "$R/participants" | xargs)"
check_eq "the first is ready" true "$(jq '.participants["os-nosdn-nofeature-ha"].ready' "$R/status.json")"
check_eq "the second misses functest in daily" "previous-stage-missing:functest" \
	"$(jq -r '.participants["os-odl-sfc-noha"].unmet | map(.type + ":" + .project) | join(" ")' "$R/status.json")"

check "freeze" "$RELCTL" release freeze "$STORE" 2027.1
check_eq "freezing twice is refused" "relctl: release '2027.1' is already frozen" \
	"$("$RELCTL" release freeze "$STORE" 2027.1 2>&1)"
F=$R/frozen
check_eq "frozen links" "../../../../artifacts/fuel/1" "$(readlink "$F/os-nosdn-nofeature-ha/fuel")"
check "an installer reads by path" cmp "$SRC/bin/deploy.sh" "$F/os-nosdn-nofeature-ha/functest/files/bin/deploy.sh"
check_eq "frozen pins" "fuel	centos	7	$SHA	http://127.0.0.1:1/c.img" "$(grep ^fuel "$F/os-nosdn-nofeature-ha/pins")"
check_eq "frozen manifest names every artifact" "1 1" \
	"$(jq -r '.scenarios["os-nosdn-nofeature-ha"] | [.fuel.version, .functest.version] | join(" ")' "$F/manifest.json")"
check_eq "the manifest carries the ids" "$(jq -r .id "$N/fuel/1/manifest.json")" \
	"$(jq -r '.scenarios["os-nosdn-nofeature-ha"].fuel.id' "$F/manifest.json")"
check "excluded says why" grep -q "^os-odl-sfc-noha	not ready: previous-stage-missing functest" "$F/excluded"
check_gone "the excluded scenario is not frozen" "$F/os-odl-sfc-noha"
settle
check "a ledger tag release/2027.1" git --git-dir="$STORE/ledger.git" rev-parse -q --verify refs/tags/release/2027.1
check_errno "frozen: no new participant" EROFS write "$R/participants/os-odl-sfc-noha"
check_errno "frozen: no withdrawal" EROFS unlink "$R/participants/os-nosdn-nofeature-ha"
check_errno "frozen: release.json" EROFS write "$R/release.json"
check_errno "frozen: nothing under frozen/" EROFS write "$F/new"
check_errno "frozen: the manifest" EROFS write "$F/manifest.json"
check "revoke after the freeze" rm "$M/stages/daily/fuel/1"
check_eq "the frozen release keeps it" "../../../../artifacts/fuel/1" "$(readlink "$F/os-nosdn-nofeature-ha/fuel")"
check_eq "status notes the revoke" "fuel/1" "$(jq -r '.notes[0].artifact' "$R/status.json")"
check_gone "the scenario link goes with the revoke" "$M/scenarios/os-nosdn-nofeature-ha/daily/fuel"
ls "$M/scenarios/os-nosdn-nofeature-ha/daily" >/dev/null	# in the kernel's cache
"$RELCTL" revoke "$STORE" daily functest 1 >/dev/null
check_gone "its stage's directory goes with the last link (a revoke by relctl)" \
	"$M/scenarios/os-nosdn-nofeature-ha/daily"
check_eq "and leaves the listing" "" "$(ls "$M/scenarios/os-nosdn-nofeature-ha" | grep -x daily)"
"$RELCTL" restore "$STORE" daily functest 1 >/dev/null
check_eq "a restore brings it back" "../../../artifacts/functest/1" \
	"$(readlink "$M/scenarios/os-nosdn-nofeature-ha/daily/functest")"

# the automatic freeze at a target a few seconds ahead
mkdir "$M/releases/soon"
target=$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)
echo "{\"target\": \"$target\", \"stage\": \"daily\"}" >"$M/releases/soon/release.json"
echo team >"$M/releases/soon/participants/os-odl-sfc-noha"
check_gone "not frozen before the target" "$M/releases/soon/frozen"
check "frozen by the daemon at the target" eventually 10 test -f "$M/releases/soon/frozen/manifest.json"
check "verify clean" "$RELCTL" verify "$STORE"

# the same with relctl beside the mount
echo '{"projects": ["fuel"]}' >"$T/sc.json"
echo '{"stage": "daily"}' >"$T/rel.json"
check "relctl scenario create" "$RELCTL" scenario create "$STORE" os-cli
check "relctl scenario set" "$RELCTL" scenario set "$STORE" os-cli "$T/sc.json"
check_eq "the mount shows the scenario" "fuel" "$(jq -r '.projects[0]' "$M/scenarios/os-cli/scenario.json")"
check_refused "relctl scenario set refuses a bad scenario.json" \
	"relctl: scenario.json: unknown key 'target' (known: installer, installers, projects, components, description)" "$RELCTL" scenario set "$STORE" os-cli "$T/nostage.json"
check_eq "and keeps the old one" "fuel" "$(jq -r '.projects[0]' "$M/scenarios/os-cli/scenario.json")"
check "relctl release create" "$RELCTL" release create "$STORE" cli
check "relctl release set" "$RELCTL" release set "$STORE" cli "$T/rel.json"
check "relctl release join" "$RELCTL" release join "$STORE" cli os-cli "joined by relctl"
check_eq "the mount shows the participant" "joined by relctl" "$(cat "$M/releases/cli/participants/os-cli")"
check_refused "joining an unknown scenario is refused" \
	"relctl: participants/os-nope: there is no scenario 'os-nope' (mkdir scenarios/os-nope first)" "$RELCTL" release join "$STORE" cli os-nope
check "relctl release leave" "$RELCTL" release leave "$STORE" cli os-cli
check_gone "and the participant is gone" "$M/releases/cli/participants/os-cli"
check_refused "release set without a file is a usage error" \
	"usage: relctl [--json] COMMAND ..." "$RELCTL" release set "$STORE" cli

# scenarios, releases and frozen trees come back from the ledger
state() {
	(cd "$MNT" && find scenarios releases stages -printf '%p %y %s %l\n' | sort
	cat scenarios/*/status.json releases/*/status.json releases/*/frozen/manifest.json \
		releases/*/frozen/excluded releases/*/frozen/*/pins)
}
state >"$T/before"
unmount_store
check "rebuild" "$RELCTL" rebuild "$STORE"
mount_store
state >"$T/after"
check "the same scenarios and releases after a rebuild" diff "$T/before" "$T/after"
check_errno "still frozen after a rebuild" EROFS write "$R/release.json"
finish
