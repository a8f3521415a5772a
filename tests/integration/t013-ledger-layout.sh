#!/bin/bash
# A store written before the ledger fanned its directories out (layout 1,
# tests/fixtures/store-format1.tar.gz: artifacts, runs, stages, a
# promotion, an approval, a waiver, a scenario) still opens and shows the
# same tree; the next write to its ledger moves it to layout 2 in one
# commit; rebuild from either layout gives the same tree. New stores are
# written in layout 2, and relctl ledger shows the lag.
. "$(dirname "$0")/lib.sh"

FIXTURE=$(cd "$(dirname "$0")/.." && pwd)/fixtures/store-format1.tar.gz
G() { git --git-dir="$STORE/ledger.git" "$@"; }
# every path, type, mode, size and link target of the mount, then each
# file's bytes (incoming/ aside)
snapshot() {
	mount_store || return 1
	(cd "$MNT" && find . -path ./incoming -prune -o -printf '%p %y %m %s %l\n' | sort &&
		find . -path ./incoming -prune -o -type f -exec sha256sum {} + | sort)
	unmount_store
}
fresh() { rm -rf "$STORE"; tar -xzf "$FIXTURE" -C "$T"; }
pending() { "$RELCTL" --json ledger "$STORE" | jq .pending; }
# the ledger's lock this shell holds (fd 9) given up; the daemon's queue
# then empties by itself (10 s at most)
unlock_and_wait() {
	flock -u 9
	exec 9>&-
	for _ in $(seq 100); do
		[ "$(pending)" = 0 ] && break
		sleep 0.1
	done
}

fresh
check_eq "the old store is in layout 1" 1 "$(G show HEAD:store.json | jq .format)"
commits=$(G rev-list --count HEAD)
# the first open by this version moves it: one commit, the same files
check_eq "verify reads it" "verify: ok" "$("$RELCTL" verify "$STORE" | tail -1)"
check_eq "one commit moved it" "$((commits + 1))" "$(G rev-list --count HEAD)"
check_eq "by the layout's own message" "ledger: layout 2, the same files with their directories fanned out" \
	"$(G log -1 --format=%s)"
check_eq "store.json says layout 2" 2 "$(G show HEAD:store.json | jq .format)"
check_eq "relctl ledger says so" 2 "$("$RELCTL" --json ledger "$STORE" | jq .layout)"
check_eq "the same files, each at its new path" \
	"$(G ls-tree -r HEAD~1 | grep -v store.json | awk '{print $3}' | sort | xargs)" \
	"$(G ls-tree -r HEAD | grep -v store.json | awk '{print $3}' | sort | xargs)"
h() { printf %s "$1" | sha256sum | cut -c1-2; }
check_eq "a run's path has its buckets" "runs/fuel/$(h 9.0.1)/9.0.1/$(h vping_ssh)/vping_ssh/00/00/000002.json" \
	"$(lpath runs/fuel/9.0.1/vping_ssh/000002.json)"
check "and is there" G cat-file -e "HEAD:$(lpath runs/fuel/9.0.1/vping_ssh/000002.json)"
check_eq "the relfs log says so" 1 "$(grep -c 'ledger: moved to layout 2' "$STORE/relfs.log")"
check "git fsck is clean" G fsck --strict
# what the version before this change showed of the fixture, by the same
# snapshot (tests/fixtures/store-format1.snap)
# (statuses are computed when read, and this version adds to them: the
# pipeline's "order"; everything else is compared byte for byte)
snapshot >"$T/moved.snap"
unstatus() { grep -v '/status\(\.json\)\?\( \|$\)' "$1"; }
check "the mount shows the tree the old version showed, byte for byte" \
	cmp <(unstatus "${FIXTURE%.tar.gz}.snap") <(unstatus "$T/moved.snap")
check "with its runs" grep -q '^./artifacts/fuel/9.0.1/runs/vping_ssh/000002.json f 444' "$T/moved.snap"
check_eq "verify is clean" "verify: ok" "$("$RELCTL" verify "$STORE" | tail -1)"
"$RELCTL" ledger --sync "$STORE" >/dev/null
check_eq "it moves once" "$((commits + 1))" "$(G rev-list --count HEAD)"

# rebuild from the new layout and from the old gives the same tree
"$RELCTL" rebuild "$STORE" >/dev/null
snapshot >"$T/rebuilt2.snap"
# the past before the move, read in layout 1, is the tree a rebuild gives
# (the old version did not link a scenario made after its promotions)
mount_store
(cd "$MNT/at/$(G rev-parse HEAD~1)" && find . -path ./incoming -prune -o -printf '%p %y %m %s %l\n' | sort &&
	find . -path ./incoming -prune -o -type f -exec sha256sum {} + | sort) >"$T/past.snap"
unmount_store
# (results/, CI's inbox, is an empty directory in the past: its size aside)
unresults() { unstatus "$1" | grep -v '/results d '; }
check "at/<the commit before the move>/ (layout 1) is the same tree" diff \
	<(unresults "$T/rebuilt2.snap") <(unresults "$T/past.snap")
fresh
"$RELCTL" rebuild "$STORE" >/dev/null
check_eq "rebuild of the old layout leaves it where it was" 1 "$(G show HEAD:store.json | jq .format)"
snapshot >"$T/rebuilt1.snap"
check "rebuild gives the same tree from either layout" cmp "$T/rebuilt1.snap" "$T/rebuilt2.snap"

# a new store is written in layout 2 from its first commit
rm -rf "$STORE"
"$RELCTL" init "$STORE" >/dev/null
mkdir -p "$T/src"; echo x >"$T/src/f"
"$RELCTL" publish "$STORE" "$T/src" --project apex --version 1.0 >/dev/null
check_eq "a new store is in layout 2" 2 "$(G show HEAD:store.json | jq .format)"
check "its manifest is in its bucket" G cat-file -e "HEAD:artifacts/apex/$(h 1.0)/1.0/manifest.json"
check_eq "relctl ledger: nothing queued, no lag" "ledger: 2 commits, 0 queued
lag: none (every change is in the ledger)" "$("$RELCTL" ledger "$STORE")"
check_eq "relctl --json ledger: the lag for scripts" '0 null 0 2 2' \
	"$("$RELCTL" --json ledger "$STORE" | jq -r '"\(.pending) \(.oldest) \(.lag_seconds) \(.written_seq) \(.layout)"')"
# verify --since checks what changed after a commit, and only that
before=$(G rev-parse HEAD)
printf '%s\n' '{"artifact": "apex/1.0", "case_name": "vping_ssh", "criteria": "PASS", "pod_name": "pod1", "installer": "apex", "scenario": "os-odl-ha"}' >"$T/one.jsonl"
"$RELCTL" import "$STORE" "$T/one.jsonl" --quiet >/dev/null
check_eq "verify --since: the one commit after it" "verify: ok (1 commit since $before)" \
	"$("$RELCTL" verify --since "$before" "$STORE")"
check_eq "verify --since HEAD: nothing to check" "verify: ok (0 commits since HEAD)" \
	"$("$RELCTL" verify --since HEAD "$STORE")"
check_refused "verify --since what is no commit" \
	"relctl: ledger: 'nosuch' names no commit of the ledger" "$RELCTL" verify --since nosuch "$STORE"
# a run planted in the ledger behind relfs's back is found, and named
lp=$(lpath runs/apex/1.0/vping_ssh/000099.json)
seq=$(G log -1 --format=%B | sed -n 's/^Relfs-Seq: //p')
(export GIT_DIR=$STORE/ledger.git GIT_INDEX_FILE=$T/git-index \
	GIT_AUTHOR_NAME=x GIT_AUTHOR_EMAIL=x@x GIT_COMMITTER_NAME=x GIT_COMMITTER_EMAIL=x@x
 git read-tree HEAD
 git update-index --add --cacheinfo "100644,$(echo '{}' | git hash-object -w --stdin),$lp"
 git update-ref refs/heads/main "$(printf 'planted\n\nRelfs-Seq: %s\n' "$seq" |
	git commit-tree "$(git write-tree)" -p HEAD)")
check_exit "verify --since finds it" 1 "$RELCTL" verify --since HEAD~1 "$STORE"
check_eq "and names it" "problem: runs/apex/1.0/vping_ssh/000099.json: in the ledger but not in the index" \
	"$(head -1 "$T/out")"

# an import's file of runs planted, then one damaged: found, and named
plant() {	# LOGICAL-PATH TEXT MESSAGE: a commit that writes TEXT there
	local lp seq
	lp=$(lpath "$1")
	seq=$(G log -1 --format=%B | sed -n 's/^Relfs-Seq: //p')
	(export GIT_DIR=$STORE/ledger.git GIT_INDEX_FILE=$T/git-index \
		GIT_AUTHOR_NAME=x GIT_AUTHOR_EMAIL=x@x GIT_COMMITTER_NAME=x GIT_COMMITTER_EMAIL=x@x
	 git read-tree HEAD
	 git update-index --add --cacheinfo "100644,$(printf '%s' "$2" | git hash-object -w --stdin),$lp"
	 git update-ref refs/heads/main "$(printf '%s\n\nRelfs-Seq: %s\n' "$3" "$seq" |
		git commit-tree "$(git write-tree)" -p HEAD)")
}
rm -rf "$STORE"
"$RELCTL" init "$STORE" >/dev/null
"$RELCTL" publish "$STORE" "$T/src" --project apex --version 1.0 >/dev/null
for i in 1 2 3; do echo '{"artifact": "apex/1.0", "case_name": "tempest", "criteria": "PASS"}'; done >"$T/three.jsonl"
"$RELCTL" import "$STORE" "$T/three.jsonl" --quiet >/dev/null
rec='{"artifact": "apex/1.0", "case_name": "tempest", "criteria": "FAIL"}'
plant runs/apex/1.0/tempest/000101-000102.jsonl "$(printf '{"first":101,"last":102,"recorded":"2026-12-01T00:00:00Z","uid":0,"user":"x"}\n%s\n%s\n' "$rec" "$rec")" planted
check_exit "verify --since finds the planted import" 1 "$RELCTL" verify --since HEAD~1 "$STORE"
check_eq "and names its first run the index lacks" \
	"problem: runs/apex/1.0/tempest/000101-000102.jsonl: run 101 is in the ledger but not in the index" \
	"$(head -1 "$T/out")"
check_exit "verify of everything counts its runs" 1 "$RELCTL" verify "$STORE"
check_eq "as two runs more than the index has" "problem: runs: the index has 3, the ledger 5" "$(grep "problem: runs:" "$T/out")"
check_exit "rebuild takes them" 0 "$RELCTL" rebuild "$STORE"
check_eq "and shows them" "000001.json 000002.json 000003.json 000101.json 000102.json" \
	"$(mount_store && ls "$MNT/artifacts/apex/1.0/runs/tempest" | xargs; unmount_store)"
head=$(G rev-parse HEAD)
plant runs/apex/1.0/tempest/000001-000003.jsonl "$(printf '{"first":1,"last":3,"recorded":"2026-12-01T00:00:00Z","uid":0,"user":"x"}\n%s\n%s\n' "$rec" "$rec")" damaged
check_refused "rebuild refuses a file short of its runs" \
	"relctl: ledger: 'runs/apex/1.0/tempest/000001-000003.jsonl' holds runs up to 2, not 3 (the old index is kept)" \
	"$RELCTL" rebuild "$STORE"
plant runs/apex/1.0/tempest/000001-000003.jsonl "$(printf '{"first":1,"last":4,"recorded":"2026-12-01T00:00:00Z","uid":0,"user":"x"}\n%s\n%s\n%s\n' "$rec" "$rec" "$rec")" damaged
check_refused "or whose first line is not its runs" \
	"relctl: ledger: 'runs/apex/1.0/tempest/000001-000003.jsonl' does not begin with the runs it holds (the old index is kept)" \
	"$RELCTL" rebuild "$STORE"
G update-ref refs/heads/main "$head"
check_exit "the ledger as it was rebuilds again" 0 "$RELCTL" rebuild "$STORE"

# More than a batch (256) waiting at once: the daemon writes one batch and
# leaves the rest to gather for its next pass, which comes without another
# change.  The ledger lock held by this shell keeps the ledger waiting
# while 300 results go in; the daemon is killed, and the next one, which
# cannot take the lock at its start either, writes them once it can.
commits=$(G rev-list --count HEAD)
mount_store
exec 9>"$STORE/ledger.lock"
flock 9
for i in $(seq 300); do
	echo '{"case_name": "gather", "criteria": "PASS"}' >"$MNT/artifacts/apex/1.0/results/g$i.json"
done
check_eq "300 changes wait for the ledger" 300 "$(pending)"
kill -9 "$(pgrep -f "relfs $STORE $MNT")"
fusermount3 -uz "$MNT"
mount_store
sleep 0.5
check_eq "still queued while the lock is held" 300 "$(pending)"
unlock_and_wait
check_eq "all are written without another change" 0 "$(pending)"
check_eq "each run is in the ledger" 300 \
	"$(G ls-tree -r --name-only HEAD runs/ | grep -c '/gather/.*\.json$')"
check_eq "in the changes' order, each once" "$(seq 300 | xargs)" \
	"$(G log --reverse --format='%s%n%b' "HEAD~$(( $(G rev-list --count HEAD) - commits ))..HEAD" |
		sed -n 's/^[0-9]* run apex\/1.0 gather #\([0-9]*\): PASS$/\1/p; s/^run apex\/1.0 gather #\([0-9]*\): PASS$/\1/p' | xargs)"
unmount_store
check "git fsck is clean" G fsck --strict

# In the ledger but still in the queue (a crash after the git commit and
# before the dequeue, which a thread of its own does): the index as it was
# while 5 changes waited is put back after they were written.  The next
# drain writes none of them again and empties the queue.
mount_store
exec 9>"$STORE/ledger.lock"
flock 9
for i in $(seq 5); do
	echo '{"case_name": "again", "criteria": "PASS"}' >"$MNT/artifacts/apex/1.0/results/a$i.json"
done
check_eq "5 changes wait" 5 "$(pending)"
cp -a "$STORE/index" "$T/index.queued"	# nothing writes it meanwhile
unlock_and_wait
check_eq "they are written and leave the queue" 0 "$(pending)"
unmount_store
commits=$(G rev-list --count HEAD)
rm -rf "$STORE/index"
cp -a "$T/index.queued" "$STORE/index"
# (read by LMDB's own tool: relctl's open would drain them first)
check_eq "the index holds them queued again" 5 \
	"$(mdb_stat -s queue "$STORE/index" | sed -n 's/^ *Entries: //p')"
check_exit "the next drain" 0 "$RELCTL" ledger --sync "$STORE"
check_eq "writes none of them again" "$commits" "$(G rev-list --count HEAD)"
check_eq "and empties the queue" 0 "$(pending)"
check_eq "verify agrees" "verify: ok" "$("$RELCTL" verify "$STORE" | tail -1)"
finish
