# lib.sh - shared set-up for the integration tests: a store and a real
# mount in a temporary directory, and assertions that count.
# Sourced by tNNN-*.sh; BUILD is the build directory (set by the runner).
set -u
: "${BUILD:?BUILD must name the build directory}"
RELFS=$BUILD/relfs
RELCTL=$BUILD/relctl
PROBE=$BUILD/tests/probe
T=$(mktemp -d /tmp/relfs-test.XXXXXX)
STORE=$T/store
MNT=$T/mnt
PASS=0
DATA=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared/data/opnfv-results.jsonl
# a clone made elsewhere finds them beside the checkout it was cloned from
if [ ! -s "$DATA" ]; then
	origin=$(git -C "$(dirname "${BASH_SOURCE[0]}")" config --get remote.origin.url 2>/dev/null)
	[ -n "$origin" ] && [ -s "$origin/../shared/data/opnfv-results.jsonl" ] &&
		DATA=$(cd "$origin/.." && pwd)/shared/data/opnfv-results.jsonl
fi
FAIL=0
# need_data: the OPNFV records beside the project (../shared/data) are there
need_data() {
	[ -s "$DATA" ] && return 0
	not_ok "the OPNFV result records are readable at $DATA"
	return 1
}
mkdir -p "$MNT"
export ASAN_OPTIONS="detect_leaks=1:log_path=$T/asan:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$T/asan"

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $1"; }

# check DESC CMD...: CMD succeeds.
check() {
	local desc=$1; shift
	if "$@" >"$T/out" 2>&1; then ok "$desc"; else
		not_ok "$desc"; sed 's/^/#   /' "$T/out" | head -20; fi
}

# check_fails DESC CMD...: CMD fails.
check_fails() {
	local desc=$1; shift
	if "$@" >"$T/out" 2>&1; then
		not_ok "$desc (it succeeded)"; sed 's/^/#   /' "$T/out" | head -20
	else ok "$desc"; fi
}

# check_gone DESC PATH: PATH is not there (lstat: exactly ENOENT, where
# test -e would also take EACCES or EIO for absence)
check_gone() { check_errno "$1" ENOENT lstat "$2"; }

# check_exit DESC CODE CMD...: CMD exits with exactly CODE.
check_exit() {
	local desc=$1 want=$2 got=0; shift 2
	"$@" >"$T/out" 2>&1 || got=$?
	check_eq "$desc (exit $want)" "$want" "$got"
}

# check_refused DESC MESSAGE CMD...: CMD fails, and says MESSAGE (the
# whole first line of what it printed)
check_refused() {
	local desc=$1 want=$2; shift 2
	if "$@" >"$T/out" 2>&1; then
		not_ok "$desc (it succeeded)"; sed 's/^/#   /' "$T/out" | head -20
	else
		check_eq "$desc" "$want" "$(head -1 "$T/out")"
	fi
}

# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"; echo "#   expected: $2"; echo "#   actual:   $3"; fi
}

# check_log DESC PATTERN: a line relfs.log got since the last check_log
# (a new log counts from its start) matches PATTERN (grep); not the whole
# log, so an older line never answers for a newer refusal.
LOG_SEEN=0
check_log() {
	local n
	n=$(wc -l <"$STORE/relfs.log")
	[ "$n" -lt "$LOG_SEEN" ] && LOG_SEEN=0
	if tail -n +$((LOG_SEEN + 1)) "$STORE/relfs.log" | grep -q -- "$2"; then
		ok "$1"
	else
		not_ok "$1"; echo "#   the log since the last look:"
		tail -n +$((LOG_SEEN + 1)) "$STORE/relfs.log" | head -10 | sed 's/^/#   /'
	fi
	LOG_SEEN=$n
}

# check_errno DESC ERRNO OP PATH [PATH]: the probe reports exactly ERRNO.
check_errno() {
	local desc=$1 want=$2; shift 2
	check_eq "$desc ($want)" "$want" "$("$PROBE" "$@" 2>&1)"
}

# ids_reset PREFIX: no user or group named PREFIX-* is left (a test makes
# its own with useradd and groupadd, and calls this before and at exit)
ids_reset() {
	getent passwd | awk -F: -v p="$1-" 'index($1, p) == 1 { print $1 }' |
		xargs -r -n1 userdel 2>/dev/null
	getent group | awk -F: -v p="$1-" 'index($1, p) == 1 { print $1 }' |
		xargs -r -n1 groupdel 2>/dev/null
	return 0
}
# ids_user NAME [useradd options...]: a user of the test, no home, no shell
ids_user() { local u=$1; shift; useradd -M -N -s /usr/sbin/nologin "$@" "$u"; }

# share_bins FILE...: copies in $T/bin that every user of the test can run
# ($T itself opened to all: the mount point, the sanitizer logs)
share_bins() {
	chmod 1777 "$T"
	mkdir -p "$T/bin"
	cp "$@" "$T/bin/"
	chmod 755 "$T/bin" "$T/bin/"*
}

# as USER CMD...: run CMD as USER with its groups (tests that make users)
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups "$@"; }
# errno_as DESC USER ERRNO OP PATH...: the probe, run as USER, reports ERRNO
errno_as() {
	local desc=$1 u=$2 want=$3; shift 3
	check_eq "$desc ($want)" "$want" "$(as "$u" "$PROBE" "$@" 2>&1)"
}

# allow_pins [PREFIX...]: let pins point at this test's sources (none are
# allowed by default): the fixed test URLs, PREFIX..., and files under $T.
allow_pins() {
	"$RELCTL" config "$STORE" pin-sources http://127.0.0.1:1/ \
		http://127.0.0.1:8080/ http://x/ "$@" >/dev/null &&
	"$RELCTL" config "$STORE" file-pins "$T" /srv >/dev/null
}

# eventually SECONDS CMD...: CMD succeeds within SECONDS (polled, 0.1 s)
eventually() {
	local n=$(($1 * 10)); shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	"$@"
}

# wait_port PORT: until a server listens on PORT (5 s at most); a test
# server is waited for this way, never by a fixed sleep
wait_port() {
	local hex
	hex=$(printf '%04X' "$1")
	for _ in $(seq 100); do
		awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { f = 1 } END { exit !f }' \
			/proc/net/tcp /proc/net/tcp6 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

mount_store() {
	"$RELFS" "$STORE" "$MNT" "$@" || return 1
	for _ in $(seq 100); do
		mountpoint -q "$MNT" && return 0
		sleep 0.05
	done
	return 1
}

unmount_store() {
	mountpoint -q "$MNT" || return 0
	for _ in $(seq 50); do
		fusermount3 -u "$MNT" 2>/dev/null && break
		sleep 0.1
	done
	mountpoint -q "$MNT" && fusermount3 -uz "$MNT"
	# let the daemon exit so sanitizer reports are written
	for _ in $(seq 50); do
		pgrep -f "relfs $STORE" >/dev/null || break
		sleep 0.1
	done
}

# lpath PATH: where the ledger keeps PATH (its layout fans directories out)
lpath() { "$RELCTL" ledger --path "$STORE" "$1"; }
# The number of commits in the ledger.
ledger_commits() { settle; git --git-dir="$STORE/ledger.git" rev-list --count HEAD; }
# The number of objects in the content store.
objects() { find "$STORE/objects" -type f | wc -l; }

finish() {
	unmount_store
	if ls "$T"/asan* >/dev/null 2>&1; then
		not_ok "sanitizers reported nothing"
		cat "$T"/asan* | head -60 | sed 's/^/#   /'
	fi
	echo "# $(basename "$0"): $PASS passed, $FAIL failed"
	[ -n "${RESULTS:-}" ] && echo "$PASS $FAIL" >>"$RESULTS"
	rm -rf "$T"
	[ "$FAIL" -eq 0 ]
}
trap 'unmount_store' EXIT

# Wait until the daemon's ledger thread has written every queued commit.
settle() { "$RELCTL" ledger --sync "$STORE" >/dev/null; }
