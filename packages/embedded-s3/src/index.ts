export {
  startEmbeddedS3,
  hasLegacyCiphers,
  EMBEDDED_S3_CREDENTIALS,
  type EmbeddedS3,
  type EmbeddedS3Options,
} from './embedded-s3';
