"""How pyheap reads the heap, and its memory budget.

A heap of payload (seed 004's books, with descriptions of megabytes) must
be read sparsely when pyheap chooses: the policy says so, most of the
payload is left out of the copy, and the snapshot is exact all the same
(counts, sizes, the graph against gc.get_referents, the descriptions'
sizes). A sparse copy that lacks a page the walk needs stops the target
again and is exact too. A snapshot past pyheap's memory budget ends with
exit 15 and a message, and leaves the target running. Memory the target
reserved and never touched stays uncommitted: a copy leaves it out.

Speed is measured by scripts/bench, never here.

Usage: test_policy.py [--only LABEL]
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402
import test_graph  # noqa: E402
import test_oracle  # noqa: E402
from test_cli import describe, target_running  # noqa: E402

BOOKS, DESCRIPTION = 24, 4000000  # ~100 MB of payload: past the size a whole copy is taken for
PAYLOAD_ENV = {"PYHEAP_BOOKS": str(BOOKS), "PYHEAP_DESCRIPTION_BYTES": str(DESCRIPTION),
               "PYHEAP_ORACLE_REFERENTS": "1", "PYHEAP_ORACLE_CHAIN_TYPES": "Book"}


def description_size(python):
    """sys.getsizeof of one description, asked of the same interpreter."""
    out = subprocess.run([python, "-c", "import sys; print(sys.getsizeof('lorem' * (%d // 5)))" % DESCRIPTION],
                         capture_output=True, text=True, timeout=60)
    return int(out.stdout) if out.returncode == 0 else None


def snap_file(fixture, name, args, env=None):
    path = os.path.join(fixture.tmp, name)
    proc = subprocess.run([harness.PYHEAP, "snap", "-q", "-o", path] + list(args) + [str(fixture.pid)],
                          capture_output=True, timeout=600, env=dict(os.environ, **(env or {})))
    snap = None
    if proc.returncode == 0:
        with open(path) as f:
            snap = json.load(f)
    return proc.returncode, snap, proc.stderr.decode(errors="replace")


def check_exact(R, case, fixture, snap, path_args, python):
    test_oracle.check_snapshot(R, case, fixture.oracle, snap, "auto")
    test_graph.check_referents(R, case, snap, fixture.oracle["referents"])
    want = description_size(python)
    g = snap["graph"]
    strings = g["strings"]
    sizes = [g["nodes"][i * 6 + 2] for i in range(g["node_count"])
             if strings[g["nodes"][i * 6 + 1]] == "builtins.str" and g["nodes"][i * 6 + 2] >= DESCRIPTION]
    R.check(case + " every description in the graph, sized as sys.getsizeof says (%s bytes)" % want,
            want is not None and len(sizes) == BOOKS and set(sizes) == {want},
            "%d big str nodes, sizes %r, expected %d of %r" % (len(sizes), sorted(set(sizes))[:5], BOOKS, want))


def payload(R, label, python):
    fixture = harness.Fixture(python, "seed_book_leak.py", PAYLOAD_ENV)
    try:
        if fixture.oracle is None:
            R.fail(label + " payload heap", "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        payload_bytes = BOOKS * DESCRIPTION
        code, snap, err = snap_file(fixture, "auto.json", [])
        if not R.check(label + " payload heap: snapshot as pyheap chooses", code == 0, "exit %d: %s" % (code, err)):
            return
        capture = snap["capture"]
        R.check(label + " payload heap: read sparsely (%s)" % capture["policy_reason"],
                capture["policy"] == "sparse" and "payload" in capture["policy_reason"],
                "policy %r: %s" % (capture["policy"], capture["policy_reason"]))
        R.check(label + " payload heap: %d of %d payload bytes left out of the copy, %d copied"
                % (capture["bytes_skipped"], payload_bytes, capture["bytes_copied"]),
                capture["bytes_skipped"] >= 0.9 * payload_bytes and capture["bytes_copied"] < payload_bytes / 4,
                json.dumps(capture))
        check_exact(R, label + " payload heap [auto]", fixture, snap, [], python)

        # a sparse copy that lacks the descriptions' headers: stopped again, exact
        code, snap, err = snap_file(fixture, "again.json", ["--policy", "sparse"],
                                    {"PYHEAP_TEST_SPARSE_FORGET": "16"})
        if R.check(label + " payload heap, pages left out that the walk needs: snapshot", code == 0,
                   "exit %d: %s" % (code, err)):
            capture = snap["capture"]
            R.check(label + " payload heap, pages left out: the target was stopped again (%d stops) and "
                    "read sparsely" % capture["attempts"],
                    capture["sparse_misses"] >= 1 and capture["policy"] == "sparse",
                    json.dumps(capture))
            check_exact(R, label + " payload heap [sparse, stopped again]", fixture, snap, [], python)
        R.check(label + " payload heap: target left running", target_running(fixture.pid), describe(fixture.pid))
        R.check(label + " payload heap: target finished normally", fixture.release() == 0, fixture.error_text())
    finally:
        fixture.close()


def budget(R, label, python):
    fixture = harness.Fixture(python, "seed_book_leak.py", {"PYHEAP_BOOKS": str(BOOKS),
                                                             "PYHEAP_DESCRIPTION_BYTES": str(DESCRIPTION)})
    try:
        if fixture.oracle is None:
            R.fail(label + " budget", "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        tight = {"PYHEAP_MEMORY_BUDGET_MB": "48"}
        code, snap, err = snap_file(fixture, "tight.json", [], tight)
        R.check(label + " budget 48 MiB: the payload heap still fits, read sparsely",
                code == 0 and snap["capture"]["policy"] == "sparse" and
                snap["capture"]["memory_peak"] <= 48 << 20,
                "exit %d: %s %s" % (code, err, json.dumps(snap["capture"]) if snap else ""))
        if snap:
            test_oracle.check_snapshot(R, label + " budget 48 MiB", fixture.oracle, snap, "auto")
        code, snap, err = snap_file(fixture, "copy.json", ["--policy", "copy"], tight)
        R.check(label + " budget 48 MiB, a whole copy forced: exit 15 before any stop, saying why",
                code == 15 and "memory budget" in err and "PYHEAP_MEMORY_BUDGET_MB" in err and "whole copy" in err,
                "exit %d: %s" % (code, err))
        code, snap, err = snap_file(fixture, "tiny.json", [], {"PYHEAP_MEMORY_BUDGET_MB": "2"})
        R.check(label + " budget 2 MiB: exit 15, saying what did not fit",
                code == 15 and "memory budget" in err and "needs" in err, "exit %d: %s" % (code, err))
        code, snap, err = snap_file(fixture, "tiny.json", ["--policy", "stopped"], {"PYHEAP_MEMORY_BUDGET_MB": "2"})
        R.check(label + " budget 2 MiB, walking while stopped: exit 15 too, the target released",
                code == 15 and "memory budget" in err and target_running(fixture.pid),
                "exit %d: %s; %s" % (code, err, describe(fixture.pid)))
        R.check(label + " budget: target untraced and running after all that", target_running(fixture.pid),
                describe(fixture.pid))
        R.check(label + " budget: target finished normally", fixture.release() == 0, fixture.error_text())
    finally:
        fixture.close()


UNTOUCHED_MB = 256


def untouched(R, label, python):
    """A target with 256 MiB reserved and one page of it written, and four
    threads (8 MiB stacks, barely used): a whole copy must not commit the
    untouched pages in the target (reading them through process_vm_readv
    would), and must serve them as the zeros they are."""
    fixture = harness.Fixture(python, "idle_threads.py", {"PYHEAP_UNTOUCHED_MB": str(UNTOUCHED_MB)})
    try:
        if fixture.oracle is None:
            R.fail(label + " untouched memory", "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        for policy in ("copy", "auto"):
            case = "%s untouched memory [%s]" % (label, policy)
            before = harness.rss_bytes(fixture.pid)
            code, snap, err = snap_file(fixture, policy + ".json", ["--policy", policy])
            after = harness.rss_bytes(fixture.pid)
            if not R.check(case + ": snapshot", code == 0, "exit %d: %s" % (code, err)):
                continue
            capture = snap["capture"]
            R.check(case + ": the target's RSS %.1f MiB before, %.1f MiB after (the %d MiB it never touched "
                    "stay uncommitted)" % (before / 2**20, after / 2**20, UNTOUCHED_MB),
                    after - before < 16 << 20, json.dumps(capture))
            if policy == "copy":
                R.check(case + ": %d bytes never touched, left out of the copy as zeros (%d copied)"
                        % (capture["bytes_untouched"], capture["bytes_copied"]),
                        capture["bytes_untouched"] >= (UNTOUCHED_MB << 20) - 4096 and
                        capture["bytes_copied"] < UNTOUCHED_MB << 20, json.dumps(capture))
            test_oracle.check_snapshot(R, case, fixture.oracle, snap, policy)
        R.check(label + " untouched memory: target left running", target_running(fixture.pid),
                describe(fixture.pid))
        R.check(label + " untouched memory: target finished normally", fixture.release() == 0,
                fixture.error_text())
    finally:
        fixture.close()


def options(R, python):
    fixture = harness.Fixture(python, "seed_book_leak.py", {"PYHEAP_BOOKS": "10"})
    try:
        code, out, err = harness.run_pyheap(["snap", "--policy", "fastest", str(fixture.pid)])
        R.check("--policy with an unknown name: exit 2, naming the choices",
                code == 2 and "copy, sparse or stopped" in err, "exit %d: %s" % (code, err))
        proc = subprocess.run([harness.PYHEAP, "snap", "-q", str(fixture.pid)], capture_output=True,
                              env=dict(os.environ, PYHEAP_POLICY="fastest"))
        R.check("PYHEAP_POLICY with an unknown name: exit 2", proc.returncode == 2,
                "exit %d: %s" % (proc.returncode, proc.stderr.decode()))
        proc = subprocess.run([harness.PYHEAP, "snap", "-q", str(fixture.pid)], capture_output=True,
                              env=dict(os.environ, PYHEAP_POLICY="stopped"))
        R.check("PYHEAP_POLICY=stopped is followed",
                proc.returncode == 0 and json.loads(proc.stdout)["capture"]["policy"] == "stopped",
                "exit %d: %s" % (proc.returncode, proc.stderr.decode()))
        fixture.release()
    finally:
        fixture.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only")
    args = parser.parse_args()
    R = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "policy"))
    found = interpreters.select(R, args.only)
    for label, python in found:
        payload(R, label, python)
        untouched(R, label, python)
    main_python = dict(found).get("pyenv-3.12") or (found[0][1] if found else None)
    if main_python:
        budget(R, "pyenv-3.12" if "pyenv-3.12" in dict(found) else found[0][0], main_python)
        options(R, main_python)
    else:
        R.fail("interpreters", "no CPython found")
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
