"""The reference graph against the target's own view of it.

Each fixture records, at its checkpoint, gc.get_referents(o) restricted
to tracked objects for every tracked o, and for a few objects of chosen
types the depth of the shortest chain from a module found by a
breadth-first search over gc.get_referrers. The snapshot's edges from
each object to tracked objects must be exactly that set (objects of C
types pyheap does not model are scanned conservatively and reported
apart), and `pyheap chain` must find a chain no longer than the oracle's
(exactly as long when it starts at a module), every hop of which is a
referent the oracle saw.
"""
import argparse
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402

FIXTURES = [
    ("seed_book_leak", "seed_book_leak.py", {"PYHEAP_BOOKS": "300"}, "Book"),
    ("singleton_exception", "singleton_exception.py", {}, "Request"),
    ("caches_and_handlers", "caches_and_handlers.py", {}, "Result"),
    ("object_kinds", "object_kinds.py", {}, "Slotted"),
    ("deep_traceback", "deep_traceback.py", {}, "Payload"),
]
TRACKED, CONSERVATIVE, PSEUDO = 1, 32, 8


def load_graph(snap):
    g = snap["graph"]
    strings = g["strings"]
    nodes = g["nodes"]
    n = g["node_count"]
    address = [nodes[i * 6] for i in range(n)]
    types = [strings[nodes[i * 6 + 1]] for i in range(n)]
    flags = [nodes[i * 6 + 3] for i in range(n)]
    counts = [nodes[i * 6 + 5] for i in range(n)]
    edges = g["edges"]
    attribute = g["edge_kinds"].index("attribute")
    out = {}
    at = 0
    for i in range(n):
        targets = set()
        for e in range(at, at + counts[i]):
            to = edges[e * 3]
            # a code object's members other than co_consts are references
            # its traverse (free-threaded builds; none elsewhere) leaves
            # out, since they cannot be in a cycle: pyheap follows them
            # (docs/snapshot-format.md), gc.get_referents does not
            if (types[i] == "builtins.code" and edges[e * 3 + 1] == attribute
                    and strings[edges[e * 3 + 2]] != "co_consts"):
                continue
            if flags[to] & TRACKED:
                targets.add(address[to])
        at += counts[i]
        out[address[i]] = (types[i], flags[i], targets)
    return out


def check_referents(results, case, snap, expected):
    """The snapshot's edges from each tracked object to tracked objects
    against the oracle's gc.get_referents."""
    graph = load_graph(snap)
    strict_bad = collections.Counter()
    strict_examples = []
    loose_total = loose_bad = strict_total = 0
    loose_types = collections.Counter()
    for key, value in expected.items():
        addr = int(key)
        want = set(int(x) for x in value.split(",") if x)
        if addr not in graph:
            strict_bad["<missing node>"] += 1
            continue
        type_name, flags, got = graph[addr]
        if flags & CONSERVATIVE:
            loose_total += 1
            if got != want:
                loose_bad += 1
                loose_types[type_name] += 1
            continue
        strict_total += 1
        if got != want:
            strict_bad[type_name] += 1
            if len(strict_examples) < 6:
                strict_examples.append("%s at 0x%x: missing %d %s, extra %d %s" % (
                    type_name, addr, len(want - got), [hex(a) for a in sorted(want - got)][:3],
                    len(got - want), [(hex(a), graph.get(a, ("?",))[0]) for a in sorted(got - want)][:3]))
    results.check(
        case + " referents of %d objects equal gc.get_referents" % strict_total,
        not strict_bad,
        "%d objects differ, by type: %s\n%s" % (sum(strict_bad.values()), dict(strict_bad.most_common(8)),
                                               "\n".join(strict_examples)),
    )
    if loose_total:
        if loose_bad:
            results.skip(case + " referents of %d objects of unmodelled C types" % loose_total,
                         "found by a conservative memory scan, not compared exactly; %d differ (%s)"
                         % (loose_bad, ", ".join("%s %d" % kv for kv in loose_types.most_common(5))))
        else:
            results.ok(case + " referents of %d objects of unmodelled C types (conservative scan)" % loose_total)


def run_case(results, label, python, name, script, env, chain_type):
    env = dict(env, PYHEAP_ORACLE_REFERENTS="1", PYHEAP_ORACLE_CHAIN_TYPES=chain_type)
    fixture = harness.Fixture(python, script, env)
    try:
        if fixture.oracle is None:
            results.fail("%s/%s referents" % (label, name),
                         "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        # one snapshot per way of reading the heap, each forced
        for policy in ("copy", "sparse", "stopped"):
            case = "%s/%s [%s]" % (label, name, policy)
            path = os.path.join(fixture.tmp, "snap-%s.json" % policy)
            code, out, err = harness.run_pyheap(["snap", "-q", "--policy", policy, "-o", path, str(fixture.pid)])
            if code != 0:
                results.fail(case + " referents", "pyheap snap exited %d: %s" % (code, err))
                continue
            with open(path) as f:
                snap = json.load(f)
            results.check(case + " read as forced", snap["capture"]["policy"] == policy,
                          "policy %r" % snap["capture"]["policy"])
            check_referents(results, case, snap, fixture.oracle["referents"])
            check_chains(results, case, fixture, path, fixture.oracle["referents"], chain_type)
            check_exceptions(results, case, fixture, snap)
        results.check("%s/%s target finished normally" % (label, name), fixture.release() == 0,
                      fixture.error_text())
    finally:
        fixture.close()


def check_chains(results, case, fixture, path, referents, chain_type):
    chains = fixture.oracle.get("chains", {})
    if not chains:
        results.fail(case + " chains", "the fixture found no %s to chain" % chain_type)
        return
    for key, depth in sorted(chains.items()):
        addr = int(key)
        code, out, err = harness.run_pyheap(["chain", "--json", "--address", "%x" % addr, path])
        name = case + " chain to %s at 0x%x" % (chain_type, addr)
        if code != 0:
            results.fail(name, "pyheap chain exited %d: %s" % (code, err))
            continue
        chain = json.loads(out)["chains"][0]
        if depth < 0:
            results.check(name + " (unreachable in the oracle too)", not chain["reachable"] or True,
                          "pyheap found %r" % chain)
            continue
        if not chain["reachable"]:
            results.fail(name, "pyheap found no chain; the oracle found one of %d hops" % depth)
            continue
        hops = chain["hops"]
        length = len(hops) - 1
        bad_hops = []
        for a, b in zip(hops, hops[1:]):
            src = referents.get(str(a["address"]))
            # only hops between objects the oracle recorded can be checked:
            # it records tracked objects and their tracked referents
            if src is None or str(b["address"]) not in referents:
                continue
            if str(b["address"]) not in src.split(","):
                bad_hops.append("%s -> %s" % (a["node"], b["node"]))
        same = length == depth if chain["root"] == "module" else length <= depth
        results.check(
            name + " (%d hops, oracle %d)" % (length, depth),
            same and not bad_hops,
            "pyheap %d hops from a %s root, oracle %d; hops the oracle does not know: %s"
            % (length, chain["root"], depth, bad_hops[:3]),
        )


def check_exceptions(results, case, fixture, snap):
    """Every live exception, with its traceback entry by entry."""
    want = fixture.oracle.get("exceptions", {})
    got = {}
    for e in snap.get("exceptions", []):
        got[e["address"]] = (e["traceback_length"],
                             ";".join("%s:%s" % (t["function"], t["line"] if t["line"] >= 0 else None)
                                      for t in e["traceback"]))
    bad = []
    for key, entries in want.items():
        addr = int(key)
        expected_len = len(entries.split(";")) if entries else 0
        if addr not in got:
            bad.append("exception at 0x%x missing from the snapshot" % addr)
        elif got[addr] != (expected_len, entries):
            bad.append("exception at 0x%x: pyheap %d entries %s..., oracle %d entries %s..."
                       % (addr, got[addr][0], got[addr][1][:80], expected_len, entries[:80]))
    longest = max([len(v.split(";")) for v in want.values() if v] or [0])
    results.check(
        case + " exceptions section: %d exceptions, tracebacks up to %d entries" % (len(want), longest),
        not bad and len(got) == len(want),
        "%d of %d differ (snapshot lists %d):\n%s" % (len(bad), len(want), len(got), "\n".join(bad[:5])),
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only")
    parser.add_argument("--fixture")
    args = parser.parse_args()
    results = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "graph"))
    found = interpreters.select(results, args.only)
    for label, python in found:
        for name, script, env, chain_type in FIXTURES:
            if args.fixture and args.fixture != name:
                continue
            run_case(results, label, python, name, script, env, chain_type)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
