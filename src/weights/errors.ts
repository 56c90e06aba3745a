// Errors a user can act on while moving weights: the message names the object, file or chunk
// and says what to do next. It extends ModelLoadError so every command that loads a model
// (`sirocco logits`, `sirocco node`) reports it as one clear line instead of a stack trace.
import { ModelLoadError } from '../engine/errors.ts';

export class WeightsError extends ModelLoadError {
  override name = 'WeightsError';
}

/** A stored byte did not hash to what the manifest says: never retried, never served. */
export class ChecksumError extends WeightsError {
  override name = 'ChecksumError';
}

/** The object changed (new ETag) while we were downloading it. */
export class ObjectChangedError extends WeightsError {
  override name = 'ObjectChangedError';
}
