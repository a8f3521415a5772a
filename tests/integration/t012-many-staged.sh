#!/bin/bash
# 100,000 staged files (MANY_FILES; the sanitizer pass uses fewer) served by
# a daemon that cannot raise its descriptor limit: started by the store's
# owner, an unprivileged user, under a hard limit of 1024 descriptors.  It
# used to hold one descriptor per known inode and answer EMFILE after about
# 20,000 files; now at most half its limit stay open, and a node whose
# descriptor was closed is opened again by name (checked to be the same
# inode) for stat, chmod, rename, link, unlink, reads and the seal.
. "$(dirname "$0")/lib.sh"

N=${MANY_FILES:-100000}
DIRS=100
PER=$((N / DIRS))
U=relfsm-own
ids_reset relfsm
ids_user "$U"
# a user mounts through /dev/fuse (0666 on Debian; some machines keep it
# root's): opened to users for this test, put back after
FUSE_MODE=$(stat -c %a /dev/fuse)
chmod 666 /dev/fuse
trap 'unmount_store; ids_reset relfsm; chmod "$FUSE_MODE" /dev/fuse' EXIT

share_bins "$RELFS" "$RELCTL"
RELFS=$T/bin/relfs
RELCTL=$T/bin/relctl
own() { as "$U" "$@"; }
# without allow_other the mount is its owner's alone (root included)
unmount_store() {
	own mountpoint -q "$MNT" || return 0
	own fusermount3 -u "$MNT" || own fusermount3 -uz "$MNT"
	for _ in $(seq 50); do
		pgrep -f "relfs $STORE" >/dev/null || break
		sleep 0.1
	done
}
mkdir "$STORE" && chown "$U:" "$STORE" "$MNT"
own "$RELCTL" init "$STORE" >/dev/null

# the tree, made natively, and its digests
SRC=$T/src
mkdir "$SRC"
for d in $(seq 1 $DIRS); do
	mkdir "$SRC/d$d"
	for i in $(seq 1 $PER); do echo "file $d.$i" >"$SRC/d$d/f$i"; done
done
chmod 600 "$SRC/d1/f1"
tar -cf "$T/src.tar" -C "$SRC" .
(cd "$SRC" && find . -type f -printf '%P\n' | sort | xargs sha256sum) \
	| awk '{print $2, $1}' >"$T/want"
chmod 644 "$T/src.tar" "$T/want"

own prlimit --nofile=1024:1024 "$RELFS" "$STORE" "$MNT"
for _ in $(seq 100); do own mountpoint -q "$MNT" && break; sleep 0.05; done
if ! own mountpoint -q "$MNT"; then
	not_ok "the store's owner mounts the store"
	finish
	exit 1
fi
pid=$(pgrep -f "relfs $STORE" | head -1)
check_eq "the daemon runs as the store's owner, not root" "$(id -u "$U")" \
	"$(ps -o euid= -p "$pid" | tr -d ' ')"
check_eq "its limit is 1024 descriptors" "1024" \
	"$(awk '/Max open files/ {print $4}' /proc/"$pid"/limits)"
fds() { find /proc/"$pid"/fd -mindepth 1 | wc -l; }

I=$MNT/incoming/big/1
own mkdir -p "$I"
check "$N files staged with tar, no error" own tar -xf "$T/src.tar" -C "$I"
check "at most 1024 descriptors open ($(fds))" test "$(fds)" -lt 1024
check_eq "every file is there" "$N" "$(own find "$I" -type f | wc -l)"
check_eq "every file has its size" "$N" \
	"$(own find "$I" -type f -printf '%s\n' | awk '$1 > 0' | wc -l)"
check_eq "the first files read back (their descriptors were closed)" \
	"file 1.1 file 1.2 file 2.1" "$(own cat "$I/d1/f1" "$I/d1/f2" "$I/d2/f1" | xargs)"
check_eq "the mode kept on a file opened again" "-rw-------" "$(own stat -c %A "$I/d1/f1")"
own chmod 640 "$I/d1/f2"
check_eq "chmod of a file opened again" "-rw-r-----" "$(own stat -c %A "$I/d1/f2")"
own mv "$I/d2" "$I/d2-moved"
check_eq "a renamed directory's files are found under its new name" "file 2.$PER" \
	"$(own cat "$I/d2-moved/f$PER")"
own ln "$I/d3/f1" "$I/d3/hard"
check_eq "a hard link to a file opened again" "file 3.1 2" \
	"$(own cat "$I/d3/hard") $(own stat -c %h "$I/d3/f1")"
own rm "$I/d3/hard" "$I/d4/f1"
check_eq "unlinked" "1 $((PER - 1))" "$(own stat -c %h "$I/d3/f1") $(own ls "$I/d4" | wc -l)"
check_eq "a file removed while open is still read" "file 5.1" \
	"$(own sh -c 'exec 3<"$1" && rm "$1" && cat <&3' sh "$I/d5/f1")"
check "still at most 1024 descriptors ($(fds))" test "$(fds)" -lt 1024

# the seal reads every byte, from descriptors of its own
check "the seal of $N files" own mv "$I" "$MNT/artifacts/big/"
check "and still at most 1024 descriptors ($(fds))" test "$(fds)" -lt 1024
# what was changed above, as the manifest must show it
sed -i -e 's|^d2/|d2-moved/|' -e '/^d4\/f1 /d' -e '/^d5\/f1 /d' "$T/want"
sort -o "$T/want" "$T/want"
own cat "$MNT/artifacts/big/1/manifest.json" |
	jq -r '.files[] | select(.type == "file") | "\(.path) \(.sha256)"' | sort >"$T/got"
check_eq "the manifest holds every file with its digest" "$((N - 2))" "$(wc -l <"$T/got")"
check "byte for byte what was staged" cmp "$T/want" "$T/got"
check_eq "read back through artifacts/" "file 7.7" "$(own cat "$MNT/artifacts/big/1/files/d7/f7")"
check_eq "nothing is left in incoming/" "" "$(ls "$STORE/incoming/big")"
finish
