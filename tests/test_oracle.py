"""The exact-count oracle: each fixture counts gc.get_objects() per type
inside itself at a checkpoint; pyheap's snapshot of the blocked process
must give every type the same count. Sizes (sum of sys.getsizeof) are
compared for every type pyheap claims to size exactly.

Usage: test_oracle.py [--only LABEL] [--fixture NAME] [--big]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402

FIXTURES = [
    ("seed_book_leak", "seed_book_leak.py", {}),
    ("singleton_exception", "singleton_exception.py", {}),
    ("caches_and_handlers", "caches_and_handlers.py", {}),
    ("object_kinds", "object_kinds.py", {}),
]
BIG = ("big_heap", "big_heap.py", {"PYHEAP_OBJECTS": "1200000"})
# Every fixture is snapshotted once per way of reading the heap, each
# forced (README, Safety); the big heap once, as pyheap chooses.
POLICIES = ("copy", "sparse", "stopped")


def compare(expected, rows, what):
    got = {r["name"]: r[what] for r in rows}
    names = sorted(set(expected) | set(got))
    diffs = []
    for name in names:
        if expected.get(name, 0) != got.get(name, 0):
            diffs.append("%s: oracle %s, pyheap %s" % (name, expected.get(name, 0), got.get(name, 0)))
    return diffs


def check_snapshot(results, name, oracle, snap, policy):
    """Counts and sizes of one snapshot against the oracle."""
    if policy != "auto":
        results.check(name + " read as forced", snap["capture"].get("policy") == policy,
                      "policy %r (%s)" % (snap["capture"].get("policy"), snap["capture"].get("policy_reason")))
    diffs = compare(oracle["counts"], snap["types"], "count")
    total = sum(oracle["counts"].values())
    results.check(
        name + " counts (%d objects, %d types)" % (total, len(oracle["counts"])),
        not diffs and snap["capture"]["objects"] == total,
        "%d types differ (snapshot objects %d, oracle %d):\n%s"
        % (len(diffs), snap["capture"]["objects"], total, "\n".join(diffs[:15])),
    )
    exact_rows = [r for r in snap["types"] if r.get("size_exact", True)]
    inexact = {r["name"] for r in snap["types"] if not r.get("size_exact", True)}
    expected_sizes = {k: v for k, v in oracle["sizes"].items() if k not in inexact}
    diffs = compare(expected_sizes, exact_rows, "size")
    results.check(
        name + " sizes (%d types exact, %d not modelled)" % (len(exact_rows), len(inexact)),
        not diffs,
        "%d types differ:\n%s" % (len(diffs), "\n".join(diffs[:15])),
    )


def run_case(results, label, python, fixture_name, script, env, policies=POLICIES):
    name = "%s/%s" % (label, fixture_name)
    fixture = harness.Fixture(python, script, env)
    try:
        if fixture.oracle is None:
            results.fail(name + " counts", "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        for policy in policies:
            extra = [] if policy == "auto" else ["--policy", policy]
            case = "%s [%s]" % (name, policy)
            code, snap, err = harness.snapshot(fixture.pid, extra=extra)
            if code != 0:
                results.fail(case + " counts", "pyheap snap exited %d: %s" % (code, err.strip()))
                continue
            results.check(case + " target left running", harness.target_running(fixture.pid),
                          harness.describe(fixture.pid))
            check_snapshot(results, case, fixture.oracle, snap, policy)
            results.check(
                case + " python version",
                snap["target"]["python"] == fixture.oracle["python"],
                "snapshot says %r, sys.version says %r" % (snap["target"]["python"], fixture.oracle["python"]),
            )
        exit_code = fixture.release()
        results.check(name + " target finished normally", exit_code == 0,
                      "exit code %r: %s" % (exit_code, fixture.error_text()))
    finally:
        fixture.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only this interpreter label")
    parser.add_argument("--fixture", help="run only this fixture")
    parser.add_argument("--big", action="store_true", help="include the 1.2M-object heap")
    args = parser.parse_args()
    results = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "oracle"))
    found = interpreters.select(results, args.only)
    fixtures = FIXTURES + ([BIG] if args.big else [])
    for label, python in found:
        for fixture_name, script, env in fixtures:
            if args.fixture and args.fixture != fixture_name:
                continue
            run_case(results, label, python, fixture_name, script, env,
                     ("auto",) if fixture_name == BIG[0] else POLICIES)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
