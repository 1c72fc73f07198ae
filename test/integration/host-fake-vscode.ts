/**
 * A minimal stand-in for the `vscode` module, enough for src/host/extension.ts, src/host/panel.ts and src/host/commands.ts to
 * run under plain Node: commands, configuration with user/workspace levels and workspace trust, webview panels
 * whose webview records what the host posts and lets a test post messages back, notifications that record
 * what they show and answer with a scripted choice. `installFakeVscode()` makes `require('vscode')` return it.
 */
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Listener<T> = (e: T) => unknown;

export class EventEmitter<T> {
  private listeners = new Set<Listener<T>>();
  event = (listener: Listener<T>) => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class Uri {
  private constructor(readonly scheme: string, readonly fsPath: string) {}
  static file(p: string): Uri {
    return new Uri('file', p);
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(base.scheme, join(base.fsPath, ...parts));
  }
  get path(): string {
    return this.fsPath;
  }
  toString(): string {
    return `https://file+.vscode-resource.vscode-cdn.net${this.fsPath}`;
  }
}

export enum ViewColumn { Active = -1, Beside = -2, One = 1 }
export enum ProgressLocation { SourceControl = 1, Window = 10, Notification = 15 }
export enum ConfigurationTarget { Global = 1, Workspace = 2, WorkspaceFolder = 3 }
export enum QuickPickItemKind { Separator = -1, Default = 0 }
export class TabInputCustom {
  constructor(readonly uri: Uri, readonly viewType: string) {}
}

export class FakeWebview {
  html = '';
  options: unknown = {};
  readonly cspSource = 'https://*.vscode-cdn.net';
  readonly posted: { type: string; [k: string]: unknown }[] = [];
  private readonly incoming = new EventEmitter<unknown>();
  private readonly waiters: { pred: (m: { type: string }) => boolean; resolve: (m: any) => void }[] = [];
  onDidReceiveMessage = this.incoming.event;
  asWebviewUri(uri: Uri): Uri {
    return uri;
  }
  async postMessage(message: { type: string }): Promise<boolean> {
    this.posted.push(message as { type: string });
    for (const w of [...this.waiters]) {
      if (w.pred(message)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(message);
      }
    }
    return true;
  }
  /** A message from the webview's script. */
  send(message: unknown): void {
    this.incoming.fire(message);
  }
  /** The next posted message (after those already seen) that matches. */
  next<T extends { type: string }>(type: string, timeoutMs = 60_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} message within ${timeoutMs} ms; got ${this.posted.map((m) => m.type).join(', ')}`)), timeoutMs);
      this.waiters.push({ pred: (m) => m.type === type, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  }
}

export class FakeWebviewPanel {
  readonly webview = new FakeWebview();
  iconPath: unknown;
  active = true;
  visible = true;
  disposed = false;
  revealed = 0;
  private readonly disposeEmitter = new EventEmitter<void>();
  private readonly viewStateEmitter = new EventEmitter<{ webviewPanel: FakeWebviewPanel }>();
  onDidDispose = this.disposeEmitter.event;
  onDidChangeViewState = this.viewStateEmitter.event;
  constructor(readonly viewType: string, public title: string, readonly options: unknown) {}
  reveal(): void {
    this.revealed++;
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.disposeEmitter.fire();
  }
}

interface ConfigLevels { defaultValue?: unknown; globalValue?: unknown; workspaceValue?: unknown }

/** Everything a test can look at or script. */
export const fake = {
  commands: new Map<string, (...args: any[]) => unknown>(),
  panels: [] as FakeWebviewPanel[],
  serializers: new Map<string, { deserializeWebviewPanel(panel: FakeWebviewPanel, state: unknown): Promise<void> }>(),
  config: new Map<string, ConfigLevels>(),
  trusted: true,
  messages: [] as { level: 'info' | 'warning' | 'error'; message: string; items: string[] }[],
  /** Answers the next notifications (undefined = dismissed). */
  answers: [] as (string | undefined)[],
  log: [] as string[],
  progress: [] as { title: string; location: number; cancellable: boolean }[],
  openDialog: [] as (Uri[] | undefined)[],
  /** Chooses from a quick pick (undefined = dismissed); the items shown are kept in quickPicks. */
  quickPick: (_items: { label: string; description?: string }[]) => undefined as unknown,
  quickPicks: [] as { label: string; description?: string }[][],
  documents: [] as { language?: string; content?: string }[],
  globalState: new Map<string, unknown>(),
  configChanged: new EventEmitter<{ affectsConfiguration(s: string): boolean }>(),
  trustGranted: new EventEmitter<void>(),
  activeTab: undefined as undefined | { input: unknown },
  reset(): void {
    this.commands.clear();
    this.panels.length = 0;
    this.serializers.clear();
    this.config.clear();
    this.trusted = true;
    this.messages.length = 0;
    this.answers.length = 0;
    this.log.length = 0;
    this.progress.length = 0;
    this.globalState.clear();
  },
};

function notify(level: 'info' | 'warning' | 'error') {
  return async (message: string, ...rest: unknown[]) => {
    const items = rest.filter((r): r is string => typeof r === 'string');
    fake.messages.push({ level, message, items });
    return fake.answers.shift();
  };
}

const configuration = (section: string) => ({
  get<T>(key: string): T | undefined {
    const c = fake.config.get(`${section}.${key}`);
    if (!c) return undefined;
    // Like a careless host: the workspace value wins even when the workspace is untrusted.
    return (c.workspaceValue ?? c.globalValue ?? c.defaultValue) as T;
  },
  inspect<T>(key: string) {
    return { key: `${section}.${key}`, ...(fake.config.get(`${section}.${key}`) ?? {}) } as { defaultValue?: T; globalValue?: T; workspaceValue?: T };
  },
  async update(key: string, value: unknown, target: ConfigurationTarget) {
    const k = `${section}.${key}`;
    const c = fake.config.get(k) ?? {};
    if (target === ConfigurationTarget.Global) c.globalValue = value;
    else c.workspaceValue = value;
    fake.config.set(k, c);
    fake.configChanged.fire({ affectsConfiguration: (s: string) => k === s || k.startsWith(`${s}.`) });
  },
});

export const window = {
  createOutputChannel: (_name: string) => ({
    info: (l: string) => fake.log.push(l),
    appendLine: (l: string) => fake.log.push(l),
    show() {},
    dispose() {},
  }),
  createWebviewPanel(viewType: string, title: string, _column: unknown, options: unknown) {
    const p = new FakeWebviewPanel(viewType, title, options);
    fake.panels.push(p);
    return p;
  },
  registerWebviewPanelSerializer(viewType: string, s: any) {
    fake.serializers.set(viewType, s);
    return { dispose: () => fake.serializers.delete(viewType) };
  },
  async withProgress<T>(opts: { title: string; location: number; cancellable?: boolean },
    task: (p: { report(v: unknown): void }, token: { isCancellationRequested: boolean; onCancellationRequested: (l: () => void) => { dispose(): void } }) => Promise<T>) {
    fake.progress.push({ title: opts.title, location: opts.location, cancellable: !!opts.cancellable });
    const cancel = new EventEmitter<void>();
    return task({ report() {} }, { isCancellationRequested: false, onCancellationRequested: (l) => cancel.event(l) });
  },
  showInformationMessage: notify('info'),
  showWarningMessage: notify('warning'),
  showErrorMessage: notify('error'),
  async showOpenDialog() {
    return fake.openDialog.shift();
  },
  async showQuickPick(items: { label: string; description?: string }[]) {
    fake.quickPicks.push(items);
    return fake.quickPick(items);
  },
  async showTextDocument() {
    return undefined;
  },
  tabGroups: {
    get activeTabGroup() {
      return { activeTab: fake.activeTab };
    },
    get all() {
      return [{ activeTab: fake.activeTab }];
    },
  },
};

export const workspace = {
  getConfiguration: configuration,
  get isTrusted() {
    return fake.trusted;
  },
  workspaceFolders: undefined,
  onDidChangeConfiguration: fake.configChanged.event,
  onDidGrantWorkspaceTrust: fake.trustGranted.event,
  async openTextDocument(o: { language?: string; content?: string }) {
    fake.documents.push(o);
    return o;
  },
};

export const commands = {
  registerCommand(id: string, fn: (...args: any[]) => unknown) {
    fake.commands.set(id, fn);
    return { dispose: () => fake.commands.delete(id) };
  },
  async executeCommand(id: string, ...args: unknown[]) {
    const fn = fake.commands.get(id);
    return fn ? fn(...args) : undefined;
  },
};

export function makeContext(extensionPath: string) {
  return {
    extensionPath,
    extensionUri: Uri.file(extensionPath),
    subscriptions: [] as { dispose(): unknown }[],
    globalState: {
      get: (k: string) => fake.globalState.get(k),
      update: async (k: string, v: unknown) => void fake.globalState.set(k, v),
      keys: () => [...fake.globalState.keys()],
    },
    asAbsolutePath: (p: string) => join(extensionPath, p),
    globalStorageUri: Uri.file(join(tmpdir(), `vit-fake-storage-${process.pid}`)),
  };
}

let installed = false;
/** Makes `require('vscode')` (and `import ... from 'vscode'`) resolve to this module. */
export function installFakeVscode(): void {
  if (installed) return;
  installed = true;
  const M = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const original = M._resolveFilename;
  M._resolveFilename = function (request: string, ...rest: unknown[]) {
    if (request === 'vscode') return __filename;
    return original.call(this, request, ...rest);
  };
}
