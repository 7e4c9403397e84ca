"""SpliceAI-10k as a feature extractor: splice-site profiles and pooled penultimate channels.

The official release is an ensemble of five Keras models whose per-position softmax outputs
(neither / acceptor / donor) are averaged; genofm does the same and reads them with h5py
(``spliceai_keras``) into an exact PyTorch port (``spliceai_model``). Each sequence is embedded
as if flanked by 5,000 N on each side, as the official tool does.

Features (all pooled over the sequence's own positions, so any length works):

* ``splice_sites`` group, from the ensemble-averaged probabilities, as log10(p + 1e-6) because
  splice probabilities span many orders of magnitude: ``{acceptor,donor}_max_log10``,
  ``{acceptor,donor}_mean_log10`` and ``{acceptor,donor}_binNN_max_log10`` for ``bins`` equal
  stretches of the sequence (5' to 3'), which keep where a strong site sits.
* ``penultimate`` group, per model (channels are not comparable across models, so they are not
  averaged): ``m<model>_penCC_mean`` and ``m<model>_penCC_max``, the mean and max over positions of
  each of the 32 summed skip channels that the output layer reads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from genofm.backbones.base import Backbone, BackboneOptions
from genofm.backbones.spliceai_keras import load_spliceai_net
from genofm.backbones.threads import cpu_workers, run_tasks, torch_threads
from genofm.device import autocast
from genofm.errors import GenofmError
from genofm.options import option
from genofm.sequence import encode

#: probabilities are floored at this value before taking log10
LOG_FLOOR = 1e-6
#: with more than one CPU thread allowed, a batch of fewer positions than this (sequences x longest
#: sequence) still runs its models one after another on one thread. On the 2-core machine two
#: sequences of 1 kb in parallel took 1.40-1.46x the CPU time of one thread in two benchmark runs
#: for a wall-time gain of 0.38 -> 0.33 s at best (100 bp: 1.17-1.28x), while 5-10 kb gained
#: 0.86 -> 0.64 and 1.55 -> 0.92 s when a second core was free
PARALLEL_MIN_POSITIONS = 4000


def default_weights_dir() -> Path:
    """Where ``make setup`` extracts the five official models."""
    cache = Path(os.environ.get("GENOFM_CACHE", Path.home() / ".cache" / "genofm"))
    return cache / "resources" / "spliceai"


@dataclasses.dataclass
class SpliceAIOptions(BackboneOptions):
    models: str = option("1,2,3,4,5", "comma-separated model numbers N to load as spliceaiN.h5 from a weights folder and average "
                                      "(fewer is proportionally faster); ignored when --weights is a single .h5 file")
    bins: int = option(10, "number of equal sequence stretches with their own acceptor/donor max feature (0 = none)")


class SpliceAIBackbone(Backbone):
    name = "spliceai"
    Options = SpliceAIOptions
    needs_weights = False
    default_batch_size = 32
    feature_help = (
        "`acceptor_max_log10` / `donor_max_log10`: log10 of the highest splice acceptor / donor probability at any "
        "position of the sequence (mean of the loaded SpliceAI models, floored at 1e-6; 0 is certain, -6 is none). "
        "`acceptor_mean_log10` / `donor_mean_log10`: log10 of the mean probability over the sequence. "
        "`acceptor_binNN_max_log10` / `donor_binNN_max_log10`: the highest probability within the NN-th of `-O bins` "
        "equal stretches of the sequence, 5' to 3' (bin01 is the 5' end), which keeps where a strong site sits. "
        "`mM_penCC_mean` / `mM_penCC_max`: mean and maximum over the sequence of channel CC (00-31) of model M's "
        "penultimate layer (the summed skip connections its output layer reads); these channels have no biological "
        "name and differ between models."
    )
    #: the residual stack keeps a few 32-channel float32 tensors per position, for each of up to five models
    bytes_per_base = 4096
    #: every row is computed with 5,000 N of context on each side
    row_overhead_bases = 10_000

    def __init__(self, options: SpliceAIOptions, weights: Path | None, device="cpu", precision: str = "fp32"):
        super().__init__(options, weights if weights is not None else default_weights_dir(), device, precision)
        if options.bins < 0:
            raise GenofmError(f"backbone 'spliceai' option bins={options.bins} must be 0 or more")
        self.model_labels, files = self._model_files(options.models)
        self.nets = [load_spliceai_net(f).to(self.device) for f in files]
        self.channels = self.nets[0].stem.out_channels
        self.flank = self.nets[0].crop

    def _model_files(self, models: str) -> tuple[list[str], list[Path]]:
        path = self.weights
        if path.is_file():
            match = re.search(r"(\d+)$", path.stem)
            return [match.group(1) if match else "1"], [path]
        if not path.is_dir():
            raise GenofmError(f"{path}: SpliceAI weights not found; pass --weights with a folder of spliceai1..5.h5 or one .h5 file")
        try:
            numbers = [int(m) for m in models.split(",") if m.strip()]
        except ValueError:
            raise GenofmError(f"backbone 'spliceai' option models={models!r} must be comma-separated integers like 1,2,3,4,5") from None
        if not numbers or len(set(numbers)) != len(numbers):
            raise GenofmError(f"backbone 'spliceai' option models={models!r} must list distinct model numbers like 1,2,3,4,5")
        files = [path / f"spliceai{n}.h5" for n in numbers]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise GenofmError(f"{path}: missing {', '.join(missing)}; put the official SpliceAI models there or change -O models=")
        return [str(n) for n in numbers], files

    @property
    def feature_names(self) -> list[str]:
        names = []
        for site in ("acceptor", "donor"):
            names += [f"{site}_max_log10", f"{site}_mean_log10"]
            names += [f"{site}_bin{j:02d}_max_log10" for j in range(1, self.options.bins + 1)]
        for label in self.model_labels:
            for c in range(self.channels):
                names += [f"m{label}_pen{c:02d}_mean", f"m{label}_pen{c:02d}_max"]
        return names

    def feature_groups(self) -> dict[str, np.ndarray]:
        n_profile = 2 * (2 + self.options.bins)
        n_total = len(self.feature_names)
        return {"splice_sites": np.arange(n_profile), "penultimate": np.arange(n_profile, n_total)}

    def one_hot(self, sequences: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 4, Lmax) one-hot with N = 0, right-padded with N, and the true lengths.

        Right padding with N is exact for each sequence's own positions: the official model
        sees N (zeros) beyond the sequence anyway, and the 5,000-bp flank covers the reach.
        """
        lengths = np.array([len(s) for s in sequences])
        if len(sequences) == 0:
            return torch.zeros(0, 4, 0), torch.zeros(0, dtype=torch.long)
        if lengths.min() == 0:
            raise GenofmError("an empty sequence reached the spliceai backbone; re-create the dataset with genofm-prepare")
        codes = np.full((len(sequences), lengths.max()), 4, dtype=np.int64)
        for i, seq in enumerate(sequences):
            codes[i, : lengths[i]] = encode(seq)
        onehot = torch.nn.functional.one_hot(torch.from_numpy(codes), 5)[..., :4].permute(0, 2, 1).float()
        return onehot.contiguous(), torch.from_numpy(lengths)

    def predict(self, sequences: Sequence[str]) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Ensemble-mean probabilities (B, 3, Lmax), each model's penultimate (B, C, Lmax), lengths."""
        workers = cpu_workers(self.device)
        with _one_intra_op_thread(self.device):
            x, lengths = self.one_hot(sequences)
            x = x.to(self.device)
            outputs = self._run_nets(x, workers)
            probs = outputs[0][0]
            for p, _ in outputs[1:]:
                probs = probs + p
            return probs / len(self.nets), [pen for _, pen in outputs], lengths.to(x.device)

    def _run_nets(self, x: torch.Tensor, workers: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Every model on ``x``: (probabilities, penultimate) per model, in model order.

        SpliceAI's 32-channel convolutions are too small for PyTorch's intra-op threads: at two
        threads they burned 2.5-7x the CPU time of one thread for the same work. So with ``workers``
        > 1 (on a CPU, ``torch.get_num_threads()``) the work is cut into independent (model, batch
        slice) tasks run by :func:`genofm.backbones.threads.run_tasks`, by the fixed rule of
        :func:`parallel_slices`. The results are the same computations, only in other threads.
        """
        device = torch.device(self.device)
        slices = parallel_slices(x.shape[0], x.shape[-1], len(self.nets), workers)
        if slices == 0:
            return [_net_outputs(net, x, device, self.precision) for net in self.nets]
        chunks = x.tensor_split(slices)
        tasks = [functools.partial(_net_outputs, net, chunk, device, self.precision) for net in self.nets for chunk in chunks]
        done = run_tasks(tasks, workers)
        out = []
        for i in range(len(self.nets)):
            parts = done[i * len(chunks) : (i + 1) * len(chunks)]
            out.append((torch.cat([p for p, _ in parts]), torch.cat([pen for _, pen in parts])))
        return out

    def embed_batch(self, sequences: Sequence[str]) -> np.ndarray:
        if len(sequences) == 0:
            return np.zeros((0, len(self.feature_names)), dtype=np.float32)
        probs, pens, lengths = self.predict(sequences)
        with _one_intra_op_thread(self.device):
            return self._pool(probs, pens, lengths)

    def _pool(self, probs: torch.Tensor, pens: list[torch.Tensor], lengths: torch.Tensor) -> np.ndarray:
        """The feature row of each sequence from :meth:`predict`'s outputs (see the module docstring)."""
        positions = torch.arange(probs.shape[-1], device=probs.device)
        valid = positions[None, :] < lengths[:, None]  # (B, Lmax)
        sites = probs[:, 1:3]  # acceptor, donor
        parts = []
        for channel in range(2):
            profile = sites[:, channel]
            columns = [_masked_max(profile, valid), _masked_mean(profile, valid, lengths)]
            for j in range(self.options.bins):
                start = (j * lengths) // self.options.bins
                end = torch.maximum(start + 1, ((j + 1) * lengths) // self.options.bins)
                in_bin = (positions[None, :] >= start[:, None]) & (positions[None, :] < end[:, None])
                columns.append(_masked_max(profile, in_bin))
            parts.append(torch.log10(torch.stack(columns, dim=1) + LOG_FLOOR))
        for pen in pens:
            mean = _masked_mean(pen, valid[:, None, :], lengths[:, None])
            peak = _masked_max(pen, valid[:, None, :])
            parts.append(torch.stack([mean, peak], dim=2).reshape(pen.shape[0], -1))  # channel-major: mean, max
        return torch.cat(parts, dim=1).float().cpu().numpy()

    def embed_long(self, sequence: str, tile_bases: int) -> np.ndarray:
        """Exact tiling, as the official tool scores long sequences block by block.

        Each tile of ``tile_bases`` positions is predicted with up to 5,000 bp of the real sequence
        on either side (N beyond the sequence ends), which is all a position's output can see, so
        every position gets the value the whole-sequence pass gives; the pooled statistics (max,
        mean, per-bin max) are then combined over tiles.
        """
        length = len(sequence)
        if length == 0:
            raise GenofmError("an empty sequence reached the spliceai backbone; re-create the dataset with genofm-prepare")
        bins = self.options.bins
        bin_start = [(j * length) // bins for j in range(bins)]
        bin_end = [max(bin_start[j] + 1, ((j + 1) * length) // bins) for j in range(bins)]
        site_max = np.full(2, -np.inf)
        site_sum = np.zeros(2)
        bin_max = np.full((2, bins), -np.inf)
        pen_sum = np.zeros((len(self.nets), self.channels))
        pen_max = np.full((len(self.nets), self.channels), -np.inf)
        for start in range(0, length, tile_bases):
            end = min(length, start + tile_bases)
            lo, hi = max(0, start - self.flank), min(length, end + self.flank)
            probs, pens, _ = self.predict([sequence[lo:hi]])
            sites = probs[0, 1:3, start - lo : end - lo].double().cpu().numpy()
            site_max = np.maximum(site_max, sites.max(axis=1))
            site_sum += sites.sum(axis=1)
            for j in range(bins):
                a, b = max(bin_start[j], start), min(bin_end[j], end)
                if a < b:
                    bin_max[:, j] = np.maximum(bin_max[:, j], sites[:, a - start : b - start].max(axis=1))
            for m, pen in enumerate(pens):
                values = pen[0, :, start - lo : end - lo].double().cpu().numpy()
                pen_sum[m] += values.sum(axis=1)
                pen_max[m] = np.maximum(pen_max[m], values.max(axis=1))
        parts = []
        for channel in range(2):
            columns = np.concatenate([[site_max[channel], site_sum[channel] / length], bin_max[channel]])
            parts.append(np.log10(columns + LOG_FLOOR))
        for m in range(len(self.nets)):
            parts.append(np.stack([pen_sum[m] / length, pen_max[m]], axis=1).reshape(-1))
        return np.concatenate(parts).astype(np.float32)


def parallel_slices(batch: int, length: int, models: int, workers: int) -> int:
    """How many batch slices the models run on in parallel tasks; 0 to run them in turn in this thread.

    A fixed rule, never a timing: parallel (model, slice) tasks only with more than one worker,
    more than one task, and at least ``PARALLEL_MIN_POSITIONS`` positions (``batch * length``) in
    the batch; then ``min(batch, workers)`` slices, so that models x slices tasks keep every
    worker busy.
    """
    if workers <= 1 or models * batch <= 1 or batch * length < PARALLEL_MIN_POSITIONS:
        return 0
    return min(batch, workers)


def _one_intra_op_thread(device):
    """Run the enclosed operators on one intra-op thread (CPU), restoring the caller's setting after.

    Everything SpliceAI does outside its model tasks (one-hot coding, the ensemble mean, pooling)
    is small. Left at the caller's intra-op thread count, those operators wake OpenMP threads
    that then spin beside the model tasks: at 2 threads and 1 kb, the backbone took 1.5-1.9x the
    CPU time of 1 thread with them, 1.0-1.15x without (same run, shared machine).
    """
    return torch_threads(1) if torch.device(device).type == "cpu" else contextlib.nullcontext()


def _net_outputs(net, x: torch.Tensor, device: torch.device, precision: str):
    with torch.inference_mode(), autocast(device, precision):
        return net(x)


def _masked_max(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return values.masked_fill(~mask, float("-inf")).amax(dim=-1)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum(dim=-1) / lengths
