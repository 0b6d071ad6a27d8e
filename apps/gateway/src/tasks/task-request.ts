import { parseModelRef } from '@strata/artifact-layout';
import { parseUseCache } from '../cache/cache-policy';
import { BadRequestError } from '../http/http-errors';

export type TaskKind = 'classification' | 'object_detection';

export type ImageInput = { kind: 'bytes'; data: Buffer } | { kind: 'url'; url: string };

/** A request to a task endpoint, checked. */
export interface TaskRequest {
  modelId: string;
  model: string;
  /** Version number or alias; undefined = latest. */
  ref?: string | number;
  image: ImageInput;
  confidence?: number;
  topK?: number;
  iouThreshold?: number;
  maxDetections?: number;
  /** `use_cache` of the body (false: bypass the prediction cache); undefined when absent. */
  useCache?: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function decodeBase64Image(text: string): Buffer {
  const body = text.replace(/^data:[^,;]*(;[^,]*)?;base64,/i, '').replace(/\s+/g, '');
  if (body.length === 0) throw new BadRequestError('the image is empty');
  if (!BASE64.test(body)) throw new BadRequestError('the image is not valid base64');
  return Buffer.from(body, 'base64');
}

function number(
  body: Record<string, unknown>,
  field: string,
  check: (n: number) => boolean,
  rule: string,
): number | undefined {
  const raw = body[field];
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
  if (!Number.isFinite(n) || !check(n)) throw new BadRequestError(`${field} must be ${rule}`);
  return n;
}

const unit = (n: number) => n >= 0 && n <= 1;
const count = (max: number) => (n: number) => Number.isInteger(n) && n >= 1 && n <= max;

function readImage(value: unknown): ImageInput {
  if (value === undefined || value === null) {
    throw new BadRequestError(
      'image is required: base64 text, {"type": "base64" | "url", "value": ...}, or a multipart upload',
    );
  }
  if (Buffer.isBuffer(value)) {
    if (value.length === 0) throw new BadRequestError('the uploaded image is empty');
    return { kind: 'bytes', data: value };
  }
  if (typeof value === 'string') return { kind: 'bytes', data: decodeBase64Image(value) };
  if (Array.isArray(value)) throw new BadRequestError('one image per request');
  if (isObject(value)) {
    if (typeof value.value !== 'string') throw new BadRequestError('image.value must be a string');
    if (value.type === 'base64' || value.type === undefined) {
      return { kind: 'bytes', data: decodeBase64Image(value.value) };
    }
    if (value.type === 'url') return { kind: 'url', url: value.value };
    throw new BadRequestError('image.type must be "base64" or "url"');
  }
  throw new BadRequestError('image must be base64 text or {"type", "value"}');
}

/**
 * Reads a task request from a JSON body or a multipart form (`model_id` and the other fields as
 * form fields, the image as the file part `image` or `file`).
 */
export function parseTaskRequest(body: unknown, kind: TaskKind): TaskRequest {
  if (!isObject(body))
    throw new BadRequestError('the body must be a JSON object or a multipart form');
  const modelId = body.model_id;
  if (typeof modelId !== 'string' || modelId.length === 0) {
    throw new BadRequestError('model_id is required ("name", "name/version" or "name/alias")');
  }
  const ref = parseModelRef(modelId);
  const request: TaskRequest = {
    modelId,
    model: ref.model,
    ...(ref.kind === 'version' && { ref: ref.version }),
    ...(ref.kind === 'alias' && { ref: ref.alias }),
    image: readImage(body.image ?? body.file),
    confidence: number(body, 'confidence', unit, 'a number from 0 to 1'),
  };
  const useCache = parseUseCache(body.use_cache, 'use_cache');
  if (useCache !== undefined) request.useCache = useCache;
  if (kind === 'classification') {
    request.topK = number(body, 'top_k', count(10_000), 'an integer from 1 to 10000');
  } else {
    request.iouThreshold = number(body, 'iou_threshold', unit, 'a number from 0 to 1');
    request.maxDetections = number(
      body,
      'max_detections',
      count(10_000),
      'an integer from 1 to 10000',
    );
  }
  return request;
}
