import type { PublishProgress } from '@strata/model-registry';
import { formatBytes, progressBar } from './format';

type Stream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/**
 * Push progress on stderr: a redrawn bar when stderr is a terminal, otherwise one line per
 * uploaded file (logs and CI output stay readable).
 */
export class PushProgress {
  private lastDraw = 0;
  private drawn = false;
  private readonly tty: boolean;

  constructor(
    private readonly out: Stream,
    private readonly now: () => number = Date.now,
  ) {
    this.tty = out.isTTY === true;
  }

  handle = (event: PublishProgress): void => {
    switch (event.type) {
      case 'prepared':
        this.line(
          `${event.model}: ${event.files.length} files, ${formatBytes(event.totalBytes)}${
            event.generatedModelType ? ' (model_type.json generated from the ONNX signature)' : ''
          }${event.ignored.length ? `; ignoring ${event.ignored.join(', ')}` : ''}`,
        );
        break;
      case 'version-created':
        this.line(`uploading ${event.model} version ${event.version}`);
        break;
      case 'file-progress':
        if (this.tty) this.draw(event);
        break;
      case 'file-uploaded':
        if (this.tty) this.clear();
        else this.line(`uploaded ${event.file} (${formatBytes(event.size)})`);
        break;
      case 'published':
        if (this.tty) this.clear();
        break;
    }
  };

  /** Clears a half-drawn bar (before an error message, say). */
  finish(): void {
    if (this.tty) this.clear();
  }

  private line(text: string): void {
    if (this.tty) this.clear();
    this.out.write(`${text}\n`);
  }

  private draw(event: Extract<PublishProgress, { type: 'file-progress' }>): void {
    const t = this.now();
    const done = event.loaded >= event.size;
    if (!done && t - this.lastDraw < 100) return;
    this.lastDraw = t;
    const text = `${progressBar(event.totalBytes ? event.uploadedBytes / event.totalBytes : 1)} ${
      event.file
    } ${formatBytes(event.uploadedBytes)}/${formatBytes(event.totalBytes)}`;
    const width = this.out.columns ?? 80;
    this.out.write(`\r\x1b[2K${text.slice(0, Math.max(width - 1, 20))}`);
    this.drawn = true;
  }

  private clear(): void {
    if (!this.drawn) return;
    this.out.write('\r\x1b[2K');
    this.drawn = false;
  }
}
