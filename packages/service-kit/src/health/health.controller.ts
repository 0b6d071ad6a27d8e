import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ServiceLifecycle } from '../core/service-lifecycle.service';
import { ReadinessService } from './readiness.service';

@Controller()
export class HealthController {
  constructor(
    private readonly lifecycle: ServiceLifecycle,
    private readonly readiness: ReadinessService,
  ) {}

  /** Liveness: the process is up and not on its way out. Depends on nothing external. */
  @Get('healthz')
  healthz(): { status: string } {
    if (this.lifecycle.isShuttingDown) {
      throw new ServiceUnavailableException({ status: 'unavailable', reason: 'shutting down' });
    }
    return { status: 'ok' };
  }

  /** Readiness: every registered check passed within its timeout. */
  @Get('readyz')
  async readyz(): Promise<{ status: string; checks: Record<string, string> }> {
    if (this.lifecycle.isShuttingDown) {
      throw new ServiceUnavailableException({ status: 'unavailable', reason: 'shutting down' });
    }
    const report = await this.readiness.evaluate();
    if (!report.ok) {
      throw new ServiceUnavailableException({
        status: 'unavailable',
        failing: report.failing,
        checks: report.checks,
      });
    }
    return { status: 'ok', checks: report.checks };
  }
}
