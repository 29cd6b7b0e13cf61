"""bpcalc train on computation graphs: the output (reduced over the examples) is what the
parameters descend on. Checked against the independent oracle (tests/graph_oracle.py,
which shares nothing with bpcalc's parser or solver) driving the optimizer by hand."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from clitools import GRAPHS, ROOT
from graph_oracle import reverse_mode

from bpcalc.cli import main
from bpcalc.problem import load
from bpcalc.training import TrainSettings, train

TRAINABLE = [path for path in GRAPHS if "learning_rate" in yaml.safe_load(path.read_text(encoding="utf-8"))]


def _oracle(doc, parameters, rows=None):
    """The reduced output and its gradient at these parameters (over ``rows`` of the examples)."""
    doc = copy.deepcopy(doc)
    doc["parameters"] = dict(parameters)
    if rows is not None:
        doc["examples"] = [doc["examples"][i] for i in rows]
    solution = reverse_mode(doc)
    loss = solution["total"] if "examples" in doc else solution["value"]
    return float(loss), {name: float(solution["gradients"][name]) for name in parameters}


@pytest.mark.parametrize("path", TRAINABLE, ids=lambda p: p.stem)
def test_sgd_on_every_shipped_graph_matches_the_oracle(path):
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    rate = doc["learning_rate"]
    params = {name: float(value) for name, value in doc["parameters"].items()}
    losses = []
    for _ in range(4):
        loss, grads = _oracle(doc, params)
        losses.append(loss)
        params = {name: value - rate * grads[name] for name, value in params.items()}
    losses.append(_oracle(doc, params)[0])
    result = train(load(path), TrainSettings(steps=4))
    assert result.steps == (0, 1, 2, 3, 4)
    assert result.losses == pytest.approx(losses, rel=1e-9, abs=1e-12)
    assert result.final_loss == pytest.approx(losses[-1], rel=1e-9, abs=1e-12)
    assert dict(zip(result.names, result.final)) == pytest.approx(params, rel=1e-9, abs=1e-12)
    assert result.names == tuple(doc["parameters"])


def test_one_step_is_the_solvers_sgd_update():
    """The first update of `train` is exactly `solve`'s updated.* (w ← w − η ∂f/∂w)."""
    from bpcalc.graph import solve_graph

    problem = load(ROOT / "problems" / "cs231n_sigmoid_neuron.yaml")
    result = train(problem, TrainSettings(steps=1))
    assert dict(zip(result.names, result.final)) == pytest.approx(solve_graph(problem).updated(), abs=1e-15)
    # the notes' figure: f = σ(1) ≈ 0.73 before the step
    assert result.losses[0] == pytest.approx(1 / (1 + math.exp(-1)), abs=1e-15)


BATCHED = {
    "inputs": {},
    "parameters": {"w": 0.5, "b": -0.2},
    "examples": [{"inputs": {"x": x, "t": t}} for x, t in
                 [(-1.0, 0.0), (0.5, 1.0), (2.0, 1.0), (-0.3, 0.0), (1.2, 1.0)]],
    "nodes": {"z": "w*x + b", "y": "sigma(z)", "c": "-(t*ln(y) + (1 - t)*ln(1 - y))"},
    "output": "c",
    "reduction": "mean",
    "learning_rate": 0.3,
}


def _adam_reference(doc, steps, batch, seed, rate=0.1, betas=(0.9, 0.999), eps=1e-8):
    """torch.optim.Adam's documented update, one scalar at a time, on shuffled mini-batches
    (numpy.random.default_rng(seed).permutation once per epoch, as the README states)."""
    params = dict(doc["parameters"])
    m = dict.fromkeys(params, 0.0)
    v = dict.fromkeys(params, 0.0)
    n = len(doc["examples"])
    rng = np.random.default_rng(seed)
    seen, order, at = [], None, n
    for t in range(1, steps + 1):
        if at >= n:
            order, at = rng.permutation(n), 0
        rows = [int(i) for i in order[at:at + batch]]
        at += batch
        seen.append(rows)
        _loss, grads = _oracle(doc, params, rows)
        for name, g in grads.items():
            m[name] = betas[0] * m[name] + (1 - betas[0]) * g
            v[name] = betas[1] * v[name] + (1 - betas[1]) * g * g
            m_hat, v_hat = m[name] / (1 - betas[0] ** t), v[name] / (1 - betas[1] ** t)
            params[name] -= rate * m_hat / (math.sqrt(v_hat) + eps)
    return params, seen


def _write(tmp_path, doc, name="graph.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_adam_on_shuffled_mini_batches_of_a_graph(tmp_path):
    doc = dict(BATCHED, train={"optimizer": "adam", "steps": 12, "batch_size": 2, "seed": 7})
    expected, seen = _adam_reference(BATCHED, 12, 2, 7)
    result = train(load(_write(tmp_path, doc)), learning_rate=0.1)
    assert dict(zip(result.names, result.final)) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # every example once per epoch (5 examples in batches of 2: 2, 2, 1)
    epochs = [sorted(i for rows in seen[k:k + 3] for i in rows) for k in range(0, 12, 3)]
    assert all(epoch == [0, 1, 2, 3, 4] for epoch in epochs)
    loss, _ = _oracle(BATCHED, expected)
    assert result.final_loss == pytest.approx(loss, rel=1e-9)
    outputs = reverse_mode(dict(BATCHED, parameters=expected))["value"]
    assert result.outputs[:, 0] == pytest.approx(outputs, rel=1e-9)


def test_train_command_on_a_graph_json_and_table(tmp_path):
    path = _write(tmp_path, BATCHED)
    runner = CliRunner()
    out = runner.invoke(main, ["train", str(path), "--steps", "30", "--format", "json"])
    assert out.exit_code == 0, out.output
    import json

    document = json.loads(out.output)
    assert [row["step"] for row in document["steps"]] == list(range(31))
    assert set(document["final"]["parameters"]) == {"w", "b"}
    assert len(document["final"]["outputs"]) == 5 and all(len(row) == 1 for row in document["final"]["outputs"])
    text = runner.invoke(main, ["train", str(path), "--steps", "30"])
    assert text.exit_code == 0, text.output
    assert "Final output c" in text.output and "a^L" not in text.output


def test_a_graph_without_a_learning_rate_names_the_fix(tmp_path):
    doc = {k: v for k, v in BATCHED.items() if k != "learning_rate"}
    out = CliRunner().invoke(main, ["train", str(_write(tmp_path, doc)), "--steps", "3"])
    assert out.exit_code == 2
    assert "learning rate" in out.output and "--learning-rate" in out.output
    assert "Traceback" not in out.output


def test_a_graph_whose_output_has_no_minimum_diverges_with_one_line(tmp_path):
    doc = {"inputs": {"x": 2.0}, "parameters": {"w": 1.0}, "nodes": {"f": "-w^3*x"},
           "output": "f", "learning_rate": 10.0}
    out = CliRunner().invoke(main, ["train", str(_write(tmp_path, doc)), "--steps", "200"])
    assert out.exit_code == 2, out.output
    assert "no longer finite" in out.output and out.output.count("\n") == 1


def test_graph_train_settings_are_validated_with_their_key_path(tmp_path):
    doc = dict(BATCHED, train={"batch_size": 9})
    out = CliRunner().invoke(main, ["train", str(_write(tmp_path, doc))])
    assert out.exit_code == 2
    assert "train.batch_size" in out.output and "5 examples" in out.output


def test_graph_answer_keys_may_ask_for_training_results(tmp_path):
    params = dict(BATCHED["parameters"])
    rate = BATCHED["learning_rate"]
    for _ in range(3):
        _loss, grads = _oracle(BATCHED, params)
        params = {name: value - rate * grads[name] for name, value in params.items()}
    loss, _ = _oracle(BATCHED, params)
    doc = dict(BATCHED, train={"steps": 3},
               expected={"train.final.parameters.w": round(params["w"], 10), "train.steps[3].loss": round(loss, 10)})
    out = CliRunner().invoke(main, ["verify", str(_write(tmp_path, doc))])
    assert out.exit_code == 0, out.output
