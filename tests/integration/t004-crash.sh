#!/bin/bash
# kill -9 in the middle of a publish leaves the whole artifact or none of it,
# never loses incoming/ content, and the ledger catches up after a restart.
. "$(dirname "$0")/lib.sh"

SRC=$T/src
mkdir -p "$SRC"
head -c 200000000 /dev/urandom >"$SRC/big"
echo small >"$SRC/small"
"$RELCTL" init "$STORE" >/dev/null

whole_or_none() {	# VERSION: the artifact is complete, or absent
	if "$RELCTL" list "$STORE" fuel 2>/dev/null | grep -q " $1 "; then
		cmp "$SRC/big" <("$RELCTL" show "$STORE" fuel "$1" >/dev/null &&
			cat "$(jq -r '.files[] | select(.path=="big") | .sha256' \
			<("$RELCTL" show "$STORE" fuel "$1") |
			sed "s|^\(..\)\(.*\)|$STORE/objects/\1/\2|")") && echo whole
	else
		echo none
	fi
}

# 1. relctl publish killed at several moments
for delay in 0.05 0.3 0.8; do
	"$RELCTL" publish "$STORE" "$SRC" --project fuel --version "k$delay" --quiet &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	r=$(whole_or_none "k$delay")
	check "relctl killed after ${delay}s: whole or none ($r)" test "$r" = whole -o "$r" = none
	check "verify clean after the kill at ${delay}s" "$RELCTL" verify "$STORE"
done

# 2. killed after the index commit, before the ledger commit: hold the
# ledger lock so the publish stops exactly there
exec 9>"$STORE/ledger.lock"
flock 9
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version locked --quiet &
pid=$!
for _ in $(seq 100); do
	"$RELCTL" list "$STORE" fuel 2>/dev/null | grep -q " locked " && break
	sleep 0.1
done &
wait $!
commits=$(git --git-dir="$STORE/ledger.git" rev-list --count HEAD)
kill -9 "$pid"; wait "$pid" 2>/dev/null
check_eq "the index has the artifact" whole "$(whole_or_none locked)"
check_fails "the ledger does not have it yet" \
	git --git-dir="$STORE/ledger.git" cat-file -e "HEAD:$(lpath artifacts/fuel/locked/manifest.json)"
flock -u 9
exec 9>&-
check "the next open writes the queued commit: verify clean" "$RELCTL" verify "$STORE"
check "the ledger has it now" \
	git --git-dir="$STORE/ledger.git" cat-file -e "HEAD:$(lpath artifacts/fuel/locked/manifest.json)"
check_eq "exactly one commit was added" $((commits + 1)) "$(ledger_commits)"
check "verify clean twice (no duplicate commit)" "$RELCTL" verify "$STORE"
check_eq "still one commit added" $((commits + 1)) "$(ledger_commits)"

# 3. the daemon killed during mv incoming/... artifacts/...
mount_store
mkdir -p "$MNT/incoming/fuel/m1"
cp "$SRC/big" "$SRC/small" "$MNT/incoming/fuel/m1/"
mv "$MNT/incoming/fuel/m1" "$MNT/artifacts/fuel/" 2>/dev/null &
mvpid=$!
sleep 0.4
pkill -9 -f "relfs $STORE"
wait "$mvpid" 2>/dev/null
fusermount3 -uz "$MNT" 2>/dev/null
r=$(whole_or_none m1)
if [ "$r" = none ]; then
	check "daemon killed mid-seal: the staged copy is out of reach, kept" \
		sh -c "cmp '$SRC/big' '$STORE'/tmp/seal.*/fuel/m1/big"
else
	check "daemon killed mid-seal: the artifact is whole" test "$r" = whole
fi
check "verify clean after the daemon's kill" "$RELCTL" verify "$STORE"
mount_store
check "remount after kill -9" mountpoint -q "$MNT"
if [ "$r" = none ]; then
	check "the next daemon puts it back in incoming/" cmp "$SRC/big" "$MNT/incoming/fuel/m1/big"
	check_eq "and leaves nothing in STORE/tmp" "" "$(ls "$STORE/tmp" | grep seal)"
	check "the staged version can be sealed after the restart" \
		mv "$MNT/incoming/fuel/m1" "$MNT/artifacts/fuel/"
fi
check "the artifact reads back whole" cmp "$SRC/big" "$MNT/artifacts/fuel/m1/files/big"

# 4. what close() confirmed in incoming/ survives kill -9 of the daemon
mkdir -p "$MNT/incoming/fuel/m2"
cp "$SRC/small" "$MNT/incoming/fuel/m2/confirmed"
pkill -9 -f "relfs $STORE"
sleep 0.2
fusermount3 -uz "$MNT" 2>/dev/null
mount_store
check "a file closed before the kill is still in incoming/" \
	cmp "$SRC/small" "$MNT/incoming/fuel/m2/confirmed"
# a git lock file left by a ledger writer that was killed is stale
touch "$STORE/ledger.git/refs/heads/main.lock"
n=$(ledger_commits)
check "publish with a stale git lock" "$RELCTL" publish "$STORE" "$SRC" --project fuel --version after-lock --quiet
check_eq "the ledger took the commit" $((n + 1)) "$(ledger_commits)"
# a daemon killed while it merged packs left libgit2's temporary pack
unmount_store
head -c 4096 /dev/urandom >"$STORE/ledger.git/objects/pack/pack_git2_5ecdbdc4e53a0d5b"
packs=$(ls "$STORE/ledger.git/objects/pack" | grep -c '\.pack$')
mount_store
check_gone "the next daemon removes it" "$STORE/ledger.git/objects/pack/pack_git2_5ecdbdc4e53a0d5b"
check_eq "and only it" "$packs" "$(ls "$STORE/ledger.git/objects/pack" | grep -c '\.pack$')"
check_eq "and says so" "ledger: removed 1 temporary pack file a killed merge left" \
	"$(grep -o 'ledger: removed .*' "$STORE/relfs.log")"
check "verify clean at the end" "$RELCTL" verify "$STORE"
check "git fsck clean at the end" git --git-dir="$STORE/ledger.git" fsck --strict
finish
