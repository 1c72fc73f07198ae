/**
 * Peer: onnxruntime (the engine's run with attention) against PyTorch eager with forward hooks capturing
 * every layer's attention (bench/torch_vit.py peer: what a notebook user would run), same model and
 * weights, 2 threads each. PyTorch runs in its own Python process, timed there; the two alternate run by
 * run, so neither competes with the other for the cores and slow phases of the machine hit both.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join, basename } from 'node:path';
import { createInterface } from 'node:readline';
import * as attentionRun from '../../src/node/attentionRun';
import * as session from '../../src/node/session';

const engine = { ...attentionRun, ...session };
import { python } from '../lib/assets';
import { interleaveMeasured, type Interleaved } from '../lib/stats';
import { GAP_MS, prepare, THREADS } from './overhead';

export interface PeerResult {
  model: string;
  threads: number;
  torch: string;
  r: Interleaved; // variants: onnxruntime (baseline), pytorch; ratio pytorch / onnxruntime
}

class Peer {
  private readonly lines: AsyncIterator<string>;
  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<Record<string, unknown>> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error('the PyTorch peer exited');
    return JSON.parse(value);
  }
  async run(): Promise<number> {
    this.child.stdin.write('run\n');
    return (await this.next()).ms as number;
  }
  close() {
    this.child.stdin.end();
    this.child.kill();
  }
}

export async function measurePeer(root: string, model: string, rounds: number): Promise<PeerResult> {
  const name = basename(model, '.onnx');
  const child = spawn(python(), [join(root, 'bench', 'torch_vit.py'), 'peer', dirname(model), name, String(THREADS)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, OMP_NUM_THREADS: String(THREADS) },
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const peer = new Peer(child);
  try {
    const hello = await peer.next().catch((e) => {
      throw new Error(`${(e as Error).message}: ${err.slice(-1000)}`);
    });
    const p = prepare(model);
    const session = await engine.createSession(p.exposed, THREADS, model);
    const r = await interleaveMeasured(
      {
        onnxruntime: async () => {
          const t0 = performance.now();
          await engine.runWithAttention(session, p.feeds, p.logitsName, p.sites);
          return performance.now() - t0;
        },
        pytorch: () => peer.run(),
      },
      rounds,
      2,
      GAP_MS, // both runtimes' worker threads spin a while after a run (onnxruntime's pool, PyTorch's OpenMP)
    );
    return { model, threads: THREADS, torch: String(hello.torch), r };
  } finally {
    peer.close();
  }
}
