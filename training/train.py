#!/usr/bin/env python3
"""Train the two default models (a small ViT and a small CNN) on CIFAR-10 and export them.

Both models see the same data, the same augmentation (random crop from a 4-pixel reflect pad,
horizontal flip), the same optimiser (AdamW, one-cycle) and the same number of epochs, so the
panel's ViT-versus-CNN comparison is fair.

    python3 training/train.py --model both --data cifar10-jpeg.zip   # as quoted in media/models/MODEL_CARD.md

Data: CIFAR-10 (Krizhevsky, 2009) as a zip of JPEG files laid out train/<class>/NNNN.jpg (5,000 per class)
and test/<class>/NNNN.jpg (1,000 per class). training/cifar10_to_zip.py writes that zip from the official
CIFAR-10 python version (cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html).
--data names it; without it, ../shared/data/cifar10-jpeg.zip beside the repository is tried (a local default).

Output: media/models/vit-cifar10/ and media/models/cnn-cifar10/, each a Hugging Face style folder
(model.onnx, config.json, preprocessor_config.json), plus media/models/training-<model>.json with
the measured numbers, from which MODEL_CARD.md is written.
"""
import argparse
import io
import json
import math
import os
import platform
import time
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(ROOT, '..', 'shared', 'data', 'cifar10-jpeg.zip')
CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2470, 0.2435, 0.2616]
SEED = 20261126


def load_split(zip_path, split, limit=None):
    """Decode every JPEG of one split into a uint8 tensor [N, 3, 32, 32] (kept as bytes: 4x less memory)."""
    with zipfile.ZipFile(zip_path) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith(split + '/') and n.endswith('.jpg'))
        if limit:
            rng = np.random.default_rng(SEED)
            names = [names[i] for i in sorted(rng.choice(len(names), limit, replace=False))]
        images = np.empty((len(names), 32, 32, 3), dtype=np.uint8)
        labels = np.empty(len(names), dtype=np.int64)
        for i, name in enumerate(names):
            images[i] = np.asarray(Image.open(io.BytesIO(zf.read(name))).convert('RGB'))
            labels[i] = CLASSES.index(name.split('/')[1])
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)


def augment(batch, gen):
    """Random 32x32 crop from the batch padded by 4 (reflect) and a random horizontal flip, batched."""
    b = batch.shape[0]
    padded = F.pad(batch.float(), (4, 4, 4, 4), mode='reflect')
    oy = torch.randint(0, 9, (b,), generator=gen)
    ox = torch.randint(0, 9, (b,), generator=gen)
    ar = torch.arange(32)
    rows = (oy[:, None] + ar)[:, None, :, None].expand(b, 3, 32, 40)
    out = padded.gather(2, rows)
    cols = (ox[:, None] + ar)[:, None, None, :].expand(b, 3, 32, 32)
    out = out.gather(3, cols)
    flip = torch.rand(b, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def normalise(batch_uint8):
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (batch_uint8.float() / 255.0 - mean) / std


# ----------------------------------------------------------------------------------------------
# Models. The attention is written out (not nn.MultiheadAttention) so that the exported graph has
# the plain Softmax over [B, H, N, N] that ViT Inspector finds and exposes.


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = (q @ k.transpose(-2, -1)) * self.scale
        attn = scores.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, image=32, patch=4, dim=64, depth=6, heads=4, mlp_ratio=2, classes=10):
        super().__init__()
        self.config = dict(image_size=image, patch_size=patch, hidden_size=dim, num_hidden_layers=depth,
                           num_attention_heads=heads, intermediate_size=dim * mlp_ratio)
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        tokens = (image // patch) ** 2 + 1
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])

    def flops(self):
        """Multiply-adds of one forward pass, counted by hand (linear layers plus the two attention matmuls)."""
        c = self.config
        n = (c['image_size'] // c['patch_size']) ** 2 + 1
        d, L, m = c['hidden_size'], c['num_hidden_layers'], c['intermediate_size']
        patch = (n - 1) * 3 * c['patch_size'] ** 2 * d
        per_layer = n * (3 * d * d + d * d + 2 * d * m) + 2 * n * n * d
        return patch + L * per_layer + d * 10


def conv_bn(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class CNN(nn.Module):
    """A small VGG-style CNN: 3x3 convolutions and 2x2 max-pools, so the receptive field grows with depth."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn(3, 32), *conv_bn(32, 32), nn.MaxPool2d(2),
            *conv_bn(32, 64), nn.MaxPool2d(2),
            *conv_bn(64, 128), nn.MaxPool2d(2),
            *conv_bn(128, 256))
        self.head = nn.Linear(256, classes)
        self.config = dict(image_size=32, layers=['conv3-32', 'conv3-32', 'pool2', 'conv3-64', 'pool2',
                                                  'conv3-128', 'pool2', 'conv3-256', 'avgpool', 'fc'])

    def forward(self, x):
        x = self.features(x)
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))

    def flops(self):
        total = 0
        x = torch.zeros(1, 3, 32, 32)
        for layer in self.features:
            y = layer(x)
            if isinstance(layer, nn.Conv2d):
                total += y.numel() * layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
            x = y
        return total + 256 * 10


# ----------------------------------------------------------------------------------------------


def evaluate(model, images, labels, batch=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            correct += (model(normalise(images[i:i + batch])).argmax(1) == labels[i:i + batch]).sum().item()
    return correct / len(images)


def train(kind, train_set, test_set, epochs, batch, lr, log):
    torch.manual_seed(SEED)
    model = ViT() if kind == 'vit' else CNN()
    params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and 'pos_embed' not in n and 'cls_token' not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and 'pos_embed' not in n and 'cls_token' not in n)]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.05}, {'params': no_decay, 'weight_decay': 0.0}], lr=lr)
    images, labels = train_set
    steps_per_epoch = len(images) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.15)
    gen = torch.Generator().manual_seed(SEED)
    history = []
    start = time.time()
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        order = torch.randperm(len(images), generator=gen)
        seen_loss = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * batch:(step + 1) * batch]
            x = normalise(augment(images[idx], gen))
            loss = F.cross_entropy(model(x), labels[idx], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen_loss += loss.item()
        acc = evaluate(model, *test_set)
        history.append({'epoch': epoch + 1, 'loss': seen_loss / steps_per_epoch, 'test_top1': acc, 'seconds': time.time() - t0})
        log(f'{kind} epoch {epoch + 1}/{epochs}: loss {seen_loss / steps_per_epoch:.3f} test top-1 {acc:.4f} ({time.time() - t0:.0f} s)')
    return model, {'params': params, 'macs': model.flops(), 'history': history, 'test_top1': history[-1]['test_top1'],
                   'train_seconds': time.time() - start}


def sample_predictions(model, zip_path):
    """PyTorch's prediction for test/<class>/0000.jpg of every class: the model card lists them and the
    project's tests check that the exported ONNX model, run by ViT Inspector, answers the same."""
    model.eval()
    out = []
    with zipfile.ZipFile(zip_path) as zf:
        for c in CLASSES:
            name = f'test/{c}/0000.jpg'
            x = torch.from_numpy(np.asarray(Image.open(io.BytesIO(zf.read(name))).convert('RGB'))).permute(2, 0, 1)[None]
            with torch.no_grad():
                p = model(normalise(x)).softmax(1)[0]
            out.append({'file': name, 'label': c, 'predicted': CLASSES[int(p.argmax())], 'probability': float(p.max())})
    return out


def export(kind, model, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 3, 32, 32), os.path.join(out_dir, 'model.onnx'),
                      input_names=['pixel_values'], output_names=['logits'], opset_version=14,
                      dynamic_axes={'pixel_values': {0: 'batch'}, 'logits': {0: 'batch'}}, do_constant_folding=True)
    id2label = {str(i): c for i, c in enumerate(CLASSES)}
    config = dict(model.config, model_type='vit' if kind == 'vit' else 'cnn', num_channels=3,
                  id2label=id2label, label2id={c: i for i, c in enumerate(CLASSES)})
    with open(os.path.join(out_dir, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
    pre = {'image_processor_type': 'ViTImageProcessor' if kind == 'vit' else 'ConvNextImageProcessor',
           'do_resize': True, 'size': {'height': 32, 'width': 32}, 'resample': 2,
           'do_rescale': True, 'rescale_factor': 1 / 255, 'do_normalize': True,
           'image_mean': MEAN, 'image_std': STD}
    with open(os.path.join(out_dir, 'preprocessor_config.json'), 'w') as f:
        json.dump(pre, f, indent=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', choices=['vit', 'cnn', 'both'], default='both')
    ap.add_argument('--data', default=DEFAULT_DATA,
                    help='CIFAR-10 as a zip of train/<class>/NNNN.jpg and test/<class>/NNNN.jpg (see above); default: %(default)s')
    ap.add_argument('--epochs', type=int, default=7)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--parallel', action='store_true', help='with --model both: train the two models at once, one process each')
    ap.add_argument('--limit', type=int, default=None, help='use only this many training images (smoke runs)')
    ap.add_argument('--out', default=os.path.join(ROOT, 'media', 'models'))
    args = ap.parse_args()
    if not os.path.isfile(args.data):
        ap.error(f'no CIFAR-10 zip at {args.data}: download cifar-10-python.tar.gz from '
                 'https://www.cs.toronto.edu/~kriz/cifar.html, run training/cifar10_to_zip.py on it, then pass --data')
    torch.set_num_threads(args.threads)
    log = lambda s: print(s, flush=True)
    t0 = time.time()
    train_set = load_split(args.data, 'train', args.limit)
    test_set = load_split(args.data, 'test')
    log(f'decoded {len(train_set[0])} training and {len(test_set[0])} test images in {time.time() - t0:.0f} s')
    kinds = ['vit', 'cnn'] if args.model == 'both' else [args.model]
    if args.model == 'both' and args.parallel:
        # One process per model, one thread each: on 2 cores this beats two threads taking turns.
        import subprocess, sys
        procs = [subprocess.Popen([sys.executable, *sys.argv[:1], *[a for a in sys.argv[1:] if a != '--parallel'], '--model', k])
                 for k in kinds]
        sys.exit(max(p.wait() for p in procs))
    for kind in kinds:
        model, stats = train(kind, train_set, test_set, args.epochs, args.batch, args.lr, log)
        out_dir = os.path.join(args.out, f'{kind}-cifar10')
        export(kind, model, out_dir)
        stats['samples'] = sample_predictions(model, args.data)
        stats.update(kind=kind, epochs=args.epochs, batch=args.batch, lr=args.lr, threads=args.threads, seed=SEED,
                     limit=args.limit, torch=torch.__version__, cpu=platform.processor() or platform.machine(),
                     cores=os.cpu_count(), model_bytes=os.path.getsize(os.path.join(out_dir, 'model.onnx')),
                     command=f'python3 training/train.py --model {kind} --epochs {args.epochs} --threads {args.threads}',
                     date=time.strftime('%Y-%m-%d'))
        with open(os.path.join(args.out, f'training-{kind}.json'), 'w') as f:
            json.dump(stats, f, indent=2)
        log(f'{kind}: {stats["params"]} parameters, {stats["macs"] / 1e6:.1f} M MACs, top-1 {stats["test_top1"]:.4f}')


if __name__ == '__main__':
    main()
