"""sg.inference_mode: PyTorch's inference_mode as a no-graph mode (context, decorator)."""

import numpy as np
import pytest

import sparsegraph as sg


def test_inside_no_graph_is_recorded_and_the_flags_say_so():
    x = sg.randn(3, requires_grad=True)
    assert not sg.is_inference_mode_enabled() and sg.is_grad_enabled()
    with sg.inference_mode():
        assert sg.is_inference_mode_enabled() and not sg.is_grad_enabled()
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert not sg.is_inference_mode_enabled() and sg.is_grad_enabled()
    np.testing.assert_array_equal(y.numpy(), x.detach().numpy() * 2)


def test_inference_mode_false_inside_turns_grad_on_and_restores():
    x = sg.randn(3, requires_grad=True)
    with sg.no_grad():
        with sg.inference_mode():
            with sg.inference_mode(False):  # PyTorch: grad mode on, inference off
                assert sg.is_grad_enabled() and not sg.is_inference_mode_enabled()
                assert (x * 2).requires_grad
            assert not sg.is_grad_enabled() and sg.is_inference_mode_enabled()
        assert not sg.is_grad_enabled() and not sg.is_inference_mode_enabled()
    assert sg.is_grad_enabled()


@pytest.mark.parametrize("form", ["bare", "called", "false"])
def test_decorator_forms(form):
    def f(x):
        return x * 2, sg.is_inference_mode_enabled()

    deco = {"bare": sg.inference_mode, "called": sg.inference_mode(),
            "false": sg.inference_mode(False)}[form]
    g = deco(f)
    assert g.__name__ == "f"
    y, flag = g(sg.randn(2, requires_grad=True))
    assert flag is (form != "false") and y.requires_grad is (form == "false")
    assert sg.is_grad_enabled() and not sg.is_inference_mode_enabled()


def test_decorated_generator_runs_its_steps_in_inference_mode_only():
    @sg.inference_mode()
    def gen():
        for _ in range(2):
            yield sg.is_inference_mode_enabled(), sg.is_grad_enabled()

    seen = []
    for flags in gen():
        seen.append(flags)
        assert not sg.is_inference_mode_enabled() and sg.is_grad_enabled()  # the caller's
    assert seen == [(True, False), (True, False)]


def test_mode_is_restored_after_an_exception():
    with pytest.raises(KeyError):
        with sg.inference_mode():
            raise KeyError("boom")
    assert sg.is_grad_enabled() and not sg.is_inference_mode_enabled()


def test_a_non_callable_non_bool_is_refused():
    with pytest.raises(TypeError, match="inference_mode: expected a function"):
        sg.inference_mode("yes")


def test_grad_and_inference_mode_are_per_thread_as_in_pytorch():
    import threading

    seen = []

    def other():
        x = sg.randn(2, requires_grad=True)
        seen.append((sg.is_grad_enabled(), sg.is_inference_mode_enabled(),
                     (x * 2).requires_grad))

    with sg.inference_mode():
        t = threading.Thread(target=other)
        t.start()
        t.join()
    with sg.no_grad():
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen == [(True, False, True), (True, False, True)]
