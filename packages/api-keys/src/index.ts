export {
  DISPLAY_PREFIX_LENGTH,
  SECRET_PREFIX,
  SECRET_RANDOM_LENGTH,
  displayPrefix,
  generateSecret,
  hashSecret,
  isWellFormedSecret,
} from './secret';
export {
  API_KEY_SCOPES,
  type ApiKeyRecord,
  type ApiKeyRefusal,
  type ApiKeyScope,
  type CreateApiKeyInput,
  type CreatedApiKey,
  type VerifiedApiKey,
  type VerifyResult,
} from './types';
export { ApiKeyError, ApiKeyNotFoundError, InvalidApiKeyInputError } from './errors';
export {
  isKeyId,
  parseExpiry,
  parseScopes,
  validateKeyName,
  validateRateLimit,
} from './validation';
export { ApiKeyRepository, type StoredApiKey } from './api-key.repository';
export {
  ApiKeyService,
  LAST_USED_INTERVAL_MS,
  checkUsable,
  type ApiKeyServiceOptions,
} from './api-key.service';
export {
  API_KEY_EVENT_TYPES,
  parseApiKeyEvent,
  serializeApiKeyEvent,
  type ApiKeyEvent,
} from './api-key-events';
export {
  ApiKeyEvents,
  NO_API_KEY_EVENTS,
  type ApiKeyEventSink,
  type ApiKeyEventsOptions,
} from './api-key-events.publisher';
export { REVOKED_ENTRY, decodeVerification, encodeVerification } from './cached-verification';
