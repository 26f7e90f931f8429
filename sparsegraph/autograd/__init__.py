"""Reverse-mode autograd: `Function`, the engine, grad mode, and the functional `grad`."""

from sparsegraph.autograd.anomaly import (
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from sparsegraph.autograd.engine import backward, grad
from sparsegraph.autograd.function import (
    AccumulateGrad,
    Context,
    Function,
    Node,
    once_differentiable,
)
from sparsegraph.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = [
    "AccumulateGrad", "Context", "Function", "GradcheckError", "Node", "backward",
    "detect_anomaly", "enable_grad", "grad", "gradcheck", "gradgradcheck", "inference_mode",
    "is_anomaly_check_nan_enabled", "is_anomaly_enabled",
    "is_grad_enabled", "is_inference_mode_enabled", "no_grad", "once_differentiable",
    "set_detect_anomaly", "set_grad_enabled",
]


def __getattr__(name):
    # `sg.autograd.gradcheck` is `sg.testing.torch_gradcheck` (torch.autograd.gradcheck's
    # interface over sg.testing.gradcheck);
    # sparsegraph.testing sits above autograd, so it is imported on first use, not here
    if name in ("gradcheck", "gradgradcheck", "GradcheckError"):
        from sparsegraph import testing

        return testing.torch_gradcheck if name == "gradcheck" else getattr(testing, name)
    raise AttributeError(f"module 'sparsegraph.autograd' has no attribute {name!r}")
