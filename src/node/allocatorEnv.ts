/**
 * glibc malloc settings for the inference process (set when it is started: glibc reads them once, at start).
 *
 * onnxruntime-node 1.30 copies every fetched output into a new ArrayBuffer, even one written in place into
 * a preallocated array (src/node/attentionRun.ts), and those copies are freed at the next garbage collection.
 * With glibc's defaults, blocks of that size (1–20 MB per layer) are mmap'd or trimmed back to the system
 * when freed, so every run faults the same pages in again and the kernel zeroes them: about 1,100 page faults
 * and a tenth of a ViT-S/16 run (BENCHMARKS.md, "Attention extraction overhead"). Served from the heap and
 * kept there, they are reused warm. The cost: up to TRIM_BYTES of freed memory stays with the process.
 *
 * Other C libraries (macOS, Windows, musl) ignore these variables.
 */
const MMAP_THRESHOLD_BYTES = 32 * 2 ** 20; // glibc's own ceiling for its adaptive threshold
const TRIM_BYTES = 256 * 2 ** 20;

export const INFERENCE_ALLOCATOR_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: String(MMAP_THRESHOLD_BYTES),
  MALLOC_TRIM_THRESHOLD_: String(TRIM_BYTES),
};

/** `env` with the inference process's allocator settings, unless the user set any MALLOC_* variable (then theirs stand). */
export function inferenceProcessEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (Object.keys(env).some((k) => k.startsWith('MALLOC_'))) return { ...env };
  return { ...env, ...INFERENCE_ALLOCATOR_ENV };
}
