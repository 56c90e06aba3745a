// A response_format the server cannot honour: bad shape, or a JSON Schema feature constrained
// decoding cannot guarantee. `param` is where it is, as OpenAI's error.param names fields
// ("response_format.json_schema.schema.properties.age.multipleOf"): a 400 for the client.
export class ResponseFormatError extends Error {
  override readonly name = 'ResponseFormatError';

  constructor(
    readonly param: string,
    detail: string,
  ) {
    super(`${param}: ${detail}`);
  }
}
