"""Neural-network building blocks: Module, Parameter, layers, initialisation, functional."""

from sparsegraph.nn import functional, init
from sparsegraph.nn.layers import (
    ELU, GELU, Dropout, Identity, LeakyReLU, Linear, LogSoftmax, ModuleDict, ModuleList, ReLU,
    Sequential, Sigmoid, SiLU, Softmax, Softplus, Tanh,
)
from sparsegraph.nn.module import Module, Parameter
from sparsegraph.nn.normalization import BatchNorm1d, LayerNorm

__all__ = [
    "BatchNorm1d", "Dropout", "ELU", "GELU", "Identity", "LayerNorm", "LeakyReLU", "Linear",
    "LogSoftmax", "Module", "ModuleDict", "ModuleList", "Parameter", "ReLU", "Sequential",
    "SiLU", "Sigmoid", "Softmax", "Softplus", "Tanh", "functional", "init",
]
