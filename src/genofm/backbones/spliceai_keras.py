"""Read an official SpliceAI Keras HDF5 model without TensorFlow.

The released models are Keras 2 "functional" graphs whose layer names carry arbitrary counters
(``conv1d_3``, ``add_11``...). Rather than trusting a hard-coded numbering, the graph stored in
the file's ``model_config`` attribute is walked from the input: the stem convolution, then each
residual unit (BN, ReLU, conv, BN, ReLU, conv, add), the 1x1 skip convolutions hanging off the
residual stream, the sum of those skips, the crop and the 1x1 output convolution. The weights are
then copied into a ``SpliceAINet`` state dict whose keys say what each tensor is. Anything that
does not fit that shape raises a ``GenofmError`` naming the file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import numpy as np
import torch

from genofm.backbones.spliceai_model import SpliceAINet
from genofm.errors import GenofmError


@dataclasses.dataclass(frozen=True)
class KerasLayer:
    name: str
    kind: str  # Keras class name
    config: dict
    inputs: tuple[str, ...]


@dataclasses.dataclass
class SpliceAIGraph:
    """Layer names of one SpliceAI model, grouped by their role in ``SpliceAINet``."""

    stem: str
    units: list[dict[str, str]]  # keys bn1, conv1, bn2, conv2 (Keras layer names)
    unit_shapes: list[tuple[int, int]]  # (kernel size, dilation) of each unit's two convs
    skips: list[str]  # 1x1 skip convs, in residual-stream order
    skip_points: list[int]  # residual-stream index each skip reads (0 = stem output, i = after unit i)
    crop: tuple[int, int]
    head: str
    eps: float


def _fail(path: Path, what: str) -> GenofmError:
    return GenofmError(
        f"{path}: {what}; pass an official SpliceAI model (spliceai1.h5 ... spliceai5.h5 from the spliceai package) "
        "or a folder holding them via --weights"
    )


def _decode(value) -> str:
    return value.decode() if isinstance(value, (bytes, np.bytes_)) else str(value)


def parse_graph(config: dict, path: Path) -> SpliceAIGraph:
    """Map the Keras functional graph onto the roles of SpliceAI-10k's building blocks."""
    try:
        raw_layers = config["config"]["layers"]
        input_name = config["config"]["input_layers"][0][0]
        output_name = config["config"]["output_layers"][0][0]
        layers = {}
        for item in raw_layers:
            inputs = tuple(node[0] for inbound in item.get("inbound_nodes", []) for node in inbound)
            layers[item["name"]] = KerasLayer(item["name"], item["class_name"], item["config"], inputs)
    except (KeyError, IndexError, TypeError):
        raise _fail(path, "model_config is not a Keras functional model") from None

    consumers: dict[str, list[str]] = {name: [] for name in layers}
    for layer in layers.values():
        for source in layer.inputs:
            if source not in consumers:
                raise _fail(path, f"layer {layer.name} reads unknown layer {source}")
            consumers[source].append(layer.name)

    def only(name: str, kind: str) -> str:
        found = [c for c in consumers[name] if layers[c].kind == kind]
        if len(found) != 1:
            raise _fail(path, f"expected one {kind} after layer {name}, found {len(found)}")
        return found[0]

    def conv(name: str, *, pointwise: bool, activation: str = "linear") -> tuple[int, int]:
        cfg = layers[name].config
        if layers[name].kind != "Conv1D" or cfg.get("activation") != activation or not cfg.get("use_bias", True):
            raise _fail(path, f"layer {name} is not a Conv1D with bias and {activation} activation")
        kernel, dilation = int(cfg["kernel_size"][0]), int(cfg["dilation_rate"][0])
        if int(cfg.get("strides", [1])[0]) != 1:
            raise _fail(path, f"layer {name} has a stride other than 1")
        if pointwise and kernel != 1:
            raise _fail(path, f"layer {name} should be a 1x1 convolution")
        if not pointwise and (cfg.get("padding") != "same" or kernel % 2 == 0):
            raise _fail(path, f"layer {name} should be an odd-width 'same' convolution")
        return kernel, dilation

    def relu_after(name: str) -> str:
        act = only(name, "Activation")
        if layers[act].config.get("activation") != "relu":
            raise _fail(path, f"layer {act} is not a ReLU")
        return act

    stem = only(input_name, "Conv1D")
    conv(stem, pointwise=True)

    stream = [stem]  # residual-stream tensors: stem output, then each unit's add
    units: list[dict[str, str]] = []
    shapes: list[tuple[int, int]] = []
    eps_values: set[float] = set()
    while True:
        current = stream[-1]
        bns = [c for c in consumers[current] if layers[c].kind == "BatchNormalization"]
        if not bns:
            break
        if len(bns) != 1:
            raise _fail(path, f"layer {current} feeds {len(bns)} BatchNormalization layers")
        bn1 = bns[0]
        conv1 = only(relu_after(bn1), "Conv1D")
        bn2 = only(conv1, "BatchNormalization")
        conv2 = only(relu_after(bn2), "Conv1D")
        add = only(conv2, "Add")
        if set(layers[add].inputs) != {conv2, current}:
            raise _fail(path, f"residual add {add} does not add {conv2} to {current}")
        shape1, shape2 = conv(conv1, pointwise=False), conv(conv2, pointwise=False)
        if shape1 != shape2:
            raise _fail(path, f"the two convolutions of a residual unit ({conv1}, {conv2}) differ in shape")
        for bn in (bn1, bn2):
            cfg = layers[bn].config
            if not (cfg.get("center", True) and cfg.get("scale", True)) or cfg.get("axis", -1) not in (-1, 2, [-1], [2]):
                raise _fail(path, f"layer {bn} is not a channel-wise BatchNormalization with scale and centre")
            eps_values.add(float(cfg.get("epsilon", 1e-3)))
        units.append({"bn1": bn1, "conv1": conv1, "bn2": bn2, "conv2": conv2})
        shapes.append(shape1)
        stream.append(add)

    skips, skip_points = [], []
    for index, name in enumerate(stream):
        pointwise = [c for c in consumers[name] if layers[c].kind == "Conv1D" and c not in {u["conv1"] for u in units}]
        for candidate in pointwise:
            conv(candidate, pointwise=True)
            skips.append(candidate)
            skip_points.append(index)
    if not units or not skips:
        raise _fail(path, "no residual units or skip connections found")

    # The skips must be summed (by a tree of Add layers) into the tensor that is cropped.
    crop_layers = [name for name, layer in layers.items() if layer.kind == "Cropping1D"]
    if len(crop_layers) != 1:
        raise _fail(path, "expected exactly one Cropping1D layer")
    crop_name = crop_layers[0]
    leaves: list[str] = []
    pending = list(layers[crop_name].inputs)
    while pending:
        name = pending.pop()
        if layers[name].kind == "Add":
            pending.extend(layers[name].inputs)
        else:
            leaves.append(name)
    if sorted(leaves) != sorted(skips):
        raise _fail(path, "the cropped tensor is not the sum of the skip convolutions")
    cropping = layers[crop_name].config.get("cropping")
    crop = tuple(int(v) for v in (cropping if isinstance(cropping, (list, tuple)) else (cropping, cropping)))
    head = only(crop_name, "Conv1D")
    conv(head, pointwise=True, activation="softmax")
    if head != output_name:
        raise _fail(path, f"the model output should be the softmax 1x1 convolution after {crop_name}")
    if len(eps_values) != 1:
        raise _fail(path, f"BatchNormalization epsilons differ: {sorted(eps_values)}")
    return SpliceAIGraph(stem, units, shapes, skips, skip_points, crop, head, eps_values.pop())


def _weights(group: h5py.Group, layer: str, path: Path) -> dict[str, np.ndarray]:
    """The arrays of one layer keyed by their short name (``kernel``, ``gamma``...)."""
    if layer not in group:
        raise _fail(path, f"no weights for layer {layer}")
    entry = group[layer]
    names = [_decode(n) for n in entry.attrs.get("weight_names", [])]
    out = {}
    for name in names:
        if name not in entry:
            raise _fail(path, f"weight {name} of layer {layer} is missing")
        out[name.split("/")[-1].split(":")[0]] = np.asarray(entry[name][()], dtype=np.float32)
    return out


def _conv_tensors(arrays: dict[str, np.ndarray], layer: str, shape: tuple[int, int, int], path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    kernel, bias = arrays.get("kernel"), arrays.get("bias")
    if kernel is None or bias is None:
        raise _fail(path, f"layer {layer} lacks kernel or bias")
    if kernel.shape != shape or bias.shape != (shape[2],):
        raise _fail(path, f"layer {layer} kernel has shape {kernel.shape}, expected {shape}")
    # Keras Conv1D kernels are (width, in, out); torch wants (out, in, width).
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 1, 0))), torch.from_numpy(bias)


def read_spliceai_h5(path: str | Path) -> tuple[SpliceAIGraph, dict[str, torch.Tensor]]:
    """Parse one official model file into its graph description and a ``SpliceAINet`` state dict."""
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "file not found")
    try:
        handle = h5py.File(path, "r")
    except OSError:
        raise _fail(path, "not an HDF5 file") from None
    with handle:
        if "model_config" not in handle.attrs:
            raise _fail(path, "HDF5 file without a Keras model_config (weights-only files are not supported)")
        try:
            config = json.loads(_decode(handle.attrs["model_config"]))
        except json.JSONDecodeError:
            raise _fail(path, "model_config is not valid JSON") from None
        graph = parse_graph(config, path)
        group = handle["model_weights"] if "model_weights" in handle else handle

        state: dict[str, torch.Tensor] = {}
        stem = _weights(group, graph.stem, path)
        channels = stem.get("kernel", np.zeros((1, 4, 0))).shape[-1]
        if channels == 0:
            raise _fail(path, f"layer {graph.stem} lacks a kernel")
        state["stem.weight"], state["stem.bias"] = _conv_tensors(stem, graph.stem, (1, 4, channels), path)
        for i, (unit, (kernel, _)) in enumerate(zip(graph.units, graph.unit_shapes)):
            for part in ("bn1", "bn2"):
                arrays = _weights(group, unit[part], path)
                for keras_name, torch_name in (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var")):
                    value = arrays.get(keras_name)
                    if value is None or value.shape != (channels,):
                        raise _fail(path, f"layer {unit[part]} lacks a {channels}-channel {keras_name}")
                    state[f"units.{i}.{part}.{torch_name}"] = torch.from_numpy(value)
                state[f"units.{i}.{part}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
            for part in ("conv1", "conv2"):
                arrays = _weights(group, unit[part], path)
                state[f"units.{i}.{part}.weight"], state[f"units.{i}.{part}.bias"] = _conv_tensors(
                    arrays, unit[part], (kernel, channels, channels), path
                )
        for i, name in enumerate(graph.skips):
            state[f"skips.{i}.weight"], state[f"skips.{i}.bias"] = _conv_tensors(_weights(group, name, path), name, (1, channels, channels), path)
        head = _weights(group, graph.head, path)
        outputs = head.get("kernel", np.zeros((1, channels, 0))).shape[-1]
        state["head.weight"], state["head.bias"] = _conv_tensors(head, graph.head, (1, channels, outputs), path)
    if outputs != 3:
        raise _fail(path, f"output layer has {outputs} channels, expected 3 (neither, acceptor, donor)")
    return graph, state


def load_spliceai_net(path: str | Path) -> SpliceAINet:
    """Build a ``SpliceAINet`` in eval mode from one official Keras file (strict key matching)."""
    path = Path(path)
    graph, state = read_spliceai_h5(path)
    if graph.crop[0] != graph.crop[1]:
        raise _fail(path, f"asymmetric cropping {graph.crop}")
    try:
        net = SpliceAINet(
            unit_shapes=graph.unit_shapes,
            skip_points=graph.skip_points,
            channels=state["stem.weight"].shape[0],
            crop=graph.crop[0],
            eps=graph.eps,
            n_outputs=state["head.weight"].shape[0],
        )
    except ValueError as exc:
        raise _fail(path, str(exc)) from None
    net.load_state_dict(state, strict=True)
    return net.eval()
