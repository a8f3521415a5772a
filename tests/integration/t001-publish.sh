#!/bin/bash
# Publishing both ways (relctl publish, and incoming/ + mv through the mount),
# read back byte for byte, manifest digests against sha256sum, the ledger.
. "$(dirname "$0")/lib.sh"

SRC=$T/src
mkdir -p "$SRC/bin" "$SRC/etc/deep/er" "$SRC/empty"
printf '#!/bin/sh\necho deploy\n' >"$SRC/bin/deploy.sh"
chmod 0755 "$SRC/bin/deploy.sh"
echo "key=value" >"$SRC/etc/deep/er/conf"
head -c 3000000 /dev/urandom >"$SRC/big.bin"
printf 'same\n' >"$SRC/a.txt"
printf 'same\n' >"$SRC/etc/b.txt"	# same bytes: stored once
ln -s bin/deploy.sh "$SRC/deploy"
SHA=$(printf 'upstream' | sha256sum | cut -c1-64)
printf 'centos-image\t7.9\t%s\thttp://127.0.0.1:1/centos.img\t8\n' "$SHA" >"$SRC/pins"
echo '{"scenario": "os-nosdn-nofeature-ha", "installer": "fuel", "description": "test"}' >"$SRC/artifact.json"

check "relctl init creates a store" "$RELCTL" init "$STORE"
allow_pins
check_eq "the ledger starts with one commit (and two of allow_pins)" 3 "$(ledger_commits)"
check "relctl publish" "$RELCTL" publish "$STORE" "$SRC" --project fuel --version 9.0.1
check_eq "a publish by relctl is logged like one through the mount" \
	"published fuel 9.0.1 by $(id -un)" "$(tail -1 "$STORE/relfs.log" | cut -d' ' -f2-)"
check_eq "publish is one ledger commit" 4 "$(ledger_commits)"
check_eq "the commit's author is the user" "$(id -un)" \
	"$(git --git-dir="$STORE/ledger.git" log -1 --format=%an)"
check_eq "the commit says what changed" "publish fuel 9.0.1" \
	"$(git --git-dir="$STORE/ledger.git" log -1 --format=%s)"
check "mount" mount_store
A=$MNT/artifacts/fuel/9.0.1
check_eq "artifact directory lists the spec's files" \
	"approvals artifact.properties deps files manifest.json pins results runs status status.json waivers" "$(ls "$A" | xargs)"
check "files/ is byte for byte the source (without metadata)" \
	diff -r --no-dereference -x pins -x artifact.json "$SRC" "$A/files"
check "the big file reads back identical" cmp "$SRC/big.bin" "$A/files/big.bin"
check_eq "symlink kept as a link" "bin/deploy.sh" "$(readlink "$A/files/deploy")"
check_eq "executable stays executable, nothing writable" "-r-xr-xr-x" \
	"$(stat -c %A "$A/files/bin/deploy.sh")"
check_eq "plain file is read-only" "-r--r--r--" "$(stat -c %A "$A/files/a.txt")"
check "empty directory kept" test -d "$A/files/empty"

# every digest in the manifest matches sha256sum of the file in the mount
bad=0 seen=0
while read -r type path sha; do
	if [ "$type" = symlink ]; then
		got=$(printf '%s' "$(readlink "$A/files/$path")" | sha256sum | cut -c1-64)
	else
		got=$(sha256sum "$A/files/$path" | cut -c1-64)
	fi
	seen=$((seen + 1))
	[ "$got" = "$sha" ] || { echo "# $path: $got != $sha"; bad=$((bad + 1)); }
done < <(jq -r '.files[] | select(.type != "dir") | "\(.type) \(.path) \(.sha256)"' "$A/manifest.json")
check_eq "manifest has 6 digests (5 files, 1 link)" 6 "$seen"
check_eq "every manifest digest matches sha256sum" 0 "$bad"
check_eq "manifest id is the sha256 of the canonical manifest" \
	"$(jq -r .id "$A/manifest.json")" \
	"$(jq -cS 'del(.id)' "$A/manifest.json" | tr -d '\n' | sha256sum | cut -c1-64)"
check_eq "manifest names the scenario" 1 \
	"$(grep -c '"scenario": "os-nosdn-nofeature-ha"' "$A/manifest.json")"
check_eq "manifest.json is the ledger's copy" \
	"$(git --git-dir="$STORE/ledger.git" show "HEAD:$(lpath artifacts/fuel/9.0.1/manifest.json)" | sha256sum)" \
	"$(sha256sum <"$A/manifest.json")"
check_eq "pins file" "$(cat "$SRC/pins")" "$(cat "$A/pins")"
check_eq "artifact.properties can be sourced" \
	"fuel 9.0.1 os-nosdn-nofeature-ha 7.9 $SHA" \
	"$(. "$A/artifact.properties"; echo "$project $version $scenario $pin_centos_image_version $pin_centos_image_sha256")"
check_eq "artifact id in properties is the manifest id" \
	"$(sed -n 's/^  "id": "\(.*\)",$/\1/p' "$A/manifest.json")" \
	"$(. "$A/artifact.properties"; echo "$id")"
check_eq "identical bytes are stored once" 1 \
	"$(find "$STORE/objects" -type f -name "$(sha256sum "$SRC/a.txt" | cut -c3-64)" | wc -l)"

# publishing through the mount, written the ways scripts write files
I=$MNT/incoming/apex/2.0
check "mkdir -p under incoming" mkdir -p "$I/sub"
check "cp" cp "$SRC/big.bin" "$I/big.bin"
check "cp -p" cp -p "$SRC/bin/deploy.sh" "$I/deploy.sh"
check "install -m" install -m 0644 "$SRC/a.txt" "$I/sub/installed"
echo "redirected" >"$I/sub/redir"
check_eq "shell redirection" "redirected" "$(cat "$I/sub/redir")"
check "rsync (dot-file then rename)" rsync -a "$SRC/etc/" "$I/etc/"
check "pins written beside the files" cp "$SRC/pins" "$I/pins"
check "mv seals the artifact" mv "$I" "$MNT/artifacts/apex/"
B=$MNT/artifacts/apex/2.0
check "sealed artifact is visible at once" test -f "$B/manifest.json"
check "cp file identical" cmp "$SRC/big.bin" "$B/files/big.bin"
check "cp -p file identical" cmp "$SRC/bin/deploy.sh" "$B/files/deploy.sh"
check "install file identical" cmp "$SRC/a.txt" "$B/files/sub/installed"
check "rsync tree identical" diff -r "$SRC/etc" "$B/files/etc"
check_eq "pins are metadata, not payload" "" "$(ls "$B/files" | grep -x pins)"
check_eq "pins recorded" "$(cat "$SRC/pins")" "$(cat "$B/pins")"
check_eq "no rsync temporary file sealed" "" "$(find "$B/files" -name '.*')"
check_gone "the staging copy is gone" "$MNT/incoming/apex/2.0"
check_eq "mount publish is one ledger commit" 5 "$(ledger_commits)"
check_eq "the seal commit names the user" "publish apex 2.0 $(id -un)" \
	"$(git --git-dir="$STORE/ledger.git" log -1 --format='%s %an')"
# a second version in an existing project: mv to artifacts/<p>/
mkdir -p "$MNT/incoming/apex/2.1"
echo two-one >"$MNT/incoming/apex/2.1/f"
check "mv into an existing project" mv "$MNT/incoming/apex/2.1" "$MNT/artifacts/apex/"
check_eq "both versions listed" "2.0 2.1" "$(ls "$MNT/artifacts/apex" | xargs)"
check_eq "new version readable" "two-one" "$(cat "$MNT/artifacts/apex/2.1/files/f")"

# relctl beside the mount: the mount shows the result at once
ls -R "$MNT/artifacts" >/dev/null
check_gone "not there before" "$MNT/artifacts/compass/1"
check "relctl publish while mounted" "$RELCTL" publish "$STORE" "$SRC/etc" --project compass --version 1
check_eq "mount shows relctl's artifact at once" "b.txt deep" \
	"$(ls "$MNT/artifacts/compass/1/files" | xargs)"
check_eq "project list updated at once" "apex compass fuel" "$(ls "$MNT/artifacts" | xargs)"
check "relctl verify" "$RELCTL" verify "$STORE"
check "git fsck" git --git-dir="$STORE/ledger.git" fsck --strict
finish
