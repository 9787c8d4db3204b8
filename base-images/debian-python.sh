#!/usr/bin/env bash
# Builds the `debian-python` base image: Debian bookworm (minbase) with its python3 (3.11), as an OCI image
# layout tagged `bookworm`. No registry is involved: debootstrap fetches Debian packages from the mirror this
# machine's apt already uses, and the layout is written with tar, gzip and sha256sum alone.
#
# Usage: base-images/debian-python.sh [DEST]
#   DEST defaults to ${KILN_BASE_CACHE:-$HOME/.cache/kiln/base-images}/debian-python.
# Prints DEST as its last stdout line. Idempotent: a complete DEST (it has .kiln-complete) is reused as is.
# Needs root (debootstrap chroots and creates device nodes) and debootstrap (apt-get install debootstrap).
# Deterministic: the same packages from the same mirror give the same layer, config and manifest digests.
set -euo pipefail
export LC_ALL=C

die() { echo "debian-python.sh: $*" >&2; exit 1; }

dest=${1:-${KILN_BASE_CACHE:-$HOME/.cache/kiln/base-images}/debian-python}
if [ -f "$dest/.kiln-complete" ]; then echo "$dest"; exit 0; fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap needs it)"
PATH=$PATH:/usr/sbin:/sbin   # debootstrap lives in /usr/sbin, which a non-login shell may lack
command -v debootstrap >/dev/null || die "debootstrap not found: install it: apt-get install debootstrap"

# The mirror: the machine's own apt sources (deb822 .sources first, then sources.list), so no host name is
# written here. Prefer an entry that lists the bookworm suite; else any entry that is not the security archive.
best="" any=""
consider() { # consider URI SUITES...
  local uri=$1; shift
  case $uri in http://*|https://*|file:/*) ;; *) return ;; esac
  case " $* " in *" bookworm "*) [ -n "$best" ] || best=$uri ;; esac
  case $uri in *security*) ;; *) [ -n "$any" ] || any=$uri ;; esac
}
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  uris="" suites=""
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      URIs:*) uris=${line#URIs:} ;;
      Suites:*) suites=${line#Suites:} ;;
      "") for u in $uris; do consider "$u" $suites; done; uris="" suites="" ;;
    esac
  done <"$f"
  for u in $uris; do consider "$u" $suites; done
done
if [ -f /etc/apt/sources.list ]; then
  while read -r type rest; do
    [ "$type" = deb ] || continue
    case $rest in \[*) rest=${rest#*]} ;; esac   # drop [ options ]
    set -- $rest; [ $# -ge 2 ] && consider "$1" "$2"
  done </etc/apt/sources.list
fi
mirror=${best:-$any}
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"

# Build in a hidden directory beside DEST and rename it into place only when complete.
parent=$(dirname "$dest"); mkdir -p "$parent"
work=$(mktemp -d "$parent/.debian-python.XXXXXX")
cleanup() {
  for m in proc sys dev/pts; do mountpoint -q "$work/rootfs/$m" 2>/dev/null && umount -l "$work/rootfs/$m"; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
root=$work/rootfs

if ! debootstrap --arch=amd64 --variant=minbase --include=python3 bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 5 "$work/debootstrap.log" >&2
  die "debootstrap failed (mirror $mirror)"
fi

# Remove what differs from one run to the next or belongs to the build machine, not the image:
# package caches and lists, logs, device nodes (the runtime makes /dev), the host's resolv.conf and hostname,
# .pyc files (python3's postinst compiles them; marshal output is not byte-stable), dpkg/debconf backups,
# ldconfig's aux cache (inode numbers), and the password-change day in shadow (the build date).
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/dev/* "$root"/run/* "$root"/tmp/* \
  "$root"/var/tmp/* "$root"/var/cache/ldconfig/aux-cache "$root"/var/lib/dpkg/*-old "$root"/var/cache/debconf/*-old \
  "$root"/etc/hostname
find "$root/var/log" -type f -delete
find "$root" -xdev -depth -type d -name __pycache__ -exec rm -rf {} +
mkdir -p "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"
: >"$root/etc/resolv.conf"
[ ! -e "$root/etc/machine-id" ] || : >"$root/etc/machine-id"
sed -i -E 's/^([^:]*:[^:]*:)[0-9]*:/\1:/' "$root/etc/shadow"

# The layer: one tar of the root, sorted, with fixed times and no atime/ctime, then gzip without name or time.
# Numeric owners are kept as debootstrap made them (root, and base-passwd's fixed groups such as shadow),
# so that /etc/shadow and the setgid tools keep their group.
lay=$work/layout
mkdir -p "$lay/blobs/sha256"
tar -C "$root" --sort=name --mtime=@0 --numeric-owner --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -6 -c "$work/layer.tar" >"$work/layer.tar.gz"
rm -f "$work/layer.tar"

blob() { # blob FILE -> moves FILE into blobs/, prints "digest size"
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1); s=$(stat -c %s "$1")
  mv "$1" "$lay/blobs/sha256/$d"
  echo "$d $s"
}
read -r layer_digest layer_size < <(blob "$work/layer.tar.gz")

# JSON with sorted keys and no whitespace, as Kiln writes its own.
created=1970-01-01T00:00:00Z
printf '%s' '{"architecture":"amd64","config":{"Cmd":["python3"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},' \
  "\"created\":\"$created\",\"history\":[{\"created\":\"$created\",\"created_by\":\"base-images/debian-python.sh: debootstrap --variant=minbase --include=python3 bookworm\"}]," \
  "\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[\"sha256:$diff_id\"],\"type\":\"layers\"}}" >"$work/config.json"
read -r config_digest config_size < <(blob "$work/config.json")

printf '%s' "{\"config\":{\"digest\":\"sha256:$config_digest\",\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":$config_size}," \
  "\"layers\":[{\"digest\":\"sha256:$layer_digest\",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":$layer_size}]," \
  '"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}' >"$work/manifest.json"
read -r manifest_digest manifest_size < <(blob "$work/manifest.json")

printf '%s' '{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"bookworm"},' \
  "\"digest\":\"sha256:$manifest_digest\",\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," \
  "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"size\":$manifest_size}]," \
  '"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}' >"$lay/index.json"
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
# The marker last: its presence means the layout is whole. It names the manifest and where the packages came from.
printf 'sha256:%s %s\n' "$manifest_digest" "$mirror" >"$lay/.kiln-complete"

rm -rf --one-file-system "$dest"
mv "$lay" "$dest"
echo "$dest"
