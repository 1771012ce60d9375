#!/usr/bin/env bash
# make demo: the README's walk-through with the herald CLI, on the system `make up` runs:
# create a campaign, import its contacts from a CSV file, send it, and watch it until it
# completes. Every step prints the command it runs; copy them to drive Herald yourself.
#   cli/demo.sh [--media FILE|URL]   the same with an image, video or document in every message
set -euo pipefail
media=()
while [ $# -gt 0 ]; do
	case "$1" in
	--media) media=(--media "${2:?--media needs a file or a URL}"); shift 2 ;;
	*) echo "usage: cli/demo.sh [--media FILE|URL]" >&2; exit 2 ;;
	esac
done
cd "$(dirname "$0")/.."

herald=.venv/bin/herald
python=.venv/bin/python
demo_dir="${HERALD_LOCAL_DIR:-.local}/demo"
contacts="$demo_dir/contacts.csv"
body="Hi {{name|there}}, 50% OFF this week in {{city|your city}}!"

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

mkdir -p "$demo_dir"
# The seed's recipients and a few more; a duplicate and an invalid number show how an import
# reports them. The city column is a custom field the template uses.
cat > "$contacts" <<'CSV'
phone,name,city
+919876543210,John,Pune
+14155552671,Jane,San Francisco
+447911123456,Ada,London
+919812345678,Priya,Mumbai
+4915112345678,Lukas,Berlin
+5511912345678,Ana,
+14155550123,,Oakland
+919876543210,John again,Pune
12345,Broken,Nowhere
CSV

say herald campaigns create --name "'Summer Sale'" --body "'$body'" --delay-type fast "${media[@]}"
created=$("$herald" campaigns create --name "Summer Sale" --body "$body" --delay-type fast \
    "${media[@]}" --json)
campaign=$("$python" -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"$created")
echo "Created campaign $campaign (draft); the fast profile waits 2-5 s between two sends."

say herald contacts import "$campaign" "$contacts"
"$herald" contacts import "$campaign" "$contacts"

say herald campaigns send "$campaign"
"$herald" campaigns send "$campaign"

# The scheduler's sweep marks a campaign completed, every five minutes under make up; once
# every message has ended, the watch asks for a sweep now with the operator token make up wrote
# (.local/admin-token: the sweep is a system job), so this ends within seconds.
say herald campaigns watch "$campaign"
"$herald" campaigns watch "$campaign"

printf '\nMore: herald campaigns show %s | herald dead-letters list | herald queue stats |\n' \
    "$campaign"
printf 'herald accounts list | herald --help   (--json on any command, for scripts)\n'
