#!/bin/bash
# What ships with relctl: make install puts the programs, the manual pages,
# the bash completion and the systemd unit under a prefix; the pages read;
# the completion completes commands, options, projects and versions;
# systemd takes the unit, and its commands mount and unmount a store; an
# fstab line mounts a store (through mount.fuse3, as at boot).
. "$(dirname "$0")/lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
P=$T/prefix
# the programs the tests built: not made again (-o all)
check "make install into a prefix" make -s -C "$TOP" -o all BUILD="$BUILD" PREFIX="$P" install
check_eq "the programs, pages and completion, with their modes" \
	"755 bin/relctl 755 bin/relfs 644 lib/systemd/system/relfs@.service 644 share/bash-completion/completions/relctl 644 share/man/man1/relctl.1 644 share/man/man8/relfs.8" \
	"$(cd "$P" && find . -type f -printf '%m %P\n' | sort -k2 | xargs)"
check "the installed relctl runs" cmp "$P/bin/relctl" "$RELCTL"
check_eq "man relctl reads, and names import" "relctl import" \
	"$(MANPATH=$P/share/man MANWIDTH=200 man -P cat relctl 2>/dev/null | grep -o 'relctl import' | head -1)"
check "man 8 relfs reads, and names the fstab line" grep -q "fuse.relfs" \
	<(MANPATH=$P/share/man MANWIDTH=200 man -P cat 8 relfs 2>/dev/null)

# the completion, as bash calls it
"$RELCTL" init "$STORE" >/dev/null
mkdir -p "$T/src"; echo x >"$T/src/f"
for pv in fuel/9.0.1 fuel/9.0.2 apex/1.0; do
	"$RELCTL" publish "$STORE" "$T/src" --project "${pv%/*}" --version "${pv#*/}" >/dev/null
done
complete_words() {	# WORD...: what the completion offers for the last
	(PATH=$P/bin:$PATH
	 . "$P/share/bash-completion/completions/relctl"
	 COMP_WORDS=(relctl "$@"); COMP_CWORD=$#
	 _relctl
	 printf '%s\n' "${COMPREPLY[@]}" | sort | xargs)
}
check_eq "commands" "stage status" "$(complete_words st)"
check_eq "after --json too" "rebuild release restore result revoke" "$(complete_words --json re)"
check_eq "a command's options" "--progress --project" "$(complete_words publish "$STORE" "$T/src" --pro)"
check_eq "the store: a directory" "$STORE/" "$(cd / && complete_words status "${STORE%/*}/st" | sed 's|/*$|/|')"
check_eq "the store's projects" "apex fuel" "$(complete_words status "$STORE" '')"
check_eq "a project's versions" "9.0.1 9.0.2" "$(complete_words why "$STORE" fuel '')"
check_eq "after the stage, for revoke" "apex fuel" "$(complete_words revoke "$STORE" daily '')"
check_eq "release: its words before the store" "create" "$(complete_words release cr)"
touch "$T/src/smoke.tap"
check_eq "result: the artifact, then files" "9.0.1 9.0.2|$T/src/smoke.tap" \
	"$(complete_words result "$STORE" fuel '')|$(complete_words result "$STORE" fuel 9.0.1 "$T/src/sm")"
check_eq "nothing from a store that is not one" "" "$(complete_words status /nonexistent '')"

# the systemd unit: systemd reads it (its programs are there), and its
# commands, with the instance's file as systemd gives it, mount and unmount
U=$P/lib/systemd/system/relfs@.service
check "systemd-analyze verify takes the unit" systemd-analyze verify --man=no "$U"
check_eq "it starts the installed relfs" "$P/bin/relfs -f \${STORE} \${MOUNTPOINT} \$OPTIONS" \
	"$(sed -n 's/^ExecStart=//p' "$U")"
# (quoted: systemd and the shell read it alike)
printf 'STORE=%s\nMOUNTPOINT=%s\nOPTIONS="-o cache_timeout=5"\n' "$STORE" "$MNT" >"$T/unit.conf"
unit_cmd() {	# KEY: the unit's command KEY= with the instance's variables
	(set -a; . "$T/unit.conf"; eval "$(sed -n "s/^$1=//p" "$U")")
}
unit_cmd ExecStart &
UNIT=$!
check "ExecStart mounts the store" eventually 5 mountpoint -q "$MNT"
check_eq "the tree it shows" "apex fuel" "$(ls "$MNT/artifacts" | xargs)"
check "ExecStop unmounts it" unit_cmd ExecStop
check "and relfs -f ends, as systemd waits for it" wait "$UNIT"
check "nothing is mounted" sh -c "! mountpoint -q '$MNT'"

# /etc/fstab: an fstab line mounts the store through mount.fuse3 (mount -T
# reads this one; mount keeps its own PATH, so the program is named whole)
printf '%s#%s %s fuse defaults 0 0\n' "$P/bin/relfs" "$STORE" "$MNT" >"$T/fstab"
check "mount by the fstab line" mount -T "$T/fstab" "$MNT"
check_eq "it is a relfs mount" "fuse.relfs" "$(findmnt -n -o FSTYPE "$MNT")"
check_eq "and shows the store" "apex fuel" "$(ls "$MNT/artifacts" | xargs)"
check "umount ends it" umount "$MNT"
# ([r]: the pattern must not find the shell that looks for it)
check "and the daemon has gone" eventually 10 sh -c "! pgrep -f '$P/bin/[r]elfs $STORE' >/dev/null"
finish
