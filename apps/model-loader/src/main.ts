import './v8-heap.setup';
import 'reflect-metadata';
import { bootstrapService } from '@strata/service-kit';
import { AppModule } from './app.module';

void bootstrapService({ service: 'model-loader', module: AppModule });
