#!/bin/bash
# Pinned dependencies: fetched once by the first read from a real HTTP
# server on 127.0.0.1 and verified; a mismatch, a 404 or a dropped transfer
# is EIO and caches nothing; relctl fetch resumes; four concurrent first
# readers make one download; an offline mount serves only what is here;
# file:// pins work.
. "$(dirname "$0")/lib.sh"
SERVER=$BUILD/tests/receiver
PORT=$((20000 + RANDOM % 20000))
SRV=$T/srv
mkdir -p "$SRV" "$T/src"
echo x >"$T/src/f"
head -c 4000000 /dev/urandom >"$SRV/good.img"
head -c 1000 /dev/urandom >"$SRV/bad.img"
head -c 6000000 /dev/urandom >"$SRV/big.img"
cp "$SRV/good.img" "$T/local.img"
sha() { sha256sum "$1" | cut -c1-64; }
U=http://127.0.0.1:$PORT
{
	printf 'good\t1\t%s\t%s/good.img\t4000000\n' "$(sha "$SRV/good.img")" "$U"
	printf 'bad\t1\t%s\t%s/bad.img\n' "$(printf 'other' | sha256sum | cut -c1-64)" "$U"
	printf 'missing\t1\t%s\t%s/missing.img\n' "$(printf 'nothing' | sha256sum | cut -c1-64)" "$U"
	printf 'big\t1\t%s\t%s/big.img\n' "$(sha "$SRV/big.img")" "$U"
	printf 'local\t1\t%s\tfile://%s\n' "$(sha "$T/local.img")" "$T/local.img"
} >"$T/src/pins"
"$RELCTL" init "$STORE" >/dev/null
allow_pins "http://127.0.0.1:$PORT/" "http://127.0.0.1:$((PORT + 1))/"
"$RELCTL" publish "$STORE" "$T/src" --project fuel --version 1 >/dev/null
"$SERVER" $PORT - "$T/srv.log" --serve "$SRV" &
SPID=$!
wait_port $PORT
mount_store
D=$MNT/artifacts/fuel/1/deps
check_eq "one file per pin" "bad big good local missing" "$(ls "$D" | xargs)"
check_eq "stat shows the pinned size before the fetch" 4000000 "$(stat -c %s "$D/good")"

# four concurrent first readers: one download
pids=""
for i in 1 2 3 4; do sha256sum "$D/good" >"$T/sum.$i" & pids="$pids $!"; done
wait $pids
check_eq "every reader got the right bytes" "$(sha "$SRV/good.img")" "$(cut -c1-64 "$T/sum.1" "$T/sum.2" "$T/sum.3" "$T/sum.4" | sort -u)"
check_eq "one download for four readers" 1 "$(grep -c 'GET good.img' "$T/srv.log")"
check "cp and tar-like reads just work" cmp "$SRV/good.img" "$D/good"
check_eq "later reads are local" 1 "$(grep -c 'GET good.img' "$T/srv.log")"

# a digest mismatch: EIO, a message, nothing cached, the next read retries
check_errno "a digest mismatch is EIO" EIO read "$D/bad"
check_log "the message says what is wrong" "deps/bad\|bad: digest mismatch"
check_exit "and never what the bytes it refused hash to" 1 grep -q "$(sha "$SRV/bad.img")" "$STORE/relfs.log"
check_eq "nothing cached" "" "$(find "$STORE/objects" -name "$(printf 'other' | sha256sum | cut -c3-64)")"
check_errno "the next read tries again" EIO read "$D/bad"
check_eq "and downloads again" 2 "$(grep -c 'GET bad.img' "$T/srv.log")"
check_errno "a 404 is EIO" EIO read "$D/missing"
check_log "the 404 is explained" "missing: could not fetch.*404"
check "a file:// pin" cmp "$T/local.img" "$D/local"

# a server that drops the transfer, then comes back: relctl fetch resumes
kill $SPID; wait $SPID 2>/dev/null
"$SERVER" $PORT - "$T/srv.log" --serve "$SRV" --drop-after 2000000 &
SPID=$!
wait_port $PORT
check_errno "a dropped transfer is EIO" EIO read "$D/big"
kill $SPID; wait $SPID 2>/dev/null
"$SERVER" $PORT - "$T/srv.log" --serve "$SRV" &
SPID=$!
wait_port $PORT
"$RELCTL" --json fetch "$STORE" fuel 1 --quiet >"$T/fetch.json" 2>/dev/null
check_eq "relctl fetch exits 1 when a pin fails" 1 "$?"
check_eq "relctl fetch reports each pin" \
	"fuel/1 bad: failed|fuel/1 big: fetched (resumed)|fuel/1 good: already present|fuel/1 local: already present|fuel/1 missing: failed" \
	"$(jq -r '.[] | "\(.artifact) \(.pin): \(.state)"' "$T/fetch.json" | sort | paste -sd'|')"
check "the resume asked for the rest only" grep -q "GET big.img 2000000" "$T/srv.log"
check "the resumed file is whole" cmp "$SRV/big.img" "$D/big"
check "verify checks fetched dependencies" "$RELCTL" verify "$STORE"
obj=$STORE/objects/$(sha "$SRV/good.img" | cut -c1-2)/$(sha "$SRV/good.img" | cut -c3-64)
chmod u+w "$obj"; printf 'Z' | dd of="$obj" bs=1 seek=10 conv=notrunc 2>/dev/null
check "verify finds a corrupted dependency" grep -q "deps/good: object .* is corrupt" <("$RELCTL" verify "$STORE")

# the first bytes are read while the rest is on its way; the last ones
# only once the digest matched
PORT2=$((PORT + 1))
head -c 2097152 /dev/urandom >"$SRV/slow.img"
head -c 1048576 /dev/urandom >"$SRV/slowbad.img"
mkdir -p "$T/src3"
echo x >"$T/src3/f"
{
	printf 'slow\t1\t%s\thttp://127.0.0.1:%s/slow.img\n' "$(sha "$SRV/slow.img")" "$PORT2"
	printf 'slowbad\t1\t%s\thttp://127.0.0.1:%s/slowbad.img\n' "$(printf 'other' | sha256sum | cut -c1-64)" "$PORT2"
} >"$T/src3/pins"
"$RELCTL" publish "$STORE" "$T/src3" --project fuel --version 3 >/dev/null
"$SERVER" $PORT2 - "$T/srv2.log" --serve "$SRV" --pace 40 &
SPID2=$!
wait_port $PORT2
D3=$MNT/artifacts/fuel/3/deps
slowhex=$(sha "$SRV/slow.img")
head -c 65536 "$D3/slow" >"$T/head.out"
check "the first bytes come before the download ends" test -e "$STORE/tmp/dep.$slowhex.part"
check_eq "and it is not in the content store yet" "" "$(find "$STORE/objects" -name "${slowhex:2}")"
check_eq "the first bytes are right" "$(head -c 65536 "$SRV/slow.img" | sha256sum)" "$(sha256sum <"$T/head.out")"
check "the whole of it, once verified" cmp "$SRV/slow.img" "$D3/slow"
# it goes into the content store once on disk, just after
for _ in $(seq 50); do
	[ -e "$STORE/objects/${slowhex:0:2}/${slowhex:2}" ] && break
	sleep 0.1
done
check_eq "then it is local" 1 "$(find "$STORE/objects" -name "${slowhex:2}" | wc -l)"
check_eq "stat shows its real size (the pin gave none)" 2097152 "$(stat -c %s "$D3/slow")"
check_eq "one download for both readers" 1 "$(grep -c 'GET slow.img' "$T/srv2.log")"
check_exit "a mismatch while streaming fails the reader" 1 cp "$D3/slowbad" "$T/slowbad.out"
cp "$T/out" "$T/slowbad.err"
check "with EIO" grep -q "Input/output error" "$T/slowbad.err"
check "the reader never got to the end" test "$(stat -c %s "$T/slowbad.out")" -lt 1048576
check_eq "nothing kept of it" "" "$(ls "$STORE/tmp" | grep "dep.*part")"
# what the failed reader read went through the page cache unverified: none
# of it may be served once the server has the right file
printf 'other' >"$SRV/slowbad.img"
check_eq "then the right bytes, none of the bad ones" "other" "$(cat "$D3/slowbad")"
check_eq "and its size" 5 "$(stat -c %s "$D3/slowbad")"
kill $SPID2; wait $SPID2 2>/dev/null

# a reply without Content-Length: read around the page cache as it arrives
# (the kernel knows no size), handed to the cache once verified
head -c 1572864 /dev/urandom >"$SRV/nolen.img"
mkdir -p "$T/src4"
echo x >"$T/src4/f"
printf 'nolen\t1\t%s\thttp://127.0.0.1:%s/nolen.img\n' "$(sha "$SRV/nolen.img")" "$PORT2" >"$T/src4/pins"
"$RELCTL" publish "$STORE" "$T/src4" --project fuel --version 4 >/dev/null
"$SERVER" $PORT2 - "$T/srv3.log" --serve "$SRV" --pace 10 --no-length &
SPID2=$!
wait_port $PORT2
D4=$MNT/artifacts/fuel/4/deps
check "no length: the whole of it" cmp "$SRV/nolen.img" "$D4/nolen"
check_eq "no length: then its size" 1572864 "$(stat -c %s "$D4/nolen")"
check "no length: read again, from the store" cmp "$SRV/nolen.img" "$D4/nolen"
check_eq "no length: one download" 1 "$(grep -c 'GET nolen.img' "$T/srv3.log")"
kill $SPID2; wait $SPID2 2>/dev/null

# an unmount in the middle of a download stops it and keeps its part; the
# next read resumes it.  A part that is whole already is stored as it is.
head -c 3145728 /dev/urandom >"$SRV/cut.img"
head -c 1048576 /dev/urandom >"$SRV/whole.img"
mkdir -p "$T/src5"
echo x >"$T/src5/f"
{
	printf 'cut\t1\t%s\thttp://127.0.0.1:%s/cut.img\n' "$(sha "$SRV/cut.img")" "$PORT2"
	printf 'whole\t1\t%s\thttp://127.0.0.1:%s/whole.img\n' "$(sha "$SRV/whole.img")" "$PORT2"
} >"$T/src5/pins"
"$RELCTL" publish "$STORE" "$T/src5" --project fuel --version 5 >/dev/null
"$SERVER" $PORT2 - "$T/srv5.log" --serve "$SRV" --pace 40 &
SPID2=$!
wait_port $PORT2
cuthex=$(sha "$SRV/cut.img")
head -c 65536 "$MNT/artifacts/fuel/5/deps/cut" >/dev/null
unmount_store
check_eq "unmounted mid-download: the daemon is gone" "" "$(pgrep -f "relfs $STORE")"
cutpart=$(stat -c %s "$STORE/tmp/dep.$cuthex.part" 2>/dev/null || echo none)
check "its part is kept" test "$cutpart" != none -a "$cutpart" != 0
check "with only a part of it" test "$cutpart" != none -a "$cutpart" -lt 3145728
check_eq "and nothing in the content store" "" "$(find "$STORE/objects" -name "${cuthex:2}")"
wholehex=$(sha "$SRV/whole.img")
cp "$SRV/whole.img" "$STORE/tmp/dep.$wholehex.part"
mount_store
check "the next read resumes it" cmp "$SRV/cut.img" "$MNT/artifacts/fuel/5/deps/cut"
check "asking for the rest only" grep -q "GET cut.img $cutpart\$" "$T/srv5.log"
check "a whole part is served" cmp "$SRV/whole.img" "$MNT/artifacts/fuel/5/deps/whole"
check_eq "without a download" 0 "$(grep -c 'GET whole.img' "$T/srv5.log")"
unmount_store
check_eq "and both are stored by the time the daemon is gone" 2 "$(find "$STORE/objects" -name "${cuthex:2}" -o -name "${wholehex:2}" | wc -l)"
check_eq "no parts left" "" "$(ls "$STORE/tmp" | grep "dep.*part")"
kill $SPID2; wait $SPID2 2>/dev/null

# an offline mount serves only what is fetched
unmount_store
"$RELCTL" publish "$STORE" "$T/src" --project fuel --version 2 >/dev/null
rm -f "$obj"
mount_store -o offline
check "offline: the file is there" test -e "$MNT/artifacts/fuel/2/deps/good"
n=$(grep -c 'GET good.img' "$T/srv.log")
check_errno "offline: reading unfetched bytes is EIO" EIO read "$MNT/artifacts/fuel/2/deps/good"
check_log "offline: the message says why" "not fetched, and this mount is offline"
check_eq "offline: no download" "$n" "$(grep -c 'GET good.img' "$T/srv.log")"
check "offline: what is fetched is served" cmp "$SRV/big.img" "$MNT/artifacts/fuel/2/deps/big"
kill $SPID; wait $SPID 2>/dev/null
finish
