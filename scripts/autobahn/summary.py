"""Count a fuzzingclient report's results per case group; exit 1 if 1-7 or 10 FAILED.

    python3 scripts/autobahn/summary.py build/autobahn/gevent-wsgi
"""

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

MUST_PASS = {"1", "2", "3", "4", "5", "6", "7", "10"}

report = Path(sys.argv[1])
index = json.loads((report / "index.json").read_text())
failed = []
for agent, cases in index.items():
    groups: dict = defaultdict(Counter)
    slowest: dict = defaultdict(float)
    for case, result in cases.items():
        group = case.split(".")[0]
        verdict = result["behavior"]
        if result.get("behaviorClose") == "FAILED" and verdict != "FAILED":
            verdict = "FAILED (close)"
        groups[group][verdict] += 1
        slowest[group] = max(slowest[group], result.get("duration", 0) / 1000)
        if verdict.startswith("FAILED") and group in MUST_PASS:
            failed.append(case)
    print(f"{agent}: {sum(len(c) for c in [cases])} cases")
    for group in sorted(groups, key=int):
        counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(groups[group].items()))
        print(f"  {group:>3}.*  {counts}  (slowest {slowest[group]:.2f} s)")
    if failed:
        print(f"  FAILED in 1-7/10: {', '.join(sorted(failed))}")
sys.exit(1 if failed else 0)
