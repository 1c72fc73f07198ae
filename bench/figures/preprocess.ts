/**
 * Preprocessing: a 12-megapixel JPEG file to the model's input tensor, by the engine's own path
 * (loadImage: header check, then sharp with shrink-on-load for the 224×224 model pixels and the 512 px
 * preview in parallel; then toInputTensor), next to sharp alone doing only the 224×224 resize.
 */
import sharp from 'sharp';
import { loadImage } from '../../src/core/imageLoad';
import { preprocessingFrom, toInputTensor } from '../../src/core/preprocess';
import { interleave, type Interleaved } from '../lib/stats';

export interface PreprocessResult {
  image: string;
  width: number;
  height: number;
  bytes: number;
  r: Interleaved; // variants: sharpOnly (baseline), engine
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
    },
    rounds,
  );
  return { image, width: meta.width ?? 0, height: meta.height ?? 0, bytes: statSync(image).size, r };
}
