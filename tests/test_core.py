"""pyheap snap --core: the same snapshot after the fact.

Each oracle fixture is snapshotted live at its checkpoint, then dumped with
gdb's gcore (and, separately, killed by SIGABRT so the kernel writes its
core). The snapshot from the core must equal the oracle exactly (counts,
sizes, every tracked object's referents, the exceptions section) and the
live snapshot node for node (address, type, size, flags, detail, labelled
edges, roots, types, exceptions). Then bad input: not a core, truncated
cores, a core of another program, missing files, build-id mismatches,
inconsistent segments; --sysroot and --exe; zstd cores; and diff and chain
on core snapshots.

Usage: test_core.py [--only LABEL] [--quick]   (--quick: one interpreter, seed_book_leak)
"""
import argparse
import collections
import glob
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interpreters  # noqa: E402
from test_graph import load_graph  # noqa: E402
from test_oracle import compare  # noqa: E402

FIXTURES = [
    ("seed_book_leak", "seed_book_leak.py", {"PYHEAP_BOOKS": "300"}),
    ("object_kinds", "object_kinds.py", {}),
]
CONSERVATIVE = 32
CORE_PATTERN = "/proc/sys/kernel/core_pattern"


def gcore(pid, prefix):
    """Dumps pid with gdb's gcore; returns the core's path or None."""
    proc = subprocess.run(["gcore", "-o", prefix, str(pid)], capture_output=True, timeout=300)
    path = "%s.%d" % (prefix, pid)
    return path if proc.returncode == 0 and os.path.exists(path) else None


def snap_core(core, out, extra=()):
    """pyheap snap --core; returns (exit code, parsed snapshot or None, stderr)."""
    code, _, err = harness.run_pyheap(["snap", "-q", "--core", core, "-o", out] + list(extra))
    data = None
    if os.path.exists(out):
        with open(out) as f:
            data = json.load(f)
    return code, data, err


def node_table(snap):
    """Every node by address (pseudo-nodes by index): type, size, flags,
    detail and its edges as (target address, kind, label) - comparable
    across snapshots, which number nodes in their own order."""
    g = snap["graph"]
    strings, nodes, edges = g["strings"], g["nodes"], g["edges"]

    def text(i):
        return strings[i] if 0 <= i < len(strings) else None

    table, at = {}, 0
    for i in range(g["node_count"]):
        addr, type_, size, flags, detail, count = nodes[i * 6:i * 6 + 6]
        out = []
        for e in range(at, at + count):
            to, kind, label = edges[e * 3:e * 3 + 3]
            out.append((nodes[to * 6], kind, text(label)))
        at += count
        table[("pseudo", i) if flags & 8 else addr] = (text(type_), size, flags, text(detail), out)
    roots = [(nodes[g["roots"][r] * 6], g["roots"][r + 1], text(g["roots"][r + 2]))
             for r in range(0, len(g["roots"]), 3)]
    return table, roots


def same_snapshot(a, b):
    """Differences between two snapshots of one heap, ignoring how and
    when they were taken; [] when equal node for node."""
    diffs = []
    if a["types"] != b["types"]:
        diffs.append("types differ")
    if a.get("exceptions") != b.get("exceptions"):
        diffs.append("exceptions differ")
    if a.get("untracked") != b.get("untracked"):
        diffs.append("untracked differ")
    for key in ("pid", "exe", "python", "libpython", "build_id", "threads", "interpreters"):
        if a["target"].get(key) != b["target"].get(key):
            diffs.append("target.%s: %r vs %r" % (key, a["target"].get(key), b["target"].get(key)))
    for key in ("objects", "gc_lists", "unreadable_objects", "heap"):
        if a["capture"].get(key) != b["capture"].get(key):
            diffs.append("capture.%s: %r vs %r" % (key, a["capture"].get(key), b["capture"].get(key)))
    na, ra = node_table(a)
    nb, rb = node_table(b)
    if ra != rb:
        diffs.append("roots differ")
    differing = [k for k in set(na) | set(nb) if na.get(k) != nb.get(k)]
    for k in differing[:4]:
        diffs.append("node %s: %r vs %r" % (k, na.get(k), nb.get(k)))
    if differing:
        diffs.append("%d of %d nodes differ" % (len(differing), len(na)))
    return diffs


def check_oracle(results, case, oracle, snap):
    """Counts, sizes, referents and exceptions against the fixture's own
    view, as test_oracle and test_graph check live snapshots."""
    diffs = compare(oracle["counts"], snap["types"], "count")
    total = sum(oracle["counts"].values())
    results.check(case + " counts (%d objects, %d types)" % (total, len(oracle["counts"])),
                  not diffs and snap["capture"]["objects"] == total,
                  "snapshot objects %d, oracle %d:\n%s" % (snap["capture"]["objects"], total, "\n".join(diffs[:15])))
    inexact = {r["name"] for r in snap["types"] if not r.get("size_exact", True)}
    exact_rows = [r for r in snap["types"] if r.get("size_exact", True)]
    diffs = compare({k: v for k, v in oracle["sizes"].items() if k not in inexact}, exact_rows, "size")
    results.check(case + " sizes (%d types exact)" % len(exact_rows), not diffs, "\n".join(diffs[:15]))
    results.check(case + " python version", snap["target"]["python"] == oracle["python"],
                  "%r vs %r" % (snap["target"]["python"], oracle["python"]))
    graph = load_graph(snap)
    strict_bad, strict = collections.Counter(), 0
    for key, value in oracle["referents"].items():
        want = set(int(x) for x in value.split(",") if x)
        entry = graph.get(int(key))
        if entry is None:
            strict_bad["<missing node>"] += 1
            continue
        type_name, flags, got = entry
        if flags & CONSERVATIVE:
            continue
        strict += 1
        if got != want:
            strict_bad[type_name] += 1
    results.check(case + " referents of %d objects equal gc.get_referents" % strict, not strict_bad,
                  "differ by type: %s" % dict(strict_bad.most_common(8)))
    # objects of C types found by a conservative scan differ from the
    # oracle live too (test_graph reports that); here they are held to the
    # live snapshot, node for node, by the caller
    want = oracle.get("exceptions", {})
    got = {e["address"]: (e["traceback_length"],
                          ";".join("%s:%s" % (t["function"], t["line"] if t["line"] >= 0 else None)
                                   for t in e["traceback"]))
           for e in snap.get("exceptions", [])}
    bad = [k for k, entries in want.items()
           if got.get(int(k)) != (len(entries.split(";")) if entries else 0, entries)]
    results.check(case + " exceptions section (%d exceptions)" % len(want), not bad and len(got) == len(want),
                  "%d differ, snapshot lists %d" % (len(bad), len(got)))


def run_gcore_case(results, label, python, name, script, env, tmp):
    case = "%s/%s gcore" % (label, name)
    env = dict(env, PYHEAP_ORACLE_REFERENTS="1")
    fixture = harness.Fixture(python, script, env)
    try:
        if fixture.oracle is None:
            results.fail(case, "fixture never reached its checkpoint:\n" + fixture.error_text())
            return None
        live = os.path.join(tmp, "%s-%s-live.json" % (label, name))
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", live, str(fixture.pid)])
        if code != 0:
            results.fail(case, "live snapshot exited %d: %s" % (code, err))
            return None
        core = gcore(fixture.pid, os.path.join(tmp, "%s-%s" % (label, name)))
        if not core:
            results.fail(case, "gcore failed")
            return None
        out = os.path.join(tmp, "%s-%s-core.json" % (label, name))
        code, snap, err = snap_core(core, out)
        if not results.check(case + " snap --core exits 0", code == 0 and snap is not None,
                             "exit %d: %s" % (code, err)):
            return None
        check_oracle(results, case, fixture.oracle, snap)
        with open(live) as f:
            live_snap = json.load(f)
        diffs = same_snapshot(live_snap, snap)
        results.check(case + " equals the live snapshot node for node (%d nodes)" % snap["graph"]["node_count"],
                      not diffs, "\n".join(diffs))
        capture = snap["capture"]
        results.check(case + " records its source",
                      snap["target"]["core"]["written_by"] == "gdb" and capture["pause_ms"] is None
                      and snap["target"]["pid"] == fixture.pid and snap["target"]["core"]["path"] == core,
                      "target %r, pause_ms %r" % (snap["target"], capture["pause_ms"]))
        results.check(case + " target finished normally after gcore", fixture.release() == 0, fixture.error_text())
        return core, out, live
    finally:
        fixture.close()


class CorePattern:
    """Points the kernel's core_pattern at a directory of ours, and puts
    the old pattern back whatever happens."""

    def __init__(self, directory):
        self.directory = directory
        self.old = None
        self.error = None

    def __enter__(self):
        try:
            with open(CORE_PATTERN) as f:
                self.old = f.read().rstrip("\n")
            with open(CORE_PATTERN, "w") as f:
                f.write(os.path.join(self.directory, "core.%p"))
        except OSError as e:
            self.error = "cannot set %s (%s): needs root outside a container" % (CORE_PATTERN, e.strerror)
        return self

    def __exit__(self, *exc):
        if self.old is not None and not self.error:
            with open(CORE_PATTERN, "w") as f:
                f.write(self.old)


def run_kernel_case(results, label, python, tmp):
    """Returns the kernel's core, or None."""
    case = "%s/seed_book_leak kernel core" % label
    fixture = harness.Fixture(python, "seed_book_leak.py", {"PYHEAP_BOOKS": "300", "PYHEAP_ORACLE_REFERENTS": "1"},
                              prefix=("prlimit", "--core=unlimited", "--"))
    try:
        if fixture.oracle is None:
            results.fail(case, "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        live = os.path.join(tmp, "%s-kernel-live.json" % label)
        code, _, err = harness.run_pyheap(["snap", "-q", "-o", live, str(fixture.pid)])
        if code != 0:
            results.fail(case, "live snapshot exited %d: %s" % (code, err))
            return None
        directory = tempfile.mkdtemp(prefix="kcore-", dir=tmp)
        with CorePattern(directory) as pattern:
            if pattern.error:
                results.skip(case, pattern.error)
                return None
            os.kill(fixture.pid, signal.SIGABRT)
            try:
                fixture.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                pass
            path = os.path.join(directory, "core.%d" % fixture.pid)
            deadline = time.time() + 30
            # the kernel may still be writing when the parent is told
            while time.time() < deadline and not os.path.exists(path):
                time.sleep(0.05)
        if not os.path.exists(path):
            results.skip(case, "the kernel wrote no core (exit status %r; limits or a pipe pattern "
                         "that ignored ours)" % fixture.proc.returncode)
            return None
        out = os.path.join(tmp, "%s-kernel.json" % label)
        code, snap, err = snap_core(path, out)
        if not results.check(case + " snap --core exits 0", code == 0 and snap is not None,
                             "exit %d: %s" % (code, err)):
            return None
        check_oracle(results, case, fixture.oracle, snap)
        with open(live) as f:
            diffs = same_snapshot(json.load(f), snap)
        results.check(case + " equals the live snapshot node for node (%d nodes)" % snap["graph"]["node_count"],
                      not diffs, "\n".join(diffs))
        results.check(case + " records the kernel and SIGABRT",
                      snap["target"]["core"]["written_by"] == "kernel" and snap["target"]["core"]["signal"] == 6,
                      repr(snap["target"]["core"]))
        return path
    finally:
        fixture.close()


def error_case(results, name, args, want_code, want_text, tmp):
    out = os.path.join(tmp, "bad.json")
    if os.path.exists(out):
        os.unlink(out)
    code, _, err = harness.run_pyheap(["snap", "-q", "-o", out] + args)
    texts = [want_text] if isinstance(want_text, str) else want_text
    missing = [t for t in texts if t not in err]
    results.check(name + " (exit %d)" % want_code, code == want_code and not missing,
                  "exit %d, stderr: %s (wanted %r)" % (code, err.strip()[:600], missing))
    data = None
    if os.path.exists(out):
        with open(out) as f:
            data = json.load(f)
    return code, data, err


def read_phdrs(data):
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    out = []
    for i in range(phnum):
        at = phoff + i * phentsize
        out.append((at,) + struct.unpack_from("<IIQQQQQQ", data, at))
    return out  # (at, type, flags, offset, vaddr, paddr, filesz, memsz, align)


def sysroot_of(core_snap, core, root):
    """A sysroot holding, at their paths, links to every file the core maps."""
    with open(core, "rb") as f:
        data = f.read()
    paths = set()
    for _, type_, _, offset, _, _, filesz, _, _ in read_phdrs(data):
        if type_ != 4:
            continue
        notes, at = data[offset:offset + filesz], 0
        while at + 12 <= len(notes):
            namesz, descsz, ntype = struct.unpack_from("<III", notes, at)
            desc = at + 12 + ((namesz + 3) & ~3)
            if ntype == 0x46494C45:
                count, = struct.unpack_from("<Q", notes, desc)
                names = notes[desc + 16 + 24 * count:desc + descsz].split(b"\0")
                paths.update(n.decode() for n in names[:count])
            at = desc + ((descsz + 3) & ~3)
    for path in paths:
        if not os.path.isfile(path):
            continue
        link = root + path
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.lexists(link):
            os.symlink(path, link)
    return paths


def run_bad_input(results, label, python, core, core_json, kernel_core, tmp):
    case = "%s bad input" % label
    with open(core_json) as f:
        good = json.load(f)
    libpython = good["target"]["libpython"]
    # not a core
    text = os.path.join(tmp, "not-a-core.txt")
    with open(text, "w") as f:
        f.write("this is not a core\n" * 100)
    error_case(results, case + ": a text file", ["--core", text], 12, "not a core file", tmp)
    error_case(results, case + ": an ELF executable", ["--core", os.path.realpath(sys.executable)], 12,
               "not a core file: an ELF", tmp)
    error_case(results, case + ": no such file", ["--core", os.path.join(tmp, "nothing")], 12, "cannot open", tmp)
    error_case(results, case + ": --sysroot without --core", ["--sysroot", "/", "1"], 2, "go with --core", tmp)
    # truncated: the kernel writes its notes first, then memory in address
    # order, so a kernel core cut short (a full disk, a core size limit)
    # keeps its notes and loses the top of memory
    with open(core, "rb") as f:
        data = f.read()
    cut = os.path.join(tmp, "truncated-core")
    with open(cut, "wb") as f:
        f.write(data[:100])
    error_case(results, case + ": truncated inside its headers", ["--core", cut], 16, "truncated", tmp)
    if kernel_core:
        with open(kernel_core, "rb") as f:
            kdata = f.read()
        knotes = max(o + s for _, t, _, o, _, _, s, _, _ in read_phdrs(kdata) if t == 4)
        with open(cut, "wb") as f:
            f.write(kdata[:max(knotes, len(kdata) * 6 // 10)])
        code, partial, err = error_case(results, case + ": a kernel core cut short in its libraries",
                                        ["--core", cut], 16, "truncated", tmp)
        results.check(case + ": a kernel core cut short in its libraries: no snapshot without libpython",
                      partial is None, repr(partial and partial["capture"]))
        # cut inside the last writable segment (the stack: no Python object
        # is there): the heap is whole, the core is not
        kloads = sorted([p for p in read_phdrs(kdata) if p[1] == 1 and p[6] > 4096], key=lambda p: p[3])
        last = [p for p in kloads if p[2] & 2][-1]
        with open(cut, "wb") as f:
            f.write(kdata[:last[3] + 4096])
        code, partial, err = error_case(results, case + ": a kernel core cut short in its stack",
                                        ["--core", cut], 16, "truncated", tmp)
        results.check(case + ": a kernel core cut short in its stack: a partial snapshot",
                      partial is not None and partial["capture"]["complete"] is False
                      and "truncated" in partial["capture"]["problem"] and partial["capture"]["objects"] > 0
                      and partial["target"]["core"]["truncated_bytes"] > 0,
                      repr(partial and partial["capture"]))
    else:
        results.skip(case + ": a kernel core with its memory cut short", "no kernel core was made")
    # a gcore cut short loses its notes (gdb writes them last)
    with open(cut, "wb") as f:
        f.write(data[:len(data) * 6 // 10])
    error_case(results, case + ": a gcore cut short", ["--core", cut], 16, "truncated", tmp)
    phdrs = read_phdrs(data)
    # inconsistent segments: the highest writable segment (the C stack,
    # which holds no Python object) moved onto its neighbour: a partial
    # snapshot; the largest (the heap) moved: nothing can be read
    loads = sorted([p for p in phdrs if p[1] == 1], key=lambda p: p[4])
    writable = [i for i in range(1, len(loads)) if loads[i][2] & 2]
    for which, index, partial_expected in (("the stack's", writable[-1], True),
                                            ("the heap's", max(writable, key=lambda i: loads[i][6]), False)):
        broken = bytearray(data)
        struct.pack_into("<Q", broken, loads[index][0] + 16, loads[index - 1][4] + 8)
        bad_core = os.path.join(tmp, "overlapping-core")
        with open(bad_core, "wb") as f:
            f.write(broken)
        name = case + ": %s segment overlapping another" % which
        code, partial, err = error_case(results, name, ["--core", bad_core], 10, "overlap", tmp)
        if partial_expected:
            results.check(name + ": a partial snapshot",
                          partial is not None and partial["capture"]["complete"] is False
                          and "inconsistent" in partial["capture"]["problem"] and partial["capture"]["objects"] > 0,
                          repr(partial and partial["capture"])[:400] + err)
        os.unlink(bad_core)
    os.unlink(cut)
    # missing files
    empty = tempfile.mkdtemp(prefix="sysroot-empty-", dir=tmp)
    error_case(results, case + ": libpython missing under --sysroot", ["--core", core, "--sysroot", empty], 17,
               [libpython or good["target"]["exe"], "--sysroot"], tmp)
    # a sysroot with every file: the same snapshot
    root = tempfile.mkdtemp(prefix="sysroot-", dir=tmp)
    sysroot_of(good, core, root)
    out = os.path.join(tmp, "sysroot.json")
    code, snap, err = snap_core(core, out, ["--sysroot", root])
    if results.check(case + ": --sysroot with the files: exit 0", code == 0 and snap is not None, err):
        diffs = same_snapshot(good, snap)
        results.check(case + ": --sysroot gives the same snapshot", not diffs and snap["target"]["core"]["sysroot"] == root,
                      "\n".join(diffs))
    # another build in its place
    interpreter = libpython or good["target"]["interpreter"]
    other = None
    for _, path in interpreters.find()[0]:
        for candidate in glob.glob(os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(path))), "lib",
                                                "libpython3.*.so.1.0")) + [os.path.realpath(path)]:
            if interpreters.build_id(candidate) not in (None, good["target"]["build_id"]) and \
                    ("libpython" in candidate) == bool(libpython):
                other = candidate
                break
        if other:
            break
    if other:
        os.unlink(root + interpreter)
        os.symlink(other, root + interpreter)
        error_case(results, case + ": another build under --sysroot", ["--core", core, "--sysroot", root], 18,
                   [good["target"]["build_id"], interpreters.build_id(other)], tmp)
    else:
        results.skip(case + ": another build under --sysroot", "no second interpreter build to swap in")
    shutil.rmtree(root)
    # --exe: a wrong executable is refused by build-id
    exe = good["target"]["exe"]
    wrong = "/bin/sh" if os.path.realpath("/bin/sh") != os.path.realpath(exe) else "/bin/ls"
    if not libpython:
        # the executable holds the interpreter: a wrong one must be refused
        error_case(results, case + ": --exe of another program", ["--core", core, "--exe", wrong], 18,
                   ["build-id", "--exe"], tmp)
    code, snap, err = snap_core(core, os.path.join(tmp, "exe.json"), ["--exe", os.path.realpath(exe)])
    results.check(case + ": --exe naming the right executable: exit 0", code == 0, err)
    # struct layouts from a layout file instead of DWARF
    layout = os.path.join(tmp, "layout.json")
    code, _, err = harness.run_pyheap(["layout", "-o", layout, interpreter])
    if results.check(case + ": pyheap layout of the interpreter", code == 0, err):
        code, snap, err = snap_core(core, os.path.join(tmp, "layout-snap.json"), ["--layout", layout])
        results.check(case + ": --layout gives the same snapshot",
                      code == 0 and snap is not None and not same_snapshot(good, snap)
                      and snap["target"]["debuginfo"].startswith("layout file"),
                      "exit %d: %s %s" % (code, err, snap and same_snapshot(good, snap)))
    # compressed cores
    if shutil.which("zstd"):
        zst = os.path.join(tmp, "core.zst")
        subprocess.run(["zstd", "-q", "-f", "-o", zst, core], check=True)
        code, snap, err = snap_core(zst, os.path.join(tmp, "zstd.json"))
        if results.check(case + ": a zstd core (systemd-coredump's format): exit 0", code == 0 and snap, err):
            results.check(case + ": the zstd core gives the same snapshot", not same_snapshot(good, snap)
                          and snap["target"]["core"]["format"] == "zstd", "\n".join(same_snapshot(good, snap)))
        os.unlink(zst)
    else:
        results.skip(case + ": a zstd core", "no zstd command to compress one (apt-get install zstd)")
    lz4 = os.path.join(tmp, "core.lz4")
    with open(lz4, "wb") as f:
        f.write(b"\x04\x22\x4d\x18" + b"\0" * 64)
    error_case(results, case + ": an lz4 core", ["--core", lz4], 12, ["lz4", "coredumpctl"], tmp)


def run_debug_in_sysroot(results, label, core, core_json, tmp):
    """DWARF for a core from another machine: from the sysroot's files, by
    .gnu_debuglink next to the interpreter and by build-id under its
    /usr/lib/debug. The interpreter in the sysroot is stripped of its DWARF
    (its build-id is unchanged), so nothing on this host can serve it."""
    case = "%s --sysroot debug info" % label
    with open(core_json) as f:
        good = json.load(f)
    lib = good["target"]["libpython"]
    if not lib or not shutil.which("objcopy"):
        results.skip(case, "needs a libpython interpreter and objcopy")
        return
    bid = good["target"]["build_id"]
    for how in ("debuglink", "build-id"):
        root = tempfile.mkdtemp(prefix="sysroot-debug-", dir=tmp)
        sysroot_of(good, core, root)
        os.unlink(root + lib)
        debug = os.path.join(tmp, os.path.basename(lib) + ".debug")
        subprocess.run(["objcopy", "--only-keep-debug", lib, debug], check=True)
        if how == "debuglink":
            subprocess.run(["objcopy", "--strip-debug", "--add-gnu-debuglink=" + debug, lib, root + lib], check=True)
            os.rename(debug, os.path.join(os.path.dirname(root + lib), os.path.basename(debug)))
            want = ".gnu_debuglink: " + root
        else:
            subprocess.run(["objcopy", "--strip-debug", lib, root + lib], check=True)
            where = os.path.join(root, "usr/lib/debug/.build-id", bid[:2])
            os.makedirs(where, exist_ok=True)
            os.rename(debug, os.path.join(where, bid[2:] + ".debug"))
            want = "build-id: " + root
        out = os.path.join(tmp, "sysroot-debug.json")
        code, snap, err = snap_core(core, out, ["--sysroot", root])
        ok = code == 0 and snap is not None
        results.check(case + ": DWARF by %s inside the sysroot gives the same snapshot" % how,
                      ok and not same_snapshot(good, snap) and snap["target"]["debuginfo"].startswith(want),
                      "exit %d: %s; debuginfo %r" % (code, err.strip(), snap and snap["target"]["debuginfo"]))
        shutil.rmtree(root)


def run_filtered_core(results, label, python, tmp):
    """A core made without the process's private memory (coredump_filter
    0x10: ELF headers only) cannot be walked, and pyheap says why."""
    case = "%s core without private memory (coredump_filter 0x10)" % label
    fixture = harness.Fixture(python, "seed_book_leak.py", {"PYHEAP_BOOKS": "10"})
    try:
        if fixture.oracle is None:
            results.fail(case, "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        with open("/proc/%d/coredump_filter" % fixture.pid, "w") as f:
            f.write("0x10")
        core = gcore(fixture.pid, os.path.join(tmp, "filtered"))
        if not core:
            results.fail(case, "gcore failed")
            return
        error_case(results, case, ["--core", core], 12, "coredump_filter", tmp)
        os.unlink(core)
        results.check(case + ": target finished normally", fixture.release() == 0, fixture.error_text())
    finally:
        fixture.close()


def run_no_debuginfo(results, found, tmp):
    """A core whose interpreter has no DWARF anywhere: exit 6, and a 3.13+
    interpreter is still named exactly, from the _Py_DebugOffsets the core
    saved."""
    chosen = [(label, python) for label, python in found if label == "pyenv-3.13"]
    case = "core of a stripped 3.13 libpython"
    if not chosen or not shutil.which("objcopy"):
        results.skip(case, "needs pyenv 3.13 and objcopy")
        return
    label, python = chosen[0]
    fixture = harness.Fixture(python, "seed_book_leak.py", {"PYHEAP_BOOKS": "10"})
    try:
        if fixture.oracle is None:
            results.fail(case, "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        core = gcore(fixture.pid, os.path.join(tmp, "stripped"))
        code, snap, err = snap_core(core, os.path.join(tmp, "stripped.json")) if core else (None, None, "")
        if not snap:
            results.fail(case, "gcore or snap failed: %s" % err)
            return
        lib = snap["target"]["libpython"]
        root = tempfile.mkdtemp(prefix="sysroot-stripped-", dir=tmp)
        sysroot_of(snap, core, root)
        os.unlink(root + lib)
        subprocess.run(["objcopy", "--strip-all", lib, root + lib], check=True)
        error_case(results, case + ": no DWARF", ["--core", core, "--sysroot", root], 6,
                   ["CPython %s (from _Py_DebugOffsets)" % snap["target"]["python"], "python3.13-dbg"], tmp)
        shutil.rmtree(root)
        os.unlink(core)
        fixture.release()
    finally:
        fixture.close()


def run_non_python(results, tmp):
    case = "core of a non-Python process"
    proc = subprocess.Popen(["sleep", "120"])
    try:
        # Popen returns once the exec succeeded: the process is sleep already
        core = gcore(proc.pid, os.path.join(tmp, "sleep"))
        if not core:
            results.fail(case, "gcore failed")
            return
        error_case(results, case, ["--core", core], 5, "not a CPython 3 process", tmp)
        os.unlink(core)
    finally:
        proc.kill()
        proc.wait()


def run_diff_and_chain(results, label, python, tmp):
    """Cores at two checkpoints diff exactly as live snapshots do."""
    case = "%s/growth cores" % label
    fixture = harness.Fixture(python, "growth.py", {"PYHEAP_REQUESTS": "100"})
    try:
        if fixture.oracle is None:
            results.fail(case, "fixture never reached its checkpoint:\n" + fixture.error_text())
            return
        paths = {}
        for step in ("before", "after"):
            if step == "after" and fixture.advance("after") is None:
                results.fail(case, "fixture never reached its second checkpoint")
                return
            live = os.path.join(tmp, "growth-%s-live.json" % step)
            code, _, err = harness.run_pyheap(["snap", "-q", "-o", live, str(fixture.pid)])
            core = gcore(fixture.pid, os.path.join(tmp, "growth-%s" % step))
            if code != 0 or not core:
                results.fail(case, "snapshot or gcore failed: %s" % err)
                return
            out = os.path.join(tmp, "growth-%s-core.json" % step)
            code, _, err = snap_core(core, out)
            os.unlink(core)
            if code != 0:
                results.fail(case, "snap --core exited %d: %s" % (code, err))
                return
            paths[step] = (live, out)
        live_diff = harness.run_pyheap(["diff", "--json", paths["before"][0], paths["after"][0]])
        core_diff = harness.run_pyheap(["diff", "--json", paths["before"][1], paths["after"][1]])
        mixed = harness.run_pyheap(["diff", "--json", paths["before"][0], paths["after"][1]])
        ok = live_diff[0] == core_diff[0] == mixed[0] == 0
        if results.check(case + ": diff of two cores and of a live snapshot and a core exit 0", ok,
                         "%s %s %s" % (live_diff[2], core_diff[2], mixed[2])):
            a, b, c = (json.loads(x[1]) for x in (live_diff, core_diff, mixed))
            results.check(case + ": diff of two cores equals the diff of the live snapshots",
                          a == b and b["same_process"], "live %s\ncore %s" % (json.dumps(a)[:300], json.dumps(b)[:300]))
            results.check(case + ": diff of a live snapshot and a core equals it too", a == c,
                          json.dumps(c)[:300])
        live_chain = harness.run_pyheap(["chain", "--type", "Record", paths["after"][0]])
        core_chain = harness.run_pyheap(["chain", "--type", "Record", paths["after"][1]])
        results.check(case + ": chain on a core snapshot prints what it prints live",
                      core_chain[0] == 0 and core_chain[1] == live_chain[1],
                      "exit %d\n%s\nvs\n%s" % (core_chain[0], core_chain[1][:400], live_chain[1][:400]))
        results.check(case + ": target finished normally", fixture.release() == 0, fixture.error_text())
    finally:
        fixture.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only this interpreter label")
    parser.add_argument("--quick", action="store_true",
                        help="one interpreter (pyenv-3.12 if found), seed_book_leak only (the sanitized run)")
    args = parser.parse_args()
    results = harness.Results(os.environ.get("PYHEAP_SUITE_NAME", "core"))
    if not shutil.which("gcore"):
        results.skip("gcore", "gdb is not installed (apt-get install gdb)")
        return results.finish()
    found = interpreters.select(results, args.only)
    if args.quick and found:
        found = [f for f in found if f[0] == "pyenv-3.12"] or found[:1]
    tmp = tempfile.mkdtemp(prefix="pyheap-core-")
    try:
        first = None
        shared = None  # a core whose interpreter is a libpython with its DWARF inside
        kernel_cores = {}
        for label, python in found:
            for name, script, env in FIXTURES:
                if args.quick and name != "seed_book_leak":
                    continue
                made = run_gcore_case(results, label, python, name, script, env, tmp)
                if made:
                    core, core_json, live = made
                    if name == "seed_book_leak" and shared is None and label.startswith("pyenv"):
                        shared = (label, core, core_json)
                    elif name == "seed_book_leak" and (first is None or label.startswith("debian")):
                        if first and first[2] != (shared and shared[1]):
                            os.unlink(first[2])
                        first = (label, python, core, core_json)
                    else:
                        os.unlink(core)
            kernel_core = run_kernel_case(results, label, python, tmp)
            if kernel_core:
                kernel_cores[label] = kernel_core  # about 10 MB each, removed with tmp
        first = first or (shared and (shared[0], dict(found)[shared[0]], shared[1], shared[2]))
        if shared:
            run_debug_in_sysroot(results, shared[0], shared[1], shared[2], tmp)
        if first:
            label, python, core, core_json = first
            run_bad_input(results, label, python, core, core_json, kernel_cores.get(label), tmp)
            run_filtered_core(results, label, python, tmp)
            run_diff_and_chain(results, label, python, tmp)
        if not args.quick:
            run_no_debuginfo(results, found, tmp)
        run_non_python(results, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
