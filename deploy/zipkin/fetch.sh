#!/usr/bin/env bash
# Fetches the Zipkin server jar (io.zipkin:zipkin-server:<VERSION>:exec, version in ./VERSION) from
# Maven Central into deploy/zipkin/target. Idempotent: does nothing when the jar of that version is
# present.
#
#   deploy/zipkin/fetch.sh          fetch if needed
#   deploy/zipkin/fetch.sh --force  fetch again
set -euo pipefail

# Debian's Maven prints stray ANSI resets even in batch mode; keep the output plain.
plain() { sed -e 's/\x1b\[[0-9;]*m//g'; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(tr -d '[:space:]' < "$here/VERSION")"
target="$here/target"
jar="$target/zipkin-server-$version-exec.jar"

if ! command -v mvn >/dev/null 2>&1; then
  if [[ -f "$jar" ]]; then exit 0; fi
  echo "fetch.sh: mvn not found; install Maven (apt-get install maven) to fetch the Zipkin server jar" >&2
  exit 1
fi

case "${1:-}" in
  --force) rm -f "$target"/zipkin-server-*-exec.jar ;;
  "") ;;
  *) echo "usage: fetch.sh [--force]" >&2; exit 2 ;;
esac

# One fetch at a time (the test runner and `mfsim stack up` may both get here).
mkdir -p "$target"
exec 9>"$target/.fetch.lock"
flock 9

if [[ -f "$jar" ]]; then
  echo "Zipkin $version jar already in ${jar#"$PWD/"}"
  exit 0
fi

echo "Fetching the Zipkin $version server jar with Maven..."
# Another version may be there: keep one jar only.
rm -f "$target"/zipkin-server-*-exec.jar
mvn -q -B -Dstyle.color=never -f "$here/pom.xml" -Dzipkin.version="$version" package 2>&1 | plain
if [[ ! -f "$jar" ]]; then
  echo "fetch.sh: mvn finished but $jar is missing" >&2
  exit 1
fi
echo "Zipkin $version: $(du -m "$jar" | cut -f1) MB in ${jar#"$PWD/"}"
