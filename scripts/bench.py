"""The benchmark behind scripts/bench: see docs/performance.md."""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import interpreters  # noqa: E402


def memcpy_bandwidth():
    """Bytes per second of a large memcpy between buffers already paged in
    (a slice assignment between bytearrays is one memmove)."""
    src = bytearray(b"x") * (256 << 20)
    dst = bytearray(len(src))
    dst[:] = src
    best = 0.0
    for _ in range(5):
        started = time.perf_counter()
        dst[:] = src
        best = max(best, len(src) / (time.perf_counter() - started))
    return best


def first_touch_us(huge):
    """Microseconds per 4 KiB page to touch a fresh 256 MiB anonymous
    mapping for the first time (4 KiB pages, or MADV_HUGEPAGE): what fresh
    memory costs pyheap on this machine. A guest with shadow page tables or
    lazily backed memory pays far more than bare metal (about 0.1-0.3 us)."""
    import mmap
    size = 256 << 20
    area = mmap.mmap(-1, size + (2 << 20), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if huge and hasattr(mmap, "MADV_HUGEPAGE"):
        area.madvise(mmap.MADV_HUGEPAGE)
    started = time.perf_counter()
    for at in range(0, size, 4096):
        area[at] = 1
    took = time.perf_counter() - started
    area.close()
    return took * 1e6 / (size // 4096)


def timed(cmd, stderr_lines=None):
    """Runs cmd under /usr/bin/time; returns (exit code, seconds, peak KiB, stdout)."""
    proc = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, capture_output=True, text=True)
    lines = proc.stderr.strip().splitlines()
    if stderr_lines is not None:
        stderr_lines.extend(lines[:-1])
    last = lines[-1].split()
    return proc.returncode, float(last[0]), int(last[1]), proc.stdout


def parse_timings(lines):
    """The phases `pyheap snap --timings` reports, in ms."""
    for line in lines:
        if line.startswith("pyheap: timings:"):
            out = {}
            for name, key in (("setup", "setup_ms"), ("choose", "choose_ms"), ("prepare copy", "prepare_ms"),
                              ("stopped", "stopped_ms"), ("walk", "walk_ms"), ("write", "write_ms")):
                at = line.find(name + " ")
                if at >= 0:
                    out[key] = float(line[at + len(name) + 1:].split()[0])
            return out
    return {}


class Target:
    def __init__(self, python, objects, env=None):
        self.proc = subprocess.Popen([python, os.path.join(ROOT, "fixtures", "bench_target.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=dict(os.environ, PYHEAP_OBJECTS=str(objects), **(env or {})))
        self.ready = json.loads(self.proc.stdout.readline())

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.kill()
        self.proc.wait()


def memlab_side_by_side(pyheap, snapshot, node_modules, tmp, row):
    """pyheap top on a snapshot, its export, and memlab loading the export
    (parse, shortest paths, Lengauer-Tarjan dominators, retained sizes)."""
    lines = []
    code, row["top_s"], peak, _ = timed([pyheap, "top", "--timings", snapshot], lines)
    for line in lines:
        found = re.search(r"dominators ([0-9.]+) ms \(([0-9]+) nodes.*?([0-9.]+) per node\)", line)
        if found:
            row["dominators_s"] = float(found.group(1)) / 1000
            row["nodes"] = int(found.group(2))
            row["dominator_bytes_per_node"] = float(found.group(3))
    row["top_peak_mb"] = peak / 1024
    exported = os.path.join(tmp, "a.heapsnapshot")
    code, row["export_s"], peak, _ = timed([pyheap, "export", "-q", "--format", "heapsnapshot", snapshot,
                                           "-o", exported])
    row["export_peak_mb"] = peak / 1024
    if code != 0:
        return
    row["heapsnapshot_mb"] = os.path.getsize(exported) / 1e6
    if node_modules:
        env = dict(os.environ, NODE_PATH=node_modules, NODE_OPTIONS="--max-old-space-size=%d" % (16 << 10))
        proc = subprocess.run(["/usr/bin/time", "-f", "%e %M", "node",
                               os.path.join(ROOT, "tests", "js", "memlab_load.js"), exported],
                              capture_output=True, text=True, env=env)
        # memlab's console leaves erase-line escapes on stderr: the last
        # "seconds KiB" pair is /usr/bin/time's
        times = re.findall(r"([0-9.]+) ([0-9]+)\s*$", proc.stderr)
        last = times[-1] if times else ("0", "0")
        if proc.returncode == 0:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            row.update(memlab_s=float(last[0]), memlab_peak_mb=int(last[1]) / 1024,
                       memlab_load_s=result["seconds"], memlab_nodes=result["node_count"])
        else:
            row["memlab_error"] = proc.stderr.strip().splitlines()[-2:] if proc.stderr else "exit %d" % proc.returncode
    os.unlink(exported)


def measure(pyheap, python, objects, limit, bandwidth, tmp, node_modules=None):
    target = Target(python, objects)
    pid = target.proc.pid
    row = {"objects_tracked": target.ready["tracked"]}
    try:
        a, b = os.path.join(tmp, "a.json"), os.path.join(tmp, "b.json")
        row["idle_gap_ms"] = idle_gap(target)
        target.ask("reset")
        lines = []
        code, wall, peak, _ = timed([pyheap, "snap", "-q", "--timings", "-o", a, str(pid)], lines)
        row["gap_ms"] = target.ask("gap")["gap_ms"]
        row.update(parse_timings(lines))
        if code != 0:
            raise RuntimeError("pyheap snap failed")
        snap = json.load(open(a))
        row.update(snap_s=wall, snap_peak_mb=peak / 1024, pause_ms=snap["capture"]["pause_ms"],
                   snapshot_mb=os.path.getsize(a) / 1e6, objects=snap["capture"]["objects"],
                   nodes=snap["graph"]["node_count"], bytes_copied=snap["capture"]["bytes_copied"],
                   copy_limit_ms=snap["capture"]["bytes_copied"] / bandwidth * 1000,
                   policy=snap["capture"]["policy"])
        del snap
        timed([pyheap, "snap", "-q", "-o", b, str(pid)])
        code, row["diff_s"], peak, _ = timed([pyheap, "diff", a, b])
        row["diff_peak_mb"] = peak / 1024
        address = target.ask("target")["address"]
        code, row["chain_s"], peak, out = timed([pyheap, "chain", "--json", "--address", "%x" % address, a])
        row["chain_hops"] = len(json.loads(out)["chains"][0]["hops"]) - 1 if code == 0 else None
        row["rss_mb"] = target.ask("rss")["rss"] / 2**20
        row["show_growth_s"] = target.ask("show_growth")["seconds"]
        backref = target.ask("backref %d" % limit)
        row["backref_s"] = backref.get("seconds")
        row["backref_gave_up"] = backref.get("gave_up_after")
    finally:
        target.close()
    # after the target is gone: memlab needs several times the file's size
    memlab_side_by_side(pyheap, a, node_modules, tmp, row)
    return row


def idle_gap(target):
    """The longest gap the ticker sees in a second without pyheap: what
    the machine's scheduling adds to any pause felt."""
    target.ask("reset")
    time.sleep(1)
    return target.ask("gap")["gap_ms"]


def measure_seed(pyheap, python, books, description_bytes, bandwidth, tmp, repeat=3):
    """Seed 004's leak: `books` books with descriptions of description_bytes,
    snapshotted (with the graph) `repeat` times as pyheap chooses to read it;
    each figure is the best of the runs (the least of every time, the most
    of the peak memory), since a few milliseconds of scheduling noise on a
    shared machine would otherwise decide a ratio of small pauses."""
    target = Target(python, 0, {"PYHEAP_BENCH_HEAP": "seed", "PYHEAP_BOOKS": str(books),
                                "PYHEAP_DESCRIPTION_BYTES": str(description_bytes)})
    row = {"objects_tracked": target.ready["tracked"], "books": books, "description_bytes": description_bytes,
           "repeat": repeat}
    try:
        a = os.path.join(tmp, "seed.json")
        row["rss_mb"] = target.ask("rss")["rss"] / 2**20
        runs = []
        for _ in range(repeat):
            run = {"idle_gap_ms": idle_gap(target)}
            target.ask("reset")
            lines = []
            code, wall, peak, _ = timed([pyheap, "snap", "-q", "--timings", "-o", a, str(target.proc.pid)], lines)
            run["gap_ms"] = target.ask("gap")["gap_ms"]
            run.update(parse_timings(lines))
            if code != 0:
                raise RuntimeError("pyheap snap failed: %s" % lines)
            snap = json.load(open(a))
            capture = snap["capture"]
            run.update(snap_s=wall, snap_peak_mb=peak / 1024, pause_ms=capture["pause_ms"],
                       objects=capture["objects"], bytes_copied=capture["bytes_copied"],
                       bytes_skipped=capture.get("bytes_skipped", 0), policy=capture.get("policy", "copy"))
            runs.append(run)
        for key in runs[0]:
            values = [r[key] for r in runs if key in r]
            if key in ("snap_peak_mb", "bytes_copied"):
                row[key] = max(values)
            elif isinstance(values[0], (int, float)):
                row[key] = min(values)
            else:
                row[key] = values[-1]
        row["policies"] = sorted({r["policy"] for r in runs})
        row["copy_limit_ms"] = row["bytes_copied"] / bandwidth * 1000
        row["show_growth_s"] = target.ask("show_growth")["seconds"]
    finally:
        target.close()
    return row


def fmt(value, digits=2):
    return "-" if value is None else ("%.*f" % (digits, value))


def verdict(ok, text):
    return ("met: " if ok else "**missed**: ") + text


def machine_line(bandwidth, touch):
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    thp = "?"
    try:
        thp = open("/sys/kernel/mm/transparent_hugepage/enabled").read().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        pass
    guest = ""
    try:
        cmdline = open("/proc/cmdline").read()
        if "pvm" in cmdline:
            guest = " (a PVM guest: shadow page tables)"
        elif "firecracker" in cmdline:
            guest = " (a Firecracker guest)"
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = " ".join("%.1f" % x for x in os.getloadavg())
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return ("Machine: %s, %d cores, %.0f GiB, Linux %s%s, transparent huge pages `%s`; pyheap %s. Measured in "
            "this run: memcpy bandwidth %.1f GB/s (a 256 MiB copy between paged-in buffers); the first touch of "
            "fresh memory %.2f us per 4 KiB page with 4 KiB pages, %.2f us per 4 KiB with `MADV_HUGEPAGE` "
            "(256 MiB each). Load average when this file was written: %s (a shared machine: times are "
            "noisy, compare ratios within one run).\n\n" % (cpu, os.cpu_count(), mem, platform.release(), guest, thp,
                                                            commit, bandwidth / 1e9, touch[0], touch[1], load))


def write_doc(path, rows, seeds, bandwidth, touch, args):
    with open(path, "w") as f:
        f.write("# Performance\n\n")
        f.write("Written by `scripts/bench %s` on %s; do not edit by hand.\n\n"
                % (" ".join(args.raw), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
        f.write(machine_line(bandwidth, touch))
        f.write("*Pause felt* is the longest gap a thread in the target ticking every millisecond saw while "
                "`pyheap snap` ran; *pause (pyheap)* is the `pause_ms` pyheap reports; *copy limit* is the bytes "
                "pyheap copied from the target divided by the memcpy bandwidth; *policy* is how pyheap chose to "
                "read the heap (README, Safety); *pyheap peak* is its maximum resident set. Snapshots include the "
                "reference graph. objgraph (Debian's python3-objgraph) runs inside the same target, after pyheap.\n\n")
        if seeds:
            f.write("## Payload: the seed program\n\n"
                    "fixtures/bench_target.py with `PYHEAP_BENCH_HEAP=seed`: seed 004's leak (fixtures/"
                    "seed_book_leak.py), %d books each holding a description of the size shown, kept alive by a "
                    "re-raised exception's traceback. The same objects either way; only their payload differs. "
                    "Each row is the best of %d snapshots of one target (the least of each time, the most of the "
                    "peak memory).\n\n" % (seeds[0]["books"], seeds[0].get("repeat", 1)))
            f.write("| Python | description | GC objects | target RSS | policy | copied | pause felt | pause (pyheap) "
                    "| snap wall | pyheap peak | peak / RSS | choose | prepare | walk | write |\n"
                    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
            for r in seeds:
                f.write("| %s | %s B | %s | %s MB | %s | %.1f MB | %s ms | %s ms | %s s | %s MB | %.1f%% | %s ms "
                        "| %s ms | %s ms | %s ms |\n"
                        % (r["python"], "{:,}".format(r["description_bytes"]), "{:,}".format(r["objects"]),
                           fmt(r["rss_mb"], 0), r["policy"], r["bytes_copied"] / 1e6, fmt(r["gap_ms"], 0),
                           fmt(r["pause_ms"], 1), fmt(r["snap_s"]), fmt(r["snap_peak_mb"], 0),
                           100 * r["snap_peak_mb"] / r["rss_mb"], fmt(r.get("choose_ms"), 0),
                           fmt(r.get("prepare_ms"), 0), fmt(r.get("walk_ms"), 0), fmt(r.get("write_ms"), 0)))
            f.write("\n")
        f.write("## Objects: heaps of 100,000 to 5,000,000 objects\n\n"
                "Each target (fixtures/bench_target.py) holds instances with dicts, slotted instances, lists, "
                "dicts and tuples with strings hanging off them, and a Payload behind a traceback 4,000 entries "
                "deep.\n\n")
        f.write("| Python | GC objects | objgraph show_growth | policy | pause felt | pause (pyheap) | copy limit | "
                "snap wall | snapshot | pyheap peak | target RSS | diff | chain (4,000-deep) | "
                "objgraph find_backref_chain |\n")
        f.write("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            backref = ("> %d s (gave up)" % r["backref_gave_up"]) if r.get("backref_gave_up") else \
                ("%s s" % fmt(r.get("backref_s")))
            f.write("| %s | %s | %s s | %s | %s ms | %s ms | %s ms | %s s | %s MB | %s MB | %s MB | %s s | %s s (%s hops) "
                    "| %s |\n"
                    % (r["python"], "{:,}".format(r["objects"]), fmt(r["show_growth_s"]), r.get("policy", "?"),
                       fmt(r["gap_ms"], 0), fmt(r["pause_ms"], 0), fmt(r["copy_limit_ms"], 0), fmt(r["snap_s"]),
                       fmt(r["snapshot_mb"], 0), fmt(r["snap_peak_mb"], 0), fmt(r["rss_mb"], 0), fmt(r["diff_s"]),
                       fmt(r["chain_s"]), r.get("chain_hops"), backref))
        f.write("\n### Where `pyheap snap`'s time goes\n\nAs reported by `pyheap snap --timings` for the "
                "snapshots above (ms): *setup* finds the interpreter and resolves its layouts from DWARF; "
                "*choose* picks the policy (and, for a sparse copy, walks the running target); *prepare* pages "
                "in the buffers for the copy while the target runs; *stopped* is the pause (stopping the threads "
                "and copying their memory); *walk* reads the copy: the GC lists, then every object's referents "
                "into the graph; *write* streams the JSON.\n\n"
                "| Python | GC objects | setup | choose | prepare | stopped | walk | write |\n"
                "|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            f.write("| %s | %s | %s | %s | %s | %s | %s | %s |\n" % (
                r["python"], "{:,}".format(r["objects"]), fmt(r.get("setup_ms"), 0), fmt(r.get("choose_ms"), 0),
                fmt(r.get("prepare_ms"), 0), fmt(r.get("stopped_ms"), 0), fmt(r.get("walk_ms"), 0),
                fmt(r.get("write_ms"), 0)))
        write_goals(f, rows, seeds, touch)
        write_retained(f, rows, args)
        write_growth(f, rows)


def write_goals(f, rows, seeds, touch):
    f.write("\n## Goals\n\n")
    by_python = {}
    for r in seeds:
        by_python.setdefault(r["python"], {})[r["description_bytes"]] = r
    for python, pair in sorted(by_python.items()):
        if len(pair) < 2:
            continue
        small, big = pair[min(pair)], pair[max(pair)]
        f.write("**Payload, %s** (%s B vs %s B descriptions):\n\n"
                % (python, "{:,}".format(big["description_bytes"]), "{:,}".format(small["description_bytes"])))
        items = [
            verdict(big["gap_ms"] <= 1.5 * small["gap_ms"],
                    "pause felt %.0f ms vs %.0f ms: %.2fx (goal 1.5x; pyheap's own figures %.1f vs %.1f ms)"
                    % (big["gap_ms"], small["gap_ms"], big["gap_ms"] / max(small["gap_ms"], 1e-3),
                       big["pause_ms"], small["pause_ms"])),
            verdict(big["snap_s"] <= 2 * small["snap_s"], "snap wall %.2f s vs %.2f s: %.2fx (goal 2x)"
                    % (big["snap_s"], small["snap_s"], big["snap_s"] / max(small["snap_s"], 1e-3))),
            verdict(big["snap_peak_mb"] <= 0.1 * big["rss_mb"], "pyheap peak %.0f MB vs target RSS %.0f MB: %.1f%% "
                    "(goal 10%%)" % (big["snap_peak_mb"], big["rss_mb"], 100 * big["snap_peak_mb"] / big["rss_mb"])),
            verdict(agree(big), "the pauses agree: felt %.0f ms, reported %.1f ms (the ticker's longest gap in an "
                    "idle second: %.0f ms)" % (big["gap_ms"], big["pause_ms"], big["idle_gap_ms"])),
        ]
        for item in items:
            f.write("- %s\n" % item)
        f.write("\n")
    for r in rows:
        if not 800000 <= r["objects"] <= 1500000:
            continue
        pause_s = r["gap_ms"] / 1000
        chain_ratio = None
        if r.get("backref_s"):
            chain_ratio = r["backref_s"] / max(r["chain_s"], 1e-3)
        elif r.get("backref_gave_up"):
            chain_ratio = r["backref_gave_up"] / max(r["chain_s"], 1e-3)
        f.write("**Objects, %s** (%s objects):\n\n" % (r["python"], "{:,}".format(r["objects"])))
        items = [
            verdict(pause_s <= 0.25 * r["show_growth_s"], "pause felt %.0f ms vs show_growth %.0f ms: %.2fx (goal 0.25x)"
                    % (r["gap_ms"], r["show_growth_s"] * 1000, pause_s / r["show_growth_s"])),
            verdict(r["snap_s"] <= 1.5 * r["show_growth_s"], "snap wall %.2f s vs show_growth %.2f s: %.2fx (goal 1.5x)"
                    % (r["snap_s"], r["show_growth_s"], r["snap_s"] / r["show_growth_s"])),
            verdict(r["snap_peak_mb"] <= r["rss_mb"], "pyheap peak %.0f MB vs target RSS %.0f MB: %.2fx (goal 1x)"
                    % (r["snap_peak_mb"], r["rss_mb"], r["snap_peak_mb"] / r["rss_mb"])),
            verdict(agree(r), "the pauses agree: felt %.0f ms, reported %.1f ms (the ticker's longest gap in an idle "
                    "second: %.0f ms)" % (r["gap_ms"], r["pause_ms"], r["idle_gap_ms"])),
            verdict(chain_ratio is not None and chain_ratio >= 100,
                    "chain %.3f s vs find_backref_chain %s: %s%.0fx faster"
                    % (r["chain_s"], ("%.1f s" % r["backref_s"]) if r.get("backref_s")
                       else "> %d s" % (r.get("backref_gave_up") or 0),
                       "at least " if r.get("backref_gave_up") else "", chain_ratio or 0)),
            verdict(r["diff_s"] < 1, "diff %.2f s (< 1 s)" % r["diff_s"]),
            verdict(r["snapshot_mb"] < 200, "snapshot %.0f MB (< 200 MB)" % r["snapshot_mb"]),
        ]
        for item in items:
            f.write("- %s\n" % item)
        f.write("\n")
    f.write("Why the misses, and what bounds each figure:\n\n"
            "- *Fresh memory.* On this machine the first touch of a 4 KiB page costs %.2f us (%.2f us inside a "
            "2 MiB huge page), against about 0.1-0.3 us on bare metal: every megabyte pyheap uses for the first "
            "time costs it %.1f ms even in huge pages. pyheap maps its large buffers (the copy, the block cache, "
            "the graph's arrays and index) in huge pages, pages the copy in before the stop, and builds the "
            "graph's finishing arrays after the copy is released so they reuse its pages; what remains is "
            "proportional to what it must hold: a copy of the heap's memory and the graph.\n"
            "- *pyheap peak vs target RSS (objects).* A heap of objects is copied whole (so that the pause is "
            "the time to copy it, not to walk it), about the target's writable memory, and the graph built from "
            "it (one 40-byte node per object, tracked or not, one 16-byte edge per reference, and an 8-byte "
            "index slot per node while it is built) is about as big again. Under 1x needs the graph written as it "
            "is built, without the whole copy: not done.\n"
            "- *snap wall vs show_growth.* show_growth only counts objects in the target; pyheap copies the "
            "heap, builds a graph of every object and reference (1.8 nodes and 3.5 edges per GC object here), "
            "and writes it out (about 100 bytes of JSON per GC object), each step touching fresh memory at the "
            "cost above.\n\n" % (touch[0], touch[1], touch[1] * 256 / 1000))


def write_retained(f, rows, args):
    f.write("## Retained sizes: `pyheap top` next to memlab\n\n"
            "The same snapshot (the first of each row above), analysed by `pyheap top --timings` (load, "
            "dominator tree, shortest chains, the report: *top*; *dominators* is the semi-NCA dominator tree "
            "with retained sizes alone, and *bytes/node* the most it holds at once beyond the loaded graph) and "
            "exported with `pyheap export --format heapsnapshot`; memlab (`@memlab/heap-analysis` %s, Node %s) "
            "then loads the export with `getFullHeapFromFile()`: parse, shortest paths, Lengauer-Tarjan "
            "dominators and retained sizes (*memlab load* is that call, *memlab wall* the whole node process). "
            "Wall times and peak RSS from `/usr/bin/time`. memlab runs on the exports of %s only: each "
            "interpreter's heap has the same shape, and the 5M export takes memlab minutes.\n\n"
            % (args.memlab_version or "not installed", args.node_version or "-", args.memlab_pythons))
    f.write("| Python | nodes | dominators | bytes/node | pyheap top | top peak | export | .heapsnapshot | "
            "memlab load | memlab wall | memlab peak | memlab load / top |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        ratio = r["memlab_load_s"] / max(r["top_s"], 1e-3) if r.get("memlab_load_s") and r.get("top_s") else None
        f.write("| %s | %s | %s s | %s | %s s | %s MB | %s s | %s MB | %s | %s | %s | %s |\n" % (
            r["python"], "{:,}".format(r.get("nodes") or 0), fmt(r.get("dominators_s")),
            fmt(r.get("dominator_bytes_per_node"), 1), fmt(r.get("top_s")), fmt(r.get("top_peak_mb"), 0),
            fmt(r.get("export_s")), fmt(r.get("heapsnapshot_mb"), 0),
            (fmt(r.get("memlab_load_s")) + " s") if r.get("memlab_load_s") else
            ("failed: %s" % r["memlab_error"] if r.get("memlab_error") else "-"),
            (fmt(r.get("memlab_s")) + " s") if r.get("memlab_s") else "-",
            (fmt(r.get("memlab_peak_mb"), 0) + " MB") if r.get("memlab_peak_mb") else "-",
            ("%.1fx" % ratio) if ratio else "-"))
    f.write("\n")
    for r in rows:
        if r.get("dominators_s") is None:
            continue
        limit = 0.5 if r["objects"] <= 1500000 else 3.0 if r["objects"] >= 4000000 else None
        if limit is None:
            continue
        ratio = r["memlab_load_s"] / max(r["top_s"], 1e-3) if r.get("memlab_load_s") and r.get("top_s") else None
        f.write("**Retained sizes, %s** (%s objects, %s nodes):\n\n" % (
            r["python"], "{:,}".format(r["objects"]), "{:,}".format(r.get("nodes") or 0)))
        items = [verdict(r["dominators_s"] <= limit, "dominators and retained sizes %.2f s (goal %.1f s)"
                         % (r["dominators_s"], limit)),
                 verdict(r["dominator_bytes_per_node"] <= 40, "%.1f bytes per node beyond the loaded graph (goal 40)"
                         % r["dominator_bytes_per_node"])]
        if ratio:
            items.append(verdict(ratio >= 10, "memlab's load and dominators %.1f s vs pyheap top %.2f s: %.1fx "
                                 "(goal 10x)" % (r["memlab_load_s"], r["top_s"], ratio)))
        for item in items:
            f.write("- %s\n" % item)
        f.write("\n")


def agree(r):
    """The pause the target felt and the one pyheap reports, within the
    ticker's resolution: its 1 ms sleep, and the longest gap it saw in a
    second without pyheap (a loaded machine's scheduling)."""
    slack = max(5.0, 0.25 * r["pause_ms"], r.get("idle_gap_ms", 0))
    return abs(r["gap_ms"] - r["pause_ms"]) <= slack


def write_growth(f, rows):
    growth = []
    for python in sorted({r["python"] for r in rows}):
        small = [r for r in rows if r["python"] == python and 800000 <= r["objects"] <= 1500000]
        big = [r for r in rows if r["python"] == python and r["objects"] >= 4000000]
        if small and big:
            s, b = small[0], big[0]
            scale = b["objects"] / s["objects"]
            growth.append((python, scale, {k: b[k] / s[k] for k in ("gap_ms", "snap_s", "snapshot_mb",
                                                                      "snap_peak_mb", "diff_s", "chain_s",
                                                                      "show_growth_s") if s.get(k)}))
    if growth:
        f.write("## Growth from 1M to 5M objects\n\nEach figure at 5M divided by the same figure at 1M "
                "(linear growth = the object ratio):\n\n| Python | objects | pause | snap wall | snapshot | "
                "pyheap peak | diff | chain | objgraph show_growth |\n|---|---|---|---|---|---|---|---|---|\n")
        for python, scale, g in growth:
            f.write("| %s | %.1fx | %s |\n" % (python, scale, " | ".join(
                "%.1fx" % g.get(k, 0) for k in ("gap_ms", "snap_s", "snapshot_mb", "snap_peak_mb",
                                                "diff_s", "chain_s", "show_growth_s"))))
        f.write("\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pyheap", required=True)
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--pythons", default="3.11,3.12,3.13")
    parser.add_argument("--seed-pythons", default="3.12",
                        help="interpreters for the seed program's rows (4 GB of payload each: one at a time)")
    parser.add_argument("--seed-books", type=int, default=800)
    parser.add_argument("--seed-descriptions", default="50,5000000")
    parser.add_argument("--backref-limit", type=int, default=300)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "performance.md"))
    parser.add_argument("--node-modules", help="npm packages of tests/js (memlab); without them memlab is left out")
    parser.add_argument("--memlab-pythons", default="3.12",
                        help="interpreters whose exports memlab loads (the 5M export takes it minutes and GBs; "
                             "the heaps of the interpreters have the same shape)")
    args = parser.parse_args()
    # what the user gave scripts/bench: without --pyheap and --node-modules
    # (and their values), which the wrapper adds
    args.raw, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
        elif a in ("--pyheap", "--node-modules"):
            skip = True
        elif not a.startswith(("--pyheap=", "--node-modules=")):
            args.raw.append(a)
    args.memlab_version = args.node_version = None
    if args.node_modules:
        try:
            with open(os.path.join(args.node_modules, "@memlab", "heap-analysis", "package.json")) as f:
                args.memlab_version = json.load(f)["version"]
            args.node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        except (OSError, ValueError, KeyError):
            print("bench: no memlab in %s; leaving it out" % args.node_modules, file=sys.stderr)
            args.node_modules = None
    found, _ = interpreters.find()
    wanted = ["pyenv-%s" % v for v in args.pythons.split(",") if v]
    pythons = [(label, path) for label, path in found if label in wanted]
    seed_wanted = ["pyenv-%s" % v for v in args.seed_pythons.split(",") if v]
    seed_pythons = [(label, path) for label, path in found if label in seed_wanted]
    if not pythons and not seed_pythons:
        print("bench: none of %s found" % (wanted + seed_wanted), file=sys.stderr)
        return 1
    bandwidth = memcpy_bandwidth()
    touch = (first_touch_us(False), first_touch_us(True))
    print("memcpy bandwidth: %.1f GB/s; first touch %.2f us per 4 KiB (4 KiB pages), %.2f us (huge pages)"
          % (bandwidth / 1e9, touch[0], touch[1]), flush=True)
    rows, seeds = [], []
    with tempfile.TemporaryDirectory(prefix="pyheap-bench-") as tmp:
        for label, python in seed_pythons:
            for size in (int(s) for s in args.seed_descriptions.split(",")):
                started = time.time()
                row = measure_seed(args.pyheap, python, args.seed_books, size, bandwidth, tmp)
                row["python"] = label.replace("pyenv-", "")
                seeds.append(row)
                print("%s seed, %d-byte descriptions: %s (%.0f s)" % (label, size, json.dumps(row),
                                                                       time.time() - started), flush=True)
                write_doc(args.out, rows, seeds, bandwidth, touch, args)
        for label, python in pythons:
            for size in (int(s) for s in args.sizes.split(",")):
                started = time.time()
                memlab = args.node_modules if label.replace("pyenv-", "") in args.memlab_pythons.split(",") else None
                row = measure(args.pyheap, python, size, args.backref_limit, bandwidth, tmp, memlab)
                row["python"] = label.replace("pyenv-", "")
                rows.append(row)
                print("%s %d objects: %s (%.0f s)" % (label, size, json.dumps(row), time.time() - started), flush=True)
                write_doc(args.out, rows, seeds, bandwidth, touch, args)
    print("wrote %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
