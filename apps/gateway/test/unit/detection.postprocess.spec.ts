import {
  decodeYolo,
  detectFormat,
  iou,
  nms,
  toOriginal,
  toPredictions,
  type Box,
} from '../../src/tasks/detection.postprocess';

const box = (
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  confidence: number,
  classId = 0,
): Box => ({
  x1,
  y1,
  x2,
  y2,
  confidence,
  classId,
});

/** [1, 4+nc, anchors] from rows of (cx, cy, w, h, scores...). */
function v8(rows: number[][], nc: number): { data: Float32Array; shape: number[] } {
  const features = 4 + nc;
  const data = new Float32Array(features * rows.length);
  rows.forEach((r, i) => r.forEach((v, f) => (data[f * rows.length + i] = v)));
  return { data, shape: [1, features, rows.length] };
}

const OPTS = {
  format: 'auto' as const,
  confidence: 0.25,
  boxes: 'pixels' as const,
  inputSize: { width: 64, height: 64 },
};

describe('detection postprocessing', () => {
  it('tells the YOLO layouts apart', () => {
    expect(detectFormat([1, 84, 8400], 80)).toBe('yolov8');
    expect(detectFormat([1, 25200, 85], 80)).toBe('yolov5');
    expect(detectFormat([1, 6, 100])).toBe('yolov8');
    expect(detectFormat([1, 100, 7])).toBe('yolov5');
  });

  it('decodes YOLOv8 [1, 4+nc, anchors]: best class, threshold, corners', () => {
    const { data, shape } = v8(
      [
        [32, 32, 10, 20, 0.1, 0.9],
        [10, 10, 4, 4, 0.2, 0.1],
      ],
      2,
    );
    const boxes = decodeYolo(data, shape, OPTS);
    expect(boxes).toHaveLength(1);
    expect(boxes[0]).toMatchObject({ x1: 27, y1: 22, x2: 37, y2: 42, classId: 1 });
    expect(boxes[0].confidence).toBeCloseTo(0.9);
  });

  it('decodes YOLOv5 [1, anchors, 5+nc]: objectness × class score', () => {
    const data = new Float32Array([
      // cx cy w h obj c0 c1
      20,
      20,
      10,
      10,
      0.5,
      0.2,
      0.8, // 0.4
      40,
      40,
      10,
      10,
      0.9,
      0.1,
      0.2, // 0.18 < 0.25
    ]);
    const boxes = decodeYolo(data, [1, 2, 7], { ...OPTS, format: 'yolov5' });
    expect(boxes).toHaveLength(1);
    expect(boxes[0].classId).toBe(1);
    expect(boxes[0].confidence).toBeCloseTo(0.4);
  });

  it('scales normalised boxes by the input size', () => {
    const { data, shape } = v8([[0.5, 0.5, 0.25, 0.5, 0.9]], 1);
    const [b] = decodeYolo(data, shape, {
      ...OPTS,
      boxes: 'normalized',
      inputSize: { width: 100, height: 200 },
    });
    expect(b).toMatchObject({ x1: 37.5, x2: 62.5, y1: 50, y2: 150 });
  });

  it('refuses outputs of other shapes', () => {
    expect(() => decodeYolo(new Float32Array(8), [2, 4], OPTS)).toThrow(/at least 5 features/);
    expect(() => decodeYolo(new Float32Array(8), [2, 2, 2], OPTS)).toThrow(/must have shape/);
  });

  it('computes IoU', () => {
    expect(iou(box(0, 0, 10, 10, 1), box(0, 0, 10, 10, 1))).toBe(1);
    expect(iou(box(0, 0, 10, 10, 1), box(10, 10, 20, 20, 1))).toBe(0);
    expect(iou(box(0, 0, 10, 10, 1), box(5, 0, 15, 10, 1))).toBeCloseTo(50 / 150);
  });

  it('suppresses overlaps per class only, keeps the best first, caps the count', () => {
    const boxes = [
      box(0, 0, 10, 10, 0.9, 0),
      box(1, 1, 11, 11, 0.8, 0), // overlaps the first (IoU ~0.68): dropped
      box(1, 1, 11, 11, 0.7, 1), // same place, other class: kept
      box(50, 50, 60, 60, 0.6, 0), // elsewhere: kept
    ];
    const kept = nms(boxes, 0.5, 10);
    expect(kept.map((b) => b.confidence)).toEqual([0.9, 0.7, 0.6]);
    expect(nms(boxes, 0.5, 2).map((b) => b.confidence)).toEqual([0.9, 0.7]);
    // A high threshold keeps the overlap.
    expect(nms(boxes, 0.9, 10)).toHaveLength(4);
  });

  it('maps letterboxed boxes back to the original image and clips them', () => {
    // 200x100 image letterboxed into 64x64: scale 0.32, image 64x32, padded 16 rows on top.
    const t = { scaleX: 0.32, scaleY: 0.32, padX: 0, padY: 16 };
    const b = toOriginal(box(16, 24, 48, 40, 0.9), t, { width: 200, height: 100 });
    expect(b.x1).toBeCloseTo(50);
    expect(b.y1).toBeCloseTo(25);
    expect(b.x2).toBeCloseTo(150);
    expect(b.y2).toBeCloseTo(75);
    const clipped = toOriginal(box(-10, 0, 70, 64, 0.9), t, { width: 200, height: 100 });
    expect(clipped).toMatchObject({ x1: 0, y1: 0, x2: 200, y2: 100 });
  });

  it('answers centre, size and class names', () => {
    expect(toPredictions([box(10, 20, 30, 60, 0.5, 1)], ['cat', 'dog'])).toEqual([
      { x: 20, y: 40, width: 20, height: 40, confidence: 0.5, class: 'dog', class_id: 1 },
    ]);
    expect(toPredictions([box(0, 0, 1, 1, 0.5, 7)])[0].class).toBe('7');
  });
});
