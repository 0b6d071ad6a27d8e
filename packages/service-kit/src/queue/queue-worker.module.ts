import { Module } from '@nestjs/common';
import { RedisModule } from '../redis/redis.module';
import { QueueWorkerHost } from './queue-worker.host';

/** Import where a module consumes a queue; inject QueueWorkerHost and call consume() in onModuleInit. */
@Module({
  imports: [RedisModule],
  providers: [QueueWorkerHost],
  exports: [QueueWorkerHost],
})
export class QueueWorkerModule {}
