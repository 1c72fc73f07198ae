/** A patch grid laid over a model's input: cell boundaries, and images with cells filled or perturbed. */

export interface Grid {
  rows: number;
  cols: number;
  /** Input size [height, width] in pixels. */
  size: [number, number];
  /** Row r spans pixels [ys[r], ys[r + 1]); column c spans [xs[c], xs[c + 1]). */
  ys: number[];
  xs: number[];
}

/** rows × cols cells over an h × w input, boundaries at floor(i · h / rows) (exact for a ViT's patch grid). */
export function makeGrid(size: [number, number], rows: number, cols: number): Grid {
  const [h, w] = size;
  return {
    rows, cols, size,
    ys: Array.from({ length: rows + 1 }, (_, i) => Math.floor((i * h) / rows)),
    xs: Array.from({ length: cols + 1 }, (_, i) => Math.floor((i * w) / cols)),
  };
}

/** Writes `value` (set) or adds it (add) over cell `cell` of an NCHW 3·H·W image, in place. */
export function paintCell(img: Float32Array, g: Grid, cell: number, value: number, mode: 'set' | 'add'): void {
  const [h, w] = g.size;
  const r = Math.floor(cell / g.cols), c = cell % g.cols;
  for (let ch = 0; ch < 3; ch++) {
    for (let y = g.ys[r]; y < g.ys[r + 1]; y++) {
      const row = ch * h * w + y * w;
      for (let x = g.xs[c]; x < g.xs[c + 1]; x++) img[row + x] = mode === 'set' ? value : img[row + x] + value;
    }
  }
}

/** The image with the cells where keep[cell] is 0 set to the fill (0: the dataset mean after normalisation). */
export function keepCells(image: Float32Array, g: Grid, keep: ArrayLike<number>, fill = 0): Float32Array {
  const out = image.slice();
  for (let cell = 0; cell < g.rows * g.cols; cell++) if (!keep[cell]) paintCell(out, g, cell, fill, 'set');
  return out;
}
