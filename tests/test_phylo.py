"""Trees, maps and distance matrices: real scikit-bio, real registry folders, real picture files."""

from __future__ import annotations

import io
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from skbio import TreeNode

import hf_dna
from hf_dna.errors import NotInRegistryError, PhyloError, SpecMismatchError
from hf_dna.phylo import (Leaf, classical_mds, clustered_order, neighbor_joining, newick, oldest_leaf,
                          pairwise_distances)
from hf_dna.projection import distance
from hf_dna.registry import RegistryRow, open_registry
from hf_dna.spec import current_spec
from helpers import run_cli

SPEC = current_spec().id
DIVISOR = current_spec().distance_divisor
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_row(model: str, vector, created: str | None = None, spec: str = SPEC, revision: str = "r" * 40,
             stamped: str | None = None) -> RegistryRow:
    row = RegistryRow(model_id=model, revision=revision, spec=spec, vector=np.asarray(vector, np.float32),
                      created_at=created)
    if stamped:
        row.stamped_at = stamped
    return row


def clades(n_clades: int = 3, size: int = 4, seed: int = 0, spread: float = 3.0, step: float = 0.5,
           scale: float = 1.0, centre=None) -> list[RegistryRow]:
    """Founders far apart, each with fine-tunes near it; founders are older than their clade."""
    rng = np.random.default_rng(seed)
    centre = np.zeros(128) if centre is None else centre
    rows = []
    for c in range(n_clades):
        founder = centre + rng.standard_normal(128) * spread * scale
        for k in range(size):
            vector = founder if k == 0 else founder + rng.standard_normal(128) * step * scale
            rows.append(make_row(f"org{c}/m{k}", vector, f"202{c}-0{k + 1}-01T00:00:00Z"))
    return rows


@pytest.fixture
def registry_uri(tmp_path) -> str:
    uri = str(tmp_path / "registry")
    open_registry(uri).add(clades())
    return uri


def tips(node: TreeNode) -> set[str]:
    return {t.name for t in node.tips()}


def is_split(node: TreeNode, group: set[str]) -> bool:
    """Root-independent clade test: some branch separates `group` from the other leaves."""
    everything = tips(node)
    return any(tips(n) in (group, everything - group) for n in node.traverse(include_self=False))


# ---------------------------------------------------------------------- the numeric core


def random_additive_tree(n: int, seed: int) -> TreeNode:
    """A random binary tree with random positive lengths (joining random pairs)."""
    rng = np.random.default_rng(seed)
    nodes = [TreeNode(name=f"t{i}", length=float(rng.uniform(0.1, 1.0))) for i in range(n)]
    while len(nodes) > 2:
        a, b = (nodes.pop(int(rng.integers(len(nodes)))) for _ in range(2))
        nodes.append(TreeNode(children=[a, b], length=float(rng.uniform(0.1, 1.0))))
    return TreeNode(children=nodes)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_neighbor_joining_recovers_an_additive_tree_exactly(seed):
    truth = random_additive_tree(14, seed)
    dm = truth.cophenet()
    found, clipped = neighbor_joining(dm.data, list(dm.ids))
    assert found.compare_rfd(truth, rooted=False) == 0
    assert clipped == 0
    assert np.allclose(found.cophenet().filter(dm.ids).data, dm.data)  # the branch lengths too
    parsed = TreeNode.read(io.StringIO(newick(found)))
    assert parsed.compare_rfd(truth, rooted=False) == 0


def test_newick_quotes_labels_newick_treats_specially():
    labels = ["org/model", "a:b", "x(y)", "it's", "snake_case", "with space", "plain-1.0"]
    dist = pairwise_distances(np.random.default_rng(0).standard_normal((len(labels), 128)), DIVISOR)
    text = newick(neighbor_joining(dist, labels)[0])
    assert "plain-1.0:" in text and "'org/model'" in text and "'it''s'" in text
    assert tips(TreeNode.read(io.StringIO(text))) == set(labels)


def test_distances_are_the_spec_distance():
    vectors = np.random.default_rng(1).standard_normal((5, 128)).astype(np.float32)
    dist = pairwise_distances(vectors, 160 ** 0.5)
    expected = distance(vectors[1], vectors[3], 160 ** 0.5)
    assert dist[1, 3] == pytest.approx(expected) and np.all(np.diag(dist) == 0) and np.allclose(dist, dist.T)


def test_classical_mds_recovers_planar_points():
    points = np.random.default_rng(2).uniform(-1, 1, (12, 2))
    dist = np.linalg.norm(points[:, None] - points[None], axis=-1)
    coords, explained = classical_mds(dist)
    assert np.allclose(np.linalg.norm(coords[:, None] - coords[None], axis=-1), dist)
    assert explained == pytest.approx(1.0)
    assert np.array_equal(coords, classical_mds(dist)[0])  # deterministic signs


def test_clustered_order_keeps_clusters_together():
    rows = clades(n_clades=3, size=4)
    rng = np.random.default_rng(3).permutation(len(rows))
    vectors = np.stack([rows[i].vector for i in rng])
    order = clustered_order(pairwise_distances(vectors, DIVISOR))
    groups = [rows[rng[i]].model_id.split("/")[0] for i in order]
    assert sum(a != b for a, b in zip(groups, groups[1:])) == 2  # three runs: each clade contiguous


def test_root_choice_follows_dates():
    def leaf(name, created=None, stamped=None):
        return Leaf(name, name, "r", "local", created, stamped)
    assert oldest_leaf([leaf("a", "2024-02-01T00:00:00Z"), leaf("b", "2023-12-31T23:00:00+00:00")]) == ("oldest-created", "b")
    stamped = [leaf("a", None, "2025-01-02T00:00:00.5Z"), leaf("b", "2020-01-01", "2025-01-01T00:00:00Z")]
    assert oldest_leaf(stamped) == ("oldest-stamped", "b")  # a creation date missing: stamps decide
    tied = [leaf("a", None, "2025-01-01T00:00:00Z"), leaf("b", None, "2025-01-01T00:00:00Z")]
    assert oldest_leaf(tied) == ("midpoint", None)


# ---------------------------------------------------------------------- the API on a registry


def test_tree_is_rooted_at_the_oldest_model_and_clades_hold(registry_uri):
    result = hf_dna.tree(registry=registry_uri)
    assert result.root.how == "oldest-created" and result.root.model == "org0/m0"
    assert result.node.find("org0/m0").parent is result.node  # the oldest model is the outgroup
    for c in (1, 2):  # every later founder's descendants form a clade of the rooted tree
        group = {f"org{c}/m{k}" for k in range(4)}
        assert tips(result.node.lca(list(group))) == group
    assert tips(TreeNode.read(io.StringIO(result.newick))) == {leaf.label for leaf in result.leaves}
    assert result.distances.shape == (12, 12) and result.spec == SPEC and result.method == "nj"


def test_upgma_is_ultrametric(registry_uri):
    result = hf_dna.tree(registry=registry_uri, method="upgma")
    depths = [t.accumulate_to_ancestor(result.node) for t in result.node.tips()]
    assert result.root.how == "upgma" and np.allclose(depths, depths[0])


def test_tree_without_dates_is_midpoint_rooted(tmp_path):
    same = "2025-01-01T00:00:00Z"
    rows = [make_row(r.model_id, r.vector, None, stamped=same) for r in clades()]
    open_registry(str(tmp_path / "reg")).add(rows)
    assert hf_dna.tree(registry=str(tmp_path / "reg")).root.how == "midpoint"


@pytest.fixture
def family_registry(family_dnas, tmp_path) -> str:
    uri = str(tmp_path / "family")
    open_registry(uri).add([RegistryRow.from_dna(d) for d in family_dnas.values()])
    return uri


def test_family_tree_follows_the_real_distances(family_dnas, family_registry):
    """On the real family, the trees are what the distances say: NJ's one split of four
    leaves is the pair with the smallest four-point sum, UPGMA and the heatmap join the
    closest pair first."""
    result = hf_dna.tree(registry=family_registry)
    names, dist = [leaf.label for leaf in result.leaves], result.distances
    pairs = [((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))]
    (a, b), (c, d) = min(pairs, key=lambda p: dist[p[0]] + dist[p[1]])
    assert is_split(result.node, {names[a], names[b]}) and is_split(result.node, {names[c], names[d]})
    i, j = np.unravel_index(np.argmin(dist + np.diag(np.full(4, np.inf))), dist.shape)
    upgma = hf_dna.tree(registry=family_registry, method="upgma").node
    assert tips(upgma.lca([names[i], names[j]])) == {names[i], names[j]}
    order = hf_dna.matrix(list(family_dnas), registry=family_registry).labels
    assert abs(order.index(names[i]) - order.index(names[j])) == 1


def test_family_founder_and_its_fine_tune_form_a_clade(family_registry):
    """kitchen-ft with kitchen-base. Under dna-1 (text answers only) this was a coin toss
    (kitchen-ft about as near harbour-t5 as its base); dna-2's likelihood channel gives the
    pair a clear internal branch (~0.17 against tips of 0.12-0.58, on four zoo builds)."""
    assert is_split(hf_dna.tree(registry=family_registry).node, {"kitchen-base", "kitchen-ft"})


def test_repeated_model_ids_get_revision_labels(tmp_path):
    rows = clades(n_clades=1, size=3)
    rows.append(make_row("org0/m1", rows[1].vector + 0.1, revision="b" * 40))
    open_registry(str(tmp_path / "reg")).add(rows)
    labels = {leaf.label for leaf in hf_dna.tree(registry=str(tmp_path / "reg")).leaves}
    assert {"org0/m1@rrrrrrrr", "org0/m1@bbbbbbbb", "org0/m0"} <= labels


def test_models_select_rows_and_specs(tmp_path):
    uri = str(tmp_path / "reg")
    registry = open_registry(uri)
    registry.add(clades())
    registry.add([make_row("other/x", np.ones(128), spec="dna-0/deadbeef")])
    result = hf_dna.matrix(["org0/m0", "org1/m0@rrrr", "org2/m1"], registry=uri)
    assert sorted(result.labels) == ["org0/m0", "org1/m0", "org2/m1"]
    with pytest.raises(SpecMismatchError, match="no DNA under one common spec"):
        hf_dna.tree(["org0/m0", "other/x"], registry=uri)
    with pytest.raises(NotInRegistryError, match="Did you mean.*org0/m1"):
        hf_dna.tree(["org0/m0", "org0/m11"], registry=uri)
    with pytest.raises(PhyloError, match="at least 2 models"):
        hf_dna.map(["org0/m0", "org0/m0"], registry=uri)


def test_tsne_is_seeded(registry_uri):
    pytest.importorskip("sklearn")
    first = hf_dna.map(registry=registry_uri, method="tsne", seed=7)
    assert first.coords.shape == (12, 2) and first.explained is None
    assert np.allclose(first.coords, hf_dna.map(registry=registry_uri, method="tsne", seed=7).coords)


# ---------------------------------------------------------------------- pictures


def png_size(path: Path) -> tuple[int, int]:
    """Check the PNG signature, let Pillow (matplotlib's own dependency) verify the file, and
    return its size without decoding 20,000-pixel-tall pictures."""
    from PIL import Image

    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        image.verify()
        return image.size


def test_pictures_are_valid_and_scale_with_the_leaf_count(tmp_path, registry_uri):
    rc_before = dict(matplotlib.rcParams)
    small = hf_dna.tree(registry=registry_uri)
    picture = small.plot(tmp_path / "small.png")
    assert (picture.width_px, picture.height_px) == png_size(tmp_path / "small.png")
    assert 500 < picture.width_px < 4000 and 300 < picture.height_px < 3000
    svg = small.plot(tmp_path / "small.svg")
    root = ET.parse(svg.path).getroot()
    assert root.tag.endswith("svg") and "org1/m2" in Path(svg.path).read_text()  # labels stay text

    big_uri = str(tmp_path / "big")
    open_registry(big_uri).add(clades(n_clades=30, size=10, seed=4))  # 300 leaves, 30 organisations
    big = hf_dna.tree(registry=big_uri).plot(tmp_path / "big.png")
    width, height = png_size(tmp_path / "big.png")
    assert height > 3 * picture.height_px and height <= 20_500 and width < 4000
    assert dict(matplotlib.rcParams) == rc_before  # no global matplotlib state changed
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []
    assert big.format == "png"


def test_map_and_matrix_pictures_and_html(tmp_path, registry_uri):
    result = hf_dna.map(registry=registry_uri)
    assert result.coords.shape == (12, 2) and 0 < result.explained <= 1
    png_size(Path(result.plot(tmp_path / "map.png").path))
    from hf_dna.plots import write_map_html

    page = Path(write_map_html(result, tmp_path / "map.html")).read_text()
    assert "<script" not in page and "src=" not in page and "href=" not in page  # nothing fetched
    svg = ET.fromstring(page[page.index("<svg"):page.index("</svg>") + 6])
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert len(titles) == 12 and any(t.startswith("org2/m3\norganisation: org2") for t in titles)
    matrix = hf_dna.matrix(["org0/m0", "org0/m1", "org1/m0"], registry=registry_uri)
    png_size(Path(matrix.plot(tmp_path / "matrix.png").path))


# ---------------------------------------------------------------------- the CLI


def test_cli_tree(tmp_path, registry_uri):
    shown = run_cli("tree", "--registry", registry_uri)
    assert shown.returncode == 0, shown.stderr
    assert tips(TreeNode.read(io.StringIO(shown.stdout))) == {f"org{c}/m{k}" for c in range(3) for k in range(4)}
    out = run_cli("tree", "org0/m0", "org0/m1", "org1/m0", "--registry", registry_uri, "--json", "--method", "upgma",
                  "--newick", str(tmp_path / "t.nwk"), "--plot", str(tmp_path / "t.svg"))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"newick", "root", "method", "spec", "registry", "clipped_branches", "leaves"}
    assert data["root"] == {"how": "upgma", "model": None} and len(data["leaves"]) == 3
    assert set(data["leaves"][0]) == {"label", "model_id", "revision", "organisation", "created_at", "stamped_at"}
    assert (tmp_path / "t.nwk").read_text().strip() == data["newick"]
    ET.parse(tmp_path / "t.svg")


def test_cli_map_and_matrix(tmp_path, registry_uri):
    mapped = run_cli("map", "--registry", registry_uri, "--plot", str(tmp_path / "m.png"), "--html",
                     str(tmp_path / "m.html"), "--json")
    assert mapped.returncode == 0, mapped.stderr
    points = json.loads(mapped.stdout)["points"]
    assert len(points) == 12 and {"label", "organisation", "x", "y"} <= set(points[0])
    png_size(tmp_path / "m.png")
    out = run_cli("matrix", "org0/m0", "org1/m0", "org0/m1", "--registry", registry_uri, "--plot",
                  str(tmp_path / "x.png"), "--csv", str(tmp_path / "x.csv"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert len(data["labels"]) == 3 and np.array(data["distances"]).shape == (3, 3)
    assert abs(data["labels"].index("org0/m0") - data["labels"].index("org0/m1")) == 1  # clustered
    lines = (tmp_path / "x.csv").read_text().splitlines()
    assert lines[0] == "model," + ",".join(data["labels"]) and len(lines) == 4


@pytest.mark.parametrize("case", ["one model", "mixed specs", "missing registry", "empty registry",
                                  "unknown model", "bad picture"])
def test_cli_errors_are_clear(case, tmp_path, registry_uri):
    registry = open_registry(registry_uri)
    registry.add([make_row("other/x", np.ones(128), spec="dna-0/deadbeef")])
    (tmp_path / "empty").mkdir()
    args, rc, says = {
        "one model": (["tree", "org0/m0"], 1, "at least 2 models"),
        "mixed specs": (["tree", "org0/m0", "other/x"], 1, "recompute them under one spec"),
        "missing registry": (["tree", "--registry", str(tmp_path / "nowhere")], 1, "does not exist"),
        "empty registry": (["map", "--registry", str(tmp_path / "empty"), "--plot", "m.png"], 1, "stamp models"),
        "unknown model": (["matrix", "org0/m0", "nobody/model", "--plot", "x.png"], 1, "hf-dna stamp nobody/model"),
        "bad picture": (["tree", "--plot", "tree.jpg"], 2, "use a .png or .svg"),
    }[case]
    if "--registry" not in args:
        args = [*args, "--registry", registry_uri]
    result = run_cli(*args)
    assert result.returncode == rc and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
