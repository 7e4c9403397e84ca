"""Time the official SpliceAI Keras models the way the official tool calls them; run by bench_spliceai.py.

TensorFlow does not belong in genofm's environment (it pins its own NumPy and protobuf), so
``bench_spliceai.py --keras PYTHON`` runs this script with an interpreter that has TensorFlow
2.x (tf.keras reading the Keras 2 HDF5 files), in a fresh process per (length, threads) so that
TensorFlow's thread pools take the requested size. It reads one JSON request on stdin::

    {"weights": "<folder with spliceai1..5.h5>", "sequences": ["ACGT...", ...], "flank": 5000, "threads": 1, "repeats": 2}

and prints one JSON line: the best wall seconds of ``repeats`` timed runs (after one warm-up),
that run's CPU seconds, and the five models' mean acceptor/donor probabilities per kept position
(for the caller's equality check). Each run is what ``spliceai``'s own annotator does per
sequence: one-hot with ``flank`` (5,000) N on each side, then ``model.predict`` for each of the five
models. Bases are coded by ``genofm.sequence.one_hot``: the caller puts genofm's source folder on
PYTHONPATH (that module needs only NumPy), so no genofm install is needed beside TensorFlow.
"""

from __future__ import annotations

import json
import os
import sys
import time

def main() -> None:
    request = json.loads(sys.stdin.read())
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

    run()  # warm-up: graph tracing and first-call allocations
    best = None
    for _ in range(int(request["repeats"])):
        wall, cpu = time.perf_counter(), time.process_time()
        probabilities = run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if best is None or wall < best[0]:
            best = (wall, cpu, probabilities)
    print(json.dumps({"wall": best[0], "cpu": best[1], "tensorflow": tf.__version__,
                      "probabilities": [p.tolist() for p in best[2]]}))


if __name__ == "__main__":
    main()
