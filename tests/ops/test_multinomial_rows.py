"""multinomial with replacement draws every row at once: each row's draws stay in that row's
categories of positive weight."""

import numpy as np

import sparsegraph as sg


def test_each_row_draws_only_its_own_positive_categories():
    rng = np.random.default_rng(0)
    n, c = 2000, 6
    hot = rng.integers(0, c, n)
    w = np.zeros((n, c), np.float32)
    w[np.arange(n), hot] = rng.random(n) + 0.1  # one positive weight per row
    sg.manual_seed(0)
    draws = sg.multinomial(sg.tensor(w), 7, replacement=True).numpy()
    assert draws.shape == (n, 7)
    assert (draws == hot[:, None]).all()


def test_trailing_zero_weights_are_never_drawn():
    sg.manual_seed(1)
    w = sg.tensor([[0.0, 2.0, 1.0, 0.0, 0.0]] * 50)
    draws = sg.multinomial(w, 400, replacement=True).numpy()
    assert set(np.unique(draws)) == {1, 2}
    share = (draws == 1).mean()
    assert abs(share - 2 / 3) < 0.02  # 20000 draws: 4 standard deviations
