/**
 * Preprocessing: a 12-megapixel JPEG file to the model's input tensor, by the engine's own path
 * (loadImage: header check, then sharp with shrink-on-load for the 224×224 model pixels and the preview
 * in parallel; then toInputTensor), next to sharp alone doing only the 224×224 resize.
 */
import sharp from 'sharp';
import { loadImage } from '../../src/node/imageLoad';
import { preprocessingFrom, toInputTensor } from '../../src/node/preprocess';
import { interleave, type Interleaved } from '../lib/stats';

export interface PreprocessResult {
  image: string;
  width: number;
  height: number;
  bytes: number;
  preview: { width: number; height: number }; // the engine's preview of this photo (see previewSide)
  r: Interleaved; // variants: sharpOnly (baseline), engine, fullPreview (diagnostic)
}

export async function measurePreprocess(image: string, rounds: number): Promise<PreprocessResult> {
  const { preprocessing: prep } = preprocessingFrom(null, [224, 224]);
  const meta = await sharp(image).metadata();
  const { statSync } = await import('node:fs');
  const r = await interleave(
    {
      sharpOnly: () => sharp(image).resize(224, 224, { fit: 'fill', fastShrinkOnLoad: true }).removeAlpha().raw().toBuffer(),
      engine: async () => {
        const img = await loadImage(image, prep);
        return toInputTensor(img.model.rgb, img.model.height, img.model.width, prep);
      },
      // Diagnostic, not the engine: the same two decodes with the preview at the full 512 px, which makes libjpeg
      // decode at 1/4 scale instead of 1/8 (what loadImage did before previewSide).
      fullPreview: async () => {
        const p = () => sharp(image, { sequentialRead: true }).autoOrient().flatten({ background: '#fff' }).toColourspace('srgb');
        const [model] = await Promise.all([
          p().resize(224, 224, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true }).removeAlpha().raw().toBuffer(),
          p().resize(512, 512, { fit: 'inside', fastShrinkOnLoad: true }).removeAlpha().ensureAlpha(1).raw().toBuffer(),
        ]);
        return toInputTensor(new Uint8Array(model.buffer, model.byteOffset, model.byteLength), 224, 224, prep);
      },
    },
    rounds,
  );
  const { preview } = await loadImage(image, prep);
  return { image, width: meta.width ?? 0, height: meta.height ?? 0, bytes: statSync(image).size, preview: { width: preview.width, height: preview.height }, r };
}
