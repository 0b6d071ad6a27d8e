/** Injection token: the RedisKeys of the deployment's prefix. */
export const REDIS_KEYS = Symbol('REDIS_KEYS');
/** Injection token: the S3ArtifactStore, or undefined when S3_BUCKET is unset. */
export const S3_STORE = Symbol('S3_STORE');
