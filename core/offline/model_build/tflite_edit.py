"""Small, exact edits of TFLite flatbuffers (object API of the schema that ai-edge-litert ships).

- `fix_opcodes`: the detector stores its operator codes in the old `deprecated_builtin_code`
  field (every `builtin_code` reads 0 = ADD); tools that read only the new field see a model
  made of ADDs. Copy the real code into `builtin_code`.
- `fold_fp16`: every DEQUANTIZE whose input is a float16 constant becomes a float32 constant
  (the op is gone; float16 -> float32 is exact, so outputs are bit-identical to the official
  model's, where TFLite does the same conversion at load time).
- `add_signature` / `strip_signature`: static calibration runs the model through a signature;
  these models have none (the blendshape model has one and keeps it).
- `compact`: drop tensors no op uses any more and buffers no tensor uses.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as S
from ai_edge_litert.tools import flatbuffer_utils as fu

BUILTIN = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}
SIGNATURE_KEY = "serving_default"


def read(data: bytes) -> S.ModelT:
    return fu.read_model_from_bytearray(bytearray(data))


def write(model: S.ModelT) -> bytes:
    return bytes(fu.convert_object_to_bytearray(model))


def op_name(model: S.ModelT, op: S.OperatorT) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    return BUILTIN.get(max(code.builtinCode, code.deprecatedBuiltinCode), "?")


def op_counts(model: S.ModelT) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sg in model.subgraphs:
        for op in sg.operators:
            name = op_name(model, op)
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def fix_opcodes(model: S.ModelT) -> None:
    for code in model.operatorCodes:
        code.builtinCode = max(code.builtinCode, code.deprecatedBuiltinCode)
        # the old int8 field tops out at 127 (PLACEHOLDER_FOR_GREATER_OP_CODES)
        code.deprecatedBuiltinCode = min(code.builtinCode, 127)


def fold_fp16(model: S.ModelT) -> int:
    folded = 0
    for sg in model.subgraphs:
        keep = []
        for op in sg.operators:
            if op_name(model, op) == "DEQUANTIZE":
                src = sg.tensors[op.inputs[0]]
                data = model.buffers[src.buffer].data if src.buffer else None
                if src.type == S.TensorType.FLOAT16 and data is not None and len(data):
                    dst = sg.tensors[op.outputs[0]]
                    values = np.frombuffer(bytes(data), dtype="<f2").astype("<f4")
                    if dst.buffer == 0:
                        model.buffers.append(S.BufferT())
                        dst.buffer = len(model.buffers) - 1
                    model.buffers[dst.buffer].data = np.frombuffer(values.tobytes(), dtype=np.uint8)
                    folded += 1
                    continue
            keep.append(op)
        sg.operators = keep
    compact(model)
    return folded


def compact(model: S.ModelT) -> None:
    """Remove unused tensors (re-indexing ops, I/O and signatures) and unused buffers."""
    for index, sg in enumerate(model.subgraphs):
        used = set(sg.inputs) | set(sg.outputs)
        for op in sg.operators:
            used |= {i for i in list(op.inputs) + list(op.outputs) + list(op.intermediates or []) if i >= 0}
        order = sorted(used)
        new = {old: i for i, old in enumerate(order)}
        sg.tensors = [sg.tensors[i] for i in order]
        remap = lambda seq: [new[i] if i >= 0 else i for i in seq]  # noqa: E731
        sg.inputs, sg.outputs = remap(sg.inputs), remap(sg.outputs)
        for op in sg.operators:
            op.inputs, op.outputs = remap(op.inputs), remap(op.outputs)
            if op.intermediates is not None and len(op.intermediates):
                op.intermediates = remap(op.intermediates)
        for sig in model.signatureDefs or []:
            if sig.subgraphIndex == index:
                for t in list(sig.inputs) + list(sig.outputs):
                    t.tensorIndex = new[t.tensorIndex]
    used_buffers = {0} | {t.buffer for sg in model.subgraphs for t in sg.tensors}
    used_buffers |= {m.buffer for m in model.metadata or []}
    order = sorted(used_buffers)
    new = {old: i for i, old in enumerate(order)}
    model.buffers = [model.buffers[i] for i in order]
    for sg in model.subgraphs:
        for t in sg.tensors:
            t.buffer = new[t.buffer]
    for m in model.metadata or []:
        m.buffer = new[m.buffer]


def add_signature(model: S.ModelT) -> bool:
    """Give subgraph 0 a signature named after its tensors; False if it already had one."""
    if model.signatureDefs:
        return False
    sg = model.subgraphs[0]

    def maps(indices):
        out = []
        for i in indices:
            m = S.TensorMapT()
            m.name, m.tensorIndex = sg.tensors[i].name, i
            out.append(m)
        return out

    sig = S.SignatureDefT()
    sig.signatureKey, sig.subgraphIndex = SIGNATURE_KEY.encode(), 0
    sig.inputs, sig.outputs = maps(sg.inputs), maps(sg.outputs)
    model.signatureDefs = [sig]
    return True


def strip_signature(model: S.ModelT) -> None:
    model.signatureDefs = []


def io_names(model: S.ModelT) -> tuple[list[str], list[str]]:
    sg = model.subgraphs[0]
    name = lambda i: sg.tensors[i].name.decode()  # noqa: E731
    return [name(i) for i in sg.inputs], [name(i) for i in sg.outputs]
