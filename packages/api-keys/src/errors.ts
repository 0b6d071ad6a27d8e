/** Base of the errors this package throws on purpose. */
export class ApiKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An argument is invalid (name, scopes, expiry, id): a 400 / exit code 2. */
export class InvalidApiKeyInputError extends ApiKeyError {}

/** No key with that id (a 404 / exit code 1). */
export class ApiKeyNotFoundError extends ApiKeyError {
  constructor(readonly id: string) {
    super(`Unknown API key ${JSON.stringify(id)}`);
  }
}
