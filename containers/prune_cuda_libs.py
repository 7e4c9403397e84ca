"""Shrink a CPU image's torch install to the CUDA files torch cannot start without.

PyPI's Linux torch wheel is the CUDA build: libtorch_cpu.so, libtorch_cuda.so and
libtorch_python.so link cuBLAS, cuFFT, cuSPARSE, NCCL, nvSHMEM, the cuDNN loader and others, so
`import torch` fails when the nvidia-* packages are absent, even on a CPU-only machine. Most of the
~3 GB, though, is only opened later, by the GPU code paths (cuDNN's engine libraries, cuSOLVER,
nvJitLink, profiling libraries, headers, static archives). This script imports torch, reads which
files under site-packages/nvidia the dynamic loader actually mapped, and deletes the rest, so the
kept set follows whatever torch version is installed instead of a hand-written list. The image's
smoke test (containers/smoke_test.py) then exercises torch on CPU to prove nothing needed went.

Only for images that never see a GPU: the GPU image keeps everything.

    python prune_cuda_libs.py VENV
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path


def mapped_nvidia_files(nvidia_dir: Path) -> set[Path]:
    """Real paths of the files under ``nvidia_dir`` that this process has mapped."""
    import torch  # noqa: F401  (importing it is the point: the loader maps what torch needs)

    prefix = str(nvidia_dir.resolve()) + os.sep
    maps = Path("/proc/self/maps").read_text()
    paths = {m for m in re.findall(r"(/\S+)$", maps, flags=re.MULTILINE)}
    return {Path(p).resolve() for p in paths if str(Path(p).resolve()).startswith(prefix)}


def prune(nvidia_dir: Path, keep: set[Path]) -> tuple[int, int]:
    """Delete every file and link under ``nvidia_dir`` not in ``keep``.

    Links to kept files stay, and so do the Python files that make ``nvidia.*`` importable.
    """
    removed_files = removed_bytes = 0
    for path in sorted(nvidia_dir.rglob("*"), reverse=True):  # children before their folders
        if path.is_symlink():
            if path.resolve() not in keep:
                path.unlink()
        elif path.is_file():
            if path.resolve() not in keep and path.suffix != ".py":
                removed_bytes += path.stat().st_size
                removed_files += 1
                path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return removed_files, removed_bytes


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    venv = Path(argv[1])
    site_dirs = sorted(venv.glob("lib/python3*/site-packages"))
    if len(site_dirs) != 1:
        print(f"prune_cuda_libs: no single site-packages under {venv}", file=sys.stderr)
        return 2
    nvidia_dir = site_dirs[0] / "nvidia"
    if not nvidia_dir.is_dir():
        print(f"prune_cuda_libs: {nvidia_dir} absent (CPU build of torch?); nothing to prune")
        return 0
    keep = mapped_nvidia_files(nvidia_dir)
    if not keep:
        print("prune_cuda_libs: torch mapped no nvidia libraries; leaving them untouched", file=sys.stderr)
        return 0
    files, size = prune(nvidia_dir, keep)
    kept = sum(p.stat().st_size for p in keep)
    print(
        f"prune_cuda_libs: kept {len(keep)} libraries torch loads at start ({kept / 1e9:.2f} GB), "
        f"removed {files} files ({size / 1e9:.2f} GB): "
        + ", ".join(sorted(p.name for p in keep))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
