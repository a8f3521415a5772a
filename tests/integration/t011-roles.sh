#!/bin/bash
# Who may do what: real users and groups (useradd, groupadd) acting through
# an allow_other mount (setpriv) and with relctl.  A CI user writes results
# but not criteria, an approver approves but cannot publish, an outsider only
# reads, one person approving twice counts once, the ledger names each of
# them, and every refusal is EACCES with nothing recorded.
. "$(dirname "$0")/lib.sh"

P=relfst		# prefix of the users and groups this test makes
NOUID=4242		# a uid with no name
ids_reset "$P"
for g in ci appr mgr; do groupadd "$P-g$g"; done
ids_user "$P-ci" -G "$P-gci"
ids_user "$P-appr" -G "$P-gappr"
ids_user "$P-appr2" -G "$P-gappr"
ids_user "$P-mgr" -G "$P-gmgr"
ids_user "$P-out"
trap 'unmount_store; ids_reset "$P"' EXIT

# everyone can reach the mount, the binaries and the sanitizer logs
share_bins "$RELCTL" "$PROBE"
RELCTL=$T/bin/relctl
PROBE=$T/bin/probe

SRC=$T/src
mkdir -p "$SRC"
echo x >"$SRC/f"
chmod -R a+rX "$SRC"
"$RELCTL" init "$STORE" >/dev/null
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 1 >/dev/null

# the roles, by the store's owner (root here); recorded in the ledger
check_eq "unconfigured: the owner holds every role" "ci: the store's owner, and root" \
	"$("$RELCTL" config "$STORE" ci)"
"$RELCTL" config "$STORE" ci "$P-gci" >/dev/null
"$RELCTL" config "$STORE" approver "$P-gappr" >/dev/null
"$RELCTL" config "$STORE" manager "$P-gmgr" >/dev/null
check_eq "relctl config shows the groups" "approver: group $P-gappr (gid $(getent group "$P-gappr" | cut -d: -f3)), and root" \
	"$("$RELCTL" config "$STORE" approver)"
check_refused "a group that does not exist is refused" \
	"relctl: no such group 'no-such-group-here'" "$RELCTL" config "$STORE" ci no-such-group-here
keep() { cp "$T/out" "$T/said"; }	# what the last check printed
said() { grep -q "$1" "$T/said"; }
keep
check "and named" said "no such group 'no-such-group-here'"
check_eq "each change of the roles is a ledger commit" "config: role manager is held by group $P-gmgr" \
	"$(settle; git --git-dir="$STORE/ledger.git" log -1 --format=%s)"
check_eq "config.json is in the ledger" "$P-gci" \
	"$(git --git-dir="$STORE/ledger.git" show HEAD:config.json | jq -r '.roles.ci[0].group')"

mount_store -o allow_other
A=$MNT/artifacts/fuel/1
S=$MNT/stages

# the manager makes a stage that needs two approvals
check "the manager makes a stage" as "$P-mgr" mkdir "$S/daily"
check "the manager makes a scenario" as "$P-mgr" mkdir "$MNT/scenarios/os-odl"
check "the manager writes its criteria" as "$P-mgr" sh -c \
	"echo '{\"approvals\": 2, \"require\": [{\"testcase\": \"vping\"}]}' >'$S/daily/criteria.json'"

# the CI user writes results, not criteria, not approvals
check "the CI user writes a result" as "$P-ci" sh -c "echo PASS >'$A/results/vping.json'"
check_eq "the run names the CI user" "$P-ci" "$(jq -r .user "$A/runs/vping/000001.json")"
before="$(ledger_commits) $(find "$A/runs" -type f | wc -l) $(objects)"
errno_as "the CI user cannot write criteria" "$P-ci" EACCES write "$S/daily/criteria.json"
check_eq "ls -l says why: criteria.json is the manager group's" "-rw-rw-r-- $P-gmgr" "$(stat -c '%A %G' "$S/daily/criteria.json")"
errno_as "the CI user cannot approve" "$P-ci" EACCES write "$A/approvals/daily"
errno_as "the CI user cannot hold a stage" "$P-ci" EACCES write "$S/daily/hold"
errno_as "the CI user cannot make a stage" "$P-ci" EACCES mkdir "$S/weekly"
errno_as "nor a scenario" "$P-ci" EACCES mkdir "$MNT/scenarios/os-nosdn"
errno_as "nor a release" "$P-ci" EACCES mkdir "$MNT/releases/2027.1"
errno_as "nor project criteria" "$P-ci" EACCES write "$MNT/projects/fuel/criteria/daily.json"

# the approver approves, but cannot publish or write results
errno_as "the approver cannot publish" "$P-appr" EACCES mkdir "$MNT/incoming/apex"
check_eq "ls -l says why: results/ is the CI group's" "drwxrwxr-x $P-gci" "$(stat -c '%A %G' "$A/results")"
errno_as "the approver cannot write results" "$P-appr" EACCES write "$A/results/x.json"

# an outsider reads everything and changes nothing
check "the outsider lists the tree" as "$P-out" ls -lR "$MNT/artifacts" "$S"
check "the outsider reads a file" as "$P-out" cat "$A/files/f"
check "the outsider reads a run" as "$P-out" cat "$A/runs/vping/000001.json"
errno_as "the outsider cannot write results" "$P-out" EACCES write "$A/results/y.json"
check "the CI user writes a temporary dot-file" as "$P-ci" sh -c "echo PASS >'$A/results/.z.json'"
errno_as "the outsider cannot rename it into place" "$P-out" EACCES rename "$A/results/.z.json" "$A/results/z.json"
errno_as "nor remove it" "$P-out" EACCES unlink "$A/results/.z.json"
check "the CI user can" as "$P-ci" rm "$A/results/.z.json"
errno_as "the outsider cannot approve" "$P-out" EACCES write "$A/approvals/daily"
errno_as "the outsider cannot waive" "$P-out" EACCES write "$A/waivers/vping"
errno_as "the outsider cannot make a stage" "$P-out" EACCES mkdir "$S/x"
errno_as "the outsider cannot truncate criteria" "$P-out" EACCES trunc "$S/daily/criteria.json"
errno_as "the outsider cannot write to incoming" "$P-out" EACCES write "$MNT/incoming/f"
check_eq "nothing recorded by the refusals" "$before" \
	"$(ledger_commits) $(find "$A/runs" -type f | wc -l) $(objects)"
check_eq "nothing left in results/" "vping.json" "$(ls "$STORE/results/fuel/1")"

# two approvals by one person count once
check "the approver approves" as "$P-appr" sh -c "echo 'looks good' >'$A/approvals/daily'"
check "and approves again" as "$P-appr" sh -c "echo 'still good' >'$A/approvals/daily'"
check_eq "one person's approvals count once" "approval-missing" \
	"$(jq -r '.stages.daily.unmet | map(.type) | join(" ")' "$A/status.json")"
check "a second approver approves" as "$P-appr2" sh -c "echo 'agreed' >'$A/approvals/daily'"
check_eq "two people: promoted" "true" "$(jq -r .stages.daily.promoted "$A/status.json")"
check_eq "the approvals file lists both" "$P-appr $P-appr2" \
	"$(cut -f2 "$A/approvals/daily" | sort -u | tr '\n' ' ' | sed 's/ $//')"

# an approval is withdrawn by its author (rm), by a manager for anyone
# (relctl approve --withdraw --user), by nobody else
errno_as "the outsider cannot withdraw an approval" "$P-out" EACCES unlink "$A/approvals/daily"
check "the author withdraws hers with rm" as "$P-appr2" rm "$A/approvals/daily"
check_eq "only hers went" "$P-appr" "$(cut -f2 "$A/approvals/daily" | sort -u | xargs)"
check_eq "the promotion made stays until revoked" "true" "$(jq -r .stages.daily.promoted "$A/status.json")"
check_eq "recorded as hers" "$P-appr2 withdraw the approval of fuel/1 for daily by $P-appr2" \
	"$(settle; git --git-dir="$STORE/ledger.git" log --format='%an %s' | grep -m1 ' withdraw the approval')"

# waivers are the approvers', revokes the managers'
check "the approver waives a test case" as "$P-appr" sh -c "echo 'known flaky' >'$A/waivers/tempest'"
errno_as "the outsider cannot withdraw the waiver" "$P-out" EACCES unlink "$A/waivers/tempest"
errno_as "the CI user cannot revoke" "$P-ci" EACCES unlink "$S/daily/fuel/1"
errno_as "the approver cannot revoke" "$P-appr" EACCES unlink "$S/daily/fuel/1"
check "the manager revokes" as "$P-mgr" rm "$S/daily/fuel/1"
check_eq "revoked, and it says by whom" "$P-mgr" \
	"$(settle; git --git-dir="$STORE/ledger.git" show "HEAD:$(lpath promotions/daily/fuel/1.json)" | jq -r .revoked.revoked_by)"
check_eq "the waiver commit names the approver" "$P-appr waive tempest for fuel/1" \
	"$(git --git-dir="$STORE/ledger.git" log --format='%an %s' | grep -m1 ' waive tempest')"
check_eq "the revoke commit names the manager" "$P-mgr revoke fuel 1 daily" \
	"$(git --git-dir="$STORE/ledger.git" log --format='%an %s' | grep -m1 ' revoke fuel')"

# ls -l tells the truth about who may write where
check_eq "stages/ belongs to the manager group, group-writable" "drwxrwxr-x root $P-gmgr" \
	"$(stat -c '%A %U %G' "$S")"
check_eq "results/ belongs to the CI group" "drwxrwxr-x $P-gci" "$(stat -c '%A %G' "$A/results")"
check_eq "approvals/ belongs to the approver group" "drwxrwxr-x $P-gappr" "$(stat -c '%A %G' "$A/approvals")"
check_eq "criteria.json: the managers may write it" "-rw-rw-r-- $P-gmgr" "$(stat -c '%A %G' "$S/daily/criteria.json")"
check_eq "an artifact's directory: nobody writes" "dr-xr-xr-x" "$(stat -c '%A' "$A")"
check_eq "incoming/: the CI group" "drwxrwxr-x $P-gci" "$(stat -c '%A %G' "$MNT/incoming")"

# a uid with no name holds a role through a group; the trail says uid:N
check "a nameless uid in the CI group writes a result" setpriv --reuid=$NOUID --regid=$NOUID \
	--groups="$(getent group "$P-gci" | cut -d: -f3)" sh -c "echo FAIL >'$A/results/vping.json'"
check_eq "the run names uid:$NOUID" "uid:$NOUID" "$(jq -r .user "$A/runs/vping/000002.json")"

# the ledger names each of them
settle
authors=$(git --git-dir="$STORE/ledger.git" log --format=%an | sort -u | tr '\n' ' ')
for who in root "$P-mgr" "$P-ci" "$P-appr" "$P-appr2" "uid:$NOUID"; do
	check "the ledger names $who" grep -qw -- "$who" <<<"$authors"
done
check_eq "the approval commit is by the approver" "$P-appr2" \
	"$(git --git-dir="$STORE/ledger.git" log --format='%an %s' | grep -m1 '^[^ ]* approve fuel/1 for daily' | cut -d' ' -f1)"

# relctl enforces the same rules for the user who runs it (the store's
# files are opened to everyone here, so only the roles stand in the way)
unmount_store
chmod -R a+rwX "$STORE"
before=$(ledger_commits)
check_refused "relctl: the CI user cannot approve" \
	"relctl: permission denied: approving needs the 'approver' role, held by members of group relfst-gappr and root; relfst-ci (uid 1001) does not hold it" as "$P-ci" "$RELCTL" approve "$STORE" fuel 1 daily ok
keep
check "relctl says which role" said "approving needs the 'approver' role"
check_refused "relctl: the CI user cannot set criteria" \
	"relctl: permission denied: setting criteria needs the 'manager' role, held by members of group relfst-gmgr and root; relfst-ci (uid 1001) does not hold it" as "$P-ci" "$RELCTL" criteria "$STORE" daily /dev/null
keep
check "and names the role, who holds it and who asked" said "needs the 'manager' role, held by members of group $P-gmgr and root; $P-ci (uid $(id -u "$P-ci")) does not hold it"
check_refused "relctl: the approver cannot publish" \
	"relctl: permission denied: publishing an artifact needs the 'ci' role, held by members of group relfst-gci and root; relfst-appr (uid 1002) does not hold it" as "$P-appr" "$RELCTL" publish "$STORE" "$SRC" --project fuel --version 2
keep
check "relctl names the ci role" said "publishing an artifact needs the 'ci' role"
check_refused "relctl: the outsider cannot revoke" \
	"relctl: permission denied: revoking a promotion needs the 'manager' role, held by members of group relfst-gmgr and root; relfst-out (uid 1005) does not hold it" as "$P-out" "$RELCTL" revoke "$STORE" daily fuel 1
check_refused "relctl: only the owner changes the roles" \
	"relctl: permission denied: only the store's owner (root) and root change its configuration; relfst-mgr (uid 1004) is neither" as "$P-mgr" "$RELCTL" config "$STORE" ci "$P-gmgr"
keep
check "and says so" said "only the store's owner"
check_eq "nothing recorded by relctl's refusals" "$before" "$(ledger_commits)"
# a manager withdraws anyone's approval with relctl; an approver only her
# own (the mount back: what relctl changes shows there; the daemon makes
# STORE 0700 when it starts, opened again for the users' relctl)
mount_store -o allow_other
chmod a+rwx "$STORE"
check_exit "an approver cannot withdraw another's" 1 as "$P-appr2" "$RELCTL" approve --withdraw --user "$P-appr" "$STORE" fuel 1 daily
check_eq "and is told why" "relctl: permission denied: withdrawing another user's approval needs the 'manager' role, held by members of group $P-gmgr and root; $P-appr2 (uid $(id -u "$P-appr2")) does not hold it" \
	"$(head -1 "$T/out")"
check "a manager withdraws the other's" as "$P-mgr" "$RELCTL" approve --withdraw --user "$P-appr" "$STORE" fuel 1 daily
check_eq "recorded as the manager's" "$P-mgr withdraw the approval of fuel/1 for daily by $P-appr" \
	"$(settle; git --git-dir="$STORE/ledger.git" log --format='%an %s' | grep -m1 ' withdraw the approval')"
check_gone "none is left: approvals/daily goes with the last one" "$A/approvals/daily"
check "relctl: the CI user publishes" as "$P-ci" "$RELCTL" publish "$STORE" "$SRC" --project fuel --version 2
check_eq "published by the CI user" "$P-ci publish fuel 2" \
	"$(git --git-dir="$STORE/ledger.git" log --format='%an %s' | grep -m1 'publish fuel 2' | cut -d' ' -f1-4)"
# a change of the roles beside the mount shows at once, though the kernel
# keeps directories' attributes: ls -l, and the kernel's own checks
stat "$S" "$A/approvals" >/dev/null	# in the kernel's cache
errno_as "the approver is no manager yet" "$P-appr" EACCES mkdir "$S/byappr"
"$RELCTL" config "$STORE" manager "$P-gappr" >/dev/null
check_eq "stages/ shows the new manager group at once" "drwxrwxr-x $P-gappr" "$(stat -c '%A %G' "$S")"
check "and the kernel lets a member in at once" as "$P-appr" mkdir "$S/byappr"
"$RELCTL" config "$STORE" approver "$P-gmgr" >/dev/null
check_eq "approvals/ shows the new approver group at once" "drwxrwxr-x $P-gmgr" "$(stat -c '%A %G' "$A/approvals")"
# results/ too: a real directory the kernel knows by an inode of its own
stat "$A/results" >/dev/null	# in the kernel's cache
errno_as "the approver is no CI user yet" "$P-appr" EACCES write "$A/results/byappr.json"
"$RELCTL" config "$STORE" ci "$P-gappr" >/dev/null
check_eq "results/ shows the new CI group at once" "$P-gappr" "$(stat -c '%G' "$A/results")"
check "and the kernel lets a member write a result at once" as "$P-appr" sh -c "echo PASS >'$A/results/byappr.json'"
check "verify is clean" "$RELCTL" verify "$STORE"
finish
