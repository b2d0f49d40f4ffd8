#!/usr/bin/env python3
"""Counts test cases in a meson testlog.json: each TAP line of a TAP test, one per other test.

Prints "NAME PASSED FAILED". A TAP test that crashed or timed out after its
last line still counts one failure, so a crash can never look like a pass.
A TAP line marked "# SKIP" is neither: it is printed (to stderr) as skipped.
A sanitizer report (ASan, LeakSanitizer, UBSan, TSan) in a test's output counts one
more failure and is printed: Criterion runs each case in a child process and
does not fail a case whose child reported a leak on exit.
"""
import json
import re
import sys

SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: |WARNING: ThreadSanitizer")

path, name = sys.argv[1], sys.argv[2]
passed = failed = 0
with open(path) as f:
    for line in f:
        t = json.loads(line)
        ok_result = t["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
        out = t.get("stdout") or ""
        # meson 1.0 does not log the protocol; a TAP test is one with a plan line.
        if re.search(r"^1\.\.\d+", out, re.M):
            skips = re.findall(r"^ok\b.*# SKIP.*$", out, re.M)
            for skip in skips:
                print("skipped in %s: %s" % (t["name"], skip), file=sys.stderr)
            ok = len(re.findall(r"^ok\b", out, re.M)) - len(skips)
            bad = len(re.findall(r"^not ok\b", out, re.M))
            if not ok_result and bad == 0:
                bad = 1
            passed += ok
            failed += bad
        elif ok_result:
            passed += 1
        else:
            failed += 1
        both = out + (t.get("stderr") or "")
        m = SANITIZER_REPORT.search(both)
        if m:
            failed += 1
            start = max(0, m.start() - 200)
            print("sanitizer report in %s:\n%s" % (t["name"], both[start:m.start() + 1500]),
                  file=sys.stderr)
print(name, passed, failed)
