"""Free-threaded CPython: a heap spread over the mimalloc heaps of eight
threads that allocate and free each other's objects, and over the
segments of threads that have exited (fixtures/thread_churn.py).

While the threads churn, every snapshot must be complete and consistent:
the Anchors made by threads long gone counted exactly, every object's
type readable, the graph well formed. At the checkpoint, with blocks
on thread-free and delayed-free lists and objects in abandoned segments
(the snapshot's own statistics must show all three), the counts, sizes
and referent sets must equal the target's gc.get_objects(),
sys.getsizeof() and gc.get_referents().

Runs on every free-threaded interpreter found (a skip says so when there
is none). The churn snapshots walk while the target is stopped (see
churning()); the one at the checkpoint takes the default path.

Usage: test_free_threaded.py [--only LABEL] [--snapshots N]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402
from test_graph import load_graph, CONSERVATIVE  # noqa: E402
from test_oracle import compare  # noqa: E402

PER_FOUNDER = 500
ANCHORS = 4 * PER_FOUNDER  # four founder threads
WORKERS = 8


def is_free_threaded(python):
    try:
        out = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_config_var('Py_GIL_DISABLED'))"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.stdout.strip() == "1"


def wait_for_line(fixture, prefix, count=1, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        lines = [l for l in fixture.output_text().splitlines() if l.startswith(prefix)]
        if len(lines) >= count:
            return lines
        if fixture.proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def well_formed(snap):
    """What any snapshot must satisfy; returns a list of problems."""
    problems = []
    cap = snap["capture"]
    if not cap["complete"] or cap["unreadable_objects"]:
        problems.append("incomplete (%s) or %d unreadable objects" % (cap.get("problem"), cap["unreadable_objects"]))
    if sum(cap["gc_lists"].values()) != cap["objects"]:
        problems.append("objects per source %r do not add up to %d" % (cap["gc_lists"], cap["objects"]))
    if sum(t["count"] for t in snap["types"]) != cap["objects"]:
        problems.append("type counts do not add up to the objects")
    if "mimalloc" not in cap:
        problems.append("no mimalloc statistics")
    g = snap["graph"]
    if g["invalid_referents"]:
        problems.append("%d invalid referents" % g["invalid_referents"])
    if max(g["edges"][0::3] or [0]) >= g["node_count"]:
        problems.append("an edge to a missing node")
    if sum(g["nodes"][5::6]) != g["edge_count"]:
        problems.append("edge counts do not add up")
    return problems


def churning(results, label, fixture, anchors, count):
    # As users snapshot: pyheap chooses how to read the heap. mimalloc
    # reserves arenas of which the target touches little, and every exited
    # thread leaves an 8 MiB stack: a copy must leave what was never touched
    # uncommitted (the target's RSS, below).
    path = os.path.join(fixture.tmp, "churn.json")
    policies = {}
    untouched = 0
    rss_before = harness.rss_bytes(fixture.pid)
    failures, retried, churns, lists = [], 0, [], [0, 0, 0]
    started = time.time()
    for i in range(count):
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", path, str(fixture.pid)], timeout=300)
        if code != 0:
            failures.append("snapshot %d: exit %d: %s" % (i, code, err.strip()))
            continue
        with open(path) as f:
            snap = json.load(f)
        counts = {t["name"]: t["count"] for t in snap["types"]}
        retried += snap["capture"]["attempts"] > 1
        policies[snap["capture"]["policy"]] = policies.get(snap["capture"]["policy"], 0) + 1
        untouched += snap["capture"].get("bytes_untouched", 0)
        churns.append(counts.get("__main__.Churn", 0))
        m = snap["capture"].get("mimalloc", {})
        lists[0] += m.get("thread_free_blocks", 0) > 0
        lists[1] += m.get("delayed_free_blocks", 0) > 0
        lists[2] += m.get("abandoned_segments", 0) > 0
        problems = well_formed(snap)
        if counts.get("__main__.Anchor", 0) != anchors:
            problems.append("%d Anchors, not %d" % (counts.get("__main__.Anchor", 0), anchors))
        if problems:
            failures.append("snapshot %d: %s" % (i, "; ".join(problems)))
    results.check(
        "%s: %d snapshots while 8 threads churn: all complete and consistent, %d Anchors in each "
        "(%d needed a retry; Churn objects %d..%d; thread-free blocks in %d, delayed-free in %d, "
        "abandoned segments in %d; %.1f s)"
        % (label, count, anchors, retried, min(churns or [0]), max(churns or [0]), lists[0], lists[1], lists[2],
           time.time() - started),
        not failures, "\n".join(failures[:6]))
    rss_after = harness.rss_bytes(fixture.pid)
    # Without the snapshots the fixture grows by about 2.5 MiB a second
    # (exited threads' stacks); copies that committed untouched memory made
    # it grow by gigabytes (8 GiB after a few dozen snapshots)
    elapsed = time.time() - started
    allowed = rss_before + int(elapsed * (8 << 20)) + (256 << 20)
    results.check(
        "%s: the target's RSS %.0f MiB before the snapshots, %.0f MiB after %.0f s (policies %s; %.0f MiB "
        "never touched left out of the copies): nothing committed in the target"
        % (label, rss_before / 2**20, rss_after / 2**20, elapsed,
           ", ".join("%s %d" % kv for kv in sorted(policies.items())), untouched / 2**20),
        rss_after <= allowed, "allowed at most %.0f MiB" % (allowed / 2**20))


def settled(results, label, fixture, fifos):
    oracle = fixture.advance("settled", timeout=300)
    if oracle is None:
        results.fail("%s: settled checkpoint" % label, "the fixture never reached it:\n" + fixture.error_text())
        return False
    # counted: now the even workers free the tuples they hold (never tracked)
    writers = []
    try:
        for i in range(0, WORKERS, 2):
            # non-blocking: ENXIO rather than a hang if the worker is not there
            writers.append(os.open(os.path.join(fifos, "fifo-%d" % i), os.O_WRONLY | os.O_NONBLOCK))
            os.write(writers[-1], b"x")
        freed = wait_for_line(fixture, "freed", WORKERS // 2)
        if freed is None:
            results.fail("%s: settled" % label, "the workers did not free their tuples (stdout %r):\n%s"
                         % (fixture.output_text()[-300:], fixture.error_text()))
            return False
        path = os.path.join(fixture.tmp, "settled.json")
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", path, str(fixture.pid)], timeout=300)
    finally:
        for fd in writers:
            os.close(fd)
    if code != 0:
        results.fail("%s: settled counts" % label, "pyheap snap exited %d: %s" % (code, err.strip()))
        return False
    with open(path) as f:
        snap = json.load(f)
    cap = snap["capture"]
    m = cap.get("mimalloc", {})
    abandoned = cap["gc_lists"].get("abandoned_gc", 0) + cap["gc_lists"].get("abandoned_gc_pre", 0)
    results.check(
        "%s: settled: blocks freed by other threads on thread-free (%d) and delayed-free (%d) lists, "
        "%d objects in %d abandoned segments" % (label, m.get("thread_free_blocks", 0),
                                                  m.get("delayed_free_blocks", 0), abandoned,
                                                  m.get("abandoned_segments", 0)),
        m.get("thread_free_blocks", 0) > 0 and m.get("delayed_free_blocks", 0) > 0 and abandoned > 0,
        "the fixture did not produce the state this test is about: %r, gc_lists %r" % (m, cap["gc_lists"]))
    problems = well_formed(snap)
    diffs = compare(oracle["counts"], snap["types"], "count")
    total = sum(oracle["counts"].values())
    results.check(
        "%s: settled: counts equal gc.get_objects() (%d objects, %d types)" % (label, total, len(oracle["counts"])),
        not diffs and cap["objects"] == total and not problems,
        "%s\n%d types differ (snapshot %d objects, oracle %d):\n%s"
        % ("; ".join(problems), len(diffs), cap["objects"], total, "\n".join(diffs[:15])))
    inexact = {r["name"] for r in snap["types"] if not r.get("size_exact", True)}
    diffs = compare({k: v for k, v in oracle["sizes"].items() if k not in inexact},
                    [r for r in snap["types"] if r.get("size_exact", True)], "size")
    results.check("%s: settled: sizes equal sys.getsizeof() (%d types not modelled)" % (label, len(inexact)),
                  not diffs, "\n".join(diffs[:15]))
    graph = load_graph(snap)
    bad, strict = [], 0
    for key, value in oracle["referents"].items():
        addr = int(key)
        want = set(int(x) for x in value.split(",") if x)
        if addr not in graph:
            bad.append("0x%x missing" % addr)
            continue
        type_name, flags, got = graph[addr]
        if flags & CONSERVATIVE:
            continue
        strict += 1
        if got != want:
            bad.append("%s at 0x%x: missing %d, extra %d" % (type_name, addr, len(want - got), len(got - want)))
    results.check("%s: settled: referents of %d objects equal gc.get_referents" % (label, strict),
                  not bad, "%d differ:\n%s" % (len(bad), "\n".join(bad[:8])))
    return True


def run(results, label, python, count):
    fifos = tempfile.mkdtemp(prefix="pyheap-fifo-")
    for i in range(0, WORKERS, 2):
        os.mkfifo(os.path.join(fifos, "fifo-%d" % i))
    fixture = harness.Fixture(python, "thread_churn.py", {"PYHEAP_ANCHORS": str(PER_FOUNDER),
                                                          "PYHEAP_CHURN_FIFOS": fifos,
                                                          "PYHEAP_ORACLE_REFERENTS": "1"},
                              timeout=0, capture_stdout=True)
    try:
        line = wait_for_line(fixture, "churning")
        if line is None:
            results.fail("%s: churning" % label, "the fixture did not start:\n" + fixture.error_text())
            return
        anchors = int(line[0].split()[1])
        results.check("%s: the fixture's founder threads left %d Anchors" % (label, anchors), anchors == ANCHORS,
                      "expected %d" % ANCHORS)
        churning(results, label, fixture, anchors, count)
        if settled(results, label, fixture, fifos):
            code = fixture.release()
            results.check("%s: the target finished normally" % label,
                          code == 0 and fixture.output_text().endswith("finished\n"),
                          "exit %r: %s" % (code, fixture.error_text()))
    finally:
        fixture.close()
        shutil.rmtree(fifos)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only")
    parser.add_argument("--snapshots", type=int, default=100)
    args = parser.parse_args()
    results = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "free-threaded"))
    found = [(label, python) for label, python in interpreters.select(results, args.only)
             if is_free_threaded(python)]
    if not found:
        results.skip("free-threaded", "no free-threaded CPython found (e.g. /opt/cpython-*/bin/python3.14t "
                                      "built with --disable-gil)")
    for label, python in found:
        run(results, label, python, args.snapshots)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
