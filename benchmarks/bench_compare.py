"""How often `orostat compare` finds a difference in the demo, where no municipality has a planted one,
and how often the parallel-trends check warns. Reads the releases under OROSTAT_HOME (after `make demo`).

    .venv/bin/python benchmarks/bench_compare.py [--sample 60] [--indicator reports_per_1000]
"""

import argparse
import random

from pipelines.core.settings import paths
from pipelines.stage6_publishing.insight import explain
from pipelines.stage6_publishing.insight.compare import CompareRefused
from pipelines.stage6_publishing.insight.groups import grouping
from pipelines.stage6_publishing.release_tables import Release

home = paths()
rels = sorted(p.name.removeprefix("release=") for p in home.protected.glob("release=*"))
monthly = {r: Release(home.protected / f"release={r}") for r in rels}
groups = grouping(home, int(rels[-1][:4]))
codes = sorted(groups.group_of)
parser = argparse.ArgumentParser()
parser.add_argument("--sample", type=int, default=60)
parser.add_argument("--indicator", default="reports_per_1000")
args = parser.parse_args()
random.seed(1)
sample = random.sample(codes, min(args.sample, len(codes)))
for start in ("2024-09", "2025-01"):
    n = sig = refused = diverged = 0
    for code in sample:
        try:
            r = explain.run(monthly, groups, code, code, args.indicator, start).result
        except CompareRefused:
            refused += 1
            continue
        n += 1
        sig += not r.covers_zero
        diverged += r.diverged_before
    print(
        start,
        f"assessed {n}, CI without 0: {sig} ({sig / max(n, 1):.0%}), pre-trend warning {diverged}, refused {refused}",
    )
