"""Writes a synthetic conda channel with N records (default 100,000) for solver benchmarks and tests.

Usage: synthetic_repodata.py OUTDIR [N]
Deterministic (seeded). Shape: 2,000 package names in 20 layers; each name has versions x builds
(x python variants for layered packages); dependencies point only to lower layers, with version
ranges, so that every request made of top-layer names is solvable and needs real search. Also writes
OUTDIR/request.txt: the specs the benchmark solves.
"""
import json
import os
import random
import sys

out = sys.argv[1]
target = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
rng = random.Random(20261122)
names = [f"pkg{i:04d}" for i in range(2000)]
layer = {name: i // 100 for i, name in enumerate(names)}
packages = {}
pythons = ["3.9", "3.10", "3.11", "3.12"]
for minor in pythons:
    for patch in range(8):
        fn = f"python-{minor}.{patch}-h0_0_cpython.conda"
        packages[fn] = {"name": "python", "version": f"{minor}.{patch}", "build": "h0_0_cpython", "build_number": 0,
                        "depends": [], "subdir": "linux-64", "timestamp": 1700000000000 + patch, "sha256": "0" * 64, "md5": "0" * 32, "size": 1}
per_name = max(1, -(-(target - len(packages)) // len(names)))
majors = max(1, -(-per_name // (10 * len(pythons))))
for name in names:
    level = layer[name]
    lower = [n for n in names if layer[n] < level]
    count = 0
    major = 0
    while count < per_name:
        major += 1
        for minor in range(10):
            if count >= per_name:
                break
            version = f"{major}.{minor}.0"
            deps = []
            if lower:
                for dep in rng.sample(lower, min(len(lower), rng.randint(1, 4))):
                    low = rng.randint(1, majors)
                    deps.append(f"{dep} >={low}.0,<{low + rng.randint(1, 3)}")
            for py in pythons:
                if count >= per_name:
                    break
                build = f"py{py.replace('.', '')}h{count:04x}_0"
                fn = f"{name}-{version}-{build}.conda"
                packages[fn] = {"name": name, "version": version, "build": build, "build_number": 0,
                                "depends": deps + [f"python >={py},<{py}.999"], "subdir": "linux-64",
                                "timestamp": 1700000000000 + count, "sha256": "0" * 64, "md5": "0" * 32, "size": 1}
                count += 1
os.makedirs(os.path.join(out, "linux-64"), exist_ok=True)
os.makedirs(os.path.join(out, "noarch"), exist_ok=True)
with open(os.path.join(out, "linux-64", "repodata.json"), "w") as f:
    json.dump({"info": {"subdir": "linux-64"}, "packages": {}, "packages.conda": packages, "repodata_version": 1}, f)
# pip, which conda makes every python depend on.
noarch = {f"pip-{v}-pyhd8ed1ab_0.conda": {"name": "pip", "version": v, "build": "pyhd8ed1ab_0", "build_number": 0, "noarch": "python",
                                          "depends": ["python >=3.8"], "subdir": "noarch", "timestamp": 1700000000000,
                                          "sha256": "0" * 64, "md5": "0" * 32, "size": 1} for v in ("23.3", "24.0")}
with open(os.path.join(out, "noarch", "repodata.json"), "w") as f:
    json.dump({"info": {"subdir": "noarch"}, "packages": {}, "packages.conda": noarch, "repodata_version": 1}, f)
top = [n for n in names if layer[n] == 19]
with open(os.path.join(out, "request.txt"), "w") as f:
    f.write("\n".join(["python 3.11.*"] + top[:12]) + "\n")
print(len(packages))
