"""pyheap diff against the target's own counts at two checkpoints.

fixtures/growth.py counts gc.get_objects() per type at checkpoint
"before", grows (a re-raised singleton exception, a cache, handlers), and
counts again at "after". The diff of the two snapshots must give every
type the oracle's delta exactly, count new and gone objects consistently,
report the exception whose traceback grew and the cache and handler list
among the containers that grew. Also: bad input and the diff of two
different processes.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402

REQUESTS = 200


def run_case(results, label, python, tmp):
    name = "%s/growth" % label
    fixture = harness.Fixture(python, "growth.py", {"PYHEAP_REQUESTS": str(REQUESTS)})
    try:
        if fixture.oracle is None:
            results.fail(name, "fixture never reached its first checkpoint:\n" + fixture.error_text())
            return None
        before = fixture.oracle
        a = os.path.join(tmp, "%s-a.json" % label)
        b = os.path.join(tmp, "%s-b.json" % label)
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", a, str(fixture.pid)])
        if code != 0:
            results.fail(name, "snap A exited %d: %s" % (code, err))
            return None
        after = fixture.advance("after")
        if after is None:
            results.fail(name, "fixture never reached its second checkpoint:\n" + fixture.error_text())
            return None
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", b, str(fixture.pid)])
        if code != 0:
            results.fail(name, "snap B exited %d: %s" % (code, err))
            return None
        code, out, err = harness.run_pyheap(["diff", "--json", a, b])
        if code != 0:
            results.fail(name + " diff", "pyheap diff exited %d: %s" % (code, err))
            return None
        diff = json.loads(out)
        got = {t["name"]: t for t in diff["types"]}
        names = set(before["counts"]) | set(after["counts"])
        bad = []
        for n in sorted(names):
            want = after["counts"].get(n, 0) - before["counts"].get(n, 0)
            have = got[n]["delta"] if n in got else 0
            if want != have:
                bad.append("%s: oracle %+d, diff %+d" % (n, want, have))
        # types with no object on the GC lists in either snapshot (str, int)
        # appear for their untracked objects only
        extra = [n for n in got if n not in names and (got[n]["before"] or got[n]["after"])]
        results.check(name + " every type's delta equals the oracle's (%d types)" % len(names),
                      not bad and not extra, "\n".join(bad[:10] + ["unknown type %s" % e for e in extra[:5]]))
        sizes_ok = all(t["tracked_size_delta"] == after["sizes"].get(t["name"], 0) - before["sizes"].get(t["name"], 0)
                       for t in diff["types"])
        results.check(name + " tracked size deltas equal the oracle's sys.getsizeof sums", sizes_ok,
                      str([(t["name"], t["tracked_size_delta"]) for t in diff["types"]][:5]))
        parts_ok = all(t["size_delta"] == t["tracked_size_delta"] + t["untracked_size_delta"]
                       and t["untracked_delta"] == t["untracked_after"] - t["untracked_before"]
                       for t in diff["types"])
        results.check(name + " size deltas are the tracked plus the untracked part", parts_ok,
                      json.dumps(diff["types"][:3]))
        consistent = diff["same_process"] and all(
            t["after"] - t["before"] == t["new"] - t["gone"] and t["new"] >= 0 and t["gone"] >= 0
            for t in diff["types"])
        results.check(name + " same process: new - gone equals the change for every type", consistent,
                      json.dumps(diff["types"][:3]))
        record = got.get("__main__.Record", {})
        results.check(name + " new Records: %d (2 per request: cache + traceback)" % record.get("new", -1),
                      record.get("new") == 2 * REQUESTS and record.get("gone") == 0, json.dumps(record))
        exc = [e for e in diff["exceptions"] if e["type"] == "builtins.LookupError"]
        results.check(name + " the re-raised LookupError's traceback grew %s" %
                      (("%d -> %d" % (exc[0]["traceback_before"], exc[0]["traceback_after"])) if exc else ""),
                      len(exc) == 1 and exc[0]["traceback_after"] - exc[0]["traceback_before"] == 2 * REQUESTS,
                      json.dumps(diff["exceptions"]))
        containers = diff["containers"]
        grown = {(c["type"], c["after"] - c["before"]) for c in containers}
        chains = " ".join(" ".join(c.get("chain", [])) for c in containers)
        results.check(name + " the cache and the handler list are among the containers that grew",
                      ("builtins.dict", REQUESTS) in grown and ("builtins.list", REQUESTS) in grown
                      and "['_cache']" in chains and "['_handlers']" in chains,
                      json.dumps(containers)[:600])
        code, text, err = harness.run_pyheap(["diff", a, b])
        results.check(name + " text table", code == 0 and "+%d" % REQUESTS in text and "traceback" in text
                      and "Containers that grew" in text and "total" in text, text[:800] + err)
        results.check(name + " target finished normally", fixture.release() == 0, fixture.error_text())
        return a, b
    finally:
        fixture.close()


def bad_input(results, tmp, a, b, other):
    cases = [
        ("the same file twice", [a, a], 2, "same file"),
        ("a file and a copy of it", [a, shutil.copy(a, os.path.join(tmp, "copy.json"))], 2, "same snapshot"),
        ("a missing file", [a, os.path.join(tmp, "nope.json")], 12, "cannot open"),
    ]
    trunc = os.path.join(tmp, "trunc.json")
    with open(b, "rb") as f:
        data = f.read()
    with open(trunc, "wb") as f:
        f.write(data[: len(data) // 2])
    cases.append(("a truncated snapshot", [a, trunc], 12, "not a valid pyheap snapshot"))
    newer = os.path.join(tmp, "newer.json")
    with open(newer, "wb") as f:
        f.write(data.replace(b'"version": 1', b'"version": 7', 1))
    cases.append(("a newer format version", [a, newer], 12, "version 7"))
    alien = os.path.join(tmp, "alien.json")
    with open(alien, "w") as f:
        f.write('{"hello": "world"}')
    cases.append(("non-pyheap JSON", [a, alien], 12, "not a complete pyheap snapshot"))
    for name, args, want, message in cases:
        code, out, err = harness.run_pyheap(["diff"] + args)
        results.check("diff of %s: exit %d and says why" % (name, want), code == want and message in err,
                      "exit %d: %s" % (code, err))
    if other:
        code, out, err = harness.run_pyheap(["diff", "--json", a, other])
        try:
            data = json.loads(out)
            ok = code == 0 and not data["same_process"] and "different processes" in err
        except ValueError:
            ok = False
        results.check("diff of two processes: warns, still diffs the counts", ok, out[:300] + err)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only")
    args = parser.parse_args()
    results = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "diff"))
    found = interpreters.select(results, args.only)
    tmp = tempfile.mkdtemp(prefix="pyheap-diff-")
    try:
        pairs = []
        for label, python in found:
            pair = run_case(results, label, python, tmp)
            if pair:
                pairs.append(pair)
        if pairs:
            other = pairs[1][1] if len(pairs) > 1 else None
            bad_input(results, tmp, pairs[0][0], pairs[0][1], other)
    finally:
        shutil.rmtree(tmp)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
