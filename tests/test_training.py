"""bpcalc.training: Mazur's numbers after 1 and 10,000 steps, every optimizer against
reference updates written here from the PyTorch documentation's pseudo-code (one scalar
at a time, on a gradient computed here without bpcalc's solver), torch.optim itself where
it is installed, mini-batches, and the settings' errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from clitools import ROOT

from bpcalc.errors import BpcalcError, ProblemFileError
from bpcalc.problem import Problem, load
from bpcalc.training import TrainSettings, train

MAZUR = ROOT / "problems" / "mazur_2_2_2.yaml"


# ------------------------------------------------------------------ Mazur's network

def test_mazur_one_step_and_ten_thousand():
    problem = load(MAZUR)
    one = train(problem, TrainSettings(steps=1))
    assert one.losses[0] == pytest.approx(0.298371109, abs=1e-9)       # Mazur's E_total
    assert one.final_loss == pytest.approx(0.291028, abs=5e-7)          # his loss after one update
    assert dict(zip(one.names, one.final))["w5"] == pytest.approx(0.35891648, abs=1e-8)
    long = train(problem, TrainSettings(steps=10_000), every=1000)
    assert long.final_loss == pytest.approx(3.5102e-05, rel=1e-4)        # issue 12's figure
    assert (round(long.outputs[0][0], 4), round(long.outputs[0][1], 3)) == (0.0159, 0.984)  # as issue 12 rounds
    assert long.steps == tuple(range(0, 10_001, 1000))
    final = dict(zip(long.names, long.final))
    assert final["b1_1"] == 0.35 and final["b2_2"] == 0.60               # fixed biases stay


# ------------------------------------------------------------------ an independent reference

def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _random_doc(rng, sizes=(3, 4, 2), examples=5, fixed=()):
    layers = []
    for number, (n_in, n_out) in enumerate(itertools.pairwise(sizes), start=1):
        layer = {"activation": "sigmoid" if number < len(sizes) - 1 else "identity",
                 "weights": rng.normal(0, 0.8, (n_out, n_in)).tolist(),
                 "bias": rng.normal(0, 0.5, n_out).tolist()}
        if number in fixed:
            layer["fixed"] = "bias"
        layers.append(layer)
    return {"examples": [{"input": rng.normal(0, 1, sizes[0]).tolist(),
                          "target": rng.normal(0, 1, sizes[-1]).tolist()} for _ in range(examples)],
            "loss": "half_squared_error", "layers": layers}


def _unpack(doc, theta):
    """θ (weights row by row, then biases, layer by layer) -> [(w, b)]."""
    params, at = [], 0
    for layer in doc["layers"]:
        w = np.array(layer["weights"])
        params.append((theta[at:at + w.size].reshape(w.shape), theta[at + w.size:at + w.size + w.shape[0]]))
        at += w.size + w.shape[0]
    return params


def _loss_and_gradient(doc, theta, rows):
    """½Σ(a − t)² averaged over ``rows``, and its gradient, by the chain rule written out here."""
    params = _unpack(doc, theta)
    x = np.array([doc["examples"][i]["input"] for i in rows])
    t = np.array([doc["examples"][i]["target"] for i in rows])
    acts, zs = [x], []
    for number, (w, b) in enumerate(params):
        z = acts[-1] @ w.T + b
        zs.append(z)
        acts.append(_sigmoid(z) if number < len(params) - 1 else z)
    loss = 0.5 * ((acts[-1] - t) ** 2).sum(axis=1).mean()
    grads = []
    delta = (acts[-1] - t) / len(rows)                       # the last layer is linear
    for number in range(len(params) - 1, -1, -1):
        w, _b = params[number]
        grads.append(np.concatenate([(delta.T @ acts[number]).ravel(), delta.sum(axis=0)]))
        if number:
            s = acts[number]
            delta = (delta @ w) * s * (1 - s)
    return loss, np.concatenate(grads[::-1])


def _trainable(doc):
    mask = []
    for layer in doc["layers"]:
        w = np.array(layer["weights"])
        mask += [True] * w.size + ["bias" not in str(layer.get("fixed", ""))] * w.shape[0]
    return np.array(mask)


def _reference_run(doc, name, lr, steps, options, batches):
    """torch.optim's documented algorithms, one scalar parameter at a time."""
    theta = np.concatenate([np.concatenate([np.ravel(l["weights"]), l["bias"]]) for l in doc["layers"]])
    free = _trainable(doc)
    n = len(theta)
    lam = options.get("weight_decay", 0.01 if name == "adamw" else 0.0)
    mu = options.get("momentum", 0.9 if name in ("momentum", "nesterov") else 0.0)
    beta1, beta2 = options.get("betas", (0.9, 0.999))
    eps = options.get("eps", 1e-10 if name == "adagrad" else 1e-8)
    alpha = options.get("alpha", 0.99)
    b, s, m, v = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
    losses = [_loss_and_gradient(doc, theta, range(len(doc["examples"])))[0]]
    for t in range(1, steps + 1):
        _loss, grad = _loss_and_gradient(doc, theta, batches[t - 1])
        new = theta.copy()
        for i in range(n):
            if not free[i]:
                continue
            g, p = float(grad[i]), float(theta[i])
            if name != "adamw" and lam:
                g = g + lam * p
            if name == "sgd":
                p = p - lr * g
            elif name in ("momentum", "nesterov"):
                b[i] = g if t == 1 else mu * b[i] + g
                p = p - lr * (g + mu * b[i] if name == "nesterov" else b[i])
            elif name == "adagrad":
                s[i] = s[i] + g * g
                p = p - lr * g / (math.sqrt(s[i]) + eps)
            elif name == "rmsprop":
                v[i] = alpha * v[i] + (1 - alpha) * g * g
                if mu > 0:
                    b[i] = mu * b[i] + g / (math.sqrt(v[i]) + eps)
                    p = p - lr * b[i]
                else:
                    p = p - lr * g / (math.sqrt(v[i]) + eps)
            else:                                       # adam, adamw
                if name == "adamw":
                    p = p - lr * lam * p
                m[i] = beta1 * m[i] + (1 - beta1) * g
                v[i] = beta2 * v[i] + (1 - beta2) * g * g
                m_hat, v_hat = m[i] / (1 - beta1 ** t), v[i] / (1 - beta2 ** t)
                p = p - lr * m_hat / (math.sqrt(v_hat) + eps)
            new[i] = p
        theta = new
        losses.append(_loss_and_gradient(doc, theta, range(len(doc["examples"])))[0])
    return theta, np.array(losses)


CASES = [
    ("sgd", {}), ("sgd", {"weight_decay": 0.05}),
    ("momentum", {}), ("momentum", {"momentum": 0.5, "weight_decay": 0.01}),
    ("nesterov", {}), ("nesterov", {"momentum": 0.7, "weight_decay": 0.02}),
    ("adagrad", {}), ("adagrad", {"eps": 1e-6, "weight_decay": 0.03}),
    ("rmsprop", {}), ("rmsprop", {"alpha": 0.9, "momentum": 0.8, "weight_decay": 0.01}),
    ("adam", {}), ("adam", {"betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.02}),
    ("adamw", {}), ("adamw", {"betas": [0.85, 0.95], "weight_decay": 0.1}),
]


def _settings(problem_doc, name, options, steps, **extra):
    doc = dict(problem_doc, train={"optimizer": name, "steps": steps, **options, **extra})
    return Problem.from_dict(doc)


@pytest.mark.parametrize("name, options", CASES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_optimizer_matches_reference_full_batch(name, options, seed):
    rng = np.random.default_rng(seed)
    doc = _random_doc(rng, sizes=(3, 4, 3, 2), fixed=(2,) if seed == 2 else ())
    lr = {"sgd": 0.3, "momentum": 0.1, "nesterov": 0.1, "adagrad": 0.2}.get(name, 0.02)
    problem = _settings(dict(doc, learning_rate=lr), name, options, steps=40)
    result = train(problem)
    everything = list(range(len(doc["examples"])))
    theta, losses = _reference_run(doc, name, lr, 40, options, [everything] * 40)
    assert result.final == pytest.approx(theta, abs=1e-9, rel=1e-9)
    assert result.losses == pytest.approx(losses, abs=1e-9, rel=1e-9)
    assert losses[-1] < losses[0]                          # it does learn


@pytest.mark.parametrize("name, options", CASES[::2])
def test_optimizer_matches_reference_mini_batches(name, options):
    rng = np.random.default_rng(7)
    doc = _random_doc(rng, examples=7)
    problem = _settings(dict(doc, learning_rate=0.05), name, options, steps=30, batch_size=3, seed=11)
    result = train(problem)
    # the documented contract: every epoch, numpy.random.default_rng(seed).permutation, in batches
    order_rng, batches = np.random.default_rng(11), []
    while len(batches) < 30:
        order = order_rng.permutation(7)
        batches += [order[i:i + 3].tolist() for i in range(0, 7, 3)]
    theta, losses = _reference_run(doc, name, 0.05, 30, options, batches[:30])
    assert result.final == pytest.approx(theta, abs=1e-9, rel=1e-9)
    assert result.losses == pytest.approx(losses, abs=1e-9, rel=1e-9)


def test_mini_batches_cover_every_example_once_per_epoch(monkeypatch):
    from bpcalc import solver

    rng = np.random.default_rng(3)
    doc = _random_doc(rng, examples=10)
    problem = _settings(dict(doc, learning_rate=0.1), "sgd", {}, steps=12, batch_size=4, seed=5)
    seen, real = [], solver.forward

    def spy(problem, params=None, inputs=None):
        if inputs is not None and len(inputs) < 10:
            seen.append([tuple(row) for row in inputs])
        return real(problem, params, inputs)

    monkeypatch.setattr(solver, "forward", spy)
    train(problem)
    assert [len(batch) for batch in seen] == [4, 4, 2] * 4
    everyone = sorted(tuple(e["input"]) for e in doc["examples"])
    epochs = [[row for batch in seen[i:i + 3] for row in batch] for i in range(0, 12, 3)]
    for epoch in epochs:
        assert sorted(epoch) == everyone                   # each example once per epoch
    assert len({tuple(epoch) for epoch in epochs}) > 1      # reshuffled between epochs


def test_mini_batches_reproducible_from_seed():
    doc = _random_doc(np.random.default_rng(4), examples=6)
    runs = [train(_settings(dict(doc, learning_rate=0.1), "adam", {}, steps=20, batch_size=2, seed=seed))
            for seed in (0, 0, 1)]
    assert np.array_equal(runs[0].final, runs[1].final)
    assert not np.array_equal(runs[0].final, runs[2].final)
    unshuffled = train(_settings(dict(doc, learning_rate=0.1), "adam", {}, steps=20, batch_size=2,
                                 shuffle=False))
    order = [[0, 1], [2, 3], [4, 5]] * 7
    theta, _ = _reference_run(doc, "adam", 0.1, 20, {}, order[:20])
    assert unshuffled.final == pytest.approx(theta, abs=1e-9, rel=1e-9)


def test_every_thins_but_keeps_first_and_last():
    problem = load(MAZUR)
    result = train(problem, TrainSettings(steps=25), every=10)
    assert result.steps == (0, 10, 20, 25)
    full = train(problem, TrainSettings(steps=25))
    assert result.losses.tolist() == [full.losses[k] for k in (0, 10, 20, 25)]
    zero = train(problem, TrainSettings(steps=0))
    assert zero.steps == (0,) and zero.final_loss == pytest.approx(0.298371109, abs=1e-9)


# ------------------------------------------------------------------ torch.optim itself

TORCH_CLASSES = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adagrad": "Adagrad",
                 "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}


@pytest.mark.parametrize("name, options", CASES)
def test_optimizer_matches_torch(name, options):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(21)
    doc = _random_doc(rng, sizes=(3, 5, 2))
    problem = _settings(dict(doc, learning_rate=0.05), name, options, steps=50)
    result = train(problem)
    tensors = []
    for layer in doc["layers"]:
        tensors += [torch.tensor(layer["weights"], dtype=torch.float64, requires_grad=True),
                    torch.tensor(layer["bias"], dtype=torch.float64, requires_grad=True)]
    kwargs = {key: tuple(value) if key == "betas" else value for key, value in options.items()}
    if name in ("momentum", "nesterov"):
        kwargs.setdefault("momentum", 0.9)
        kwargs["nesterov"] = name == "nesterov"
    optimizer = getattr(torch.optim, TORCH_CLASSES[name])(tensors, lr=0.05, **kwargs)
    x = torch.tensor([e["input"] for e in doc["examples"]], dtype=torch.float64)
    t = torch.tensor([e["target"] for e in doc["examples"]], dtype=torch.float64)
    for _ in range(50):
        optimizer.zero_grad()
        hidden = torch.sigmoid(x @ tensors[0].T + tensors[1])
        out = hidden @ tensors[2].T + tensors[3]
        (0.5 * ((out - t) ** 2).sum(dim=1).mean()).backward()
        optimizer.step()
    expected = np.concatenate([p.detach().numpy().ravel() for p in tensors])
    assert result.final == pytest.approx(expected, abs=1e-9, rel=1e-9)


# ------------------------------------------------------------------ bad settings

def _error(tmp_path, train_yaml: str) -> str:
    text = MAZUR.read_text(encoding="utf-8").replace("learning_rate: 0.5\n",
                                                     "learning_rate: 0.5\ntrain:\n" + train_yaml)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProblemFileError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path) + ":")
    return message


@pytest.mark.parametrize("yaml_text, expected", [
    ("  steps: -3\n", "train.steps: expected a whole number from 0"),
    ("  steps: 2.5\n", "train.steps: expected a whole number"),
    ("  optimizer: adma\n", "train.optimizer: unknown optimizer 'adma' (did you mean 'adam'?)"),
    ("  optimizer: [sgd]\n", "train.optimizer: unknown optimizer"),
    ("  optimizer: {adam: 1}\n", "train.optimizer: unknown optimizer"),
    ("  optimizer: momentum\n  momentum: 1.0\n", "train.momentum: expected a number in [0, 1)"),
    ("  optimizer: momentum\n  momentum: -0.1\n", "train.momentum: expected a number in [0, 1)"),
    ("  optimizer: adam\n  momentum: 0.9\n", "train.momentum: adam takes no 'momentum'"),
    ("  momentum: 0.9\n", "train.momentum: sgd takes no 'momentum'"),
    ("  optimizer: adam\n  betas: [0.9]\n", "train.betas: expected two numbers"),
    ("  optimizer: adam\n  betas: [0.9, 1.5]\n", "train.betas: expected a number in [0, 1) (β2)"),
    ("  optimizer: adam\n  eps: 0\n", "train.eps: expected a number > 0"),
    ("  batch_size: 2\n", "train.batch_size: expected a whole number from 1 to 1 (the problem has 1 example)"),
    ("  shuffle: maybe\n", "train.shuffle: expected true or false"),
    ("  stpes: 3\n", "train.stpes: unknown key 'stpes' (did you mean 'steps'?)"),
    ("  optimizer: nesterov\n  momentum: 0\n", "train.momentum: nesterov needs a momentum above 0"),
    ("  weight_decay: -1\n", "train.weight_decay: expected a number >= 0"),
])
def test_bad_settings_are_located(tmp_path, yaml_text, expected):
    message = _error(tmp_path, yaml_text)
    assert expected in message
    assert message.split(":")[1].isdigit()                 # FILE:LINE:COL


def test_training_needs_a_learning_rate():
    doc = _random_doc(np.random.default_rng(0))
    with pytest.raises(BpcalcError, match="learning rate"):
        train(Problem.from_dict(doc))
    assert train(Problem.from_dict(doc), TrainSettings(steps=1), learning_rate=0.1).steps == (0, 1)


def test_divergence_is_an_error_not_a_nan():
    doc = _random_doc(np.random.default_rng(0))
    with pytest.raises(BpcalcError, match="no longer finite"):
        train(Problem.from_dict(dict(doc, learning_rate=1e6)), TrainSettings(steps=200))


# ------------------------------------------------------------------ bpcalc train

def _cli(*args):
    from clitools import bpcalc

    return bpcalc("train", *args)


def test_cli_json_is_the_issue_document():
    import json

    result = _cli(str(MAZUR), "--steps", "10", "--format", "json", "--every", "4")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [s["step"] for s in doc["steps"]] == [0, 4, 8, 10]
    assert doc["steps"][0]["loss"] == pytest.approx(0.298371109, abs=1e-9)
    assert set(doc["final"]) == {"step", "loss", "parameters", "outputs"}
    assert doc["final"]["step"] == 10 and doc["final"]["loss"] == doc["steps"][-1]["loss"]
    assert doc["final"]["parameters"]["b1_1"] == 0.35 and len(doc["final"]["parameters"]) == 12
    assert len(doc["final"]["outputs"]) == 1 and len(doc["final"]["outputs"][0]) == 2
    one = json.loads(_cli(str(MAZUR), "--steps", "1", "-f", "json").stdout)
    assert one["final"]["loss"] == pytest.approx(0.291028, abs=5e-7)
    assert one["final"]["parameters"]["w5"] == pytest.approx(0.35891648, abs=1e-8)   # Mazur's w5⁺


def test_cli_csv_one_row_per_step_one_column_per_parameter():
    import csv
    import io

    result = _cli(str(MAZUR), "--steps", "3", "--format", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["step", "loss", "w1", "w2", "w3", "w4", "b1_1", "b1_2",
                       "w5", "w6", "w7", "w8", "b2_1", "b2_2"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2", "3"]
    assert float(rows[1][2]) == 0.15 and float(rows[2][8]) == pytest.approx(0.35891648, abs=1e-8)


def test_cli_text_and_overrides(tmp_path):
    result = _cli(str(MAZUR), "--steps", "10000")
    assert result.exit_code == 0
    assert "3.51019e-5" in result.stdout and "10000" in result.stdout
    assert "w1" in result.stdout and "(fixed)" in result.stdout and "0.0159136" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert 10 <= len([r for r in rows if len(r.split()) == 2]) <= 20     # the loss table
    # the file asks for momentum; --optimizer adam drops the file's momentum (adam takes none)
    text = MAZUR.read_text(encoding="utf-8").replace(
        "learning_rate: 0.5\n", "learning_rate: 0.5\ntrain: {optimizer: momentum, momentum: 0.5, steps: 5}\n")
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    import json

    adam = json.loads(_cli(str(path), "--optimizer", "adam", "-f", "json").stdout)
    expected = train(load(MAZUR), TrainSettings(steps=5, optimizer="adam"))
    assert adam["final"]["loss"] == pytest.approx(expected.final_loss, abs=1e-15)
    momentum = json.loads(_cli(str(path), "-f", "json", "--lr", "0.1").stdout)
    assert momentum["final"]["loss"] == pytest.approx(
        train(load(MAZUR), TrainSettings(steps=5, optimizer="momentum", momentum=0.5),
              learning_rate=0.1).final_loss, abs=1e-15)


@pytest.mark.parametrize("args, expected", [
    (["--steps", "-1"], "--steps: expected a whole number from 0"),
    (["--optimizer", "adma"], "(did you mean 'adam'?)"),
    (["--momentum", "0.9"], "--momentum: sgd takes no 'momentum'"),
    (["--optimizer", "momentum", "--momentum", "1"], "--momentum: expected a number in [0, 1)"),
    (["--batch-size", "2"], "--batch-size: expected a whole number from 1 to 1"),
    (["--learning-rate", "-1"], "--learning-rate: expected a positive number"),
])
def test_cli_bad_options_exit_2_one_line(args, expected):
    result = _cli(str(MAZUR), *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("bpcalc: error: ") and result.stderr.count("\n") == 1
    assert expected in result.stderr


def test_cli_bad_file_setting_is_located(tmp_path):
    text = MAZUR.read_text(encoding="utf-8").replace("learning_rate: 0.5\n",
                                                     "learning_rate: 0.5\ntrain:\n  steps: -3\n")
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = _cli(str(path))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    line = text.splitlines().index("  steps: -3") + 1                  # the value -3, column 10
    assert f"{path}:{line}:10: train.steps: expected a whole number" in result.stderr


def test_regularization_trains_the_penalised_loss():
    """With regularization: {l2: λ} the first SGD step is the solver's regularized update, the
    recorded loss includes λ/(2n)·Σw², and two steps match the update written out by hand."""
    import dataclasses

    from bpcalc.solver import solve

    base = load(ROOT / "problems" / "mini_batch_mean.yaml")
    problem = dataclasses.replace(base, l2=0.4, learning_rate=0.3)
    solution = solve(problem)
    result = train(problem, TrainSettings(steps=1))
    assert result.losses[0] == pytest.approx(solution.loss, rel=1e-12)
    assert dict(zip(result.names, result.final)) == pytest.approx(solution.updated(), rel=1e-12)
    # by hand: w ← w − η(∂C0/∂w + (λ/n)·w), from the unregularized gradient
    plain = solve(dataclasses.replace(problem, l2=0.0))
    n = len(problem.inputs)
    weights = {name for layer in problem.layers for name in layer.weight_names.flat()}
    for p in plain.parameters():
        expected = p.value - 0.3 * (p.gradient + (0.4 / n * p.value if p.name in weights else 0.0))
        assert dict(zip(result.names, result.final))[p.name] == pytest.approx(expected, rel=1e-12)


def test_every_setting_has_a_command_line_override():
    """--betas, --eps, --alpha, --weight-decay and --no-shuffle reach the optimizer: the run equals
    the same settings given through the Python API."""
    import json

    cases = [
        (["--optimizer", "adam", "--betas", "0.8,0.99", "--eps", "1e-6", "--weight-decay", "0.01"],
         TrainSettings(steps=7, optimizer="adam", betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01)),
        (["--optimizer", "rmsprop", "--alpha", "0.9", "--momentum", "0.5"],
         TrainSettings(steps=7, optimizer="rmsprop", alpha=0.9, momentum=0.5)),
    ]
    problem = load(MAZUR)
    for options, settings in cases:
        out = _cli(str(MAZUR), "--steps", "7", *options, "--format", "json")
        assert out.exit_code == 0, out.stderr
        expected = train(problem, settings)
        assert list(json.loads(out.stdout)["final"]["parameters"].values()) == pytest.approx(
            expected.final.tolist(), rel=1e-15, abs=1e-15)
        assert json.loads(out.stdout)["final"]["loss"] != train(problem, TrainSettings(steps=7)).final_loss


@pytest.mark.parametrize("options, message", [
    (["--betas", "0.9"], "--betas: expected two numbers"),
    (["--optimizer", "adam", "--betas", "0.9,1"], "--betas: expected a number in [0, 1) (β2)"),
    (["--alpha", "0.9"], "--alpha: sgd takes no 'alpha'"),
    (["--optimizer", "adam", "--eps", "0"], "--eps: expected a number > 0"),
])
def test_bad_command_line_settings_are_one_line(options, message):
    out = _cli(str(MAZUR), "--steps", "2", *options)
    assert out.exit_code == 2 and message in out.stderr and out.stderr.count("\n") == 1
