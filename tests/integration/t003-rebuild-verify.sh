#!/bin/bash
# relctl rebuild gives an identical tree; relctl verify finds a corrupted
# content file and a missing ledger object, and names each.
. "$(dirname "$0")/lib.sh"

SRC=$T/src
mkdir -p "$SRC/x/y"
echo a >"$SRC/a"
echo b >"$SRC/x/y/b"
ln -s x/y/b "$SRC/lb"
chmod +x "$SRC/a"
printf 'up\t1\t%s\tfile:///srv/up.tar\n' "$(printf up | sha256sum | cut -c1-64)" >"$SRC/pins"
"$RELCTL" init "$STORE" >/dev/null
allow_pins
for v in 1 2 3; do
	echo "v$v" >"$SRC/version"
	"$RELCTL" publish "$STORE" "$SRC" --project fuel --version "$v" \
		--scenario os-nosdn-nofeature-ha >/dev/null
done
"$RELCTL" publish "$STORE" "$SRC/x" --project apex --version 1.0 >/dev/null
mount_store
mkdir -p "$MNT/incoming/compass/7/dir"
echo seven >"$MNT/incoming/compass/7/dir/f"
mv "$MNT/incoming/compass/7" "$MNT/artifacts/compass/"

# a description of the tree: every path, type, mode, size, link, content
snapshot() {
	(cd "$MNT" && find artifacts README -printf '%p %y %m %s %T@ %l\n' | sort &&
		find artifacts README -path '*/deps' -prune -o -type f -exec sha256sum {} + | sort)
}
snapshot >"$T/before"
# deps/ would fetch from the pins' urls (refused here: left out of the diff)
cp -a "$MNT/artifacts" "$T/copy" 2>/dev/null
check_eq "the snapshot covers 5 artifacts" 5 "$(grep -c '/manifest.json f' "$T/before")"
unmount_store

check "rebuild" "$RELCTL" rebuild "$STORE"
check_eq "rebuild reports the artifacts" "rebuilt the index of $STORE: 5 artifacts" \
	"$("$RELCTL" rebuild "$STORE")"
mount_store
snapshot >"$T/after"
check "rebuilt tree is identical (paths, modes, sizes, times, links, bytes)" \
	diff "$T/before" "$T/after"
check "diff -r against the copy made before" diff -r --no-dereference -x deps "$T/copy" "$MNT/artifacts"
check "verify after rebuild" "$RELCTL" verify "$STORE"
# the index keeps working after a rebuild: a new publish
echo new >"$SRC/version"
check "publish after rebuild" "$RELCTL" publish "$STORE" "$SRC" --project fuel --version 4
check_eq "ledger history goes on (1 + 2 configs + 6 publishes)" 9 "$(ledger_commits)"
check "verify still clean" "$RELCTL" verify "$STORE"
unmount_store

# a rebuild from a damaged ledger keeps the old index
obj=$(sha256sum "$SRC/x/y/b" | cut -c1-64)
f="$STORE/objects/${obj:0:2}/${obj:2}"
chmod u+w "$f"
echo "tampered" >"$f"
check_exit "verify finds a corrupted content file" 1 "$RELCTL" verify "$STORE"
check "verify names the corrupted object" grep -q "object '$f' is corrupt" <("$RELCTL" verify "$STORE")
check_eq "verify --json says not ok" false "$("$RELCTL" --json verify "$STORE" | jq .ok)"
echo b >"$f"
check "verify clean again once repaired" "$RELCTL" verify "$STORE"
rm "$f"
check "verify names a missing content file" grep -q "object '$f' is missing" <("$RELCTL" verify "$STORE")
# (two artifacts hold that content: either may be named first)
check_exit "rebuild refuses a store with missing content" 1 "$RELCTL" rebuild "$STORE"
check_eq "and names the content and an artifact that holds it" \
	"relctl: ART: content of 'PATH' (0263829989b6fd954f72baaf2fc64bc2e2f01d692d4de72986ea808f6e99813f) is missing from the content store (the old index is kept)" \
	"$(head -1 "$T/out" | sed "s/^relctl: [^:]*: content of '[^']*'/relctl: ART: content of 'PATH'/")"
echo b >"$f"

blob=$(git --git-dir="$STORE/ledger.git" rev-parse "HEAD:$(lpath artifacts/apex/1.0/manifest.json)")
# the object is loose, or in one of the packs the ledger writes
lf="$STORE/ledger.git/objects/${blob:0:2}/${blob:2}"
if [ ! -f "$lf" ]; then
	for idx in "$STORE"/ledger.git/objects/pack/*.idx; do
		git show-index <"$idx" | grep -q "$blob" && lf=${idx%.idx}.pack
	done
fi
check "the manifest's object is found on disk" test -f "$lf"
mv "$lf" "$T/saved-object"
[ -f "${lf%.pack}.idx" ] && [ "$lf" != "${lf%.pack}" ] && mv "${lf%.pack}.idx" "$T/saved-idx"
check_exit "verify finds a missing ledger object" 1 "$RELCTL" verify "$STORE"
check "verify reports it through git fsck" grep -q "git fsck: " <("$RELCTL" verify "$STORE")
check "verify names the artifact whose ledger entry is gone" grep -q "apex/1.0: ledger:" <("$RELCTL" verify "$STORE")
check_exit "rebuild refuses a damaged ledger" 1 "$RELCTL" rebuild "$STORE"
check_eq "and says that an object is missing" \
	"relctl: ledger: could not walk the tree: object not found - no match for id (ID) (the old index is kept)" \
	"$(head -1 "$T/out" | sed 's/id ([0-9a-f]*)/id (ID)/')"
mkdir -p "$(dirname "$lf")"
mv "$T/saved-object" "$lf"
[ -f "$T/saved-idx" ] && mv "$T/saved-idx" "${lf%.pack}.idx"
check "the old index was kept: verify clean" "$RELCTL" verify "$STORE"
check_eq "and it still lists every artifact" 6 "$("$RELCTL" list "$STORE" | wc -l)"
finish
