export { buildProgram, runCli } from './program';
export { CliContext, type CliIo } from './cli-context';
export { EXIT, UsageError, describeFailure } from './exit-codes';
export { formatBytes, formatDate, formatShape, progressBar, renderTable } from './format';
export { PushProgress } from './push-progress';
