#!/usr/bin/python3
"""Benchmark models for ViT Inspector, with Debian's torch (python3-torch 1.13).

    /usr/bin/python3 bench/torch_vit.py export OUT_DIR [vit_s16|vit_b16 ...]
        Writes OUT_DIR/NAME.onnx (logits only, as real exports are), OUT_DIR/NAME.pt (the same random
        weights, for the PyTorch peer) and OUT_DIR/NAME.json (the configuration: d_model, layers, heads,
        MLP width, patch, tokens, parameters). Deterministic: seed 0.
    /usr/bin/python3 bench/torch_vit.py sgemm OUT_DIR SIZE
        Writes OUT_DIR/sgemm_SIZE.onnx: one MatMul of two float inputs a, b [SIZE, SIZE] (the peak probe).
    /usr/bin/python3 bench/torch_vit.py peer OUT_DIR NAME THREADS
        The PyTorch-eager peer: loads NAME.pt, registers forward hooks that capture every layer's
        attention probabilities (what a notebook user writes), then answers one line per request on
        stdin ("run") with the forward's wall time in ms on stdout, so that bench/run.ts can interleave
        it with onnxruntime runs.

Why hand-written (timm-style) attention and not torchvision.models.vit_b_16: both are the same ViT-B/16
architecture, but
  * the timm/Hugging Face form (fused qkv Linear, q*scale @ k^T, softmax over [B, H, N, N]) is what
    most ViT ONNX files in the wild look like; torchvision's nn.MultiheadAttention exports a 3-D
    [B*H, N, N] softmax wrapped in extra Transpose/Reshape nodes, a less common shape;
  * the PyTorch peer can capture attention with a plain forward hook on `attn_drop` (the usual notebook
    trick with timm models); torchvision calls MultiheadAttention with need_weights=False, so a hook
    there sees no attention unless the model is patched.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn

CONFIGS = {
    # name: (d_model, layers, heads[, image]); patch 16, 224x224 unless given, MLP ratio 4, 1000 classes
    # (ViT-S/16, ViT-B/16 sizes; ViT-B/16 and ViT-L/16 at 384 px: 577 tokens, for the large-model figures)
    "vit_s16": (384, 12, 6),
    "vit_b16": (768, 12, 12),
    "vit_b16_384": (768, 12, 12, 384),
    "vit_l16_384": (1024, 24, 16, 384),
}
IMAGE = 224
PATCH = 16
CLASSES = 1000


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.attn_drop = nn.Dropout(0.0)  # identity at eval; the hook point for attention probabilities
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = self.attn_drop(attn.softmax(dim=-1))
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def config(name):
    """(d_model, layers, heads, image) of a configuration."""
    c = CONFIGS[name]
    return (*c, IMAGE) if len(c) == 3 else c


class ViT(nn.Module):
    def __init__(self, dim, layers, heads, image=IMAGE):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, PATCH, PATCH)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (image // PATCH) ** 2 + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, CLASSES)
        for p in self.parameters():  # random weights, ViT-like scale (trunc-normal-ish, std 0.02)
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.02)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def build(name):
    dim, layers, heads, image = config(name)
    torch.manual_seed(0)
    return ViT(dim, layers, heads, image).eval()


def export(out_dir, names):
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        model = build(name)
        dim, layers, heads, image = config(name)
        x = torch.randn(1, 3, image, image)
        onnx_path = os.path.join(out_dir, f"{name}.onnx")
        tmp = onnx_path + ".tmp"
        # The TorchScript exporter (torch >= 2.9 defaults to the dynamo one, which nests modules in functions).
        legacy = {"dynamo": False} if tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 5) else {}
        with torch.no_grad():
            torch.onnx.export(model, x, tmp, input_names=["pixel_values"], output_names=["logits"], opset_version=14,
                              do_constant_folding=True, **legacy)
        torch.save(model.state_dict(), os.path.join(out_dir, f"{name}.pt"))
        meta = {"name": name, "d_model": dim, "layers": layers, "heads": heads, "mlp": dim * 4, "patch": PATCH, "image": image,
                "classes": CLASSES, "tokens": (image // PATCH) ** 2 + 1, "parameters": sum(p.numel() for p in model.parameters()),
                "torch": torch.__version__}
        with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
            json.dump(meta, f, indent=1)
        os.replace(tmp, onnx_path)  # last: the .onnx exists only when the other files are complete
        print(json.dumps(meta))


def sgemm(out_dir, size):
    import onnx
    from onnx import TensorProto, helper

    os.makedirs(out_dir, exist_ok=True)
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [size, size])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [size, size])
    c = helper.make_tensor_value_info("c", TensorProto.FLOAT, [size, size])
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "sgemm", [a, b], [c])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 7
    path = os.path.join(out_dir, f"sgemm_{size}.onnx")
    onnx.save(model, path)
    print(json.dumps({"name": f"sgemm_{size}", "onnx": path}))


def peer(out_dir, name, threads):
    torch.set_num_threads(threads)
    model = build(name)
    model.load_state_dict(torch.load(os.path.join(out_dir, f"{name}.pt")))
    captured = []
    for block in model.blocks:
        block.attn.attn_drop.register_forward_hook(lambda _m, _i, out: captured.append(out))
    image = config(name)[3]
    x = torch.randn(1, 3, image, image)
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        captured.clear()
        t0 = time.perf_counter()
        with torch.no_grad():
            logits = model(x)
        ms = (time.perf_counter() - t0) * 1000
        assert len(captured) == len(model.blocks) and logits.shape == (1, CLASSES)
        print(json.dumps({"ms": ms, "attention": list(captured[0].shape)}), flush=True)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "export":
        export(sys.argv[2], sys.argv[3:] or list(CONFIGS))
    elif cmd == "sgemm":
        sgemm(sys.argv[2], int(sys.argv[3]))
    elif cmd == "peer":
        peer(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
