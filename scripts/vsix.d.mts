export interface Target { ort: string | null; sharp: string[]; format: 'PE32+' | 'Mach-O' | 'ELF' | null; arch: 'x64' | 'arm64' | null }
export interface ZipEntry { name: string; size: number; method: number; compressed: number; local: number }
export interface NativeFormat { format: string; bits: number; arch: string }
export const TARGETS: Record<string, Target>;
export const ORT_FILES: Record<string, string[]>;
export const MAX_VSIX_BYTES: number;
export function vsixName(pkg: { name: string; version: string }, target: string): string;
export function zipEntries(file: string): { entries: ZipEntry[]; read: (e: ZipEntry) => Buffer };
export function nativeFormat(head: Buffer): NativeFormat | null;
export function checkVsix(file: string, target: string): { problems: string[]; entries: ZipEntry[]; natives: (NativeFormat & { name: string })[] };
