"""One frame-codec protocol (mathphys_nb.learn.codec): every codec answers encode, decode, ratio, bytes_per_frame and
name the same way; the compression explorer takes any of them; the ONNX autoencoder matches the torch one."""
import numpy as np
import pytest
import torch

from mathphys_nb.core import MathPhysError, ShapeError
from mathphys_nb.learn.codec import (FrameCodec, TruncationCodec, PCACodec, TransformedCodec, AutoencoderCodec, PoolCodec,
                                     MatrixCodec, FieldTransform, score_codec, as_frames)
from mathphys_nb.learn.store import read_manifest

torch.set_num_threads(1)
RNG = np.random.default_rng(0)
FRAMES = RNG.normal(size=(6, 2, 16, 16)).cumsum(-1).cumsum(-2).astype(np.float32)
TF = FieldTransform(['a', 'b'], [False, False], [0.0, 0.0], [4.0, 4.0])


def codecs():
    from mathphys_nb.codec.codecs import SVDCodec
    return {'fourier': TruncationCodec.fourier(3, (2, 16, 16)), 'dct': TruncationCodec.dct(40, (2, 16, 16)),
            'pca': TransformedCodec(PCACodec(4).fit(TF.forward(torch.as_tensor(FRAMES))), TF), 'pool': PoolCodec(TF, 4),
            'matrix': MatrixCodec(SVDCodec(2), (2, 16, 16))}


@pytest.mark.parametrize('name', ['fourier', 'dct', 'pca', 'pool', 'matrix'])
def test_every_codec_answers_the_protocol(name):
    c = codecs()[name]
    assert isinstance(c, FrameCodec) and isinstance(c.name, str) and c.name
    rec = c.decode(c.encode(FRAMES)); assert torch.is_tensor(rec) and rec.shape == FRAMES.shape and rec.dtype == torch.float32
    assert np.array_equal(c.roundtrip(FRAMES), rec.numpy())
    assert c.ratio == pytest.approx(FRAMES[0].nbytes / c.bytes_per_frame) and c.bytes_per_frame > 0
    s = score_codec(c, FRAMES, ['a', 'b'])
    assert set(s) == {'codec', 'ratio', 'bytes_per_frame', 'vrmse', 'vrmse_mean'} and 0 <= s['vrmse_mean'] < 1.5


def test_the_two_truncations_are_one_codec_and_exact_when_everything_is_kept():
    assert np.abs(TruncationCodec.fourier(8).roundtrip(FRAMES) - FRAMES).max() < 1e-4
    assert np.abs(TruncationCodec.dct(2 * 16 * 16, (2, 16, 16)).roundtrip(FRAMES) - FRAMES).max() < 1e-4
    with pytest.raises(ShapeError): TruncationCodec.dct(40, (2, 16, 16)).encode(FRAMES[:, :1])


def test_a_shipped_autoencoder_is_a_codec_with_the_manifest_ratio():
    e = read_manifest()['ae_release_anywhere64_r64_pcares']
    ae = AutoencoderCodec.load('ae_release_anywhere64_r64_pcares')
    assert ae.ratio == pytest.approx(e['ratio']) and ae.bytes_per_frame == e['test']['bytes_per_frame']
    x = np.abs(RNG.normal(size=(2, 1, 64, 64))).astype(np.float32)
    assert ae.roundtrip(x).shape == x.shape and ae.encode(x).shape[0] == 2


def test_the_explorer_accepts_any_codec():
    from mathphys_nb.widgets.compression import CompressionExplorer
    cs = codecs(); cs['pool'].encode(FRAMES[:1])              # the pool codec learns its frame shape from what it encodes
    lad = {round(c.ratio, 1): c for c in cs.values()}
    ex = CompressionExplorer(FRAMES, ladder=lad)
    for r, c in lad.items():
        ex.ratio.value = r
        assert ex.last['codec'] == c.name and ex.last['bytes_per_frame'] == c.bytes_per_frame
        assert ex.last['vrmse'] == pytest.approx(score_codec(c, FRAMES)['vrmse_mean'], rel=1e-6)


def test_the_onnx_autoencoder_is_the_same_codec():
    pytest.importorskip('onnxruntime'); pytest.importorskip('onnxscript')
    import tempfile
    from pathlib import Path
    from mathphys_nb.emulator.autoencoder import AutoEncoder, DCAEConfig
    from mathphys_nb.emulator.denoiser import ViTConfig, build_emulator
    from mathphys_nb.emulator.rollout import Emulator
    from mathphys_nb.emulator.onnx import export_onnx, OnnxEmulator
    torch.manual_seed(0)
    ae = AutoEncoder(DCAEConfig(in_channels=2, lat_channels=2, factor=4, width=4, max_width=8))
    net = build_emulator(ViTConfig(channels=2, height=4, width_grid=4, window=3, width=12, depth=1, heads=1, n_params=0, noise=False))
    conf = {'kind': 'deterministic', 'latent_mean': [0, 0], 'latent_std': [1, 1], 'latent_shape': [2, 4, 4], 'frame_shape': [2, 16, 16], 'param_names': []}
    emu = Emulator(net, conf, AutoencoderCodec(ae, TF, name='tiny', shape=(2, 16, 16)))
    d = export_onnx(emu, Path(tempfile.mkdtemp()) / 'x'); onx = OnnxEmulator.load(d).codec
    assert isinstance(onx, FrameCodec) and onx.ratio == emu.codec.ratio == 16.0
    np.testing.assert_allclose(onx.roundtrip(FRAMES), emu.codec.roundtrip(FRAMES), atol=1e-4)


def test_as_frames_refuses_what_is_not_frames():
    assert as_frames(np.zeros((3, 4, 4))).shape == (3, 1, 4, 4)
    with pytest.raises(ShapeError): as_frames(np.zeros(4))
    with pytest.raises(MathPhysError): TruncationCodec('wavelet', 3)
