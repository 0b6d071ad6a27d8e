import { Controller, Get, Query } from '@nestjs/common';
import { UsageQueryError, UsageQueryService } from '@strata/usage';
import { RequireScope } from '../auth/auth.decorators';
import { BadRequestError } from '../http/http-errors';
import { parseUsageQuery, usageRowJson } from './usage-query.params';

/**
 * `GET /v1/usage` (admin): usage totals from the telemetry-sender's outbox (`usage_aggregates`),
 * whose windows start in `[from, to)`, grouped by api key hash, model or UTC day.
 */
@RequireScope('admin')
@Controller('v1/usage')
export class UsageController {
  constructor(private readonly usage: UsageQueryService) {}

  @Get()
  async usageBy(@Query() query: Record<string, unknown> | undefined) {
    const q = parseUsageQuery(query, new Date());
    try {
      const rows = await this.usage.usageBy(q);
      return {
        from: q.from.toISOString(),
        to: q.to.toISOString(),
        group_by: q.groupBy,
        rows: rows.map(usageRowJson),
      };
    } catch (err) {
      if (err instanceof UsageQueryError) throw new BadRequestError(err.message);
      throw err;
    }
  }
}
