export { SERVICES, type ServiceName } from './types';
export { SCHEMA, type Config, type ConfigFor, type VariableName, type VarSpec } from './schema';
export { loadConfig, ConfigError, type ConfigIssue, type Env } from './load-config';
export { renderConfigTable } from './render-table';
