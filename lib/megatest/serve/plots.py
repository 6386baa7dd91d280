"""Inline SVG pictures: a target's pass rate over its runs, and a record's history strip.

SVG attributes carry the colours (fill=), not style: the pages' Content-Security-Policy
allows no inline style. Each bar or box links to the run or record it stands for.
"""
from megatest.report import colours
from megatest.serve.pages import e

BAR = 12            # px per run in the pass-rate plot
PLOT_HEIGHT = 80    # px of a 100 % bar
BOX = 16            # px per run in a history strip
GOOD, FAIR = 1.0, 0.9     # a bar is green at 100 %, amber from 90 %, red below
GUIDES = (1.0, 0.5)       # dashed lines across the plot
BAR_COLOURS = {"good": colours.colour("COMPLETED", "PASS")[0],
               "fair": colours.colour("COMPLETED", "WARN")[0],
               "poor": colours.colour("COMPLETED", "FAIL")[0],
               "none": colours.colour("NOT_STARTED", "n/a")[0]}


def pass_rate(target, points):
    """One bar per run, oldest left, as tall as the share of its finished records that
    passed, coloured by GOOD and FAIR; guide lines at GUIDES."""
    width = max(len(points), 1) * BAR + 40
    top = 6
    bars = []
    for i, p in enumerate(points):
        rate = p["rate"]
        height = 2 if rate is None else max(2, round(rate * PLOT_HEIGHT))
        kind = "none" if rate is None else "good" if rate >= GOOD else \
            "fair" if rate >= FAIR else "poor"
        label = ("no finished record" if rate is None else
                 f"{rate * 100:.1f}% ({p['passed']} of {p['finished']} finished passed)")
        x = 36 + i * BAR
        bars.append(f'<a href="/run/{p["run_id"]}"><rect x="{x}" y="{top + PLOT_HEIGHT - height}"'
                    f' width="{BAR - 2}" height="{height}" fill="{BAR_COLOURS[kind]}">'
                    f'<title>{e(p["runname"])}: {e(label)}</title></rect></a>')
    guides = "".join(
        f'<line x1="34" x2="{width}" y1="{top + PLOT_HEIGHT * (1 - level)}" '
        f'y2="{top + PLOT_HEIGHT * (1 - level)}" stroke="#999" stroke-dasharray="2 3"/>'
        f'<text x="0" y="{top + PLOT_HEIGHT * (1 - level) + 4}" font-size="10">'
        f'{int(level * 100)}%</text>' for level in GUIDES)
    return (f'<svg class="plot" role="img" width="{width}" height="{PLOT_HEIGHT + top + 4}" '
            f'aria-label="pass rate of {e(target)} over {len(points)} runs">{guides}'
            f'{"".join(bars)}</svg>')


def history_strip(entry):
    """One box per run of the record's target, oldest left, in the record's colour there;
    an empty box where the run has no such record."""
    boxes = []
    for i, run in enumerate(entry["runs"]):
        c = run.get("cell")
        x = i * BOX
        if c is None:
            boxes.append(f'<rect x="{x + 1}" y="1" width="{BOX - 3}" height="{BOX - 3}" '
                         f'fill="none" stroke="#bbb"><title>{e(run["runname"])}: not in this '
                         'run</title></rect>')
            continue
        boxes.append(f'<a href="/test/{c["id"]}"><rect x="{x + 1}" y="1" width="{BOX - 3}" '
                     f'height="{BOX - 3}" fill="{c["colour"]}" stroke="#555">'
                     f'<title>{e(run["runname"])}: {e(c["label"])}'
                     f'{" (flaky)" if c["flaky"] else ""}</title></rect></a>')
    return (f'<svg class="strip" role="img" width="{max(len(boxes), 1) * BOX}" height="{BOX}" '
            f'aria-label="history: {e(entry.get("strip", ""))}">{"".join(boxes)}</svg>')
