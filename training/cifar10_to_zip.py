#!/usr/bin/env python3
"""Write CIFAR-10 as the JPEG zip that train.py reads, from the official python version.

    python3 training/cifar10_to_zip.py cifar-10-python.tar.gz cifar10-jpeg.zip

Input: cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html (Krizhevsky, 2009), or the
folder cifar-10-batches-py/ unpacked from it. Output: a zip (stored, not deflated: JPEG does not compress
further) with train/<class>/NNNN.jpg (5,000 per class) and test/<class>/NNNN.jpg (1,000 per class), numbered
per class in the order of the batches, encoded by Pillow's defaults (quality 75, 4:2:0), the encoding of the
archive the default models were trained from (its JPEG quantisation tables are Pillow's quality-75 ones).
"""
import io
import os
import pickle
import sys
import tarfile
import zipfile

import numpy as np
from PIL import Image

CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
SPLITS = {'train': [f'data_batch_{i}' for i in range(1, 6)], 'test': ['test_batch']}


def batches(source):
    """(batch name, dict) for every batch file, from the tarball or the unpacked folder."""
    if os.path.isdir(source):
        for split in SPLITS.values():
            for name in split:
                with open(os.path.join(source, name), 'rb') as f:
                    yield name, pickle.load(f, encoding='bytes')
        return
    with tarfile.open(source) as tf:
        members = {os.path.basename(m.name): m for m in tf.getmembers() if m.isfile()}
        for split in SPLITS.values():
            for name in split:
                yield name, pickle.load(tf.extractfile(members[name]), encoding='bytes')


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, out = sys.argv[1:]
    loaded = dict(batches(source))
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as zf:
        for split, names in SPLITS.items():
            counts = [0] * len(CLASSES)
            for name in names:
                batch = loaded[name]
                images = np.asarray(batch[b'data'], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
                for image, label in zip(images, batch[b'labels']):
                    buf = io.BytesIO()
                    Image.fromarray(image).save(buf, 'JPEG')
                    zf.writestr(f'{split}/{CLASSES[label]}/{counts[label]:04d}.jpg', buf.getvalue())
                    counts[label] += 1
            print(f'{split}: {sum(counts)} images', flush=True)


if __name__ == '__main__':
    main()
