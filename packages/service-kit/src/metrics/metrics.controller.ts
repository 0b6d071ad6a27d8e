import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { METRICS_REGISTRY } from '../core/service-kit.tokens';

interface ReplyHeaders {
  header(name: string, value: string): unknown;
}

@Controller()
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  /** Prometheus text exposition format. */
  @Get('metrics')
  async metrics(@Res({ passthrough: true }) reply: ReplyHeaders): Promise<string> {
    reply.header('content-type', this.registry.contentType);
    return this.registry.metrics();
  }
}
