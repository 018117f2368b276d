"""Waveform <-> mel amplitudes, both directions, batched plain torch on any device.

Encoding matches the reference bit for bit in layout: a centered, reflect-padded STFT with a
Hann window of `win_length` zero-padded to `n_fft`, magnitudes (power 1), HTK mel filters
without normalisation.

Decoding improves on the reference's: the mel inversion is a non-negative least-squares solve
on the grid of the *unpadded* window (its n_fft-point spectrum is just that grid interpolated),
and phase comes from RAAR then fast Griffin-Lim on that same grid, seeded, so the same image and
seed give the same samples on the same device, wherever in a batch the image is (rounding
differs between devices, and these iterations carry it into the waveform, not into its
spectrogram). Phase retrieval runs mostly at a lower sample rate that still holds every
frequency the image does (`phase_grid`): the image stops at 10 kHz, so half of 44.1 kHz audio
is empty.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from riff.audio.memo import byte_cache
from riff.audio.params import SpectrogramParams
from riff.audio.stitch import stitch_overlapping

# What each cache of a format's matrices keeps at most: riffusion's format takes about 30 MB
# in all, and an extreme one is rebuilt rather than kept.
CACHE_BYTES = 64 << 20

# Encoding: waveform -> mel amplitudes, as the reference.


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of `hz_to_mel`."""
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(params: SpectrogramParams, n_freqs: int) -> torch.Tensor:
    """Triangular HTK mel filters over `n_freqs` linear bins from 0 to Nyquist, as torchaudio's
    `melscale_fbanks(norm=None, mel_scale="htk")` builds them.

    Returns:
        (num_frequencies, n_freqs) float64 on the CPU.
    """
    all_freqs = torch.linspace(0, params.sample_rate // 2, n_freqs, dtype=torch.float64)
    m_min = hz_to_mel(torch.tensor(float(params.min_frequency), dtype=torch.float64))
    m_max = hz_to_mel(torch.tensor(float(params.max_frequency), dtype=torch.float64))
    f_pts = mel_to_hz(torch.linspace(m_min, m_max, params.num_frequencies + 2, dtype=torch.float64))
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0).T.contiguous()


def mel_from_waveform(
    waveform: torch.Tensor, params: SpectrogramParams, chunk_frames: int = 1024
) -> torch.Tensor:
    """Mel amplitudes of a waveform, exactly as the reference computes them.

    Long audio is transformed `chunk_frames` frames at a time, so a whole song fits in memory.

    Args:
        waveform: (..., samples) float.
    Returns:
        (..., num_frequencies, 1 + samples // hop_length) non-negative.
    """
    lead, length = waveform.shape[:-1], waveform.shape[-1]
    flat = waveform.reshape(-1, length).float()
    half = params.n_fft // 2
    if length <= half:
        raise ValueError(
            f"audio of {length} samples is too short: need more than {half} "
            f"({half / params.sample_rate:.2f} s) for the {params.padded_duration_ms} ms window"
        )
    # Centering by hand (reflect, as torch.stft's center=True) so chunks can go uncentered.
    padded = torch.nn.functional.pad(flat[:, None], (half, half), mode="reflect")[:, 0]
    fb = _filterbank(params, half + 1, str(flat.device)).to(flat.dtype)
    window = _hann(params.win_length, flat.device, flat.dtype)
    frames, hop = 1 + length // params.hop_length, params.hop_length
    chunks = []
    for first in range(0, frames, chunk_frames):
        count = min(chunk_frames, frames - first)
        piece = padded[:, first * hop : (first + count - 1) * hop + params.n_fft]
        spec = torch.stft(
            piece,
            n_fft=params.n_fft,
            hop_length=hop,
            win_length=params.win_length,
            window=window,
            center=False,
            return_complex=True,
        ).abs()
        chunks.append(torch.matmul(fb, spec))
    mel = torch.cat(chunks, dim=-1)
    return mel.reshape(*lead, *mel.shape[-2:])


# Decoding: mel amplitudes -> linear magnitudes (NNLS) -> phase (RAAR, then fast Griffin-Lim)
# -> waveform.


@dataclass(frozen=True)
class Decoding:
    """How `waveform_from_mel` decodes: the one place for its iteration counts and constants."""

    # Phase-retrieval iterations: on real music, mel spectral convergence 0.044 at 96 against
    # 0.055 at 48 and 0.041 at 128 (bench/bench_codec.py, 12 clips), about 6 ms a clip each.
    griffin_lim_iters: int = 96
    # NNLS refinements of the clamped pseudo-inverse: a few do, since the magnitudes only start
    # phase retrieval, which then projects onto the mel amplitudes themselves.
    nnls_iters: int = 8
    # RAAR on every other frame for two thirds of the iterations: 5x overlap (hop doubled) is
    # plenty and costs half.
    coarse_share: float = 2 / 3
    coarse_stride: int = 2
    relaxation: float = 0.9  # RAAR's beta
    momentum: float = 0.99  # fast Griffin-Lim's
    # The last iterations at the original rate: the first and last frames hang on a reflection
    # of the clip's ends, whose corner aliases into the band at the low rate.
    finish: int = 2
    # Filterbank products with sparse CSR matrices (they are 99.8 % zeros) or dense ones. None:
    # sparse on the CPU, where they are fast; dense elsewhere, where dense is fast and sparse
    # products may not exist.
    sparse: bool | None = None
    # Bytes of complex spectrogram (batch x frames x bins at the original rate) one pass
    # decodes; phase retrieval holds several times that. A larger batch is split (its clips do
    # not depend on each other), and a longer image is decoded in overlapping pieces of
    # columns, crossfaded: a 16,384-column image or a batch of 2,048-column clips fits, where it
    # once ran out of memory. One riffusion clip takes 9 MB.
    max_bytes: int = 64 << 20
    overlap: int = 32  # columns shared by two pieces of a long image (0.32 s)

    def sparse_on(self, device: torch.device) -> bool:
        """Whether filterbank products on `device` use sparse matrices."""
        return device.type == "cpu" if self.sparse is None else self.sparse


# The default phase-retrieval iterations, for callers that offer them as a choice.
GRIFFIN_LIM_ITERS = Decoding.griffin_lim_iters


def waveform_from_mel(
    mel: torch.Tensor,
    params: SpectrogramParams,
    seed: int = 0,
    nnls_iters: int | None = None,
    griffin_lim_iters: int | None = None,
    *,
    decoding: Decoding = Decoding(),
) -> torch.Tensor:
    """Audio from mel amplitudes: NNLS mel inversion (`magnitudes_from_mel`), then seeded phase
    retrieval (`waveform_from_magnitudes`).

    Args:
        mel: (..., num_frequencies, frames).
        nnls_iters, griffin_lim_iters: override `decoding`'s.
    Returns:
        (..., (frames - 1) * hop_length) float32.
    Raises:
        ValueError: fewer frames than `min_decodable_width`.
    """
    check_decodable(mel.shape[-1], params)
    if nnls_iters is not None:
        decoding = replace(decoding, nnls_iters=nnls_iters)
    if griffin_lim_iters is not None:
        decoding = replace(decoding, griffin_lim_iters=griffin_lim_iters)
    lead, (bands, frames) = mel.shape[:-2], mel.shape[-2:]
    flat = mel.reshape(-1, bands, frames)
    column = (params.win_length // 2 + 1) * 8  # bytes of one complex64 column
    per_pass = max(1, decoding.max_bytes // (column * frames))
    if flat.shape[0] > per_pass:
        parts = [
            waveform_from_mel(flat[i : i + per_pass], params, seed, decoding=decoding)
            for i in range(0, flat.shape[0], per_pass)
        ]
        return torch.cat(parts).reshape(*lead, -1)
    overlap = max(decoding.overlap, min_decodable_width(params))
    pieces = _pieces(frames, decoding.max_bytes // (column * flat.shape[0]), overlap)
    if len(pieces) > 1:
        crossfade = (overlap - 1) * params.hop_length
        waves = [waveform_from_mel(flat[..., a:b], params, seed, decoding=decoding) for a, b in pieces]
        return stitch_overlapping(waves, crossfade).reshape(*lead, -1)
    magnitudes = magnitudes_from_mel(mel, params, decoding)
    return waveform_from_magnitudes(magnitudes, params, seed, mel=mel, decoding=decoding)


def _pieces(frames: int, most: int, overlap: int) -> list[tuple[int, int]]:
    """Column ranges [a, b) of about equal pieces of at most `most` columns (at least
    2 * overlap + 1), each sharing `overlap` columns with the next; one piece if they all fit."""
    size = max(most, 2 * overlap + 1)
    if frames <= size:
        return [(0, frames)]
    count = math.ceil((frames - overlap) / (size - overlap))
    step = math.ceil((frames - overlap) / count)
    return [(a, min(frames, a + step + overlap)) for a in range(0, frames - overlap, step)]


def min_decodable_width(params: SpectrogramParams) -> int:
    """The fewest image columns `waveform_from_mel` decodes: its STFTs pad each end by half a
    window, by reflection, and need more audio than that."""
    hop, win = phase_grid(params)
    return win // (2 * hop) + 2


def check_decodable(width: int, params: SpectrogramParams) -> None:
    """Raises ValueError, in one line, for a spectrogram too narrow to decode."""
    least = min_decodable_width(params)
    if width < least:
        raise ValueError(
            f"a spectrogram {width} column{'s' * (width != 1)} wide is too narrow to decode: "
            f"need at least {least} ({(least - 1) * params.step_size_ms} ms of audio)"
        )


def magnitudes_from_mel(
    mel: torch.Tensor, params: SpectrogramParams, decoding: Decoding = Decoding()
) -> torch.Tensor:
    """Non-negative least-squares linear magnitudes for mel amplitudes.

    Starts from the clamped pseudo-inverse and refines with `decoding.nnls_iters` steps of
    accelerated projected gradient (FISTA, Beck & Teboulle 2009) on the win_length grid.

    Args:
        mel: (..., num_frequencies, frames).
    Returns:
        (..., win_length // 2 + 1, frames) non-negative.
    """
    a, a_t, pinv, step = _inversion(params, str(mel.device), decoding.sparse_on(mel.device))
    lead, frames = mel.shape[:-2], mel.shape[-1]
    # Columns of one big matrix: (num_frequencies, batch * frames).
    y = mel.reshape(-1, mel.shape[-2], frames).float().permute(1, 0, 2).reshape(mel.shape[-2], -1)
    x = torch.clamp(pinv @ y, min=0)
    aty = a_t @ y
    z, t = x, 1.0
    for _ in range(decoding.nnls_iters):
        x_next = torch.clamp(z - step * (a_t @ (a @ z) - aty), min=0)
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        z = x_next + ((t - 1) / t_next) * (x_next - x)
        x, t = x_next, t_next
    x = x.reshape(x.shape[0], -1, frames).permute(1, 0, 2)
    x = torch.nn.functional.pad(x, (0, 0, 0, params.win_length // 2 + 1 - x.shape[-2]))
    return x.reshape(*lead, x.shape[-2], frames)


@byte_cache(CACHE_BYTES)
def _inversion(params: SpectrogramParams, device: str, sparse: bool) -> tuple[torch.Tensor, ...]:
    """Matrices for solving mel = A @ s, s >= 0, on the window's own frequency grid, up to its
    last bin a mel band covers (the rest are zeros, about half of them for riffusion's 10 kHz):
    A, A^T (sparse CSR if `sparse`), a clamped-pseudo-inverse start matrix and the gradient step
    1 / ||A||^2.
    """
    a = _window_filterbank(params)
    a = a[:, : int(a.sum(dim=0).nonzero().max()) + 1]
    # Ridge pseudo-inverse a^T (a a^T + lambda I)^-1 via Cholesky of the small Gram matrix:
    # some mel rows are (nearly) dependent, where SVD or eigh crawl on the CPU.
    gram = a @ a.T
    largest = gram.abs().sum(dim=1).max()  # Gershgorin bound on the top eigenvalue
    ridge = torch.eye(gram.shape[0], dtype=gram.dtype) * (largest * 1e-6)
    pinv = torch.cholesky_solve(a, torch.linalg.cholesky(gram + ridge)).T
    step = 1.0 / largest
    to = functools.partial(torch.Tensor.to, device=device, dtype=torch.float32)
    return (*_filterbank_matrices(device, sparse, a, a.T), to(pinv), to(step))


@byte_cache(CACHE_BYTES)
def _window_filterbank(params: SpectrogramParams) -> torch.Tensor:
    """A in mel = A @ s for s on the window's own frequency grid, float64 on the CPU.

    The padded n_fft spectrum of a frame is its win_length spectrum interpolated by
    n_fft / win_length, so A is the mel filterbank times a linear interpolation from the coarse
    grid to the fine one.
    """
    n_fine = params.n_fft // 2 + 1
    n_coarse = params.win_length // 2 + 1
    fine_pos = torch.arange(n_fine, dtype=torch.float64) * (params.win_length / params.n_fft)
    lo = fine_pos.floor().long().clamp(max=n_coarse - 1)
    hi = (lo + 1).clamp(max=n_coarse - 1)
    frac = fine_pos - lo
    fb = mel_filterbank(params, n_fine)
    # fb @ interpolation, without the dense interpolation matrix: two taps per fine bin.
    a = torch.zeros(fb.shape[0], n_coarse, dtype=torch.float64)
    a.index_add_(1, lo, fb * (1 - frac))
    a.index_add_(1, hi, fb * frac)
    return a


@functools.lru_cache(maxsize=8)
def phase_grid(params: SpectrogramParams) -> tuple[int, int]:
    """(hop, window) in samples at the lowest sample rate, down to about half the original, that
    still holds all the image can: max_frequency plus 5 % under the Nyquist frequency, with an
    even window whose FFT is fast (no prime factor above 5). Its bins are the window grid's own,
    1 / window_duration apart, so magnitudes carry over unchanged; the original rate when
    nothing lower fits.

    For riffusion's format: 216 and 2160 samples at 21.6 kHz (10.8 kHz Nyquist), against 441 and
    4410 at 44.1 kHz: half the samples and a 5-smooth FFT size, so each phase-retrieval
    iteration costs about a third.
    """
    hop, win = params.hop_length, params.win_length
    # At most about half the rate, whatever max_frequency: the first and last frames see the
    # clip's ends reflected, and that corner's spectrum falls off only as 1 / f^2, so at a much
    # lower rate much more of it aliases into the band.
    lowest = math.ceil(hop * max(2.1 * params.max_frequency / params.sample_rate, 0.45))
    for low in range(lowest, hop):
        if (win * low) % hop == 0 and (win * low // hop) % 2 == 0 and _smooth(win * low // hop):
            return low, win * low // hop
    return hop, win


def waveform_from_magnitudes(
    magnitudes: torch.Tensor,
    params: SpectrogramParams,
    seed: int = 0,
    *,
    mel: torch.Tensor,
    decoding: Decoding = Decoding(),
) -> torch.Tensor:
    """Phase retrieval, seeded, mostly at the low sample rate of `phase_grid`.

    Three stages share `decoding.griffin_lim_iters`:
    - `coarse_share` of them on every `coarse_stride`-th frame, by relaxed averaged alternating
      reflections (RAAR, Luke 2005), which Peer et al. (2022) found to reach better
      spectrograms than Griffin-Lim; here, on real music, mel spectral convergence 0.044
      instead of 0.051 at 96 iterations, in the same time.
    - The rest on all frames, by fast Griffin-Lim (Perraudin et al. 2013), projecting onto the
      mel amplitudes themselves rather than onto fixed linear magnitudes, so the result
      converges towards what the image says, not towards a guess inside each band. RAAR's
      iterates are not spectrograms of a signal; these iterations settle it into one.
    - The last `finish` at the original rate: the first and last frames of a clip hang on a
      reflection of its ends, and at the low rate that reflection's corner aliases into the band.

    Args:
        magnitudes: (..., win_length // 2 + 1, frames) starting magnitudes.
        mel: (..., num_frequencies, frames) the mel amplitudes they came from.
    Returns:
        (..., (frames - 1) * hop_length) float32.
    """
    lead, (bins, frames) = magnitudes.shape[:-2], magnitudes.shape[-2:]
    hop, win = phase_grid(params)
    kept = win // 2 + 1
    mag = magnitudes.reshape(-1, bins, frames)[:, :kept].float()
    device = mag.device
    sparse = decoding.sparse_on(device)
    mel = mel.reshape(-1, *mel.shape[-2:]).to(device)
    # A centred STFT of an odd window gives one frame fewer than (frames - 1) * hop samples need.
    low_length = (frames - 1) * hop + win % 2
    length = (frames - 1) * params.hop_length + params.win_length % 2

    def at_low_rate(spec: torch.Tensor, hop_in: int, hop_out: int) -> torch.Tensor:
        return _stft(_istft(spec, win, hop_in, low_length), win, hop_out)

    # One draw of starting phases, shared by every spectrogram of the batch: a clip's samples
    # depend on its image and the seed only, not on where in a batch it is decoded.
    generator = torch.Generator("cpu").manual_seed(seed)
    phase = torch.rand(mag.shape[-2:], generator=generator) * (2 * math.pi)
    spec = torch.polar(mag, phase.to(device).expand_as(mag))
    iters, k, momentum = decoding.griffin_lim_iters, decoding.coarse_stride, decoding.momentum
    coarse = int(iters * decoding.coarse_share)
    fine = max(0, iters - coarse - decoding.finish)
    last = iters - coarse - fine  # at the original rate
    if coarse:
        spec = _raar(
            _frames_first(spec[..., ::k]),
            _magnitude_gain(mag[..., ::k]),
            lambda s: at_low_rate(s, k * hop, k * hop),
            coarse,
            decoding.relaxation,
        )
        spec = at_low_rate(spec, k * hop, hop)
    gain = _mel_gain(params, mel, kept, sparse)
    spec = _fgla(spec, gain, lambda s: at_low_rate(s, hop, hop), fine, momentum)
    # The same complex spectrum read at the original rate: empty above the kept band.
    empty = spec.new_zeros(spec.shape[0], frames, bins - kept)
    spec = torch.cat([spec.transpose(-1, -2), empty], dim=-1).transpose(-1, -2)  # frames first
    if last:
        full_hop, full_win = params.hop_length, params.win_length
        spec = _fgla(
            spec,
            _mel_gain(params, mel, bins, sparse),
            lambda s: _stft(_istft(s, full_win, full_hop, length), full_win, full_hop),
            last,
            momentum,
        )
    waveform = _istft(spec, params.win_length, params.hop_length, length)
    return waveform[..., : (frames - 1) * params.hop_length].reshape(*lead, -1)


# A gain: spec -> the real factor that projects spec onto a set of magnitudes.
Gain = Callable[[torch.Tensor], torch.Tensor]


def _raar(
    spec: torch.Tensor,
    gain: Gain,
    consistent: Callable[[torch.Tensor], torch.Tensor],
    iters: int,
    beta: float,
) -> torch.Tensor:
    """Relaxed averaged alternating reflections (Luke 2005): s <- beta / 2 * (s + R_C(R_A(s)))
    + (1 - beta) * P_A(s), with A the magnitudes, C the consistent spectrograms and R = 2 P - 1.
    With P_A(s) = g s that is s * (beta + (1 - 2 beta) g) + beta * P_C(s * (2 g - 1)), which
    takes fewer passes over memory. Returns the projection of the last iterate onto A."""
    for _ in range(iters):
        g = gain(spec)
        on_c = consistent(spec * (2 * g - 1))
        spec = spec.mul_(g.mul_(1 - 2 * beta).add_(beta)).add_(on_c, alpha=beta)
    return spec * gain(spec)


def _magnitude_gain(magnitudes: torch.Tensor) -> Gain:
    """The gain of the projection onto fixed magnitudes: magnitudes / |spec|."""
    magnitudes = _frames_first(magnitudes)

    def gain(spec: torch.Tensor) -> torch.Tensor:
        return magnitudes * _power(spec).clamp_(min=1e-30).rsqrt_()

    return gain


def _fgla(
    spec: torch.Tensor,
    gain: Gain,
    consistent: Callable[[torch.Tensor], torch.Tensor],
    iters: int,
    momentum: float,
) -> torch.Tensor:
    """Fast Griffin-Lim: alternate projections, with momentum on the consistent estimates.
    Starts and ends with the projection by `gain`."""
    spec = spec * gain(spec)
    previous = None
    for _ in range(iters):
        current = consistent(spec)
        accelerated = current.clone() if previous is None else _lerp(previous, current, 1 + momentum)
        previous = current
        spec = accelerated.mul_(gain(accelerated))
    return spec


def _mel_gain(params: SpectrogramParams, mel: torch.Tensor, bins: int, sparse: bool) -> Gain:
    """The gain of a projection onto the target mel amplitudes that keeps the spectral shape the
    current estimate has inside each mel band (a multiplicative update, as in NMF with the KL
    divergence, Lee & Seung 2001). Bins no mel band covers carry no information: zero.

    Works on rows (batch * frames, bins), the memory order of an STFT's output, so a spectrogram
    in that order is neither transposed nor copied.

    Args:
        mel: (B, num_frequencies, frames) targets.
    """
    a_t, a_normalised = _projection_matrices(params, bins, str(mel.device), sparse)
    target = mel.float().transpose(-1, -2).reshape(-1, mel.shape[-2])
    floor = 1e-8 * float(target.max()) + 1e-30

    def gain(spec: torch.Tensor) -> torch.Tensor:
        rows = _power(spec).sqrt_().transpose(-1, -2).reshape(-1, bins)
        gains = (target / (rows @ a_t).add_(floor)) @ a_normalised
        return gains.view(spec.shape[0], -1, bins).transpose(-1, -2)

    return gain


@byte_cache(CACHE_BYTES)
def _projection_matrices(
    params: SpectrogramParams, bins: int, device: str, sparse: bool
) -> tuple[torch.Tensor, ...]:
    """A^T (bins, num_frequencies) of `_window_filterbank` cut to its first `bins` bins, and A
    with each column divided by its sum (zero where no mel band looks): the multiplicative
    update's back-projection. Sparse CSR if `sparse`."""
    full = _window_filterbank(params)
    if float(full[:, bins:].abs().sum()) > 0:
        raise ValueError(f"{bins} bins cut off mel bands of {params}")
    a = full[:, :bins]
    cover = a.sum(dim=0)
    inverse_cover = torch.where(cover > 0, 1 / cover.clamp(min=1e-12), 0.0)
    return _filterbank_matrices(device, sparse, a.T, a * inverse_cover)


# Speed: cached matrices and windows, sparse or dense products, FFT sizes and memory order.
# None of these changes the algorithm, only how fast it runs (and, sparse or dense, rounding).


@byte_cache(CACHE_BYTES)
def _filterbank(params: SpectrogramParams, n_freqs: int, device: str) -> torch.Tensor:
    """`mel_filterbank` in float32 on `device`, made once."""
    return mel_filterbank(params, n_freqs).float().to(device)


def _filterbank_matrices(device: str, sparse: bool, *matrices: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Float32 copies on `device`: sparse CSR if `sparse`, else dense (see `Decoding.sparse`)."""
    out = tuple(m.to(device=device, dtype=torch.float32).contiguous() for m in matrices)
    if not sparse:
        return out
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return tuple(m.to_sparse_csr() for m in out)


@functools.lru_cache(maxsize=16)
def _hann(length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A Hann window, made once per size, device and dtype (phase retrieval asks for it twice
    an iteration)."""
    return torch.hann_window(length, device=device, dtype=dtype)


def _stft(y: torch.Tensor, win: int, hop: int) -> torch.Tensor:
    """Centred, reflect-padded STFT with a Hann window of `win`, as the encoder's (unpadded)."""
    return torch.stft(
        y,
        win,
        hop,
        window=_hann(win, y.device, y.dtype),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )


def _istft(spec: torch.Tensor, win: int, hop: int, length: int) -> torch.Tensor:
    """Inverse of `_stft`, `length` samples."""
    window = _hann(win, spec.device, spec.real.dtype)
    return torch.istft(spec, win, hop, window=window, center=True, length=length)


def _smooth(n: int) -> bool:
    """No prime factor above 5: the sizes FFT libraries are fastest at."""
    for prime in (2, 3, 5):
        while n % prime == 0:
            n //= prime
    return n == 1


def _frames_first(x: torch.Tensor) -> torch.Tensor:
    """x (..., bins, frames) with frames before bins in memory, as an STFT's output has them:
    elementwise work between tensors of different memory orders is several times slower."""
    return x.transpose(-1, -2).contiguous().transpose(-1, -2)


def _power(spec: torch.Tensor) -> torch.Tensor:
    """|spec|^2, from the real pairs (several times faster than abs())."""
    parts = torch.view_as_real(spec)
    return torch.addcmul(parts[..., 0].square(), parts[..., 1], parts[..., 1])


def _lerp(start: torch.Tensor, end: torch.Tensor, weight: float) -> torch.Tensor:
    """start + weight * (end - start) for complex tensors, on their real pairs (faster)."""
    return torch.view_as_complex(torch.lerp(torch.view_as_real(start), torch.view_as_real(end), weight))
