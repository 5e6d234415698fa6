"""The "Fault scenarios" section of docs/reliability.md, from the figures the
fault suite (Tests/TeaBagFaultTests) recorded.

The suite writes one JSON file, $TEABAG_RELIABILITY_OUT (default
.build/reliability/faults.json): {runs_per_scenario, scenarios: {id: {title,
runs, invoked, acknowledged, refused, unknown, lost, doubled, diverged,
phantom, unknown_split, not_converged, converge_ms_p50, converge_ms_max,
notes, recorded_at}}}. tools/reliability-report imports render_faults() and
writes the section between <!-- faults:begin --> and <!-- faults:end -->.
"""
import json
import os

BEGIN, END = "<!-- faults:begin -->", "<!-- faults:end -->"

# The order of issue 8's list, so that the table reads like the issue.
ORDER = [
    "store-sigkill",
    "agent-sigkill-full-outbox",
    "store-down",
    "table-down",
    "partition",
    "clock-skew",
    "disk-full",
    "corrupt-database",
    "store-restored-from-backup",
    "store-restored-late-reconnect",
    "plugin-crash",
    "plugin-slow-fold",
]


def seconds(milliseconds):
    return "—" if milliseconds is None else f"{milliseconds / 1000:.1f} s"


def render_faults(path):
    """The section's markdown (without the markers), or None without figures."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    scenarios = data.get("scenarios", {})
    if not scenarios:
        return None
    ordered = sorted(scenarios.values(), key=lambda s: (ORDER.index(s["id"]) if s["id"] in ORDER else len(ORDER), s["id"]))
    dates = sorted(s["recorded_at"] for s in ordered)
    runs = sorted({s["runs"] for s in ordered})
    total = lambda key: sum(s[key] for s in ordered)
    lines = [
        f"Recorded by `Tests/TeaBagFaultTests` between {dates[0]} and {dates[-1]} (UTC), "
        f"{' / '.join(str(r) for r in runs)} run(s) per scenario, rendered by `tools/reliability-report`. "
        "*Acknowledged*: pushes an agent answered 200 — each must end up in the value on every agent and store. "
        "*Refused*: pushes the agent said no to for sure (e.g. `ClientError:Storage` on a full disk) — each must be "
        "nowhere. *Unknown*: pushes whose request failed or timed out (an agent being killed) — each must end up "
        "everywhere or nowhere. *Lost*: acknowledged ops missing from some node's value after healing. *Doubled*: "
        "ops folded twice (a log element twice, a counter bit no op owns). *Diverged*: paths whose value differs "
        "between nodes, plus refused ops found anywhere and unknown ops found only somewhere. *Converged in*: from "
        "the end of the faults and of the workload to the first read where all six nodes agree and every outbox is "
        "empty (p50 / max over the runs).",
        "",
        f"**{total('acknowledged'):,} ops acknowledged, {total('lost')} lost, {total('doubled')} doubled, "
        f"{total('diverged')} diverged.**",
        "",
        "| scenario | runs | ops acknowledged | refused | unknown | lost | doubled | diverged | converged in (p50 / max) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for s in ordered:
        flagged = lambda key: f"**{s[key]}**" if s[key] else "0"
        diverged = s["diverged"] + s.get("phantom", 0) + s.get("unknown_split", 0)
        converge = f"{seconds(s['converge_ms_p50'])} / {seconds(s['converge_ms_max'])}"
        if s.get("not_converged"):
            converge += f" (**{s['not_converged']} run(s) never**)"
        lines.append(
            f"| {s['title']} | {s['runs']} | {s['acknowledged']:,} | {s['refused']:,} | {s['unknown']:,} | "
            f"{flagged('lost')} | {flagged('doubled')} | {f'**{diverged}**' if diverged else '0'} | {converge} |"
        )
    noted = [s for s in ordered if s.get("notes")]
    if noted:
        lines += ["", "What the first run of each scenario observed besides:", ""]
        for s in noted:
            lines.append(f"- **{s['id']}**: " + "; ".join(s["notes"]))
    return "\n".join(lines)


def write_section(document, section, heading="## Fault scenarios", before="## Bad input and attacks"):
    """Puts the section between its markers, creating it above `before` (or at the end)."""
    text = open(document, encoding="utf-8").read() if os.path.exists(document) else "# Reliability\n"
    block = f"{BEGIN}\n{section}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    elif before in text:
        head, rest = text.split(before, 1)
        text = head + f"{heading}\n\n{block}\n\n" + before + rest
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{block}\n"
    with open(document, "w", encoding="utf-8") as handle:
        handle.write(text)
