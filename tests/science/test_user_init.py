"""The user's own initialisers: read with ast, loaded and checked, drawn deterministically, predicted from the
drawn variance; the built-ins' predictions unchanged."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from support.paths import ROOT
from support.training import small_config

from inittui.core.commands import SetRun
from inittui.core.config import ACTIVATION_NAMES, INITIALIZER_NAMES, ExperimentConfig, RunSpec
from inittui.core.events import LayerStats, Notice
from inittui.science.activations import get_activation
from inittui.science.init_files import InitFileError, read_all_declarations, read_declarations
from inittui.science.initializers import USER_INITIALIZERS, get_initializer, is_user_initializer
from inittui.science.theory import drawn_gains, predicted_activation_std, predicted_from_gains, predicted_from_weights
from inittui.science.user_init import install_init_files, load_init_files
from inittui.training.engine import Engine
from inittui.training.model import initial_weights, run_seed

EXAMPLE = ROOT / "examples" / "my_init.py"
SIZES = [784, 100, 100, 100, 10]
TODAY = json.loads((Path(__file__).parent / "theory_before_drawn_variance.json").read_text())


@pytest.fixture(autouse=True)
def forget_user_initializers():
    yield
    USER_INITIALIZERS.clear()


def write(tmp_path: Path, body: str, name: str = "mine.py") -> Path:
    path = tmp_path / name
    path.write_text("import torch\nimport inittui\n\n" + textwrap.dedent(body))
    return path


def draw(name: str, shape: tuple[int, int], activation: str, seed: int) -> torch.Tensor:
    weight = torch.empty(shape)
    get_initializer(name).fill(weight, get_activation(activation), torch.Generator().manual_seed(seed))
    return weight


def test_import_inittui_brings_neither_torch_nor_textual_and_offers_the_decorator():
    code = ("import sys, inittui; assert callable(inittui.initializer); "
            "print(sorted(m for m in ('torch', 'textual', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_declarations_are_read_without_running_the_file(tmp_path):
    marker = tmp_path / "ran"
    path = write(tmp_path, f'''
        open({str(marker)!r}, "w").close()

        @inittui.initializer("mine")
        def mine(weight, *, activation, generator):
            """W ~ N(0, 3/n_in)

            three times xavier's variance
            """
            weight.normal_(0.0, (3.0 / weight.shape[1]) ** 0.5, generator=generator)
    ''')
    [declaration] = read_declarations(str(path))
    assert (declaration.name, declaration.function, declaration.formula) == ("mine", "mine", "W ~ N(0, 3/n_in)")
    assert declaration.note == "three times xavier's variance"
    assert not marker.exists()
    load_init_files([str(path)], SIZES, ["relu"])
    assert marker.exists() and is_user_initializer("mine")
    weight = draw("mine", (100, 784), "relu", 0)
    assert weight.var().item() * 784 == pytest.approx(3.0, rel=0.03)


def test_the_examples_draw_what_their_docstrings_say_and_only_from_the_generator():
    load_init_files([str(EXAMPLE)], SIZES, ACTIVATION_NAMES)
    for name in ("critical-tanh", "sparse"):
        assert torch.equal(draw(name, (100, 784), "tanh", 7), draw(name, (100, 784), "tanh", 7))
        assert not torch.equal(draw(name, (100, 784), "tanh", 7), draw(name, (100, 784), "tanh", 8))
    critical = draw("critical-tanh", (100, 784), "tanh", 0)
    torch.testing.assert_close(critical @ critical.T, torch.eye(100), atol=1e-5, rtol=0)  # gain 1.0, orthonormal rows
    square = draw("critical-tanh", (100, 100), "relu", 0)  # gain 1.0 whatever the activation
    torch.testing.assert_close(square.T @ square, torch.eye(100), atol=1e-5, rtol=0)
    sparse = draw("sparse", (100, 784), "tanh", 0)
    assert (sparse != 0).sum(dim=1).tolist() == [15] * 100
    assert (draw("sparse", (10, 12), "tanh", 0) != 0).sum(dim=1).tolist() == [12] * 10  # fewer inputs than 15
    nonzero = sparse[sparse != 0]
    assert nonzero.std().item() == pytest.approx(1.0, rel=0.05) and abs(nonzero.mean().item()) < 0.05


def test_a_users_initialiser_trains_and_its_prediction_is_from_the_drawn_variance(tiny_data):
    load_init_files([str(EXAMPLE)], [784, 16, 16, 10], ["tanh"])
    config = small_config([RunSpec("sparse", "tanh"), RunSpec("he", "relu")], steps=20, stats_every=10)
    config.user_initializers = {"sparse": "W_ij ~ N(0, 1) ..."}
    events = []
    engine = Engine(config, tiny_data, events.append)
    finished = engine.run()
    assert finished.status == "done"
    assert [run.status for run in finished.results] == ["done", "done"]
    spec = RunSpec("sparse", "tanh")
    before, _ = initial_weights(spec, config.layer_sizes, run_seed(config.seed, spec, 0), None)
    after, _ = engine.run_weights(0)
    assert all(not torch.equal(a.cpu(), b) for a, b in zip(after, before))  # it trained
    stats = next(event for event in events if isinstance(event, LayerStats))
    hidden = before[:-1]
    expected = predicted_from_weights("tanh", hidden, engine._input_second_moment)
    assert stats.predicted_std[0] == pytest.approx(expected, rel=1e-12)
    # 15 unit-variance weights per unit (16 units here, so only roughly): Var(W)·n_in is about 15
    assert drawn_gains(hidden[:1])[0] == pytest.approx(15.0, rel=0.35)
    assert stats.predicted_std[1] == pytest.approx(predicted_activation_std("he", "relu", config.layer_sizes[:-1],
                                                                            engine._input_second_moment))


def test_every_built_in_keeps_its_prediction():
    sizes, moment = TODAY["layer_sizes"], TODAY["input_second_moment"]
    assert len(TODAY["predicted_activation_std"]) == 60
    for name, before in TODAY["predicted_activation_std"].items():
        init, activation = name.split(":")
        now = predicted_activation_std(init, activation, sizes, moment)
        assert len(now) == len(before)
        for value, old in zip(now, before):
            assert (value is None) == (old is None), name
            if old is not None:
                assert value == pytest.approx(old, rel=1e-6, abs=1e-12), name


@pytest.mark.parametrize("init", ["xavier", "he", "glorot", "orthogonal", "he-uniform"])
def test_the_drawn_variance_gives_a_built_in_its_own_prediction(init):
    weights, _ = initial_weights(RunSpec(init, "tanh"), [784, 200, 200, 200], 0, None)
    drawn = predicted_from_weights("tanh", weights)
    stated = predicted_activation_std(init, "tanh", [784, 200, 200, 200])
    assert drawn == pytest.approx(stated, rel=0.02)


def test_an_unknown_gain_leaves_that_layer_and_those_after_unpredicted():
    assert predicted_from_gains("relu", [2.0, None, 2.0]) == [pytest.approx(math.sqrt(1 - 1 / math.pi)), None, None]


BAD = {
    "raises": ('''
        @inittui.initializer("boom")
        def boom(weight, *, activation, generator):
            """W = boom"""
            raise ValueError("no good")
    ''', ["boom()", "raises ValueError", "no good"]),
    "nan": ('''
        @inittui.initializer("holes")
        def holes(weight, *, activation, generator):
            """W = NaN"""
            weight.normal_(generator=generator)
            weight[0, 0] = float("inf")
    ''', ["holes()", "leaves NaN or inf"]),
    "no fill": ('''
        @inittui.initializer("lazy")
        def lazy(weight, *, activation, generator):
            """W = a new tensor, never written into weight"""
            weight = torch.randn(weight.shape, generator=generator)
    ''', ["lazy()", "leaves NaN or inf", "in place"]),
    "global rng": ('''
        @inittui.initializer("careless")
        def careless(weight, *, activation, generator):
            """W ~ N(0, 1) from torch's global generator"""
            weight.normal_()
    ''', ["careless()", "ignores generator", "two draws from the same seed differ"]),
    "signature": ('''
        @inittui.initializer("positional")
        def positional(weight, activation, generator):
            """W = 0"""
            weight.zero_()
    ''', ["positional()", "wrong signature (weight, activation, generator)", "(weight, *, activation, generator)"]),
    "clash": ('''
        @inittui.initializer("he")
        def my_he(weight, *, activation, generator):
            """W ~ N(0, 2/n_in)"""
            weight.normal_(generator=generator)
    ''', ["my_he()", "'he' is a built-in initialiser"]),
    "import": ('''
        import no_such_module_for_inittui_tests

        @inittui.initializer("imported")
        def imported(weight, *, activation, generator):
            """W = 0"""
    ''', ["ModuleNotFoundError while loading it", "no_such_module_for_inittui_tests"]),
    "syntax": ('''
        @inittui.initializer("broken")
        def broken(weight, *, activation, generator:
            """W = 0"""
    ''', [":6: syntax error"]),
    "aliased": ('''
        from inittui import initializer as mark

        @inittui.initializer("plain")
        def plain(weight, *, activation, generator):
            """W = 0"""
            weight.zero_()

        @mark("hidden")
        def hidden(weight, *, activation, generator):
            """W = 0"""
            weight.zero_()
    ''', ["hidden()", "decorated in a way inittui cannot read without running the file"]),
    "no docstring": ('''
        @inittui.initializer("silent")
        def silent(weight, *, activation, generator):
            weight.zero_()
    ''', ["silent()", "no docstring"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_initialiser_is_one_line_naming_the_file_the_function_and_the_problem(tmp_path, case):
    body, expected = BAD[case]
    path = write(tmp_path, body)
    with pytest.raises(InitFileError) as caught:
        load_init_files([str(path)], [784, 16, 10], ["relu"])
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    for part in expected:
        assert part in message, (part, message)
    assert not USER_INITIALIZERS


def test_a_missing_file_and_a_name_declared_twice(tmp_path):
    with pytest.raises(InitFileError, match=r"--init-file /no/such/init\.py: no such file"):
        read_all_declarations(["/no/such/init.py"])
    body = '''
        @inittui.initializer("twin")
        def twin(weight, *, activation, generator):
            """W = 0"""
            weight.zero_()
    '''
    first, second = write(tmp_path, body, "a.py"), write(tmp_path, body, "b.py")
    with pytest.raises(InitFileError, match=r"b\.py: twin\(\): the name 'twin' is declared again \(first by .*a\.py"):
        read_all_declarations([str(first), str(second)])
    assert [d.name for d in read_all_declarations([str(first), str(first)])] == ["twin"]  # the same file counts once


def test_an_initialiser_that_fails_on_i_leaves_the_run_as_it_was(tmp_path, tiny_data):
    path = write(tmp_path, '''
        @inittui.initializer("no-relu")
        def no_relu(weight, *, activation, generator):
            """W ~ N(0, 1/n_in), refused with relu"""
            if activation == "relu":
                raise RuntimeError("not with relu")
            weight.normal_(0.0, weight.shape[1] ** -0.5, generator=generator)
    ''')
    config = small_config([RunSpec("xavier", "tanh")], steps=20)
    config.init_files, config.user_initializers = [str(path)], {"no-relu": "W ~ N(0, 1/n_in), refused with relu"}
    install_init_files(config)  # checked with tanh, the experiment's activation
    events = []
    engine = Engine(config, tiny_data, events.append)
    engine.send(SetRun(0, activation="relu", request=1))  # xavier:relu
    engine.send(SetRun(0, init="no-relu", request=2))  # the `i` that fails
    finished = engine.run()
    assert finished.status == "done"
    refusal = [event for event in events if isinstance(event, Notice) and event.request == 2]
    assert len(refusal) == 1 and refusal[0].level == "error"
    assert "no_relu()" in refusal[0].message and "not with relu" in refusal[0].message
    assert finished.results[0].spec == RunSpec("xavier", "relu") and finished.results[0].status == "done"


def test_a_run_log_never_loads_the_code_it_names(tmp_path):
    marker = tmp_path / "ran"
    path = write(tmp_path, f'''
        open({str(marker)!r}, "w").close()

        @inittui.initializer("mine")
        def mine(weight, *, activation, generator):
            """W = 0"""
            weight.zero_()
    ''')
    config = ExperimentConfig([RunSpec("he", "relu")], init_files=[str(path)], user_initializers={"mine": "W = 0"})
    data = config.to_dict()
    data["runs"] = ["mine:relu", "he:relu"]
    restored = ExperimentConfig.from_dict(json.loads(json.dumps(data)))
    assert [spec.name for spec in restored.runs] == ["mine:relu", "he:relu"]
    assert restored.init_files == [str(path)] and not marker.exists()
    assert "mine" not in INITIALIZER_NAMES and not is_user_initializer("mine")
