#!/bin/bash
# Every refusal: the exact errno, a message a person can find, and nothing
# recorded in the index, the ledger or the content store.
. "$(dirname "$0")/lib.sh"

SRC=$T/src
mkdir -p "$SRC/d"
echo one >"$SRC/d/f"
"$RELCTL" init "$STORE" >/dev/null
allow_pins
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 1 >/dev/null
mount_store || { not_ok mount; finish; exit 1; }
A=$MNT/artifacts/fuel/1

state() { echo "$(ledger_commits) $(objects) $("$RELCTL" list "$STORE" | wc -l)"; }
BEFORE=$(state)

# immutable artifacts
check_errno "write to an artifact file" EROFS write "$A/files/d/f"
check_errno "append to an artifact file" EROFS append "$A/files/d/f"
check_errno "truncate an artifact file" EROFS trunc "$A/files/d/f"
check_errno "create a file in an artifact" EROFS write "$A/files/new"
check_errno "mkdir in an artifact" EROFS mkdir "$A/files/newdir"
check_errno "unlink an artifact file" EROFS unlink "$A/files/d/f"
check_errno "rmdir in an artifact" EROFS rmdir "$A/files/d"
check_errno "chmod an artifact file" EROFS chmod "$A/manifest.json"
check_errno "rename inside artifacts" EROFS rename "$A" "$MNT/artifacts/fuel/2"
check_errno "symlink in an artifact" EROFS symlink x "$A/files/l"
check_errno "write the manifest" EROFS write "$A/manifest.json"
check_errno "mkdir at the top" EROFS mkdir "$MNT/newtop"
check_errno "write README" EROFS write "$MNT/README"
check_errno "mkdir a project under artifacts" EROFS mkdir "$MNT/artifacts/newp"
check_eq "refusal logged with a reason" 1 \
	"$(grep -c 'refused open for writing.*artifacts are immutable' "$STORE/relfs.log" | cut -c1 | sed 's/[1-9]/1/')"

# a version that exists: EEXIST, both ways
check_refused "relctl publish of an existing version" \
	"relctl: artifact fuel 1 already exists: an artifact never changes; publish a new version" \
	"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 1
check_eq "relctl says why" "relctl: artifact fuel 1 already exists: an artifact never changes; publish a new version" \
	"$("$RELCTL" publish "$STORE" "$SRC" --project fuel --version 1 2>&1)"
mkdir -p "$MNT/incoming/fuel/1"
echo changed >"$MNT/incoming/fuel/1/f"
check_errno "mv of an existing version" EEXIST rename "$MNT/incoming/fuel/1" "$MNT/artifacts/fuel/1"
check "the staging copy is kept after a refusal" test -f "$MNT/incoming/fuel/1/f"
check_eq "the artifact is unchanged" one "$(cat "$A/files/d/f")"
rm -rf "$MNT/incoming/fuel/1"

# bad names
check_refused "project '..' refused" \
	"relctl: invalid project name '..'" "$RELCTL" publish "$STORE" "$SRC" --project .. --version 1
check_refused "version with a slash refused" \
	"relctl: invalid version name 'a/b': contains '/'" "$RELCTL" publish "$STORE" "$SRC" --project p --version a/b
check_refused "control character refused" \
	"relctl: invalid project name: contains a control character" "$RELCTL" publish "$STORE" "$SRC" --project "$(printf 'a\tb')" --version 1
long=$(printf 'v%.0s' $(seq 256))
check_eq "256-byte version: ENAMETOOLONG message" \
	"relctl: invalid version name: longer than 255 bytes" \
	"$("$RELCTL" publish "$STORE" "$SRC" --project p --version "$long" 2>&1)"
check_eq "non-UTF-8 name refused" "relctl: invalid project name: not valid UTF-8" \
	"$("$RELCTL" publish "$STORE" "$SRC" --project "$(printf 'a\377')" --version 1 2>&1)"
check_errno "control character in an incoming name" EINVAL mkdir "$MNT/incoming/$(printf 'x\001y')"
check_errno "moving into another project" EINVAL rename "$(mkdir -p "$MNT/incoming/apex/1" && echo "$MNT/incoming/apex/1")" "$MNT/artifacts/fuel/9"
check_errno "moving a project directory" EINVAL rename "$MNT/incoming/apex" "$MNT/artifacts/apex"
rm -rf "$MNT/incoming/apex"

# bad content
BAD=$T/bad
mkdir -p "$BAD"
echo x >"$BAD/f"
mkfifo "$BAD/fifo"
check_eq "a FIFO is refused" "relctl: 'fifo' is a device, FIFO or socket: only files, directories and symbolic links can be published" \
	"$("$RELCTL" publish "$STORE" "$BAD" --project p --version 1 2>&1)"
rm "$BAD/fifo"
ln -s ../../etc/passwd "$BAD/escape"
check_eq "a link out of the artifact is refused" "relctl: symbolic link 'escape' points outside the artifact ('../../etc/passwd')" \
	"$("$RELCTL" publish "$STORE" "$BAD" --project p --version 1 2>&1)"
rm "$BAD/escape"
ln -s /etc/passwd "$BAD/abs"
check_refused "an absolute link is refused" \
	"relctl: symbolic link 'abs' points outside the artifact ('/etc/passwd')" "$RELCTL" publish "$STORE" "$BAD" --project p --version 1
rm "$BAD/abs"
printf 'only\ttwo\n' >"$BAD/pins"
check_eq "a bad pins line is refused" "relctl: $BAD/pins: pins line 1: expected name, version, sha256, url and an optional size, separated by tabs" \
	"$("$RELCTL" publish "$STORE" "$BAD" --project p --version 1 2>&1)"
printf 'img\t1\tnothex\thttp://x/y\n' >"$BAD/pins"
check_refused "a bad pin digest is refused" \
	"relctl: $T/bad/pins: pin 'img': sha256 must be 64 hex digits" "$RELCTL" publish "$STORE" "$BAD" --project p --version 1
printf 'img\t1\t%s\tftp://x/y\n' "$(printf x | sha256sum | cut -c1-64)" >"$BAD/pins"
check_refused "a pin url scheme other than http/https/file is refused" \
	"relctl: $T/bad/pins: pin 'img': url must start with http://, https:// or file://" "$RELCTL" publish "$STORE" "$BAD" --project p --version 1
rm "$BAD/pins"
echo '{"scenario": 1}' >"$BAD/artifact.json"
check_refused "artifact.json with a bad value is refused" \
	"relctl: artifact.json: 'scenario' must be a string" "$RELCTL" publish "$STORE" "$BAD" --project p --version 1
echo '{"colour": "red"}' >"$BAD/artifact.json"
check_eq "artifact.json with an unknown key is refused" \
	"relctl: artifact.json: unknown key 'colour' (known: scenario, installer, description, pins)" \
	"$("$RELCTL" publish "$STORE" "$BAD" --project p --version 1 2>&1)"
echo '{not json' >"$BAD/artifact.json"
check_refused "artifact.json that is not JSON is refused" \
	"relctl: artifact.json: not a JSON object (line 1: string or '}' expected near 'not')" "$RELCTL" publish "$STORE" "$BAD" --project p --version 1
# the same bad input through the mount: EINVAL at mv, staging kept
mkdir -p "$MNT/incoming/p/1"
echo '{"colour": "red"}' >"$MNT/incoming/p/1/artifact.json"
check_errno "mount: bad artifact.json refused at mv" EINVAL rename "$MNT/incoming/p/1" "$MNT/artifacts/p"
check_log "mount: the message is in relfs.log" "unknown key 'colour'"
check "mount: staging kept" test -f "$MNT/incoming/p/1/artifact.json"

check_eq "nothing recorded by any refusal (ledger, objects, index)" "$BEFORE" "$(state)"
check_gone "no project appeared" "$MNT/artifacts/p"
check "verify is clean" "$RELCTL" verify "$STORE"
finish
