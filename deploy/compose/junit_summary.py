"""One line per JUnit XML report (tests, failures, errors, skipped with reasons) and a total.

Exit 1 when a report is missing or unreadable, when any test failed or errored, or when a test other than
the seed's SQL Server snippet (tests/integration/test_e2e_seed.py, skipped where SQL Server cannot run)
was skipped: inside compose nothing else may be skipped.
"""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ALLOWED_SKIP = "test_e2e_seed"

total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
bad: list[str] = []
for path in sys.argv[1:]:
    try:
        suites = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        bad.append(f"{path}: no readable report ({exc})")
        continue
    counts = {k: sum(int(s.get(k, 0)) for s in suites.iter("testsuite")) for k in total}
    for key, value in counts.items():
        total[key] += value
    print(f"{Path(path).name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    if counts["failures"] or counts["errors"]:
        bad.append(f"{Path(path).name}: {counts['failures']} failures, {counts['errors']} errors")
    for case in suites.iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            print(f"  skipped {case.get('classname')}.{case.get('name')}: {skipped.get('message')}")
            if ALLOWED_SKIP not in (case.get("classname") or ""):
                bad.append(f"{Path(path).name}: unexpected skip of {case.get('name')}")
print("compose-test total: " + ", ".join(f"{v} {k}" for k, v in total.items()))
failed = total["failures"] + total["errors"]
passed = total["tests"] - failed - total["skipped"]
# The closing line of scripts/compose-test (a CI reads "N passed, N failed" there).
Path(sys.argv[1]).with_name("compose-test-counts.txt").write_text(
    f"{passed} passed, {failed} failed, {total['skipped']} skipped\n"
)
for line in bad:
    print(f"  FAIL {line}", file=sys.stderr)
sys.exit(1 if bad or total["tests"] == 0 else 0)
