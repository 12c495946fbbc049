#!/usr/bin/env bash
# Checks the container setup WITHOUT a Docker engine (none on the development machines):
#   1. docker-compose.yml parses, interpolates and validates (`config -q`);
#   2. services/<name>/Dockerfile are exactly what deploy/compose/service.Dockerfile.in renders;
#   3. .env's KAFKA_VERSION equals deploy/kafka/VERSION (the broker the tests fetch from Maven);
#   4. every services/<name> has a Dockerfile and a compose service of the same name.
# It cannot build an image or start a container; see deploy/compose/README.md.
#
# Needs a compose client: Debian's `docker-compose` (v1, `apt-get install docker-compose`) or
# the `docker compose` v2 plugin. Exits non-zero on the first kind of failure it finds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
fail=0

# 1. compose file
if command -v docker-compose > /dev/null 2>&1; then
  compose=(docker-compose)
elif docker compose version > /dev/null 2>&1; then
  compose=(docker compose)
else
  echo "check: no compose client (apt-get install docker-compose)" >&2
  exit 2
fi
if "${compose[@]}" -f docker-compose.yml config -q; then
  echo "ok   ${compose[*]} -f docker-compose.yml config -q ($("${compose[@]}" version --short 2>/dev/null || echo '?'))"
else
  echo "FAIL ${compose[*]} -f docker-compose.yml config -q" >&2
  fail=1
fi

# 2. generated Dockerfiles
if "$here/dockerfiles.sh" check; then
  echo "ok   services/*/Dockerfile match deploy/compose/service.Dockerfile.in"
else
  fail=1
fi

# 3. one Kafka version
env_kafka="$(sed -n 's/^KAFKA_VERSION=//p' .env | tr -d '[:space:]')"
if [[ -f deploy/kafka/VERSION ]]; then
  maven_kafka="$(tr -d '[:space:]' < deploy/kafka/VERSION)"
  if [[ "$env_kafka" == "$maven_kafka" ]]; then
    echo "ok   Kafka $env_kafka in .env and deploy/kafka/VERSION"
  else
    echo "FAIL .env KAFKA_VERSION=$env_kafka but deploy/kafka/VERSION=$maven_kafka" >&2
    fail=1
  fi
else
  echo "skip deploy/kafka/VERSION not found (.env has KAFKA_VERSION=$env_kafka)"
fi

# 4. one image and one compose service per service folder
services_in_compose="$("${compose[@]}" -f docker-compose.yml config --services)"
for dir in services/*/; do
  name="$(basename "$dir")"
  [[ -f "$dir/package.json" ]] || continue
  if [[ ! -f "$dir/Dockerfile" ]]; then
    echo "FAIL services/$name has no Dockerfile (add it to deploy/compose/dockerfiles.sh)" >&2
    fail=1
  fi
  if ! grep -qx "$name" <<< "$services_in_compose"; then
    echo "FAIL services/$name has no service in docker-compose.yml" >&2
    fail=1
  fi
done
[[ "$fail" == 0 ]] && echo "ok   every services/<name> has a Dockerfile and a compose service"

exit "$fail"
