"""The emulator's ONNX export (mathphys_nb.emulator.onnx): the library imports without onnx/onnxruntime, a missing
package says what to install, an exported deterministic emulator matches torch on new batch sizes inside the
library's rollout, and bad inputs are refused with errors that name them."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from mathphys_nb.core import MathPhysError, ShapeError

torch.set_num_threads(1)


def test_library_imports_without_onnx_packages():
    code = ("import sys\nfor m in ('onnx', 'onnxruntime', 'onnxscript'): sys.modules[m] = None\n"
            "import mathphys_nb.emulator.onnx as O, mathphys_nb.emulator.rollout\n"
            "try: O._need('onnxruntime')\nexcept O.MathPhysError as e: print(e)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'pip install onnx==' in out.stdout and 'onnxruntime==' in out.stdout


def _tiny_deterministic():
    from mathphys_nb.emulator.autoencoder import AutoEncoder, DCAEConfig
    from mathphys_nb.learn.codec import FieldTransform
    from mathphys_nb.learn.codec import AutoencoderCodec
    from mathphys_nb.emulator.denoiser import ViTConfig, build_emulator
    from mathphys_nb.emulator.rollout import Emulator
    torch.manual_seed(1)
    ae = AutoEncoder(DCAEConfig(in_channels=1, lat_channels=1, factor=2, width=4, max_width=4))
    net = build_emulator(ViTConfig(channels=1, height=4, width_grid=4, window=2, width=6, depth=1, heads=1, noise=False))
    with torch.no_grad():
        for p in list(ae.parameters()) + list(net.parameters()): p.add_(0.3 * torch.randn_like(p))
    conf = {'kind': 'deterministic', 'latent_mean': [0.0], 'latent_std': [2.0], 'latent_shape': [1, 4, 4],
            'frame_shape': [1, 8, 8], 'param_names': []}
    return Emulator(net, conf, AutoencoderCodec(ae, FieldTransform(['u'], [0], [0.0], [1.0]), name='tiny'))


def test_exported_rollout_matches_torch(tmp_path):
    pytest.importorskip('onnxruntime'); pytest.importorskip('onnxscript')
    from mathphys_nb.emulator.onnx import export_onnx, OnnxEmulator, onnx_bytes
    from mathphys_nb.emulator.rollout import rollout
    emu = _tiny_deterministic()
    ox = OnnxEmulator.load(export_onnx(emu, tmp_path / 'e', encoder=False))
    assert set(onnx_bytes(tmp_path / 'e')) == {'decoder', 'denoiser'}
    z = torch.randn(3, 1, 1, 4, 4)                                   # batch 3: the export example used 2
    a, b = (e.decode(rollout(e.model, z, 7)) for e in (emu, ox))   # no simulation parameters: params=None dropped
    assert a.shape == b.shape == (3, 1, 7, 1, 8, 8)
    np.testing.assert_allclose(b, a, atol=1e-4 * np.abs(a).max())
    with pytest.raises(ShapeError, match="input 'context' must have shape"):
        ox.model(torch.zeros(3, 3, 1, 4, 4), torch.ones(3, 2, dtype=torch.bool))
    with pytest.raises(MathPhysError, match='exported without its encoder'):
        ox.forecast(np.ones((1, 1, 8, 8), np.float32), 2)
