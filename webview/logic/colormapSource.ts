/** Where the 256-entry LUTs come from: src/core/colormap.ts (d3-scale-chromatic, sampled once per name). */
export { colormapLut } from '../../src/core/colormap';
