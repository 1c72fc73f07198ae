/**
 * The survey's CNN part, in the inference process: the CNN's measured effective receptive field of one image
 * (src/node/explain/erf.ts, as `explain` measures it) reduced to each layer's sides at 20/50/99 %. The CNN's
 * session is opened once per process and kept for the next images.
 */
import { ERF_FRACTIONS } from '../../shared/erf';
import { loadImage } from '../imageLoad';
import { toInputTensor } from '../preprocess';
import { cnnErf, DELTA } from '../explain/erf';
import { loadExplainModel, openCnn, type CnnModel, type LoadedForExplain } from '../explain/model';

/** The survey's default cell: 2 px, a quarter of explain's passes on CIFAR's 32×32 (257, not 1025); see docs/survey-at-scale.md. */
export const SURVEY_CNN_CELL_PX = 2;

export interface CnnErfRequest {
  modelPath: string;
  cellPx: number;
  batchSize?: number;
}

export const CNN_ERF_UNIT = 'the centre position of each reported layer’s feature map, Σ over channels of |Δ|';
export { DELTA as CNN_ERF_DELTA, ERF_FRACTIONS };

export class SurveyCnn {
  private open?: { key: string; loaded: LoadedForExplain; model: CnnModel };

  /** [layer][fraction] sides in input pixels of `image`, ERF_FRACTIONS order. */
  async sides(req: CnnErfRequest, image: string | Uint8Array, threads: number, maxModelMB: number | undefined, signal?: AbortSignal): Promise<number[][]> {
    const { loaded, model } = await this.model(req.modelPath, threads, maxModelMB);
    const img = await loadImage(image, loaded.common.prep);
    const x = toInputTensor(img.model.rgb, img.model.height, img.model.width, loaded.common.prep);
    const report = await cnnErf(model, x, { cellPx: req.cellPx, batchSize: req.batchSize, signal });
    return report.layers.map((l) => ERF_FRACTIONS.map((f) => l.sides[String(f)]));
  }

  private async model(path: string, threads: number, maxModelMB: number | undefined) {
    const key = `${path}\u0000${threads}\u0000${maxModelMB ?? ''}`;
    if (this.open?.key !== key) {
      await this.dispose();
      const loaded = await loadExplainModel(path, maxModelMB);
      this.open = { key, loaded, model: await openCnn(loaded, threads) };
    }
    return this.open;
  }

  async dispose(): Promise<void> {
    const o = this.open;
    this.open = undefined;
    await o?.model.session.release();
  }
}
