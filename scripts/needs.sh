#!/usr/bin/env bash
# Installs the Debian packages a task needs, only those missing; quiet when all are there.
# Usage: bash scripts/needs.sh build|example|test
# As root it uses apt-get; otherwise sudo -n if that works; otherwise it prints the apt-get line and fails.
set -euo pipefail
build=(libarchive-dev zlib1g-dev libzstd-dev libisal-dev pkg-config)
# The example: debootstrap makes the debian-python base, runc runs the image, python3-venv trains the model.
example=("${build[@]}" debootstrap runc python3 python3-venv ca-certificates)
# The tests: the independent tools that read Kiln's output, the registry, and the peers' needs.
# python3-pip-whl is the pip wheel the sklearn-diabetes python channel packages; podman runs Kiln's images;
# libfuse2 is what fusepy (an sdist the tests build into an image) loads there; qemu-user runs kiln on models of
# other x86-64 CPUs, to check that ISA-L's per-CPU deflate code gives the same layers.
test=("${example[@]}" libssl-dev skopeo umoci busybox-static oci-image-tool tar gzip docker-registry apache2-utils
      python3-cryptography openssl zstd python3-pip-whl podman strace libfuse2 qemu-user)
case "${1:-}" in
  build) wanted=("${build[@]}") ;;
  example) wanted=("${example[@]}") ;;
  test) wanted=("${test[@]}") ;;
  *) echo "usage: $0 build|example|test" >&2; exit 2 ;;
esac
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else
  echo "kiln: missing Debian packages; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "kiln: installing ${missing[*]}" >&2
# The settings go through env, which sudo's env_reset would drop. A fresh machine (a minbase root, a bare
# container) has no apt-utils and may have no /dev/pts: no debconf warning, no dpkg log written through a pty.
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get)
"${apt[@]}" update -qq
"${apt[@]}" install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}" >/dev/null
