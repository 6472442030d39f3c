#!/usr/bin/env bash
# Installs with apt-get only the Debian packages that are missing; a quick no-op when all are
# present. Called by `make deps` (and so by `make demo` and `make test`). Then the real docker
# client, unpacked from Debian's docker.io into build/docker-cli/docker without installing the
# package (installing it would start Debian's own dockerd): the tests drive our daemon with it.
# The list is what the lessons, scripts and tests call beyond a minimal Debian 12 root
# (debootstrap --variant=minbase: tests/deps/minbase-packages.txt); tests/00-deps.bats checks
# that every command they call comes from one of the two lists.
#   install-deps.sh          install what is missing
#   install-deps.sh --list   print the packages, one a line
set -euo pipefail

packages=(
  g++ make pkg-config binutils  # the compiler and build; readelf (lesson 03)
  libcli11-dev                  # command-line options
  libfmt-dev                    # formatting
  nlohmann-json3-dev            # --json output
  libgtest-dev                  # unit tests (GoogleTest)
  bats bats-support bats-assert # tests of the binaries as a user runs them
  busybox-static                # the rootfs that lessons run in
  util-linux                    # unshare, nsenter, setpriv, findmnt (demo.sh and tests)
  iproute2 iptables iputils-ping # network lessons and leak check
  libnl-3-dev libnl-route-3-dev # netlink for the bridge lesson
  libseccomp-dev libcap-dev     # final/'s runtime: seccomp filters, capability sets
  runc crun                     # final/'s runtime checked against the real ones (tests, bench)
  tini                          # run --init: its tini-static is Docker's docker-init
  podman                        # final/minirunc under a real engine (tests/13; pulls conmon)
  conmon                        # the monitor podman runs each container under (tests/13)
  libarchive-dev libssl-dev libcurl4-openssl-dev # final/'s images: tar layers, sha256, registry
  libboost-dev                  # final/daemon: Boost.Beast, HTTP on a unix socket (header-only)
  python3-docker                # final/daemon driven by docker-py, the Docker SDK (tests/45)
  skopeo umoci docker-registry  # final/'s images checked against real tools (tests, bench)
  curl bc                       # a registry's /v2/ probed (tests); bench figures divided
  procps psmisc jq python3      # ps, pkill, sysctl, JSON checks in tests; tests/35's pty driver
  libcap2-bin                   # capsh (lesson 03 tests: a demo without CAP_SYS_ADMIN)
  attr                          # setfattr, getfattr (lesson 05: whiteouts and opaque dirs)
  kmod                          # modprobe overlay (tests/helpers.bash, doctor's fix)
  clang-format shellcheck       # make format, script checks
  qemu-system-x86 cpio xz-utils # the pure cgroup v2 VM test (tests/vm; prepare.sh unpacks .xz)
)

if [[ ${1:-} == --list ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]}; run make deps as root (or with sudo)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Update the package lists only if an install from the current ones fails: usually they are
  # fresh.
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# The docker client alone: apt-get download fetches the .deb without installing it (so no
# dockerd, containerd or docker group appear on this host), and only usr/bin/docker is unpacked.
docker_cli_dir="$(cd "$(dirname "$0")/.." && pwd)/build/docker-cli"
if [[ ! -x $docker_cli_dir/docker ]]; then
  echo "install-deps: unpacking the docker client from Debian's docker.io into $docker_cli_dir"
  mkdir -p "$docker_cli_dir"
  download=$(mktemp -d)
  trap 'rm -rf "$download"' EXIT
  # apt's sandbox user cannot write to a directory of ours: we download as ourselves instead.
  if ! (cd "$download" && apt-get download -q -o APT::Sandbox::User=root docker.io); then
    [[ $(id -u) -eq 0 ]] && apt-get update -q
    (cd "$download" && apt-get download -q -o APT::Sandbox::User=root docker.io)
  fi
  dpkg-deb --fsys-tarfile "$download"/docker.io_*.deb | tar -xO ./usr/bin/docker \
    >"$docker_cli_dir/docker.tmp"
  chmod 0755 "$docker_cli_dir/docker.tmp"
  mv "$docker_cli_dir/docker.tmp" "$docker_cli_dir/docker"
fi

# Debian's dockerd and containerd, for the daemon's bench only (final/bench-daemon.sh runs them
# in namespaces of its own, on directories of its own, and stops them): unpacked the same way
# into build/dockerd, never installed. A step of its own, after the client's: a failed download
# here leaves the client in place and only the bench's dockerd figures go. dockerd finds
# containerd and containerd finds its shim on PATH; runc and tini (docker-init is Debian's
# tini-static) are installed above; docker-proxy is not needed (the bench runs dockerd with
# --userland-proxy=false).
dockerd_dir="$(cd "$(dirname "$0")/.." && pwd)/build/dockerd"
# Each step answers for itself (errexit does not hold in a function called as an if's test).
unpack_dockerd() {
  cd "$1" || return 1
  if ! apt-get download -q -o APT::Sandbox::User=root docker.io containerd; then
    [[ $(id -u) -ne 0 ]] || apt-get update -q || return 1
    apt-get download -q -o APT::Sandbox::User=root docker.io containerd || return 1
  fi
  mkdir -p x "$dockerd_dir" || return 1
  dpkg-deb --fsys-tarfile docker.io_*.deb | tar -C x -x ./usr/sbin/dockerd || return 1
  dpkg-deb --fsys-tarfile containerd_*.deb |
    tar -C x -x ./usr/bin/containerd ./usr/bin/containerd-shim-runc-v2 || return 1
  mv x/usr/sbin/dockerd x/usr/bin/containerd x/usr/bin/containerd-shim-runc-v2 "$dockerd_dir/" ||
    return 1
  ln -sfn /usr/bin/tini-static "$dockerd_dir/docker-init"
}
if [[ ! -x $dockerd_dir/dockerd || ! -x $dockerd_dir/containerd || ! -x $dockerd_dir/containerd-shim-runc-v2 ]]; then
  echo "install-deps: unpacking dockerd and containerd from Debian's docker.io and containerd into $dockerd_dir"
  dockerd_download=$(mktemp -d)
  if ! (unpack_dockerd "$dockerd_download"); then
    echo "install-deps: could not unpack dockerd into $dockerd_dir; make bench will not measure it" >&2
  fi
  rm -rf "$dockerd_download"
fi
