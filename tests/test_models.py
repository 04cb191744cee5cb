"""Every bundled model parses, validates and prints back to an equivalent file."""

import pytest

from dmftc.analysis.driver import load_model
from dmftc.language.nodes import format_model
from dmftc.language.syntax import parse, parse_file

from .conftest import MODELS


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_model_validates(path):
    model = load_model(path)
    assert model.name == path.stem
    assert model.observables, "every bundled model observes something"
    assert model.coordinates  # weights, or (random networks) states


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_model_opens_with_a_comment(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# "), "a model file opens with what it is and which paper it follows"


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_model_round_trips(path):
    tree = parse_file(path)
    assert parse(format_model(tree)) == tree


def test_bundled_model_families():
    names = {p.stem for p in MODELS}
    for family in (
        "ridge_gd",
        "ridge_heavy_ball",
        "ridge_nesterov",
        "sgd_logistic",
        "langevin_ridge",
        "adam_logistic",
        "ridge_flow",
        "diagonal_network",
        "pspin3_gd",
        "spiked_matrix_tensor_hb",
    ):
        assert family in names
