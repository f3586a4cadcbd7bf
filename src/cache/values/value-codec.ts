// The method cache's value codec: a method result as a string for the memory and Redis stores, and back.
// The format is described in value-format.ts; the encoder and the decoder live in their own files.
export { decodeValue, type ValueDecodeOptions } from './value-decoder.js';
export { encodeValue, encodeValueShape, ValueEncodingError } from './value-encoder.js';
