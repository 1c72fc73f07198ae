/**
 * Decodes any photo the user picks into (1) exactly what the model sees and (2) a small preview, with sharp.
 * Matches transformers' loading: EXIF orientation applied, alpha composited on white, 8-bit sRGB.
 */
import { promises as fs } from 'node:fs';
import { basename } from 'node:path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { InspectorError } from '../shared/errors';
import { fsError } from './modelSource';
import { IMAGE_EXTENSIONS } from '../shared/imageFormats';
import type { Preprocessing } from '../shared/types';

export interface LoadedImage {
  model: { width: number; height: number; rgb: Uint8Array }; // prep.size, resized and cropped
  preview: { width: number; height: number; rgba: Uint8Array }; // original aspect, long side ≤ previewMaxSide (see previewSide)
  original: { width: number; height: number; format: string }; // after EXIF orientation
}

export interface LoadImageOptions {
  previewMaxSide?: number; // default 512
  maxMegapixels?: number; // default 268 (sharp's own default limit)
  name?: string; // used in messages when the input is a buffer
}

export const SUPPORTED_IMAGE_EXTENSIONS: readonly string[] = IMAGE_EXTENSIONS;
const SUPPORTED_FORMATS = new Set(['png', 'jpeg', 'webp', 'gif', 'tiff', 'heif']); // heif: AVIF only in sharp's build
const SUPPORTED_LIST = SUPPORTED_IMAGE_EXTENSIONS.join(', ');
const KERNEL = { nearest: 'nearest', bilinear: 'linear', bicubic: 'cubic', lanczos: 'lanczos3' } as const;

let configured = false;
/**
 * Each image is decoded once, so libvips' operation cache only holds memory in the long-lived extension host.
 * Two threads per image are plenty after shrink-on-load and leave the cores to onnxruntime.
 */
function configureSharp() {
  if (configured) return;
  sharp.cache(false);
  sharp.concurrency(2);
  configured = true;
}

export async function loadImage(input: string | Uint8Array, prep: Preprocessing, opts: LoadImageOptions = {}): Promise<LoadedImage> {
  configureSharp();
  const name = typeof input === 'string' ? basename(input) : opts.name ?? 'the image';
  const source = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  await checkNotEmpty(input, name);
  const maxMP = opts.maxMegapixels ?? 268;
  const limitInputPixels = Math.round(maxMP * 1e6);

  // The header alone (no decode) tells the format and the claimed size; refuse before any pixel is decoded.
  const meta = await sharp(source, { limitInputPixels: false }).metadata().catch((e) => { throw decodeError(e, name); });
  if (!meta.format || !SUPPORTED_FORMATS.has(meta.format) || (meta.format === 'heif' && meta.compression !== 'av1')) {
    const what = meta.format === 'heif' ? 'HEIC' : (meta.format ?? 'unknown').toUpperCase();
    throw new InspectorError('unsupported-image', `${name} is in ${what} format, which is not supported. Use one of: ${SUPPORTED_LIST}.`);
  }
  const w = meta.width ?? 0;
  const h = meta.pageHeight ?? meta.height ?? 0;
  if (w * h > limitInputPixels) {
    throw new InspectorError('image-too-large', `${name} claims ${w} × ${h} pixels, over the ${maxMP}-megapixel limit. Resize it first.`);
  }
  const orientedW = meta.autoOrient?.width ?? w;
  const orientedH = meta.autoOrient?.height ?? h;

  // A fresh pipeline each time: resizing straight from the file lets sharp shrink big JPEGs on load.
  const pipeline = () =>
    sharp(source, { limitInputPixels, sequentialRead: true, pages: 1, page: 0, failOn: 'error' })
      .autoOrient()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb');

  const [model, preview] = await Promise.all([
    modelPixels(pipeline(), orientedW, orientedH, prep).catch((e) => { throw decodeError(e, name); }),
    previewPixels(pipeline(), previewSide(meta.format, Math.max(orientedW, orientedH), opts.previewMaxSide ?? 512)).catch((e) => { throw decodeError(e, name); }),
  ]);
  return { model, preview, original: { width: orientedW, height: orientedH, format: meta.format } };
}

async function modelPixels(img: Sharp, w: number, h: number, prep: Preprocessing) {
  const kernel = KERNEL[prep.resample];
  const [outH, outW] = prep.size;
  let rw: number;
  let rh: number;
  if ('shortestEdge' in prep.resizeTo) {
    // transformers' get_resize_output_image_size: the long side is truncated, not rounded.
    const s = prep.resizeTo.shortestEdge;
    [rw, rh] = w <= h ? [s, Math.floor((s * h) / w)] : [Math.floor((s * w) / h), s];
  } else {
    [rw, rh] = [prep.resizeTo.width, prep.resizeTo.height];
  }
  // transformers pads a crop larger than the image; growing the image instead keeps photo content in the crop.
  if (rw < outW || rh < outH) {
    const k = Math.max(outW / rw, outH / rh);
    [rw, rh] = [Math.max(outW, Math.round(rw * k)), Math.max(outH, Math.round(rh * k))];
  }
  img = img.resize(rw, rh, { fit: 'fill', kernel, fastShrinkOnLoad: true });
  if (rw !== outW || rh !== outH) {
    img = img.extract({ left: Math.floor((rw - outW) / 2), top: Math.floor((rh - outH) / 2), width: outW, height: outH });
  }
  const { data, info } = await img.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== outW || info.height !== outH) {
    throw new Error(`loadImage: got ${info.width}×${info.height}×${info.channels}, expected ${outW}×${outH}×3`);
  }
  return { width: outW, height: outH, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * The preview's long side: maxSide, or a little less when that lets a big JPEG decode at 1/8 scale instead
 * of 1/4. The preview's decode runs beside the model's and costs the most (a 12 MP photo: ~75 ms at 1/4,
 * ~57 ms at 1/8); the panel draws it at most 448 px wide. sharp shrinks a JPEG on load by s ∈ {8, 4, 2}
 * only when the whole shrink is at least s + 1 (it steps down at s itself, for libjpeg's rounding).
 */
export function previewSide(format: string, longSide: number, maxSide: number): number {
  if (format !== 'jpeg' || longSide <= maxSide) return maxSide;
  for (const s of [8, 4, 2]) {
    const side = Math.floor(longSide / (s + 1));
    if (side >= maxSide) return maxSide;
    if (side >= Math.ceil(PREVIEW_MIN_FRACTION * maxSide)) return side;
  }
  return maxSide;
}
const PREVIEW_MIN_FRACTION = 0.85;

async function previewPixels(img: Sharp, maxSide: number) {
  const { data, info } = await img
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: true })
    .removeAlpha()
    .ensureAlpha(1)
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

async function checkNotEmpty(input: string | Uint8Array, name: string) {
  let size: number;
  if (typeof input === 'string') {
    try {
      const st = await fs.stat(input);
      if (st.isDirectory()) throw new InspectorError('unsupported-image', `${name} is a folder, not an image. Pick an image file (${SUPPORTED_LIST}).`);
      size = st.size;
    } catch (e) {
      throw e instanceof InspectorError ? e : fsError(e, input, 'image');
    }
  } else size = input.byteLength;
  if (size === 0) throw new InspectorError('empty-file', `${name} is empty (0 bytes). Pick another image.`);
}

function decodeError(e: unknown, name: string): Error {
  if (e instanceof InspectorError) return e;
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  if (/unsupported image format/i.test(msg)) {
    return new InspectorError('unsupported-image', `${name} is not an image in a supported format. Use one of: ${SUPPORTED_LIST}.`);
  }
  if (/exceeds pixel limit/i.test(msg)) {
    return new InspectorError('image-too-large', `${name} is over the pixel limit. Resize it first.`);
  }
  if (/Input file is missing/i.test(msg)) return new InspectorError('file-not-found', `${name} does not exist. Check the image path.`);
  if (/EACCES|permission/i.test(msg)) return new InspectorError('unreadable', `${name} cannot be read. Check its permissions.`);
  return new InspectorError('bad-image', `${name} could not be decoded (${msg.trim()}). The file is corrupt or truncated: re-export or re-download it.`);
}
