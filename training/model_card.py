#!/usr/bin/env python3
"""Writes media/models/MODEL_CARD.md from the numbers train.py measured (media/models/training-*.json).

    python3 training/model_card.py        # any Python 3; no torch needed
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.environ.get('VIT_INSPECTOR_MODELS', os.path.join(ROOT, 'media', 'models'))
FLOORS = {'vit': 0.60, 'cnn': 0.75}
TITLES = {'vit': 'ViT (vit-cifar10)', 'cnn': 'CNN (cnn-cifar10)'}


def load(kind):
    with open(os.path.join(MODELS, f'training-{kind}.json')) as f:
        return json.load(f)


def describe(kind, s):
    cfg = json.load(open(os.path.join(MODELS, f'{kind}-cifar10', 'config.json')))
    if kind == 'vit':
        arch = (f"32 × 32 input, patch {cfg['patch_size']} (an 8 × 8 grid) plus a CLS token; d_model {cfg['hidden_size']}, "
                f"{cfg['num_hidden_layers']} layers, {cfg['num_attention_heads']} heads of width "
                f"{cfg['hidden_size'] // cfg['num_attention_heads']}, MLP {cfg['intermediate_size']}, pre-norm")
    else:
        arch = '32 × 32 input; ' + ', '.join(cfg['layers']) + ' (3 × 3 convolutions with batch norm and ReLU)'
    hist = ' · '.join(f"{h['epoch']}: {h['test_top1'] * 100:.1f}%" for h in s['history'])
    floor = FLOORS[kind]
    verdict = 'meets' if s['test_top1'] >= floor else 'BELOW'
    rows = '\n'.join(f"| `{x['file']}` | {x['label']} | {x['predicted']} | {x['probability']:.3f} |" for x in s['samples'])
    return f"""## {TITLES[kind]}

- Architecture: {arch}.
- Parameters: {s['params']:,}. FLOPs: {s['macs'] / 1e6:.1f} M multiply-adds ({2 * s['macs'] / 1e6:.1f} M FLOPs) per image.
- Top-1 on the 10,000 CIFAR-10 test images: **{s['test_top1'] * 100:.2f}%** ({verdict} the {floor * 100:.0f}% floor).
- Test top-1 after each epoch: {hist}.
- Model file: {s['model_bytes'] / 1e6:.2f} MB (`{kind}-cifar10/model.onnx`, ONNX opset 14, input `pixel_values` [batch, 3, 32, 32], output `logits`).
- Training: {s['epochs']} epochs, batch {s['batch']}, AdamW lr {s['lr']} (one-cycle), weight decay 0.05, label smoothing 0.1,
  random crop from a 4-pixel reflect pad and horizontal flip; seed {s['seed']}.
- Training time: {s['train_seconds'] / 60:.1f} min on {s['cores']} CPU cores ({s['cpu']}), {s['threads']} thread(s), torch {s['torch']}, {s['date']}.
- Command: `{s['command']}`.

PyTorch's answers on the first test image of each class (the project's tests check that ViT Inspector,
running the exported ONNX model, answers the same):

| image | true class | predicted | probability |
| --- | --- | --- | --- |
{rows}
"""


def main():
    parts = [describe(k, load(k)) for k in ('vit', 'cnn')]
    text = f"""# Default models

ViT Inspector ships two small models trained by `training/train.py` on the same CIFAR-10 data
(CIFAR-10 as JPEG, 50,000 training images; `training/cifar10_to_zip.py` makes the zip from the official download), with the same augmentation, optimiser and
number of epochs, so that the panel's ViT-versus-CNN comparison is fair. Each folder is Hugging Face style:
`model.onnx`, `config.json` (`id2label`) and `preprocessor_config.json` (resize to 32 × 32, rescale by 1/255,
normalise with the CIFAR-10 mean and standard deviation).

Reproduce both (Debian's `python3-torch`, `python3-torchvision`, `python3-onnx`, `libopenblas0-pthread`):

    /usr/bin/python3 training/train.py --model both --parallel
    python3 training/model_card.py

With `--parallel` the two models train at the same time, one process and one thread each; the times below
were measured that way, on a 2-core machine shared with other work.

{parts[0]}
{parts[1]}"""
    with open(os.path.join(MODELS, 'MODEL_CARD.md'), 'w') as f:
        f.write(text)
    print('wrote', os.path.join(MODELS, 'MODEL_CARD.md'))


if __name__ == '__main__':
    main()
