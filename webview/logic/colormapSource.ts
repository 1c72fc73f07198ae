/** Where the 256-entry LUTs come from: src/shared/colormap.ts (d3-scale-chromatic, sampled once per name). */
export { colormapLut } from '../../src/shared/colormap';
