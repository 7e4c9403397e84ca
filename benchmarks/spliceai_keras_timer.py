"""Time the official SpliceAI Keras models the way the official tool calls them; run by bench_spliceai.py.

TensorFlow does not belong in genofm's environment (it pins its own NumPy and protobuf), so
``bench_spliceai.py --keras PYTHON`` runs this script with an interpreter that has TensorFlow
2.x (tf.keras reading the Keras 2 HDF5 files), in a fresh process per (length, threads) so that
TensorFlow's thread pools take the requested size. The process stays up while the benchmark
times genofm, so that the Keras runs interleave with genofm's under the same machine load
(timed one after the other, a change of load between the two passed for a change of speed: at
10 kb on one thread, Keras took 1.80-2.11 s in different processes of one session). Its first
line of stdin is one JSON request::

    {"weights": "<folder with spliceai1..5.h5>", "sequences": ["ACGT...", ...], "flank": 5000, "threads": 1}

It loads the five models, runs once to warm up (graph tracing, first-call allocations) and
prints ``{"ready": true, "tensorflow": "<version>"}``. Then each ``run`` line runs the
sequences once and prints that run's wall and CPU seconds as one JSON line, and ``done`` prints
the five models' mean acceptor/donor probabilities per kept position of the last run (for the
caller's equality check) and ends the process. Each run is what ``spliceai``'s own annotator does
per sequence: one-hot with ``flank`` (5,000) N on each side, then ``model.predict`` for each of
the five models. Bases are coded by ``genofm.sequence.one_hot``: the caller puts genofm's source
folder on PYTHONPATH (that module needs only NumPy), so no genofm install is needed beside
TensorFlow.
"""

from __future__ import annotations

import json
import os
import sys
import time

def main() -> None:
    request = json.loads(sys.stdin.readline())
    threads = int(request["threads"])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    from genofm.sequence import one_hot as genofm_one_hot

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    models = [tf.keras.models.load_model(os.path.join(request["weights"], f"spliceai{i}.h5"), compile=False)
              for i in range(1, 6)]

    flank = int(request["flank"])

    def one_hot(sequence: str) -> "np.ndarray":
        """(1, L + 2 * flank, 4): Keras' channels-last layout of genofm's one-hot, N = 0."""
        return np.ascontiguousarray(genofm_one_hot(["N" * flank + sequence + "N" * flank]).transpose(0, 2, 1))

    def run() -> list:
        out = []
        for sequence in request["sequences"]:
            x = one_hot(sequence)
            out.append(np.mean([m.predict(x, verbose=0)[0] for m in models], axis=0))
        return out

    probabilities = run()  # warm-up: graph tracing and first-call allocations
    print(json.dumps({"ready": True, "tensorflow": tf.__version__}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "run":
            wall, cpu = time.perf_counter(), time.process_time()
            probabilities = run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(json.dumps({"wall": wall, "cpu": cpu}), flush=True)
        elif command == "done":
            print(json.dumps({"probabilities": [p.tolist() for p in probabilities]}), flush=True)
            return
        else:
            raise SystemExit(f"spliceai_keras_timer: unknown command {command!r} (expected 'run' or 'done')")


if __name__ == "__main__":
    main()
