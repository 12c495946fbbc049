#!/usr/bin/env bash
# Fetches the Apache Kafka broker jars (version in ./VERSION) from Maven Central into
# deploy/kafka/target/libs. Idempotent: does nothing when the jars of that version are present.
#
#   deploy/kafka/fetch.sh          fetch if needed
#   deploy/kafka/fetch.sh --force  fetch again
#   deploy/kafka/fetch.sh tree     show how slf4j/log4j resolve (check the binding after a bump)
set -euo pipefail

# Debian's Maven prints stray ANSI resets even in batch mode; keep the output plain.
plain() { sed -e 's/\x1b\[[0-9;]*m//g'; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(tr -d '[:space:]' < "$here/VERSION")"
libs="$here/target/libs"
marker="$libs/kafka_2.13-$version.jar"

if ! command -v mvn >/dev/null 2>&1; then
  if [[ -f "$marker" ]]; then exit 0; fi
  echo "fetch.sh: mvn not found; install Maven (apt-get install maven) to fetch the Kafka jars" >&2
  exit 1
fi

case "${1:-}" in
  tree)
    mvn -q -B -Dstyle.color=never -f "$here/pom.xml" -Dkafka.version="$version" \
      dependency:tree -Dincludes=org.slf4j,org.apache.logging.log4j -DoutputFile=/dev/stdout 2>&1 | plain
    exit 0
    ;;
  --force) rm -rf "$libs" ;;
  "") ;;
  *) echo "usage: fetch.sh [--force|tree]" >&2; exit 2 ;;
esac

# One fetch at a time (the test runner and `mfsim stack up` may both get here).
mkdir -p "$here/target"
exec 9>"$here/target/.fetch.lock"
flock 9

if [[ -f "$marker" ]]; then
  echo "Kafka $version jars already in ${libs#"$PWD/"}"
  exit 0
fi

echo "Fetching Kafka $version jars with Maven..."
# A different version may be there: start clean so the classpath holds one Kafka only.
rm -rf "$libs"
mvn -q -B -Dstyle.color=never -f "$here/pom.xml" -Dkafka.version="$version" package 2>&1 | plain
if [[ ! -f "$marker" ]]; then
  echo "fetch.sh: mvn finished but $marker is missing" >&2
  exit 1
fi
echo "Kafka $version: $(find "$libs" -name '*.jar' | wc -l) jars in ${libs#"$PWD/"}"
