"""Pictures of trees, maps and distance matrices, and the self-contained HTML map.

matplotlib's object API with the Agg canvas only: no pyplot, so no global figure list to
leak and no backend switch that would surprise a caller's own plotting. Settings are
scoped with `rc_context`. Labels are coloured by organisation (the model id's namespace).
"""

from __future__ import annotations

import html
import string
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .errors import PhyloError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from skbio import TreeNode

    from .phylo import MapResult, MatrixResult, TreeResult

FONT_MAX, FONT_FLOOR = 10.0, 5.0  # label sizes in points: 5 pt is the smallest still readable when printed
ROW_HEIGHT = 1.7 / 72  # inches of figure per point of label font, per leaf: one label per line, no overlap
DPI = 150
MAX_PIXELS = 20_000  # per side: a 2,000-leaf tree stays a picture a viewer can open (SVG has no limit)
MAP_LABELS_MAX = 400  # more labels than this on a map are a grey blot: the HTML map's hover titles stay
MATRIX_VALUES_MAX = 12  # print the numbers in the cells up to this many models
SVG_SIZE, SVG_PAD = 800, 60  # the HTML map's square, in CSS pixels
# tab10 without its grey, then tab20b's dark shades: every colour stays readable as text on white
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
           "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#5254a3", "#8ca252", "#bd9e39", "#ad494a")
OTHER_COLOUR = "#7f7f7f"  # grey is left out of the palette: it means "one of the other organisations"


@dataclass
class Picture:
    path: str
    width_px: int
    height_px: int
    format: str


# -- shared pieces -----------------------------------------------------------------------

def label_font(n: int) -> float:
    """Label size for n labels: full size up to 20, then smaller, never under the floor."""
    return max(FONT_FLOOR, min(FONT_MAX, FONT_MAX - (n - 20) / 25))


def org_colours(organisations: Sequence[str]) -> dict[str, str]:
    """A colour per organisation, the most frequent first; past the palette, all grey."""
    counts: dict[str, int] = {}
    for org in organisations:
        counts[org] = counts.get(org, 0) + 1
    ranked = sorted(counts, key=lambda org: (-counts[org], org))
    return {org: PALETTE[i] if i < len(PALETTE) else OTHER_COLOUR for i, org in enumerate(ranked)}


def _figure(width_in: float, height_in: float) -> tuple["Figure", "Axes"]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)  # attaches itself to the figure; pyplot never sees it
    return fig, fig.add_subplot()


def _save(fig: "Figure", path: str | Path) -> Picture:
    import matplotlib

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise PhyloError(f"Cannot draw {path}: use a .png or .svg file name.")
    dpi = min(DPI, MAX_PIXELS / max(fig.get_size_inches()))
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # SVG text stays text: searchable and small
        fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight", pad_inches=0.15)
    return Picture(str(path), *_pixel_size(path, fmt), fmt)


def _pixel_size(path: Path, fmt: str) -> tuple[int, int]:
    """Read the size back from the file: a tight bounding box changes it at save time."""
    if fmt == "png":
        header = path.read_bytes()[:24]  # the IHDR chunk: width and height, big-endian
        return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    root = ET.parse(path).getroot()  # matplotlib writes sizes in points; 1 pt = 4/3 CSS px
    width, height = (float(root.get(k, "0").removesuffix("pt")) for k in ("width", "height"))
    return round(width * 4 / 3), round(height * 4 / 3)


def _legend(ax: "Axes", organisations: Sequence[str], colours: dict[str, str], title: str) -> None:
    """Organisations (with counts) above the plot, under the title; the long tail as one entry."""
    from matplotlib.lines import Line2D

    counts: dict[str, int] = {}
    for org in organisations:
        counts[org] = counts.get(org, 0) + 1
    named = [org for org in colours if colours[org] != OTHER_COLOUR]
    handles = [Line2D([], [], marker="o", ls="", color=colours[org], label=f"{org} ({counts[org]})") for org in named]
    if len(named) < len(colours):
        rest = len(colours) - len(named)
        handles.append(Line2D([], [], marker="o", ls="", color=OTHER_COLOUR, label=f"{rest} other organisations"))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), ncol=min(4, len(handles)),
              frameon=False, fontsize=8, title=title, title_fontsize=10, alignment="left", borderaxespad=0)


# -- trees -----------------------------------------------------------------------------------

@dataclass
class TreeLayout:
    segments: list[tuple[tuple[float, float], tuple[float, float]]]  # branch lines, (x, y) pairs
    tips: list[tuple[float, float, str]]  # x, y, label; y = row, top to bottom
    width: float  # the longest root-to-tip distance


def tree_layout(root: "TreeNode") -> TreeLayout:
    """A rectangular phylogram: x = distance from the root, one row per leaf, smaller
    subtrees first (a 'ladderized' order reads best). Iterative: deep trees are fine."""
    nodes = list(root.postorder(include_self=True))
    size: dict[int, int] = {}
    for node in nodes:
        size[id(node)] = 1 if node.is_tip() else sum(size[id(c)] for c in node.children)
    kids = {id(n): sorted(n.children, key=lambda c: size[id(c)]) for n in nodes}
    x, tips, stack = {id(root): 0.0}, [], [root]
    while stack:
        node = stack.pop()
        for child in kids[id(node)]:
            x[id(child)] = x[id(node)] + max(child.length or 0.0, 0.0)
        stack.extend(reversed(kids[id(node)]))
        if node.is_tip():
            tips.append(node)
    y = {id(tip): float(row) for row, tip in enumerate(tips)}
    for node in nodes:  # postorder: children are placed before their parent
        if not node.is_tip():
            y[id(node)] = (y[id(kids[id(node)][0])] + y[id(kids[id(node)][-1])]) / 2
    return TreeLayout(_branches(nodes, kids, x, y), [(x[id(t)], y[id(t)], t.name) for t in tips], max(x.values()))


def _branches(nodes, kids, x, y) -> list:
    segments = []
    for node in nodes:
        if node.parent is not None:  # the horizontal branch, as long as the node's length
            segments.append(((x[id(node.parent)], y[id(node)]), (x[id(node)], y[id(node)])))
        if kids[id(node)]:  # the vertical line that joins the children
            segments.append(((x[id(node)], y[id(kids[id(node)][0])]), (x[id(node)], y[id(kids[id(node)][-1])])))
    return segments


def plot_tree(result: "TreeResult", path: str | Path, title: str | None = None) -> Picture:
    """The rooted tree as a phylogram: branch lengths on the distance axis (top and bottom
    when the picture is tall), leaf labels coloured by organisation."""
    from matplotlib.collections import LineCollection

    layout = tree_layout(result.node)
    n, font = len(layout.tips), label_font(len(layout.tips))
    fig, ax = _figure(8.0, max(3.0, n * font * ROW_HEIGHT + 1.5))
    ax.add_collection(LineCollection(layout.segments, colors="#444444", linewidths=0.8))
    org_of = {leaf.label: leaf.organisation for leaf in result.leaves}
    colours = org_colours(list(org_of.values()))
    pad, width = layout.width * 0.01, layout.width or 1e-6  # identical DNAs give a tree of length 0
    for tip_x, tip_y, label in layout.tips:
        ax.text(tip_x + pad, tip_y, label, color=colours[org_of[label]], fontsize=font, va="center")
    ax.scatter([t[0] for t in layout.tips], [t[1] for t in layout.tips], s=font * 2, zorder=3,
               c=[colours[org_of[t[2]]] for t in layout.tips])
    ax.set_xlim(0, width * 1.02)
    ax.set_ylim(n - 0.5, -0.5)
    _distance_axis(ax, tall=n > 60)
    _legend(ax, list(org_of.values()), colours, title or _tree_title(result))
    return _save(fig, path)


def _distance_axis(ax: "Axes", tall: bool) -> None:
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("branch length (DNA distance)")
    ax.tick_params(axis="x", labelsize=8, top=tall, labeltop=tall)


def _tree_title(result: "TreeResult") -> str:
    rooted = {"oldest-created": f"rooted at the oldest model ({result.root.model})",
              "oldest-stamped": f"rooted at the earliest stamped model ({result.root.model})",
              "midpoint": "midpoint-rooted", "upgma": "UPGMA root"}[result.root.how]
    kind = "Neighbor-joining" if result.method == "nj" else "UPGMA"
    return f"{kind} tree of {len(result.leaves)} models · spec {result.spec} · {rooted}"


# -- maps ------------------------------------------------------------------------------------

def plot_map(result: "MapResult", path: str | Path, title: str | None = None) -> Picture:
    """The 2-D map: one point per model, coloured by organisation, labelled (up to a limit)."""
    n, font = len(result.leaves), label_font(len(result.leaves))
    side = min(20.0, 6.0 + n / 60)
    fig, ax = _figure(side, side)
    orgs = [leaf.organisation for leaf in result.leaves]
    colours = org_colours(orgs)
    ax.scatter(result.coords[:, 0], result.coords[:, 1], c=[colours[o] for o in orgs], s=max(8.0, 40 - n / 10),
               edgecolors="white", linewidths=0.5, zorder=3)
    if n <= MAP_LABELS_MAX:
        for leaf, (x, y) in zip(result.leaves, result.coords):
            ax.annotate(leaf.label, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=font,
                        color=colours[leaf.organisation])
    ax.set_aspect("equal", adjustable="datalim")  # MDS axes share one distance unit
    axis = "MDS" if result.method == "mds" else "t-SNE"
    ax.set_xlabel(f"{axis} 1" + (" (DNA distance)" if result.method == "mds" else ""))
    ax.set_ylabel(f"{axis} 2")
    ax.tick_params(labelsize=8)
    _legend(ax, orgs, colours, title or _map_title(result))
    return _save(fig, path)


def _map_title(result: "MapResult") -> str:
    kind = "Classical MDS" if result.method == "mds" else "t-SNE"
    kept = f" · the two axes keep {result.explained:.0%} of the variance" if result.explained is not None else ""
    unlabelled = " · labels: see the HTML map" if len(result.leaves) > MAP_LABELS_MAX else ""
    return f"{kind} map of {len(result.leaves)} models · spec {result.spec}{kept}{unlabelled}"


_HTML = string.Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>$title</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
svg{border:1px solid #ddd;max-width:100%;height:auto}
circle{stroke:#fff;stroke-width:1}
g.pt:hover circle{stroke:#000;stroke-width:2}
g.pt text{font-size:${font}px;pointer-events:none}
ul{list-style:none;padding:0;columns:3}
li span{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:.4em}
</style></head><body>
<h1 style="font-size:1.2em">$title</h1>
<p>Hover a point for its model, organisation, revision and nearest neighbour.</p>
$svg
<ul>$legend</ul>
</body></html>
""")


def map_html(result: "MapResult", title: str | None = None) -> str:
    """A self-contained page: inline SVG, hover titles, no script and nothing fetched
    (users may be offline, and a page that loads a CDN leaks who looked at what)."""
    orgs = [leaf.organisation for leaf in result.leaves]
    colours = org_colours(orgs)
    points = _svg_points(result, colours)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SVG_SIZE} {SVG_SIZE}" width="{SVG_SIZE}" '
           f'height="{SVG_SIZE}">\n{points}\n</svg>')
    legend = "".join(f'<li><span style="background:{c}"></span>{html.escape(o)} ({orgs.count(o)})</li>'
                     for o, c in colours.items())
    text = title or _map_title(result)
    return _HTML.substitute(title=html.escape(text), svg=svg, legend=legend, font=f"{label_font(len(orgs)) * 1.3:.1f}")



def _svg_points(result: "MapResult", colours: dict[str, str]) -> str:
    xy = _to_box(result.coords, SVG_SIZE, SVG_PAD)
    near = _nearest(result.distances)
    lines = []
    for i, (leaf, (x, y)) in enumerate(zip(result.leaves, xy)):
        tip = [leaf.label, f"organisation: {leaf.organisation}", f"revision: {leaf.revision[:12]}"]
        tip += [f"created: {leaf.created_at}"] if leaf.created_at else []
        if near[i] >= 0:
            tip.append(f"nearest: {result.leaves[near[i]].label} ({result.distances[i, near[i]]:.4f})")
        label = (f'<text x="{x + 7:.1f}" y="{y + 3:.1f}" fill="{colours[leaf.organisation]}">'
                 f'{html.escape(leaf.label)}</text>') if len(xy) <= MAP_LABELS_MAX else ""
        lines.append(f'<g class="pt"><circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colours[leaf.organisation]}">'
                     f'<title>{html.escape(chr(10).join(tip))}</title></circle>{label}</g>')
    return "\n".join(lines)


def _to_box(coords: np.ndarray, size: int, pad: int) -> np.ndarray:
    """Scale points into the square box, one factor for both axes (distances keep their
    meaning), y pointing up as on the PNG."""
    low, span = coords.min(0), np.ptp(coords, 0)
    scale = (size - 2 * pad) / (span.max() or 1.0)
    xy = (coords - low) * scale + pad + ((size - 2 * pad) - span * scale) / 2
    xy[:, 1] = size - xy[:, 1]
    return xy


def _nearest(distances: np.ndarray) -> np.ndarray:
    """Each model's nearest other model (-1 for a lone model)."""
    if len(distances) < 2:
        return np.full(len(distances), -1)
    masked = distances + np.diag(np.full(len(distances), np.inf))
    return masked.argmin(1)


def write_map_html(result: "MapResult", path: str | Path, title: str | None = None) -> str:
    Path(path).write_text(map_html(result, title), encoding="utf-8")
    return str(path)


# -- distance matrices -----------------------------------------------------------------------

def plot_matrix(result: "MatrixResult", path: str | Path, title: str | None = None) -> Picture:
    """A heatmap of the distances in clustered order, tick labels coloured by organisation."""
    n, font = len(result.leaves), label_font(len(result.leaves))
    side = max(5.0, min(60.0, 2.5 + n * font * ROW_HEIGHT))
    fig, ax = _figure(side + 1.5, side)
    image = ax.imshow(result.distances, cmap="viridis", interpolation="nearest")
    colours = org_colours([leaf.organisation for leaf in result.leaves])
    ax.set_xticks(range(n), result.labels, rotation=90, fontsize=font)
    ax.set_yticks(range(n), result.labels, fontsize=font)
    for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
        for tick, leaf in zip(ticks, result.leaves):
            tick.set_color(colours[leaf.organisation])
    if n <= MATRIX_VALUES_MAX:
        _cell_values(ax, result.distances)
    fig.colorbar(image, ax=ax, shrink=0.8).set_label("DNA distance")
    ax.set_title(title or f"DNA distances of {n} models · spec {result.spec} · clustered order", fontsize=10)
    return _save(fig, path)


def _cell_values(ax: "Axes", distances: np.ndarray) -> None:
    middle = (distances.max() + distances.min()) / 2  # dark text on the light half of viridis
    for (i, j), value in np.ndenumerate(distances):
        ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=7,
                color="black" if value > middle else "white")
