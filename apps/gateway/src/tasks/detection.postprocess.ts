import type { ImageTransform } from './image-preprocess.service';

/** A box in corner form with its best class. */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  confidence: number;
  classId: number;
}

/** One detection as the object-detection endpoint answers it (centre, size; original pixels). */
export interface DetectionPrediction {
  x: number;
  y: number;
  width: number;
  height: number;
  confidence: number;
  class: string;
  class_id: number;
}

export type YoloFormat = 'yolov8' | 'yolov5';

export interface DecodeOptions {
  format: YoloFormat | 'auto';
  /** Known class count (from class_names.txt) helps tell the layouts apart. */
  numClasses?: number;
  /** Boxes below this confidence are dropped before NMS. */
  confidence: number;
  boxes: 'pixels' | 'normalized';
  /** Model input size (to scale normalised boxes). */
  inputSize: { width: number; height: number };
}

export class DetectionDecodeError extends Error {}

/**
 * Which layout an output of shape `[1, a, b]` has: YOLOv8 `[1, 4+nc, anchors]` (no objectness),
 * YOLOv5 `[1, anchors, 5+nc]`. With a known class count the sizes decide; otherwise the layout
 * the sizes allow, and if both do, the smaller dimension holds the features (anchors are many).
 */
export function detectFormat(shape: readonly number[], numClasses?: number): YoloFormat {
  const [, a, b] = shape;
  if (numClasses !== undefined) {
    if (a === 4 + numClasses) return 'yolov8';
    if (b === 5 + numClasses) return 'yolov5';
  }
  const v8 = a >= 5;
  const v5 = b >= 6;
  if (v8 !== v5) return v8 ? 'yolov8' : 'yolov5';
  return a <= b ? 'yolov8' : 'yolov5';
}

/** Decodes a YOLO output into boxes in model-input pixels above the confidence threshold. Pure. */
export function decodeYolo(
  data: ArrayLike<number>,
  shape: readonly number[],
  options: DecodeOptions,
): Box[] {
  const dims = shape.length === 2 ? [1, ...shape] : [...shape];
  if (dims.length !== 3 || dims[0] !== 1) {
    throw new DetectionDecodeError(
      `a detection output must have shape [1, 4+classes, anchors] or [1, anchors, 5+classes], got [${shape.join(', ')}]`,
    );
  }
  const format =
    options.format === 'auto' ? detectFormat(dims, options.numClasses) : options.format;
  const [, a, b] = dims;
  const features = format === 'yolov8' ? a : b;
  const anchors = format === 'yolov8' ? b : a;
  const offset = format === 'yolov8' ? 4 : 5;
  const classes = features - offset;
  if (classes < 1) {
    throw new DetectionDecodeError(
      `a ${format} output needs at least ${offset + 1} features per anchor, got ${features}`,
    );
  }
  // v8: feature f of anchor i at f * anchors + i; v5: at i * features + f.
  const at =
    format === 'yolov8'
      ? (i: number, f: number) => data[f * anchors + i]
      : (i: number, f: number) => data[i * features + f];
  const sx = options.boxes === 'normalized' ? options.inputSize.width : 1;
  const sy = options.boxes === 'normalized' ? options.inputSize.height : 1;
  const out: Box[] = [];
  for (let i = 0; i < anchors; i++) {
    let best = -1;
    let score = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < classes; c++) {
      const s = at(i, offset + c);
      if (s > score) {
        score = s;
        best = c;
      }
    }
    const confidence = format === 'yolov5' ? score * at(i, 4) : score;
    if (!(confidence >= options.confidence)) continue;
    const cx = at(i, 0) * sx;
    const cy = at(i, 1) * sy;
    const w = at(i, 2) * sx;
    const h = at(i, 3) * sy;
    out.push({
      x1: cx - w / 2,
      y1: cy - h / 2,
      x2: cx + w / 2,
      y2: cy + h / 2,
      confidence,
      classId: best,
    });
  }
  return out;
}

/** Intersection over union of two corner boxes. */
export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy non-maximum suppression per class: highest confidence first, a box overlapping a kept
 * box of its class by more than `iouThreshold` is dropped; then the best `maxDetections` of all
 * classes, highest first. Pure.
 */
export function nms(boxes: readonly Box[], iouThreshold: number, maxDetections: number): Box[] {
  const byClass = new Map<number, Box[]>();
  for (const box of boxes) {
    const list = byClass.get(box.classId) ?? [];
    list.push(box);
    byClass.set(box.classId, list);
  }
  const kept: Box[] = [];
  for (const list of byClass.values()) {
    list.sort((a, b) => b.confidence - a.confidence);
    const survivors: Box[] = [];
    for (const box of list) {
      if (survivors.every((k) => iou(k, box) <= iouThreshold)) survivors.push(box);
    }
    kept.push(...survivors);
  }
  kept.sort((a, b) => b.confidence - a.confidence || a.classId - b.classId);
  return kept.slice(0, maxDetections);
}

/** A box from model-input pixels back to the original image, clipped to it. Pure. */
export function toOriginal(
  box: Box,
  transform: ImageTransform,
  original: { width: number; height: number },
): Box {
  const clip = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  return {
    ...box,
    x1: clip((box.x1 - transform.padX) / transform.scaleX, original.width),
    y1: clip((box.y1 - transform.padY) / transform.scaleY, original.height),
    x2: clip((box.x2 - transform.padX) / transform.scaleX, original.width),
    y2: clip((box.y2 - transform.padY) / transform.scaleY, original.height),
  };
}

/** Corner boxes as centre/size predictions with class names. */
export function toPredictions(
  boxes: readonly Box[],
  classNames?: readonly string[],
): DetectionPrediction[] {
  return boxes.map((b) => ({
    x: (b.x1 + b.x2) / 2,
    y: (b.y1 + b.y2) / 2,
    width: b.x2 - b.x1,
    height: b.y2 - b.y1,
    confidence: b.confidence,
    class: classNames?.[b.classId] || String(b.classId),
    class_id: b.classId,
  }));
}
