/** The painter of each UI part, as the scheduler calls them. */
import type { Part } from '../schedule';
import { paintAnatomy } from './anatomy';
import { paintChart, paintCompare } from './compare';
import { updateControls } from './controls';
import { paintHeads, paintHeadsOverlay } from './heads';
import { paintEnlarged, paintPatches, paintRollout } from './patches';
import { paintMask, paintMaskResult, paintScalingPart } from './scaling';

export const painters: Record<Part, () => void> = {
  heads: () => void paintHeads(),
  headsOv: paintHeadsOverlay,
  patches: paintPatches,
  enlarged: paintEnlarged,
  rollout: paintRollout,
  compare: paintCompare,
  chart: paintChart,
  scaling: paintScalingPart,
  mask: paintMask,
  maskResult: paintMaskResult,
  anatomy: paintAnatomy,
  controls: updateControls,
};
