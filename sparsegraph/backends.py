"""``sparsegraph.backends``: the ``torch.backends`` switches a PyTorch script checks or sets
before it picks a device, so its device block runs unchanged (``elif
torch.backends.mps.is_available(): ...`` is evaluated before any ``hasattr`` guard).

There is no Apple GPU backend and no cuDNN here: ``mps.is_available()`` is False, and the
cuDNN flags are plain attributes a script may set (sparsegraph's kernels are deterministic
whatever they say).
"""

from __future__ import annotations

from types import SimpleNamespace

__all__ = ["cudnn", "mps"]

mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
cudnn = SimpleNamespace(enabled=True, benchmark=False, deterministic=False,
                        is_available=lambda: False)
