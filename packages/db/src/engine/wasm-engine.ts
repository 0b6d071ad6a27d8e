import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ConstructorOptions, SchemaEngine } from '@prisma/schema-engine-wasm' with {
  'resolution-mode': 'import',
};
import * as glue from '../generated/schema-engine/schema-engine-bg';

export type { SchemaEngine };

type WasmExports = Record<string, unknown>;

// The subset of the WebAssembly JS API used here (lib "ES2023" carries no WebAssembly types).
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: WasmExports };
}

interface Glue {
  __wbg_set_wasm(exports: WasmExports): void;
  SchemaEngine: {
    new: (
      options: ConstructorOptions,
      log: (line: string) => void,
      adapterFactory: object,
    ) => Promise<SchemaEngine>;
  };
}

let ready: Glue | undefined;

// The engine reports the reason of a Rust panic here before the wasm traps with a bare
// "unreachable"; after a panic the instance must not be used again.
interface PanicRegistry {
  message: string | undefined;
  set_message(message: string): void;
}
const panics: PanicRegistry = {
  message: undefined,
  set_message(message: string) {
    this.message = message;
  },
};

function registry(): PanicRegistry {
  const host = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: PanicRegistry };
  host.PRISMA_WASM_PANIC_REGISTRY ??= panics;
  return host.PRISMA_WASM_PANIC_REGISTRY;
}

/** The panic message of the engine in this process, if it panicked. */
export function enginePanic(): string | undefined {
  return registry().message || undefined;
}

/** Path of the engine the Prisma CLI of this package ships, so both run the same engine build. */
export function schemaEngineWasmPath(): string {
  const prismaDir = path.dirname(require.resolve('prisma/package.json'));
  return path.join(prismaDir, 'build', 'schema_engine_bg.wasm');
}

/**
 * The engine arms 10 s timers (timeouts raced against its work) that it never clears, which kept
 * every process alive for 10 s after its last command. Unreferenced, they no longer do; while a
 * command runs, its open database connections keep the process alive.
 */
function withUnrefTimers(module: object): Record<string, unknown> {
  const imports: Record<string, unknown> = { ...module };
  for (const [name, value] of Object.entries(imports)) {
    if (name.startsWith('__wbg_setTimeout_') && typeof value === 'function') {
      imports[name] = (...args: unknown[]): unknown => {
        const timer = (value as (...a: unknown[]) => unknown)(...args);
        (timer as { unref?: () => void } | undefined)?.unref?.();
        return timer;
      };
    }
  }
  return imports;
}

/**
 * Instantiates the wasm schema engine once per process (the glue keeps its instance in module
 * state). Synchronous compile: it happens once, before any database work.
 */
function loadGlue(): Glue {
  const panic = enginePanic();
  if (panic !== undefined) {
    throw new Error(
      `the schema engine panicked earlier in this process (${panic}); start a new one`,
    );
  }
  if (ready) return ready;
  const g = glue as unknown as Glue;
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const module = new wasm.Module(fs.readFileSync(schemaEngineWasmPath()));
  const instance = new wasm.Instance(module, { './schema_engine_bg.js': withUnrefTimers(glue) });
  g.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  ready = g;
  return g;
}

/**
 * Opens an engine over a driver adapter factory (see `migration-adapter.ts`). `datamodels` is the
 * Prisma schema the engine starts with, or undefined when the command brings its own.
 */
export async function openSchemaEngine(
  adapterFactory: object,
  datamodels: [path: string, content: string][] | undefined,
  log: (line: string) => void,
): Promise<SchemaEngine> {
  return loadGlue().SchemaEngine.new({ datamodels }, log, adapterFactory);
}
