"""Optimizers (SGD, Adam, AdamW) and learning-rate schedulers."""

from sparsegraph.optim import lr_scheduler
from sparsegraph.optim.adam import Adam, AdamW
from sparsegraph.optim.optimizer import Optimizer
from sparsegraph.optim.sgd import SGD

__all__ = ["Adam", "AdamW", "Optimizer", "SGD", "lr_scheduler"]
