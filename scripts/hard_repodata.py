"""Writes a small but hard conda channel for solver benchmarks: tight, conflicting version ranges and many
builds per version, with one planted solution, so the request always solves but needs real search.

Usage: hard_repodata.py OUTDIR [--names N] [--versions V] [--builds B] [--seed S]
Deterministic from the seed. Shape: N package names (default 96) in 8 layers; each name has V versions
(default 12) of B builds each (default 6); every version above the bottom layer depends on 2-4 names of lower
layers, and each of its builds gives each of them its own range, two minor versions wide. A hidden
"planted" version of every name has one build whose ranges all admit the planted versions of its
dependencies; every other build's ranges are drawn at random and lean towards the newest versions, which
solvers try first, so the newest choices keep conflicting a few layers down and the solver has to backtrack. Requests all top-layer names and pins a few bottom-layer names below
their newest version. Writes OUTDIR/linux-64/repodata.json, an empty OUTDIR/noarch/repodata.json and
OUTDIR/request.txt (the specs, one a line). Prints the number of records.
The default size takes py-rattler 0.28 3-5 s on a loaded 2-core machine. Hardness depends on more than --names
(each size draws a different structure): see docs/solver-bench.md for measured sizes.
"""
import argparse
import json
import os
import random

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--names", type=int, default=96)
parser.add_argument("--versions", type=int, default=12)
parser.add_argument("--builds", type=int, default=6)
parser.add_argument("--seed", type=int, default=20261201)
args = parser.parse_args()

rng = random.Random(args.seed)
layers = 8
names = [f"hard{i:04d}" for i in range(args.names)]
layer = {name: i * layers // len(names) for i, name in enumerate(names)}
versions = list(range(args.versions))                         # version k is 1.k.0
planted = {name: rng.randrange(args.versions) for name in names}


def version(k):
    return f"1.{k}.0"


def window(center):
    """A range two minor versions wide that admits `center`: >=1.a.0,<1.(a+2).0."""
    low = max(0, min(center - rng.randint(0, 1), args.versions - 2))
    return low, low + 2


def spec(dep, low, high):
    return f"{dep} >={version(low)},<{version(high)}"


packages = {}
for name in names:
    lower = [n for n in names if layer[n] < layer[name]]
    for k in versions:
        deps = rng.sample(lower, min(len(lower), rng.randint(2, 4))) if lower else []
        for b in range(args.builds):
            depends = []
            for dep in deps:
                if k == planted[name] and b == 0:
                    low, high = window(planted[dep])
                else:
                    # Lean to the newest versions: the top third, most of the time.
                    top = args.versions - 1
                    center = rng.randint(top * 2 // 3, top) if rng.random() < 0.7 else rng.randrange(args.versions)
                    low, high = window(center)
                depends.append(spec(dep, low, high))
            build = f"h{rng.getrandbits(32):08x}_{b}"
            fn = f"{name}-{version(k)}-{build}.conda"
            packages[fn] = {"name": name, "version": version(k), "build": build, "build_number": b, "depends": depends,
                            "subdir": "linux-64", "timestamp": 1700000000000 + k * 1000 + b,
                            "sha256": "0" * 64, "md5": "0" * 32, "size": 1}

os.makedirs(os.path.join(args.out, "linux-64"), exist_ok=True)
os.makedirs(os.path.join(args.out, "noarch"), exist_ok=True)
with open(os.path.join(args.out, "linux-64", "repodata.json"), "w") as f:
    json.dump({"info": {"subdir": "linux-64"}, "packages": {}, "packages.conda": packages, "repodata_version": 1}, f)
with open(os.path.join(args.out, "noarch", "repodata.json"), "w") as f:
    json.dump({"info": {"subdir": "noarch"}, "packages": {}, "packages.conda": {}, "repodata_version": 1}, f)
top = [n for n in names if layer[n] == layers - 1]
bottom = [n for n in names if layer[n] == 0]
pins = [f"{n} <={version(planted[n])}" for n in rng.sample(bottom, min(len(bottom), 4)) if planted[n] < args.versions - 1]
with open(os.path.join(args.out, "request.txt"), "w") as f:
    f.write("\n".join(top + pins) + "\n")
print(len(packages))
