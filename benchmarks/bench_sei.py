"""Sei embedding throughput: genofm's backbone vs a straightforward reference, same random weights.

The reference below is written independently of genofm: the published layer list, the spline
basis rebuilt on every call by the Cox-de Boor recursion, and the official strand averaging as
two separate forward passes (sequence, then reverse complement) under ``torch.no_grad()`` in
float32 - how the upstream scripts run Sei. genofm runs both strands in one batched pass under
``inference_mode``, with a cached spline basis, and (``reuse_padding``) evaluates each layer only
where a short sequence can influence it, reusing a cached all-N background elsewhere.

Both models share the very same parameter tensors (full published widths, random init); the
reference loads genofm's state dict with strict key matching, which also checks the layout.
Reported per workload: max |difference| of the outputs, sequences/s, and the ratio, all from
the same run. Workloads: short sequences (200 bp, the bundled Oct4/MafK peaks) centred in the
native 4,096 bp window, and full-length 4,096 bp sequences where no padding exists.

    python benchmarks/bench_sei.py                       # CPU, full model incl. 3.3 GB classifier if RAM allows
    python benchmarks/bench_sei.py --classifier none     # trunk + spline only (15,360 features)
    python benchmarks/bench_sei.py --device cuda         # GPU: also bf16 autocast vs fp32
    python benchmarks/bench_sei.py --load-test           # peak RSS of loading a full-size sei.pth (writes 3.3 GB to a temp dir)

Peak memory: genofm alone, in a fresh process, embedding one batch (``--rss-batch``, the tool's
default 16) of full-length sequences, against the target weights + 1 GB.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genofm.backbones.sei import SeiBackbone, SeiOptions
from genofm.backbones.sei_fastpath import BLOCKS, PaddedTrunk, _Pool, cpu_engine
from genofm.backbones.sei_model import Sei
from genofm.device import autocast
from genofm.heap import keep_freed_memory
from roofline import conv1d_flops, describe, load_average, machine_peak


# --- the reference ---------------------------------------------------------------------------------

def reference_bspline(n: int, df: int = 16, degree: int = 3) -> np.ndarray:
    """Cox-de Boor recursion over knots at percentiles of 0..n-1 (boundary knots repeated)."""
    x = np.arange(n, dtype=float)
    inner = np.percentile(x, 100 * np.linspace(0, 1, df - degree + 1)[1:-1])
    t = np.concatenate([[x[0]] * (degree + 1), inner, [x[-1]] * (degree + 1)])
    basis = np.zeros((n, len(t) - 1))
    for i in range(len(t) - 1):
        basis[:, i] = (t[i] <= x) & (x < t[i + 1])
    last = np.flatnonzero(t[:-1] < t[1:])[-1]
    basis[x == t[-1], last] = 1.0
    for k in range(1, degree + 1):
        nxt = np.zeros((n, len(t) - 1 - k))
        for i in range(len(t) - 1 - k):
            left = (x - t[i]) / (t[i + k] - t[i]) * basis[:, i] if t[i + k] > t[i] else 0.0
            right = (t[i + k + 1] - x) / (t[i + k + 1] - t[i + 1]) * basis[:, i + 1] if t[i + k + 1] > t[i + 1] else 0.0
            nxt[:, i] = left + right
        basis = nxt
    return basis


def _c(cin, cout, k=9, d=1):
    return nn.Conv1d(cin, cout, kernel_size=k, padding=d * (k - 1) // 2, dilation=d)


class ReferenceSei(nn.Module):
    def __init__(self, n_targets: int = 21907, classifier: bool = True):
        super().__init__()
        self.lconv1 = nn.Sequential(_c(4, 480), _c(480, 480))
        self.conv1 = nn.Sequential(_c(480, 480), nn.ReLU(inplace=True), _c(480, 480), nn.ReLU(inplace=True))
        self.lconv2 = nn.Sequential(nn.MaxPool1d(4, 4), nn.Dropout(0.2), _c(480, 640), _c(640, 640))
        self.conv2 = nn.Sequential(nn.Dropout(0.2), _c(640, 640), nn.ReLU(inplace=True), _c(640, 640), nn.ReLU(inplace=True))
        self.lconv3 = nn.Sequential(nn.MaxPool1d(4, 4), nn.Dropout(0.2), _c(640, 960), _c(960, 960))
        self.conv3 = nn.Sequential(nn.Dropout(0.2), _c(960, 960), nn.ReLU(inplace=True), _c(960, 960), nn.ReLU(inplace=True))
        self.dconv1 = nn.Sequential(nn.Dropout(0.1), _c(960, 960, 5, 2), nn.ReLU(inplace=True))
        self.dconv2 = nn.Sequential(nn.Dropout(0.1), _c(960, 960, 5, 4), nn.ReLU(inplace=True))
        self.dconv3 = nn.Sequential(nn.Dropout(0.1), _c(960, 960, 5, 8), nn.ReLU(inplace=True))
        self.dconv4 = nn.Sequential(nn.Dropout(0.1), _c(960, 960, 5, 16), nn.ReLU(inplace=True))
        self.dconv5 = nn.Sequential(nn.Dropout(0.1), _c(960, 960, 5, 25), nn.ReLU(inplace=True))
        self.classifier = (
            nn.Sequential(nn.Linear(960 * 16, n_targets), nn.ReLU(inplace=True), nn.Linear(n_targets, n_targets), nn.Sigmoid())
            if classifier else None
        )

    def forward(self, x):
        lout1 = self.lconv1(x)
        out1 = self.conv1(lout1)
        lout2 = self.lconv2(out1 + lout1)
        out2 = self.conv2(lout2)
        lout3 = self.lconv3(out2 + lout2)
        out3 = self.conv3(lout3)
        d1 = self.dconv1(out3 + lout3)
        c1 = out3 + d1
        c2 = c1 + self.dconv2(c1)
        c3 = c2 + self.dconv3(c2)
        c4 = c3 + self.dconv4(c3)
        out = c4 + self.dconv5(c4)
        basis = torch.from_numpy(reference_bspline(out.shape[-1])).float().to(out.device)
        flat = torch.matmul(out, basis).view(out.shape[0], -1)
        return self.classifier(flat) if self.classifier is not None else flat


def reference_onehot(sequences: list[str], length: int) -> torch.Tensor:
    out = np.full((len(sequences), 4, length), 0.25, dtype=np.float32)
    for i, s in enumerate(sequences):
        if len(s) >= length:
            s = s[(len(s) - length) // 2 :][:length]
        left = (length - len(s)) // 2
        for j, base in enumerate(s.upper()):
            if base in "ACGT":
                out[i, :, left + j] = 0.0
                out[i, "ACGT".index(base), left + j] = 1.0
    return torch.from_numpy(out)


def reference_embed(model: ReferenceSei, sequences: list[str], length: int, device) -> np.ndarray:
    x = reference_onehot(sequences, length).to(device)
    with torch.no_grad():
        forward = model(x)
        reverse = model(torch.flip(x, dims=[1, 2]))
    if model.classifier is None:  # align spline positions of the reverse strand with the forward one
        reverse = reverse.view(len(sequences), 960, 16).flip(-1).reshape(len(sequences), -1)
    return ((forward + reverse) / 2).cpu().numpy()


def reference_flops(model: ReferenceSei, length: int) -> int:
    """FLOPs of one strand through the published architecture: convolutions, spline, classifier."""
    total = reference_flops_trunk(model, length) + 2 * 960 * Sei.trunk_length(length) * 16  # + spline projection
    if model.classifier is not None:
        total += sum(2 * m.in_features * m.out_features for m in model.classifier if isinstance(m, nn.Linear))
    return total


def reference_flops_trunk(model: ReferenceSei, length: int) -> int:
    """The convolutions alone (what the merged trunk replaces)."""
    total, current = 0, length
    for name in BLOCKS:
        for layer in getattr(model, name):
            if isinstance(layer, nn.MaxPool1d):
                current //= layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
            elif isinstance(layer, nn.Conv1d):
                total += conv1d_flops(layer, current)
    return total


def executed_trunk_flops(model: Sei, length: int) -> int:
    """FLOPs genofm's dense inference trunk executes for one strand on CPU (conv pairs merged, Winograd products)."""
    plan = PaddedTrunk(model)._plan()
    total, current = 0, length
    for name in BLOCKS:
        for op in plan[name]:
            if isinstance(op, _Pool):
                current //= op.size
            elif op._taps and op.taps(torch.float32).dim() >= 4:  # Winograd: 4 x G x C x O products per pair of positions, either layout
                total += op.taps(torch.float32).numel() * current
            else:
                total += 2 * op.weight.numel() * current
    return total


# --- harness ---------------------------------------------------------------------------------------

def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def available_gb() -> float:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device) -> tuple[float, float, np.ndarray]:
    """Wall-clock and process CPU seconds of one call (CPU time is robust to other jobs on the machine)."""
    sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    sync(device)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def run_embed(backbone: SeiBackbone, sequences, batch, device, precision):
    outs = []
    with torch.inference_mode(), autocast(device, precision):
        for i in range(0, len(sequences), batch):
            outs.append(backbone.embed_batch(sequences[i : i + batch]))
    return np.concatenate(outs)


def run_reference(model, sequences, batch, length, device):
    return np.concatenate([reference_embed(model, sequences[i : i + batch], length, device) for i in range(0, len(sequences), batch)])


def load_test(classifier: bool) -> dict:
    """Write a full-size random sei.pth, then load it in fresh processes: genofm vs naive copy."""
    folder = Path(tempfile.mkdtemp(prefix="bench_sei_"))
    path = folder / "sei.pth"
    with torch.device("meta"):
        meta = Sei(classifier=classifier)
    state = {"module.model." + k: torch.randn(v.shape) * 0.01 for k, v in meta.state_dict().items()}
    torch.save(state, path)
    del state
    size = path.stat().st_size / 2**30
    # VmHWM is the peak RSS of this process image (ru_maxrss would include the parent's, kept across fork/exec)
    hwm = "def _hwm():\n    return [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0] / 2**20\n"
    genofm_code = hwm + (
        "import torch; from genofm.backbones.sei_release import load_sei; "
        f"m = load_sei('{path}', classifier={classifier}); "
        "x = torch.full((1, 4, 4096), 0.25);\n"
        "with torch.inference_mode(): (m(x) if m.classifier is not None else m.trunk(x));\n"
        "print(_hwm())"
    )
    naive_code = hwm + (
        "import torch; from genofm.backbones.sei_model import Sei; "
        f"sd = torch.load('{path}', map_location='cpu', weights_only=True); "
        "sd = {k[len('module.model.'):]: v for k, v in sd.items()}; "
        f"m = Sei(classifier={classifier}).eval(); m.load_state_dict(sd); "
        "x = torch.full((1, 4, 4096), 0.25);\n"
        "with torch.no_grad(): (m(x) if m.classifier is not None else m.trunk(x));\n"
        "print(_hwm())"
    )
    result = {"checkpoint_gb": round(size, 2)}
    for name, code in (("genofm_mmap_assign", genofm_code), ("naive_load_then_copy", naive_code)):
        began = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        result[name] = {"peak_rss_gb": round(float(out.stdout.strip().splitlines()[-1]), 2), "seconds": round(time.perf_counter() - began, 1)}
    path.unlink()
    folder.rmdir()
    return result


RSS_CHILD = """
import sys, time
sys.path.insert(0, {bench!r})
import numpy as np, torch
from bench_sei import run_embed, vm_gb
from genofm.backbones.sei import SeiBackbone, SeiOptions
from genofm.backbones.sei_model import Sei
torch.set_num_threads({threads})
base = vm_gb("VmRSS")
torch.manual_seed(0)
model = Sei(classifier={classifier}).eval()
weights = vm_gb("VmRSS") - base
rng = np.random.default_rng(0)
seqs = ["".join(rng.choice(list("ACGT"), size={length})) for _ in range({batch})]
backbone = SeiBackbone.from_model(model, SeiOptions(output={output!r}, length={length}), device="cpu")
began = time.perf_counter()
run_embed(backbone, seqs, {batch}, torch.device("cpu"), "fp32")
print(weights, vm_gb("VmHWM") - base, time.perf_counter() - began)
"""


def vm_gb(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` (peak RSS of this process image) from /proc/self/status, in GiB."""
    return [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field + ":")][0] / 2**20


def genofm_peak_rss(classifier: bool, output: str, length: int, batch: int, threads: int) -> dict:
    """genofm alone in a fresh process: weights, then the peak while embedding one batch of full-length sequences.

    Both are counted from the RSS after imports (torch's libraries), so ``peak - weights`` is what
    inference adds on top of the model: activations, compiled per-tap weights, allocator slack.
    """
    code = RSS_CHILD.format(bench=str(Path(__file__).resolve().parent), threads=threads, classifier=classifier,
                            output=output, length=length, batch=batch)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    weights, peak, seconds = (float(v) for v in out.stdout.split())
    return {"batch": batch, "weights_gb": round(weights, 2), "peak_gb": round(peak, 2), "over_weights_gb": round(peak - weights, 2),
            "seconds": round(seconds, 1), "load": load_average()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--classifier", choices=("auto", "full", "none"), default="auto",
                        help="include the 3.3 GB classifier (auto: when >= 10 GB RAM is available)")
    parser.add_argument("--length", type=int, default=4096, help="Sei window in bp")
    parser.add_argument("--short", type=int, default=200, help="length of the short-sequence workload")
    parser.add_argument("--n", type=int, default=SeiBackbone.default_batch_size, help="sequences per workload")
    parser.add_argument("--batch", type=int, default=SeiBackbone.default_batch_size,
                        help="sequences per batch, each also with its reverse complement (default: the tool's; with the classifier "
                             "a small batch is bound by reading its 3.3 GB of weights once per batch, the same for both sides)")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats (best and median reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--workloads", default="short,full", help="which workloads to run: short, full, both (comma-separated) or none (e.g. with --load-test)")
    parser.add_argument("--before", action="store_true", help="also time the other CPU engine and the trunk as it was before merged/channels-last convolutions")
    parser.add_argument("--rss-batch", type=int, default=16,
                        help="peak RSS of genofm alone (fresh process) embedding one batch of this many full-length sequences "
                             "(16: the tool's default batch; 0 skips)")
    parser.add_argument("--load-test", action="store_true", help="also measure peak RSS of loading a full-size checkpoint")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    keep_freed_memory()  # as the genofm tools do (genofm.cli.common.run_app)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    classifier = args.classifier == "full" or (args.classifier == "auto" and available_gb() >= 10)
    rng = np.random.default_rng(0)
    wanted = {w.strip() for w in args.workloads.split(",") if w.strip()}
    if wanted == {"none"}:
        wanted = set()
    elif not wanted or wanted - {"short", "full"}:
        parser.error("--workloads takes short, full, short,full or none")
    workloads = {}
    if "short" in wanted:
        workloads[f"{args.short}bp_in_{args.length}"] = ["".join(rng.choice(list("ACGT"), size=args.short)) for _ in range(args.n)]
    if "full" in wanted:
        workloads[f"{args.length}bp_full"] = ["".join(rng.choice(list("ACGT"), size=args.length)) for _ in range(args.n)]
    output = "chromatin" if classifier else "trunk"
    results = {"device": str(device), "classifier": classifier, "output": output, "n": args.n, "batch": args.batch, "workloads": {}}
    if workloads:
        run_workloads(args, workloads, classifier, output, device, results)
    if args.rss_batch > 0 and device.type == "cpu":
        rss = genofm_peak_rss(classifier, output, args.length, args.rss_batch, torch.get_num_threads())
        results["genofm_peak_rss"] = rss
        verdict = "<=" if rss["over_weights_gb"] <= 1.0 else ">"
        print(f"\ngenofm alone (fresh process, one batch of {rss['batch']} x {args.length} bp, output={output}, {rss['seconds']} s): "
              f"peak RSS {rss['peak_gb']:.2f} GB = weights {rss['weights_gb']:.2f} GB + {rss['over_weights_gb']:.2f} GB "
              f"{verdict} weights + 1 GB; {rss['load']}")
    if args.load_test:
        results["load_test"] = load_test(classifier)
        print("load test (peak RSS of a fresh process that loads sei.pth and runs one sequence):", json.dumps(results["load_test"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def run_workloads(args, workloads: dict, classifier: bool, output: str, device, results: dict) -> None:
    torch.manual_seed(0)
    rss0 = peak_rss_gb()
    began = time.perf_counter()
    model = Sei(classifier=classifier).eval().to(device)
    with torch.device("meta"):
        reference = ReferenceSei(classifier=classifier).eval()
    reference.load_state_dict(model.state_dict(), strict=True, assign=True)  # the same tensors, no copy
    reference = reference.to(device)
    rss_model = peak_rss_gb()
    print(f"# full-size Sei, random init, classifier={'yes' if classifier else 'no'}, device={device}, "
          f"threads={torch.get_num_threads()}, CPU convolution engine {cpu_engine()!r} (sei_fastpath.cpu_engine), built in {time.perf_counter() - began:.1f} s, weights RSS {rss_model - rss0:.2f} GB")
    peak = machine_peak(device)
    print(f"# peak: {peak}, same process; {load_average()}")
    results["peak_flops"] = dataclasses.asdict(peak)
    precisions = ["fp32"] + (["bf16"] if device.type == "cuda" else [])
    for name, seqs in workloads.items():
        runners = {"reference": lambda: run_reference(reference, seqs, args.batch, args.length, device)}
        for precision in precisions:
            for reuse in (True, False):
                options = SeiOptions(output=output, length=args.length, reuse_padding=reuse)
                backbone = SeiBackbone.from_model(model, options, device=device, precision=precision)
                run_embed(backbone, seqs[: args.batch], args.batch, device, precision)  # warm-up: caches, allocator
                key = f"genofm_{precision}{'' if reuse else '_no_padding_reuse'}"
                runners[key] = (lambda b=backbone, p=precision: run_embed(b, seqs, args.batch, device, p))
            if args.before and device.type == "cpu":
                # the CPU engine "auto" did not pick on this processor (MKL products vs oneDNN Winograd)
                other = "winograd" if cpu_engine() == "gemm" else "gemm"
                options = SeiOptions(output=output, length=args.length, reuse_padding=True)
                alternative = SeiBackbone.from_model(model, options, device=device, precision=precision)
                alternative._padded = PaddedTrunk(model, engine=other)
                run_embed(alternative, seqs[: args.batch], args.batch, device, precision)
                runners[f"genofm_{precision} (engine {other})"] = (lambda b=alternative, p=precision: run_embed(b, seqs, args.batch, device, p))
            if args.before:
                # the inference trunk before convolutions became matrix products: oneDNN conv2d, one task per worker
                options = SeiOptions(output=output, length=args.length, reuse_padding=True)
                conv2d = SeiBackbone.from_model(model, options, device=device, precision=precision)
                conv2d._padded = PaddedTrunk(model, engine="conv2d", tasks_per_worker=1)
                run_embed(conv2d, seqs[: args.batch], args.batch, device, precision)
                runners[f"genofm_{precision}_before (conv2d)"] = (lambda b=conv2d, p=precision: run_embed(b, seqs, args.batch, device, p))
                # the trunk before merging and channels-last kernels: Sei.trunk, both strands batched
                options = SeiOptions(output=output, length=args.length, reuse_padding=False)
                before = SeiBackbone.from_model(model, options, device=device, precision=precision)
                before.trunk = model.trunk
                runners[f"genofm_{precision}_before (Sei.trunk)"] = (lambda b=before, p=precision: run_embed(b, seqs, args.batch, device, p))
        walls = {k: [] for k in runners}
        cpus = {k: [] for k in runners}
        outs = {}
        for repeat in range(args.repeats):  # interleaved, order rotated, so all share the machine's load
            keys = list(runners)
            keys = keys[repeat % len(keys):] + keys[: repeat % len(keys)]
            for key in keys:
                wall, cpu, outs[key] = timed(runners[key], device)
                walls[key].append(wall)
                cpus[key].append(cpu)
        row = {}
        for key in runners:
            row[key] = {
                "best_s": min(walls[key]), "median_s": statistics.median(walls[key]), "best_cpu_s": min(cpus[key]),
                "speedup_wall": min(walls["reference"]) / min(walls[key]),
                "speedup_cpu": min(cpus["reference"]) / min(cpus[key]),
                "max_abs_diff": float(np.abs(outs[key] - outs["reference"]).max()),
            }
        flops = 2 * reference_flops(reference, args.length)  # both strands, as the official predictions
        executed = 2 * executed_trunk_flops(model, args.length) + flops - 2 * reference_flops_trunk(reference, args.length)
        results["workloads"][name] = row
        results["workloads"][name]["flops_per_sequence"] = flops
        results["workloads"][name]["executed_flops_per_sequence_dense"] = executed
        results["workloads"][name]["load"] = load_average()
        print(f"\n## {name}: {args.n} sequences, batch {args.batch} (+ reverse complements), output={output}, {args.repeats} repeats; {load_average()}")
        print(f"# architecture: {flops / 1e9:.1f} GFLOP per sequence (both strands); genofm's dense trunk executes "
              f"{executed / 1e9:.1f} GFLOP (conv pairs merged, Winograd F(2,3)); rates below count the architecture's FLOPs")
        print(f"{'implementation':32s} {'seq/s':>7s} {'best s':>7s} {'median s':>8s} {'cpu s':>7s} "
              f"{'x wall':>7s} {'x cpu':>6s} {'max|diff|':>9s}  achieved")
        for key, fig in row.items():
            if not isinstance(fig, dict):
                continue
            print(f"{key:32s} {args.n / fig['best_s']:7.2f} {fig['best_s']:7.2f} {fig['median_s']:8.2f} {fig['best_cpu_s']:7.2f} "
                  f"{fig['speedup_wall']:7.2f} {fig['speedup_cpu']:6.2f} {fig['max_abs_diff']:9.2e}  "
                  f"{describe(flops, args.n, fig['best_s'], peak, fig['best_cpu_s'])}")
        target = 1.5 if name.endswith("_full") else 4.0
        fig = row["genofm_fp32"]
        verdict = "met" if fig["speedup_wall"] >= target and fig["max_abs_diff"] <= 1e-5 else "NOT met"
        print(f"# target: genofm_fp32 >= {target}x the reference (wall), max|diff| <= 1e-5: {fig['speedup_wall']:.2f}x wall "
              f"({fig['speedup_cpu']:.2f}x CPU-s), max|diff| {fig['max_abs_diff']:.2e}: {verdict}")
    results["peak_rss_gb"] = {"weights": round(rss_model - rss0, 2), "process": round(peak_rss_gb(), 2)}
    over = peak_rss_gb() - (rss_model - rss0)
    print(f"\npeak RSS of this benchmark process (genofm and the reference together): {peak_rss_gb():.2f} GB "
          f"(weights {rss_model - rss0:.2f} GB, shared): weights + {over:.2f} GB; genofm alone is measured below")


if __name__ == "__main__":
    main()
