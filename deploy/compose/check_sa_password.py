"""Refuse an MSSQL_SA_PASSWORD that SQL Server or SQL_URL would reject, before anything starts.

SQL Server wants at least 8 characters from three of: upper case, lower case, digits, symbols. The
password is also written into SQL_URL (user:password@host), so URL delimiters would break the URL.
Exit 0 when acceptable, 2 with a message otherwise; the password itself is never printed.
"""

import os
import re
import sys

URL_BREAKERS = set("@:/?#%[]\\ \t\"'")


def problems(password: str) -> list[str]:
    found = []
    if len(password) < 8:
        found.append("shorter than 8 characters")
    classes = [r"[A-Z]", r"[a-z]", r"[0-9]", r"[^A-Za-z0-9]"]
    if sum(bool(re.search(c, password)) for c in classes) < 3:
        found.append("fewer than three of: upper case, lower case, digits, symbols")
    bad = sorted(URL_BREAKERS & set(password))
    if bad:
        found.append(f"contains characters that break SQL_URL: {' '.join(repr(c) for c in bad)}")
    return found


if __name__ == "__main__":
    issues = problems(os.environ.get("MSSQL_SA_PASSWORD", ""))
    if issues:
        print("MSSQL_SA_PASSWORD: " + "; ".join(issues), file=sys.stderr)
        sys.exit(2)
