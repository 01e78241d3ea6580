"""The on-disk cache key of the custom Ops changes with the kernel's source."""

from __future__ import annotations

import shutil

from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

from syriaforecast.engine import source_key
from syriaforecast.engine.reference import op as op_module


def test_editing_a_kernel_source_changes_the_key(tmp_path, monkeypatch):
    copy = tmp_path / "kernel.py"
    shutil.copy(source_key.KERNEL_SOURCES[0], copy)
    monkeypatch.setattr(source_key, "KERNEL_SOURCES", [copy])
    ops = (op_module._op, op_module._grad_op)
    before = [numba_funcify_and_cache_key(op)[1] for op in ops]
    assert before == [source_key.op_cache_key(op, op_module.__file__) for op in ops]
    assert before[0] != before[1]  # the two Ops never share a key
    assert [numba_funcify_and_cache_key(op)[1] for op in ops] == before  # stable while nothing changes
    text = copy.read_text()
    copy.write_text(text.replace("return", "return  ", 1))  # a one-character edit
    after = [numba_funcify_and_cache_key(op)[1] for op in ops]
    assert all(a != b for a, b in zip(after, before, strict=True))
    copy.write_text(text)
    assert [numba_funcify_and_cache_key(op)[1] for op in ops] == before


def test_the_key_covers_the_op_module_too(tmp_path):
    module = tmp_path / "op.py"
    module.write_text("a = 1\n")
    first = source_key.op_cache_key(op_module._op, module)
    module.write_text("a = 2\n")
    assert source_key.op_cache_key(op_module._op, module) != first
