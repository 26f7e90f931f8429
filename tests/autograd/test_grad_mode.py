"""Grad mode as PyTorch has it: `set_grad_enabled` as a function, a context manager and a
decorator; `no_grad` / `enable_grad` as context managers and decorators, with or without
parentheses."""

import numpy as np
import pytest

import sparsegraph as sg


@pytest.fixture(autouse=True)
def _grad_mode_on_after_each_test():
    yield
    on = sg.is_grad_enabled()
    sg.set_grad_enabled(True)
    assert on, "the test left grad mode off"


def test_set_grad_enabled_called_as_a_function_switches_the_mode():
    w = sg.tensor([1.0, 2.0], requires_grad=True)
    sg.set_grad_enabled(False)
    y = w * 2
    assert not sg.is_grad_enabled() and not y.requires_grad and y.grad_fn is None
    sg.set_grad_enabled(True)
    z = w * 2
    assert sg.is_grad_enabled() and z.requires_grad


@pytest.mark.parametrize("outer", [True, False])
@pytest.mark.parametrize("inner", [True, False])
def test_set_grad_enabled_as_a_context_manager_restores_the_previous_mode(outer, inner):
    sg.set_grad_enabled(outer)
    w = sg.tensor([1.0], requires_grad=True)
    with sg.set_grad_enabled(inner):
        assert sg.is_grad_enabled() is inner
        assert (w * 2).requires_grad is inner
    assert sg.is_grad_enabled() is outer
    sg.set_grad_enabled(True)


def test_set_grad_enabled_restores_after_an_exception_and_nests():
    with pytest.raises(ValueError), sg.set_grad_enabled(False):
        raise ValueError
    assert sg.is_grad_enabled()
    with sg.set_grad_enabled(False):
        with sg.set_grad_enabled(True):
            assert sg.is_grad_enabled()
        assert not sg.is_grad_enabled()
    assert sg.is_grad_enabled()


def test_set_grad_enabled_as_a_decorator_changes_the_mode_only_inside():
    @sg.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert sg.is_grad_enabled()  # decorating changed nothing
    w = sg.tensor([1.0], requires_grad=True)
    assert not f(w).requires_grad
    assert sg.is_grad_enabled()
    assert f.__name__ == "f"


@pytest.mark.parametrize("mode", [1, None, "no"])
def test_set_grad_enabled_wants_a_bool(mode):
    with pytest.raises(TypeError, match="set_grad_enabled: expected `mode` to be a bool"):
        sg.set_grad_enabled(mode)
    assert sg.is_grad_enabled()


def test_set_grad_enabled_takes_a_numpy_bool():
    with sg.set_grad_enabled(np.bool_(False)):
        assert sg.is_grad_enabled() is False


@pytest.mark.parametrize("parens", [False, True], ids=["bare", "called"])
def test_no_grad_and_enable_grad_decorate_with_or_without_parentheses(parens):
    def evaluate(x):
        """Docstring kept."""
        assert not sg.is_grad_enabled()
        return x * 2

    def train(x):
        assert sg.is_grad_enabled()
        return x * 2

    evaluate = sg.no_grad()(evaluate) if parens else sg.no_grad(evaluate)
    train = sg.enable_grad()(train) if parens else sg.enable_grad(train)
    x = sg.ones(2, requires_grad=True)
    assert not evaluate(x).requires_grad
    assert evaluate.__name__ == "evaluate" and evaluate.__doc__ == "Docstring kept."
    with sg.no_grad():
        assert train(x).requires_grad
        assert not sg.is_grad_enabled()
    assert sg.is_grad_enabled()


def test_bare_decorator_syntax():
    @sg.no_grad
    def evaluate(x):
        return x * 2

    @sg.enable_grad
    def train(x):
        return x * 2

    x = sg.ones(2, requires_grad=True)
    assert not evaluate(x).requires_grad
    with sg.no_grad():
        assert train(x).requires_grad


def test_decorated_function_restores_the_mode_after_an_exception():
    @sg.no_grad
    def boom():
        raise KeyError

    with pytest.raises(KeyError):
        boom()
    assert sg.is_grad_enabled()


def test_no_grad_is_still_a_context_manager_and_nests():
    x = sg.ones(2, requires_grad=True)
    ctx = sg.no_grad()
    assert sg.is_grad_enabled()  # constructing it changes nothing
    with ctx:
        assert not (x * 2).requires_grad
        with sg.enable_grad():
            assert (x * 2).requires_grad
        assert not sg.is_grad_enabled()
    assert sg.is_grad_enabled()


def test_decorating_a_non_callable_is_a_clear_error():
    with pytest.raises(TypeError, match="no_grad: expected a function to decorate"):
        sg.no_grad()(3)


@pytest.mark.parametrize("bare", [False, True], ids=["called", "bare"])
def test_decorated_generator_runs_its_body_in_the_mode_and_the_caller_in_its_own(bare):
    x = sg.ones(2, requires_grad=True)

    def body():
        received = yield (x * 2).requires_grad
        yield received, sg.is_grad_enabled()
        return "done"

    gen_fn = sg.no_grad(body) if bare else sg.no_grad()(body)
    gen = gen_fn()
    assert next(gen) is False
    assert sg.is_grad_enabled()  # the caller's mode between steps
    assert gen.send("hi") == ("hi", False)
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"
    assert list(sg.enable_grad(body)())[0] is True
    assert sg.is_grad_enabled()


def test_decorated_generator_close_and_throw_run_in_the_mode():
    seen = []

    @sg.no_grad
    def body():
        try:
            yield 1
        except ValueError:
            seen.append(("throw", sg.is_grad_enabled()))
            yield 2
        finally:
            seen.append(("finally", sg.is_grad_enabled()))

    gen = body()
    next(gen)
    assert gen.throw(ValueError) == 2
    gen.close()
    assert seen == [("throw", False), ("finally", False)]
    assert sg.is_grad_enabled()
