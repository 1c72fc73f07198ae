/** What the benchmarks ran on, read from the machine (never written by hand). */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

export interface Machine {
  cpu: string;
  cpuFamilyModel: string;
  logicalCpus: number;
  threadsPerCore: number | null;
  clockMHz: number | null;
  clockSource: string;
  simd: string[];
  memoryGiB: number;
  os: string;
  kernel: string;
  hypervisor: string | null;
  node: string;
  onnxruntime: string;
  sharp: string;
  chromium: string | null;
  loadAverage: number[];
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function field(text: string, key: string): string | null {
  const m = text.match(new RegExp(`^${key}\\s*:\\s*(.*)$`, 'm'));
  return m ? m[1].trim() : null;
}

export function pkgVersion(root: string, name: string): string {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

export function chromiumVersion(path = '/usr/bin/chromium'): string | null {
  if (!existsSync(path)) return null;
  try {
    return execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 }).trim();
  } catch {
    return null;
  }
}

export function machine(root: string): Machine {
  const cpuinfo = read('/proc/cpuinfo');
  let lscpu = '';
  try {
    lscpu = execFileSync('lscpu', { encoding: 'utf8' });
  } catch {
    /* not there */
  }
  const flags = new Set((field(cpuinfo, 'flags') ?? '').split(/\s+/));
  const maxKHz = Number(read('/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq'));
  const mhz = Number(field(cpuinfo, 'cpu MHz'));
  const osRelease = read('/etc/os-release').match(/^PRETTY_NAME="?([^"\n]*)"?/m)?.[1] ?? os.type();
  const tpc = Number(field(lscpu, 'Thread\\(s\\) per core'));
  return {
    cpu: field(cpuinfo, 'model name') ?? os.cpus()[0]?.model ?? 'unknown',
    cpuFamilyModel: `family ${field(cpuinfo, 'cpu family') ?? '?'} model ${field(cpuinfo, 'model') ?? '?'} stepping ${field(cpuinfo, 'stepping') ?? '?'}`,
    logicalCpus: os.cpus().length,
    threadsPerCore: Number.isFinite(tpc) && tpc > 0 ? tpc : null,
    clockMHz: maxKHz > 0 ? maxKHz / 1000 : Number.isFinite(mhz) && mhz > 0 ? mhz : null,
    clockSource: maxKHz > 0 ? 'cpufreq cpuinfo_max_freq' : '/proc/cpuinfo "cpu MHz" (no cpufreq in this VM: nominal clock, boost unknown)',
    simd: ['avx512f', 'avx2', 'fma', 'avx', 'sse4_2'].filter((f) => flags.has(f)),
    memoryGiB: os.totalmem() / 2 ** 30,
    os: osRelease,
    kernel: os.release(),
    hypervisor: field(lscpu, 'Hypervisor vendor'),
    node: process.version,
    onnxruntime: pkgVersion(root, 'onnxruntime-node'),
    sharp: pkgVersion(root, 'sharp'),
    chromium: chromiumVersion(),
    loadAverage: os.loadavg(),
  };
}

/**
 * Theoretical fp32 peak from the CPU flags: cores × clock × lanes × 2 (an FMA is 2 flops) × FMA units.
 * Two FMA pipes per core holds for AMD Zen 1–5 and Intel since Haswell (server parts with AVX-512 too).
 */
export function theoreticalPeak(m: Machine): { gflops: number | null; formula: string } {
  const lanes = m.simd.includes('avx512f') ? 16 : m.simd.includes('avx2') || m.simd.includes('avx') ? 8 : 4;
  const fma = m.simd.includes('fma') || m.simd.includes('avx512f') ? 2 : 1;
  const units = 2;
  const cores = m.logicalCpus / (m.threadsPerCore ?? 1);
  if (!m.clockMHz) return { gflops: null, formula: 'clock unknown' };
  const gflops = cores * (m.clockMHz / 1000) * lanes * fma * units;
  return {
    gflops,
    formula: `${cores} cores × ${(m.clockMHz / 1000).toFixed(3)} GHz × ${lanes} fp32 lanes (${m.simd.includes('avx512f') ? 'AVX-512' : 'AVX2'}) × ${fma} (FMA = 2 flops) × ${units} FMA units/core = ${gflops.toFixed(1)} GFLOP/s`,
  };
}
