#!/usr/bin/env bash
# Benchmark: kiln against peers doing the same work in the same run.
#   layers: 1. a 1 GiB incompressible file plus about 40 MB of text; 2. a directory of 200,000 small files.
#           Peers: `umoci insert` (writes a gzip layer into an OCI layout) and `tar | gzip -1 | sha256sum`; the
#           floor is `tar | openssl dgst -sha256` (reading and hashing once). BENCH_ROUNDS (default 3) interleaved
#           rounds of each; medians.
#   conda:  kiln against py-rattler (from .venv-peers, which .ci/run creates), cold each time (no solver cache
#           exists), on four channels: a synthetic one of 100,032 records (scripts/synthetic_repodata.py); real 2018
#           defaults repodata (fixtures/conda-real/.../index4.json, 5,643 records, wrapped into a channel); the real
#           conda-forge closure of numpy (mamba's test repodata, 34 records); a small hard one with tight, conflicting
#           ranges (scripts/hard_repodata.py). Each solver gets `timeout ${KILN_SOLVE_TIMEOUT:-300}` seconds. Prints
#           both peak RSS and record counts, and whether both chose the same name=version set. docs/solver-bench.md.
#   pip:    resolving and installing fixtures/pypi/ml-requirements.txt (55 wheels for cp311 manylinux_2_28 x86_64,
#           from a loopback index over the wheels fixtures/pypi/fill_index.sh downloads), kiln against
#           `uv pip install --target`, with cold caches and then warm ones, taking turns for BENCH_ROUNDS rounds (`turns`).
#   envlayers: an environment into finished gzip layers with `kiln build`, against a peer installing it into a directory:
#           (a) fixtures/pypi/ml-requirements.txt over the debian-python base, against `uv pip install --target`;
#           (b) a conda environment of Debian's python made a conda package, against py-rattler's install. Cold, then warm,
#           taking turns for BENCH_ROUNDS rounds (`turns`).
#   push:   the 1 GiB + 40 MB input of `layers`, built straight into a loopback distribution registry
#           (`docker-registry`), cold (an empty layer cache): kiln streams each layer while it writes it, so build + push
#           should cost about what the upload alone costs. Peer: `curl` uploading a 1 GiB blob (POST, then one
#           monolithic PUT); also kiln with KILN_STREAM_PUSH=0 (build, then upload) and the build alone (to oci:), the four
#           taking turns for BENCH_ROUNDS (default 3) rounds, medians printed.
#           Then a warm rebuild: the model plus a code folder pushed once, one line of score.py edited, built and
#           pushed again with the layer cache; its time, and the registry's access log of that push.
# Prints wall times, ratios and kiln's peak RSS. Layers and push: kiln / peer (below 1 means kiln is faster), and
# the hashing floor; conda and pip: peer / kiln (above 1 means kiln is faster).
# Usage: bash scripts/bench.sh [layers|conda|pip|envlayers|push]   (default: all)
# Needs: swift, umoci, GNU time, curl, docker-registry (apt-get install time umoci curl docker-registry).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-$(mktemp -d /var/tmp/kiln-bench.XXXXXX)}
mkdir -p "$work"
registry_pid=
trap '[ -z "$registry_pid" ] || kill "$registry_pid" 2>/dev/null; rm -rf "$work"' EXIT
swift build -c release --product kiln >/dev/null
kiln=$(swift build -c release --show-bin-path)/kiln

only=${1:-all}

# Runs a command, printing "seconds max_rss_kib". Dirty pages are written back first, so no contender pays
# for the writeback of the inputs or of the one before it.
measure() {
  sync
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  cat "$work/time"
}

# The median of its arguments (an odd count; for an even one, the upper middle).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int(NR / 2) + 1] }'; }

# Each contender runs $rounds times, the contenders taking turns, so that the file system's state after the one
# before (writeback, reclaim, the inodes of deleted files that ext4 skips for a while) falls on all of them alike;
# each line gives the medians and every time.
rounds=${BENCH_ROUNDS:-3}

# turns KILN_FN PEER_FN: $rounds rounds of a cold run (caches of the round's own, empty) and a warm one (the same
# caches again) of each side; the side that goes first alternates. Each function gets the round and the phase and
# prints "seconds max_rss_kib" (`measure`). Sets k_cold, k_warm, p_cold, p_warm (space-separated times) and
# k_cold_rss, k_warm_rss.
turns() {
  k_cold=; k_warm=; p_cold=; p_warm=; k_cold_rss=; k_warm_rss=
  local round phase side t r order
  for round in $(seq "$rounds"); do
    for phase in cold warm; do
      if [ $((round % 2)) -eq 1 ]; then order="k p"; else order="p k"; fi
      for side in $order; do
        if [ "$side" = k ]; then
          read -r t r < <("$1" "$round" "$phase")
          if [ "$phase" = cold ]; then k_cold+="$t "; k_cold_rss+="$r "; else k_warm+="$t "; k_warm_rss+="$r "; fi
        else
          read -r t r < <("$2" "$round" "$phase")
          if [ "$phase" = cold ]; then p_cold+="$t "; else p_warm+="$t "; fi
        fi
      done
    done
  done
}

# phase_medians cold|warm: after `turns`, that phase's times of each side (k, p) and their medians (k_time, p_time,
# and kiln's peak RSS k_rss).
phase_medians() {
  if [ "$1" = cold ]; then k=$k_cold; p=$p_cold; r=$k_cold_rss; else k=$k_warm; p=$p_warm; r=$k_warm_rss; fi
  # shellcheck disable=SC2086
  k_time=$(median $k); p_time=$(median $p); k_rss=$(median $r)
}

# uv_install TARGET CACHE: `uv pip install --target` of $requirements from $index, measured.
uv_install() {
  rm -rf "$1"
  measure env UV_CACHE_DIR="$2" UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1 .venv-peers/bin/uv pip install --quiet \
    --target "$1" --python-version 3.11 --python-platform x86_64-manylinux_2_28 --index-url "$index" -r "$requirements"
}

if [ "$only" = all ] || [ "$only" = conda ]; then
  limit=${KILN_SOLVE_TIMEOUT:-300}
  # Wraps a flat {filename: record} index, or repodata without `info`, into a file:// channel: one
  # repodata.json per record's subdir (linux-64 when a record names none), `.conda` files under packages.conda.
  # A null `depends` (mamba's numpy closure has some) becomes [], which py-rattler needs.
  wrap_channel() {
    python3 - "$1" "$2" <<'PY'
import json, os, sys
data = json.load(open(sys.argv[1]))
records = {**data.get("packages", {}), **data.get("packages.conda", {})} if "packages" in data else data
subdirs = {"linux-64": {}, "noarch": {}}
for fn, record in records.items():
    record.update({key: [] for key in ("depends", "constrains") if key in record and record[key] is None})
    subdirs.setdefault(record.get("subdir") or ("noarch" if record.get("noarch") else "linux-64"), {})[fn] = record
for subdir, recs in subdirs.items():
    os.makedirs(os.path.join(sys.argv[2], subdir), exist_ok=True)
    with open(os.path.join(sys.argv[2], subdir, "repodata.json"), "w") as f:
        json.dump({"info": {"subdir": subdir}, "packages": {fn: r for fn, r in recs.items() if not fn.endswith(".conda")},
                   "packages.conda": {fn: r for fn, r in recs.items() if fn.endswith(".conda")}, "repodata_version": 1}, f)
PY
  }
  # Solves one request (a file of specs, one a line) on one channel with kiln and with py-rattler, each cold and
  # under `timeout $limit`, and prints both times, peak RSS and record counts, and whether the two agree on the
  # set of name=version (a difference is reported, not a failure).
  solve_case() {
    local name=$1 channel=$2 request=$3 specs=() line status k_out r_out k_time k_rss r_time r_rss k_user k_sys r_user r_sys
    { echo "channels: [file://$channel]"; echo "dependencies:"; sed 's/^/  - "/; s/$/"/' "$request"; } > "$work/env.yml"
    while read -r line; do specs+=(--spec "$line"); done < "$request"
    rm -f "$work/kiln-solve.txt" "$work/rattler-solve.json"
    status=0
    /usr/bin/time -f '%e %M %U %S' -o "$work/time" timeout "$limit" env KILN_CACHE_DIR="$work/cache-$name" "$kiln" env solve "$work/env.yml" \
      --glibc 2.35 --quiet > "$work/kiln-solve.txt" 2> "$work/kiln-err" || status=$?
    read -r k_time k_rss k_user k_sys < <(tail -n 1 "$work/time")
    case $status in
      0) k_out=$(printf 'kiln %6.2fs (CPU %.2fs, peak RSS %4d MiB, %d records)' "$k_time" "$(echo "$k_user + $k_sys" | bc -l)" $((k_rss / 1024)) "$(wc -l < "$work/kiln-solve.txt")") ;;
      124) k_out=$(printf 'kiln did not finish in %d s (peak RSS %4d MiB)' "$limit" $((k_rss / 1024))); k_time=$limit ;;
      *) k_out="kiln FAILED (status $status: $(tail -n 1 "$work/kiln-err"))"; k_time= ;;
    esac
    status=0
    /usr/bin/time -f '%e %M %U %S' -o "$work/time" timeout "$limit" .venv-peers/bin/python fixtures/conda/rattler_peer.py solve "$work/rattler-cache-$name" \
      --channel "file://$channel" "${specs[@]}" --virtual __unix=0=0 --virtual __linux=5.15=0 --virtual __glibc=2.35=0 \
      --virtual __archspec=1=x86_64 > "$work/rattler-solve.json" 2> "$work/rattler-err" || status=$?
    read -r r_time r_rss r_user r_sys < <(tail -n 1 "$work/time")
    case $status in
      0) r_out=$(printf 'py-rattler %6.2fs (CPU %.2fs, peak RSS %4d MiB, %d records)' "$r_time" "$(echo "$r_user + $r_sys" | bc -l)" $((r_rss / 1024)) \
           "$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$work/rattler-solve.json")") ;;
      124) r_out=$(printf 'py-rattler did not finish in %d s (peak RSS %4d MiB)' "$limit" $((r_rss / 1024))); r_time= ;;
      *) r_out="py-rattler FAILED (status $status: $(tail -n 1 "$work/rattler-err"))"; r_time= ;;
    esac
    local ratio="" same=""
    if [ -n "$k_time" ] && [ -n "$r_time" ]; then
      # When kiln ran out of time, the ratio is an upper bound.
      ratio=$(printf '(ratio %s%.2f)' "$([ -s "$work/kiln-solve.txt" ] || echo '< ')" "$(echo "$r_time / $k_time" | bc -l)")
    fi
    if [ -s "$work/kiln-solve.txt" ] && [ -s "$work/rattler-solve.json" ]; then
      same=$(python3 - "$work/kiln-solve.txt" "$work/rattler-solve.json" <<'PY'
import json, sys
kiln = dict(line.split()[:2] for line in open(sys.argv[1]) if line.strip())
rattler = {r["name"]: r["version"] for r in json.load(open(sys.argv[2]))}
differ = sorted(n for n in kiln.keys() | rattler.keys() if kiln.get(n) != rattler.get(n))
examples = ", ".join(f"{n} {kiln.get(n, '-')}/{rattler.get(n, '-')}" for n in differ[:4])
print("same solution" if not differ else f"solutions differ on {len(differ)} of {len(kiln.keys() | rattler.keys())} names (kiln/py-rattler: {examples}{', ...' if len(differ) > 4 else ''})")
PY
)
    fi
    printf '%-14s %s | %s %s%s\n' "$name" "$k_out" "$r_out" "$ratio" "${same:+, $same}"
  }

  echo "load average before the conda cases: $(cut -d' ' -f1-3 /proc/loadavg)"
  # 1. Synthetic: 100,032 records, 12 top-layer names and python 3.11.
  python3 scripts/synthetic_repodata.py "$work/channel" >/dev/null
  solve_case "solve 100k" "$work/channel" "$work/channel/request.txt"
  # 2. Real 2018 defaults repodata (conda/conda's tests/data/index4.json: linux-64 + noarch, 5,643 records).
  wrap_channel fixtures/conda-real/conda+conda/tests/data/index4.json "$work/index4"
  printf '%s\n' "python 3.6.*" numpy scipy pandas mkl matplotlib dask notebook > "$work/index4.txt"
  solve_case "index4 2018" "$work/index4" "$work/index4.txt"
  # 3. Real conda-forge closure of numpy (mamba's test repodata, 34 records, 2024).
  wrap_channel fixtures/conda-real/mamba-org+mamba/libmamba/tests/data/repodata/conda-forge-numpy-linux-64.json "$work/cf-numpy"
  printf '%s\n' numpy > "$work/cf-numpy.txt"
  solve_case "cf numpy" "$work/cf-numpy" "$work/cf-numpy.txt"
  # 4. Hard: tight, conflicting ranges and many builds (scripts/hard_repodata.py, default size).
  python3 scripts/hard_repodata.py "$work/hard" >/dev/null
  solve_case "hard 96" "$work/hard" "$work/hard/request.txt"
  echo "load average after the conda cases: $(cut -d' ' -f1-3 /proc/loadavg)"
  [ "$only" = conda ] && exit 0
fi

if [ "$only" = all ] || [ "$only" = pip ]; then
  wheels=$(bash fixtures/pypi/fill_index.sh .venv-peers)/wheels
  python3 fixtures/pypi/serve_index.py --dir "$wheels" --port-file "$work/index-port" >/dev/null 2>&1 &
  index_pid=$!
  while [ ! -f "$work/index-port" ]; do sleep 0.1; done
  index="http://127.0.0.1:$(cat "$work/index-port")/simple"
  requirements=fixtures/pypi/ml-requirements.txt
  pip_kiln() {
    rm -rf "$work/pip-kiln"
    measure env KILN_CACHE_DIR="$work/kiln-pip-cache-$1" "$kiln" pip install -r "$requirements" --python 3.11 --glibc 2.28 \
      --index-url "$index" --target "$work/pip-kiln"
  }
  pip_uv() { uv_install "$work/pip-uv" "$work/uv-cache-$1"; }
  turns pip_kiln pip_uv
  for phase in cold warm; do
    phase_medians "$phase"
    printf '%-14s kiln %6.2fs (peak RSS %4d MiB, %d files) | uv pip install --target %6.2fs (ratio %.2f)\n' "pip $phase" "$k_time" \
      $((k_rss / 1024)) "$(find "$work/pip-kiln" -type f | wc -l)" "$p_time" "$(echo "$p_time / $k_time" | bc -l)"
    echo "               medians of $rounds rounds, taking turns; kiln ${k% }, uv ${p% } s"
  done
  kill "$index_pid"
  [ "$only" = pip ] && exit 0
fi

if [ "$only" = all ] || [ "$only" = envlayers ]; then
  # (a) pip: the environment of ml-requirements.txt over the debian-python base (its python 3.11), built into
  # finished gzip layer blobs in an OCI layout (`kiln build` with only that environment), against uv installing
  # the same requirements into a directory, with no layer at all. Cold (empty caches), then warm.
  base=$(bash base-images/debian-python.sh | tail -n 1)
  wheels=$(bash fixtures/pypi/fill_index.sh .venv-peers)/wheels
  python3 fixtures/pypi/serve_index.py --dir "$wheels" --port-file "$work/layers-index-port" >/dev/null 2>&1 &
  index_pid=$!
  while [ ! -f "$work/layers-index-port" ]; do kill -0 "$index_pid" 2>/dev/null || { echo "bench: the index server did not start" >&2; exit 1; }; sleep 0.1; done
  index="http://127.0.0.1:$(cat "$work/layers-index-port")/simple"
  requirements=fixtures/pypi/ml-requirements.txt
  echo "load average before the environment-layer cases: $(cut -d' ' -f1-3 /proc/loadavg)"
  env_kiln() {
    rm -rf "$work/env-image"
    measure env KILN_CACHE_DIR="$work/env-kiln-cache-$1" "$kiln" build --base "oci:$base" --requirements "$requirements" \
      --index-url "$index" --output "oci:$work/env-image:1" --quiet
  }
  env_uv() { uv_install "$work/env-uv" "$work/env-uv-cache-$1"; }
  turns env_kiln env_uv
  for phase in cold warm; do
    phase_medians "$phase"
    printf '%-14s kiln build to gzip layers %6.2fs (peak RSS %4d MiB, %d MiB of layers) | uv pip install --target %6.2fs (ratio uv/kiln %.2f)\n' \
      "pip env $phase" "$k_time" $((k_rss / 1024)) $(( $(du -sk "$work/env-image/blobs" | cut -f1) / 1024 )) "$p_time" "$(echo "$p_time / $k_time" | bc -l)"
    echo "               medians of $rounds rounds, taking turns; kiln ${k% }, uv ${p% } s"
  done
  kill "$index_pid"
  # (b) conda: a real package, Debian's python 3.11 made a conda package (fixtures/sklearn-diabetes/make_python_channel.py,
  # 1,072 files), into gzip layers over scratch, against py-rattler installing it into a directory. Cold, then warm.
  .venv-peers/bin/python fixtures/sklearn-diabetes/make_python_channel.py "$base" "$work/python-channel" >/dev/null
  printf 'name: real\nchannels:\n  - file://%s\ndependencies:\n  - python=3.11\n' "$work/python-channel" > "$work/conda-env.yml"
  conda_kiln() {
    rm -rf "$work/conda-image"
    measure env KILN_CACHE_DIR="$work/conda-kiln-cache-$1" "$kiln" build --base scratch --conda-file "$work/conda-env.yml" \
      --virtual-package __glibc=2.36 --env-prefix /opt/env --output "oci:$work/conda-image:1" --quiet
  }
  conda_rattler() {
    rm -rf "$work/conda-rattler"
    measure .venv-peers/bin/python fixtures/conda/rattler_peer.py install "$work/conda-rattler-cache-$1" --prefix "$work/conda-rattler" \
      --target-prefix /opt/env --channel "file://$work/python-channel" --spec "python=3.11" --virtual __glibc=2.36=0 --virtual __unix=0=0 \
      --virtual __linux=5.15=0
  }
  turns conda_kiln conda_rattler
  for phase in cold warm; do
    phase_medians "$phase"
    printf '%-14s kiln build to gzip layers %6.2fs (peak RSS %4d MiB) | py-rattler install to a directory %6.2fs (ratio rattler/kiln %.2f)\n' \
      "conda env $phase" "$k_time" $((k_rss / 1024)) "$p_time" "$(echo "$p_time / $k_time" | bc -l)"
    echo "               medians of $rounds rounds, taking turns; kiln ${k% }, py-rattler ${p% } s"
  done
  echo "load average after the environment-layer cases: $(cut -d' ' -f1-3 /proc/loadavg)"
  [ "$only" = envlayers ] && exit 0
fi

# The 1 GiB incompressible model and about 40 MB of text, in $work/big (made once).
make_big() {
  [ -f "$work/big/vocab.txt" ] && return
  echo "preparing the 1 GiB + 40 MB input in $work"
  mkdir -p "$work/big"
  head -c $((1024 * 1024 * 1024)) /dev/urandom > "$work/big/model.bin"
  python3 - "$work/big/vocab.txt" <<'PY'
import random, sys
random.seed(1)
words = [''.join(random.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(random.randint(3, 10))) for _ in range(5000)]
with open(sys.argv[1], 'w') as f:
    size = 0
    while size < 40_000_000:
        line = ' '.join(random.choice(words) for _ in range(12)) + '\n'
        f.write(line); size += len(line)
PY
}

# 200,000 small files in $work/small.
make_small() {
  echo "preparing 200,000 small files in $work"
  mkdir -p "$work/small"
  python3 - "$work/small" <<'PY'
import os, random, sys
random.seed(1)
words = [''.join(random.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(random.randint(3, 10))) for _ in range(5000)]
root = sys.argv[1]
for d in range(400):
    os.makedirs(f'{root}/d{d:03}', exist_ok=True)
    for i in range(500):
        with open(f'{root}/d{d:03}/f{i:03}.py', 'w') as f:
            f.write(f'# module {d}/{i}\nVALUE = {d * 1000 + i}\n' + random.choice(words) * random.randint(1, 40) + '\n')
PY
}


# The layer contenders take turns as described at `turns` (kiln, umoci, tar|gzip, floor, kiln, ...).
bench() {
  local name=$1 dir=$2 k=() r=() u=() t=() f=()
  # Warm the page cache, so every contender reads the inputs from memory alike.
  find "$dir" -type f -exec cat {} + >/dev/null
  for _ in $(seq "$rounds"); do
    # Each contender removes its own last output just before it runs. On this disk (ext4 mounted with `discard`),
    # the first big write after big deletions costs about 1 s more of system time (a plain 1 GiB `dd`: 1.16 s of
    # system time right after removing 2 GiB, 0.28 s after that); removing both outputs before kiln laid all of
    # it on kiln, every round.
    rm -rf "$work/out-kiln"
    # A cold build as users run it: an empty layer cache of its own, which the build fills.
    rm -rf "$work/layers-cache"
    read -r k_time k_rss < <(measure env KILN_CACHE_DIR="$work/layers-cache" "$kiln" build --base scratch --add "$dir:/data" --output "oci:$work/out-kiln")
    k+=("$k_time"); r+=("$k_rss")
    rm -rf "$work/umoci"
    umoci init --layout "$work/umoci" >/dev/null && umoci new --image "$work/umoci:base" >/dev/null
    read -r u_time _ < <(measure umoci insert --image "$work/umoci:base" "$dir" /data)
    u+=("$u_time")
    read -r t_time _ < <(measure sh -c "tar -cf - -C '$dir' . | gzip -1 | sha256sum")
    t+=("$t_time")
    # The floor: reading the tree and hashing its tar once with SHA-NI (coreutils' sha256sum has none).
    read -r f_time _ < <(measure sh -c "tar -cf - -C '$dir' . | openssl dgst -sha256")
    f+=("$f_time")
  done
  k_time=$(median "${k[@]}"); k_rss=$(median "${r[@]}"); u_time=$(median "${u[@]}"); t_time=$(median "${t[@]}"); f_time=$(median "${f[@]}")
  printf '%-14s kiln %6.2fs (peak RSS %4d MiB) | umoci insert %6.2fs (kiln/umoci %.2f) | tar|gzip -1|sha256sum %6.2fs (kiln/it %.2f) | floor tar|openssl sha256 %6.2fs (kiln/floor %.2f)\n' \
    "$name" "$k_time" $((k_rss / 1024)) "$u_time" "$(echo "$k_time / $u_time" | bc -l)" "$t_time" "$(echo "$k_time / $t_time" | bc -l)" \
    "$f_time" "$(echo "$k_time / $f_time" | bc -l)"
  echo "               medians of $rounds rounds; kiln ${k[*]} s, umoci ${u[*]} s, tar|gzip ${t[*]} s, floor ${f[*]} s"
  # The same bytes on one core as on two.
  # --no-cache: the layer must be written again here, not found in the cache the first build filled.
  rm -rf "$work/out-kiln-1"
  local status=0
  taskset -c 0 "$kiln" build --no-cache --base scratch --add "$dir:/data" --output "oci:$work/out-kiln-1" >/dev/null 2>"$work/err" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "               the one-core build failed ($status): $(tail -n 1 "$work/err")" >&2; exit 1
  elif [ "$(cat "$work/out-kiln/index.json")" = "$(cat "$work/out-kiln-1/index.json")" ]; then
    echo "               same manifest digest on 1 core (taskset -c 0) and 2"
  else
    echo "               DIFFERENT digests on 1 and 2 cores: $(cat "$work/out-kiln/index.json") against $(cat "$work/out-kiln-1/index.json")" >&2
    exit 1
  fi
}

if [ "$only" = all ] || [ "$only" = push ]; then
  make_big
  find "$work/big" -type f -exec cat {} + >/dev/null
  # A distribution registry on a free loopback port, as the tests start it (Tests/TestSupport/TestRegistry.swift).
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  registry=127.0.0.1:$port
  printf 'version: 0.1\nlog: {level: info}\nstorage:\n  filesystem: {rootdirectory: %s}\n  delete: {enabled: true}\nhttp:\n  addr: %s\n  secret: bench-only-not-a-secret\n' \
    "$work/registry" "$registry" > "$work/registry.yml"
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 100); do curl -sf "http://$registry/v2/" >/dev/null && break; sleep 0.1; done
  # (a) curl: POST for an upload session, then the 1 GiB file in one PUT ?digest= (hashed beforehand, untimed).
  digest=sha256:$(sha256sum "$work/big/model.bin" | cut -d' ' -f1)
  cat > "$work/curl-push.sh" <<'SH'
location=$(curl -sS -f -X POST -D - -o /dev/null "http://$1/v2/bench/raw/blobs/uploads/" | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
curl -sS -f -X PUT -T "$2" -H 'Content-Type: application/octet-stream' -o /dev/null "$location&digest=$3"
SH
  # (b) kiln, cold: every layer written anew and streamed while it is written; then the same without streaming,
  # and the build alone into an OCI layout. Each build gets an empty layer cache of its own (a layer that misses
  # the cache is the one that streams) and its own repository. The four take turns for $rounds rounds, as in
  # `layers`, so that the disk's state (writeback of the last GiB) falls on all of them alike; medians are printed.
  c=(); k=(); kr=(); n=(); nr=(); b=()
  for round in $(seq "$rounds"); do
    read -r c_time _ < <(measure sh "$work/curl-push.sh" "$registry" "$work/big/model.bin" "$digest")
    c+=("$c_time")
    rm -rf "$work/push-cache-1" "$work/push-cache-2" "$work/push-cache-3" "$work/out-push"
    read -r k_time k_rss < <(measure env KILN_CACHE_DIR="$work/push-cache-1" "$kiln" build --base scratch --add "$work/big:/data" \
      --output "$registry/bench/model-$round:1")
    k+=("$k_time"); kr+=("$k_rss")
    read -r n_time n_rss < <(measure env KILN_CACHE_DIR="$work/push-cache-2" KILN_STREAM_PUSH=0 "$kiln" build --base scratch \
      --add "$work/big:/data" --output "$registry/bench/model-files-$round:1")
    n+=("$n_time"); nr+=("$n_rss")
    read -r b_time _ < <(measure env KILN_CACHE_DIR="$work/push-cache-3" "$kiln" build --base scratch --add "$work/big:/data" \
      --output "oci:$work/out-push")
    b+=("$b_time")
  done
  c_time=$(median "${c[@]}"); k_time=$(median "${k[@]}"); k_rss=$(median "${kr[@]}"); n_time=$(median "${n[@]}"); n_rss=$(median "${nr[@]}")
  b_time=$(median "${b[@]}")
  printf '%-14s kiln build+push %6.2fs (peak RSS %4d MiB) | curl upload of 1 GiB %6.2fs (kiln/curl %.2f) | KILN_STREAM_PUSH=0 %6.2fs (peak RSS %4d MiB, kiln/curl %.2f) | build alone %6.2fs\n' \
    "push 1GiB+40MB" "$k_time" $((k_rss / 1024)) "$c_time" "$(echo "$k_time / $c_time" | bc -l)" "$n_time" $((n_rss / 1024)) \
    "$(echo "$n_time / $c_time" | bc -l)" "$b_time"
  echo "               medians of $rounds rounds; kiln ${k[*]} s, curl ${c[*]} s, KILN_STREAM_PUSH=0 ${n[*]} s, build alone ${b[*]} s"
  # (c) warm: an image of the model and a code folder, pushed once with the layer cache on; then one line of
  # score.py changes and it is built and pushed again. Only the code layer, the config and the manifest should
  # go up: the registry's access log of that second push is printed.
  mkdir -p "$work/code"
  printf 'import json\n\ndef init():\n    pass\n\ndef run(data):\n    return json.dumps({"n": 1})\n' > "$work/code/score.py"
  warm=(build --base scratch --model bench:1="$work/big" --add "$work/code:/var/azureml-app/code" --cmd "python /var/azureml-app/code/score.py")
  env KILN_CACHE_DIR="$work/warm-cache" "$kiln" "${warm[@]}" --output "$registry/bench/app:1" -q >/dev/null 2>&1
  sed -i 's/"n": 1/"n": 2/' "$work/code/score.py"
  before=$(wc -l < "$work/registry.log")
  read -r w_time w_rss < <(measure env KILN_CACHE_DIR="$work/warm-cache" "$kiln" "${warm[@]}" --output "$registry/bench/app:2")
  printf '%-14s kiln %6.2fs (peak RSS %4d MiB) after a one-line edit of score.py; the registry saw:\n' "warm rebuild" "$w_time" $((w_rss / 1024))
  tail -n +"$((before + 1))" "$work/registry.log" | grep 'msg="response completed"' \
    | sed -E 's/.*http\.request\.method=([A-Z]+).*http\.request\.uri="?([^"? ]*)[^ ]*.*http\.response\.status=([0-9]+).*/               \1 \2 \3/' \
    | sed -E 's/(sha256:[0-9a-f]{12})[0-9a-f]{52}/\1…/; s/uploads\/[0-9a-f-]{36}/uploads\/<id>/'
  kill "$registry_pid"; wait "$registry_pid" 2>/dev/null || true; registry_pid=
  [ "$only" = push ] && exit 0
fi

make_big
make_small
bench "1GiB+40MB" "$work/big"
bench "200k files" "$work/small"
