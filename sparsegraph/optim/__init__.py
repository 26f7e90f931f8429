"""Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad, NAdam, RAdam) and learning-rate
schedulers."""

from sparsegraph.optim import lr_scheduler
from sparsegraph.optim.adam import Adam, AdamW
from sparsegraph.optim.nadam import NAdam, RAdam
from sparsegraph.optim.optimizer import Optimizer
from sparsegraph.optim.rmsprop import Adagrad, RMSprop
from sparsegraph.optim.sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "NAdam", "Optimizer", "RAdam", "RMSprop", "SGD",
           "lr_scheduler"]
