#!/bin/bash
# Hostile and careless users, each attack as it was reproduced against the
# daemon, now failing with the right errno and leaving nothing behind: a CI
# user after root (setuid, chown), after other users' files (mode bits),
# after the daemon's rights (links and FIFOs as pins, artifact.json and
# results, symlink swaps during a seal and during its cleanup), writers of
# one result name colliding, writes after a seal, and bad state (a damaged
# or missing index, rebuild while mounted, overflowing soak, duplicate
# keys).  The store belongs to a user of its own; the daemon, started as
# root, runs as that user once mounted.
. "$(dirname "$0")/lib.sh"

P=relfsh		# prefix of the users and groups this test makes
ids_reset "$P"
groupadd "$P-gci"
ids_user "$P-own"
ids_user "$P-ci" -G "$P-gci"
ids_user "$P-ci2" -G "$P-gci"
ids_user "$P-out"
trap 'unmount_store; ids_reset "$P"' EXIT

share_bins "$RELCTL" "$PROBE" "$BUILD/tests/race"
RELCTL=$T/bin/relctl
PROBE=$T/bin/probe
RACE=$T/bin/race
# a secret of root's, that no user may read
SECRET=$T/secret
mkdir -m 700 "$SECRET"
echo "TOPSECRET-$$" >"$SECRET/key"
chmod 600 "$SECRET/key"
for i in $(seq 200); do echo "keep $i" >"$SECRET/f$i"; done

# the store belongs to its own user; relctl runs as that user
as_own() { as "$P-own" "$@"; }
mkdir "$STORE" && chown "$P-own:" "$STORE"
as_own "$RELCTL" init "$STORE" >/dev/null
check_eq "relctl init: the store is its owner's alone" "drwx------ $P-own" "$(stat -c '%A %U' "$STORE")"
as_own "$RELCTL" config "$STORE" ci "$P-gci" >/dev/null

# -- least privilege
mount_store -o allow_other
pid=$(pgrep -f "relfs $STORE" | head -1)
check_eq "started as root, the daemon runs as the store's owner" "$(id -u "$P-own") $(id -u "$P-own")" \
	"$(ps -o ruid=,euid= -p "$pid" | awk '{print $1, $2}')"
check_eq "and with no supplementary group" "0" "$(awk '/^Groups:/ {print NF - 1}' /proc/"$pid"/status)"
check_eq "STORE/incoming is its owner's alone" "drwx------" "$(stat -c '%A' "$STORE/incoming")"

I=$MNT/incoming
# -- a CI user after root: setuid bits and chown
as "$P-ci" mkdir -p "$I/evil/1"
as "$P-ci" cp /bin/id "$I/evil/1/x"
errno_as "chown to root is refused" "$P-ci" EPERM chown "$I/evil/1/x"
errno_as "chmod 4755 is taken" "$P-ci" OK setuid "$I/evil/1/x"
check_eq "but the setuid bit is never kept" "-rwxr-xr-x $P-ci" "$(stat -c '%A %U' "$I/evil/1/x")"
check_eq "the backing file is the store owner's, 0600" "-rw------- $P-own" \
	"$(stat -c '%A %U' "$STORE/incoming/evil/1/x")"
errno_as "the backing file cannot be run through the store's path" "$P-ci" EACCES read "$STORE/incoming/evil/1/x"
check_eq "ls -l: files belong to whoever wrote them" "drwxr-xr-x $P-ci" "$(stat -c '%A %U' "$I/evil/1")"

# -- POSIX permissions between users in incoming/
as "$P-ci" sh -c "umask 077; mkdir '$I/evil/1/private'; echo mine >'$I/evil/1/private/f'"
check_eq "mode bits as asked (umask 077)" "drwx------ -rw-------" \
	"$(stat -c '%A' "$I/evil/1/private") $(stat -c '%A' "$I/evil/1/private/f")"
errno_as "another CI user cannot read a 0600 file in a 0700 directory" "$P-ci2" EACCES read "$I/evil/1/private/f"
errno_as "nor overwrite it" "$P-ci2" EACCES write "$I/evil/1/private/f"
errno_as "nor delete it" "$P-ci2" EACCES unlink "$I/evil/1/private/f"
as "$P-ci" chmod 755 "$I/evil/1/private"
as "$P-ci" chmod 644 "$I/evil/1/private/f"
errno_as "once opened up, the other reads it" "$P-ci2" OK read "$I/evil/1/private/f"
errno_as "but still cannot write it" "$P-ci2" EACCES write "$I/evil/1/private/f"
errno_as "O_EXCL on an existing name" "$P-ci" EEXIST exclusive "$I/evil/1/private/f"
as "$P-ci" sh -c "echo linked >'$I/evil/1/a'"
errno_as "hard links work in incoming/" "$P-ci" OK link "$I/evil/1/a" "$I/evil/1/b"
check_eq "the same inode, two links" "2 2" "$(stat -c %h "$I/evil/1/a") $(stat -c %h "$I/evil/1/b")"
errno_as "mkfifo is refused" "$P-ci" EPERM mkfifo "$I/evil/1/fifo"
check "O_DIRECT writes work" as "$P-ci" dd if=/dev/zero of="$I/evil/1/direct" bs=4096 count=4 oflag=direct status=none
check_eq "and wrote every byte" 16384 "$(stat -c %s "$I/evil/1/direct")"
check "truncate and utimensat" as "$P-ci" sh -c "truncate -s 3 '$I/evil/1/direct' && touch -d 2020-01-02T03:04:05Z '$I/evil/1/direct'"
check_eq "as on ext4" "3 2020-01-02" "$(stat -c %s "$I/evil/1/direct") $(date -u -d @"$(stat -c %Y "$I/evil/1/direct")" +%F)"
errno_as "rename over an existing name" "$P-ci" OK rename "$I/evil/1/b" "$I/evil/1/a"
rm -f "$I/evil/1/direct"
check "the CI user seals it" as "$P-ci" mv "$I/evil/1" "$MNT/artifacts/evil/"
check_eq "published without setuid, with the mode asked" "r-xr-xr-x" \
	"$(stat -c '%A' "$MNT/artifacts/evil/1/files/x" | cut -c2-)"
check_eq "the manifest records 0755" "\"0755\"" \
	"$(jq '.files[] | select(.path == "x") | .mode' "$MNT/artifacts/evil/1/manifest.json")"
check_eq "the hard link is a file of the same content" "linked" "$(cat "$MNT/artifacts/evil/1/files/a")"

# -- links and FIFOs where a user's files are read
before_art=$(ls "$MNT/artifacts" | wc -l)
as "$P-ci" mkdir -p "$I/evil/2"
as "$P-ci" ln -s "$SECRET/key" "$I/evil/2/pins"
errno_as "pins as a link to a secret: refused at the seal" "$P-ci" EINVAL rename "$I/evil/2" "$MNT/artifacts/evil/2"
check_exit "and the secret is nowhere in the log" 1 grep -q "TOPSECRET" "$STORE/relfs.log"
as "$P-ci" rm "$I/evil/2/pins"
as "$P-ci" ln -s "$SECRET/key" "$I/evil/2/artifact.json"
errno_as "artifact.json as a link: refused" "$P-ci" EINVAL rename "$I/evil/2" "$MNT/artifacts/evil/2"
as "$P-ci" rm "$I/evil/2/artifact.json"
mkfifo "$T/fifo"; chmod 666 "$T/fifo"
as "$P-ci" ln -s "$T/fifo" "$I/evil/2/pins"
check_eq "pins as a link to a FIFO: refused, at once" "EINVAL" \
	"$(timeout 10 setpriv --reuid="$P-ci" --regid="$(id -g "$P-ci")" --init-groups "$PROBE" rename "$I/evil/2" "$MNT/artifacts/evil/2" 2>&1)"
check "the mount still answers" timeout 5 ls "$MNT/stages" "$MNT/artifacts/evil"
as "$P-ci" rm "$I/evil/2/pins"
as "$P-ci" ln -s "$SECRET" "$I/evil/2/d"
errno_as "a link out of the artifact is refused" "$P-ci" EINVAL rename "$I/evil/2" "$MNT/artifacts/evil/2"
check_eq "nothing was published by the refusals" "$before_art" "$(ls "$MNT/artifacts" | wc -l)"
check_eq "the staged copy is back in incoming/" "d" "$(ls "$I/evil/2")"
as "$P-ci" rm "$I/evil/2/d"
as "$P-ci" sh -c "echo payload >'$I/evil/2/f'"

# -- pins reach only the sources a manager allowed (none by default)
printf 'key\t1\t%064d\tfile://%s\n' 0 "$SECRET/key" >"$T/pins.file"
printf 'up\t1\t%064d\thttp://127.0.0.1:22/x\n' 0 >"$T/pins.http"
chmod 644 "$T/pins.file" "$T/pins.http"
as "$P-ci" cp "$T/pins.file" "$I/evil/2/pins"
errno_as "a file:// pin of a root-only file is refused" "$P-ci" EINVAL rename "$I/evil/2" "$MNT/artifacts/evil/2"
check_log "the log says how a manager allows it" "not below a source a manager allowed (relctl config STORE file-pins"
as "$P-ci" cp "$T/pins.http" "$I/evil/2/pins"
errno_as "an http:// pin to a host nobody allowed is refused" "$P-ci" EINVAL rename "$I/evil/2" "$MNT/artifacts/evil/2"
check_refused "the CI user cannot allow pin sources (no manager role, no access to the files)" \
	"relctl: '$T/store' is not a relfs store (no 'format' file); create one with relctl init" as "$P-ci" "$RELCTL" config "$STORE" pin-sources http://127.0.0.1:22/
check_refused "a prefix that does not end its host is refused" \
	"relctl: 'http://127.0.0.1' is not an http:// or https:// URL prefix naming its host and ending in '/' after it (http://host:port/path/)" as_own "$RELCTL" config "$STORE" pin-sources http://127.0.0.1
check "the manager (here the owner) allows a prefix" as_own "$RELCTL" config "$STORE" pin-sources http://127.0.0.1:22/
check_eq "relctl config shows it" "pin-sources: http://127.0.0.1:22/" "$(as_own "$RELCTL" config "$STORE" pin-sources)"
check_eq "recorded in the ledger" '["http://127.0.0.1:22/"]' \
	"$(git --git-dir="$STORE/ledger.git" show HEAD:config.json | jq -c .pin_sources)"
check "then the http pin is taken" as "$P-ci" mv "$I/evil/2" "$MNT/artifacts/evil/"
check_refused "a file:// pin with .. in it never is" \
	"relctl: '/tmp/../root' is not an absolute directory (no . or .. in it)" as_own "$RELCTL" config "$STORE" file-pins /tmp/../root
mkdir -m 755 "$T/pub" && ln -s "$SECRET/key" "$T/pub/key"
as_own "$RELCTL" config "$STORE" file-pins "$T/pub" >/dev/null
as "$P-ci" mkdir -p "$I/evil/6"
printf 'key\t1\t%064d\tfile://%s\n' 0 "$T/pub/key" | as "$P-ci" sh -c "cat >'$I/evil/6/pins'"
errno_as "a file:// pin through a link out of the allowed directory is refused" "$P-ci" EINVAL \
	rename "$I/evil/6" "$MNT/artifacts/evil/6"
# a link that stays inside the allowed directory is followed, and the file
# is read by the descriptor the daemon opened below it (no name again)
mkdir -m 755 "$T/pub/v1" && echo "dep bytes" >"$T/pub/v1/dep" && chmod 644 "$T/pub/v1/dep"
ln -s v1 "$T/pub/latest"
as "$P-ci" mkdir -p "$I/evil/7"
printf 'dep\t1\t%s\tfile://%s\n' "$(sha256sum <"$T/pub/v1/dep" | cut -c1-64)" "$T/pub/latest/dep" |
	as "$P-ci" sh -c "cat >'$I/evil/7/pins'"
check "a file:// pin through a link inside the allowed directory is taken" \
	as "$P-ci" mv "$I/evil/7" "$MNT/artifacts/evil/"
check_eq "and reads its bytes" "dep bytes" "$(cat "$MNT/artifacts/evil/7/deps/dep")"

# -- symlink swaps during a seal and during its cleanup (renameat2 EXCHANGE)
as "$P-ci" mkdir -p "$I/evil/3/sub"
for i in $(seq 2000); do echo "staged $i"; done | as "$P-ci" split -l 1 - "$I/evil/3/sub/f"
as "$P-ci" dd if=/dev/urandom of="$I/evil/3/big" bs=1M count=64 status=none
as "$P-ci" ln -s "$SECRET" "$I/evil/3/lnk"
rm -f "$T/stop"
as "$P-ci" "$RACE" "$I/evil/3" sub lnk "$T/stop" >"$T/race.out" 2>&1 &
racer=$!
sleep 0.2
as "$P-ci" mv "$I/evil/3" "$MNT/artifacts/evil/" 2>"$T/seal.err"
touch "$T/stop"; wait "$racer"
check "the racer exchanged the names many times" test "$(cat "$T/race.out")" -gt 10
check_fails "no byte of the secret was published" sh -c "grep -rq TOPSECRET '$MNT/artifacts/evil/' 2>/dev/null"
check_eq "every file of root's is still there" 201 "$(ls "$SECRET" | wc -l)"
check "the secret is untouched" grep -q "TOPSECRET-$$" "$SECRET/key"
check_eq "no staged copy is left in STORE/tmp" "" "$(ls "$STORE/tmp" | grep seal)"

# -- one writer, one run
A=$MNT/artifacts/evil/1
echo '{"case_name": "vping", "criteria": "PASS"}' >"$T/r.json"
chmod 644 "$T/r.json"
# (the name exists: cp opens it O_TRUNC; a cp that finds no file creates
# it O_EXCL, and as on ext4 a racing creator's name makes that EEXIST)
as "$P-ci" cp "$T/r.json" "$A/results/same.json"
for i in $(seq 50); do as "$P-ci" cp "$T/r.json" "$A/results/same.json" 2>>"$T/cp.err" & done
fails=0
for j in $(jobs -p); do wait "$j" || fails=$((fails + 1)); done
check_eq "50 parallel cp of one name: 50 successful closes" 0 "$fails"
check_eq "and 50 runs (51 with the first)" 51 "$(ls "$A/runs/vping" | wc -l)"
sort "$T/cp.err" | uniq -c | sed 's/^/#   /' | head -5
echo PASS >"$T/word"; chmod 644 "$T/word"
for i in $(seq 200); do as "$P-ci" sh -c "cat '$T/word' >'$A/results/tempest.txt'" 2>>"$T/sh.err" & done
fails=0
for j in $(jobs -p); do wait "$j" || fails=$((fails + 1)); done
check_eq "200 parallel 'cat > same': 200 exits 0" 0 "$fails"
check_eq "and 200 runs" 200 "$(ls "$A/runs/tempest" | wc -l)"
sort "$T/sh.err" | uniq -c | sed 's/^/#   /' | head -5
check_eq "results/ shows one of them" "PASS" "$(cat "$A/results/tempest.txt")"
check "rsync -a of a result" as "$P-ci" rsync -a "$T/r.json" "$A/results/rs.json"
check "and again, onto the same name" as "$P-ci" rsync -a -I "$T/r.json" "$A/results/rs.json"
check_eq "two rsyncs, two more runs" 53 "$(ls "$A/runs/vping" | wc -l)"
as "$P-ci" sh -c "echo '{\"testcase\": \"vping\", \"outcome\": \"FAIL\"}' >'$A/results/.tmp'"
errno_as "mv onto an existing result name records a run" "$P-ci" OK rename "$A/results/.tmp" "$A/results/same.json"
check_eq "the new run" "54 FAIL" "$(ls "$A/runs/vping" | wc -l) $(jq -r .outcome "$A/runs/vping/000054.json")"
before=$(cat "$A/results/tempest.txt")
errno_as "a refused append (>> makes 'PASS x')" "$P-ci" EINVAL append "$A/results/tempest.txt"
check_eq "leaves the recorded file as it was" "$before" "$(cat "$A/results/tempest.txt")"
check_eq "and records nothing" 200 "$(ls "$A/runs/tempest" | wc -l)"
as "$P-ci" ln -s "$SECRET/key" "$I/lnk" 2>/dev/null || as "$P-ci" sh -c "mkdir -p '$I/p' && ln -s '$SECRET/key' '$I/p/lnk'"
errno_as "a symlink in results/ is refused" "$P-ci" EINVAL symlink "$SECRET/key" "$A/results/l.json"
lnk=$I/p/lnk; [ -L "$I/lnk" ] && lnk=$I/lnk
errno_as "a symlink renamed into results/ is refused" "$P-ci" EINVAL rename "$lnk" "$A/results/l.json"
check_exit "and the secret is in no run" 1 grep -rq TOPSECRET "$A/runs/"
check_eq "no spool is left behind" "" "$(ls -A "$STORE/tmp" | grep -v '^ctl\.' )"

# -- nothing silently lost: a write after the seal
as "$P-ci" mkdir -p "$I/evil/4"
as "$P-ci" sh -c "exec 3>'$I/evil/4/open'; echo before >&3; \
	'$PROBE' rename '$I/evil/4' '$MNT/artifacts/evil/4' >'$T/busy' 2>&1; echo after >&3; exec 3>&-"
check_eq "a seal while a file is open for writing is EBUSY" "EBUSY" "$(cat "$T/busy")"
check_log "the log says why" "open for writing: close it, then seal"
check "once closed, the seal goes" as "$P-ci" mv "$I/evil/4" "$MNT/artifacts/evil/"
check_eq "with every byte written" "before after" "$(tr '\n' ' ' <"$MNT/artifacts/evil/4/files/open" | sed 's/ $//')"

# -- the log is reopened on SIGHUP; the mount stays
mv "$STORE/relfs.log" "$STORE/relfs.log.1"
kill -HUP "$pid"
sleep 1.5
check "SIGHUP does not unmount" mountpoint -q "$MNT"
as "$P-ci" "$PROBE" unlink "$A/results/same.json" >/dev/null
check_log "the next refusal goes to a new relfs.log" "never removed"

# -- honest sizes: what stat says is what a read returns
for f in "$A/status" "$A/status.json" "$A/runs/vping/000001.json"; do
	check_eq "stat size of ${f#$MNT/} is its length" "$(wc -c <"$f")" "$(stat -c %s "$f")"
done
check "rsync copies a status whole" rsync -a "$A/status.json" "$T/status.copy"
check "byte for byte" cmp "$A/status.json" "$T/status.copy"

# -- bad criteria
as_own "$RELCTL" stage "$STORE" daily >/dev/null
echo '{"soak": "106751991167301d"}' >"$T/c1.json"
check_refused "an overflowing soak is refused" \
	"relctl: criteria: soak must be a duration such as \"24h\", \"30m\", \"2d\" or \"90s\", at most ten years" as_own "$RELCTL" criteria "$STORE" daily "$T/c1.json"
echo '{"soak": "3700d"}' >"$T/c2.json"
check_refused "a soak over ten years is refused" \
	"relctl: criteria: soak must be a duration such as \"24h\", \"30m\", \"2d\" or \"90s\", at most ten years" as_own "$RELCTL" criteria "$STORE" daily "$T/c2.json"
echo '{"approvals": 1, "approvals": 0}' >"$T/c3.json"
check_refused "duplicate keys are refused" \
	"relctl: criteria are not valid JSON (line 1: duplicate object key near '\"approvals\"')" as_own "$RELCTL" criteria "$STORE" daily "$T/c3.json"
echo '{"require": [{"testcase": "x", "golden": "nosuch"}]}' >"$T/c4.json"
check_refused "golden must name a stage" \
	"relctl: criteria: rule 1: golden: stage 'nosuch' does not exist" as_own "$RELCTL" criteria "$STORE" daily "$T/c4.json"
chmod 644 "$T"/c*.json

# -- bad state: rebuild while in use, a damaged or missing index
check_refused "relctl rebuild while mounted is refused" \
	"relctl: the store '$T/store' is in use (mounted, or a relctl is running): unmount it and let relctl end first" as_own "$RELCTL" rebuild "$STORE"
cp "$T/out" "$T/said"
check "and says why" grep -q "in use (mounted" "$T/said"
unmount_store
cp -a "$STORE" "$T/store.good"
size=$(stat -c %s "$STORE/index/data.mdb")
truncate -s $((size / 2)) "$STORE/index/data.mdb"
as_own "$RELCTL" verify "$STORE" >"$T/v.out" 2>&1
check_eq "verify of a truncated index: exit 3" 3 "$?"
check "and the message says what to do" grep -q "index damaged or missing: run relctl rebuild" "$T/v.out"
"$RELFS" "$STORE" "$MNT" >"$T/m.out" 2>&1
check_eq "the daemon refuses to mount it: exit 3" 3 "$?"
check_fails "nothing is mounted" mountpoint -q "$MNT"
rm -rf "$STORE/index"
as_own "$RELCTL" list "$STORE" >"$T/v.out" 2>&1
check_eq "a removed index: exit 3" 3 "$?"
check "rebuild makes it whole again" as_own "$RELCTL" rebuild "$STORE"
# deleted ledger refs: writes stop with a clear error, nothing is orphaned
G="git --git-dir=$STORE/ledger.git"
head=$($G rev-parse HEAD)
commits=$($G rev-list --count HEAD)
$G update-ref -d refs/heads/main
check "a change with the branch deleted is kept in the index" as_own "$RELCTL" stage "$STORE" weekly
check_log "the ledger refused to start a new history" "refs/heads/main is at change 0 (missing)"
check_exit "no new branch was made" 1 $G rev-parse -q --verify refs/heads/main
$G update-ref refs/heads/main "$head"
check "with the branch put back, the queue is written" as_own "$RELCTL" ledger --sync "$STORE"
check_eq "on top of the old history" "$((commits + 1)) 1" "$($G rev-list --count HEAD) $($G rev-list --max-parents=0 HEAD | wc -l)"
check "verify is clean" as_own "$RELCTL" verify "$STORE"
check "git fsck is clean" git --git-dir="$STORE/ledger.git" fsck --strict
finish
