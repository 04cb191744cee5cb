"""Diagnostics of the front end (docs/language.md §6): one bad model file per case in tests/bad/.

Every case states the error class, its ``kind``, where it points (the offending token; no
position for problems of the whole file), part of the message and part of the hint (None: the
error has no hint).
"""

import re

import pytest

from dmftc.analysis.driver import load_model
from dmftc.errors import DmftcError, ModelError, ModelSyntaxError
from dmftc.language.syntax import MAX_MODEL_BYTES, parse_file

from .conftest import MODELS, ROOT

BAD = ROOT / "tests" / "bad"
S, M = ModelSyntaxError, ModelError

CASES = {
    # file: text, encoding, size
    "empty": (M, "empty-model", None, None, "the model file is empty", "a model starts with 'model NAME'"),
    "only_comments": (M, "empty-model", None, None, "the model file is empty", "a model starts with"),
    "binary_garbage": (S, "binary", None, None, "not a text file (it contains NUL bytes)", None),
    "invalid_utf8": (S, "encoding", 2, 21, "this file is not UTF-8 text", "save the model file as UTF-8"),
    "crlf_error": (M, "undefined-name", 11, 25, "unknown name 'lamb'", "did you mean 'lam'?"),
    "lone_carriage_return": (
        S,
        "unexpected-character",
        1,
        8,
        "unexpected character '\\r'",
        "a carriage return must be followed by a newline",
    ),
    # lexing and parsing
    "unclosed_paren": (S, "unclosed-paren", 10, 6, "'(' is never closed", "add the missing ')'"),
    "unclosed_paren_at_end_of_file": (S, "unclosed-paren", 2, 11, "'(' is never closed", "add the missing ')'"),
    "extra_close_paren": (S, "unmatched-paren", 10, 13, "unmatched ')'", "remove it"),
    "unexpected_end_of_file": (S, "unexpected-eof", 11, 8, "unexpected end of file", "expected an indented block"),
    "empty_update_block": (S, "unexpected-token", 13, 1, "unexpected 'observe'", "expected an indented block"),
    "dunder_import": (
        S,
        "unexpected-character",
        11,
        20,
        "unexpected character '''",
        "the model language has no strings",
    ),
    "string_literal": (
        S,
        "unexpected-character",
        2,
        11,
        "unexpected character '\"'",
        "the model language has no strings",
    ),
    "unicode_identifier": (
        S,
        "unexpected-character",
        4,
        7,
        "unexpected character 'λ'",
        "names are made of ASCII letters, digits and '_'",
    ),
    "unicode_digit": (
        S,
        "unexpected-character",
        2,
        11,
        "unexpected character '٣'",
        "outside comments a model is ASCII",
    ),
    "unknown_statement": (S, "unexpected-token", 4, 1, "unexpected 'parm'", "did you mean 'param'?"),
    "misspelled_batch_keyword": (S, "unexpected-token", 11, 7, "unexpected 'fractoin'", "did you mean 'fraction'?"),
    "misspelled_sphere": (S, "unexpected-token", 3, 29, "unexpected 'sphre'", "did you mean 'sphere'?"),
    "missing_equals": (S, "unexpected-token", 2, 9, "unexpected '1'", "expected '='"),
    "chained_comparison": (S, "chained-comparison", 13, 26, "comparisons do not chain", "(a < b) * (b < c)"),
    "keyword_then_positional": (S, "argument-order", 5, 30, "positional argument after a keyword argument", None),
    "unexpected_indent": (S, "unexpected-indent", 2, 5, "unexpected indentation", "each line starts with"),
    "tab_space_mix": (S, "unexpected-indent", 13, 2, "unexpected indentation", "a tab counts as 8 columns"),
    "inconsistent_indentation": (
        S,
        "indentation",
        14,
        3,
        "indentation does not match any outer block",
        "indent every line of a block the same way",
    ),
    "nested_too_deeply": (S, "too-deep", None, None, "an expression is nested too deeply", "split it"),
    # numbers
    "division_by_zero": (M, "division-by-zero", 11, 19, "division by zero", None),
    "number_out_of_range": (
        M,
        "bad-number",
        2,
        13,
        "the number '1e999999999' is out of range",
        "between 1e-300 and 1e300",
    ),
    "number_exponent_beyond_decimal": (
        M,
        "bad-number",
        2,
        13,
        "the number '1e999999999999999999999999999999' is out of range",
        "between 1e-300 and 1e300",
    ),
    "power_too_large": (M, "bad-number", 2, 14, "'9^9^9' is too large to evaluate exactly", None),
    "not_a_real_number": (M, "bad-number", 6, 27, "'log(-1)' is not a finite real number", None),
    "number_two_dots": (
        M,
        "malformed-number",
        2,
        11,
        "malformed number '1.2.3'",
        "a number has at most one decimal point",
    ),
    # the shape of a model
    "missing_model": (
        M,
        "missing-model",
        1,
        1,
        "the model has no 'model NAME' statement",
        "start the file with 'model NAME'",
    ),
    "model_not_first": (M, "model-not-first", 2, 1, "'model NAME' must be the first statement", None),
    "missing_disorder": (M, "missing-disorder", None, None, "the model has no disorder", None),
    "missing_update": (M, "missing-update", None, None, "the model has no 'update:' or 'flow:' block", "add 'update:'"),
    "landscape_and_data": (M, "two-disorders", 6, 1, "either 'data' or 'landscape', not both", None),
    "duplicate_loss": (M, "duplicate-statement", 11, 1, "duplicate 'loss' statement", "the first is on line 10"),
    "duplicate_data": (M, "duplicate-statement", 6, 1, "duplicate 'data' statement", "the first is on line 5"),
    "duplicate_update": (
        M,
        "duplicate-statement",
        13,
        1,
        "duplicate 'update:' or 'flow:' block",
        "the first is on line 11",
    ),
    "two_updates_flow_and_update": (
        M,
        "duplicate-statement",
        13,
        1,
        "duplicate 'update:' or 'flow:' block",
        "the first is on line 11",
    ),
    "signal_in_data_model": (M, "missing-landscape", 11, 1, "'signal' needs a 'landscape' statement", None),
    "sphere_in_data_model": (M, "misplaced-sphere", 8, 9, "'on sphere' is for landscape models", None),
    # names
    "undefined_name": (M, "undefined-name", 11, 9, "unknown name 'lamda'", "did you mean 'lam'?"),
    "param_used_before_definition": (
        M,
        "used-before-definition",
        2,
        16,
        "'base' is used before its definition",
        "'base' is defined on line 3",
    ),
    "duplicate_param": (M, "duplicate-definition", 4, 7, "'lr' is already defined", "first defined on line 2"),
    "duplicate_weight_and_param": (
        M,
        "duplicate-definition",
        9,
        9,
        "'w' is already defined",
        "first defined on line 8",
    ),
    "duplicate_observable": (
        M,
        "duplicate-definition",
        14,
        9,
        "observable 'test_loss' is already defined",
        "first defined on line 13",
    ),
    "reserved_t": (M, "reserved-name", 2, 7, "'t' is a reserved name (the step counter)", None),
    "reserved_x": (M, "reserved-name", 8, 9, "'x' is a reserved name (the data vector of a sample)", None),
    "underscore_name": (M, "reserved-name", 2, 7, "names starting with '_' are reserved", None),
    "observe_reserved_output": (M, "reserved-name", 13, 9, "'time' is the name of a dataset variable", None),
    # functions and their arguments
    "unknown_function": (M, "unknown-function", 11, 15, "unknown function 'sqr'", "did you mean 'sqrt'?"),
    "exp_two_arguments": (M, "bad-arguments", 11, 9, "exp() takes 1 argument, got 2", None),
    "normal_one_argument": (M, "bad-arguments", 6, 17, "normal() takes 2 arguments (mean, variance), got 1", None),
    "gauss_with_argument": (M, "bad-arguments", 12, 28, "gauss() takes no arguments, got 1 argument", None),
    "negative_variance": (M, "bad-arguments", 6, 27, "the variance of normal(mean, variance) is negative", None),
    "unknown_data_kind": (M, "unknown-data", 5, 6, "unknown data model 'gausian'", "did you mean 'gaussian'?"),
    "unknown_data_keyword": (
        M,
        "bad-arguments",
        5,
        15,
        "data gaussian() has no argument 'raito'",
        "did you mean 'ratio'?",
    ),
    "xi_not_power_series": (
        M,
        "bad-covariance",
        2,
        31,
        "xi(q) must be a sum of terms c * q^k",
        "the term exp(q) is not of that form",
    ),
    # per-sample and per-coordinate statements
    "predict_without_x": (M, "bad-predict", 9, 13, "the prediction must be exactly 'x . e'", None),
    "dot_outside_predict": (M, "misplaced-dot", 10, 9, "belongs only in 'predict h = x . e'", "name it in the update"),
    "loss_per_coordinate": (
        M,
        "wrong-kind",
        10,
        28,
        "'w' is a weight (per coordinate) and cannot be used in the loss",
        None,
    ),
    "observable_without_aggregate": (M, "bad-observable", 13, 16, "an observable needs train(), test(), mean()", None),
    "energy_in_data_model": (M, "misplaced-function", 13, 13, "energy() needs a landscape", None),
    # the update
    "weight_never_updated": (M, "never-updated", 8, 9, "weight 'u' is never updated", "assign it"),
    "state_never_updated": (M, "never-updated", 11, 7, "state 'v' is never updated", "assign it"),
    "no_gradient": (M, "no-gradient", 11, 1, "the update never uses grad()", None),
    "grad_of_state": (
        M,
        "grad-of-non-weight",
        13,
        18,
        "'v' is an optimizer state (per coordinate), not a weight",
        "grad() takes one of the weights: w",
    ),
    "grad_of_param": (
        M,
        "grad-of-non-weight",
        12,
        23,
        "'lr' is a parameter, not a weight",
        "grad() takes one of the weights: w",
    ),
    "grad_of_undefined": (
        M,
        "grad-of-non-weight",
        12,
        23,
        "'u' is not defined, not a weight",
        "grad() takes one of the weights: w",
    ),
    "grad_two_arguments": (M, "bad-arguments", 12, 18, "grad() takes one weight", None),
    "two_grad_points": (
        M,
        "two-gradient-points",
        12,
        33,
        "all grad() calls of a step must be taken at the same point",
        None,
    ),
    "at_outside_grad": (
        M,
        "misplaced-at",
        12,
        18,
        "'at' is only used in grad(weight at point) and test(e at v), not in exp()",
        None,
    ),
    "mean_in_update": (M, "misplaced-function", 12, 28, "mean() can only be used in an observe statement", None),
    "assign_to_param": (M, "bad-assignment", 13, 5, "cannot assign to 'lr': it is a parameter", None),
    "assign_to_teacher": (M, "bad-assignment", 13, 5, "cannot assign to 'wstar': it is the teacher", None),
    "teacher_in_update": (M, "wrong-kind", 12, 33, "the optimizer cannot see the teacher 'wstar'", None),
    "prediction_in_update": (
        M,
        "wrong-kind",
        12,
        18,
        "'h' is per sample and cannot be used in the update",
        "an update is per coordinate",
    ),
    "label_in_update": (
        M,
        "wrong-kind",
        12,
        28,
        "'y' is per sample and cannot be used in the update",
        "an update is per coordinate",
    ),
    "hstar_in_update": (
        M,
        "misplaced-name",
        12,
        28,
        "'hstar' (the teacher field of a sample) cannot be used in the update",
        None,
    ),
    "flow_undefined_target": (M, "bad-assignment", 12, 5, "dv/dt: 'v' is not defined", None),
    "flow_nonlinear_noise": (M, "nonlinear-noise", 12, 5, "dw/dt must be linear in gauss()", None),
    # linear systems (matrix M ~ ...)
    "unknown_matrix_ensemble": (M, "unknown-ensemble", 4, 12, "unknown matrix ensemble 'gue'", "did you mean 'goe'?"),
    "wishart_without_ratio": (M, "bad-arguments", 3, 12, "matrix wishart() needs 'ratio = ...'", None),
    "spectrum_two_laws": (
        M,
        "bad-spectrum",
        3,
        21,
        "the eigenvalue law must use exactly one of",
        "spectrum(uniform(0, 2))",
    ),
    "matrix_without_product": (
        M,
        "wrong-kind",
        6,
        14,
        "the matrix 'M' enters an update only as a product",
        "dx/dt = -(M . x)",
    ),
    "two_matrix_products": (
        M,
        "two-products",
        8,
        26,
        "one product with 'M' per step",
        "the first product of the step is on line 7",
    ),
    "product_not_affine": (M, "bad-product", 6, 19, "the right of 'M . e' must be affine", None),
    "penalty_in_linear_system": (M, "wrong-class", 5, 1, "'penalty' does not belong to a linear system", None),
    "grad_in_linear_system": (M, "grad-in-linear-system", 5, 1, "a linear system has no loss to differentiate", None),
    "nonlinear_linear_system": (
        M,
        "not-linear",
        5,
        1,
        "the rule of 'x' is not linear with constant coefficients",
        None,
    ),
    "cubic_observable_of_linear_system": (
        M,
        "bad-observable",
        7,
        9,
        "mean() of a linear system must be a polynomial of degree at most 2",
        None,
    ),
}


def _load_error(path) -> DmftcError:
    with pytest.raises(DmftcError) as info:
        load_model(path)
    return info.value


def test_every_bad_file_is_in_the_table():
    assert sorted(p.stem for p in BAD.glob("*.dmft")) == sorted(CASES)


def test_the_corpus_keeps_its_bytes():
    """The cases about bytes survive only if nothing converts the files (see .gitattributes)."""
    crlf = (BAD / "crlf_error.dmft").read_bytes()
    assert crlf.count(b"\n") == crlf.count(b"\r\n") > 0
    assert b"\0" in (BAD / "binary_garbage.dmft").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        (BAD / "invalid_utf8.dmft").read_bytes().decode("utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_model(name):
    cls, kind, line, column, message, hint = CASES[name]
    path = BAD / f"{name}.dmft"
    err = _load_error(path)
    assert type(err) is cls
    assert (err.kind, err.line, err.column) == (kind, line, column)
    assert message in err.message
    if hint is None:
        assert err.hint is None
    else:
        assert hint in err.hint
    rendered = err.render().split("\n")
    if line is None:
        assert rendered[0] == f"{path}: error: {err.message}"
        return
    assert rendered[0] == f"{path}:{line}:{column}: error: {err.message}"
    source_line = path.read_bytes().decode("utf-8", errors="replace").split("\n")[line - 1].removesuffix("\r")
    shown = "".join(c if c.isprintable() else " " for c in source_line)
    assert rendered[1:3] == ["    " + shown, "    " + " " * (column - 1) + "^"]


def test_file_over_the_size_limit(tmp_path):
    path = tmp_path / "huge.dmft"
    path.write_bytes(b"model huge\n" + b"# padding\n" * (MAX_MODEL_BYTES // 10))
    err = _load_error(path)
    assert (type(err), err.kind, err.location) == (ModelSyntaxError, "too-large", None)
    assert err.render().startswith(f"{path}: error: model file is 1.0 MiB; model files are limited to 1 MiB")


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_windows_line_endings_load(path, tmp_path):
    crlf = tmp_path / path.name
    crlf.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert parse_file(crlf) == parse_file(path)
    assert load_model(crlf).step_map == load_model(path).step_map


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_tab_indented_blocks_load(path, tmp_path):
    tabs = tmp_path / path.name
    text = path.read_text(encoding="utf-8")
    tabs.write_text(re.sub(r"(?m)^    (?=\S)", "\t", text), encoding="utf-8")
    assert "\t" in tabs.read_text(encoding="utf-8")
    assert parse_file(tabs) == parse_file(path)
    assert load_model(tabs).step_map == load_model(path).step_map
