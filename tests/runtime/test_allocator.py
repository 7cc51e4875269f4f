"""glibc's heap padding: the setting read from the environment, the bytes passed to mallopt, no-op elsewhere."""

from __future__ import annotations

from typing import Any

import pytest

from staa.errors import ConfigError
from staa.runtime import allocator


class FakeLibc:
    """Records mallopt calls instead of changing the test process's allocator."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


@pytest.fixture
def libc(monkeypatch: pytest.MonkeyPatch) -> FakeLibc:
    fake = FakeLibc()
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda _name: fake)
    monkeypatch.setattr(allocator, "glibc", lambda: True)
    return fake


@pytest.mark.parametrize(("value", "mib"), [(None, allocator.DEFAULT_PAD_MIB), ("", allocator.DEFAULT_PAD_MIB),
                                            ("0", 0), ("512", 512), (" 2047 ", 2047)])  # fmt: skip
def test_padding_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str | None, mib: int) -> None:
    if value is None:
        monkeypatch.delenv(allocator.PAD_ENV, raising=False)
    else:
        monkeypatch.setenv(allocator.PAD_ENV, value)
    assert allocator.pad_from_environment() == mib


@pytest.mark.parametrize("value", ["-1", "2048", "1.5", "lots"])
def test_bad_padding_is_one_line(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(allocator.PAD_ENV, value)
    with pytest.raises(ConfigError, match=allocator.PAD_ENV) as info:
        allocator.pad_from_environment()
    assert "\n" not in str(info.value)


def test_mallopt_gets_the_padding_in_bytes(libc: FakeLibc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(allocator.PAD_ENV, "256")
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory(0) is True  # glibc's own 128 KiB again
    assert libc.calls == [(allocator.M_TOP_PAD, 256 * 2**20), (allocator.M_TOP_PAD, 128 * 1024)]
    with pytest.raises(ConfigError, match="0 to 2047"):
        allocator.keep_freed_memory(4096)  # would overflow mallopt's C int


def test_other_c_libraries_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_library(_name: Any) -> None:
        raise AssertionError("mallopt must not be looked up without glibc")

    monkeypatch.setattr(allocator, "glibc", lambda: False)
    monkeypatch.setattr(allocator.ctypes, "CDLL", no_library)
    assert allocator.keep_freed_memory() is False


def test_the_real_setting_takes_effect_on_glibc() -> None:
    if not allocator.glibc():
        pytest.skip("not glibc: M_TOP_PAD does not exist here")
    assert allocator.keep_freed_memory() is True
