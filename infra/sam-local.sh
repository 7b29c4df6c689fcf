#!/usr/bin/env bash
# The AWS SAM CLI, run locally and offline: `sam validate`, `sam build`, `sam local invoke` and
# `sam local start-api` of template.yaml, with the arm64 functions running in Docker under qemu.
#
#   infra/sam-local.sh install   Docker (Debian's docker.io) and qemu-user-static with apt, and
#                                infra/.sam-venv with pinned aws-sam-cli, cargo-lambda and ziglang
#   infra/sam-local.sh start     arm64 emulation (binfmt), a loopback-only Docker daemon, and the
#                                stand-in base image SAM asks for (no registry is needed)
#   infra/sam-local.sh sam ARGS  runs `sam ARGS` in the repository with the environment below
#   infra/sam-local.sh clean     removes containers SAM left (a killed `sam local start-api`)
#   infra/sam-local.sh stop      removes SAM's containers, stops the daemon this script started,
#                                unregisters the emulation it registered
#
# `sam` always runs with telemetry off, no AWS credentials and no instance-metadata probing, and
# `sam local …` with --skip-pull-image: nothing it does asks AWS or a registry for anything. The
# daemon has no bridge network; SAM's Lambda containers share the host's network namespace
# (infra/sam-hook), like any local process, which is how they reach a DynamoDB-API server on
# 127.0.0.1. Images stay in /var/lib/byoc-docker (BYOC_DOCKER_ROOT) between runs.
# Needs root (apt, dockerd, binfmt_misc), as CI has.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="${BYOC_SAM_VENV:-$ROOT/infra/.sam-venv}"
STATE="$VENV/state"
# Pinned: the versions this recipe was checked with (SAM 1.170 builds `…:al2023-rapid-arm64` on the
# base image; cargo-lambda drives Zig as the cross linker).
SAM_SPECS=(aws-sam-cli==1.170.0 cargo-lambda==1.9.2 ziglang==0.17.1)
# The base image SAM asks for (runtime provided.al2023, arm64) and the one it builds on top.
BASE_IMAGE="public.ecr.aws/lambda/provided:al2023-arm64"
RAPID_IMAGE="public.ecr.aws/lambda/provided:al2023-rapid-arm64"
DOCKER_SOCK="unix://$STATE/docker.sock"

log() { echo "sam-local: $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install() {
  local need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  [ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
  if [ "${#need[@]}" -gt 0 ]; then
    log "apt-get install ${need[*]}"
    # A fresh machine may have no package lists yet: update once if the install cannot find them.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      "${need[@]}" >/dev/null 2>&1 || {
      as_root apt-get update -q >/dev/null
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        "${need[@]}" >/dev/null
    }
  fi
  mkdir -p "$VENV"
  exec 9>"$VENV/.install.lock"
  flock 9
  if [ ! -f "$VENV/.installed" ] || [ "$(cat "$VENV/.installed")" != "${SAM_SPECS[*]}" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${SAM_SPECS[@]}" >&2
    echo "${SAM_SPECS[*]}" >"$VENV/.installed"
  fi
  flock -u 9
}

docker_() { docker -H "$DOCKER_SOCK" "$@"; }

binfmt_start() {
  local dir=/proc/sys/fs/binfmt_misc
  if [ ! -e "$dir/register" ]; then
    as_root mount -t binfmt_misc binfmt_misc "$dir"
    touch "$STATE/binfmt-mounted"
  fi
  if [ ! -e "$dir/qemu-aarch64" ]; then
    # Debian's line, flags OPF: F opens the interpreter now, so it works inside containers.
    as_root sh -c "cat /usr/lib/binfmt.d/qemu-aarch64.conf > $dir/register"
    touch "$STATE/binfmt-registered"
  fi
}

dockerd_start() {
  if docker_ info >/dev/null 2>&1; then return 0; fi
  # No bridge and no iptables: no network of its own for containers to route through.
  as_root dockerd --host "$DOCKER_SOCK" --pidfile "$STATE/dockerd.pid" \
    --data-root "${BYOC_DOCKER_ROOT:-/var/lib/byoc-docker}" --exec-root "$STATE/exec" \
    --bridge=none --iptables=false --ip6tables=false >"$STATE/dockerd.log" 2>&1 &
  for _ in $(seq 1 150); do
    if docker_ info >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  log "dockerd did not start; log:"
  cat "$STATE/dockerd.log" >&2
  return 1
}

# The stand-in for Amazon's provided:al2023 arm64 image, which no registry here can serve: glibc,
# libgcc and busybox (for the `mv` / `chmod` of SAM's own layer) from Debian's arm64 packages,
# and the CA bundle where Amazon Linux 2023 keeps it. Rebuilt when its recipe changes; SAM's
# rapid image on top is then deleted so SAM rebuilds it.
base_image() {
  local recipe="libc6 libgcc-s1 busybox-static ca-bundle:/etc/pki/tls/certs/ca-bundle.crt v1"
  local tag
  tag="$(echo "$recipe" | sha256sum | cut -c1-12)"
  if [ "$(docker_ image inspect -f '{{index .Config.Labels "byoc.recipe"}}' "$BASE_IMAGE" 2>/dev/null)" = "$tag" ]; then
    return 0
  fi
  log "building the stand-in $BASE_IMAGE"
  local work="$STATE/base"
  rm -rf "$work" && mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/debs" "$work/rootfs"
  local apt_opts=(-o APT::Architecture=arm64 -o "APT::Architectures::=arm64"
    -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
    -o Dir::State::status=/dev/null -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -q >/dev/null
  (cd "$work/debs" && apt-get "${apt_opts[@]}" download -q libc6:arm64 libgcc-s1:arm64 busybox-static:arm64 >/dev/null)
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/rootfs"; done
  local rootfs="$work/rootfs"
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/var/task" "$rootfs/var/runtime" "$rootfs/etc/pki/tls/certs"
  for tool in sh mv chmod cp ls cat rm mkdir; do ln -sf busybox "$rootfs/bin/$tool"; done
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/pki/tls/certs/ca-bundle.crt"
  tar -C "$rootfs" -c . | docker_ import --platform linux/arm64 \
    --change "LABEL byoc.recipe=$tag" --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'WORKDIR /var/task' - "$BASE_IMAGE" >/dev/null
  docker_ rmi -f "$RAPID_IMAGE" >/dev/null 2>&1 || true
}

start() {
  install
  mkdir -p "$STATE"
  binfmt_start
  dockerd_start
  base_image
  log "ready (docker at $DOCKER_SOCK)"
}

# Containers SAM left behind (a killed `sam local start-api` leaves its own).
remove_containers() {
  local ids
  ids="$(docker_ ps -aq --filter "ancestor=$RAPID_IMAGE" 2>/dev/null || true)"
  if [ -n "$ids" ]; then docker_ rm -f $ids >/dev/null 2>&1 || true; fi
}

stop() {
  [ -d "$STATE" ] || return 0
  if docker_ info >/dev/null 2>&1; then remove_containers; fi
  if [ -f "$STATE/dockerd.pid" ]; then
    local pid
    pid="$(cat "$STATE/dockerd.pid" 2>/dev/null || true)"
    # Only the daemon this script started: a stale pid file may name a reused pid.
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
      as_root kill "$pid"
      for _ in $(seq 1 100); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
    fi
    rm -f "$STATE/dockerd.pid"
  fi
  # dockerd leaves its network-namespace mount under the exec root.
  grep -o " $STATE/exec[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r mnt; do
    as_root umount "$mnt" 2>/dev/null || true
  done
  if [ -f "$STATE/binfmt-registered" ]; then
    as_root sh -c 'echo -1 > /proc/sys/fs/binfmt_misc/qemu-aarch64' 2>/dev/null || true
    rm -f "$STATE/binfmt-registered"
  fi
  if [ -f "$STATE/binfmt-mounted" ]; then
    as_root umount /proc/sys/fs/binfmt_misc 2>/dev/null || true
    rm -f "$STATE/binfmt-mounted"
  fi
}

sam_() {
  # Only the variables sam needs; AWS credentials and profiles stay out.
  exec env -i \
    HOME="$STATE/home" PATH="$VENV/bin:$HOME/.cargo/bin:/usr/local/bin:/usr/bin:/bin" \
    RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" \
    DOCKER_HOST="$DOCKER_SOCK" PYTHONPATH="$ROOT/infra/sam-hook" \
    SAM_CLI_TELEMETRY=0 SAM_CLI_CONTAINER_CONNECTION_TIMEOUT=60 \
    AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    LANG=C.UTF-8 "$VENV/bin/sam" "$@"
}

if [ "$(id -u)" != 0 ] && ! sudo -n true 2>/dev/null; then
  echo "sam-local: needs root (apt, dockerd, binfmt_misc) or passwordless sudo" >&2
  exit 1
fi

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  sam)
    shift
    mkdir -p "$STATE/home"
    # `sam local invoke|start-api|start-lambda` would otherwise try to pull the base image.
    if [ "${1:-}" = local ]; then set -- "$@" --skip-pull-image; fi
    sam_ "$@"
    ;;
  clean) if docker_ info >/dev/null 2>&1; then remove_containers; fi ;;
  *) echo "usage: $0 install|start|stop|clean|sam ARGS…" >&2; exit 2 ;;
esac
