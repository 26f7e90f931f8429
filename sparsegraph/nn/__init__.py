"""Neural-network building blocks: Module, Parameter, layers, initialisation, functional."""

from sparsegraph.nn import functional, init, utils
from sparsegraph.nn.parameter import Parameter
from sparsegraph.nn.module import Module
from sparsegraph.nn.linear import Identity, Linear
from sparsegraph.nn.embedding import Embedding
from sparsegraph.nn.embedding_bag import EmbeddingBag
from sparsegraph.nn.dropout import Dropout
from sparsegraph.nn.activation import (
    ELU, GELU, LeakyReLU, LogSoftmax, PReLU, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh,
)
from sparsegraph.nn.containers import ModuleDict, ModuleList, Sequential
from sparsegraph.nn.param_containers import ParameterDict, ParameterList
from sparsegraph.nn.reshape import Flatten, Unflatten
from sparsegraph.nn.distance import CosineSimilarity, PairwiseDistance
from sparsegraph.nn.normalization import BatchNorm1d, LayerNorm
from sparsegraph.nn.rnn_cell import GRUCell, LSTMCell, RNNCell
from sparsegraph.nn.rnn import GRU, LSTM, RNN
from sparsegraph.nn.loss import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
    NLLLoss, SmoothL1Loss,
)

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss", "L1Loss",
    "MSELoss", "NLLLoss", "SmoothL1Loss",
    "BatchNorm1d", "CosineSimilarity", "Dropout", "ELU", "Embedding", "EmbeddingBag", "Flatten",
    "GELU", "Identity", "LayerNorm", "LeakyReLU", "PReLU", "Linear", "LogSoftmax", "Module",
    "ModuleDict",
    "ModuleList", "PairwiseDistance", "Parameter", "ParameterDict", "ParameterList", "ReLU",
    "Sequential", "SiLU", "Sigmoid", "Softmax", "Softplus", "Tanh", "Unflatten", "functional",
    "init", "utils",
    "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell",
]
