import math
import os

import pytest

from holostim import checks, files
from holostim.errors import HolostimError


class MyError(HolostimError, ValueError):
    pass


@pytest.mark.parametrize("value, expected", [(1, 1.0), ("2.5", 2.5), (1e-9, 1e-9)])
def test_positive_accepts(value, expected):
    assert checks.positive(value, "x") == expected


@pytest.mark.parametrize("value", [0, -1, math.nan, math.inf, "abc", None, True, [1]])
def test_positive_refuses_with_the_given_error_naming_the_value(value):
    with pytest.raises(MyError, match=r"^pitch_um="):
        checks.positive(value, "pitch_um", MyError)


def test_non_negative_and_finite():
    assert checks.non_negative(0, "x") == 0.0
    with pytest.raises(HolostimError, match="≥ 0"):
        checks.non_negative(-1e-12, "x")
    assert checks.finite(-3, "x") == -3.0
    with pytest.raises(HolostimError):
        checks.finite(math.nan, "x")


def test_shape_pair():
    assert checks.shape_pair([512, "1024"], "shape") == (512, 1024)
    assert checks.shape_pair((3.0, 4), "shape") == (3, 4)
    for bad in [(0, 4), (3,), (1, 2, 3), (512.5, 4), "ab", None, (True, 2), (math.inf, 2)]:
        with pytest.raises(MyError, match="two positive integers"):
            checks.shape_pair(bad, "shape", MyError)


def test_number_pair():
    assert checks.number_pair(("1", 2), "c") == (1.0, 2.0)
    for bad in [(1,), (1, math.nan), "x", None]:
        with pytest.raises(MyError):
            checks.number_pair(bad, "c", MyError)


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "sub" / "f.txt"
    files.atomic_write_text(p, "first")
    files.atomic_write_text(p, "second")
    assert p.read_text() == "second"
    assert sorted(os.listdir(p.parent)) == ["f.txt"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "f.bin"
    files.atomic_write_bytes(p, b"old")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        files.atomic_write_bytes(p, b"new")
    assert p.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["f.bin"]


def test_read_small_yaml_gives_key_lines_and_refuses_aliases_and_binary(tmp_path):
    from holostim.files import read_small_yaml

    class Bad(ValueError):
        pass

    p = tmp_path / "f.yaml"
    p.write_text("# comment\na: 1\nb:\n  c: 2\n")
    data, lines = read_small_yaml(p, what="f", kind="a file", error=Bad)
    assert data == {"a": 1, "b": {"c": 2}} and lines == {"a": 2, "b": 3}
    p.write_text("a: &x [1]\nb: *x\n")
    with pytest.raises(Bad, match="f is not valid YAML: .*aliases are not allowed"):
        read_small_yaml(p, what="f", kind="a file", error=Bad)
    p.write_bytes(b"a: \xff\n")
    with pytest.raises(Bad, match="f is not UTF-8 text: not a file"):
        read_small_yaml(p, what="f", kind="a file", error=Bad)
