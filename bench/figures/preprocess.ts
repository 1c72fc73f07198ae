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
  r: Interleaved; // variants: sharpOnly (baseline), engine, singleDecode (diagnostic)
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
      // Diagnostic, not the engine: one decode (shrink-on-load to the 512 px preview) from which both the
      // preview and the 224×224 model pixels are made, instead of two decodes of the whole JPEG.
      singleDecode: async () => {
        const { data, info } = await sharp(image).rotate().resize(512, 512, { fit: 'inside', fastShrinkOnLoad: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        const raw = { raw: { width: info.width, height: info.height, channels: 3 as const } };
        const [model] = await Promise.all([
          sharp(data, raw).resize(224, 224, { fit: 'fill' }).raw().toBuffer(),
          sharp(data, raw).ensureAlpha(1).raw().toBuffer(),
        ]);
        return toInputTensor(new Uint8Array(model.buffer, model.byteOffset, model.byteLength), 224, 224, prep);
      },
    },
    rounds,
  );
  return { image, width: meta.width ?? 0, height: meta.height ?? 0, bytes: statSync(image).size, r };
}
