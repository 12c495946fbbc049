#!/usr/bin/env bash
# Writes or checks services/<name>/Dockerfile from deploy/compose/service.Dockerfile.in.
#
#   deploy/compose/dockerfiles.sh write   regenerate all five Dockerfiles
#   deploy/compose/dockerfiles.sh check   exit 1 if any Dockerfile differs from the template
#
# The five services share one image recipe; only the name and the default HTTP port
# (docs/conventions.md) differ. Keeping them generated stops the copies drifting apart.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
template="$here/service.Dockerfile.in"

# name:default HTTP_PORT, as in docs/conventions.md
services=(pmem-driver:7101 dax-core:7102 dm-mapper:7103 xfs-fs:7104 mm-process:7105)

render() { # name port
  sed -e "s/@@SERVICE@@/$1/g" -e "s/@@PORT@@/$2/g" "$template"
}

mode="${1:-}"
case "$mode" in
  write | check) ;;
  *) echo "usage: $0 write|check" >&2; exit 2 ;;
esac

status=0
for entry in "${services[@]}"; do
  name="${entry%%:*}"
  port="${entry##*:}"
  target="$root/services/$name/Dockerfile"
  if [[ "$mode" == write ]]; then
    render "$name" "$port" > "$target"
    echo "wrote services/$name/Dockerfile"
  elif ! diff -u "$target" <(render "$name" "$port") > /dev/null 2>&1; then
    echo "services/$name/Dockerfile differs from deploy/compose/service.Dockerfile.in (run: $0 write)" >&2
    status=1
  fi
done
exit "$status"
