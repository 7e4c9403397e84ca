"""SpliceAI at 100 bp to 10 kb, 1 and 2 threads: genofm against the full-length computation, same run.

The reference is what the official Keras model computes: every one of the five models over all
L + 10,000 positions (the sequence with 5,000 N on each side), one model after another, with
the framework's own intra-op threads (``SpliceAINet.forward_full``, the graph the port reads
from the HDF5 files, checked against a NumPy evaluation of the Keras graph in
``tests/unit/test_spliceai_faithful.py``). TensorFlow is not part of genofm's environment;
``--keras PYTHON`` also times the official Keras models as the official tool calls them
(``model.predict`` per model on the N-flanked one-hot), with an interpreter that has TensorFlow
2.x (``benchmarks/spliceai_keras_timer.py``: a process per length and thread count, whose runs
interleave with genofm's repeats), and checks genofm's probabilities against Keras'. One way to get
such an interpreter: ``python -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu==2.15.1 'numpy<2'``.

genofm computes each layer only on the window its receptive field needs (``SpliceAINet.forward``),
the 41-tap dilated convolutions by FFT where that is faster (``fft_conv``; whole phases in the
window's own memory order), and, with more than one thread, runs (model, batch slice) tasks in
parallel threads with one intra-op thread each (batches under ``spliceai.PARALLEL_MIN_POSITIONS``
positions run on one thread). Both produce the backbone's features through the same pooling code, so
max |difference| compares the features themselves (relative for features above 1 in magnitude:
the pooled 32-channel penultimate values reach ~80, where float32 rounding alone is ~1e-5). Both
float32 computations are also compared with the same full-length computation in float64 (the
exact features, computed once per length and not timed): two float32 results can differ by the
sum of their rounding errors, so the accuracy target is checked against float64, with the float32
reference's own error beside it for scale.

Per length and thread count: seconds and CPU seconds for ``--n`` sequences, the speed-up over
the reference (wall and CPU), genofm's CPU time at 2 threads over 1 thread, the FLOPs per
sequence counted from the architecture (full length, all five models) and those genofm
executes (for its FFT convolutions, the transforms' and complex products' operations), the achieved rate as a fraction of a large fp32 matmul measured in the same run, and
the load average.

With ``--direct``, genofm with every convolution direct (no FFT) is timed in the same interleaved
repeats ("no FFT" rows): the FFT path's before/after in one run; with ``--baseline-model FILE``,
genofm with another version's ``spliceai_model.py`` and the same weights ("baseline" rows).
genofm's tools keep freed memory in the heap (``genofm.heap``), and so does this benchmark unless
``--default-heap``.

    python benchmarks/bench_spliceai.py [--lengths 100,1000,5000,10000] [--n 2] [--threads 1,2] [--direct]
        [--baseline-model FILE] [--keras PYTHON] [--default-heap]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from genofm import sequence as genofm_sequence
from genofm.backbones.spliceai import SpliceAIBackbone, SpliceAIOptions, default_weights_dir
from genofm.backbones.spliceai_model import SpliceAINet, conv_flops
from genofm.backbones.threads import torch_threads
from genofm.heap import keep_freed_memory
from roofline import best_times, describe, load_average, machine_peak


class ReferenceSpliceAI(SpliceAIBackbone):
    """The same backbone and features, computed the way Keras does: full length, models in turn."""

    def _run_nets(self, x, workers=1):
        with torch.inference_mode(), torch_threads(workers):
            padded = torch.nn.functional.pad(x, (self.flank, self.flank))
            return [net.forward_full(padded) for net in self.nets]


class ExactSpliceAI(SpliceAIBackbone):
    """The full-length computation in float64: the features both float32 computations approximate."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for net in self.nets:
            net.double()

    def _run_nets(self, x, workers=1):
        with torch.inference_mode(), torch_threads(workers):
            padded = torch.nn.functional.pad(x.double(), (self.flank, self.flank))
            return [net.forward_full(padded) for net in self.nets]


def relative_diff(values: np.ndarray, exact: np.ndarray) -> float:
    """max |values - exact| / max(|exact|, 1): relative for features above 1 in magnitude."""
    return float((np.abs(values - exact) / np.maximum(np.abs(exact), 1.0)).max())


class DirectSpliceAI(SpliceAIBackbone):
    """genofm with every convolution direct (no FFT path): the same run's before/after for the FFT."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for net in self.nets:
            net.use_fft = False


class BaselineSpliceAI(SpliceAIBackbone):
    """genofm with the model code of another version (``--baseline-model FILE``, e.g. the output of
    ``git show REV:src/genofm/backbones/spliceai_model.py``) and the same weights: before/after in one run."""

    def __init__(self, options, weights, model_file: Path):
        super().__init__(options, weights)
        spec = importlib.util.spec_from_file_location("baseline_spliceai_model", model_file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        nets = []
        for net in self.nets:
            baseline = module.SpliceAINet().eval()
            baseline.load_state_dict(net.state_dict())
            nets.append(baseline)
        self.nets = nets


class BeforeSpliceAI(SpliceAIBackbone):
    """genofm before threading: windowed models in turn, parallel only through intra-op threads."""

    def _run_nets(self, x, workers=1):
        with torch.inference_mode(), torch_threads(workers):
            return [net(x) for net in self.nets]


def full_flops(net: SpliceAINet, length: int) -> int:
    """FLOPs of one model over length + 2 * crop positions (2 per multiply-add)."""
    positions = length + 2 * net.crop
    c = net.stem.out_channels
    per_position = 2 * 4 * c + len(net.skips) * 2 * c * c
    per_position += sum(2 * 2 * c * c * unit.conv1.kernel_size[0] for unit in net.units)
    return per_position * positions + 2 * c * net.head.out_channels * length


def windowed_flops(net: SpliceAINet, length: int, fft: bool = True) -> int:
    """FLOPs genofm's windowed forward executes: each convolution only on the window it needs,
    directly or, where ``spliceai_model.fft_length`` picks it, by FFT (the FFT's and the complex
    channel mixing's operations counted, see ``spliceai_model.conv_flops``)."""
    c = net.stem.out_channels
    total_radius = net.receptive_radius
    flops, reach = 2 * 4 * c * length, 0
    for unit in net.units:
        k, d = unit.conv1.kernel_size[0], unit.conv1.dilation[0]
        for _ in range(2):
            reach += unit.radius
            width = min(reach, total_radius - reach)
            flops += conv_flops(c, c, k, d, length + 2 * width) if fft else 2 * c * c * k * (length + 2 * width)
    return flops + len(net.skips) * 2 * c * c * length + 2 * c * net.head.out_channels * length


class KerasSession:
    """The official Keras models in a process of their own (``spliceai_keras_timer.py`` with
    ``python``, an interpreter with TensorFlow), run once per :meth:`run`: a runner for
    ``roofline.best_times``, so that Keras' timed repeats interleave with genofm's under the same
    machine load. The timings are the ones the Keras process measures around its own runs.
    """

    def __init__(self, process: subprocess.Popen, errors, tensorflow: str):
        self.process, self.errors, self.tensorflow = process, errors, tensorflow
        self.walls: list[float] = []
        self.cpus: list[float] = []

    @classmethod
    def start(cls, python: str, weights: Path, sequences: list[str], threads: int, flank: int = 5000) -> tuple[KerasSession | None, str]:
        """Start the process and wait for its models to be loaded and warmed up; None and the reason
        when it cannot run."""
        request = {"weights": str(weights), "sequences": sequences, "flank": flank, "threads": threads}
        source = str(Path(genofm_sequence.__file__).resolve().parents[1])  # the timer codes bases with genofm.sequence
        env = {**os.environ, "OMP_NUM_THREADS": str(threads),
               "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
        errors = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: TensorFlow's log cannot fill it and block the process
        try:
            process = subprocess.Popen([python, str(Path(__file__).with_name("spliceai_keras_timer.py"))], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=errors, text=True, env=env)
        except OSError as exc:
            errors.close()
            return None, f"Keras reference not available ({python}: {exc})"
        session = cls(process, errors, "")
        ready = session._ask(json.dumps(request))
        if ready is None:
            return None, f"Keras reference not available ({python}: {session._stop()})"
        session.tensorflow = ready["tensorflow"]
        return session, "official Keras models"

    def _ask(self, line: str) -> dict | None:
        """Send one line, read the JSON answer; None when the process has ended."""
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline()
        except (BrokenPipeError, OSError):
            return None
        return json.loads(answer) if answer.strip() else None

    def _stop(self) -> str:
        """End the process; the last line of its standard error."""
        self.process.kill()
        self.process.wait()
        self.errors.seek(0)
        last = (self.errors.read().strip().splitlines() or ["no message"])[-1]
        self.errors.close()
        return last

    def run(self) -> None:
        answer = self._ask("run")
        if answer is None:
            raise RuntimeError(f"the Keras timer stopped: {self._stop()}")
        self.walls.append(answer["wall"])
        self.cpus.append(answer["cpu"])

    def finish(self) -> dict:
        """Best wall and CPU seconds of the runs, the TensorFlow version and the last run's probabilities."""
        answer = self._ask("done")
        self.process.wait()
        self.errors.close()
        if answer is None:
            raise RuntimeError("the Keras timer ended without its probabilities")
        return {"wall": min(self.walls), "cpu": min(self.cpus), "tensorflow": self.tensorflow, "probabilities": answer["probabilities"]}


def keras_diff(genofm: SpliceAIBackbone, sequences: list[str], probabilities: list) -> float:
    """max |genofm's five-model mean probabilities - Keras'| over every kept position of every sequence."""
    with torch.inference_mode():
        mean, _, _ = genofm.predict(sequences)
    return max(float(np.abs(mean[i, :, : len(s)].T.numpy() - np.asarray(p)).max()) for i, (s, p) in enumerate(zip(sequences, probabilities)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="100,1000,5000,10000")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--n", type=int, default=2, help="sequences per length (one batch)")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats (best kept), after one warm-up; genofm and the reference interleaved")
    parser.add_argument("--weights", type=Path, default=None, help="folder with spliceai1..5.h5 (default: make setup's copy)")
    parser.add_argument("--before", action="store_true", help="also time genofm as it was before threading (intra-op threads only)")
    parser.add_argument("--direct", action="store_true", help="also time genofm with every convolution direct (no FFT), interleaved with the others")
    parser.add_argument("--baseline-model", type=Path, default=None, metavar="FILE",
                        help="also time genofm with this spliceai_model.py (e.g. from 'git show REV:src/genofm/backbones/spliceai_model.py'), "
                             "same weights, interleaved with the others ('baseline' rows)")
    parser.add_argument("--default-heap", action="store_true",
                        help="leave glibc's malloc thresholds at their defaults (the genofm tools keep freed memory: genofm.heap)")
    parser.add_argument("--keras", nargs="?", const=sys.executable, default=None, metavar="PYTHON",
                        help="also time the official Keras models with PYTHON, an interpreter with TensorFlow 2.x "
                             "(default: this one), in a process per length and thread count, its runs interleaved with genofm's")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.default_heap:
        keep_freed_memory()  # as the genofm tools do (genofm.cli.common.run_app)
    lengths = [int(v) for v in args.lengths.split(",")]
    thread_counts = [int(v) for v in args.threads.split(",")]
    options = SpliceAIOptions()
    weights = args.weights or default_weights_dir()
    genofm = SpliceAIBackbone(options, weights)
    reference = ReferenceSpliceAI(options, args.weights)
    before = BeforeSpliceAI(options, args.weights) if args.before else None
    direct = DirectSpliceAI(options, args.weights) if args.direct else None
    baseline = BaselineSpliceAI(options, args.weights, args.baseline_model) if args.baseline_model else None
    exact = ExactSpliceAI(options, args.weights)
    net = genofm.nets[0]
    rng = np.random.default_rng(0)
    results = {"rows": []}
    peaks = {}
    for threads in thread_counts:
        torch.set_num_threads(threads)
        peaks[threads] = machine_peak("cpu")
    results["peak_flops"] = {t: dataclasses.asdict(p) for t, p in peaks.items()}
    print(f"# SpliceAI-10k, {len(genofm.nets)} official models, {args.n} sequences per length, fp32 CPU; peak (best of a matmul and a "
          f"convolution, same run) " + "; ".join(f"{peaks[t]} at {t} thread(s)" for t in thread_counts) + f"; {load_average()}")
    print(f"{'length':>6s} {'thr':>3s} {'implementation':10s} {'s':>7s} {'cpu s':>7s} {'x wall':>6s} {'x cpu':>6s} "
          f"{'cpu/1thr':>8s} {'max|diff|':>9s} {'vs f64':>9s}  achieved (fraction of the same thread count's peak)")
    cpu_one_thread = {}
    for length in lengths:
        seqs = ["".join(rng.choice(list("ACGT"), size=length)) for _ in range(args.n)]
        arch = len(genofm.nets) * full_flops(net, length)
        executed = len(genofm.nets) * windowed_flops(net, length)
        direct_flops = len(genofm.nets) * windowed_flops(net, length, fft=False)
        print(f"# {length} bp: {arch / 1e9:.1f} GFLOP per sequence (architecture, full length, 5 models); "
              f"genofm executes {executed / 1e9:.1f} GFLOP ({arch / executed:.2f}x fewer; its FFT convolutions counted as "
              f"executed: transforms at 2.5 n log2 n, complex products at 8 per multiply-add)")
        torch.set_num_threads(max(thread_counts))
        exact_out = exact.embed_batch(seqs)  # float64, full length: the features the float32 runs approximate
        for threads in thread_counts:
            torch.set_num_threads(threads)
            peak = peaks[threads]
            genofm.embed_batch(seqs[:1])  # warm-up
            runners = {"reference": lambda: reference.embed_batch(seqs), "genofm": lambda: genofm.embed_batch(seqs)}
            if direct is not None:
                direct.embed_batch(seqs[:1])
                runners["direct"] = lambda: direct.embed_batch(seqs)
            if baseline is not None:
                baseline.embed_batch(seqs[:1])
                runners["baseline"] = lambda: baseline.embed_batch(seqs)
            keras = None
            if args.keras:
                keras, keras_label = KerasSession.start(args.keras, weights, seqs, threads, genofm.flank)
                if keras is not None:
                    runners["keras"] = keras.run
            timings = best_times(runners, args.repeats, warm_up=False)
            (ref_wall, ref_cpu, ref_out), (wall, cpu, out) = timings["reference"], timings["genofm"]
            diff = relative_diff(out, ref_out)
            exact_diff, ref_exact_diff = relative_diff(out, exact_out), relative_diff(ref_out, exact_out)
            cpu_one_thread.setdefault(length, cpu)
            cpu_ratio = cpu / cpu_one_thread[length]
            load = load_average()
            print(f"{length:6d} {threads:3d} {'reference':10s} {ref_wall:7.2f} {ref_cpu:7.2f} {1.0:6.2f} {1.0:6.2f} {'':8s} {0.0:9.2e} "
                  f"{ref_exact_diff:9.2e}  "
                  f"{describe(arch, args.n, ref_wall, peak, ref_cpu)}")
            print(f"{length:6d} {threads:3d} {'genofm':10s} {wall:7.2f} {cpu:7.2f} {ref_wall / wall:6.2f} {ref_cpu / cpu:6.2f} "
                  f"{cpu_ratio:8.2f} {diff:9.2e} {exact_diff:9.2e}  {describe(executed, args.n, wall, peak, cpu)} executed; {load}", flush=True)
            if direct is not None:
                d_wall, d_cpu, d_out = timings["direct"]
                d_diff = relative_diff(d_out, ref_out)
                d_cpu_one = results.setdefault("direct_cpu_one_thread", {}).setdefault(length, d_cpu)
                print(f"{length:6d} {threads:3d} {'no FFT':10s} {d_wall:7.2f} {d_cpu:7.2f} {ref_wall / d_wall:6.2f} {ref_cpu / d_cpu:6.2f} "
                      f"{d_cpu / d_cpu_one:8.2f} {d_diff:9.2e} {relative_diff(d_out, exact_out):9.2e}  "
                      f"{describe(direct_flops, args.n, d_wall, peak, d_cpu)} executed", flush=True)
            if baseline is not None:
                base_wall, base_cpu, base_out = timings["baseline"]
                base_cpu_one = results.setdefault("baseline_cpu_one_thread", {}).setdefault(length, base_cpu)
                print(f"{length:6d} {threads:3d} {'baseline':10s} {base_wall:7.2f} {base_cpu:7.2f} {ref_wall / base_wall:6.2f} {ref_cpu / base_cpu:6.2f} "
                      f"{base_cpu / base_cpu_one:8.2f} {relative_diff(base_out, ref_out):9.2e} {relative_diff(base_out, exact_out):9.2e}  "
                      f"genofm / baseline: {wall / base_wall:.3f} wall, {cpu / base_cpu:.3f} CPU", flush=True)
            row = {"length": length, "threads": threads, "reference_s": ref_wall, "reference_cpu_s": ref_cpu, "genofm_s": wall,
                   "genofm_cpu_s": cpu, "speedup": ref_wall / wall, "speedup_cpu": ref_cpu / cpu, "cpu_vs_one_thread": cpu_ratio,
                   "max_abs_diff": diff, "max_diff_vs_float64": exact_diff, "reference_max_diff_vs_float64": ref_exact_diff,
                   "flops_per_sequence": arch, "executed_flops_per_sequence": executed, "load": load}
            if baseline is not None:
                row.update({"baseline_s": base_wall, "baseline_cpu_s": base_cpu, "baseline_speedup": ref_wall / base_wall})
            if direct is not None:
                row.update({"direct_s": d_wall, "direct_cpu_s": d_cpu, "direct_speedup": ref_wall / d_wall, "direct_max_abs_diff": d_diff})
            if args.keras:
                if keras is None:
                    print(f"#   {keras_label}")
                else:
                    k = keras.finish()
                    k_diff = keras_diff(genofm, seqs, k["probabilities"])
                    row.update({"keras_s": k["wall"], "keras_cpu_s": k["cpu"], "speedup_vs_keras": k["wall"] / wall,
                                "speedup_vs_keras_cpu": k["cpu"] / cpu, "keras_max_abs_diff_probabilities": k_diff})
                    print(f"{length:6d} {threads:3d} {'keras':10s} {k['wall']:7.2f} {k['cpu']:7.2f} {'':6s} {'':6s} {'':8s} "
                          f"{k_diff:9.2e}  genofm {k['wall'] / wall:.2f}x wall, {k['cpu'] / cpu:.2f}x CPU "
                          f"(TensorFlow {k['tensorflow']}; max|diff| of the probabilities; {load_average()})", flush=True)
            if before is not None:
                before.embed_batch(seqs[:1])
                b_wall, b_cpu, b_out = best_times({"before": lambda: before.embed_batch(seqs)}, args.repeats, warm_up=False)["before"]
                b_diff = relative_diff(b_out, ref_out)
                cpu_before_one = results.setdefault("before_cpu_one_thread", {}).setdefault(length, b_cpu)
                print(f"{length:6d} {threads:3d} {'before':10s} {b_wall:7.2f} {b_cpu:7.2f} {ref_wall / b_wall:6.2f} {ref_cpu / b_cpu:6.2f} "
                      f"{b_cpu / cpu_before_one:8.2f} {b_diff:9.2e}  {describe(executed, args.n, b_wall, peak, b_cpu)} executed", flush=True)
                row.update({"before_s": b_wall, "before_cpu_s": b_cpu, "before_speedup": ref_wall / b_wall,
                            "before_cpu_vs_one_thread": b_cpu / cpu_before_one})
            results["rows"].append(row)
    print("\n# targets: genofm >= 3x the full-length computation (wall; and Keras with --keras) at every length and thread count; "
          "CPU time at 2 threads <= 1.2x that at 1 thread; max|diff| from the float64 features <= 1e-5 (relative above 1; "
          "the float32 reference's own in brackets)")
    for row in results["rows"]:
        checks = [f"{row['speedup']:.2f}x wall ({'met' if row['speedup'] >= 3 else 'NOT met'})"]
        if "speedup_vs_keras" in row:
            checks.append(f"{row['speedup_vs_keras']:.2f}x Keras ({'met' if row['speedup_vs_keras'] >= 3 else 'NOT met'})")
        if row["threads"] > 1:
            checks.append(f"cpu/1thr {row['cpu_vs_one_thread']:.2f} ({'met' if row['cpu_vs_one_thread'] <= 1.2 else 'NOT met'})")
        checks.append(f"max|diff| from float64 {row['max_diff_vs_float64']:.2e} "
                      f"({'met' if row['max_diff_vs_float64'] <= 1e-5 else 'NOT met'}; reference {row['reference_max_diff_vs_float64']:.2e})")
        print(f"#   {row['length']:6d} bp, {row['threads']} thread(s): " + ", ".join(checks) + f"; {row['load']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
