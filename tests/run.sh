#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need when it is missing, builds the whole solution
# (warnings are errors), runs each test project with xunit's own runner and ends with one plain line of real counts:
#   tests: N passed, N failed[, N skipped]
set -uo pipefail
cd "$(dirname "$0")/.."

need() { # need <command> <debian package>: install the package when the command is missing
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "installing $2 (for $1)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; else sudo apt-get install -y -qq "$2" >/dev/null; fi
}
need dotnet dotnet-sdk-10.0
need socat socat            # the serial carrier test makes a pseudo-terminal pair with it
need chromium chromium      # the dashboard test drives Debian's headless chromium with Playwright (never `playwright install`)
need ss iproute2            # the JSON-lines keepalive test reads the broker's socket timers with ss
need python3 python3        # the Python client and example tests run a real python3 against the broker (they must not skip)
# the venv it makes needs Debian's ensurepip (python3-venv) and wheel (python3-wheel) to pip install offline
/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || need python3-venv python3-venv
/usr/bin/python3 -c 'import wheel' 2>/dev/null || need python3-wheel python3-wheel
need pytest-3 python3-pytest # the Python package test runs its pytest suite in a venv over Debian's python3 (PyPI is not reachable)
need redis-server redis-server # the cluster tests start real redis-server processes on free ports (Debian's is 7.0)
need script bsdutils        # the CLI terminal tests run commands on a real pseudo-terminal with util-linux script

results=artifacts/test-results
rm -rf "$results" && mkdir -p "$results"

if ! dotnet build Switchboard.sln -c Release -nologo -v quiet; then
  echo "build failed"
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

status=0
for project in tests/*/*.Tests.csproj; do
  name=$(basename "$project" .csproj)
  # Each project is bounded: a hung test fails the run instead of hanging CI.
  timeout --kill-after=30 1500 dotnet run --project "$project" -c Release --no-build -- -xml "$results/$name.xml" -parallel collections || status=1
done

passed=0; failed=0; skipped=0; errors=0
for xml in "$results"/*.xml; do
  [ -f "$xml" ] || continue
  line=$(grep -o '<assembly [^>]*>' "$xml" | head -1)
  get() { echo "$line" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  passed=$((passed + $(get passed))); failed=$((failed + $(get failed)))
  skipped=$((skipped + $(get skipped))); errors=$((errors + $(get errors)))
done
failed=$((failed + errors))
[ "$failed" -gt 0 ] && status=1
[ "$passed" -eq 0 ] && status=1

summary="tests: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
exit $status
