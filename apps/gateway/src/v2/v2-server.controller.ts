import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ReadinessService, ServiceLifecycle } from '@strata/service-kit';
import { Public } from '../auth/auth.decorators';
import { UnavailableError } from '../http/http-errors';

export const SERVER_NAME = 'strata';
export const SERVER_VERSION = '0.1.0';
/** Open Inference Protocol extensions this gateway implements. */
export const SERVER_EXTENSIONS = ['binary_tensor_data', 'model_repository'] as const;

/** Server metadata and health (Open Inference Protocol). */
@Controller('v2')
export class V2ServerController {
  constructor(
    private readonly readiness: ReadinessService,
    private readonly lifecycle: ServiceLifecycle,
  ) {}

  @Get()
  metadata() {
    return { name: SERVER_NAME, version: SERVER_VERSION, extensions: [...SERVER_EXTENSIONS] };
  }

  @Public()
  @Get('health/live')
  live() {
    if (this.lifecycle.isShuttingDown) throw new ServiceUnavailableException('shutting down');
    return { live: true };
  }

  /** Ready when Redis and Postgres answer (the /readyz checks). */
  @Public()
  @Get('health/ready')
  async ready() {
    if (this.lifecycle.isShuttingDown) throw new UnavailableError('shutting down');
    const report = await this.readiness.evaluate();
    if (!report.ok) {
      throw new UnavailableError(`not ready: ${report.failing.join(', ')} failing`);
    }
    return { ready: true };
  }
}
