"""Optimizers (SGD, Adam, AdamW, SparseAdam, RMSprop, Adagrad, NAdam, RAdam) and learning-rate
schedulers."""

from sparsegraph.optim import lr_scheduler
from sparsegraph.optim.adam import Adam, AdamW
from sparsegraph.optim.nadam import NAdam, RAdam
from sparsegraph.optim.optimizer import Optimizer
from sparsegraph.optim.rmsprop import Adagrad, RMSprop
from sparsegraph.optim.sgd import SGD
from sparsegraph.optim.sparse_adam import SparseAdam

__all__ = ["Adagrad", "Adam", "AdamW", "NAdam", "Optimizer", "RAdam", "RMSprop", "SGD",
           "SparseAdam", "lr_scheduler"]
