#!/bin/bash
# Events: written to the outbox with each change, delivered to a hook script
# and to webhooks (a real HTTP receiver on 127.0.0.1 that checks the HMAC
# signature), retried in order when a receiver fails, parked after the
# limit and re-sent, never slowing the mount, and kept across kill -9.
. "$(dirname "$0")/lib.sh"
RECEIVER=$BUILD/tests/receiver
PORT=$((20000 + RANDOM % 20000))

SRC=$T/src
mkdir -p "$SRC"
echo x >"$SRC/f"
"$RELCTL" init "$STORE" >/dev/null
mkdir -p "$STORE/hooks"
cat >"$STORE/hooks/any" <<EOS
#!/bin/sh
# a hook: the event on stdin, the names in the environment
read -r line
echo "\$RELFS_EVENT \$RELFS_PROJECT \$RELFS_VERSION \$RELFS_STAGE" >>"$T/hook.log"
echo "\$line" >>"$T/hook.json"
echo "\$RELFS_EVENT \$RELFS_RELEASE \$RELFS_SCENARIO" >>"$T/hook2.log"
EOS
chmod +x "$STORE/hooks/any"
"$RECEIVER" $PORT s3cret "$T/web.log" &
RPID=$!
"$RECEIVER" $((PORT + 1)) other "$T/flaky.log" --fail 2 &
FPID=$!
cat >"$STORE/webhooks.json" <<EOS
[{"url": "http://127.0.0.1:$PORT/hook", "secret": "s3cret", "events": ["artifact.published", "run.recorded", "promoted"]},
 {"url": "http://127.0.0.1:$((PORT + 1))/hook", "secret": "other"}]
EOS
wait_port $PORT && wait_port $((PORT + 1))
# short timeouts and backoff, so the retries fit in a test
export RELFS_HOOK_TIMEOUT=2 RELFS_BACKOFF_MAX=1
mount_store
wait_for() {	# FILE LINES: up to 40 s
	for _ in $(seq 400); do
		[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 1 >/dev/null
mkdir "$MNT/stages/daily"
echo '{"require": [{"testcase": "vping"}]}' >"$MNT/stages/daily/criteria.json"
echo PASS >"$MNT/artifacts/fuel/1/results/vping"
check "the hook saw five events" wait_for "$T/hook.log" 5
check_eq "in order, with names in the environment" \
	"artifact.published fuel 1 |stage.created   daily|criteria.changed   daily|run.recorded fuel 1 |promoted fuel 1 daily" \
	"$(paste -sd'|' "$T/hook.log")"
check_eq "the hook got the event JSON" "promoted fuel 1 daily" \
	"$(tail -1 "$T/hook.json" | jq -r '"\(.type) \(.project) \(.version) \(.stage)"')"
check "the webhook got the three it asked for" wait_for "$T/web.log" 3
check_eq "signed, typed, in order" "artifact.published sig-ok|run.recorded sig-ok|promoted sig-ok" \
	"$(awk '{print $2, $3}' "$T/web.log" | paste -sd'|')"
check_eq "the delivery id is the event id" "$(head -1 "$T/web.log" | cut -d' ' -f4- | jq -r .id)" \
	"$(head -1 "$T/web.log" | cut -d' ' -f1)"
check "the failing receiver got all five after retries" wait_for "$T/flaky.log" 5
check_eq "still in order after the failures" \
	"artifact.published stage.created criteria.changed run.recorded promoted" \
	"$(awk '{print $2}' "$T/flaky.log" | xargs)"
check "relctl events reports the targets" grep -q "hook:any: 5 delivered, 0 pending, 0 dead" \
	<("$RELCTL" events "$STORE")

# a receiver that hangs does not slow the mount
kill $RPID; wait $RPID 2>/dev/null
"$RECEIVER" $PORT s3cret "$T/web.log" --hang &
RPID=$!
wait_port $PORT
t0=$(date +%s%N)
for i in 1 2 3; do echo PASS >"$MNT/artifacts/fuel/1/results/t$i"; done
t1=$(date +%s%N)
check "three results through the mount in under 2 s while a receiver hangs" \
	test $(((t1 - t0) / 1000000)) -lt 2000

# events survive kill -9 of the daemon, and are delivered after restart
kill $RPID; wait $RPID 2>/dev/null
pkill -9 -f "relfs $STORE"
for _ in $(seq 50); do pgrep -f "relfs $STORE" >/dev/null || break; sleep 0.1; done
fusermount3 -uz "$MNT"
"$RELCTL" publish "$STORE" "$SRC" --project fuel --version 2 >/dev/null
"$RECEIVER" $PORT s3cret "$T/web2.log" &
RPID=$!
wait_port $PORT
mount_store
check "after the restart the webhook gets what it missed" wait_for "$T/web2.log" 4
check_eq "the missed runs, then the new artifact" "run.recorded run.recorded run.recorded artifact.published" \
	"$(awk '{print $2}' "$T/web2.log" | xargs)"
check_eq "no event delivered twice to the webhook" 0 \
	"$(cat "$T/web.log" "$T/web2.log" | awk '{print $1}' | sort | uniq -d | wc -l)"

# after the limit an event is parked as dead, and redeliver sends it again
kill $FPID; wait $FPID 2>/dev/null
echo PASS >"$MNT/artifacts/fuel/1/results/dead-letter"
for _ in $(seq 400); do
	"$RELCTL" --json events "$STORE" | jq -e --arg t "web:http://127.0.0.1:$((PORT + 1))/hook" \
		'.targets[$t].dead | length > 0' >/dev/null && break
	sleep 0.25
done
check "parked as dead after $((6)) tries" "$RELCTL" --json events "$STORE"
check_eq "one dead event, with its error" "1 yes" \
	"$("$RELCTL" --json events "$STORE" | jq -r --arg t "web:http://127.0.0.1:$((PORT + 1))/hook" \
	'.targets[$t] | "\(.dead | length) \(if .last_error then "yes" else "no" end)"')"
"$RECEIVER" $((PORT + 1)) other "$T/flaky2.log" &
FPID=$!
wait_port $((PORT + 1))
check_eq "relctl events redeliver sends it again" "1 delivered" \
	"$("$RELCTL" events redeliver "$STORE" "web:http://127.0.0.1:$((PORT + 1))/hook")"
check_eq "the dead letter arrived" "run.recorded" "$(awk '{print $2}' "$T/flaky2.log" | head -1)"

# --follow prints events as they happen, one JSON object per line
"$RELCTL" events --follow "$STORE" >"$T/follow.log" &
FOL=$!
sleep 0.5
echo FAIL >"$MNT/artifacts/fuel/1/results/followed"
for _ in $(seq 50); do grep -q followed "$T/follow.log" && break; sleep 0.1; done
kill $FOL; wait $FOL 2>/dev/null
check_eq "--follow printed the run" "run.recorded followed FAIL" \
	"$(grep followed "$T/follow.log" | jq -r '"\(.type) \(.testcase) \(.outcome)"')"
# scenarios, releases, their participants, the criteria of a project or a
# scenario, and the roles are changes of state too
n=$(wc -l <"$T/hook.json")
mkdir "$MNT/scenarios/os-nosdn-nofeature-ha"
echo '{"installer": "fuel", "projects": ["fuel"]}' >"$MNT/scenarios/os-nosdn-nofeature-ha/scenario.json"
echo '{"require": [{"testcase": "vping"}]}' >"$MNT/scenarios/os-nosdn-nofeature-ha/criteria/daily.json"
echo '{"require": [{"testcase": "vping"}]}' >"$MNT/projects/fuel/criteria/daily.json"
mkdir "$MNT/releases/2027.1"
echo '{"target": "2099-01-01T00:00:00Z", "stage": "daily"}' >"$MNT/releases/2027.1/release.json"
echo 'owner: fuel team' >"$MNT/releases/2027.1/participants/os-nosdn-nofeature-ha"
rm "$MNT/releases/2027.1/participants/os-nosdn-nofeature-ha"
"$RELCTL" config "$STORE" ci --owner >/dev/null
more() { tail -n +$((n + 1)) "$T/hook.json" | grep -vc '"type":"run.recorded"'; }
for _ in $(seq 400); do [ "$(more)" -ge 9 ] && break; sleep 0.1; done
check_eq "the hook saw nine more (besides late runs)" 9 "$(more)"
check_eq "each with its names" "scenario.created os-nosdn-nofeature-ha
scenario.changed os-nosdn-nofeature-ha
criteria.changed daily scenario os-nosdn-nofeature-ha
criteria.changed daily project fuel
release.created 2027.1
release.changed 2027.1
participant.added 2027.1 os-nosdn-nofeature-ha
participant.withdrawn 2027.1 os-nosdn-nofeature-ha
config.changed ci []" "$(tail -n +$((n + 1)) "$T/hook.json" | jq -r 'select(.type != "run.recorded") |
	[.type, .stage // empty,
	(if .type == "criteria.changed" then (if .scenario then "scenario", .scenario else "project", .project end)
	 elif (.type | startswith("participant")) then .release, .scenario
	 else .scenario // .release // empty end),
	.role // empty, (.groups // empty | tojson)] | join(" ")')"
check_eq "a hook has the release and the scenario in its environment" \
	"participant.added 2027.1 os-nosdn-nofeature-ha" "$(grep participant.added "$T/hook2.log")"
check_eq "the criteria event has the digest of what was written" \
	"$(sha256sum <"$MNT/projects/fuel/criteria/daily.json" | cut -c1-64)" \
	"$(grep '"project":"fuel"' "$T/hook.json" | grep criteria.changed | jq -r .criteria)"

# a webhooks.json that does not parse is ignored, and relctl events says why;
# hooks go on
echo '[{"url": "http://127.0.0.1:1/x", "secert": "typo"}]' >"$STORE/webhooks.json"
check_eq "relctl events names the bad key" \
	"webhooks.json is ignored: webhooks.json: webhook 1: unknown or bad key 'secert' (url, secret: text; events: a list of event types)" \
	"$("$RELCTL" events "$STORE" | grep webhooks.json)"
check_eq "no webhook target is left" "hook:any" \
	"$("$RELCTL" --json events "$STORE" | jq -r '.targets | keys | join(" ")')"
n=$(wc -l <"$T/hook.json")
echo PASS >"$MNT/artifacts/fuel/1/results/after-bad-webhooks"
check "the hook still gets events" wait_for "$T/hook.json" $((n + 1))
kill $RPID $FPID 2>/dev/null; wait 2>/dev/null
finish
