"""The leak patterns users report in real projects, one fixture each
(fixtures/leak_*.py), on every interpreter found: the snapshot must match
the fixture's own gc.get_objects() exactly (every type's count and every
exactly modelled size), `pyheap chain` must name the holder the fixture
knows, hop by hop, for a sample of what leaked, `pyheap top` must list
that holder first (retaining what leaked) and `pyheap suspects` must name
it as a suspect.

Usage: test_leak_patterns.py [--only LABEL] [--fixture NAME]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402

FIXTURES = [
    "leak_lru_method",
    "leak_child_loggers",
    "leak_handlers",
    "leak_identity_map",
    "leak_asyncio_tasks",
    "leak_runtime_classes",
    "leak_memoryview",
    "leak_exception_results",
]


def compare(expected, rows, what):
    got = {r["name"]: r[what] for r in rows}
    return ["%s: oracle %s, pyheap %s" % (n, expected.get(n, 0), got.get(n, 0))
            for n in sorted(set(expected) | set(got)) if expected.get(n, 0) != got.get(n, 0)]


def in_order(text, tokens):
    """True when every token occurs in text, each after the previous."""
    at = 0
    for token in tokens:
        found = text.find(token, at)
        if found < 0:
            return False
        at = found + len(token)
    return True


def item_text(item):
    """A top or suspects item as one line: its holder, then its chain."""
    hops = item.get("chain", {}).get("hops", [])
    return item.get("holder", "") + " | " + " ".join("%s %s" % (h.get("node", ""), h.get("edge", "")) for h in hops)


def holds(item, holder):
    """Whether a top/suspects item retains what the fixture leaked and is
    named the way the fixture names its holder."""
    retained = {row["type"]: row["count"] for row in item.get("by_type", [])}
    return retained.get(holder["type"], 0) >= holder["count"] and in_order(item_text(item), holder["tokens"])


def check_top_and_suspects(R, name, path, holders):
    """pyheap top: the fixture's holders are its first entries; pyheap
    suspects: each holder is a suspect (itself, or the largest of a type
    of holders)."""
    code, out, err = harness.run_pyheap(["top", "--json", "-n", "10", path])
    try:
        items = json.loads(out)["items"] if code == 0 else []
    except (ValueError, KeyError):
        items, err = [], err + "\ntop --json is not JSON: " + out[:300]
    first = items[:len(holders)]
    for holder in holders:
        R.check("%s: pyheap top names the holder first (%s, retaining %d %s)"
                % (name, " ... ".join(holder["tokens"]), holder["count"], holder["type"]),
                any(holds(item, holder) for item in first),
                "exit %d %s; top: %s" % (code, err.strip(), "\n".join(
                    "%d bytes, %s" % (item["retained"], item_text(item)) for item in items[:5])))
    code, out, err = harness.run_pyheap(["suspects", "--json", path])
    try:
        suspects = json.loads(out)["suspects"] if code in (0, 14) else []
    except (ValueError, KeyError):
        suspects, err = [], err + "\nsuspects --json is not JSON: " + out[:300]
    candidates = [s if s.get("kind") == "object" else s.get("largest", {}) for s in suspects]
    for holder in holders:
        R.check("%s: pyheap suspects names the holder (%s)" % (name, " ... ".join(holder["tokens"])),
                code == 14 and any(holds(item, holder) for item in candidates),
                "exit %d %s; suspects: %s" % (code, err.strip(), "\n".join(
                    "%s %s" % (s.get("kind"), item_text(c)) for s, c in zip(suspects, candidates))))


def run_case(R, label, python, fixture_name):
    name = "%s/%s" % (label, fixture_name)
    fixture = harness.Fixture(python, fixture_name + ".py")
    try:
        if fixture.oracle is None:
            R.fail(name, "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        extra = fixture.oracle["extra"]
        path = os.path.join(fixture.tmp, "snap.json")
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", path, str(fixture.pid)])
        if not R.check("%s: snapshot" % name, code == 0, "exit %d: %s" % (code, err)):
            return
        R.check("%s: target left running" % name, harness.target_running(fixture.pid), harness.describe(fixture.pid))
        with open(path) as f:
            snap = json.load(f)
        oracle = fixture.oracle
        total = sum(oracle["counts"].values())
        diffs = compare(oracle["counts"], snap["types"], "count")
        R.check("%s: counts equal gc.get_objects() (%d objects, %d types)" % (name, total, len(oracle["counts"])),
                not diffs and snap["capture"]["objects"] == total,
                "%d types differ (snapshot %d objects, oracle %d):\n%s"
                % (len(diffs), snap["capture"]["objects"], total, "\n".join(diffs[:15])))
        inexact = {r["name"] for r in snap["types"] if not r.get("size_exact", True)}
        diffs = compare({k: v for k, v in oracle["sizes"].items() if k not in inexact},
                        [r for r in snap["types"] if r["name"] not in inexact], "size")
        R.check("%s: sizes equal sys.getsizeof sums" % name, not diffs, "\n".join(diffs[:15]))
        rows = {r["name"]: r for r in snap["types"]}
        leaked = rows.get(extra["leaked_type"], {}).get("count", 0)
        R.check("%s: %s: at least %d %s in the snapshot" % (name, extra["pattern"], extra["leaked"],
                                                            extra["leaked_type"]),
                leaked >= extra["leaked"], "%d found" % leaked)
        for type_name, n in extra.get("type_objects", {}).items():
            have = rows.get(type_name, {}).get("type_objects", 1 if type_name in rows else 0)
            R.check("%s: %d distinct type objects named %s" % (name, n, type_name), have == n, "snapshot says %r" % have)
        for sample in extra["chains"]:
            code, out, err = harness.run_pyheap(["chain", "--address", "%x" % sample["address"], path])
            R.check("%s: chain to %s names the holder (%s)" % (name, sample["what"], " ... ".join(sample["holder"])),
                    code == 0 and out.lstrip().split("\n")[0] and in_order(out, sample["holder"])
                    and ("at 0x%x" % sample["address"]) in out,
                    "exit %d:\n%s%s" % (code, out, err))
        check_top_and_suspects(R, name, path, extra["holders"])
        R.check("%s: target finished normally" % name, fixture.release() == 0, fixture.error_text())
    finally:
        fixture.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only this interpreter label")
    parser.add_argument("--fixture", help="run only this fixture")
    args = parser.parse_args()
    R = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "leak-patterns"))
    if not os.path.exists(harness.PYHEAP):
        R.fail("pyheap binary", "%s does not exist: build first" % harness.PYHEAP)
        return R.finish()
    for label, python in interpreters.select(R, args.only):
        for fixture_name in FIXTURES:
            if args.fixture and args.fixture != fixture_name:
                continue
            run_case(R, label, python, fixture_name)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
