"""Emulator diffusion pieces: the log-logit schedule, EDM preconditioning, the denoiser/deterministic networks and the AB sampler."""
import dataclasses

import numpy as np
import pytest
import torch

from mathphys_nb.core import RangeError, ShapeError
from mathphys_nb.learn.store import save_checkpoint, load_checkpoint
from mathphys_nb.emulator.schedule import LogLogitSchedule, edm_coefficients, loss_weight, sample_sigma
from mathphys_nb.emulator.denoiser import ViTConfig, SpaceTimeViT, build_emulator, rope_angles, apply_rope
from mathphys_nb.emulator.sampler import ABSampler, ab_weights

torch.set_num_threads(1)
F64 = torch.float64


@pytest.mark.parametrize('smin,smax', [(1e-3, 1e3), (1e-2, 80.0)])
def test_schedule_limits_and_inverse(smin, smax):
    s = LogLogitSchedule(smin, smax)
    assert s.sigma(torch.tensor(0.0, dtype=F64)).item() == pytest.approx(smin, rel=1e-10)
    assert s.sigma(torch.tensor(1.0, dtype=F64)).item() == pytest.approx(smax, rel=1e-10)
    t = torch.rand(500, dtype=F64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(s.time(s.sigma(t)), t, atol=1e-9, rtol=0)
    g = s.grid(7)
    assert g.shape == (8,) and (g.diff() < 0).all() and g[0].item() == pytest.approx(smax) and g[-1].item() == pytest.approx(smin)


def test_schedule_rejects_bad_input():
    with pytest.raises(RangeError): LogLogitSchedule(1.0, 0.1)
    with pytest.raises(RangeError): LogLogitSchedule().grid(0)


def test_preconditioning_identities():
    sig = torch.logspace(-3, 3, 25, dtype=F64)
    c_skip, c_out, c_in, c_noise = edm_coefficients(sig)
    torch.testing.assert_close(c_skip + c_out ** 2, torch.ones_like(sig))
    torch.testing.assert_close(loss_weight(sig) * c_out ** 2, torch.ones_like(sig))
    torch.testing.assert_close(c_in ** 2 * (1 + sig ** 2), torch.ones_like(sig))
    torch.testing.assert_close(c_noise, sig.log())
    g = torch.Generator().manual_seed(1)
    x = torch.randn(100_000, dtype=F64, generator=g); e = torch.randn(100_000, dtype=F64, generator=g)
    for s in (0.003, 0.7, 300.0):
        cs, co, ci, _ = edm_coefficients(torch.tensor(s, dtype=F64))
        assert ((x - cs * (x + s * e)) / co).var().item() == pytest.approx(1.0, abs=0.02)   # unit-variance target


def test_sample_sigma_is_seeded_and_in_range():
    s = LogLogitSchedule()
    a = sample_sigma(s, 64, torch.Generator().manual_seed(5)); b = sample_sigma(s, 64, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.min() >= 1e-3 * 0.999 and a.max() <= 1e3 * 1.001


def _cfg(**kw):
    return ViTConfig(**{**dict(channels=2, height=4, width_grid=3, window=4, width=24, depth=2, heads=2, n_params=2), **kw})


def test_rope_depends_on_offsets_only():
    ang = rope_angles((3, 4, 3), 12)
    q, k = torch.randn(1, 1, 1, 12), torch.randn(1, 1, 1, 12)
    idx = lambda t, r, c: t * 12 + r * 3 + c
    dot = lambda i, j: (apply_rope(q, ang[i:i + 1]) * apply_rope(k, ang[j:j + 1])).sum().item()
    assert dot(idx(0, 0, 0), idx(1, 2, 1)) == pytest.approx(dot(idx(1, 1, 1), idx(2, 3, 2)), abs=1e-5)
    assert dot(idx(0, 0, 0), idx(1, 2, 1)) != pytest.approx(dot(idx(0, 0, 0), idx(2, 2, 1)), abs=1e-5)


@pytest.mark.parametrize('noise', [True, False])
def test_shapes_context_passthrough_and_finite_gradients(noise):
    torch.manual_seed(0)
    m = build_emulator(_cfg(noise=noise))
    for p in m.parameters(): p.data += 0.05 * torch.randn_like(p)
    x = torch.randn(3, 4, 2, 4, 3); mask = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]], dtype=torch.bool)
    prm = torch.randn(3, 2)
    with torch.no_grad():
        y = m(torch.randn_like(x), torch.tensor([0.1, 1.0, 10.0]), x, mask, prm) if noise else m(x, mask, prm)
    assert y.shape == x.shape
    for b in range(3): assert torch.equal(y[b, mask[b]], x[b, mask[b]])
    loss = m.loss(x, mask, prm, torch.Generator().manual_seed(0)); loss.backward()
    grads = [p.grad for p in m.parameters() if p.grad is not None]
    assert torch.isfinite(loss) and grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


def test_denoiser_limits():
    torch.manual_seed(0)
    m = build_emulator(_cfg())
    for p in m.parameters(): p.data += 0.05 * torch.randn_like(p)
    x = torch.randn(2, 4, 2, 4, 3); mask = torch.tensor([[1, 0, 0, 0]] * 2, dtype=torch.bool); prm = torch.randn(2, 2)
    xs = torch.randn_like(x)
    with torch.no_grad():
        d = m(xs, torch.full((2,), 1e-7), x, mask, prm)
        f = m.net(torch.where(mask[:, :, None, None, None], x, xs / (1 + 1e14) ** 0.5), mask, torch.full((2,), np.log(1e7)), prm)
        d_big = m(xs, torch.full((2,), 1e7), x, mask, prm)
    torch.testing.assert_close(d[:, 1:], xs[:, 1:], atol=1e-5, rtol=0)        # σ → 0: identity
    torch.testing.assert_close(d_big[:, 1:], f[:, 1:], atol=1e-4, rtol=1e-4)  # σ → ∞: the network's output


def test_bad_inputs_raise():
    net = SpaceTimeViT(_cfg())
    with pytest.raises(ShapeError, match='x must be'): net(torch.randn(1, 3, 2, 4, 3), torch.ones(1, 3, dtype=torch.bool), torch.zeros(1), torch.zeros(1, 2))
    with pytest.raises(ShapeError, match='params'): net(torch.randn(1, 4, 2, 4, 3), torch.ones(1, 4, dtype=torch.bool), torch.zeros(1), None)
    with pytest.raises(RangeError, match='divisible by 6'): _cfg(width=20)
    with pytest.raises(RangeError, match='window'): _cfg(window=1)


@pytest.mark.parametrize('noise', [True, False])
def test_save_load_round_trip(tmp_path, noise):
    torch.manual_seed(0)
    cfg = _cfg(noise=noise); m = build_emulator(cfg)
    for p in m.parameters(): p.data += 0.05 * torch.randn_like(p)
    save_checkpoint(tmp_path / 'm.pt', m.state_dict(), {'vit': dataclasses.asdict(cfg)})
    ck = load_checkpoint(tmp_path / 'm.pt')
    m2 = build_emulator(ViTConfig(**ck['config']['vit'])); m2.load_state_dict(ck['state_dict'])
    x = torch.randn(2, 4, 2, 4, 3); mask = torch.tensor([[1, 0, 0, 0]] * 2, dtype=torch.bool); prm = torch.randn(2, 2)
    with torch.no_grad():
        a = m(x, torch.ones(2), x, mask, prm) if noise else m(x, mask, prm)
        b = m2(x, torch.ones(2), x, mask, prm) if noise else m2(x, mask, prm)
    assert torch.equal(a, b)


def test_ab_weights_integrate_polynomials_exactly():
    nodes = [2.0, 1.3, 0.9]
    w = ab_weights(nodes, 0.9, 0.2)
    for deg in range(3):
        exact = (0.2 ** (deg + 1) - 0.9 ** (deg + 1)) / (deg + 1)
        assert sum(wj * n ** deg for wj, n in zip(w, nodes)) == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize('order', [1, 2, 3])
def test_sampler_exact_for_a_single_data_point(order):
    s = LogLogitSchedule(); mu = -0.4
    x = s.sigma_max * torch.randn(300, dtype=F64, generator=torch.Generator().manual_seed(0))
    for steps in (1, 2, 5):
        got = ABSampler(s, steps, order)(lambda x, sg: torch.full_like(x, mu), x)
        torch.testing.assert_close(got, mu + s.sigma_min * (x - mu) / s.sigma_max, atol=1e-9, rtol=0)


def test_sampler_converges_at_its_order_on_gaussian_data():
    s = LogLogitSchedule(); mu, sd = 0.5, 0.4
    z = torch.randn(500, dtype=F64, generator=torch.Generator().manual_seed(2))
    x = mu + (sd ** 2 + s.sigma_max ** 2) ** 0.5 * z
    exact = mu + ((sd ** 2 + s.sigma_min ** 2) / (sd ** 2 + s.sigma_max ** 2)) ** 0.5 * (x - mu)
    ideal = lambda x, sg: (sd ** 2 * x + sg ** 2 * mu) / (sd ** 2 + sg ** 2)
    for order in (1, 2, 3):
        e32, e64 = ((ABSampler(s, n, order)(ideal, x) - exact).abs().max().item() for n in (32, 64))
        assert np.log2(e32 / e64) > order - 0.5
    assert (ABSampler(s, 64, 3)(ideal, x) - exact).abs().max().item() < 1e-3
    with pytest.raises(RangeError): ABSampler(s, 4, order=5)
