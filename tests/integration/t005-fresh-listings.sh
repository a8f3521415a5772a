#!/bin/bash
# The kernel caches listings and attributes; every change must still show
# at once: publishes by relctl beside the mount (several within one second),
# and changes in incoming/ through the mount.
. "$(dirname "$0")/lib.sh"

SRC=$T/src
mkdir -p "$SRC"
echo x >"$SRC/f"
"$RELCTL" init "$STORE" >/dev/null
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 0 >/dev/null
mount_store
want="0"
for v in 1 2 3 4 5; do
	ls "$MNT/artifacts/fuel" >/dev/null	# the listing is now cached
	stat "$MNT/artifacts/fuel" >/dev/null	# and its attributes
	"$RELCTL" publish "$STORE" "$SRC" --project fuel --version "$v" >/dev/null
	want="$want $v"
	check_eq "listing shows version $v at once" "$want" "$(ls "$MNT/artifacts/fuel" | xargs)"
	# the kernel keeps the directory's attributes: relctl told the daemon
	check_eq "its link count at once" "$((v + 3))" "$(stat -c %h "$MNT/artifacts/fuel")"
done
check "the daemon listens for relctl" test -S "$STORE/daemon.sock"
ls "$MNT/artifacts" >/dev/null
"$RELCTL" publish "$STORE" "$SRC" --project apex --version 1 >/dev/null
check_eq "a new project shows at once" "apex fuel" "$(ls "$MNT/artifacts" | xargs)"
check_eq "its version is readable at once" x "$(cat "$MNT/artifacts/apex/1/files/f")"

I=$MNT/incoming
mkdir "$I/p"
check_eq "incoming lists a new directory" "p" "$(ls "$I" | xargs)"
for n in a b c; do
	echo "$n" >"$I/p/$n"
	check_eq "incoming lists file $n at once" "$n" "$(ls "$I/p" | tail -1)"
done
rm "$I/p/b"
check_eq "incoming drops a removed file at once" "a c" "$(ls "$I/p" | xargs)"
mv "$I/p/c" "$I/p/d"
check_eq "incoming shows a rename at once" "a d" "$(ls "$I/p" | xargs)"
mkdir "$I/p/1"; echo one >"$I/p/1/x"
ls "$MNT/artifacts" >/dev/null
check "seal a new project" mv "$I/p/1" "$MNT/artifacts/p/"
check_eq "artifacts lists the sealed project" "apex fuel p" "$(ls "$MNT/artifacts" | xargs)"
check_eq "incoming no longer lists the sealed version" "a d" "$(ls "$I/p" | xargs)"
check_eq "the sealed file reads back" one "$(cat "$MNT/artifacts/p/1/files/x")"
finish
