/**
 * Whether this install of the extension can run here: its VSIX carries onnxruntime's and sharp's binaries for
 * one platform only, so a VSIX for another platform (or a platform with no VSIX: Intel Macs, Alpine's musl)
 * would fail on the first inference. Checked by file, without loading the native code into the extension host.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SUPPORTED_TARGETS = ['win32-x64', 'win32-arm64', 'darwin-arm64', 'linux-x64', 'linux-arm64'];

function usesGlibc(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return !!report?.header?.glibcVersionRuntime;
}

/** The one-line reason the extension cannot run on this platform, or undefined when it can. */
export function nativeSupportProblem(extensionPath: string, platform: string = process.platform, arch: string = process.arch,
  glibc: () => boolean = usesGlibc): string | undefined {
  const target = `${platform}-${arch}`;
  const others = 'install the VSIX for your platform (' + SUPPORTED_TARGETS.join(', ') + '), or open your folder on a supported '
    + 'machine with Remote-SSH, a Dev Container or WSL, where the extension runs on that machine';
  if (platform === 'linux' && !glibc()) return `ViT Inspector needs glibc on Linux (sharp and onnxruntime have no musl build here, e.g. Alpine): ${others}.`;
  const ort = join(extensionPath, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', platform, arch, 'onnxruntime_binding.node');
  const sharp = join(extensionPath, 'node_modules', '@img', `sharp-${target}`, 'package.json');
  if (existsSync(ort) && existsSync(sharp)) return undefined;
  const why = SUPPORTED_TARGETS.includes(target)
    ? `this install has no onnxruntime or sharp build for ${target} (a VSIX for another platform?)`
    : `onnxruntime-node has no build for ${target}${target === 'darwin-x64' ? ' (Intel Macs)' : ''}`;
  return `ViT Inspector cannot run on ${target}: ${why}; ${others}.`;
}

/** The commands package.json contributes. */
export function contributedCommands(extensionPath: string): string[] {
  const manifest = JSON.parse(readFileSync(join(extensionPath, 'package.json'), 'utf8')) as { contributes?: { commands?: { command: string }[] } };
  return (manifest.contributes?.commands ?? []).map((c) => c.command);
}
