import { Controller, Get, Header, Inject, NotFoundException } from '@nestjs/common';

import { METRICS } from '../infrastructure.module';
import { ServiceMetrics } from './service-metrics';

/** `GET /metrics`: the Prometheus text exposition of the service's metrics (404 when MFSIM_METRICS=off). */
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(METRICS) private readonly metrics: ServiceMetrics) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async scrape(): Promise<string> {
    const text = await this.metrics.scrape();
    if (text === null) throw new NotFoundException(`${this.metrics.service}: metrics are off (MFSIM_METRICS=off)`);
    return text;
  }
}
