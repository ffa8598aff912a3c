"""Trees, maps and distance matrices of a registry's DNAs (DESIGN.md "tree/map").

The numeric core is pure: a distance matrix (and labels) in, a tree, coordinates or an order
out. The public `tree`, `map` and `matrix` only load registry rows and hand them to it;
pictures are drawn by `hf_dna.plots`.

    >>> result = hf_dna.tree(registry="hf://datasets/ORG/dna-registry")
    >>> print(result.newick)
    >>> result.plot("tree.png")

scikit-bio (3 s to import, pandas included) is imported only when a tree is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from difflib import get_close_matches
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np

from .errors import NotInRegistryError, PhyloError, SpecMismatchError

if TYPE_CHECKING:
    from skbio import TreeNode

    from .plots import Picture
    from .registry import Registry, RegistryRow

TreeMethod = Literal["nj", "upgma"]
MapMethod = Literal["mds", "tsne"]
RootHow = Literal["oldest-created", "oldest-stamped", "midpoint", "upgma"]
LOCAL_ORG = "local"
OPTIMAL_ORDERING_MAX = 1000  # scipy's optimal leaf ordering grows ~n^3: beyond this, plain linkage order


# -- results ------------------------------------------------------------------------------

@dataclass
class Leaf:
    """One model in a tree, map or matrix."""

    label: str  # unique within the result: model_id, or model_id@revision when ids repeat
    model_id: str
    revision: str
    organisation: str
    created_at: str | None = None
    stamped_at: str | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Root:
    """Where the tree was rooted and why."""

    how: RootHow
    model: str | None = None  # the leaf whose branch holds the root (oldest-created/-stamped)


@dataclass
class TreeResult:
    newick: str
    root: Root
    leaves: list[Leaf]  # in distance-matrix order
    distances: np.ndarray = field(repr=False)  # (n, n) DNA distances under the spec
    spec: str
    method: TreeMethod
    registry: str | None = None
    clipped_branches: int = 0  # negative NJ branch lengths set to 0
    problems: list[str] = field(default_factory=list)  # registry files that could not be read
    node: "TreeNode | None" = field(default=None, repr=False, compare=False)  # the rooted tree

    def to_dict(self) -> dict:
        return {"newick": self.newick, "root": self.root.__dict__, "method": self.method, "spec": self.spec,
                "registry": self.registry, "clipped_branches": self.clipped_branches,
                "leaves": [leaf.to_dict() for leaf in self.leaves]}

    def plot(self, path: str, title: str | None = None) -> "Picture":
        from .plots import plot_tree

        return plot_tree(self, path, title=title)


@dataclass
class MapResult:
    coords: np.ndarray = field(repr=False)  # (n, 2)
    leaves: list[Leaf]
    distances: np.ndarray = field(repr=False)
    spec: str
    method: MapMethod
    explained: float | None = None  # classical MDS: share of the variance the two axes show
    registry: str | None = None
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        points = [{**leaf.to_dict(), "x": float(x), "y": float(y)} for leaf, (x, y) in zip(self.leaves, self.coords)]
        return {"method": self.method, "spec": self.spec, "registry": self.registry, "explained": self.explained,
                "points": points}

    def plot(self, path: str, title: str | None = None) -> "Picture":
        from .plots import plot_map

        return plot_map(self, path, title=title)


@dataclass
class MatrixResult:
    leaves: list[Leaf]  # in clustered order
    distances: np.ndarray = field(repr=False)  # (n, n), rows and columns in clustered order
    spec: str
    registry: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [leaf.label for leaf in self.leaves]

    def to_dict(self) -> dict:
        return {"spec": self.spec, "registry": self.registry, "labels": self.labels,
                "leaves": [leaf.to_dict() for leaf in self.leaves],
                "distances": np.round(self.distances, 6).tolist()}

    def plot(self, path: str, title: str | None = None) -> "Picture":
        from .plots import plot_matrix

        return plot_matrix(self, path, title=title)


# -- numeric core: arrays in, trees / arrays out -----------------------------------------------

def organisation(model_id: str) -> str:
    """The Hub namespace of a model id; a bare name (a local folder) belongs to 'local'."""
    owner, slash, _ = model_id.partition("/")
    return owner if slash and owner else LOCAL_ORG


def pairwise_distances(vectors: np.ndarray, divisor: float) -> np.ndarray:
    """All DNA distances (projection.distance, with the spec's `distance_divisor`, for every
    pair) as a symmetric (n, n) float64 matrix with an exact zero diagonal, as scikit-bio requires."""
    from scipy.spatial.distance import pdist, squareform

    condensed = pdist(np.asarray(vectors, np.float64), "euclidean") / divisor
    return squareform(condensed)


def _distance_matrix(dist: np.ndarray, labels: Sequence[str]):
    from skbio import DistanceMatrix

    if len(labels) < 2:
        raise PhyloError(f"A tree needs at least 2 models, got {len(labels)}.")
    return DistanceMatrix(np.asarray(dist, np.float64), list(labels))


def neighbor_joining(dist: np.ndarray, labels: Sequence[str]) -> tuple["TreeNode", int]:
    """Unrooted NJ tree (scikit-bio) and how many negative branch lengths were set to 0."""
    from skbio.tree import nj

    if len(labels) == 2:
        return _pair(dist, labels), 0
    node = nj(_distance_matrix(dist, labels), neg_as_zero=False)
    # NJ fits lengths to non-additive distances and can return negative ones; a negative
    # length has no meaning as evolution, so it is drawn (and written) as 0 and counted.
    clipped = 0
    for child in node.traverse(include_self=False):
        if child.length is not None and child.length < 0:
            child.length, clipped = 0.0, clipped + 1
    return node, clipped


def upgma_tree(dist: np.ndarray, labels: Sequence[str]) -> "TreeNode":
    """Rooted, ultrametric UPGMA tree (scikit-bio's wrapper of scipy's average linkage)."""
    from skbio.tree import upgma

    return _pair(dist, labels) if len(labels) == 2 else upgma(_distance_matrix(dist, labels))


def _pair(dist: np.ndarray, labels: Sequence[str]) -> "TreeNode":
    """Two leaves: scikit-bio's NJ needs three, and the answer is obvious."""
    from skbio import TreeNode

    half = float(dist[0][1]) / 2
    return TreeNode(children=[TreeNode(name=labels[0], length=half), TreeNode(name=labels[1], length=half)])


def root_tree(node: "TreeNode", oldest: str | None) -> "TreeNode":
    """Root on the middle of the branch leading to the oldest leaf (the earliest model is the
    outgroup), or at the midpoint of the longest path when the oldest is not known."""
    if oldest is not None:
        return node.root_at(node.find(oldest), above=True, reset=True)
    return node.root_at_midpoint(reset=True)


def oldest_leaf(leaves: Sequence[Leaf]) -> tuple[RootHow, str | None]:
    """The model to root at: the oldest by creation date when every leaf has one, else by
    stamp time; none (midpoint rooting) when the oldest is tied or dates are missing."""
    for how, attr in (("oldest-created", "created_at"), ("oldest-stamped", "stamped_at")):
        times = [_parse_time(getattr(leaf, attr)) for leaf in leaves]
        if len(leaves) < 2 or any(t is None for t in times):
            continue
        order = sorted(range(len(leaves)), key=lambda i: times[i])
        if times[order[0]] < times[order[1]]:
            return how, leaves[order[0]].label
    return "midpoint", None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:  # Python 3.10's fromisoformat does not read a trailing Z
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


_PLAIN_LABEL = re.compile(r"[A-Za-z0-9.\-]+")  # `_` would read back as a space, so it is quoted too


def quote_label(label: str) -> str:
    """A Newick label: plain when it is safe, else single-quoted with quotes doubled, so that
    `/`, `:`, `(`, `,`, `_` and spaces in model ids survive a round trip."""
    return label if _PLAIN_LABEL.fullmatch(label) else "'" + label.replace("'", "''") + "'"


def newick(node: "TreeNode") -> str:
    """The tree as one Newick line. Tips are written as placeholders by scikit-bio and then
    replaced with our quoting, which any Newick reader understands (scikit-bio leaves
    apostrophes unquoted)."""
    import io

    copy = node.copy()
    labels: list[str] = []
    for item in copy.traverse(include_self=True):
        if item.is_tip():
            labels.append(item.name)
            item.name = f"T{len(labels) - 1}"
        else:
            item.name = None  # internal names are scikit-bio's bookkeeping, not ours
    buffer = io.StringIO()
    copy.write(buffer, format="newick")
    text = buffer.getvalue().strip()
    return re.sub(r"(?<=[(,])T(\d+)(?=[:,);])", lambda m: quote_label(labels[int(m.group(1))]), text)


def clustered_order(dist: np.ndarray) -> np.ndarray:
    """Leaf order of average-linkage clustering, so that near models sit side by side."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    n = len(dist)
    if n < 3:
        return np.arange(n)
    links = linkage(squareform(dist, checks=False), method="average", optimal_ordering=n <= OPTIMAL_ORDERING_MAX)
    return leaves_list(links)


def classical_mds(dist: np.ndarray, dims: int = 2) -> tuple[np.ndarray, float]:
    """Torgerson's classical MDS: coordinates whose Euclidean distances best match `dist`,
    and the share of variance the `dims` axes keep. Ten lines of numpy instead of a
    scikit-learn dependency (whose MDS is the iterative SMACOF kind anyway)."""
    from scipy.linalg import eigh

    n = len(dist)
    squared = np.asarray(dist, np.float64) ** 2
    centred = squared - squared.mean(0) - squared.mean(1)[:, None] + squared.mean()
    gram = -0.5 * centred  # double-centred: the Gram matrix of the centred points
    k = min(dims, n)
    values, vectors = eigh(gram, subset_by_index=[n - k, n - 1])
    values, vectors = np.clip(values[::-1], 0, None), vectors[:, ::-1]
    vectors *= np.where(vectors[np.abs(vectors).argmax(0), range(k)] < 0, -1, 1)  # a fixed sign: same picture each run
    coords = np.zeros((n, dims))
    coords[:, :k] = vectors * np.sqrt(values)
    total = float(np.trace(gram))
    return coords, float(values.sum() / total) if total > 0 else 1.0


def tsne(dist: np.ndarray, seed: int = 0) -> np.ndarray:
    """t-SNE on the precomputed distances, when scikit-learn is installed (optional)."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise PhyloError("t-SNE needs scikit-learn: `pip install scikit-learn`, or use --method mds.") from None
    n = len(dist)
    if n < 4:
        raise PhyloError(f"t-SNE needs at least 4 models, got {n}; use --method mds.")
    model = TSNE(2, metric="precomputed", init="random", random_state=seed, perplexity=min(30.0, (n - 1) / 3))
    return model.fit_transform(np.asarray(dist, np.float64))


# -- loading: the only part that reads the registry --------------------------------------------

@dataclass
class _Selection:
    leaves: list[Leaf]
    distances: np.ndarray
    spec: str
    registry: str
    problems: list[str]


def _select(models: Sequence[str] | None, registry: "str | Registry | None", spec: str | None,
            minimum: int = 2) -> _Selection:
    """The rows to draw (all of one spec, or the MODELS given) and their distance matrix."""
    from .registry import Registry, open_registry
    from .spec import current_spec, get_spec

    reg = registry if isinstance(registry, Registry) else open_registry(registry)
    if models:
        rows = _pick(reg.rows(), list(dict.fromkeys(models)), spec, reg.uri)
    else:
        spec = spec or current_spec().id
        rows = reg.rows(spec)
        if not rows:
            raise _empty(reg, spec)
    if len(rows) < minimum:
        raise PhyloError(f"A tree, map or matrix needs at least {minimum} models; got {len(rows)} "
                         f"({', '.join(r.model_id for r in rows)}). Name more models, or stamp more into the registry.")
    divisor = get_spec(rows[0].spec).distance_divisor
    distances = pairwise_distances(np.stack([r.vector for r in rows]), divisor)
    return _Selection(_leaves(rows), distances, rows[0].spec, reg.uri, list(reg.problems))


def _empty(reg: "Registry", spec: str) -> NotInRegistryError:
    from pathlib import Path

    others = sorted({r.spec for r in reg.rows()})
    if others:
        where = f"holds DNAs only under {', '.join(others)}; pass --spec"
    elif not reg.uri.startswith("hf://") and not Path(reg.uri).exists():
        where = "does not exist; pass --registry, or stamp models into it first (`hf-dna stamp MODEL`)"
    else:
        where = "is empty; stamp models into it first (`hf-dna stamp MODEL --registry URI`)"
    return NotInRegistryError(f"No DNAs under spec {spec}: the registry {reg.uri} {where}.")


def _pick(rows: list["RegistryRow"], models: list[str], spec: str | None, uri: str) -> list["RegistryRow"]:
    """One row per MODEL (`id` or `id@revision`), all under one spec: the given one, else
    the current spec or the only one every model has."""
    found = {ref: _rows_of(rows, ref, uri) for ref in models}
    spec = spec or _common_spec(found)
    picked = []
    for ref, candidates in found.items():
        under = [r for r in candidates if r.spec == spec]
        if not under:
            have = ", ".join(sorted({r.spec for r in candidates}))
            raise SpecMismatchError(f"{ref} has no DNA under spec {spec} (it has {have}). Recompute it under "
                                    f"{spec} (`hf-dna stamp {ref.partition('@')[0]}`), or leave it out.")
        picked.append(under[-1])  # rows come oldest stamp first: the last is the latest
    return list({(r.model_id, r.revision): r for r in picked}.values())


def _rows_of(rows: list["RegistryRow"], ref: str, uri: str) -> list["RegistryRow"]:
    model_id, _, revision = ref.partition("@")
    matches = [r for r in rows if r.model_id == model_id and r.revision.startswith(revision)]
    if matches:
        return matches
    near = get_close_matches(model_id, sorted({r.model_id for r in rows}), n=3)
    hint = f" Did you mean {', '.join(near)}?" if near else " See `hf-dna registry list`."
    raise NotInRegistryError(f"No DNA for {ref} in the registry {uri}. Stamp it first "
                             f"(`hf-dna stamp {model_id} --registry {uri}`).{hint}")


def _common_spec(found: dict[str, list["RegistryRow"]]) -> str:
    from .spec import current_spec

    specs = {ref: {r.spec for r in rows} for ref, rows in found.items()}
    common = set.intersection(*specs.values())
    if current_spec().id in common:
        return current_spec().id
    if len(common) == 1:
        return common.pop()
    if common:
        raise SpecMismatchError(f"The models share several specs ({', '.join(sorted(common))}); pass --spec.")
    listed = "; ".join(f"{ref}: {', '.join(sorted(s))}" for ref, s in specs.items())
    raise SpecMismatchError(f"The models have no DNA under one common spec ({listed}). DNAs of different specs "
                            "cannot be compared: recompute them under one spec (`hf-dna stamp MODEL`).")


def _leaves(rows: list["RegistryRow"]) -> list[Leaf]:
    """Labels are model ids, with the revision added where one id appears more than once."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.model_id] = counts.get(row.model_id, 0) + 1
    labels = [r.model_id if counts[r.model_id] == 1 else f"{r.model_id}@{r.revision[:8]}" for r in rows]
    if len(set(labels)) < len(labels):  # revisions that share their first 8 characters
        labels = [f"{r.model_id}@{r.revision}" if counts[r.model_id] > 1 else r.model_id for r in rows]
    return [Leaf(label, r.model_id, r.revision, organisation(r.model_id), r.created_at, r.stamped_at)
            for label, r in zip(labels, rows)]


# -- the public API ------------------------------------------------------------------------

def tree(models: Sequence[str] | None = None, registry: "str | Registry | None" = None, spec: str | None = None,
         method: TreeMethod = "nj") -> TreeResult:
    """The evolutionary tree of a registry's models (all of one spec, default the current one,
    or only `models`, given as `id` or `id@revision`): neighbor joining rooted at the oldest
    model (or the midpoint), or UPGMA; with its Newick text."""
    if method not in ("nj", "upgma"):
        raise PhyloError(f"Unknown tree method {method!r}: use 'nj' or 'upgma'.")
    sel = _select(models, registry, spec)
    labels = [leaf.label for leaf in sel.leaves]
    if method == "upgma":  # UPGMA's own root (the last merge) is its answer: keep it
        rooted, clipped, root = upgma_tree(sel.distances, labels), 0, Root("upgma")
    else:
        unrooted, clipped = neighbor_joining(sel.distances, labels)
        how, oldest = oldest_leaf(sel.leaves)
        rooted, root = root_tree(unrooted, oldest), Root(how, oldest)
    return TreeResult(newick(rooted), root, sel.leaves, sel.distances, sel.spec, method, sel.registry,
                      clipped, sel.problems, rooted)


def map(models: Sequence[str] | None = None, registry: "str | Registry | None" = None,  # noqa: A001 -- hf_dna.map
        spec: str | None = None, method: MapMethod = "mds", seed: int = 0) -> MapResult:
    """A 2-D map of the models: classical MDS of the DNA distances, or t-SNE (seeded)."""
    if method not in ("mds", "tsne"):
        raise PhyloError(f"Unknown map method {method!r}: use 'mds' or 'tsne'.")
    sel = _select(models, registry, spec)
    if method == "tsne":
        coords, explained = tsne(sel.distances, seed), None
    else:
        coords, explained = classical_mds(sel.distances)
    return MapResult(coords, sel.leaves, sel.distances, sel.spec, method, explained, sel.registry, sel.problems)


def matrix(models: Sequence[str] | None = None, registry: "str | Registry | None" = None,
           spec: str | None = None) -> MatrixResult:
    """The models' distance matrix, rows and columns in hierarchical-clustering leaf order."""
    sel = _select(models, registry, spec)
    order = clustered_order(sel.distances)
    return MatrixResult([sel.leaves[i] for i in order], sel.distances[np.ix_(order, order)], sel.spec,
                        sel.registry, sel.problems)
