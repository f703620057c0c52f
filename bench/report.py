#!/usr/bin/env python3
"""Turn bench/measure.py's JSON into bench/results.md and a PNG chart.

Every ratio compares two tools of the same run (the machine is shared and
noisy; absolute figures from different runs do not compare).

    report.py RESULTS.json RESULTS.md RESULTS.png
"""

import json
import sys

STAGES = ["user_pid", "uts", "mount", "net"]
PEERS = ["bwrap", "crun"]
MB = 1000 * 1000
MIB = 1024 * 1024

# Issue 6's targets: (what, figure getter, limit, "<=" or ">=").
TARGETS = [
    ("dist/unc --stage=mount median <= 2.0x rootless crun", "lat_crun", 2.0, "<="),
    ("dist/unc --stage=mount median <= 1.0x rootless runc", "lat_runc", 1.0, "<="),
    ("dist/unc --stage=mount median <= 1.5x rootless crun", "lat_crun", 1.5, "<="),
    ("200 containers in a row >= 50 per second", "in_a_row", 50, ">="),
    ("50 containers at once >= 50 per second", "at_once", 50, ">="),
    ("PSS of unc's host-side processes <= 12 MiB", "pss_mib", 12, "<="),
    ("dist/unc <= 12 MB", "size_mb", 12, "<="),
]


def ratio(value, base):
    if value is None or not base:
        return "n/a"
    return f"{value / base:.2f}x"


def fmt(value, digits=1):
    return "n/a" if value is None else f"{value:.{digits}f}"


def crun_stage(latency, stage):
    """crun and runc only start full containers: the user_pid and uts rows
    compare with their mount-stage container."""
    return stage if stage in ("mount", "net") else "mount"


def median_of(latency, stage, tool):
    return latency.get(stage, {}).get(tool, {}).get("median")


def figures(r):
    lat = r["latency"]
    unc = median_of(lat, "mount", "unc")
    thr = r["throughput"].get("unc", {})
    mem = r["memory"].get("unc", {})
    size = r["size"].get("unc")
    return {
        "lat_crun": (unc / median_of(lat, "mount", "crun")
                     if unc and median_of(lat, "mount", "crun") else None),
        "lat_runc": (unc / median_of(lat, "mount", "runc")
                     if unc and median_of(lat, "mount", "runc") else None),
        "in_a_row": thr.get("in_a_row") if thr.get("stage") == "mount" else None,
        "at_once": thr.get("at_once") if thr.get("stage") == "mount" else None,
        "pss_mib": mem["pss_kib"] / 1024 if mem.get("stage") == "mount" and "pss_kib" in mem else None,
        "size_mb": size / MB if size else None,
    }


def baseline_rows(lat):
    """With a baseline build measured in the same run (bench/run
    --baseline): each stage's start against the baseline's, both also as
    ratios to crun."""
    if not any("unc baseline" in lat.get(stage, {}) for stage in lat):
        return []
    out = ["## This build against the baseline build (same run)", "",
           "| stage | unc ms | baseline ms | unc / baseline | unc x crun | baseline x crun |",
           "|---|---:|---:|---:|---:|---:|"]
    for stage in lat:
        new, old = median_of(lat, stage, "unc"), median_of(lat, stage, "unc baseline")
        crun = median_of(lat, crun_stage(lat, stage), "crun")
        if not new or not old:
            continue
        out.append(f"| {stage} | {new:.1f} | {old:.1f} | {new / old:.2f}x | "
                   f"{ratio(new, crun)} | {ratio(old, crun)} |")
    return out + [""]


def first_start_rows(r):
    """Issue 17: the start and the first start (unpacking) against the
    baseline build's of the same run, and the size."""
    lat, first = r["latency"], r.get("first_start") or {}
    if not any("unc baseline" in lat.get(stage, {}) for stage in lat):
        return []
    out = ["## Targets (issue 17: no C library from the host), against the baseline build", "",
           "| target | unc | baseline | ratio | met |", "|---|---:|---:|---:|---|"]

    def row(text, new, old, limit, unit="ms"):
        if not new or not old:
            return f"| {text} | n/a | n/a | n/a | not measured |"
        met = "yes" if new / old <= limit else "**no**"
        return f"| {text} | {new:.1f} {unit} | {old:.1f} {unit} | {new / old:.2f}x | {met} |"
    for stage in STAGES:
        out.append(row(f"start, --stage={stage}, median <= 1.05x", median_of(lat, stage, "unc"),
                       median_of(lat, stage, "unc baseline"), 1.05))
    if "error" in first:
        out.append(f"| first start (unpacking) <= 1.5x | {first['error']} | | | not measured |")
    else:
        out.append(row("first start (unpacking into an empty cache), median <= 1.5x",
                       first.get("unc", {}).get("median"),
                       first.get("unc baseline", {}).get("median"), 1.5))
    size, old = r["size"].get("unc"), r["size"].get("unc baseline")
    out.append(f"| dist/unc <= 12 MB | {size / MB:.2f} MB | {old / MB:.2f} MB | "
               f"{size / old:.2f}x | {'yes' if size <= 12 * MB else '**no**'} |")
    out += ["", "The first start runs `unc --version` with `UNC_CACHE_DIR` set to an empty "
            "directory: the launcher unpacks the whole build, then unc starts "
            f"(median of {first.get('unc', {}).get('runs', '?')} runs per build, "
            "taken in turns).", ""]
    return out


def image_rows(lat):
    """An image run (issue 13): the same root as an image of the store, on
    overlayfs with a fresh upper per run, against --rootfs; target <= 1.2x."""
    rows = [(stage, median_of(lat, stage, "unc --image"), median_of(lat, stage, "unc"))
            for stage in ("mount", "net")]
    rows = [(stage, image, plain) for stage, image, plain in rows if image and plain]
    if not rows:
        return []
    out = ["## --image against --rootfs (issue 13, same run)", "",
           "| stage | --image ms | --rootfs ms | ratio | <= 1.2x |", "|---|---:|---:|---:|---|"]
    for stage, image, plain in rows:
        out.append(f"| {stage} | {image:.1f} | {plain:.1f} | {image / plain:.2f}x | "
                   f"{'yes' if image / plain <= 1.2 else '**no**'} |")
    return out + [""]


def commands_table(results, title, base, column):
    """A section's title and its table of hyperfine `results` ({name:
    figures}, other entries skipped), each median against `base`'s; and
    that median (None when nothing was measured: then the lines say why)."""
    if not results:
        return [], None
    out = [title, ""]
    if "error" in results:
        return out + [f"Not measured: {results['error']}.", ""], None
    plain = results[base]["median"]
    out += [f"| command | median ms | min | max | {column} |", "|---|---:|---:|---:|---:|"]
    for name, e in results.items():
        if isinstance(e, dict):
            out.append(f"| {name} | {e['median']:.1f} | {e['min']:.1f} | {e['max']:.1f} | "
                       f"{ratio(e['median'], plain)} |")
    return out, plain


def map_auto_rows(m):
    """--map-auto (issue 12): its start against the plain one, and the two
    helper executions it adds."""
    out, plain = commands_table(m, "## --map-auto (subordinate ids through newuidmap and "
                                "newgidmap)", "unc --stage=user_pid", "x plain user_pid")
    if plain is None:
        return out
    added = m["unc --stage=user_pid --map-auto"]["median"] - plain
    out += ["", f"--map-auto adds {added:.1f} ms to a start; the two helpers alone take "
            f"{m['newuidmap + newgidmap']['median']:.1f} ms. Podman: {m.get('podman')}.", ""]
    return out


def detached_rows(d):
    """-d (issue 15): a detached start beside a foreground one, same run."""
    out, plain = commands_table(d, "## -d: a detached start beside a foreground one",
                                "unc --stage=mount", "x foreground")
    if plain is None:
        return out
    detached = d["unc -d --stage=mount"]["median"] / plain
    out += ["", f"`unc -d` returns once the command was executed, its monitor going on in the "
            f"background; the foreground start returns once it has ended (0.2 s untimed "
            f"before each run, for the last monitor to finish). Target <= 1.2x: "
            f"{detached:.2f}x, {'met' if detached <= 1.2 else '**missed**'}.", ""]
    return out


def harden_rows(h):
    """Issue 14: the default start against --privileged and crun, same run."""
    if not h:
        return []
    out = ["## The default (stage harden) against --privileged and crun (issue 14, same run)",
           ""]
    if "error" in h:
        return out + [f"Not measured: {h['error']}.", ""]
    default, privileged = h["unc (default)"]["median"], h["unc --privileged"]["median"]
    out += ["| command | median ms | min | max |", "|---|---:|---:|---:|"]
    for name, e in h.items():
        if isinstance(e, dict):
            out.append(f"| {name} | {e['median']:.1f} | {e['min']:.1f} | {e['max']:.1f} |")
    added = default - privileged
    out += ["", f"The defaults add {added:.2f} ms to a start ({default / privileged:.2f}x "
            f"--privileged; target <= 1 ms: {'yes' if added <= 1 else '**no**'})."]
    if "crun" in h:
        to_crun = default / h["crun"]["median"]
        out.append(f"The default start is {to_crun:.2f}x crun's (target <= 2.0x: "
                   f"{'yes' if to_crun <= 2.0 else '**no**'}).")
    return out + [""]


def markdown(r):
    meta, lat = r["meta"], r["latency"]
    out = ["# unc benchmark results", ""]
    out.append("Written by `bench/run` (`./build.sh bench`); bench/README.md explains the "
               "method. Ratios compare tools of this one run: the machine is shared, so "
               "only ratios carry over between runs.")
    out.append("")
    v = meta["versions"]
    out.append(f"- {meta['date']}, Linux {meta['kernel']}, {meta['cpus']} CPUs, "
               f"measured as {meta['user']}; load average before "
               f"{' '.join(meta['load_before'])}, after {' '.join(meta.get('load_after', []))}; "
               f"{meta.get('seconds', '?')} s in all" + (" (quick run)" if meta["quick"] else ""))
    out.append("- " + "; ".join(f"{k}: {val}" for k, val in v.items()))
    out.append("")

    out += ["## Targets (issue 6)", "", "| target | measured | met |", "|---|---|---|"]
    fig = figures(r)
    for text, key, limit, op in TARGETS:
        value = fig[key]
        if value is None:
            out.append(f"| {text} | n/a | not measured |")
            continue
        unit = "x" if key.startswith("lat") else ""
        ok = value <= limit if op == "<=" else value >= limit
        out.append(f"| {text} | {value:.2f}{unit} | {'yes' if ok else '**no**'} |")
    out.append("")
    out += baseline_rows(lat)
    out += first_start_rows(r)
    out += map_auto_rows(r.get("map_auto"))
    out += detached_rows(r.get("detached"))
    out += harden_rows(r.get("harden"))
    out += image_rows(lat)

    out += ["## Start latency", "",
            f"Wall time to start `/bin/true` in a container, in ms: median, min and max of "
            f"{meta['runs']} runs per command after warm-up, taken in {meta['rounds']} "
            "interleaved rounds (hyperfine `-N`). `x bwrap` and `x crun` divide the median by "
            "the peer's median for the same stage (lower is faster); crun and runc only start "
            "full containers, so the user_pid and uts rows compare with their mount figure.",
            "", "| stage | tool | median | min | max | x bwrap | x crun |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for stage in STAGES:
        for tool, e in lat.get(stage, {}).items():
            if "error" in e:
                out.append(f"| {stage} | {tool} | failed: {e['error']} | | | | |")
                continue
            bw = median_of(lat, stage, "bwrap")
            cr = median_of(lat, crun_stage(lat, stage), "crun")
            out.append(f"| {stage} | {tool} | {e['median']:.1f} | {e['min']:.1f} | "
                       f"{e['max']:.1f} | {ratio(e['median'], bw)} | {ratio(e['median'], cr)} |")
    out.append("")

    base = r.get("floor", {})
    if base:
        crun = base.get("crun --version", {}).get("median")
        out += ["## Starting without a container", "",
                "Wall time in ms (hyperfine `-N`, one invocation) of each tool's `--version`: "
                "its start, the parse of its command line and its exit; and of Python starting "
                "with ctypes, which unc, frozen or not, pays before its first line. What a "
                "tool's container start takes beyond its `--version` is the container's own "
                "cost (bench/README.md: where it ends for Python).", ""]
        if "error" in base:
            out += [f"failed: {base['error']}", ""]
        else:
            out += ["| command | median | min | max | x crun --version |",
                    "|---|---:|---:|---:|---:|"]
            for name, e in base.items():
                out.append(f"| `{name}` | {e['median']:.1f} | {e['min']:.1f} | "
                           f"{e['max']:.1f} | {ratio(e['median'], crun)} |")
            out.append("")

    thr = r["throughput"]
    stage = thr.get("unc", {}).get("stage", "?")
    out += [f"## Throughput (stage {stage}; crun and runc: mount)", "",
            f"Containers per second: {meta['in_a_row']} started one after another, and "
            f"{meta['at_once']} started at once; median of {meta['repeats']} repeats. Ratios "
            "divide by the peer's figure (higher is faster).", "",
            f"| tool | {meta['in_a_row']} in a row /s | x bwrap | x crun | "
            f"{meta['at_once']} at once /s | x bwrap | x crun |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for tool, e in thr.items():
        if "error" in e:
            out.append(f"| {tool} | failed: {e['error']} | | | | | |")
            continue
        row, once = e["in_a_row"], e["at_once"]
        peer = {p: thr.get(p, {}) for p in PEERS}
        out.append(f"| {tool} | {row:.0f} | {ratio(row, peer['bwrap'].get('in_a_row'))} | "
                   f"{ratio(row, peer['crun'].get('in_a_row'))} | {once:.0f} | "
                   f"{ratio(once, peer['bwrap'].get('at_once'))} | "
                   f"{ratio(once, peer['crun'].get('at_once'))} |")
    out.append("")

    mem = r["memory"]
    out += [f"## Resident memory while a container sleeps (stage {stage}; crun and runc: mount)", "",
            "Proportional set size (PSS, from /proc/PID/smaps_rollup) summed over the "
            "launcher's own host-side processes while the container runs `sleep`; the "
            "sleep itself is not counted. Median of the repeats.", "",
            "| tool | PSS MiB | processes | x bwrap | x crun |", "|---|---:|---|---:|---:|"]
    for tool, e in mem.items():
        if "error" in e:
            out.append(f"| {tool} | failed: {e['error']} | | | |")
            continue
        out.append(f"| {tool} | {e['pss_kib'] / 1024:.1f} | {', '.join(e['processes'])} | "
                   f"{ratio(e['pss_kib'], mem.get('bwrap', {}).get('pss_kib'))} | "
                   f"{ratio(e['pss_kib'], mem.get('crun', {}).get('pss_kib'))} |")
    out.append("")

    size = r["size"]
    out += ["## Binary size", "", "| tool | MB (10^6 bytes) | x bwrap | x crun |",
            "|---|---:|---:|---:|"]
    for tool, b in size.items():
        out.append(f"| {tool} | {b / MB:.2f} | {ratio(b, size.get('bwrap'))} | "
                   f"{ratio(b, size.get('crun'))} |")
    out.append("")

    out += ["## Notes", ""]
    for tool, note in meta.get("tool_notes", {}).items():
        out.append(f"- {tool}: {note}.")
    for note in r["notes"]:
        out.append(f"- {note}.")
    out.append("- Commands, as run (`/bin/true` is the host's for user_pid and uts, "
               "busybox's inside the rootfs for mount and net):")
    out.append("")
    for stage in STAGES:
        for tool, e in lat.get(stage, {}).items():
            out.append(f"  - {stage}, {tool}: `{e['command']}`")
    out.append("")
    return "\n".join(out)


def chart(r, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lat = r["latency"]
    stages = [s for s in STAGES if lat.get(s)]
    cols = 2
    rows_n = (len(stages) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(11, 3.6 * rows_n), squeeze=False,
                             sharex=True)
    for ax in axes.flat[len(stages):]:
        ax.set_visible(False)
    for ax, stage in zip(axes.flat, stages):
        rows = [(t, e) for t, e in lat[stage].items() if "median" in e]
        rows.sort(key=lambda te: te[1]["median"])
        names = [t for t, _ in rows]
        med = [e["median"] for _, e in rows]
        lo = [e["median"] - e["min"] for _, e in rows]
        hi = [e["max"] - e["median"] for _, e in rows]
        colors = ["#d62728" if n == "unc" else "#1f77b4" for n in names]
        ax.barh(names, med, xerr=[lo, hi], color=colors, capsize=3)
        for y, (m, (_, e)) in enumerate(zip(med, rows)):
            ax.text(e["max"], y, f"  {m:.1f}", va="center", ha="left", fontsize=8)
        ax.set_title(f"stage {stage}")
        ax.set_xlabel("ms to start /bin/true (median, min-max)")
        ax.invert_yaxis()
    fig.suptitle("unc start latency beside its peers (same run; lower is faster)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    src, md, png = sys.argv[1:4]
    with open(src) as f:
        r = json.load(f)
    with open(md, "w") as f:
        f.write(markdown(r))
    chart(r, png)


if __name__ == "__main__":
    main()
