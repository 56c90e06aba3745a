// A model that cannot be loaded: the message names the file and, where there is one, the tensor.
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}
