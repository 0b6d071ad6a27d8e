import { SetMetadata } from '@nestjs/common';
import type { ApiKeyScope } from '@strata/api-keys';

export const PUBLIC_ROUTE = 'strata:public';
export const REQUIRED_SCOPE = 'strata:scope';

/** No API key needed (health endpoints). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

/** The scope a key needs; without this decorator every route needs `infer`. */
export const RequireScope = (scope: ApiKeyScope): MethodDecorator & ClassDecorator =>
  SetMetadata(REQUIRED_SCOPE, scope);
