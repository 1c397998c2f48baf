"""pyheap export --format heapsnapshot, checked three ways:

1. the file itself, read with Python's json: V8's key order (strings last),
   meta field lists, counts, a synthetic root at index 0 whose edges are
   pyheap's roots, every value below 2^32, each node's name carrying its
   address, edge types per pyheap edge kind, weak edges exactly where an
   unreachable object refers to a reachable one;
2. independent readers installed with npm (PYHEAP_NODE_MODULES): memlab's
   getFullHeapFromFile() and Chrome DevTools' own HeapSnapshotLoader +
   JSHeapSnapshot must parse it with the same node and edge counts, and
   both must give the seed's exception (the module-level
   ParseBookException) the retained size pyheap itself computes (pyheap
   top, from its dominator tree), which must also equal the one computed
   here by hand: the bytes of everything a root reaches that no root
   reaches once the exception is taken out (a reachability difference
   over the snapshot's own graph).
   Without npm or the packages, these checks are skips that say why;
3. memory: exporting a 1,000,000-object snapshot needs no more than
   loading it (pyheap chain loads the same graph) plus a bounded margin.

Bad input, and progress on a terminal (a pty), are checked too.

Usage: test_export.py [--only LABEL]
"""
import argparse
import json
import os
import pty
import select
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402

JS = os.path.join(harness.ROOT, "tests", "js")
NODE_MODULES = os.environ.get("PYHEAP_NODE_MODULES", "")
V8_NODE_FIELDS = ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"]
V8_NODE_TYPES = ["hidden", "array", "string", "object", "code", "closure", "regexp", "number", "native",
                 "synthetic", "concatenated string", "sliced string", "symbol", "bigint", "object shape"]
V8_EDGE_TYPES = ["context", "element", "property", "internal", "hidden", "shortcut", "weak"]
TOP_KEYS = ["snapshot", "nodes", "edges", "trace_function_infos", "trace_tree", "samples", "locations",
            "strings"]
# pyheap edge kind -> the V8 edge type the export must use (attributes
# depend on the source: see check_edges)
KIND_TO_V8 = {"item": "element", "set_item": "element", "dict_value": "property", "local": "property",
              "slot": "property", "dict_key": "internal", "type": "internal", "conservative": "internal"}


class Graph:
    """A pyheap snapshot's graph, as flat Python lists."""

    def __init__(self, snapshot):
        g = snapshot["graph"]
        self.strings = g["strings"]
        nf, ef = len(g["node_fields"]), len(g["edge_fields"])
        nodes, edges = g["nodes"], g["edges"]
        self.n = len(nodes) // nf
        self.address = nodes[0::nf]
        self.type = nodes[1::nf]
        self.size = nodes[2::nf]
        self.detail = nodes[4::nf]
        self.edge_count = nodes[5::nf]
        self.start = [0] * (self.n + 1)
        for i in range(self.n):
            self.start[i + 1] = self.start[i] + self.edge_count[i]
        self.to = edges[0::ef]
        self.kind = [g["edge_kinds"][k] for k in edges[1::ef]]
        self.label = edges[2::ef]
        self.roots = g["roots"][0::3]
        self.root_names = g["roots"][2::3]

    def reachable(self, removed=-1):
        seen = bytearray(self.n)
        stack = []
        for r in self.roots:
            if r != removed and not seen[r]:
                seen[r] = 1
                stack.append(r)
        while stack:
            u = stack.pop()
            for e in range(self.start[u], self.start[u + 1]):
                v = self.to[e]
                if v != removed and not seen[v]:
                    seen[v] = 1
                    stack.append(v)
        return seen

    def retained(self, node):
        """(bytes, objects) that only `node` keeps reachable from the roots."""
        base, without = self.reachable(), self.reachable(node)
        kept = [i for i in range(self.n) if base[i] and not without[i]]
        return sum(self.size[i] for i in kept), len(kept)


def key_order(path):
    """The top-level keys in file order, and the document. The pairs hook
    runs for every object, innermost first: the last call is the top."""
    orders = []

    def hook(pairs):
        orders.append([k for k, _ in pairs])
        return dict(pairs)
    with open(path) as f:
        doc = json.load(f, object_pairs_hook=hook)
    return orders[-1], doc


def check_structure(R, name, graph, path):
    order, doc = key_order(path)
    R.check(name + ": top-level keys in V8's order, strings last", order == TOP_KEYS, "got %s" % order)
    snap = doc["snapshot"]
    meta = snap["meta"]
    R.check(name + ": snapshot keys meta, node_count, edge_count, trace_function_count",
            list(snap.keys()) == ["meta", "node_count", "edge_count", "trace_function_count"], "got %s" % list(snap))
    ok = (meta["node_fields"] == V8_NODE_FIELDS and meta["node_types"][0] == V8_NODE_TYPES
          and meta["edge_fields"] == ["type", "name_or_index", "to_node"]
          and meta["edge_types"][0] == V8_EDGE_TYPES
          and meta["node_types"][1:] == ["string"] + ["number"] * 5
          and meta["edge_types"][1:] == ["string_or_number", "node"])
    R.check(name + ": meta field lists are V8's", ok, json.dumps(meta)[:500])
    nodes, edges, strings = doc["nodes"], doc["edges"], doc["strings"]
    nf = len(V8_NODE_FIELDS)
    count = len(nodes) // nf
    R.check(name + ": node_count and edge_count match the arrays and pyheap's graph (+ root, + root edges)",
            snap["node_count"] == count == graph.n + 1 and len(nodes) % nf == 0
            and snap["edge_count"] == len(edges) // 3 == len(graph.to) + len(graph.roots),
            "node_count %d (array %d, graph %d + 1), edge_count %d (array %d, graph %d + %d roots)"
            % (snap["node_count"], count, graph.n, snap["edge_count"], len(edges) // 3, len(graph.to),
               len(graph.roots)))
    big = [v for v in nodes + edges if not (0 <= v < 2 ** 32)]
    R.check(name + ": every node and edge value is an integer below 2^32", not big, "e.g. %s" % big[:5])
    ids = nodes[2::nf]
    R.check(name + ": ids unique, the root's 1, none 0", len(set(ids)) == len(ids) and ids[0] == 1 and 0 not in ids,
            "first ids %s" % ids[:5])
    R.check(name + ": edge counts add up", sum(nodes[4::nf]) == len(edges) // 3, "")
    R.check(name + ": node 0 is a synthetic root with one edge per pyheap root",
            V8_NODE_TYPES[nodes[0]] == "synthetic" and nodes[4] == len(graph.roots), "type %d, edges %d, roots %d"
            % (nodes[0], nodes[4], len(graph.roots)))
    root_targets = [edges[e * 3 + 2] // nf - 1 for e in range(nodes[4])]
    R.check(name + ": the root's edges lead to pyheap's roots, in order", root_targets == graph.roots,
            "first %s vs %s" % (root_targets[:5], graph.roots[:5]))
    # names: "<TYPE 0xADDRESS> DETAIL"
    bad = []
    for i in range(graph.n):
        want = "<%s 0x%x>" % (graph.strings[graph.type[i]], graph.address[i])
        got = strings[nodes[(i + 1) * nf + 1]]
        if not got.startswith(want):
            bad.append((want, got))
            if len(bad) > 3:
                break
    R.check(name + ": every node's name is <TYPE 0xADDRESS> and its detail", not bad, "e.g. %s" % bad[:3])
    bad = [i for i in range(graph.n) if min(graph.size[i], 2 ** 32 - 1) != nodes[(i + 1) * nf + 3]][:3]
    R.check(name + ": self sizes are sys.getsizeof", not bad, "nodes %s" % bad)
    return doc


def check_edges(R, name, graph, doc):
    nodes, edges, strings = doc["nodes"], doc["edges"], doc["strings"]
    nf = len(V8_NODE_FIELDS)
    reach = graph.reachable()
    e_out = len(graph.roots)
    problems = []
    weak = expected_weak = 0
    for i in range(graph.n):
        builtin = graph.strings[graph.type[i]].startswith("builtins.")
        for e in range(graph.start[i], graph.start[i + 1]):
            vtype = V8_EDGE_TYPES[edges[e_out * 3]]
            name_or_index = edges[e_out * 3 + 1]
            to = edges[e_out * 3 + 2] // nf - 1
            e_out += 1
            kind = graph.kind[e]
            if to != graph.to[e]:
                problems.append("edge %d leads to %d, not %d" % (e, to, graph.to[e]))
            if not reach[i] and reach[graph.to[e]]:
                expected_weak += 1
                if vtype != "weak":
                    problems.append("edge %d from unreachable %d to reachable: %s, not weak" % (e, i, vtype))
                weak += vtype == "weak"
                continue
            want = KIND_TO_V8.get(kind) or ("internal" if builtin else "property")
            if vtype != want:
                problems.append("%s edge %d is %s, not %s" % (kind, e, vtype, want))
            elif kind == "item" and name_or_index != graph.label[e]:
                problems.append("item edge %d has index %d, not %d" % (e, name_or_index, graph.label[e]))
            elif kind in ("dict_value", "local", "slot", "attribute") and strings[name_or_index] != graph.strings[graph.label[e]]:
                problems.append("%s edge %d is named %r, not %r" % (kind, e, strings[name_or_index],
                                                                    graph.strings[graph.label[e]]))
            elif kind == "type" and strings[name_or_index] != "__class__":
                problems.append("type edge %d is named %r" % (e, strings[name_or_index]))
            if len(problems) > 5:
                break
        if len(problems) > 5:
            break
    R.check(name + ": edge types by kind (element/property/internal), weak exactly from unreachable to reachable "
            "(%d)" % expected_weak, not problems, "\n".join(problems))


def run_js(script, args, timeout=900):
    """Runs node on a tests/js script with PYHEAP_NODE_MODULES; returns
    (parsed last stdout line or None, error text)."""
    env = dict(os.environ, NODE_PATH=NODE_MODULES, NODE_OPTIONS="--max-old-space-size=4096")
    proc = subprocess.run(["node", os.path.join(JS, script)] + args, capture_output=True, timeout=timeout,
                          env=env, cwd=os.path.dirname(NODE_MODULES))
    lines = proc.stdout.decode(errors="replace").strip().splitlines()
    if proc.returncode != 0 or not lines:
        return None, "exit %d: %s" % (proc.returncode, proc.stderr.decode(errors="replace")[-3000:])
    try:
        return json.loads(lines[-1]), ""
    except ValueError:
        return None, "no JSON result: %s" % lines[-1][:500]


def readers_missing():
    if os.environ.get("PYHEAP_NPM_PROBLEM"):
        return os.environ["PYHEAP_NPM_PROBLEM"]
    if not NODE_MODULES:
        return "PYHEAP_NODE_MODULES is not set (scripts/test installs the npm packages and sets it)"
    if not os.path.isdir(NODE_MODULES):
        return "%s does not exist" % NODE_MODULES
    for package in ("@memlab/heap-analysis", "chrome-devtools-frontend", "esbuild"):
        if not os.path.isdir(os.path.join(NODE_MODULES, package)):
            return "npm package %s is not installed in %s" % (package, NODE_MODULES)
    try:
        subprocess.run(["node", "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "node is not installed"
    return None


def devtools_bundle(R):
    bundle = os.path.join(os.path.dirname(NODE_MODULES), "devtools-heap-snapshot-worker.mjs")
    source = os.path.join(NODE_MODULES, "chrome-devtools-frontend", "package.json")
    if os.path.exists(bundle) and os.path.getmtime(bundle) >= os.path.getmtime(source):
        return bundle
    proc = subprocess.run(["node", os.path.join(JS, "build_devtools_loader.mjs"), NODE_MODULES, bundle],
                          capture_output=True, timeout=600)
    if proc.returncode != 0:
        R.fail("bundle DevTools' heap snapshot loader", proc.stderr.decode(errors="replace")[-2000:])
        return None
    return bundle


def pyheap_retained(snapshot_path, address):
    """pyheap's own retained size of the object at address (pyheap top)."""
    code, out, err = harness.run_pyheap(["top", "--type", "builtins.Exception", "--limit", "1000", "--json",
                                         snapshot_path])
    if code != 0:
        return None, "pyheap top exit %d: %s" % (code, err)
    for item in json.loads(out)["items"]:
        if item["address"] == address:
            return item["retained"], ""
    return None, "pyheap top does not list 0x%x" % address


def check_readers(R, name, graph, path, exception, bundle, snapshot_path):
    expected, objects = graph.retained(exception)
    own, why = pyheap_retained(snapshot_path, graph.address[exception])
    R.check(name + ": pyheap's own retained size of the seed's exception (top) = the hand-computed %d bytes"
            % expected, own == expected, "pyheap top: %s %s" % (own, why))
    prefix = "<%s 0x%x>" % (graph.strings[graph.type[exception]], graph.address[exception])
    result, err = run_js("memlab_load.js", [path, prefix])
    if R.check(name + ": memlab getFullHeapFromFile() parses it", result is not None, err):
        R.check(name + ": memlab sees pyheap's nodes + root and edges + root edges",
                result["node_count"] == graph.n + 1 and result["edge_count"] == len(graph.to) + len(graph.roots),
                "memlab %d nodes, %d edges; pyheap %d + 1, %d + %d" % (result["node_count"], result["edge_count"],
                                                                      graph.n, len(graph.to), len(graph.roots)))
        got = [m["retained_size"] for m in result["matches"]]
        R.check(name + ": memlab's retainedSize of the seed's exception = pyheap's and the hand-computed %d bytes "
                "(%d objects)" % (expected, objects), got == [expected] and own == expected,
                "memlab: %s, pyheap: %s" % (got, own))
    if not bundle:
        return
    result, err = run_js("devtools_load.mjs", [bundle, path, "--class", "<__main__.Book>", prefix])
    if R.check(name + ": Chrome DevTools' HeapSnapshotLoader and JSHeapSnapshot open it", result is not None, err):
        R.check(name + ": DevTools sees pyheap's nodes + root and edges + root edges",
                result["node_count"] == graph.n + 1 and result["edge_count"] == len(graph.to) + len(graph.roots),
                "DevTools %d nodes, %d edges" % (result["node_count"], result["edge_count"]))
        got = [m["retained_size"] for m in result["matches"]]
        R.check(name + ": DevTools' retained size of the seed's exception = pyheap's and the hand-computed %d bytes"
                % expected, got == [expected] and own == expected, "DevTools: %s, pyheap: %s" % (got, own))
        books = sum(1 for t in graph.type if graph.strings[t] == "__main__.Book")
        summary = result["classes"].get("<__main__.Book>", {})
        R.check(name + ": DevTools' Summary groups the %d Books under one class <__main__.Book>" % books,
                summary.get("count") == books, "summary: %s" % result["classes"])


def find_exception(graph):
    for i in range(graph.n):
        if graph.strings[graph.type[i]] == "builtins.Exception" and graph.detail[i] >= 0 and \
                graph.strings[graph.detail[i]] == "Exception('parse book failed!')":
            return i
    return None


def run_seed(R, label, python, readers_reason, bundle, tmp):
    name = label + "/seed_book_leak"
    fixture = harness.Fixture(python, "seed_book_leak.py")
    snapshot_path = os.path.join(tmp, label + ".json")
    export_path = os.path.join(tmp, label + ".heapsnapshot")
    try:
        if fixture.oracle is None:
            R.fail(name + " export", "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        code, out, err = harness.run_pyheap(["snap", "-q", "-o", snapshot_path, str(fixture.pid)])
        fixture.release()
        if not R.check(name + ": snapshot", code == 0, "exit %d: %s" % (code, err)):
            return
    finally:
        fixture.close()
    code, out, err = harness.run_pyheap(["export", "--format", "heapsnapshot", snapshot_path, "-o", export_path])
    if not R.check(name + ": export exits 0 with a summary", code == 0 and "nodes and" in err, "exit %d: %s" % (code, err)):
        return
    with open(snapshot_path) as f:
        graph = Graph(json.load(f))
    doc = check_structure(R, name, graph, export_path)
    check_edges(R, name, graph, doc)
    del doc
    exception = find_exception(graph)
    if not R.check(name + ": the seed's exception is in the graph", exception is not None, ""):
        return
    if readers_reason:
        expected, objects = graph.retained(exception)
        own, why = pyheap_retained(snapshot_path, graph.address[exception])
        R.check(name + ": pyheap's own retained size of the seed's exception (top) = the hand-computed %d bytes"
                % expected, own == expected, "pyheap top: %s %s" % (own, why))
        R.skip(name + ": memlab and DevTools read the export", readers_reason)
    else:
        check_readers(R, name, graph, export_path, exception, bundle, snapshot_path)
    os.unlink(export_path)


def peak_rss_kb(args):
    """Runs pyheap in a child and returns (exit code, its peak RSS in KiB)."""
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.execv(harness.PYHEAP, [harness.PYHEAP] + args)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss


def run_bounded_memory(R, label, python, tmp):
    name = label + "/big_heap (1,000,000 objects)"
    fixture = harness.Fixture(python, "big_heap.py", {"PYHEAP_OBJECTS": "1000000"})
    snapshot_path = os.path.join(tmp, "big.json")
    export_path = os.path.join(tmp, "big.heapsnapshot")
    try:
        if fixture.oracle is None:
            R.fail(name + " export", "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        code, out, err = harness.run_pyheap(["snap", "-q", "-o", snapshot_path, str(fixture.pid)])
        fixture.release()
        if not R.check(name + ": snapshot", code == 0, "exit %d: %s" % (code, err)):
            return
    finally:
        fixture.close()
    code, export_kb = peak_rss_kb(["export", "-q", "--format", "heapsnapshot", snapshot_path, "-o", export_path])
    if not R.check(name + ": export exits 0", code == 0, "exit %d" % code):
        return
    # chain loads the same graph in full and prints one chain
    code, load_kb = peak_rss_kb(["chain", "--address", "0x1", snapshot_path])
    size_mb = os.path.getsize(export_path) / 1e6
    R.check(name + ": export's peak memory (%.0f MB, for a %.0f MB file) is loading the snapshot (%.0f MB) + at "
            "most 25%% + 32 MB" % (export_kb / 1024, size_mb, load_kb / 1024),
            export_kb <= load_kb * 1.25 + 32 * 1024, "export %d KiB, load %d KiB" % (export_kb, load_kb))
    os.unlink(export_path)
    os.unlink(snapshot_path)


def run_with_pty(args, env):
    """Runs pyheap with stderr on a pseudo-terminal; returns (exit code, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([harness.PYHEAP] + args, stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    output = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    return proc.wait(timeout=60), output.decode(errors="replace")


def check_cli(R, tmp, snapshot_path):
    export_path = os.path.join(tmp, "cli.heapsnapshot")
    code, out, err = harness.run_pyheap(["export", snapshot_path, "-o", export_path])
    R.check("export without --format exits 2", code == 2, "exit %d: %s" % (code, err))
    code, out, err = harness.run_pyheap(["export", "--format", "hprof", snapshot_path, "-o", export_path])
    R.check("export --format hprof exits 2 naming heapsnapshot", code == 2 and "heapsnapshot" in err,
            "exit %d: %s" % (code, err))
    code, out, err = harness.run_pyheap(["export", "--format", "heapsnapshot", os.path.join(tmp, "missing.json"),
                                         "-o", export_path])
    R.check("export of a missing file exits 12", code == 12, "exit %d: %s" % (code, err))
    truncated = os.path.join(tmp, "truncated.json")
    with open(snapshot_path, "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[: len(data) // 2])
    code, out, err = harness.run_pyheap(["export", "--format", "heapsnapshot", truncated, "-o", export_path])
    R.check("export of a truncated snapshot exits 12 and writes nothing", code == 12 and not os.path.exists(export_path),
            "exit %d: %s" % (code, err))
    nograph = os.path.join(tmp, "nograph.json")
    doc = json.loads(data)
    doc.pop("graph", None)
    doc.pop("exceptions", None)
    with open(nograph, "w") as f:
        json.dump(doc, f)
    code, out, err = harness.run_pyheap(["export", "--format", "heapsnapshot", nograph, "-o", export_path])
    R.check("export of a --no-graph snapshot exits 12 naming --no-graph", code == 12 and "--no-graph" in err,
            "exit %d: %s" % (code, err))
    code, out, err = harness.run_pyheap(["export", "--format", "heapsnapshot", snapshot_path, "-o",
                                         os.path.join(tmp, "no-such-dir", "x.heapsnapshot")])
    R.check("export to an unwritable path exits 11", code == 11, "exit %d: %s" % (code, err))
    with open(export_path, "w") as f:
        f.write("old")
    code, out, err = harness.run_pyheap(["export", "--format", "heapsnapshot", truncated, "-o", export_path])
    with open(export_path) as f:
        R.check("a failed export leaves the old output file alone", f.read() == "old", "")
    proc = subprocess.run([harness.PYHEAP, "export", "-q", "--format", "heapsnapshot", snapshot_path],
                          capture_output=True, timeout=300)
    R.check("export to standard output (a pipe) writes the file, nothing on stderr with -q",
            proc.returncode == 0 and proc.stdout.startswith(b'{"snapshot":{"meta":') and not proc.stderr,
            "exit %d: %s" % (proc.returncode, proc.stderr[-500:]))

    # progress: on a terminal only, erased at the end, no colour with NO_COLOR
    env = dict(os.environ, PYHEAP_TEST_PROGRESS="1", TERM="xterm")
    env.pop("NO_COLOR", None)
    code, tty = run_with_pty(["export", "--format", "heapsnapshot", snapshot_path, "-o", export_path], env)
    R.check("export on a terminal shows progress and erases it",
            code == 0 and "pyheap: writing nodes" in tty and "\r" in tty and "\x1b[1m" in tty,
            "exit %d: %r" % (code, tty[-600:]))
    last = tty.replace("\r\n", "\n").split("\r")[-1]
    R.check("the terminal keeps only the summary line after progress", last.strip().startswith("pyheap: ")
            and "nodes and" in last and "%" not in last, "last line %r" % last)
    env["NO_COLOR"] = "1"
    code, tty = run_with_pty(["export", "--format", "heapsnapshot", snapshot_path, "-o", export_path], env)
    R.check("NO_COLOR: progress without escape sequences", code == 0 and "pyheap: writing nodes" in tty
            and "\x1b" not in tty, "exit %d: %r" % (code, tty[-600:]))
    code, tty = run_with_pty(["export", "-q", "--format", "heapsnapshot", snapshot_path, "-o", export_path], env)
    R.check("-q: no progress on a terminal either", code == 0 and tty == "", "exit %d: %r" % (code, tty[-300:]))
    proc = subprocess.run([harness.PYHEAP, "export", "--format", "heapsnapshot", snapshot_path, "-o", export_path],
                          capture_output=True, env=env, timeout=300)
    R.check("stderr not a terminal: no progress, only the summary", proc.returncode == 0 and b"\r" not in proc.stderr
            and b"writing nodes" not in proc.stderr, "%r" % proc.stderr[-300:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only this interpreter label")
    parser.add_argument("--no-big", action="store_true", help="skip the 1,000,000-object memory check")
    args = parser.parse_args()
    R = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "export"))
    readers_reason = readers_missing()
    bundle = None
    if readers_reason:
        R.skip("memlab and DevTools readers", readers_reason)
    else:
        bundle = devtools_bundle(R)
    found = interpreters.select(R, args.only)
    tmp = tempfile.mkdtemp(prefix="pyheap-export-")
    try:
        for label, python in found:
            run_seed(R, label, python, readers_reason, bundle, tmp)
        if found:
            label, python = found[-1]
            seed = os.path.join(tmp, label + ".json")
            if os.path.exists(seed):
                check_cli(R, tmp, seed)
            if args.no_big:
                R.skip("export memory at 1,000,000 objects", "--no-big")
            else:
                run_bounded_memory(R, label, python, tmp)
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
